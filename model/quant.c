/* Base-weight storage formats: the layouts and conversions of model/quant.h.
 * Every value is computed with the fp32 operations bitsandbytes' reference
 * (torch) backend uses, in the same order: x * (1 / absmax) clamped, the
 * nearest level, level * scale; scale = map[q] * absmax2 + offset. */
#include "model/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "model/safetensors.h"

/* QLoRA's NF4 levels as bitsandbytes lists them (the quantiles of N(0, 1),
 * normalised to [-1, 1], with an exact 0). */
const float yt_nf4_levels[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
};
#define NF4_ZERO 7

const char *yt_base_dtype_name(int dtype)
{
    static const char *const names[] = {"f32", "bf16", "nf4", "int8"};
    return dtype >= 0 && dtype < YT_BASE_NDTYPES ? names[dtype] : "?";
}

/* torch.linspace(a, b, k) in fp32 as torch's CPU kernel computes it (the
 * AVX2 build bitsandbytes users run on x86: full 16-element chunks as two
 * 8-wide vectors, each from a base a + step*i, or b - step*(k-1-i) past the
 * middle, fused, plus j*step rounded first; the rest one by one, fused).
 * Matched bit for bit against torch 1.13 here (tests/tools/nf4_reference.py). */
static void linspace_f32(float *out, float a, float b, int k)
{
    float step = (b - a) / (float)(k - 1);
    int half = k / 2, vec = 16 * (k / 16);
    for (int i = 0; i < k; i++) {
        if (i < vec) {
            int c0 = i - i % 8;
            float base = c0 < half ? fmaf(step, (float)c0, a) : fmaf(-step, (float)(k - 1 - c0), b);
            float jstep = (float)(i % 8) * step;
            out[i] = base + jstep;
        } else {
            out[i] = i < half ? fmaf(step, (float)i, a) : fmaf(-step, (float)(k - 1 - i), b);
        }
    }
}

static int cmp_float(const void *x, const void *y)
{
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

void yt_q_dynamic_map(float map[256])
{
    /* signed, 7 exponent bits, 8 bits: for exponent i in 0..6 the 2^i means
     * of linspace(0.1, 1, 2^i + 1), times 10^(i - 6), with both signs; then 0
     * and 1 (no "additional items" for these settings). */
    int n = 0;
    float bounds[65];
    for (int i = 0; i < 7; i++) {
        int k = (1 << i) + 1;
        linspace_f32(bounds, 0.1f, 1.0f, k);
        float scale = (float)pow(10.0, (double)(i - 6));
        for (int j = 0; j + 1 < k; j++) {
            float mean = (bounds[j] + bounds[j + 1]) / 2.0f;
            map[n++] = scale * mean;
            map[n++] = -(scale * mean);
        }
    }
    map[n++] = 0.0f;
    map[n++] = 1.0f;
    qsort(map, 256, sizeof *map, cmp_float);
}

void yt_q_layout_of(int dtype, size_t n, yt_q_layout *l)
{
    memset(l, 0, sizeof *l);
    size_t bytes;
    switch (dtype) {
    case YT_BASE_F32: bytes = n * 4; break;
    case YT_BASE_BF16: bytes = n * 2; break;
    default:
        l->nb = (n + YT_Q_BLOCK - 1) / YT_Q_BLOCK;
        l->nb2 = (l->nb + YT_Q_BLOCK2 - 1) / YT_Q_BLOCK2;
        l->codes = 0;
        bytes = dtype == YT_BASE_NF4 ? (n + 1) / 2 : n;
        l->qabsmax = (bytes + 15) & ~(size_t)15;
        l->absmax2 = (l->qabsmax + l->nb + 15) & ~(size_t)15;
        l->offset = l->absmax2 + l->nb2 * sizeof(float);
        bytes = l->offset + sizeof(float);
        break;
    }
    l->bytes = (bytes + 63) & ~(size_t)63;
}

size_t yt_q_bytes(int dtype, size_t n)
{
    yt_q_layout l;
    yt_q_layout_of(dtype, n, &l);
    return l.bytes;
}

/* The index of the level nearest to s in the increasing table lv[k], the
 * lower one on a tie (s in [lv[0], lv[k-1]]). */
static inline int nearest(const float *lv, int k, float s)
{
    int lo = 0, hi = k - 1; /* lv[lo] <= s <= lv[hi] */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (lv[mid] <= s)
            lo = mid;
        else
            hi = mid;
    }
    return fabsf(s - lv[lo]) <= fabsf(s - lv[hi]) ? lo : hi;
}

static inline float clamp1(float s) { return s < -1.0f ? -1.0f : s > 1.0f ? 1.0f : s; }

static float block_absmax(const float *x, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        m = a > m ? a : m;
    }
    return m;
}

/* The 255 int8 levels q / 127, q = -127..127 (index q + 127). */
static void int8_levels(float lv[255])
{
    for (int q = -127; q <= 127; q++)
        lv[q + 127] = (float)q / 127.0f;
}

