/* tests/unit/test_kernels_cuda.c: every CUDA kernel (kernels/cuda) against the
 * CPU kernel (kernels/cpu) on fresh random inputs, forward and backward.
 *
 * Without a CUDA device (cudaGetDeviceCount fails or finds none) it says why and
 * exits 77 (skip).  Plain C rather than Check: Check forks each test, and a CUDA
 * context does not survive a fork.  Outputs that are overwritten are poisoned
 * with NaN first, so an unwritten element fails.  Errors are norm-wise relative,
 * max|gpu - cpu| / max|cpu|, printed for the record.  Tolerances:
 *  - fp32 ops (RMSNorm, RoPE, SwiGLU, AdamW, fp32 GEMMs, attention): 1e-4
 *    (summation order, expf vs the CPU's polynomial exp; no TF32);
 *  - bf16-weight GEMMs against the CPU sgemm of the same bf16-rounded operands:
 *    1e-4 (only the accumulation order differs), and against the unrounded
 *    fp32 product: 2e-2 (bf16 has an 8-bit mantissa);
 *  - lm_head cross-entropy: loss vs CPU on bf16-rounded h and W: 1e-4; dh (the
 *    GPU rounds dlogits to bf16 for the second GEMM): 2e-2;
 *  - attention through cuBLAS in TF32 (attention_gemm.cu) vs the fp32 CPU:
 *    5e-3.  TF32 keeps 10 of fp32's 23 mantissa bits of every GEMM input (q, k,
 *    v, dout, P, dS): unit roundoff 2^-11 ~ 4.9e-4 when rounded to nearest and
 *    up to 2^-10 when the tensor cores just drop the low bits (Hopper may do
 *    either).  A host emulation of this exact sequence of GEMMs on these shapes
 *    gave at most 5e-4 (rounding) and 1.7e-3 (truncation, dk the worst, out
 *    ~1e-3, lse 2.5e-4); 5e-3 leaves ~3x on the worst case while a wrong
 *    mask, scale, layout or group sum shows up as 1e-2 to 1;
 *  - memset, copy, add, scale, embed, fills, dropout: exact (the same float
 *    operations on the same values; dropout keeps exactly the CPU's elements);
 *    sumsq (double, another summation order): 1e-12, and bit-equal run to run;
 *  - NF4 to bf16 (dequant.cu): exact, the CPU decode (model/quant.c) rounded to bf16. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "kernels/cuda/kernels_cuda.h"
#include "kernels/kernels.h"
#include "model/quant.h"

#define TOL_F32 1e-4
#define TOL_BF16_SAME 1e-4
#define TOL_BF16 2e-2
#define TOL_TF32 5e-3

static yt_kc_ctx *ctx;
static yt_err err;
static int failures;
static uint64_t seed = 0x9e3779b97f4a7c15ull;

#define DEV(call)                                                                                  \
    do {                                                                                           \
        if ((call) != 0) {                                                                         \
            fprintf(stderr, "test_kernels_cuda: %s:%d: %s\n", __FILE__, __LINE__, err.msg);       \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static double rnd(void) /* uniform in [-1, 1) */
{
    seed = yt_mix64(seed);
    return (double)(seed >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static void *hbuf(size_t bytes)
{
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p) {
        fprintf(stderr, "test_kernels_cuda: out of host memory\n");
        exit(1);
    }
    return p;
}

static float *frand(size_t n, double lo, double hi)
{
    float *x = hbuf(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * 0.5 * (rnd() + 1.0));
    return x;
}

static float *fcopy(const float *x, size_t n)
{
    float *y = hbuf(n * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    return y;
}

/* device copy of host data */
static void *dup_dev(const void *h, size_t bytes)
{
    void *d;
    DEV(yt_kc_malloc(&d, bytes, "test buffer", &err));
    DEV(yt_kc_upload(ctx, d, h, bytes, &err));
    return d;
}

/* device buffer of n floats, all NaN */
static float *nan_dev(size_t n)
{
    float *h = hbuf(n * sizeof *h);
    for (size_t i = 0; i < n; i++)
        h[i] = NAN;
    float *d = dup_dev(h, n * sizeof *h);
    free(h);
    return d;
}

static float *get(const float *d, size_t n)
{
    float *h = hbuf(n * sizeof *h);
    DEV(yt_kc_download(ctx, h, d, n * sizeof *h, &err));
    return h;
}

static void check(const char *what, const float *gpu, const float *ref, size_t n, double tol)
{
    double num = 0.0, den = 0.0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(gpu[i]))
            bad = 1;
        double d = fabs((double)gpu[i] - (double)ref[i]);
        num = d > num ? d : num;
        den = fabs((double)ref[i]) > den ? fabs((double)ref[i]) : den;
    }
    double rel = den > 0 ? num / den : num;
    int ok = !bad && rel <= tol;
    fprintf(stderr, "  %-34s rel err %.3e (tol %.0e)%s %s\n", what, rel, tol,
            bad ? " NON-FINITE" : "", ok ? "ok" : "FAIL");
    if (!ok)
        failures++;
}

