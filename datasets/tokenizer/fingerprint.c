/* The tokenizer fingerprint (see fingerprint.h).  Datasets store it and training
 * compares it with the model's: what is hashed, and in which order, must not change
 * for a tokenizer that encodes the same. */
#include <stdio.h>

#include "datasets/tokenizer/fingerprint.h"
#include "datasets/tokenizer/yt_tok.h"

int tok_fingerprint(const yt_tok *t, uint64_t *out, yt_err *e)
{
    const tok_bpe *m = &t->bpe;
    uint64_t h = tok_fp_str(YT_HASH_SEED, "yieldtune-tokenizer-1");
    h = tok_fp_u64(h, (uint64_t)m->byte_level);
    h = tok_fp_u64(h, (uint64_t)m->unk_id);
    h = tok_fp_u64(h, (uint64_t)(m->fuse_unk | m->byte_fallback << 1 | m->ignore_merges << 2));
    h = tok_fp_u64(h, t->vocab.n_ids);
    for (uint32_t i = 0; i < t->vocab.n_ids; i++) {
        if (t->vocab.piece[i])
            h = tok_fp_bytes(h, t->vocab.piece[i], t->vocab.piece_len[i]);
        else
            h = tok_fp_u64(h, UINT64_MAX);
    }
    if (tok_bpe_hash_merges(m, &h, e))
        return yt_err_prefix(e, "%s", t->path);
    h = tok_added_hash(h, &t->added);
    h = tok_norm_chain_hash(h, &t->norm);
    h = tok_pre_chain_hash(h, &t->pre);
    h = tok_fp_u64(h, t->n_prefix);
    for (size_t i = 0; i < t->n_prefix; i++)
        h = tok_fp_u64(h, t->post_prefix[i]);
    h = tok_fp_u64(h, t->n_suffix);
    for (size_t i = 0; i < t->n_suffix; i++)
        h = tok_fp_u64(h, t->post_suffix[i]);
    h = tok_dec_chain_hash(h, &t->dec);
    *out = h;
    return 0;
}

uint64_t yt_tok_fingerprint(const yt_tok *t) { return t->fingerprint; }

void yt_tok_fingerprint_hex(const yt_tok *t, char buf[17])
{
    snprintf(buf, 17, "%016llx", (unsigned long long)t->fingerprint);
}
