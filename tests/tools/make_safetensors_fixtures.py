#!/usr/bin/env python3
"""safetensors fixtures for tests/unit/test_safetensors.c, written with the
reference `safetensors` package and torch.

    make_safetensors_fixtures.py DIR
        Writes into DIR: good files per dtype (f32, bf16, f16), files with other
        dtypes and a misaligned F32 tensor, a model folder, a sharded model
        folder, malformed files and folders under DIR/bad, and
          expected.json   float32 bit patterns of every good tensor as torch's
                          .float() gives them, shapes, dtypes, metadata;
          rounding.json   float32 -> bf16 / f16 bit patterns as torch rounds;
          bad_cases.json  each malformed path and the text its error must hold.
        Each malformed single file is also checked to be rejected by the
        reference library (except the few limits that are ours alone).

    make_safetensors_fixtures.py --check-written DIR
        Loads the files the C writer wrote into DIR with the reference library
        and compares them with torch's own conversions.
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

META = {"format": "pt", "fixture": "yieldtune"}


def f32_bits(t):
    """uint32 bit patterns of t converted to float32 by torch."""
    return [int(x) for x in t.float().contiguous().view(torch.int32).numpy().view(np.uint32).ravel()]


def u16_bits(t):
    return [int(x) for x in t.contiguous().view(torch.int16).numpy().view(np.uint16).ravel()]


def values_for(dtype):
    """Several tensors of deterministic values, with the edge cases of DTYPE."""
    base = (torch.arange(-20, 20, dtype=torch.float32) * 0.37).reshape(8, 5)
    common = [0.0, -0.0, 1.0 / 3.0, -2.5, float("inf"), float("-inf"), float("nan")]
    if dtype == torch.float32:
        special = common + [1e-40, -1e-45, 3.4e38, -1e30, 123456.789]
    elif dtype == torch.bfloat16:
        special = common + [1e-40, -9.2e-41, 3.0e38, -1e-3, 1e30, 65504.0]
    else:
        special = common + [5.96e-8, -5.96e-8, 1e-5, -3e-6, 6.1e-5, 6.104e-5, 65504.0,
                            -65504.0, 65519.0, 1e5, 0.1, 2049.0, -1e-9]
    return {
        "model.embed_tokens.weight": base.to(dtype),
        "model.norm.weight": (torch.arange(5, dtype=torch.float32) * 0.25 + 0.5).to(dtype),
        "specials": torch.tensor(special, dtype=torch.float32).to(dtype),
        "cube": ((torch.arange(24, dtype=torch.float32) - 11.5) * 1.0e-3).reshape(2, 3, 4).to(dtype),
        "scalar": torch.tensor(-7.75, dtype=torch.float32).to(dtype),
        "empty": torch.zeros((0, 4), dtype=dtype),
    }


def describe(tensors):
    out = {}
    for name, t in tensors.items():
        out[name] = {"dtype": DTYPE_NAME[t.dtype], "shape": list(t.shape)}
        if t.dtype in (torch.float32, torch.float16, torch.bfloat16):
            out[name]["bits"] = f32_bits(t)
    return out


DTYPE_NAME = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
              torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
              torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


# ---- raw file helpers (byte-level editing of good files) ----

def read_raw(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def header_bytes(header):
    text = header if isinstance(header, (str, bytes)) else json.dumps(header, separators=(",", ":"))
    b = text.encode() if isinstance(text, str) else text
    return b + b" " * ((8 - len(b) % 8) % 8)


def write_raw(path, header, data, hlen=None):
    b = header_bytes(header)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(b) if hlen is None else hlen) + b + data)


def reference_rejects(path):
    try:
        with safe_open(path, "pt") as f:
            for k in f.keys():
                f.get_tensor(k)
        return False
    except Exception:
        return True


def make_bad(d, bad_cases):
    bad = os.path.join(d, "bad")
    os.makedirs(bad)
    base = os.path.join(bad, "base.safetensors")
    # a: [3,4] F32 at [0,48]; b: [5] F32 at [48,68]
    save_file({"a": torch.arange(12, dtype=torch.float32).reshape(3, 4),
               "b": torch.arange(5, dtype=torch.float32) - 2.0}, base, metadata=META)
    raw = open(base, "rb").read()
    header, data = read_raw(base)
    assert header["a"]["data_offsets"] == [0, 48] and header["b"]["data_offsets"] == [48, 68]

    def case(name, contains, ours_only=False):
        path = os.path.join(bad, name)
        rel = os.path.relpath(path, d)
        if not ours_only and not reference_rejects(path):
            sys.exit(f"reference safetensors accepts {rel}, which should be malformed")
        bad_cases.append({"path": rel, "contains": [name] + contains})

    def edited(name, contains, mutate, data_=None, ours_only=False):
        h = json.loads(json.dumps(header))
        mutate(h)
        write_raw(os.path.join(bad, name), h, data if data_ is None else data_)
        case(name, contains, ours_only)

    open(os.path.join(bad, "short.safetensors"), "wb").write(b"\x05\x00\x00")
    case("short.safetensors", ["shorter than"])
    open(os.path.join(bad, "empty.safetensors"), "wb").write(b"")
    case("empty.safetensors", ["shorter than"])
    hlen = struct.unpack("<Q", raw[:8])[0]
    open(os.path.join(bad, "huge_header.safetensors"), "wb").write(struct.pack("<Q", 1 << 40) + raw[8:])
    case("huge_header.safetensors", ["limit"])
    open(os.path.join(bad, "header_past_end.safetensors"), "wb").write(
        struct.pack("<Q", len(raw)) + raw[8:])
    case("header_past_end.safetensors", ["runs past the end"])
    open(os.path.join(bad, "truncated_header.safetensors"), "wb").write(raw[:8 + hlen // 2])
    case("truncated_header.safetensors", ["runs past the end"])
    open(os.path.join(bad, "truncated.safetensors"), "wb").write(raw[:-10])
    case("truncated.safetensors", ["'b'", "run past the end"])
    hb = bytearray(raw)
    colon = hb.index(b":", 8)
    hb[colon] = ord("=")
    open(os.path.join(bad, "bad_json.safetensors"), "wb").write(bytes(hb))
    case("bad_json.safetensors", ["not valid JSON"])
    hb = bytearray(raw)
    hb[hb.index(b"yieldtune", 8)] = 0xFF
    open(os.path.join(bad, "bad_utf8.safetensors"), "wb").write(bytes(hb))
    case("bad_utf8.safetensors", ["not valid JSON"])
    write_raw(os.path.join(bad, "not_object.safetensors"), "[1,2,3]", b"")
    case("not_object.safetensors", ["not a JSON object"])

    edited("unknown_dtype.safetensors", ["'a'", "Q7"], lambda h: h["a"].update(dtype="Q7"))
    edited("missing_dtype.safetensors", ["'a'", "dtype"], lambda h: h["a"].pop("dtype"))
    edited("missing_shape.safetensors", ["'b'", "shape"], lambda h: h["b"].pop("shape"))
    edited("missing_offsets.safetensors", ["'a'", "data_offsets"],
           lambda h: h["a"].pop("data_offsets"))
    edited("entry_not_object.safetensors", ["'b'", "not a JSON object"],
           lambda h: h.update(b=[1, 2]))
    edited("negative_dim.safetensors", ["'b'", "non-negative"], lambda h: h["b"].update(shape=[-5]))
    edited("offsets_one.safetensors", ["'a'", "data_offsets"],
           lambda h: h["a"].update(data_offsets=[0]))
    edited("offsets_decreasing.safetensors", ["'a'", "data_offsets"],
           lambda h: h["a"].update(data_offsets=[48, 0]))
    edited("offsets_float.safetensors", ["'a'", "data_offsets"],
           lambda h: h["a"].update(data_offsets=[0, 48.0]))
    edited("offsets_negative.safetensors", ["'a'", "data_offsets"],
           lambda h: h["a"].update(data_offsets=[-4, 44]))
    edited("wrong_size.safetensors", ["'a'", "[3, 5]", "needs 60 bytes"],
           lambda h: h["a"].update(shape=[3, 5]))
    edited("overlap.safetensors", ["'a'", "'b'", "overlap"],
           lambda h: h["b"].update(data_offsets=[40, 60]))
    edited("out_of_range.safetensors", ["'b'", "run past the end"],
           lambda h: h["b"].update(data_offsets=[68, 88]))
    edited("hole_middle.safetensors", ["hole of 4 bytes", "'a'", "'b'"],
           lambda h: h["b"].update(data_offsets=[52, 72]), data[:48] + b"\0" * 4 + data[48:])
    edited("hole_end.safetensors", ["hole of 4 bytes", "end", "'b'"], lambda h: None,
           data + b"\0" * 4)

    def shift(h):
        h["a"]["data_offsets"] = [4, 52]
        h["b"]["data_offsets"] = [52, 72]
    edited("hole_start.safetensors", ["hole of 4 bytes", "start", "'a'"], shift, b"\0" * 4 + data)
    edited("metadata_not_string.safetensors", ["__metadata__", "format"],
           lambda h: h["__metadata__"].update(format=1))

    # Limits of ours that the reference library does not share.
    def nine(h):
        h["c"] = {"dtype": "F32", "shape": [1] * 9, "data_offsets": [68, 72]}
    edited("too_many_dims.safetensors", ["'c'", "9 dimensions"], nine, data + b"\0" * 4,
           ours_only=True)
    text = json.dumps(header, separators=(",", ":"))
    text = text[:-1] + ',"a":' + json.dumps(header["a"], separators=(",", ":")) + "}"
    write_raw(os.path.join(bad, "duplicate_key.safetensors"), text, data)
    case("duplicate_key.safetensors", ["not valid JSON", "duplicate"], ours_only=True)

    bad_cases.append({"path": "bad/does_not_exist.safetensors",
                      "contains": ["does_not_exist.safetensors", "No such file"]})
    os.makedirs(os.path.join(bad, "no_model"))
    bad_cases.append({"path": "bad/no_model", "contains": ["no_model", "neither"]})


def make_sharded(folder, tensors, split, index_mutate=None, shard_mutate=None, drop_shard=None):
    os.makedirs(folder)
    names = list(tensors)
    shards = {"model-00001-of-00002.safetensors": names[:split],
              "model-00002-of-00002.safetensors": names[split:]}
    weight_map = {}
    total = 0
    for fname, keys in shards.items():
        save_file({k: tensors[k] for k in keys}, os.path.join(folder, fname), metadata=META)
        for k in keys:
            weight_map[k] = fname
            total += tensors[k].numel() * tensors[k].element_size()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    text = json.dumps(index, indent=2)
    if index_mutate:
        text = index_mutate(index, text)
    open(os.path.join(folder, "model.safetensors.index.json"), "w").write(text)
    if shard_mutate:
        shard_mutate(folder)
    if drop_shard:
        os.remove(os.path.join(folder, drop_shard))


def llama_like(dtype):
    g = torch.Generator().manual_seed(1234)
    t = {}
    t["model.embed_tokens.weight"] = torch.randn(16, 8, generator=g).to(dtype)
    for l in range(2):
        p = f"model.layers.{l}."
        t[p + "input_layernorm.weight"] = (1.0 + 0.1 * torch.randn(8, generator=g)).to(dtype)
        t[p + "self_attn.q_proj.weight"] = (0.2 * torch.randn(8, 8, generator=g)).to(dtype)
        t[p + "mlp.down_proj.weight"] = (0.2 * torch.randn(8, 12, generator=g)).to(dtype)
    t["model.norm.weight"] = torch.ones(8).to(dtype)
    t["lm_head.weight"] = torch.randn(16, 8, generator=g).to(dtype)
    return t


def rounding_cases():
    """float32 inputs: specials, exact ties for bf16 and f16 (normal and
    subnormal), and random bit patterns over the whole range and the f16 range."""
    rng = np.random.default_rng(20240611)
    ins = [0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001, 0x7F800001,
           0x7F7FFFFF, 0xFF7FFFFF, 0x00000001, 0x807FFFFF, 0x3F800000, 0x3F808000, 0x3F818000,
           0x3F807FFF, 0x3F808001, 0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x47800000,
           0x38800000, 0x387FFFFF, 0x387FC000, 0x387FE000, 0x33000000, 0x33000001, 0x32FFFFFF,
           0x33800000, 0x33C00000, 0x34000000, 0x34200000, 0x34400000, 0xB3400000]
    ins += list(rng.integers(0, 1 << 32, size=6000, dtype=np.uint64))
    # bf16 ties: low 16 bits exactly 0x8000
    hi = rng.integers(0, 1 << 16, size=1000, dtype=np.uint64)
    ins += [int(h) << 16 | 0x8000 for h in hi]
    # f16 ties: midpoints between consecutive halves, all exactly representable
    h = rng.integers(0, 0x7BFF, size=2000, dtype=np.uint64).astype(np.uint16)
    lo = torch.from_numpy(h.view(np.int16)).view(torch.float16).float()
    up = torch.from_numpy((h + 1).astype(np.uint16).view(np.int16)).view(torch.float16).float()
    mid = ((lo.double() + up.double()) / 2).float()
    assert torch.equal(mid.double(), (lo.double() + up.double()) / 2)
    ins += [int(x) for x in mid.view(torch.int32).numpy().view(np.uint32)]
    sign = rng.integers(0, 2, size=len(mid), dtype=np.uint64) << 31
    ins += [int(x) ^ int(s) for x, s in zip(mid.view(torch.int32).numpy().view(np.uint32), sign)]
    # values spread over the f16 exponent range, subnormals included
    e = rng.uniform(-27, 17, size=4000)
    v = (np.sign(rng.uniform(-1, 1, size=4000)) * np.exp2(e)).astype(np.float32)
    ins += [int(x) for x in v.view(np.uint32)]
    ins = [int(x) & 0xFFFFFFFF for x in ins]
    f = torch.from_numpy(np.array(ins, dtype=np.uint32).view(np.int32)).view(torch.float32)
    bf = u16_bits(f.to(torch.bfloat16))
    hf = u16_bits(f.to(torch.float16))
    return [[a, b, c] for a, b, c in zip(ins, bf, hf)]


def make(d):
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    expected = {}
    for fname, dtype in (("f32", torch.float32), ("bf16", torch.bfloat16), ("f16", torch.float16)):
        t = values_for(dtype)
        save_file(t, os.path.join(d, fname + ".safetensors"), metadata=META)
        expected[fname + ".safetensors"] = {"tensors": describe(t), "metadata": META}

    other = {"i64": torch.tensor([1, -2, 3], dtype=torch.int64),
             "i32": torch.tensor([[4, 5], [6, -7]], dtype=torch.int32),
             "i16": torch.tensor([8, 9], dtype=torch.int16),
             "i8": torch.tensor([-1, 2, 3], dtype=torch.int8),
             "u8": torch.tensor([250, 1, 2, 3, 4], dtype=torch.uint8),
             "f64": torch.tensor([0.5, -1.25, 1e300], dtype=torch.float64),
             "mask": torch.tensor([True, False, True, True]),
             "w": torch.tensor([1.5, -2.0], dtype=torch.float32)}
    save_file(other, os.path.join(d, "other.safetensors"))
    expected["other.safetensors"] = {"tensors": describe(other), "metadata": {}}
    # A header "{}": no tensors at all.  Valid (the reference reads it); it used
    # to hand qsort a NULL table (undefined behaviour that UBSan reports).
    with open(os.path.join(d, "no_tensors.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", 2) + b"{}")
    expected["no_tensors.safetensors"] = {"tensors": {}, "metadata": {}}

    # F32 tensor at an offset that is not a multiple of 4: valid, but no view.
    h16 = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float16)
    w32 = torch.tensor([3.25, -4.5, 1e-3, 7.0], dtype=torch.float32)
    hdr = {"h": {"dtype": "F16", "shape": [3], "data_offsets": [0, 6]},
           "w": {"dtype": "F32", "shape": [4], "data_offsets": [6, 22]}}
    path = os.path.join(d, "unaligned.safetensors")
    write_raw(path, hdr, h16.numpy().tobytes() + w32.numpy().tobytes())
    got = load_file(path)
    assert torch.equal(got["w"], w32) and torch.equal(got["h"], h16)
    expected["unaligned.safetensors"] = {"tensors": describe({"h": h16, "w": w32}), "metadata": {}}

    single = llama_like(torch.float16)
    os.makedirs(os.path.join(d, "single"))
    save_file(single, os.path.join(d, "single", "model.safetensors"), metadata=META)
    expected["single"] = {"tensors": describe(single), "metadata": META}

    sharded = llama_like(torch.bfloat16)
    make_sharded(os.path.join(d, "sharded"), sharded, 4)
    expected["sharded"] = {"tensors": describe(sharded), "metadata": META}

    bad_cases = []
    make_bad(d, bad_cases)
    bad = os.path.join(d, "bad")
    s1, s2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    make_sharded(os.path.join(bad, "sharded_missing_shard"), sharded, 4, drop_shard=s2)
    bad_cases.append({"path": "bad/sharded_missing_shard",
                      "contains": ["model.safetensors.index.json", s2, "missing"]})

    def ghost(index, text):
        index["weight_map"]["model.layers.9.ghost.weight"] = s1
        return json.dumps(index)
    make_sharded(os.path.join(bad, "sharded_missing_tensor"), sharded, 4, index_mutate=ghost)
    bad_cases.append({"path": "bad/sharded_missing_tensor",
                      "contains": ["model.safetensors.index.json", "model.layers.9.ghost.weight", s1]})

    def moved(index, text):
        index["weight_map"]["model.norm.weight"] = s1
        return json.dumps(index)
    make_sharded(os.path.join(bad, "sharded_wrong_shard"), sharded, 4, index_mutate=moved)
    bad_cases.append({"path": "bad/sharded_wrong_shard",
                      "contains": ["model.safetensors.index.json", "model.norm.weight", s1]})
    make_sharded(os.path.join(bad, "sharded_bad_index"), sharded, 4,
                 index_mutate=lambda i, t: t[: len(t) // 2])
    bad_cases.append({"path": "bad/sharded_bad_index",
                      "contains": ["model.safetensors.index.json", "not valid JSON"]})
    make_sharded(os.path.join(bad, "sharded_no_weight_map"), sharded, 4,
                 index_mutate=lambda i, t: json.dumps({"metadata": i["metadata"]}))
    bad_cases.append({"path": "bad/sharded_no_weight_map",
                      "contains": ["model.safetensors.index.json", "weight_map"]})

    def cut(folder):
        p = os.path.join(folder, s2)
        b = open(p, "rb").read()
        open(p, "wb").write(b[:-6])
    make_sharded(os.path.join(bad, "sharded_bad_shard"), sharded, 4, shard_mutate=cut)
    bad_cases.append({"path": "bad/sharded_bad_shard", "contains": [s2, "model.norm.weight",
                                                                  "run past the end"]})

    json.dump(expected, open(os.path.join(d, "expected.json"), "w"))
    json.dump({"cases": rounding_cases()}, open(os.path.join(d, "rounding.json"), "w"))
    json.dump({"cases": bad_cases}, open(os.path.join(d, "bad_cases.json"), "w"))


# ---- checking what the C writer wrote ----

def same_bits16(got, want, what):
    """Equal bf16/f16 bit patterns; a NaN only needs to be a NaN."""
    g = got.contiguous().view(torch.int16)
    w = want.contiguous().view(torch.int16)
    nan = torch.isnan(want.float())
    if not torch.equal(torch.isnan(got.float()), nan):
        sys.exit(f"{what}: NaN positions differ")
    diff = (g != w) & ~nan
    if diff.any():
        i = int(diff.nonzero()[0][0])
        sys.exit(f"{what}: {int(diff.sum())} values differ from torch, first at {i}: "
                 f"C 0x{int(g[i]) & 0xFFFF:04x}, torch 0x{int(w[i]) & 0xFFFF:04x}")


def header_len(path):
    with open(path, "rb") as f:
        return struct.unpack("<Q", f.read(8))[0]


def check_written(d):
    files = {k: os.path.join(d, f"c_{k}.safetensors") for k in ("f32", "bf16", "f16", "mixed")}
    for p in files.values():
        if header_len(p) % 8:
            sys.exit(f"{p}: header length {header_len(p)} is not a multiple of 8")
    src = load_file(files["f32"])
    for k, dtype in (("bf16", torch.bfloat16), ("f16", torch.float16)):
        got = load_file(files[k])
        if set(got) != set(src):
            sys.exit(f"{files[k]}: tensors {sorted(got)} != {sorted(src)}")
        for name, t in src.items():
            if t.dtype != torch.float32 or got[name].dtype != dtype or got[name].shape != t.shape:
                sys.exit(f"{files[k]}: tensor {name}: dtype/shape {got[name].dtype} "
                         f"{tuple(got[name].shape)}, expected {dtype} {tuple(t.shape)}")
            same_bits16(got[name], t.to(dtype), f"{files[k]}: tensor {name}")
        with safe_open(files[k], "pt") as f:
            if f.metadata() != {"format": "pt", "writer": "yieldtune", "dtype": k.upper()}:
                sys.exit(f"{files[k]}: metadata {f.metadata()}")
    m = load_file(files["mixed"])
    want = {"i32": torch.tensor([1, -2, 3, -4], dtype=torch.int32),
            "u8": torch.tensor([7, 8, 9], dtype=torch.uint8),
            "w": torch.tensor([0.5, -1.5, 2.25, 1e-3, 3e4], dtype=torch.float32),
            "h": torch.tensor([1.0, -2.5, 65504.0], dtype=torch.float32).to(torch.float16),
            "s": torch.tensor(42.0, dtype=torch.float32),
            "z": torch.zeros((0, 2), dtype=torch.bfloat16)}
    for name, t in want.items():
        if name not in m or m[name].dtype != t.dtype or m[name].shape != t.shape or \
                not torch.equal(m[name], t):
            sys.exit(f"{files['mixed']}: tensor {name}: got {m.get(name)}, expected {t}")
    if set(m) != set(want):
        sys.exit(f"{files['mixed']}: tensors {sorted(m)}")
    n = sum(v.numel() for v in src.values())
    print(f"reference safetensors read the C-written files: {len(src)} tensors, {n} values "
          f"per dtype, bf16/f16 bit-identical to torch")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check-written":
        check_written(sys.argv[2])
    elif len(sys.argv) == 2:
        make(sys.argv[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
