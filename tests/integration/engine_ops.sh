#!/bin/bash
# The two model engines call the same ops.  model/llama.c + model/lora.c +
# model/base_pass.c + model/quant.c (the CPU engine with its base-weight
# decoding, kernels/kernels.h: yt_k_*) and model/llama_gpu.c (the GPU engine,
# kernels/cuda/kernels_cuda.h: yt_kc_*) must compute the same layer; an op
# added to one and not the other fails here, naming it, before any GPU runs.
# Names are compared after removing the device's storage variants (_bf16,
# _gemm, _chunk) and the plumbing that only one side has (memory, streams,
# host-side tables); a fused op on one side goes into FUSED with what it
# replaces.  test_model_gpu checks that the two engines agree numerically.
set -euo pipefail
src=${YT_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
fail() { echo "FAIL: $*"; exit 1; }

# plumbing: not a step of the layer's maths
plumbing='^(malloc|free|upload|download|sync|memset|copy|fill_f32|fill_uniform|to|ctx|ctx_create|ctx_destroy|ctx_stream|get_threads|set_threads|rope_inv_freq|rope_tables|device_count)$'
# GPU fused op -> the CPU ops it stands for (space-separated); none today
declare -A FUSED=()

ops() { # PREFIX FILE...: the op names called, variants folded, plumbing dropped
    local prefix=$1
    shift
    grep -ho "\b${prefix}_[a-z0-9_]*" "$@" | sed "s/^${prefix}_//" |
        sed -E 's/_workspace$//; s/_chunk$//; s/_bf16$//; s/^attention_gemm(_|$)/attention\1/' |
        grep -Ev "$plumbing" | sort -u
}
cpu=$(ops yt_k "$src/model/llama.c" "$src/model/lora.c" "$src/model/base_pass.c" "$src/model/quant.c")
gpu=$(ops yt_kc "$src/model/llama_gpu.c")
for f in "${!FUSED[@]}"; do
    gpu=$(printf '%s\n' $gpu | grep -vx "$f"; printf '%s\n' ${FUSED[$f]})
    gpu=$(printf '%s\n' $gpu | sort -u)
done
[ -n "$cpu" ] && [ -n "$gpu" ] || fail "no kernel calls found in the engines (renamed files?)"
only_cpu=$(comm -23 <(printf '%s\n' $cpu) <(printf '%s\n' $gpu))
only_gpu=$(comm -13 <(printf '%s\n' $cpu) <(printf '%s\n' $gpu))
[ -z "$only_cpu" ] || fail "the CPU engine calls ops the GPU engine does not: $(echo $only_cpu)" \
    "(add them to model/llama_gpu.c and kernels/cuda, or list a fused GPU op in FUSED)"
[ -z "$only_gpu" ] || fail "the GPU engine calls ops the CPU engine does not: $(echo $only_gpu)" \
    "(add them to model/llama.c and kernels/cpu, or list them in FUSED)"
echo "PASS: both engines call the same $(printf '%s\n' $cpu | wc -l) ops: $(echo $cpu)"
