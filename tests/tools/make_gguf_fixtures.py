#!/usr/bin/env python3
"""GGUF fixtures for tests/unit/test_gguf.c and tests/integration/gguf.sh,
written by gguf-py (the `gguf` PyPI package, llama.cpp's own writer) with the
expected values computed by gguf-py and transformers, never by yieldtune.

usage: make_gguf_fixtures.py OUTDIR

OUTDIR gets:
  meta.gguf, meta_v2.gguf + meta.json   every metadata value type, nested arrays,
                                        general.alignment 64, tensors of 1-4 dims
  quants.gguf   for each type T of F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K
                Q5_K Q6_K: "raw.T" (random blocks), "raw.T.ref" (F32: gguf-py's
                dequantize of it), "raw.T.bf16" (BF16: gguf-py's bf16 of the
                ref); for the types gguf-py quantises also "q.T" (random normal
                data quantised) and "q.T.ref"; "raw.Q2_K" (a type yieldtune
                does not dequantise)
  tiny_untied.gguf, tiny_tied.gguf      small random llama models (GQA, every
                                        supported type among their tensors)
  tiny_*.hf.gguf   their weights as transformers reads them (F32, Hugging Face
                names, q/k through transformers' reverse_permute_weights)
  tiny_*.json      the config they were written with
  tiny_llama3.gguf + .json  with rope_freqs.weight as llama.cpp's converter
                computes it for Llama 3 scaling
  bad/*.gguf + bad/expect.tsv   broken files and the words their error must name
"""
import json
import math
import os
import struct
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFValueType as V
from gguf import GGUFWriter
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize
from transformers.modeling_gguf_pytorch_utils import reverse_permute_weights

out = sys.argv[1]
os.makedirs(os.path.join(out, "bad"), exist_ok=True)
rng = np.random.default_rng(20240611)


def write(path, w):
    w.write_header_to_file(path)
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ---- metadata of every type ----
META = [
    ("t.u8", V.UINT8, 200), ("t.i8", V.INT8, -100), ("t.u16", V.UINT16, 65535),
    ("t.i16", V.INT16, -32768), ("t.u32", V.UINT32, 4000000000), ("t.i32", V.INT32, -2000000000),
    ("t.f32", V.FLOAT32, 0.1), ("t.bool", V.BOOL, True), ("t.false", V.BOOL, False),
    ("t.str", V.STRING, "héllo ✓"), ("t.nul", V.STRING, "a\x00b"),
    ("t.u64", V.UINT64, 2**64 - 1), ("t.i64", V.INT64, -(2**63)), ("t.f64", V.FLOAT64, math.pi),
]
ARRAYS = [
    ("a.u8", V.UINT8, [0, 1, 255]), ("a.i8", V.INT8, [-128, 0, 127]),
    ("a.u16", V.UINT16, [1, 65535]), ("a.i16", V.INT16, [-2, 3]),
    ("a.u32", V.UINT32, [7, 4294967295]), ("a.i32", V.INT32, [-5, 6, 7]),
    ("a.f32", V.FLOAT32, [0.5, -1.25, 3e-8]), ("a.bool", V.BOOL, [True, False, True]),
    ("a.str", V.STRING, ["x", "", "yz", "ü"]), ("a.u64", V.UINT64, [2**64 - 1, 0]),
    ("a.i64", V.INT64, [-(2**63), 2**63 - 1]), ("a.f64", V.FLOAT64, [1e300, -2.5]),
    # arrays of arrays: int32 lists, string lists, and one level deeper
    ("a.nested", V.ARRAY, [[1, 2, 3], [4], [5, 6]]),
    ("a.nested_str", V.ARRAY, [["a", "bc"], ["d"]]),
    ("a.deep", V.ARRAY, [[[1, 2], [3]], [[4, 5, 6]]]),
]


def expect_value(vtype, val):
    """JSON form: integers as decimal strings (u64 does not fit JSON's range)."""
    if vtype == V.ARRAY:
        items = list(val)
        elem = GGUFValueType_of(items)
        return {"array": elem.name, "items": [expect_value(elem, x) for x in items]}
    if vtype in (V.FLOAT32,):
        return float(np.float32(val))
    if vtype == V.FLOAT64:
        return float(val)
    if vtype == V.BOOL:
        return bool(val)
    if vtype == V.STRING:
        return val
    return str(int(val))


