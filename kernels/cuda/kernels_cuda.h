/* kernels/cuda/: the math of kernels.h on an NVIDIA GPU (built with --with-cuda).
 *
 * Contract: the same ops, layouts and accumulate rules as kernels.h (row-major
 * activations [T, C], weights [out, in], per-head tensors [T, heads, hd];
 * backward into a residual stream ACCUMULATES, everything else overwrites),
 * with these differences:
 *  - every pointer is DEVICE memory unless it says "host";
 *  - frozen base weights of the matrix products (q/k/v/o, gate/up/down,
 *    lm_head) are bf16 (stored as uint16_t, the top half of an fp32); their
 *    products take fp32 activations, round them to bf16 in the context's
 *    workspace and accumulate in fp32 (cuBLAS, CUBLAS_COMPUTE_32F); LoRA
 *    weights, activations, norm weights, gradients and optimizer state are fp32
 *    (fp32 products go through cublasSgemm without TF32);
 *  - work is queued on the context's stream and is asynchronous: results are
 *    ready after yt_kc_sync (or later work on the same stream).
 * One context (stream, cuBLAS handle, workspace) is created at start and used by
 * one thread.  Every function that can fail returns 0, or -1 after writing into
 * e a message naming the op and the CUDA/cuBLAS error string.  C callers need
 * no CUDA header. */
#ifndef YT_KERNELS_CUDA_H
#define YT_KERNELS_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" { /* common.h has no C++ guards of its own */
#endif

#include "common/common.h"

typedef struct yt_kc_ctx yt_kc_ctx;

/* ---- devices, context, memory ---- */
/* *n = number of CUDA devices; -1 (message says why) when the runtime or the
 * driver is unusable, which callers may treat as "no GPU". */
int yt_kc_device_count(int *n, yt_err *e);
/* Creates the stream, the cuBLAS handle and a workspace of ws_bytes on device
 * `device` (made current).  ws_bytes bounds the bf16 copies of activations that
 * the bf16 products make (2 * T * max(in, out) bytes for the largest one). */
int yt_kc_ctx_create(yt_kc_ctx **out, int device, size_t ws_bytes, yt_err *e);
void yt_kc_ctx_destroy(yt_kc_ctx *c);
void *yt_kc_ctx_stream(yt_kc_ctx *c); /* the cudaStream_t */
int yt_kc_sync(yt_kc_ctx *c, yt_err *e);
int yt_kc_malloc(void **p, size_t bytes, const char *what, yt_err *e);
void yt_kc_free(void *p);
/* Copies on the context's stream, then waits for them (host <-> device). */
int yt_kc_upload(yt_kc_ctx *c, void *dst, const void *host_src, size_t bytes, yt_err *e);
int yt_kc_download(yt_kc_ctx *c, void *host_dst, const void *src, size_t bytes, yt_err *e);

