/* kernels/cuda/matmul.cu: the products of a linear layer through cuBLAS.
 *
 * Row-major A[r,c] is column-major A^T, so y[T,out] = x W^T is computed as the
 * column-major y^T[out,T] = W[out,in] x^T: op(W^T stored)=T, x^T stored as is.
 * bf16 weights: cuBLAS wants both operands of one type, so the fp32 activation
 * is rounded to bf16 in the context's workspace first (the same rounding a bf16
 * autocast applies), then cublasGemmEx multiplies bf16 x bf16 with fp32
 * accumulation into an fp32 output. */
#include "kernels/cuda/cuda_internal.h"

static int bf16_input(yt_kc_ctx *c, const float *x, size_t n, const char *op,
                      const __nv_bfloat16 **xb, yt_err *e)
{
    if (n * sizeof(__nv_bfloat16) > c->ws_bytes)
        return yt_errf(e, "%s: workspace of %zu bytes too small for %zu bf16 values", op,
                       c->ws_bytes, n);
    yt_kc_launch_to_bf16(c->stream, (__nv_bfloat16 *)c->ws, x, n);
    YT_LAUNCH_CHECK(e, op);
    *xb = (const __nv_bfloat16 *)c->ws;
    return 0;
}

int yt_kc_matmul_xwT_bf16(yt_kc_ctx *c, float *y, const float *x, const uint16_t *W16, int T, int in,
                          int out, float beta, yt_err *e)
{
    const char *op = "yt_kc_matmul_xwT_bf16";
    const __nv_bfloat16 *xb = NULL;
    if (bf16_input(c, x, (size_t)T * in, op, &xb, e) != 0)
        return -1;
    float alpha = 1.0f;
    YT_BLAS_CHECK(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, out, T, in, &alpha, W16,
                               CUDA_R_16BF, in, xb, CUDA_R_16BF, in, &beta, y, CUDA_R_32F, out,
                               CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                  e, op);
    return 0;
}

int yt_kc_matmul_dyW_bf16(yt_kc_ctx *c, float *dx, const float *dy, const uint16_t *W16, int T,
                          int in, int out, float beta, yt_err *e)
{
    const char *op = "yt_kc_matmul_dyW_bf16";
    const __nv_bfloat16 *dyb = NULL;
    if (bf16_input(c, dy, (size_t)T * out, op, &dyb, e) != 0)
        return -1;
    float alpha = 1.0f;
    YT_BLAS_CHECK(cublasGemmEx(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, in, T, out, &alpha, W16,
                               CUDA_R_16BF, in, dyb, CUDA_R_16BF, out, &beta, dx, CUDA_R_32F, in,
                               CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                  e, op);
    return 0;
}

int yt_kc_matmul_xwT(yt_kc_ctx *c, float *y, const float *x, const float *W, int T, int in, int out,
                     float beta, yt_err *e)
{
    float alpha = 1.0f;
    YT_BLAS_CHECK(cublasSgemm(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, out, T, in, &alpha, W, in, x, in,
                              &beta, y, out),
                  e, "yt_kc_matmul_xwT");
    return 0;
}

int yt_kc_matmul_dyW(yt_kc_ctx *c, float *dx, const float *dy, const float *W, int T, int in,
                     int out, float beta, yt_err *e)
{
    float alpha = 1.0f;
    YT_BLAS_CHECK(cublasSgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, in, T, out, &alpha, W, in, dy, out,
                              &beta, dx, in),
                  e, "yt_kc_matmul_dyW");
    return 0;
}

/* column-major dW^T[in,out] = x^T[in,T] dy[T,out] */
int yt_kc_matmul_dW(yt_kc_ctx *c, float *dW, const float *dy, const float *x, int T, int in, int out,
                    float alpha, float beta, yt_err *e)
{
    YT_BLAS_CHECK(cublasSgemm(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, in, out, T, &alpha, x, in, dy, out,
                              &beta, dW, in),
                  e, "yt_kc_matmul_dW");
    return 0;
}
