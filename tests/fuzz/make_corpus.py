#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets, tests/fuzz/corpus/NAME/, from the
project's own fixture generators and the reference writers (gguf-py, safetensors,
tokenizers, transformers, peft, h5py) plus `yieldtune prep` for the token datasets.
Each seed is small (a few KB, ~10 KB for the GGUF models), so that the corpora stay
well under 2 MB.  The output is deterministic except where a reference package
writes otherwise; the committed files are what this script wrote once.

usage: make_corpus.py --yieldtune BUILD/yieldtune [--out tests/fuzz/corpus]
(with the .venv Python of jobs/install-deps)"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "tools")
SEP = b"\n=====yt-fuzz-part=====\n"   # FUZZ_SEP of fuzz_util.h
MAX_SEED = 16 * 1024


def put(out, name, fname, data):
    if isinstance(data, str):
        data = data.encode()
    assert len(data) <= MAX_SEED, (name, fname, len(data))
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, fname), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def run_tool(script, outdir):
    subprocess.run([sys.executable, os.path.join(TOOLS, script), outdir], check=True,
                   stdout=subprocess.DEVNULL)


# ---- safetensors ----

def safetensors_seeds(out, tmp):
    d = os.path.join(tmp, "st")
    run_tool("make_safetensors_fixtures.py", d)
    for root, _, files in os.walk(d):
        for f in sorted(files):
            p = os.path.join(root, f)
            rel = os.path.relpath(p, d).replace("/", "_")
            if f.endswith(".safetensors") and os.path.getsize(p) <= 4096:
                put(out, "safetensors", rel, read(p))
            elif f == "model.safetensors.index.json":
                put(out, "safetensors", rel, read(p))
    # indexes of the two shards fuzz_safetensors.c writes (tensors a and b)
    wm = {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}
    put(out, "safetensors", "index_ok.json", json.dumps({"metadata": {"total_size": 28},
                                                         "weight_map": wm}))
    put(out, "safetensors", "index_missing.json",
        json.dumps({"weight_map": {"a": wm["a"], "c": wm["b"]}}))


# ---- GGUF ----

