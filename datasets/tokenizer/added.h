/* Added tokens (HF's AddedVocabulary): kept with their flags, indexed in two tries
 * (matched on the raw text, or on the normalized text), and found in text
 * leftmost-longest with lstrip, rstrip and single_word as HF applies them. */
#ifndef YT_TOK_ADDED_H
#define YT_TOK_ADDED_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/tokenizer/pattern.h"
#include "datasets/tokenizer/trie.h"
#include "datasets/tokenizer/vocab.h"

typedef struct tok_added {
    uint32_t id;
    char *content;
    size_t len;
    int special, lstrip, rstrip, normalized, single_word;
} tok_added;

typedef struct tok_added_set {
    tok_added *v;
    size_t n;
    /* built by tok_added_build */
    tok_trie raw, norm;        /* contents matched on the raw / on the normalized text */
    int n_raw, n_norm;         /* non-empty contents in each */
    unsigned char *is_special; /* [n_ids] */
    tok_regex word_re;         /* single_word boundary test: [\p{Alphabetic}\p{N}] */
    int has_single_word;
} tok_added_set;

void tok_added_init(tok_added_set *s);
void tok_added_free(tok_added_set *s);
/* Adds A (its content copied): its id holds the same piece in V, or gets it as an
 * added-only id.  PATH names the file for messages. */
int tok_added_add(tok_added_set *s, tok_vocab *v, const tok_added *a, const char *path,
                  yt_err *e);
/* Once the vocabulary is complete: the contents enter V's piece -> id map (over the
 * model's), special flags, tries, the single_word test. */
int tok_added_build(tok_added_set *s, tok_vocab *v, const char *path, yt_err *e);

/* The next added token in text[*pos..n) (normalized: the tokens matched on normalized
 * text, else those matched on raw text), as HF's AddedVocabulary::find_matches.
 * PREV_END is where the previous match ended (lstrip stops there).  Returns 1 with
 * [*start, *stop) to be replaced by *id and *pos moved on, 0 when there is none, -1 on
 * error. */
int tok_added_next(tok_added_set *s, int normalized, const char *text, size_t n, size_t *pos,
                   size_t prev_end, size_t *start, size_t *stop, uint32_t *id, yt_err *e);
/* The added tokens' part of the fingerprint. */
uint64_t tok_added_hash(uint64_t h, const tok_added_set *s);

#endif
