/* Added tokens: adding, indexing, finding them in text (see added.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer/added.h"
#include "datasets/tokenizer/buffers.h"
#include "datasets/tokenizer/utf8.h"

void tok_added_init(tok_added_set *s)
{
    memset(s, 0, sizeof *s);
    tok_trie_init(&s->raw);
    tok_trie_init(&s->norm);
}

void tok_added_free(tok_added_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].content);
    free(s->v);
    tok_trie_free(&s->raw);
    tok_trie_free(&s->norm);
    free(s->is_special);
    tok_re_free(&s->word_re);
    tok_added_init(s);
}

int tok_added_add(tok_added_set *s, tok_vocab *v, const tok_added *a, const char *path,
                  yt_err *e)
{
    if (a->id < v->n_ids && v->piece[a->id]) {
        if (v->piece_len[a->id] != a->len || memcmp(v->piece[a->id], a->content, a->len) != 0)
            return yt_errf(e, "%s: added token '%s' has id %u, which the vocabulary gives to '%s'",
                           path, a->content, a->id, v->piece[a->id]);
    } else {
        char where[512];
        snprintf(where, sizeof where, "%s: added_tokens", path);
        if (tok_vocab_set(v, a->id, a->content, a->len, where, e))
            return -1;
        v->added_only[a->id] = 1;
    }
    char *content = tok_memdup(a->content, a->len, "an added token", e);
    if (!content)
        return yt_err_prefix(e, "%s: added token %u", path, a->id);
    tok_added *nv = yt_realloc_array(s->v, s->n + 1, sizeof *nv, "the added tokens", e);
    if (!nv) {
        free(content);
        return yt_err_prefix(e, "%s", path);
    }
    s->v = nv;
    nv[s->n] = *a;
    nv[s->n].content = content;
    s->n++;
    return 0;
}

int tok_added_build(tok_added_set *s, tok_vocab *v, const char *path, yt_err *e)
{
    s->is_special = yt_calloc(v->n_ids, 1, "the special-token flags", e);
    if (!s->is_special)
        return yt_err_prefix(e, "%s", path);
    for (size_t i = 0; i < s->n; i++) {
        const tok_added *a = &s->v[i];
        if (a->id >= v->n_ids || !v->piece[a->id])
            return yt_errf(e, "%s: added token '%s' has id %u with no token", path, a->content,
                           a->id);
        if (tok_sm_put(&v->by_piece, a->content, a->len, a->id, e))
            return yt_err_prefix(e, "%s", path);
        if (a->special)
            s->is_special[a->id] = 1;
        if (a->single_word)
            s->has_single_word = 1;
        /* a later token with the same content replaces the earlier one (HF keeps one) */
        if (tok_trie_insert(a->normalized ? &s->norm : &s->raw, a->content, a->len, (int32_t)i, e))
            return yt_err_prefix(e, "%s", path);
        if (a->len) {
            if (a->normalized)
                s->n_norm++;
            else
                s->n_raw++;
        }
    }
    if (s->has_single_word && tok_re_compile(&s->word_re, "[\\p{Alphabetic}\\p{N}]",
                                             "single_word", e))
        return yt_err_prefix(e, "%s", path);
    return 0;
}

/* 1 when the characters around [start, stop) are not word characters, 0 when one is,
 * -1 on a regex error. */
static int single_word_ok(tok_added_set *s, const char *text, size_t n, size_t start,
                          size_t stop, yt_err *e)
{
    size_t ms, me;
    if (start > 0) {
        size_t k = start - 1;
        while (k > 0 && ((unsigned char)text[k] & 0xc0) == 0x80)
            k--;
        int r = tok_re_next(&s->word_re, text + k, start - k, 0, &ms, &me, e);
        if (r < 0)
            return -1;
        if (r == 1 && ms == 0)
            return 0;
    }
    if (stop < n) {
        uint32_t cp;
        size_t l = tok_utf8_get(text + stop, n - stop, &cp);
        int r = tok_re_next(&s->word_re, text + stop, l, 0, &ms, &me, e);
        if (r < 0)
            return -1;
        if (r == 1)
            return 0;
    }
    return 1;
}

int tok_added_next(tok_added_set *s, int normalized, const char *text, size_t n, size_t *pos,
                   size_t prev_end, size_t *start_out, size_t *stop_out, uint32_t *id, yt_err *e)
{
    const tok_trie *tr = normalized ? &s->norm : &s->raw;
    size_t i = *pos;
    while (i < n) {
        if (!tok_trie_starts(tr, (unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t mlen = 0;
        int32_t ai = tok_trie_longest(tr, text, n, i, &mlen);
        if (ai < 0) {
            i++;
            continue;
        }
        const tok_added *a = &s->v[ai];
        size_t start = i, stop = i + mlen;
        i = stop;
        if (a->single_word) {
            int ok = single_word_ok(s, text, n, start, stop, e);
            if (ok < 0)
                return -1;
            if (!ok)
                continue;
        }
        if (a->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t k = ns - 1;
                while (k > 0 && ((unsigned char)text[k] & 0xc0) == 0x80)
                    k--;
                uint32_t cp;
                tok_utf8_get(text + k, ns - k, &cp);
                if (!tok_is_white_space(cp))
                    break;
                ns = k;
            }
            start = ns > prev_end ? ns : prev_end;
        }
        if (a->rstrip) {
            while (stop < n) {
                uint32_t cp;
                size_t l = tok_utf8_get(text + stop, n - stop, &cp);
                if (!tok_is_white_space(cp))
                    break;
                stop += l;
            }
        }
        *pos = i;
        *start_out = start;
        *stop_out = stop;
        *id = a->id;
        return 1;
    }
    *pos = i;
    return 0;
}

uint64_t tok_added_hash(uint64_t h, const tok_added_set *s)
{
    h = tok_fp_u64(h, s->n);
    for (size_t i = 0; i < s->n; i++) {
        const tok_added *a = &s->v[i];
        h = tok_fp_u64(h, a->id);
        h = tok_fp_bytes(h, a->content, a->len);
        h = tok_fp_u64(h, (uint64_t)(a->special | a->lstrip << 1 | a->rstrip << 2 |
                                     a->normalized << 3 | a->single_word << 4));
    }
    return h;
}
