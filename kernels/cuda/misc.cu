/* kernels/cuda/misc.cu: the small ops the GPU model needs around the big ones:
 * memset/copy on the stream, y += x, x *= s, the bf16 embedding gather,
 * dropout with the CPU's stateless mask, a deterministic sum of squares and
 * fills.  All are memory-bound grid-stride loops (yt_kc_blocks) on the
 * context's stream; n == 0 launches nothing.
 *
 * sumsq is deterministic: the grid size depends only on n (and the context's
 * workspace size), each block sums a fixed set of elements in double and
 * reduces them in a fixed tree into one partial in the context's workspace,
 * then one block adds the partials in a fixed order.  The partials borrow the
 * context's workspace (c->ws): every user of it is on the same stream, so the
 * borrow is ordered after earlier bf16 products and before later ones. */
#include "kernels/cuda/cuda_internal.h"

#define MT 256         /* threads per block */
#define SQ_MAXB 1024   /* sumsq: most partial sums (blocks) */
#define SQ_PER_THR 8   /* sumsq: fewest elements per thread before another block is worth it */

int yt_kc_memset(yt_kc_ctx *c, void *p, int value, size_t bytes, yt_err *e)
{
    if (bytes == 0)
        return 0;
    YT_CUDA_CHECK(cudaMemsetAsync(p, value, bytes, c->stream), e, "yt_kc_memset");
    return 0;
}

int yt_kc_copy(yt_kc_ctx *c, void *dst, const void *src, size_t bytes, yt_err *e)
{
    if (bytes == 0 || dst == src)
        return 0;
    YT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c->stream), e,
                  "yt_kc_copy");
    return 0;
}

__global__ static void add_kernel(float *y, const float *x, size_t n)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        y[i] += x[i];
}

int yt_kc_add(yt_kc_ctx *c, float *y, const float *x, size_t n, yt_err *e)
{
    if (n == 0)
        return 0;
    add_kernel<<<yt_kc_blocks(n, MT), MT, 0, c->stream>>>(y, x, n);
    YT_LAUNCH_CHECK(e, "yt_kc_add");
    return 0;
}

__global__ static void scale_kernel(float *x, float s, size_t n)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        x[i] *= s;
}

int yt_kc_scale(yt_kc_ctx *c, float *x, float s, size_t n, yt_err *e)
{
    if (n == 0)
        return 0;
    scale_kernel<<<yt_kc_blocks(n, MT), MT, 0, c->stream>>>(x, s, n);
    YT_LAUNCH_CHECK(e, "yt_kc_scale");
    return 0;
}

/* One block per token, its threads over the row. */
__global__ static void embed_bf16_kernel(float *out, const uint16_t *E16, const int32_t *ids, int C)
{
    const uint16_t *row = E16 + (size_t)ids[blockIdx.x] * C;
    float *o = out + (size_t)blockIdx.x * C;
    for (int j = threadIdx.x; j < C; j += blockDim.x)
        o[j] = __uint_as_float((uint32_t)row[j] << 16);
}

int yt_kc_embed_bf16(yt_kc_ctx *c, float *out, const uint16_t *E16, const int32_t *ids, int T, int C,
                     yt_err *e)
{
    if (T < 0 || C < 0)
        return yt_errf(e, "yt_kc_embed_bf16: bad shape T=%d C=%d", T, C);
    if (T == 0 || C == 0)
        return 0;
    embed_bf16_kernel<<<T, MT, 0, c->stream>>>(out, E16, ids, C);
    YT_LAUNCH_CHECK(e, "yt_kc_embed_bf16");
    return 0;
}

/* Dropout, as kernels/cpu/dropout.c: keep i iff yt_u01(yt_mix64(seed ^ i)) >= p,
 * kept values times scale = 1/(1-p) (0 when p >= 1, where nothing is kept).
 * scale is computed on the host exactly as the CPU does.  The products use
 * __fmul_rn so that nvcc cannot contract dx + dout*scale into an FMA: the
 * values then round exactly as the CPU's separate multiply and add. */
__global__ static void dropout_fwd_kernel(float *out, const float *x, size_t n, float p,
                                          float scale, uint64_t seed)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        out[i] = yt_kc_u01(yt_kc_mix64(seed ^ (uint64_t)i)) >= p ? __fmul_rn(x[i], scale) : 0.0f;
}

__global__ static void dropout_bwd_kernel(float *dx, const float *dout, size_t n, float p,
                                          float scale, uint64_t seed)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        if (yt_kc_u01(yt_kc_mix64(seed ^ (uint64_t)i)) >= p)
            dx[i] = __fadd_rn(dx[i], __fmul_rn(dout[i], scale));
}

int yt_kc_dropout_forward(yt_kc_ctx *c, float *out, const float *x, size_t n, float p, uint64_t seed,
                          yt_err *e)
{
    if (n == 0)
        return 0;
    if (p <= 0.0f)
        return yt_kc_copy(c, out, x, n * sizeof *out, e);
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    dropout_fwd_kernel<<<yt_kc_blocks(n, MT), MT, 0, c->stream>>>(out, x, n, p, scale, seed);
    YT_LAUNCH_CHECK(e, "yt_kc_dropout_forward");
    return 0;
}

