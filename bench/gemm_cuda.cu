/* bench/gemm_cuda.cu: times cuBLAS bf16 GEMMs of Llama-3 8B shapes (as the
 * yt_kc_matmul_*_bf16 wrappers call them: bf16 x bf16, fp32 accumulate, fp32
 * out) and prints TFLOP/s.  Built and run by bench/gpu-check; not part of make.
 * Each shape: 3 warm-up runs, then 20 timed with CUDA events, rotating among 3
 * input sets so that L2 does not hold the operands; the median is reported.
 * Inputs are random (never zeros). */
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#define CK(x)                                                                                      \
    do {                                                                                           \
        cudaError_t r_ = (x);                                                                      \
        if (r_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "gemm_cuda: %s: %s\n", #x, cudaGetErrorString(r_));                    \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)
#define CB(x)                                                                                      \
    do {                                                                                           \
        cublasStatus_t r_ = (x);                                                                   \
        if (r_ != CUBLAS_STATUS_SUCCESS) {                                                         \
            fprintf(stderr, "gemm_cuda: %s: %s\n", #x, cublasGetStatusString(r_));                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

__global__ static void fill(__nv_bfloat16 *x, size_t n, unsigned long long seed)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        unsigned long long z = (i + seed) * 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ull;
        z ^= z >> 29;
        x[i] = __float2bfloat16((float)(z >> 40) / (float)(1ull << 24) - 0.5f);
    }
}

struct shape {
    const char *name;
    int out, in;
};

int main(void)
{
    const int T = 2048, SETS = 3, WARM = 3, REPS = 20;
    const shape shapes[] = {{"q_proj/o_proj 4096x4096", 4096, 4096},
                            {"k_proj/v_proj 1024x4096", 1024, 4096},
                            {"gate/up_proj 14336x4096", 14336, 4096},
                            {"down_proj 4096x14336", 4096, 14336},
                            {"lm_head 128256x4096", 128256, 4096}};
    size_t maxw = 0, maxx = 0, maxy = 0;
    for (const shape &s : shapes) {
        maxw = std::max(maxw, (size_t)s.out * s.in);
        maxx = std::max(maxx, (size_t)T * std::max(s.in, s.out));
        maxy = std::max(maxy, (size_t)T * std::max(s.in, s.out));
    }
    cublasHandle_t h;
    CB(cublasCreate(&h));
    void *blasws;
    CK(cudaMalloc(&blasws, 32u << 20));
    CB(cublasSetWorkspace(h, blasws, 32u << 20));
    __nv_bfloat16 *W[SETS], *X[SETS];
    float *Y[SETS];
    for (int k = 0; k < SETS; k++) {
        CK(cudaMalloc(&W[k], maxw * 2));
        CK(cudaMalloc(&X[k], maxx * 2));
        CK(cudaMalloc(&Y[k], maxy * 4));
        fill<<<4096, 256>>>(W[k], maxw, 1000 + k);
        fill<<<4096, 256>>>(X[k], maxx, 2000 + k);
        CK(cudaGetLastError());
    }
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    float one = 1.0f, zero = 0.0f;
    printf("%-26s %-14s %9s %9s\n", "shape (out x in), T=2048", "product", "ms", "TFLOP/s");
    for (const shape &s : shapes) {
        for (int dir = 0; dir < 2; dir++) { /* 0: y = x W^T ; 1: dx = dy W */
            std::vector<float> ms;
            for (int r = 0; r < WARM + REPS; r++) {
                int k = r % SETS;
                CK(cudaEventRecord(e0));
                if (dir == 0)
                    CB(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, s.out, T, s.in, &one, W[k],
                                    CUDA_R_16BF, s.in, X[k], CUDA_R_16BF, s.in, &zero, Y[k],
                                    CUDA_R_32F, s.out, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
                else
                    CB(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, s.in, T, s.out, &one, W[k],
                                    CUDA_R_16BF, s.in, X[k], CUDA_R_16BF, s.out, &zero, Y[k],
                                    CUDA_R_32F, s.in, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
                CK(cudaEventRecord(e1));
                CK(cudaEventSynchronize(e1));
                float t;
                CK(cudaEventElapsedTime(&t, e0, e1));
                if (r >= WARM)
                    ms.push_back(t);
            }
            std::sort(ms.begin(), ms.end());
            double med = ms[ms.size() / 2];
            double tf = 2.0 * T * s.in * (double)s.out / (med * 1e-3) / 1e12;
            printf("%-26s %-14s %9.3f %9.1f\n", s.name, dir ? "dx = dy W" : "y = x W^T", med, tf);
        }
    }
    CK(cudaDeviceSynchronize());
    return 0;
}