int yt_q_encode(int dtype, void *dst, const float *src, size_t n, yt_err *e)
{
    yt_q_layout l;
    yt_q_layout_of(dtype, n, &l);
    unsigned char *out = dst;
    memset(out, 0, l.bytes);
    if (dtype == YT_BASE_F32) {
        memcpy(out, src, n * sizeof(float));
        return 0;
    }
    if (dtype == YT_BASE_BF16) {
        uint16_t *o = dst;
        for (size_t i = 0; i < n; i++)
            o[i] = yt_st_f32_to_bf16(src[i]);
        return 0;
    }
    if (dtype != YT_BASE_NF4 && dtype != YT_BASE_INT8)
        return yt_errf(e, "unknown base dtype %d", dtype);
    float *absmax = yt_alloc(l.nb * sizeof(float), "block scales", e);
    if (!absmax)
        return -1;
    float lv8[255];
    int8_levels(lv8);
    const float *lv = dtype == YT_BASE_NF4 ? yt_nf4_levels : lv8;
    int nlv = dtype == YT_BASE_NF4 ? 16 : 255;
    /* First level: codes against each block's exact absmax. */
    for (size_t b = 0; b < l.nb; b++) {
        size_t i0 = b * YT_Q_BLOCK, cnt = n - i0 < YT_Q_BLOCK ? n - i0 : YT_Q_BLOCK;
        float am = block_absmax(src + i0, cnt), inv = 1.0f / am;
        absmax[b] = am;
        for (size_t i = i0; i < i0 + cnt; i++) {
            int q = am > 0.0f ? nearest(lv, nlv, clamp1(src[i] * inv))
                              : (dtype == YT_BASE_NF4 ? NF4_ZERO : 127);
            if (dtype == YT_BASE_NF4)
                out[l.codes + i / 2] |= (unsigned char)(i % 2 ? q : q << 4);
            else
                out[l.codes + i] = (unsigned char)(int8_t)(q - 127);
        }
    }
    /* Second level: absmax - mean(absmax) in blocks of 256 on the dynamic map. */
    double sum = 0.0;
    for (size_t b = 0; b < l.nb; b++)
        sum += absmax[b];
    float offset = (float)(sum / (double)l.nb), map[256];
    yt_q_dynamic_map(map);
    int map_zero = 0;
    while (map[map_zero] != 0.0f)
        map_zero++;
    float *absmax2 = (float *)(out + l.absmax2);
    for (size_t b2 = 0; b2 < l.nb2; b2++) {
        size_t j0 = b2 * YT_Q_BLOCK2, cnt = l.nb - j0 < YT_Q_BLOCK2 ? l.nb - j0 : YT_Q_BLOCK2;
        float m2 = 0.0f;
        for (size_t j = j0; j < j0 + cnt; j++) {
            absmax[j] -= offset;
            float a = fabsf(absmax[j]);
            m2 = a > m2 ? a : m2;
        }
        float inv = 1.0f / m2;
        absmax2[b2] = m2;
        for (size_t j = j0; j < j0 + cnt; j++)
            out[l.qabsmax + j] =
                (unsigned char)(m2 > 0.0f ? nearest(map, 256, clamp1(absmax[j] * inv)) : map_zero);
    }
    memcpy(out + l.offset, &offset, sizeof offset);
    yt_free(absmax);
    return 0;
}

void yt_q_scales(int dtype, float *scale, const void *src, size_t n)
{
    yt_q_layout l;
    yt_q_layout_of(dtype, n, &l);
    const unsigned char *in = src;
    float map[256], offset;
    yt_q_dynamic_map(map);
    memcpy(&offset, in + l.offset, sizeof offset);
    const float *absmax2 = (const float *)(in + l.absmax2);
    for (size_t b = 0; b < l.nb; b++)
        scale[b] = map[in[l.qabsmax + b]] * absmax2[b / YT_Q_BLOCK2] + offset;
}

void yt_q_decode(int dtype, float *dst, const void *src, size_t n)
{
    if (dtype == YT_BASE_F32) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    if (dtype == YT_BASE_BF16) {
        const uint16_t *s = src;
#pragma omp parallel for schedule(static) if (n >= 65536)
        for (size_t i = 0; i < n; i++)
            dst[i] = yt_st_bf16_to_f32(s[i]);
        return;
    }
    yt_q_layout l;
    yt_q_layout_of(dtype, n, &l);
    const unsigned char *in = src;
    float map[256], offset;
    yt_q_dynamic_map(map);
    memcpy(&offset, in + l.offset, sizeof offset);
    const float *absmax2 = (const float *)(in + l.absmax2);
    const unsigned char *codes = in + l.codes;
    if (dtype == YT_BASE_NF4) {
        yt_k_dequant_nf4(dst, codes, in + l.qabsmax, absmax2, offset, map, yt_nf4_levels, n);
        return;
    }
    long nb = (long)l.nb;
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (long b = 0; b < nb; b++) {
        float s = map[in[l.qabsmax + (size_t)b]] * absmax2[(size_t)b / YT_Q_BLOCK2] + offset;
        size_t i0 = (size_t)b * YT_Q_BLOCK, i1 = i0 + YT_Q_BLOCK < n ? i0 + YT_Q_BLOCK : n;
        for (size_t i = i0; i < i1; i++)
            dst[i] = ((float)(int8_t)codes[i] / 127.0f) * s;
    }
}
