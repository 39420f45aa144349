#!/bin/bash
# train --shard-base under mpirun (runner/step_cpu.c as the model's base
# source, collectives/comm_group.c's all-gathers, model/base_pass.c):
#  1. bitwise: np=2 and np=4 with --shard-base give the same per-step losses,
#     gradient norms, validation losses and final adapter (byte for byte) as
#     the replicated run at the same np -- f32 untied and tied, nf4, and
#     --shard-group 2 at np=4 -- with grad-accum 2, LoRA dropout and
#     --eval-every on;
#  2. metrics.jsonl carries gather_s and exposed_gather_s (0 <= exposed <=
#     in flight), and replicated runs do not;
#  3. memory: a model of ~48 MB fp32 at N = 1, 2, 4 (np = N, one group): each
#     rank's base_weight_bytes is 1/N of N=1's, and each rank's measured
#     resident anonymous memory (VmRSS's RssAnon in config.json) falls with N
#     by what the smaller base predicts (within 10% of the base, 4 MiB);
#  4. a resume may change N: the np=4 sharded run's step-3 snapshot resumed
#     with --shard-group 2, and without --shard-base, ends bitwise equal to the
#     uninterrupted run;
#  5. --shard-group that does not divide the ranks is refused, naming it;
#  6. init-model --preset llama3-70b writes its config.json alone (the shape
#     transformers reads: 80 layers, hidden 8192, 64/8 heads), no weights.
set -euo pipefail
work=$(mktemp -d "${TMPDIR:-/tmp}/yt-shard-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
MPIRUN=${MPIRUN:-mpirun}

"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 400 256
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" val.jsonl 40 256
"$YT_BIN" init-model --preset tiny --seed 3 --layers 3 --out untied > /dev/null
"$YT_BIN" init-model --preset tiny --seed 4 --layers 3 --tie-embeddings true --out tied > /dev/null
"$YT_BIN" prep --in data.jsonl --out data.h5 --model untied > /dev/null
"$YT_BIN" prep --in val.jsonl --out data.val.h5 --model untied > /dev/null

common=(--data data.h5 --max-steps 6 --seq-len 64 --micro-batch 2 --grad-accum 2 --lr 5e-3 --warmup 2
        --seed 11 --threads 1 --lora-rank 4 --lora-dropout 0.1 --eval-every 3 --snapshot-every 3 --log-every 3)
run() { # NAME NP ARGS...
    local name=$1 np=$2
    shift 2
    "$MPIRUN" --oversubscribe -np "$np" "$YT_BIN" train "${common[@]}" "$@" --out "$name" > "$name.log" 2>&1 ||
        { cat "$name.log"; fail "$name: np=$np run failed"; }
}
same() { # RUN_A RUN_B LABEL: losses, norms, val losses and the adapter bit for bit
    "$PYTHON" - "$1" "$2" "$3" <<'PY' || status=1
import json, sys
a, b, label = sys.argv[1:]
ma, mb = ([json.loads(l) for l in open(r + "/metrics.jsonl")] for r in (a, b))
keys = ("step", "loss", "grad_norm", "val_loss", "lr")
ra = [[m.get(k) for k in keys] for m in ma]
rb = [[m.get(k) for k in keys] for m in mb[-len(ma):]] if len(mb) >= len(ma) else None
wa, wb = (open(r + "/adapter/adapter_model.safetensors", "rb").read() for r in (a, b))
ok = ra == rb and wa == wb
print(f"{label}: {len(ma)} steps, losses {'equal' if ra == rb else 'DIFFER'}, adapter "
      f"{'equal byte for byte' if wa == wb else 'DIFFERS'}")
sys.exit(0 if ok else 1)
PY
}

status=0
for np in 2 4; do
    run rep-$np $np --model untied
    run sh-$np $np --model untied --shard-base true
    same rep-$np sh-$np "np=$np f32 untied: --shard-base vs replicated"
    run rept-$np $np --model tied
    run sht-$np $np --model tied --shard-base true
    same rept-$np sht-$np "np=$np f32 tied: --shard-base vs replicated"
done
run repq-4 4 --model untied --base-dtype nf4
run shq-4 4 --model untied --base-dtype nf4 --shard-base true
same repq-4 shq-4 "np=4 nf4: --shard-base vs replicated"
run shg-4 4 --model untied --shard-base true --shard-group 2
same rep-4 shg-4 "np=4 f32: --shard-base --shard-group 2 vs replicated"
[ $status = 0 ] || fail "sharded runs differ from the replicated ones"
grep -q 'val_loss' sh-4/metrics.jsonl || fail "no validation loss in the sharded run"

# Gather times in metrics.jsonl.
"$PYTHON" - sh-4 shg-4 rep-4 <<'PY' || fail "gather_s / exposed_gather_s"
import json, sys
for run in sys.argv[1:3]:
    m = [json.loads(l) for l in open(run + "/metrics.jsonl")]
    assert all("gather_s" in x and "exposed_gather_s" in x for x in m), run
    assert all(x["gather_s"] > 0 and 0 <= x["exposed_gather_s"] <= x["gather_s"] + 1e-6 for x in m), run
    med = lambda k: sorted(x[k] for x in m)[len(m) // 2]
    print(f"{run}: gather_s median {med('gather_s'):.4f}, exposed_gather_s median "
          f"{med('exposed_gather_s'):.4f}, step_time_s median {med('step_time_s'):.4f}")
assert not any("gather_s" in json.loads(l) for l in open(sys.argv[3] + "/metrics.jsonl"))
PY
grep -q '^memory per rank: base .* (f32, sharded 1/4)' sh-4.log || { head -3 sh-4.log; fail "no memory line for the sharded run"; }

# Memory per rank at N = 1, 2, 4: a model whose base dominates the process.
"$YT_BIN" init-model --preset tiny --seed 6 --vocab-size 8192 --hidden-size 256 --intermediate-size 1024 \
    --layers 8 --heads 4 --kv-heads 2 --out big > /dev/null
"$YT_BIN" prep --in data.jsonl --out big.h5 --model big > /dev/null
for n in 1 2 4; do
    "$MPIRUN" --oversubscribe -np $n "$YT_BIN" train --model big --data big.h5 --max-steps 1 --seq-len 32 \
        --micro-batch 1 --threads 1 --lora-rank 4 --shard-base true --out mem-$n > mem-$n.log 2>&1 ||
        { cat mem-$n.log; fail "memory run N=$n"; }
done
"$PYTHON" - mem-1 mem-2 mem-4 <<'PY' || fail "resident base memory does not divide by N"
import json, statistics, sys
rows = {}
for run in sys.argv[1:]:
    ranks = json.load(open(run + "/config.json"))["ranks"]
    rows[len(ranks)] = ranks
base1 = rows[1][0]["base_weight_bytes"]
anon1 = rows[1][0]["rss_anon_kb"] * 1024
work1 = rows[1][0]["base_work_bytes"]
MiB = 2 ** 20
print(f"{'N':>2} {'base/rank MiB':>14} {'work MiB':>9} {'RssAnon/rank MiB':>17} {'VmRSS/rank MiB':>15} "
      f"{'anon fall, measured':>20} {'predicted':>10}")
ok = True
for n, ranks in sorted(rows.items()):
    base = [r["base_weight_bytes"] for r in ranks]
    work = ranks[0]["base_work_bytes"]
    anon = statistics.mean(r["rss_anon_kb"] * 1024 for r in ranks)
    rss = statistics.mean(r["vm_rss_kb"] * 1024 for r in ranks)
    fall = anon1 - anon
    pred = (base1 + work1) - (statistics.mean(base) + work)
    print(f"{n:>2} {statistics.mean(base) / MiB:>14.2f} {work / MiB:>9.2f} {anon / MiB:>17.1f} {rss / MiB:>15.1f} "
          f"{fall / MiB:>20.1f} {pred / MiB:>10.1f}")
    # every rank's piece is 1/N of the base (the final norm is kept whole: 1 KiB)
    ok &= all(abs(b - base1 / n) < 0.01 * base1 / n + 4096 for b in base)
    ok &= abs(fall - pred) < max(0.10 * base1, 4 * MiB)
sys.exit(0 if ok else 1)
PY

# A resume may change N (and sharding): bitwise equal to the uninterrupted run.
for variant in group2 unsharded; do
    cp -r sh-4 res-$variant
    extra=(--shard-base true --shard-group 2)
    [ $variant = unsharded ] && extra=(--shard-base false)
    "$MPIRUN" --oversubscribe -np 4 "$YT_BIN" train "${common[@]}" --model untied "${extra[@]}" \
        --resume res-$variant/snapshots/step-00000003.h5 --out res-$variant > res-$variant.log 2>&1 ||
        { cat res-$variant.log; fail "resume ($variant)"; }
    grep -q "resumed from .*step-00000003.h5 at step 3" res-$variant.log || fail "$variant did not resume at step 3"
    cmp -s sh-4/adapter/adapter_model.safetensors res-$variant/adapter/adapter_model.safetensors ||
        fail "resumed ($variant) differs from the uninterrupted sharded run"
    echo "step-3 snapshot of the N=4 sharded run resumed ($variant): adapter equal byte for byte"
done

# A group size that does not divide the ranks.
set +e
"$MPIRUN" --oversubscribe -np 4 "$YT_BIN" train "${common[@]}" --model untied --shard-base true \
    --shard-group 3 --out bad > bad.log 2>&1
rc=$?
set -e
[ $rc != 0 ] && grep -q -- "--shard-group 3 does not divide the 4 ranks" bad.log ||
    { cat bad.log; fail "--shard-group 3 at np=4: exit $rc"; }

"$YT_BIN" init-model --preset llama3-70b --out l70 > l70.log || fail "init-model --preset llama3-70b"
[ "$(ls l70)" = config.json ] || fail "llama3-70b: $(ls l70) written (config.json alone expected)"
"$PYTHON" - l70/config.json <<'PY' || fail "llama3-70b's config.json"
import json, sys
from transformers import LlamaConfig
c = LlamaConfig(**json.load(open(sys.argv[1])))
got = (c.num_hidden_layers, c.hidden_size, c.intermediate_size, c.num_attention_heads, c.num_key_value_heads,
       c.vocab_size, c.tie_word_embeddings)
assert got == (80, 8192, 28672, 64, 8, 128256, False), got
print("init-model --preset llama3-70b: config.json only,", got)
PY
echo "shard_base: all checks passed"
