/* tests/emu/emu_misc.c: the small ops of kernels_cuda.h (memset, copy, add,
 * scale, the bf16 embedding gather, dropout, sum of squares, fills) on the CPU
 * kernels or in plain C, with the same masks and bf16 roundings as the GPU. */
#include "tests/emu/emu.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

int yt_kc_memset(yt_kc_ctx *c, void *p, int value, size_t bytes, yt_err *e)
{
    (void)c;
    if (bytes == 0)
        return 0;
    emu_call k;
    emu_begin(&k, "yt_kc_memset");
    emu_arg_add(&k, "p", p, bytes, 1, EMU_W);
    if (emu_enter(&k, e))
        return -1;
    memset(p, value, bytes);
    emu_leave(&k);
    return 0;
}

int yt_kc_copy(yt_kc_ctx *c, void *dst, const void *src, size_t bytes, yt_err *e)
{
    (void)c;
    if (bytes == 0)
        return 0;
    emu_call k;
    emu_begin(&k, "yt_kc_copy");
    emu_arg_add(&k, "dst", dst, bytes, 1, EMU_W);
    emu_arg_add(&k, "src", src, bytes, 1, EMU_R);
    emu_alias_ok(&k); /* misc.cu: dst == src is a no-op */
    if (emu_enter(&k, e))
        return -1;
    if (dst != src)
        memcpy(dst, src, bytes);
    emu_leave(&k);
    return 0;
}

