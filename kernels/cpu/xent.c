/* kernels/cpu/xent.c: lm_head fused with cross-entropy.
 *
 * A [T, V] logits matrix for a 128k vocabulary would dwarf every activation of
 * the model, so logits exist one chunk of tokens at a time: one sgemm makes
 * them, each row becomes its loss term and, in place, its gradient
 * weight*(softmax - onehot), and a second sgemm carries that back to dh before
 * the next chunk reuses the buffer.  Loss terms are summed in row order through
 * a small stack buffer, so the result does not depend on the thread count. */
#include "kernels/kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "kernels/cpu/fastexp.h"

#define YT_XENT_ROUND 64 /* rows whose loss terms are held before summing */

size_t yt_k_lmhead_xent_workspace(int chunk, int V) { return (size_t)chunk * (size_t)V; }

/* Loss term of one row of logits; when grad, the row becomes dlogits. */
static double xent_row(float *row, int V, int target, float w, int grad)
{
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int j = 0; j < V; j++)
        m = row[j] > m ? row[j] : m;
    float lt = row[target];
    double sum = 0.0;
    if (grad) {
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < V; j++) {
            float e = yt_fexp(row[j] - m);
            row[j] = e;
            sum += (double)e;
        }
        float c = (float)((double)w / sum);
#pragma omp simd
        for (int j = 0; j < V; j++)
            row[j] *= c;
        row[target] -= w;
    } else {
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < V; j++)
            sum += (double)yt_fexp(row[j] - m);
    }
    double lse = (double)m + log(sum);
    return (double)w * (lse - (double)lt);
}

double yt_k_lmhead_xent(float *dh, const float *h, const float *W, const int32_t *target,
                        const float *weight, int T, int C, int V, int chunk, float *ws)
{
    double loss = 0.0;
    if (chunk < 1)
        chunk = 1;
    for (int t0 = 0; t0 < T; t0 += chunk) {
        int n = T - t0 < chunk ? T - t0 : chunk;
        int any = 0;
        for (int i = 0; i < n; i++)
            any |= weight[t0 + i] != 0.0f;
        if (!any) { /* nothing counted here: no logits needed */
            if (dh)
                memset(dh + (size_t)t0 * C, 0, (size_t)n * C * sizeof *dh);
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, V, C, 1.0f, h + (size_t)t0 * C, C,
                    W, C, 0.0f, ws, V);
        for (int i0 = 0; i0 < n; i0 += YT_XENT_ROUND) {
            int nr = n - i0 < YT_XENT_ROUND ? n - i0 : YT_XENT_ROUND;
            double part[YT_XENT_ROUND];
#pragma omp parallel for schedule(static) if (nr > 1 && (size_t)nr * V >= 32768)
            for (int i = i0; i < i0 + nr; i++) {
                float *row = ws + (size_t)i * V;
                float w = weight[t0 + i];
                if (w == 0.0f) {
                    part[i - i0] = 0.0;
                    if (dh)
                        memset(row, 0, (size_t)V * sizeof *row);
                    continue;
                }
                part[i - i0] = xent_row(row, V, target[t0 + i], w, dh != NULL);
            }
            for (int i = 0; i < nr; i++)
                loss += part[i];
        }
        if (dh)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, C, V, 1.0f, ws, V, W, C, 0.0f,
                        dh + (size_t)t0 * C, C);
    }
    return loss;
}
