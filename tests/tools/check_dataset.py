"""Checks the token-dataset files left by test_datasets' fixture case with h5py,
independently of the C reader: the sealed header (magic, version, size, the
whole-file checksum written out again in seal.py), names, dtypes, shapes, chunking, the Fletcher32
filter, attributes, values (from the fixture formula / the JSONL text) and the
content fingerprint (FNV-1a written out again here).

usage: check_dataset.py DIR   (DIR holds writer.h5, prep.jsonl, prep.h5)"""
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seal import check as check_header  # noqa: E402  (same folder)

FNV_SEED = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
M64 = (1 << 64) - 1


def fnv(data: bytes) -> int:
    h = FNV_SEED
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & M64
    return h


def attr_str(v):
    return v.decode() if isinstance(v, (bytes, np.bytes_)) else str(v)


def check_file(path, tokens, mask, offsets, attrs):
    check_header(path, b"\x89yieldtune-toks\n")
    with h5py.File(path, "r") as f:
        assert sorted(f.keys()) == ["doc_offsets", "loss_mask", "tokens"], list(f.keys())
        want = {"tokens": np.uint32, "loss_mask": np.uint8, "doc_offsets": np.uint64}
        for name, dt in want.items():
            d = f[name]
            assert d.dtype == np.dtype(dt).newbyteorder("<"), (name, d.dtype)
            assert d.ndim == 1, (name, d.shape)
            assert d.chunks is not None, f"{name} is not chunked"
            assert d.maxshape == (None,), (name, d.maxshape)
            assert d.fletcher32, f"{name} lacks the Fletcher32 filter"
        t, m, o = f["tokens"][...], f["loss_mask"][...], f["doc_offsets"][...]
        assert np.array_equal(t, np.asarray(tokens, np.uint32)), (t, tokens)
        assert np.array_equal(m, np.asarray(mask, np.uint8)), (m, mask)
        assert np.array_equal(o, np.asarray(offsets, np.uint64)), (o, offsets)
        a = f.attrs
        assert attr_str(a["format"]) == "yieldtune-tokens"
        assert int(a["format_version"]) == 2 and a["format_version"].dtype.kind == "i"
        for k, v in attrs.items():
            got = a[k]
            if isinstance(v, str):
                assert attr_str(got) == v, (k, got, v)
            else:
                assert int(got) == v, (k, got, v)
        for k in ("vocab_size", "max_token_id_plus_one", "n_docs", "n_tokens",
                  "n_counted_tokens", "content_fingerprint"):
            assert a[k].dtype == np.uint64, (k, a[k].dtype)
        assert int(a["n_docs"]) == len(offsets) - 1
        assert int(a["n_tokens"]) == len(tokens)
        assert int(a["n_counted_tokens"]) == int(sum(mask))
        assert int(a["max_token_id_plus_one"]) == (max(tokens) + 1 if tokens else 0)
        parts = [fnv(np.asarray(tokens, "<u4").tobytes()),
                 fnv(np.asarray(mask, "u1").tobytes()),
                 fnv(np.asarray(offsets, "<u8").tobytes())]
        fp = fnv(np.asarray(parts, "<u8").tobytes())
        assert int(a["content_fingerprint"]) == fp, (hex(int(a["content_fingerprint"])), hex(fp))
    print(f"ok: {path}: {len(tokens)} tokens, {len(offsets) - 1} docs")


def main():
    d = sys.argv[1]
    # writer.h5: doc d has LEN[d] tokens, token i = (d*7919 + i*104729) % 32000,
    # mask all 1 for docs 0 and 3, else (d + i) % 3 != 0.
    lens = [5, 9, 0, 13, 1, 22]
    tokens, mask, offsets = [], [], [0]
    for doc, n in enumerate(lens):
        for i in range(n):
            tokens.append((doc * 7919 + i * 104729) % 32000)
            mask.append(1 if doc in (0, 3) else int((doc + i) % 3 != 0))
        offsets.append(len(tokens))
    check_file(f"{d}/writer.h5", tokens, mask, offsets,
               {"tokenizer_fingerprint": "none", "vocab_size": 32000,
                "source": "test_datasets fixture"})

    # prep.h5 from prep.jsonl: empty lines and empty documents skipped, labels -100 = 0.
    tokens, mask, offsets = [], [], [0]
    with open(f"{d}/prep.jsonl") as f:
        for line in f:
            if not line.strip():
                continue
            obj = json.loads(line)
            ids = obj["input_ids"]
            if not ids:
                continue
            labels = obj.get("labels")
            tokens += ids
            mask += [1] * len(ids) if labels is None else [int(x != -100) for x in labels]
            offsets.append(len(tokens))
    check_file(f"{d}/prep.h5", tokens, mask, offsets,
               {"tokenizer_fingerprint": "none", "vocab_size": 128,
                "source": f"jsonl:{d}/prep.jsonl"})


if __name__ == "__main__":
    main()
