/* Normalizers and pre-tokenizers (HF tokenizers semantics), regexes in PCRE2. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer_internal.h"

#include <utf8proc.h>

/* The pre-tokenizer regexes exactly as the models define them. */
const char *const tok_gpt2_regex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const char *const tok_llama3_regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char *const tok_qwen2_regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* Unicode White_Space, which Oniguruma's \s matches (PCRE2's UCP \s differs at
 * U+0085 and U+180E). */
#define WS_CLASS "\\t-\\r \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"

static char *rewrite(const char *p)
{
    size_t n = strlen(p), cap = n * 8 + 256, o = 0;
    char *r = malloc(cap);
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
    r->src = strdup(pattern);
    char *pat = rewrite(pattern);
    if (!r->src || !pat) {
        free(pat);
        return yt_errf(e, "%s: out of memory", where);
    }
    int ec;
    PCRE2_SIZE eo;
    r->code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo,
                            NULL);
    free(pat);
    if (!r->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return yt_errf(e, "%s: regex '%s' does not compile: %s", where, pattern, (char *)msg);
    }
    r->jit = pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE) == 0;
    r->md = pcre2_match_data_create_from_pattern(r->code, NULL);
    if (!r->md)
        return yt_errf(e, "%s: out of memory", where);
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

void tok_norm_free(tok_norm *n)
{
    free(n->a);
    free(n->b);
    tok_re_free(&n->re);
}

void tok_pre_free(tok_pre *p)
{
    free(p->lit);
    tok_re_free(&p->re);
}

void tok_dec_free(tok_dec *d)
{
    free(d->a);
    free(d->b);
}

/* ---------------- segments (HF Pattern::find_matches + split behaviours) ---------------- */

static int seg_push(yt_tok *t, size_t *ns, size_t a, size_t b, size_t m, yt_err *e)
{
    if (3 * (*ns + 1) > t->seg_cap) {
        size_t nc = t->seg_cap ? t->seg_cap * 2 : 3 * 256;
        size_t *v = realloc(t->seg, nc * sizeof *v);
        if (!v)
            return yt_errf(e, "out of memory (pre-tokenizer)");
        t->seg = v;
        t->seg_cap = nc;
    }
    t->seg[3 * *ns] = a;
    t->seg[3 * *ns + 1] = b;
    t->seg[3 * *ns + 2] = m;
    (*ns)++;
    return 0;
}

/* Matches of a regex or a literal in s[0..n), as (start, end, is_match) segments
 * covering the whole string. */
static int find_segments(yt_tok *t, const tok_pre *p, tok_regex *re, const char *lit, size_t litlen,
                         const char *s, size_t n, size_t *ns, yt_err *e)
{
    *ns = 0;
    if (n == 0)
        return seg_push(t, ns, 0, 0, 0, e);
    (void)p;
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
        if (prev != ms && seg_push(t, ns, prev, ms, 0, e))
            return -1;
        if (seg_push(t, ns, ms, me, 1, e))
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
    if (prev != n && seg_push(t, ns, prev, n, 0, e))
        return -1;
    return 0;
}

