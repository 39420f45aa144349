/* The stored vocabulary: id -> piece and piece -> id (see vocab.h). */
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer/buffers.h"
#include "datasets/tokenizer/vocab.h"

int tok_vocab_init(tok_vocab *v, yt_err *e)
{
    memset(v, 0, sizeof *v);
    return tok_sm_init(&v->by_piece, 1024, e);
}

void tok_vocab_free(tok_vocab *v)
{
    for (uint32_t i = 0; i < v->n_ids; i++)
        free(v->piece[i]);
    free(v->piece);
    free(v->piece_len);
    free(v->added_only);
    tok_sm_free(&v->by_piece);
    memset(v, 0, sizeof *v);
}

int tok_vocab_reserve(tok_vocab *v, uint32_t n, const char *where, yt_err *e)
{
    if (n <= v->n_ids)
        return 0;
    char **p = yt_realloc_array(v->piece, n, sizeof *p, "the token strings", e);
    if (!p)
        return yt_err_prefix(e, "%s", where);
    v->piece = p;
    uint32_t *l = yt_realloc_array(v->piece_len, n, sizeof *l, "the token lengths", e);
    if (!l)
        return yt_err_prefix(e, "%s", where);
    v->piece_len = l;
    unsigned char *ao = yt_realloc(v->added_only, n, "the token flags", e);
    if (!ao)
        return yt_err_prefix(e, "%s", where);
    v->added_only = ao;
    for (uint32_t i = v->n_ids; i < n; i++) {
        v->piece[i] = NULL;
        v->piece_len[i] = 0;
        v->added_only[i] = 0;
    }
    v->n_ids = n;
    return 0;
}

int tok_vocab_set(tok_vocab *v, uint32_t id, const char *s, size_t len, const char *where,
                  yt_err *e)
{
    if (id >= 0xfffffff0u)
        return yt_errf(e, "%s: token id %u too large", where, id);
    if (tok_vocab_reserve(v, id + 1, where, e))
        return -1;
    if (v->piece[id])
        return yt_errf(e, "%s: id %u given to two tokens ('%s' and '%.*s')", where, id,
                       v->piece[id], (int)(len > 64 ? 64 : len), s);
    char *c = tok_memdup(s, len, "a token string", e);
    if (!c)
        return yt_err_prefix(e, "%s: token %u", where, id);
    v->piece[id] = c;
    v->piece_len[id] = (uint32_t)len;
    return 0;
}

int tok_vocab_first_ids(const tok_vocab *v, tok_strmap *m, yt_err *e)
{
    if (tok_sm_init(m, v->n_ids, e))
        return -1;
    for (uint32_t id = 0; id < v->n_ids; id++)
        if (v->piece[id] && !tok_sm_get(m, v->piece[id], v->piece_len[id]) &&
            tok_sm_put(m, v->piece[id], v->piece_len[id], id, e)) {
            tok_sm_free(m);
            return -1;
        }
    return 0;
}

int tok_vocab_index(tok_vocab *v, yt_err *e)
{
    for (uint32_t id = 0; id < v->n_ids; id++)
        if (v->piece[id] && tok_sm_put(&v->by_piece, v->piece[id], v->piece_len[id], id, e))
            return -1;
    return 0;
}
