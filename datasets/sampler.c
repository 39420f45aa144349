/* The sampler: packed windows, a per-epoch permutation from (seed, epoch), global
 * batches split over ranks and micro-batches.  The mapping is spelled out in
 * datasets.h; everything here follows from it. */
#include "datasets/datasets.h"

#include <stdlib.h>
#include <string.h>

struct yt_ds_sampler {
    const yt_ds *ds;
    uint64_t S, B, G, W, r, P, A;
    uint64_t n_windows, steps, epoch_windows; /* epoch_windows = steps * G */
    uint64_t *perm;                           /* [n_windows], for perm_epoch */
    uint64_t perm_epoch;
    uint64_t seed;
    int eos, pad, doc_mask; /* eos: an EOS after every document; pad: one document per window */
    int32_t eos_id, pad_id;
    uint64_t *win_off;      /* pad: [n_docs + 1], first window of each document */
    yt_ds_cursor cur;
};

static void build_perm(yt_ds_sampler *s, uint64_t epoch)
{
    uint64_t n = s->n_windows;
    for (uint64_t i = 0; i < n; i++)
        s->perm[i] = i;
    uint64_t key = yt_mix64(yt_mix64(s->seed) ^ epoch);
    for (uint64_t i = n - 1; i >= 1; i--) {
        uint64_t j = yt_mix64(key ^ yt_mix64(i)) % (i + 1);
        uint64_t t = s->perm[i];
        s->perm[i] = s->perm[j];
        s->perm[j] = t;
    }
    s->perm_epoch = epoch;
}

static uint64_t doc_len(const yt_ds *ds, uint64_t d) { return ds->doc_offsets[d + 1] - ds->doc_offsets[d]; }

/* Windows of document d in pad mode: its n' = len (+1 with EOS) tokens give
 * ceil((n' - 1) / S) windows of S + 1 tokens overlapping by one. */
static uint64_t doc_windows(const yt_ds_sampler *s, uint64_t d)
{
    uint64_t n = doc_len(s->ds, d) + (s->eos ? 1 : 0);
    return n >= 2 ? (n - 1 + s->S - 1) / s->S : 0;
}

int yt_ds_sampler_create(yt_ds_sampler **out, const yt_ds *ds, const yt_ds_sampler_opts *o,
                         yt_err *e)
{
    *out = NULL;
    const char *p = ds->path ? ds->path : "dataset";
    if (o->seq_len < 1 || o->micro_batch < 1 || o->global_batch < 1)
        return yt_errf(e, "sampler: seq_len (%u), micro_batch (%u) and global_batch (%u) "
                          "must be >= 1",
                       o->seq_len, o->micro_batch, o->global_batch);
    if (o->world < 1 || o->rank < 0 || o->rank >= o->world)
        return yt_errf(e, "sampler: rank %d of world %d is not valid", o->rank, o->world);
    uint64_t W = (uint64_t)o->world, B = o->micro_batch, G = o->global_batch;
    if (G % (W * B) != 0)
        return yt_errf(e, "sampler: global_batch %llu is not a multiple of world %llu x "
                          "micro_batch %llu",
                       (unsigned long long)G, (unsigned long long)W, (unsigned long long)B);
    if (ds->max_token_id_plus_one > (uint64_t)INT32_MAX + 1)
        return yt_errf(e, "%s: token id %llu does not fit in int32", p,
                       (unsigned long long)(ds->max_token_id_plus_one - 1));
    if (ds->n_docs > (uint64_t)INT32_MAX)
        return yt_errf(e, "%s: %llu documents do not fit in int32 document ids", p,
                       (unsigned long long)ds->n_docs);
    if (o->pack_eos && o->eos_id > (uint32_t)INT32_MAX)
        return yt_errf(e, "sampler: EOS id %u does not fit in int32", o->eos_id);
    yt_ds_sampler *s = yt_calloc(1, sizeof *s, "a sampler", e);
    if (!s)
        return yt_err_prefix(e, "sampler");
    s->ds = ds;
    s->S = o->seq_len;
    s->eos = o->pack_eos != 0;
    s->pad = o->pad_per_doc != 0;
    s->doc_mask = o->doc_mask != 0;
    s->eos_id = s->eos ? (int32_t)o->eos_id : 0;
    s->pad_id = s->eos_id;
    uint64_t nw;
    if (s->pad) {
        s->win_off = yt_alloc((ds->n_docs + 1) * sizeof *s->win_off, "sampler document windows", e);
        if (!s->win_off) {
            free(s);
            return -1;
        }
        s->win_off[0] = 0;
        for (uint64_t d = 0; d < ds->n_docs; d++)
            s->win_off[d + 1] = s->win_off[d] + doc_windows(s, d);
        nw = s->win_off[ds->n_docs];
    } else {
        uint64_t L = ds->n_tokens + (s->eos ? ds->n_docs : 0);
        nw = L > 0 ? (L - 1) / o->seq_len : 0;
    }
    if (nw < G) {
        yt_errf(e, "%s: %llu tokens (%s) make %llu windows of seq_len+1 = %u tokens, "
                   "fewer than one global batch of %llu",
                p, (unsigned long long)ds->n_tokens,
                s->pad ? "one document per window" : s->eos ? "documents joined with EOS" : "concatenated",
                (unsigned long long)nw, o->seq_len + 1, (unsigned long long)G);
        yt_free(s->win_off);
        free(s);
        return -1;
    }
    s->perm = yt_alloc(nw * sizeof *s->perm, "sampler permutation", e);
    if (!s->perm) {
        yt_free(s->win_off);
        free(s);
        return -1;
    }
    s->B = B;
    s->G = G;
    s->W = W;
    s->r = (uint64_t)o->rank;
    s->P = G / W;
    s->A = G / (W * B);
    s->n_windows = nw;
    s->steps = nw / G;
    s->epoch_windows = s->steps * G;
    s->seed = o->seed;
    build_perm(s, 0);
    *out = s;
    return 0;
}