static uint16_t *to_bf16(const float *x, size_t n, float *rounded)
{
    uint16_t *b = hbuf(n * sizeof *b);
    for (size_t i = 0; i < n; i++) {
        b[i] = yt_kc_bf16_from_f32(x[i]);
        rounded[i] = yt_kc_f32_from_bf16(b[i]);
    }
    return b;
}

/* Bit-for-bit comparison of n elements of `size` bytes: the count that differ. */
static void check_same(const char *what, const void *gpu, const void *ref, size_t n, size_t size)
{
    size_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff += memcmp((const char *)gpu + i * size, (const char *)ref + i * size, size) != 0;
    int ok = diff == 0;
    fprintf(stderr, "  %-34s %zu of %zu differ (bit-exact) %s\n", what, diff, n, ok ? "ok" : "FAIL");
    if (!ok)
        failures++;
}

/* ------------------------------------------------------------------ tests */

static void test_matmul(void)
{
    int T = 37, in = 96, out = 80;
    size_t nx = (size_t)T * in, ny = (size_t)T * out, nw = (size_t)out * in;
    float *x = frand(nx, -1, 1), *W = frand(nw, -0.5, 0.5), *dy = frand(ny, -1, 1);
    float *y0 = frand(ny, -1, 1), *dx0 = frand(nx, -1, 1), *dW0 = frand(nw, -1, 1);
    float *dx_ = dup_dev(x, nx * 4), *dW_ = dup_dev(W, nw * 4), *ddy = dup_dev(dy, ny * 4);

    /* fp32: y = xW^T + 0.5 y ; dx = dy W + 0.5 dx ; dW = 0.7 dy^T x + 0.5 dW */
    float *ry = fcopy(y0, ny), *rdx = fcopy(dx0, nx), *rdW = fcopy(dW0, nw);
    yt_k_matmul_xwT(ry, x, W, T, in, out, 0.5f);
    yt_k_matmul_dyW(rdx, dy, W, T, in, out, 0.5f);
    yt_k_matmul_dW(rdW, dy, x, T, in, out, 0.7f, 0.5f);
    float *gy = dup_dev(y0, ny * 4), *gdx = dup_dev(dx0, nx * 4), *gdW = dup_dev(dW0, nw * 4);
    DEV(yt_kc_matmul_xwT(ctx, gy, dx_, dW_, T, in, out, 0.5f, &err));
    DEV(yt_kc_matmul_dyW(ctx, gdx, ddy, dW_, T, in, out, 0.5f, &err));
    DEV(yt_kc_matmul_dW(ctx, gdW, ddy, dx_, T, in, out, 0.7f, 0.5f, &err));
    float *hy = get(gy, ny), *hdx = get(gdx, nx), *hdW = get(gdW, nw);
    check("matmul_xwT fp32", hy, ry, ny, TOL_F32);
    check("matmul_dyW fp32", hdx, rdx, nx, TOL_F32);
    check("matmul_dW fp32", hdW, rdW, nw, TOL_F32);
    free(hy), free(hdx), free(hdW);

    /* bf16 weight */
    float *Wr = hbuf(nw * 4), *xr = hbuf(nx * 4), *dyr = hbuf(ny * 4);
    uint16_t *W16 = to_bf16(W, nw, Wr);
    free(to_bf16(x, nx, xr));
    free(to_bf16(dy, ny, dyr));
    uint16_t *dW16 = dup_dev(W16, nw * 2);
    float *sy = fcopy(y0, ny), *sdx = fcopy(dx0, nx);
    yt_k_matmul_xwT(sy, xr, Wr, T, in, out, 0.5f);
    yt_k_matmul_dyW(sdx, dyr, Wr, T, in, out, 0.5f);
    DEV(yt_kc_upload(ctx, gy, y0, ny * 4, &err));
    DEV(yt_kc_upload(ctx, gdx, dx0, nx * 4, &err));
    DEV(yt_kc_matmul_xwT_bf16(ctx, gy, dx_, dW16, T, in, out, 0.5f, &err));
    DEV(yt_kc_matmul_dyW_bf16(ctx, gdx, ddy, dW16, T, in, out, 0.5f, &err));
    hy = get(gy, ny), hdx = get(gdx, nx);
    check("matmul_xwT bf16 (same operands)", hy, sy, ny, TOL_BF16_SAME);
    check("matmul_dyW bf16 (same operands)", hdx, sdx, nx, TOL_BF16_SAME);
    check("matmul_xwT bf16 (vs fp32)", hy, ry, ny, TOL_BF16);
    check("matmul_dyW bf16 (vs fp32)", hdx, rdx, nx, TOL_BF16);
    free(hy), free(hdx), free(sy), free(sdx), free(Wr), free(xr), free(dyr), free(W16);
    yt_kc_free(dW16);
    free(x), free(W), free(dy), free(y0), free(dx0), free(dW0), free(ry), free(rdx), free(rdW);
    yt_kc_free(dx_), yt_kc_free(dW_), yt_kc_free(ddy), yt_kc_free(gy), yt_kc_free(gdx);
    yt_kc_free(gdW);
}