def GGUFValueType_of(items):
    return V.get_type(items[0])


def meta_file(path, version=3):
    w = GGUFWriter(None, "testarch")
    w.add_custom_alignment(64)
    kv = [("general.architecture", V.STRING, "testarch"), ("general.alignment", V.UINT32, 64)]
    for k, t, v in META:
        w.add_key_value(k, v, t)
        kv.append((k, t, v))
    for k, t, v in ARRAYS:
        if t == V.ARRAY:
            w.add_key_value(k, v, V.ARRAY)
            kv.append((k, V.ARRAY, v))
        else:
            w.add_key_value(k, v, V.ARRAY, sub_type=t)
            kv.append((k, V.ARRAY, (t, v)))
    tensors = [
        ("one_d", np.arange(7, dtype=np.float32) - 3.5),
        ("two_d", (np.arange(3 * 64, dtype=np.float32).reshape(3, 64) / 7).astype(np.float16)),
        ("three_d", np.arange(24, dtype=np.float32).reshape(2, 3, 4)),
        ("four_d", np.arange(2 * 3 * 2 * 5, dtype=np.float32).reshape(2, 3, 2, 5) * -0.25),
    ]
    for name, a in tensors:
        w.add_tensor(name, a)
    w.write_header_to_file(path)
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    if version != 3:
        with open(path, "r+b") as f:
            f.seek(4)
            f.write(struct.pack("<I", version))
    exp = {"version": version, "alignment": 64, "kv": [], "tensors": []}
    for k, t, v in kv:
        if t == V.ARRAY and isinstance(v, tuple):
            sub, vals = v
            exp["kv"].append({"key": k, "type": "ARRAY",
                              "value": {"array": sub.name, "items": [expect_value(sub, x) for x in vals]}})
        else:
            exp["kv"].append({"key": k, "type": t.name, "value": expect_value(t, v)})
    # Tensor infos as gguf-py's reader sees the file (ne order, absolute offsets).
    from gguf import GGUFReader
    r = GGUFReader(path)
    for rt, (name, a) in zip(r.tensors, tensors):
        assert rt.name == name
        exp["tensors"].append({"name": name, "ne": [int(x) for x in rt.shape],
                               "type": rt.tensor_type.name, "file_offset": int(rt.data_offset),
                               "values": [float(x) for x in a.astype(np.float32).ravel()]})
    exp["data_offset"] = int(r.data_offset)
    return exp


exp = meta_file(os.path.join(out, "meta.gguf"))
json.dump(exp, open(os.path.join(out, "meta.json"), "w"), indent=1)
meta_file(os.path.join(out, "meta_v2.gguf"), version=2)

# ---- every dequantiser on random data ----
# Byte offsets of the fp16 scale fields in each block (random bytes there
# could be inf/nan; they get random finite values instead).
F16_FIELDS = {T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
              T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208], T.Q2_K: [80, 82], T.Q3_K: [108]}
SUPPORTED = [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q4_K, T.Q5_K, T.Q6_K]
QUANTISABLE = [T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1]


def random_blocks(qt, rows, cols, scale=1.0):
    """rows x cols elements of type qt as raw bytes (uint8 [rows, row_bytes])."""
    blk, nbytes = GGML_QUANT_SIZES[qt]
    if qt == T.F32:
        x = (rng.standard_normal((rows, cols)) * scale).astype(np.float32)
        return x.view(np.uint8)
    if qt == T.F16:
        x = (rng.standard_normal((rows, cols)) * scale).astype(np.float16)
        x.ravel()[:4] = np.array([0.0, -0.0, 6e-8, -65504], dtype=np.float16)  # zero, subnormal, max
        return x.view(np.uint8)
    if qt == T.BF16:
        x = (rng.standard_normal((rows, cols)) * scale).astype(np.float32)
        return quantize(x, T.BF16).view(np.uint8).reshape(rows, -1)
    nb = cols // blk
    b = rng.integers(0, 256, size=(rows * nb, nbytes), dtype=np.uint8)
    for off in F16_FIELDS[qt]:
        d = (rng.uniform(-1, 1, rows * nb) * scale).astype(np.float16)
        b[:, off:off + 2] = d.view(np.uint8).reshape(-1, 2)
    return b.reshape(rows, nb * nbytes)


