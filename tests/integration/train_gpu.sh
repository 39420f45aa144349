#!/bin/bash
# `yieldtune train --device cuda` end to end on `tiny` with BF16 weights (CUDA
# builds only; exits 77 when there is no usable CUDA device):
#  - the loss curve of 30 steps on the GPU follows the CPU's (both attention
#    kernels; relative difference per step below 2e-2: the GPU rounds
#    activations to bf16 before the base-weight products) and falls;
#  - two GPU runs with the same seed give bitwise identical adapters;
#  - --recompute gives the same losses as without (to 1e-5);
#  - --gpu-comm nccl at one rank (a one-rank NCCL communicator: the per-layer
#    all-reduce and the join run on one GPU) gives the same adapter, bitwise;
#  - SIGUSR1 mid-run: exit 75 and a snapshot; the same command resumes and
#    ends bitwise equal to the uninterrupted GPU run;
#  - two ranks on this node (sharing GPU 0 through --gpu-comm mpi when there is
#    one GPU, NCCL when there are two or more), one micro-batch each, follow the
#    one-rank run that accumulates the same two micro-batches (1e-3).
set -euo pipefail
info=$("$YT_BIN" version)
echo "$info"
if ! echo "$info" | grep -qE 'CUDA yes.*, [1-9][0-9]* devices?'; then
    echo "SKIP: no usable CUDA device ($info)"
    exit 77
fi
ngpu=$(echo "$info" | sed -n 's/.*, \([0-9]*\) devices\{0,1\}).*/\1/p')
work=$(mktemp -d /tmp/yt-train-gpu-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

"$YT_BIN" init-model --preset tiny --seed 3 --dtype bf16 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 300 256
"$YT_BIN" prep --in data.jsonl --out data.h5 --model model > /dev/null

args=(--model model --data data.h5 --max-steps 30 --seq-len 64 --micro-batch 4 --grad-accum 2
      --lr 5e-3 --warmup 5 --schedule constant --lora-rank 16 --lora-alpha 32 --lora-dropout 0.05
      --seed 11 --threads 2 --log-every 10 --snapshot-every 0)
losses() { sed 's/.*"loss":\([^,]*\),.*/\1/' "$1/metrics.jsonl"; }
# close A B TOL: every step's loss within relative TOL
close() {
    paste <(losses "$1") <(losses "$2") | awk -v tol="$3" -v a="$1" -v b="$2" '
        { d = ($1 - $2) / ($2 < 0 ? -$2 : $2); if (d < 0) d = -d; if (d > w) { w = d; s = NR } n++ }
        END { printf "%s vs %s: %d steps, worst relative loss difference %.2e (step %d)\n", a, b, n, w, s;
              exit !(n == 30 && w <= tol) }'
}

"$YT_BIN" train "${args[@]}" --out cpu > cpu.log
"$YT_BIN" train "${args[@]}" --device cuda --out gpu > gpu.log || { cat gpu.log; fail "GPU run failed"; }
grep "^on GPU" gpu.log || fail "no GPU summary line"
"$YT_BIN" train "${args[@]}" --device cuda --attention flash --out flash > flash.log
close gpu cpu 2e-2 || fail "GPU (gemm attention) loss curve differs from the CPU's"
close flash cpu 2e-2 || fail "GPU (flash attention) loss curve differs from the CPU's"
first=$(losses gpu | head -1); last=$(losses gpu | tail -1)
echo "GPU loss: $first -> $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.88 * a) }' || fail "GPU loss did not fall"

"$YT_BIN" train "${args[@]}" --device cuda --out gpu2 > /dev/null
cmp gpu/adapter/adapter_model.safetensors gpu2/adapter/adapter_model.safetensors ||
    fail "two GPU runs with the same seed differ"
echo "two GPU runs: bitwise identical adapters"
"$YT_BIN" train "${args[@]}" --device cuda --recompute true --out recompute > /dev/null
close recompute gpu 1e-5 || fail "--recompute changed the losses"
if echo "$info" | grep -q "NCCL yes"; then
    "$YT_BIN" train "${args[@]}" --device cuda --gpu-comm nccl --out nccl1 > nccl1.log ||
        { cat nccl1.log; fail "--gpu-comm nccl at one rank failed"; }
    grep -q "one-rank NCCL communicator" nccl1.log || fail "no one-rank NCCL communicator in the summary"
    cmp gpu/adapter/adapter_model.safetensors nccl1/adapter/adapter_model.safetensors ||
        fail "--gpu-comm nccl at one rank changed the adapter"
    echo "one-rank NCCL: bitwise identical adapter"
fi

# Yield mid-run and resume: the same adapter as the uninterrupted run (200
# steps, so that the signal lands mid-run).
"$YT_BIN" train "${args[@]}" --device cuda --max-steps 200 --out long > /dev/null
slow=("$YT_BIN" train "${args[@]}" --device cuda --max-steps 200 --out yielded)
"${slow[@]}" > y1.log 2>&1 &
pid=$!
for _ in $(seq 600); do
    [ -f yielded/metrics.jsonl ] && [ "$(wc -l < yielded/metrics.jsonl)" -ge 3 ] && break
    sleep 0.02
done
kill -USR1 "$pid" 2>/dev/null || true
rc=0
wait "$pid" || rc=$?
n=$(wc -l < yielded/metrics.jsonl)
[ "$rc" = 75 ] || { cat y1.log; fail "SIGUSR1 after $n of 200 steps: exit $rc, want 75"; }
echo "yielded after $n steps (exit 75)"
ls yielded/snapshots/step-*.h5 > /dev/null || fail "no snapshot after the yield"
"${slow[@]}" > y2.log 2>&1 || { cat y2.log; fail "resume failed"; }
grep -q "resumed from" y2.log || fail "the second run did not resume"
cmp long/adapter/adapter_model.safetensors yielded/adapter/adapter_model.safetensors ||
    fail "yield + resume on the GPU differs from the uninterrupted run"
echo "yield and resume on the GPU: bitwise identical adapter"

# Two ranks, the same global batch and micro-batches (one each instead of two
# accumulated), so the same dropout masks.
if [ "${ngpu:-1}" -ge 2 ]; then comm=nccl; else comm=mpi; fi
"$MPIRUN" -np 2 --oversubscribe "$YT_BIN" train "${args[@]}" --grad-accum 1 --device cuda \
    --gpu-comm "$comm" --out two > two.log 2>&1 || { cat two.log; fail "two ranks failed"; }
close two gpu 1e-3 || fail "two ranks ($comm) differ from one"
echo "train_gpu: all checks passed"
