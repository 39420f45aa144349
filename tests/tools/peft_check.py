#!/usr/bin/env python3
"""Checks `yieldtune export` and `yieldtune merge` against PyPI peft and
transformers.  Driven by tests/integration/export_merge.sh.

usage: peft_check.py SPEC.json
SPEC: {"yt": YIELDTUNE_BIN, "yt_grads": YT_GRADS_BIN, "work": DIR, "variants": [
        {"name", "model", "adapter", "merged", "r", "alpha", "dropout", "rslora",
         "targets": "q,k,...", "base_model", "dtype": "f32"|"bf16"}, ...]}

For every variant:
  1. adapter_config.json is what peft 0.13 save_pretrained writes for the same
     LoraConfig (same JSON text once target_modules, a set, is put in our
     order); adapter_model.safetensors has PEFT's keys, shapes, F32 and
     __metadata__ {"format": "pt"}, nothing else.
  2. PeftModel.from_pretrained(LlamaForCausalLM, adapter) gives yieldtune's
     logits (tests/tools/yt_grads on the same adapter) to 1e-4 relative.
  3. The merged folder: untouched tensors byte-identical to the base, merged
     ones equal to W + scale B A computed independently here (fp32 base: 1e-6
     relative; bf16 base: the reference rounded to bf16, at most 1 ulp apart);
     its logits equal PEFT's (fp32 base: base + adapter unmerged, 1e-4
     relative; bf16 base: PEFT's own merge_and_unload in bf16, 1e-4 relative,
     and, for information, the unmerged fp32 model at bf16 tolerance).
Also: merge of a sharded copy of a base equals the merge of the base, and a
merge that fails while writing (a non-finite adapter value) leaves no file.
Relative error: max |a - b| over a tensor / max |b|."""
import json
import math
import os
import shutil
import subprocess
import sys

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import LlamaForCausalLM

PEFT_NAMES = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "o_proj",
              "gate": "gate_proj", "up": "up_proj", "down": "down_proj"}

spec = json.load(open(sys.argv[1]))
yt, yt_grads, work = spec["yt"], spec["yt_grads"], spec["work"]
torch.set_num_threads(2)
failures = []
worst = {}


def rel(a, b):
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30))


def check(name, what, err, tol):
    worst[what] = max(worst.get(what, 0.0), err)
    ok = err <= tol
    print(f"  {name:5s} {what:34s} rel.err {err:.2e} (limit {tol:.0e}) {'ok' if ok else 'FAIL'}")
    if not ok:
        failures.append(f"{name}: {what}: relative error {err:.3g} > {tol:g}")


def load_base(mdir, dtype=torch.float32):
    m = LlamaForCausalLM.from_pretrained(mdir, torch_dtype=dtype, attn_implementation="eager")
    return m.eval()


def bf16_ulps(a, b):
    """Distance in bf16 units in the last place (sign-magnitude ordered)."""
    def ordered(x):
        i = x.view(torch.int16).to(torch.int32)
        return torch.where(i < 0, -(i & 0x7FFF), i)
    return (ordered(a) - ordered(b)).abs()


