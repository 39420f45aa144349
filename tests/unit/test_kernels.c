/* tests/unit/test_kernels.c: every CPU kernel against an independent
 * double-precision reference.
 *
 * Forwards are compared with straightforward double loops; backwards with
 * central finite differences of L = sum(R .* forward) taken on those double
 * references, so a gradient is only accepted if it is the derivative of the
 * reference math, not of the kernel's own.  Errors are norm-wise relative
 * (max |a-b| / max |b|) and each is printed to stderr for the record.  Kernels
 * whose code is deterministic must give bit-identical results with 1 and 2
 * threads. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "kernels/kernels.h"

#define FD_TOL 1e-3  /* float analytic gradient vs double finite differences */
#define FWD_TOL 1e-5 /* float forward vs double reference */
#define FD_H 1e-6

/* ------------------------------------------------------------------ helpers */

typedef struct rng {
    uint64_t s;
} rng;

static double rnd(rng *r) /* uniform in [-1, 1) */
{
    r->s = yt_mix64(r->s);
    return (double)(r->s >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static float *fbuf(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static double *dbuf(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static void frand(float *x, size_t n, rng *r, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * 0.5 * (rnd(r) + 1.0));
}

static void f2d(double *d, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
}

static double relerr_fd(const float *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (isnan(e))
            return INFINITY;
        if (e > num)
            num = e;
        if (fabs(b[i]) > den)
            den = fabs(b[i]);
    }
    return num / (den > 1e-30 ? den : 1e-30);
}

static double relerr_ff(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (isnan(e))
            return INFINITY;
        if (e > num)
            num = e;
        if (fabs((double)b[i]) > den)
            den = fabs((double)b[i]);
    }
    return num / (den > 1e-30 ? den : 1e-30);
}

static void check_err(const char *what, double err, double tol)
{
    fprintf(stderr, "  %-44s rel err %.3e (tol %.0e)\n", what, err, tol);
    ck_assert_msg(err <= tol, "%s: relative error %g > %g", what, err, tol);
}

/* Check records a mark per assertion, so loops over big arrays look for the
 * first bad index themselves and assert once. */
static void check_same(const char *what, const float *a, const float *b, size_t n)
{
    ck_assert_msg(memcmp(a, b, n * sizeof *a) == 0, "%s: 1 and 2 threads differ", what);
}

static double dot_rd(const double *r, const double *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += r[i] * y[i];
    return s;
}

/* Central differences of f(ctx) with respect to each element of p. */
static void fd_grad(double *g, double *p, size_t n, double (*f)(void *), void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        double s = p[i];
        double h = FD_H * (fabs(s) > 1.0 ? fabs(s) : 1.0);
        p[i] = s + h;
        double lp = f(ctx);
        p[i] = s - h;
        double lm = f(ctx);
        p[i] = s;
        g[i] = (lp - lm) / (2 * h);
    }
}

/* ------------------------------------------------------------------ matmul */

typedef struct mm_ctx {
    int T, in, out;
    double *x, *W, *R, *y;
} mm_ctx;

static void ref_xwT(double *y, const double *x, const double *W, int T, int in, int out)
{
    for (int t = 0; t < T; t++)
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (int i = 0; i < in; i++)
                s += x[t * in + i] * W[o * in + i];
            y[t * out + o] = s;
        }
}

static double mm_loss(void *vc)
{
    mm_ctx *c = vc;
    ref_xwT(c->y, c->x, c->W, c->T, c->in, c->out);
    return dot_rd(c->R, c->y, (size_t)c->T * c->out);
}

START_TEST(test_matmul)
{
    rng r = {11};
    const int T = 5, in = 7, out = 3;
    float *x = fbuf(T * in), *W = fbuf(out * in), *R = fbuf(T * out), *y = fbuf(T * out);
    float *y0 = fbuf(T * out), *dx = fbuf(T * in), *dx0 = fbuf(T * in), *dW = fbuf(out * in);
    float *dW0 = fbuf(out * in);
    frand(x, T * in, &r, -1, 1);
    frand(W, out * in, &r, -1, 1);
    frand(R, T * out, &r, -1, 1);
    frand(y0, T * out, &r, -1, 1);
    frand(dx0, T * in, &r, -1, 1);
    frand(dW0, out * in, &r, -1, 1);
    mm_ctx c = {T, in, out, dbuf(T * in), dbuf(out * in), dbuf(T * out), dbuf(T * out)};
    f2d(c.x, x, T * in);
    f2d(c.W, W, out * in);
    f2d(c.R, R, T * out);
    double *ref = dbuf(T * out), *gx = dbuf(T * in), *gW = dbuf(out * in);

    /* forward, overwrite and accumulate */
    ref_xwT(ref, c.x, c.W, T, in, out);
    memset(y, 0xff, sizeof(float) * T * out); /* NaN: beta = 0 must overwrite */
    memset(dx, 0xff, sizeof(float) * T * in);
    memset(dW, 0xff, sizeof(float) * out * in);
    yt_k_matmul_xwT(y, x, W, T, in, out, 0.0f);
    check_err("matmul_xwT forward", relerr_fd(y, ref, T * out), FWD_TOL);
    memcpy(y, y0, sizeof(float) * T * out);
    yt_k_matmul_xwT(y, x, W, T, in, out, 0.5f);
    for (int i = 0; i < T * out; i++)
        ref[i] += 0.5 * y0[i];
    check_err("matmul_xwT forward beta=0.5", relerr_fd(y, ref, T * out), FWD_TOL);

    /* dx = R W is dL/dx; dW = R^T x is dL/dW */
    fd_grad(gx, c.x, T * in, mm_loss, &c);
    fd_grad(gW, c.W, out * in, mm_loss, &c);
    yt_k_matmul_dyW(dx, R, W, T, in, out, 0.0f);
    check_err("matmul_dyW vs FD", relerr_fd(dx, gx, T * in), FD_TOL);
    yt_k_matmul_dW(dW, R, x, T, in, out, 1.0f, 0.0f);
    check_err("matmul_dW vs FD", relerr_fd(dW, gW, out * in), FD_TOL);

    /* beta accumulates, alpha scales */
    memcpy(dx, dx0, sizeof(float) * T * in);
    yt_k_matmul_dyW(dx, R, W, T, in, out, 1.0f);
    for (int i = 0; i < T * in; i++)
        gx[i] += dx0[i];
    check_err("matmul_dyW beta=1", relerr_fd(dx, gx, T * in), FD_TOL);
    memcpy(dW, dW0, sizeof(float) * out * in);
    yt_k_matmul_dW(dW, R, x, T, in, out, 0.25f, 2.0f);
    for (int i = 0; i < out * in; i++)
        gW[i] = 0.25 * gW[i] + 2.0 * dW0[i];
    check_err("matmul_dW alpha=.25 beta=2", relerr_fd(dW, gW, out * in), FD_TOL);

    free(x), free(W), free(R), free(y), free(y0), free(dx), free(dx0), free(dW), free(dW0);
    free(c.x), free(c.W), free(c.R), free(c.y), free(ref), free(gx), free(gW);
}
END_TEST