void yt_ds_sampler_free(yt_ds_sampler *s)
{
    if (!s)
        return;
    yt_free(s->perm);
    yt_free(s->win_off);
    free(s);
}

/* Permutation index of row b of this rank's next micro-batch. */
static uint64_t next_pos(const yt_ds_sampler *s, uint64_t b)
{
    uint64_t k = s->cur.position / s->G;
    uint64_t m = (s->cur.position % s->G) / (s->W * s->B);
    return k * s->G + s->r * s->P + m * s->B + b;
}

uint64_t yt_ds_sampler_peek_window(const yt_ds_sampler *s, uint32_t b)
{
    return s->perm[next_pos(s, b)];
}

/* The last d in [0, n_docs) with key(d) <= v (key non-decreasing, key(0) <= v). */
#define LAST_LE(out, n_docs, KEY, v)                                                               \
    do {                                                                                           \
        uint64_t lo_ = 0, hi_ = (n_docs);                                                          \
        while (hi_ - lo_ > 1) {                                                                    \
            uint64_t d = lo_ + (hi_ - lo_) / 2;                                                    \
            if ((KEY) <= (v))                                                                      \
                lo_ = d;                                                                           \
            else                                                                                   \
                hi_ = d;                                                                           \
        }                                                                                          \
        (out) = lo_;                                                                               \
    } while (0)

/* A walk over the token stream of one window: document d, index i inside it
 * (i == len(d) is the EOS when eos is on). */
typedef struct walk {
    uint64_t d, i, left; /* left: elements still to give (pad mode), else unused */
} walk;

static walk walk_start(const yt_ds_sampler *s, uint64_t w)
{
    const yt_ds *ds = s->ds;
    const uint64_t *off = ds->doc_offsets;
    walk k = {0, 0, UINT64_MAX};
    if (s->pad) {
        LAST_LE(k.d, ds->n_docs, s->win_off[d], w);
        k.i = (w - s->win_off[k.d]) * s->S;
        k.left = doc_len(ds, k.d) + (s->eos ? 1 : 0) - k.i;
        return k;
    }
    uint64_t v = w * s->S;
    if (s->eos) {
        LAST_LE(k.d, ds->n_docs, off[d] + d, v);
        k.i = v - (off[k.d] + k.d);
    } else {
        LAST_LE(k.d, ds->n_docs, off[d], v);
        while (off[k.d + 1] <= v) /* skip empty documents */
            k.d++;
        k.i = v - off[k.d];
    }
    return k;
}