/* ---- bf16 ---- */
/* Host: round to nearest even (NaN stays NaN). */
static inline uint16_t yt_kc_bf16_from_f32(float f)
{
    union { float f; uint32_t u; } v;
    v.f = f;
    if ((v.u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((v.u >> 16) | 0x40u);
    v.u += 0x7fffu + ((v.u >> 16) & 1u);
    return (uint16_t)(v.u >> 16);
}
static inline float yt_kc_f32_from_bf16(uint16_t h)
{
    union { float f; uint32_t u; } v;
    v.u = (uint32_t)h << 16;
    return v.f;
}
/* Device: dst[n] = bf16(src[n]), round to nearest even. */
int yt_kc_to_bf16(yt_kc_ctx *c, uint16_t *dst, const float *src, size_t n, yt_err *e);

/* ---- matrix products ---- */
/* bf16 frozen weight W16[out,in]:
 * y[T,out] = x[T,in] W^T + beta*y ;  dx[T,in] = dy[T,out] W + beta*dx */
int yt_kc_matmul_xwT_bf16(yt_kc_ctx *c, float *y, const float *x, const uint16_t *W16, int T, int in,
                          int out, float beta, yt_err *e);
int yt_kc_matmul_dyW_bf16(yt_kc_ctx *c, float *dx, const float *dy, const uint16_t *W16, int T,
                          int in, int out, float beta, yt_err *e);
/* fp32 (LoRA A and B): the three products of kernels.h. */
int yt_kc_matmul_xwT(yt_kc_ctx *c, float *y, const float *x, const float *W, int T, int in, int out,
                     float beta, yt_err *e);
int yt_kc_matmul_dyW(yt_kc_ctx *c, float *dx, const float *dy, const float *W, int T, int in,
                     int out, float beta, yt_err *e);
/* dW[out,in] = alpha * dy[T,out]^T x[T,in] + beta*dW */
int yt_kc_matmul_dW(yt_kc_ctx *c, float *dW, const float *dy, const float *x, int T, int in, int out,
                    float alpha, float beta, yt_err *e);

/* ---- fused elementwise ops (as kernels.h) ---- */
int yt_kc_rmsnorm_forward(yt_kc_ctx *c, float *out, float *rstd, const float *x, const float *w,
                          int T, int C, float eps, yt_err *e);
/* dx += ... */
int yt_kc_rmsnorm_backward(yt_kc_ctx *c, float *dx, const float *dout, const float *x,
                           const float *w, const float *rstd, int T, int C, yt_err *e);
/* cos_t/sin_t [max_pos, hd/2] as yt_k_rope_tables makes them (uploaded once);
 * in place on x[T, nh, hd]; pos[T]. */
int yt_kc_rope_forward(yt_kc_ctx *c, float *x, const float *cos_t, const float *sin_t,
                       const int32_t *pos, int T, int nh, int hd, yt_err *e);
int yt_kc_rope_backward(yt_kc_ctx *c, float *dx, const float *cos_t, const float *sin_t,
                        const int32_t *pos, int T, int nh, int hd, yt_err *e);
int yt_kc_swiglu_forward(yt_kc_ctx *c, float *h, const float *g, const float *u, size_t n,
                         yt_err *e);
int yt_kc_swiglu_backward(yt_kc_ctx *c, float *dg, float *du, const float *dh, const float *g,
                          const float *u, size_t n, yt_err *e);

/* ---- causal GQA attention (as kernels.h; hd <= 256, even) ----
 * A simple flash-style kernel: one block per (sequence, head, query row), keys
 * in tiles with an online softmax; [S,S] never exists; lse[B,nh,S] saved and the
 * probabilities recomputed in backward.  Backward: one launch for dq (and the
 * row dot products D = dout.out), one for dk/dv with one block per (sequence,
 * kv head, key), so no atomics and the result is deterministic.
 * ws holds yt_kc_attention_workspace floats. */
size_t yt_kc_attention_workspace(int B, int S, int nh); /* floats */
int yt_kc_attention_forward(yt_kc_ctx *c, float *out, float *lse, const float *q, const float *k,
                            const float *v, const int32_t *doc, int B, int S, int nh, int nkv,
                            int hd, yt_err *e);
int yt_kc_attention_backward(yt_kc_ctx *c, float *dq, float *dk, float *dv, const float *dout,
                             const float *q, const float *k, const float *v, const float *out,
                             const float *lse, const int32_t *doc, int B, int S, int nh, int nkv,
                             int hd, float *ws, yt_err *e);

/* ---- lm_head (bf16 W16[V,C]) fused with cross-entropy, chunks of tokens ----
 * Per chunk: h rounded to bf16, logits[chunk,V] fp32 by cuBLAS into ws, one
 * kernel turns each row into its loss term and (when dh) its gradient
 * weight*(softmax - onehot), rounded to bf16, and cuBLAS carries it to dh
 * (OVERWRITTEN).  *loss_dev (device double) = sum_t weight[t]*(lse_t -
 * logit_t[target_t]), summed in token order.  ws holds
 * yt_kc_lmhead_xent_workspace bytes (aligned as cudaMalloc returns). */
size_t yt_kc_lmhead_xent_workspace(int T, int C, int V, int chunk); /* bytes */
/* The chunk the GPU model uses: about 64M logits (256 MB fp32), a multiple of
 * 64 tokens (at least 64), so the [chunk, V] GEMM is large enough for the
 * tensor cores; at most T. */
int yt_kc_lmhead_xent_chunk(int T, int V);
int yt_kc_lmhead_xent(yt_kc_ctx *c, double *loss_dev, float *dh, const float *h,
                      const uint16_t *W16, const int32_t *target, const float *weight, int T, int C,
                      int V, int chunk, void *ws, yt_err *e);

/* ---- small ops the GPU model needs (kernels/cuda/misc.cu) ---- */
int yt_kc_memset(yt_kc_ctx *c, void *p, int value, size_t bytes, yt_err *e);
int yt_kc_copy(yt_kc_ctx *c, void *dst, const void *src, size_t bytes, yt_err *e); /* device to device */
int yt_kc_add(yt_kc_ctx *c, float *y, const float *x, size_t n, yt_err *e);       /* y += x */
int yt_kc_scale(yt_kc_ctx *c, float *x, float s, size_t n, yt_err *e);            /* x *= s */
/* out[T,C] = fp32(E16[ids[t], :]) (bf16 embedding table [V,C]); ids in [0,V). */
int yt_kc_embed_bf16(yt_kc_ctx *c, float *out, const uint16_t *E16, const int32_t *ids, int T, int C,
                     yt_err *e);
/* Inverted dropout with the CPU's stateless mask (kernels/cpu/dropout.c): element
 * i is kept when yt_u01(yt_mix64(seed ^ i)) >= p, so CPU and GPU drop the same
 * elements.  forward overwrites out (out == x allowed); backward ACCUMULATES
 * into dx.  p <= 0: plain copy / add. */
int yt_kc_dropout_forward(yt_kc_ctx *c, float *out, const float *x, size_t n, float p, uint64_t seed,
                          yt_err *e);
int yt_kc_dropout_backward(yt_kc_ctx *c, float *dx, const float *dout, size_t n, float p,
                           uint64_t seed, yt_err *e);
/* *out_dev (device double) = sum x[i]^2, accumulated in double (0 for n == 0).
 * Deterministic: fixed per-block partial sums (kept in the context's workspace,
 * stream-ordered, <= 8 KiB) added in a fixed order by one block. */
int yt_kc_sumsq(yt_kc_ctx *c, double *out_dev, const float *x, size_t n, yt_err *e);
/* W16[i] = bf16(a * (2 u - 1)), u = yt_u01(yt_mix64(seed ^ i)): random base
 * weights made on the device (benchmarks of large shapes without a file). */
int yt_kc_fill_uniform_bf16(yt_kc_ctx *c, uint16_t *W16, size_t n, float a, uint64_t seed,
                            yt_err *e);
/* W16[i] = value (bf16 of it), e.g. norm weights of 1. */
int yt_kc_fill_bf16(yt_kc_ctx *c, uint16_t *W16, size_t n, float value, yt_err *e);
int yt_kc_fill_f32(yt_kc_ctx *c, float *x, size_t n, float value, yt_err *e);

/* ---- causal GQA attention through cuBLAS (kernels/cuda/attention_gemm.cu) ----
 * Same arguments, masks, outputs and lse as yt_kc_attention_forward/backward,
 * computed with tensor cores: per sequence, the scores Q K^T of every head by
 * strided-batched GEMMs (TF32 inputs, fp32 accumulation), a masked softmax
 * kernel that writes P [nh, S, S] and lse, then P V.  Backward recomputes P from
 * lse, dP = dO V^T, dS = P (dP - rowsum(dO o O)), dQ = dS K, and dK, dV summed
 * over the heads of each kv group (successive GEMMs accumulating with beta = 1,
 * no partials).  Sequences are done one at a time so the workspace is two
 * [nh, S, S] fp32 tiles (forward uses the first): yt_kc_attention_gemm_workspace
 * bytes (1 GiB for S=2048, nh=32).  TF32: ~1e-3 relative to the fp32 kernels. */
size_t yt_kc_attention_gemm_workspace(int S, int nh, int nkv, int hd); /* bytes */
int yt_kc_attention_gemm_forward(yt_kc_ctx *c, float *out, float *lse, const float *q,
                                 const float *k, const float *v, const int32_t *doc, int B, int S,
                                 int nh, int nkv, int hd, void *ws, yt_err *e);
/* dq, dk, dv overwritten. */
int yt_kc_attention_gemm_backward(yt_kc_ctx *c, float *dq, float *dk, float *dv, const float *dout,
                                  const float *q, const float *k, const float *v, const float *out,
                                  const float *lse, const int32_t *doc, int B, int S, int nh,
                                  int nkv, int hd, void *ws, yt_err *e);

/* ---- a 4-bit (NF4) frozen weight decoded to bf16 (kernels/cuda/dequant.cu) ----
 * UNTESTED on a GPU (compiles; no device was available when it was written).
 * dst[i] = bf16(levels[code_i] * scale_b), b = i / 64, code_i the high nibble
 * of codes[i / 2] for even i and the low one for odd i, scale_b =
 * map[qabsmax[b]] * absmax2[b / 256] + *offset, each product and the sum
 * rounded to fp32 separately (no fused multiply-add), then to bf16 (nearest
 * even): the CPU's decoded fp32 values (model/quant.h's layout, whose parts
 * these pointers are) rounded to bf16.  levels: 16 floats, map: 256 floats,
 * offset: 1 float, all device memory. */
int yt_kc_dequant_nf4_bf16(yt_kc_ctx *c, uint16_t *dst, const uint8_t *codes, const uint8_t *qabsmax,
                           const float *absmax2, const float *offset, const float *map,
                           const float *levels, size_t n, yt_err *e);

/* ---- AdamW over one flat fp32 tensor (as yt_k_adamw) ---- */
int yt_kc_adamw(yt_kc_ctx *c, float *p, const float *g, float *m, float *v, size_t n, float lr,
                float b1, float b2, float eps, float wd, float bc1, float bc2, float grad_scale,
                yt_err *e);

#ifdef __cplusplus
}
#endif

#endif
