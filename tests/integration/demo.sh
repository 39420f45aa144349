#!/bin/bash
# jobs/demo, shortened (YT_DEMO_STEPS=12; the demo itself trains 32): the
# data generator reproduces the committed jobs/demo-data files; the demo
# fine-tunes SmolLM2 at 2 ranks, yields on SIGUSR1 and resumes (every step in
# metrics.jsonl once, a yield event, a resume from the yield's snapshot);
# after training the held-out answers (all but one at most) start with "Ahoy!"
# and end with the signature line, where before none starts so; the task loss falls; the general
# (plain-style) loss is reported before and after.
set -euo pipefail
: "${YT_BIN:?}" "${YT_SRCDIR:?}" "${PYTHON:?}"
work=$(mktemp -d "${TMPDIR:-/tmp}/yt-demo-XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

echo "== the committed data is what make_demo_data.py writes"
mkdir "$work/data"
"$PYTHON" "$YT_SRCDIR/jobs/demo-data/make_demo_data.py" "$work/data"
for f in train task-val general-val prompts; do
    cmp "$work/data/$f.jsonl" "$YT_SRCDIR/jobs/demo-data/$f.jsonl" || fail "$f.jsonl differs from its generator's output"
done

echo "== jobs/demo with 12 steps"
YT_DEMO_STEPS=12 YT_DEMO_DIR="$work/demo" "$YT_SRCDIR/jobs/demo" > "$work/demo.log" 2>&1 ||
    { cat "$work/demo.log"; fail "jobs/demo failed"; }
cat "$work/demo.log"
cd "$work/demo"
grep -q "yielded at step" "$work/demo.log" || fail "no yield in the demo's output"
grep -q "resumed from run/snapshots/step-" "$work/demo.log" || fail "no resume in the demo's output"
"$PYTHON" - <<'PY' || fail "the demo's results"
import json, math
steps = [json.loads(l)["step"] for l in open("run/metrics.jsonl")]
assert steps == list(range(1, 13)), steps
ev = [json.loads(l) for l in open("run/events.jsonl")]
kinds = [e["event"] for e in ev if "event" in e]
assert "yield" in kinds and "resume" in kinds and "finish" in kinds, kinds
sty = lambda t: t.strip().startswith("Ahoy!") and t.strip().endswith("-- Captain Yieldbeard")
before = [json.loads(l)["text"] for l in open("before.jsonl")]
after = [json.loads(l)["text"] for l in open("after.jsonl")]
print(f"taught style: before {sum(map(sty, before))} of {len(before)}, after {sum(map(sty, after))} of {len(after)}")
assert not any(t.strip().startswith("Ahoy!") for t in before), before
assert sum(map(sty, after)) >= len(after) - 1, after  # (one may run past --max-tokens)
def losses(path):
    rows = {}
    for l in open(path):
        w = l.split()
        if len(w) == 5 and w[0].endswith(".h5"):
            rows[w[0]] = float(w[3])
    return rows
b, a = losses("eval-before.txt"), losses("eval-after.txt")
for k in ("task-val.h5", "general-val.h5"):
    assert k in b and k in a and math.isfinite(b[k]) and math.isfinite(a[k]), (k, b, a)
print(f"task loss {b['task-val.h5']:.4f} -> {a['task-val.h5']:.4f}, general loss {b['general-val.h5']:.4f} -> {a['general-val.h5']:.4f}")
assert a["task-val.h5"] < 0.5 * b["task-val.h5"], (b, a)
PY
grep -q "^general (plain style)" "$work/demo.log" || fail "no general loss in the summary"
echo "PASS"
