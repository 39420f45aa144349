#!/bin/bash
# The emulated device collectives (tests/emu/test_emu_comm) under mpirun:
# EMULATED, no GPU and no NCCL take part.  Two ranks on two emulated devices
# (exact sums, gathers, buffers held until the join), one rank, and two ranks
# on one emulated device, which yt_comm_dev_init must refuse.  Never skips.
set -euo pipefail
fail() { echo "FAIL: $*"; exit 1; }
echo "EMULATED GPU: yt_comm_dev_* over MPI through host staging (tests/emu/emu_comm.c)"
bin="${YT_BUILDDIR:-.}/tests/emu/test_emu_comm"
[ -x "$bin" ] || fail "$bin not built (make check builds it)"
MPIRUN=${MPIRUN:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export YT_EMU_QUIET=1 OMP_WAIT_POLICY=PASSIVE

YT_EMU_DEVICES=2 "$MPIRUN" -np 2 --oversubscribe -x YT_EMU_DEVICES -x YT_EMU_QUIET -x OMP_WAIT_POLICY "$bin" ||
    fail "two ranks on two emulated devices"
YT_EMU_DEVICES=1 "$MPIRUN" -np 1 -x YT_EMU_DEVICES -x YT_EMU_QUIET -x OMP_WAIT_POLICY "$bin" || fail "one rank"
YT_EMU_DEVICES=1 "$MPIRUN" -np 2 --oversubscribe -x YT_EMU_DEVICES -x YT_EMU_QUIET -x OMP_WAIT_POLICY "$bin" --same-device ||
    fail "two ranks on one emulated device were not refused"
echo "nccl_emu: all checks passed (EMULATED)"
