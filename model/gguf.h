/* model/gguf: the GGUF container (llama.cpp's model file), versions 2 and 3,
 * and the dequantisation of its tensor types to fp32 / bf16.
 *
 * Reading: the file is mmap'd read-only; opening parses the header, every
 * metadata key/value (all 13 value types, arrays nested up to YT_GG_MAX_DEPTH),
 * every tensor info and `general.alignment` (default 32), and checks each
 * count, length, offset and size against the file size before it is used: a
 * count or an offset past the end, a truncated file, a dims product that
 * overflows, an unknown value or tensor type, a duplicate key or tensor name,
 * a tensor outside the data section or overlapping another are errors naming
 * the file and the key or tensor.  Strings and tensor data point into the
 * mapping and stay valid until yt_gg_close; keys and tensor names are
 * NUL-terminated copies.  Host byte order must be little-endian (GGUF v3 may
 * also be big-endian: such files are refused).
 *
 * Metadata alone can also be read from a stream (yt_gg_read_meta: a FIFO or a
 * pipe, read once), with the same checks against the input's length or a limit.
 * This is the project's one GGUF parser: the tokenizer reads its keys here. */
#ifndef YT_GGUF_H
#define YT_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#define YT_GG_MAX_DIMS 4   /* GGML_MAX_DIMS */
#define YT_GG_MAX_DEPTH 8  /* arrays of arrays of ... */
#define YT_GG_DEFAULT_ALIGNMENT 32

/* Metadata value types, numbered as in the file. */
typedef enum yt_gg_vtype {
    YT_GG_U8 = 0, YT_GG_I8 = 1, YT_GG_U16 = 2, YT_GG_I16 = 3, YT_GG_U32 = 4, YT_GG_I32 = 5,
    YT_GG_F32 = 6, YT_GG_BOOL = 7, YT_GG_STRING = 8, YT_GG_ARRAY = 9, YT_GG_U64 = 10,
    YT_GG_I64 = 11, YT_GG_F64 = 12, YT_GG_NVTYPES
} yt_gg_vtype;

/* ggml tensor types this project names (ids as in ggml.h). */
enum {
    YT_GGML_F32 = 0, YT_GGML_F16 = 1, YT_GGML_Q4_0 = 2, YT_GGML_Q4_1 = 3, YT_GGML_Q5_0 = 6,
    YT_GGML_Q5_1 = 7, YT_GGML_Q8_0 = 8, YT_GGML_Q4_K = 12, YT_GGML_Q5_K = 13, YT_GGML_Q6_K = 14,
    YT_GGML_BF16 = 30
};

/* A string in the mapping: LEN bytes, not NUL-terminated (it may hold NULs). */
typedef struct yt_gg_str {
    const char *p;
    uint64_t len;
} yt_gg_str;

typedef struct yt_gg_value {
    yt_gg_vtype type;
    /* Scalars: unsigned types and BOOL in u, signed in i, floats in f. */
    uint64_t u;
    int64_t i;
    double f;
    yt_gg_str str;                       /* STRING */
    /* ARRAY: element type and count; the elements are in exactly one of: */
    yt_gg_vtype elem;
    uint64_t n;
    const void *data;                    /* numbers/bools: n little-endian elements, unaligned */
    const yt_gg_str *strs;               /* STRING elements */
    const struct yt_gg_value *items;     /* ARRAY elements */
} yt_gg_value;

typedef struct yt_gg_tensor {
    const char *name;
    const char *file;                    /* the path given to yt_gg_open */
    int n_dims;
    int64_t ne[YT_GG_MAX_DIMS];          /* ggml order: ne[0] is the contiguous row; unused = 1 */
    uint32_t type;                       /* ggml type id */
    uint64_t offset;                     /* from the start of the data section */
    int64_t numel, rows;                 /* rows = numel / ne[0] */
    size_t nbytes, row_bytes;
    const void *data;                    /* in the mapping */
} yt_gg_tensor;

typedef struct yt_gg yt_gg;

int yt_gg_open(yt_gg **out, const char *path, yt_err *e);
void yt_gg_close(yt_gg *g);

