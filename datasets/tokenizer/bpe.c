/* The BPE model: built from merges, SentencePiece scores and the vocabulary; and
 * BPE of one pre-token as HF's models/bpe (merge_word + Word::merge_all), the
 * lowest-ranked adjacent pair (leftmost on ties) merged until none is left. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer/bpe.h"
#include "datasets/tokenizer/utf8.h"

typedef struct sym {
    uint32_t id;
    int32_t prev, next;
    uint32_t len; /* bytes; 0 = merged away */
} sym;

typedef struct hent {
    uint32_t rank, pos, id;
} hent;

void tok_bpe_init(tok_bpe *m)
{
    memset(m, 0, sizeof *m);
    m->unk_id = -1;
    for (int i = 0; i < 256; i++)
        m->byte_sym[i] = -1;
}

void tok_bpe_free(tok_bpe *m)
{
    tok_mm_free(&m->merges);
    tok_sm_free(&m->vocab);
    if (m->raw_key)
        for (uint32_t i = 0; i < m->n_keys; i++)
            free(m->raw_key[i]);
    free(m->raw_key);
    free(m->sym);
    free(m->heap);
    tok_bpe_init(m);
}

/* ---------------- building ---------------- */

int tok_bpe_merges_init(tok_bpe *m, size_t n, yt_err *e)
{
    tok_mm_free(&m->merges);
    m->n_merges = 0;
    return tok_mm_init(&m->merges, n, e);
}

int tok_bpe_merge(tok_bpe *m, const tok_strmap *ids, const char *a, size_t al, const char *b,
                  size_t bl, uint32_t rank, yt_tok_text *cat, yt_err *e)
{
    const tok_sm_ent *ea = tok_sm_get(ids, a, al), *eb = tok_sm_get(ids, b, bl);
    if (!ea)
        return 1;
    if (!eb)
        return 2;
    cat->n = 0;
    if (yt_tok_text_append(cat, a, al, e) || yt_tok_text_append(cat, b, bl, e))
        return -1;
    const tok_sm_ent *em = tok_sm_get(ids, cat->s, cat->n);
    if (!em)
        return 3;
    tok_mm_put(&m->merges, ea->val, eb->val, rank, em->val);
    return 0;
}

typedef struct cand {
    float score;
    uint32_t m, l, r;
} cand;

static int cand_cmp(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->m != b->m)
        return a->m < b->m ? -1 : 1;
    if (a->l != b->l)
        return a->l < b->l ? -1 : 1;
    if (a->r != b->r)
        return a->r < b->r ? -1 : 1;
    return 0;
}

int tok_bpe_merges_from_scores(tok_bpe *m, const tok_vocab *v, const float *scores, yt_err *e)
{
    tok_strmap ids;
    if (tok_vocab_first_ids(v, &ids, e))
        return -1;
    size_t nc = 0, cap = (size_t)v->n_ids * 2 + 16;
    cand *c = yt_alloc_array(cap, sizeof *c, "the merge candidates", e);
    if (!c) {
        tok_sm_free(&ids);
        return -1;
    }
    /* every split of a piece into two pieces is a candidate, ranked by the score of
     * the whole piece */
    for (uint32_t id = 0; id < v->n_ids; id++) {
        const char *p = v->piece[id];
        if (!p)
            continue;
        size_t len = v->piece_len[id];
        size_t k = 0;
        while (k < len) {
            uint32_t cp;
            k += tok_utf8_get(p + k, len - k, &cp);
            if (k >= len)
                break;
            const tok_sm_ent *a = tok_sm_get(&ids, p, k), *b = tok_sm_get(&ids, p + k, len - k);
            if (!a || !b)
                continue;
            if (nc == cap) {
                cand *nv = yt_realloc_array(c, cap * 2, sizeof *nv, "the merge candidates", e);
                if (!nv) {
                    free(c);
                    tok_sm_free(&ids);
                    return -1;
                }
                c = nv;
                cap *= 2;
            }
            c[nc++] = (cand){scores[id], id, a->val, b->val};
        }
    }
    tok_sm_free(&ids);
    if (nc > 1)
        qsort(c, nc, sizeof *c, cand_cmp);
    if (tok_bpe_merges_init(m, nc, e)) {
        free(c);
        return -1;
    }
    for (size_t i = 0; i < nc; i++)
        tok_mm_put(&m->merges, c[i].l, c[i].r, (uint32_t)i, c[i].m);
    m->n_merges = nc;
    free(c);
    return 0;
}

