/* kernels/cpu/dropout.c: inverted dropout with a stateless mask.
 *
 * The mask is a pure function of (seed, index), so backward regenerates it
 * instead of storing it, any thread can produce any element, and a replayed
 * step gets the same mask. */
#include "kernels/kernels.h"

#include "common/common.h"

#define YT_DROPOUT_PAR_MIN 32768

void yt_k_dropout_forward(float *out, const float *x, size_t n, float p, uint64_t seed)
{
    if (p <= 0.0f) {
        if (out != x)
            for (size_t i = 0; i < n; i++)
                out[i] = x[i];
        return;
    }
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
#pragma omp parallel for schedule(static) if (n >= YT_DROPOUT_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        out[i] = yt_u01(yt_mix64(seed ^ (uint64_t)i)) >= p ? x[i] * scale : 0.0f;
}

void yt_k_dropout_backward(float *dx, const float *dout, size_t n, float p, uint64_t seed)
{
    if (p <= 0.0f) {
        yt_k_add_inplace(dx, dout, n);
        return;
    }
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
#pragma omp parallel for schedule(static) if (n >= YT_DROPOUT_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        if (yt_u01(yt_mix64(seed ^ (uint64_t)i)) >= p)
            dx[i] += dout[i] * scale;
}
