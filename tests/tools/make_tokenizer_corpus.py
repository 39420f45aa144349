#!/usr/bin/env python3
"""Writes a deterministic, varied text corpus as JSONL {"text": ...} records for the
tokenizer parity tests (tests/integration/tokenizer_parity.sh).

The same seed gives the same bytes on every machine (random.Random only, fixed
tables, no hash-ordered iteration).  Categories: English prose with contractions,
code, CJK, emoji (ZWJ sequences, skin tones, flags, keycaps), combining marks,
runs of spaces/newlines/tabs and exotic white space, digits of all lengths and
number systems, mixed scripts, the literal text of special/added tokens of the
common Llama-family tokenizers (whole, partial, glued, spaced), and edge cases
(empty, lone spaces, very long words, control characters, NUL).

usage: make_tokenizer_corpus.py OUT.jsonl [--mb 1.2] [--seed 1234]
"""
import argparse
import json
import random

WORDS = (
    "the of and to in is was that for it with as his on be at by had are but from or have an "
    "they which one you were her all she there would their we him been has when who will more "
    "no if out so said what up its about into than them can only other new some could time "
    "these two may then do first any my now such like our over man me even most made after "
    "also did many before must through back years where much your way well down should because "
    "each just those people how too little state good very make world still own see men work "
    "long get here between both life being under never day same another know while last might "
    "us great old year off come since against go came right used take three tokenizer merge "
    "preemption gradient checkpoint snapshot throughput latency Hugging Face Llama Mistral "
    "TinyLlama SmolLM Qwen naïve café résumé coöperate façade jalapeño Zürich São Paulo"
).split()
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M",
                "'LL", "'D", "’s", "’ll", "'Ll", "n't", "'", "''", "'x"]
PUNCT = [".", ",", ";", ":", "!", "?", "...", " -", " —", " –", "\"", "(", ")", "[", "]", "{",
         "}", "«", "»", "„", "“", "”", "‘", "’", "¿", "¡", "…", "·", "•", "§", "¶", "†", "‰"]

CODE = [
    "def {f}(x, y=None):\n    \"\"\"Return {w}.\"\"\"\n    if x is None:\n        return []\n"
    "    return [v * 2 for v in x if v % 3 == 0]\n",
    "#include <stdio.h>\n\nint main(int argc, char **argv)\n{{\n\tfor (int i = 0; i < argc; i++)\n"
    "\t\tprintf(\"%s\\n\", argv[i]);\n\treturn 0;\n}}\n",
    "const {f} = async (req, res) => {{\n  const {{ id }} = req.params;\n  await db.query(`SELECT * "
    "FROM t WHERE id = ${{id}}`);\n  res.json({{ ok: true }});\n}};\n",
    "SELECT name, COUNT(*) AS n FROM users u JOIN orders o ON o.user_id = u.id WHERE n >= 10 "
    "GROUP BY name;\n",
    "<div class=\"{w}\"><a href=\"https://example.com/{f}?q=1&x=2#top\">{w}</a></div>\n",
    "fn {f}(v: &[u32]) -> Option<u64> {{\n    v.iter().map(|&x| x as u64).reduce(|a, b| a.wrapping_mul(b))\n}}\n",
    "    if (a != b && c <= d || !e) {{ x += 1; y -= 2; z *= 3; w /= 4; q %= 5; r <<= 1; }}\n",
    "{{\"key\": \"{w}\", \"n\": 12345, \"arr\": [1, 2.5e-3, null, true], \"nested\": {{\"a\": \"b\"}}}}\n",
    "$ ./configure --prefix=/usr/local && make -j8 && sudo make install 2>&1 | tee log.txt\n",
    "# {w}\n\n- item one\n- item **two**\n  1. nested `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
]

CJK_PHRASES = ["日本語のテキストです。", "今日はいい天気ですね！", "東京都渋谷区", "カタカナとひらがな",
               "中文文本处理", "机器学习模型", "我们在训练语言模型。", "繁體中文與簡體中文",
               "한국어 텍스트입니다.", "안녕하세요, 세계!", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ　１２３",
               "「引用」と『二重引用』", "、。・ー〜"]