/* ------------------------------------------------------------------ rmsnorm */

typedef struct rms_ctx {
    int T, C;
    double eps;
    double *x, *w, *R, *y;
} rms_ctx;

static void ref_rmsnorm(double *y, const double *x, const double *w, int T, int C, double eps)
{
    for (int t = 0; t < T; t++) {
        double ss = 0;
        for (int j = 0; j < C; j++)
            ss += x[t * C + j] * x[t * C + j];
        double r = 1.0 / sqrt(ss / C + eps);
        for (int j = 0; j < C; j++)
            y[t * C + j] = x[t * C + j] * r * w[j];
    }
}

static double rms_loss(void *vc)
{
    rms_ctx *c = vc;
    ref_rmsnorm(c->y, c->x, c->w, c->T, c->C, c->eps);
    return dot_rd(c->R, c->y, (size_t)c->T * c->C);
}

START_TEST(test_rmsnorm)
{
    rng r = {12};
    const int T = 4, C = 16;
    const float eps = 1e-5f;
    size_t n = (size_t)T * C;
    float *x = fbuf(n), *w = fbuf(C), *R = fbuf(n), *y = fbuf(n), *rstd = fbuf(T), *dx = fbuf(n);
    float *dx0 = fbuf(n);
    frand(x, n, &r, -2, 2);
    frand(w, C, &r, 0.5, 1.5);
    frand(R, n, &r, -1, 1);
    frand(dx0, n, &r, -1, 1);
    rms_ctx c = {T, C, eps, dbuf(n), dbuf(C), dbuf(n), dbuf(n)};
    f2d(c.x, x, n);
    f2d(c.w, w, C);
    f2d(c.R, R, n);
    double *ref = dbuf(n), *g = dbuf(n);
    ref_rmsnorm(ref, c.x, c.w, T, C, eps);
    yt_k_rmsnorm_forward(y, rstd, x, w, T, C, eps);
    check_err("rmsnorm forward", relerr_fd(y, ref, n), FWD_TOL);
    fd_grad(g, c.x, n, rms_loss, &c);
    memcpy(dx, dx0, n * sizeof *dx); /* backward accumulates */
    yt_k_rmsnorm_backward(dx, R, x, w, rstd, T, C);
    for (size_t i = 0; i < n; i++)
        dx[i] -= dx0[i];
    check_err("rmsnorm backward (+=) vs FD", relerr_fd(dx, g, n), FD_TOL);
    free(x), free(w), free(R), free(y), free(rstd), free(dx), free(dx0);
    free(c.x), free(c.w), free(c.R), free(c.y), free(ref), free(g);
}
END_TEST

/* ------------------------------------------------------------------ rope */

/* inv_freq by the transformers formulas, all in double. */
static void ref_inv_freq(double *f, int hd, double theta, const yt_rope_scaling *sc, int *branch)
{
    for (int i = 0; i < hd / 2; i++) {
        double inv = 1.0 / pow(theta, (2.0 * i) / hd);
        branch[i] = 0;
        if (sc && sc->llama3) {
            double lw = sc->original_max_pos / (double)sc->low_freq_factor;
            double hw = sc->original_max_pos / (double)sc->high_freq_factor;
            double wl = 2 * 3.14159265358979323846 / inv;
            if (wl < hw) {
                branch[i] = 1; /* high frequency: unchanged */
            } else if (wl > lw) {
                inv /= sc->factor;
                branch[i] = 2;
            } else {
                double sm = (sc->original_max_pos / wl - sc->low_freq_factor) /
                            (sc->high_freq_factor - sc->low_freq_factor);
                inv = (1 - sm) * inv / sc->factor + sm * inv;
                branch[i] = 3;
            }
        }
        f[i] = inv;
    }
}

typedef struct rope_ctx {
    int T, nh, hd;
    const int32_t *pos;
    double *ct, *st; /* tables as double */
    double *x, *R, *y;
} rope_ctx;

static void ref_rope(double *y, const double *x, const double *ct, const double *st,
                     const int32_t *pos, int T, int nh, int hd)
{
    int half = hd / 2;
    for (int t = 0; t < T; t++)
        for (int h = 0; h < nh; h++)
            for (int i = 0; i < half; i++) {
                const double *a = x + ((size_t)t * nh + h) * hd;
                double c = ct[pos[t] * half + i], s = st[pos[t] * half + i];
                double *o = y + ((size_t)t * nh + h) * hd;
                o[i] = a[i] * c - a[i + half] * s;
                o[i + half] = a[i + half] * c + a[i] * s;
            }
}

static double rope_loss(void *vc)
{
    rope_ctx *c = vc;
    ref_rope(c->y, c->x, c->ct, c->st, c->pos, c->T, c->nh, c->hd);
    return dot_rd(c->R, c->y, (size_t)c->T * c->nh * c->hd);
}

