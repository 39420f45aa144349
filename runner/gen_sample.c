/* Next-token choice (see gen_sample.h). */
#include "runner/gen_sample.h"

#include <math.h>
#include <stdlib.h>

int yt_gen_sampler_init(yt_gen_sampler *s, const yt_sampler_cfg *cfg, int V, yt_err *e)
{
    s->cfg = *cfg;
    s->V = V;
    s->heap = yt_alloc(sizeof(float) * (size_t)V, "sampling scratch", e);
    s->cand = yt_alloc(sizeof(yt_gen_cand) * (size_t)V, "sampling candidates", e);
    return s->heap && s->cand ? 0 : -1;
}

void yt_gen_sampler_free(yt_gen_sampler *s)
{
    yt_free(s->heap);
    yt_free(s->cand);
    s->heap = NULL;
    s->cand = NULL;
}

/* Sift-down in a min-heap of logits (the k largest seen so far). */
static void sift(float *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l] < h[m])
            m = l;
        if (r < n && h[r] < h[m])
            m = r;
        if (m == i)
            return;
        float t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* The k-th largest value of x[n] (k <= n), with heap scratch h[k]. */
static float kth_largest(const float *x, int n, int k, float *h)
{
    for (int i = 0; i < k; i++)
        h[i] = x[i];
    for (int i = k / 2 - 1; i >= 0; i--)
        sift(h, k, i);
    for (int i = k; i < n; i++)
        if (x[i] > h[0]) {
            h[0] = x[i];
            sift(h, k, 0);
        }
    return h[0];
}

/* Most probable first, the lower id first on ties. */
static int by_prob(const void *a, const void *b)
{
    const yt_gen_cand *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int32_t yt_gen_sample(yt_gen_sampler *s, const float *logits, uint64_t prompt, uint64_t step)
{
    const int V = s->V;
    const yt_sampler_cfg *c = &s->cfg;
    yt_gen_cand *cd = s->cand;
    if (!(c->temperature > 0)) {
        int best = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[best])
                best = i;
        return best;
    }
    /* Candidates: every token, or those tied with or above the k-th largest logit. */
    float cut = -INFINITY;
    if (c->top_k > 0 && c->top_k < V)
        cut = kth_largest(logits, V, c->top_k, s->heap);
    int n = 0;
    float mx = -INFINITY;
    for (int i = 0; i < V; i++)
        if (logits[i] >= cut) {
            cd[n++] = (yt_gen_cand){logits[i], i};
            mx = logits[i] > mx ? logits[i] : mx;
        }
    double z = 0;
    for (int j = 0; j < n; j++) {
        cd[j].p = expf((cd[j].p - mx) / c->temperature);
        z += cd[j].p;
    }
    for (int j = 0; j < n; j++)
        cd[j].p = (float)(cd[j].p / z);
    double mass = 1.0;
    if (c->top_p < 1.0f) {
        /* Tokens below (1-p)/n carry less than 1-p together, so the nucleus
         * lies among the others: only those are sorted. */
        float floor_p = (1.0f - c->top_p) / (float)n;
        int m = 0;
        for (int j = 0; j < n; j++)
            if (cd[j].p >= floor_p)
                cd[m++] = cd[j];
        n = m;
        qsort(cd, (size_t)n, sizeof *cd, by_prob);
        double acc = 0;
        int keep = 0;
        while (keep < n && acc < c->top_p)
            acc += cd[keep++].p;
        n = keep > 0 ? keep : 1;
        mass = acc > 0 ? acc : 1.0;
    }
    uint64_t r = yt_mix64(yt_mix64(c->seed ^ 0x67656e65ULL) ^ yt_mix64(prompt) ^ yt_mix64(~step));
    double u = (double)(r >> 11) * (1.0 / 9007199254740992.0) * mass;
    double acc = 0;
    for (int j = 0; j < n; j++) {
        acc += cd[j].p;
        if (u < acc)
            return cd[j].id;
    }
    return cd[n - 1].id;
}
