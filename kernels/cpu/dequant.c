/* kernels/cpu/dequant.c: a 4-bit (NF4) frozen weight decoded to fp32 right
 * before its products (train --base-dtype nf4; the format is model/quant.h's).
 * Memory-bound: one pass, blocks of 64 in parallel when large.  Each scale and
 * value is one fp32 multiply (and add), never fused (-std=c11), so the GPU's
 * yt_kc_dequant_nf4_bf16 gives these values rounded to bf16. */
#include "kernels/kernels.h"

#define YT_DQ_PAR_MIN 65536

void yt_k_dequant_nf4(float *dst, const uint8_t *codes, const uint8_t *qabsmax, const float *absmax2,
                      float offset, const float *map, const float *levels, size_t n)
{
    long nb = (long)((n + 63) / 64);
#pragma omp parallel for schedule(static) if (n >= YT_DQ_PAR_MIN)
    for (long b = 0; b < nb; b++) {
        float s = map[qabsmax[b]] * absmax2[b / 256] + offset;
        size_t i0 = (size_t)b * 64, i1 = i0 + 64 < n ? i0 + 64 : n;
        for (size_t i = i0; i < i1; i++) {
            unsigned c = codes[i / 2];
            dst[i] = levels[i % 2 ? c & 15u : c >> 4] * s;
        }
    }
}