int tok_bpe_build(tok_bpe *m, const tok_vocab *v, int byte_level, yt_err *e)
{
    uint32_t n = v->n_ids;
    m->byte_level = byte_level;
    if (tok_sm_init(&m->vocab, n, e))
        return -1;
    if (byte_level) {
        m->raw_key = yt_calloc(n, sizeof *m->raw_key, "the byte-level keys", e);
        if (!m->raw_key)
            return -1;
        m->n_keys = n;
    }
    /* the model's ids are those set before the added tokens; an added token may also
     * be a model token (same id) */
    for (uint32_t id = 0; id < n; id++) {
        const char *p = v->piece[id];
        if (!p || v->added_only[id])
            continue;
        if (!byte_level) {
            if (tok_sm_put(&m->vocab, p, v->piece_len[id], id, e))
                return -1;
            continue;
        }
        /* decode the byte alphabet; a piece outside it can never be produced */
        size_t len = v->piece_len[id], k = 0, nb = 0;
        char *raw = yt_malloc(len + 1, "a byte-level key", e);
        if (!raw)
            return yt_err_prefix(e, "token %u", id);
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
        m->raw_key[id] = raw;
        if (tok_sm_put(&m->vocab, raw, nb, id, e))
            return -1;
    }
    for (int b = 0; b < 256; b++) {
        const tok_sm_ent *en;
        if (byte_level) {
            char c = (char)b;
            en = tok_sm_get(&m->vocab, &c, 1);
        } else {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", b);
            en = tok_sm_get(&m->vocab, name, 6);
        }
        m->byte_sym[b] = en ? (int64_t)en->val : -1;
    }
    return 0;
}

int tok_bpe_hash_merges(const tok_bpe *m, uint64_t *hp, yt_err *e)
{
    uint64_t h = tok_fp_u64(*hp, m->n_merges);
    if (m->merges.n) {
        size_t nr = m->n_merges ? m->n_merges : 1;
        uint64_t *byrank = yt_calloc(nr, sizeof *byrank, "the merges by rank", e);
        uint32_t *idby = byrank ? yt_calloc(nr, sizeof *idby, "the merge results by rank", e) : NULL;
        if (!byrank || !idby) {
            free(byrank);
            free(idby);
            return yt_err_prefix(e, "the fingerprint");
        }
        for (size_t i = 0; i <= m->merges.mask; i++)
            if (m->merges.keys[i] != UINT64_MAX && m->merges.rank[i] < m->n_merges) {
                byrank[m->merges.rank[i]] = m->merges.keys[i] + 1;
                idby[m->merges.rank[i]] = m->merges.id[i];
            }
        for (size_t r = 0; r < m->n_merges; r++) {
            h = tok_fp_u64(h, byrank[r]);
            h = tok_fp_u64(h, idby[r]);
        }
        free(byrank);
        free(idby);
    }
    *hp = h;
    return 0;
}

/* ---------------- merging one word ---------------- */

static int grow_sym(tok_bpe *m, size_t n, yt_err *e)
{
    if (n <= m->sym_cap)
        return 0;
    size_t nc = m->sym_cap ? m->sym_cap : 256;
    while (nc < n)
        nc *= 2;
    void *v = yt_realloc_array(m->sym, nc, sizeof(sym), "a word's BPE symbols", e);
    if (v)
        m->sym = v;
    void *h = v ? yt_realloc_array(m->heap, nc * 2, sizeof(hent), "a word's BPE heap", e) : NULL;
    if (h)
        m->heap = h;
    if (!v || !h)
        return -1;
    m->sym_cap = nc;
    m->heap_cap = nc * 2;
    return 0;
}

static inline int hless(const hent *a, const hent *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void hpush(hent *h, size_t *n, hent x)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hless(&x, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static hent hpop(hent *h, size_t *n)
{
    hent top = h[0];
    hent x = h[--(*n)];
    size_t i = 0, m = *n;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= m)
            break;
        size_t c = (l + 1 < m && hless(&h[l + 1], &h[l])) ? l + 1 : l;
        if (!hless(&h[c], &x))
            break;
        h[i] = h[c];
        i = c;
    }
    if (m)
        h[i] = x;
    return top;
}

/* The symbols of w: known characters (bytes), byte fallback, unk (fused).  Returns
 * their count. */
static size_t symbols(const tok_bpe *m, const char *w, size_t n, sym *s)
{
    size_t ns = 0;
    /* pending unk: (id, len), HF keeps it until the next known symbol or the end */
    int have_unk = 0;
    uint32_t unk_len = 0;
#define ADD(ID, LEN)                                                                       \
    do {                                                                                   \
        s[ns].id = (ID);                                                                   \
        s[ns].len = (LEN);                                                                 \
        s[ns].prev = (int32_t)ns - 1;                                                      \
        s[ns].next = (int32_t)ns + 1;                                                      \
        ns++;                                                                              \
    } while (0)
    size_t i = 0;
    while (i < n) {
        size_t cl;
        int64_t id = -1;
        if (m->byte_level) {
            cl = 1;
            id = m->byte_sym[(unsigned char)w[i]];
        } else {
            uint32_t cp;
            cl = tok_utf8_get(w + i, n - i, &cp);
            const tok_sm_ent *en = tok_sm_get(&m->vocab, w + i, cl);
            if (en)
                id = en->val;
        }
        if (id >= 0) {
            if (have_unk) {
                ADD((uint32_t)m->unk_id, unk_len);
                have_unk = 0;
            }
            ADD((uint32_t)id, (uint32_t)cl);
            i += cl;
            continue;
        }
        if (m->byte_fallback) {
            int all = 1;
            for (size_t k = 0; k < cl; k++)
                if (m->byte_sym[(unsigned char)w[i + k]] < 0)
                    all = 0;
            if (all) {
                /* as HF: a pending unk is not flushed here */
                for (size_t k = 0; k < cl; k++)
                    ADD((uint32_t)m->byte_sym[(unsigned char)w[i + k]], 1);
                i += cl;
                continue;
            }
        }
        if (m->unk_id >= 0) {
            if (have_unk && m->fuse_unk) {
                unk_len += (uint32_t)cl;
            } else {
                if (have_unk)
                    ADD((uint32_t)m->unk_id, unk_len);
                have_unk = 1;
                unk_len = (uint32_t)cl;
            }
        }
        /* no unk token: HF drops the character */
        i += cl;
    }
    if (have_unk)
        ADD((uint32_t)m->unk_id, unk_len);
#undef ADD
    if (ns)
        s[ns - 1].next = -1;
    return ns;
}

