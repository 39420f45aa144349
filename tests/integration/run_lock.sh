#!/bin/bash
# Two trainers on one RUN.  While a trainer (single process, then 2 ranks
# under mpirun) runs in RUN, a second one on the same RUN (other options, other
# rank count) exits 1 before writing anything: RUN/config.json, events.jsonl
# and the snapshots are byte for byte what they were, and the message names
# RUN and the holder's pid and host.  The holder goes on undisturbed and ends
# (yield) normally; then the lock file it leaves behind locks nothing and the
# next trainer resumes.
set -euo pipefail
work=$(mktemp -d /tmp/yt-runlock-XXXXXX)
holder=""
cleanup() { [ -n "$holder" ] && kill -9 "$holder" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

"$YT_BIN" init-model --preset tiny --seed 2 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 200 256
"$YT_BIN" prep --in data.jsonl --out data.h5 > /dev/null
# Long enough never to finish by itself: it is stopped with a yield signal.
# No periodic snapshots: while it runs the holder only appends to metrics.jsonl.
args=(--model model --data data.h5 --max-steps 100000000 --seq-len 64 --micro-batch 2
      --lora-rank 4 --seed 3 --threads 1 --log-every 1000000 --snapshot-every 0 --keep 2)

steps_done() { [ -f "$1/metrics.jsonl" ] && wc -l < "$1/metrics.jsonl" || echo 0; }
snapshot_of() {  # what must not change: config, events, snapshots, the lock file
    md5sum "$1/config.json" "$1/events.jsonl" "$1/lock" "$1"/snapshots/* 2>/dev/null || true
    ls -la "$1" "$1/snapshots" | grep -v -e metrics.jsonl -e '^total' | awk '{print $1, $NF}'
}

# start_holder NAME CMD...: runs CMD in the background until it has made steps
start_holder() {
    local run=$1; shift
    "$@" --out "$run" > "$run.holder.log" 2>&1 &
    holder=$!
    for _ in $(seq 600); do
        [ "$(steps_done "$run")" -gt 20 ] && return 0
        kill -0 "$holder" 2>/dev/null || { cat "$run.holder.log"; fail "the holder died"; }
        sleep 0.1
    done
    fail "the holder made no step in 60 s"
}

# second RUN CMD...: CMD on RUN is refused, and RUN is untouched
second() {
    local run=$1; shift
    local before after out rc t0 n
    before=$(snapshot_of "$run")
    t0=$(date +%s%N)
    # (a second trainer that is not refused trains alongside: stop it)
    set +e; out=$(timeout 60 "$@" --out "$run" 2>&1); rc=$?; set -e
    [ $rc = 1 ] || fail "second trainer on $run: exit $rc, want 1 (124: still running after 60 s): $out"
    grep -q "$run.* in use" <<<"$out" || fail "second trainer: the message does not name $run: $out"
    kill -0 "$holder" 2>/dev/null || fail "the holder died while the second trainer ran"
    grep -q "pid $pid_expect " <<<"$out" || fail "second trainer: the message does not name pid $pid_expect: $out"
    grep -q "$(hostname)" <<<"$out" || fail "second trainer: the message does not name the host: $out"
    after=$(snapshot_of "$run")
    [ "$before" = "$after" ] || fail "second trainer changed $run: $(diff <(echo "$before") <(echo "$after"))"
    n=$(steps_done "$run")
    sleep 0.5
    [ "$(steps_done "$run")" -gt "$n" ] || fail "the holder stopped making steps"
    echo "refused in $((($(date +%s%N) - t0) / 1000000)) ms: $(grep -m1 'in use' <<<"$out")"
}

# A single-process holder; a second trainer with other options, alone and with 2 ranks.
start_holder run "$YT_BIN" train "${args[@]}"
pid_expect=$holder
second run "$YT_BIN" train "${args[@]}" --lr 1e-2 --resume never
second run "$YT_BIN" train "${args[@]}"
second run "$MPIRUN" -np 2 --oversubscribe "$YT_BIN" train "${args[@]}"
kill -USR1 "$holder"
set +e; wait "$holder"; rc=$?; set -e
holder=""
[ $rc = 75 ] || fail "the holder ended with $rc, not a yield (75)"
[ -f run/lock ] || fail "no run/lock file"
# The lock file left behind locks nothing: the same command resumes.
out=$("$YT_BIN" train "${args[@]}" --max-steps 70 --out run 2>&1) || fail "resume after the holder: $out"
grep -q "resumed from" <<<"$out" || fail "resume after the holder did not resume: $out"

# Two ranks hold it (rank 0 takes the lock); a single process is refused.
start_holder run2 "$MPIRUN" -np 2 --oversubscribe "$YT_BIN" train "${args[@]}"
pid_expect=$(sed -n 's/^pid \([0-9]*\) .*/\1/p' run2/lock)
[ -n "$pid_expect" ] && ps -o args= -p "$pid_expect" | grep -q "yieldtune train" ||
    fail "run2/lock does not name a running trainer: $(cat run2/lock)"
second run2 "$YT_BIN" train "${args[@]}"
kill -USR1 "$holder"
set +e; wait "$holder"; rc=$?; set -e
holder=""
[ $rc = 75 ] || fail "the 2-rank holder ended with $rc, not a yield (75)"
echo "run_lock: all checks passed"
