/* tests/emu/emu_matmul.c: the matrix products of kernels_cuda.h and the
 * lm_head fused with cross-entropy, on the CPU kernels.  Where the GPU rounds
 * (the fp32 activation entering a bf16 product, the lm_head's dlogits) the
 * emulator rounds the same values to bf16 (round to nearest even), unless
 * rounding is off (emu_set_bf16(0)): then every product is the CPU kernel's
 * on the same fp32 numbers.  Accumulation order, TF32 and cuBLAS's algorithms
 * are not modelled. */
#include "tests/emu/emu.h"

#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

enum { S_X = 0, S_W = 1, S_ROWS = 2 }; /* scratch slots */

static int shape(const char *op, int a, int b, int c, yt_err *e)
{
    if (a < 0 || b < 0 || c < 0)
        return yt_errf(e, "%s: bad shape %d x %d x %d", op, a, b, c);
    return 0;
}

/* fp32 copy of W16[n] (bf16 widens exactly). */
static float *widen(yt_kc_ctx *c, const uint16_t *W16, size_t n, yt_err *e)
{
    float *w = emu_scratch(c, S_W, n, e);
    if (w)
        for (size_t i = 0; i < n; i++)
            w[i] = yt_kc_f32_from_bf16(W16[i]);
    return w;
}

/* The activation as the bf16 product sees it. */
static float *activation(yt_kc_ctx *c, const float *x, size_t n, yt_err *e)
{
    float *xs = emu_scratch(c, S_X, n, e);
    if (!xs)
        return NULL;
    if (emu_bf16())
        for (size_t i = 0; i < n; i++)
            xs[i] = emu_round_bf16(x[i]);
    else
        memcpy(xs, x, n * sizeof *xs);
    return xs;
}

static int ws_fits(yt_kc_ctx *c, size_t n, const char *op, yt_err *e)
{
    if (n * sizeof(uint16_t) > emu_ctx_ws_bytes(c))
        return yt_errf(e, "%s: workspace of %zu bytes too small for %zu bf16 values", op,
                       emu_ctx_ws_bytes(c), n);
    return 0;
}

