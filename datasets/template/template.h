/* datasets/template: a Jinja interpreter for chat templates, the subset that the
 * chat templates of Hugging Face models use, with the semantics transformers'
 * apply_chat_template gives them (jinja2 ImmutableSandboxedEnvironment with
 * trim_blocks, lstrip_blocks, loop controls and {% generation %}; its tojson; one
 * trailing newline of the source dropped).
 *
 * Supported: {{ }}, {# #}, whitespace control (-, +); if/elif/else, for (else,
 * loop filter "if", unpacking, loop.index/index0/revindex/first/last/length/
 * previtem/nextitem/cycle), set (names, tuples, ns.attr, blocks), macro, break,
 * continue, filter blocks, generation; expressions with Python semantics (ints,
 * floats, strings of code points, lists, tuples, dicts, none, slicing, ~ + - * / //
 * % **, comparisons, in, and/or/not, a if b else c); the filters, tests, globals
 * and str/dict methods of tpl_filters*.c, tpl_tests.c, tpl_globals.c and
 * tpl_methods.c.  Anything else (include, extends, import, raw, unknown
 * filters...) is an error at compile or render time.
 *
 * Provenance: every string carries, per byte, a tag (uint32): literals of the
 * template have tag 0; a caller tags its input strings (yt_tpl_render tags the
 * strings under messages[i]["content"] with i + 1) and the tags follow the bytes
 * through concatenation, slicing, strip, split, replace, join, case changes and
 * tojson.  The output says which message's content each byte came from and which
 * bytes a {% generation %} block wrote (YT_TPL_GEN), from which prep derives its
 * loss mask.
 *
 * Limits: nesting depth (expressions, blocks, macro calls), output size, memory
 * and evaluation steps are bounded (yt_tpl_limits); a template that passes one
 * fails with an error, as does raise_exception().  Every error reads
 * "NAME:LINE:COL: what" with the line and column in the template source.
 * Nothing prints; internally errors unwind by longjmp to the entry point and
 * all memory lives in arenas, so nothing leaks.
 *
 * Files, lowest layer first; each calls only files of the layers before its own
 * (tests/tools/file_cycles.py checks the object files for call loops):
 *   arena, utf8 < rt (render errors, bounds) < str (tagged strings) < value
 *   < repr (str/repr) < json (json.dumps) < args (builtin arguments)
 *   < methods (str/dict), globals < scope < vars (render variables from JSON)
 *   < access (attributes, items, slices, calls) < tests < filters_seq < filters
 *   < eval (expressions) < exec (statements, macro calls)
 *   < lex < parse_expr < parse (which checks filter and test names) < api.
 * A macro called in an expression runs statements: that one recursion goes
 * through rt->call_macro, which yt_tpl_render sets to tpl_call_macro. */
#ifndef YT_TEMPLATE_H
#define YT_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

typedef struct yt_tpl yt_tpl;

typedef struct yt_tpl_limits {
    size_t max_output;  /* bytes of rendered text (0 -> 64 MiB) */
    size_t max_memory;  /* bytes of values alive during one render (0 -> 512 MiB) */
    uint64_t max_steps; /* expression evaluations + loop iterations (0 -> 50 M) */
    int max_depth;      /* nesting of expressions, blocks and macro calls (0 -> 200) */
} yt_tpl_limits;

/* Compiles SRC (len bytes, UTF-8).  NAME names the template in every message, e.g.
 * "model/tokenizer_config.json: chat_template".  lim may be NULL. */
int yt_tpl_compile(yt_tpl **out, const char *src, size_t len, const char *name,
                   const yt_tpl_limits *lim, yt_err *e);
void yt_tpl_free(yt_tpl *t);
const char *yt_tpl_name(const yt_tpl *t);
/* 1 when the template has {% generation %} blocks. */
int yt_tpl_has_generation(const yt_tpl *t);

/* Tag bit of bytes written inside a {% generation %} block. */
#define YT_TPL_GEN 0x80000000u

/* Rendered text and its tags: byte k of text has the tag of the first run whose
 * end > k.  Runs are maximal (neighbours differ). */
typedef struct yt_tpl_run {
    size_t end;
    uint32_t tag; /* (message index + 1) or 0, | YT_TPL_GEN */
} yt_tpl_run;

typedef struct yt_tpl_out {
    char *text;       /* NUL-terminated */
    size_t n;
    yt_tpl_run *runs;
    size_t nruns;
    size_t cap, rcap; /* internal */
} yt_tpl_out;

/* Renders with the variables of VARS (a JSON object; its strings under
 * "messages"[i]["content"] get tag i + 1) plus the globals raise_exception,
 * strftime_now, range, namespace, dict.  OUT is overwritten (reuse it across calls;
 * free with yt_tpl_out_free). */
int yt_tpl_render(yt_tpl *t, json_t *vars, yt_tpl_out *out, yt_err *e);
void yt_tpl_out_free(yt_tpl_out *o);

#endif