w = GGUFWriter(None, "quants")
ROWS, COLS = 5, 768
for qt in SUPPORTED + [T.Q2_K]:
    raw = random_blocks(qt, ROWS, COLS, scale=2.0)
    name = "raw." + qt.name
    w.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=qt)
    if qt == T.Q2_K:
        continue
    ref = dequantize(raw, qt).reshape(ROWS, COLS).astype(np.float32)
    w.add_tensor(name + ".ref", ref)
    bf = quantize(ref, T.BF16)
    w.add_tensor(name + ".bf16", bf, raw_shape=bf.shape, raw_dtype=T.BF16)
for qt in QUANTISABLE:
    x = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    q = quantize(x, qt)
    name = "q." + qt.name
    if qt == T.F16:
        w.add_tensor(name, q)
    else:
        w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qt)
    w.add_tensor(name + ".ref", dequantize(q, qt).reshape(ROWS, COLS).astype(np.float32))
write(os.path.join(out, "quants.gguf"), w)

# ---- small llama models ----
CFG = dict(vocab=300, hidden=256, ffn=512, layers=2, heads=4, kv_heads=2, ctx=128, eps=1e-5,
           theta=10000.0, bos=1, eos=2)
UNTIED_TYPES = {"token_embd": T.F16, "output": T.Q6_K, "attn_q": T.Q4_K, "attn_k": T.Q5_K,
                "attn_v": T.Q8_0, "attn_output": T.Q4_0, "ffn_gate": T.Q4_1, "ffn_up": T.Q5_0,
                "ffn_down": T.Q5_1}
TIED_TYPES = {"token_embd": T.Q8_0, "attn_q": T.F32, "attn_k": T.BF16, "attn_v": T.F32,
              "attn_output": T.BF16, "ffn_gate": T.F32, "ffn_up": T.Q8_0, "ffn_down": T.F16}
# Scale of the fp16 block scales per type (of the values for F32/F16/BF16):
# weights of a few hundredths, as init-model's std 0.02.
SCALE = {T.Q4_0: 0.01, T.Q4_1: 0.01, T.Q5_0: 0.005, T.Q5_1: 0.005, T.Q8_0: 0.001, T.Q4_K: 2e-4,
         T.Q5_K: 1e-4, T.Q6_K: 2e-5, T.F32: 0.02, T.F16: 0.02, T.BF16: 0.02}
HF = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
      "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
      "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
      "ffn_down": "mlp.down_proj"}


def llama_tensors(types, tied, c=CFG):
    """[(gguf name, raw uint8 or float array, type, HF name, HF fp32 value)]"""
    H, F, hd = c["hidden"], c["ffn"], c["hidden"] // c["heads"]
    shapes = {"attn_q": (c["heads"] * hd, H), "attn_k": (c["kv_heads"] * hd, H),
              "attn_v": (c["kv_heads"] * hd, H), "attn_output": (H, c["heads"] * hd),
              "ffn_gate": (F, H), "ffn_up": (F, H), "ffn_down": (H, F)}
    ts = []

    def add(gname, hfname, shape, qt, heads=None):
        raw = random_blocks(qt, shape[0], shape[1], SCALE[qt])
        val = dequantize(raw, qt).reshape(shape).astype(np.float32)
        if heads is not None:  # transformers' reading of llama.cpp's q/k order
            val = reverse_permute_weights(val, c["heads"], heads)
        ts.append((gname, raw, qt, hfname, val))

    add("token_embd.weight", "model.embed_tokens.weight", (c["vocab"], H), types["token_embd"])
    for l in range(c["layers"]):
        for g in ("attn_norm", "ffn_norm"):
            v = (1 + 0.1 * rng.standard_normal(H)).astype(np.float32)
            ts.append((f"blk.{l}.{g}.weight", v, T.F32, f"model.layers.{l}.{HF[g]}.weight", v))
        for g, shape in shapes.items():
            heads = c["heads"] if g == "attn_q" else c["kv_heads"] if g == "attn_k" else None
            add(f"blk.{l}.{g}.weight", f"model.layers.{l}.{HF[g]}.weight", shape, types[g], heads)
    v = (1 + 0.1 * rng.standard_normal(H)).astype(np.float32)
    ts.append(("output_norm.weight", v, T.F32, "model.norm.weight", v))
    if not tied:
        add("output.weight", "lm_head.weight", (c["vocab"], H), types["output"])
    return ts