EMOJI = ["😀", "🤖", "🚀", "🔥", "👍", "👍🏽", "👍🏿", "❤️", "✨", "🎉", "🧑‍💻", "👨‍👩‍👧‍👦", "👩🏽‍🚀",
         "🏳️‍🌈", "🏴‍☠️", "🇫🇷", "🇯🇵", "🇺🇸", "1️⃣", "#️⃣", "☺︎", "☺️", "🫠", "🦀", "🐍", "🤷‍♀️",
         "👁️‍🗨️", "🧔🏻‍♂️", "🙇‍♂️", "⌚", "©", "®", "™"]

COMBINING = ["e\u0301", "a\u0300", "o\u0308", "n\u0303", "c\u0327", "A\u030a", "i\u0302\u0323",
             "Tiếng Việt có dấu", "Tie\u0302\u0301ng Vie\u0323\u0302t", "z\u0307\u0323",
             "हिन्दी भाषा", "क्षत्रिय", "العربية مُشَكَّلَة", "עִבְרִית", "ภาษาไทย",
             "각", "a\u0336b\u0336c\u0336", "Z\u0351\u0352\u0353a\u0354l\u0355g\u0356o\u0357"]

SCRIPTS = ["Привет, мир! Как дела?", "Ελληνικά γράμματα αβγδ", "Ünïcödé Ëxämplë", "Ωμέγα",
           "Tschüß, Straße", "ǅemal ǈubljana", "İstanbul ıi", "مرحبا بالعالم", "שלום עולם",
           "Հայերեն", "ქართული", "አማርኛ", "ᠮᠣᠩᠭᠣᠯ", "ᏣᎳᎩ", "𐌰𐌱𐌲 gothic", "𓀀𓀁 hieroglyphs",
           "𠀀𠀁 ext-B", "ꙮ", "ſtraße ſ", "Kelvin K and Å angstrom"]

WHITESPACE = [" ", "  ", "   ", "    ", "        ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n",
              "\r\n\r\n", " \n", "\n ", " \t \n", "\u00a0", "\u3000", "\u2028", "\u2029", "\u0085",
              "\u180e", "\u200b", "\u2009", "\u202f", "\u205f", "\u000b", "\u000c", " \u00a0 "]

SPECIALS = ["<s>", "</s>", "<unk>", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>",
            "<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_5|>",
            "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<file_sep>",
            "<jupyter_code>", "[INST]", "[/INST]", "<<SYS>>", "<|im_start", "<s", "s>", "<<s>>",
            "</s>>", "<|", "|>", "<|eot_id", "<0x41>", "<0xZZ>"]

CONTROL = ["\x00", "\x01", "\x07", "\x1b[31m", "\x7f", "\u0080", "\u009f", "\ufeff", "\ufffd",
           "\ue000", "\U000f0000", "\u200d", "\u200e", "\u2060"]


def number(rng):
    k = rng.choice([1, 1, 2, 3, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 40])
    s = str(rng.randrange(1, 10)) + "".join(str(rng.randrange(10)) for _ in range(k - 1))
    form = rng.randrange(10)
    if form == 0 and k > 3:
        s = f"{int(s):,}"
    elif form == 1:
        s = s + "." + str(rng.randrange(1000))
    elif form == 2:
        s = "-" + s
    elif form == 3:
        s = rng.choice(["１２３", "٣٤٥", "०१२", "²³", "½", "Ⅻ", "①", "𝟗𝟖"]) + s
    elif form == 4:
        s = s + rng.choice(["%", "px", "kg", "th", "e-5", "x10^3"])
    return s


def sentence(rng):
    n = rng.randrange(3, 25)
    out = []
    for i in range(n):
        w = rng.choice(WORDS)
        if i == 0 or rng.random() < 0.08:
            w = w[:1].upper() + w[1:]
        if rng.random() < 0.04:
            w = w.upper()
        if rng.random() < 0.12:
            w += rng.choice(CONTRACTIONS)
        if rng.random() < 0.07:
            w = number(rng)
        out.append(w)
        if rng.random() < 0.1:
            out[-1] += rng.choice(PUNCT)
    return " ".join(out) + rng.choice([".", ".", ".", "!", "?", "...", ":", ""])


