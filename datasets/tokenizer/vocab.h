/* The vocabulary as stored: id -> piece (the token string the file gives: "Ġhello",
 * "▁hello", "<s>"), which ids only added tokens use, and piece -> id. */
#ifndef YT_TOK_VOCAB_H
#define YT_TOK_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/tokenizer/maps.h"

typedef struct tok_vocab {
    uint32_t n_ids;
    char **piece;              /* [n_ids] NUL-terminated copy; NULL = unused id */
    uint32_t *piece_len;       /* [n_ids] */
    unsigned char *added_only; /* [n_ids] 1 = an added token that is not in the model */
    tok_strmap by_piece;       /* stored piece -> id (model, then added tokens win) */
} tok_vocab;

int tok_vocab_init(tok_vocab *v, yt_err *e);
void tok_vocab_free(tok_vocab *v);
/* Makes ids 0..n-1 exist (unused until set).  WHERE names the file for messages. */
int tok_vocab_reserve(tok_vocab *v, uint32_t n, const char *where, yt_err *e);
/* Sets piece ID (copied); a second piece for one id is refused.  WHERE names the file
 * and key. */
int tok_vocab_set(tok_vocab *v, uint32_t id, const char *s, size_t len, const char *where,
                  yt_err *e);
/* *m (initialised here) = piece -> the first id that holds it. */
int tok_vocab_first_ids(const tok_vocab *v, tok_strmap *m, yt_err *e);
/* Enters every piece into by_piece (the added tokens then enter theirs). */
int tok_vocab_index(tok_vocab *v, yt_err *e);

#endif
