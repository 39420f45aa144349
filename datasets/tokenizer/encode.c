/* Encoding (yt_tok_encode), as HF tokenizers' Tokenizer::encode: added tokens split
 * off the raw text, the gaps normalized, added tokens split off again, the gaps
 * pre-tokenized and each pre-token BPE'd (through the cache); the post-processor's
 * ids around the whole. */
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer/utf8.h"
#include "datasets/tokenizer/yt_tok.h"

static int ids_append(yt_tok_ids *out, const uint32_t *ids, size_t k, yt_err *e)
{
    if (!k)
        return 0;
    if (out->n + k > out->cap) {
        size_t nc = out->cap ? out->cap : 256;
        while (nc < out->n + k)
            nc *= 2;
        uint32_t *v = yt_realloc_array(out->v, nc, sizeof *v, "the token ids", e);
        if (!v)
            return -1;
        out->v = v;
        out->cap = nc;
    }
    memcpy(out->v + out->n, ids, k * sizeof *ids);
    out->n += k;
    return 0;
}

static int bpe_cached(yt_tok *t, const char *w, size_t n, yt_tok_ids *out, yt_err *e)
{
    if (!n)
        return 0;
    uint32_t k;
    const uint32_t *ids = tok_cache_get(&t->cache, w, n, &k);
    if (ids)
        return ids_append(out, ids, k, e);
    size_t before = out->n;
    if (tok_bpe_word(&t->bpe, w, n, out, e))
        return -1;
    /* A word of symbols the vocabulary lacks (no unk, no byte fallback) gives no
     * ids, and out->v may still be NULL. */
    return tok_cache_put(&t->cache, w, n, out->n > before ? out->v + before : NULL,
                         out->n - before, e);
}

/* A gap between added tokens, in normalized text. */
static int normalized_gap(yt_tok *t, const char *s, size_t n, int at_origin, yt_tok_ids *out,
                          yt_err *e)
{
    if (!n)
        return 0;
    if (!t->pre.n)
        return bpe_cached(t, s, n, out, e);
    if (tok_pre_chain_run(&t->pre, s, n, at_origin, &t->work, e))
        return -1;
    /* the pieces stay in t->work.pa: nothing below pre-tokenizes again */
    for (size_t i = 0; i < t->work.pa.n; i++)
        if (bpe_cached(t, t->work.pa.v[i].p, t->work.pa.v[i].n, out, e))
            return -1;
    return 0;
}

typedef int (*gap_fn)(yt_tok *t, const char *s, size_t n, int at_origin, yt_tok_ids *out,
                      yt_err *e);

/* Splits s[0..n) on the added tokens of one trie: gap() for the text between them,
 * their ids pushed. */
static int split_added(yt_tok *t, int normalized, const char *s, size_t n, int at_origin,
                       gap_fn gap, yt_tok_ids *out, yt_err *e)
{
    if (!(normalized ? t->added.n_norm : t->added.n_raw))
        return gap(t, s, n, at_origin, out, e);
    size_t start_offset = 0, pos = 0, start, stop;
    uint32_t id;
    int r;
    while ((r = tok_added_next(&t->added, normalized, s, n, &pos, start_offset, &start, &stop,
                               &id, e)) == 1) {
        if (start_offset < start &&
            gap(t, s + start_offset, start - start_offset, at_origin && start_offset == 0, out, e))
            return -1;
        if (yt_tok_ids_push(out, id, e))
            return -1;
        start_offset = stop;
    }
    if (r < 0)
        return -1;
    if (start_offset < n &&
        gap(t, s + start_offset, n - start_offset, at_origin && start_offset == 0, out, e))
        return -1;
    return 0;
}

/* A gap between added tokens, in raw text. */
static int raw_gap(yt_tok *t, const char *s, size_t n, int at_origin, yt_tok_ids *out, yt_err *e)
{
    const char *ns = s;
    size_t nn = n;
    if (t->norm.n && tok_norm_chain_run(&t->norm, s, n, &ns, &nn, &t->work, e))
        return -1;
    return split_added(t, 1, ns, nn, at_origin, normalized_gap, out, e);
}

int yt_tok_encode(yt_tok *t, const char *text, size_t len, int add_special, yt_tok_ids *out,
                  yt_err *e)
{
    size_t bad = yt_tok_utf8_check(text, len);
    if (bad < len)
        return yt_errf(e, "encode: invalid UTF-8 at byte offset %zu (byte 0x%02x)", bad,
                       (unsigned char)text[bad]);
    size_t n0 = out->n;
    if (add_special && ids_append(out, t->post_prefix, t->n_prefix, e))
        goto fail;
    tok_arena_reset(&t->work.arena);
    if (len && split_added(t, 0, text, len, 1, raw_gap, out, e))
        goto fail;
    if (add_special && ids_append(out, t->post_suffix, t->n_suffix, e))
        goto fail;
    return 0;
fail:
    out->n = n0;
    return -1;
}
