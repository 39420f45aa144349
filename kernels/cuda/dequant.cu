/* kernels/cuda/dequant.cu: a 4-bit base projection decoded to bf16 right
 * before its products (train --base-dtype nf4 on a GPU).  UNTESTED on a GPU
 * so far: it compiles; tests/unit/test_kernels_cuda.c has no case for it yet.
 *
 * One thread per byte of codes (two elements).  The block scale is computed
 * with the fp32 operations model/quant.c uses, unfused (__fmul_rn, __fadd_rn),
 * so the bf16 weights are the CPU's decoded fp32 values rounded to nearest
 * even. */
#include "kernels/cuda/cuda_internal.h"

#define DQ_THREADS 256

__global__ static void dequant_nf4_kernel(__nv_bfloat16 *dst, const uint8_t *codes, const uint8_t *qabsmax,
                                          const float *absmax2, const float *offset, const float *map,
                                          const float *levels, size_t n)
{
    __shared__ float lv[16], mp[256];
    for (int i = threadIdx.x; i < 256; i += blockDim.x) {
        mp[i] = map[i];
        if (i < 16)
            lv[i] = levels[i];
    }
    __syncthreads();
    const float off = *offset;
    size_t bytes = (n + 1) / 2, stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < bytes; i += stride) {
        size_t e0 = 2 * i, b = e0 / 64;
        float s = __fadd_rn(__fmul_rn(mp[qabsmax[b]], absmax2[b / 256]), off);
        unsigned c = codes[i];
        dst[e0] = __float2bfloat16_rn(__fmul_rn(lv[c >> 4], s));
        if (e0 + 1 < n)
            dst[e0 + 1] = __float2bfloat16_rn(__fmul_rn(lv[c & 15u], s));
    }
}

int yt_kc_dequant_nf4_bf16(yt_kc_ctx *c, uint16_t *dst, const uint8_t *codes, const uint8_t *qabsmax,
                           const float *absmax2, const float *offset, const float *map,
                           const float *levels, size_t n, yt_err *e)
{
    if (n == 0)
        return 0;
    dequant_nf4_kernel<<<yt_kc_blocks((n + 1) / 2, DQ_THREADS), DQ_THREADS, 0, c->stream>>>(
        (__nv_bfloat16 *)dst, codes, qabsmax, absmax2, offset, map, levels, n);
    YT_LAUNCH_CHECK(e, "yt_kc_dequant_nf4_bf16");
    return 0;
}
