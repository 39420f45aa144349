#!/bin/bash
# A run that yields again and again before it completes a step (each attempt
# gets SIGTERM, whose deadline abandons the step in progress, right after it
# resumed) says so once 3 yields in a row completed no step: on stderr and as
# a "no_progress" event; a yield after a completed step ends the row.
set -euo pipefail
work=$(mktemp -d /tmp/yt-stalled-XXXXXX)
pid=""
cleanup() {
    [ -z "$pid" ] || kill -KILL "$pid" 2> /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

"$YT_BIN" init-model --preset tiny --seed 5 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 400 256
"$YT_BIN" prep --in data.jsonl --out data.h5 > /dev/null
# Steps of about a second: a signal sent when the attempt has resumed lands
# inside its first step.
# (the TERM deadline scaled as the other signal tests scale it for the slower
# sanitizer build: a loaded machine must not turn the yield into a timeout)
args=(--model model --data data.h5 --out run --max-steps 30 --seq-len 512 --micro-batch 8 --grad-accum 2
      --threads 1 --snapshot-every 0
      --yield-deadline "TERM=$(awk -v s="${YT_TIME_SCALE:-1}" 'BEGIN { print 0.8 * s }')")
events() { [ -f run/events.jsonl ] && wc -l < run/events.jsonl || echo 0; }
# attempt N: starts the run, sends SIGTERM as soon as it has started or resumed
# (after N_STEPS completed steps when given), expects exit 75.
attempt() {
    local n=$1 wait_steps=${2:-0} before rc
    before=$(events)
    "$YT_BIN" train "${args[@]}" > "a$n.log" 2>&1 &
    pid=$!
    for _ in $(seq 1200); do
        [ "$(events)" -gt "$before" ] && tail -1 run/events.jsonl | grep -qE '"event":"(start|resume)"' && break
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.02
    done
    if [ "$wait_steps" -gt 0 ]; then
        local target=$(($(grep -c . run/metrics.jsonl 2> /dev/null || true) + wait_steps))
        for _ in $(seq 1200); do
            [ "$(grep -c . run/metrics.jsonl 2> /dev/null || true)" -ge $target ] && break
            sleep 0.02
        done
    fi
    kill -TERM "$pid"
    set +e; wait "$pid"; rc=$?; set -e
    pid=""
    [ $rc = 75 ] || { cat "a$n.log"; fail "attempt $n: exit $rc, expected 75"; }
}
stalled() { grep -c '"event":"no_progress"' run/events.jsonl || true; }
attempt 1
attempt 2
[ "$(stalled)" = 0 ] && ! grep -q "no progress" a2.log || fail "a no-progress report after 2 yields"
attempt 3
grep -q "yieldtune: train: no progress: 3 yields in a row completed no step (still at step 0)" a3.log ||
    { cat a3.log; fail "attempt 3: no 'no progress' message on stderr"; }
grep -q '"event":"no_progress","time":[0-9.]*,"step":0,"yields":3}' run/events.jsonl ||
    fail "events.jsonl: no no_progress event after 3 stalled yields: $(tail -3 run/events.jsonl)"
[ "$(grep -c '"event":"yield".*"attempt_steps":0' run/events.jsonl)" = 3 ] ||
    fail "events.jsonl: expected 3 yields with attempt_steps 0"
echo "yield_stalled: 3 yields at step 0 without a completed step: reported"
attempt 4 1      # a completed step ends the row
grep '"event":"yield"' run/events.jsonl | tail -1 | grep -qv '"attempt_steps":0' ||
    fail "attempt 4 completed no step"
attempt 5
[ "$(stalled)" = 1 ] && ! grep -q "no progress" a4.log a5.log ||
    fail "a no-progress report after a yield that made progress"
echo "yield_stalled: a yield after a completed step ends the row"
echo "yield_stalled: all checks passed"
