# shellcheck shell=bash disable=SC2034  # (variables for the scripts that source this)
# tests/tools/netns_hosts.sh: two hosts on one machine for the integration
# tests (sourced by tests/integration/ddp_netns.sh and yield_netns.sh; bash,
# root).
#
# Network namespaces A and B joined by a veth pair (10.99.0.1/24 and
# 10.99.0.2/24, addresses that exist only inside these namespaces), each
# process started in one with its own hostname (UTS namespace: hostA, hostB).
# mpirun runs in A and starts B's daemon (orted) through a launch agent that
# enters B instead of ssh; ranks talk over TCP on the veth subnet.
#
#   netns_hosts_up DIR   makes the namespaces and DIR/agent.sh, DIR/hostfile
#                        (one slot per host); prints FAIL and exits 1 when
#                        namespaces cannot be made (root with CAP_SYS_ADMIN
#                        and iproute2 are needed)
#   netns_hosts_down     removes them (call it from the EXIT trap)
#   "${ON_HOST_A[@]}" CMD...  runs CMD in A as hostA (by exec: CMD has the
#                        pid of this command line; timeout etc. may precede it)
#   NETNS_MCA            mpirun options: the agent, TCP on the veth subnet
#   netns_tx_bytes       bytes host A has sent over its end of the veth
#   NETNS_HOSTS          "10.99.0.1,10.99.0.2" (for --host / jobs/launch --hosts)
netns_id=$$
NETNS_A=ytA$netns_id NETNS_B=ytB$netns_id
NETNS_VA=ytva$netns_id NETNS_VB=ytvb$netns_id
NETNS_HOSTS=10.99.0.1,10.99.0.2
NETNS_MCA=()
ON_HOST_A=(ip netns exec "$NETNS_A" unshare --uts /bin/sh -c 'hostname hostA; exec "$@"' sh)

netns_hosts_down() {
    ip netns del "$NETNS_A" 2> /dev/null || true
    ip netns del "$NETNS_B" 2> /dev/null || true
}

netns_hosts_up() {
    local dir=$1 err ns
    netns__fail() { echo "FAIL: $*"; exit 1; }
    command -v ip > /dev/null || netns__fail "the 'ip' command (iproute2) is missing"
    err=$(ip netns add "$NETNS_A" 2>&1) ||
        netns__fail "cannot create network namespaces (root with CAP_SYS_ADMIN needed): $err"
    ip netns add "$NETNS_B" || netns__fail "cannot create network namespace $NETNS_B"
    ip link add "$NETNS_VA" type veth peer name "$NETNS_VB" || netns__fail "cannot create a veth pair"
    ip link set "$NETNS_VA" netns "$NETNS_A"
    ip link set "$NETNS_VB" netns "$NETNS_B"
    ip -n "$NETNS_A" addr add 10.99.0.1/24 dev "$NETNS_VA"
    ip -n "$NETNS_B" addr add 10.99.0.2/24 dev "$NETNS_VB"
    for ns in "$NETNS_A" "$NETNS_B"; do ip -n "$ns" link set lo up; done
    ip -n "$NETNS_A" link set "$NETNS_VA" up
    ip -n "$NETNS_B" link set "$NETNS_VB" up
    echo "namespaces $NETNS_A (10.99.0.1, $NETNS_VA) and $NETNS_B (10.99.0.2, $NETNS_VB) joined by a veth pair"

    # The launch agent: mpirun calls "AGENT [options] HOST COMMAND..." as it would ssh.
    cat > "$dir/agent.sh" <<SH
#!/bin/bash
while [ \$# -gt 0 ]; do case "\$1" in -*) shift ;; *) break ;; esac; done
host=\$1
shift
case "\$host" in
10.99.0.1) ns=$NETNS_A name=hostA ;;
10.99.0.2) ns=$NETNS_B name=hostB ;;
*) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" unshare --uts /bin/sh -c "hostname \$name; \$*"
SH
    chmod +x "$dir/agent.sh"
    printf '10.99.0.1 slots=1\n10.99.0.2 slots=1\n' > "$dir/hostfile"
    NETNS_MCA=(--mca plm_rsh_agent "$dir/agent.sh" --mca btl_tcp_if_include 10.99.0.0/24
               --mca oob_tcp_if_include 10.99.0.0/24)
}

netns_tx_bytes() { ip -n "$NETNS_A" -s link show "$NETNS_VA" | awk '/TX:/ { getline; print $1 }'; }