/* Short words: a linear scan for the lowest rank, leftmost (same result as the heap,
 * which long words use). */
static void merge_scan(const tok_bpe *m, sym *s, size_t ns)
{
    uint32_t prank[48], pid[48], rank, nid;
    for (size_t k = 0; k + 1 < ns; k++) {
        if (!tok_mm_get(&m->merges, s[k].id, s[k + 1].id, &prank[k], &pid[k]))
            prank[k] = UINT32_MAX;
    }
    prank[ns - 1] = UINT32_MAX;
    for (;;) {
        uint32_t best = UINT32_MAX;
        int32_t bp = -1;
        for (int32_t k = 0; k >= 0; k = s[k].next)
            if (prank[k] < best) {
                best = prank[k];
                bp = k;
            }
        if (bp < 0)
            break;
        int32_t r = s[bp].next;
        s[bp].id = pid[bp];
        s[bp].len += s[r].len;
        s[r].len = 0;
        s[bp].next = s[r].next;
        if (s[r].next >= 0)
            s[s[r].next].prev = bp;
        if (s[bp].next >= 0 && tok_mm_get(&m->merges, s[bp].id, s[s[bp].next].id, &rank, &nid)) {
            prank[bp] = rank;
            pid[bp] = nid;
        } else {
            prank[bp] = UINT32_MAX;
        }
        int32_t p = s[bp].prev;
        if (p >= 0) {
            if (tok_mm_get(&m->merges, s[p].id, s[bp].id, &rank, &nid)) {
                prank[p] = rank;
                pid[p] = nid;
            } else {
                prank[p] = UINT32_MAX;
            }
        }
    }
}

/* Long words: a heap of candidate pairs; stale entries are skipped when popped. */
static int merge_heap(tok_bpe *m, sym *s, size_t ns, yt_err *e)
{
    hent *h = m->heap;
    size_t hn = 0;
    uint32_t rank, nid;
    for (size_t k = 0; k + 1 < ns; k++)
        if (tok_mm_get(&m->merges, s[k].id, s[k + 1].id, &rank, &nid))
            hpush(h, &hn, (hent){rank, (uint32_t)k, nid});
    while (hn) {
        hent top = hpop(h, &hn);
        sym *cur = &s[top.pos];
        if (cur->len == 0 || cur->next < 0)
            continue;
        int32_t r = cur->next;
        if (!tok_mm_get(&m->merges, cur->id, s[r].id, &rank, &nid) || nid != top.id)
            continue;
        cur->id = top.id;
        cur->len += s[r].len;
        s[r].len = 0;
        cur->next = s[r].next;
        if (s[r].next >= 0)
            s[s[r].next].prev = (int32_t)top.pos;
        if (hn + 2 > m->heap_cap) {
            /* cannot happen: each merge removes a symbol and adds <= 2 entries on top
             * of the <= ns initial ones; keep a guard anyway */
            return yt_errf(e, "BPE heap overflow");
        }
        if (cur->prev >= 0 && tok_mm_get(&m->merges, s[cur->prev].id, cur->id, &rank, &nid))
            hpush(h, &hn, (hent){rank, (uint32_t)cur->prev, nid});
        if (cur->next >= 0 && tok_mm_get(&m->merges, cur->id, s[cur->next].id, &rank, &nid))
            hpush(h, &hn, (hent){rank, top.pos, nid});
    }
    return 0;
}

int tok_bpe_word(tok_bpe *m, const char *w, size_t n, yt_tok_ids *out, yt_err *e)
{
    if (!n)
        return 0;
    if (m->ignore_merges) {
        const tok_sm_ent *en = tok_sm_get(&m->vocab, w, n);
        if (en)
            return yt_tok_ids_push(out, en->val, e);
    }
    if (grow_sym(m, n + 1, e))
        return -1;
    sym *s = m->sym;
    size_t ns = symbols(m, w, n, s);
    if (ns == 0)
        return 0;
    if (ns > 1 && m->merges.n) {
        if (ns <= 48)
            merge_scan(m, s, ns);
        else if (merge_heap(m, s, ns, e))
            return -1;
    }
    for (int32_t k = 0; k >= 0; k = s[k].next)
        if (yt_tok_ids_push(out, s[k].id, e))
            return -1;
    return 0;
}
