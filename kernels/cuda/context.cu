/* kernels/cuda/context.cu: the context (stream, cuBLAS handle, workspaces),
 * device memory helpers, error messages and the bf16 rounding kernel. */
#include "kernels/cuda/cuda_internal.h"

#include <stdlib.h>

#define YT_KC_BLAS_WS (32u << 20) /* cuBLAS workspace: 32 MiB covers Hopper's kernels */

int yt_kc_errf_cuda(yt_err *e, const char *op, cudaError_t rc)
{
    return yt_errf(e, "%s: %s: %s", op, cudaGetErrorName(rc), cudaGetErrorString(rc));
}

int yt_kc_errf_blas(yt_err *e, const char *op, cublasStatus_t rc)
{
    return yt_errf(e, "%s: cuBLAS: %s", op, cublasGetStatusString(rc));
}

int yt_kc_device_count(int *n, yt_err *e)
{
    *n = 0;
    YT_CUDA_CHECK(cudaGetDeviceCount(n), e, "cudaGetDeviceCount");
    return 0;
}

void yt_kc_ctx_destroy(yt_kc_ctx *c)
{
    if (!c)
        return;
    if (c->stream)
        cudaStreamSynchronize(c->stream);
    if (c->blas)
        cublasDestroy(c->blas);
    cudaFree(c->blas_ws);
    cudaFree(c->ws);
    if (c->stream)
        cudaStreamDestroy(c->stream);
    free(c);
}

static int ctx_init(yt_kc_ctx *c, int device, size_t ws_bytes, yt_err *e)
{
    YT_CUDA_CHECK(cudaSetDevice(device), e, "yt_kc_ctx_create: cudaSetDevice");
    YT_CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), e,
                  "yt_kc_ctx_create: cudaStreamCreate");
    YT_BLAS_CHECK(cublasCreate(&c->blas), e, "yt_kc_ctx_create: cublasCreate");
    YT_BLAS_CHECK(cublasSetStream(c->blas, c->stream), e, "yt_kc_ctx_create: cublasSetStream");
    YT_BLAS_CHECK(cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH), e,
                  "yt_kc_ctx_create: cublasSetMathMode");
    c->blas_ws_bytes = YT_KC_BLAS_WS;
    YT_CUDA_CHECK(cudaMalloc(&c->blas_ws, c->blas_ws_bytes), e,
                  "yt_kc_ctx_create: cudaMalloc (cuBLAS workspace)");
    YT_BLAS_CHECK(cublasSetWorkspace(c->blas, c->blas_ws, c->blas_ws_bytes), e,
                  "yt_kc_ctx_create: cublasSetWorkspace");
    c->ws_bytes = ws_bytes;
    if (ws_bytes)
        YT_CUDA_CHECK(cudaMalloc(&c->ws, ws_bytes), e, "yt_kc_ctx_create: cudaMalloc (workspace)");
    return 0;
}

int yt_kc_ctx_create(yt_kc_ctx **out, int device, size_t ws_bytes, yt_err *e)
{
    *out = NULL;
    yt_kc_ctx *c = (yt_kc_ctx *)yt_calloc(1, sizeof *c, "a CUDA context", e);
    if (!c)
        return yt_err_prefix(e, "yt_kc_ctx_create");
    c->device = device;
    if (ctx_init(c, device, ws_bytes, e) != 0) {
        yt_kc_ctx_destroy(c);
        return -1;
    }
    *out = c;
    return 0;
}

void *yt_kc_ctx_stream(yt_kc_ctx *c) { return (void *)c->stream; }

int yt_kc_sync(yt_kc_ctx *c, yt_err *e)
{
    YT_CUDA_CHECK(cudaStreamSynchronize(c->stream), e, "yt_kc_sync");
    return 0;
}

int yt_kc_malloc(void **p, size_t bytes, const char *what, yt_err *e)
{
    *p = NULL;
    cudaError_t rc = cudaMalloc(p, bytes ? bytes : 1);
    if (rc != cudaSuccess) {
        *p = NULL;
        return yt_errf(e, "cudaMalloc %zu bytes for %s: %s", bytes, what, cudaGetErrorString(rc));
    }
    return 0;
}

void yt_kc_free(void *p) { cudaFree(p); }

int yt_kc_upload(yt_kc_ctx *c, void *dst, const void *host_src, size_t bytes, yt_err *e)
{
    YT_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, c->stream), e,
                  "yt_kc_upload: cudaMemcpyAsync");
    YT_CUDA_CHECK(cudaStreamSynchronize(c->stream), e, "yt_kc_upload");
    return 0;
}

int yt_kc_download(yt_kc_ctx *c, void *host_dst, const void *src, size_t bytes, yt_err *e)
{
    YT_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, c->stream), e,
                  "yt_kc_download: cudaMemcpyAsync");
    YT_CUDA_CHECK(cudaStreamSynchronize(c->stream), e, "yt_kc_download");
    return 0;
}

__global__ static void to_bf16_kernel(__nv_bfloat16 *dst, const float *src, size_t n)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        dst[i] = __float2bfloat16_rn(src[i]);
}

void yt_kc_launch_to_bf16(cudaStream_t s, __nv_bfloat16 *dst, const float *src, size_t n)
{
    to_bf16_kernel<<<yt_kc_blocks(n, 256), 256, 0, s>>>(dst, src, n);
}

int yt_kc_to_bf16(yt_kc_ctx *c, uint16_t *dst, const float *src, size_t n, yt_err *e)
{
    if (n == 0)
        return 0;
    yt_kc_launch_to_bf16(c->stream, (__nv_bfloat16 *)dst, src, n);
    YT_LAUNCH_CHECK(e, "yt_kc_to_bf16");
    return 0;
}
