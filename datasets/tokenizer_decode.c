/* Decoding, as HF tokenizers' Tokenizer::decode: ids -> token strings (added tokens
 * by their content), special tokens optionally skipped, then the decoder chain on the
 * list of strings, joined. */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer_internal.h"

typedef struct sv {
    char **s;
    size_t *n;
    size_t len, cap;
} sv;

static void sv_free(sv *v)
{
    for (size_t i = 0; i < v->len; i++)
        free(v->s[i]);
    free(v->s);
    free(v->n);
    memset(v, 0, sizeof *v);
}

/* Takes ownership of p (malloc'ed, n bytes + NUL). */
static int sv_push_own(sv *v, char *p, size_t n, yt_err *e)
{
    if (v->len == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 64;
        char **s = realloc(v->s, nc * sizeof *s);
        if (s)
            v->s = s;
        size_t *l = realloc(v->n, nc * sizeof *l);
        if (l)
            v->n = l;
        if (!s || !l) {
            free(p);
            return yt_errf(e, "out of memory (decode)");
        }
        v->cap = nc;
    }
    v->s[v->len] = p;
    v->n[v->len] = n;
    v->len++;
    return 0;
}

static int sv_push(sv *v, const char *p, size_t n, yt_err *e)
{
    char *c = malloc(n + 1);
    if (!c)
        return yt_errf(e, "out of memory (decode)");
    memcpy(c, p, n);
    c[n] = '\0';
    return sv_push_own(v, c, n, e);
}

static int sv_push_text(sv *v, yt_tok_text *t, yt_err *e)
{
    if (!t->s && yt_tok_text_append(t, "", 0, e))
        return -1;
    int rc = sv_push_own(v, t->s, t->n, e);
    memset(t, 0, sizeof *t);
    return rc;
}

/* Rust String::from_utf8_lossy: each maximal invalid subpart becomes U+FFFD. */
int tok_utf8_lossy(yt_tok_text *out, const char *str, size_t n, yt_err *e)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;
    static const char rep[3] = {(char)0xef, (char)0xbf, (char)0xbd};
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        unsigned char lo, hi;
        size_t need = tok_utf8_lead(c, &lo, &hi);
        size_t k = 0; /* continuation bytes accepted */
        if (need) {
            if (i + 1 < n && s[i + 1] >= lo && s[i + 1] <= hi) {
                k = 1;
                while (k < need && i + 1 + k < n && (s[i + 1 + k] & 0xc0) == 0x80)
                    k++;
            }
        }
        if (need && k == need) {
            i += need + 1;
            continue;
        }
        /* invalid: flush the valid run, emit U+FFFD, skip lead + accepted bytes */
        if (yt_tok_text_append(out, str + run, i - run, e) || yt_tok_text_append(out, rep, 3, e))
            return -1;
        i += 1 + k;
        run = i;
    }
    return yt_tok_text_append(out, str + run, n - run, e);
}

static int utf8_valid(const char *s, size_t n) { return yt_tok_utf8_check(s, n) == n; }

static int dec_bytelevel(sv *v, yt_err *e)
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
    sv_free(v);
    return sv_push_text(v, &out, e);
}

static int dec_replace(sv *v, const tok_dec *d, yt_err *e)
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

static int dec_bytefallback(sv *v, yt_err *e)
{
    sv o = {0};
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
            if (utf8_valid(bytes.s, bytes.n)) {
                if (sv_push(&o, bytes.s, bytes.n, e))
                    goto fail;
            } else {
                for (size_t k = 0; k < nbytes; k++)
                    if (sv_push(&o, "\xef\xbf\xbd", 3, e))
                        goto fail;
            }
            bytes.n = 0;
            nbytes = 0;
        }
        if (i < v->len) {
            if (sv_push_own(&o, v->s[i], v->n[i], e)) {
                v->s[i] = NULL;
                goto fail;
            }
            v->s[i] = NULL;
        }
    }
    free(bytes.s);
    sv_free(v);
    *v = o;
    return 0;
fail:
    free(bytes.s);
    sv_free(&o);
    return -1;
}

static int dec_fuse(sv *v, yt_err *e)
{
    yt_tok_text o = {0};
    for (size_t i = 0; i < v->len; i++)
        if (yt_tok_text_append(&o, v->s[i], v->n[i], e)) {
            free(o.s);
            return -1;
        }
    sv_free(v);
    return sv_push_text(v, &o, e);
}

static int dec_strip(sv *v, const tok_dec *d, yt_err *e)
{
    (void)e;
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
    return 0;
}

static int dec_metaspace(sv *v, const tok_dec *d, yt_err *e)
{
    (void)e;
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
    return 0;
}

int yt_tok_decode(yt_tok *t, const uint32_t *ids, size_t n, int skip_special, yt_tok_text *out,
                  yt_err *e)
{
    sv v = {0};
    for (size_t i = 0; i < n; i++) {
        uint32_t id = ids[i];
        if (id >= t->n_ids || !t->piece[id]) {
            sv_free(&v);
            return yt_errf(e, "decode: id %u (position %zu) is not in the vocabulary (%u ids)", id,
                           i, t->n_ids);
        }
        if (skip_special && t->is_special[id])
            continue;
        if (sv_push(&v, t->piece[id], t->piece_len[id], e)) {
            sv_free(&v);
            return -1;
        }
    }
    size_t n0 = out->n;
    int rc = 0;
    if (!t->has_decoder) {
        for (size_t i = 0; i < v.len && !rc; i++)
            rc = (i && yt_tok_text_append(out, " ", 1, e)) ||
                 yt_tok_text_append(out, v.s[i], v.n[i], e);
    } else {
        for (size_t k = 0; k < t->n_dec && !rc; k++) {
            const tok_dec *d = &t->dec[k];
            switch (d->kind) {
            case TD_BYTELEVEL: rc = dec_bytelevel(&v, e); break;
            case TD_REPLACE: rc = dec_replace(&v, d, e); break;
            case TD_BYTEFALLBACK: rc = dec_bytefallback(&v, e); break;
            case TD_FUSE: rc = dec_fuse(&v, e); break;
            case TD_STRIP: rc = dec_strip(&v, d, e); break;
            case TD_METASPACE: rc = dec_metaspace(&v, d, e); break;
            }
        }
        for (size_t i = 0; i < v.len && !rc; i++)
            rc = yt_tok_text_append(out, v.s[i], v.n[i], e);
    }
    if (!rc && !out->s)
        rc = yt_tok_text_append(out, "", 0, e);
    sv_free(&v);
    if (rc)
        out->n = n0;
    return rc;
}
