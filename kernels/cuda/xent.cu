/* kernels/cuda/xent.cu: lm_head fused with cross-entropy, in chunks of tokens.
 *
 * Per chunk of n tokens: h rounded to bf16; logits[n,V] = h W^T in fp32 by
 * cublasGemmEx (bf16 x bf16, fp32 accumulate) into the workspace; one block per
 * row finds max and sum of exp, writes the row's loss term and (for dh) the
 * gradient weight*(softmax - onehot) rounded to bf16; cublasGemmEx makes
 * dh[n,C] = dlogits W.  The [T,V] logits never exist, only [chunk,V].  Row loss
 * terms go to a [T] double array that one block sums in a fixed order. */
#include "kernels/cuda/cuda_internal.h"

#include <math.h>

#define XT 256

static size_t al(size_t b) { return (b + 255) & ~(size_t)255; }

size_t yt_kc_lmhead_xent_workspace(int T, int C, int V, int chunk)
{
    if (chunk > T)
        chunk = T;
    if (chunk < 1)
        chunk = 1;
    size_t n = (size_t)chunk;
    return al(n * C * 2) + al(n * V * 4) + al(n * V * 2) + al((size_t)T * 8);
}

int yt_kc_lmhead_xent_chunk(int T, int V)
{
    int chunk = V > 0 ? (int)((64u << 20) / (unsigned)V) & ~63 : 64;
    if (chunk < 64)
        chunk = 64;
    return chunk > T ? T : chunk;
}

__device__ static float xr_reduce(float v, float *sh, int is_max)
{
    for (int o = 16; o > 0; o >>= 1) {
        float u = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, u) : v + u;
    }
    __syncthreads();
    if ((threadIdx.x & 31) == 0)
        sh[threadIdx.x >> 5] = v;
    __syncthreads();
    float r = sh[0];
    for (int w = 1; w < XT / 32; w++)
        r = is_max ? fmaxf(r, sh[w]) : r + sh[w];
    return r;
}

__global__ static void __launch_bounds__(XT)
xent_rows_kernel(double *rowloss, __nv_bfloat16 *grad, const float *logits, const int32_t *target,
                 const float *weight, int V)
{
    __shared__ float sh[32];
    int r = blockIdx.x;
    const float *row = logits + (size_t)r * V;
    __nv_bfloat16 *gr = grad ? grad + (size_t)r * V : NULL;
    float w = weight[r];
    if (w == 0.0f) {
        if (threadIdx.x == 0)
            rowloss[r] = 0.0;
        if (gr)
            for (int j = threadIdx.x; j < V; j += XT)
                gr[j] = __float2bfloat16_rn(0.0f);
        return;
    }
    float m = -INFINITY;
    for (int j = threadIdx.x; j < V; j += XT)
        m = fmaxf(m, row[j]);
    m = xr_reduce(m, sh, 1);
    float s = 0.0f;
    for (int j = threadIdx.x; j < V; j += XT)
        s += expf(row[j] - m);
    s = xr_reduce(s, sh, 0);
    int tg = target[r];
    if (threadIdx.x == 0) {
        double lse = (double)m + log((double)s);
        rowloss[r] = (double)w * (lse - (double)row[tg]);
    }
    if (gr) {
        float cc = w / s;
        for (int j = threadIdx.x; j < V; j += XT) {
            float gv = expf(row[j] - m) * cc - (j == tg ? w : 0.0f);
            gr[j] = __float2bfloat16_rn(gv);
        }
    }
}

/* One block: thread partial sums over a fixed stride, then a fixed tree. */
__global__ static void sum_kernel(double *out, const double *x, int n)
{
    __shared__ double sh[XT];
    double s = 0.0;
    for (int i = threadIdx.x; i < n; i += XT)
        s += x[i];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int o = XT / 2; o > 0; o >>= 1) {
        if ((int)threadIdx.x < o)
            sh[threadIdx.x] += sh[threadIdx.x + o];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        *out = sh[0];
}

int yt_kc_lmhead_xent(yt_kc_ctx *c, double *loss_dev, float *dh, const float *h,
                      const uint16_t *W16, const int32_t *target, const float *weight, int T, int C,
                      int V, int chunk, void *ws, yt_err *e)
{
    const char *op = "yt_kc_lmhead_xent";
    if (T < 1 || C < 1 || V < 1)
        return yt_errf(e, "%s: bad shape T=%d C=%d V=%d", op, T, C, V);
    if (chunk > T)
        chunk = T;
    if (chunk < 1)
        chunk = 1;
    size_t n0 = (size_t)chunk;
    char *p = (char *)ws;
    __nv_bfloat16 *hb = (__nv_bfloat16 *)p;
    p += al(n0 * C * 2);
    float *logits = (float *)p;
    p += al(n0 * V * 4);
    __nv_bfloat16 *gb = (__nv_bfloat16 *)p;
    p += al(n0 * V * 2);
    double *rowloss = (double *)p;
    float one = 1.0f, zero = 0.0f;
    for (int t0 = 0; t0 < T; t0 += chunk) {
        int n = T - t0 < chunk ? T - t0 : chunk;
        yt_kc_launch_to_bf16(c->stream, hb, h + (size_t)t0 * C, (size_t)n * C);
        YT_LAUNCH_CHECK(e, op);
        YT_BLAS_CHECK(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, V, n, C, &one, W16,
                                   CUDA_R_16BF, C, hb, CUDA_R_16BF, C, &zero, logits, CUDA_R_32F, V,
                                   CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                      e, "yt_kc_lmhead_xent: logits");
        xent_rows_kernel<<<n, XT, 0, c->stream>>>(rowloss + t0, dh ? gb : NULL, logits, target + t0,
                                                  weight + t0, V);
        YT_LAUNCH_CHECK(e, op);
        if (dh)
            YT_BLAS_CHECK(cublasGemmEx(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, C, n, V, &one, W16,
                                       CUDA_R_16BF, C, gb, CUDA_R_16BF, V, &zero,
                                       dh + (size_t)t0 * C, CUDA_R_32F, C, CUBLAS_COMPUTE_32F,
                                       CUBLAS_GEMM_DEFAULT),
                          e, "yt_kc_lmhead_xent: dh");
    }
    sum_kernel<<<1, XT, 0, c->stream>>>(loss_dev, rowloss, T);
    YT_LAUNCH_CHECK(e, op);
    return 0;
}
