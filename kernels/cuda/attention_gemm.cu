/* kernels/cuda/attention_gemm.cu: causal GQA attention with the products on
 * tensor cores through cuBLAS (TF32 inputs, fp32 accumulation), the [S,S]
 * scores of one sequence held whole in the workspace.
 *
 * Same arguments, masks and outputs as kernels/cpu/attention.c and
 * kernels/cuda/attention.cu: q[B*S, nh, hd], k,v[B*S, nkv, hd] row-major,
 * out[B*S, nh, hd], lse[B, nh, S] = log-sum-exp of the SCALED scores of each
 * row; head h reads kv head h / g, g = nh / nkv; scale 1/sqrt(hd); causal,
 * plus doc[B*S] (may be NULL): i sees j only if j <= i and doc[i] == doc[j].
 *
 * Per sequence b (one at a time, so the workspace is independent of B):
 *   forward   P = scale Q K^T (GEMM) ; softmax kernel: P = masked softmax(P),
 *             lse ; out = P V (GEMM)
 *   backward  P = scale Q K^T, dP = dO V^T (GEMMs) ; grad kernel: D = rowsum(dO o O),
 *             P = exp(P - lse) masked, dS = P o (dP - D) ;
 *             dV_j = sum_i P_i^T dO_i ; dK_j = scale sum_i dS_i^T Q_i ;
 *             dQ_i = scale dS_i K_j (GEMMs)
 * where i runs over the g query heads h = j*g + i of kv head j.  Masked entries
 * (j > i, other documents) are exactly 0 in P and dS, so the GEMMs may run over
 * all S keys; the upper triangle is wasted work (half of the flops and of the
 * tile traffic), the price of using plain cuBLAS.
 *
 * Batching.  cuBLAS strided-batched GEMMs take one stride per operand, so a
 * batch can walk the heads of one group (K stride 0) or one member of every
 * group (K stride hd, Q stride g*hd).  We always do the latter: g calls per
 * product, each batched over the nkv kv heads (head h = j*g + i, i fixed per
 * call).  For the group sums dK_j, dV_j the g calls then accumulate with
 * beta = 1 (beta = 0 for i = 0, which also overwrites dk, dv), in a fixed
 * order, with no partial buffers and no reduction kernel.  The alternative, one
 * call per kv head batched over the g heads of the group, cannot accumulate
 * inside a batch (all its members write the same dK_j), so it needs g partial
 * [S, hd] results per kv head and a reduction kernel: nkv calls + 1 launch per
 * product instead of g.  For Llama shapes g <= nkv (8B: g = 4, nkv = 8; 70B:
 * 8 and 8), so g calls is never more launches.  Launches per sequence:
 * forward 2g + 1, backward 5g + 1 (MHA: g = 1, every product is one call over
 * all heads).
 *
 * cuBLAS is column-major.  A row-major matrix X[r, c] with row stride L is, to
 * cuBLAS, the column-major X^T [c x r] with leading dimension L.  So, for one
 * head (Q_h = q_b + h*hd as row-major [S, hd] with ld nh*hd; K_j, V_j = k_b,
 * v_b + j*hd with ld nkv*hd; P_h = tile + h*S*S row-major [S_q, S_k], ld S):
 *   scores  row-major P = Q K^T  <=>  col-major P^T [S_k x S_q] = K [S_k x hd] Q^T [hd x S_q]:
 *           gemm(T, N, m=S, n=S, k=hd, A=K (stored K^T, lda nkv*hd), B=Q (ldb nh*hd), C=P (ldc S))
 *   dP = dO V^T: the same with A=V, B=dO.
 *   out = P V  <=>  out^T [hd x S_q] = V^T [hd x S_k] P^T [S_k x S_q]:
 *           gemm(N, N, m=hd, n=S, k=S, A=V (lda nkv*hd), B=P (ldb S), C=out (ldc nh*hd))
 *   dQ = dS K: the same with A=K, B=dS, C=dq.
 *   dV = P^T dO  <=>  dV^T [hd x S_k] = dO^T [hd x S_q] P [S_q x S_k]:
 *           gemm(N, T, m=hd, n=S, k=S, A=dO (lda nh*hd), B=P (stored P^T, ldb S), C=dv (ldc nkv*hd))
 *   dK = dS^T Q: the same with A=Q, B=dS, C=dk.
 * Batch strides (over kv head j, head h = j*g + i): Q, dO, out, dq: g*hd;
 * K, V, dk, dv: hd; P, dS: g*S*S.
 *
 * Precision: TF32 keeps 10 mantissa bits of each GEMM input (q, k, v, dout,
 * P, dS), accumulation is fp32; softmax, lse and D are fp32 with expf/logf.
 * Expect ~1e-3 relative differences from the fp32 CPU kernel, not 1e-5. */