static void test_rmsnorm(void)
{
    int T = 13, C = 300;
    size_t n = (size_t)T * C;
    float *x = frand(n, -2, 2), *w = frand(C, 0.5, 1.5), *dout = frand(n, -1, 1);
    float *dx0 = frand(n, -1, 1);
    float *out = hbuf(n * 4), *rstd = hbuf(T * 4), *dx = fcopy(dx0, n);
    yt_k_rmsnorm_forward(out, rstd, x, w, T, C, 1e-5f);
    yt_k_rmsnorm_backward(dx, dout, x, w, rstd, T, C);
    float *gx = dup_dev(x, n * 4), *gw = dup_dev(w, C * 4), *gdout = dup_dev(dout, n * 4);
    float *gout = nan_dev(n), *grstd = nan_dev(T), *gdx = dup_dev(dx0, n * 4);
    DEV(yt_kc_rmsnorm_forward(ctx, gout, grstd, gx, gw, T, C, 1e-5f, &err));
    DEV(yt_kc_rmsnorm_backward(ctx, gdx, gdout, gx, gw, grstd, T, C, &err));
    float *ho = get(gout, n), *hr = get(grstd, T), *hdx = get(gdx, n);
    check("rmsnorm_forward out", ho, out, n, TOL_F32);
    check("rmsnorm_forward rstd", hr, rstd, T, TOL_F32);
    check("rmsnorm_backward dx (+=)", hdx, dx, n, TOL_F32);
    free(ho), free(hr), free(hdx), free(x), free(w), free(dout), free(dx0), free(out), free(rstd);
    free(dx);
    yt_kc_free(gx), yt_kc_free(gw), yt_kc_free(gdout), yt_kc_free(gout), yt_kc_free(grstd);
    yt_kc_free(gdx);
}

static void test_rope(void)
{
    int T = 11, nh = 4, hd = 64, max_pos = 64;
    size_t n = (size_t)T * nh * hd, nt = (size_t)max_pos * hd / 2;
    yt_rope_scaling sc = {1, 8.0f, 1.0f, 4.0f, 8192};
    float *inv = hbuf(hd / 2 * 4), *ct = hbuf(nt * 4), *st = hbuf(nt * 4);
    yt_k_rope_inv_freq(inv, hd, 500000.0f, &sc);
    yt_k_rope_tables(ct, st, inv, max_pos, hd);
    int32_t *pos = hbuf(T * 4);
    for (int t = 0; t < T; t++)
        pos[t] = (int32_t)((rnd() + 1.0) * 0.5 * max_pos) % max_pos;
    float *x = frand(n, -1, 1), *dx = frand(n, -1, 1);
    float *gx = dup_dev(x, n * 4), *gdx = dup_dev(dx, n * 4), *gct = dup_dev(ct, nt * 4);
    float *gst = dup_dev(st, nt * 4);
    int32_t *gpos = dup_dev(pos, T * 4);
    yt_k_rope_forward(x, ct, st, pos, T, nh, hd);
    yt_k_rope_backward(dx, ct, st, pos, T, nh, hd);
    DEV(yt_kc_rope_forward(ctx, gx, gct, gst, gpos, T, nh, hd, &err));
    DEV(yt_kc_rope_backward(ctx, gdx, gct, gst, gpos, T, nh, hd, &err));
    float *hx = get(gx, n), *hdx = get(gdx, n);
    check("rope_forward", hx, x, n, TOL_F32);
    check("rope_backward", hdx, dx, n, TOL_F32);
    free(hx), free(hdx), free(inv), free(ct), free(st), free(pos), free(x), free(dx);
    yt_kc_free(gx), yt_kc_free(gdx), yt_kc_free(gct), yt_kc_free(gst), yt_kc_free(gpos);
}

