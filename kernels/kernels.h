/* kernels/: the math of a Llama layer, forward and backward, fp32.
 *
 * Contract: pure functions over caller-owned buffers; no allocation, no I/O, no
 * globals (workspaces are sized by the *_workspace functions and passed in).
 * Layout: activations are row-major [T, C] (T = tokens of a micro-batch, B*S,
 * batch-major); weights use the Hugging Face layout [out, in]; per-head tensors
 * are [T, heads, head_dim] exactly as the projections produce them.
 * Backward functions that feed a residual stream ACCUMULATE into dx (+=);
 * everything else overwrites, as each comment says.
 * One owner of the threads: OpenMP loops here, and OpenBLAS (OpenMP build) inside.
 * The same ops on a GPU: kernels/cuda/kernels_cuda.h (built with --with-cuda);
 * the optimizer reaches its kernels (yt_k_adamw, yt_kc_adamw) through optim/. */
#ifndef YT_KERNELS_H
#define YT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Threads for OpenMP loops and BLAS together. */
void yt_k_set_threads(int n);
int yt_k_get_threads(void);

/* ---- matrix products (cblas sgemm underneath) ---- */
/* y[T,out] = x[T,in] W[out,in]^T + beta*y */
void yt_k_matmul_xwT(float *y, const float *x, const float *W, int T, int in, int out, float beta);
/* y[out] = W[out,in] x[in] + beta*y: one token (generation), which sgemm would
 * spend packing W for. */
void yt_k_matvec(float *y, const float *x, const float *W, int in, int out, float beta);
/* dx[T,in] = dy[T,out] W[out,in] + beta*dx */
void yt_k_matmul_dyW(float *dx, const float *dy, const float *W, int T, int in, int out, float beta);
/* dW[out,in] = alpha * dy[T,out]^T x[T,in] + beta*dW */
void yt_k_matmul_dW(float *dW, const float *dy, const float *x, int T, int in, int out, float alpha,
                    float beta);

/* ---- RMSNorm: out = x / sqrt(mean(x^2) + eps) * w ---- */
/* rstd[T] saved for backward. */
void yt_k_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int T, int C,
                          float eps);
/* dx[T,C] += d(out)/dx . dout  (the norm weight is frozen: no dw). */
void yt_k_rmsnorm_backward(float *dx, const float *dout, const float *x, const float *w,
                           const float *rstd, int T, int C);

/* ---- rotary embedding, Hugging Face rotate-half convention ---- */
typedef struct yt_rope_scaling {
    int llama3;               /* 0: plain RoPE; 1: Llama 3.1 frequency scaling */
    float factor;             /* e.g. 8 */
    float low_freq_factor;    /* e.g. 1 */
    float high_freq_factor;   /* e.g. 4 */
    int original_max_pos;     /* e.g. 8192 */
} yt_rope_scaling;
/* inv_freq[hd/2] as transformers computes it (incl. llama3 scaling). */
void yt_k_rope_inv_freq(float *inv_freq, int hd, float theta, const yt_rope_scaling *sc);
/* cos/sin tables [max_pos, hd/2]: angle = pos * inv_freq[i]. */
void yt_k_rope_tables(float *cos_t, float *sin_t, const float *inv_freq, int max_pos, int hd);
/* In place on x[T, nh, hd]; pos[T] is each token's position (restarts per
 * document when documents are masked).  For i < hd/2, with c,s = table[pos][i]:
 * x[i] <- x[i]*c - x[i+hd/2]*s ;  x[i+hd/2] <- x[i+hd/2]*c + x[i]*s. */
void yt_k_rope_forward(float *x, const float *cos_t, const float *sin_t, const int32_t *pos, int T,
                       int nh, int hd);
/* In place: dx <- R^T dx (the inverse rotation). */
void yt_k_rope_backward(float *dx, const float *cos_t, const float *sin_t, const int32_t *pos, int T,
                        int nh, int hd);

/* ---- SwiGLU: h = silu(g) * u ---- */
void yt_k_swiglu_forward(float *h, const float *g, const float *u, size_t n);
/* dg, du overwritten. */
void yt_k_swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u,
                          size_t n);