START_TEST(test_rope_inv_freq)
{
    const int hd = 128;
    float f[64];
    double ref[64];
    int br[64];
    /* plain RoPE, Llama 2 style */
    yt_k_rope_inv_freq(f, hd, 10000.0f, NULL);
    ref_inv_freq(ref, hd, 10000.0, NULL, br);
    check_err("rope inv_freq default", relerr_fd(f, ref, 64), 1e-6);
    for (int i = 0; i < 64; i++)
        ck_assert_msg(fabs(f[i] - ref[i]) <= 1e-6 * ref[i], "inv_freq[%d] %g vs %g", i, f[i], ref[i]);
    yt_rope_scaling none = {0, 8, 1, 4, 8192};
    float f2[64];
    yt_k_rope_inv_freq(f2, hd, 10000.0f, &none);
    ck_assert(memcmp(f, f2, sizeof f) == 0);
    /* Llama 3.1 scaling: every branch of the formula must occur */
    yt_rope_scaling sc = {1, 8.0f, 1.0f, 4.0f, 8192};
    yt_k_rope_inv_freq(f, hd, 500000.0f, &sc);
    ref_inv_freq(ref, hd, 500000.0, &sc, br);
    int seen[4] = {0, 0, 0, 0};
    for (int i = 0; i < 64; i++) {
        seen[br[i]]++;
        ck_assert_msg(fabs(f[i] - ref[i]) <= 1e-6 * ref[i], "llama3 inv_freq[%d] %.9g vs %.9g (branch %d)",
                      i, f[i], ref[i], br[i]);
    }
    ck_assert_msg(seen[1] && seen[2] && seen[3], "branches %d %d %d", seen[1], seen[2], seen[3]);
    check_err("rope inv_freq llama3", relerr_fd(f, ref, 64), 1e-6);
    /* values transformers gives for Llama-3.1-8B (first, a blended one, last) */
    ck_assert(f[0] == 1.0f);
    ck_assert(fabs(f[63] - 1.0 / pow(500000.0, 126.0 / 128) / 8) <= 1e-6 * f[63]);
}
END_TEST

START_TEST(test_rope)
{
    rng r = {13};
    const int T = 5, nh = 3, hd = 8, maxp = 40, half = hd / 2;
    size_t n = (size_t)T * nh * hd;
    float inv[4], *ct = fbuf(maxp * half), *st = fbuf(maxp * half);
    yt_k_rope_inv_freq(inv, hd, 10000.0f, NULL);
    yt_k_rope_tables(ct, st, inv, maxp, hd);
    double tmax = 0;
    for (int p = 0; p < maxp; p++)
        for (int i = 0; i < half; i++) {
            double a = (double)p * inv[i];
            double e1 = fabs(ct[p * half + i] - cos(a)), e2 = fabs(st[p * half + i] - sin(a));
            tmax = fmax(tmax, fmax(e1, e2));
        }
    check_err("rope tables vs cos/sin(pos*inv_freq)", tmax, 1e-5);

    int32_t pos[5] = {0, 1, 7, 39, 3};
    float *x = fbuf(n), *x0 = fbuf(n), *R = fbuf(n), *dx = fbuf(n);
    frand(x0, n, &r, -1, 1);
    frand(R, n, &r, -1, 1);
    rope_ctx c = {T, nh, hd, pos, dbuf(maxp * half), dbuf(maxp * half), dbuf(n), dbuf(n), dbuf(n)};
    f2d(c.ct, ct, maxp * half);
    f2d(c.st, st, maxp * half);
    f2d(c.x, x0, n);
    f2d(c.R, R, n);
    double *ref = dbuf(n), *g = dbuf(n);
    ref_rope(ref, c.x, c.ct, c.st, pos, T, nh, hd);
    memcpy(x, x0, n * sizeof *x);
    yt_k_rope_forward(x, ct, st, pos, T, nh, hd);
    check_err("rope forward", relerr_fd(x, ref, n), FWD_TOL);
    fd_grad(g, c.x, n, rope_loss, &c);
    memcpy(dx, R, n * sizeof *dx);
    yt_k_rope_backward(dx, ct, st, pos, T, nh, hd);
    check_err("rope backward vs FD", relerr_fd(dx, g, n), FD_TOL);
    /* backward is the inverse rotation: it undoes forward */
    yt_k_rope_backward(x, ct, st, pos, T, nh, hd);
    check_err("rope backward(forward(x)) == x", relerr_ff(x, x0, n), 1e-6);
    free(ct), free(st), free(x), free(x0), free(R), free(dx);
    free(c.ct), free(c.st), free(c.x), free(c.R), free(c.y), free(ref), free(g);
}
END_TEST

/* ------------------------------------------------------------------ swiglu */

typedef struct sw_ctx {
    size_t n;
    double *g, *u, *R, *h;
} sw_ctx;

static void ref_swiglu(double *h, const double *g, const double *u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h[i] = g[i] / (1.0 + exp(-g[i])) * u[i];
}

static double sw_loss(void *vc)
{
    sw_ctx *c = vc;
    ref_swiglu(c->h, c->g, c->u, c->n);
    return dot_rd(c->R, c->h, c->n);
}

START_TEST(test_swiglu)
{
    rng r = {14};
    const size_t n = 67;
    float *g = fbuf(n), *u = fbuf(n), *R = fbuf(n), *h = fbuf(n), *dg = fbuf(n), *du = fbuf(n);
    frand(g, n, &r, -6, 6);
    g[0] = -95.0f; /* far tails of the sigmoid */
    g[1] = 95.0f;
    frand(u, n, &r, -2, 2);
    frand(R, n, &r, -1, 1);
    sw_ctx c = {n, dbuf(n), dbuf(n), dbuf(n), dbuf(n)};
    f2d(c.g, g, n);
    f2d(c.u, u, n);
    f2d(c.R, R, n);
    double *ref = dbuf(n), *gg = dbuf(n), *gu = dbuf(n);
    ref_swiglu(ref, c.g, c.u, n);
    yt_k_swiglu_forward(h, g, u, n);
    check_err("swiglu forward", relerr_fd(h, ref, n), FWD_TOL);
    fd_grad(gg, c.g, n, sw_loss, &c);
    fd_grad(gu, c.u, n, sw_loss, &c);
    memset(dg, 0xff, n * sizeof *dg); /* overwritten, not accumulated */
    memset(du, 0xff, n * sizeof *du);
    yt_k_swiglu_backward(dg, du, R, g, u, n);
    check_err("swiglu backward dg vs FD", relerr_fd(dg, gg, n), FD_TOL);
    check_err("swiglu backward du vs FD", relerr_fd(du, gu, n), FD_TOL);
    free(g), free(u), free(R), free(h), free(dg), free(du);
    free(c.g), free(c.u), free(c.R), free(c.h), free(ref), free(gg), free(gu);
}
END_TEST

/* ------------------------------------------------------------------ attention */

typedef struct att_ctx {
    int B, S, nh, nkv, hd;
    const int32_t *doc;
    double *q, *k, *v, *R, *out, *lse;
} att_ctx;

static int ref_visible(const int32_t *doc, int b, int S, int i, int j)
{
    return j <= i && (!doc || doc[b * S + i] == doc[b * S + j]);
}

