/* The GGUF metadata container: header and key/value pairs (all value types, nested
 * arrays), versions 2 and 3; tensors are not read.  Lengths and counts are checked
 * against the file size (a stream: TOK_INPUT_MAX) before anything is allocated;
 * errors name the file and the key. */
#ifndef YT_TOK_GGUF_META_H
#define YT_TOK_GGUF_META_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "datasets/tokenizer/input.h"

typedef enum yt_gguf_type {
    YT_GGUF_U8 = 0, YT_GGUF_I8 = 1, YT_GGUF_U16 = 2, YT_GGUF_I16 = 3, YT_GGUF_U32 = 4,
    YT_GGUF_I32 = 5, YT_GGUF_F32 = 6, YT_GGUF_BOOL = 7, YT_GGUF_STRING = 8,
    YT_GGUF_ARRAY = 9, YT_GGUF_U64 = 10, YT_GGUF_I64 = 11, YT_GGUF_F64 = 12,
    YT_GGUF_NTYPES
} yt_gguf_type;

typedef struct yt_gguf_str {
    const char *s; /* NUL-terminated copy (may also hold NULs inside: use len) */
    uint64_t len;
} yt_gguf_str;

typedef struct yt_gguf_value {
    yt_gguf_type type;
    /* scalars: the value widened (bool -> u 0/1; floats in f) */
    uint64_t u;
    int64_t i;
    double f;
    yt_gguf_str str;            /* STRING */
    yt_gguf_type elem_type;     /* ARRAY */
    uint64_t n;                 /* ARRAY: element count */
    const void *raw;            /* numeric ARRAY: n little-endian elements of elem_type */
    const yt_gguf_str *strs;    /* STRING ARRAY */
    const struct yt_gguf_value *items; /* ARRAY of ARRAY */
} yt_gguf_value;

typedef struct yt_gguf_kv {
    const char *key;
    yt_gguf_value v;
} yt_gguf_kv;

/* The tokenizer reads GGUF metadata in load_gguf.c alone, and through this much:
 * tok_gguf_read, yt_gguf_find, yt_gguf_elem_i64 / _f64, yt_gguf_type_name,
 * yt_gguf_close and the value fields.  A fuller GGUF reader takes this file's place
 * by a change to load_gguf.c (chat_template.c uses yt_gguf_open / find / close). */
typedef struct yt_gguf yt_gguf;

int yt_gguf_open(yt_gguf **out, const char *path, yt_err *e);
/* The same from an input already open, from where it stands (its start). */
int tok_gguf_read(yt_gguf **out, tok_input *in, yt_err *e);
void yt_gguf_close(yt_gguf *g);
uint32_t yt_gguf_version(const yt_gguf *g);
uint64_t yt_gguf_tensor_count(const yt_gguf *g);
size_t yt_gguf_kv_count(const yt_gguf *g);
const yt_gguf_kv *yt_gguf_kv_at(const yt_gguf *g, size_t i);
/* NULL when absent. */
const yt_gguf_value *yt_gguf_find(const yt_gguf *g, const char *key);
/* Numeric element i of a numeric array (or the scalar itself, i = 0), as double /
 * int64; 0 when out of range. */
double yt_gguf_elem_f64(const yt_gguf_value *v, uint64_t i);
int64_t yt_gguf_elem_i64(const yt_gguf_value *v, uint64_t i);
const char *yt_gguf_type_name(yt_gguf_type t);

#endif
