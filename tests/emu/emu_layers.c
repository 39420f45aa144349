/* tests/emu/emu_layers.c: RMSNorm, RoPE, SwiGLU, both attention kernels and
 * AdamW of kernels_cuda.h on the CPU kernels.  Both attention kernels are the
 * CPU's fp32 attention (the GPU's gemm kernel uses TF32: not modelled); their
 * device workspaces are checked for size and poisoned after each call, since
 * nothing may count on what a kernel left there. */
#include "tests/emu/emu.h"

#include "kernels/kernels.h"

enum { S_ATT = 3 }; /* scratch slot */

int yt_kc_rmsnorm_forward(yt_kc_ctx *c, float *out, float *rstd, const float *x, const float *w,
                          int T, int C, float eps, yt_err *e)
{
    (void)c;
    if (T <= 0)
        return 0;
    emu_call k;
    emu_begin(&k, "yt_kc_rmsnorm_forward");
    emu_arg_add(&k, "out", out, (size_t)T * C, sizeof(float), EMU_W);
    emu_arg_add(&k, "rstd", rstd, (size_t)T, sizeof(float), EMU_W);
    emu_arg_add(&k, "x", x, (size_t)T * C, sizeof(float), EMU_R);
    emu_arg_add(&k, "w", w, (size_t)C, sizeof(float), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    yt_k_rmsnorm_forward(out, rstd, x, w, T, C, eps);
    emu_leave(&k);
    return 0;
}

int yt_kc_rmsnorm_backward(yt_kc_ctx *c, float *dx, const float *dout, const float *x,
                           const float *w, const float *rstd, int T, int C, yt_err *e)
{
    (void)c;
    if (T <= 0)
        return 0;
    emu_call k;
    emu_begin(&k, "yt_kc_rmsnorm_backward");
    emu_arg_add(&k, "dx", dx, (size_t)T * C, sizeof(float), EMU_RW);
    emu_arg_add(&k, "dout", dout, (size_t)T * C, sizeof(float), EMU_R);
    emu_arg_add(&k, "x", x, (size_t)T * C, sizeof(float), EMU_R);
    emu_arg_add(&k, "w", w, (size_t)C, sizeof(float), EMU_R);
    emu_arg_add(&k, "rstd", rstd, (size_t)T, sizeof(float), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    yt_k_rmsnorm_backward(dx, dout, x, w, rstd, T, C);
    emu_leave(&k);
    return 0;
}

/* The tables must hold every position used: rows up to max(pos). */
static int rope(float *x, const float *cos_t, const float *sin_t, const int32_t *pos, int T, int nh,
                int hd, int fwd, const char *op, yt_err *e)
{
    if (T <= 0 || nh <= 0 || hd <= 0)
        return 0;
    if (hd % 2)
        return yt_errf(e, "%s: odd head_dim %d", op, hd);
    size_t half = (size_t)hd / 2;
    emu_call k;
    emu_begin(&k, op);
    emu_arg_add(&k, "x", x, (size_t)T * nh * hd, sizeof(float), EMU_RW);
    emu_arg_add(&k, "cos_t [max(pos)+1, hd/2]", cos_t, half, sizeof(float), EMU_R);
    emu_arg_add(&k, "sin_t [max(pos)+1, hd/2]", sin_t, half, sizeof(float), EMU_R);
    emu_arg_add(&k, "pos", pos, (size_t)T, sizeof(int32_t), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    int32_t maxp = 0;
    int rc = 0;
    for (int t = 0; t < T && rc == 0; t++) {
        if (pos[t] < 0)
            rc = yt_errf(e, "%s: pos[%d] = %d is negative", op, t, pos[t]);
        maxp = pos[t] > maxp ? pos[t] : maxp;
    }
    size_t rows = ((size_t)maxp + 1) * half;
    if (rc == 0 && (emu_extend(&k, 1, rows * sizeof(float), e) ||
                    emu_extend(&k, 2, rows * sizeof(float), e)))
        rc = -1;
    if (rc == 0) {
        if (fwd)
            yt_k_rope_forward(x, cos_t, sin_t, pos, T, nh, hd);
        else
            yt_k_rope_backward(x, cos_t, sin_t, pos, T, nh, hd);
    }
    emu_leave(&k);
    return rc;
}

int yt_kc_rope_forward(yt_kc_ctx *c, float *x, const float *cos_t, const float *sin_t,
                       const int32_t *pos, int T, int nh, int hd, yt_err *e)
{
    (void)c;
    return rope(x, cos_t, sin_t, pos, T, nh, hd, 1, "yt_kc_rope_forward", e);
}

int yt_kc_rope_backward(yt_kc_ctx *c, float *dx, const float *cos_t, const float *sin_t,
                        const int32_t *pos, int T, int nh, int hd, yt_err *e)
{
    (void)c;
    return rope(dx, cos_t, sin_t, pos, T, nh, hd, 0, "yt_kc_rope_backward", e);
}

int yt_kc_swiglu_forward(yt_kc_ctx *c, float *h, const float *g, const float *u, size_t n,
                         yt_err *e)
{
    (void)c;
    if (n == 0)
        return 0;
    emu_call k;
    emu_begin(&k, "yt_kc_swiglu_forward");
    emu_arg_add(&k, "h", h, n, sizeof(float), EMU_W);
    emu_arg_add(&k, "g", g, n, sizeof(float), EMU_R);
    emu_arg_add(&k, "u", u, n, sizeof(float), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    yt_k_swiglu_forward(h, g, u, n);
    emu_leave(&k);
    return 0;
}

int yt_kc_swiglu_backward(yt_kc_ctx *c, float *dg, float *du, const float *dh, const float *g,
                          const float *u, size_t n, yt_err *e)
{
    (void)c;
    if (n == 0)
        return 0;
    emu_call k;
    emu_begin(&k, "yt_kc_swiglu_backward");
    emu_arg_add(&k, "dg", dg, n, sizeof(float), EMU_W);
    emu_arg_add(&k, "du", du, n, sizeof(float), EMU_W);
    emu_arg_add(&k, "dh", dh, n, sizeof(float), EMU_R);
    emu_arg_add(&k, "g", g, n, sizeof(float), EMU_R);
    emu_arg_add(&k, "u", u, n, sizeof(float), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    yt_k_swiglu_backward(dg, du, dh, g, u, n);
    emu_leave(&k);
    return 0;
}

/* ---- attention ---- */

size_t yt_kc_attention_workspace(int B, int S, int nh) { return (size_t)B * nh * S; }

/* As kernels/cuda/attention_gemm.cu sizes it: two [nh, S, S] fp32 tiles. */
size_t yt_kc_attention_gemm_workspace(int S, int nh, int nkv, int hd)
{
    (void)nkv;
    (void)hd;
    if (S < 1 || nh < 1)
        return 0;
    size_t tile = ((size_t)nh * S * S * sizeof(float) + 255) & ~(size_t)255;
    return 2 * tile;
}

/* The shape limits of the two CUDA kernels (attention.cu, attention_gemm.cu). */
static int att_shape(int B, int S, int nh, int nkv, int hd, int gemm, const char *op, yt_err *e)
{
    if (gemm) {
        if (B < 1 || S < 1 || nh < 1 || nkv < 1 || nh % nkv != 0 || hd < 1 || S > 46340 || nh > 65535
            || (long long)nh * hd > 2147483647LL)
            return yt_errf(e, "%s: unsupported shape B=%d S=%d nh=%d nkv=%d hd=%d (nh a multiple of "
                              "nkv, S <= 46340)", op, B, S, nh, nkv, hd);
    } else if (B < 1 || S < 1 || nh < 1 || nkv < 1 || nh % nkv != 0 || hd < 2 || hd % 2 || hd > 256
               || S > 65535 || nh > 65535 || B > 65535) {
        return yt_errf(e, "%s: unsupported shape B=%d S=%d nh=%d nkv=%d hd=%d (hd even, <= 256)", op,
                       B, S, nh, nkv, hd);
    }
    return 0;
}

static int att_fwd(yt_kc_ctx *c, float *out, float *lse, const float *q, const float *k,
                   const float *v, const int32_t *doc, int B, int S, int nh, int nkv, int hd,
                   void *ws, int gemm, const char *op, yt_err *e)
{
    if (att_shape(B, S, nh, nkv, hd, gemm, op, e))
        return -1;
    size_t T = (size_t)B * S;
    emu_call kc;
    emu_begin(&kc, op);
    emu_arg_add(&kc, "out", out, T * nh * hd, sizeof(float), EMU_W);
    emu_arg_add(&kc, "lse", lse, (size_t)B * nh * S, sizeof(float), EMU_W);
    emu_arg_add(&kc, "q", q, T * nh * hd, sizeof(float), EMU_R);
    emu_arg_add(&kc, "k", k, T * nkv * hd, sizeof(float), EMU_R);
    emu_arg_add(&kc, "v", v, T * nkv * hd, sizeof(float), EMU_R);
    if (doc)
        emu_arg_add(&kc, "doc", doc, T, sizeof(int32_t), EMU_R);
    size_t wsb = gemm ? yt_kc_attention_gemm_workspace(S, nh, nkv, hd) : 0;
    if (gemm) {
        emu_arg_add(&kc, "ws", ws, wsb, 1, EMU_W);
        emu_arg_align(&kc, sizeof(float));
    }
    if (emu_enter(&kc, e))
        return -1;
    float *cws = emu_scratch(c, S_ATT, yt_k_attention_workspace(S, yt_k_get_threads()), e);
    if (cws)
        yt_k_attention_forward(out, lse, q, k, v, doc, B, S, nh, nkv, hd, cws);
    if (gemm)
        emu_poison(ws, wsb);
    emu_leave(&kc);
    return cws ? 0 : -1;
}

static int att_bwd(yt_kc_ctx *c, float *dq, float *dk, float *dv, const float *dout, const float *q,
                   const float *k, const float *v, const float *out, const float *lse,
                   const int32_t *doc, int B, int S, int nh, int nkv, int hd, void *ws, int gemm,
                   const char *op, yt_err *e)
{
    if (att_shape(B, S, nh, nkv, hd, gemm, op, e))
        return -1;
    size_t T = (size_t)B * S;
    emu_call kc;
    emu_begin(&kc, op);
    emu_arg_add(&kc, "dq", dq, T * nh * hd, sizeof(float), EMU_W);
    emu_arg_add(&kc, "dk", dk, T * nkv * hd, sizeof(float), EMU_W);
    emu_arg_add(&kc, "dv", dv, T * nkv * hd, sizeof(float), EMU_W);
    emu_arg_add(&kc, "dout", dout, T * nh * hd, sizeof(float), EMU_R);
    emu_arg_add(&kc, "q", q, T * nh * hd, sizeof(float), EMU_R);
    emu_arg_add(&kc, "k", k, T * nkv * hd, sizeof(float), EMU_R);
    emu_arg_add(&kc, "v", v, T * nkv * hd, sizeof(float), EMU_R);
    emu_arg_add(&kc, "out", out, T * nh * hd, sizeof(float), EMU_R);
    emu_arg_add(&kc, "lse", lse, (size_t)B * nh * S, sizeof(float), EMU_R);
    if (doc)
        emu_arg_add(&kc, "doc", doc, T, sizeof(int32_t), EMU_R);
    size_t wsb = gemm ? yt_kc_attention_gemm_workspace(S, nh, nkv, hd)
                      : yt_kc_attention_workspace(B, S, nh) * sizeof(float);
    emu_arg_add(&kc, "ws", ws, wsb, 1, EMU_W);
    emu_arg_align(&kc, sizeof(float));
    if (emu_enter(&kc, e))
        return -1;
    float *cws = emu_scratch(c, S_ATT, yt_k_attention_workspace(S, yt_k_get_threads()), e);
    if (cws)
        yt_k_attention_backward(dq, dk, dv, dout, q, k, v, out, lse, doc, B, S, nh, nkv, hd, cws);
    emu_poison(ws, wsb);
    emu_leave(&kc);
    return cws ? 0 : -1;
}

int yt_kc_attention_forward(yt_kc_ctx *c, float *out, float *lse, const float *q, const float *k,
                            const float *v, const int32_t *doc, int B, int S, int nh, int nkv,
                            int hd, yt_err *e)
{
    return att_fwd(c, out, lse, q, k, v, doc, B, S, nh, nkv, hd, NULL, 0, "yt_kc_attention_forward", e);
}

int yt_kc_attention_backward(yt_kc_ctx *c, float *dq, float *dk, float *dv, const float *dout,
                             const float *q, const float *k, const float *v, const float *out,
                             const float *lse, const int32_t *doc, int B, int S, int nh, int nkv,
                             int hd, float *ws, yt_err *e)
{
    return att_bwd(c, dq, dk, dv, dout, q, k, v, out, lse, doc, B, S, nh, nkv, hd, ws, 0,
                   "yt_kc_attention_backward", e);
}

int yt_kc_attention_gemm_forward(yt_kc_ctx *c, float *out, float *lse, const float *q,
                                 const float *k, const float *v, const int32_t *doc, int B, int S,
                                 int nh, int nkv, int hd, void *ws, yt_err *e)
{
    return att_fwd(c, out, lse, q, k, v, doc, B, S, nh, nkv, hd, ws, 1,
                   "yt_kc_attention_gemm_forward", e);
}

int yt_kc_attention_gemm_backward(yt_kc_ctx *c, float *dq, float *dk, float *dv, const float *dout,
                                  const float *q, const float *k, const float *v, const float *out,
                                  const float *lse, const int32_t *doc, int B, int S, int nh,
                                  int nkv, int hd, void *ws, yt_err *e)
{
    return att_bwd(c, dq, dk, dv, dout, q, k, v, out, lse, doc, B, S, nh, nkv, hd, ws, 1,
                   "yt_kc_attention_gemm_backward", e);
}

int yt_kc_adamw(yt_kc_ctx *c, float *p, const float *g, float *m, float *v, size_t n, float lr,
                float b1, float b2, float eps, float wd, float bc1, float bc2, float grad_scale,
                yt_err *e)
{
    (void)c;
    if (n == 0)
        return 0;
    emu_call k;
    emu_begin(&k, "yt_kc_adamw");
    emu_arg_add(&k, "p", p, n, sizeof(float), EMU_RW);
    emu_arg_add(&k, "g", g, n, sizeof(float), EMU_R);
    emu_arg_add(&k, "m", m, n, sizeof(float), EMU_RW);
    emu_arg_add(&k, "v", v, n, sizeof(float), EMU_RW);
    if (emu_enter(&k, e))
        return -1;
    yt_k_adamw(p, g, m, v, n, lr, b1, b2, eps, wd, bc1, bc2, grad_scale);
    emu_leave(&k);
    return 0;
}