def gguf_random_blocks(rng, qt, rows, cols):
    from gguf.constants import GGML_QUANT_SIZES
    from gguf import GGMLQuantizationType as T
    blk, nbytes = GGML_QUANT_SIZES[qt]
    if qt == T.F32:
        return (rng.standard_normal((rows, cols)) * 0.02).astype(np.float32)
    if qt == T.F16:
        return (rng.standard_normal((rows, cols)) * 0.02).astype(np.float16).view(np.uint8)
    b = rng.integers(0, 256, size=(rows * (cols // blk), nbytes), dtype=np.uint8)
    # finite fp16 scales where the block starts with them
    if qt not in (T.BF16, T.Q6_K):
        s = (rng.uniform(-1, 1, rows * (cols // blk)) * 0.01).astype(np.float16)
        b[:, 0:2] = s.view(np.uint8).reshape(-1, 2)
    return b.reshape(rows, -1)


def gguf_write(path, w):
    w.write_header_to_file(path)
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def add_raw(w, name, raw, qt):
    from gguf import GGMLQuantizationType as T
    if qt == T.F32:
        w.add_tensor(name, raw)
    else:
        w.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=qt)


def tiny_llama(path, rng, tied, types, llama3=False, arch="llama"):
    """A 1-layer llama of hidden 32 (2 heads of 16, 1 kv head), ffn 32, vocab 16."""
    from gguf import GGUFWriter, GGMLQuantizationType as T
    H, F, V, hd = 32, 32, 16, 16
    w = GGUFWriter(None, arch)
    w.add_name("yieldtune fuzz seed")
    w.add_context_length(64)
    w.add_embedding_length(H)
    w.add_block_count(1)
    w.add_feed_forward_length(F)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    w.add_rope_freq_base(500000.0 if llama3 else 10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(hd)
    w.add_vocab_size(V)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe" if llama3 else "gpt-2")
    toks = ["<s>", "</s>"] + [chr(ord("a") + i) for i in range(12)] + ["ab", " "]
    w.add_token_list(toks)
    w.add_token_types([3, 3] + [1] * 14)
    w.add_token_merges(["a b"])
    w.add_bos_token_id(0)
    w.add_eos_token_id(1)
    if llama3:
        w.add_key_value("llama.rope.scaling.original_context_length", 8192,
                        __import__("gguf").GGUFValueType.UINT32)
    add_raw(w, "token_embd.weight", gguf_random_blocks(rng, types[0], V, H), types[0])
    for g in ("attn_norm", "ffn_norm"):
        w.add_tensor(f"blk.0.{g}.weight", np.ones(H, np.float32))
    shapes = {"attn_q": (2 * hd, H), "attn_k": (hd, H), "attn_v": (hd, H),
              "attn_output": (H, 2 * hd), "ffn_gate": (F, H), "ffn_up": (F, H), "ffn_down": (H, F)}
    for i, (g, shp) in enumerate(shapes.items()):
        qt = types[1 + i % (len(types) - 1)]
        add_raw(w, f"blk.0.{g}.weight", gguf_random_blocks(rng, qt, *shp), qt)
    w.add_tensor("output_norm.weight", np.ones(H, np.float32))
    if not tied:
        add_raw(w, "output.weight", gguf_random_blocks(rng, types[-1], V, H), types[-1])
    if llama3:
        # llama.cpp's converter: factors of Llama 3 scaling (factor 8, low 1, high 4)
        theta, dim, factor, low, high, old = 500000.0, hd, 8.0, 1.0, 4.0, 8192
        freqs = 1.0 / (theta ** (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)))
        f = []
        for fr in freqs:
            wl = 2 * np.pi / fr
            if wl < old / high:
                f.append(1.0)
            elif wl > old / low:
                f.append(factor)
            else:
                s = (old / wl - low) / (high - low)
                f.append(1 / ((1 - s) / factor + s))
        w.add_tensor("rope_freqs.weight", np.array(f, dtype=np.float32))
    gguf_write(path, w)


def gguf_seeds(out, tmp):
    from gguf import GGUFWriter, GGMLQuantizationType as T
    d = os.path.join(tmp, "gg")
    run_tool("make_gguf_fixtures.py", d)
    for f in ("meta.gguf", "meta_v2.gguf", "bad/truncated_header.gguf", "bad/truncated_data.gguf"):
        put(out, "gguf", f.replace("/", "_"), read(os.path.join(d, f)))
    # one small tensor of every type yieldtune dequantises, and one it does not
    rng = np.random.default_rng(7)
    w = GGUFWriter(None, "quants")
    w.add_custom_alignment(64)
    for qt in (T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q4_K, T.Q5_K,
               T.Q6_K, T.Q2_K):
        cols = 256 if qt in (T.Q4_K, T.Q5_K, T.Q6_K, T.Q2_K) else 64
        if qt == T.BF16:
            raw = rng.integers(0x3c00, 0x4000, size=(2, cols), dtype=np.uint16).view(np.uint8)
        else:
            raw = gguf_random_blocks(rng, qt, 2 if cols == 64 else 1, cols)
        add_raw(w, "raw." + qt.name, raw, qt)
    p = os.path.join(tmp, "quants_small.gguf")
    gguf_write(p, w)
    put(out, "gguf", "quants_small.gguf", read(p))
    t = os.path.join(tmp, "tk")
    run_tool("make_tokenizer_fixtures.py", t)
    for f in ("all_types.gguf", "huge_array.gguf", "truncated.gguf"):
        put(out, "gguf", "tok_" + f, read(os.path.join(t, f)))
    for f in sorted(os.listdir(t)):
        if f.endswith(".gguf"):
            put(out, "tokenizer_gguf", f, read(os.path.join(t, f)))
    # tiny llama models
    rng = np.random.default_rng(11)
    for name, tied, types, l3, arch in (
            ("untied_q8.gguf", False, (T.F16, T.Q8_0, T.Q4_0, T.Q5_1), False, "llama"),
            ("tied_mixed.gguf", True, (T.Q8_0, T.F32, T.Q4_1, T.Q5_0, T.Q5_1, T.Q4_0, T.Q8_0,
                                       T.F16), False, "llama"),
            ("llama3_rope.gguf", True, (T.F16, T.Q8_0, T.Q4_0), True, "llama"),
            ("arch_qwen2.gguf", True, (T.Q8_0, T.Q4_0), False, "qwen2")):
        p = os.path.join(tmp, name)
        tiny_llama(p, rng, tied, types, l3, arch)
        put(out, "gguf_llama", name, read(p))
        if name == "untied_q8.gguf":
            put(out, "gguf", "llama_" + name, read(p))
            put(out, "tokenizer_gguf", "llama_" + name, read(p))


# ---- config.json ----

def config_seeds(out):
    from transformers import LlamaConfig, MistralConfig
    base = dict(vocab_size=32, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    cfgs = {
        "llama.json": LlamaConfig(**base),
        "llama_tied.json": LlamaConfig(**base, tie_word_embeddings=True, bos_token_id=0,
                                       eos_token_id=[1, 2]),
        "llama3_rope.json": LlamaConfig(**base, rope_theta=500000.0, rope_scaling={
            "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 32}),
        "mistral.json": MistralConfig(**base, sliding_window=None),
        "linear_rope.json": LlamaConfig(**base, rope_scaling={"type": "linear", "factor": 2.0}),
        "head_dim.json": LlamaConfig(**base, head_dim=8),
    }
    for name, c in cfgs.items():
        put(out, "config", name, c.to_json_string())
    gen = json.dumps({"bos_token_id": 1, "eos_token_id": [128001, 128008], "do_sample": True})
    put(out, "config", "with_generation.json",
        cfgs["llama.json"].to_json_string().encode() + SEP + gen.encode())
    put(out, "config", "big_numbers.json",
        '\ufeff{"vocab_size": 32, "hidden_size": 16, "intermediate_size": 24, '
        '"num_hidden_layers": 1, "num_attention_heads": 2, "rms_norm_eps": 1e-06, '
        '"model_max_length": 1000000000000000019884624838656, "rope_theta": NaN, '
        '"x": -Infinity, "tie_word_embeddings": false}')


# ---- tokenizer.json ----

TEXT = ("The quick brown fox jumps over the lazy dog. Hello, world! 12345 naïve café "
        "日本語のテキスト 🙂 tokenizers merge pieces; x = y + 2\n\tindented line\n") * 3


def tokenizer_seeds(out):
    from tokenizers import (Tokenizer, AddedToken, decoders, models, normalizers,
                            pre_tokenizers, processors, trainers, Regex)

    def save(name, tok, edit=None):
        j = json.loads(tok.to_str())
        if edit:
            edit(j)
        put(out, "tokenizer_json", name, json.dumps(j, ensure_ascii=False, separators=(",", ":")))

    specials = ["<s>", "</s>", "<unk>"]
    # 1. GPT-2 style byte-level BPE
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    t.post_processor = processors.ByteLevel(trim_offsets=True)
    t.train_from_iterator([TEXT], trainers.BpeTrainer(
        vocab_size=300, special_tokens=specials[:2],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    save("bytelevel.json", t)

    def merges_as_strings(j):
        j["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m
                                for m in j["model"]["merges"]]
    save("bytelevel_string_merges.json", t, merges_as_strings)
    # 2. Llama 3 style: Split regex + ByteLevel without regex, template post-processor
    t = Tokenizer(models.BPE(ignore_merges=True))
    pat = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+"
           r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pat), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t.decoder = decoders.ByteLevel()
    t.train_from_iterator([TEXT], trainers.BpeTrainer(
        vocab_size=280, special_tokens=["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    t.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
        special_tokens=[("<|begin_of_text|>", t.token_to_id("<|begin_of_text|>"))])
    save("split_regex.json", t)
    # 3. Llama 2 / SentencePiece style: Prepend + Replace, byte fallback, Metaspace decoders
    t = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    t.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                   decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    bytes_ = [f"<0x{b:02X}>" for b in range(256)]
    t.train_from_iterator([TEXT], trainers.BpeTrainer(
        vocab_size=120, special_tokens=["<unk>", "<s>", "</s>"] + bytes_[:64], show_progress=False))
    t.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", t.token_to_id("<s>"))])
    save("sentencepiece.json", t)
    # 4. Metaspace pre-tokenizer, NFC, Digits, added tokens of every flag
    t = Tokenizer(models.BPE(unk_token="<unk>"))
    t.normalizer = normalizers.Sequence([normalizers.NFC()])
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)])
    t.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    t.train_from_iterator([TEXT], trainers.BpeTrainer(vocab_size=100, special_tokens=specials,
                                                      show_progress=False))
    t.add_special_tokens([AddedToken("<|im_start|>", lstrip=True), AddedToken("<|im_end|>",
                                                                               rstrip=True)])
    t.add_tokens([AddedToken("hello", single_word=True, normalized=True),
                  AddedToken(" world", normalized=False)])
    t.post_processor = processors.RobertaProcessing(("</s>", 1), ("<s>", 0))
    save("metaspace_added.json", t)
    # 5. Bert post-processor, Replace with a regex, Strip decoder
    t = Tokenizer(models.BPE(unk_token="<unk>"))
    t.normalizer = normalizers.Replace(Regex(r"\s+"), " ")
    t.pre_tokenizer = pre_tokenizers.Split(" ", behavior="merged_with_next")
    t.train_from_iterator([TEXT], trainers.BpeTrainer(vocab_size=80, special_tokens=specials,
                                                      show_progress=False))
    t.post_processor = processors.BertProcessing(("</s>", 1), ("<s>", 0))
    t.decoder = decoders.Strip(" ", 0, 1)
    save("bert_replace.json", t)


# ---- prep JSONL, chat messages, templates ----

def prep_seeds(out):
    recs = {
        "text.jsonl": [{"text": "Hello world, the quick fox."}, {"text": "   "},
                       {"text": "naïve café 日本 🙂 <s> </s>", "meta": 1}, {"text": "x" * 200}],
        "alpaca.jsonl": [{"instruction": "Add", "input": "2 and 2", "output": "4"},
                         {"instruction": "Say hi", "output": "hi"},
                         {"instruction": "Nothing", "input": "", "output": ""}],
        "chat.jsonl": [{"messages": [{"role": "system", "content": "S"},
                                     {"role": "user", "content": "hello"},
                                     {"role": "assistant", "content": "hi there"}]},
                       {"messages": []},
                       {"messages": [{"role": "user", "content": "a"},
                                     {"role": "assistant", "content": "b"},
                                     {"role": "user", "content": "c"},
                                     {"role": "assistant", "content": "d"}]}],
        "ids.jsonl": [{"input_ids": [1, 5, 9, 2]},
                      {"input_ids": [1, 7, 7, 7, 2], "labels": [-100, -100, 7, 7, 2]},
                      {"input_ids": [], "labels": None}, {"input_ids": [999]}],
    }
    for name, rs in recs.items():
        put(out, "prep", name, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rs))
    put(out, "prep", "blank_lines.jsonl", '\n{"text": "a"}\n\n\r\n{"text": "b"}')
    put(out, "prep", "bad_line.jsonl", '{"text": "a"}\n{"text": 5}\n')
    put(out, "prep", "plain.txt", "# a plain text file\nfirst paragraph\nstill first\n\n\n"
        "second paragraph\t\n   \nthird\n")


def chat_seeds(out):
    sys.path.insert(0, TOOLS)
    import template_check as tc
    convs = list(tc.CONVS) + [
        [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "2+2?"},
         {"role": "assistant", "content": "", "reasoning_content": "add",
          "tool_calls": [{"type": "function", "function": {"name": "calc",
                                                           "arguments": {"expr": "2+2"}}}]},
         {"role": "tool", "content": "4"}, {"role": "assistant", "content": "4"}],
        [{"role": "user", "content": "<|im_end|><|eot_id|></s> inside"},
         {"role": "assistant", "content": "  spaced  "}],
        [{"role": "narrator", "content": "x"}],
    ]
    k = 0
    for c in convs:
        for mode in (0, 1, 2, 3, 4 | 2, 8 | 3):
            put(out, "chat", f"conv{k:02d}_mode{mode}.json",
                bytes([0x30 + mode]) + json.dumps(c, ensure_ascii=False).encode())
        k += 1
    put(out, "chat", "not_array.json", b'0{"role": "user"}')
    put(out, "chat", "no_role.json", b'1[{"content": "x"}]')


def template_seeds(out):
    sys.path.insert(0, TOOLS)
    import template_check as tc
    srcs = list(tc.SMALL) + [b for b, _ in tc.BAD] + list(tc.OURS_ONLY)
    # the built-in templates of datasets/chat_template.c and fuzz_chat.c's two
    for path, names in ((os.path.join(HERE, "..", "..", "datasets", "chat_template.c"),
                         ("CHATML", "LLAMA3")),
                        (os.path.join(HERE, "fuzz_chat.c"), ("GEN_TEMPLATE", "TOOL_TEMPLATE"))):
        text = open(path, encoding="utf-8").read()
        for n in names:
            body = text.split(f"static const char {n}[] =", 1)[1].split(";\n", 1)[0]
            parts = []
            for line in body.strip().splitlines():
                line = line.strip()
                if line.startswith('"'):
                    parts.append(json.loads(line))
            srcs.append("".join(parts))
    for i, s in enumerate(srcs):
        put(out, "template", f"t{i:03d}.jinja", s)


# ---- token datasets, snapshots ----

def dataset_seeds(out, yt, tmp):
    jl = os.path.join(tmp, "ids.jsonl")
    cases = {
        "small.h5": [{"input_ids": [1, 5, 9, 2, 4, 4, 6]}, {"input_ids": [1, 7, 7, 7, 2],
                                                               "labels": [-100, -100, 7, 7, 2]},
                     {"input_ids": [3] * 12}],
        "one_doc.h5": [{"input_ids": list(range(1, 40))}],
        "many_docs.h5": [{"input_ids": [i + 1] * (i % 5 + 1)} for i in range(20)],
    }
    for name, recs in cases.items():
        with open(jl, "w") as f:
            for r in recs:
                f.write(json.dumps(r) + "\n")
        p = os.path.join(tmp, name)
        subprocess.run([yt, "prep", "--in", jl, "--out", p, "--vocab-size", "64",
                        "--example-tokens", "0"], check=True, stdout=subprocess.DEVNULL)
        # fuzz_write_sealed's mode byte (fuzz_util.h): 'S' sealed by the target, 'R' as is
        put(out, "dataset", name, b"S" + read(p))
    good = bytearray(read(p))
    put(out, "dataset", "raw_good.h5", b"R" + bytes(good))
    good[600] ^= 1
    put(out, "dataset", "raw_bad_checksum.h5", b"R" + bytes(good))
    put(out, "dataset", "raw_format1.h5", b"R" + read(p)[512:])


def fnv1a64(b, h=0xcbf29ce484222325):
    for x in b:
        h ^= x
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def snapshot_seeds(out, yt, tmp):
    """Snapshots in format 2 of checkpoint/checkpoint.h, written with h5py and sealed
    by tests/tools/snapshot_edit.py, each checked by tests/tools/check_snapshot.py
    (the format; they are no training run's, so `yieldtune inspect` refuses what
    they hold).  A seed is fuzz_write_sealed's mode byte and the file: 'S' (sealed
    by the target, the reader behind the header check is fuzzed) or 'R' (as is)."""
    import h5py
    sys.path.insert(0, TOOLS)
    from snapshot_edit import MAGIC, HEADER, seal

    def write(name, tensors, attrs, complete=1, libver="earliest"):
        p = os.path.join(tmp, name)
        with h5py.File(p, "w", libver=libver, userblock_size=HEADER) as f:
            f.attrs.create("format", np.bytes_(b"yieldtune-snapshot"))
            f.attrs.create("format_version", 2, dtype=np.int64)
            f.attrs.create("program_version", np.bytes_(b"fuzz-seed"))
            for k, v in attrs.items():
                if isinstance(v, str):
                    f.attrs.create(k, np.bytes_(v.encode()))
                elif isinstance(v, float):
                    f.attrs.create(k, v, dtype=np.float64)
                else:
                    f.attrs.create(k, v, dtype=np.int64)
            for tname, arr in tensors.items():
                ds = f.create_dataset(tname, data=arr, chunks=arr.shape if arr.size else None,
                                      fletcher32=bool(arr.size))
                ds.attrs.create("hash_fnv1a64", fnv1a64(arr.astype(arr.dtype.newbyteorder("<"))
                                                        .tobytes()), dtype=np.uint64)
            f.attrs.create("complete", complete, dtype=np.int64)
        with open(p, "r+b") as f:
            f.write(MAGIC)
        seal(p)
        r = subprocess.run([sys.executable, os.path.join(TOOLS, "check_snapshot.py"), p],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if complete and r.returncode != 0:
            sys.exit(f"make_corpus: check_snapshot.py refuses {name}")
        put(out, "snapshot", name, b"S" + read(p))
        return read(p)

    rng = np.random.default_rng(3)
    lora = write("lora.h5", {"lora/layers.0.q_proj.lora_A":
                             rng.standard_normal((2, 4)).astype(np.float32),
                             "lora/layers.0.q_proj.lora_B": np.zeros((4, 2), np.float32),
                             "optim/step": np.array([7, 0], np.uint64),
                             "rng/state": np.frombuffer(b"\x01\x02\x03\x04\x05", np.uint8)},
                 {"step": 7, "tokens_seen": 1234, "lr": 0.001, "config": '{"lr": 0.001}'},
                 libver=("v108", "v110"))
    scalarish = write("scalarish.h5", {"a": np.array([1.5], np.float32),
                                       "b/c/d": np.array([1], np.uint64)}, {"world_size": 2})
    write("incomplete.h5", {"a": np.arange(3, dtype=np.float32)}, {}, complete=0)
    # as is: a good header, one whose checksum is off by one bit, a format-1 file
    put(out, "snapshot", "raw_lora.h5", b"R" + lora)
    bad = bytearray(scalarish)
    bad[32] ^= 1
    put(out, "snapshot", "raw_bad_checksum.h5", b"R" + bytes(bad))
    put(out, "snapshot", "raw_format1.h5", b"R" + scalarish[HEADER:])


# ---- options, PEFT ----

def options_seeds(out, yt):
    put(out, "options", "basic.conf",
        "# a train config\nmodel = /models/tiny\ndata = \"/data/train.h5\"\nout=/runs/r1\n"
        "max_steps = 100\nlr = 5e-4   # trailing comment\nschedule = constant\n")
    put(out, "options", "everything.conf",
        "model=/m\ndata=/d.h5\nout=/o\nseq-len = 128\nmicro_batch = 2\ngrad_accum = 4\n"
        "lora_rank = 8\nlora_alpha = 16\nlora_dropout = 0.05\nlora_targets = q,k,v,o,gate,up,down\n"
        "rslora = true\nwarmup = 10\nmin_lr_ratio = 0.1\nweight_decay = 0.0\nclip = 1.0\n"
        "beta1 = 0.9\nbeta2 = 0.999\neps = 1e-8\nthreads = 2\nlog_every = 1\nzero = 1\n"
        "resume = auto\nyield_signals = USR1,TERM\nyield_deadline = TERM=0.8,USR1=0\n"
        "snapshot_every = 50\nsnapshot_seconds = 600\nkeep = 3\npack_eos = true\n"
        "doc_mask = false\neval_every = 0\ndevice = cpu\nprogress = lines\n")
    put(out, "options", "errors.conf", "model = /m\nno_such_option = 1\n")
    put(out, "options", "nested.conf", "config = other.conf\n")
    put(out, "options", "ranges.conf", "lr = -1\nseq_len = 99999999999999999999\n")
    put(out, "options", "crlf.conf", "model = /m\r\ndata = /d\r\n\r\nout = \"\"\r\n")
    # the option names, for the dictionary
    h = subprocess.run([yt, "train", "--help"], capture_output=True, text=True).stdout
    names = sorted({w[2:] for w in h.split() if w.startswith("--") and len(w) > 2})
    return names


def peft_seeds(out, tmp):
    """Adapters for fuzz_peft.c's tiny model, written by PEFT itself."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=16, hidden_size=8, intermediate_size=12, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=4,
                      max_position_embeddings=32)
    variants = {
        "qvd": dict(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj", "down_proj"]),
        "rank4": dict(r=4, lora_alpha=4, target_modules=["q_proj", "v_proj", "down_proj"]),
        "dora": dict(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj", "down_proj"],
                     use_dora=True),
        "all": dict(r=2, lora_alpha=4, target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                                       "gate_proj", "up_proj", "down_proj"]),
    }
    for name, kw in variants.items():
        m = get_peft_model(LlamaForCausalLM(cfg), LoraConfig(task_type="CAUSAL_LM", **kw))
        for n, p in m.named_parameters():
            if "lora_B" in n:
                torch.nn.init.normal_(p, std=0.1)
        d = os.path.join(tmp, "peft_" + name)
        m.save_pretrained(d)
        put(out, "peft", name + ".bin", read(os.path.join(d, "adapter_config.json")) + SEP +
            read(os.path.join(d, "adapter_model.safetensors")))
    put(out, "peft", "config_only.bin", read(os.path.join(tmp, "peft_qvd", "adapter_config.json")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--yieldtune", required=True)
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    a = ap.parse_args()
    yt = os.path.abspath(a.yieldtune)
    if os.path.isdir(a.out):
        shutil.rmtree(a.out)
    with tempfile.TemporaryDirectory() as tmp:
        safetensors_seeds(a.out, tmp)
        gguf_seeds(a.out, tmp)
        config_seeds(a.out)
        tokenizer_seeds(a.out)
        prep_seeds(a.out)
        chat_seeds(a.out)
        template_seeds(a.out)
        dataset_seeds(a.out, yt, tmp)
        snapshot_seeds(a.out, yt, tmp)
        names = options_seeds(a.out, yt)
        peft_seeds(a.out, tmp)
    with open(os.path.join(HERE, "dict", "options.dict"), "w") as f:
        f.write("# option names of yieldtune train (written by make_corpus.py)\n")
        for n in names:
            f.write(f'"{n}"\n"{n.replace("-", "_")} = "\n')
    total = 0
    for root, _, files in os.walk(a.out):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print(f"make_corpus: {total} bytes in {a.out}")


if __name__ == "__main__":
    main()
