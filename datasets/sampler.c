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
    uint64_t nw = ds->n_tokens > 0 ? (ds->n_tokens - 1) / o->seq_len : 0;
    if (nw < G)
        return yt_errf(e, "%s: %llu tokens make %llu windows of seq_len+1 = %u tokens, "
                          "fewer than one global batch of %llu",
                       p, (unsigned long long)ds->n_tokens, (unsigned long long)nw,
                       o->seq_len + 1, (unsigned long long)G);
    yt_ds_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return yt_errf(e, "sampler: out of memory");
    s->perm = yt_alloc(nw * sizeof *s->perm, "sampler permutation", e);
    if (!s->perm) {
        free(s);
        return -1;
    }
    s->ds = ds;
    s->S = o->seq_len;
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

/* Index of the document holding token t: the last d with off[d] <= t. */
static uint64_t doc_of(const yt_ds *ds, uint64_t t)
{
    uint64_t lo = 0, hi = ds->n_docs; /* off[lo] <= t < off[hi] */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (ds->doc_offsets[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

int yt_ds_sampler_next(yt_ds_sampler *s, int32_t *inputs, int32_t *targets, float *weights,
                       int32_t *doc_ids, yt_err *e)
{
    (void)e;
    const yt_ds *ds = s->ds;
    const uint64_t S = s->S;
    for (uint64_t b = 0; b < s->B; b++) {
        uint64_t w = s->perm[next_pos(s, b)];
        uint64_t t0 = w * S;
        const uint32_t *tok = ds->tokens + t0;
        const uint8_t *msk = ds->loss_mask + t0;
        size_t o = (size_t)(b * S);
        for (uint64_t t = 0; t < S; t++) {
            inputs[o + t] = (int32_t)tok[t];
            if (targets)
                targets[o + t] = (int32_t)tok[t + 1];
            if (weights)
                weights[o + t] = (float)msk[t + 1];
        }
        if (doc_ids) {
            uint64_t d = doc_of(ds, t0);
            for (uint64_t t = 0; t < S; t++) {
                while (ds->doc_offsets[d + 1] <= t0 + t)
                    d++;
                doc_ids[o + t] = (int32_t)d;
            }
        }
    }
    s->cur.position += s->W * s->B;
    if (s->cur.position >= s->epoch_windows) {
        s->cur.epoch++;
        s->cur.position = 0;
        build_perm(s, s->cur.epoch);
    }
    return 0;
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
