/* Loading the tokenizer a GGUF file's tokenizer.ggml.* keys describe (llama.cpp's
 * names), as transformers' GGUF conversion makes it. */
#ifndef YT_TOK_LOAD_GGUF_H
#define YT_TOK_LOAD_GGUF_H

#include "datasets/tokenizer/input.h"
#include "datasets/tokenizer/tokenizer.h"

/* Fills T (new, named by its path) from the GGUF metadata read from IN; load.c
 * finishes it. */
int tok_gguf_fill(yt_tok *t, tok_input *in, yt_err *e);

#endif
