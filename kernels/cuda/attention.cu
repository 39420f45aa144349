/* kernels/cuda/attention.cu: causal grouped-query attention, simple flash-style.
 *
 * Choice (to be measured on the device against cuBLAS strided-batched GEMMs +
 * a softmax kernel, and against a tiled tensor-core kernel): one block of 128
 * threads per (sequence, head, query row).  Keys come in tiles of 128, one per
 * thread: the thread scores its key (dot product over hd), the block keeps an
 * online softmax (running max and sum), and each thread accumulates its one or
 * two output dims (hd <= 256).  [S,S] never exists; lse is saved.
 * Backward recomputes p = exp(s - lse): kernel 1 (per query row) makes
 * D = dout.out and dq; kernel 2 (per key row, all query heads of its group)
 * makes dk and dv, so nothing is summed with atomics and results do not depend
 * on scheduling.  This is correct, not fast: the scores are CUDA-core FMAs and
 * each K/V row is re-read by every query row (from L2). */
#include "kernels/cuda/cuda_internal.h"

#include <math.h>

#define AT 128 /* threads per block = keys (or queries) per tile */
#define AT_HD_MAX 256

__device__ static float dot_sh(const float *sh, const float *g, int hd)
{
    float s = 0.0f;
    for (int d = 0; d < hd; d++)
        s += sh[d] * g[d];
    return s;
}

__global__ static void __launch_bounds__(AT)
att_fwd_kernel(float *out, float *lse, const float *q, const float *k, const float *v,
               const int32_t *doc, int S, int nh, int nkv, int hd, float scale)
{
    __shared__ float qs[AT_HD_MAX], ps[AT], red[32];
    int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z, tid = threadIdx.x;
    int g = h / (nh / nkv);
    size_t bS = (size_t)b * S;
    const float *qi = q + ((bS + i) * nh + h) * hd;
    for (int d = tid; d < hd; d += AT)
        qs[d] = qi[d];
    __syncthreads();
    int32_t di = doc ? doc[bS + i] : 0;
    float m = -INFINITY, l = 0.0f, acc[2] = {0.0f, 0.0f};
    for (int j0 = 0; j0 <= i; j0 += AT) {
        int j = j0 + tid;
        float s = -INFINITY;
        if (j <= i && (!doc || doc[bS + j] == di))
            s = scale * dot_sh(qs, k + ((bS + j) * nkv + g) * hd, hd);
        float mn = fmaxf(m, yt_kc_block_max<AT>(s, red));
        if (mn == -INFINITY) /* the whole tile masked (uniform across the block) */
            continue;
        float p = s == -INFINITY ? 0.0f : expf(s - mn);
        float corr = expf(m - mn);
        l = l * corr + yt_kc_block_sum<AT>(p, red);
        m = mn;
        ps[tid] = p;
        __syncthreads();
        int n = i - j0 + 1 < AT ? i - j0 + 1 : AT;
#pragma unroll
        for (int r = 0; r < 2; r++) {
            int d = tid + r * AT;
            if (d < hd) {
                float a = acc[r] * corr;
                for (int jj = 0; jj < n; jj++)
                    a += ps[jj] * v[((bS + j0 + jj) * nkv + g) * hd + d];
                acc[r] = a;
            }
        }
        __syncthreads();
    }
    float *oi = out + ((bS + i) * nh + h) * hd;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        int d = tid + r * AT;
        if (d < hd)
            oi[d] = acc[r] / l;
    }
    if (tid == 0)
        lse[((size_t)b * nh + h) * S + i] = m + logf(l);
}

