/* kernels/cpu/fastexp.h (private): an expf that gcc can vectorise.
 *
 * glibc only declares its vector expf under -ffast-math, so a softmax or SiLU
 * loop calling expf stays scalar at -O2.  This is the Cephes single-precision
 * polynomial (within 2 ulp of expf) written so that an `omp simd` loop around
 * it becomes SSE/AVX code: the range clamp works on integer keys of the float
 * bits, because gcc (with the default -ftrapping-math) will not if-convert
 * ordered float compares, and rounding uses the 1.5*2^23 trick.
 * Results below FLT_MIN flush to 0 (so -INFINITY, used for masked scores,
 * gives exactly 0), arguments above 88 give e^88, and NaN stays NaN. */
#ifndef YT_KERNELS_CPU_FASTEXP_H
#define YT_KERNELS_CPU_FASTEXP_H

#include <stdint.h>

/* All sign tests below are shifts and masks, never selects: gcc threads a
 * select whose outcome fixes later values into separate paths, and float
 * arithmetic on a conditional path stops the vectoriser (ifcvt "could trap"). */
static inline int32_t yt_fsignmask(int32_t i) /* 0x7fffffff if i < 0, else 0 */
{
    return (int32_t)(0u - ((uint32_t)i >> 31)) & 0x7fffffff;
}

static inline float yt_fexp(float x)
{
    union {
        float f;
        int32_t i;
    } b, c, u, res;
    b.f = x;
    /* clamp x to [-100, 88] on integer keys that order like the floats
     * (a key is its own inverse map), so that min/max stay integer */
    const int32_t klo = (int32_t)0xc2c80000 ^ 0x7fffffff; /* key(-100.0f) */
    const int32_t khi = 0x42b00000;                        /* key(88.0f) */
    int32_t k = b.i ^ yt_fsignmask(b.i);
    k = k < klo ? klo : k;
    k = k > khi ? khi : k;
    c.i = k ^ yt_fsignmask(k);
    float xc = c.f;
    float fx = xc * 1.44269504088896341f;
    fx = (fx + 12582912.0f) - 12582912.0f; /* round to nearest, |fx| < 2^22 */
    int32_t n = (int32_t)fx;
    float r = xc - fx * 0.693359375f;
    r = r - fx * -2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * r * r + r + 1.0f;
    /* 2^n; below the normal range the scale, and so the result, is 0 */
    int32_t e = n + 127;
    e = e < 0 ? 0 : e;
    u.i = e << 23;
    res.f = y * u.f;
    /* NaN in, NaN out: OR a quiet-NaN pattern in when |x| bits > inf */
    uint32_t isnan_bit = (uint32_t)(0x7f800000 - (b.i & 0x7fffffff)) >> 31;
    res.i |= (int32_t)(0u - isnan_bit) & 0x7fc00000;
    return res.f;
}

#endif