static void ref_attention(double *out, double *lse, const double *q, const double *k,
                          const double *v, const int32_t *doc, int B, int S, int nh, int nkv, int hd)
{
    double scale = 1.0 / sqrt((double)hd);
    double *s = malloc(sizeof(double) * S);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < nh; h++) {
            int kh = h / (nh / nkv);
            for (int i = 0; i < S; i++) {
                const double *qi = q + ((size_t)(b * S + i) * nh + h) * hd;
                double m = -INFINITY;
                for (int j = 0; j < S; j++) {
                    s[j] = -INFINITY;
                    if (!ref_visible(doc, b, S, i, j))
                        continue;
                    const double *kj = k + ((size_t)(b * S + j) * nkv + kh) * hd;
                    double d = 0;
                    for (int c = 0; c < hd; c++)
                        d += qi[c] * kj[c];
                    s[j] = d * scale;
                    m = fmax(m, s[j]);
                }
                double z = 0;
                for (int j = 0; j < S; j++)
                    z += s[j] == -INFINITY ? 0 : exp(s[j] - m);
                double *o = out + ((size_t)(b * S + i) * nh + h) * hd;
                for (int c = 0; c < hd; c++)
                    o[c] = 0;
                for (int j = 0; j < S; j++) {
                    if (s[j] == -INFINITY)
                        continue;
                    double p = exp(s[j] - m) / z;
                    const double *vj = v + ((size_t)(b * S + j) * nkv + kh) * hd;
                    for (int c = 0; c < hd; c++)
                        o[c] += p * vj[c];
                }
                if (lse)
                    lse[(b * nh + h) * S + i] = m + log(z);
            }
        }
    free(s);
}

/* Naive analytic backward in double (materialises P); checked against FD on
 * the small shapes and then used as the reference for shapes too big for FD. */
static void ref_attention_backward(double *dq, double *dk, double *dv, const double *dout,
                                   const double *q, const double *k, const double *v,
                                   const int32_t *doc, int B, int S, int nh, int nkv, int hd)
{
    double scale = 1.0 / sqrt((double)hd);
    size_t nq = (size_t)B * S * nh * hd, nk = (size_t)B * S * nkv * hd;
    memset(dq, 0, nq * sizeof *dq);
    memset(dk, 0, nk * sizeof *dk);
    memset(dv, 0, nk * sizeof *dv);
    double *p = malloc(sizeof(double) * S), *dp = malloc(sizeof(double) * S);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < nh; h++) {
            int kh = h / (nh / nkv);
            for (int i = 0; i < S; i++) {
                const double *qi = q + ((size_t)(b * S + i) * nh + h) * hd;
                const double *doi = dout + ((size_t)(b * S + i) * nh + h) * hd;
                double m = -INFINITY;
                for (int j = 0; j < S; j++) {
                    p[j] = -INFINITY;
                    if (!ref_visible(doc, b, S, i, j))
                        continue;
                    const double *kj = k + ((size_t)(b * S + j) * nkv + kh) * hd;
                    double d = 0;
                    for (int c = 0; c < hd; c++)
                        d += qi[c] * kj[c];
                    p[j] = d * scale;
                    m = fmax(m, p[j]);
                }
                double z = 0;
                for (int j = 0; j < S; j++) {
                    p[j] = p[j] == -INFINITY ? 0 : exp(p[j] - m);
                    z += p[j];
                }
                double D = 0;
                for (int j = 0; j < S; j++) {
                    p[j] /= z;
                    const double *vj = v + ((size_t)(b * S + j) * nkv + kh) * hd;
                    double d = 0;
                    for (int c = 0; c < hd; c++)
                        d += doi[c] * vj[c];
                    dp[j] = d;
                    D += p[j] * d;
                }
                double *dqi = dq + ((size_t)(b * S + i) * nh + h) * hd;
                for (int j = 0; j < S; j++) {
                    double ds = p[j] * (dp[j] - D);
                    size_t ko = ((size_t)(b * S + j) * nkv + kh) * hd;
                    for (int c = 0; c < hd; c++) {
                        dqi[c] += scale * ds * k[ko + c];
                        dk[ko + c] += scale * ds * qi[c];
                        dv[ko + c] += p[j] * doi[c];
                    }
                }
            }
        }
    free(p);
    free(dp);
}

static double att_loss(void *vc)
{
    att_ctx *c = vc;
    ref_attention(c->out, NULL, c->q, c->k, c->v, c->doc, c->B, c->S, c->nh, c->nkv, c->hd);
    return dot_rd(c->R, c->out, (size_t)c->B * c->S * c->nh * c->hd);
}

typedef struct att_run {
    float *out, *lse, *dq, *dk, *dv;
} att_run;

static void att_run_kernels(att_run *o, const float *q, const float *k, const float *v,
                            const float *dout, const int32_t *doc, int B, int S, int nh, int nkv,
                            int hd)
{
    size_t nq = (size_t)B * S * nh * hd, nk = (size_t)B * S * nkv * hd;
    o->out = fbuf(nq), o->lse = fbuf((size_t)B * nh * S);
    o->dq = fbuf(nq), o->dk = fbuf(nk), o->dv = fbuf(nk);
    memset(o->dk, 0xff, nk * sizeof(float)); /* must be overwritten */
    memset(o->dv, 0xff, nk * sizeof(float));
    float *ws = fbuf(yt_k_attention_workspace(S, yt_k_get_threads()));
    yt_k_attention_forward(o->out, o->lse, q, k, v, doc, B, S, nh, nkv, hd, ws);
    yt_k_attention_backward(o->dq, o->dk, o->dv, dout, q, k, v, o->out, o->lse, doc, B, S, nh, nkv,
                            hd, ws);
    free(ws);
}

static void att_free(att_run *o)
{
    free(o->out), free(o->lse), free(o->dq), free(o->dk), free(o->dv);
}

/* One attention case: forward, lse, backward against the double references;
 * finite differences when fd is set.  Runs with 1 and 2 threads. */
