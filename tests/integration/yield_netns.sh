#!/bin/bash
# Yield across hosts: jobs/launch on host A of the two network-namespace hosts
# (tests/tools/netns_hosts.sh), one rank on each host, TCP between them.
#   1. which process a signal reaches: SIGUSR1 to mpirun reaches the rank on
#      host A and, through B's daemon (orted), the rank on host B (probe ranks
#      that log what they get);
#   2. a run interrupted by SIGUSR1 to mpirun, then by SIGTERM to the rank on
#      host B alone (the other rank learns it at the next agreement), then by
#      SIGTERM to jobs/launch (passed to the rank on host A): each time mpirun
#      exits 75 with one snapshot at the step the ranks agreed on, and the
#      resumed run ends bitwise equal to the uninterrupted one.
# Needs root (ip netns); if namespaces cannot be made the test FAILS.
set -euo pipefail
work=$(mktemp -d /tmp/yt-ynetns-XXXXXX)
# shellcheck source=tests/tools/netns_hosts.sh
source "$YT_SRCDIR/tests/tools/netns_hosts.sh"
launch_pid=""
cleanup() {
    [ -z "$launch_pid" ] || kill -KILL "$launch_pid" 2> /dev/null || true
    netns_hosts_down
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
netns_hosts_up "$work"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# jobs/launch in host A: one rank per host, mpirun's defaults from jobs/launch
# (odls_base_sigkill_timeout 0 outside Slurm), the agent and the veth subnet.
launch=("${ON_HOST_A[@]}" "$YT_SRCDIR/jobs/launch" --mpirun "${MPIRUN:-mpirun}" --hosts "$NETNS_HOSTS" -n 1
        --threads 1 "${NETNS_MCA[@]}")
# The pid of the process with OMPI_COMM_WORLD_RANK=$1 whose command line has $2.
rank_pid() {
    local p
    for _ in $(seq 200); do
        for p in $(pgrep -f -- "$2"); do
            grep -qzx "OMPI_COMM_WORLD_RANK=$1" "/proc/$p/environ" 2> /dev/null && { echo "$p"; return 0; }
        done
        sleep 0.05
    done
    return 1
}

# ---- 1. where SIGUSR1 to mpirun goes: probe ranks log the signals they get.
cat > probe.sh <<'SH'
#!/bin/bash
log=$PROBE_DIR/got.$OMPI_COMM_WORLD_RANK
echo "$(hostname) pid $$ parent $(cat /proc/$PPID/comm)" > "$log.tmp" && mv "$log.tmp" "$log"
for s in USR1 USR2 TERM CONT; do
    # exit a little later: the first rank to exit 75 makes mpirun kill the others
    trap "echo $s >> $log; [ $s != CONT ] && sleep 0.5 && exit 75" $s
done
while :; do sleep 0.02; done
SH
chmod +x probe.sh
export PROBE_DIR=$work
"${launch[@]}" -x PROBE_DIR -- "$work/probe.sh" > probe.log 2>&1 &
launch_pid=$!
for _ in $(seq 400); do [ -s got.0 ] && [ -s got.1 ] && break; sleep 0.05; done
[ -s got.0 ] && [ -s got.1 ] || { cat probe.log; fail "the probe ranks did not start on both hosts"; }
mpirun_pid=$(pgrep -P "$launch_pid" -x mpirun) || fail "no mpirun under jobs/launch"
sleep 0.2  # the probes' traps are set right after their first line
kill -USR1 "$mpirun_pid"
set +e; wait "$launch_pid"; rc=$?; set -e
launch_pid=""
echo "probe: rank 0 on $(head -1 got.0) got: $(tail -n +2 got.0 | tr '\n' ' ')"
echo "probe: rank 1 on $(head -1 got.1) got: $(tail -n +2 got.1 | tr '\n' ' ')"
grep -q '^hostA .*parent mpirun' got.0 || fail "rank 0 is not mpirun's child on hostA: $(head -1 got.0)"
grep -q '^hostB .*parent orted' got.1 || fail "rank 1 is not orted's child on hostB: $(head -1 got.1)"
grep -qx USR1 got.0 && grep -qx USR1 got.1 || fail "SIGUSR1 to mpirun did not reach both ranks"
[ $rc = 75 ] || { cat probe.log; fail "probe: jobs/launch exited $rc, expected the ranks' 75"; }

# ---- 2. yieldtune across the hosts
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 300 256
"$YT_BIN" init-model --preset tiny --seed 3 --out model > /dev/null
"$YT_BIN" prep --in data.jsonl --out data.h5 --model model > /dev/null
# A constant learning rate, and no step budget until the last attempt (the
# budget is not part of a run's identity): the run cannot end before an
# interruption, however fast its steps are.
args=(--model "$work/model" --data "$work/data.h5" --seq-len 256 --micro-batch 4 --lr 3e-3
      --schedule constant --lora-rank 8 --lora-dropout 0.1 --seed 11 --log-every 10 --snapshot-every 25)

steps_done() { [ -f int/metrics.jsonl ] && wc -l < int/metrics.jsonl || echo 0; }
# attempt N HOW: starts the run, waits for 8 more steps, interrupts it by HOW
# and checks the yield.
attempt() {
    local n=$1 how=$2 before target pid t0 t1 rc ev
    before=$(steps_done)
    target=$((before + 8))
    "${launch[@]}" -- "$YT_BIN" train "${args[@]}" --max-steps 1000000 --out "$work/int" > "int.$n.log" 2>&1 &
    launch_pid=$!
    for _ in $(seq 1200); do
        [ "$(steps_done)" -ge $target ] && break
        kill -0 "$launch_pid" 2> /dev/null || break
        sleep 0.05
    done
    [ "$(steps_done)" -ge $target ] ||
        { cat "int.$n.log"; fail "attempt $n: the run did not reach step $target"; }
    case $how in
        usr1-mpirun) pid=$(pgrep -P "$launch_pid" -x mpirun) || fail "attempt $n: no mpirun"
                     kill -USR1 "$pid" ;;
        term-rank-b) pid=$(rank_pid 1 "--out $work/int") || fail "attempt $n: rank 1 not found"
                     kill -TERM "$pid" ;;
        term-launch) kill -TERM "$launch_pid" ;;
    esac
    t0=$(now)
    set +e; wait "$launch_pid"; rc=$?; set -e
    t1=$(now)
    launch_pid=""
    [ $rc = 75 ] || { cat "int.$n.log"; fail "attempt $n ($how): exit $rc, expected 75"; }
    ev=$(grep '"event":"yield"' int/events.jsonl | tail -1)
    [ "$(grep -c '"event":"yield"' int/events.jsonl)" = "$n" ] || fail "attempt $n: no yield event"
    local step sig
    step=$(sed 's/.*"step":\([0-9]*\).*/\1/' <<< "$ev")
    sig=$(sed 's/.*"signal":"\([^"]*\)".*/\1/' <<< "$ev")
    [ "$step" = "$(steps_done)" ] || fail "attempt $n: yielded at step $step but metrics.jsonl has $(steps_done) steps"
    [ -f "int/snapshots/step-$(printf %08d "$step").h5" ] || fail "attempt $n: no snapshot of step $step"
    ! grep -q "deadline passed" "int.$n.log" || fail "attempt $n: a rank's watchdog fired"
    echo "attempt $n: $how after step $target: all ranks yielded at step $step (rank 0 saw: $sig)," \
         "jobs/launch exited 75 $(secs "$t0" "$t1") s after the signal"
    last_sig=$sig
}
attempt 1 usr1-mpirun
[ "$last_sig" = USR1 ] || fail "attempt 1: rank 0 did not get SIGUSR1 from mpirun (it saw $last_sig)"
attempt 2 term-rank-b
[ "$last_sig" = "(another rank)" ] || fail "attempt 2: rank 0 got a signal itself ($last_sig); only rank 1 was sent one"
attempt 3 term-launch
[ "$last_sig" = TERM ] || fail "attempt 3: rank 0 did not get jobs/launch's SIGTERM (it saw $last_sig)"
steps=$(($(steps_done) + 10))
timeout 300 "${launch[@]}" -- "$YT_BIN" train "${args[@]}" --max-steps $steps --out "$work/int" > int.4.log 2>&1 ||
    { cat int.4.log; fail "the last attempt failed"; }
