/* kernels/cpu/attention_cached.c: attention of new tokens against a key/value
 * cache (generation).  Each query token has its own visible key range (its
 * sequence's cache up to and including its own position), so there is no
 * [S, S] block to hand to sgemm: a query row is one dot product per key, a
 * softmax and one weighted sum of values.  Threads: OpenMP over (token, head);
 * each thread keeps its scores in its own workspace slice.  expf, not the
 * vectorised approximation of the training kernel: decoding is cheap, and the
 * closer to the reference the logits are, the rarer a greedy tie flips. */
#include "kernels/kernels.h"

#include <math.h>
#include <omp.h>

static size_t slice_of(int max_keys)
{
    size_t n = (size_t)(max_keys > 0 ? max_keys : 1);
    return (n + 15) & ~(size_t)15;
}

size_t yt_k_attention_cached_workspace(int max_keys, int threads)
{
    return (size_t)(threads > 0 ? threads : 1) * slice_of(max_keys);
}

void yt_k_attention_cached(float *out, const float *q, const float *k, const float *v,
                           const int64_t *start, const int32_t *n_keys, int T, int nh, int nkv, int hd,
                           int max_keys, float *ws)
{
    const int G = nh / nkv, ldk = nkv * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t slice = slice_of(max_keys);
    const int jobs = T * nh;
#pragma omp parallel for schedule(static) if (jobs > 1)
    for (int job = 0; job < jobs; job++) {
        const int t = job / nh, h = job % nh, kvh = h / G;
        const int n = n_keys[t];
        float *s = ws + (size_t)omp_get_thread_num() * slice;
        const float *qt = q + ((size_t)t * nh + h) * hd;
        const float *kb = k + (size_t)start[t] * ldk + (size_t)kvh * hd;
        const float *vb = v + (size_t)start[t] * ldk + (size_t)kvh * hd;
        float m = -INFINITY;
        for (int j = 0; j < n; j++) {
            const float *kj = kb + (size_t)j * ldk;
            float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
            for (int c = 0; c < hd; c++)
                acc += qt[c] * kj[c];
            s[j] = acc * scale;
            m = s[j] > m ? s[j] : m;
        }
        float sum = 0.0f;
        for (int j = 0; j < n; j++) {
            s[j] = expf(s[j] - m);
            sum += s[j];
        }
        float inv = 1.0f / sum;
        float *o = out + ((size_t)t * nh + h) * hd;
        for (int c = 0; c < hd; c++)
            o[c] = 0.0f;
        for (int j = 0; j < n; j++) {
            const float *vj = vb + (size_t)j * ldk;
            float p = s[j] * inv;
#pragma omp simd
            for (int c = 0; c < hd; c++)
                o[c] += p * vj[c];
        }
    }
}
