#!/bin/bash
# Data-parallel equivalence under mpirun: the same global batch split as
# np=1 x grad-accum 4, np=2 x 2 and np=4 x 1 gives the same per-step losses
# (1e-5 relative) and the same final LoRA weights (1e-4 absolute), with the
# gradients all-reduced per layer during backward (--zero 0) and with the
# optimizer state sharded (--zero 1: reduce-scatter, AdamW on the shard,
# all-gather), also for a LoRA parameter count that 2 and 4 do not divide
# (uneven shards).  Losses are normalised by the counted tokens of the whole
# global batch (the data has uncounted prompt tokens), dropout and clipping
# are on in the uneven case.  Also: only rank 0 prints, metrics carry
# comm_s and exposed_comm_s, config.json records every rank.
set -euo pipefail
work=$(mktemp -d /tmp/yt-ddp-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
MPIRUN=${MPIRUN:-mpirun}

"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 400 256
# The tiny preset: every LoRA parameter count it allows is a multiple of 64
# (its widths 64, 32, 160 and 2 layers), so the uneven case overrides the
# preset: 3 layers, intermediate 161, r=3 on q and gate gives
# 3 * 3 * ((64+64) + (64+161)) = 3177 parameters, odd.
"$YT_BIN" init-model --preset tiny --seed 3 --out even > /dev/null
"$YT_BIN" init-model --preset tiny --seed 4 --layers 3 --intermediate-size 161 --out uneven > /dev/null
"$YT_BIN" prep --in data.jsonl --out data.h5 --model even > /dev/null

common=(--data data.h5 --max-steps 12 --seq-len 64 --micro-batch 2 --lr 5e-3 --warmup 3
        --schedule cosine --seed 11 --threads 1 --log-every 4 --snapshot-every 6)
even=(--model even --lora-rank 8 --lora-alpha 16)
uneven=(--model uneven --lora-rank 3 --lora-alpha 6 --lora-targets q,gate --lora-dropout 0.1
        --clip 0.05 --weight-decay 0.01)

run() { # NAME NP ARGS...: trains into NAME with NP ranks, global batch 8 sequences
    local name=$1 np=$2
    shift 2
    local accum=$((4 / np))
    if [ "$np" = 1 ]; then
        "$YT_BIN" train "${common[@]}" "$@" --grad-accum $accum --out "$name" > "$name.log" 2>&1 ||
            { cat "$name.log"; fail "$name: np=1 run failed"; }
    else
        "$MPIRUN" --oversubscribe -np "$np" "$YT_BIN" train "${common[@]}" "$@" --grad-accum $accum \
            --out "$name" > "$name.log" 2>&1 || { cat "$name.log"; fail "$name: np=$np run failed"; }
    fi
}

for set in even uneven; do
    declare -n a=$set
    for zero in 0 1; do
        for np in 1 2 4; do
            run "$set-z$zero-np$np" $np "${a[@]}" --zero $zero
        done
    done
done

n_even=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["lora_parameters"])' even-z0-np1/config.json)
n_uneven=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["lora_parameters"])' uneven-z0-np1/config.json)
echo "LoRA parameters: even set $n_even (mod 2 = $((n_even % 2)), mod 4 = $((n_even % 4))), uneven set $n_uneven (mod 2 = $((n_uneven % 2)), mod 4 = $((n_uneven % 4)))"
[ $((n_uneven % 2)) != 0 ] && [ $((n_uneven % 4)) != 0 ] || fail "uneven set: $n_uneven parameters divide evenly"

status=0
cmp_runs() { "$PYTHON" "$YT_SRCDIR/tests/tools/compare_runs.py" "$1" "$2" --loss-rtol 1e-5 --weight-atol 1e-4 --label "$3" || status=1; }
for set in even uneven; do
    for zero in 0 1; do
        for np in 2 4; do
            cmp_runs "$set-z0-np1" "$set-z$zero-np$np" "$set: np=1 accum 4 vs np=$np accum $((4 / np)) --zero $zero"
        done
    done
    cmp_runs "$set-z0-np1" "$set-z1-np1" "$set: np=1 --zero 0 vs --zero 1"
done
[ $status = 0 ] || fail "runs differ"