int yt_kc_matmul_xwT_bf16(yt_kc_ctx *c, float *y, const float *x, const uint16_t *W16, int T, int in,
                          int out, float beta, yt_err *e)
{
    const char *op = "yt_kc_matmul_xwT_bf16";
    if (shape(op, T, in, out, e) || ws_fits(c, (size_t)T * in, op, e))
        return -1;
    if (!T || !in || !out)
        return 0;
    emu_call k;
    emu_begin(&k, op);
    emu_arg_add(&k, "y", y, (size_t)T * out, sizeof(float), beta != 0.0f ? EMU_RW : EMU_W);
    emu_arg_add(&k, "x", x, (size_t)T * in, sizeof(float), EMU_R);
    emu_arg_add(&k, "W16", W16, (size_t)out * in, sizeof(uint16_t), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    float *xs = activation(c, x, (size_t)T * in, e), *w = xs ? widen(c, W16, (size_t)out * in, e) : NULL;
    if (w)
        yt_k_matmul_xwT(y, xs, w, T, in, out, beta);
    emu_leave(&k);
    return w ? 0 : -1;
}

int yt_kc_matmul_dyW_bf16(yt_kc_ctx *c, float *dx, const float *dy, const uint16_t *W16, int T,
                          int in, int out, float beta, yt_err *e)
{
    const char *op = "yt_kc_matmul_dyW_bf16";
    if (shape(op, T, in, out, e) || ws_fits(c, (size_t)T * out, op, e))
        return -1;
    if (!T || !in || !out)
        return 0;
    emu_call k;
    emu_begin(&k, op);
    emu_arg_add(&k, "dx", dx, (size_t)T * in, sizeof(float), beta != 0.0f ? EMU_RW : EMU_W);
    emu_arg_add(&k, "dy", dy, (size_t)T * out, sizeof(float), EMU_R);
    emu_arg_add(&k, "W16", W16, (size_t)out * in, sizeof(uint16_t), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    float *ys = activation(c, dy, (size_t)T * out, e), *w = ys ? widen(c, W16, (size_t)out * in, e) : NULL;
    if (w)
        yt_k_matmul_dyW(dx, ys, w, T, in, out, beta);
    emu_leave(&k);
    return w ? 0 : -1;
}

int yt_kc_matmul_xwT(yt_kc_ctx *c, float *y, const float *x, const float *W, int T, int in, int out,
                     float beta, yt_err *e)
{
    (void)c;
    const char *op = "yt_kc_matmul_xwT";
    if (shape(op, T, in, out, e))
        return -1;
    if (!T || !in || !out)
        return 0;
    emu_call k;
    emu_begin(&k, op);
    emu_arg_add(&k, "y", y, (size_t)T * out, sizeof(float), beta != 0.0f ? EMU_RW : EMU_W);
    emu_arg_add(&k, "x", x, (size_t)T * in, sizeof(float), EMU_R);
    emu_arg_add(&k, "W", W, (size_t)out * in, sizeof(float), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    yt_k_matmul_xwT(y, x, W, T, in, out, beta);
    emu_leave(&k);
    return 0;
}

int yt_kc_matmul_dyW(yt_kc_ctx *c, float *dx, const float *dy, const float *W, int T, int in,
                     int out, float beta, yt_err *e)
{
    (void)c;
    const char *op = "yt_kc_matmul_dyW";
    if (shape(op, T, in, out, e))
        return -1;
    if (!T || !in || !out)
        return 0;
    emu_call k;
    emu_begin(&k, op);
    emu_arg_add(&k, "dx", dx, (size_t)T * in, sizeof(float), beta != 0.0f ? EMU_RW : EMU_W);
    emu_arg_add(&k, "dy", dy, (size_t)T * out, sizeof(float), EMU_R);
    emu_arg_add(&k, "W", W, (size_t)out * in, sizeof(float), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    yt_k_matmul_dyW(dx, dy, W, T, in, out, beta);
    emu_leave(&k);
    return 0;
}

int yt_kc_matmul_dW(yt_kc_ctx *c, float *dW, const float *dy, const float *x, int T, int in, int out,
                    float alpha, float beta, yt_err *e)
{
    (void)c;
    const char *op = "yt_kc_matmul_dW";
    if (shape(op, T, in, out, e))
        return -1;
    if (!in || !out)
        return 0;
    emu_call k;
    emu_begin(&k, op);
    emu_arg_add(&k, "dW", dW, (size_t)out * in, sizeof(float), beta != 0.0f ? EMU_RW : EMU_W);
    emu_arg_add(&k, "dy", dy, (size_t)T * out, sizeof(float), EMU_R);
    emu_arg_add(&k, "x", x, (size_t)T * in, sizeof(float), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    if (T)
        yt_k_matmul_dW(dW, dy, x, T, in, out, alpha, beta);
    else
        yt_k_scale(dW, beta, (size_t)out * in);
    emu_leave(&k);
    return 0;
}

/* ---- lm_head + cross-entropy ---- */

/* As kernels/cuda/xent.cu sizes it: bf16 h, fp32 logits, bf16 dlogits, [T] doubles. */
static size_t al(size_t b) { return (b + 255) & ~(size_t)255; }

size_t yt_kc_lmhead_xent_workspace(int T, int C, int V, int chunk)
{
    if (chunk > T)
        chunk = T;
    if (chunk < 1)
        chunk = 1;
    size_t n = (size_t)chunk;
    return al(n * C * 2) + al(n * V * 4) + al(n * V * 2) + al((size_t)T * 8);
}

int yt_kc_lmhead_xent_chunk(int T, int V)
{
    int chunk = V > 0 ? (int)((64u << 20) / (unsigned)V) & ~63 : 64;
    if (chunk < 64)
        chunk = 64;
    return chunk > T ? T : chunk;
}

/* One row as xent.cu's kernel computes it (fp32 max and sum of exp, the lse in
 * double); the row becomes its bf16-rounded gradient when grad. */
static double xent_row(float *row, int V, int tg, float w, int grad)
{
    float m = -INFINITY;
    for (int j = 0; j < V; j++)
        m = fmaxf(m, row[j]);
    float s = 0.0f;
    for (int j = 0; j < V; j++)
        s += expf(row[j] - m);
    double lt = (double)row[tg];
    if (grad) {
        float cc = w / s;
        for (int j = 0; j < V; j++)
            row[j] = emu_round_bf16(expf(row[j] - m) * cc - (j == tg ? w : 0.0f));
    }
    return (double)w * ((double)m + log((double)s) - lt);
}

int yt_kc_lmhead_xent(yt_kc_ctx *c, double *loss_dev, float *dh, const float *h,
                      const uint16_t *W16, const int32_t *target, const float *weight, int T, int C,
                      int V, int chunk, void *ws, yt_err *e)
{
    const char *op = "yt_kc_lmhead_xent";
    if (T < 1 || C < 1 || V < 1)
        return yt_errf(e, "%s: bad shape T=%d C=%d V=%d", op, T, C, V);
    if (chunk > T)
        chunk = T;
    if (chunk < 1)
        chunk = 1;
    emu_call k;
    emu_begin(&k, op);
    emu_arg_add(&k, "loss_dev", loss_dev, 1, sizeof(double), EMU_W);
    if (dh)
        emu_arg_add(&k, "dh", dh, (size_t)T * C, sizeof(float), EMU_W);
    emu_arg_add(&k, "h", h, (size_t)T * C, sizeof(float), EMU_R);
    emu_arg_add(&k, "W16", W16, (size_t)V * C, sizeof(uint16_t), EMU_R);
    emu_arg_add(&k, "target", target, (size_t)T, sizeof(int32_t), EMU_R);
    emu_arg_add(&k, "weight", weight, (size_t)T, sizeof(float), EMU_R);
    emu_arg_add(&k, "ws", ws, yt_kc_lmhead_xent_workspace(T, C, V, chunk), 1, EMU_W);
    emu_arg_align(&k, 256); /* "aligned as cudaMalloc returns" */
    if (emu_enter(&k, e))
        return -1;
    int rc = 0;
    for (int t = 0; t < T && rc == 0; t++)
        if (weight[t] != 0.0f && (target[t] < 0 || target[t] >= V))
            rc = yt_errf(e, "%s: target[%d] = %d is outside [0, %d) (weight %g)", op, t, target[t], V,
                         (double)weight[t]);
    float *w = rc ? NULL : widen(c, W16, (size_t)V * C, e);
    float *hs = w ? emu_scratch(c, S_X, (size_t)chunk * C, e) : NULL;
    float *rows = hs ? emu_scratch(c, S_ROWS, (size_t)chunk * V, e) : NULL;
    if (!rows)
        rc = -1;
    double loss = 0.0;
    for (int t0 = 0; rc == 0 && t0 < T; t0 += chunk) {
        int n = T - t0 < chunk ? T - t0 : chunk;
        if (!emu_bf16()) { /* the CPU kernel itself, on the same chunks */
            loss += yt_k_lmhead_xent(dh ? dh + (size_t)t0 * C : NULL, h + (size_t)t0 * C, w,
                                     target + t0, weight + t0, n, C, V, n, rows);
            continue;
        }
        for (size_t i = 0; i < (size_t)n * C; i++)
            hs[i] = emu_round_bf16(h[(size_t)t0 * C + i]);
        yt_k_matmul_xwT(rows, hs, w, n, C, V, 0.0f);
        for (int i = 0; i < n; i++) {
            float *row = rows + (size_t)i * V;
            float wt = weight[t0 + i];
            if (wt == 0.0f) {
                memset(row, 0, (size_t)V * sizeof *row);
                continue;
            }
            loss += xent_row(row, V, target[t0 + i], wt, dh != NULL);
        }
        if (dh)
            yt_k_matmul_dyW(dh + (size_t)t0 * C, rows, w, n, C, V, 0.0f);
    }
    if (rc == 0)
        *loss_dev = loss;
    emu_poison(ws, yt_kc_lmhead_xent_workspace(T, C, V, chunk));
    emu_leave(&k);
    return rc;
}
