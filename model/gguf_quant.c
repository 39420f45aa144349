/* GGUF tensor types to fp32: the block layouts of ggml's quantisations.  Each
 * value is computed with the fp32 operations gguf-py's dequantize uses, in the
 * same order (scale * code, then + min or - scaled min), so both agree bit for
 * bit (the build's -std=c11 keeps the compiler from fusing them into FMAs). */
#include "model/gguf.h"
#include "model/safetensors.h"

#include <inttypes.h>
#include <string.h>

#define QK 32    /* block of the _0/_1 types */
#define QK_K 256 /* super-block of the K types */

static inline float h2f(const unsigned char *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return yt_st_f16_to_f32(h);
}

int yt_gg_type_supported(uint32_t type)
{
    switch (type) {
    case YT_GGML_F32: case YT_GGML_F16: case YT_GGML_BF16: case YT_GGML_Q8_0: case YT_GGML_Q4_0:
    case YT_GGML_Q4_1: case YT_GGML_Q5_0: case YT_GGML_Q5_1: case YT_GGML_Q4_K: case YT_GGML_Q5_K:
    case YT_GGML_Q6_K:
        return 1;
    default:
        return 0;
    }
}

/* Q4_0: d, 16 bytes of nibbles: low nibbles are elements 0..15, high 16..31. */
static void q4_0(const unsigned char *b, float *y)
{
    float d = h2f(b);
    const unsigned char *qs = b + 2;
    for (int j = 0; j < QK / 2; j++) {
        y[j] = d * (float)((qs[j] & 0x0f) - 8);
        y[j + QK / 2] = d * (float)((qs[j] >> 4) - 8);
    }
}

static void q4_1(const unsigned char *b, float *y)
{
    float d = h2f(b), m = h2f(b + 2);
    const unsigned char *qs = b + 4;
    for (int j = 0; j < QK / 2; j++) {
        y[j] = d * (float)(qs[j] & 0x0f) + m;
        y[j + QK / 2] = d * (float)(qs[j] >> 4) + m;
    }
}

/* Q5_x: the fifth bit of element j is bit j of the 32-bit qh. */
static void q5_0(const unsigned char *b, float *y)
{
    float d = h2f(b);
    uint32_t qh;
    memcpy(&qh, b + 2, 4);
    const unsigned char *qs = b + 6;
    for (int j = 0; j < QK / 2; j++) {
        int lo = (qs[j] & 0x0f) | (int)((qh >> j) & 1u) << 4;
        int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1u) << 4;
        y[j] = d * (float)(lo - 16);
        y[j + QK / 2] = d * (float)(hi - 16);
    }
}

static void q5_1(const unsigned char *b, float *y)
{
    float d = h2f(b), m = h2f(b + 2);
    uint32_t qh;
    memcpy(&qh, b + 4, 4);
    const unsigned char *qs = b + 8;
    for (int j = 0; j < QK / 2; j++) {
        int lo = (qs[j] & 0x0f) | (int)((qh >> j) & 1u) << 4;
        int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1u) << 4;
        y[j] = d * (float)lo + m;
        y[j + QK / 2] = d * (float)hi + m;
    }
}

static void q8_0(const unsigned char *b, float *y)
{
    float d = h2f(b);
    const int8_t *qs = (const int8_t *)(b + 2);
    for (int j = 0; j < QK; j++)
        y[j] = (float)qs[j] * d;
}

/* The 6-bit scales and mins of the 8 sub-blocks of Q4_K/Q5_K, packed in 12 bytes. */
static void scale_min_k4(const unsigned char *s, int *sc, int *mn)
{
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (s[j + 8] & 0x0f) | ((s[j] >> 2) & 0x30);
        mn[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 2) & 0x30);
    }
}

/* Q4_K: d, dmin, scales[12], qs[128]: sub-block 2c takes the low nibbles of
 * qs[32c..32c+31], sub-block 2c+1 their high nibbles. */
static void q4_k(const unsigned char *b, float *y)
{
    float d = h2f(b), dmin = h2f(b + 2);
    int sc[8], mn[8];
    scale_min_k4(b + 4, sc, mn);
    const unsigned char *qs = b + 16;
    for (int j = 0; j < 8; j++) {
        float dl = d * (float)sc[j], ml = dmin * (float)mn[j];
        const unsigned char *q = qs + 32 * (j / 2);
        int sh = 4 * (j % 2);
        for (int l = 0; l < 32; l++)
            y[32 * j + l] = dl * (float)((q[l] >> sh) & 0x0f) - ml;
    }
}

/* Q5_K: d, dmin, scales[12], qh[32], qs[128]: as Q4_K, the fifth bit of
 * element l of sub-block j is bit j of qh[l]. */
static void q5_k(const unsigned char *b, float *y)
{
    float d = h2f(b), dmin = h2f(b + 2);
    int sc[8], mn[8];
    scale_min_k4(b + 4, sc, mn);
    const unsigned char *qh = b + 16, *qs = b + 48;
    for (int j = 0; j < 8; j++) {
        float dl = d * (float)sc[j], ml = dmin * (float)mn[j];
        const unsigned char *q = qs + 32 * (j / 2);
        int sh = 4 * (j % 2);
        for (int l = 0; l < 32; l++) {
            int v = ((q[l] >> sh) & 0x0f) | ((qh[l] >> j) & 1) << 4;
            y[32 * j + l] = dl * (float)v - ml;
        }
    }
}

