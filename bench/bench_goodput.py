#!/usr/bin/env python3
"""Goodput under steady preemption, as a rented preemptible node sees it.

bench-small at np=2 through jobs/launch, periodic snapshots on, preempted every
--every seconds (default 60) for --minutes (default 10) and restarted at once by
this script with the same command, first with SIGUSR1 and then with SIGTERM sent
to jobs/launch (which forwards them: USR1 to mpirun and on to every rank; TERM
to the ranks, which yield within their 0.8 s deadline).  Each run ends with the
table of `yieldtune report RUN --json`: goodput and where the rest of the
rented time went, and the plot of the SIGUSR1 run (--plot).

usage: bench/bench_goodput.py [--yieldtune build/yieldtune] [--every 60]
       [--minutes 10] [--signals USR1,TERM] [--snapshot-every 20] [--plot FILE.png]"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.dirname(here)
ap = argparse.ArgumentParser()
ap.add_argument("--yieldtune", default=os.path.join(top, "build", "yieldtune"))
ap.add_argument("--every", type=float, default=60.0, help="seconds between preemptions")
ap.add_argument("--minutes", type=float, default=10.0, help="rented minutes per signal")
ap.add_argument("--signals", default="USR1,TERM")
ap.add_argument("--snapshot-every", type=int, default=20, help="periodic snapshot every N steps")
ap.add_argument("--plot", default=os.path.join(top, "bench", "results", "goodput-usr1.png"))
args = ap.parse_args()
yt = os.path.abspath(args.yieldtune)
launch = os.path.join(top, "jobs", "launch")
work = tempfile.mkdtemp(prefix="yt-bench-goodput-")
model, data = os.path.join(work, "model"), os.path.join(work, "data.h5")
subprocess.run([yt, "init-model", "--preset", "bench-small", "--out", model], check=True,
               stdout=subprocess.DEVNULL)
rng = random.Random(0)
with open(os.path.join(work, "data.jsonl"), "w") as f:
    for _ in range(256):
        f.write(json.dumps({"input_ids": [rng.randrange(32000) for _ in range(1024)]}) + "\n")
subprocess.run([yt, "prep", "--in", os.path.join(work, "data.jsonl"), "--out", data], check=True,
               stdout=subprocess.DEVNULL)


def command(run):
    return [launch, "-n", "2", "--threads", "1", "--", yt, "train", "--model", model, "--data", data,
            "--out", run, "--max-steps", "100000", "--seq-len", "256", "--micro-batch", "4",
            "--lora-rank", "16", "--lora-alpha", "32", "--schedule", "constant",
            "--snapshot-every", str(args.snapshot_every), "--log-every", "1000000"]


def rented_run(sig):
    run = os.path.join(work, "run-" + sig.lower())
    signo = getattr(signal, "SIG" + sig)
    end = time.monotonic() + args.minutes * 60
    attempts = 0
    while time.monotonic() < end:
        attempts += 1
        started = time.monotonic()
        with open(os.path.join(work, f"{sig}.{attempts}.log"), "w") as log:
            p = subprocess.Popen(command(run), stdout=log, stderr=subprocess.STDOUT)
            # the node is taken back every --every seconds of rented time
            left = min(args.every - (time.monotonic() - started), end - time.monotonic())
            try:
                p.wait(timeout=max(left, 0.1))
            except subprocess.TimeoutExpired:
                p.send_signal(signo)
                p.wait()
        if p.returncode not in (0, 75):
            sys.exit(f"{sig}: attempt {attempts} exited {p.returncode} (see {work}/{sig}.{attempts}.log)")
    rep = subprocess.run([yt, "report", run, "--json"], check=True, capture_output=True, text=True)
    if sig == "USR1" and args.plot:
        subprocess.run([yt, "report", run, "--plot", args.plot], check=True, stdout=subprocess.DEVNULL)
    return attempts, json.loads(rep.stdout)


print(f"bench_goodput: bench-small, np=2 x 1 thread through jobs/launch, a preemption every "
      f"{args.every:g} s for {args.minutes:g} min, snapshots every {args.snapshot_every} steps")
rows = []
for sig in args.signals.split(","):
    attempts, r = rented_run(sig)
    rows.append((sig, attempts, r))
causes = list(rows[0][2]["seconds"].keys())
print()
print(f"{'signal':<8}{'attempts':>9}{'rented s':>10}{'goodput %':>11}{'steps kept':>12}{'lost':>6}"
      f"{'s/step':>8}{'snapshots':>10}")
for sig, attempts, r in rows:
    kept = r["steps"]["kept"]
    print(f"{sig:<8}{attempts:>9}{r['rented_s']:>10.1f}{r['goodput_percent']:>11.2f}{kept:>12}"
          f"{r['steps']['lost']:>6}{r['kept_step_s'] / max(kept, 1):>8.3f}{r['snapshots']['count']:>10}")
print()
print("where the rented seconds went:")
print(f"{'cause':<14}" + "".join(f"{sig:>12}" for sig, _, _ in rows))
for c in causes:
    print(f"{c:<14}" + "".join(f"{r['seconds'][c]:>12.2f}" for _, _, r in rows))
print(f"{'= rented':<14}" + "".join(f"{r['rented_s']:>12.2f}" for _, _, r in rows))
if args.plot:
    print(f"\nplot of the USR1 run: {args.plot}")
print(f"run folders in {work}")
