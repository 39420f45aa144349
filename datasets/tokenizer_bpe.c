/* BPE of one pre-token, as HF tokenizers' models/bpe (merge_word + Word::merge_all):
 * symbols from characters (bytes for byte-level models), byte fallback, unk fusing,
 * then repeatedly the lowest-ranked adjacent pair (leftmost on ties) is merged. Short
 * words use a linear scan, long ones a binary heap; both give the same merges. */
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer_internal.h"

typedef struct sym {
    uint32_t id;
    int32_t prev, next;
    uint32_t len; /* bytes; 0 = merged away */
} sym;

typedef struct hent {
    uint32_t rank, pos, id;
} hent;

static int grow_sym(yt_tok *t, size_t n, yt_err *e)
{
    if (n <= t->sym_cap)
        return 0;
    size_t nc = t->sym_cap ? t->sym_cap : 256;
    while (nc < n)
        nc *= 2;
    void *v = realloc(t->sym, nc * sizeof(sym));
    void *h = realloc(t->heap, nc * 2 * sizeof(hent));
    if (v)
        t->sym = v;
    if (h)
        t->heap = h;
    if (!v || !h)
        return yt_errf(e, "out of memory (BPE of a %zu-byte word)", n);
    t->sym_cap = nc;
    t->heap_cap = nc * 2;
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

int tok_bpe_word(yt_tok *t, const char *w, size_t n, yt_tok_ids *out, yt_err *e)
{
    if (!n)
        return 0;
    if (t->ignore_merges) {
        const tok_sm_ent *en = tok_sm_get(&t->model_vocab, w, n);
        if (en)
            return yt_tok_ids_push(out, en->val, e);
    }
    if (grow_sym(t, n + 1, e))
        return -1;
    sym *s = t->sym;
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
        if (t->byte_level) {
            cl = 1;
            id = t->byte_sym[(unsigned char)w[i]];
        } else {
            uint32_t cp;
            cl = tok_utf8_get(w + i, n - i, &cp);
            const tok_sm_ent *en = tok_sm_get(&t->model_vocab, w + i, cl);
            if (en)
                id = en->val;
        }
        if (id >= 0) {
            if (have_unk) {
                ADD((uint32_t)t->unk_id, unk_len);
                have_unk = 0;
            }
            ADD((uint32_t)id, (uint32_t)cl);
            i += cl;
            continue;
        }
        if (t->byte_fallback) {
            int all = 1;
            for (size_t k = 0; k < cl; k++)
                if (t->byte_sym[(unsigned char)w[i + k]] < 0)
                    all = 0;
            if (all) {
                /* as HF: a pending unk is not flushed here */
                for (size_t k = 0; k < cl; k++)
                    ADD((uint32_t)t->byte_sym[(unsigned char)w[i + k]], 1);
                i += cl;
                continue;
            }
        }
        if (t->unk_id >= 0) {
            if (have_unk && t->fuse_unk) {
                unk_len += (uint32_t)cl;
            } else {
                if (have_unk)
                    ADD((uint32_t)t->unk_id, unk_len);
                have_unk = 1;
                unk_len = (uint32_t)cl;
            }
        }
        /* no unk token: HF drops the character */
        i += cl;
    }
    if (have_unk)
        ADD((uint32_t)t->unk_id, unk_len);
#undef ADD
    if (ns == 0)
        return 0;
    s[ns - 1].next = -1;

    if (ns > 1 && t->merges.n) {
        uint32_t rank, nid;
        if (ns <= 48) {
            /* linear scan: lowest rank, leftmost; same result as the heap */
            uint32_t prank[48], pid[48];
            for (size_t k = 0; k + 1 < ns; k++) {
                if (!tok_mm_get(&t->merges, s[k].id, s[k + 1].id, &prank[k], &pid[k]))
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
                if (s[bp].next >= 0 &&
                    tok_mm_get(&t->merges, s[bp].id, s[s[bp].next].id, &rank, &nid)) {
                    prank[bp] = rank;
                    pid[bp] = nid;
                } else {
                    prank[bp] = UINT32_MAX;
                }
                int32_t p = s[bp].prev;
                if (p >= 0) {
                    if (tok_mm_get(&t->merges, s[p].id, s[bp].id, &rank, &nid)) {
                        prank[p] = rank;
                        pid[p] = nid;
                    } else {
                        prank[p] = UINT32_MAX;
                    }
                }
            }
        } else {
            hent *h = t->heap;
            size_t hn = 0;
            for (size_t k = 0; k + 1 < ns; k++)
                if (tok_mm_get(&t->merges, s[k].id, s[k + 1].id, &rank, &nid))
                    hpush(h, &hn, (hent){rank, (uint32_t)k, nid});
            while (hn) {
                hent top = hpop(h, &hn);
                sym *cur = &s[top.pos];
                if (cur->len == 0 || cur->next < 0)
                    continue;
                int32_t r = cur->next;
                if (!tok_mm_get(&t->merges, cur->id, s[r].id, &rank, &nid) || nid != top.id)
                    continue;
                cur->id = top.id;
                cur->len += s[r].len;
                s[r].len = 0;
                cur->next = s[r].next;
                if (s[r].next >= 0)
                    s[s[r].next].prev = (int32_t)top.pos;
                if (hn + 2 > t->heap_cap) {
                    /* cannot happen: each merge removes a symbol and adds <= 2 entries
                     * on top of the <= ns initial ones; keep a guard anyway */
                    return yt_errf(e, "BPE heap overflow");
                }
                if (cur->prev >= 0 &&
                    tok_mm_get(&t->merges, s[cur->prev].id, cur->id, &rank, &nid))
                    hpush(h, &hn, (hent){rank, (uint32_t)cur->prev, nid});
                if (cur->next >= 0 && tok_mm_get(&t->merges, cur->id, s[cur->next].id, &rank, &nid))
                    hpush(h, &hn, (hent){rank, top.pos, nid});
            }
        }
    }
    for (int32_t k = 0; k >= 0; k = s[k].next)
        if (yt_tok_ids_push(out, s[k].id, e))
            return -1;
    return 0;
}

