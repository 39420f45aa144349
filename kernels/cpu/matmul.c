/* kernels/cpu/matmul.c: the three products of a linear layer.
 *
 * Row-major activations against Hugging Face [out, in] weights map onto one
 * cblas_sgemm each; the only work here is choosing the transposes and keeping
 * degenerate shapes (a zero dimension) away from BLAS argument checks. */
#include "kernels/kernels.h"

#include <cblas.h>
#include <string.h>

/* C[M,N] = beta*C when the inner dimension is empty. */
static void scale_only(float *c, size_t n, float beta)
{
    if (beta == 0.0f) {
        memset(c, 0, n * sizeof *c);
        return;
    }
    for (size_t i = 0; i < n; i++)
        c[i] *= beta;
}

void yt_k_matmul_xwT(float *y, const float *x, const float *W, int T, int in, int out, float beta)
{
    if (T <= 0 || out <= 0)
        return;
    if (in <= 0) {
        scale_only(y, (size_t)T * out, beta);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, out, in, 1.0f, x, in, W, in, beta, y,
                out);
}

void yt_k_matvec(float *y, const float *x, const float *W, int in, int out, float beta)
{
    if (out <= 0)
        return;
    if (in <= 0) {
        scale_only(y, (size_t)out, beta);
        return;
    }
    cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, W, in, x, 1, beta, y, 1);
}

void yt_k_matmul_dyW(float *dx, const float *dy, const float *W, int T, int in, int out, float beta)
{
    if (T <= 0 || in <= 0)
        return;
    if (out <= 0) {
        scale_only(dx, (size_t)T * in, beta);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, in, out, 1.0f, dy, out, W, in, beta,
                dx, in);
}

void yt_k_matmul_dW(float *dW, const float *dy, const float *x, int T, int in, int out, float alpha,
                    float beta)
{
    if (out <= 0 || in <= 0)
        return;
    if (T <= 0) {
        scale_only(dW, (size_t)out * in, beta);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, T, alpha, dy, out, x, in, beta, dW,
                in);
}
