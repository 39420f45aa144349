/* model/quant: the storage formats of frozen base weights (--base-dtype) and
 * their conversions, one tensor at a time.
 *
 *  f32   as loaded;
 *  bf16  round to nearest even (exact for a BF16 checkpoint);
 *  nf4   QLoRA's 4-bit NormalFloat: blocks of 64 elements, each element the
 *        nearest of the 16 levels of yt_nf4_levels times the block's absmax;
 *  int8  the same blocks with the 255 linear levels q/127, q in [-127, 127].
 * nf4 and int8 keep their block scales double-quantised as QLoRA does
 * (bitsandbytes' quantize_4bit with compress_statistics): offset = the mean of
 * the block absmaxes; absmax - offset is quantised in blocks of 256 with
 * bitsandbytes' signed 8-bit dynamic map (yt_q_dynamic_map), one fp32 absmax2
 * per 256 blocks.  A block's scale is map[q] * absmax2 + offset (fp32), an
 * element's value level[code] * scale (fp32): what bitsandbytes' dequantize_4bit
 * computes.  Quantising picks the nearest level after scaling by 1/absmax and
 * clamping to [-1, 1], the lower level on a tie (torch.argmin's first index, as
 * bitsandbytes' reference backend).  An all-zero block has absmax 0 and codes
 * of the level 0.
 *
 * Layout of one tensor of n elements, nb = ceil(n / 64) blocks, nb2 =
 * ceil(nb / 256), every part starting on 16 bytes, the whole padded to 64:
 *   codes   nf4: ceil(n / 2) bytes, element 2i in the high nibble of byte i
 *           (bitsandbytes' packing); int8: n signed bytes
 *   qabsmax nb bytes
 *   absmax2 nb2 floats
 *   offset  1 float
 * f32 and bf16 are the plain arrays (padded to 64 bytes). */
#ifndef YT_MODEL_QUANT_H
#define YT_MODEL_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

enum { YT_BASE_F32, YT_BASE_BF16, YT_BASE_NF4, YT_BASE_INT8, YT_BASE_NDTYPES };

#define YT_Q_BLOCK 64   /* elements per absmax */
#define YT_Q_BLOCK2 256 /* absmaxes per second-level absmax */

extern const float yt_nf4_levels[16];
/* "f32", "bf16", "nf4", "int8" (the --base-dtype names). */
const char *yt_base_dtype_name(int dtype);

/* bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7,
 * total_bits=8): 256 increasing values in (-1, 1], computed in fp32 as torch does. */
void yt_q_dynamic_map(float map[256]);

typedef struct yt_q_layout {
    size_t codes, qabsmax, absmax2, offset; /* byte offsets of the parts */
    size_t nb, nb2;                         /* blocks, second-level blocks */
    size_t bytes;                           /* the whole tensor, a multiple of 64 */
} yt_q_layout;

void yt_q_layout_of(int dtype, size_t n, yt_q_layout *l);
/* Bytes of one tensor of n elements stored as dtype (a multiple of 64). */
size_t yt_q_bytes(int dtype, size_t n);

/* dst[yt_q_bytes(dtype, n)] = src[n] in dtype (padding bytes zero).  Needs
 * ceil(n / 64) floats of scratch for the block absmaxes (nf4, int8). */
int yt_q_encode(int dtype, void *dst, const float *src, size_t n, yt_err *e);
/* dst[n] = the fp32 values of a tensor stored as dtype (f32: a copy). */
void yt_q_decode(int dtype, float *dst, const void *src, size_t n);
/* The block scales of a stored nf4/int8 tensor: scale[nb]. */
void yt_q_scales(int dtype, float *scale, const void *src, size_t n);

#endif
