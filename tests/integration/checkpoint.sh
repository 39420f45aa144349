#!/bin/bash
# checkpoint/: disk-full behaviour and h5py-readability of snapshots.
#  1. A snapshot written by the C writer reads in h5py with the expected attributes,
#     values, Fletcher32 filters and hashes (tests/tools/check_snapshot.py).
#  2. On a 256 KiB tmpfs, a small snapshot commits, a 16 MiB one fails with the
#     errno text "No space left on device", leaves no temp file, and the small one
#     still verifies.  The tmpfs is mounted directly as root, else inside
#     `unshare -rm` (a private mount namespace as a mapped root); if neither is
#     possible the test fails (it does not skip).
set -u
: "${YT_BUILDDIR:?}" "${YT_SRCDIR:?}" "${PYTHON:?}"
T="$YT_BUILDDIR/tests/unit/test_checkpoint"
CHECK="$YT_SRCDIR/tests/tools/check_snapshot.py"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/yt-ckpt-int.XXXXXX")
MNT="$WORK/full"
MOUNTED=0
cleanup() {
    if [ "$MOUNTED" = 1 ]; then umount "$MNT" 2>/dev/null; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. h5py reads what we write.
YT_SNAP_SAMPLE="$WORK/step-00000100.h5" "$T" || fail "writing the sample snapshot"
"$PYTHON" "$CHECK" "$WORK/step-00000100.h5" --expect-sample || fail "h5py check of the sample"
if command -v h5dump >/dev/null; then
    h5dump -A "$WORK/step-00000100.h5" | grep -q '"yieldtune-snapshot"' \
        || fail "h5dump does not show the format attribute"
fi
echo "ok: h5py reads the sample snapshot"

# 2. Disk full.
mkdir -p "$MNT"
if mount -t tmpfs -o size=256k tmpfs "$MNT" 2>/dev/null; then
    MOUNTED=1
    OUT=$(YT_SNAP_DISKFULL_DIR="$MNT" "$T" 2>&1); RC=$?
elif command -v unshare >/dev/null && unshare -rm true 2>/dev/null; then
    # No privilege to mount here: a private mount namespace as a mapped root.
    OUT=$(unshare -rm bash -c 'mount -t tmpfs -o size=256k tmpfs "$1" && YT_SNAP_DISKFULL_DIR="$1" "$2"' \
          _ "$MNT" "$T" 2>&1); RC=$?
else
    fail "cannot mount a small tmpfs (not root, no user namespaces)"
fi
echo "$OUT"
[ "$RC" = 0 ] || fail "disk-full helper exited $RC"
echo "$OUT" | grep -q "No space left on device" || fail "no errno text in the disk-full error"
echo "$OUT" | grep -q "DISKFULL OK" || fail "disk-full helper did not finish"
echo "ok: disk full gives a clean error and keeps the previous snapshot"
exit 0
