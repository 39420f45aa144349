/* kernels/cuda/cuda_internal.h: what the .cu files share (C++ only): the
 * context's fields, the error-checking macros and small device helpers. */
#ifndef YT_CUDA_INTERNAL_H
#define YT_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/kernels_cuda.h"

struct yt_kc_ctx {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    void *blas_ws; /* cuBLAS's own workspace */
    size_t blas_ws_bytes;
    void *ws; /* bf16 copies of activations for the bf16 products */
    size_t ws_bytes;
};

#define YT_CUDA_CHECK(call, e, op)                                                                 \
    do {                                                                                           \
        cudaError_t yt_rc_ = (call);                                                               \
        if (yt_rc_ != cudaSuccess)                                                                 \
            return yt_kc_errf_cuda((e), (op), yt_rc_);                                             \
    } while (0)
#define YT_BLAS_CHECK(call, e, op)                                                                 \
    do {                                                                                           \
        cublasStatus_t yt_rc_ = (call);                                                            \
        if (yt_rc_ != CUBLAS_STATUS_SUCCESS)                                                       \
            return yt_kc_errf_blas((e), (op), yt_rc_);                                             \
    } while (0)
/* After a kernel launch: the launch error, if any. */
#define YT_LAUNCH_CHECK(e, op) YT_CUDA_CHECK(cudaGetLastError(), e, op)

/* "op: cuda error name: string" / "op: cuBLAS status string"; return -1. */
int yt_kc_errf_cuda(yt_err *e, const char *op, cudaError_t rc);
int yt_kc_errf_blas(yt_err *e, const char *op, cublasStatus_t rc);

/* Rounds x[n] to bf16 into dst on the stream (no checks). */
void yt_kc_launch_to_bf16(cudaStream_t s, __nv_bfloat16 *dst, const float *src, size_t n);

/* Device twins of common.h's yt_mix64 / yt_u01 (those are static inline C,
 * host only): the same operations on the same bits, so a mask drawn on the GPU
 * equals the CPU's.  (x >> 40) < 2^24 converts to float exactly and the scale
 * is 2^-24, so yt_kc_u01 has no rounding at all. */
__device__ __forceinline__ uint64_t yt_kc_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}
__device__ __forceinline__ float yt_kc_u01(uint64_t x)
{
    return (float)(x >> 40) * (1.0f / 16777216.0f);
}

static inline unsigned yt_kc_blocks(size_t n, unsigned threads)
{
    size_t b = (n + threads - 1) / threads;
    return (unsigned)(b > 65535u * 16u ? 65535u * 16u : (b ? b : 1));
}

/* Block-wide sum / max of one float per thread, for blocks of NT threads (a
 * multiple of 32); sh is shared memory of at least NT / 32 floats.  Every
 * thread gets the result; sh may be reused right after (the leading barrier
 * protects a previous call's readers). */
template <int NT> __device__ inline float yt_kc_block_sum(float v, float *sh)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0)
        sh[threadIdx.x >> 5] = v;
    __syncthreads();
    float s = 0.0f;
    for (int w = 0; w < NT / 32; w++)
        s += sh[w];
    return s;
}

template <int NT> __device__ inline float yt_kc_block_max(float v, float *sh)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if ((threadIdx.x & 31) == 0)
        sh[threadIdx.x >> 5] = v;
    __syncthreads();
    float m = -INFINITY;
    for (int w = 0; w < NT / 32; w++)
        m = fmaxf(m, sh[w]);
    return m;
}

#endif
