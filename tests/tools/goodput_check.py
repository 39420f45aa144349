#!/usr/bin/env python3
"""Checks `yieldtune report RUN --json` and the --tensorboard files of a real
preempted run against an independent reading of RUN/events.jsonl and
RUN/metrics.jsonl and against what the shell measured.
usage: goodput_check.py RUN REPORT.json TB_DIR ATTEMPTS.txt LOST
ATTEMPTS.txt: one line per attempt, "exit_code wall_seconds" as the shell saw it.
LOST: steps the shell knows the kill -9 lost (the last step minus the newest snapshot)."""
import json
import math
import os
import struct
import sys

import numpy as np

run, report_path, tb_dir, attempts_path, lost_expected = sys.argv[1:6]
lost_expected = int(lost_expected)
rep = json.load(open(report_path))
events = [json.loads(l) for l in open(os.path.join(run, "events.jsonl"))]
metrics = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
shell = [tuple(float(x) for x in l.split()) for l in open(attempts_path) if l.strip()]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def close(a, b, tol=1e-6):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


# Attempts as the shell saw them: exit codes 75 (yield), 137 (kill -9), 0.
codes = [int(c) for c, _ in shell]
n_yield = codes.count(75)
n_kill = codes.count(137)
check(len(rep["attempts"]) == len(shell), f"attempts: report {len(rep['attempts'])}, shell {len(shell)}")
check(rep["yields"] == n_yield, f"yields: report {rep['yields']}, shell {n_yield}")
check(rep["kills"] == n_kill, f"kills: report {rep['kills']}, shell {n_kill}")
check(rep["preemptions"] == n_yield + n_kill,
      f"preemptions: report {rep['preemptions']}, shell {n_yield + n_kill}")
want_end = {75: "yielded", 137: "no exit event", 0: "finished"}
for i, (a, (code, wall)) in enumerate(zip(rep["attempts"], shell)):
    check(a["end_cause"] == want_end[int(code)], f"attempt {i + 1}: ends '{a['end_cause']}', exit code {int(code)}")
    # the process starts after the shell launched it and exits before wait returns
    check(0.3 * wall < a["rented_s"] <= wall, f"attempt {i + 1}: rented {a['rented_s']:.3f} s within the "
          f"shell's {wall:.3f} s")
    if int(code) == 137:
        check("end_from" in a and ".jsonl:" in a["end_from"], f"attempt {i + 1}: end taken from a line ({a.get('end_from')})")

# Steps: a step is kept when its line is the last line with its number (the run
# finished); every other line was lost and redone.
last = {}
for i, m in enumerate(metrics):
    last[m["step"]] = i
kept = [m for i, m in enumerate(metrics) if last[m["step"]] == i]
lost = len(metrics) - len(kept)
check(rep["steps"]["kept"] == len(kept) == 60, f"kept steps: report {rep['steps']['kept']}, lines {len(kept)}")
check(rep["steps"]["lost"] == lost == lost_expected,
      f"lost steps: report {rep['steps']['lost']}, lines {lost}, shell {lost_expected}")
check(rep["steps"]["redone"] == lost, f"steps redone: report {rep['steps']['redone']}, {lost}")
kept_s = sum(m["step_time_s"] for m in kept)
check(close(rep["kept_step_s"], kept_s), f"kept step time: report {rep['kept_step_s']:.6f}, lines {kept_s:.6f}")
lost_s = sum(m["step_time_s"] for i, m in enumerate(metrics) if last[m["step"]] != i)
check(close(rep["seconds"]["lost_steps"], lost_s), f"lost step time: report {rep['seconds']['lost_steps']:.6f}, lines {lost_s:.6f}")

# Rented time: process start to exit event (or, killed, to the attempt's last line).
starts = [e for e in events if e["event"] in ("start", "resume")]
exits = {e["attempt_start"]: e["time"] for e in events if e["event"] == "exit"}
rented = 0.0
for k, s in enumerate(starts):
    t0 = s["attempt_start"]
    t_next = starts[k + 1]["attempt_start"] if k + 1 < len(starts) else math.inf
    if t0 in exits:
        end = exits[t0]
    else:
        lines = [e["time"] for e in events if t0 <= e["time"] < t_next] + \
                [m["time"] for m in metrics if t0 <= m["time"] < t_next]
        end = max(lines)
    rented += end - t0
check(close(rep["rented_s"], rented, 1e-5), f"rented: report {rep['rented_s']:.6f}, events {rented:.6f}")
total = sum(rep["seconds"].values())
check(close(total, rep["rented_s"], 1e-9), f"causes sum {total:.9f} = rented {rep['rented_s']:.9f}")
g = rep["goodput_percent"]
check(0 < g < 100 and close(g, 100 * rep["kept_step_s"] / rep["rented_s"], 1e-9),
      f"goodput {g:.3f} % = 100 kept / rented")
