/* kernels/cpu/attention.c: causal grouped-query attention, flash-style.
 *
 * Scores never exist as a whole [S,S] per head: each block of YT_ATT_BQ query
 * rows is scored against only the keys it can see (causality ends the range,
 * document masking moves its start), so the masked half of the matrix costs
 * nothing.  Forward saves the log-sum-exp of each row; backward rebuilds the
 * probabilities from it, P = exp(s - lse), instead of storing them.
 *
 * Threads: OpenMP over (batch, head) pairs in forward and (batch, kv head)
 * pairs in backward, where one thread owns every query head of a group so that
 * the dk/dv sums need no locks and always add in the same order.  Each thread
 * uses its own workspace slice; cblas_sgemm called inside the parallel region
 * runs single-threaded (OpenBLAS's OpenMP build checks omp_in_parallel).  The
 * workspace must be sized with the thread count in force, yt_k_get_threads(). */
#include "kernels/kernels.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/cpu/fastexp.h"

#define YT_ATT_BQ 64

static size_t att_bq(int S) { return (size_t)(S < YT_ATT_BQ ? S : YT_ATT_BQ); }

/* P and dP blocks [bq, S] and D [bq], rounded to 64 bytes so slices of
 * different threads never share a cache line. */
static size_t att_slice(int S)
{
    size_t n = 2 * att_bq(S) * (size_t)S + att_bq(S);
    return (n + 15) & ~(size_t)15;
}

size_t yt_k_attention_workspace(int S, int threads)
{
    if (threads < 1)
        threads = 1;
    if (S < 1)
        S = 1;
    return (size_t)threads * att_slice(S);
}

/* First key that any query row in [r0, r1) may see: 0 without documents,
 * otherwise the first position sharing a document with one of those rows. */
static int key_start(const int32_t *docb, int r0, int r1)
{
    if (!docb)
        return 0;
    for (int j = 0; j < r0; j++)
        for (int i = r0; i < r1; i++)
            if (docb[j] == docb[i])
                return j;
    return r0;
}

/* Turns the scaled scores of rows [r0, r0+nr) (keys k0..k0+nk-1, row stride nk)
 * into probabilities in place and stores each row's log-sum-exp. */
static void softmax_rows(float *sc, float *lse, const int32_t *docb, int r0, int nr, int k0, int nk)
{
    for (int ii = 0; ii < nr; ii++) {
        int i = r0 + ii;
        int n = i - k0 + 1; /* keys 0..n-1 (local) are causal-visible */
        float *s = sc + (size_t)ii * nk;
        if (docb) {
            const int32_t *dkey = docb + k0;
            int32_t di = docb[i];
#pragma omp simd
            for (int j = 0; j < n; j++)
                s[j] = dkey[j] == di ? s[j] : -INFINITY;
        }
        float m = -INFINITY;
#pragma omp simd reduction(max : m)
        for (int j = 0; j < n; j++)
            m = s[j] > m ? s[j] : m;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < n; j++) {
            float e = yt_fexp(s[j] - m);
            s[j] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
#pragma omp simd
        for (int j = 0; j < n; j++)
            s[j] *= inv;
        for (int j = n; j < nk; j++)
            s[j] = 0.0f;
        lse[i] = m + logf(sum);
    }
}

void yt_k_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                            const int32_t *doc, int B, int S, int nh, int nkv, int hd, float *ws)
{
    const int G = nh / nkv;
    const int ldq = nh * hd, ldk = nkv * hd;
    const int bq = (int)att_bq(S);
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t slice = att_slice(S);
    const int jobs = B * nh;
#pragma omp parallel for schedule(static)
    for (int job = 0; job < jobs; job++) {
        const int b = job / nh, h = job % nh, kvh = h / G;
        float *sc = ws + (size_t)omp_get_thread_num() * slice;
        const int32_t *docb = doc ? doc + (size_t)b * S : NULL;
        float *lse_bh = lse + ((size_t)b * nh + h) * S;
        for (int r0 = 0; r0 < S; r0 += bq) {
            int r1 = r0 + bq < S ? r0 + bq : S, nr = r1 - r0;
            int k0 = key_start(docb, r0, r1), nk = r1 - k0;
            const float *qb = q + ((size_t)(b * S + r0) * nh + h) * hd;
            const float *kb = k + ((size_t)(b * S + k0) * nkv + kvh) * hd;
            const float *vb = v + ((size_t)(b * S + k0) * nkv + kvh) * hd;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, nk, hd, scale, qb, ldq, kb, ldk,
                        0.0f, sc, nk);
            softmax_rows(sc, lse_bh, docb, r0, nr, k0, nk);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, hd, nk, 1.0f, sc, nk, vb, ldk,
                        0.0f, out + ((size_t)(b * S + r0) * nh + h) * hd, ldq);
        }
    }
}

