#!/bin/bash
# Data-parallel start-up under mpirun:
#  - a rank that cannot load its model makes every rank exit non-zero within
#    seconds (no hang), and says which rank failed;
#  - ranks started with different options, or with a different dataset, stop
#    at start on every rank, naming what differs;
#  - BF16 base weights are converted once per node: at np=2 and np=4 one rank
#    fills a node-shared copy, no rank holds a private one (RssAnon drops by
#    the copy's size against np=1), and the results equal np=1's;
#  - threads: the default is the node's cores over its ranks (and at most the
#    CPUs a rank is bound to); one pool (OpenMP + the OpenMP OpenBLAS):
#    --threads 1 keeps the process at one CPU's worth of time; an
#    oversubscribed start is reported.
set -euo pipefail
work=$(mktemp -d /tmp/yt-ddpsetup-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
MPIRUN=${MPIRUN:-mpirun}

"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 300 256
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" other.jsonl 200 256
"$YT_BIN" init-model --preset tiny --seed 3 --out model > /dev/null
"$YT_BIN" prep --in data.jsonl --out data.h5 --model model > /dev/null
"$YT_BIN" prep --in other.jsonl --out other.h5 --model model > /dev/null

# Per-rank arguments: YT_RANK<r>_ARGS is appended on rank r; each rank
# records its exit code and how long it ran.
cat > wrap.sh <<'SH'
#!/bin/bash
r=${OMPI_COMM_WORLD_RANK:-0}
var="YT_RANK${r}_ARGS"
t0=$(date +%s%N)
"$YT_BIN" "$@" ${!var:-}
rc=$?
echo "$rc $(( ($(date +%s%N) - t0) / 1000000 ))" > "rc.$r"
exit $rc
SH
chmod +x wrap.sh
args=(train --model model --data data.h5 --max-steps 3 --seq-len 64 --micro-batch 2 --threads 1)

# expect_fail NAME NP PATTERN: every rank exits non-zero within 10 s, the output matches PATTERN.
expect_fail() {
    local name=$1 np=$2 pattern=$3
    shift 3
    rm -f rc.*
    local rc=0
    # mpirun must not kill the others when the first rank exits non-zero: we
    # want to see every rank give up by itself.
    timeout 60 "$MPIRUN" --oversubscribe --mca orte_abort_on_non_zero_status 0 -np "$np" -x YT_BIN -x YT_RANK0_ARGS -x YT_RANK1_ARGS -x YT_RANK2_ARGS \
        ./wrap.sh "${args[@]}" --out "$name" > "$name.log" 2>&1 || rc=$?
    [ $rc != 124 ] || { cat "$name.log"; fail "$name: mpirun hung (killed after 60 s)"; }
    # (with that setting mpirun itself exits 0: the ranks' own codes are checked)
    for ((r = 0; r < np; r++)); do
        [ -f rc.$r ] || { cat "$name.log"; fail "$name: rank $r did not exit by itself"; }
        read -r code ms < rc.$r
        [ "$code" != 0 ] || { cat "$name.log"; fail "$name: rank $r exited 0"; }
        [ "$ms" -lt $((10000 * ${YT_TIME_SCALE:-1})) ] || fail "$name: rank $r took $ms ms to give up"
        echo "$name: rank $r exit $code after $ms ms"
    done
    grep -q -- "$pattern" "$name.log" || { cat "$name.log"; fail "$name: output lacks '$pattern'"; }
}

export YT_RANK0_ARGS= YT_RANK1_ARGS= YT_RANK2_ARGS=
YT_RANK1_ARGS="--model $work/missing-model" expect_fail load-fail 2 "rank 1: setup: .*missing-model"
grep -q "rank 0: setup: setup failed on 1 other rank" load-fail.log || fail "rank 0 did not say that rank 1 failed"
YT_RANK2_ARGS="--model $work/missing-model" expect_fail load-fail-3 3 "rank 2: setup: .*missing-model"
YT_RANK1_ARGS="--lora-rank 4" expect_fail options 2 "rank 1: setup: configuration differs from rank 0: lora-rank"
grep -q "rank 0: setup: configuration differs from rank 0 on 1 rank (rank 1: lora-rank" options.log ||
    fail "rank 0 did not name the differing rank and key"
YT_RANK1_ARGS="--zero 1" expect_fail zero 2 "configuration differs from rank 0: zero"
YT_RANK2_ARGS="--data other.h5" expect_fail dataset 3 "rank 2: setup: configuration differs from rank 0: dataset fingerprint"
YT_RANK1_ARGS="--seed 5" expect_fail seed 2 "configuration differs from rank 0: seed, initial LoRA weights"

# BF16 base weights: one converted copy per node.
"$YT_BIN" init-model --preset tiny --dtype bf16 --hidden-size 256 --intermediate-size 1024 --vocab-size 4096 \
    --layers 4 --seed 7 --out bf16 > /dev/null
"$YT_BIN" prep --in data.jsonl --out bf16.h5 --model bf16 > /dev/null
bargs=(--model bf16 --data bf16.h5 --max-steps 4 --seq-len 64 --micro-batch 1 --lr 2e-3 --threads 1 --lora-rank 4)
"$YT_BIN" train "${bargs[@]}" --grad-accum 4 --out bf-np1 > bf-np1.log
"$MPIRUN" -np 2 "$YT_BIN" train "${bargs[@]}" --grad-accum 2 --out bf-np2 > bf-np2.log
"$MPIRUN" --oversubscribe -np 4 "$YT_BIN" train "${bargs[@]}" --grad-accum 1 --out bf-np4 > bf-np4.log 2>&1
grep -q "1 copy for 2 ranks (node-shared)" bf-np2.log || { cat bf-np2.log; fail "start-up line does not report one shared copy"; }
"$PYTHON" - bf-np1 bf-np2 bf-np4 <<'PY' || fail "converted weights are not shared once per node"
import json, sys
one = json.load(open(sys.argv[1] + "/config.json"))["ranks"][0]
C = one["converted_weights_bytes"] / 1024  # KiB
assert C > 16 * 1024, f"converted copy only {C:.0f} KiB: the test model is too small"
assert one["converted_weights_filled"] and not one["converted_weights_shared"]
print(f"np=1: converted copy {C / 1024:.1f} MiB, RssAnon {one['rss_anon_kb'] / 1024:.1f} MiB")
for run in sys.argv[2:]:
    ranks = json.load(open(run + "/config.json"))["ranks"]
    hosts = {r["host"] for r in ranks}
    for h in hosts:
        fillers = [r["rank"] for r in ranks if r["host"] == h and r["converted_weights_filled"]]
        assert len(fillers) == 1, f"{run}: host {h} has fillers {fillers}"
    for r in ranks:
        assert r["converted_weights_shared"] and r["converted_weights_bytes"] == one["converted_weights_bytes"]
        # no private copy: each rank's anonymous memory is np=1's minus the copy
        assert r["rss_anon_kb"] < one["rss_anon_kb"] - 0.8 * C, (run, r)
        if r["converted_weights_filled"]:
            assert r["rss_shmem_kb"] > 0.9 * C, (run, r)
    print(f"{run}: RssAnon per rank " + ", ".join(f"{r['rss_anon_kb'] / 1024:.1f}" for r in ranks) +
          " MiB, RssShmem " + ", ".join(f"{r['rss_shmem_kb'] / 1024:.1f}" for r in ranks) +
          f" MiB; filled by rank(s) {[r['rank'] for r in ranks if r['converted_weights_filled']]}")
PY
for np in 2 4; do
    "$PYTHON" "$YT_SRCDIR/tests/tools/compare_runs.py" bf-np1 bf-np$np --label "bf16 shared weights np=$np vs np=1" ||
        fail "bf16 np=$np differs from np=1"
done

# Threads.  Defaults: cores / ranks on the node, at most the CPUs a rank may use.
cores=$(getconf _NPROCESSORS_ONLN)
targs=(--model model --data data.h5 --max-steps 2 --seq-len 64 --micro-batch 2)
"$YT_BIN" train "${targs[@]}" --out th1 > /dev/null
"$MPIRUN" -np 2 "$YT_BIN" train "${targs[@]}" --out th2 > /dev/null
"$PYTHON" - th1 th2 "$cores" <<'PY' || fail "default threads"
import json, sys
cores = int(sys.argv[3])
for run in sys.argv[1:3]:
    ranks = json.load(open(run + "/config.json"))["ranks"]
    for r in ranks:
        want = max(1, min(cores // len(ranks), r["cpus_allowed"]))
        assert r["threads"] == want, (run, r, want)
    total = sum(r["threads"] for r in ranks)
    assert total <= max(cores, len(ranks)), (run, total, cores)
    print(f"{run}: {len(ranks)} rank(s) x {[r['threads'] for r in ranks]} threads on {cores} cores")
PY
"$MPIRUN" --oversubscribe -np 2 --bind-to none "$YT_BIN" train "${targs[@]}" --threads "$cores" --out th3 > th3.log 2>&1
grep -q "oversubscribed" th3.log || { cat th3.log; fail "no warning for $cores threads x 2 ranks on $cores cores"; }
# One owner of the threads: with --threads 1 the process uses one CPU's worth of
# time (a second pool, e.g. a pthread OpenBLAS beside OpenMP, would spin on the
# other core).
"$PYTHON" - "$YT_BIN" <<'PY' || fail "threads: more CPU time than --threads allows"
import os, subprocess, sys, time
yt = sys.argv[1]
for threads in (1,):
    t0 = time.monotonic()
    p = subprocess.Popen([yt, "train", "--model", "bf16", "--data", "bf16.h5", "--out", f"cpu{threads}",
                          "--max-steps", "6", "--seq-len", "128", "--micro-batch", "4",
                          "--threads", str(threads)], stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    cpu = ru.ru_utime + ru.ru_stime
    print(f"--threads {threads}: {cpu:.2f} s CPU in {wall:.2f} s wall ({cpu / wall:.2f} CPUs)")
    assert status == 0
    assert cpu / wall < threads + 0.3, (threads, cpu, wall)
PY
echo "ddp_setup: all checks passed"