int yt_kc_dropout_backward(yt_kc_ctx *c, float *dx, const float *dout, size_t n, float p,
                           uint64_t seed, yt_err *e)
{
    if (n == 0)
        return 0;
    if (p <= 0.0f)
        return yt_kc_add(c, dx, dout, n, e);
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    dropout_bwd_kernel<<<yt_kc_blocks(n, MT), MT, 0, c->stream>>>(dx, dout, n, p, scale, seed);
    YT_LAUNCH_CHECK(e, "yt_kc_dropout_backward");
    return 0;
}

/* Fixed tree over MT doubles in shared memory; thread 0 gets the sum. */
__device__ static double block_sum_d(double s, double *sh)
{
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int o = MT / 2; o > 0; o >>= 1) {
        if ((int)threadIdx.x < o)
            sh[threadIdx.x] += sh[threadIdx.x + o];
        __syncthreads();
    }
    return sh[0];
}

/* part[blockIdx.x] = sum of x[i]^2 over i = blockIdx.x*MT + threadIdx.x + k*gridDim.x*MT. */
__global__ static void __launch_bounds__(MT) sumsq_part_kernel(double *part, const float *x, size_t n)
{
    __shared__ double sh[MT];
    size_t stride = (size_t)gridDim.x * MT;
    double s = 0.0;
    for (size_t i = (size_t)blockIdx.x * MT + threadIdx.x; i < n; i += stride) {
        double v = (double)x[i];
        s += v * v;
    }
    s = block_sum_d(s, sh);
    if (threadIdx.x == 0)
        part[blockIdx.x] = s;
}

__global__ static void __launch_bounds__(MT) sum_parts_kernel(double *out, const double *part, int nb)
{
    __shared__ double sh[MT];
    double s = 0.0;
    for (int i = threadIdx.x; i < nb; i += MT)
        s += part[i];
    s = block_sum_d(s, sh);
    if (threadIdx.x == 0)
        *out = s;
}

int yt_kc_sumsq(yt_kc_ctx *c, double *out_dev, const float *x, size_t n, yt_err *e)
{
    const char *op = "yt_kc_sumsq";
    if (n == 0) { /* the sum of nothing: write the 0 (all-zero bytes are +0.0) */
        YT_CUDA_CHECK(cudaMemsetAsync(out_dev, 0, sizeof *out_dev, c->stream), e, op);
        return 0;
    }
    size_t nb = (n + (size_t)MT * SQ_PER_THR - 1) / ((size_t)MT * SQ_PER_THR);
    if (nb > SQ_MAXB)
        nb = SQ_MAXB;
    size_t room = c->ws ? c->ws_bytes / sizeof(double) : 0;
    if (nb > room)
        nb = room; /* a context without (enough) workspace: fewer partials */
    if (nb <= 1) {
        sumsq_part_kernel<<<1, MT, 0, c->stream>>>(out_dev, x, n);
        YT_LAUNCH_CHECK(e, op);
        return 0;
    }
    double *part = (double *)c->ws;
    sumsq_part_kernel<<<(unsigned)nb, MT, 0, c->stream>>>(part, x, n);
    YT_LAUNCH_CHECK(e, op);
    sum_parts_kernel<<<1, MT, 0, c->stream>>>(out_dev, part, (int)nb);
    YT_LAUNCH_CHECK(e, op);
    return 0;
}

__global__ static void fill_uniform_bf16_kernel(__nv_bfloat16 *W, size_t n, float a, uint64_t seed)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float u = yt_kc_u01(yt_kc_mix64(seed ^ (uint64_t)i));
        /* 2u - 1 is exact (u has 24 bits), so only a*(...) and the bf16 rounding round */
        W[i] = __float2bfloat16_rn(__fmul_rn(a, 2.0f * u - 1.0f));
    }
}

int yt_kc_fill_uniform_bf16(yt_kc_ctx *c, uint16_t *W16, size_t n, float a, uint64_t seed,
                            yt_err *e)
{
    if (n == 0)
        return 0;
    fill_uniform_bf16_kernel<<<yt_kc_blocks(n, MT), MT, 0, c->stream>>>((__nv_bfloat16 *)W16, n, a,
                                                                         seed);
    YT_LAUNCH_CHECK(e, "yt_kc_fill_uniform_bf16");
    return 0;
}

template <typename V> __global__ static void fill_kernel(V *x, size_t n, V value)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        x[i] = value;
}

int yt_kc_fill_bf16(yt_kc_ctx *c, uint16_t *W16, size_t n, float value, yt_err *e)
{
    if (n == 0)
        return 0;
    fill_kernel<uint16_t><<<yt_kc_blocks(n, MT), MT, 0, c->stream>>>(W16, n, (uint16_t)yt_kc_bf16_from_f32(value));
    YT_LAUNCH_CHECK(e, "yt_kc_fill_bf16");
    return 0;
}

int yt_kc_fill_f32(yt_kc_ctx *c, float *x, size_t n, float value, yt_err *e)
{
    if (n == 0)
        return 0;
    fill_kernel<float><<<yt_kc_blocks(n, MT), MT, 0, c->stream>>>(x, n, value);
    YT_LAUNCH_CHECK(e, "yt_kc_fill_f32");
    return 0;
}