/* The next element: token, loss-mask bit, document (-1 = padding). */
static void walk_next(const yt_ds_sampler *s, walk *k, int32_t *tok, int *msk, int32_t *doc)
{
    const yt_ds *ds = s->ds;
    if (k->left == 0) {
        *tok = s->pad_id;
        *msk = 0;
        *doc = -1;
        return;
    }
    if (s->pad)
        k->left--;
    uint64_t len = doc_len(ds, k->d);
    if (!s->pad)
        while (k->i >= len + (s->eos ? 1 : 0)) { /* next document */
            k->d++;
            k->i = 0;
            len = doc_len(ds, k->d);
        }
    *doc = (int32_t)k->d;
    if (k->i < len) {
        uint64_t t = ds->doc_offsets[k->d] + k->i;
        *tok = (int32_t)ds->tokens[t];
        *msk = ds->loss_mask[t];
    } else { /* the EOS ending document d: always counted */
        *tok = s->eos_id;
        *msk = 1;
    }
    k->i++;
}

void yt_ds_sampler_window(const yt_ds_sampler *s, uint64_t w, uint32_t row, const yt_ds_batch *o)
{
    const uint64_t S = s->S;
    size_t base = (size_t)row * (size_t)S;
    walk k = walk_start(s, w);
    int32_t tok, doc, prev_doc = 0, pos = 0;
    int msk;
    for (uint64_t t = 0; t <= S; t++) {
        walk_next(s, &k, &tok, &msk, &doc);
        if (t > 0) {
            size_t j = base + (size_t)t - 1;
            if (o->targets)
                o->targets[j] = tok;
            if (o->weights)
                o->weights[j] = (msk && !(s->doc_mask && doc != prev_doc)) ? 1.0f : 0.0f;
        }
        if (t < S) {
            size_t j = base + (size_t)t;
            pos = s->doc_mask ? (t > 0 && doc == prev_doc ? pos + 1 : 0) : (int32_t)t;
            if (o->inputs)
                o->inputs[j] = tok;
            if (o->doc_ids)
                o->doc_ids[j] = doc;
            if (o->positions)
                o->positions[j] = pos;
        }
        prev_doc = doc;
    }
}

int yt_ds_sampler_next_batch(yt_ds_sampler *s, const yt_ds_batch *out, yt_err *e)
{
    (void)e;
    for (uint64_t b = 0; b < s->B; b++)
        yt_ds_sampler_window(s, s->perm[next_pos(s, b)], (uint32_t)b, out);
    s->cur.position += s->W * s->B;
    if (s->cur.position >= s->epoch_windows) {
        s->cur.epoch++;
        s->cur.position = 0;
        build_perm(s, s->cur.epoch);
    }
    return 0;
}

int yt_ds_sampler_next(yt_ds_sampler *s, int32_t *inputs, int32_t *targets, float *weights,
                       int32_t *doc_ids, yt_err *e)
{
    yt_ds_batch b = {.inputs = inputs, .targets = targets, .weights = weights, .doc_ids = doc_ids};
    return yt_ds_sampler_next_batch(s, &b, e);
}

yt_ds_cursor yt_ds_sampler_cursor(const yt_ds_sampler *s) { return s->cur; }

int yt_ds_sampler_set_cursor(yt_ds_sampler *s, yt_ds_cursor c, yt_err *e)
{
    if (c.position > s->epoch_windows)
        return yt_errf(e, "sampler cursor: position %llu is past the %llu windows of an epoch",
                       (unsigned long long)c.position, (unsigned long long)s->epoch_windows);
    if ((c.position % s->G) % (s->W * s->B) != 0)
        return yt_errf(e, "sampler cursor: position %llu is inside a micro-batch of world %llu "
                          "x micro_batch %llu (global batch %llu)",
                       (unsigned long long)c.position, (unsigned long long)s->W,
                       (unsigned long long)s->B, (unsigned long long)s->G);
    if (c.position == s->epoch_windows) {
        c.epoch++;
        c.position = 0;
    }
    if (c.epoch != s->perm_epoch)
        build_perm(s, c.epoch);
    s->cur = c;
    return 0;
}

uint64_t yt_ds_sampler_n_windows(const yt_ds_sampler *s) { return s->n_windows; }
uint64_t yt_ds_sampler_steps_per_epoch(const yt_ds_sampler *s) { return s->steps; }
uint32_t yt_ds_sampler_accum(const yt_ds_sampler *s) { return (uint32_t)s->A; }
