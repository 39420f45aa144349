/* Hash maps of the tokenizer: string -> u32 (vocabularies, the cache) and
 * (id, id) -> (rank, id) (BPE merges); and the length-prefixed field hashing the
 * fingerprint is made of. */
#ifndef YT_TOK_MAPS_H
#define YT_TOK_MAPS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/common.h"

static inline uint64_t tok_hash(const void *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)n * 0xff51afd7ed558ccdULL);
    while (n >= 8) {
        uint64_t w = (uint64_t)s[0] | (uint64_t)s[1] << 8 | (uint64_t)s[2] << 16 |
                     (uint64_t)s[3] << 24 | (uint64_t)s[4] << 32 | (uint64_t)s[5] << 40 |
                     (uint64_t)s[6] << 48 | (uint64_t)s[7] << 56;
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)s[i] << (8 * i);
    h = (h ^ w) * 0x94d049bb133111ebULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

/* String -> u32 map; keys are borrowed (must outlive the map). */
typedef struct tok_sm_ent {
    const char *key;
    uint32_t len;
    uint32_t val;
    uint64_t hash;
} tok_sm_ent;

typedef struct tok_strmap {
    uint32_t *slots; /* entry index + 1; 0 = empty */
    size_t mask;
    tok_sm_ent *ents;
    size_t n, cap;
} tok_strmap;

int tok_sm_init(tok_strmap *m, size_t expect, yt_err *e);
void tok_sm_free(tok_strmap *m);
void tok_sm_clear(tok_strmap *m);
/* Returns the entry or NULL. */
const tok_sm_ent *tok_sm_get(const tok_strmap *m, const char *key, size_t len);
/* Inserts or replaces.  Returns 0/-1. */
int tok_sm_put(tok_strmap *m, const char *key, size_t len, uint32_t val, yt_err *e);

/* (left id, right id) -> (rank, merged id); sized once for the number of merges. */
typedef struct tok_mergemap {
    uint64_t *keys; /* UINT64_MAX = empty */
    uint32_t *rank, *id;
    size_t mask, n;
} tok_mergemap;

int tok_mm_init(tok_mergemap *m, size_t expect, yt_err *e);
void tok_mm_free(tok_mergemap *m);
/* Later puts of the same pair replace earlier ones (as HF's HashMap).  At most
 * `expect` distinct pairs (the table never grows). */
void tok_mm_put(tok_mergemap *m, uint32_t a, uint32_t b, uint32_t rank, uint32_t id);
static inline int tok_mm_get(const tok_mergemap *m, uint32_t a, uint32_t b, uint32_t *rank,
                             uint32_t *id)
{
    if (!m->n)
        return 0;
    uint64_t k = (uint64_t)a << 32 | b;
    uint64_t h = k * 0x9e3779b97f4a7c15ULL;
    size_t i = (size_t)(h >> 20) & m->mask;
    for (;;) {
        uint64_t kk = m->keys[i];
        if (kk == k) {
            *rank = m->rank[i];
            *id = m->id[i];
            return 1;
        }
        if (kk == UINT64_MAX)
            return 0;
        i = (i + 1) & m->mask;
    }
}

/* Fingerprint fields: length-prefixed, so that neighbouring fields cannot trade bytes.
 * Changing what or in which order they are hashed changes every dataset's
 * tokenizer_fingerprint. */
static inline uint64_t tok_fp_bytes(uint64_t h, const void *p, size_t n)
{
    uint64_t len = n;
    h = yt_hash64(&len, sizeof len, h);
    return yt_hash64(p, n, h);
}
static inline uint64_t tok_fp_u64(uint64_t h, uint64_t v) { return yt_hash64(&v, sizeof v, h); }
static inline uint64_t tok_fp_str(uint64_t h, const char *s)
{
    return tok_fp_bytes(h, s ? s : "", s ? strlen(s) : 0);
}

#endif
