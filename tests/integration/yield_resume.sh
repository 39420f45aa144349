#!/bin/bash
# The yield protocol and exact resume on `tiny`.  Runs are interrupted at
# random moments, several times each, until they finish; the final adapter must
# be bitwise equal to the uninterrupted run's on the same number of ranks:
#   np=1: SIGUSR1 to the process;
#   np=2: SIGUSR1 to mpirun (forwarded to every rank), SIGUSR1 to one rank
#         only, SIGTERM to one rank (the deadline path), kill -9 of one rank
#         (mpirun fails; the restart resumes from the last periodic snapshot);
# and a run yielded at np=2 and resumed at np=1 (same global batch) sees the
# same data order and ends fp-close.
set -euo pipefail
work=$(mktemp -d /tmp/yt-yield-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
. "$YT_SRCDIR/tests/integration/preempt_lib.sh"
RANDOM=${YT_TEST_SEED:-$$}
echo "random seed of the interruption times: $RANDOM"

"$YT_BIN" init-model --preset tiny --seed 5 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 400 256
"$YT_BIN" prep --in data.jsonl --out data.h5 > /dev/null
common=(--model model --data data.h5 --max-steps 60 --seq-len 128 --micro-batch 2 --lr 3e-3
        --lora-rank 8 --lora-alpha 16 --lora-dropout 0.1 --seed 7 --threads 1 --log-every 1000
        --snapshot-every 5)
one=("$YT_BIN" train "${common[@]}" --grad-accum 2)
two=("$MPIRUN" -np 2 --oversubscribe "$YT_BIN" train "${common[@]}" --grad-accum 1)

"${one[@]}" --out ref1 > /dev/null
"${two[@]}" --out ref2 > /dev/null

# interrupt NAME HOW CMD...: reruns CMD until it exits 0, hitting each run
# except the last with HOW at a random moment after it has made progress (a
# signal before a process has started its signal handling kills it: that window
# is the process start-up, before main() blocks the yield signals).  The moment
# is drawn in steps, not seconds: a `tiny` step takes ~7 ms, so a random sleep
# of a few hundred ms let most attempts finish before the signal and the test
# saw too few interruptions on a fast machine.
# Counts the yields.
interrupt() {
    local name=$1 how=$2; shift 2
    local yields=0 kills=0 rc=1
    for attempt in $(seq 40); do
        local before
        before=$(steps_done "$name")
        "$@" --out "$name" > "$name.$attempt.log" 2>&1 &
        local pid=$!
        # (a kill -9 resumes from the last periodic snapshot, every 5 steps: it
        # lands 6-10 steps in, or a slow build could lose every attempt's steps)
        local at=$((before + RANDOM % 4))
        [ "$how" != kill-rank ] || at=$((before + 6 + RANDOM % 5))
        wait_progress "$pid" "$name" "$at"
        sleep "0.0$((RANDOM % 10))"
        if kill -0 "$pid" 2>/dev/null; then
            # a process may finish between the check and the kill: not an error
            case $how in
                usr1) kill -USR1 "$pid" 2>/dev/null || true ;;
                usr1-rank) r=$(rank_pid "$pid"); [ -z "$r" ] || kill -USR1 "$r" 2>/dev/null || true ;;
                term-rank) r=$(rank_pid "$pid"); [ -z "$r" ] || kill -TERM "$r" 2>/dev/null || true ;;
                kill-rank) r=$(rank_pid "$pid"); [ -z "$r" ] || kill -9 "$r" 2>/dev/null || true ;;
            esac
        fi
        set +e; wait "$pid"; rc=$?; set -e
        # A signal that lands while mpirun is already shutting down (its handlers
        # gone, the run finished) kills it: 128 + the signal, as a scheduler
        # would see it.  That attempt counts as a kill; the next one resumes
        # (or, finished, only re-exports) and the adapter must still be equal.
        local own=0
        case $how in usr1*) own=138 ;; term*) own=143 ;; esac
        case $rc in
            0) break ;;
            75) yields=$((yields + 1)) ;;
            *) [ "$how" = kill-rank ] || [ "$rc" = "$own" ] ||
                   { cat "$name.$attempt.log"; fail "$name: exit $rc"; }
               kills=$((kills + 1)) ;;
        esac
    done
    [ "$rc" = 0 ] || fail "$name: did not finish in 40 attempts"
    [ $((yields + kills)) -ge 2 ] || fail "$name: interrupted only $((yields + kills)) time(s); the test needs 2+"
    echo "$name: finished after $yields yield(s) and $kills kill(s)"
}

interrupt np1-usr1 usr1 "${one[@]}"
cmp ref1/adapter/adapter_model.safetensors np1-usr1/adapter/adapter_model.safetensors ||
    fail "np1-usr1: adapter differs from the uninterrupted run"
interrupt np2-usr1-mpirun usr1 "${two[@]}"
interrupt np2-usr1-rank usr1-rank "${two[@]}"
# (SIGTERM to one rank, not through mpirun: no SIGKILL follows, so a slower
# build -- the sanitizers' -- may take a longer deadline, YT_TIME_SCALE)
interrupt np2-term-rank term-rank "${two[@]}" --yield-deadline \
    "TERM=$(awk -v s="${YT_TIME_SCALE:-1}" 'BEGIN { print 0.8 * s }')"
