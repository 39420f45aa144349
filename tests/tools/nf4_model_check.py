#!/usr/bin/env python3
"""An NF4 (or int8) base against transformers: SmolLM2-135M's GGUF loaded by
transformers in fp32, every decoder projection replaced by its round trip
through the independent numpy NF4 implementation (nf4_reference.py: blocks of
64, double-quantised scales) and the embedding / lm_head rounded to bf16 (what
yieldtune's --base-dtype nf4 keeps), a PEFT LoRA with random A and B on all
seven projections; then yieldtune's model opened with that base dtype
(tests/tools/yt_grads, YT_GRADS_BASE_DTYPE) on the same batch.

Checks: loss and logits within 1e-4 (relative) of the reference in fp32, every
LoRA gradient within 1e-4 of the reference in fp64 (or 10 times transformers
fp32's own error): yieldtune's quantised model is the reference's quantised
model.  The quantisation's effect on the base model's loss on English text
(reference, no adapter) is printed and must stay under 5% of the loss;
yieldtune's own difference (quantised - f32, with the adapter) is printed.
usage: nf4_model_check.py YT_GRADS WORKDIR FILE.gguf DTYPE[,DTYPE...] [B S]"""
import json
import os
import subprocess
import sys

import numpy as np
import torch
from gguf import GGUFReader
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nf4_reference import roundtrip  # noqa: E402

yt_grads, work, path, kinds = sys.argv[1:5]
B, S = (int(sys.argv[5]), int(sys.argv[6])) if len(sys.argv) > 6 else (1, 32)
torch.set_num_threads(2)
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
os.makedirs(work, exist_ok=True)


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


name = os.path.basename(path)
tied = all(t.name != "output.weight" for t in GGUFReader(path).tensors)
model = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(path)), gguf_file=name,
                                             torch_dtype=torch.float32, attn_implementation="eager")
if tied:
    model.lm_head.weight = model.model.embed_tokens.weight
V = model.config.vocab_size
g = torch.Generator().manual_seed(77)
# English text, so that the loss is a language model's (a few nats), not that
# of random tokens: the quantisation's effect is then measured where it matters.
tok = AutoTokenizer.from_pretrained(os.path.dirname(os.path.abspath(path)), gguf_file=name)
text = ("The sun rose over the quiet village, and the baker opened his shop early. Water boils at one "
        "hundred degrees Celsius at sea level. She read the letter twice before she folded it and put it "
        "in her pocket. The train to the city leaves every hour from the old station. Plants need light, "
        "water and air to grow. ") * 4
ids = torch.tensor(tok(text)["input_ids"][:B * (S + 1)])
assert ids.numel() >= B * (S + 1), "text too short"
rows = ids[:B * (S + 1)].reshape(B, S + 1)
inputs, tg = rows[:, :-1].contiguous(), rows[:, 1:].contiguous()
mask = (torch.rand(B, S, generator=g) > 0.25).float()
weights = mask / mask.sum()


def loss_of(m):
    with torch.no_grad():
        logits = m(input_ids=inputs).logits
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, V), tg.flatten(), reduction="none")
        return float((nll * weights.flatten()).sum())


full_loss = loss_of(model)
PROJ = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
        "mlp.up_proj", "mlp.down_proj")
original = {k: v.clone() for k, v in model.state_dict().items()}
failures = []


def check(kind):
    model.load_state_dict(original)
    # The quantised base.
    with torch.no_grad():
        for layer in model.model.layers:
            for pname in PROJ:
                mod = layer.get_submodule(pname)
                mod.weight.copy_(torch.from_numpy(roundtrip(mod.weight.numpy(), kind)))
        model.model.embed_tokens.weight.copy_(model.model.embed_tokens.weight.to(torch.bfloat16).float())
        if not tied:
            model.lm_head.weight.copy_(model.lm_head.weight.to(torch.bfloat16).float())
    quant_loss = loss_of(model)
    cfg = LoraConfig(r=8, lora_alpha=16.0, lora_dropout=0.0, target_modules=TARGETS, task_type="CAUSAL_LM")
    pm = get_peft_model(model, cfg)
    gl = torch.Generator().manual_seed(78)
    with torch.no_grad():
        for pn, p in pm.named_parameters():
            if "lora_" in pn:
                p.copy_(torch.randn(p.shape, generator=gl) * 0.02)
    kdir = os.path.join(work, kind)
    adir = os.path.join(kdir, "adapter")
    pm.save_pretrained(adir)
    case = {"B": B, "S": S, "r": 8, "alpha": 16.0, "rslora": False, "targets": "all",
            "inputs": inputs.flatten().tolist(), "target_ids": tg.flatten().tolist(),
            "weights": weights.flatten().tolist(), "threads": 2}
    case_path = os.path.join(kdir, "case.json")
    with open(case_path, "w") as f:
        json.dump(case, f)

    def yieldtune(dtype):
        out = os.path.join(kdir, f"yt-{dtype}.safetensors")
        subprocess.run([yt_grads, path, adir, case_path, out], check=True,
                       env=dict(os.environ, YT_GRADS_BASE_DTYPE=dtype))
        return load_file(out)

    got = yieldtune(kind)
    got_full = yieldtune("f32")

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
    pm.float()
    pm.unload()  # the bare model again, for the next dtype
    e_loss = abs(float(got["loss"][0]) - float(loss)) / abs(float(loss))
    e_logits = rel(got["logits"], logits)
    worst, worst_t = 0.0, 0.0
    for key, gr in g64.items():
        e, et = rel(got[key].double(), gr), rel(g32[key], gr)
        worst, worst_t = max(worst, e), max(worst_t, et)
        if e > max(1e-4, 10 * et):
            failures.append(f"{kind}: {key}: relative error {e:.3g} (transformers fp32: {et:.3g})")
    if e_loss > 1e-4:
        failures.append(f"{kind}: loss {float(got['loss'][0])} vs reference {float(loss)}")
    if e_logits > 1e-4:
        failures.append(f"{kind}: logits relative error {e_logits:.3g}")
    ref_delta = quant_loss - full_loss
    yt_delta = float(got["loss"][0]) - float(got_full["loss"][0])
    print(f"{name} {kind}: B {B} S {S}; base loss full {full_loss:.6f}, {kind} {quant_loss:.6f} "
          f"(quantisation changes it by {ref_delta:+.6f}); with the adapter yieldtune {kind} "
          f"{float(got['loss'][0]):.6f} vs reference {float(loss):.6f} (relative {e_loss:.1e}), "
          f"yieldtune f32 {float(got_full['loss'][0]):.6f}: its {kind} - f32 {yt_delta:+.6f}; logits "
          f"{e_logits:.1e}; {len(g64)} LoRA gradients vs fp64: worst {worst:.1e} (transformers fp32 "
          f"{worst_t:.1e})")
    if abs(ref_delta) > 0.05 * abs(full_loss):
        failures.append(f"the reference's {kind} loss is {ref_delta:+.4f} from the full one: not a small error")


for kind in kinds.split(","):
    check(kind)
if failures:
    print("FAIL:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("nf4_model_check: all checks passed")
