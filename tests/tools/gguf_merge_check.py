#!/usr/bin/env python3
"""`yieldtune merge` of a GGUF base against transformers + peft: the merged
folder must be what transformers (loading the GGUF, lm_head tied back to the
embedding when the file has no output.weight) + PeftModel.merge_and_unload()
give: a LlamaForCausalLM config.json, F32 tensors under the Hugging Face names,
untouched tensors bit-identical to transformers' dequantisation, merged ones
(W + scale B A) within 1e-6 relative, and the same logits (1e-5 relative).

usage: gguf_merge_check.py FILE.gguf ADAPTER_DIR MERGED_DIR"""
import json
import os
import sys

import torch
from gguf import GGUFReader
from peft import PeftModel
from safetensors import safe_open
from transformers import AutoModelForCausalLM, LlamaForCausalLM

gguf_path, adapter, merged = sys.argv[1:4]
torch.set_num_threads(2)
fails = []
tied = all(t.name != "output.weight" for t in GGUFReader(gguf_path).tensors)
base = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(gguf_path)),
                                            gguf_file=os.path.basename(gguf_path),
                                            torch_dtype=torch.float32)
if tied:
    base.lm_head.weight = base.model.embed_tokens.weight
unmerged = {k: v.clone() for k, v in base.state_dict().items()}
ref = PeftModel.from_pretrained(base, adapter).merge_and_unload()
want = {k: v for k, v in ref.state_dict().items() if not (tied and k == "lm_head.weight")}
adapted = {k.replace("base_model.model.", "").replace(".lora_A.weight", ".weight")
           for k in safe_open(os.path.join(adapter, "adapter_model.safetensors"), "pt").keys()
           if k.endswith(".lora_A.weight")}


cfg = json.load(open(os.path.join(merged, "config.json")))
for k, v in [("model_type", "llama"), ("tie_word_embeddings", tied), ("torch_dtype", "float32"),
             ("vocab_size", ref.config.vocab_size), ("hidden_size", ref.config.hidden_size),
             ("num_hidden_layers", ref.config.num_hidden_layers),
             ("num_key_value_heads", ref.config.num_key_value_heads),
             ("rope_theta", ref.config.rope_theta)]:
    if cfg.get(k) != v:
        fails.append(f"config.json: {k} is {cfg.get(k)!r}, expected {v!r}")
if abs(cfg["rms_norm_eps"] - ref.config.rms_norm_eps) > 1e-12:
    fails.append(f"config.json: rms_norm_eps {cfg['rms_norm_eps']} vs {ref.config.rms_norm_eps}")

n_same = n_merged = 0
worst = 0.0
with safe_open(os.path.join(merged, "model.safetensors"), "pt") as f:
    keys = set(f.keys())
    if keys != set(want):
        fails.append(f"tensor names differ: extra {sorted(keys - set(want))[:5]}, "
                     f"missing {sorted(set(want) - keys)[:5]}")
    for k in sorted(keys & set(want)):
        got = f.get_tensor(k)
        if got.dtype != torch.float32 or got.shape != want[k].shape:
            fails.append(f"{k}: {got.dtype} {tuple(got.shape)}, expected float32 {tuple(want[k].shape)}")
            continue
        if k in adapted:
            if torch.equal(got, unmerged[k]):
                fails.append(f"{k}: unchanged by the merge (adapter B zero?)")
            e = float((got - want[k]).abs().max() / want[k].abs().max())
            worst = max(worst, e)
            n_merged += 1
            if e > 1e-6:
                fails.append(f"{k}: merged weight relative error {e:.3g}")
        else:
            n_same += 1
            if not torch.equal(got, want[k]):
                fails.append(f"{k}: differs from transformers' dequantisation")
if n_merged != len(adapted):
    fails.append(f"{n_merged} merged tensors checked, the adapter adapts {len(adapted)}")

m = LlamaForCausalLM.from_pretrained(merged, torch_dtype=torch.float32)
ids = torch.arange(1, 25).reshape(1, -1) * 37 % ref.config.vocab_size
with torch.no_grad():
    a, b = m(input_ids=ids).logits, ref(input_ids=ids).logits
e_logits = float((a - b).abs().max() / b.abs().max())
if e_logits > 1e-5:
    fails.append(f"logits of the merged folder: relative error {e_logits:.3g}")
print(f"merge of {os.path.basename(gguf_path)}: {n_same} tensors identical to transformers' "
      f"dequantisation, {n_merged} merged within {worst:.1e}, logits {e_logits:.1e}")
if fails:
    print("\n".join(fails))
    sys.exit(1)