/* dq and D = dout.out for query row (b, h, i). */
__global__ static void __launch_bounds__(AT)
att_bwd_dq_kernel(float *dq, float *Dws, const float *dout, const float *q, const float *k,
                  const float *v, const float *out, const float *lse, const int32_t *doc, int S,
                  int nh, int nkv, int hd, float scale)
{
    __shared__ float qs[AT_HD_MAX], dos[AT_HD_MAX], dss[AT], red[32];
    int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z, tid = threadIdx.x;
    int g = h / (nh / nkv);
    size_t bS = (size_t)b * S;
    size_t row = ((bS + i) * nh + h) * hd;
    float Dp = 0.0f;
    for (int d = tid; d < hd; d += AT) {
        qs[d] = q[row + d];
        dos[d] = dout[row + d];
        Dp += dout[row + d] * out[row + d];
    }
    float D = yt_kc_block_sum<AT>(Dp, red); /* its barriers also publish qs, dos */
    size_t li = ((size_t)b * nh + h) * S + i;
    if (tid == 0)
        Dws[li] = D;
    float L = lse[li];
    int32_t di = doc ? doc[bS + i] : 0;
    float acc[2] = {0.0f, 0.0f};
    for (int j0 = 0; j0 <= i; j0 += AT) {
        int j = j0 + tid;
        float ds = 0.0f;
        if (j <= i && (!doc || doc[bS + j] == di)) {
            size_t kr = ((bS + j) * nkv + g) * hd;
            float p = expf(scale * dot_sh(qs, k + kr, hd) - L);
            ds = p * (dot_sh(dos, v + kr, hd) - D);
        }
        dss[tid] = ds;
        __syncthreads();
        int n = i - j0 + 1 < AT ? i - j0 + 1 : AT;
#pragma unroll
        for (int r = 0; r < 2; r++) {
            int d = tid + r * AT;
            if (d < hd) {
                float a = acc[r];
                for (int jj = 0; jj < n; jj++)
                    a += dss[jj] * k[((bS + j0 + jj) * nkv + g) * hd + d];
                acc[r] = a;
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        int d = tid + r * AT;
        if (d < hd)
            dq[row + d] = scale * acc[r];
    }
}

/* dk and dv for key row (b, kv head g, j), over the query heads of group g. */
__global__ static void __launch_bounds__(AT)
att_bwd_dkv_kernel(float *dk, float *dv, const float *Dws, const float *dout, const float *q,
                   const float *k, const float *v, const float *lse, const int32_t *doc, int S,
                   int nh, int nkv, int hd, float scale)
{
    __shared__ float ks[AT_HD_MAX], vs[AT_HD_MAX], ps[AT], dss[AT];
    int j = blockIdx.x, g = blockIdx.y, b = blockIdx.z, tid = threadIdx.x;
    int rep = nh / nkv;
    size_t bS = (size_t)b * S;
    size_t kr = ((bS + j) * nkv + g) * hd;
    for (int d = tid; d < hd; d += AT) {
        ks[d] = k[kr + d];
        vs[d] = v[kr + d];
    }
    __syncthreads();
    int32_t dj = doc ? doc[bS + j] : 0;
    float ak[2] = {0.0f, 0.0f}, av[2] = {0.0f, 0.0f};
    for (int h = g * rep; h < (g + 1) * rep; h++) {
        const float *Lh = lse + ((size_t)b * nh + h) * S;
        const float *Dh = Dws + ((size_t)b * nh + h) * S;
        for (int i0 = j; i0 < S; i0 += AT) {
            int i = i0 + tid;
            float p = 0.0f, ds = 0.0f;
            if (i < S && (!doc || doc[bS + i] == dj)) {
                size_t qr = ((bS + i) * nh + h) * hd;
                p = expf(scale * dot_sh(ks, q + qr, hd) - Lh[i]);
                ds = p * (dot_sh(vs, dout + qr, hd) - Dh[i]);
            }
            ps[tid] = p;
            dss[tid] = ds;
            __syncthreads();
            int n = S - i0 < AT ? S - i0 : AT;
#pragma unroll
            for (int r = 0; r < 2; r++) {
                int d = tid + r * AT;
                if (d < hd) {
                    float a = av[r], c = ak[r];
                    for (int ii = 0; ii < n; ii++) {
                        size_t qr = ((bS + i0 + ii) * nh + h) * hd + d;
                        a += ps[ii] * dout[qr];
                        c += dss[ii] * q[qr];
                    }
                    av[r] = a;
                    ak[r] = c;
                }
            }
            __syncthreads();
        }
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        int d = tid + r * AT;
        if (d < hd) {
            dk[kr + d] = scale * ak[r];
            dv[kr + d] = av[r];
        }
    }
}

size_t yt_kc_attention_workspace(int B, int S, int nh) { return (size_t)B * nh * S; }

static int att_check(int B, int S, int nh, int nkv, int hd, const char *op, yt_err *e)
{
    if (B < 1 || S < 1 || nh < 1 || nkv < 1 || nh % nkv != 0 || hd < 2 || hd % 2 || hd > AT_HD_MAX
        || S > 65535 || nh > 65535 || B > 65535)
        return yt_errf(e, "%s: unsupported shape B=%d S=%d nh=%d nkv=%d hd=%d (hd even, <= %d)", op,
                       B, S, nh, nkv, hd, AT_HD_MAX);
    return 0;
}

int yt_kc_attention_forward(yt_kc_ctx *c, float *out, float *lse, const float *q, const float *k,
                            const float *v, const int32_t *doc, int B, int S, int nh, int nkv,
                            int hd, yt_err *e)
{
    const char *op = "yt_kc_attention_forward";
    if (att_check(B, S, nh, nkv, hd, op, e) != 0)
        return -1;
    float scale = 1.0f / sqrtf((float)hd);
    att_fwd_kernel<<<dim3(S, nh, B), AT, 0, c->stream>>>(out, lse, q, k, v, doc, S, nh, nkv, hd,
                                                          scale);
    YT_LAUNCH_CHECK(e, op);
    return 0;
}

int yt_kc_attention_backward(yt_kc_ctx *c, float *dq, float *dk, float *dv, const float *dout,
                             const float *q, const float *k, const float *v, const float *out,
                             const float *lse, const int32_t *doc, int B, int S, int nh, int nkv,
                             int hd, float *ws, yt_err *e)
{
    const char *op = "yt_kc_attention_backward";
    if (att_check(B, S, nh, nkv, hd, op, e) != 0)
        return -1;
    float scale = 1.0f / sqrtf((float)hd);
    att_bwd_dq_kernel<<<dim3(S, nh, B), AT, 0, c->stream>>>(dq, ws, dout, q, k, v, out, lse, doc, S,
                                                             nh, nkv, hd, scale);
    YT_LAUNCH_CHECK(e, op);
    att_bwd_dkv_kernel<<<dim3(S, nkv, B), AT, 0, c->stream>>>(dk, dv, ws, dout, q, k, v, lse, doc,
                                                               S, nh, nkv, hd, scale);
    YT_LAUNCH_CHECK(e, op);
    return 0;
}