for v in spec["variants"]:
    name = v["name"]
    targets = [PEFT_NAMES[t] for t in v["targets"].split(",")]
    print(f"{name}: r {v['r']} alpha {v['alpha']} dropout {v['dropout']} rslora {v['rslora']} "
          f"targets {v['targets']} base {v['dtype']}")

    # 1. adapter files against what peft writes for the same LoraConfig.
    cfg = LoraConfig(r=v["r"], lora_alpha=float(v["alpha"]), lora_dropout=float(v["dropout"]),
                     use_rslora=v["rslora"], target_modules=targets, task_type="CAUSAL_LM",
                     base_model_name_or_path=v["base_model"])
    ref_dir = os.path.join(work, name + "-peft-saved")
    get_peft_model(load_base(v["model"]), cfg).save_pretrained(ref_dir)
    ours_text = open(os.path.join(v["adapter"], "adapter_config.json")).read()
    ours, ref = json.loads(ours_text), json.load(open(os.path.join(ref_dir, "adapter_config.json")))
    if sorted(ours.get("target_modules", [])) != sorted(ref["target_modules"]):
        failures.append(f"{name}: target_modules {ours.get('target_modules')} vs peft {ref['target_modules']}")
    ref["target_modules"] = ours.get("target_modules")
    if ours != ref:
        diff = {k: (ours.get(k), ref.get(k)) for k in set(ours) | set(ref) if ours.get(k) != ref.get(k)}
        failures.append(f"{name}: adapter_config.json differs from peft's (ours, peft): {diff}")
    same_text = ours_text == json.dumps(ref, indent=2, sort_keys=True)
    print(f"  adapter_config.json equals peft's save_pretrained: as JSON {ours == ref}, "
          f"as text (target_modules in our order) {same_text}")
    if not same_text:
        failures.append(f"{name}: adapter_config.json text differs from peft's")
    with safe_open(os.path.join(v["adapter"], "adapter_model.safetensors"), "pt") as f, \
            safe_open(os.path.join(ref_dir, "adapter_model.safetensors"), "pt") as g:
        if f.metadata() != {"format": "pt"}:
            failures.append(f"{name}: __metadata__ is {f.metadata()}")
        if sorted(f.keys()) != sorted(g.keys()):
            failures.append(f"{name}: adapter keys differ from peft's: {sorted(set(f.keys()) ^ set(g.keys()))}")
        for k in f.keys():
            t = f.get_tensor(k)
            if k in g.keys() and (t.shape != g.get_tensor(k).shape or t.dtype != torch.float32):
                failures.append(f"{name}: {k}: {t.dtype} {tuple(t.shape)} vs peft {tuple(g.get_tensor(k).shape)}")
        print(f"  adapter_model.safetensors: {len(f.keys())} tensors, keys/shapes as peft's, F32")

    # 2. PEFT on the exported adapter against yieldtune's forward.
    base32 = load_base(v["model"])
    pm = PeftModel.from_pretrained(base32, v["adapter"]).eval()
    V = base32.config.vocab_size
    g = torch.Generator().manual_seed(7)
    B, S = 2, 24
    inputs = torch.randint(0, V, (B, S), generator=g)
    case = {"B": B, "S": S, "r": v["r"], "alpha": v["alpha"], "rslora": v["rslora"],
            "targets": v["targets"], "inputs": inputs.flatten().tolist(),
            "target_ids": torch.randint(0, V, (B * S,), generator=g).tolist(),
            "weights": [1.0 / (B * S)] * (B * S), "threads": 2}
    case_path = os.path.join(work, name + "-case.json")
    json.dump(case, open(case_path, "w"))
    out = os.path.join(work, name + "-yt.safetensors")
    subprocess.run([yt_grads, v["model"], v["adapter"], case_path, out], check=True)
    yt_logits = load_file(out)["logits"]
    with torch.no_grad():
        peft_logits = pm(input_ids=inputs).logits.reshape(B * S, V)
    check(name, "PEFT(exported) vs yieldtune logits", rel(yt_logits, peft_logits), 1e-4)
    with torch.no_grad(), pm.disable_adapter():
        delta = rel(peft_logits, pm(input_ids=inputs).logits.reshape(B * S, V))
    print(f"  (the adapter moves the logits by {delta:.2e} relative: the comparisons see it)")
    if delta < 1e-3:
        failures.append(f"{name}: the trained adapter barely changes the logits ({delta:.2e})")

    # 3. The merged folder.
    base_t = load_file(os.path.join(v["model"], "model.safetensors"))
    merged_t = load_file(os.path.join(v["merged"], "model.safetensors"))
    ad = load_file(os.path.join(v["adapter"], "adapter_model.safetensors"))
    if set(base_t) != set(merged_t):
        failures.append(f"{name}: merged tensors differ in names from the base")
    r, alpha = v["r"], float(v["alpha"])
    scale = alpha / math.sqrt(r) if v["rslora"] else alpha / r
    n_merged, w_err, max_ulp, n_off = 0, 0.0, 0, 0
    for k, w in base_t.items():
        m = merged_t[k]
        if m.dtype != w.dtype or m.shape != w.shape:
            failures.append(f"{name}: merged {k} is {m.dtype} {tuple(m.shape)}, base {w.dtype} {tuple(w.shape)}")
            continue
        mod = k[: -len(".weight")]
        ka = f"base_model.model.{mod}.lora_A.weight"
        if ka not in ad:
            if not torch.equal(m.view(torch.uint8), w.view(torch.uint8)):
                failures.append(f"{name}: {k} is not adapted but changed")
            continue
        n_merged += 1
        A = ad[ka].double()
        Bm = ad[f"base_model.model.{mod}.lora_B.weight"].double()
        ref64 = w.double() + scale * (Bm @ A)
        if w.dtype == torch.float32:
            w_err = max(w_err, rel(m, ref64))
        else:
            u = bf16_ulps(m, ref64.float().to(w.dtype))
            max_ulp = max(max_ulp, int(u.max()))
            n_off += int((u > 0).sum())
    if n_merged != 2 * len(targets):  # tiny has 2 layers
        failures.append(f"{name}: {n_merged} merged weights, expected {2 * len(targets)}")
    if v["dtype"] == "f32":
        check(name, "merged W vs W + s*B@A (fp64 ref)", w_err, 1e-6)
    else:
        print(f"  merged weights vs bf16(W + s*B@A): max {max_ulp} ulp, {n_off} elements off by 1 ulp")
        if max_ulp > 1:
            failures.append(f"{name}: a merged bf16 weight is {max_ulp} ulp from the reference")
    merged_model = load_base(v["merged"])
    with torch.no_grad():
        merged_logits = merged_model(input_ids=inputs).logits.reshape(B * S, V)
    if v["dtype"] == "f32":
        check(name, "merged vs PEFT base+adapter logits", rel(merged_logits, peft_logits), 1e-4)
    else:
        pm16 = PeftModel.from_pretrained(load_base(v["model"], torch.bfloat16), v["adapter"])
        peft_merged = pm16.merge_and_unload().float().eval()
        with torch.no_grad():
            pml = peft_merged(input_ids=inputs).logits.reshape(B * S, V)
        check(name, "merged vs PEFT merge_and_unload", rel(merged_logits, pml), 1e-4)
        # bf16 storage of W' rounds each weight by up to 2^-9 relative: a
        # bf16-level tolerance against the unmerged fp32 computation.
        check(name, "merged vs unmerged fp32 (bf16 tol.)", rel(merged_logits, peft_logits), 3e-2)

