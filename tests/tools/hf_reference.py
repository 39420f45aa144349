#!/usr/bin/env python3
"""Reference test: yieldtune's loss, logits and every LoRA gradient against
Hugging Face transformers' LlamaForCausalLM with a PEFT LoRA holding the same A
and B, on models written by `yieldtune init-model`.

usage: hf_reference.py YIELDTUNE_BIN YT_GRADS_BIN WORKDIR
Agreement required: loss and gradients to 1e-4 relative (max abs error over a
tensor divided by the tensor's max abs value), logits to 1e-4 relative."""
import json
import os
import subprocess
import sys

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file
from transformers import LlamaForCausalLM

yt, yt_grads, work = sys.argv[1:4]
torch.set_num_threads(1)

VARIANTS = [
    # name, init-model flags, lora targets, rslora, B, S
    ("untied", [], "q,k,v,o,gate,up,down", False, 2, 16),
    ("tied", ["--tie-embeddings"], "q,k,v,o,gate,up,down", False, 2, 16),
    ("llama3-rope", ["--rope-scaling", "llama3", "--rope-theta", "500000", "--rope-original-max", "64"],
     "q,k,v,o,gate,up,down", False, 1, 48),
    ("gqa4-rslora", ["--heads", "8", "--kv-heads", "2", "--head-dim", "16"], "q,v,down", True, 2, 12),
    ("bf16-weights", ["--dtype", "bf16"], "k,o,up", False, 2, 16),
]
PEFT_NAMES = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj",
              "gate": "gate_proj", "up": "up_proj", "down": "down_proj"}


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


worst = {"loss": 0.0, "logits": 0.0, "grad": 0.0}
failures = []
for i, (name, flags, targets, rslora, B, S) in enumerate(VARIANTS):
    mdir = os.path.join(work, name, "model")
    adir = os.path.join(work, name, "adapter")
    subprocess.run([yt, "init-model", "--preset", "tiny", "--seed", str(10 + i), "--out", mdir] + flags,
                   check=True, stdout=subprocess.DEVNULL)
    model = LlamaForCausalLM.from_pretrained(mdir, torch_dtype=torch.float32, attn_implementation="eager")
    r, alpha = 8, 16.0
    cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, use_rslora=rslora,
                     target_modules=[PEFT_NAMES[t] for t in targets.split(",")], task_type="CAUSAL_LM")
    pm = get_peft_model(model, cfg)
    g = torch.Generator().manual_seed(100 + i)
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if "lora_" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    pm.save_pretrained(adir)
    V = model.config.vocab_size
    inputs = torch.randint(0, V, (B, S), generator=g)
    tg = torch.randint(0, V, (B, S), generator=g)
    mask = (torch.rand(B, S, generator=g) > 0.25).float()
    weights = mask / mask.sum()
    case = {"B": B, "S": S, "r": r, "alpha": alpha, "rslora": rslora, "targets": targets,
            "inputs": inputs.flatten().tolist(), "target_ids": tg.flatten().tolist(),
            "weights": weights.flatten().tolist(), "threads": 2}
    case_path = os.path.join(work, name, "case.json")
    with open(case_path, "w") as f:
        json.dump(case, f)
    out = os.path.join(work, name, "yt.safetensors")
    subprocess.run([yt_grads, mdir, adir, case_path, out], check=True)
    got = load_file(out)

    logits = pm(input_ids=inputs).logits.float()
    nll = torch.nn.functional.cross_entropy(logits.reshape(-1, V), tg.flatten(), reduction="none")
    loss = (nll * weights.flatten()).sum()
    loss.backward()

    e_loss = abs(float(got["loss"][0]) - float(loss)) / abs(float(loss))
    e_logits = rel(got["logits"], logits.detach().reshape(-1, V))
    worst["loss"] = max(worst["loss"], e_loss)
    worst["logits"] = max(worst["logits"], e_logits)
    n_checked = 0
    for n, p in pm.named_parameters():
        if "lora_" not in n:
            continue
        key = n.replace(".default", "")
        if key not in got:
            failures.append(f"{name}: yieldtune has no gradient for {key}")
            continue
        e = rel(got[key], p.grad)
        worst["grad"] = max(worst["grad"], e)
        n_checked += 1
        if e > 1e-4:
            failures.append(f"{name}: {key}: relative error {e:.3g}")
    if e_loss > 1e-4:
        failures.append(f"{name}: loss {float(got['loss'][0])} vs {float(loss)}")
    if e_logits > 1e-4:
        failures.append(f"{name}: logits relative error {e_logits:.3g}")
    print(f"{name:14s} loss {float(loss):.6f} rel.err loss {e_loss:.1e} logits {e_logits:.1e}, "
          f"{n_checked} LoRA gradients checked")

print("worst relative errors: loss %.2e, logits %.2e, gradients %.2e" %
      (worst["loss"], worst["logits"], worst["grad"]))
if failures:
    print("\n".join(failures))
    sys.exit(1)
