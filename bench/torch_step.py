#!/usr/bin/env python3
"""PyTorch side of bench/bench_small.py: the same model folder through
transformers' LlamaForCausalLM with a PEFT LoRA on the same projections, AdamW
on the LoRA parameters, fp32, one training step per iteration on random tokens
of the same shape.  Prints one JSON line: {"step_times": [...]}.
usage: torch_step.py MODEL_DIR STEPS SEQ MICRO_BATCH RANK ALPHA THREADS"""
import json
import sys
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaForCausalLM

model_dir, steps, seq, mb, rank, alpha, threads = sys.argv[1:8]
steps, seq, mb, rank, threads = int(steps), int(seq), int(mb), int(rank), int(threads)
torch.set_num_threads(threads)
torch.manual_seed(0)
model = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32, attn_implementation="eager")
cfg = LoraConfig(r=rank, lora_alpha=float(alpha), lora_dropout=0.0, task_type="CAUSAL_LM",
                 target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
pm = get_peft_model(model, cfg)
pm.train()
opt = torch.optim.AdamW([p for p in pm.parameters() if p.requires_grad], lr=1e-4, weight_decay=0.0)
V = model.config.vocab_size
times = []
for _ in range(steps):
    ids = torch.randint(0, V, (mb, seq + 1))
    t0 = time.perf_counter()
    out = pm(input_ids=ids[:, :-1])
    loss = torch.nn.functional.cross_entropy(out.logits.reshape(-1, V), ids[:, 1:].reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in pm.parameters() if p.requires_grad], 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    times.append(time.perf_counter() - t0)
print(json.dumps({"step_times": times, "torch": torch.__version__}))
