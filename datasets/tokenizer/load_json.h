/* Loading a Hugging Face tokenizer.json into a tokenizer. */
#ifndef YT_TOK_LOAD_JSON_H
#define YT_TOK_LOAD_JSON_H

#include <stddef.h>

#include "datasets/tokenizer/tokenizer.h"

/* Fills T (new, named by its path) from the JSON text; load.c finishes it. */
int tok_json_fill(yt_tok *t, const char *text, size_t len, yt_err *e);

#endif