static void test_swiglu(void)
{
    size_t n = 10007;
    float *g = frand(n, -6, 6), *u = frand(n, -2, 2), *dh = frand(n, -1, 1);
    float *h = hbuf(n * 4), *dg = hbuf(n * 4), *du = hbuf(n * 4);
    yt_k_swiglu_forward(h, g, u, n);
    yt_k_swiglu_backward(dg, du, dh, g, u, n);
    float *gg = dup_dev(g, n * 4), *gu = dup_dev(u, n * 4), *gdh = dup_dev(dh, n * 4);
    float *gh = nan_dev(n), *gdg = nan_dev(n), *gdu = nan_dev(n);
    DEV(yt_kc_swiglu_forward(ctx, gh, gg, gu, n, &err));
    DEV(yt_kc_swiglu_backward(ctx, gdg, gdu, gdh, gg, gu, n, &err));
    float *hh = get(gh, n), *hdg = get(gdg, n), *hdu = get(gdu, n);
    check("swiglu_forward", hh, h, n, TOL_F32);
    check("swiglu_backward dg", hdg, dg, n, TOL_F32);
    check("swiglu_backward du", hdu, du, n, TOL_F32);
    free(hh), free(hdg), free(hdu), free(g), free(u), free(dh), free(h), free(dg), free(du);
    yt_kc_free(gg), yt_kc_free(gu), yt_kc_free(gdh), yt_kc_free(gh), yt_kc_free(gdg);
    yt_kc_free(gdu);
}

/* One attention kernel (flash: CUDA cores, fp32; gemm: cuBLAS TF32) against
 * the fp32 CPU kernel, forward and backward, on random inputs; with_doc adds
 * documents of random lengths, restarting per sequence. */
static void attention_case(int gemm, int B, int S, int nh, int nkv, int hd, int with_doc)
{
    size_t T = (size_t)B * S, nq = T * nh * hd, nk = T * nkv * hd, nl = (size_t)B * nh * S;
    float *q = frand(nq, -1, 1), *k = frand(nk, -1, 1), *v = frand(nk, -1, 1);
    float *dout = frand(nq, -1, 1);
    int32_t *doc = NULL;
    if (with_doc) {
        doc = hbuf(T * 4);
        for (int b = 0; b < B; b++)
            for (int s = 0, d = 0; s < S; s++) {
                if (s > 0 && rnd() > (gemm ? 0.8 : 0.9))
                    d++;
                doc[(size_t)b * S + s] = d;
            }
    }
    float *ws = hbuf(yt_k_attention_workspace(S, yt_k_get_threads()) * 4);
    float *out = hbuf(nq * 4), *lse = hbuf(nl * 4);
    float *dq = hbuf(nq * 4), *dk = hbuf(nk * 4), *dv = hbuf(nk * 4);
    yt_k_attention_forward(out, lse, q, k, v, doc, B, S, nh, nkv, hd, ws);
    yt_k_attention_backward(dq, dk, dv, dout, q, k, v, out, lse, doc, B, S, nh, nkv, hd, ws);
    float *gq = dup_dev(q, nq * 4), *gk = dup_dev(k, nk * 4), *gv = dup_dev(v, nk * 4);
    float *gdout = dup_dev(dout, nq * 4);
    int32_t *gdoc = doc ? dup_dev(doc, T * 4) : NULL;
    float *gout = nan_dev(nq), *glse = nan_dev(nl), *gdq = nan_dev(nq), *gdk = nan_dev(nk);
    float *gdv = nan_dev(nk), *gws;
    if (gemm) {
        gws = nan_dev(yt_kc_attention_gemm_workspace(S, nh, nkv, hd) / 4);
        DEV(yt_kc_attention_gemm_forward(ctx, gout, glse, gq, gk, gv, gdoc, B, S, nh, nkv, hd, gws,
                                         &err));
        DEV(yt_kc_attention_gemm_backward(ctx, gdq, gdk, gdv, gdout, gq, gk, gv, gout, glse, gdoc,
                                          B, S, nh, nkv, hd, gws, &err));
    } else {
        gws = nan_dev(yt_kc_attention_workspace(B, S, nh));
        DEV(yt_kc_attention_forward(ctx, gout, glse, gq, gk, gv, gdoc, B, S, nh, nkv, hd, &err));
        DEV(yt_kc_attention_backward(ctx, gdq, gdk, gdv, gdout, gq, gk, gv, gout, glse, gdoc, B, S,
                                     nh, nkv, hd, gws, &err));
    }
    float *ho = get(gout, nq), *hl = get(glse, nl), *hdq = get(gdq, nq), *hdk = get(gdk, nk);
    float *hdv = get(gdv, nk);
    const float *got[5] = {ho, hl, hdq, hdk, hdv}, *want[5] = {out, lse, dq, dk, dv};
    const char *what[5] = {"out", "lse", "dq", "dk", "dv"};
    size_t n[5] = {nq, nl, nq, nk, nk};
    for (int i = 0; i < 5; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s %s S%d h%d/%d d%d%s", gemm ? "att_gemm" : "attention",
                 what[i], S, nh, nkv, hd, with_doc ? " doc" : "");
        check(name, got[i], want[i], n[i], gemm ? TOL_TF32 : TOL_F32);
    }
    free(ho), free(hl), free(hdq), free(hdk), free(hdv), free(q), free(k), free(v), free(dout);
    free(doc), free(ws), free(out), free(lse), free(dq), free(dk), free(dv);
    yt_kc_free(gq), yt_kc_free(gk), yt_kc_free(gv), yt_kc_free(gdout), yt_kc_free(gdoc);
    yt_kc_free(gout), yt_kc_free(glse), yt_kc_free(gdq), yt_kc_free(gdk), yt_kc_free(gdv);
    yt_kc_free(gws);
}