/* Applies the behaviour to the segments and pushes the resulting non-empty pieces. */
static int emit_segments(yt_tok *t, size_t ns, int behavior, int invert, const tok_piece *src,
                         tok_pieces *dst, yt_err *e)
{
    size_t *g = t->seg;
    if (invert)
        for (size_t i = 0; i < ns; i++)
            g[3 * i + 2] = !g[3 * i + 2];
    size_t out = 0; /* result written in place as (start, end, removed) */
    switch (behavior) {
    case TB_ISOLATED:
        for (size_t i = 0; i < ns; i++)
            g[3 * i + 2] = 0;
        out = ns;
        break;
    case TB_REMOVED:
        out = ns;
        break;
    case TB_CONTIGUOUS:
    case TB_MERGED_PREV: {
        /* contiguous: a piece joins the previous one of the same kind;
         * merged-with-previous: a match joins the piece before it */
        int prevm = 0;
        for (size_t i = 0; i < ns; i++) {
            size_t a = g[3 * i], b = g[3 * i + 1];
            int m = (int)g[3 * i + 2];
            int join = behavior == TB_CONTIGUOUS ? m == prevm : m && !prevm;
            if (join && out > 0)
                g[3 * (out - 1) + 1] = b;
            else {
                g[3 * out] = a;
                g[3 * out + 1] = b;
                g[3 * out + 2] = 0;
                out++;
            }
            prevm = m;
        }
        break;
    }
    case TB_MERGED_NEXT: {
        /* fold from the end; results are written from the back of the array */
        int prevm = 0;
        size_t w = ns; /* next free slot going down; slots >= w hold results */
        for (size_t ii = ns; ii-- > 0;) {
            size_t a = g[3 * ii], b = g[3 * ii + 1];
            int m = (int)g[3 * ii + 2];
            if (m && !prevm && w < ns)
                g[3 * w] = a;
            else {
                w--;
                g[3 * w] = a;
                g[3 * w + 1] = b;
                g[3 * w + 2] = 0;
            }
            prevm = m;
        }
        /* w >= ii always holds, so the in-place fold never overwrites unread input */
        for (size_t i = w; i < ns; i++) {
            size_t a = g[3 * i], b = g[3 * i + 1];
            if (b > a && tok_pieces_push(dst, src->p + a, b - a, src->at_origin && a == 0, e))
                return -1;
        }
        return 0;
    }
    }
    for (size_t i = 0; i < out; i++) {
        size_t a = g[3 * i], b = g[3 * i + 1];
        if (!g[3 * i + 2] && b > a &&
            tok_pieces_push(dst, src->p + a, b - a, src->at_origin && a == 0, e))
            return -1;
    }
    return 0;
}

/* ---------------- normalizers ---------------- */

static int replace_all(yt_tok *t, tok_regex *re, const char *pat, size_t plen, const char *rep,
                       size_t rlen, const char *s, size_t n, const char **out, size_t *outn,
                       yt_err *e)
{
    size_t ns;
    tok_pre dummy;
    memset(&dummy, 0, sizeof dummy);
    if (find_segments(t, &dummy, re, pat, plen, s, n, &ns, e))
        return -1;
    size_t nm = 0, total = 0;
    for (size_t i = 0; i < ns; i++) {
        if (t->seg[3 * i + 2]) {
            nm++;
            total += rlen;
        } else {
            total += t->seg[3 * i + 1] - t->seg[3 * i];
        }
    }
    if (!nm) {
        *out = s;
        *outn = n;
        return 0;
    }
    char *d = tok_arena_alloc(&t->arena, total + 1, e);
    if (!d)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < ns; i++) {
        if (t->seg[3 * i + 2]) {
            memcpy(d + o, rep, rlen);
            o += rlen;
        } else {
            size_t a = t->seg[3 * i], b = t->seg[3 * i + 1];
            memcpy(d + o, s + a, b - a);
            o += b - a;
        }
    }
    *out = d;
    *outn = o;
    return 0;
}

int tok_normalize(yt_tok *t, const char *in, size_t n, const char **out, size_t *outn, yt_err *e)
{
    const char *s = in;
    for (size_t k = 0; k < t->n_norm; k++) {
        tok_norm *nm = &t->norm[k];
        switch (nm->kind) {
        case TN_PREPEND:
            if (n) {
                char *d = tok_arena_alloc(&t->arena, nm->alen + n + 1, e);
                if (!d)
                    return -1;
                memcpy(d, nm->a, nm->alen);
                memcpy(d + nm->alen, s, n);
                s = d;
                n += nm->alen;
            }
            break;
        case TN_REPLACE:
            if (replace_all(t, NULL, nm->a, nm->alen, nm->b, nm->blen, s, n, &s, &n, e))
                return -1;
            break;
        case TN_REPLACE_RE:
            if (replace_all(t, &nm->re, NULL, 0, nm->b, nm->blen, s, n, &s, &n, e))
                return -1;
            break;
        case TN_NFC: {
            /* Text below U+0300 (no byte >= 0xcc) is already in NFC. */
            size_t i = 0;
            while (i < n && (unsigned char)s[i] < 0xcc)
                i++;
            if (i == n)
                break;
            utf8proc_uint8_t *nfc = NULL;
            utf8proc_ssize_t len = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n,
                                                &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            if (len < 0)
                return yt_errf(e, "normalizer %s: %s", nm->name, utf8proc_errmsg(len));
            char *d = tok_arena_alloc(&t->arena, (size_t)len + 1, e);
            if (!d) {
                free(nfc);
                return -1;
            }
            memcpy(d, nfc, (size_t)len);
            free(nfc);
            s = d;
            n = (size_t)len;
            break;
        }
        }
    }
    *out = s;
    *outn = n;
    return 0;
}

