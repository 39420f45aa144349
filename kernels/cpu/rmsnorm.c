/* kernels/cpu/rmsnorm.c: RMSNorm with a frozen weight.
 *
 * Forward keeps 1/rms per row so backward needs no second reduction over x^2;
 * backward adds into dx because its input is the residual stream. */
#include "kernels/kernels.h"

#include <math.h>

/* Rows are independent; below this many elements a parallel region costs more
 * than it saves. */
#define YT_RMS_PAR_MIN 32768

void yt_k_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int T, int C,
                          float eps)
{
#pragma omp parallel for schedule(static) if ((size_t)T * C >= YT_RMS_PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * C;
        float *o = out + (size_t)t * C;
        float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (int j = 0; j < C; j++)
            ss += xr[j] * xr[j];
        float r = 1.0f / sqrtf(ss / (float)C + eps);
        rstd[t] = r;
#pragma omp simd
        for (int j = 0; j < C; j++)
            o[j] = w[j] * (xr[j] * r);
    }
}

void yt_k_rmsnorm_backward(float *dx, const float *dout, const float *x, const float *w,
                           const float *rstd, int T, int C)
{
#pragma omp parallel for schedule(static) if ((size_t)T * C >= YT_RMS_PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * C;
        const float *dy = dout + (size_t)t * C;
        float *d = dx + (size_t)t * C;
        float r = rstd[t];
        float dot = 0.0f; /* sum_j dout_j w_j x_j */
#pragma omp simd reduction(+ : dot)
        for (int j = 0; j < C; j++)
            dot += dy[j] * w[j] * xr[j];
        float c = r * r * r * dot / (float)C;
#pragma omp simd
        for (int j = 0; j < C; j++)
            d[j] += r * w[j] * dy[j] - c * xr[j];
    }
}
