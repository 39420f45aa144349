#!/usr/bin/env python3
"""Compares two yieldtune runs: per-step losses (RUN/metrics.jsonl, matched by
step number: RUN_B may be a resumed run holding only the later steps) and the
final LoRA weights (RUN/adapter/adapter_model.safetensors).  Prints the largest
errors; exits 1 when a tolerance is exceeded.
usage: compare_runs.py RUN_A RUN_B [--loss-rtol 1e-5] [--weight-atol 1e-4] [--label TEXT]"""
import argparse
import json
import os
import sys

import numpy as np
from safetensors.numpy import load_file

ap = argparse.ArgumentParser()
ap.add_argument("a")
ap.add_argument("b")
ap.add_argument("--loss-rtol", type=float, default=1e-5)
ap.add_argument("--weight-atol", type=float, default=1e-4)
ap.add_argument("--label", default="")
args = ap.parse_args()


def losses(run):
    with open(os.path.join(run, "metrics.jsonl")) as f:
        return {m["step"]: m["loss"] for m in (json.loads(line) for line in f if line.strip())}


# Steps are matched by number: B may be a run resumed part-way (its steps a subset of A's).
la, lb = losses(args.a), losses(args.b)
if not lb or not set(lb) <= set(la):
    sys.exit(f"FAIL {args.label}: steps {sorted(lb)} of {args.b} are not among the {len(la)} of {args.a}")
loss_rel = max(abs(la[s] - lb[s]) / max(abs(la[s]), 1e-30) for s in lb)

wa = load_file(os.path.join(args.a, "adapter", "adapter_model.safetensors"))
wb = load_file(os.path.join(args.b, "adapter", "adapter_model.safetensors"))
if sorted(wa) != sorted(wb):
    sys.exit(f"FAIL {args.label}: different tensor names")
w_abs, w_max, n = 0.0, 0.0, 0
for k in wa:
    x, y = wa[k].astype(np.float64), wb[k].astype(np.float64)
    if x.shape != y.shape:
        sys.exit(f"FAIL {args.label}: {k} has shape {x.shape} and {y.shape}")
    w_abs = max(w_abs, float(np.max(np.abs(x - y))))
    w_max = max(w_max, float(np.max(np.abs(x))))
    n += x.size
ok = loss_rel <= args.loss_rtol and w_abs <= args.weight_atol
print(f"{'ok  ' if ok else 'FAIL'} {args.label}: {len(lb)} steps, max loss rel err {loss_rel:.2e} "
      f"(tol {args.loss_rtol:g}); {n} LoRA weights, max abs err {w_abs:.2e} (tol {args.weight_atol:g}, "
      f"max |w| {w_max:.3f})")
sys.exit(0 if ok else 1)
