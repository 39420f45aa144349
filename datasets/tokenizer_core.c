/* The tokenizer object: maps, arena, added-token splitting, the encode driver,
 * the cache, the fingerprint and the accessors (see tokenizer.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/tokenizer_internal.h"

#define CACHE_MAX_ENTRIES (1u << 17)
#define CACHE_KEY_BYTES ((size_t)8 << 20)
#define CACHE_MAX_WORD 256

/* ---------------- small buffers ---------------- */

int yt_tok_ids_push(yt_tok_ids *a, uint32_t id, yt_err *e)
{
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 256;
        uint32_t *v = realloc(a->v, nc * sizeof *v);
        if (!v)
            return yt_errf(e, "out of memory (%zu token ids)", nc);
        a->v = v;
        a->cap = nc;
    }
    a->v[a->n++] = id;
    return 0;
}

int yt_tok_text_append(yt_tok_text *s, const void *p, size_t n, yt_err *e)
{
    if (s->n + n + 1 > s->cap) {
        size_t nc = s->cap ? s->cap : 256;
        while (nc < s->n + n + 1)
            nc *= 2;
        char *v = realloc(s->s, nc);
        if (!v)
            return yt_errf(e, "out of memory (%zu bytes of text)", nc);
        s->s = v;
        s->cap = nc;
    }
    if (n)
        memcpy(s->s + s->n, p, n);
    s->n += n;
    s->s[s->n] = '\0';
    return 0;
}

int tok_pieces_push(tok_pieces *a, const char *p, size_t n, int at_origin, yt_err *e)
{
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        tok_piece *v = realloc(a->v, nc * sizeof *v);
        if (!v)
            return yt_errf(e, "out of memory (pre-tokens)");
        a->v = v;
        a->cap = nc;
    }
    a->v[a->n].p = p;
    a->v[a->n].n = n;
    a->v[a->n].at_origin = at_origin;
    a->n++;
    return 0;
}

char *tok_arena_alloc(tok_arena *a, size_t n, yt_err *e)
{
    n = (n + 7) & ~(size_t)7;
    tok_arena_blk *b = a->head;
    if (!b || b->cap - b->used < n) {
        /* reuse a later (free) block when big enough: blocks after head are empty */
        size_t cap = n > ((size_t)1 << 16) ? n : ((size_t)1 << 16);
        tok_arena_blk *nb = malloc(sizeof *nb + cap);
        if (!nb) {
            yt_errf(e, "out of memory (%zu bytes of scratch)", n);
            return NULL;
        }
        nb->used = 0;
        nb->cap = cap;
        nb->next = b;
        a->head = nb;
        b = nb;
    }
    char *p = b->data + b->used;
    b->used += n;
    return p;
}

void tok_arena_reset(tok_arena *a)
{
    /* keep the newest block, free the others */
    tok_arena_blk *b = a->head;
    if (!b)
        return;
    tok_arena_blk *rest = b->next;
    b->next = NULL;
    b->used = 0;
    while (rest) {
        tok_arena_blk *nx = rest->next;
        free(rest);
        rest = nx;
    }
}

void tok_arena_free(tok_arena *a)
{
    tok_arena_blk *b = a->head;
    while (b) {
        tok_arena_blk *nx = b->next;
        free(b);
        b = nx;
    }
    a->head = NULL;
}