static void attention_case(const char *name, int B, int S, int nh, int nkv, int hd,
                           const int32_t *doc, int fd, uint64_t seed)
{
    rng r = {seed};
    size_t nq = (size_t)B * S * nh * hd, nk = (size_t)B * S * nkv * hd, nl = (size_t)B * nh * S;
    float *q = fbuf(nq), *k = fbuf(nk), *v = fbuf(nk), *R = fbuf(nq);
    frand(q, nq, &r, -1.5, 1.5);
    frand(k, nk, &r, -1.5, 1.5);
    frand(v, nk, &r, -1, 1);
    frand(R, nq, &r, -1, 1);
    att_ctx c = {B, S, nh, nkv, hd, doc, dbuf(nq), dbuf(nk), dbuf(nk), dbuf(nq), dbuf(nq), dbuf(nl)};
    f2d(c.q, q, nq);
    f2d(c.k, k, nk);
    f2d(c.v, v, nk);
    f2d(c.R, R, nq);
    double *ref = dbuf(nq), *lse = dbuf(nl);
    double *gq = dbuf(nq), *gk = dbuf(nk), *gv = dbuf(nk);
    char what[128];

    yt_k_set_threads(1);
    att_run a;
    att_run_kernels(&a, q, k, v, R, doc, B, S, nh, nkv, hd);
    ref_attention(ref, lse, c.q, c.k, c.v, doc, B, S, nh, nkv, hd);
    snprintf(what, sizeof what, "attention %s forward", name);
    check_err(what, relerr_fd(a.out, ref, nq), FWD_TOL);
    snprintf(what, sizeof what, "attention %s lse", name);
    check_err(what, relerr_fd(a.lse, lse, nl), FWD_TOL);

    ref_attention_backward(gq, gk, gv, c.R, c.q, c.k, c.v, doc, B, S, nh, nkv, hd);
    if (fd) {
        double *fq = dbuf(nq), *fk = dbuf(nk), *fv = dbuf(nk);
        fd_grad(fq, c.q, nq, att_loss, &c);
        fd_grad(fk, c.k, nk, att_loss, &c);
        fd_grad(fv, c.v, nk, att_loss, &c);
        snprintf(what, sizeof what, "attention %s dq vs FD", name);
        check_err(what, relerr_fd(a.dq, fq, nq), FD_TOL);
        snprintf(what, sizeof what, "attention %s dk vs FD", name);
        check_err(what, relerr_fd(a.dk, fk, nk), FD_TOL);
        snprintf(what, sizeof what, "attention %s dv vs FD", name);
        check_err(what, relerr_fd(a.dv, fv, nk), FD_TOL);
        /* the double analytic reference must itself agree with FD */
        double e = 0;
        for (size_t i = 0; i < nq; i++)
            e = fmax(e, fabs(fq[i] - gq[i]));
        for (size_t i = 0; i < nk; i++)
            e = fmax(e, fmax(fabs(fk[i] - gk[i]), fabs(fv[i] - gv[i])));
        ck_assert_msg(e < 1e-7, "reference attention backward disagrees with FD: %g", e);
        free(fq), free(fk), free(fv);
    } else {
        snprintf(what, sizeof what, "attention %s dq vs double ref", name);
        check_err(what, relerr_fd(a.dq, gq, nq), FD_TOL);
        snprintf(what, sizeof what, "attention %s dk vs double ref", name);
        check_err(what, relerr_fd(a.dk, gk, nk), FD_TOL);
        snprintf(what, sizeof what, "attention %s dv vs double ref", name);
        check_err(what, relerr_fd(a.dv, gv, nk), FD_TOL);
    }

    yt_k_set_threads(2);
    att_run a2;
    att_run_kernels(&a2, q, k, v, R, doc, B, S, nh, nkv, hd);
    check_same("attention out", a.out, a2.out, nq);
    check_same("attention lse", a.lse, a2.lse, nl);
    check_same("attention dq", a.dq, a2.dq, nq);
    check_same("attention dk", a.dk, a2.dk, nk);
    check_same("attention dv", a.dv, a2.dv, nk);
    yt_k_set_threads(1);

    att_free(&a);
    att_free(&a2);
    free(q), free(k), free(v), free(R);
    free(c.q), free(c.k), free(c.v), free(c.R), free(c.out), free(c.lse);
    free(ref), free(lse), free(gq), free(gk), free(gv);
}

START_TEST(test_attention_gqa)
{
    attention_case("B2 S7 nh4 nkv2", 2, 7, 4, 2, 8, NULL, 1, 21);
}
END_TEST

START_TEST(test_attention_doc)
{
    const int32_t doc[14] = {0, 0, 0, 1, 1, 2, 2, 5, 5, 5, 5, 6, 6, 6};
    attention_case("B2 S7 nh4 nkv2 doc", 2, 7, 4, 2, 8, doc, 1, 22);
}
END_TEST

START_TEST(test_attention_mha)
{
    attention_case("B2 S7 nh4 nkv4", 2, 7, 4, 4, 8, NULL, 1, 23);
    attention_case("B1 S5 nh3 nkv1", 1, 5, 3, 1, 4, NULL, 1, 24);
}
END_TEST

/* Longer than one query block, documents crossing block edges and repeating
 * an id non-contiguously: against the double analytic reference. */
START_TEST(test_attention_long)
{
    enum { B = 2, S = 150 };
    int32_t doc[B * S];
    for (int i = 0; i < S; i++) {
        doc[i] = i < 30 ? 0 : i < 100 ? 1 : i < 140 ? 2 : 0; /* id 0 again at the end */
        doc[S + i] = i < 65 ? 7 : 8;
    }
    attention_case("B2 S150 nh4 nkv2", B, S, 4, 2, 16, NULL, 0, 25);
    attention_case("B2 S150 nh4 nkv2 doc", B, S, 4, 2, 16, doc, 0, 26);
}
END_TEST

/* Attention against a cache: B sequences laid out as cache rows [b*cap + pos],
 * queried as if a generator fed each sequence in chunks (the prompt, then one
 * token at a time): every token sees its own sequence's rows 0..pos.  Must
 * equal causal attention over the whole sequences (double reference), with 1
 * and 2 threads alike. */