def prose(rng):
    paras = []
    for _ in range(rng.randrange(1, 5)):
        paras.append(" ".join(sentence(rng) for _ in range(rng.randrange(1, 6))))
    return rng.choice(["\n\n", "\n", " "]).join(paras)


def code(rng):
    c = rng.choice(CODE).format(f=rng.choice(["solve", "parse_x", "fooBar", "_init", "f2"]),
                                w=rng.choice(WORDS))
    if rng.random() < 0.3:
        c = c.replace("    ", "\t")
    return c * rng.randrange(1, 3)


def mix(rng, pool, k):
    parts = []
    for _ in range(k):
        parts.append(rng.choice(pool))
        parts.append(rng.choice([" ", "", "", " ", "\n", rng.choice(WORDS) + " "]))
    return "".join(parts)


def whitespace_text(rng):
    parts = []
    for _ in range(rng.randrange(2, 20)):
        parts.append(rng.choice(WHITESPACE) * rng.randrange(1, 4))
        parts.append(rng.choice(WORDS + [number(rng), rng.choice(PUNCT), ""]))
    return "".join(parts)


def specials_text(rng):
    parts = []
    for _ in range(rng.randrange(1, 8)):
        parts.append(rng.choice([" ", "", "  ", "\n", "x", "word "]))
        parts.append(rng.choice(SPECIALS))
        parts.append(rng.choice([" ", "", "  ", "\n", "x", " word", "user\n"]))
    return "".join(parts)


def edge(rng):
    return rng.choice([
        "", " ", "  ", "\n", "\t", "a", "A", "'", "'s", " 's", "0", "00", "000", "0000",
        "a" * rng.randrange(300, 3000), "ab" * rng.randrange(100, 1200),
        " " * rng.randrange(50, 400), "\n" * rng.randrange(10, 100), "!" * 100, "😀" * 200,
        "日本" * 300, "\u0301" * 20, "e" + "\u0301" * 30,
        "https://example.com/path/to/file.html?query=value&other=1",
        "user.name+tag@example.co.uk", "C:\\Program Files\\App\\bin\\app.exe",
        "".join(rng.choice(CONTROL) for _ in range(10)),
        "null\x00byte\x00inside", "tab\tseparated\tvalues\t1\t2\t3",
        "trailing spaces   ", "   leading spaces", "\u00a0nbsp\u00a0", "x\u200by",
        "".join(chr(rng.randrange(0x20, 0x2fff)) for _ in range(50)),
    ])


def record(rng):
    kind = rng.choices(
        ["prose", "code", "cjk", "emoji", "comb", "scripts", "ws", "digits", "specials", "edge",
         "mixed"],
        weights=[30, 12, 8, 6, 6, 6, 8, 6, 6, 6, 6])[0]
    if kind == "prose":
        return prose(rng)
    if kind == "code":
        return code(rng)
    if kind == "cjk":
        return mix(rng, CJK_PHRASES, rng.randrange(1, 12))
    if kind == "emoji":
        return mix(rng, EMOJI + WORDS[:20], rng.randrange(1, 20))
    if kind == "comb":
        return mix(rng, COMBINING, rng.randrange(1, 10))
    if kind == "scripts":
        return mix(rng, SCRIPTS, rng.randrange(1, 10))
    if kind == "ws":
        return whitespace_text(rng)
    if kind == "digits":
        return " ".join(number(rng) for _ in range(rng.randrange(1, 30))) + \
            rng.choice(["", "\n", "123456789012345678901234567890", "3.14159265358979"])
    if kind == "specials":
        return specials_text(rng)
    if kind == "edge":
        return edge(rng)
    pools = [CJK_PHRASES, EMOJI, COMBINING, SCRIPTS, SPECIALS, WORDS, PUNCT, WHITESPACE]
    return "".join(rng.choice(rng.choice(pools)) + rng.choice(["", " "])
                   for _ in range(rng.randrange(5, 60)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--mb", type=float, default=1.2)
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    target = int(a.mb * 1e6)
    total = 0
    n = 0
    with open(a.out, "w", encoding="utf-8") as f:
        while total < target:
            t = record(rng)
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
            total += len(t.encode("utf-8"))
            n += 1
    print(f"make_tokenizer_corpus: {n} records, {total} bytes of text -> {a.out}")


if __name__ == "__main__":
    main()