def llama_writer(c=CFG, arch="llama"):
    w = GGUFWriter(None, arch)
    w.add_name("yieldtune test model")
    w.add_context_length(c["ctx"])
    w.add_embedding_length(c["hidden"])
    w.add_block_count(c["layers"])
    w.add_feed_forward_length(c["ffn"])
    w.add_head_count(c["heads"])
    w.add_head_count_kv(c["kv_heads"])
    w.add_rope_freq_base(c["theta"])
    w.add_layer_norm_rms_eps(c["eps"])
    w.add_rope_dimension_count(c["hidden"] // c["heads"])
    w.add_vocab_size(c["vocab"])
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"<t{i}>" for i in range(c["vocab"])])
    w.add_bos_token_id(c["bos"])
    w.add_eos_token_id(c["eos"])
    return w


def add_tensors(w, ts, skip=()):
    for gname, raw, qt, _, _ in ts:
        if gname in skip:
            continue
        if raw.dtype == np.float32:
            w.add_tensor(gname, raw)
        else:
            w.add_tensor(gname, raw, raw_shape=raw.shape, raw_dtype=qt)


def write_llama(stem, types, tied):
    ts = llama_tensors(types, tied)
    w = llama_writer()
    add_tensors(w, ts)
    write(os.path.join(out, stem + ".gguf"), w)
    h = GGUFWriter(None, "reference")
    for _, _, _, hfname, val in ts:
        h.add_tensor(hfname, np.ascontiguousarray(val))
    write(os.path.join(out, stem + ".hf.gguf"), h)
    json.dump(dict(CFG, tied=tied, head_dim=CFG["hidden"] // CFG["heads"]),
              open(os.path.join(out, stem + ".json"), "w"))
    return ts


untied = write_llama("tiny_untied", UNTIED_TYPES, False)
tied = write_llama("tiny_tied", TIED_TYPES, True)


# Llama 3 RoPE scaling, as llama.cpp's convert_hf_to_gguf.py writes it.
def llama3_factors(theta, dim, factor, low, high, old_ctx):
    freqs = 1.0 / (theta ** (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)))
    lw, hw = old_ctx / low, old_ctx / high
    out = []
    for f in freqs:
        wl = 2 * math.pi / float(f)
        if wl < hw:
            out.append(1)
        elif wl > lw:
            out.append(factor)
        else:
            s = (old_ctx / wl - low) / (high - low)
            out.append(1 / ((1 - s) / factor + s))
    return np.array(out, dtype=np.float32)


C3 = dict(CFG, theta=500000.0)
w = llama_writer(C3)
add_tensors(w, tied)
w.add_tensor("rope_freqs.weight", llama3_factors(C3["theta"], 64, 8.0, 1.0, 4.0, 8192))
write(os.path.join(out, "tiny_llama3.gguf"), w)
json.dump(dict(C3, tied=True, head_dim=64, rope_factor=8.0, rope_low=1.0, rope_high=4.0,
               rope_orig=8192), open(os.path.join(out, "tiny_llama3.json"), "w"))

# ---- broken files: each with the words its error must hold ----
bad = []


def bad_llama(name, words, arch="llama", extra=None, keys=None, skip=()):
    w = llama_writer(arch=arch)
    for k, t, v in keys or []:
        w.add_key_value(k, v, t)
    add_tensors(w, tied, skip)
    if extra:
        extra(w)
    write(os.path.join(out, "bad", name), w)
    bad.append((name, words))


bad_llama("arch_qwen2.gguf", ["general.architecture", "qwen2"], arch="qwen2")
bad_llama("moe.gguf", ["llama.expert_count"], keys=[("llama.expert_count", V.UINT32, 8)])
bad_llama("rope_linear.gguf", ["llama.rope.scaling.type", "linear"],
          keys=[("llama.rope.scaling.type", V.STRING, "linear")])
