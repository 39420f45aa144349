/* The tokenizer fingerprint: a hash of everything that decides the ids (see
 * yt_tok_fingerprint in tokenizer.h). */
#ifndef YT_TOK_FINGERPRINT_H
#define YT_TOK_FINGERPRINT_H

#include <stdint.h>

#include "datasets/tokenizer/tokenizer.h"

int tok_fingerprint(const yt_tok *t, uint64_t *out, yt_err *e);

#endif