/* ---- merges from SentencePiece scores (transformers' SentencePieceExtractor) ---- */

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

int tok_merges_from_scores(yt_tok *t, const float *scores, yt_err *e)
{
    /* a temporary piece -> id map (the model vocabulary map is built later) */
    tok_strmap m;
    if (tok_sm_init(&m, t->n_ids, e))
        return -1;
    for (uint32_t id = 0; id < t->n_ids; id++)
        if (t->piece[id] && !tok_sm_get(&m, t->piece[id], t->piece_len[id]) &&
            tok_sm_put(&m, t->piece[id], t->piece_len[id], id, e)) {
            tok_sm_free(&m);
            return -1;
        }
    size_t nc = 0, cap = (size_t)t->n_ids * 2 + 16;
    cand *c = malloc(cap * sizeof *c);
    if (!c) {
        tok_sm_free(&m);
        return yt_errf(e, "out of memory (merges)");
    }
    for (uint32_t id = 0; id < t->n_ids; id++) {
        const char *p = t->piece[id];
        if (!p)
            continue;
        size_t len = t->piece_len[id];
        size_t k = 0;
        while (k < len) {
            uint32_t cp;
            k += tok_utf8_get(p + k, len - k, &cp);
            if (k >= len)
                break;
            const tok_sm_ent *a = tok_sm_get(&m, p, k), *b = tok_sm_get(&m, p + k, len - k);
            if (!a || !b)
                continue;
            if (nc == cap) {
                cap *= 2;
                cand *v = realloc(c, cap * sizeof *v);
                if (!v) {
                    free(c);
                    tok_sm_free(&m);
                    return yt_errf(e, "out of memory (merges)");
                }
                c = v;
            }
            c[nc++] = (cand){scores[id], id, a->val, b->val};
        }
    }
    tok_sm_free(&m);
    qsort(c, nc, sizeof *c, cand_cmp);
    if (tok_mm_init(&t->merges, nc, e)) {
        free(c);
        return -1;
    }
    for (size_t i = 0; i < nc; i++)
        tok_mm_put(&t->merges, c[i].l, c[i].r, (uint32_t)i, c[i].m);
    t->n_merges = nc;
    free(c);
    return 0;
}
