#!/bin/bash
# `yieldtune report` and `train --tensorboard` on a real preempted run of
# `tiny`: yielded twice on SIGUSR1, killed once with SIGKILL after a step that
# no snapshot holds (those steps are lost and redone), then finished.  The
# report (--json) is checked against an independent reading of the run's files
# and against the shell's own measurements (tests/tools/goodput_check.py):
# attempts, yields, kills, preemptions, steps kept/lost/redone, kept step time,
# rented time, causes summing to the rented time, goodput; the TensorBoard
# files are read back by TensorBoard's EventAccumulator and equal
# metrics.jsonl.  Then damaged lines are skipped and named, and the plot is
# written as PNG and SVG.
set -euo pipefail
work=$(mktemp -d /tmp/yt-report-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

"$YT_BIN" init-model --preset tiny --seed 5 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 400 256
"$YT_BIN" prep --in data.jsonl --out data.h5 --val-fraction 0.05 > /dev/null
every=5
args=(--model model --data data.h5 --max-steps 60 --seq-len 128 --micro-batch 2 --grad-accum 2
      --lr 3e-3 --lora-rank 8 --seed 7 --threads 1 --log-every 1000 --snapshot-every $every
      --eval-every 10 --tensorboard run/tb --out run)

steps_done() { [ -f run/metrics.jsonl ] && wc -l < run/metrics.jsonl || echo 0; }
last_step() { tail -1 run/metrics.jsonl | sed 's/^{"step":\([0-9]*\),.*/\1/'; }

# attempt HOW: one process; HOW = usr1 | kill | none.  A signal goes only after
# the process has made progress (its handlers are set up by then).  The kill
# happens while the process is stopped right after a step that is not a
# multiple of the snapshot cadence: the steps since the newest snapshot on disk
# are lost.
lost=0
attempt() {
    local how=$1 before t0 t1 pid rc
    before=$(steps_done)
    t0=$(date +%s.%N)
    "$YT_BIN" train "${args[@]}" > "log.$(wc -l < attempts.txt)" 2>&1 &
    pid=$!
    if [ "$how" != none ]; then
        for _ in $(seq 2400); do
            [ "$(steps_done)" -ge $((before + 3)) ] && break
            kill -0 $pid 2>/dev/null || break
            sleep 0.05
        done
        kill -0 $pid 2>/dev/null || fail "attempt ($how) ended before it could be interrupted"
        case $how in
            usr1) kill -USR1 $pid ;;
            kill)
                for _ in $(seq 100); do
                    kill -STOP $pid
                    s=$(last_step)
                    [ $((s % every)) != 0 ] && break
                    kill -CONT $pid
                    while [ "$(last_step)" = "$s" ]; do sleep 0.005; done
                done
                kill -9 $pid
                # the steps after the newest snapshot on disk are lost (a
                # background snapshot still being written when the kill came
                # does not count: it never landed)
                newest=$(ls run/snapshots/ | sed -n 's/^step-0*\([0-9][0-9]*\)\.h5$/\1/p' | sort -n | tail -1)
                lost=$((s - ${newest:-0})) ;;
        esac
    fi
    set +e; wait $pid; rc=$?; set -e
    t1=$(date +%s.%N)
    echo "$rc $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')" >> attempts.txt
}
: > attempts.txt
attempt usr1
attempt usr1
attempt kill
attempt none
cat attempts.txt
[ "$(cut -d' ' -f1 attempts.txt | tr '\n' ' ')" = "75 75 137 0 " ] ||
    fail "exit codes $(cut -d' ' -f1 attempts.txt | tr '\n' ' '), want 75 75 137 0"
echo "the kill lost $lost step(s)"

"$YT_BIN" report run | tee report.txt
"$YT_BIN" report run --json > report.json
"$PYTHON" "$YT_SRCDIR/tests/tools/goodput_check.py" run report.json run/tb attempts.txt $lost
grep -q "^goodput [0-9.]* % = kept step time" report.txt || fail "no goodput line in the text report"
grep -q "attempt 3 has no exit event" report.txt || fail "the killed attempt is not named"

# Damaged lines: named with file:line, the rest still reported.
cp -r run damaged
n=$(($(wc -l < damaged/metrics.jsonl) + 1))
printf '{"step":61,"loss":1.2,"tim' >> damaged/metrics.jsonl
m=$(($(wc -l < damaged/events.jsonl) + 2))
printf 'garbage\n{"event":"snapshot","time":1}\n' >> damaged/events.jsonl
sed -i '2s/"step_time_s":[0-9.]*/"step_time_s":"fast"/' damaged/metrics.jsonl
"$YT_BIN" report damaged > damaged.txt || fail "report of a damaged run exited non-zero"
grep -q "damaged/metrics.jsonl:$n: skipped: truncated" damaged.txt || fail "truncated metrics.jsonl:$n not named"
grep -q "damaged/metrics.jsonl:2: skipped: no \"step_time_s\"" damaged.txt || fail "edited metrics.jsonl:2 not named"
grep -q "damaged/events.jsonl:$((m - 1)): skipped: not JSON" damaged.txt || fail "events.jsonl:$((m - 1)) not named"
grep -q "damaged/events.jsonl:$m: skipped: no \"seconds\"" damaged.txt || fail "events.jsonl:$m not named"
grep -q "^goodput [0-9.]* %" damaged.txt || fail "no goodput for the damaged run"
echo "damaged lines: named and skipped"

# The plot, both formats.
"$YT_BIN" report run --plot run.png > /dev/null
"$YT_BIN" report run --plot run.svg --json > /dev/null
"$PYTHON" - <<'PY'
import sys, xml.etree.ElementTree as ET
from PIL import Image
im = Image.open("run.png")
print("run.png:", im.format, im.size, im.mode)
assert im.format == "PNG" and im.size == (1000, 780)
colors = im.convert("RGB").getcolors(1 << 20)
assert len(colors) > 50, f"{len(colors)} colours: blank?"
root = ET.parse("run.svg").getroot()
print("run.svg:", root.tag, root.get("width"), root.get("height"))
assert root.tag.endswith("svg") and len(list(root.iter())) > 100
PY
set +e; "$YT_BIN" report run --plot run.gif > /dev/null 2> err.txt; rc=$?; set -e
[ $rc = 2 ] && grep -q "must end in .png or .svg" err.txt || fail "--plot run.gif: exit $rc, $(cat err.txt)"
set +e; "$YT_BIN" report nowhere > /dev/null 2> err.txt; rc=$?; set -e
[ $rc = 1 ] && grep -q "nowhere" err.txt || fail "report of a missing folder: exit $rc, $(cat err.txt)"
echo "report: all checks passed"
