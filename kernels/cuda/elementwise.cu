/* kernels/cuda/elementwise.cu: RMSNorm, RoPE, SwiGLU and AdamW, one pass each.
 * RMSNorm: one block per row, the row's sum reduced in the block.  The others
 * are grid-stride loops over independent elements. */
#include "kernels/cuda/cuda_internal.h"

#define YT_RMS_THREADS 256

__global__ static void rmsnorm_fwd_kernel(float *out, float *rstd, const float *x, const float *w,
                                          int C, float eps)
{
    __shared__ float sh[32];
    const float *xr = x + (size_t)blockIdx.x * C;
    float *o = out + (size_t)blockIdx.x * C;
    float ss = 0.0f;
    for (int j = threadIdx.x; j < C; j += blockDim.x)
        ss += xr[j] * xr[j];
    ss = yt_kc_block_sum<YT_RMS_THREADS>(ss, sh);
    float r = rsqrtf(ss / (float)C + eps);
    if (threadIdx.x == 0)
        rstd[blockIdx.x] = r;
    for (int j = threadIdx.x; j < C; j += blockDim.x)
        o[j] = w[j] * (xr[j] * r);
}

__global__ static void rmsnorm_bwd_kernel(float *dx, const float *dout, const float *x,
                                          const float *w, const float *rstd, int C)
{
    __shared__ float sh[32];
    size_t off = (size_t)blockIdx.x * C;
    const float *xr = x + off, *dy = dout + off;
    float *d = dx + off;
    float r = rstd[blockIdx.x];
    float dot = 0.0f;
    for (int j = threadIdx.x; j < C; j += blockDim.x)
        dot += dy[j] * w[j] * xr[j];
    dot = yt_kc_block_sum<YT_RMS_THREADS>(dot, sh);
    float cc = r * r * r * dot / (float)C;
    for (int j = threadIdx.x; j < C; j += blockDim.x)
        d[j] += r * w[j] * dy[j] - cc * xr[j];
}

int yt_kc_rmsnorm_forward(yt_kc_ctx *c, float *out, float *rstd, const float *x, const float *w,
                          int T, int C, float eps, yt_err *e)
{
    if (T <= 0)
        return 0;
    rmsnorm_fwd_kernel<<<T, YT_RMS_THREADS, 0, c->stream>>>(out, rstd, x, w, C, eps);
    YT_LAUNCH_CHECK(e, "yt_kc_rmsnorm_forward");
    return 0;
}

int yt_kc_rmsnorm_backward(yt_kc_ctx *c, float *dx, const float *dout, const float *x,
                           const float *w, const float *rstd, int T, int C, yt_err *e)
{
    if (T <= 0)
        return 0;
    rmsnorm_bwd_kernel<<<T, YT_RMS_THREADS, 0, c->stream>>>(dx, dout, x, w, rstd, C);
    YT_LAUNCH_CHECK(e, "yt_kc_rmsnorm_backward");
    return 0;
}

/* One thread per rotated pair (t, head, i < hd/2). */
__global__ static void rope_kernel(float *x, const float *cos_t, const float *sin_t,
                                   const int32_t *pos, size_t npairs, int nh, int half, float sign)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x; k < npairs; k += stride) {
        int i = (int)(k % half);
        size_t th = k / half; /* t*nh + head */
        size_t t = th / nh;
        size_t ti = (size_t)pos[t] * half + i;
        float cs = cos_t[ti], si = sign * sin_t[ti];
        float *a = x + th * 2 * half;
        float x0 = a[i], x1 = a[i + half];
        a[i] = x0 * cs - x1 * si;
        a[i + half] = x1 * cs + x0 * si;
    }
}

static int rope(yt_kc_ctx *c, float *x, const float *cos_t, const float *sin_t, const int32_t *pos,
                int T, int nh, int hd, float sign, const char *op, yt_err *e)
{
    size_t n = (size_t)T * nh * (hd / 2);
    if (n == 0)
        return 0;
    rope_kernel<<<yt_kc_blocks(n, 256), 256, 0, c->stream>>>(x, cos_t, sin_t, pos, n, nh, hd / 2,
                                                              sign);
    YT_LAUNCH_CHECK(e, op);
    return 0;
}

int yt_kc_rope_forward(yt_kc_ctx *c, float *x, const float *cos_t, const float *sin_t,
                       const int32_t *pos, int T, int nh, int hd, yt_err *e)
{
    return rope(c, x, cos_t, sin_t, pos, T, nh, hd, 1.0f, "yt_kc_rope_forward", e);
}

int yt_kc_rope_backward(yt_kc_ctx *c, float *dx, const float *cos_t, const float *sin_t,
                        const int32_t *pos, int T, int nh, int hd, yt_err *e)
{
    return rope(c, dx, cos_t, sin_t, pos, T, nh, hd, -1.0f, "yt_kc_rope_backward", e);
}

__global__ static void swiglu_fwd_kernel(float *h, const float *g, const float *u, size_t n)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float x = g[i];
        float sg = 1.0f / (1.0f + __expf(-x));
        h[i] = x * sg * u[i];
    }
}

__global__ static void swiglu_bwd_kernel(float *dg, float *du, const float *dh, const float *g,
                                         const float *u, size_t n)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float x = g[i];
        float sg = 1.0f / (1.0f + __expf(-x));
        float d = dh[i];
        du[i] = d * x * sg;
        dg[i] = d * u[i] * sg * (1.0f + x * (1.0f - sg));
    }
}

int yt_kc_swiglu_forward(yt_kc_ctx *c, float *h, const float *g, const float *u, size_t n,
                         yt_err *e)
{
    if (n == 0)
        return 0;
    swiglu_fwd_kernel<<<yt_kc_blocks(n, 256), 256, 0, c->stream>>>(h, g, u, n);
    YT_LAUNCH_CHECK(e, "yt_kc_swiglu_forward");
    return 0;
}

int yt_kc_swiglu_backward(yt_kc_ctx *c, float *dg, float *du, const float *dh, const float *g,
                          const float *u, size_t n, yt_err *e)
{
    if (n == 0)
        return 0;
    swiglu_bwd_kernel<<<yt_kc_blocks(n, 256), 256, 0, c->stream>>>(dg, du, dh, g, u, n);
    YT_LAUNCH_CHECK(e, "yt_kc_swiglu_backward");
    return 0;
}

__global__ static void adamw_kernel(float *p, const float *g, float *m, float *v, size_t n,
                                    float lr, float b1, float b2, float eps, float wd, float bc1,
                                    float bc2, float grad_scale)
{
    float ib1 = 1.0f - b1, ib2 = 1.0f - b2;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float gi = g[i] * grad_scale;
        float mi = b1 * m[i] + ib1 * gi;
        float vi = b2 * v[i] + ib2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float pi = p[i];
        p[i] = pi - lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps) + wd * pi);
    }
}

int yt_kc_adamw(yt_kc_ctx *c, float *p, const float *g, float *m, float *v, size_t n, float lr,
                float b1, float b2, float eps, float wd, float bc1, float bc2, float grad_scale,
                yt_err *e)
{
    if (n == 0)
        return 0;
    adamw_kernel<<<yt_kc_blocks(n, 256), 256, 0, c->stream>>>(p, g, m, v, n, lr, b1, b2, eps, wd,
                                                               bc1, bc2, grad_scale);
    YT_LAUNCH_CHECK(e, "yt_kc_adamw");
    return 0;
}