/* ---------------- maps ---------------- */

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
    m->slots = calloc(ns, sizeof *m->slots);
    m->cap = expect + 16;
    m->ents = malloc(m->cap * sizeof *m->ents);
    if (!m->slots || !m->ents) {
        tok_sm_free(m);
        return yt_errf(e, "out of memory (map of %zu entries)", expect);
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
    uint32_t *slots = calloc(ns, sizeof *slots);
    if (!slots)
        return yt_errf(e, "out of memory (map)");
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
        tok_sm_ent *v = realloc(m->ents, nc * sizeof *v);
        if (!v)
            return yt_errf(e, "out of memory (map)");
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
    m->keys = malloc(ns * sizeof *m->keys);
    m->rank = malloc(ns * sizeof *m->rank);
    m->id = malloc(ns * sizeof *m->id);
    if (!m->keys || !m->rank || !m->id) {
        tok_mm_free(m);
        return yt_errf(e, "out of memory (%zu merges)", expect);
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

/* ---------------- UTF-8 and the byte alphabet ---------------- */

size_t yt_tok_utf8_check(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* ASCII fast path, 8 bytes at a time */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        unsigned char lo, hi;
        size_t need = tok_utf8_lead(c, &lo, &hi);
        if (!need)
            return i;
        if (i + need >= len)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
        i += need + 1;
    }
    return len;
}

size_t tok_utf8_put(char *dst, uint32_t cp)
{
    unsigned char *d = (unsigned char *)dst;
    if (cp < 0x80) {
        d[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (unsigned char)(0xc0 | (cp >> 6));
        d[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (unsigned char)(0xe0 | (cp >> 12));
        d[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (unsigned char)(0xf0 | (cp >> 18));
    d[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

size_t tok_utf8_get(const char *str, size_t n, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    if (c < 0x80 || n < 2) {
        *cp = c;
        return 1;
    }
    if (c < 0xe0) {
        *cp = (uint32_t)(c & 0x1f) << 6 | (s[1] & 0x3f);
        return 2;
    }
    if (c < 0xf0 || n < 4) {
        if (n < 3) {
            *cp = c;
            return 1;
        }
        *cp = (uint32_t)(c & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
        return 3;
    }
    *cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
          (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
    return 4;
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the others
 * to U+0100 + n in byte order. */
uint32_t tok_byte_to_cp(unsigned char b)
{
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae))
        return b;
    uint32_t n = 0;
    for (unsigned x = 0; x < b; x++)
        if (!((x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae)))
            n++;
    return 0x100 + n;
}

int tok_cp_to_byte(uint32_t cp)
{
    if ((cp >= 0x21 && cp <= 0x7e) || (cp >= 0xa1 && cp <= 0xac) || (cp >= 0xae && cp <= 0xff))
        return (int)cp;
    if (cp < 0x100 || cp >= 0x144)
        return -1;
    /* the (cp - 0x100)-th byte outside the printable ranges, in byte order */
    static const unsigned char other[68] = {
        0,   1,   2,   3,   4,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  15,  16,
        17,  18,  19,  20,  21,  22,  23,  24,  25,  26,  27,  28,  29,  30,  31,  32,  127,
        128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144,
        145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 173};
    return other[cp - 0x100];
}

/* Unicode White_Space (Rust char::is_whitespace). */
static int is_white_space(uint32_t c)
{
    return (c >= 9 && c <= 13) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* ---------------- construction ---------------- */

int tok_new(yt_tok **out, const char *path, const char *kind, yt_err *e)
{
    yt_tok *t = calloc(1, sizeof *t);
    if (!t)
        return yt_errf(e, "%s: out of memory", path);
    t->path = strdup(path);
    t->kind = kind;
    t->unk_id = -1;
    t->bos = t->eos = -1;
    for (int i = 0; i < 256; i++)
        t->byte_sym[i] = -1;
    if (!t->path || tok_sm_init(&t->all_pieces, 1024, e)) {
        yt_tok_free(t);
        return yt_errf(e, "%s: out of memory", path);
    }
    *out = t;
    return 0;
}

int tok_reserve_ids(yt_tok *t, uint32_t n, yt_err *e)
{
    if (n <= t->n_ids)
        return 0;
    char **p = realloc(t->piece, (size_t)n * sizeof *p);
    if (!p)
        return yt_errf(e, "%s: out of memory (%u tokens)", t->path, n);
    t->piece = p;
    uint32_t *l = realloc(t->piece_len, (size_t)n * sizeof *l);
    if (!l)
        return yt_errf(e, "%s: out of memory (%u tokens)", t->path, n);
    t->piece_len = l;
    unsigned char *ao = realloc(t->added_only, n);
    if (!ao)
        return yt_errf(e, "%s: out of memory (%u tokens)", t->path, n);
    t->added_only = ao;
    for (uint32_t i = t->n_ids; i < n; i++) {
        t->piece[i] = NULL;
        t->piece_len[i] = 0;
        t->added_only[i] = 0;
    }
    t->n_ids = n;
    return 0;
}

int tok_set_piece(yt_tok *t, uint32_t id, const char *s, size_t len, const char *where, yt_err *e)
{
    if (id >= 0xfffffff0u)
        return yt_errf(e, "%s: %s: token id %u too large", t->path, where, id);
    if (tok_reserve_ids(t, id + 1, e))
        return -1;
    if (t->piece[id])
        return yt_errf(e, "%s: %s: id %u given to two tokens ('%s' and '%.*s')", t->path, where,
                       id, t->piece[id], (int)(len > 64 ? 64 : len), s);
    char *c = malloc(len + 1);
    if (!c)
        return yt_errf(e, "%s: out of memory", t->path);
    memcpy(c, s, len);
    c[len] = '\0';
    t->piece[id] = c;
    t->piece_len[id] = (uint32_t)len;
    return 0;
}

int tok_add_added(yt_tok *t, const tok_added *a, yt_err *e)
{
    if (a->id < t->n_ids && t->piece[a->id]) {
        if (t->piece_len[a->id] != a->len || memcmp(t->piece[a->id], a->content, a->len) != 0)
            return yt_errf(e, "%s: added token '%s' has id %u, which the vocabulary gives to '%s'",
                           t->path, a->content, a->id, t->piece[a->id]);
    } else {
        if (tok_set_piece(t, a->id, a->content, a->len, "added_tokens", e))
            return -1;
        t->added_only[a->id] = 1;
    }
    tok_added *v = realloc(t->added, (t->n_added + 1) * sizeof *v);
    if (!v)
        return yt_errf(e, "%s: out of memory", t->path);
    t->added = v;
    v[t->n_added] = *a;
    v[t->n_added].content = malloc(a->len + 1);
    if (!v[t->n_added].content)
        return yt_errf(e, "%s: out of memory", t->path);
    memcpy(v[t->n_added].content, a->content, a->len);
    v[t->n_added].content[a->len] = '\0';
    t->n_added++;
    return 0;
}

static int trie_node(tok_trie *tr, unsigned char byte, yt_err *e)
{
    if (tr->n == tr->cap) {
        size_t nc = tr->cap ? tr->cap * 2 : 256;
        tok_trie_node *v = realloc(tr->nodes, nc * sizeof *v);
        if (!v)
            return yt_errf(e, "out of memory (added tokens)");
        tr->nodes = v;
        tr->cap = nc;
    }
    tr->nodes[tr->n] = (tok_trie_node){-1, -1, -1, byte};
    return (int)tr->n++;
}

static int trie_insert(tok_trie *tr, const char *s, size_t n, int32_t idx, yt_err *e)
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
    /* a later token with the same content replaces the earlier one (HF keeps one) */
    tr->nodes[cur].added = idx;
    return 0;
}

/* Longest added token starting at s[i]; returns the added index or -1, *len. */
static int32_t trie_longest(const tok_trie *tr, const char *s, size_t n, size_t i, size_t *len)
{
    int32_t cur = tr->root_child[(unsigned char)s[i]];
    int32_t best = -1;
    size_t k = i + 1;
    while (cur >= 0) {
        if (tr->nodes[cur].added >= 0) {
            best = tr->nodes[cur].added;
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

/* Fingerprint helpers: length-prefixed fields. */
static uint64_t fp_bytes(uint64_t h, const void *p, size_t n)
{
    uint64_t len = n;
    h = yt_hash64(&len, sizeof len, h);
    return yt_hash64(p, n, h);
}
static uint64_t fp_u64(uint64_t h, uint64_t v) { return yt_hash64(&v, sizeof v, h); }
static uint64_t fp_str(uint64_t h, const char *s) { return fp_bytes(h, s ? s : "", s ? strlen(s) : 0); }

static uint64_t fingerprint(const yt_tok *t)
{
    uint64_t h = fp_str(YT_HASH_SEED, "yieldtune-tokenizer-1");
    h = fp_u64(h, (uint64_t)t->byte_level);
    h = fp_u64(h, (uint64_t)t->unk_id);
    h = fp_u64(h, (uint64_t)(t->fuse_unk | t->byte_fallback << 1 | t->ignore_merges << 2));
    h = fp_u64(h, t->n_ids);
    for (uint32_t i = 0; i < t->n_ids; i++) {
        if (t->piece[i])
            h = fp_bytes(h, t->piece[i], t->piece_len[i]);
        else
            h = fp_u64(h, UINT64_MAX);
    }
    /* merges in rank order: walk the table and hash (rank, a, b, id) in rank order */
    h = fp_u64(h, t->n_merges);
    if (t->merges.n) {
        uint64_t *byrank = calloc(t->n_merges ? t->n_merges : 1, sizeof *byrank);
        uint32_t *idby = calloc(t->n_merges ? t->n_merges : 1, sizeof *idby);
        if (byrank && idby) {
            for (size_t i = 0; i <= t->merges.mask; i++)
                if (t->merges.keys[i] != UINT64_MAX && t->merges.rank[i] < t->n_merges) {
                    byrank[t->merges.rank[i]] = t->merges.keys[i] + 1;
                    idby[t->merges.rank[i]] = t->merges.id[i];
                }
            for (size_t r = 0; r < t->n_merges; r++) {
                h = fp_u64(h, byrank[r]);
                h = fp_u64(h, idby[r]);
            }
        }
        free(byrank);
        free(idby);
    }
    h = fp_u64(h, t->n_added);
    for (size_t i = 0; i < t->n_added; i++) {
        const tok_added *a = &t->added[i];
        h = fp_u64(h, a->id);
        h = fp_bytes(h, a->content, a->len);
        h = fp_u64(h, (uint64_t)(a->special | a->lstrip << 1 | a->rstrip << 2 | a->normalized << 3 |
                                 a->single_word << 4));
    }
    h = fp_u64(h, t->n_norm);
    for (size_t i = 0; i < t->n_norm; i++) {
        const tok_norm *n = &t->norm[i];
        h = fp_u64(h, (uint64_t)n->kind);
        h = fp_bytes(h, n->a ? n->a : "", n->alen);
        h = fp_bytes(h, n->b ? n->b : "", n->blen);
        h = fp_str(h, n->re.src);
        h = fp_str(h, n->name);
    }
    h = fp_u64(h, t->n_pre);
    for (size_t i = 0; i < t->n_pre; i++) {
        const tok_pre *p = &t->pre[i];
        h = fp_u64(h, (uint64_t)p->kind);
        h = fp_u64(h, (uint64_t)(p->is_regex | p->invert << 1 | p->add_prefix_space << 2 |
                                 p->use_regex << 3 | p->individual << 4 | p->split << 5));
        h = fp_u64(h, (uint64_t)p->behavior);
        h = fp_u64(h, (uint64_t)p->prepend_scheme);
        h = fp_bytes(h, p->lit ? p->lit : "", p->litlen);
        h = fp_str(h, p->re.src);
        h = fp_bytes(h, p->repl, p->repl_len);
    }
    h = fp_u64(h, t->n_prefix);
    for (size_t i = 0; i < t->n_prefix; i++)
        h = fp_u64(h, t->post_prefix[i]);
    h = fp_u64(h, t->n_suffix);
    for (size_t i = 0; i < t->n_suffix; i++)
        h = fp_u64(h, t->post_suffix[i]);
    h = fp_u64(h, t->n_dec | (uint64_t)t->has_decoder << 32);
    for (size_t i = 0; i < t->n_dec; i++) {
        const tok_dec *d = &t->dec[i];
        h = fp_u64(h, (uint64_t)d->kind);
        h = fp_bytes(h, d->a ? d->a : "", d->alen);
        h = fp_bytes(h, d->b ? d->b : "", d->blen);
        h = fp_u64(h, d->content);
        h = fp_u64(h, d->start);
        h = fp_u64(h, d->stop);
        h = fp_u64(h, d->repl);
        h = fp_u64(h, (uint64_t)d->prepend_scheme);
    }
    return h;
}

int tok_finish(yt_tok *t, yt_err *e)
{
    /* byte-level: BPE runs on raw bytes, so vocabulary keys are decoded pieces */
    for (size_t i = 0; i < t->n_pre; i++)
        if (t->pre[i].kind == TP_BYTELEVEL) {
            if (i + 1 != t->n_pre)
                return yt_errf(e, "%s: pre_tokenizer: ByteLevel must be the last step "
                               "(a step after it would see mapped characters)", t->path);
            t->byte_level = 1;
        }
    uint32_t n = t->n_ids;
    if (tok_sm_init(&t->model_vocab, n, e))
        return yt_err_prefix(e, "%s", t->path);
    if (t->byte_level) {
        t->enc_key = calloc(n ? n : 1, sizeof *t->enc_key);
        t->enc_len = calloc(n ? n : 1, sizeof *t->enc_len);
        if (!t->enc_key || !t->enc_len)
            return yt_errf(e, "%s: out of memory", t->path);
    }
    /* model vocabulary ids are those set before the added tokens; added tokens may
     * also be model tokens (same id) */
    for (uint32_t id = 0; id < n; id++) {
        const char *p = t->piece[id];
        if (!p)
            continue;
        if (tok_sm_put(&t->all_pieces, p, t->piece_len[id], id, e)) {
            return yt_err_prefix(e, "%s", t->path);
        }
        if (t->added_only[id])
            continue;
        if (t->byte_level) {
            /* decode the byte alphabet; a piece outside it can never be produced */
            size_t len = t->piece_len[id], k = 0, nb = 0;
            char *raw = malloc(len + 1);
            if (!raw) {
                return yt_errf(e, "%s: out of memory", t->path);
            }
            int ok = 1;
            while (k < len) {
                uint32_t cp;
                k += tok_utf8_get(p + k, len - k, &cp);
                int b = tok_cp_to_byte(cp);
                if (b < 0) {
                    ok = 0;
                    break;
                }
                raw[nb++] = (char)b;
            }
            if (!ok) {
                free(raw);
                continue;
            }
            raw[nb] = '\0';
            t->enc_key[id] = raw;
            t->enc_len[id] = (uint32_t)nb;
            if (tok_sm_put(&t->model_vocab, raw, nb, id, e)) {
                return yt_err_prefix(e, "%s", t->path);
            }
        } else if (tok_sm_put(&t->model_vocab, p, t->piece_len[id], id, e)) {
            return yt_err_prefix(e, "%s", t->path);
        }
    }
    /* one-byte symbols */
    for (int b = 0; b < 256; b++) {
        if (t->byte_level) {
            char c = (char)b;
            const tok_sm_ent *en = tok_sm_get(&t->model_vocab, &c, 1);
            t->byte_sym[b] = en ? (int64_t)en->val : -1;
        } else {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", b);
            const tok_sm_ent *en = tok_sm_get(&t->model_vocab, name, 6);
            t->byte_sym[b] = en ? (int64_t)en->val : -1;
        }
    }
    /* added tokens: pieces, tries, special flags */
    t->is_special = calloc(t->n_ids ? t->n_ids : 1, 1);
    if (!t->is_special)
        return yt_errf(e, "%s: out of memory", t->path);
    for (int b = 0; b < 256; b++)
        t->raw_trie.root_child[b] = t->norm_trie.root_child[b] = -1;
    for (size_t i = 0; i < t->n_added; i++) {
        tok_added *a = &t->added[i];
        if (a->id >= t->n_ids || !t->piece[a->id])
            return yt_errf(e, "%s: added token '%s' has id %u with no token", t->path, a->content,
                           a->id);
        if (tok_sm_put(&t->all_pieces, a->content, a->len, a->id, e))
            return yt_err_prefix(e, "%s", t->path);
        if (a->special)
            t->is_special[a->id] = 1;
        if (a->single_word)
            t->has_single_word = 1;
        tok_trie *tr = a->normalized ? &t->norm_trie : &t->raw_trie;
        if (trie_insert(tr, a->content, a->len, (int32_t)i, e))
            return yt_err_prefix(e, "%s", t->path);
        if (a->len) {
            if (a->normalized)
                t->n_norm_added++;
            else
                t->n_raw_added++;
        }
    }
    if (t->has_single_word &&
        tok_re_compile(&t->word_re, "[\\p{Alphabetic}\\p{N}]", "single_word", e))
        return yt_err_prefix(e, "%s", t->path);
    if (tok_sm_init(&t->cache, 4096, e))
        return yt_err_prefix(e, "%s", t->path);
    t->cache_keys = malloc(CACHE_KEY_BYTES);
    if (!t->cache_keys)
        return yt_errf(e, "%s: out of memory (cache)", t->path);
    t->cache_keys_cap = CACHE_KEY_BYTES;
    t->fingerprint = fingerprint(t);
    return 0;
}

void yt_tok_free(yt_tok *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->n_ids; i++) {
        free(t->piece[i]);
        if (t->enc_key)
            free(t->enc_key[i]);
    }
    free(t->piece);
    free(t->piece_len);
    free(t->added_only);
    free(t->enc_key);
    free(t->enc_len);
    tok_sm_free(&t->model_vocab);
    tok_sm_free(&t->all_pieces);
    tok_mm_free(&t->merges);
    for (size_t i = 0; i < t->n_norm; i++)
        tok_norm_free(&t->norm[i]);
    free(t->norm);
    for (size_t i = 0; i < t->n_pre; i++)
        tok_pre_free(&t->pre[i]);
    free(t->pre);
    for (size_t i = 0; i < t->n_dec; i++)
        tok_dec_free(&t->dec[i]);
    free(t->dec);
    free(t->post_prefix);
    free(t->post_suffix);
    for (size_t i = 0; i < t->n_added; i++)
        free(t->added[i].content);
    free(t->added);
    free(t->raw_trie.nodes);
    free(t->norm_trie.nodes);
    free(t->is_special);
    tok_re_free(&t->word_re);
    tok_sm_free(&t->cache);
    free(t->cache_keys);
    free(t->cache_ids);
    tok_arena_free(&t->arena);
    free(t->pa.v);
    free(t->pb.v);
    free(t->sym);
    free(t->heap);
    free(t->seg);
    free(t->path);
    free(t);
}

/* ---------------- encode ---------------- */

static int bpe_cached(yt_tok *t, const char *w, size_t n, yt_tok_ids *out, yt_err *e)
{
    if (!n)
        return 0;
    if (n <= CACHE_MAX_WORD) {
        const tok_sm_ent *en = tok_sm_get(&t->cache, w, n);
        if (en) {
            const uint32_t *r = t->cache_ids + en->val;
            uint32_t k = r[0];
            if (out->n + k > out->cap) {
                size_t nc = out->cap ? out->cap : 256;
                while (nc < out->n + k)
                    nc *= 2;
                uint32_t *v = realloc(out->v, nc * sizeof *v);
                if (!v)
                    return yt_errf(e, "out of memory (token ids)");
                out->v = v;
                out->cap = nc;
            }
            memcpy(out->v + out->n, r + 1, k * sizeof *r);
            out->n += k;
            return 0;
        }
    }
    size_t before = out->n;
    if (tok_bpe_word(t, w, n, out, e))
        return -1;
    if (n > CACHE_MAX_WORD)
        return 0;
    size_t k = out->n - before;
    if (t->cache.n >= CACHE_MAX_ENTRIES || t->cache_keys_n + n > t->cache_keys_cap) {
        tok_sm_clear(&t->cache);
        t->cache_keys_n = 0;
        t->cache_ids_n = 0;
    }
    if (t->cache_ids_n + k + 1 > t->cache_ids_cap) {
        size_t nc = t->cache_ids_cap ? t->cache_ids_cap * 2 : 65536;
        while (nc < t->cache_ids_n + k + 1)
            nc *= 2;
        uint32_t *v = realloc(t->cache_ids, nc * sizeof *v);
        if (!v)
            return 0; /* the cache is an optimisation */
        t->cache_ids = v;
        t->cache_ids_cap = nc;
    }
    char *key = t->cache_keys + t->cache_keys_n;
    memcpy(key, w, n);
    uint32_t off = (uint32_t)t->cache_ids_n;
    t->cache_ids[t->cache_ids_n++] = (uint32_t)k;
    memcpy(t->cache_ids + t->cache_ids_n, out->v + before, k * sizeof(uint32_t));
    t->cache_ids_n += k;
    t->cache_keys_n += n;
    if (tok_sm_put(&t->cache, key, n, off, e))
        return -1;
    return 0;
}

static int pretok_and_bpe(yt_tok *t, const char *s, size_t n, int at_origin, yt_tok_ids *out,
                          yt_err *e)
{
    if (!n)
        return 0;
    if (!t->n_pre)
        return bpe_cached(t, s, n, out, e);
    if (tok_pretokenize(t, s, n, at_origin, e))
        return -1;
    /* t->pa may be reused by nothing below */
    for (size_t i = 0; i < t->pa.n; i++)
        if (bpe_cached(t, t->pa.v[i].p, t->pa.v[i].n, out, e))
            return -1;
    return 0;
}

static int single_word_ok(yt_tok *t, const char *s, size_t n, size_t start, size_t stop)
{
    /* the character before start / after stop must not be a word character */
    if (start > 0) {
        size_t k = start - 1;
        while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
            k--;
        size_t ms, me;
        yt_err e2;
        int r = tok_re_next(&t->word_re, s + k, start - k, 0, &ms, &me, &e2);
        if (r == 1 && ms == 0)
            return 0;
    }
    if (stop < n) {
        uint32_t cp;
        size_t l = tok_utf8_get(s + stop, n - stop, &cp);
        size_t ms, me;
        yt_err e2;
        int r = tok_re_next(&t->word_re, s + stop, l, 0, &ms, &me, &e2);
        if (r == 1)
            return 0;
    }
    return 1;
}

/* HF AddedVocabulary::find_matches: calls seg(gap) for text between tokens and pushes
 * the added ids. */
typedef int (*gap_fn)(yt_tok *t, const char *s, size_t n, int at_origin, yt_tok_ids *out,
                      yt_err *e);

static int split_added(yt_tok *t, const tok_trie *tr, int n_in_trie, const char *s, size_t n,
                       int at_origin, gap_fn gap, yt_tok_ids *out, yt_err *e)
{
    if (!n_in_trie)
        return gap(t, s, n, at_origin, out, e);
    size_t start_offset = 0, i = 0;
    while (i < n) {
        if (tr->root_child[(unsigned char)s[i]] < 0) {
            i++;
            continue;
        }
        size_t mlen = 0;
        int32_t ai = trie_longest(tr, s, n, i, &mlen);
        if (ai < 0) {
            i++;
            continue;
        }
        const tok_added *a = &t->added[ai];
        size_t start = i, stop = i + mlen;
        i = stop;
        if (a->single_word && !single_word_ok(t, s, n, start, stop))
            continue;
        if (a->lstrip) {
            size_t ns = start;
            while (ns > 0) {
                size_t k = ns - 1;
                while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
                    k--;
                uint32_t cp;
                tok_utf8_get(s + k, ns - k, &cp);
                if (!is_white_space(cp))
                    break;
                ns = k;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (a->rstrip) {
            while (stop < n) {
                uint32_t cp;
                size_t l = tok_utf8_get(s + stop, n - stop, &cp);
                if (!is_white_space(cp))
                    break;
                stop += l;
            }
        }
        if (start_offset < start &&
            gap(t, s + start_offset, start - start_offset, at_origin && start_offset == 0, out, e))
            return -1;
        if (yt_tok_ids_push(out, a->id, e))
            return -1;
        start_offset = stop;
    }
    if (start_offset < n && gap(t, s + start_offset, n - start_offset,
                                at_origin && start_offset == 0, out, e))
        return -1;
    return 0;
}

static int normalized_gap(yt_tok *t, const char *s, size_t n, int at_origin, yt_tok_ids *out,
                          yt_err *e)
{
    return pretok_and_bpe(t, s, n, at_origin, out, e);
}

static int raw_gap(yt_tok *t, const char *s, size_t n, int at_origin, yt_tok_ids *out, yt_err *e)
{
    const char *ns = s;
    size_t nn = n;
    if (t->n_norm && tok_normalize(t, s, n, &ns, &nn, e))
        return -1;
    return split_added(t, &t->norm_trie, t->n_norm_added, ns, nn, at_origin, normalized_gap, out,
                       e);
}

int yt_tok_encode(yt_tok *t, const char *text, size_t len, int add_special, yt_tok_ids *out,
                  yt_err *e)
{
    size_t bad = yt_tok_utf8_check(text, len);
    if (bad < len)
        return yt_errf(e, "encode: invalid UTF-8 at byte offset %zu (byte 0x%02x)", bad,
                       (unsigned char)text[bad]);
    size_t n0 = out->n;
    if (add_special)
        for (size_t i = 0; i < t->n_prefix; i++)
            if (yt_tok_ids_push(out, t->post_prefix[i], e))
                goto fail;
    tok_arena_reset(&t->arena);
    if (len && split_added(t, &t->raw_trie, t->n_raw_added, text, len, 1, raw_gap, out, e))
        goto fail;
    if (add_special)
        for (size_t i = 0; i < t->n_suffix; i++)
            if (yt_tok_ids_push(out, t->post_suffix[i], e))
                goto fail;
    return 0;
fail:
    out->n = n0;
    return -1;
}

/* ---------------- accessors and loading ---------------- */

uint32_t yt_tok_vocab_size(const yt_tok *t) { return t->n_ids; }
int64_t yt_tok_bos_id(const yt_tok *t) { return t->bos; }
int64_t yt_tok_eos_id(const yt_tok *t) { return t->eos; }
const char *yt_tok_source_kind(const yt_tok *t) { return t->kind; }
uint64_t yt_tok_fingerprint(const yt_tok *t) { return t->fingerprint; }

void yt_tok_fingerprint_hex(const yt_tok *t, char buf[17])
{
    snprintf(buf, 17, "%016llx", (unsigned long long)t->fingerprint);
}

int yt_tok_is_special(const yt_tok *t, uint32_t id)
{
    return id < t->n_ids && t->is_special && t->is_special[id];
}

const char *yt_tok_piece(const yt_tok *t, uint32_t id)
{
    return id < t->n_ids ? t->piece[id] : NULL;
}

int64_t yt_tok_piece_id(const yt_tok *t, const char *piece)
{
    const tok_sm_ent *en = tok_sm_get(&t->all_pieces, piece, strlen(piece));
    return en ? (int64_t)en->val : -1;
}

int yt_tok_load(yt_tok **out, const char *path, yt_err *e)
{
    struct stat st;
    if (stat(path, &st))
        return yt_errno(e, errno, "%s", path);
    if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(path) + 32;
        char *p = malloc(n);
        if (!p)
            return yt_errf(e, "%s: out of memory", path);
        snprintf(p, n, "%s/tokenizer.json", path);
        int rc = yt_tok_load_json(out, p, e);
        free(p);
        return rc;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return yt_errno(e, errno, "%s", path);
    char magic[4] = {0};
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    size_t pl = strlen(path);
    if ((got == 4 && memcmp(magic, "GGUF", 4) == 0) ||
        (pl >= 5 && strcmp(path + pl - 5, ".gguf") == 0))
        return yt_tok_load_gguf(out, path, e);
    return yt_tok_load_json(out, path, e);
}
