#!/usr/bin/env python3
"""Reference test of yieldtune's base-weight formats (model/quant.c) against an
independent numpy implementation written from the QLoRA paper (Dettmers et al.
2023, section 3 and appendix E) and bitsandbytes' documented behaviour
(functional.quantize_4bit with quant_type="nf4", blocksize=64,
compress_statistics=True; its reference torch backend: scale by 1/absmax,
clamp to [-1, 1], the nearest level with torch.argmin's first-index tie rule;
two codes per byte, the first in the high nibble; the block absmaxes minus
their mean quantised in blocks of 256 on create_dynamic_map(signed=True)).

bitsandbytes itself cannot run here: 0.50 needs torch >= 2.4
(torch.library.register_fake), 0.45 needs torch._inductor (torch 2), and
older releases have no CPU 4-bit path; this environment has torch 1.13.

Checks, for real weight tensors (SmolLM2-135M's GGUF, dequantised to fp32 by
gguf-py) and synthetic ones:
  - the dynamic map equals the one create_dynamic_map's recipe gives with
    torch.linspace (bit for bit);
  - nf4 and int8: every code, first-level code, second-level absmax and offset
    byte for byte, and the decoded fp32 values bit for bit;
  - bf16: round to nearest even as torch's .to(torch.bfloat16);
  - the error: per block |x - q(x)| <= half the widest level gap times the
    block's absmax plus the error of its double-quantised scale; NF4's RMS
    error relative to the tensor's RMS printed (QLoRA-typical ~0.1).
usage: nf4_reference.py YT_QUANT WORKDIR FILE.gguf"""
import os
import subprocess
import sys

import numpy as np
import torch
from gguf import GGUFReader
from gguf.quants import dequantize

NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], dtype=np.float32)
INT8 = (np.arange(-127, 128, dtype=np.float32) / np.float32(127)).astype(np.float32)
f32 = np.float32


def dynamic_map():
    """create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)."""
    data = []
    for i in range(7):
        b = torch.linspace(0.1, 1, 2 ** i + 1)
        means = (b[:-1] + b[1:]) / 2.0
        data += ((10 ** (-6 + i)) * means).tolist()
        data += (-(10 ** (-6 + i)) * means).tolist()
    data += [0.0, 1.0]
    assert len(data) == 256
    return np.sort(np.array(data, dtype=np.float32))


def nearest(scaled, levels):
    """torch.argmin(|scaled - levels|), first index on ties, in chunks."""
    out = np.empty(scaled.shape, dtype=np.int64)
    for i in range(0, scaled.size, 1 << 16):
        s = scaled[i:i + (1 << 16)]
        out[i:i + (1 << 16)] = np.argmin(np.abs(s[:, None] - levels[None, :]), axis=1)
    return out


def blockwise(x, levels, bs, zero_code):
    n = x.size
    nb = (n + bs - 1) // bs
    xp = np.zeros(nb * bs, dtype=np.float32)
    xp[:n] = x
    xb = xp.reshape(nb, bs)
    absmax = np.abs(xb).max(axis=1).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.clip(xb * (f32(1) / absmax)[:, None], -1, 1).astype(np.float32)
    codes = nearest(scaled.reshape(-1), levels).reshape(nb, bs)
    codes[absmax == 0] = zero_code
    return codes.reshape(-1)[:n], absmax


def encode(x, kind, dmap):
    """(codes, qabsmax, absmax2, offset) as bitsandbytes with compress_statistics."""
    levels = NF4 if kind == "nf4" else INT8
    codes, absmax = blockwise(x, levels, 64, 7 if kind == "nf4" else 127)
    offset = f32(np.mean(absmax, dtype=np.float64))
    a = (absmax - offset).astype(np.float32)
    qabs, absmax2 = blockwise(a, dmap, 256, int(np.where(dmap == 0)[0][0]))
    return codes, qabs, absmax2, offset


def decode(codes, qabs, absmax2, offset, kind, dmap, n):
    levels = NF4 if kind == "nf4" else INT8
    scale = (dmap[qabs] * np.repeat(absmax2, 256)[:qabs.size]).astype(np.float32) + offset
    scale = scale.astype(np.float32)
    return (levels[codes] * np.repeat(scale, 64)[:n]).astype(np.float32)


def pack(codes, qabs, absmax2, offset, kind, lay):
    c_off, q_off, a_off, o_off, nbytes = lay
    out = bytearray(nbytes)
    if kind == "nf4":
        c = np.zeros(codes.size + (codes.size % 2), dtype=np.uint8)
        c[:codes.size] = codes
        b = (c[0::2] << 4) | c[1::2]
    else:
        b = (codes - 127).astype(np.int8).view(np.uint8)
    out[c_off:c_off + b.size] = b.tobytes()
    out[q_off:q_off + qabs.size] = qabs.astype(np.uint8).tobytes()
    out[a_off:a_off + 4 * absmax2.size] = absmax2.astype(np.float32).tobytes()
    out[o_off:o_off + 4] = np.float32(offset).tobytes()
    return bytes(out)


