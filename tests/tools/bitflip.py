#!/usr/bin/env python3
"""Bit flips in a real snapshot, one at a time, judged by h5py and by training.

usage: bitflip.py --bin YIELDTUNE --snapshot STEP.h5 --older OLDER.h5 --ref-adapter FILE
                  --work DIR [--random N] [--resumes N] [--seed S] -- TRAIN ARGS...

For every flipped bit (a seeded sample of N bits of the whole file, plus every
bit of the file's first 32 bytes, of the values of the integer root
attributes step, adamw_t, tokens_seen, sampler_epoch, sampler_position,
world_size and lora_rank, and a sample of the bits of the identity JSON):
  - `yieldtune inspect --quiet` runs under a 1 GiB address-space limit; it
    must exit 0 or 1 with a "yieldtune: inspect:" message (no signal, no hang,
    no "out of memory": a 0.5 MB file needs no gigabyte);
  - when it says valid, h5py (a separate reader, not ours) must find exactly
    the original content: every attribute and every dataset's bytes, else the
    flip changed what a resume uses and was not caught.
For a sample of flips (every one inspect called valid, up to 20, and N others,
including one in each attribute value above): a run folder holding the intact
OLDER snapshot and the flipped one is resumed with TRAIN ARGS (--resume auto);
it must exit 0 and end with an adapter byte-equal to REF (so it either used the
flipped file unchanged in meaning or fell back to OLDER, and then it must say it
skipped the flipped file).  Prints counts; exit 1 on any failure."""
import argparse
import hashlib
import os
import random
import resource
import shutil
import subprocess
import sys

AS_LIMIT = 1 << 30
INT_ATTRS = ["step", "adamw_t", "tokens_seen", "sampler_epoch", "sampler_position",
             "world_size", "lora_rank"]

DUMP_WORKER = r'''
import hashlib, sys
import h5py, numpy as np
def canon(v):
    if isinstance(v, bytes):
        return b"b" + v
    if isinstance(v, str):
        return b"s" + v.encode("utf-8", "surrogatepass")
    a = np.asarray(v)
    return (str(a.dtype) + str(a.shape)).encode() + a.tobytes()
for line in sys.stdin:
    path = line.rstrip("\n")
    try:
        h = hashlib.sha256()
        with h5py.File(path, "r") as f:
            def attrs(obj, name):
                for k in sorted(obj.attrs.keys()):
                    h.update(("A%s/%s=" % (name, k)).encode())
                    h.update(canon(obj.attrs[k]))
            attrs(f, "")
            names = []
            f.visit(names.append)
            for n in sorted(names):
                o = f[n]
                attrs(o, n)
                if isinstance(o, h5py.Dataset):
                    h.update(("D%s=" % n).encode())
                    h.update(canon(o[()]))
        print("OK " + h.hexdigest(), flush=True)
    except Exception as e:
        print("ERR " + type(e).__name__ + ": " + str(e).replace("\n", " ")[:200], flush=True)
'''


class Dumper:
    """h5py in a worker process, restarted when a damaged file kills it."""

    def __init__(self):
        self.p = None

    def start(self):
        self.p = subprocess.Popen([sys.executable, "-c", DUMP_WORKER], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)

    def digest(self, path):
        if self.p is None or self.p.poll() is not None:
            self.start()
        try:
            self.p.stdin.write(path + "\n")
            self.p.stdin.flush()
            line = self.p.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            self.p.wait()
            self.p = None
            return "ERR h5py died"
        return line.strip()


def limit_as():
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


def inspect_limits():
    """The 1 GiB bound on what one flipped bit may make inspect allocate.  An
    AddressSanitizer build reserves terabytes of shadow memory and cannot run
    under RLIMIT_AS: there its allocator enforces the same bound and returns
    NULL past it, as a full address space would."""
    if "ASAN_OPTIONS" not in os.environ:
        return {"preexec_fn": limit_as}
    env = dict(os.environ)
    env["ASAN_OPTIONS"] += f":allocator_may_return_null=1:max_allocation_size_mb={AS_LIMIT >> 20}"
    return {"env": env}