/* ---------------- pre-tokenizers ---------------- */

static int apply_step(yt_tok *t, tok_pre *p, const tok_piece *src, tok_pieces *dst, yt_err *e)
{
    size_t ns;
    switch (p->kind) {
    case TP_SPLIT:
    case TP_DIGITS:
        if (find_segments(t, p, p->is_regex ? &p->re : NULL, p->lit, p->litlen, src->p, src->n, &ns,
                          e))
            return -1;
        return emit_segments(t, ns, p->behavior, p->invert, src, dst, e);
    case TP_BYTELEVEL: {
        tok_piece cur = *src;
        if (p->add_prefix_space && (cur.n == 0 || cur.p[0] != ' ')) {
            char *d = tok_arena_alloc(&t->arena, cur.n + 2, e);
            if (!d)
                return -1;
            d[0] = ' ';
            memcpy(d + 1, cur.p, cur.n);
            cur.p = d;
            cur.n++;
        }
        if (!p->use_regex)
            return cur.n ? tok_pieces_push(dst, cur.p, cur.n, cur.at_origin, e) : 0;
        if (find_segments(t, p, &p->re, NULL, 0, cur.p, cur.n, &ns, e))
            return -1;
        return emit_segments(t, ns, TB_ISOLATED, 0, &cur, dst, e);
    }
    case TP_METASPACE: {
        tok_piece cur = *src;
        size_t nsp = 0;
        for (size_t i = 0; i < cur.n; i++)
            nsp += cur.p[i] == ' ';
        int starts = cur.n >= p->repl_len && memcmp(cur.p, p->repl, p->repl_len) == 0;
        int pre = 0;
        if (p->prepend_scheme == TM_ALWAYS)
            pre = 1;
        else if (p->prepend_scheme == TM_FIRST)
            pre = cur.at_origin;
        /* after the space replacement the piece starts with the replacement when it
         * started with a space */
        if (cur.n && cur.p[0] == ' ')
            starts = 1;
        if (starts)
            pre = 0;
        if (nsp || pre) {
            size_t nn = cur.n + nsp * (p->repl_len - 1) + (pre ? p->repl_len : 0);
            char *d = tok_arena_alloc(&t->arena, nn + 1, e);
            if (!d)
                return -1;
            size_t o = 0;
            if (pre) {
                memcpy(d, p->repl, p->repl_len);
                o = p->repl_len;
            }
            for (size_t i = 0; i < cur.n; i++) {
                if (cur.p[i] == ' ') {
                    memcpy(d + o, p->repl, p->repl_len);
                    o += p->repl_len;
                } else {
                    d[o++] = cur.p[i];
                }
            }
            cur.p = d;
            cur.n = o;
        }
        if (!p->split)
            return cur.n ? tok_pieces_push(dst, cur.p, cur.n, cur.at_origin, e) : 0;
        if (find_segments(t, p, NULL, p->repl, p->repl_len, cur.p, cur.n, &ns, e))
            return -1;
        return emit_segments(t, ns, TB_MERGED_NEXT, 0, &cur, dst, e);
    }
    }
    return yt_errf(e, "bad pre-tokenizer step");
}

int tok_pretokenize(yt_tok *t, const char *s, size_t n, int at_origin, yt_err *e)
{
    t->pa.n = 0;
    if (tok_pieces_push(&t->pa, s, n, at_origin, e))
        return -1;
    for (size_t k = 0; k < t->n_pre; k++) {
        t->pb.n = 0;
        for (size_t i = 0; i < t->pa.n; i++) {
            tok_piece src = t->pa.v[i];
            if (apply_step(t, &t->pre[k], &src, &t->pb, e))
                return -1;
        }
        tok_pieces tmp = t->pa;
        t->pa = t->pb;
        t->pb = tmp;
    }
    return 0;
}
