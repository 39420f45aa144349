"""bench/torch_gpu_step.py: the comparison of bench/gpu_step in PyTorch.

One LoRA training step (forward, backward, AdamW) of a random-weight Llama of
the same shape, as a PyTorch user runs it: transformers' LlamaForCausalLM in
bf16 with SDPA attention, a PEFT LoRA (rank 16, alpha 32, all seven
projections) whose weights are kept in fp32 like yieldtune's, torch AdamW on
the LoRA parameters.  Prints one line in bench/gpu_step's format (median of
--steps timed steps after one warm-up; 4N FLOPs per token, N = every product's
parameters).  --compile wraps the model in torch.compile (default mode; the
compilation happens in the warm-up steps, which are not timed).  Run by
bench/gpu-check on the GPU machine (python3 there has torch, transformers and
peft); --device cpu --preset tiny checks the script itself anywhere.
"""
import argparse
import statistics
import time

import torch

PRESETS = {  # model/config.c
    "tiny": dict(vocab_size=256, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False,
                 rope_theta=10000.0),
    "llama3-1b": dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192,
                      num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
                      tie_word_embeddings=True, rope_theta=500000.0),
    "llama3-8b": dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336,
                      num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                      tie_word_embeddings=False, rope_theta=500000.0),
}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="llama3-8b", choices=sorted(PRESETS))
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--micro-batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--attention", default="sdpa", help="transformers attn_implementation")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps (default 1, 2 with --compile)")
    a = ap.parse_args()
    warmup = a.warmup if a.warmup is not None else (2 if a.compile else 1)

    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    p = PRESETS[a.preset]
    cfg = LlamaConfig(max_position_embeddings=max(a.seq_len, 2048), rms_norm_eps=1e-5,
                      attn_implementation=a.attention, **p)
    dev = torch.device(a.device)
    dtype = torch.bfloat16
    torch.manual_seed(0)
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    if hasattr(torch.device, "__enter__"):  # torch >= 2: build the weights on the device
        with dev:
            model = LlamaForCausalLM(cfg)
    else:
        model = LlamaForCausalLM(cfg).to(dev)
    torch.set_default_dtype(old)
    model.requires_grad_(False)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                             target_modules=TARGETS))
    lora = [q for n, q in model.named_parameters() if "lora_" in n]
    for q in lora:
        q.data = q.data.float()
        q.requires_grad_(True)
    run = torch.compile(model) if a.compile else model
    opt = torch.optim.AdamW(lora, lr=1e-4, weight_decay=0.0)
    T = a.micro_batch * a.seq_len
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, cfg.vocab_size, (a.micro_batch, a.seq_len), generator=g).to(dev)
    labels = torch.randint(0, cfg.vocab_size, (a.micro_batch, a.seq_len), generator=g).to(dev)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    times, losses = [], []
    for s in range(a.steps + warmup):
        sync()
        t0 = time.perf_counter()
        out = run(input_ids=ids)
        # The same loss as yieldtune's: every position's next-token target, mean.
        loss = torch.nn.functional.cross_entropy(out.logits.float().view(T, -1), labels.view(T))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lora, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        if s >= warmup:
            times.append(time.perf_counter() - t0)
        losses.append(loss.item())
        del out, loss
    med = statistics.median(times)
    C, F, V, L = p["hidden_size"], p["intermediate_size"], p["vocab_size"], p["num_hidden_layers"]
    hd = C // p["num_attention_heads"]
    Q, KV = p["num_attention_heads"] * hd, p["num_key_value_heads"] * hd
    N = V * C + L * (C * Q + 2 * C * KV + Q * C + 3 * C * F)
    tps = T / med
    tflops = 4.0 * N * tps / 1e12
    mem = torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else float("nan")
    print(f"PyTorch {torch.__version__} preset {a.preset} seq {a.seq_len} mb {a.micro_batch} "
          f"{a.attention}{' compiled' if a.compile else ''} bf16: {med:.4f} s/step, {tps:.0f} tokens/s, {tflops:.1f} TFLOP/s "
          f"(4N, N = {N / 1e9:.3f}B), MFU {100 * tflops / a.peak_tflops:.1f}%, "
          f"{mem:.2f} GiB peak, loss {losses[0]:.4f} -> {losses[-1]:.4f}", flush=True)


if __name__ == "__main__":
    main()
