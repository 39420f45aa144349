#!/usr/bin/env python3
"""Reference test: yieldtune's loss, logits and LoRA gradients on a GGUF model
against transformers loading the same file (AutoModelForCausalLM with
gguf_file=..., which dequantises with gguf-py and undoes llama.cpp's q/k
permutation) plus a PEFT LoRA holding the same A and B.

transformers 4.46 leaves lm_head random when the file has no output.weight
(tied embeddings): the reference ties it back to the embedding.

usage: gguf_reference.py YT_GRADS_BIN WORKDIR FILE.gguf[:B:S] ...
Agreement required (relative error: max abs error over a tensor divided by the
tensor's max abs value): loss and logits within 1e-4 of transformers in fp32.
Gradients are compared with transformers in fp64: yieldtune's error must be
within 1e-4, or within 10 times transformers-fp32's own error where a random
model's gradients are so ill-conditioned that fp32 itself is further off."""
import json
import os
import subprocess
import sys
import time

import torch
from gguf import GGUFReader
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

yt_grads, work = sys.argv[1:3]
torch.set_num_threads(2)
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


failures = []
for n, spec in enumerate(sys.argv[3:]):
    path, B, S = (spec.split(":") + ["2", "16"])[:3]
    B, S = int(B), int(S)
    name = os.path.basename(path)
    case_dir = os.path.join(work, f"{n}-{name}")
    os.makedirs(case_dir, exist_ok=True)
    tied = all(t.name != "output.weight" for t in GGUFReader(path).tensors)
    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(path)), gguf_file=name,
                                                 torch_dtype=torch.float32, attn_implementation="eager")
    if tied:
        model.lm_head.weight = model.model.embed_tokens.weight
    t_load = time.time() - t0
    cfg = LoraConfig(r=8, lora_alpha=16.0, lora_dropout=0.0, target_modules=TARGETS,
                     task_type="CAUSAL_LM")
    pm = get_peft_model(model, cfg)
    g = torch.Generator().manual_seed(300 + n)
    with torch.no_grad():
        for pn, p in pm.named_parameters():
            if "lora_" in pn:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
    adir = os.path.join(case_dir, "adapter")
    pm.save_pretrained(adir)
    V = model.config.vocab_size
    inputs = torch.randint(0, V, (B, S), generator=g)
    tg = torch.randint(0, V, (B, S), generator=g)
    mask = (torch.rand(B, S, generator=g) > 0.25).float()
    weights = mask / mask.sum()
    case = {"B": B, "S": S, "r": 8, "alpha": 16.0, "rslora": False, "targets": "all",
            "inputs": inputs.flatten().tolist(), "target_ids": tg.flatten().tolist(),
            "weights": weights.flatten().tolist(), "threads": 2}
    case_path = os.path.join(case_dir, "case.json")
    with open(case_path, "w") as f:
        json.dump(case, f)
    out = os.path.join(case_dir, "yt.safetensors")
    t0 = time.time()
    subprocess.run([yt_grads, path, adir, case_path, out], check=True)
    t_yt = time.time() - t0
    got = load_file(out)

    def reference():
        logits = pm(input_ids=inputs).logits
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, V), tg.flatten(), reduction="none")
        loss = (nll * weights.to(logits.dtype).flatten()).sum()
        loss.backward()
        grads = {pn.replace(".default", ""): p.grad.double() for pn, p in pm.named_parameters()
                 if "lora_" in pn}
        pm.zero_grad(set_to_none=True)
        return loss.detach(), logits.detach().reshape(-1, V), grads

    loss, logits, g32 = reference()
    pm.double()
    _, _, g64 = reference()
    e_loss = abs(float(got["loss"][0]) - float(loss)) / abs(float(loss))
    e_logits = rel(got["logits"], logits)
    worst, worst_t, n_checked = 0.0, 0.0, 0
    for key, g in g64.items():
        if key not in got:
            failures.append(f"{name}: yieldtune has no gradient for {key}")
            continue
        e, et = rel(got[key].double(), g), rel(g32[key], g)
        worst, worst_t = max(worst, e), max(worst_t, et)
        n_checked += 1
        if e > max(1e-4, 10 * et):
            failures.append(f"{name}: {key}: relative error {e:.3g} (transformers fp32: {et:.3g})")
    if e_loss > 1e-4:
        failures.append(f"{name}: loss {float(got['loss'][0])} vs {float(loss)}")
    if e_logits > 1e-4:
        failures.append(f"{name}: logits relative error {e_logits:.3g}")
    print(f"{name}: {'tied' if tied else 'untied'}, B {B} S {S}, loss {float(loss):.6f}; relative "
          f"errors: loss {e_loss:.1e}, logits {e_logits:.1e}; {n_checked} LoRA gradients vs fp64: worst "
          f"{worst:.1e} (transformers fp32: {worst_t:.1e}) (transformers load {t_load:.1f} s, "
          f"yt_grads {t_yt:.1f} s)")
if failures:
    print("\n".join(failures))
    sys.exit(1)
