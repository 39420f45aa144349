/* tests/fuzz: the tokenizer workout shared by fuzz_tokenizer_json and
 * fuzz_tokenizer_gguf (see tok_exercise.h). */
#include "tests/fuzz/tok_exercise.h"

#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_util.h"

/* Text from the input is encoded up to this many bytes (BPE is quadratic in a
 * pre-token's length: a long one says nothing new and only slows the run). */
#define MAX_EXTRA 512

static void round_trip(yt_tok *t, const char *s, size_t n)
{
    yt_err e = {{0}};
    for (int special = 0; special < 2; special++) {
        yt_tok_ids ids = {0};
        if (yt_tok_encode(t, s, n, special, &ids, &e) == 0) {
            for (int skip = 0; skip < 2; skip++) {
                yt_tok_text out = {0};
                (void)yt_tok_decode(t, ids.v, ids.n, skip, &out, &e);
                free(out.s);
            }
        }
        free(ids.v);
    }
}

void fuzz_tok_exercise(yt_tok *t, const uint8_t *extra, size_t n)
{
    yt_err e = {{0}};
    char hex[17];
    yt_tok_fingerprint_hex(t, hex);
    uint32_t vs = yt_tok_vocab_size(t);
    volatile int64_t sink = yt_tok_bos_id(t) + yt_tok_eos_id(t) + (int64_t)strlen(yt_tok_source_kind(t));
    for (int i = 0; fuzz_texts[i]; i++)
        round_trip(t, fuzz_texts[i], strlen(fuzz_texts[i]));
    if (n > MAX_EXTRA)
        n = MAX_EXTRA;
    if (yt_tok_utf8_check((const char *)extra, n) == n)
        round_trip(t, (const char *)extra, n);
    /* pieces and their ids, for the first ids and the last one */
    for (uint32_t id = 0; id < vs && id < 600; id++) {
        const char *p = yt_tok_piece(t, id);
        sink += yt_tok_is_special(t, id);
        if (p)
            sink += yt_tok_piece_id(t, p);
    }
    if (vs) {
        (void)yt_tok_piece(t, vs - 1);
        (void)yt_tok_is_special(t, vs - 1);
    }
    (void)yt_tok_piece(t, vs);
    (void)yt_tok_piece(t, UINT32_MAX);
    (void)yt_tok_is_special(t, vs);
    /* decode: every id below 600, then one outside the vocabulary (an error) */
    uint32_t ids[601];
    size_t k = 0;
    for (uint32_t id = 0; id < vs && k < 600; id++)
        ids[k++] = id;
    for (int skip = 0; skip < 2; skip++) {
        yt_tok_text out = {0};
        (void)yt_tok_decode(t, ids, k, skip, &out, &e);
        free(out.s);
    }
    ids[k++] = vs;
    yt_tok_text out = {0};
    if (yt_tok_decode(t, ids, k, 0, &out, &e) == 0)
        abort(); /* an id outside the vocabulary must be refused */
    free(out.s);
    (void)sink;
}