def roundtrip(x, kind="nf4"):
    """x (fp32, any shape) through the reference encode and decode."""
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    dmap = dynamic_map()
    return decode(*encode(flat, kind, dmap), kind, dmap, flat.size).reshape(x.shape)


def main():
    yt_quant, work, gguf_path = sys.argv[1:4]

    def run(*args):
        return subprocess.run([yt_quant, *map(str, args)], check=True, capture_output=True,
                              text=True).stdout

    os.makedirs(work, exist_ok=True)
    failures = []

    # The dynamic map.
    dmap = dynamic_map()
    run("map", f"{work}/map.f32")
    ymap = np.fromfile(f"{work}/map.f32", dtype=np.float32)
    nd = int(np.sum(ymap.view(np.uint32) != dmap.view(np.uint32)))
    print(f"dynamic map: 256 values, {nd} differ from create_dynamic_map's recipe in torch "
          f"(min {dmap[0]:.6f}, max {dmap[-1]})")
    if nd:
        failures.append(f"dynamic map differs in {nd} values")

    # Real tensors: SmolLM2's, dequantised by gguf-py; and synthetic ones with a
    # partial last block, an all-zero block, exact level values.
    reader = GGUFReader(gguf_path)
    want = ["blk.0.attn_q.weight", "blk.0.ffn_down.weight", "blk.15.ffn_gate.weight", "token_embd.weight"]
    tensors = []
    for t in reader.tensors:
        if t.name in want:
            x = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
            if x.size > (1 << 20):  # the embedding: its first million (time)
                x = x[:1 << 20].copy()
            tensors.append((t.name, x))
    rng = np.random.default_rng(5)
    odd = rng.standard_normal(64 * 300 + 37).astype(np.float32) * f32(0.02)
    odd[64:128] = 0
    tensors.append(("synthetic (partial block, zero block)", odd))
    lv = np.tile(NF4, 4 * 64 // 16).astype(np.float32) * f32(0.75)
    tensors.append(("synthetic (NF4 levels x 0.75)", lv))

    for name, x in tensors:
        n = x.size
        x.tofile(f"{work}/x.f32")
        for kind in ("nf4", "int8", "bf16"):
            run("encode", kind, f"{work}/x.f32", f"{work}/x.{kind}")
            ybytes = open(f"{work}/x.{kind}", "rb").read()
            run("decode", kind, f"{work}/x.{kind}", n, f"{work}/y.f32")
            y = np.fromfile(f"{work}/y.f32", dtype=np.float32)
            if kind == "bf16":
                ref = torch.from_numpy(x).to(torch.bfloat16).float().numpy()
                same = np.array_equal(ref.view(np.uint32), y.view(np.uint32))
                if not same:
                    failures.append(f"{name}: bf16 values differ")
                continue
            lay = [int(v) for v in run("layout", kind, n).split()]
            codes, qabs, absmax2, offset = encode(x, kind, dmap)
            rbytes = pack(codes, qabs, absmax2, offset, kind, lay)
            ref = decode(codes, qabs, absmax2, offset, kind, dmap, n)
            byte_diff = sum(a != b for a, b in zip(rbytes, ybytes)) + abs(len(rbytes) - len(ybytes))
            val_diff = int(np.sum(ref.view(np.uint32) != y.view(np.uint32)))
            # Error bound per block: half the widest gap of the levels times the
            # block's absmax, plus |decoded scale - absmax| (levels are in [-1, 1]).
            levels = NF4 if kind == "nf4" else INT8
            half = float(np.max(np.diff(levels))) / 2
            nb = (n + 63) // 64
            xp = np.zeros(nb * 64, np.float32)
            xp[:n] = x
            yp = np.zeros(nb * 64, np.float32)
            yp[:n] = y
            absmax = np.abs(xp.reshape(nb, 64)).max(axis=1)
            scale = (dmap[qabs] * np.repeat(absmax2, 256)[:nb]).astype(np.float32) + offset
            err = np.abs(xp - yp).reshape(nb, 64).max(axis=1)
            bound = half * absmax + np.abs(scale - absmax) + 1e-6 * absmax + 1e-30
            over = int(np.sum(err > bound))
            rms = float(np.sqrt(np.mean((x.astype(np.float64) - y) ** 2)) / np.sqrt(np.mean(x.astype(np.float64) ** 2)))
            print(f"{name} [{n}] {kind}: {len(ybytes)} bytes ({8 * len(ybytes) / n:.3f} bits/weight), "
                  f"{byte_diff} bytes and {val_diff} values differ from the reference, relative RMS error "
                  f"{rms:.4f}, {over} of {nb} blocks over the error bound")
            if byte_diff or val_diff or over:
                failures.append(f"{name} {kind}: {byte_diff} bytes, {val_diff} values, {over} blocks over the bound")
            if name.startswith("synthetic (NF4") and kind == "nf4" and not np.array_equal(x, y):
                failures.append("NF4 level values do not round-trip exactly")

    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("nf4_reference: all checks passed")


if __name__ == "__main__":
    main()