START_TEST(test_attention_cached)
{
    enum { B = 2, S = 37, NH = 6, NKV = 2, HD = 16, CAP = 40 };
    rng r = {27};
    size_t nq = (size_t)B * S * NH * HD, nk = (size_t)B * S * NKV * HD;
    float *q = fbuf(nq), *k = fbuf(nk), *v = fbuf(nk);
    frand(q, nq, &r, -1.5, 1.5);
    frand(k, nk, &r, -1.5, 1.5);
    frand(v, nk, &r, -1, 1);
    double *dq = dbuf(nq), *dk = dbuf(nk), *dv = dbuf(nk), *ref = dbuf(nq);
    f2d(dq, q, nq);
    f2d(dk, k, nk);
    f2d(dv, v, nk);
    ref_attention(ref, NULL, dq, dk, dv, NULL, B, S, NH, NKV, HD);
    /* the cache: each sequence's rows at b*CAP, unused rows poisoned */
    size_t row = NKV * HD;
    float *kc = fbuf((size_t)B * CAP * row), *vc = fbuf((size_t)B * CAP * row);
    for (size_t i = 0; i < (size_t)B * CAP * row; i++)
        kc[i] = vc[i] = NAN;
    for (int b = 0; b < B; b++) {
        memcpy(kc + (size_t)b * CAP * row, k + (size_t)b * S * row, sizeof(float) * S * row);
        memcpy(vc + (size_t)b * CAP * row, v + (size_t)b * S * row, sizeof(float) * S * row);
    }
    for (int threads = 1; threads <= 2; threads++) {
        yt_k_set_threads(threads);
        float *out = fbuf(nq), *ws = fbuf(yt_k_attention_cached_workspace(CAP, threads));
        /* steps: sequence 0's 11-token prompt with sequence 1's 5-token one, then
         * mixed single tokens; tokens of one call are in any sequence order */
        int done[B] = {0, 0};
        int64_t start[B * S];
        int32_t nkeys[B * S];
        float *qs = fbuf(nq), *os = fbuf(nq);
        while (done[0] < S || done[1] < S) {
            int T = 0, at[B * S], chunk[B] = {done[0] == 0 ? 11 : 1, done[1] == 0 ? 5 : 1};
            for (int b = B - 1; b >= 0; b--)
                for (int i = 0; i < chunk[b] && done[b] < S; i++, T++) {
                    int p = done[b]++;
                    at[T] = b * S + p;
                    start[T] = (int64_t)b * CAP;
                    nkeys[T] = p + 1;
                    memcpy(qs + (size_t)T * NH * HD, q + (size_t)at[T] * NH * HD, sizeof(float) * NH * HD);
                }
            yt_k_attention_cached(os, qs, kc, vc, start, nkeys, T, NH, NKV, HD, CAP, ws);
            for (int t = 0; t < T; t++)
                memcpy(out + (size_t)at[t] * NH * HD, os + (size_t)t * NH * HD, sizeof(float) * NH * HD);
        }
        check_err("attention_cached vs causal attention", relerr_fd(out, ref, nq), FWD_TOL);
        free(out), free(ws), free(qs), free(os);
    }
    yt_k_set_threads(1);
    free(q), free(k), free(v), free(kc), free(vc), free(dq), free(dk), free(dv), free(ref);
}
END_TEST

/* ------------------------------------------------------------------ lm_head + xent */

typedef struct xe_ctx {
    int T, C, V;
    const int32_t *target;
    const double *weight;
    double *h, *W;
} xe_ctx;

static double ref_xent(const double *h, const double *W, const int32_t *target, const double *weight,
                       int T, int C, int V)
{
    double loss = 0;
    double *l = malloc(sizeof(double) * V);
    for (int t = 0; t < T; t++) {
        double m = -INFINITY;
        for (int j = 0; j < V; j++) {
            double s = 0;
            for (int c = 0; c < C; c++)
                s += h[t * C + c] * W[j * C + c];
            l[j] = s;
            m = fmax(m, s);
        }
        double z = 0;
        for (int j = 0; j < V; j++)
            z += exp(l[j] - m);
        loss += weight[t] * (m + log(z) - l[target[t]]);
    }
    free(l);
    return loss;
}

static double xe_loss(void *vc)
{
    xe_ctx *c = vc;
    return ref_xent(c->h, c->W, c->target, c->weight, c->T, c->C, c->V);
}

START_TEST(test_lmhead_xent)
{
    rng r = {31};
    enum { T = 9, C = 6, V = 11, CH = 4 };
    float *h = fbuf(T * C), *W = fbuf(V * C), *dh = fbuf(T * C), *dh2 = fbuf(T * C);
    float weight[T];
    int32_t target[T];
    double wd[T];
    frand(h, T * C, &r, -2, 2);
    frand(W, V * C, &r, -1.5, 1.5);
    int counted = 0;
    for (int t = 0; t < T; t++) {
        target[t] = (int32_t)((yt_mix64(100 + t) >> 33) % V);
        /* chunks of 4: rows 0-3 (row 2 not counted), 4-7 (none counted), 8 */
        weight[t] = (t == 2 || (t >= 4 && t <= 7)) ? 0.0f : 1.0f;
        counted += weight[t] != 0;
    }
    for (int t = 0; t < T; t++) {
        if (weight[t] != 0)
            weight[t] = 1.0f / counted;
        wd[t] = weight[t];
    }
    xe_ctx c = {T, C, V, target, wd, dbuf(T * C), dbuf(V * C)};
    f2d(c.h, h, T * C);
    f2d(c.W, W, V * C);
    double *g = dbuf(T * C);
    float *ws = fbuf(yt_k_lmhead_xent_workspace(CH, V));

    double ref = ref_xent(c.h, c.W, target, wd, T, C, V);
    for (int i = 0; i < T * C; i++)
        dh[i] = 123.0f; /* overwritten, zero rows included */
    yt_k_set_threads(1);
    double loss = yt_k_lmhead_xent(dh, h, W, target, weight, T, C, V, CH, ws);
    check_err("lmhead_xent loss", fabs(loss - ref) / fabs(ref), FWD_TOL);
    double loss_nograd = yt_k_lmhead_xent(NULL, h, W, target, weight, T, C, V, CH, ws);
    ck_assert_msg(loss_nograd == loss, "loss without dh %.17g vs %.17g", loss_nograd, loss);
    fd_grad(g, c.h, T * C, xe_loss, &c);
    check_err("lmhead_xent dh vs FD", relerr_fd(dh, g, T * C), FD_TOL);
    for (int t = 0; t < T; t++)
        if (weight[t] == 0)
            for (int j = 0; j < C; j++)
                ck_assert_msg(dh[t * C + j] == 0.0f, "dh row %d not zero", t);
    /* chunk size must not change the math; one chunk = whole batch */
    float *ws9 = fbuf(yt_k_lmhead_xent_workspace(T, V));
    double loss9 = yt_k_lmhead_xent(dh2, h, W, target, weight, T, C, V, T, ws9);
    ck_assert(fabs(loss9 - loss) <= 1e-6 * fabs(loss));
    check_err("lmhead_xent dh chunk 9 vs chunk 4", relerr_ff(dh2, dh, T * C), 1e-6);
    free(ws9);
    /* all-zero weights: loss 0, dh 0 */
    float zw[T] = {0};
    ck_assert(yt_k_lmhead_xent(dh2, h, W, target, zw, T, C, V, CH, ws) == 0.0);
    for (int i = 0; i < T * C; i++)
        ck_assert(dh2[i] == 0.0f);
    free(h), free(W), free(dh), free(dh2), free(c.h), free(c.W), free(g), free(ws);
}
END_TEST

