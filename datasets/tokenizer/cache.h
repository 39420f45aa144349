/* The encode cache: pre-token bytes -> the ids BPE gave them.  Bounded: words up to
 * 256 bytes, 2^17 entries, 8 MiB of keys; when full it starts over. */
#ifndef YT_TOK_CACHE_H
#define YT_TOK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/tokenizer/maps.h"

typedef struct tok_cache {
    tok_strmap map;  /* word -> offset of its entry in ids */
    char *keys;      /* the words, back to back */
    size_t keys_n, keys_cap;
    uint32_t *ids;   /* entries: count, then the ids */
    size_t ids_n, ids_cap;
} tok_cache;

int tok_cache_init(tok_cache *c, yt_err *e);
void tok_cache_free(tok_cache *c);
/* The ids of w[0..n) (*k of them), or NULL when not cached. */
const uint32_t *tok_cache_get(const tok_cache *c, const char *w, size_t n, uint32_t *k);
/* Remembers the K ids of w[0..n) (a word too long for the cache is left out). */
int tok_cache_put(tok_cache *c, const char *w, size_t n, const uint32_t *ids, size_t k,
                  yt_err *e);

#endif
