/* A byte trie for leftmost-longest matching of a set of strings (the added tokens):
 * each string carries an int32 value. */
#ifndef YT_TOK_TRIE_H
#define YT_TOK_TRIE_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

typedef struct tok_trie_node {
    int32_t first_child, next_sibling;
    int32_t val; /* -1: no string ends here */
    unsigned char byte;
} tok_trie_node;

typedef struct tok_trie {
    tok_trie_node *nodes;
    size_t n, cap;
    int32_t root_child[256]; /* child of the root per first byte, -1 none */
} tok_trie;

void tok_trie_init(tok_trie *tr);
void tok_trie_free(tok_trie *tr);
/* Adds s[0..n) with VAL (n = 0: nothing); a string added twice keeps the later value. */
int tok_trie_insert(tok_trie *tr, const char *s, size_t n, int32_t val, yt_err *e);
/* Whether some string starts with the byte c. */
static inline int tok_trie_starts(const tok_trie *tr, unsigned char c)
{
    return tr->root_child[c] >= 0;
}
/* The longest string at s[i..n): its value and *len, or -1. */
int32_t tok_trie_longest(const tok_trie *tr, const char *s, size_t n, size_t i, size_t *len);

#endif