/* Reads up to N bytes into DST; *got < N only at the end of the input. */
typedef int (*yt_gg_read_fn)(void *ctx, void *dst, size_t n, size_t *got, yt_err *e);
/* The header and the metadata key/values only (no tensor infos: yt_gg_n_tensors
 * is 0) from an input read once from where it stands, no further than the
 * metadata goes (so a pipe's tensors are never read).  END is the input's length
 * when END_KNOWN (a regular file), else the most the metadata may take; lengths
 * and counts past it are refused before anything is allocated for them.  NAME
 * names the input in messages (and yt_gg_path).  Strings point into a buffer
 * that G owns. */
int yt_gg_read_meta(yt_gg **out, yt_gg_read_fn read, void *ctx, const char *name, uint64_t end,
                    int end_known, yt_err *e);
/* 1 when PATH is a regular file that starts with the GGUF magic (no message). */
int yt_gg_probe(const char *path);

const char *yt_gg_path(const yt_gg *g);
uint32_t yt_gg_version(const yt_gg *g);
uint64_t yt_gg_alignment(const yt_gg *g);
/* Absolute file offset of the data section. */
uint64_t yt_gg_data_offset(const yt_gg *g);

size_t yt_gg_n_kv(const yt_gg *g);
const char *yt_gg_kv_key(const yt_gg *g, size_t i);
const yt_gg_value *yt_gg_kv_value(const yt_gg *g, size_t i);
/* NULL when absent. */
const yt_gg_value *yt_gg_find(const yt_gg *g, const char *key);

/* Typed getters: 0 with *out set when KEY is present and fits; 0 with *out
 * untouched when it is absent and not required; -1 with a message naming the
 * file and key when absent-but-required, of another type or out of range.
 * get_int takes any integer type; get_float any float or integer type. */
int yt_gg_get_int(const yt_gg *g, const char *key, int64_t lo, int64_t hi, int64_t *out,
                  int required, yt_err *e);
int yt_gg_get_float(const yt_gg *g, const char *key, double *out, int required, yt_err *e);
int yt_gg_get_bool(const yt_gg *g, const char *key, int *out, int required, yt_err *e);
int yt_gg_get_str(const yt_gg *g, const char *key, yt_gg_str *out, int required, yt_err *e);
/* An ARRAY whose elements are ELEM (YT_GG_NVTYPES: any). */
int yt_gg_get_array(const yt_gg *g, const char *key, yt_gg_vtype elem, const yt_gg_value **out,
                    int required, yt_err *e);

/* Element I of a numeric or BOOL array (I < v->n), widened. */
int64_t yt_gg_arr_int(const yt_gg_value *v, uint64_t i);
double yt_gg_arr_float(const yt_gg_value *v, uint64_t i);
/* 1 when S equals the NUL-terminated string Z. */
int yt_gg_str_eq(yt_gg_str s, const char *z);

size_t yt_gg_n_tensors(const yt_gg *g);
const yt_gg_tensor *yt_gg_tensor_at(const yt_gg *g, size_t i);   /* file order */
const yt_gg_tensor *yt_gg_tensor_find(const yt_gg *g, const char *name);

const char *yt_gg_vtype_name(yt_gg_vtype t);
/* "Q4_K", ...; "unknown" for ids ggml does not define. */
const char *yt_gg_type_name(uint32_t type);
/* Elements per block and bytes per block of a ggml type; 0 when unknown. */
int yt_gg_type_size(uint32_t type, int *block, int *bytes);

/* ---- dequantisation (model/gguf_quant.c) ---- */

/* 1 for the types converted here: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
 * Q5_1, Q4_K, Q5_K, Q6_K.  Values are computed as gguf-py's
 * gguf.quants.dequantize computes them (same fp32 operations, same order), so
 * both agree bit for bit. */
int yt_gg_type_supported(uint32_t type);
/* N elements (a multiple of the type's block) of a supported type. */
void yt_gg_dequant_row(uint32_t type, const void *src, float *dst, int64_t n);

/* Tensor T as row-major fp32 (or bf16, rounded to nearest even from the fp32
 * value, NaN quiet) into DST of n_expected elements.  ROW_MAP (NULL: identity)
 * reorders rows (rows of ne[0] elements): DST row r is T's row row_map[r].
 * Errors name the file and tensor: an unsupported type (naming it), a count
 * other than n_expected, a row_map entry out of range. */
int yt_gg_tensor_f32(const yt_gg_tensor *t, float *dst, size_t n_expected, const int64_t *row_map,
                     yt_err *e);
int yt_gg_tensor_bf16(const yt_gg_tensor *t, uint16_t *dst, size_t n_expected,
                      const int64_t *row_map, yt_err *e);

#endif