# The runs learned something (the comparison above could pass on no-ops).
"$PYTHON" - even-z0-np1 <<'PY' || fail "loss did not fall"
import json, sys
l = [json.loads(x)["loss"] for x in open(sys.argv[1] + "/metrics.jsonl")]
print(f"loss {l[0]:.4f} -> {l[-1]:.4f}")
sys.exit(0 if l[-1] < 0.98 * l[0] else 1)
PY
# The tolerances tell runs apart: a 1% different learning rate fails them.
run even-lr 2 "${even[@]}" --lr 5.05e-3
if "$PYTHON" "$YT_SRCDIR/tests/tools/compare_runs.py" even-z0-np1 even-lr --label "control: --lr 5.05e-3 (must differ)"; then
    fail "a run with another learning rate passed the comparison"
fi

# --zero 1 snapshots hold the whole AdamW state (gathered from the shards):
# resuming the np=4 sharded run from its step-6 snapshot ends bitwise equal to
# it with --zero 1 at np=4 (moments scattered back), and fp-close with --zero 0
# at np=2 (broadcast; another world size sums in another order).
snap=uneven-z1-np4/snapshots/step-00000006.h5
[ -f $snap ] || fail "no snapshot at step 6 in uneven-z1-np4"
cp -r uneven-z1-np4 resumed-z1-np4
"$MPIRUN" --oversubscribe -np 4 "$YT_BIN" train "${common[@]}" "${uneven[@]}" --zero 1 --grad-accum 1 \
    --resume resumed-z1-np4/snapshots/step-00000006.h5 --out resumed-z1-np4 > resumed-z1-np4.log 2>&1 ||
    { cat resumed-z1-np4.log; fail "resume at np=4 --zero 1 failed"; }
"$MPIRUN" --oversubscribe -np 2 "$YT_BIN" train "${common[@]}" "${uneven[@]}" --zero 0 --grad-accum 2 \
    --resume "$snap" --out resumed-z0-np2 > resumed-z0-np2.log 2>&1 ||
    { cat resumed-z0-np2.log; fail "resume at np=2 --zero 0 failed"; }
for r in resumed-z1-np4 resumed-z0-np2; do
    grep -q "resumed from .*step-00000006.h5 at step 6" $r.log || fail "$r did not resume at step 6"
done
cmp uneven-z1-np4/adapter/adapter_model.safetensors resumed-z1-np4/adapter/adapter_model.safetensors ||
    fail "resumed at np=4 --zero 1: adapter differs from the uninterrupted run"
echo "--zero 1 snapshot at step 6 resumed at np=4 --zero 1: adapter bitwise equal to the uninterrupted run"
"$PYTHON" "$YT_SRCDIR/tests/tools/compare_runs.py" uneven-z1-np4 resumed-z0-np2 \
    --label "--zero 1 np=4 snapshot resumed at np=2 --zero 0 (steps 7-12)" || fail "resumed at np=2 --zero 0 differs"

# Rank 0 alone prints; metrics and config.json carry the data-parallel fields.
for f in even-z0-np4 uneven-z1-np2; do
    [ "$(grep -c '^training ' $f.log)" = 1 ] || fail "$f: start-up line printed $(grep -c '^training ' $f.log) times"
    [ "$(grep -c 'adapter written' $f.log)" = 1 ] || fail "$f: more than one rank reported the adapter"
    grep -q 'VmRSS per rank' $f.log || fail "$f: start-up line lacks the memory per rank"
done
"$PYTHON" - even-z0-np4 even-z1-np4 <<'PY' || fail "metrics or config.json lack data-parallel fields"
import json, sys
for run in sys.argv[1:]:
    m = [json.loads(x) for x in open(run + "/metrics.jsonl")]
    for k in ("comm_s", "exposed_comm_s", "tokens_per_s"):
        assert all(k in x for x in m), (run, k)
    assert all(0 <= x["exposed_comm_s"] <= x["comm_s"] + 1e-6 for x in m), run
    assert all(x["comm_s"] > 0 for x in m), run
    c = json.load(open(run + "/config.json"))
    assert len(c["ranks"]) == 4 and all(r["vm_rss_kb"] > 0 for r in c["ranks"]), run
    assert c["world_size"] == 4, run
    print(f"{run}: comm_s median {sorted(x['comm_s'] for x in m)[len(m)//2]:.4f}, "
          f"exposed {sorted(x['exposed_comm_s'] for x in m)[len(m)//2]:.4f}; zero_shards {c['zero_shards']}")
PY
echo "ddp_equivalence: all checks passed"