static void test_attention(int with_doc) { attention_case(0, 2, 150, 4, 2, 64, with_doc); }

static void test_attention_gemm(int B, int S, int nh, int nkv, int hd, int with_doc)
{
    attention_case(1, B, S, nh, nkv, hd, with_doc);
}

/* memset, copy, add, scale, embed, fills: the same operations as the CPU. */
static void test_misc(void)
{
    size_t n = 10007;
    float *x = frand(n, -1, 1), *y = frand(n, -1, 1);
    float *gx = dup_dev(x, n * 4), *gy = dup_dev(y, n * 4), *gz = nan_dev(n);
    unsigned char *ones = hbuf(n * 4);
    memset(ones, 0xa5, n * 4);
    DEV(yt_kc_memset(ctx, gz, 0xa5, n * 4, &err));
    DEV(yt_kc_memset(ctx, gz, 0, 0, &err)); /* nothing */
    float *hz = get(gz, n);
    check_same("memset", hz, ones, n * 4, 1);
    free(hz);
    DEV(yt_kc_copy(ctx, gz, gx, n * 4, &err));
    hz = get(gz, n);
    check_same("copy", hz, x, n, 4);
    free(hz);

    float *ry = fcopy(y, n);
    yt_k_add_inplace(ry, x, n);
    yt_k_scale(ry, 0.37f, n);
    DEV(yt_kc_add(ctx, gy, gx, n, &err));
    DEV(yt_kc_scale(ctx, gy, 0.37f, n, &err));
    DEV(yt_kc_add(ctx, gy, gx, 0, &err)); /* nothing */
    float *hy = get(gy, n);
    check_same("add + scale", hy, ry, n, 4);
    free(hy), free(ry);

    DEV(yt_kc_fill_f32(ctx, gz, n, -2.5f, &err));
    hz = get(gz, n);
    ry = hbuf(n * 4);
    for (size_t i = 0; i < n; i++)
        ry[i] = -2.5f;
    check_same("fill_f32", hz, ry, n, 4);
    free(hz), free(ry);

    /* bf16 fills: a constant, and a*(2u-1) from the stateless generator */
    size_t nw = 4099;
    uint16_t *gw, *hw = hbuf(nw * 2), *rw = hbuf(nw * 2);
    DEV(yt_kc_malloc((void **)&gw, nw * 2, "bf16 fill", &err));
    DEV(yt_kc_fill_bf16(ctx, gw, nw, 0.1f, &err));
    DEV(yt_kc_download(ctx, hw, gw, nw * 2, &err));
    for (size_t i = 0; i < nw; i++)
        rw[i] = yt_kc_bf16_from_f32(0.1f);
    check_same("fill_bf16", hw, rw, nw, 2);
    uint64_t fseed = 0x1234567890abcdefull;
    float a = 0.02f;
    DEV(yt_kc_fill_uniform_bf16(ctx, gw, nw, a, fseed, &err));
    DEV(yt_kc_download(ctx, hw, gw, nw * 2, &err));
    for (size_t i = 0; i < nw; i++) {
        float u = yt_u01(yt_mix64(fseed ^ (uint64_t)i));
        rw[i] = yt_kc_bf16_from_f32(a * (2.0f * u - 1.0f));
    }
    check_same("fill_uniform_bf16", hw, rw, nw, 2);

    /* embedding rows of a bf16 table: the CPU gather of the rounded table */
    int T = 37, C = 300, V = 50;
    float *E = frand((size_t)V * C, -1, 1), *Er = hbuf((size_t)V * C * 4);
    uint16_t *E16 = to_bf16(E, (size_t)V * C, Er);
    int32_t *ids = hbuf(T * 4);
    for (int t = 0; t < T; t++)
        ids[t] = (int32_t)((rnd() + 1.0) * 0.5 * V) % V;
    ids[0] = V - 1;
    float *ref = hbuf((size_t)T * C * 4);
    yt_k_embed(ref, Er, ids, T, C);
    uint16_t *gE = dup_dev(E16, (size_t)V * C * 2);
    int32_t *gids = dup_dev(ids, T * 4);
    float *gout = nan_dev((size_t)T * C);
    DEV(yt_kc_embed_bf16(ctx, gout, gE, gids, T, C, &err));
    float *ho = get(gout, (size_t)T * C);
    check_same("embed_bf16", ho, ref, (size_t)T * C, 4);
    free(ho), free(ref), free(E), free(Er), free(E16), free(ids), free(hw), free(rw), free(x);
    free(y), free(ones);
    yt_kc_free(gE), yt_kc_free(gids), yt_kc_free(gout), yt_kc_free(gw), yt_kc_free(gx);
    yt_kc_free(gy), yt_kc_free(gz);
}