int yt_kc_add(yt_kc_ctx *c, float *y, const float *x, size_t n, yt_err *e)
{
    (void)c;
    if (n == 0)
        return 0;
    emu_call k;
    emu_begin(&k, "yt_kc_add");
    emu_arg_add(&k, "y", y, n, sizeof(float), EMU_RW);
    emu_arg_add(&k, "x", x, n, sizeof(float), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    yt_k_add_inplace(y, x, n);
    emu_leave(&k);
    return 0;
}

int yt_kc_scale(yt_kc_ctx *c, float *x, float s, size_t n, yt_err *e)
{
    (void)c;
    if (n == 0)
        return 0;
    emu_call k;
    emu_begin(&k, "yt_kc_scale");
    emu_arg_add(&k, "x", x, n, sizeof(float), EMU_RW);
    if (emu_enter(&k, e))
        return -1;
    yt_k_scale(x, s, n);
    emu_leave(&k);
    return 0;
}

int yt_kc_embed_bf16(yt_kc_ctx *c, float *out, const uint16_t *E16, const int32_t *ids, int T, int C,
                     yt_err *e)
{
    (void)c;
    const char *op = "yt_kc_embed_bf16";
    if (T < 0 || C < 0)
        return yt_errf(e, "%s: bad shape T=%d C=%d", op, T, C);
    if (T == 0 || C == 0)
        return 0;
    emu_call k;
    emu_begin(&k, op);
    emu_arg_add(&k, "out", out, (size_t)T * C, sizeof(float), EMU_W);
    emu_arg_add(&k, "E16 [max(ids)+1, C]", E16, (size_t)C, sizeof(uint16_t), EMU_R);
    emu_arg_add(&k, "ids", ids, (size_t)T, sizeof(int32_t), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    /* V is not an argument: the rows up to the largest id must at least lie
     * in E16's allocation. */
    int rc = 0;
    int32_t maxid = 0;
    for (int t = 0; t < T && rc == 0; t++) {
        if (ids[t] < 0)
            rc = yt_errf(e, "%s: ids[%d] = %d is negative", op, t, ids[t]);
        maxid = ids[t] > maxid ? ids[t] : maxid;
    }
    if (rc == 0)
        rc = emu_extend(&k, 1, ((size_t)maxid + 1) * C * sizeof(uint16_t), e);
    for (int t = 0; rc == 0 && t < T; t++)
        for (int j = 0; j < C; j++)
            out[(size_t)t * C + j] = yt_kc_f32_from_bf16(E16[(size_t)ids[t] * C + j]);
    emu_leave(&k);
    return rc;
}

int yt_kc_dropout_forward(yt_kc_ctx *c, float *out, const float *x, size_t n, float p, uint64_t seed,
                          yt_err *e)
{
    (void)c;
    if (n == 0)
        return 0;
    emu_call k;
    emu_begin(&k, "yt_kc_dropout_forward");
    emu_arg_add(&k, "out", out, n, sizeof(float), EMU_W);
    emu_arg_add(&k, "x", x, n, sizeof(float), EMU_R);
    emu_alias_ok(&k); /* the contract: out == x allowed */
    if (emu_enter(&k, e))
        return -1;
    yt_k_dropout_forward(out, x, n, p, seed);
    emu_leave(&k);
    return 0;
}

int yt_kc_dropout_backward(yt_kc_ctx *c, float *dx, const float *dout, size_t n, float p,
                           uint64_t seed, yt_err *e)
{
    (void)c;
    if (n == 0)
        return 0;
    emu_call k;
    emu_begin(&k, "yt_kc_dropout_backward");
    emu_arg_add(&k, "dx", dx, n, sizeof(float), EMU_RW);
    emu_arg_add(&k, "dout", dout, n, sizeof(float), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    yt_k_dropout_backward(dx, dout, n, p, seed);
    emu_leave(&k);
    return 0;
}

int yt_kc_sumsq(yt_kc_ctx *c, double *out_dev, const float *x, size_t n, yt_err *e)
{
    (void)c;
    emu_call k;
    emu_begin(&k, "yt_kc_sumsq");
    emu_arg_add(&k, "out_dev", out_dev, 1, sizeof(double), EMU_W);
    emu_arg_add(&k, "x", x, n, sizeof(float), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    *out_dev = n ? yt_k_sumsq(x, n) : 0.0;
    emu_leave(&k);
    return 0;
}

int yt_kc_fill_uniform_bf16(yt_kc_ctx *c, uint16_t *W16, size_t n, float a, uint64_t seed,
                            yt_err *e)
{
    (void)c;
    if (n == 0)
        return 0;
    emu_call k;
    emu_begin(&k, "yt_kc_fill_uniform_bf16");
    emu_arg_add(&k, "W16", W16, n, sizeof(uint16_t), EMU_W);
    if (emu_enter(&k, e))
        return -1;
    for (size_t i = 0; i < n; i++) {
        volatile float v = a * (2.0f * yt_u01(yt_mix64(seed ^ (uint64_t)i)) - 1.0f); /* no FMA */
        W16[i] = yt_kc_bf16_from_f32(v);
    }
    emu_leave(&k);
    return 0;
}

int yt_kc_fill_bf16(yt_kc_ctx *c, uint16_t *W16, size_t n, float value, yt_err *e)
{
    (void)c;
    if (n == 0)
        return 0;
    emu_call k;
    emu_begin(&k, "yt_kc_fill_bf16");
    emu_arg_add(&k, "W16", W16, n, sizeof(uint16_t), EMU_W);
    if (emu_enter(&k, e))
        return -1;
    uint16_t b = yt_kc_bf16_from_f32(value);
    for (size_t i = 0; i < n; i++)
        W16[i] = b;
    emu_leave(&k);
    return 0;
}

int yt_kc_fill_f32(yt_kc_ctx *c, float *x, size_t n, float value, yt_err *e)
{
    (void)c;
    if (n == 0)
        return 0;
    emu_call k;
    emu_begin(&k, "yt_kc_fill_f32");
    emu_arg_add(&k, "x", x, n, sizeof(float), EMU_W);
    if (emu_enter(&k, e))
        return -1;
    for (size_t i = 0; i < n; i++)
        x[i] = value;
    emu_leave(&k);
    return 0;
}

int yt_kc_dequant_nf4_bf16(yt_kc_ctx *c, uint16_t *dst, const uint8_t *codes, const uint8_t *qabsmax,
                           const float *absmax2, const float *offset, const float *map,
                           const float *levels, size_t n, yt_err *e)
{
    (void)c;
    if (n == 0)
        return 0;
    size_t blocks = (n + 63) / 64, groups = (blocks + 255) / 256;
    emu_call k;
    emu_begin(&k, "yt_kc_dequant_nf4_bf16");
    emu_arg_add(&k, "dst", dst, n, sizeof(uint16_t), EMU_W);
    emu_arg_add(&k, "codes", codes, (n + 1) / 2, 1, EMU_R);
    emu_arg_add(&k, "qabsmax", qabsmax, blocks, 1, EMU_R);
    emu_arg_add(&k, "absmax2", absmax2, groups, sizeof(float), EMU_R);
    emu_arg_add(&k, "offset", offset, 1, sizeof(float), EMU_R);
    emu_arg_add(&k, "map", map, 256, sizeof(float), EMU_R);
    emu_arg_add(&k, "levels", levels, 16, sizeof(float), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    /* the CPU decode, then the GPU's rounding to bf16 */
    float *tmp = malloc(n * sizeof *tmp);
    if (!tmp) {
        emu_leave(&k);
        return yt_errf(e, "yt_kc_dequant_nf4_bf16 (emulated): no host memory for %zu floats", n);
    }
    yt_k_dequant_nf4(tmp, codes, qabsmax, absmax2, *offset, map, levels, n);
    for (size_t i = 0; i < n; i++)
        dst[i] = yt_kc_bf16_from_f32(tmp[i]);
    free(tmp);
    emu_leave(&k);
    return 0;
}
