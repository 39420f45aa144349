/* Open-addressing hash maps: string -> u32 with borrowed keys, and the BPE merge
 * table (see maps.h). */
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer/maps.h"

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

int tok_sm_init(tok_strmap *m, size_t expect, yt_err *e)
{
    memset(m, 0, sizeof *m);
    size_t ns = pow2_at_least(expect * 2 + 16);
    m->cap = expect + 16;
    if (!(m->slots = yt_calloc(ns, sizeof *m->slots, "a map's slots", e)) ||
        !(m->ents = yt_alloc_array(m->cap, sizeof *m->ents, "a map's entries", e))) {
        tok_sm_free(m);
        return -1;
    }
    m->mask = ns - 1;
    return 0;
}

void tok_sm_free(tok_strmap *m)
{
    free(m->slots);
    free(m->ents);
    memset(m, 0, sizeof *m);
}

void tok_sm_clear(tok_strmap *m)
{
    if (m->slots)
        memset(m->slots, 0, (m->mask + 1) * sizeof *m->slots);
    m->n = 0;
}

const tok_sm_ent *tok_sm_get(const tok_strmap *m, const char *key, size_t len)
{
    if (!m->n)
        return NULL;
    uint64_t h = tok_hash(key, len);
    size_t i = (size_t)h & m->mask;
    for (;;) {
        uint32_t s = m->slots[i];
        if (!s)
            return NULL;
        const tok_sm_ent *en = &m->ents[s - 1];
        if (en->hash == h && en->len == len && memcmp(en->key, key, len) == 0)
            return en;
        i = (i + 1) & m->mask;
    }
}

static int sm_grow(tok_strmap *m, yt_err *e)
{
    size_t ns = (m->mask + 1) * 2;
    uint32_t *slots = yt_calloc(ns, sizeof *slots, "a map's slots", e);
    if (!slots)
        return -1;
    for (size_t k = 0; k < m->n; k++) {
        size_t i = (size_t)m->ents[k].hash & (ns - 1);
        while (slots[i])
            i = (i + 1) & (ns - 1);
        slots[i] = (uint32_t)k + 1;
    }
    free(m->slots);
    m->slots = slots;
    m->mask = ns - 1;
    return 0;
}

int tok_sm_put(tok_strmap *m, const char *key, size_t len, uint32_t val, yt_err *e)
{
    if (len > UINT32_MAX)
        return yt_errf(e, "token of %zu bytes is too long", len);
    uint64_t h = tok_hash(key, len);
    size_t i = (size_t)h & m->mask;
    for (;;) {
        uint32_t s = m->slots[i];
        if (!s)
            break;
        tok_sm_ent *en = &m->ents[s - 1];
        if (en->hash == h && en->len == len && memcmp(en->key, key, len) == 0) {
            en->val = val;
            return 0;
        }
        i = (i + 1) & m->mask;
    }
    if (m->n == m->cap) {
        size_t nc = m->cap * 2;
        tok_sm_ent *v = yt_realloc_array(m->ents, nc, sizeof *v, "a map's entries", e);
        if (!v)
            return -1;
        m->ents = v;
        m->cap = nc;
    }
    m->ents[m->n] = (tok_sm_ent){key, (uint32_t)len, val, h};
    m->slots[i] = (uint32_t)(++m->n);
    if (m->n * 2 > m->mask + 1)
        return sm_grow(m, e);
    return 0;
}

int tok_mm_init(tok_mergemap *m, size_t expect, yt_err *e)
{
    memset(m, 0, sizeof *m);
    size_t ns = pow2_at_least(expect * 2 + 16);
    if (!(m->keys = yt_alloc_array(ns, sizeof *m->keys, "the merge keys", e)) ||
        !(m->rank = yt_alloc_array(ns, sizeof *m->rank, "the merge ranks", e)) ||
        !(m->id = yt_alloc_array(ns, sizeof *m->id, "the merge results", e))) {
        tok_mm_free(m);
        return -1;
    }
    memset(m->keys, 0xff, ns * sizeof *m->keys);
    m->mask = ns - 1;
    return 0;
}

void tok_mm_free(tok_mergemap *m)
{
    free(m->keys);
    free(m->rank);
    free(m->id);
    memset(m, 0, sizeof *m);
}

void tok_mm_put(tok_mergemap *m, uint32_t a, uint32_t b, uint32_t rank, uint32_t id)
{
    uint64_t k = (uint64_t)a << 32 | b;
    uint64_t h = k * 0x9e3779b97f4a7c15ULL;
    size_t i = (size_t)(h >> 20) & m->mask;
    while (m->keys[i] != UINT64_MAX && m->keys[i] != k)
        i = (i + 1) & m->mask;
    if (m->keys[i] == UINT64_MAX)
        m->n++;
    m->keys[i] = k;
    m->rank[i] = rank;
    m->id[i] = id;
}
