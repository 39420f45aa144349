/* kernels/cpu/swiglu.c: the MLP gate, h = silu(g) * u.
 *
 * Backward recomputes the sigmoid from g instead of saving it, trading one exp
 * per element for a [T, ffn] buffer.  The vectorisable exp keeps both passes
 * memory-bound rather than libm-bound. */
#include "kernels/kernels.h"

#include "kernels/cpu/fastexp.h"

#define YT_SWIGLU_PAR_MIN 16384
#define YT_SWIGLU_BLOCK 4096

void yt_k_swiglu_forward(float *h, const float *g, const float *u, size_t n)
{
    long nb = (long)((n + YT_SWIGLU_BLOCK - 1) / YT_SWIGLU_BLOCK);
#pragma omp parallel for schedule(static) if (n >= YT_SWIGLU_PAR_MIN)
    for (long b = 0; b < nb; b++) {
        size_t i0 = (size_t)b * YT_SWIGLU_BLOCK;
        size_t i1 = i0 + YT_SWIGLU_BLOCK < n ? i0 + YT_SWIGLU_BLOCK : n;
#pragma omp simd
        for (size_t i = i0; i < i1; i++) {
            float sg = 1.0f / (1.0f + yt_fexp(-g[i]));
            h[i] = g[i] * sg * u[i];
        }
    }
}

void yt_k_swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u,
                          size_t n)
{
    long nb = (long)((n + YT_SWIGLU_BLOCK - 1) / YT_SWIGLU_BLOCK);
#pragma omp parallel for schedule(static) if (n >= YT_SWIGLU_PAR_MIN)
    for (long b = 0; b < nb; b++) {
        size_t i0 = (size_t)b * YT_SWIGLU_BLOCK;
        size_t i1 = i0 + YT_SWIGLU_BLOCK < n ? i0 + YT_SWIGLU_BLOCK : n;
#pragma omp simd
        for (size_t i = i0; i < i1; i++) {
            float x = g[i];
            float sg = 1.0f / (1.0f + yt_fexp(-x));
            float silu = x * sg;
            float d = dh[i];
            du[i] = d * silu;
            dg[i] = d * u[i] * sg * (1.0f + x * (1.0f - sg));
        }
    }
}
