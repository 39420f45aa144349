/* kernels/cpu/adamw.c: the optimizer step over one flat parameter tensor.
 *
 * Bias corrections are passed in (the step count lives with the caller), and
 * the gradient scale folds clipping and averaging into the same pass, so each
 * parameter is read and written once per step. */
#include "kernels/kernels.h"

#include <math.h>

#define YT_ADAMW_PAR_MIN 65536

void yt_k_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
                float eps, float wd, float bc1, float bc2, float grad_scale)
{
    float ib1 = 1.0f - b1, ib2 = 1.0f - b2;
#pragma omp parallel for schedule(static) if (n >= YT_ADAMW_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * grad_scale;
        float mi = b1 * m[i] + ib1 * gi;
        float vi = b2 * v[i] + ib2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps) + wd * p[i]);
    }
}