/* Dropout keeps exactly the CPU's elements (the mask is recomputed here from
 * yt_u01(yt_mix64(seed ^ i)) >= p) and scales them the same way. */
static void test_dropout(void)
{
    size_t n = 100003;
    uint64_t dseed = 0xfeedfacecafebeefull;
    float *x = frand(n, -1, 1), *dout = frand(n, -1, 1), *dx0 = frand(n, -1, 1);
    for (size_t i = 0; i < n; i++)
        if (x[i] == 0.0f) /* so that "dropped" is "is zero" */
            x[i] = 0.5f;
    float *gx = dup_dev(x, n * 4), *gdout = dup_dev(dout, n * 4);
    const float ps[3] = {0.3f, 0.0f, 1.0f};
    for (int t = 0; t < 3; t++) {
        float p = ps[t];
        char name[64];
        float *out = hbuf(n * 4), *dx = fcopy(dx0, n);
        yt_k_dropout_forward(out, x, n, p, dseed);
        yt_k_dropout_backward(dx, dout, n, p, dseed);
        float *gout = nan_dev(n), *gdx = dup_dev(dx0, n * 4);
        DEV(yt_kc_dropout_forward(ctx, gout, gx, n, p, dseed, &err));
        DEV(yt_kc_dropout_backward(ctx, gdx, gdout, n, p, dseed, &err));
        float *ho = get(gout, n), *hdx = get(gdx, n);
        size_t mism = 0, kept = 0;
        for (size_t i = 0; i < n; i++) {
            int keep = p <= 0.0f || yt_u01(yt_mix64(dseed ^ (uint64_t)i)) >= p;
            kept += keep;
            mism += keep != (ho[i] != 0.0f);
        }
        fprintf(stderr, "  dropout p=%.1f: %zu of %zu kept, %zu mask mismatches %s\n", p, kept, n,
                mism, mism ? "FAIL" : "ok");
        if (mism)
            failures++;
        snprintf(name, sizeof name, "dropout_forward p=%.1f", p);
        check(name, ho, out, n, 1e-6);
        snprintf(name, sizeof name, "dropout_backward p=%.1f (+=)", p);
        check(name, hdx, dx, n, 1e-6);
        if (t == 0) { /* in place, out == x */
            float *gy = dup_dev(x, n * 4);
            DEV(yt_kc_dropout_forward(ctx, gy, gy, n, p, dseed, &err));
            float *hy = get(gy, n);
            check("dropout_forward in place", hy, out, n, 1e-6);
            free(hy);
            yt_kc_free(gy);
        }
        free(ho), free(hdx), free(out), free(dx);
        yt_kc_free(gout), yt_kc_free(gdx);
    }
    free(x), free(dout), free(dx0);
    yt_kc_free(gx), yt_kc_free(gdout);
}

/* sum of squares in double: another order than the CPU's, so ~1e-15 apart;
 * the same bits on a second run; 0 for n = 0. */
static void test_sumsq(void)
{
    const size_t ns[3] = {5, 4099, ((size_t)1 << 20) + 3};
    double *gs;
    DEV(yt_kc_malloc((void **)&gs, 2 * sizeof(double), "sumsq result", &err));
    for (int t = 0; t < 3; t++) {
        size_t n = ns[t];
        float *x = frand(n, -2, 2);
        float *gx = dup_dev(x, n * 4);
        double ref = yt_k_sumsq(x, n), h[2];
        DEV(yt_kc_sumsq(ctx, gs, gx, n, &err));
        DEV(yt_kc_sumsq(ctx, gs + 1, gx, n, &err));
        DEV(yt_kc_download(ctx, h, gs, sizeof h, &err));
        double rel = fabs(h[0] - ref) / ref;
        int ok = rel <= 1e-12 && memcmp(&h[0], &h[1], sizeof h[0]) == 0;
        fprintf(stderr, "  sumsq n=%-10zu rel err %.3e (tol 1e-12)%s %s\n", n, rel,
                memcmp(&h[0], &h[1], sizeof h[0]) ? " NOT DETERMINISTIC" : "", ok ? "ok" : "FAIL");
        if (!ok)
            failures++;
        free(x);
        yt_kc_free(gx);
    }
    double poison = NAN, h0;
    DEV(yt_kc_upload(ctx, gs, &poison, sizeof poison, &err));
    DEV(yt_kc_sumsq(ctx, gs, NULL, 0, &err));
    DEV(yt_kc_download(ctx, &h0, gs, sizeof h0, &err));
    fprintf(stderr, "  sumsq n=0 gives %g %s\n", h0, h0 == 0.0 ? "ok" : "FAIL");
    if (h0 != 0.0)
        failures++;
    yt_kc_free(gs);
}

