/* model/safetensors: reading and writing the safetensors format.
 *
 * Reading: a "set" of tensors opened from one .safetensors file, a Hugging Face
 * model folder holding model.safetensors, or a sharded folder with
 * model.safetensors.index.json (each shard opened once).  Files are mmap'd
 * read-only; tensor data points into the mapping and stays valid until
 * yt_st_close.  Opening validates every header as the reference (Rust) crate
 * does: header length, JSON, dtype, shape, data_offsets, byte sizes, and that
 * the tensors tile the data section with no overlap and no hole.  Every error
 * names the file and, where one is at fault, the tensor.
 *
 * Writing: a yt_st_writer collects (name, dtype, shape, data pointer) entries
 * and string metadata, then writes one file atomically (temp file, fsync,
 * rename, fsync of the folder).  Float data can be stored as F32, BF16
 * (round-to-nearest-even) or F16 (correctly rounded, RNE).
 *
 * Host byte order must be little-endian (as the format's). */
#ifndef YT_SAFETENSORS_H
#define YT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/common.h"

#define YT_ST_MAX_DIMS 8
/* Largest header accepted, as the reference crate (MAX_HEADER_SIZE). */
#define YT_ST_MAX_HEADER 100000000ULL

/* Element types of the format.  Only F32, F16 and BF16 convert to float; the
 * others are recognised so that files holding them open and list. */
typedef enum yt_st_dtype {
    YT_ST_F32,
    YT_ST_F16,
    YT_ST_BF16,
    YT_ST_F64,
    YT_ST_I8,
    YT_ST_U8,
    YT_ST_I16,
    YT_ST_U16,
    YT_ST_I32,
    YT_ST_U32,
    YT_ST_I64,
    YT_ST_U64,
    YT_ST_BOOL,
    YT_ST_F8_E4M3,
    YT_ST_F8_E5M2,
    YT_ST_F8_E8M0,
    YT_ST_F4,
    YT_ST_F6_E2M3,
    YT_ST_F6_E3M2,
    YT_ST_C64,
    YT_ST_NDTYPES
} yt_st_dtype;

/* "F32", "BF16", ... */
const char *yt_st_dtype_name(yt_st_dtype t);
/* Bits per element (4 for F4, 6 for F6_*, 8 for U8, ...). */
int yt_st_dtype_bits(yt_st_dtype t);
/* Parses a dtype string; -1 when unknown (no message: the caller has context). */
int yt_st_dtype_parse(const char *s, yt_st_dtype *out);

typedef struct yt_st_tensor {
    const char *name;
    yt_st_dtype dtype;
    int ndim;                          /* 0 for a scalar */
    int64_t shape[YT_ST_MAX_DIMS];
    int64_t numel;                     /* product of shape (1 for a scalar) */
    const void *data;                  /* into the read-only mapping */
    size_t nbytes;
    uint64_t offset;                   /* data_offsets[0], relative to the data section */
    const char *file;                  /* path of the file that holds it */
    int file_index;
} yt_st_tensor;

typedef struct yt_st_set yt_st_set;

/* PATH: a .safetensors file, a folder with model.safetensors, a folder with
 * model.safetensors.index.json (or the index file itself). */
int yt_st_open(yt_st_set **out, const char *path, yt_err *e);
void yt_st_close(yt_st_set *s);

/* The path given to yt_st_open. */
const char *yt_st_path(const yt_st_set *s);
/* Tensors in file order, then by offset within each file. */
size_t yt_st_count(const yt_st_set *s);
const yt_st_tensor *yt_st_at(const yt_st_set *s, size_t i);
/* NULL when absent. */
const yt_st_tensor *yt_st_find(const yt_st_set *s, const char *name);
int yt_st_file_count(const yt_st_set *s);
const char *yt_st_file_path(const yt_st_set *s, int i);
/* "__metadata__" value of KEY (first file that has it), NULL when absent. */
const char *yt_st_meta(const yt_st_set *s, const char *key);

/* Converts tensor NAME into DST (n_expected floats).  Errors: missing tensor,
 * element count other than n_expected, dtype not F32/F16/BF16. */
