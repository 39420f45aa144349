/* A tokenizer input, opened once and read once from the front, so that a FIFO or a
 * pipe works as well as a file: the first bytes can be looked at before a loader is
 * picked, and a text input is refused past a size limit rather than grown without
 * bound. */
#ifndef YT_TOK_INPUT_H
#define YT_TOK_INPUT_H

#include <stdint.h>
#include <stdio.h>

#include "common/common.h"

/* What a tokenizer.json, or the metadata of a GGUF stream, may hold. */
#define TOK_INPUT_MAX ((uint64_t)1 << 30)

typedef struct tok_input {
    FILE *f;
    const char *name;       /* borrowed: for messages */
    int size_known;         /* a regular file: size is its length */
    uint64_t size;
    unsigned char head[8];  /* bytes looked at and not yet consumed */
    size_t head_n, head_at;
    uint64_t pos;           /* bytes consumed */
} tok_input;

/* Opens PATH for reading (a FIFO waits here for its writer); a folder is refused. */
int tok_input_open(tok_input *in, const char *path, yt_err *e);
void tok_input_close(tok_input *in);
/* The first N (<= 8) bytes, left for the next read; *got < N at the end of the input. */
int tok_input_peek(tok_input *in, size_t n, const unsigned char **p, size_t *got, yt_err *e);
/* Up to N bytes into DST; *got < N only at the end of the input. */
int tok_input_read(tok_input *in, void *dst, size_t n, size_t *got, yt_err *e);
/* The rest of the input, NUL-terminated (free *text with free()); more than LIMIT
 * bytes is refused with a message naming the file. */
int tok_input_slurp(tok_input *in, uint64_t limit, char **text, size_t *len, yt_err *e);

#endif
