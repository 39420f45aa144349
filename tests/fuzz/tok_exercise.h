/* tests/fuzz: what the tokenizer targets do with a tokenizer that loaded. */
#ifndef YT_FUZZ_TOK_EXERCISE_H
#define YT_FUZZ_TOK_EXERCISE_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/tokenizer/tokenizer.h"

/* Encodes fuzz_texts and EXTRA (n bytes, when valid UTF-8) with and without
 * special tokens, decodes the ids both ways, asks for every piece and id of the
 * first ids, the fingerprint, and a decode of out-of-range and all-vocabulary ids. */
void fuzz_tok_exercise(yt_tok *t, const uint8_t *extra, size_t n);

#endif
