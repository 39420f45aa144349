/* Decoding (yt_tok_decode), as HF tokenizers' Tokenizer::decode: ids -> token strings
 * (added tokens by their content), special tokens optionally skipped, then the
 * decoder chain on the list of strings, joined (without a decoder: joined by
 * spaces). */
#include "datasets/tokenizer/yt_tok.h"

int yt_tok_decode(yt_tok *t, const uint32_t *ids, size_t n, int skip_special, yt_tok_text *out,
                  yt_err *e)
{
    tok_strs v = {0};
    for (size_t i = 0; i < n; i++) {
        uint32_t id = ids[i];
        if (id >= t->vocab.n_ids || !t->vocab.piece[id]) {
            tok_strs_free(&v);
            return yt_errf(e, "decode: id %u (position %zu) is not in the vocabulary (%u ids)", id,
                           i, t->vocab.n_ids);
        }
        if (skip_special && t->added.is_special[id])
            continue;
        if (tok_strs_push(&v, t->vocab.piece[id], t->vocab.piece_len[id], e)) {
            tok_strs_free(&v);
            return -1;
        }
    }
    size_t n0 = out->n;
    int rc = 0;
    if (!t->dec.present) {
        for (size_t i = 0; i < v.len && !rc; i++)
            rc = (i && yt_tok_text_append(out, " ", 1, e)) ||
                 yt_tok_text_append(out, v.s[i], v.n[i], e);
    } else {
        rc = tok_dec_chain_run(&t->dec, &v, e);
        for (size_t i = 0; i < v.len && !rc; i++)
            rc = yt_tok_text_append(out, v.s[i], v.n[i], e);
    }
    if (!rc && !out->s)
        rc = yt_tok_text_append(out, "", 0, e);
    tok_strs_free(&v);
    if (rc)
        out->n = n0;
    return rc;
}
