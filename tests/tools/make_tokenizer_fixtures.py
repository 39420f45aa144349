#!/usr/bin/env python3
"""Fixtures for tests/unit/test_tokenizer.c, written into DIR by the PyPI `gguf`
package (the reference writer) at test time:

  all_types.gguf   one key of every GGUF value type, arrays of numbers, strings and
                   bools, and a nested array (values repeated in test_tokenizer.c)
  tiny.gguf        a "gpt2" tokenizer: the 256 byte-level symbols, then "he", "ll",
                   "hell", "hello" and the special "<|end|>"; merges "h e", "l l",
                   "he ll", "hell o"; pre "gpt-2"; bos = eos = <|end|>
  tiny_llama.gguf  a "llama" (SentencePiece) tokenizer: <unk>, <s>, </s>, 256 byte
                   tokens <0x00>..<0xFF>, then pieces with scores
  bad_magic.gguf, bad_version.gguf, truncated.gguf (cut inside tokenizer.ggml.tokens),
  huge_array.gguf (tokenizer.ggml.merges claims 2^60 elements), no_model.gguf (no
  tokenizer.ggml.model), bad_merge.gguf (a merge whose token is not in the vocabulary),
  bad_pre.gguf (tokenizer.ggml.pre = "no-such-pre")

usage: make_tokenizer_fixtures.py DIR
"""
import os
import struct
import sys

import gguf


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def write(path, fill):
    w = gguf.GGUFWriter(path, "llama")
    fill(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def all_types(w):
    T = gguf.GGUFValueType
    w.add_key_value("t.u8", 200, T.UINT8)
    w.add_key_value("t.i8", -100, T.INT8)
    w.add_key_value("t.u16", 60000, T.UINT16)
    w.add_key_value("t.i16", -30000, T.INT16)
    w.add_key_value("t.u32", 4000000000, T.UINT32)
    w.add_key_value("t.i32", -2000000000, T.INT32)
    w.add_key_value("t.f32", 1.5, T.FLOAT32)
    w.add_key_value("t.bool", True, T.BOOL)
    w.add_key_value("t.str", "héllo wörld", T.STRING)
    w.add_key_value("t.u64", 18000000000000000000, T.UINT64)
    w.add_key_value("t.i64", -9000000000000000000, T.INT64)
    w.add_key_value("t.f64", -2.25, T.FLOAT64)
    w.add_array("t.arr_i32", [1, -2, 3])
    w.add_array("t.arr_f32", [0.5, -1.25])
    w.add_array("t.arr_str", ["a", "", "日本"])
    w.add_array("t.arr_bool", [True, False, True])
    w.add_array("t.nested", [[1, 2], [3, 4, 5]])


def tiny_tokens():
    b2u = bytes_to_unicode()
    toks = [b2u[b] for b in range(256)] + ["he", "ll", "hell", "hello", "<|end|>"]
    types = [1] * 260 + [3]
    merges = ["h e", "l l", "he ll", "hell o"]
    return toks, types, merges


def tiny(w, pre="gpt-2", merges=None, model=True, toks=None):
    t, types, m = tiny_tokens()
    if model:
        w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(toks if toks is not None else t)
    w.add_token_types(types)
    w.add_token_merges(merges if merges is not None else m)
    w.add_bos_token_id(260)
    w.add_eos_token_id(260)


def tiny_llama(w):
    pieces = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] + \
        ["▁", "h", "e", "l", "o", "w", "r", "d", "▁h", "ll", "he", "▁he", "▁hell", "▁hello",
         "▁w", "or", "▁wor", "▁world"]
    scores = [0.0] * 259 + [-float(i) for i in range(len(pieces) - 259)]
    types = [2, 3, 3] + [6] * 256 + [1] * (len(pieces) - 259)
    w.add_tokenizer_model("llama")
    w.add_token_list(pieces)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)


def find(data, needle):
    i = data.find(needle)
    assert i >= 0, needle
    return i


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    p = lambda n: os.path.join(d, n)
    write(p("all_types.gguf"), all_types)
    write(p("tiny.gguf"), tiny)
    write(p("tiny_llama.gguf"), tiny_llama)
    write(p("no_model.gguf"), lambda w: tiny(w, model=False))
    write(p("bad_merge.gguf"), lambda w: tiny(w, merges=["h e", "x yz"]))
    write(p("bad_pre.gguf"), lambda w: tiny(w, pre="no-such-pre"))
    good = open(p("tiny.gguf"), "rb").read()
    open(p("bad_magic.gguf"), "wb").write(b"GGUX" + good[4:])
    open(p("bad_version.gguf"), "wb").write(good[:4] + struct.pack("<I", 1) + good[8:])
    k = find(good, b"tokenizer.ggml.tokens")
    open(p("truncated.gguf"), "wb").write(good[:k + 200])
    # key string, then value type (u32 = 9, array), element type (u32), count (u64)
    k = find(good, b"tokenizer.ggml.merges") + len(b"tokenizer.ggml.merges") + 8
    huge = bytearray(good)
    huge[k:k + 8] = struct.pack("<Q", 1 << 60)
    open(p("huge_array.gguf"), "wb").write(bytes(huge))
    print(f"make_tokenizer_fixtures: wrote fixtures into {d}")


if __name__ == "__main__":
    main()
