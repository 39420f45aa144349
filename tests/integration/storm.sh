#!/bin/bash
# A preemption storm: a `tiny` run at np=2 interrupted again and again, each
# attempt hit at a random moment by one action from a seeded schedule:
#   usr1-mpirun   SIGUSR1 to mpirun (forwarded to every rank)
#   term-mpirun   SIGTERM to mpirun (it sends CONT, then TERM to the ranks
#                 after odls_base_sigkill_timeout, then KILL: the deadline path)
#   usr1-rank     SIGUSR1 to one rank only
#   term-rank     SIGTERM to one rank only (exit 75, or 1 from the watchdog
#                 when its deadline passed before the ranks agreed)
#   kill-rank     kill -9 of one rank (mpirun fails; resume from an older snapshot)
#   flip          a bit flipped in the newest snapshot between two attempts
#                 (resume must use it unchanged, or refuse it and fall back)
# until at least STORM_INTERRUPTIONS (default 30) interruptions happened and
# the run finished.  The final adapter must be bitwise equal to the
# uninterrupted run's.  bench/storm runs the long version.
# Environment: STORM_INTERRUPTIONS, STORM_SEED (default: the pid), STORM_STEPS.
set -euo pipefail
work=$(mktemp -d /tmp/yt-storm-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
. "$YT_SRCDIR/tests/integration/preempt_lib.sh"
want=${STORM_INTERRUPTIONS:-30}
steps=${STORM_STEPS:-$((want * 3 + 20))}
RANDOM=${STORM_SEED:-$$}
echo "storm: seed $RANDOM, at least $want interruptions, $steps steps"

"$YT_BIN" init-model --preset tiny --seed 11 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 400 256
"$YT_BIN" prep --in data.jsonl --out data.h5 > /dev/null
run=("$MPIRUN" -np 2 --oversubscribe "$YT_BIN" train --model model --data data.h5
     --max-steps "$steps" --seq-len 64 --micro-batch 2 --grad-accum 1 --lr 3e-3 --lora-rank 4
     --lora-alpha 8 --lora-dropout 0.1 --seed 3 --threads 1 --log-every 100000
     --snapshot-every 4 --keep 3)
"${run[@]}" --out ref > ref.log 2>&1 || { cat ref.log; fail "the uninterrupted run failed"; }

flip_newest() { # one random bit of the newest snapshot; prints what it did
    local f
    f=$(ls storm/snapshots/step-*.h5 2>/dev/null | sort | tail -1)
    [ -n "$f" ] || { echo "no snapshot yet"; return 0; }
    "$PYTHON" - "$f" "$RANDOM$RANDOM" <<'PY'
import sys
path, r = sys.argv[1], int(sys.argv[2])
data = bytearray(open(path, "rb").read())
bit = r % (len(data) * 8)
data[bit // 8] ^= 1 << (bit % 8)
open(path, "wb").write(bytes(data))
print(f"flipped bit {bit % 8} of byte {bit // 8} of {len(data)} in {path.split('/')[-1]}")
PY
}

actions=(usr1-mpirun term-mpirun usr1-rank term-rank kill-rank flip)
declare -A count=()
interruptions=0 rc=1 attempt=0
while :; do
    attempt=$((attempt + 1))
    [ $attempt -le $((want * 3 + 40)) ] || fail "no finish after $attempt attempts"
    action=${actions[$((RANDOM % ${#actions[@]}))]}
    if [ "$action" = flip ] && [ $interruptions -lt "$want" ]; then
        echo "attempt $attempt: $(flip_newest)"
        count[flip]=$((${count[flip]:-0} + 1))
        interruptions=$((interruptions + 1))
        action=${actions[$((RANDOM % (${#actions[@]} - 1)))]}  # and a signal for this attempt
    fi
    [ $interruptions -ge "$want" ] && action=none
    before=$(steps_done storm)
    "${run[@]}" --out storm > "storm.$attempt.log" 2>&1 &
    pid=$!
    if [ "$action" != none ]; then
        wait_progress "$pid" storm "$before"
        sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
        if kill -0 "$pid" 2>/dev/null; then
            case $action in
                usr1-mpirun) kill -USR1 "$pid" 2>/dev/null || true ;;
                term-mpirun) kill -TERM "$pid" 2>/dev/null || true ;;
                usr1-rank) r=$(rank_pid "$pid"); [ -z "$r" ] || kill -USR1 "$r" 2>/dev/null || true ;;
                term-rank) r=$(rank_pid "$pid"); [ -z "$r" ] || kill -TERM "$r" 2>/dev/null || true ;;
                kill-rank) r=$(rank_pid "$pid"); [ -z "$r" ] || kill -9 "$r" 2>/dev/null || true ;;
            esac
        fi
    fi
    set +e; wait "$pid"; rc=$?; set -e
    case $rc in
        0) [ "$action" = none ] || echo "attempt $attempt: $action came too late (finished)"
           [ $interruptions -ge "$want" ] && break ;;
        75) count[$action]=$((${count[$action]:-0} + 1)); interruptions=$((interruptions + 1)) ;;
        # kill -9 fails the job; a TERM whose deadline passed before the ranks
        # agreed (a loaded machine) makes the watchdog exit 1 without a new
        # snapshot; a USR1 that lands while mpirun is shutting down (handlers
        # gone) kills it, 138: all resume from the last snapshot on disk
        *) case $action/$rc in kill-rank/*|term-mpirun/*|term-rank/*|usr1-*/138) ;;
               *) tail -20 "storm.$attempt.log"; fail "attempt $attempt ($action): exit $rc" ;;
           esac
           count[$action]=$((${count[$action]:-0} + 1)); interruptions=$((interruptions + 1)) ;;
    esac
    # finished early: start over so that every interruption meets a live run
    if [ $rc = 0 ]; then
        mv storm "storm-done-$attempt"
    fi
done
summary=""
for a in "${actions[@]}"; do summary+=" $a=${count[$a]:-0}"; done
echo "storm: $interruptions interruptions in $attempt attempts:$summary"
cmp ref/adapter/adapter_model.safetensors storm/adapter/adapter_model.safetensors ||
    fail "the final adapter differs from the uninterrupted run's"
for d in storm-done-*; do
    [ -d "$d" ] || continue
    cmp ref/adapter/adapter_model.safetensors "$d/adapter/adapter_model.safetensors" ||
        fail "$d: the final adapter differs from the uninterrupted run's"
done
echo "PASS: after $interruptions interruptions the adapter is bitwise equal to the uninterrupted run's"
