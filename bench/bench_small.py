#!/usr/bin/env python3
"""bench-small: yieldtune against PyTorch (transformers + peft) on the same model
and LoRA, side by side in one run, alternating the two, and a table of medians.

Setup (issue A): bench-small preset (vocab 32000, hidden 512, 8 layers, 8 heads /
4 kv, ffn 1376, untied), seq 256, micro-batch 4, LoRA r=16 alpha=32 on all seven
projections, fp32, 2 threads for both.  Target: yieldtune <= 0.5x PyTorch's
step time.

usage: bench/bench_small.py [--rounds 3] [--steps 6] [--yieldtune PATH] [--python PATH]
The environment is used as it is (OPENBLAS_CORETYPE etc.): run it twice, with
and without them, to see both kernels.  PyTorch gets OMP_WAIT_POLICY=PASSIVE,
its best setting on 2 cores (see shared PLATFORM.md)."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--steps", type=int, default=6, help="steps per run; the first of each run is warm-up")
ap.add_argument("--yieldtune", default=os.environ.get("YT_BIN", os.path.join(here, "..", "build", "yieldtune")))
ap.add_argument("--python", default=sys.executable)
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
SEQ, MB, RANK, ALPHA = 256, 4, 16, 32


def run_rss(cmd, env=None):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    out = p.stdout.read().decode()
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({status})")
    return out, ru.ru_maxrss / 1024.0


work = tempfile.mkdtemp(prefix="yt-bench-")
model = os.path.join(work, "model")
subprocess.run([args.yieldtune, "init-model", "--preset", "bench-small", "--out", model], check=True,
               stdout=subprocess.DEVNULL)
import random
rng = random.Random(0)
with open(os.path.join(work, "data.jsonl"), "w") as f:
    for _ in range(64):
        f.write(json.dumps({"input_ids": [rng.randrange(32000) for _ in range(1024)]}) + "\n")
subprocess.run([args.yieldtune, "prep", "--in", os.path.join(work, "data.jsonl"), "--out",
                os.path.join(work, "data.h5"), "--model", model], check=True, stdout=subprocess.DEVNULL)

yt_times, pt_times, yt_rss, pt_rss = [], [], [], []
torch_env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS=str(args.threads))
torch_version = "?"
for r in range(args.rounds):
    run_dir = os.path.join(work, f"run{r}")
    _, rss = run_rss([args.yieldtune, "train", "--model", model, "--data", os.path.join(work, "data.h5"),
                      "--out", run_dir, "--max-steps", str(args.steps), "--seq-len", str(SEQ),
                      "--micro-batch", str(MB), "--lora-rank", str(RANK), "--lora-alpha", str(ALPHA),
                      "--threads", str(args.threads), "--log-every", "1000"])
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        yt_times += [json.loads(l)["step_time_s"] for l in f][1:]
    yt_rss.append(rss)
    out, rss = run_rss([args.python, os.path.join(here, "torch_step.py"), model, str(args.steps), str(SEQ),
                        str(MB), str(RANK), str(ALPHA), str(args.threads)], env=torch_env)
    res = json.loads(out.strip().splitlines()[-1])
    torch_version = res["torch"]
    pt_times += res["step_times"][1:]
    pt_rss.append(rss)
    print(f"round {r + 1}/{args.rounds}: yieldtune {statistics.median(yt_times):.3f} s/step, "
          f"PyTorch {statistics.median(pt_times):.3f} s/step", file=sys.stderr)

tok = SEQ * MB
yt_s, pt_s = statistics.median(yt_times), statistics.median(pt_times)
core = os.environ.get("OPENBLAS_CORETYPE", "unset")
print(f"\nbench-small LoRA step: seq {SEQ} x micro-batch {MB}, r={RANK} alpha={ALPHA} on q,k,v,o,gate,up,down, "
      f"fp32, {args.threads} threads, OPENBLAS_CORETYPE={core}, PyTorch {torch_version}; "
      f"medians of {len(yt_times)} steps each over {args.rounds} alternating rounds")
print(f"| {'':10s} | {'s/step':>8s} | {'tokens/s':>9s} | {'peak RSS MiB':>12s} |")
print(f"|{'-' * 12}|{'-' * 10}|{'-' * 11}|{'-' * 14}|")
print(f"| {'yieldtune':10s} | {yt_s:8.3f} | {tok / yt_s:9.0f} | {max(yt_rss):12.0f} |")
print(f"| {'PyTorch':10s} | {pt_s:8.3f} | {tok / pt_s:9.0f} | {max(pt_rss):12.0f} |")
print(f"| {'ratio':10s} | {yt_s / pt_s:8.2f} | {pt_s / yt_s:9.2f} | {max(yt_rss) / max(pt_rss):12.2f} |")
print(f"step-time ratio yieldtune/PyTorch = {yt_s / pt_s:.2f} (target <= 0.5)")
subprocess.run(["rm", "-rf", work])
