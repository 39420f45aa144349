/* PCRE2 regexes as Oniguruma reads them, and pattern matches as segments (see
 * pattern.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer/pattern.h"
#include "datasets/tokenizer/utf8.h"

/* Unicode White_Space, which Oniguruma's \s matches (PCRE2's UCP \s differs at
 * U+0085 and U+180E). */
#define WS_CLASS "\\t-\\r \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"

static char *rewrite(const char *p, yt_err *e)
{
    size_t n = strlen(p), cap = n * 8 + 256, o = 0;
    char *r = yt_malloc(cap, "the rewritten regex", e);
    if (!r)
        return NULL;
    int in_class = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        const char *ins = NULL;
        if (c == '\\' && i + 1 < n) {
            char d = p[i + 1];
            if (d == 's')
                ins = in_class ? WS_CLASS : "[" WS_CLASS "]";
            else if (d == 'S' && !in_class)
                ins = "[^" WS_CLASS "]";
            if (ins) {
                size_t l = strlen(ins);
                memcpy(r + o, ins, l);
                o += l;
            } else {
                r[o++] = c;
                r[o++] = d;
            }
            i++;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = 1;
            r[o++] = c;
            if (i + 1 < n && p[i + 1] == '^')
                r[o++] = p[++i];
            if (i + 1 < n && p[i + 1] == ']')
                r[o++] = p[++i];
            continue;
        }
        if (in_class && c == ']')
            in_class = 0;
        r[o++] = c;
    }
    r[o] = '\0';
    return r;
}

int tok_re_compile(tok_regex *r, const char *pattern, const char *where, yt_err *e)
{
    memset(r, 0, sizeof *r);
    r->src = yt_strdup(pattern, "a regex", e);
    char *pat = r->src ? rewrite(pattern, e) : NULL;
    if (!r->src || !pat) {
        free(pat);
        tok_re_free(r);
        return yt_err_prefix(e, "%s", where);
    }
    int ec;
    PCRE2_SIZE eo;
    r->code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo,
                            NULL);
    free(pat);
    if (!r->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        tok_re_free(r);
        return yt_errf(e, "%s: regex '%s' does not compile: %s", where, pattern, (char *)msg);
    }
    /* without JIT (not built in, or no memory for it) the interpreter gives the same matches */
    r->jit = pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE) == 0;
    r->md = pcre2_match_data_create_from_pattern(r->code, NULL);
    if (!r->md) {
        tok_re_free(r);
        yt_err_oom(e, "the regex match data");
        return yt_err_prefix(e, "%s", where);
    }
    return 0;
}

void tok_re_free(tok_regex *r)
{
    if (r->md)
        pcre2_match_data_free(r->md);
    if (r->code)
        pcre2_code_free(r->code);
    free(r->src);
    memset(r, 0, sizeof *r);
}

int tok_re_next(tok_regex *r, const char *s, size_t len, size_t off, size_t *start, size_t *end,
                yt_err *e)
{
    int rc = r->jit ? pcre2_jit_match(r->code, (PCRE2_SPTR)s, len, off, 0, r->md, NULL)
                    : pcre2_match(r->code, (PCRE2_SPTR)s, len, off, PCRE2_NO_UTF_CHECK, r->md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return yt_errf(e, "regex '%s': %s", r->src, (char *)msg);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
    *start = ov[0];
    *end = ov[1];
    return 1;
}

int tok_find_segments(tok_regex *re, const char *lit, size_t litlen, const char *s, size_t n,
                      tok_segs *g, yt_err *e)
{
    g->n = 0;
    if (n == 0)
        return tok_segs_push(g, 0, 0, 0, e);
    size_t prev = 0, off = 0;
    while (off <= n) {
        size_t ms, me;
        if (re) {
            int r = tok_re_next(re, s, n, off, &ms, &me, e);
            if (r < 0)
                return -1;
            if (!r)
                break;
        } else {
            if (!litlen)
                break;
            const char *f = NULL;
            for (size_t k = off; k + litlen <= n; k++)
                if (s[k] == lit[0] && memcmp(s + k, lit, litlen) == 0) {
                    f = s + k;
                    break;
                }
            if (!f)
                break;
            ms = (size_t)(f - s);
            me = ms + litlen;
        }
        if (prev != ms && tok_segs_push(g, prev, ms, 0, e))
            return -1;
        if (tok_segs_push(g, ms, me, 1, e))
            return -1;
        prev = me;
        if (me == ms) {
            if (me >= n)
                break;
            uint32_t cp;
            off = me + tok_utf8_get(s + me, n - me, &cp);
        } else {
            off = me;
        }
    }
    if (prev != n && tok_segs_push(g, prev, n, 0, e))
        return -1;
    return 0;
}