timeout 300 "${launch[@]}" -- "$YT_BIN" train "${args[@]}" --max-steps $steps --out "$work/ref" > ref.log 2>&1 ||
    { cat ref.log; fail "the uninterrupted run across two hosts failed"; }
"$PYTHON" - ref <<'PY' || fail "ref/config.json does not show one rank on each host"
import json, sys
ranks = json.load(open(sys.argv[1] + "/config.json"))["ranks"]
assert sorted(r["host"] for r in ranks) == ["hostA", "hostB"], ranks
PY
[ "$(grep -c '"event":"resume"' int/events.jsonl)" = 3 ] || fail "int: not 3 resume events"
awk -v n=$steps '{ if (match($0, /"step":[0-9]+/) == 0 || substr($0, RSTART + 7, RLENGTH - 7) + 0 != NR) bad = 1 }
                 END { exit !(NR == n && !bad) }' int/metrics.jsonl || fail "int/metrics.jsonl: steps are not 1..$steps once each"
cmp ref/adapter/adapter_model.safetensors int/adapter/adapter_model.safetensors ||
    fail "the run interrupted three times across two hosts differs from the uninterrupted one"
echo "yield_netns: interrupted 3 times across two hosts, $steps steps: adapter bitwise equal to the uninterrupted run"
echo "yield_netns: all checks passed"