/* Q6_K: ql[128], qh[64], int8 scales[16], d.  Element e = 128 h + r: low 4
 * bits from ql[64 h + r % 64] (nibble r / 64), high 2 bits from
 * qh[32 h + r % 32] (pair r / 32); scale e / 16. */
static void q6_k(const unsigned char *b, float *y)
{
    const unsigned char *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = h2f(b + 208);
    float ds[16];
    for (int i = 0; i < 16; i++)
        ds[i] = d * (float)sc[i];
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, r = e % 128;
        int lo = (ql[64 * h + r % 64] >> (4 * (r / 64))) & 0x0f;
        int hi = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
        y[e] = ds[e / 16] * (float)((lo | hi << 4) - 32);
    }
}

void yt_gg_dequant_row(uint32_t type, const void *src, float *dst, int64_t n)
{
    const unsigned char *b = src;
    switch (type) {
    case YT_GGML_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    case YT_GGML_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = h2f(b + 2 * i);
        return;
    case YT_GGML_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, b + 2 * i, 2);
            dst[i] = yt_st_bf16_to_f32(h);
        }
        return;
    default:
        break;
    }
    void (*f)(const unsigned char *, float *) = NULL;
    int blk = QK, bytes = 0;
    switch (type) {
    case YT_GGML_Q4_0: f = q4_0; bytes = 18; break;
    case YT_GGML_Q4_1: f = q4_1; bytes = 20; break;
    case YT_GGML_Q5_0: f = q5_0; bytes = 22; break;
    case YT_GGML_Q5_1: f = q5_1; bytes = 24; break;
    case YT_GGML_Q8_0: f = q8_0; bytes = 34; break;
    case YT_GGML_Q4_K: f = q4_k; blk = QK_K; bytes = 144; break;
    case YT_GGML_Q5_K: f = q5_k; blk = QK_K; bytes = 176; break;
    case YT_GGML_Q6_K: f = q6_k; blk = QK_K; bytes = 210; break;
    default: return;
    }
    for (int64_t i = 0; i < n / blk; i++)
        f(b + (size_t)i * (size_t)bytes, dst + (size_t)i * (size_t)blk);
}

/* Checks shared by the fp32 and bf16 readers. */
static int check_read(const yt_gg_tensor *t, size_t n_expected, const int64_t *row_map, yt_err *e)
{
    if (!yt_gg_type_supported(t->type))
        return yt_errf(e, "%s: tensor '%s' is of type %s, which yieldtune cannot dequantise "
                       "(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, "
                       "Q6_K)", t->file, t->name, yt_gg_type_name(t->type));
    if ((uint64_t)t->numel != (uint64_t)n_expected)
        return yt_errf(e, "%s: tensor '%s' has %" PRId64 " elements, expected %zu", t->file,
                       t->name, t->numel, n_expected);
    if (row_map)
        for (int64_t r = 0; r < t->rows; r++)
            if (row_map[r] < 0 || row_map[r] >= t->rows)
                return yt_errf(e, "%s: tensor '%s': row map entry %" PRId64 " is %" PRId64
                               " (the tensor has %" PRId64 " rows)", t->file, t->name, r,
                               row_map[r], t->rows);
    return 0;
}

/* Rows are independent: enough of them are worth the threads. */
#define PAR_MIN_ELEMS (1 << 18)

int yt_gg_tensor_f32(const yt_gg_tensor *t, float *dst, size_t n_expected, const int64_t *row_map,
                     yt_err *e)
{
    if (check_read(t, n_expected, row_map, e))
        return -1;
    const unsigned char *src = t->data;
    int64_t ne0 = t->ne[0], rows = t->rows;
#pragma omp parallel for schedule(static) if (t->numel >= PAR_MIN_ELEMS)
    for (int64_t r = 0; r < rows; r++) {
        int64_t s = row_map ? row_map[r] : r;
        yt_gg_dequant_row(t->type, src + (size_t)s * t->row_bytes, dst + (size_t)r * (size_t)ne0,
                          ne0);
    }
    return 0;
}

int yt_gg_tensor_bf16(const yt_gg_tensor *t, uint16_t *dst, size_t n_expected,
                      const int64_t *row_map, yt_err *e)
{
    if (check_read(t, n_expected, row_map, e))
        return -1;
    const unsigned char *src = t->data;
    int64_t ne0 = t->ne[0], rows = t->rows;
    int blk, bytes;
    yt_gg_type_size(t->type, &blk, &bytes);
    /* Rows go through fp32 in pieces of CHUNK elements (a multiple of every block). */
    enum { CHUNK = 4096 };
#pragma omp parallel for schedule(static) if (t->numel >= PAR_MIN_ELEMS)
    for (int64_t r = 0; r < rows; r++) {
        float tmp[CHUNK];
        int64_t s = row_map ? row_map[r] : r;
        const unsigned char *in = src + (size_t)s * t->row_bytes;
        uint16_t *o = dst + (size_t)r * (size_t)ne0;
        for (int64_t c = 0; c < ne0; c += CHUNK) {
            int64_t n = ne0 - c < CHUNK ? ne0 - c : CHUNK;
            yt_gg_dequant_row(t->type, in + (size_t)(c / blk) * (size_t)bytes, tmp, n);
            for (int64_t i = 0; i < n; i++)
                o[c + i] = yt_st_f32_to_bf16(tmp[i]);
        }
    }
    return 0;
}
