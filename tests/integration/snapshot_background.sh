#!/bin/bash
# Periodic snapshots off the critical path (runner/snapshot_bg.c), on `tiny`
# with every snapshot write slowed by YT_SNAP_FAULT_PAUSE (the test seam pauses
# half way through the file and again before the rename):
#  - in the background, the steps go on while a snapshot is written: the
#    snapshot event's stall ("seconds") is far below its write time
#    ("write_s" >= the pauses), and steps finish before the write does;
#  - with --background-snapshots false the steps wait for the whole write;
#  - both runs, and a run interrupted by SIGUSR1 while a background write is
#    paused, end bitwise equal (the yield waits for the write in flight, then
#    writes its own snapshot), and every snapshot on disk verifies.
set -euo pipefail
work=$(mktemp -d /tmp/yt-snapbg-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

"$YT_BIN" init-model --preset tiny --seed 4 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 200 256
"$YT_BIN" prep --in data.jsonl --out data.h5 > /dev/null
args=(train --model model --data data.h5 --max-steps 24 --seq-len 32 --micro-batch 2 --lr 3e-3
      --lora-rank 4 --seed 2 --threads 1 --log-every 1000 --snapshot-every 8 --keep 10)
pause=0.6

YT_SNAP_FAULT_PAUSE=$pause "$YT_BIN" "${args[@]}" --out bg > bg.log 2>&1 || { cat bg.log; fail "background run"; }
YT_SNAP_FAULT_PAUSE=$pause "$YT_BIN" "${args[@]}" --background-snapshots false --out sync > sync.log 2>&1 ||
    { cat sync.log; fail "synchronous run"; }
cmp bg/adapter/adapter_model.safetensors sync/adapter/adapter_model.safetensors ||
    fail "background and synchronous snapshots give different adapters"

"$PYTHON" - "$pause" <<'PY'
import json, sys
pause = float(sys.argv[1])
def events(run):
    return [json.loads(l) for l in open(f"{run}/events.jsonl")]
def metrics(run):
    return [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
bg = [e for e in events("bg") if e["event"] == "snapshot" and e.get("background")]
sync = [e for e in events("sync") if e["event"] == "snapshot"]
assert [e["step"] for e in bg] == [8, 16], f"background snapshots at {[e['step'] for e in bg]}"
for e in bg:
    assert e["write_s"] >= 2 * pause, f"step {e['step']}: write_s {e['write_s']} below the pauses"
    assert e["seconds"] < 0.5 * pause, f"step {e['step']}: the steps stalled {e['seconds']} s"
    # the steps after the snapshot step ran while it was written
    done = e["time"]
    after = [m for m in metrics("bg") if e["step"] < m["step"] <= e["step"] + 8]
    early = [m["step"] for m in after if m["time"] < done]
    assert early, f"step {e['step']}: no step finished during its background write"
    print(f"background snapshot of step {e['step']}: steps stalled {e['seconds']:.3f} s, "
          f"write {e['write_s']:.2f} s, steps {early[0]}-{early[-1]} ran meanwhile")
periodic = [e for e in sync if e["step"] in (8, 16)]
for e in periodic:
    assert not e.get("background") and e["seconds"] >= 2 * pause, e
    print(f"synchronous snapshot of step {e['step']}: steps stalled {e['seconds']:.2f} s")
PY

# A yield while a background write is paused: the yield snapshot follows it.
YT_SNAP_FAULT_PAUSE=1.5 "$YT_BIN" "${args[@]}" --out yielded > y1.log 2>&1 &
pid=$!
for _ in $(seq 400); do
    [ -f yielded/metrics.jsonl ] && [ "$(wc -l < yielded/metrics.jsonl)" -ge 9 ] && break
    sleep 0.02
done
kill -USR1 "$pid"
rc=0; wait "$pid" || rc=$?
[ $rc = 75 ] || { cat y1.log; fail "SIGUSR1 during a background write: exit $rc, want 75"; }
"$YT_BIN" inspect yielded > inspect.log || { cat inspect.log; fail "a snapshot does not verify"; }
"$PYTHON" - <<'PY' || fail "the yield's snapshot did not follow the background one: $(grep snapshot yielded/events.jsonl)"
import json
ev = [json.loads(l) for l in open("yielded/events.jsonl")]
snaps = [e for e in ev if e["event"] == "snapshot"]
y = [e for e in ev if e["event"] == "yield"][0]
# every background write finished and was logged before the yield's own
assert snaps[-1]["step"] == y["step"] and not snaps[-1].get("background"), snaps
assert snaps[-2].get("background") and snaps[-2]["step"] < y["step"], snaps
print(f"yield at step {y['step']}: after the background snapshot of step {snaps[-2]['step']}")
PY
"$YT_BIN" "${args[@]}" --out yielded > y2.log 2>&1 || { cat y2.log; fail "resume"; }
cmp bg/adapter/adapter_model.safetensors yielded/adapter/adapter_model.safetensors ||
    fail "a yield during a background write changed the result"
echo "snapshot_background: all checks passed"
