#!/bin/bash
# End to end on `tiny`: init-model, prep, train.  The loss falls on a small
# repeated dataset; two 50-step runs with the same seed give bitwise identical
# adapters and metrics; mpirun -np 1 gives the same as a plain start; a config
# file gives the same as flags; the adapter written at the end loads again.
set -euo pipefail
work=$(mktemp -d /tmp/yt-train-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

"$YT_BIN" init-model --preset tiny --seed 3 --out model
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 300 256
"$YT_BIN" prep --in data.jsonl --out data.h5 --model model

args=(--model model --data data.h5 --max-steps 50 --seq-len 64 --micro-batch 4 --grad-accum 2
      --lr 5e-3 --warmup 10 --schedule constant --lora-rank 16 --lora-alpha 32 --seed 11 --threads 2
      --log-every 10)
"$YT_BIN" train "${args[@]}" --out run1 | tee run1.log
"$YT_BIN" train "${args[@]}" --out run2 > run2.log

[ "$(wc -l < run1/metrics.jsonl)" = 50 ] || fail "metrics.jsonl has $(wc -l < run1/metrics.jsonl) lines, want 50"
for k in step loss lr grad_norm tokens step_time_s tokens_per_s; do
    grep -q "\"$k\":" run1/metrics.jsonl || fail "metrics.jsonl lacks $k"
done
first=$(head -1 run1/metrics.jsonl | sed 's/.*"loss":\([^,]*\),.*/\1/')
last=$(tail -1 run1/metrics.jsonl | sed 's/.*"loss":\([^,]*\),.*/\1/')
echo "loss: first step $first, last step $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.88 * a) }' || fail "loss did not fall enough: $first -> $last"

cmp run1/adapter/adapter_model.safetensors run2/adapter/adapter_model.safetensors ||
    fail "same seed, different adapters"
cut -d, -f1-4 run1/metrics.jsonl > m1; cut -d, -f1-4 run2/metrics.jsonl > m2
cmp m1 m2 || fail "same seed, different losses"
echo "two runs with the same seed: bitwise identical adapters and losses"

# A different seed gives a different run (the comparison above can fail).
"$YT_BIN" train "${args[@]}" --max-steps 3 --seed 12 --out run3 > /dev/null
"$YT_BIN" train "${args[@]}" --max-steps 3 --out run4 > /dev/null
cmp -s run3/adapter/adapter_model.safetensors run4/adapter/adapter_model.safetensors &&
    fail "different seeds gave identical adapters"

# Under mpirun -np 1: the same result as a plain start.
"$MPIRUN" -np 1 "$YT_BIN" train "${args[@]}" --max-steps 3 --out run5 > /dev/null
cmp run4/adapter/adapter_model.safetensors run5/adapter/adapter_model.safetensors ||
    fail "mpirun -np 1 differs from a plain start"

# The same options from a config file.
cat > train.conf <<CONF
# tiny run from a file
model = model
data = data.h5
max_steps = 3
seq_len = 64
micro_batch = 4
grad_accum = 2
lr = 5e-3
warmup = 10
schedule = constant
lora_rank = 16
lora_alpha = 32
seed = 11
threads = 2
CONF
"$YT_BIN" train --config train.conf --out run6 > /dev/null
cmp run4/adapter/adapter_model.safetensors run6/adapter/adapter_model.safetensors ||
    fail "config file run differs from the flags run"
grep -q '"max_steps": 3' run6/config.json || fail "resolved config.json lacks max_steps"

# The final adapter loads again: continuing from it at lr 0 leaves it unchanged.
"$YT_BIN" train "${args[@]}" --max-steps 2 --lr 0 --init-adapter run1/adapter --out run7 > /dev/null
cmp run1/adapter/adapter_model.safetensors run7/adapter/adapter_model.safetensors ||
    fail "adapter did not round-trip through --init-adapter"
echo "train_tiny: all checks passed"
