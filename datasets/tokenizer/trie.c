/* A byte trie with first-child / next-sibling links (see trie.h). */
#include <stdlib.h>

#include "datasets/tokenizer/trie.h"

void tok_trie_init(tok_trie *tr)
{
    tr->nodes = NULL;
    tr->n = tr->cap = 0;
    for (int b = 0; b < 256; b++)
        tr->root_child[b] = -1;
}

void tok_trie_free(tok_trie *tr)
{
    free(tr->nodes);
    tok_trie_init(tr);
}

static int trie_node(tok_trie *tr, unsigned char byte, yt_err *e)
{
    if (tr->n == tr->cap) {
        size_t nc = tr->cap ? tr->cap * 2 : 256;
        tok_trie_node *v = yt_realloc_array(tr->nodes, nc, sizeof *v, "the trie's nodes", e);
        if (!v)
            return -1;
        tr->nodes = v;
        tr->cap = nc;
    }
    tr->nodes[tr->n] = (tok_trie_node){-1, -1, -1, byte};
    return (int)tr->n++;
}

int tok_trie_insert(tok_trie *tr, const char *s, size_t n, int32_t val, yt_err *e)
{
    if (!n)
        return 0;
    unsigned char b0 = (unsigned char)s[0];
    int32_t cur = tr->root_child[b0];
    if (cur < 0) {
        int k = trie_node(tr, b0, e);
        if (k < 0)
            return -1;
        tr->root_child[b0] = cur = k;
    }
    for (size_t i = 1; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        int32_t c = tr->nodes[cur].first_child;
        while (c >= 0 && tr->nodes[c].byte != b)
            c = tr->nodes[c].next_sibling;
        if (c < 0) {
            int k = trie_node(tr, b, e);
            if (k < 0)
                return -1;
            tr->nodes[k].next_sibling = tr->nodes[cur].first_child;
            tr->nodes[cur].first_child = k;
            c = k;
        }
        cur = c;
    }
    tr->nodes[cur].val = val;
    return 0;
}

int32_t tok_trie_longest(const tok_trie *tr, const char *s, size_t n, size_t i, size_t *len)
{
    int32_t cur = tr->root_child[(unsigned char)s[i]];
    int32_t best = -1;
    size_t k = i + 1;
    while (cur >= 0) {
        if (tr->nodes[cur].val >= 0) {
            best = tr->nodes[cur].val;
            *len = k - i;
        }
        if (k >= n)
            break;
        unsigned char b = (unsigned char)s[k];
        int32_t c = tr->nodes[cur].first_child;
        while (c >= 0 && tr->nodes[c].byte != b)
            c = tr->nodes[c].next_sibling;
        cur = c;
        k++;
    }
    return best;
}