bad_llama("bias.gguf", ["blk.0.attn_q.bias"],
          extra=lambda w: w.add_tensor("blk.0.attn_q.bias", np.zeros(256, np.float32)))
bad_llama("rope_freqs_other.gguf", ["rope_freqs.weight", "Llama 3"],
          extra=lambda w: w.add_tensor("rope_freqs.weight",
                                       np.linspace(1, 3, 32).astype(np.float32)))
bad_llama("missing_tensor.gguf", ["blk.1.ffn_up.weight", "missing"], skip=("blk.1.ffn_up.weight",))


def unsupported(w):
    raw = random_blocks(T.Q3_K, 512, 256, 1e-3)
    w.add_tensor("blk.0.ffn_gate.weight", raw, raw_shape=raw.shape, raw_dtype=T.Q3_K)


bad_llama("unsupported_type.gguf", ["blk.0.ffn_gate.weight", "Q3_K"],
          skip=("blk.0.ffn_gate.weight",), extra=unsupported)

good = open(os.path.join(out, "tiny_tied.gguf"), "rb").read()


def put(name, data, words):
    open(os.path.join(out, "bad", name), "wb").write(data)
    bad.append((name, words))


def info_pos(data, tname):
    """Offset just after the name of tensor TNAME's info record."""
    key = struct.pack("<Q", len(tname)) + tname.encode()
    i = data.index(key)
    return i + len(key)


def patched(data, pos, fmt, value):
    b = bytearray(data)
    struct.pack_into(fmt, b, pos, value)
    return bytes(b)


from gguf import GGUFReader  # noqa: E402

rd = GGUFReader(os.path.join(out, "tiny_tied.gguf"))
data_off = rd.data_offset
put("truncated_data.gguf", good[: data_off + 1000], ["truncated", "tensor"])
put("truncated_header.gguf", good[:200], ["truncated"])
put("v1.gguf", patched(good, 4, "<I", 1), ["version 1"])
put("not_gguf.gguf", b"GGUX" + good[4:], ["not GGUF"])
put("kv_count.gguf", patched(good, 16, "<Q", 2**40), ["key/value count", "past the end", "truncated"])
put("tensor_count.gguf", patched(good, 8, "<Q", 2**40), ["tensor count", "past the end"])
p = info_pos(good, "blk.0.ffn_down.weight")  # n_dims, ne[0], ne[1], type, offset
put("offset_past_end.gguf", patched(good, p + 4 + 16 + 4, "<Q", (len(good) // 32 + 64) * 32),
    ["blk.0.ffn_down.weight", "past the end"])
put("offset_unaligned.gguf", patched(good, p + 4 + 16 + 4, "<Q", 8),
    ["blk.0.ffn_down.weight", "alignment"])
b = patched(good, p + 4, "<Q", 2**40)
put("dims_overflow.gguf", patched(b, p + 12, "<Q", 2**40), ["blk.0.ffn_down.weight", "overflow"])
put("dims_huge.gguf", patched(good, p + 12, "<Q", 2**40),
    ["blk.0.ffn_down.weight", "past the end"])
put("tensor_type.gguf", patched(good, p + 4 + 16, "<I", 77), ["blk.0.ffn_down.weight", "type 77"])
f = rd.fields["tokenizer.ggml.tokens"]  # offset of the field: key, type, elem type, count
kp = f.offset + 8 + len("tokenizer.ggml.tokens") + 4 + 4
put("array_count.gguf", patched(good, kp, "<Q", 2**50), ["tokenizer.ggml.tokens", "array count"])
f = rd.fields["general.architecture"]
put("string_len.gguf", patched(good, f.offset + 8 + len("general.architecture") + 4, "<Q", 2**50),
    ["general.architecture", "string length"])
with open(os.path.join(out, "bad", "expect.tsv"), "w") as fo:
    for name, words in bad:
        fo.write(name + "\t" + "\t".join(words) + "\n")
print(f"wrote {out}: meta, quants ({len(SUPPORTED)} types), 3 llama models, {len(bad)} broken files")