load = sum(s["load_s"] for s in starts)
check(close(rep["seconds"]["startup"], load), f"start-up {rep['seconds']['startup']:.6f} = sum of load_s {load:.6f}")
snaps = [e for e in events if e["event"] == "snapshot"]
check(rep["snapshots"]["count"] == len(snaps), f"snapshots: report {rep['snapshots']['count']}, events {len(snaps)}")
final = os.path.join(run, "snapshots", "step-%08d.h5" % 60)
check(snaps[-1]["bytes"] == os.path.getsize(final), f"the last snapshot's bytes {snaps[-1]['bytes']} = size of {final}")
evals = [e for e in events if e["event"] == "eval"]
check(rep["evaluations"] == len(evals) and len(evals) >= 6, f"evaluations: report {rep['evaluations']}, events {len(evals)}")
check(close(rep["seconds"]["evaluation"], sum(e["seconds"] for e in evals)), "evaluation seconds")

# TensorBoard: every record's CRCs, the version record, one file per attempt,
# then TensorBoard's own reader: steps and values equal metrics.jsonl's last
# line of each step (the START records drop the points of lost steps).
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

files = sorted(f for f in os.listdir(tb_dir) if "tfevents" in f)
check(len(files) == len(shell), f"TensorBoard files: {len(files)}, attempts {len(shell)}")
starts_tb = []
for f in files:
    data = open(os.path.join(tb_dir, f), "rb").read()
    pos, n, first = 0, 0, None
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        (hcrc,) = struct.unpack_from("<I", data, pos + 8)
        body = data[pos + 12:pos + 12 + length]
        (dcrc,) = struct.unpack_from("<I", data, pos + 12 + length)
        ok = hcrc == masked_crc32c(data[pos:pos + 8]) and dcrc == masked_crc32c(body)
        if not ok:
            check(False, f"{f}: record {n} CRC")
        ev = event_pb2.Event.FromString(body)
        if n == 0:
            first = ev.file_version
        if ev.HasField("session_log"):
            starts_tb.append(ev.step)
        pos += 12 + length + 4
        n += 1
    check(pos == len(data) and first == "brain.Event:2", f"{f}: {n} records, CRCs ok, version {first!r}")
resumes = [1] + [s["step"] + 1 for s in starts[1:]]
check(starts_tb == resumes, f"SessionLog START steps {starts_tb} = first step of each attempt {resumes}")

ea = EventAccumulator(tb_dir, size_guidance={"scalars": 0})
ea.Reload()
tags = {"train/loss": "loss", "train/lr": "lr", "train/grad_norm": "grad_norm",
        "train/tokens_per_s": "tokens_per_s", "train/step_time_s": "step_time_s"}
for tag, key in tags.items():
    got = ea.Scalars(tag)
    want = [(m["step"], m[key]) for m in kept]
    steps_ok = [e.step for e in got] == [s for s, _ in want]
    # metrics.jsonl prints 9 significant digits (tokens_per_s 2 decimals, step
    # time 6): the float32 TensorBoard holds must round to the same number
    tol = {"tokens_per_s": 0.006, "step_time_s": 6e-7}.get(key, 0)
    vals_ok = all(abs(e.value - np.float32(v)) <= max(tol, 2 * np.spacing(np.float32(v)))
                  for e, (_, v) in zip(got, want))
    check(steps_ok and vals_ok, f"TensorBoard {tag}: {len(got)} points, steps and values = metrics.jsonl")
got = ea.Scalars("val/loss")
want = [(m["step"], m["val_loss"]) for m in kept if "val_loss" in m]
check([e.step for e in got] == [s for s, _ in want] and
      all(abs(e.value - np.float32(v)) <= 2 * np.spacing(np.float32(v)) for e, (_, v) in zip(got, want)),
      f"TensorBoard val/loss: steps {[e.step for e in got]} = metrics.jsonl {[s for s, _ in want]}")
# goodput so far at each step of the last attempt: kept time of the earlier
# attempts (lines of later-lost steps excluded) plus this attempt's steps, over
# the earlier attempts' rented time plus this attempt's time so far.
gp = {e.step: e.value for e in ea.Scalars("goodput/percent")}
t0 = starts[-1]["attempt_start"]
prev_rented = rented - (exits[t0] - t0)
prev_kept = sum(m["step_time_s"] for m in kept if m["time"] < t0)
cur = 0.0
worst = 0.0
for m in kept:
    if m["time"] < t0:
        continue
    cur += m["step_time_s"]
    want = 100 * (prev_kept + cur) / (prev_rented + m["time"] - t0)
    worst = max(worst, abs(gp[m["step"]] - want))
# (the trainer takes one clock reading for both records: only float32 and the
# microseconds printed separate them)
check(worst < 0.01, f"TensorBoard goodput/percent of the last attempt within {worst:.4f} points of the "
      "recomputed goodput so far")
check(gp[60] >= g - 1e-3, f"goodput so far at step 60 ({gp[60]:.2f}) >= the report's {g:.2f} (which counts the exit)")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("goodput_check: all checks passed")