#include "kernels/cuda/cuda_internal.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>

#define AG_T 256 /* threads per row block */

/* One block per (query row i, head h) of one sequence.  P[nh, S, S] holds the
 * scaled scores; the row becomes the masked softmax (exact zeros where masked,
 * including every j > i) and lse_b[h*S + i] = max + log(sum). */
__global__ static void __launch_bounds__(AG_T)
ag_softmax_kernel(float *P, float *lse_b, const int32_t *doc_b, int S)
{
    __shared__ float sh[32];
    const int i = blockIdx.x, h = blockIdx.y, tid = threadIdx.x;
    float *row = P + ((size_t)h * S + i) * S;
    const int32_t di = doc_b ? doc_b[i] : 0;
    float m = -INFINITY;
    for (int j = tid; j <= i; j += AG_T)
        if (!doc_b || doc_b[j] == di)
            m = fmaxf(m, row[j]);
    m = yt_kc_block_max<AG_T>(m, sh); /* finite: key j = i is always allowed */
    float s = 0.0f;
    for (int j = tid; j <= i; j += AG_T)
        if (!doc_b || doc_b[j] == di)
            s += expf(row[j] - m);
    s = yt_kc_block_sum<AG_T>(s, sh);
    const float inv = 1.0f / s;
    for (int j = tid; j < S; j += AG_T) /* each j read and written by the same thread */
        row[j] = j <= i && (!doc_b || doc_b[j] == di) ? expf(row[j] - m) * inv : 0.0f;
    if (tid == 0)
        lse_b[(size_t)h * S + i] = m + logf(s);
}

/* One block per (query row i, head h): P holds the scaled scores, dS holds
 * dP = dO V^T.  Makes D = dout.out for the row, then P = exp(s - lse) and
 * dS = P (dP - D), both exactly 0 where masked. */
__global__ static void __launch_bounds__(AG_T)
ag_grad_kernel(float *P, float *dS, const float *lse_b, const float *dout_b, const float *out_b,
               const int32_t *doc_b, int S, int nh, int hd)
{
    __shared__ float sh[32];
    const int i = blockIdx.x, h = blockIdx.y, tid = threadIdx.x;
    const size_t orow = ((size_t)i * nh + h) * hd;
    float Dp = 0.0f;
    for (int d = tid; d < hd; d += AG_T)
        Dp += dout_b[orow + d] * out_b[orow + d];
    const float D = yt_kc_block_sum<AG_T>(Dp, sh);
    const float L = lse_b[(size_t)h * S + i];
    const int32_t di = doc_b ? doc_b[i] : 0;
    const size_t r = ((size_t)h * S + i) * S;
    for (int j = tid; j < S; j += AG_T) {
        float p = 0.0f, ds = 0.0f;
        if (j <= i && (!doc_b || doc_b[j] == di)) {
            p = expf(P[r + j] - L);
            ds = p * (dS[r + j] - D);
        }
        P[r + j] = p;
        dS[r + j] = ds;
    }
}

static int ag_launch_softmax(yt_kc_ctx *c, float *P, float *lse_b, const int32_t *doc_b, int S,
                             int nh, const char *op, yt_err *e)
{
    ag_softmax_kernel<<<dim3((unsigned)S, (unsigned)nh), AG_T, 0, c->stream>>>(P, lse_b, doc_b, S);
    YT_LAUNCH_CHECK(e, op);
    return 0;
}

static int ag_launch_grad(yt_kc_ctx *c, float *P, float *dS, const float *lse_b,
                          const float *dout_b, const float *out_b, const int32_t *doc_b, int S,
                          int nh, int hd, const char *op, yt_err *e)
{
    ag_grad_kernel<<<dim3((unsigned)S, (unsigned)nh), AG_T, 0, c->stream>>>(P, dS, lse_b, dout_b,
                                                                             out_b, doc_b, S, nh, hd);
    YT_LAUNCH_CHECK(e, op);
    return 0;
}

