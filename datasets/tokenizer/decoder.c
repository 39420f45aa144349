/* Decoders: building the chain, running it over the token strings of a decode, its
 * fingerprint (see decoder.h). */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer/buffers.h"
#include "datasets/tokenizer/decoder.h"
#include "datasets/tokenizer/maps.h"
#include "datasets/tokenizer/pretokenizer.h"
#include "datasets/tokenizer/utf8.h"

/* ---------------- building ---------------- */

static int push(tok_dec_chain *c, tok_dec *d, const char *where, yt_err *e)
{
    tok_dec *v = yt_realloc_array(c->v, c->n + 1, sizeof *v, "the decoder chain", e);
    if (!v) {
        free(d->a);
        free(d->b);
        return yt_err_prefix(e, "%s", where);
    }
    c->v = v;
    v[c->n++] = *d;
    c->present = 1;
    return 0;
}

int tok_dec_add(tok_dec_chain *c, int kind, const char *where, yt_err *e)
{
    tok_dec d = {.kind = kind};
    return push(c, &d, where, e);
}

int tok_dec_add_replace(tok_dec_chain *c, const char *pat, size_t plen, const char *content,
                        size_t clen, const char *where, yt_err *e)
{
    tok_dec d = {.kind = TD_REPLACE, .alen = plen, .blen = clen};
    d.a = tok_memdup(pat, plen, "a Replace pattern", e);
    d.b = d.a ? tok_memdup(content, clen, "a Replace content", e) : NULL;
    if (!d.a || !d.b) {
        free(d.a);
        free(d.b);
        return yt_err_prefix(e, "%s", where);
    }
    return push(c, &d, where, e);
}

int tok_dec_add_strip(tok_dec_chain *c, uint32_t content, size_t start, size_t stop,
                      const char *where, yt_err *e)
{
    tok_dec d = {.kind = TD_STRIP, .content = content, .start = start, .stop = stop};
    return push(c, &d, where, e);
}

int tok_dec_add_metaspace(tok_dec_chain *c, uint32_t repl, int prepend_scheme, const char *where,
                          yt_err *e)
{
    tok_dec d = {.kind = TD_METASPACE, .repl = repl, .prepend_scheme = prepend_scheme};
    return push(c, &d, where, e);
}

void tok_dec_chain_free(tok_dec_chain *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].a);
        free(c->v[i].b);
    }
    free(c->v);
    c->v = NULL;
    c->n = 0;
    c->present = 0;
}

/* ---------------- the list of strings ---------------- */

void tok_strs_free(tok_strs *v)
{
    for (size_t i = 0; i < v->len; i++)
        free(v->s[i]);
    free(v->s);
    free(v->n);
    memset(v, 0, sizeof *v);
}

/* Takes ownership of p (malloc'ed, n bytes + NUL). */
static int strs_push_own(tok_strs *v, char *p, size_t n, yt_err *e)
{
    if (v->len == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 64;
        char **s = yt_realloc_array(v->s, nc, sizeof *s, "the token strings", e);
        if (s)
            v->s = s;
        size_t *l = s ? yt_realloc_array(v->n, nc, sizeof *l, "the token string lengths", e) : NULL;
        if (l)
            v->n = l;
        if (!s || !l) {
            free(p);
            return yt_err_prefix(e, "decode");
        }
        v->cap = nc;
    }
    v->s[v->len] = p;
    v->n[v->len] = n;
    v->len++;
    return 0;
}

int tok_strs_push(tok_strs *v, const char *p, size_t n, yt_err *e)
{
    char *c = tok_memdup(p, n, "a token string", e);
    if (!c)
        return yt_err_prefix(e, "decode");
    return strs_push_own(v, c, n, e);
}

/* Replaces v by the one string t (taken). */
static int strs_set_text(tok_strs *v, yt_tok_text *t, yt_err *e)
{
    tok_strs_free(v);
    if (!t->s && yt_tok_text_append(t, "", 0, e))
        return -1;
    int rc = strs_push_own(v, t->s, t->n, e);
    memset(t, 0, sizeof *t);
    return rc;
}

/* ---------------- steps ---------------- */

static int dec_bytelevel(tok_strs *v, yt_err *e)
{
    yt_tok_text raw = {0};
    for (size_t i = 0; i < v->len; i++) {
        const char *p = v->s[i];
        size_t n = v->n[i], k = 0, start = raw.n;
        int ok = 1;
        while (k < n) {
            uint32_t cp;
            k += tok_utf8_get(p + k, n - k, &cp);
            int b = tok_cp_to_byte(cp);
            if (b < 0) {
                ok = 0;
                break;
            }
            char c = (char)b;
            if (yt_tok_text_append(&raw, &c, 1, e)) {
                free(raw.s);
                return -1;
            }
        }
        if (!ok) {
            raw.n = start;
            if (yt_tok_text_append(&raw, p, n, e)) {
                free(raw.s);
                return -1;
            }
        }
    }
    yt_tok_text out = {0};
    int rc = tok_utf8_lossy(&out, raw.s ? raw.s : "", raw.n, e);
    free(raw.s);
    if (rc) {
        free(out.s);
        return -1;
    }
    return strs_set_text(v, &out, e);
}