/* ------------------------------------------------------------------ dropout */

START_TEST(test_dropout)
{
    rng r = {41};
    const size_t n = 100000;
    const float p = 0.1f;
    const uint64_t seed = 0x1234abcdULL;
    float *x = fbuf(n), *out = fbuf(n), *dout = fbuf(n), *dx = fbuf(n), *dx0 = fbuf(n);
    frand(x, n, &r, 0.5, 1.5); /* never zero, so out==0 means dropped */
    frand(dout, n, &r, -1, 1);
    frand(dx0, n, &r, -1, 1);
    yt_k_dropout_forward(out, x, n, p, seed);
    size_t kept = 0, bad = n;
    for (size_t i = 0; i < n; i++) {
        int keep = yt_u01(yt_mix64(seed ^ (uint64_t)i)) >= p; /* the contract's mask */
        kept += keep;
        if (bad == n && ((out[i] != 0.0f) != keep ||
                         (keep && fabs(out[i] - x[i] / (1.0 - p)) > 1e-6 * fabs(out[i]))))
            bad = i;
    }
    ck_assert_msg(bad == n, "dropout forward wrong at %zu: %g from %g", bad, out[bad % n], x[bad % n]);
    /* binomial(n, 1-p): 5 standard deviations */
    double mean = n * (1.0 - p), sd = sqrt(n * p * (1.0 - p));
    fprintf(stderr, "  dropout p=0.1 kept %zu of %zu (expect %.0f +- %.0f)\n", kept, n, mean, sd);
    ck_assert_msg(fabs((double)kept - mean) <= 5 * sd, "kept %zu, expected %.0f", kept, mean);
    memcpy(dx, dx0, n * sizeof *dx);
    yt_k_dropout_backward(dx, dout, n, p, seed);
    for (size_t i = 0; i < n && bad == n; i++) {
        double want = dx0[i] + (out[i] != 0.0f ? dout[i] / (1.0 - p) : 0.0);
        if (fabs(dx[i] - want) > 1e-6)
            bad = i;
    }
    ck_assert_msg(bad == n, "dropout backward wrong at %zu", bad);
    /* another seed, another mask */
    float *out2 = fbuf(n);
    yt_k_dropout_forward(out2, x, n, p, seed + 1);
    ck_assert(memcmp(out, out2, n * sizeof *out) != 0);
    /* thread count does not change the mask */
    yt_k_set_threads(2);
    yt_k_dropout_forward(out2, x, n, p, seed);
    yt_k_set_threads(1);
    check_same("dropout forward", out, out2, n);
    /* p = 0 is the identity, backward adds dout */
    yt_k_dropout_forward(out, x, n, 0.0f, seed);
    ck_assert(memcmp(out, x, n * sizeof *out) == 0);
    memcpy(dx, dx0, n * sizeof *dx);
    yt_k_dropout_backward(dx, dout, n, 0.0f, seed);
    for (size_t i = 0; i < n && bad == n; i++)
        if (dx[i] != dx0[i] + dout[i])
            bad = i;
    ck_assert_msg(bad == n, "dropout p=0 backward wrong at %zu", bad);
    free(x), free(out), free(out2), free(dout), free(dx), free(dx0);
}
END_TEST

/* ------------------------------------------------------------------ adamw */

START_TEST(test_adamw)
{
    rng r = {51};
    enum { N = 37 };
    float p[N], g[N], m[N], v[N];
    double pd[N], md[N], vd[N];
    frand(p, N, &r, -1, 1);
    memset(m, 0, sizeof m);
    memset(v, 0, sizeof v);
    f2d(pd, p, N);
    for (int i = 0; i < N; i++)
        md[i] = vd[i] = 0;
    /* the reference uses the float values the kernel receives */
    const float lrf = 1e-2f, b1f = 0.9f, b2f = 0.999f, epsf = 1e-8f, wdf = 0.1f, gsf = 0.5f;
    const double lr = lrf, b1 = b1f, b2 = b2f, eps = epsf, wd = wdf, gs = gsf;
    for (int t = 1; t <= 3; t++) {
        frand(g, N, &r, -1, 1);
        g[0] = 0.0f; /* v = 0 path: eps only */
        float bc1f = (float)(1 - pow(b1, t)), bc2f = (float)(1 - pow(b2, t));
        double bc1 = bc1f, bc2 = bc2f;
        yt_k_adamw(p, g, m, v, N, lrf, b1f, b2f, epsf, wdf, bc1f, bc2f, gsf);
        for (int i = 0; i < N; i++) {
            double gg = g[i] * gs;
            md[i] = b1 * md[i] + (1 - b1) * gg;
            vd[i] = b2 * vd[i] + (1 - b2) * gg * gg;
            pd[i] -= lr * ((md[i] / bc1) / (sqrt(vd[i] / bc2) + eps) + wd * pd[i]);
        }
    }
    check_err("adamw p after 3 steps", relerr_fd(p, pd, N), FWD_TOL);
    check_err("adamw m after 3 steps", relerr_fd(m, md, N), FWD_TOL);
    check_err("adamw v after 3 steps", relerr_fd(v, vd, N), FWD_TOL);
    /* per-element check too: the update is small next to p */
    for (int i = 0; i < N; i++)
        ck_assert_msg(fabs(p[i] - pd[i]) <= 1e-6, "p[%d] %.9g vs %.9g", i, p[i], pd[i]);
}
END_TEST

/* ------------------------------------------------------------------ elementwise */

