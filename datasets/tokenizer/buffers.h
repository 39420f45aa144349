/* Growable buffers the tokenizer works in: pre-token pieces, pattern segments, a
 * chunked arena for bytes made during one encode call, and the scratch that bundles
 * them (yt_tok_ids and yt_tok_text are in tokenizer.h). */
#ifndef YT_TOK_BUFFERS_H
#define YT_TOK_BUFFERS_H

#include <stddef.h>

#include "datasets/tokenizer/tokenizer.h"

/* A pre-token piece: bytes, and whether it starts at offset 0 of the original text. */
typedef struct tok_piece {
    const char *p;
    size_t n;
    int at_origin;
} tok_piece;

typedef struct tok_pieces {
    tok_piece *v;
    size_t n, cap;
} tok_pieces;

int tok_pieces_push(tok_pieces *a, const char *p, size_t n, int at_origin, yt_err *e);

/* A NUL-terminated copy of s[0..n), NUL bytes inside it kept (free with free());
 * NULL with yt_malloc's message naming `what` on failure. */
char *tok_memdup(const char *s, size_t n, const char *what, yt_err *e);

/* (start, end, flag) triples: v[3*i], v[3*i+1], v[3*i+2] for i < n. */
typedef struct tok_segs {
    size_t *v;
    size_t n, cap; /* cap in triples */
} tok_segs;

int tok_segs_push(tok_segs *g, size_t start, size_t end, size_t flag, yt_err *e);

/* A chunked arena: pointers into it stay valid until reset. */
typedef struct tok_arena_blk {
    struct tok_arena_blk *next;
    size_t used, cap;
    char data[];
} tok_arena_blk;

typedef struct tok_arena {
    tok_arena_blk *head;
} tok_arena;

char *tok_arena_alloc(tok_arena *a, size_t n, yt_err *e);
/* Keeps the newest block, frees the others. */
void tok_arena_reset(tok_arena *a);
void tok_arena_free(tok_arena *a);

/* What one encode call writes into (reused across calls): bytes made by normalizers
 * and pre-tokenizers, the two piece lists a pre-tokenizer chain swaps between, and
 * pattern segments. */
typedef struct tok_scratch {
    tok_arena arena;
    tok_pieces pa, pb;
    tok_segs seg;
} tok_scratch;

void tok_scratch_free(tok_scratch *w);

#endif
