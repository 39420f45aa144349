#!/bin/bash
# Faults while snapshots are written.  kill -9 of a training process at timed
# points inside snapshot writes (mid-write of the temp file, just before the
# rename; a test hook pauses there) and between them: every restart resumes the
# newest snapshot that verifies, removes the dead writer's temp file, and the
# run ends bitwise equal to an uninterrupted one.  A truncated newest snapshot
# is reported and skipped.  A disk that fills during a write (a small tmpfs)
# stops the run with a clear error and leaves the previous snapshots valid.
set -euo pipefail
work=$(mktemp -d /tmp/yt-snapfault-XXXXXX)
cleanup() { mountpoint -q "$work/small" 2>/dev/null && umount "$work/small"; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
RANDOM=${YT_TEST_SEED:-$$}

"$YT_BIN" init-model --preset tiny --seed 2 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 200 256
"$YT_BIN" prep --in data.jsonl --out data.h5 > /dev/null
args=(--model model --data data.h5 --max-steps 30 --seq-len 64 --micro-batch 2 --lr 3e-3
      --lora-rank 8 --seed 3 --threads 1 --log-every 1000 --snapshot-every 1 --keep 2)
"$YT_BIN" train "${args[@]}" --out ref > /dev/null

newest_valid() {  # step of the newest snapshot that inspect verifies, or -1
    local best=-1 f s
    for f in "$1"/snapshots/step-*.h5; do
        [ -e "$f" ] || continue
        s=$(basename "$f" .h5); s=$((10#${s#step-}))
        "$YT_BIN" inspect "$f" > /dev/null 2>&1 && [ "$s" -gt "$best" ] && best=$s
    done
    echo $best
}

kills=0; temps=0
for attempt in $(seq 12); do
    YT_SNAP_FAULT_PAUSE=0.3 "$YT_BIN" train "${args[@]}" --out run > "run.$attempt.log" 2>&1 &
    pid=$!
    sleep "0.$((RANDOM % 9 + 1))"
    kill -9 $pid 2>/dev/null && kills=$((kills + 1)) || true
    wait $pid 2>/dev/null || true
    ls run/snapshots/*.tmp.* > /dev/null 2>&1 && temps=$((temps + 1))
    want=$(newest_valid run)
    out=$("$YT_BIN" train "${args[@]}" --max-steps 1 --out run 2>&1 || true)  # resume, do nothing more
    if [ "$want" -ge 0 ]; then
        grep -q "resumed from run/snapshots/step-$(printf %08d "$want").h5" <<<"$out" ||
            fail "attempt $attempt: newest valid snapshot is step $want but: $out"
    fi
    ! ls run/snapshots/*.tmp.* > /dev/null 2>&1 || fail "attempt $attempt: temp files left after a restart"
done
echo "killed $kills writers ($temps left a temp file behind); every restart resumed the newest valid snapshot"
"$YT_BIN" train "${args[@]}" --out run > /dev/null
cmp ref/adapter/adapter_model.safetensors run/adapter/adapter_model.safetensors ||
    fail "the run killed during snapshot writes ends differently"
[ $temps -ge 1 ] || fail "no kill landed inside a snapshot write; the test proved nothing"

# A truncated newest snapshot is reported and skipped.
last=$(ls run/snapshots/step-*.h5 | tail -1)
prev=$(ls run/snapshots/step-*.h5 | tail -2 | head -1)
truncate -s $(( $(stat -c %s "$last") / 2 )) "$last"
out=$("$YT_BIN" train "${args[@]}" --max-steps 40 --out run 2>&1)
grep -q "$(basename "$last")" <<<"$out" && grep -q "resumed from $prev" <<<"$out" ||
    fail "truncated newest snapshot not skipped: $out"

# The disk fills during a snapshot write.
mkdir small
mount -t tmpfs -o size=1200k tmpfs small
set +e
out=$("$YT_BIN" train "${args[@]}" --keep 3 --out small/run 2>&1); rc=$?
set -e
echo "disk full: exit $rc: $(grep -m1 'No space' <<<"$out")"
[ $rc != 0 ] && [ $rc != 75 ] || fail "disk full: exit $rc"
grep -q "No space left on device" <<<"$out" || fail "disk full: no clear error: $out"
n=0
for f in small/run/snapshots/step-*.h5; do
    "$YT_BIN" inspect "$f" > /dev/null || fail "disk full: $f does not verify"
    n=$((n + 1))
done
[ $n -ge 1 ] || fail "disk full: no snapshot survived"
! ls small/run/snapshots/*.tmp.* > /dev/null 2>&1 || fail "disk full: temp file left"
echo "snapshot_faults: all checks passed"
