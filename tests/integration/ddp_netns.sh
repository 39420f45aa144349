#!/bin/bash
# Two hosts on one machine (tests/tools/netns_hosts.sh: network namespaces A
# and B joined by a veth pair, each with its own hostname; mpirun in A starts
# B's daemon through a launch agent instead of ssh); ranks talk over TCP only
# (btl self,tcp on the veth subnet).  Checks: np=2
# (one rank per host) gives the same losses and LoRA weights as np=1 with
# grad-accum 2, with and without --zero 1; the bytes went over the veth; each
# host has its own local rank 0 (BF16 weights: one converted copy per host);
# --shard-base across the hosts (each keeps half of the base, every layer is
# all-gathered over the veth) gives the replicated np=2 run bit for bit.
# Needs root (ip netns); if namespaces cannot be made the test FAILS.
set -euo pipefail
work=$(mktemp -d /tmp/yt-netns-XXXXXX)
# shellcheck source=tests/tools/netns_hosts.sh
source "$YT_SRCDIR/tests/tools/netns_hosts.sh"
cleanup() {
    netns_hosts_down
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
MPIRUN=${MPIRUN:-mpirun}
netns_hosts_up "$work"

# mpirun inside A (its own hostname), TCP only, on the veth subnet.
mpirun_2hosts() {
    timeout 120 "${ON_HOST_A[@]}" "$MPIRUN" --hostfile hostfile -np 2 "${NETNS_MCA[@]}" --mca btl self,tcp \
        -x YT_BIN -x OMP_NUM_THREADS "$@"
}
bytes() { netns_tx_bytes; }

"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 300 256
"$YT_BIN" init-model --preset tiny --seed 3 --out model > /dev/null
"$YT_BIN" prep --in data.jsonl --out data.h5 --model model > /dev/null
args=(--model "$work/model" --data "$work/data.h5" --max-steps 10 --seq-len 64 --micro-batch 2 --lr 5e-3
      --schedule constant --lora-rank 8 --lora-dropout 0.1 --seed 11 --threads 1 --log-every 5)

mpirun_2hosts hostname > hosts.txt 2>&1 || { cat hosts.txt; fail "mpirun across the namespaces failed"; }
sort hosts.txt | tr '\n' ' ' | grep -q "hostA hostB" || { cat hosts.txt; fail "ranks did not run on hostA and hostB"; }
echo "mpirun reaches both hosts: $(sort hosts.txt | tr '\n' ' ')"

status=0
for zero in 0 1; do
    "$YT_BIN" train "${args[@]}" --zero $zero --grad-accum 2 --out "$work/np1-z$zero" > np1-z$zero.log
    before=$(bytes)
    mpirun_2hosts "$YT_BIN" train "${args[@]}" --zero $zero --grad-accum 1 --out "$work/np2-z$zero" \
        > np2-z$zero.log 2>&1 || { cat np2-z$zero.log; fail "np=2 across two hosts failed (--zero $zero)"; }
    sent=$(( $(bytes) - before ))
    echo "--zero $zero: $sent bytes left host A over $NETNS_VA"
    [ $zero = 0 ] && sent_rep=$sent
    [ "$sent" -gt $((10 * 4 * 17920 / 2)) ] || fail "too few bytes over the veth ($sent) for 10 all-reduces"
    "$PYTHON" "$YT_SRCDIR/tests/tools/compare_runs.py" np1-z$zero np2-z$zero --loss-rtol 1e-5 --weight-atol 1e-4 \
        --label "two hosts np=2 vs np=1 accum 2, --zero $zero" || status=1
done
[ $status = 0 ] || fail "two-host runs differ from np=1"
"$PYTHON" - np2-z0 <<'PY' || fail "config.json does not show two hosts"
import json, sys
ranks = json.load(open(sys.argv[1] + "/config.json"))["ranks"]
assert sorted(r["host"] for r in ranks) == ["hostA", "hostB"], ranks
assert all(r["local_rank"] == 0 for r in ranks), ranks
PY

# --shard-base over the two hosts: half of the base on each, gathered over TCP
# a layer ahead; the same losses and adapter as the replicated np=2 run.
before=$(bytes)
mpirun_2hosts "$YT_BIN" train "${args[@]}" --zero 0 --grad-accum 1 --shard-base true --out "$work/np2-shard" \
    > np2-shard.log 2>&1 || { cat np2-shard.log; fail "np=2 --shard-base across two hosts failed"; }
sent_shard=$(( $(bytes) - before ))
cmp -s np2-z0/adapter/adapter_model.safetensors np2-shard/adapter/adapter_model.safetensors ||
    fail "--shard-base across two hosts: adapter differs from the replicated run"
"$PYTHON" - np2-z0 np2-shard "$sent_shard" "$sent_rep" <<'PY' || fail "--shard-base across two hosts"
import json, sys
rep, sh, sent, sent_rep = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lr, ls = ([(m["step"], m["loss"], m["grad_norm"]) for m in map(json.loads, open(r + "/metrics.jsonl"))]
          for r in (rep, sh))
assert lr == ls, "losses differ"
m = [json.loads(l) for l in open(sh + "/metrics.jsonl")]
assert all(x["gather_s"] > 0 and 0 <= x["exposed_gather_s"] <= x["gather_s"] + 1e-6 for x in m)
ranks = json.load(open(sh + "/config.json"))["ranks"]
assert sorted(r["host"] for r in ranks) == ["hostA", "hostB"], ranks
piece = ranks[0]["base_weight_bytes"]
# Host A sent its piece of every unit at least once more than the replicated
# run sent (a two-layer model then keeps both layers in its two slots; the
# embedding and lm_head take turns in one buffer, gathered every step).
assert sent - sent_rep > piece, (sent, sent_rep, piece)
print(f"--shard-base across two hosts: losses and adapter equal to the replicated run; {sent} bytes left "
      f"host A ({sent_rep} replicated; a piece of {piece} bytes per rank); exposed gather median "
      f"{sorted(x['exposed_gather_s'] for x in m)[len(m) // 2]:.4f} s of "
      f"{sorted(x['gather_s'] for x in m)[len(m) // 2]:.4f} s in flight")
PY

# BF16: each host converts its own copy (local rank 0 of each node fills one).
"$YT_BIN" init-model --preset tiny --dtype bf16 --seed 5 --out bf16 > /dev/null
mpirun_2hosts "$YT_BIN" train --model "$work/bf16" --data "$work/data.h5" --max-steps 2 --seq-len 64 \
    --micro-batch 2 --threads 1 --out "$work/bf" > bf.log 2>&1 || { cat bf.log; fail "bf16 across two hosts failed"; }
grep -q "2 copies for 2 ranks (node-shared)" bf.log || { cat bf.log; fail "expected one converted copy per host"; }
echo "ddp_netns: all checks passed"
