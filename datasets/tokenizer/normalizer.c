/* Normalizers: building the chain, running it, its fingerprint (see normalizer.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "datasets/tokenizer/maps.h"
#include "datasets/tokenizer/normalizer.h"

static void norm_free(tok_norm *n)
{
    free(n->a);
    free(n->b);
    tok_re_free(&n->re);
}

/* Takes N into the chain, or frees it. */
static int push(tok_norm_chain *c, tok_norm *n, const char *where, yt_err *e)
{
    tok_norm *v = yt_realloc_array(c->v, c->n + 1, sizeof *v, "the normalizer chain", e);
    if (!v) {
        norm_free(n);
        return yt_err_prefix(e, "%s", where);
    }
    c->v = v;
    v[c->n++] = *n;
    return 0;
}

int tok_norm_add_prepend(tok_norm_chain *c, const char *s, size_t n, const char *where,
                         yt_err *e)
{
    tok_norm nm = {.kind = TN_PREPEND, .alen = n};
    if (!(nm.a = tok_memdup(s, n, "a Prepend text", e)))
        return yt_err_prefix(e, "%s", where);
    return push(c, &nm, where, e);
}

int tok_norm_add_replace(tok_norm_chain *c, const char *pat, size_t plen, int is_regex,
                         const char *content, size_t clen, const char *where, yt_err *e)
{
    tok_norm nm = {.kind = is_regex ? TN_REPLACE_RE : TN_REPLACE, .alen = plen, .blen = clen};
    nm.a = tok_memdup(pat, plen, "a Replace pattern", e);
    nm.b = nm.a ? tok_memdup(content, clen, "a Replace content", e) : NULL;
    if (!nm.a || !nm.b) {
        norm_free(&nm);
        return yt_err_prefix(e, "%s", where);
    }
    if (is_regex && tok_re_compile(&nm.re, nm.a, where, e)) {
        norm_free(&nm);
        return -1;
    }
    return push(c, &nm, where, e);
}

int tok_norm_add_nfc(tok_norm_chain *c, const char *where, yt_err *e)
{
    tok_norm nm = {.kind = TN_NFC};
    snprintf(nm.name, sizeof nm.name, "NFC");
    return push(c, &nm, where, e);
}

void tok_norm_chain_free(tok_norm_chain *c)
{
    for (size_t i = 0; i < c->n; i++)
        norm_free(&c->v[i]);
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

static int replace_all(tok_regex *re, const char *pat, size_t plen, const char *rep, size_t rlen,
                       const char *s, size_t n, const char **out, size_t *outn, tok_scratch *w,
                       yt_err *e)
{
    if (tok_find_segments(re, pat, plen, s, n, &w->seg, e))
        return -1;
    const size_t *g = w->seg.v, ns = w->seg.n;
    size_t nm = 0, total = 0;
    for (size_t i = 0; i < ns; i++) {
        if (g[3 * i + 2]) {
            nm++;
            total += rlen;
        } else {
            total += g[3 * i + 1] - g[3 * i];
        }
    }
    if (!nm) {
        *out = s;
        *outn = n;
        return 0;
    }
    char *d = tok_arena_alloc(&w->arena, total + 1, e);
    if (!d)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < ns; i++) {
        if (g[3 * i + 2]) {
            memcpy(d + o, rep, rlen);
            o += rlen;
        } else {
            size_t a = g[3 * i], b = g[3 * i + 1];
            memcpy(d + o, s + a, b - a);
            o += b - a;
        }
    }
    *out = d;
    *outn = o;
    return 0;
}

int tok_norm_chain_run(tok_norm_chain *c, const char *in, size_t n, const char **out,
                       size_t *outn, tok_scratch *w, yt_err *e)
{
    const char *s = in;
    for (size_t k = 0; k < c->n; k++) {
        tok_norm *nm = &c->v[k];
        switch (nm->kind) {
        case TN_PREPEND:
            if (n) {
                char *d = tok_arena_alloc(&w->arena, nm->alen + n + 1, e);
                if (!d)
                    return -1;
                memcpy(d, nm->a, nm->alen);
                memcpy(d + nm->alen, s, n);
                s = d;
                n += nm->alen;
            }
            break;
        case TN_REPLACE:
            if (replace_all(NULL, nm->a, nm->alen, nm->b, nm->blen, s, n, &s, &n, w, e))
                return -1;
            break;
        case TN_REPLACE_RE:
            if (replace_all(&nm->re, NULL, 0, nm->b, nm->blen, s, n, &s, &n, w, e))
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
            char *d = tok_arena_alloc(&w->arena, (size_t)len + 1, e);
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

uint64_t tok_norm_chain_hash(uint64_t h, const tok_norm_chain *c)
{
    h = tok_fp_u64(h, c->n);
    for (size_t i = 0; i < c->n; i++) {
        const tok_norm *n = &c->v[i];
        h = tok_fp_u64(h, (uint64_t)n->kind);
        h = tok_fp_bytes(h, n->a ? n->a : "", n->alen);
        h = tok_fp_bytes(h, n->b ? n->b : "", n->blen);
        h = tok_fp_str(h, n->re.src);
        h = tok_fp_str(h, n->name);
    }
    return h;
}