interrupt np2-kill-rank kill-rank "${two[@]}"
for r in np2-usr1-mpirun np2-usr1-rank np2-term-rank np2-kill-rank; do
    cmp ref2/adapter/adapter_model.safetensors $r/adapter/adapter_model.safetensors ||
        fail "$r: adapter differs from the uninterrupted np=2 run"
    grep -q '"event":"yield"' $r/events.jsonl || [ $r = np2-kill-rank ] || fail "$r: no yield event"
done
grep -q '"signal":"TERM"' np2-term-rank/events.jsonl || fail "np2-term-rank: no TERM yield recorded"
echo "all interrupted runs: bitwise equal to the uninterrupted run"

# Yield at np=2, resume at np=1 with the same global batch.
"${two[@]}" --out cross > cross.log 2>&1 &                # np=2, yielded ...
pid=$!; wait_progress $pid cross 5; kill -USR1 $pid
set +e; wait $pid; rc=$?; set -e
[ $rc = 75 ] || fail "cross: np=2 run exited $rc, expected a yield (75)"
"${one[@]}" --out cross > /dev/null                      # ... the rest at np=1
grep -q '"world_size":1' cross/events.jsonl || fail "cross: no np=1 resume event"
"$PYTHON" - "$work" <<'PY'
import sys, numpy as np
from safetensors.numpy import load_file
w = sys.argv[1]
a, b = load_file(f"{w}/ref1/adapter/adapter_model.safetensors"), load_file(f"{w}/cross/adapter/adapter_model.safetensors")
worst = max(float(np.abs(a[k] - b[k]).max() / max(np.abs(a[k]).max(), 1e-12)) for k in a)
print(f"np=2 then np=1 vs np=1: worst relative difference {worst:.2e}")
sys.exit(0 if worst < 1e-3 else 1)
PY
# A hung peer: one rank stopped (SIGSTOP), the other gets SIGTERM.  The
# signalled rank cannot agree with its peer; its watchdog ends it shortly after
# the 0.8 s deadline, mpirun fails, and the snapshots on disk are untouched
# (a write in flight may still land whole, never half).
"${two[@]}" --max-steps 1000000 --out hung > hung.log 2>&1 &
pid=$!
for _ in $(seq 600); do ls hung/snapshots/step-*.h5 > /dev/null 2>&1 && break; sleep 0.05; done
ranks=($(pgrep -P $pid -f "yieldtune train"))
[ ${#ranks[@]} = 2 ] || fail "hung: expected 2 ranks, found ${ranks[*]:-none}"
kill -STOP "${ranks[0]}"
# The other rank blocks at its next collective, but a snapshot write already in
# flight (a background one, or an fsync on a busy disk) still lands: the folder
# is compared from the moment it holds still (names, temp files included, and
# contents the same 0.3 s apart).
before=""
for _ in $(seq 100); do
    sleep 0.3
    now=$(cd hung/snapshots && ls -a && md5sum step-*.h5)
    [ "$now" = "$before" ] && break
    before=$now
done
before=$(cd hung/snapshots && md5sum step-*.h5)
t0=$(date +%s.%N)
kill -TERM "${ranks[1]}"
while kill -0 "${ranks[1]}" 2>/dev/null && [ "$(ps -o stat= -p "${ranks[1]}" | cut -c1)" != Z ]; do sleep 0.01; done
t1=$(date +%s.%N)
set +e; wait $pid; rc=$?; set -e
t2=$(date +%s.%N)
kill -9 "${ranks[0]}" 2>/dev/null || true
after=$(cd hung/snapshots && md5sum step-*.h5)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
all=$(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.2f", b - a }')
echo "hung peer: the signalled rank exited ${secs}s after SIGTERM, mpirun exited $rc after ${all}s"
[ $rc != 0 ] && [ $rc != 75 ] || fail "hung: exit $rc, expected a failure"
scale=${YT_TIME_SCALE:-1}
awk -v s="$secs" -v k="$scale" 'BEGIN { exit !(s < 1.5 * k) }' || fail "hung: the signalled rank took ${secs}s to exit"
awk -v s="$all" -v k="$scale" 'BEGIN { exit !(s < 10 * k) }' || fail "hung: mpirun took ${all}s to exit"
# Every snapshot there before is there unchanged.  One more may land: the
# stopped rank, when mpirun continues and ends it, finishes a background write
# it was in (a complete snapshot of a finished step); it must be valid.
while read -r sum file; do
    grep -qx "$sum  $file" <<< "$after" || fail "hung: $file changed or vanished"
done <<< "$before"
for f in hung/snapshots/step-*.h5; do
    grep -q " $(basename "$f")\$" <<< "$before" && continue
    "$YT_BIN" inspect "$f" > /dev/null 2>&1 || fail "hung: $f appeared and is not a valid snapshot"
    echo "hung: $(basename "$f") landed after the stop (a write in flight), valid"
done
grep -q "yield deadline passed" hung.log || fail "hung: no watchdog message"

echo "yield_resume: all checks passed"