int yt_st_read_f32(const yt_st_set *s, const char *name, float *dst, size_t n_expected, yt_err *e);
int yt_st_tensor_read_f32(const yt_st_tensor *t, float *dst, size_t n_expected, yt_err *e);
/* Checks that NAME exists with exactly this shape. */
int yt_st_expect_shape(const yt_st_set *s, const char *name, int ndim, const int64_t *shape,
                       yt_err *e);
/* Zero-copy: the data in the mapping when NAME is F32 and 4-byte aligned, else
 * NULL (absent, another dtype, or misaligned: convert with yt_st_read_f32). */
const float *yt_st_f32_view(const yt_st_set *s, const char *name);

/* Element conversions (exact in the widening direction; RNE when narrowing).
 * NaN narrows to a quiet NaN: 0x7FC0 for bf16, sign|0x7E00 for f16, as torch. */
static inline float yt_st_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline uint16_t yt_st_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return 0x7fc0;
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
static inline float yt_st_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t ex = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
    if (ex == 0) {
        /* zero or subnormal: man * 2^-24, exact in float */
        float v = (float)man * 0x1p-24f;
        memcpy(&u, &v, sizeof u);
        u |= sign;
    } else if (ex == 31) {
        /* inf, or NaN made quiet (as the hardware conversion does) */
        u = sign | 0x7f800000u | (man << 13) | (man ? 0x00400000u : 0u);
    } else {
        u = sign | ((ex + 112u) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline uint16_t yt_st_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u)
        return sign | 0x7e00u;                  /* NaN */
    if (a >= 0x477ff000u)
        return sign | 0x7c00u;                  /* >= 65520 rounds to inf */
    if (a < 0x38800000u) {                      /* below 2^-14: subnormal or zero */
        if (a <= 0x33000000u)
            return sign;                        /* <= 2^-25 (tie goes to even 0) */
        uint32_t m = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - (a >> 23);      /* 14..24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u)))
            q++;
        return (uint16_t)(sign | q);
    }
    uint32_t q = (((a >> 23) - 112u) << 10) | ((a & 0x7fffffu) >> 13);
    uint32_t rem = a & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u)))
        q++;                                    /* may carry into the exponent: right */
    return (uint16_t)(sign | q);
}

/* Writer.  Data pointers are borrowed: they must stay valid until
 * yt_st_writer_write returns.  Names must be unique and not "__metadata__". */
typedef struct yt_st_writer yt_st_writer;

int yt_st_writer_new(yt_st_writer **out, yt_err *e);
void yt_st_writer_free(yt_st_writer *w);
/* Float data stored as DTYPE: YT_ST_F32, YT_ST_BF16 or YT_ST_F16. */
int yt_st_writer_add(yt_st_writer *w, const char *name, yt_st_dtype dtype, int ndim,
                     const int64_t *shape, const float *data, yt_err *e);
/* Raw bytes already in DTYPE's little-endian layout (any dtype); NBYTES must
 * match the shape. */
int yt_st_writer_add_raw(yt_st_writer *w, const char *name, yt_st_dtype dtype, int ndim,
                         const int64_t *shape, const void *data, size_t nbytes, yt_err *e);
/* Float data produced while the file is written: fill(ctx, dst, numel, e)
 * writes the tensor's numel floats into a buffer the writer allocates for that
 * tensor alone (freed once it is written), stored as DTYPE (F32, BF16 or F16).
 * A file larger than memory is thus written one tensor at a time.  A failing
 * fill (0 / -1 with a message) fails the write: no file is left. */
typedef int (*yt_st_fill_fn)(void *ctx, float *dst, size_t numel, yt_err *e);
int yt_st_writer_add_fill(yt_st_writer *w, const char *name, yt_st_dtype dtype, int ndim,
                          const int64_t *shape, yt_st_fill_fn fill, void *ctx, yt_err *e);
/* A "__metadata__" string entry (a repeated key replaces the value). */
int yt_st_writer_meta(yt_st_writer *w, const char *key, const char *value, yt_err *e);
/* Writes PATH atomically.  Header keys follow insertion order (metadata first);
 * in the data section tensors are laid out contiguously by decreasing element
 * size (stable), so every tensor is aligned to its element size; the header is
 * padded with spaces to a multiple of 8 bytes. */
int yt_st_writer_write(yt_st_writer *w, const char *path, yt_err *e);

#endif
