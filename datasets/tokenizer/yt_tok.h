/* struct yt_tok: the parts of a tokenizer put together.  A text goes: added-token
 * split on the raw text -> normalizer -> added-token split on the normalized text ->
 * pre-tokenizer -> BPE per pre-token (cached) -> post-processor ids around the whole.
 * Only the files above the parts see it (fingerprint, encode, decode, loaders, load.c). */
#ifndef YT_TOK_YT_TOK_H
#define YT_TOK_YT_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/tokenizer/added.h"
#include "datasets/tokenizer/bpe.h"
#include "datasets/tokenizer/buffers.h"
#include "datasets/tokenizer/cache.h"
#include "datasets/tokenizer/decoder.h"
#include "datasets/tokenizer/normalizer.h"
#include "datasets/tokenizer/pretokenizer.h"
#include "datasets/tokenizer/vocab.h"

struct yt_tok {
    char *path;       /* for messages */
    const char *kind; /* "tokenizer.json" / "gguf" */

    tok_vocab vocab;
    tok_bpe bpe;
    tok_norm_chain norm;
    tok_pre_chain pre;
    tok_dec_chain dec;
    tok_added_set added;
    /* post-processor: ids around an encode with add_special */
    uint32_t *post_prefix, *post_suffix;
    size_t n_prefix, n_suffix;
    int64_t bos, eos;

    tok_cache cache;
    tok_scratch work;
    uint64_t fingerprint;
};

#endif