def flip(data, bit):
    b = bytearray(data)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


def attr_values(path):
    import h5py
    with h5py.File(path, "r") as f:
        return {k: f.attrs[k] for k in f.attrs.keys()}


def locate_int(data, name, value, tmp):
    """Byte offset of the 8-byte value of integer root attribute `name`: a
    candidate after the name whose flip changes exactly that attribute."""
    import h5py
    key = name.encode() + b"\0"
    want = int(value).to_bytes(8, "little", signed=True)
    pos = data.find(key)
    while pos >= 0:
        off = data.find(want, pos + len(key), pos + len(key) + 160)
        while off >= 0:
            with open(tmp, "wb") as f:
                f.write(flip(data, off * 8 + 1))
            try:
                with h5py.File(tmp, "r") as f:
                    if int(f.attrs[name]) == int(value) ^ 2:
                        return off
            except Exception:
                pass
            off = data.find(want, off + 1, pos + len(key) + 160)
        pos = data.find(key, pos + 1)
    return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--snapshot", required=True)
    ap.add_argument("--older", required=True)
    ap.add_argument("--ref-adapter", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--random", type=int, default=2000)
    ap.add_argument("--resumes", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("train", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    train = [x for x in a.train if x != "--"]
    os.makedirs(a.work, exist_ok=True)
    data = open(a.snapshot, "rb").read()
    nbits = len(data) * 8
    rng = random.Random(a.seed)
    tmp = os.path.join(a.work, "probe.h5")

    # Which bits: a sample of the whole file and every resume-relevant value.
    regions = {}
    regions["first 32 bytes"] = list(range(0, 32 * 8))
    attrs = attr_values(a.snapshot)
    for name in INT_ATTRS:
        off = locate_int(data, name, attrs[name], tmp)
        if off < 0:
            print(f"bitflip: cannot find the value of attribute '{name}' in {a.snapshot}")
            return 1
        regions[f"attribute {name}"] = list(range(off * 8, off * 8 + 64))
    ident = attrs["identity"]
    ident = ident.encode() if isinstance(ident, str) else bytes(ident)
    off = data.find(ident)
    if off < 0:
        print(f"bitflip: cannot find the identity JSON in {a.snapshot}")
        return 1
    regions["identity JSON"] = sorted(rng.sample(range(off * 8, (off + len(ident)) * 8), 128))
    regions["whole file (seeded sample)"] = sorted(rng.sample(range(nbits), a.random))

    dumper = Dumper()
    ref_digest = dumper.digest(a.snapshot)
    if not ref_digest.startswith("OK "):
        print(f"bitflip: h5py cannot read the intact snapshot: {ref_digest}")
        return 1

    counts = {"invalid": 0, "valid, same content": 0}
    failures = []
    judged = {}  # bit -> "valid" / "invalid"
    target = os.path.join(a.work, "flipped.h5")
    limits = inspect_limits()
    for region, bits in regions.items():
        for bit in bits:
            if bit in judged:
                continue
            with open(target, "wb") as f:
                f.write(flip(data, bit))
            try:
                r = subprocess.run([a.bin, "inspect", "--quiet", target], capture_output=True,
                                   text=True, errors="replace", timeout=60, **limits)
            except subprocess.TimeoutExpired:
                failures.append((region, "inspect hangs", f"bit {bit}"))
                judged[bit] = "invalid"
                continue
            rc, err = r.returncode, r.stderr
            where = f"bit {bit} (byte {bit // 8}, {region})"
            if rc < 0 or rc >= 128:
                failures.append((region, "inspect crashed", f"{where}: rc {rc}: {err.strip()[-200:]}"))
                judged[bit] = "invalid"
            elif rc == 0:
                d = dumper.digest(target)
                if d == ref_digest:
                    counts["valid, same content"] += 1
                else:
                    failures.append((region, "inspect says valid, content changed",
                                     f"{where}: h5py: {d[:60]}"))
                judged[bit] = "valid"
            elif rc == 1 and "yieldtune: inspect:" in err and "out of memory" not in err:
                counts["invalid"] += 1
                judged[bit] = "invalid"
            else:
                kind = "inspect out of memory" if "out of memory" in err else f"inspect exit {rc}"
                failures.append((region, kind, f"{where}: {err.strip()[-200:]}"))
                judged[bit] = "invalid"
    n_flips = len(judged)

    # Resumes: the valid ones, one per attribute region, and a seeded sample.
    picks = [b for b, j in sorted(judged.items()) if j == "valid"][:20]
    for region, bits in regions.items():
        if region.startswith("attribute") or region == "identity JSON":
            picks.append(bits[rng.randrange(len(bits))])
    if "attribute step" in regions:
        picks.append(regions["attribute step"][62])  # step + 2^62
    rest = [b for b in judged if b not in picks]
    picks += rng.sample(rest, min(a.resumes, len(rest)))
    ref = open(a.ref_adapter, "rb").read()
    snap_name = os.path.basename(a.snapshot)
    resumed = {"fell back": 0, "used the file": 0}
    for k, bit in enumerate(picks):
        run = os.path.join(a.work, f"run{k}")
        shutil.rmtree(run, ignore_errors=True)
        os.makedirs(os.path.join(run, "snapshots"))
        shutil.copy(a.older, os.path.join(run, "snapshots", os.path.basename(a.older)))
        with open(os.path.join(run, "snapshots", snap_name), "wb") as f:
            f.write(flip(data, bit))
        r = subprocess.run([a.bin, "train"] + train + ["--out", run], capture_output=True,
                           text=True, errors="replace", timeout=600)
        out = r.stdout + r.stderr
        where = f"resume with bit {bit} (byte {bit // 8}) flipped ({judged[bit]} for inspect)"
        adapter = os.path.join(run, "adapter", "adapter_model.safetensors")
        if r.returncode != 0:
            failures.append(("resume", f"resume exit {r.returncode}", f"{where}: {out.strip()[-300:]}"))
        elif not os.path.exists(adapter) or open(adapter, "rb").read() != ref:
            failures.append(("resume", "resumed run ends differently", where))
        elif f"resumed from {run}/snapshots/{snap_name}" in out:
            resumed["used the file"] += 1
            if judged[bit] != "valid":
                failures.append(("resume", "resumed from a file inspect calls invalid", where))
        elif f"resumed from {run}/snapshots/{os.path.basename(a.older)}" in out:
            resumed["fell back"] += 1
            if snap_name not in out or "skipped" not in out:
                failures.append(("resume", "fell back silently", f"{where}: {out.strip()[-300:]}"))
        else:
            failures.append(("resume", "resumed from neither snapshot", f"{where}: {out.strip()[-300:]}"))
        shutil.rmtree(run, ignore_errors=True)

    print(f"bitflip: {len(data)}-byte snapshot, {n_flips} single-bit flips: "
          f"{counts['invalid']} invalid with a clear message, "
          f"{counts['valid, same content']} valid with unchanged content; regions: "
          + ", ".join(f"{r} {len(b)}" for r, b in regions.items()))
    print(f"bitflip: {len(picks)} resumes: {resumed['fell back']} fell back to "
          f"{os.path.basename(a.older)}, {resumed['used the file']} used the flipped file, "
          f"every finished run equal to the uninterrupted one unless listed below")
    kinds = {}
    for region, kind, msg in failures:
        key = (region, kind)
        kinds[key] = kinds.get(key, 0) + 1
        if kinds[key] <= 3:
            print(f"FAIL: {region}: {kind}: {msg}")
    if failures:
        print(f"bitflip: {len(failures)} failures:")
        for (region, kind), n in sorted(kinds.items()):
            print(f"  {region}: {n} x {kind}")
        return 1
    print("bitflip: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