# A sharded copy of the last variant's base merges to the same tensors.
v = spec["variants"][-1]
shard_dir = os.path.join(work, "sharded")
os.makedirs(shard_dir, exist_ok=True)
base_t = load_file(os.path.join(v["model"], "model.safetensors"))
names = sorted(base_t)
half = len(names) // 2
weight_map = {}
for i, part in enumerate([names[:half], names[half:]]):
    fn = f"model-{i + 1:05d}-of-00002.safetensors"
    save_file({k: base_t[k].contiguous() for k in part}, os.path.join(shard_dir, fn), metadata={"format": "pt"})
    weight_map.update({k: fn for k in part})
json.dump({"metadata": {}, "weight_map": weight_map},
          open(os.path.join(shard_dir, "model.safetensors.index.json"), "w"))
shutil.copy(os.path.join(v["model"], "config.json"), shard_dir)
out_dir = os.path.join(work, "merged-from-shards")
subprocess.run([yt, "merge", "--model", shard_dir, "--adapter", v["adapter"], "--out", out_dir], check=True,
               stdout=subprocess.DEVNULL)
a = load_file(os.path.join(out_dir, "model.safetensors"))
b = load_file(os.path.join(v["merged"], "model.safetensors"))
same = set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
print(f"merge of a 2-shard copy of {v['name']}'s base equals the merge of the base: {same}")
if not same:
    failures.append("merge of the sharded base differs")

# A merge that fails while writing (an adapter value is inf) leaves no file.
bad_ad = os.path.join(work, "bad-adapter")
shutil.copytree(v["adapter"], bad_ad)
t = load_file(os.path.join(bad_ad, "adapter_model.safetensors"))
key = sorted(k for k in t if "lora_B" in k)[-1]
t[key][0, 0] = float("inf")
save_file(t, os.path.join(bad_ad, "adapter_model.safetensors"), metadata={"format": "pt"})
bad_out = os.path.join(work, "merged-bad")
p = subprocess.run([yt, "merge", "--model", v["model"], "--adapter", bad_ad, "--out", bad_out],
                   capture_output=True, text=True)
left = os.listdir(bad_out) if os.path.isdir(bad_out) else []
base_name = key.replace("base_model.model.", "").replace(".lora_B", "")
print(f"merge with an inf in {key}: exit {p.returncode}, '{p.stderr.strip()}', files left {left}")
if p.returncode == 0 or base_name not in p.stderr or left:
    failures.append(f"failing merge: exit {p.returncode}, stderr {p.stderr!r}, left {left}")

print("worst relative errors: " + ", ".join(f"{k} {e:.2e}" for k, e in worst.items()))
if failures:
    print("FAILURES:\n" + "\n".join(failures))
    sys.exit(1)
print("peft_check: all checks passed")
