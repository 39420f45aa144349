#!/usr/bin/env python3
"""Yield and restart on bench-small at np=2 (1 thread per rank), measured from
outside as a scheduler sees it:

  SIGUSR1 -> mpirun (forwarded to every rank): time from the signal until
            every rank has exited (75) with the snapshot durable; target <= one
            step + 0.3 s
  SIGTERM -> every rank (what Slurm does at the end of a preemption grace
            time): time until every rank exited; target <= 1 s (mpirun's
            SIGKILL follows about 1 s after its own SIGTERM)
  Also shown: when mpirun itself exits.  Open MPI 4.1's mpirun treats a rank's
  non-zero exit as an abort and spends ~2 s (2 x odls_base_sigkill_timeout)
  before it exits 75, even when every rank is already gone.
  restart  : from launching the resumed job until the resume is done and the
            first step starts (the "resume" event); target <= 2 s
  snapshot : write time against size (events.jsonl), for LoRA ranks 16 and 64
  stall    : what a periodic snapshot costs the steps (the time between the
            end of its step and the start of the next, on snapshot steps minus
            on others) with --background-snapshots false and true

usage: bench/bench_yield.py [--yieldtune build/yieldtune] [--repeats 3]"""
import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--yieldtune", default=os.path.join(here, "..", "build", "yieldtune"))
ap.add_argument("--repeats", type=int, default=3)
args = ap.parse_args()
yt = os.path.abspath(args.yieldtune)
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_pml="ob1", OMPI_MCA_btl="self,vader")
work = tempfile.mkdtemp(prefix="yt-bench-yield-")
model, data = os.path.join(work, "model"), os.path.join(work, "data.h5")
subprocess.run([yt, "init-model", "--preset", "bench-small", "--out", model], check=True, stdout=subprocess.DEVNULL)
rng = random.Random(0)
with open(os.path.join(work, "data.jsonl"), "w") as f:
    for _ in range(64):
        f.write(json.dumps({"input_ids": [rng.randrange(32000) for _ in range(1024)]}) + "\n")
subprocess.run([yt, "prep", "--in", os.path.join(work, "data.jsonl"), "--out", data], check=True,
               stdout=subprocess.DEVNULL)


def cmd(run, rank=16, extra=()):
    return ["mpirun", "-np", "2", yt, "train", "--model", model, "--data", data, "--out", run,
            "--max-steps", "1000", "--seq-len", "256", "--micro-batch", "4", "--lora-rank", str(rank),
            "--lora-alpha", "32", "--threads", "1", "--log-every", "1000", "--snapshot-every", "1",
            *extra]


def events(run):
    with open(os.path.join(run, "events.jsonl")) as f:
        return [json.loads(l) for l in f]


def step_times(run):
    with open(os.path.join(run, "metrics.jsonl")) as f:
        return [json.loads(l)["step_time_s"] for l in f]


def wait_steps(run, n, timeout=300):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            if len(step_times(run)) >= n:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    sys.exit("bench: run made no progress")


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def rank_pids(mpirun_pid):
    out = subprocess.run(["pgrep", "-P", str(mpirun_pid), "-f", "yieldtune train"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


usr1, term, restart, step, mpirun_exit = [], [], [], [], []
snaps = {}
for i in range(args.repeats):
    for how in ("usr1", "term"):
        run = os.path.join(work, f"{how}{i}")
        p = subprocess.Popen(cmd(run), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_steps(run, 2)
        time.sleep(rng.uniform(0.1, 1.0))       # somewhere inside a step
        ranks = rank_pids(p.pid)
        t0 = time.time()
        if how == "usr1":
            os.kill(p.pid, signal.SIGUSR1)
        else:
            for r in ranks:
                os.kill(r, signal.SIGTERM)
        while not all(gone(r) for r in ranks):
            time.sleep(0.002)
        dt = time.time() - t0
        rc = p.wait()
        mpirun_exit.append(time.time() - t0)
        if rc != 75:
            sys.exit(f"bench: {how}: mpirun exited {rc}, not 75")
        (usr1 if how == "usr1" else term).append(dt)
        step += step_times(run)[1:]
        # restart: launch, wait for the resume event, stop it
        t0 = time.time()
        p = subprocess.Popen(cmd(run), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not [e for e in events(run) if e["event"] == "resume"]:
            time.sleep(0.005)
        resumed = [e for e in events(run) if e["event"] == "resume"][-1]["time"]
        restart.append(resumed - t0)
        p.send_signal(signal.SIGUSR1)
        p.wait()
for rank in (16, 64):
    run = os.path.join(work, f"snap{rank}")
    p = subprocess.Popen(cmd(run, rank), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_steps(run, 4)
    p.send_signal(signal.SIGUSR1)
    p.wait()
    s = [e for e in events(run) if e["event"] == "snapshot"]
    snaps[rank] = (statistics.median(e["seconds"] for e in s), s[-1]["bytes"])

# The stall of a periodic snapshot: gaps between steps (end of one, start of
# the next: time - step_time_s of the next line) on steps after a snapshot
# against the others, LoRA rank 64 (the larger file), every second step.
stall = {}
for bg in ("false", "true"):
    run = os.path.join(work, f"stall-{bg}")
    subprocess.run(cmd(run, 64, ["--max-steps", "21", "--snapshot-every", "2",
                                 "--background-snapshots", bg]),
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    with open(os.path.join(run, "metrics.jsonl")) as f:
        m = [json.loads(l) for l in f]
    gaps = {m[i]["step"] - 1: m[i]["time"] - m[i]["step_time_s"] - m[i - 1]["time"] for i in range(1, len(m))}
    snap = [g for s_, g in gaps.items() if s_ % 2 == 0]
    other = [g for s_, g in gaps.items() if s_ % 2 == 1]
    ev = [e["seconds"] for e in events(run) if e["event"] == "snapshot" and e["step"] < 21]
    stall[bg] = (statistics.median(snap) - statistics.median(other), statistics.median(ev))

med = statistics.median
print(f"\nyield and restart, bench-small, np=2 x 1 thread, seq 256 x micro-batch 4, "
      f"{args.repeats} repeats; median step {med(step):.2f} s")
print("| measure | median s | max s | target |")
print("|---|---|---|---|")
print(f"| SIGUSR1 to mpirun -> every rank exited | {med(usr1):.2f} | {max(usr1):.2f} | <= step + 0.3 = {med(step) + 0.3:.2f} |")
print(f"| SIGTERM to every rank -> every rank exited | {med(term):.2f} | {max(term):.2f} | <= 1.0 |")
print(f"| either signal -> mpirun exited 75 | {med(mpirun_exit):.2f} | {max(mpirun_exit):.2f} | (Open MPI abort teardown) |")
print(f"| restart -> resumed, first step starts | {med(restart):.2f} | {max(restart):.2f} | <= 2.0 |")
for rank, (s, b) in snaps.items():
    print(f"| snapshot write, LoRA r={rank}, {b / 2**20:.1f} MiB | {s:.3f} | | {b / 2**20 / s:.0f} MiB/s |")
print("\nthe step-time stall of a periodic snapshot (LoRA r=64, every 2nd step of 20)")
print("| snapshots | extra gap between steps, median s | stall in the event, median s |")
print("|---|---|---|")
for bg, (gap, ev) in stall.items():
    print(f"| {'background' if bg == 'true' else 'synchronous'} | {gap:.3f} | {ev:.3f} |")
print(f"| ratio sync / background | {stall['false'][0] / max(stall['true'][0], 1e-4):.0f}x | |")
subprocess.run(["rm", "-rf", work])
