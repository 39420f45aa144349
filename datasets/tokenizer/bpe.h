/* The BPE model, as HF tokenizers' models/bpe: the encode vocabulary (raw bytes for
 * byte-level models), the byte symbols, the merge ranks, unk/fuse/byte-fallback, and
 * the merging of one pre-token into ids. */
#ifndef YT_TOK_BPE_H
#define YT_TOK_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/tokenizer/maps.h"
#include "datasets/tokenizer/tokenizer.h"
#include "datasets/tokenizer/vocab.h"

typedef struct tok_bpe {
    /* from the file */
    int64_t unk_id; /* -1: none (unknown characters are dropped) */
    int fuse_unk, byte_fallback, ignore_merges;
    tok_mergemap merges;
    size_t n_merges;
    /* built by tok_bpe_build */
    int byte_level;        /* symbols are raw bytes (a ByteLevel pre-tokenizer) */
    tok_strmap vocab;      /* encode key -> id */
    char **raw_key;        /* byte-level: [n_keys] decoded key of id (or NULL) */
    uint32_t n_keys;
    int64_t byte_sym[256]; /* byte-level: id of the one-byte symbol; else of <0xHH>; -1 */
    /* scratch of tok_bpe_word */
    void *sym, *heap;
    size_t sym_cap, heap_cap;
} tok_bpe;

void tok_bpe_init(tok_bpe *m);
void tok_bpe_free(tok_bpe *m);

/* Sizes the merge table for N merges (before tok_bpe_merge; the caller sets n_merges
 * once they are in). */
int tok_bpe_merges_init(tok_bpe *m, size_t n, yt_err *e);
/* Enters the merge of rank RANK: A and B, and A+B, looked up in IDS (piece -> id).
 * Returns 0, or 1 / 2 / 3 when A / B / A+B is not in IDS (nothing entered), or -1.
 * CAT is scratch for A+B. */
int tok_bpe_merge(tok_bpe *m, const tok_strmap *ids, const char *a, size_t al, const char *b,
                  size_t bl, uint32_t rank, yt_tok_text *cat, yt_err *e);
/* The merges a SentencePiece model implies, from its vocabulary and scores, as
 * transformers' SentencePieceExtractor makes them. */
int tok_bpe_merges_from_scores(tok_bpe *m, const tok_vocab *v, const float *scores, yt_err *e);

/* After the vocabulary is complete: the encode vocabulary (the model's pieces, not
 * the added-only ones; byte-level: decoded to raw bytes, a piece outside the byte
 * alphabet left out) and the byte symbols. */
int tok_bpe_build(tok_bpe *m, const tok_vocab *v, int byte_level, yt_err *e);
/* BPE of one pre-token: appends its ids. */
int tok_bpe_word(tok_bpe *m, const char *w, size_t n, yt_tok_ids *out, yt_err *e);
/* The merges' part of the fingerprint: their count, then (pair, id) in rank order. */
int tok_bpe_hash_merges(const tok_bpe *m, uint64_t *h, yt_err *e);

#endif