static int dec_replace(tok_strs *v, const tok_dec *d, yt_err *e)
{
    if (!d->alen)
        return 0;
    for (size_t i = 0; i < v->len; i++) {
        const char *p = v->s[i];
        size_t n = v->n[i];
        if (!memmem(p, n, d->a, d->alen))
            continue;
        yt_tok_text o = {0};
        size_t k = 0;
        while (k < n) {
            const char *f = memmem(p + k, n - k, d->a, d->alen);
            size_t upto = f ? (size_t)(f - p) : n;
            if (yt_tok_text_append(&o, p + k, upto - k, e))
                goto fail;
            if (!f)
                break;
            if (yt_tok_text_append(&o, d->b, d->blen, e))
                goto fail;
            k = upto + d->alen;
        }
        if (!o.s && yt_tok_text_append(&o, "", 0, e))
            goto fail;
        free(v->s[i]);
        v->s[i] = o.s;
        v->n[i] = o.n;
        continue;
    fail:
        free(o.s);
        return -1;
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "<0xHH>" (Rust u8::from_str_radix also takes "+H") -> byte, else -1 */
static int byte_token(const char *p, size_t n)
{
    if (n != 6 || memcmp(p, "<0x", 3) != 0 || p[5] != '>')
        return -1;
    if (p[3] == '+') {
        int h = hexval(p[4]);
        return h;
    }
    int h = hexval(p[3]), l = hexval(p[4]);
    if (h < 0 || l < 0)
        return -1;
    return h * 16 + l;
}

static int dec_bytefallback(tok_strs *v, yt_err *e)
{
    tok_strs o = {0};
    yt_tok_text bytes = {0};
    size_t nbytes = 0;
    for (size_t i = 0; i <= v->len; i++) {
        int b = i < v->len ? byte_token(v->s[i], v->n[i]) : -1;
        if (b >= 0) {
            char c = (char)b;
            if (yt_tok_text_append(&bytes, &c, 1, e))
                goto fail;
            nbytes++;
            continue;
        }
        if (nbytes) {
            if (yt_tok_utf8_check(bytes.s, bytes.n) == bytes.n) {
                if (tok_strs_push(&o, bytes.s, bytes.n, e))
                    goto fail;
            } else {
                for (size_t k = 0; k < nbytes; k++)
                    if (tok_strs_push(&o, "\xef\xbf\xbd", 3, e))
                        goto fail;
            }
            bytes.n = 0;
            nbytes = 0;
        }
        if (i < v->len) {
            char *s = v->s[i];
            v->s[i] = NULL;
            if (strs_push_own(&o, s, v->n[i], e))
                goto fail;
        }
    }
    free(bytes.s);
    tok_strs_free(v);
    *v = o;
    return 0;
fail:
    free(bytes.s);
    tok_strs_free(&o);
    return -1;
}

static int dec_fuse(tok_strs *v, yt_err *e)
{
    yt_tok_text o = {0};
    for (size_t i = 0; i < v->len; i++)
        if (yt_tok_text_append(&o, v->s[i], v->n[i], e)) {
            free(o.s);
            return -1;
        }
    return strs_set_text(v, &o, e);
}

static void dec_strip(tok_strs *v, const tok_dec *d)
{
    char cb[4];
    size_t cl = tok_utf8_put(cb, d->content);
    for (size_t i = 0; i < v->len; i++) {
        char *p = v->s[i];
        size_t n = v->n[i], a = 0, b = n;
        for (size_t k = 0; k < d->start && a + cl <= b && memcmp(p + a, cb, cl) == 0; k++)
            a += cl;
        for (size_t k = 0; k < d->stop && b >= a + cl && memcmp(p + b - cl, cb, cl) == 0; k++)
            b -= cl;
        memmove(p, p + a, b - a);
        p[b - a] = '\0';
        v->n[i] = b - a;
    }
}

static void dec_metaspace(tok_strs *v, const tok_dec *d)
{
    char rb[4];
    size_t rl = tok_utf8_put(rb, d->repl);
    for (size_t i = 0; i < v->len; i++) {
        char *p = v->s[i];
        size_t n = v->n[i], o = 0, k = 0;
        int drop = i == 0 && d->prepend_scheme != TM_NEVER;
        /* output never longer than input: the replacement is >= 1 byte, ' ' is 1 */
        while (k < n) {
            if (k + rl <= n && memcmp(p + k, rb, rl) == 0) {
                if (!drop)
                    p[o++] = ' ';
                k += rl;
            } else {
                p[o++] = p[k++];
            }
        }
        p[o] = '\0';
        v->n[i] = o;
    }
}

int tok_dec_chain_run(const tok_dec_chain *c, tok_strs *v, yt_err *e)
{
    int rc = 0;
    for (size_t k = 0; k < c->n && !rc; k++) {
        const tok_dec *d = &c->v[k];
        switch (d->kind) {
        case TD_BYTELEVEL: rc = dec_bytelevel(v, e); break;
        case TD_REPLACE: rc = dec_replace(v, d, e); break;
        case TD_BYTEFALLBACK: rc = dec_bytefallback(v, e); break;
        case TD_FUSE: rc = dec_fuse(v, e); break;
        case TD_STRIP: dec_strip(v, d); break;
        case TD_METASPACE: dec_metaspace(v, d); break;
        }
    }
    return rc;
}

uint64_t tok_dec_chain_hash(uint64_t h, const tok_dec_chain *c)
{
    h = tok_fp_u64(h, c->n | (uint64_t)c->present << 32);
    for (size_t i = 0; i < c->n; i++) {
        const tok_dec *d = &c->v[i];
        h = tok_fp_u64(h, (uint64_t)d->kind);
        h = tok_fp_bytes(h, d->a ? d->a : "", d->alen);
        h = tok_fp_bytes(h, d->b ? d->b : "", d->blen);
        h = tok_fp_u64(h, d->content);
        h = tok_fp_u64(h, d->start);
        h = tok_fp_u64(h, d->stop);
        h = tok_fp_u64(h, d->repl);
        h = tok_fp_u64(h, (uint64_t)d->prepend_scheme);
    }
    return h;
}