/* Rebuilds P from the scores and lse, and turns dP into dS = P * (dP - D). */
static void grad_rows(float *p, float *dp, const float *lse, const float *D, const int32_t *docb,
                      int r0, int nr, int k0, int nk)
{
    for (int ii = 0; ii < nr; ii++) {
        int i = r0 + ii;
        int n = i - k0 + 1;
        float *s = p + (size_t)ii * nk;
        float *d = dp + (size_t)ii * nk;
        float L = lse[i], Di = D[ii];
        if (docb) { /* masked scores become -inf, whose exp is exactly 0 */
            const int32_t *dkey = docb + k0;
            int32_t di = docb[i];
#pragma omp simd
            for (int j = 0; j < n; j++)
                s[j] = dkey[j] == di ? s[j] : -INFINITY;
        }
#pragma omp simd
        for (int j = 0; j < n; j++) {
            float pj = yt_fexp(s[j] - L);
            s[j] = pj;
            d[j] = pj * (d[j] - Di);
        }
        for (int j = n; j < nk; j++) {
            s[j] = 0.0f;
            d[j] = 0.0f;
        }
    }
}

void yt_k_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                             const float *k, const float *v, const float *out, const float *lse,
                             const int32_t *doc, int B, int S, int nh, int nkv, int hd, float *ws)
{
    const int G = nh / nkv;
    const int ldq = nh * hd, ldk = nkv * hd;
    const int bq = (int)att_bq(S);
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t slice = att_slice(S);
    const int jobs = B * nkv;
#pragma omp parallel for schedule(static)
    for (int job = 0; job < jobs; job++) {
        const int b = job / nkv, kvh = job % nkv;
        float *P = ws + (size_t)omp_get_thread_num() * slice;
        float *dP = P + (size_t)bq * S;
        float *D = dP + (size_t)bq * S;
        const int32_t *docb = doc ? doc + (size_t)b * S : NULL;
        for (int t = 0; t < S; t++) {
            size_t o = ((size_t)(b * S + t) * nkv + kvh) * hd;
            memset(dk + o, 0, (size_t)hd * sizeof *dk);
            memset(dv + o, 0, (size_t)hd * sizeof *dv);
        }
        for (int r0 = 0; r0 < S; r0 += bq) {
            int r1 = r0 + bq < S ? r0 + bq : S, nr = r1 - r0;
            int k0 = key_start(docb, r0, r1), nk = r1 - k0;
            const size_t kvo = ((size_t)(b * S + k0) * nkv + kvh) * hd;
            for (int g = 0; g < G; g++) {
                const int h = kvh * G + g;
                const size_t qo = ((size_t)(b * S + r0) * nh + h) * hd;
                const float *lse_bh = lse + ((size_t)b * nh + h) * S;
                for (int ii = 0; ii < nr; ii++) {
                    const float *doi = dout + qo + (size_t)ii * ldq;
                    const float *oi = out + qo + (size_t)ii * ldq;
                    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
                    for (int c = 0; c < hd; c++)
                        acc += doi[c] * oi[c];
                    D[ii] = acc;
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, nk, hd, scale, q + qo, ldq,
                            k + kvo, ldk, 0.0f, P, nk);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, nk, hd, 1.0f, dout + qo, ldq,
                            v + kvo, ldk, 0.0f, dP, nk);
                grad_rows(P, dP, lse_bh, D, docb, r0, nr, k0, nk);
                /* dv += P^T dO ; dq = scale dS K ; dk += scale dS^T Q */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, hd, nr, 1.0f, P, nk,
                            dout + qo, ldq, 1.0f, dv + kvo, ldk);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, hd, nk, scale, dP, nk,
                            k + kvo, ldk, 0.0f, dq + qo, ldq);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, hd, nr, scale, dP, nk,
                            q + qo, ldq, 1.0f, dk + kvo, ldk);
            }
        }
    }
}
