/* The encode cache of pre-token -> ids (see cache.h). */
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer/cache.h"

#define CACHE_MAX_ENTRIES (1u << 17)
#define CACHE_KEY_BYTES ((size_t)8 << 20)
#define CACHE_MAX_WORD 256

int tok_cache_init(tok_cache *c, yt_err *e)
{
    memset(c, 0, sizeof *c);
    if (tok_sm_init(&c->map, 4096, e))
        return -1;
    c->keys = yt_malloc(CACHE_KEY_BYTES, "the encode cache", e);
    if (!c->keys) {
        tok_cache_free(c);
        return -1;
    }
    c->keys_cap = CACHE_KEY_BYTES;
    return 0;
}

void tok_cache_free(tok_cache *c)
{
    tok_sm_free(&c->map);
    free(c->keys);
    free(c->ids);
    memset(c, 0, sizeof *c);
}

const uint32_t *tok_cache_get(const tok_cache *c, const char *w, size_t n, uint32_t *k)
{
    if (n > CACHE_MAX_WORD)
        return NULL;
    const tok_sm_ent *en = tok_sm_get(&c->map, w, n);
    if (!en)
        return NULL;
    const uint32_t *r = c->ids + en->val;
    *k = r[0];
    return r + 1;
}

int tok_cache_put(tok_cache *c, const char *w, size_t n, const uint32_t *ids, size_t k,
                  yt_err *e)
{
    if (n > CACHE_MAX_WORD)
        return 0;
    if (c->map.n >= CACHE_MAX_ENTRIES || c->keys_n + n > c->keys_cap) {
        tok_sm_clear(&c->map);
        c->keys_n = 0;
        c->ids_n = 0;
    }
    if (c->ids_n + k + 1 > c->ids_cap) {
        size_t nc = c->ids_cap ? c->ids_cap * 2 : 65536;
        while (nc < c->ids_n + k + 1)
            nc *= 2;
        uint32_t *v = yt_realloc_array(c->ids, nc, sizeof *v, "the encode cache's ids", e);
        if (!v)
            return -1;
        c->ids = v;
        c->ids_cap = nc;
    }
    char *key = c->keys + c->keys_n;
    memcpy(key, w, n);
    uint32_t off = (uint32_t)c->ids_n;
    c->ids[c->ids_n++] = (uint32_t)k;
    if (k)
        memcpy(c->ids + c->ids_n, ids, k * sizeof *ids);
    c->ids_n += k;
    c->keys_n += n;
    return tok_sm_put(&c->map, key, n, off, e);
}
