#!/usr/bin/env python3
"""Data-parallel scaling on one node: bench-small LoRA training at np=1 with 2
threads against np=2 ranks with 1 thread each, the same global batch
(np=1: grad-accum 2; np=2: grad-accum 1), alternating the two, medians.

Setup (issue C): bench-small preset, seq 256, micro-batch 4, LoRA r=16
alpha=32 on all seven projections, fp32.  Reports global tokens/s, the
communication time per step (comm_s: inside collectives; exposed_comm_s: after
backward, not hidden behind it) and the efficiency ratio
tokens/s(np=2 x 1 thread) / tokens/s(np=1 x 2 threads) (target >= 0.95).

usage: bench/bench_ddp.py [--rounds 3] [--steps 5] [--yieldtune PATH] [--mpirun mpirun]
np=1 runs without mpirun (mpirun -np 1 would bind the rank to one core)."""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--steps", type=int, default=5, help="steps per run; the first of each run is warm-up")
ap.add_argument("--yieldtune", default=os.environ.get("YT_BIN", os.path.join(here, "..", "build", "yieldtune")))
ap.add_argument("--mpirun", default=os.environ.get("MPIRUN", "mpirun"))
args = ap.parse_args()
SEQ, MB, RANK, ALPHA = 256, 4, 16, 32

env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_pml="ob1", OMPI_MCA_btl="self,vader")
work = tempfile.mkdtemp(prefix="yt-bench-ddp-")
model = os.path.join(work, "model")
subprocess.run([args.yieldtune, "init-model", "--preset", "bench-small", "--out", model], check=True,
               stdout=subprocess.DEVNULL)
rng = random.Random(0)
with open(os.path.join(work, "data.jsonl"), "w") as f:
    for _ in range(64):
        f.write(json.dumps({"input_ids": [rng.randrange(32000) for _ in range(1024)]}) + "\n")
data = os.path.join(work, "data.h5")
subprocess.run([args.yieldtune, "prep", "--in", os.path.join(work, "data.jsonl"), "--out", data, "--model", model],
               check=True, stdout=subprocess.DEVNULL)

configs = {
    "np=1 x 2 threads": ([], 1, 2, 2),        # (launcher, ranks, threads, grad-accum)
    "np=2 x 1 thread": ([args.mpirun, "-np", "2"], 2, 1, 1),
}
steps = {k: [] for k in configs}
for r in range(args.rounds):
    for name, (launcher, np_, threads, accum) in configs.items():
        run = os.path.join(work, f"run-{np_}-{r}")
        cmd = launcher + [args.yieldtune, "train", "--model", model, "--data", data, "--out", run,
                          "--max-steps", str(args.steps), "--seq-len", str(SEQ), "--micro-batch", str(MB),
                          "--grad-accum", str(accum), "--lora-rank", str(RANK), "--lora-alpha", str(ALPHA),
                          "--threads", str(threads), "--log-every", "1000", "--snapshot-every", "0"]
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        with open(os.path.join(run, "metrics.jsonl")) as f:
            steps[name] += [json.loads(l) for l in f][1:]
        print(f"round {r + 1}/{args.rounds} {name}: median "
              f"{statistics.median(s['tokens_per_s'] for s in steps[name]):.0f} tok/s", file=sys.stderr)

tok = SEQ * MB * 2
core = os.environ.get("OPENBLAS_CORETYPE", "unset")
print(f"\nbench-small data-parallel: seq {SEQ} x micro-batch {MB}, global batch {2 * MB} sequences "
      f"({tok} tokens/step), r={RANK} alpha={ALPHA} on q,k,v,o,gate,up,down, fp32, OPENBLAS_CORETYPE={core}; "
      f"medians of {len(steps[next(iter(steps))])} steps each over {args.rounds} alternating rounds")
print(f"| {'':17s} | {'s/step':>7s} | {'tokens/s':>8s} | {'comm_s':>7s} | {'exposed_comm_s':>14s} | {'exposed %':>9s} |")
print(f"|{'-' * 19}|{'-' * 9}|{'-' * 10}|{'-' * 9}|{'-' * 16}|{'-' * 11}|")
med = {}
for name, s in steps.items():
    st = statistics.median(x["step_time_s"] for x in s)
    tps = statistics.median(x["tokens_per_s"] for x in s)
    cs = statistics.median(x.get("comm_s", 0) for x in s)
    ex = statistics.median(x.get("exposed_comm_s", 0) for x in s)
    frac = statistics.median(x.get("exposed_comm_s", 0) / x["step_time_s"] for x in s)
    med[name] = tps
    print(f"| {name:17s} | {st:7.3f} | {tps:8.0f} | {cs:7.4f} | {ex:14.4f} | {100 * frac:8.2f}% |")
a, b = med["np=1 x 2 threads"], med["np=2 x 1 thread"]
print(f"efficiency tokens/s(np=2 x 1 thread) / tokens/s(np=1 x 2 threads) = {b / a:.3f} (target >= 0.95)")
subprocess.run(["rm", "-rf", work])