/* One strided-batched fp32 GEMM on tensor cores (TF32 inputs, fp32 accumulate);
 * column-major, as cuBLAS; `what` names the product in an error message. */
static int ag_gemm(yt_kc_ctx *c, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                   float alpha, const float *A, int lda, long long sA, const float *B, int ldb,
                   long long sB, float beta, float *C, int ldc, long long sC, int batch,
                   const char *op, const char *what, yt_err *e)
{
    cublasStatus_t rc = cublasGemmStridedBatchedEx(
        c->blas, ta, tb, m, n, k, &alpha, A, CUDA_R_32F, lda, sA, B, CUDA_R_32F, ldb, sB, &beta, C,
        CUDA_R_32F, ldc, sC, batch, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT);
    if (rc != CUBLAS_STATUS_SUCCESS)
        return yt_errf(e, "%s: %s GEMM: cuBLAS: %s", op, what, cublasGetStatusString(rc));
    return 0;
}

/* ---- host side: shapes, workspace, the order of the work ---- */

static size_t ag_round(size_t bytes) { return (bytes + 255) & ~(size_t)255; }

/* One [nh, S, S] fp32 tile, rounded up to 256 bytes so the second starts aligned. */
static size_t ag_tile_bytes(int S, int nh) { return ag_round((size_t)nh * S * S * sizeof(float)); }

/* Forward uses the first tile only; backward both.  No partial sums (see the
 * top comment), so nkv and hd do not change the size. */
size_t yt_kc_attention_gemm_workspace(int S, int nh, int nkv, int hd)
{
    (void)nkv;
    (void)hd;
    if (S < 1 || nh < 1)
        return 0;
    return 2 * ag_tile_bytes(S, nh);
}

static int ag_check(int B, int S, int nh, int nkv, int hd, const void *ws, const char *op,
                    yt_err *e)
{
    /* S <= 46340 keeps S*S (an element count per head) and every m, n, k, ld
     * within int; grid.y = nh <= 65535; nh*hd is an ld, an int */
    if (B < 1 || S < 1 || nh < 1 || nkv < 1 || nh % nkv != 0 || hd < 1 || S > 46340 || nh > 65535
        || (long long)nh * hd > INT_MAX)
        return yt_errf(e,
                       "%s: unsupported shape B=%d S=%d nh=%d nkv=%d hd=%d (nh a multiple of nkv, "
                       "S <= 46340)",
                       op, B, S, nh, nkv, hd);
    if (!ws || (uintptr_t)ws % sizeof(float) != 0)
        return yt_errf(e,
                       "%s: workspace %p missing or misaligned (needs %zu bytes, "
                       "yt_kc_attention_gemm_workspace(S=%d, nh=%d), float-aligned)",
                       op, ws, yt_kc_attention_gemm_workspace(S, nh, nkv, hd), S, nh);
    return 0;
}

int yt_kc_attention_gemm_forward(yt_kc_ctx *c, float *out, float *lse, const float *q,
                                 const float *k, const float *v, const int32_t *doc, int B, int S,
                                 int nh, int nkv, int hd, void *ws, yt_err *e)
{
    const char *op = "yt_kc_attention_gemm_forward";
    if (ag_check(B, S, nh, nkv, hd, ws, op, e) != 0)
        return -1;
    const int g = nh / nkv, ldq = nh * hd, ldk = nkv * hd;
    const long long SS = (long long)S * S;
    const float scale = 1.0f / sqrtf((float)hd);
    float *P = (float *)ws;
    for (int b = 0; b < B; b++) {
        const size_t t0 = (size_t)b * S; /* first token of the sequence */
        const float *qb = q + t0 * ldq, *kb = k + t0 * ldk, *vb = v + t0 * ldk;
        float *ob = out + t0 * ldq, *lse_b = lse + (size_t)b * nh * S;
        const int32_t *doc_b = doc ? doc + t0 : NULL;
        for (int i = 0; i < g; i++) /* P_h = scale Q_h K_j^T, h = j*g + i, batch over j */
            if (ag_gemm(c, CUBLAS_OP_T, CUBLAS_OP_N, S, S, hd, scale, kb, ldk, hd, qb + i * hd, ldq,
                        (long long)g * hd, 0.0f, P + i * SS, S, g * SS, nkv, op, "scores", e)
                != 0)
                return -1;
        if (ag_launch_softmax(c, P, lse_b, doc_b, S, nh, op, e) != 0)
            return -1;
        for (int i = 0; i < g; i++) /* out_h = P_h V_j */
            if (ag_gemm(c, CUBLAS_OP_N, CUBLAS_OP_N, hd, S, S, 1.0f, vb, ldk, hd, P + i * SS, S,
                        g * SS, 0.0f, ob + i * hd, ldq, (long long)g * hd, nkv, op, "P V", e)
                != 0)
                return -1;
    }
    return 0;
}

