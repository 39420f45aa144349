#!/usr/bin/env python3
"""Reference for `yieldtune generate`: greedy decoding by transformers on the
same GGUF (AutoModelForCausalLM with gguf_file=..., fp32, eager attention; the
tied lm_head put back as tests/tools/gguf_reference.py does), with and without
a PEFT adapter, token for token against yieldtune's output.

usage: generate_reference.py make-adapter FILE.gguf ADAPTER_DIR
       generate_reference.py check FILE.gguf MAX_NEW BASE.jsonl [ADAPTER_DIR ADAPTED.jsonl]

make-adapter writes a small random LoRA adapter (r 8 on q,k,v,o,gate,up,down,
A and B ~ N(0, 0.04), shapes from the GGUF's metadata, config by peft's
LoraConfig): large enough to change the greedy text.
check reads yieldtune generate --in ... --ids output (prompt_ids: the prompt as
yieldtune tokenized it; ids: its new tokens, the stop token included) and
decodes each prompt alone with transformers (no padding), stopping at the
tokenizer's end tokens <|im_end|> and <|endoftext|> like yieldtune; every new
token must be the same.  Then the same with the adapter (PeftModel), whose
texts must differ from the base model's for at least half the prompts."""
import json
import os
import sys

import torch
import transformers.generation.utils as gen_utils
from gguf import GGUFReader
from transformers import AutoModelForCausalLM

torch.set_num_threads(1)  # (faster than 2 on a shared 2-core machine)
# generate() asks whether FSDP manages the model by importing torch.distributed.fsdp,
# which Debian's torch 1.13 cannot import under Python 3.11 (a dataclass error); no
# model here is FSDP-managed.
gen_utils.is_fsdp_managed_module = lambda module: False
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def load(path):
    r = GGUFReader(path)
    tied = all(t.name != "output.weight" for t in r.tensors)
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(path)),
                                                 gguf_file=os.path.basename(path),
                                                 torch_dtype=torch.float32, attn_implementation="eager")
    if tied:
        model.lm_head.weight = model.model.embed_tokens.weight
    f = r.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(f.parts[i]).decode() for i in f.data]
    stops = [tokens.index(t) for t in ("<|im_end|>", "<|endoftext|>") if t in tokens]
    return model.eval(), stops


def make_adapter(path, out):
    from peft import LoraConfig
    from safetensors.torch import save_file
    f = GGUFReader(path).fields

    def num(key):
        return int(f[key].parts[f[key].data[0]][0])
    C, F = num("llama.embedding_length"), num("llama.feed_forward_length")
    L, H, KVH = num("llama.block_count"), num("llama.attention.head_count"), num("llama.attention.head_count_kv")
    hd = C // H
    shapes = {"q_proj": (C, H * hd), "k_proj": (C, KVH * hd), "v_proj": (C, KVH * hd),
              "o_proj": (H * hd, C), "gate_proj": (C, F), "up_proj": (C, F), "down_proj": (F, C)}
    g = torch.Generator().manual_seed(4321)
    t = {}
    for l in range(L):
        for p, (i, o) in shapes.items():
            mod = "self_attn" if p in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
            key = f"base_model.model.model.layers.{l}.{mod}.{p}"
            t[key + ".lora_A.weight"] = torch.randn(8, i, generator=g) * 0.04
            t[key + ".lora_B.weight"] = torch.randn(o, 8, generator=g) * 0.04
    os.makedirs(out, exist_ok=True)
    save_file(t, os.path.join(out, "adapter_model.safetensors"), metadata={"format": "pt"})
    LoraConfig(r=8, lora_alpha=16.0, lora_dropout=0.0, target_modules=TARGETS,
               task_type="CAUSAL_LM").save_pretrained(out)
    print(f"random adapter written to {out}: {len(t)} tensors")


def greedy(model, rows, stops, max_new, what):
    bad = 0
    for i, r in enumerate(rows):
        inp = torch.tensor([r["prompt_ids"]])
        with torch.no_grad():
            ref = model.generate(input_ids=inp, attention_mask=torch.ones_like(inp), do_sample=False,
                                 max_new_tokens=max_new, eos_token_id=stops, pad_token_id=stops[0],
                                 num_beams=1)
        want = ref[0, inp.shape[1]:].tolist()
        got = r["ids"]
        same = got == want
        bad += not same
        print(f"{'ok  ' if same else 'DIFF'} prompt {i}: {len(r['prompt_ids'])} prompt tokens, "
              f"{len(got)} new ({r['stop']}): {r['text'][:60]!r}")
        if not same:
            k = next((j for j in range(min(len(got), len(want))) if got[j] != want[j]),
                     min(len(got), len(want)))
            print(f"     first difference at new token {k}: yieldtune {got[k:k + 5]} transformers "
                  f"{want[k:k + 5]}")
    print(f"{what}: {len(rows) - bad} of {len(rows)} prompts token for token equal to transformers' "
          f"greedy")
    return bad


def check(path, max_new, base_out, adapter=None, adapted_out=None):
    model, stops = load(path)
    base = [json.loads(l) for l in open(base_out) if l.strip()]
    bad = greedy(model, base, stops, max_new, "base model")
    if adapter:
        from peft import PeftModel
        model = PeftModel.from_pretrained(model, adapter).eval()
        rows = [json.loads(l) for l in open(adapted_out) if l.strip()]
        bad += greedy(model, rows, stops, max_new, "with the adapter")
        changed = sum(a["ids"] != b["ids"] for a, b in zip(base, rows))
        print(f"the adapter changed {changed} of {len(rows)} texts")
        if changed < len(rows) / 2:
            print("FAIL: the adapter hardly changes the texts: the check cannot see it")
            bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    if sys.argv[1] == "make-adapter":
        make_adapter(sys.argv[2], sys.argv[3])
    else:
        check(sys.argv[2], int(sys.argv[3]), *sys.argv[4:])