/* Bad shapes and a missing workspace fail with a message naming the op. */
static void test_attention_gemm_errors(void)
{
    int rc1 = yt_kc_attention_gemm_forward(ctx, NULL, NULL, NULL, NULL, NULL, NULL, 1, 16, 6, 4, 64,
                                           NULL, &err); /* nh % nkv != 0 */
    int ok1 = rc1 == -1 && strstr(err.msg, "yt_kc_attention_gemm_forward") != NULL;
    int rc2 = yt_kc_attention_gemm_backward(ctx, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                            NULL, NULL, 1, 16, 8, 2, 64, NULL, &err);
    int ok2 = rc2 == -1 && strstr(err.msg, "yt_kc_attention_gemm_backward") != NULL;
    fprintf(stderr, "  att_gemm rejects bad shape / no workspace: %s / %s\n", ok1 ? "ok" : "FAIL",
            ok2 ? "ok" : "FAIL");
    failures += !ok1 + !ok2;
}

static void test_xent(void)
{
    int T = 50, C = 64, V = 1000, chunk = 16;
    size_t nh = (size_t)T * C, nw = (size_t)V * C;
    float *h = frand(nh, -1, 1), *W = frand(nw, -1, 1);
    int32_t *tg = hbuf(T * 4);
    float *wt = hbuf(T * 4);
    for (int t = 0; t < T; t++) {
        tg[t] = (int32_t)((rnd() + 1.0) * 0.5 * V) % V;
        wt[t] = rnd() > -0.6 ? 1.0f / T : 0.0f; /* about a fifth not counted */
    }
    float *hr = hbuf(nh * 4), *Wr = hbuf(nw * 4);
    free(to_bf16(h, nh, hr));
    uint16_t *W16 = to_bf16(W, nw, Wr);
    float *dh = hbuf(nh * 4), *ws = hbuf(yt_k_lmhead_xent_workspace(chunk, V) * 4);
    double loss = yt_k_lmhead_xent(dh, hr, Wr, tg, wt, T, C, V, chunk, ws);
    float *gh = dup_dev(h, nh * 4), *gdh = nan_dev(nh), *gwt = dup_dev(wt, T * 4);
    uint16_t *gW = dup_dev(W16, nw * 2);
    int32_t *gtg = dup_dev(tg, T * 4);
    void *gws;
    double *gloss;
    DEV(yt_kc_malloc(&gws, yt_kc_lmhead_xent_workspace(T, C, V, chunk), "xent workspace", &err));
    DEV(yt_kc_malloc((void **)&gloss, sizeof(double), "loss", &err));
    DEV(yt_kc_lmhead_xent(ctx, gloss, gdh, gh, gW, gtg, gwt, T, C, V, chunk, gws, &err));
    double hloss;
    DEV(yt_kc_download(ctx, &hloss, gloss, sizeof hloss, &err));
    float *hdh = get(gdh, nh);
    float lg = (float)hloss, lc = (float)loss;
    check("lmhead_xent loss", &lg, &lc, 1, TOL_BF16_SAME);
    check("lmhead_xent dh", hdh, dh, nh, TOL_BF16);
    /* without dh: the same loss */
    DEV(yt_kc_lmhead_xent(ctx, gloss, NULL, gh, gW, gtg, gwt, T, C, V, 7, gws, &err));
    DEV(yt_kc_download(ctx, &hloss, gloss, sizeof hloss, &err));
    lg = (float)hloss;
    check("lmhead_xent loss (no dh, chunk 7)", &lg, &lc, 1, TOL_BF16_SAME);
    free(hdh), free(h), free(W), free(tg), free(wt), free(hr), free(Wr), free(W16), free(dh);
    free(ws);
    yt_kc_free(gh), yt_kc_free(gdh), yt_kc_free(gwt), yt_kc_free(gW), yt_kc_free(gtg);
    yt_kc_free(gws), yt_kc_free(gloss);
}

