/* kernels/cpu/elementwise.c: embedding gather, vector updates, sum of squares.
 *
 * These are memory-bound; they only need to vectorise and, when large, to use
 * every core.  sumsq feeds gradient clipping, so it sums in fixed blocks whose
 * partials are added in one order: the result does not depend on the thread
 * count. */
#include "kernels/kernels.h"

#include <string.h>

#define YT_EW_PAR_MIN 65536
#define YT_SUMSQ_BLOCK 16384
#define YT_SUMSQ_ROUND 256 /* blocks per parallel round (stack partials) */

void yt_k_embed(float *out, const float *table, const int32_t *ids, int T, int C)
{
#pragma omp parallel for schedule(static) if ((size_t)T * C >= YT_EW_PAR_MIN)
    for (int t = 0; t < T; t++)
        memcpy(out + (size_t)t * C, table + (size_t)ids[t] * C, (size_t)C * sizeof *out);
}

void yt_k_add_inplace(float *y, const float *x, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= YT_EW_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}

void yt_k_axpy(float *y, float a, const float *x, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= YT_EW_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

void yt_k_scale(float *y, float a, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= YT_EW_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] *= a;
}

double yt_k_sumsq(const float *x, size_t n)
{
    double total = 0.0;
    size_t nblocks = (n + YT_SUMSQ_BLOCK - 1) / YT_SUMSQ_BLOCK;
    for (size_t b0 = 0; b0 < nblocks; b0 += YT_SUMSQ_ROUND) {
        double part[YT_SUMSQ_ROUND];
        long nb = (long)(nblocks - b0 < YT_SUMSQ_ROUND ? nblocks - b0 : YT_SUMSQ_ROUND);
#pragma omp parallel for schedule(static) if (nb > 1 && n >= YT_EW_PAR_MIN)
        for (long b = 0; b < nb; b++) {
            size_t i0 = (b0 + (size_t)b) * YT_SUMSQ_BLOCK;
            size_t i1 = i0 + YT_SUMSQ_BLOCK < n ? i0 + YT_SUMSQ_BLOCK : n;
            double s = 0.0;
#pragma omp simd reduction(+ : s)
            for (size_t i = i0; i < i1; i++)
                s += (double)x[i] * (double)x[i];
            part[b] = s;
        }
        for (long b = 0; b < nb; b++)
            total += part[b];
    }
    return total;
}
