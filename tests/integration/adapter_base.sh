#!/bin/bash
# adapter_config.json's base_model_name_or_path: what PEFT loads the base from.
# Rule (model/model.h, yt_model_base_name): a hub name OWNER/NAME from the
# model's own metadata (config.json _name_or_path; GGUF general.source.* URLs,
# general.name), else the model's absolute path; --base-model overrides.
#  1. a folder model given by a relative path: train and export record its
#     absolute path, and AutoPeftModelForCausalLM loads the exported adapter
#     from another working directory with the right base weights and the
#     adapter's LoRA weights;
#  2. a GGUF given through a relative symlink: its real absolute path, and peft
#     loads it from another directory (base from the folder + gguf_file=);
#  3. hub names: config.json _name_or_path "my-org/tiny-llama" and a GGUF whose
#     general.name is "my-org/tiny-gguf" (gguf-new-metadata) are recorded;
#     "./local" and "/abs/path" are not hub names; train --base-model and
#     export --base-model replace the name.
set -euo pipefail
: "${YT_BIN:?}" "${YT_SRCDIR:?}" "${PYTHON:?}"
work=$(mktemp -d "${TMPDIR:-/tmp}/yt-base-XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
tools="$YT_SRCDIR/tests/tools"
mkdir -p "$work/models" "$work/elsewhere"
cd "$work/models"
"$YT_BIN" init-model --preset tiny --seed 3 --out tiny > /dev/null
"$PYTHON" "$tools/make_repeated_jsonl.py" data.jsonl 60 256
"$YT_BIN" prep --in data.jsonl --out data.h5 > /dev/null
tr=(--data data.h5 --max-steps 2 --seq-len 32 --micro-batch 2 --lr 1e-2 --threads 1 --lora-rank 4 --log-every 1)
base_of() { "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["base_model_name_or_path"])' "$1/adapter_config.json"; }

echo "== a folder given by a relative path"
"$YT_BIN" train --model tiny --out run "${tr[@]}" > /dev/null
"$YT_BIN" export run --out exported > /dev/null
want=$(cd tiny && pwd -P)
[ "$(base_of run/adapter)" = "$want" ] || fail "train recorded '$(base_of run/adapter)', want '$want'"
[ "$(base_of exported)" = "$want" ] || fail "export recorded '$(base_of exported)', want '$want'"
cd "$work/elsewhere"
"$PYTHON" - "$work/models/exported" "$want" <<'PY' 2>&1 | grep -v -e UserWarning -e warnings.warn
import sys
import torch
from peft import AutoPeftModelForCausalLM
from safetensors.torch import load_file
adapter, base = sys.argv[1:3]
m = AutoPeftModelForCausalLM.from_pretrained(adapter)
w = load_file(base + "/model.safetensors")
assert torch.equal(m.base_model.model.model.embed_tokens.weight, w["model.embed_tokens.weight"])
a = load_file(adapter + "/adapter_model.safetensors")
k = "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"
got = dict(m.named_parameters())[k.replace(".weight", ".default.weight")]
assert torch.equal(got, a[k]) and a[k].abs().sum() > 0
print(f"AutoPeftModelForCausalLM from another folder: base {base}, LoRA weights loaded")
PY
[ "${PIPESTATUS[0]}" = 0 ] || fail "peft could not load the exported adapter from another folder"

echo "== a GGUF through a relative symlink"
cd "$work/models"
"$PYTHON" "$tools/make_gguf_fixtures.py" fx > /dev/null
ln -s fx/tiny_tied.gguf link.gguf
"$YT_BIN" train --model link.gguf --out rung "${tr[@]}" > /dev/null
want=$(cd fx && pwd -P)/tiny_tied.gguf
[ "$(base_of rung/adapter)" = "$want" ] || fail "GGUF: recorded '$(base_of rung/adapter)', want '$want'"
cd "$work/elsewhere"
"$PYTHON" - "$work/models/rung/adapter" <<'PY' 2>&1 | grep -v -e UserWarning -e warnings.warn -e 'it/s\]' -e 'newly initialized' -e 'TRAIN this'
import json, os, sys
from peft import PeftModel
from transformers import AutoModelForCausalLM
adapter = sys.argv[1]
base = json.load(open(adapter + "/adapter_config.json"))["base_model_name_or_path"]
model = AutoModelForCausalLM.from_pretrained(os.path.dirname(base), gguf_file=os.path.basename(base))
PeftModel.from_pretrained(model, adapter)
print(f"PeftModel on {base} (folder + gguf_file=) from another folder: loaded")
PY
[ "${PIPESTATUS[0]}" = 0 ] || fail "peft could not load the GGUF adapter from another folder"

echo "== hub names and --base-model"
cd "$work/models"
cp -r tiny tiny_hub
"$PYTHON" - <<'PY'
import json
for d, name in (("tiny_hub", "my-org/tiny-llama"),):
    c = json.load(open(d + "/config.json"))
    c["_name_or_path"] = name
    json.dump(c, open(d + "/config.json", "w"))
for d, name in (("tiny_dot", "./local"), ("tiny_abs", "/abs/path")):
    import shutil
    shutil.copytree("tiny", d)
    c = json.load(open(d + "/config.json"))
    c["_name_or_path"] = name
    json.dump(c, open(d + "/config.json", "w"))
PY
"$YT_BIN" train --model tiny_hub --out runh "${tr[@]}" > /dev/null
[ "$(base_of runh/adapter)" = my-org/tiny-llama ] || fail "config.json hub name: '$(base_of runh/adapter)'"
for d in tiny_dot tiny_abs; do
    "$YT_BIN" train --model $d --out run_$d "${tr[@]}" > /dev/null
    [ "$(base_of run_$d/adapter)" = "$(cd $d && pwd -P)" ] || fail "$d: '$(base_of run_$d/adapter)'"
done
"$PYTHON" -m gguf.scripts.gguf_new_metadata --general-name my-org/tiny-gguf fx/tiny_tied.gguf hub.gguf > /dev/null 2>&1
"$YT_BIN" train --model hub.gguf --out runhg "${tr[@]}" > /dev/null
[ "$(base_of runhg/adapter)" = my-org/tiny-gguf ] || fail "GGUF general.name hub name: '$(base_of runhg/adapter)'"
"$YT_BIN" train --model tiny --out runb "${tr[@]}" --base-model someone/else > /dev/null
[ "$(base_of runb/adapter)" = someone/else ] || fail "train --base-model: '$(base_of runb/adapter)'"
"$YT_BIN" export runb --out expb > /dev/null
[ "$(base_of expb)" = someone/else ] || fail "export of a --base-model run: '$(base_of expb)'"
"$YT_BIN" export runb --out expc --base-model third/one > /dev/null
[ "$(base_of expc)" = third/one ] || fail "export --base-model: '$(base_of expc)'"
echo "PASS"