START_TEST(test_elementwise)
{
    rng r = {61};
    const size_t n = 1000003; /* several sumsq blocks and rounds, odd tail */
    float *x = fbuf(n), *y = fbuf(n), *y0 = fbuf(n);
    frand(x, n, &r, -1, 1);
    frand(y0, n, &r, -1, 1);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    yt_k_set_threads(1);
    double s1 = yt_k_sumsq(x, n);
    yt_k_set_threads(2);
    double s2 = yt_k_sumsq(x, n);
    yt_k_set_threads(1);
    check_err("sumsq", fabs(s1 - s) / s, 1e-10);
    ck_assert_msg(s1 == s2, "sumsq 1 vs 2 threads: %.17g %.17g", s1, s2);
    ck_assert(yt_k_sumsq(x, 0) == 0.0);
    ck_assert(yt_k_sumsq(x, 3) == (double)x[0] * x[0] + (double)x[1] * x[1] + (double)x[2] * x[2]);

    size_t bad = n;
    memcpy(y, y0, n * sizeof *y);
    yt_k_add_inplace(y, x, n);
    for (size_t i = 0; i < n && bad == n; i++)
        if (y[i] != y0[i] + x[i])
            bad = i;
    ck_assert_msg(bad == n, "add_inplace wrong at %zu", bad);
    memcpy(y, y0, n * sizeof *y);
    yt_k_axpy(y, -0.75f, x, n);
    for (size_t i = 0; i < n && bad == n; i++)
        if (y[i] != y0[i] + -0.75f * x[i])
            bad = i;
    ck_assert_msg(bad == n, "axpy wrong at %zu", bad);
    memcpy(y, y0, n * sizeof *y);
    yt_k_scale(y, 3.0f, n);
    for (size_t i = 0; i < n && bad == n; i++)
        if (y[i] != y0[i] * 3.0f)
            bad = i;
    ck_assert_msg(bad == n, "scale wrong at %zu", bad);

    enum { T = 5, C = 7, V = 4 };
    float table[V * C], out[T * C];
    int32_t ids[T] = {3, 0, 3, 1, 2};
    frand(table, V * C, &r, -1, 1);
    yt_k_embed(out, table, ids, T, C);
    for (int t = 0; t < T; t++)
        ck_assert(memcmp(out + t * C, table + ids[t] * C, sizeof(float) * C) == 0);
    free(x), free(y), free(y0);
}
END_TEST

/* ------------------------------------------------------------------ threads */

/* Sizes large enough that every parallel path really splits. */
START_TEST(test_threads_identical)
{
    rng r = {71};
    ck_assert_int_eq((yt_k_set_threads(2), yt_k_get_threads()), 2);
    ck_assert_int_eq((yt_k_set_threads(1), yt_k_get_threads()), 1);
    const int T = 64, C = 1024, V = 3000, CH = 24;
    size_t n = (size_t)T * C;
    float *x = fbuf(n), *w = fbuf(C), *R = fbuf(n), *W = fbuf((size_t)V * C);
    frand(x, n, &r, -1, 1);
    frand(w, C, &r, 0.5, 1.5);
    frand(R, n, &r, -1, 1);
    frand(W, (size_t)V * C, &r, -0.1, 0.1);
    float weight[64];
    int32_t target[64], pos[64];
    for (int t = 0; t < T; t++) {
        weight[t] = t % 5 ? 1.0f / T : 0.0f;
        target[t] = (int32_t)(yt_mix64(t) % V);
        pos[t] = t;
    }
    float inv[64], *ct = fbuf(64 * 64), *st = fbuf(64 * 64);
    yt_rope_scaling sc = {1, 8, 1, 4, 8192};
    yt_k_rope_inv_freq(inv, 128, 500000.0f, &sc);
    yt_k_rope_tables(ct, st, inv, 64, 128);
    float *res[2][8];
    double loss[2];
    for (int th = 0; th < 2; th++) {
        yt_k_set_threads(th + 1);
        for (int i = 0; i < 8; i++)
            res[th][i] = fbuf(n);
        float *rstd = fbuf(T), *ws = fbuf(yt_k_lmhead_xent_workspace(CH, V));
        yt_k_rmsnorm_forward(res[th][0], rstd, x, w, T, C, 1e-5f);
        memcpy(res[th][1], x, n * sizeof(float));
        yt_k_rmsnorm_backward(res[th][1], R, x, w, rstd, T, C);
        yt_k_swiglu_forward(res[th][2], x, R, n);
        yt_k_swiglu_backward(res[th][3], res[th][4], res[th][0], x, R, n);
        memcpy(res[th][5], x, n * sizeof(float));
        yt_k_rope_forward(res[th][5], ct, st, pos, T, C / 128, 128);
        loss[th] = yt_k_lmhead_xent(res[th][6], x, W, target, weight, T, C, V, CH, ws);
        memcpy(res[th][7], R, n * sizeof(float));
        float *m = fbuf(n), *v = fbuf(n);
        for (int step = 0; step < 2; step++)
            yt_k_adamw(res[th][7], step ? R : x, m, v, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 0.1f,
                       0.001f, 1.0f);
        free(rstd), free(ws), free(m), free(v);
    }
    yt_k_set_threads(1);
    const char *names[8] = {"rmsnorm fwd", "rmsnorm bwd", "swiglu fwd", "swiglu bwd dg",
                            "swiglu bwd du", "rope fwd", "xent dh", "adamw"};
    for (int i = 0; i < 8; i++) {
        if (i == 6) /* logits and dh come from multi-threaded sgemm: not bitwise */
            check_err("xent dh 1 vs 2 threads", relerr_ff(res[1][i], res[0][i], n), 1e-5);
        else
            check_same(names[i], res[0][i], res[1][i], n);
    }
    ck_assert_msg(fabs(loss[0] - loss[1]) <= 1e-6 * fabs(loss[0]), "xent loss %.17g vs %.17g",
                  loss[0], loss[1]);
    for (int th = 0; th < 2; th++)
        for (int i = 0; i < 8; i++)
            free(res[th][i]);
    free(x), free(w), free(R), free(W), free(ct), free(st);
}
END_TEST

static Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("cpu");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_matmul);
    tcase_add_test(tc, test_rmsnorm);
    tcase_add_test(tc, test_rope_inv_freq);
    tcase_add_test(tc, test_rope);
    tcase_add_test(tc, test_swiglu);
    tcase_add_test(tc, test_attention_gqa);
    tcase_add_test(tc, test_attention_doc);
    tcase_add_test(tc, test_attention_mha);
    tcase_add_test(tc, test_attention_long);
    tcase_add_test(tc, test_attention_cached);
    tcase_add_test(tc, test_lmhead_xent);
    tcase_add_test(tc, test_dropout);
    tcase_add_test(tc, test_adamw);
    tcase_add_test(tc, test_elementwise);
    tcase_add_test(tc, test_threads_identical);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kernels_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