/* ---- causal grouped-query attention ----
 * q[B*S, nh, hd], k,v[B*S, nkv, hd], out[B*S, nh, hd]; nh % nkv == 0; scale 1/sqrt(hd).
 * doc[B*S] (may be NULL): when given, token i attends to j only if j <= i and
 * doc[i] == doc[j] within the same sequence (document masking).
 * lse[B, nh, S] (log-sum-exp of each score row) is saved for backward, which
 * recomputes the probabilities instead of storing [S,S] per head. */
size_t yt_k_attention_workspace(int S, int threads); /* floats */
void yt_k_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                            const int32_t *doc, int B, int S, int nh, int nkv, int hd, float *ws);
/* dq, dk, dv overwritten. */
void yt_k_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                             const float *k, const float *v, const float *out, const float *lse,
                             const int32_t *doc, int B, int S, int nh, int nkv, int hd, float *ws);

/* ---- attention of new tokens against a key/value cache (generation) ----
 * q[T, nh, hd]; k, v: cache rows [rows, nkv, hd].  Token t attends to the
 * n_keys[t] (>= 1, <= max_keys) rows starting at row start[t] (its sequence's
 * cache up to its own position, which the caller wrote there first).
 * out[T, nh, hd] overwritten; scale 1/sqrt(hd); nh % nkv == 0. */
size_t yt_k_attention_cached_workspace(int max_keys, int threads); /* floats */
void yt_k_attention_cached(float *out, const float *q, const float *k, const float *v,
                           const int64_t *start, const int32_t *n_keys, int T, int nh, int nkv, int hd,
                           int max_keys, float *ws);

/* ---- lm_head fused with cross-entropy, in chunks of tokens ----
 * logits = h[T,C] W[V,C]^T are never held whole: each chunk of `chunk` tokens is
 * computed, turned into loss and gradient, and dropped.
 * weight[T]: each token's weight in the loss (0 = not counted; for a mean over
 * counted tokens pass 1/count).  target[T] in [0,V).
 * Returns sum_t weight[t] * (logsumexp(logits_t) - logits_t[target_t]) in double.
 * When dh is not NULL, dh[T,C] is OVERWRITTEN with d(loss)/dh (the lm_head is
 * frozen: no dW).  ws holds chunk*V floats. */
size_t yt_k_lmhead_xent_workspace(int chunk, int V); /* floats */
double yt_k_lmhead_xent(float *dh, const float *h, const float *W, const int32_t *target,
                        const float *weight, int T, int C, int V, int chunk, float *ws);

/* ---- dropout (inverted): deterministic mask from (seed, index), no state ----
 * keep element i iff yt_u01(yt_mix64(seed ^ i)) >= p; kept values scaled 1/(1-p). */
void yt_k_dropout_forward(float *out, const float *x, size_t n, float p, uint64_t seed);
/* dx += mask * dout / (1-p) */
void yt_k_dropout_backward(float *dx, const float *dout, size_t n, float p, uint64_t seed);

/* ---- elementwise and reductions ---- */
void yt_k_embed(float *out, const float *table, const int32_t *ids, int T, int C);
/* A 4-bit frozen weight to fp32 (kernels/cpu/dequant.c): dst[i] =
 * levels[code_i] * scale_b, b = i / 64, code_i the high nibble of codes[i / 2]
 * for even i and the low one for odd i, scale_b = map[qabsmax[b]] *
 * absmax2[b / 256] + offset (QLoRA's NF4 with double-quantised scales, the
 * parts of model/quant.h's layout; levels 16 floats, map 256). */
void yt_k_dequant_nf4(float *dst, const uint8_t *codes, const uint8_t *qabsmax, const float *absmax2,
                      float offset, const float *map, const float *levels, size_t n);
void yt_k_add_inplace(float *y, const float *x, size_t n);           /* y += x */
void yt_k_axpy(float *y, float a, const float *x, size_t n);          /* y += a*x */
void yt_k_scale(float *y, float a, size_t n);                         /* y *= a */
double yt_k_sumsq(const float *x, size_t n);                          /* sum x^2 in double */

/* ---- AdamW (decoupled weight decay, bias-corrected) ----
 * g is multiplied by grad_scale first (clipping and averaging folded in).
 * m = b1 m + (1-b1) g ; v = b2 v + (1-b2) g^2 ;
 * p -= lr * ( (m/bc1) / (sqrt(v/bc2) + eps) + wd * p ), bc1 = 1-b1^t, bc2 = 1-b2^t. */
void yt_k_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
                float eps, float wd, float bc1, float bc2, float grad_scale);

#endif
