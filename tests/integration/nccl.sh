#!/bin/bash
# The NCCL backend of collectives/ (tests/unit/test_nccl.c) under mpirun:
# device all-reduce, reduce-scatter (out of place and in place) and
# all-gather, overlapped with compute on another stream, checked exactly.
# Two ranks on two GPUs; with one GPU, one rank (NCCL refuses two ranks on one
# device: "Duplicate GPU detected"), which still checks the single-rank path
# and the stream ordering.  Exits 77 (skip) only when there is no CUDA device.
set -euo pipefail
fail() { echo "FAIL: $*"; exit 1; }
MPIRUN=${MPIRUN:-mpirun}
bin="${YT_BUILDDIR:-.}/tests/unit/test_nccl"
[ -x "$bin" ] || fail "$bin not built (make check builds it)"
# By hand as root, or outside make check: what AM_TESTS_ENVIRONMENT sets.
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
# NCCL says why when it fails.
export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
# One node: NCCL's bootstrap needs no network beyond loopback (a container may
# have no other interface NCCL likes); the data goes by NVLink/PCIe or memory.
export NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-lo}

if ! command -v nvidia-smi > /dev/null 2>&1; then
    echo "SKIP: no nvidia-smi, so no NVIDIA driver and no CUDA device here"
    exit 77
fi
set +e
devices=$("$bin" --devices)
rc=$?
set -e
if [ $rc = 77 ]; then
    echo "SKIP: $devices"
    exit 77
fi
[ $rc = 0 ] || fail "test_nccl --devices exited $rc: $devices"
echo "CUDA devices: $devices"

if [ "$devices" -ge 2 ]; then
    np=2
else
    np=1
    echo "only one GPU: running 1 rank (the single-rank path); 2 ranks need 2 GPUs" \
        "(NCCL does not take two ranks on one device: \"Duplicate GPU detected\")"
fi
run() { # NP [--one-rank-nccl]: a hung collective must not hang make check
    set +e
    timeout 300 "$MPIRUN" --oversubscribe -x NCCL_DEBUG -x NCCL_SOCKET_IFNAME \
        -np "$1" "$bin" ${2:-}
    local rc=$?
    set -e
    [ $rc = 124 ] && fail "mpirun -np $1 test_nccl ${2:-}: no answer in 300 s (a collective hung?)"
    [ $rc = 0 ] || fail "mpirun -np $1 test_nccl ${2:-} exited $rc"
    return 0
}
run $np
if [ $np = 1 ]; then
    # One rank skips NCCL; --one-rank-nccl makes a one-rank NCCL communicator,
    # so that the NCCL calls themselves run on this one GPU too.
    echo "again with a one-rank NCCL communicator (--one-rank-nccl)"
    run 1 --one-rank-nccl
fi
echo "PASS: NCCL collectives with $np rank(s)"