int yt_kc_attention_gemm_backward(yt_kc_ctx *c, float *dq, float *dk, float *dv, const float *dout,
                                  const float *q, const float *k, const float *v, const float *out,
                                  const float *lse, const int32_t *doc, int B, int S, int nh,
                                  int nkv, int hd, void *ws, yt_err *e)
{
    const char *op = "yt_kc_attention_gemm_backward";
    if (ag_check(B, S, nh, nkv, hd, ws, op, e) != 0)
        return -1;
    const int g = nh / nkv, ldq = nh * hd, ldk = nkv * hd;
    const long long SS = (long long)S * S;
    const float scale = 1.0f / sqrtf((float)hd);
    float *P = (float *)ws;
    float *dS = (float *)((char *)ws + ag_tile_bytes(S, nh));
    for (int b = 0; b < B; b++) {
        const size_t t0 = (size_t)b * S;
        const float *qb = q + t0 * ldq, *kb = k + t0 * ldk, *vb = v + t0 * ldk;
        const float *dob = dout + t0 * ldq, *ob = out + t0 * ldq;
        float *dqb = dq + t0 * ldq, *dkb = dk + t0 * ldk, *dvb = dv + t0 * ldk;
        const float *lse_b = lse + (size_t)b * nh * S;
        const int32_t *doc_b = doc ? doc + t0 : NULL;
        for (int i = 0; i < g; i++) { /* P_h = scale Q_h K_j^T ; dP_h = dO_h V_j^T (into dS) */
            if (ag_gemm(c, CUBLAS_OP_T, CUBLAS_OP_N, S, S, hd, scale, kb, ldk, hd, qb + i * hd, ldq,
                        (long long)g * hd, 0.0f, P + i * SS, S, g * SS, nkv, op, "scores", e)
                != 0)
                return -1;
            if (ag_gemm(c, CUBLAS_OP_T, CUBLAS_OP_N, S, S, hd, 1.0f, vb, ldk, hd, dob + i * hd, ldq,
                        (long long)g * hd, 0.0f, dS + i * SS, S, g * SS, nkv, op, "dO V^T", e)
                != 0)
                return -1;
        }
        if (ag_launch_grad(c, P, dS, lse_b, dob, ob, doc_b, S, nh, hd, op, e) != 0)
            return -1;
        for (int i = 0; i < g; i++) {
            const float beta = i == 0 ? 0.0f : 1.0f; /* the group sums, in order of i */
            /* dV_j (+)= P_h^T dO_h */
            if (ag_gemm(c, CUBLAS_OP_N, CUBLAS_OP_T, hd, S, S, 1.0f, dob + i * hd, ldq,
                        (long long)g * hd, P + i * SS, S, g * SS, beta, dvb, ldk, hd, nkv, op,
                        "P^T dO", e)
                != 0)
                return -1;
            /* dK_j (+)= scale dS_h^T Q_h */
            if (ag_gemm(c, CUBLAS_OP_N, CUBLAS_OP_T, hd, S, S, scale, qb + i * hd, ldq,
                        (long long)g * hd, dS + i * SS, S, g * SS, beta, dkb, ldk, hd, nkv, op,
                        "dS^T Q", e)
                != 0)
                return -1;
            /* dQ_h = scale dS_h K_j */
            if (ag_gemm(c, CUBLAS_OP_N, CUBLAS_OP_N, hd, S, S, scale, kb, ldk, hd, dS + i * SS, S,
                        g * SS, 0.0f, dqb + i * hd, ldq, (long long)g * hd, nkv, op, "dS K", e)
                != 0)
                return -1;
        }
    }
    return 0;
}
