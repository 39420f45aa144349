#!/bin/bash
# tests/integration/train_gpu.sh, unchanged, against tests/emu/yieldtune-emu:
# the GPU training path (runner/train_gpu.c, model/llama_gpu.c) on the HOST
# EMULATION of kernels/cuda and of the device collectives.  EMULATED: it
# checks the engine's call order, buffer sizes and arithmetic with the CPU
# kernels' numerics, never a GPU kernel's numerics or speed.
#  - train_gpu.sh with two emulated devices, so that its two-rank run takes
#    the NCCL path (per-layer yt_comm_dev_* starts, emulated over MPI);
#  - the other way two ranks sum gradients, --gpu-comm mpi (through host
#    memory) on one shared device: the same adapter, bitwise, as the NCCL path;
#  - --gpu-comm nccl with two ranks on one device is refused, naming it.
# A skip of train_gpu.sh is a failure here: the emulator always has a device.
set -uo pipefail
fail() { echo "FAIL: $*"; exit 1; }
echo "EMULATED GPU: tests/integration/train_gpu.sh with YT_BIN=tests/emu/yieldtune-emu"
emu="${YT_BUILDDIR:-.}/tests/emu/yieldtune-emu"
[ -x "$emu" ] || fail "$emu not built (make check builds it)"
MPIRUN=${MPIRUN:-mpirun}
export YT_BIN=$emu YT_EMU_DEVICES=2 YT_EMU_QUIET=1
# Its runs take --threads 2; idle OpenMP threads that spin make them ten times
# slower on a loaded machine (the GPU runs have no such threads to speak of).
export OMP_WAIT_POLICY=PASSIVE
bash "$YT_SRCDIR/tests/integration/train_gpu.sh"
rc=$?
[ $rc = 77 ] && fail "train_gpu.sh skipped on the emulator (it has devices)"
[ $rc = 0 ] || fail "train_gpu.sh failed on the emulator (exit $rc)"

echo "EMULATED GPU: two ranks, NCCL path vs --gpu-comm mpi"
set -e
work=$(mktemp -d /tmp/yt-train-gpu-emu-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$emu" init-model --preset tiny --seed 5 --dtype bf16 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 100 256
"$emu" prep --in data.jsonl --out data.h5 --model model > /dev/null
args=(--model model --data data.h5 --max-steps 8 --seq-len 64 --micro-batch 2 --grad-accum 1
      --lr 5e-3 --lora-rank 8 --lora-alpha 16 --lora-dropout 0.05 --seed 3 --threads 1
      --snapshot-every 0 --device cuda)
two() { # devices, comm, out
    YT_EMU_DEVICES=$1 "$MPIRUN" -np 2 --oversubscribe -x YT_EMU_DEVICES -x YT_EMU_QUIET \
        -x OMP_WAIT_POLICY "$emu" train "${args[@]}" --gpu-comm "$2" --out "$3" > "$3.log" 2>&1
}
two 2 nccl nccl || { cat nccl.log; fail "two ranks, NCCL path"; }
grep -q "NCCL all-reduce per layer" nccl.log || { cat nccl.log; fail "the NCCL path was not taken"; }
two 1 mpi mpi || { cat mpi.log; fail "two ranks, --gpu-comm mpi"; }
grep -q "MPI sums via host" mpi.log || { cat mpi.log; fail "the MPI path was not taken"; }
cmp nccl/adapter/adapter_model.safetensors mpi/adapter/adapter_model.safetensors ||
    fail "--gpu-comm nccl and mpi give different adapters"
echo "NCCL path and --gpu-comm mpi: bitwise identical adapters"
if two 1 nccl same; then
    fail "two ranks on one device with --gpu-comm nccl were not refused"
fi
grep -q "both on emulated device 0" same.log || { cat same.log; fail "no message naming the shared device"; }
echo "two ranks on one device with --gpu-comm nccl: refused"
echo "train_gpu_emu: all checks passed (EMULATED)"