static void test_adamw(void)
{
    size_t n = 1000;
    float *p = frand(n, -1, 1), *g = frand(n, -1, 1), *m = frand(n, -0.1, 0.1);
    float *v = frand(n, 0, 0.01);
    float *gp = dup_dev(p, n * 4), *gg = dup_dev(g, n * 4), *gm = dup_dev(m, n * 4);
    float *gv = dup_dev(v, n * 4);
    for (int step = 1; step <= 3; step++) {
        float bc1 = 1.0f - powf(0.9f, (float)step), bc2 = 1.0f - powf(0.999f, (float)step);
        yt_k_adamw(p, g, m, v, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, bc1, bc2, 0.5f);
        DEV(yt_kc_adamw(ctx, gp, gg, gm, gv, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, bc1, bc2, 0.5f,
                        &err));
    }
    float *hp = get(gp, n), *hm = get(gm, n), *hv = get(gv, n);
    check("adamw p", hp, p, n, TOL_F32);
    check("adamw m", hm, m, n, TOL_F32);
    check("adamw v", hv, v, n, TOL_F32);
    free(hp), free(hm), free(hv), free(p), free(g), free(m), free(v);
    yt_kc_free(gp), yt_kc_free(gg), yt_kc_free(gm), yt_kc_free(gv);
}

/* An NF4 tensor encoded on the CPU (a partial last block, two second-level
 * blocks) decoded on the GPU: each bf16 equals the CPU's fp32 value rounded. */
static void test_dequant_nf4(void)
{
    size_t n = 64 * 300 + 37;
    float *x = frand(n, -0.05, 0.05), *y = hbuf(n * sizeof *y);
    yt_q_layout l;
    yt_q_layout_of(YT_BASE_NF4, n, &l);
    unsigned char *q = hbuf(l.bytes);
    DEV(yt_q_encode(YT_BASE_NF4, q, x, n, &err));
    yt_q_decode(YT_BASE_NF4, y, q, n);
    float tables[16 + 256];
    memcpy(tables, yt_nf4_levels, sizeof yt_nf4_levels);
    yt_q_dynamic_map(tables + 16);
    unsigned char *dq = dup_dev(q, l.bytes);
    float *dt = dup_dev(tables, sizeof tables);
    uint16_t *out;
    DEV(yt_kc_malloc((void **)&out, n * 2, "bf16 out", &err));
    DEV(yt_kc_memset(ctx, out, 0xff, n * 2, &err));
    DEV(yt_kc_dequant_nf4_bf16(ctx, out, dq + l.codes, dq + l.qabsmax, (const float *)(dq + l.absmax2),
                               (const float *)(dq + l.offset), dt + 16, dt, n, &err));
    uint16_t *h = hbuf(n * 2);
    DEV(yt_kc_download(ctx, h, out, n * 2, &err));
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += h[i] != yt_kc_bf16_from_f32(y[i]);
    fprintf(stderr, "  dequant nf4 -> bf16: %zu of %zu differ from the CPU's decode rounded\n", bad, n);
    if (bad)
        failures++;
    free(x), free(y), free(q), free(h);
    yt_kc_free(dq), yt_kc_free(dt), yt_kc_free(out);
}

int main(void)
{
    int ndev = 0;
    if (yt_kc_device_count(&ndev, &err) != 0) {
        printf("test_kernels_cuda: no CUDA device (%s): skipped\n", err.msg);
        return 77;
    }
    if (ndev < 1) {
        printf("test_kernels_cuda: no CUDA device (cudaGetDeviceCount found 0): skipped\n");
        return 77;
    }
    DEV(yt_kc_ctx_create(&ctx, 0, (size_t)64 << 20, &err));
    yt_k_set_threads(1);
    fprintf(stderr, "test_kernels_cuda: %d device(s); CUDA vs CPU kernels\n", ndev);
    test_matmul();
    test_rmsnorm();
    test_rope();
    test_swiglu();
    test_attention(0);
    test_attention(1);
    test_xent();
    test_adamw();
    test_misc();
    test_dropout();
    test_sumsq();
    test_attention_gemm(2, 37, 8, 2, 64, 0);   /* GQA, S not a multiple of 32 */
    test_attention_gemm(2, 37, 4, 4, 128, 1);  /* MHA, documents */
    test_attention_gemm(2, 128, 8, 2, 128, 1); /* GQA, documents */
    test_attention_gemm(1, 128, 4, 4, 64, 0);  /* MHA */
    test_attention_gemm_errors();
    test_dequant_nf4();
    DEV(yt_kc_sync(ctx, &err));
    yt_kc_ctx_destroy(ctx);
    if (failures) {
        fprintf(stderr, "test_kernels_cuda: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_kernels_cuda: all checks passed\n");
    return 0;
}
