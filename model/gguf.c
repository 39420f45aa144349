/* GGUF reader: mmap, header, metadata, tensor infos, every size checked
 * against the file before it is trusted. */
#define _POSIX_C_SOURCE 200809L
#include "model/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c assumes a little-endian host"
#endif

#define GGUF_MAGIC "GGUF"

/* ggml's types: block elements, block bytes (gguf-py's GGML_QUANT_SIZES). */
static const struct {
    uint32_t id;
    const char *name;
    int block, bytes;
} ggml_types[] = {
    {0, "F32", 1, 4},         {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},
    {3, "Q4_1", 32, 20},      {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},
    {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 40},      {10, "Q2_K", 256, 84},
    {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66},
    {17, "IQ2_XS", 256, 74},  {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},
    {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},  {22, "IQ2_S", 256, 82},
    {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},        {28, "F64", 1, 8},
    {29, "IQ1_M", 256, 56},   {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},
    {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},
};
#define N_GGML_TYPES (sizeof ggml_types / sizeof ggml_types[0])

static const int vsize[YT_GG_NVTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *yt_gg_vtype_name(yt_gg_vtype t)
{
    static const char *const n[YT_GG_NVTYPES] = {"uint8", "int8",   "uint16", "int16", "uint32",
                                                 "int32", "float32", "bool",  "string", "array",
                                                 "uint64", "int64",  "float64"};
    return (unsigned)t < YT_GG_NVTYPES ? n[t] : "?";
}

const char *yt_gg_type_name(uint32_t type)
{
    for (size_t i = 0; i < N_GGML_TYPES; i++)
        if (ggml_types[i].id == type)
            return ggml_types[i].name;
    return "unknown";
}

int yt_gg_type_size(uint32_t type, int *block, int *bytes)
{
    for (size_t i = 0; i < N_GGML_TYPES; i++)
        if (ggml_types[i].id == type) {
            *block = ggml_types[i].block;
            *bytes = ggml_types[i].bytes;
            return 1;
        }
    return 0;
}

/* Bump allocator for keys, names, string tables and nested values: freed at once. */
typedef struct blk {
    struct blk *next;
    size_t used, cap;
    max_align_t mem[];
} blk;

typedef struct kv {
    char *key;
    yt_gg_value v;
} kv;

struct yt_gg {
    char *path;
    const unsigned char *base;
    size_t size;
    uint32_t version;
    uint64_t alignment, data_off;
    kv *kv;
    size_t n_kv;
    yt_gg_tensor *t;
    size_t n_t;
    int *slots;      /* open addressing over t by name, -1 empty */
    size_t n_slots;
    int *kslots;     /* the same over kv by key */
    size_t n_kslots;
    blk *mem;
    /* Metadata read from a stream (yt_gg_read_meta): base is the malloc'd buffer
     * `owned` of size bytes read so far; end bounds what the input may give (its
     * length when known, else the limit).  While `partial`, a read past size but
     * not past end sets need_more instead of failing: the caller reads more and
     * parses again.  For a mapped file end = size. */
    int stream, end_known, partial, need_more, meta_only;
    uint64_t end;
    unsigned char *owned;
};

/* NULL when out of memory, with the message naming the file and what was read. */
static void *arena(yt_gg *g, size_t n, const char *what, yt_err *e)
{
    n = (n + 15) & ~(size_t)15;
    if (!g->mem || g->mem->cap - g->mem->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        blk *b = yt_malloc(sizeof *b + cap, "the GGUF reader's names and arrays", e);
        if (!b) {
            yt_err_prefix(e, "%s: %s", g->path, what);
            return NULL;
        }
        b->next = g->mem;
        b->used = 0;
        b->cap = cap;
        g->mem = b;
    }
    void *p = (unsigned char *)g->mem->mem + g->mem->used;
    g->mem->used += n;
    return p;
}

/* A cursor over the mapping; `what` names the key or tensor being read. */
typedef struct rd {
    yt_gg *g;
    uint64_t pos;
    char what[160];
    yt_err *e;
} rd;

/* What bounds a stream's metadata, for messages: its file's length or the limit. */
static const char *stream_end(const yt_gg *g, char *buf, size_t n)
{
    if (g->end_known)
        snprintf(buf, n, "the %" PRIu64 "-byte file", g->end);
    else
        snprintf(buf, n, "the %" PRIu64 "-byte metadata limit of a stream", g->end);
    return buf;
}

static int trunc_err(rd *r, uint64_t need)
{
    char b[96];
    if (r->g->stream && need > r->g->end - r->pos)
        return yt_errf(r->e, "%s: %s: truncated: needs %" PRIu64 " bytes at offset %" PRIu64
                       ", past the end of %s", r->g->path, r->what, need, r->pos,
                       stream_end(r->g, b, sizeof b));
    if (r->g->stream)
        return yt_errf(r->e, "%s: %s: truncated: needs %" PRIu64 " bytes at offset %" PRIu64
                       " but the input ends after %zu bytes", r->g->path, r->what, need, r->pos,
                       r->g->size);
    return yt_errf(r->e, "%s: %s: truncated: needs %" PRIu64 " bytes at offset %" PRIu64
                   " but the file has %zu bytes", r->g->path, r->what, need, r->pos, r->g->size);
}

/* 0 when the N bytes at the cursor have been read; else -1, with need_more set
 * when a stream may still give them, or the message. */
static int short_of(rd *r, uint64_t n)
{
    if (n <= r->g->size - r->pos)
        return 0;
    if (r->g->partial && n <= r->g->end - r->pos) {
        r->g->need_more = 1;
        return yt_errf(r->e, "%s: %s: needs more bytes", r->g->path, r->what);
    }
    return trunc_err(r, n);
}

static int rd_raw(rd *r, uint64_t n, const unsigned char **p)
{
    if (short_of(r, n))
        return -1;
    *p = r->g->base + r->pos;
    r->pos += n;
    return 0;
}

static int rd_u32(rd *r, uint32_t *v)
{
    const unsigned char *p = NULL;
    if (rd_raw(r, 4, &p))
        return -1;
    memcpy(v, p, 4);
    return 0;
}

static int rd_u64(rd *r, uint64_t *v)
{
    const unsigned char *p = NULL;
    if (rd_raw(r, 8, &p))
        return -1;
    memcpy(v, p, 8);
    return 0;
}

static int rd_str(rd *r, yt_gg_str *s)
{
    uint64_t n;
    const unsigned char *p = NULL;
    if (rd_u64(r, &n))
        return -1;
    char b[96];
    if (n > r->g->end - r->pos && r->g->stream)
        return yt_errf(r->e, "%s: %s: string length %" PRIu64 " at offset %" PRIu64
                       " runs past the end of %s (truncated, or a corrupt length)", r->g->path,
                       r->what, n, r->pos - 8, stream_end(r->g, b, sizeof b));
    if (n > r->g->end - r->pos)
        return yt_errf(r->e, "%s: %s: string length %" PRIu64 " at offset %" PRIu64
                       " runs past the end of the %zu-byte file (truncated, or a corrupt length)",
                       r->g->path, r->what, n, r->pos - 8, r->g->size);
    if (rd_raw(r, n, &p))
        return -1;
    s->p = (const char *)p;
    s->len = n;
    return 0;
}

/* A NUL-terminated copy of S for a key or tensor name. */
static char *dup_name(rd *r, yt_gg_str s, const char *kind)
{
    if (memchr(s.p, 0, (size_t)s.len)) {
        yt_errf(r->e, "%s: %s name at offset %" PRIu64 " holds a NUL byte", r->g->path, kind,
                (uint64_t)((const unsigned char *)s.p - r->g->base));
        return NULL;
    }
    char *c = arena(r->g, (size_t)s.len + 1, r->what, r->e);
    if (!c)
        return NULL;
    memcpy(c, s.p, (size_t)s.len);
    c[s.len] = '\0';
    return c;
}

static int rd_value(rd *r, yt_gg_vtype type, yt_gg_value *v, int depth);

static int rd_array(rd *r, yt_gg_value *v, int depth)
{
    uint32_t et;
    uint64_t n;
    if (depth >= YT_GG_MAX_DEPTH)
        return yt_errf(r->e, "%s: %s: arrays nested deeper than %d", r->g->path, r->what,
                       YT_GG_MAX_DEPTH);
    if (rd_u32(r, &et) || rd_u64(r, &n))
        return -1;
    if (et >= YT_GG_NVTYPES)
        return yt_errf(r->e, "%s: %s: unknown array element type %" PRIu32, r->g->path, r->what, et);
    v->elem = (yt_gg_vtype)et;
    v->n = n;
    uint64_t left = r->g->end - r->pos;
    /* The smallest encoding of one element: a count larger than what is left
     * can hold is past the end, whatever the elements say. */
    uint64_t min = et == YT_GG_STRING ? 8 : et == YT_GG_ARRAY ? 12 : (uint64_t)vsize[et];
    char b[96];
    if (n > left / min && r->g->stream)
        return yt_errf(r->e, "%s: %s: array count %" PRIu64 " of %s runs past the end of %s "
                       "(truncated, or a corrupt count)", r->g->path, r->what, n,
                       yt_gg_vtype_name(v->elem), stream_end(r->g, b, sizeof b));
    if (n > left / min)
        return yt_errf(r->e, "%s: %s: array count %" PRIu64 " of %s runs past the end of the "
                       "file (%" PRIu64 " bytes left at offset %" PRIu64 "; truncated, or a corrupt "
                       "count)", r->g->path, r->what, n, yt_gg_vtype_name(v->elem), left, r->pos);
    if (et == YT_GG_STRING) {
        yt_gg_str *s = arena(r->g, (size_t)n * sizeof *s, r->what, r->e);
        if (!s)
            return -1;
        for (uint64_t i = 0; i < n; i++)
            if (rd_str(r, &s[i]))
                return -1;
        v->strs = s;
    } else if (et == YT_GG_ARRAY) {
        yt_gg_value *items = arena(r->g, (size_t)n * sizeof *items, r->what, r->e);
        if (!items)
            return -1;
        for (uint64_t i = 0; i < n; i++) {
            memset(&items[i], 0, sizeof items[i]);
            if (rd_value(r, YT_GG_ARRAY, &items[i], depth + 1))
                return -1;
        }
        v->items = items;
    } else {
        const unsigned char *p = NULL;
        if (rd_raw(r, n * (uint64_t)vsize[et], &p))
            return -1;
        v->data = p;
        if (et == YT_GG_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (p[i] > 1)
                    return yt_errf(r->e, "%s: %s: bool array element %" PRIu64 " is %u (not 0/1)",
                                   r->g->path, r->what, i, p[i]);
    }
    return 0;
}

static int rd_value(rd *r, yt_gg_vtype type, yt_gg_value *v, int depth)
{
    v->type = type;
    if (type == YT_GG_STRING)
        return rd_str(r, &v->str);
    if (type == YT_GG_ARRAY)
        return rd_array(r, v, depth);
    const unsigned char *p = NULL;
    if (rd_raw(r, (uint64_t)vsize[type], &p))
        return -1;
    switch (type) {
    case YT_GG_U8: v->u = p[0]; break;
    case YT_GG_I8: v->i = (int8_t)p[0]; break;
    case YT_GG_U16: { uint16_t x; memcpy(&x, p, 2); v->u = x; break; }
    case YT_GG_I16: { int16_t x; memcpy(&x, p, 2); v->i = x; break; }
    case YT_GG_U32: { uint32_t x; memcpy(&x, p, 4); v->u = x; break; }
    case YT_GG_I32: { int32_t x; memcpy(&x, p, 4); v->i = x; break; }
    case YT_GG_U64: memcpy(&v->u, p, 8); break;
    case YT_GG_I64: memcpy(&v->i, p, 8); break;
    case YT_GG_F32: { float x; memcpy(&x, p, 4); v->f = x; break; }
    case YT_GG_F64: memcpy(&v->f, p, 8); break;
    case YT_GG_BOOL:
        if (p[0] > 1)
            return yt_errf(r->e, "%s: %s: bool value is %u (not 0/1)", r->g->path, r->what, p[0]);
        v->u = p[0];
        break;
    default: break;
    }
    return 0;
}

static size_t slot_of(const char *name, size_t n_slots)
{
    return (size_t)yt_hash64(name, strlen(name), YT_HASH_SEED) & (n_slots - 1);
}

static int cmp_off(const void *a, const void *b)
{
    const yt_gg_tensor *x = *(const yt_gg_tensor *const *)a, *y = *(const yt_gg_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Shape, size and type of one tensor info; OFFSET checked later. */
static int check_tensor(rd *r, yt_gg_tensor *t)
{
    int block, bytes;
    if (!yt_gg_type_size(t->type, &block, &bytes))
        return yt_errf(r->e, "%s: tensor '%s': unknown ggml type %" PRIu32, r->g->path, t->name,
                       t->type);
    int64_t numel = 1;
    for (int d = 0; d < YT_GG_MAX_DIMS; d++)
        if (__builtin_mul_overflow(numel, t->ne[d], &numel))
            return yt_errf(r->e, "%s: tensor '%s': dims [%" PRId64 ", %" PRId64 ", %" PRId64
                           ", %" PRId64 "] overflow 64 bits", r->g->path, t->name, t->ne[0],
                           t->ne[1], t->ne[2], t->ne[3]);
    if (t->ne[0] % block != 0)
        return yt_errf(r->e, "%s: tensor '%s': row length %" PRId64 " is not a multiple of the "
                       "%s block (%d)", r->g->path, t->name, t->ne[0], yt_gg_type_name(t->type),
                       block);
    uint64_t nb;
    if (__builtin_mul_overflow((uint64_t)(numel / block), (uint64_t)bytes, &nb) || nb > SIZE_MAX)
        return yt_errf(r->e, "%s: tensor '%s': %" PRId64 " elements of %s overflow 64 bits",
                       r->g->path, t->name, numel, yt_gg_type_name(t->type));
    t->numel = numel;
    t->rows = t->ne[0] ? numel / t->ne[0] : 0;
    t->nbytes = (size_t)nb;
    t->row_bytes = (size_t)(t->ne[0] / block) * (size_t)bytes;
    return 0;
}

static int parse(yt_gg *g, yt_err *e)
{
    rd r = {.g = g, .pos = 0, .e = e};
    snprintf(r.what, sizeof r.what, "header");
    const unsigned char *magic = NULL;
    if (rd_raw(&r, 4, &magic))
        return -1;
    if (memcmp(magic, GGUF_MAGIC, 4) != 0)
        return yt_errf(e, "%s: not a GGUF file (no 'GGUF' magic)", g->path);
    uint64_t n_t, n_kv;
    if (rd_u32(&r, &g->version))
        return -1;
    if (g->version == 1)
        return yt_errf(e, "%s: GGUF version 1 is not supported (only 2 and 3); convert it again "
                       "with a current llama.cpp", g->path);
    if (g->version != 2 && g->version != 3) {
        uint32_t sw = __builtin_bswap32(g->version);
        if (sw == 2 || sw == 3)
            return yt_errf(e, "%s: a big-endian GGUF file (version %" PRIu32 "); only "
                           "little-endian files are supported", g->path, sw);
        return yt_errf(e, "%s: GGUF version %" PRIu32 " is not supported (only 2 and 3)", g->path,
                       g->version);
    }
    if (rd_u64(&r, &n_t) || rd_u64(&r, &n_kv))
        return -1;
    /* A key/value takes at least 13 bytes (empty key, type, one byte), a tensor
     * info at least 32 (empty name, n_dims, one dim, type, offset). */
    uint64_t left = g->end - r.pos;
    char b[96];
    if (n_kv > left / 13 && g->stream)
        return yt_errf(e, "%s: key/value count %" PRIu64 " runs past the end of %s (truncated, "
                       "or a corrupt count)", g->path, n_kv, stream_end(g, b, sizeof b));
    if (n_kv > left / 13)
        return yt_errf(e, "%s: key/value count %" PRIu64 " runs past the end of the %zu-byte file "
                       "(truncated, or a corrupt count)", g->path, n_kv, g->size);
    if (!g->meta_only && (n_t > left / 32 || n_kv * 13 + n_t * 32 > left))
        return yt_errf(e, "%s: tensor count %" PRIu64 " (after %" PRIu64 " key/values) runs past "
                       "the end of the %zu-byte file (truncated, or a corrupt count)", g->path, n_t,
                       n_kv, g->size);
    g->kv = yt_calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->kv, "the key/values", e);
    if (g->kv)
        g->t = yt_calloc(n_t && !g->meta_only ? (size_t)n_t : 1, sizeof *g->t, "the tensor infos",
                         e);
    if (!g->kv || !g->t)
        return yt_err_prefix(e, "%s", g->path);
    for (uint64_t i = 0; i < n_kv; i++) {
        yt_gg_str ks;
        uint32_t type;
        snprintf(r.what, sizeof r.what, "key/value %" PRIu64, i);
        if (rd_str(&r, &ks))
            return -1;
        char *key = dup_name(&r, ks, "key");
        if (!key)
            return -1;
        snprintf(r.what, sizeof r.what, "key '%.120s'", key);
        if (rd_u32(&r, &type))
            return -1;
        if (type >= YT_GG_NVTYPES)
            return yt_errf(e, "%s: key '%s': unknown value type %" PRIu32, g->path, key, type);
        g->kv[i].key = key;
        if (rd_value(&r, (yt_gg_vtype)type, &g->kv[i].v, 0))
            return -1;
        g->n_kv = (size_t)i + 1;
    }
    g->n_kslots = 16;
    while (g->n_kslots < 2 * g->n_kv)
        g->n_kslots *= 2;
    if (!(g->kslots = yt_alloc_array(g->n_kslots, sizeof *g->kslots, "the key index", e)))
        return yt_err_prefix(e, "%s", g->path);
    for (size_t i = 0; i < g->n_kslots; i++)
        g->kslots[i] = -1;
    for (size_t i = 0; i < g->n_kv; i++) {
        size_t k = slot_of(g->kv[i].key, g->n_kslots);
        while (g->kslots[k] >= 0) {
            if (strcmp(g->kv[g->kslots[k]].key, g->kv[i].key) == 0)
                return yt_errf(e, "%s: key '%s' appears twice", g->path, g->kv[i].key);
            k = (k + 1) & (g->n_kslots - 1);
        }
        g->kslots[k] = (int)i;
    }
    g->alignment = YT_GG_DEFAULT_ALIGNMENT;
    const yt_gg_value *al = yt_gg_find(g, "general.alignment");
    if (al) {
        if (al->type != YT_GG_U32)
            return yt_errf(e, "%s: key 'general.alignment' must be uint32 (is %s)", g->path,
                           yt_gg_vtype_name(al->type));
        if (al->u == 0 || (al->u & (al->u - 1)))
            return yt_errf(e, "%s: key 'general.alignment' is %" PRIu64 ", not a power of two",
                           g->path, al->u);
        g->alignment = al->u;
    }
    if (g->meta_only)
        return 0;
    for (uint64_t i = 0; i < n_t; i++) {
        yt_gg_tensor *t = &g->t[i];
        yt_gg_str ns;
        uint32_t nd;
        snprintf(r.what, sizeof r.what, "tensor info %" PRIu64, i);
        if (rd_str(&r, &ns))
            return -1;
        if (!(t->name = dup_name(&r, ns, "tensor")))
            return -1;
        t->file = g->path;
        snprintf(r.what, sizeof r.what, "tensor '%.120s'", t->name);
        if (rd_u32(&r, &nd))
            return -1;
        if (nd == 0 || nd > YT_GG_MAX_DIMS)
            return yt_errf(e, "%s: tensor '%s': %" PRIu32 " dimensions (1 to %d are valid)",
                           g->path, t->name, nd, YT_GG_MAX_DIMS);
        t->n_dims = (int)nd;
        for (int d = 0; d < YT_GG_MAX_DIMS; d++) {
            uint64_t x = 1;
            if ((uint32_t)d < nd && rd_u64(&r, &x))
                return -1;
            if (x > (uint64_t)INT64_MAX)
                return yt_errf(e, "%s: tensor '%s': dimension %d is %" PRIu64 " (negative as "
                               "int64)", g->path, t->name, d, x);
            t->ne[d] = (int64_t)x;
        }
        if (rd_u32(&r, &t->type) || rd_u64(&r, &t->offset))
            return -1;
        if (check_tensor(&r, t))
            return -1;
        g->n_t = (size_t)i + 1;
    }
    /* The data section starts at the next multiple of the alignment. */
    uint64_t pad = (g->alignment - r.pos % g->alignment) % g->alignment;
    g->data_off = r.pos + pad;
    uint64_t data_size = g->data_off <= g->size ? g->size - g->data_off : 0;
    if (n_t && g->data_off > g->size)
        return yt_errf(e, "%s: truncated: the data section would start at offset %" PRIu64
                       " but the file has %zu bytes", g->path, g->data_off, g->size);
    for (size_t i = 0; i < g->n_t; i++) {
        yt_gg_tensor *t = &g->t[i];
        if (t->offset % g->alignment)
            return yt_errf(e, "%s: tensor '%s': offset %" PRIu64 " is not a multiple of the "
                           "alignment %" PRIu64, g->path, t->name, t->offset, g->alignment);
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return yt_errf(e, "%s: tensor '%s': %zu bytes at data offset %" PRIu64 " (file offset "
                           "%" PRIu64 ") run past the end of the %zu-byte file (truncated?)",
                           g->path, t->name, t->nbytes, t->offset, g->data_off + t->offset,
                           g->size);
        t->data = g->base + g->data_off + t->offset;
    }
    /* No two tensors share bytes. */
    if (g->n_t > 1) {
        const yt_gg_tensor **by = yt_alloc_array(g->n_t, sizeof *by, "the tensors by offset", e);
        if (!by)
            return yt_err_prefix(e, "%s", g->path);
        for (size_t i = 0; i < g->n_t; i++)
            by[i] = &g->t[i];
        qsort(by, g->n_t, sizeof *by, cmp_off);
        for (size_t i = 1; i < g->n_t; i++)
            if (by[i - 1]->nbytes && by[i]->offset < by[i - 1]->offset + by[i - 1]->nbytes) {
                int rc = yt_errf(e, "%s: tensors '%s' and '%s' overlap in the data section",
                                 g->path, by[i - 1]->name, by[i]->name);
                free(by);
                return rc;
            }
        free(by);
    }
    size_t n_slots = 16;
    while (n_slots < 2 * g->n_t)
        n_slots *= 2;
    g->slots = yt_alloc_array(n_slots, sizeof *g->slots, "the tensor index", e);
    if (!g->slots)
        return yt_err_prefix(e, "%s", g->path);
    g->n_slots = n_slots;
    for (size_t i = 0; i < n_slots; i++)
        g->slots[i] = -1;
    for (size_t i = 0; i < g->n_t; i++) {
        size_t k = slot_of(g->t[i].name, n_slots);
        while (g->slots[k] >= 0) {
            if (strcmp(g->t[g->slots[k]].name, g->t[i].name) == 0)
                return yt_errf(e, "%s: tensor '%s' appears twice", g->path, g->t[i].name);
            k = (k + 1) & (n_slots - 1);
        }
        g->slots[k] = (int)i;
    }
    return 0;
}

int yt_gg_open(yt_gg **out, const char *path, yt_err *e)
{
    *out = NULL;
    yt_gg *g = yt_calloc(1, sizeof *g, "a GGUF reader", e);
    if (!g || !(g->path = yt_strdup(path, "a GGUF reader's path", e))) {
        free(g);
        return yt_err_prefix(e, "%s", path);
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        yt_errno(e, errno, "%s", path);
        yt_gg_close(g);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        yt_errno(e, errno, "%s", path);
        close(fd);
        yt_gg_close(g);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        yt_errf(e, "%s: not a regular file", path);
        yt_gg_close(g);
        return -1;
    }
    if (st.st_size < 24) {
        close(fd);
        yt_errf(e, "%s: truncated: %lld bytes, shorter than the 24-byte GGUF header", path,
                (long long)st.st_size);
        yt_gg_close(g);
        return -1;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (m == MAP_FAILED) {
        yt_errno(e, err, "%s: mmap failed", path);
        yt_gg_close(g);
        return -1;
    }
    g->base = m;
    g->size = (size_t)st.st_size;
    g->end = g->size;
    if (parse(g, e)) {
        yt_gg_close(g);
        return -1;
    }
    *out = g;
    return 0;
}

void yt_gg_close(yt_gg *g)
{
    if (!g)
        return;
    if (g->base && !g->stream)
        munmap((void *)g->base, g->size);
    free(g->owned);
    while (g->mem) {
        blk *n = g->mem->next;
        free(g->mem);
        g->mem = n;
    }
    free(g->kv);
    free(g->t);
    free(g->slots);
    free(g->kslots);
    free(g->path);
    free(g);
}

/* One parse of the BUF bytes read so far; *more set when the stream must give
 * more before the metadata can be parsed. */
static int parse_buffered(yt_gg **out, unsigned char **buf, size_t have, const char *name,
                          uint64_t end, int end_known, int more_possible, int *more, yt_err *e)
{
    *more = 0;
    yt_gg *g = yt_calloc(1, sizeof *g, "a GGUF reader", e);
    if (!g || !(g->path = yt_strdup(name, "a GGUF reader's path", e))) {
        free(g);
        return yt_err_prefix(e, "%s", name);
    }
    g->stream = g->meta_only = 1;
    g->base = *buf;
    g->size = have;
    g->end = end;
    g->end_known = end_known;
    g->partial = more_possible;
    if (parse(g, e)) {
        *more = g->need_more;
        yt_gg_close(g);
        return -1;
    }
    g->owned = *buf; /* G frees it now */
    *buf = NULL;
    *out = g;
    return 0;
}

int yt_gg_read_meta(yt_gg **out, yt_gg_read_fn read, void *ctx, const char *name, uint64_t end,
                    int end_known, yt_err *e)
{
    *out = NULL;
    unsigned char *buf = NULL;
    size_t have = 0;
    int at_eof = 0;
    /* Parse what has been read; read twice as much whenever the metadata goes on
     * past it: reading stops at the metadata's end (or at END), so that a FIFO's
     * tensors are never read, and the parses cost at most twice the last. */
    for (;;) {
        int more = 0;
        if (have && !parse_buffered(out, &buf, have, name, end, end_known, !at_eof && have < end,
                                    &more, e))
            return 0;
        if (have && !more)
            break;
        uint64_t want = have ? (uint64_t)have * 2 : 65536;
        if (want > end)
            want = end;
        if (want > SIZE_MAX) {
            yt_errf(e, "%s: GGUF metadata larger than memory can hold", name);
            break;
        }
        unsigned char *nb = yt_realloc(buf, (size_t)want ? (size_t)want : 1, "GGUF metadata", e);
        if (!nb) {
            yt_err_prefix(e, "%s", name);
            break;
        }
        buf = nb;
        size_t got = 0;
        if (read(ctx, buf + have, (size_t)want - have, &got, e))
            break;
        at_eof = have + got < want;
        have += got;
        if (!have) {
            yt_errf(e, "%s: empty (no GGUF header)", name);
            break;
        }
    }
    free(buf);
    return -1;
}

int yt_gg_probe(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    char m[4];
    ssize_t n = read(fd, m, 4);
    close(fd);
    return n == 4 && memcmp(m, GGUF_MAGIC, 4) == 0;
}

const char *yt_gg_path(const yt_gg *g) { return g->path; }
uint32_t yt_gg_version(const yt_gg *g) { return g->version; }
uint64_t yt_gg_alignment(const yt_gg *g) { return g->alignment; }
uint64_t yt_gg_data_offset(const yt_gg *g) { return g->data_off; }
size_t yt_gg_n_kv(const yt_gg *g) { return g->n_kv; }
const char *yt_gg_kv_key(const yt_gg *g, size_t i) { return i < g->n_kv ? g->kv[i].key : NULL; }
const yt_gg_value *yt_gg_kv_value(const yt_gg *g, size_t i)
{
    return i < g->n_kv ? &g->kv[i].v : NULL;
}
size_t yt_gg_n_tensors(const yt_gg *g) { return g->n_t; }
const yt_gg_tensor *yt_gg_tensor_at(const yt_gg *g, size_t i) { return i < g->n_t ? &g->t[i] : NULL; }

const yt_gg_value *yt_gg_find(const yt_gg *g, const char *key)
{
    if (!g->kslots)
        return NULL;
    size_t k = slot_of(key, g->n_kslots);
    while (g->kslots[k] >= 0) {
        const kv *x = &g->kv[g->kslots[k]];
        if (strcmp(x->key, key) == 0)
            return &x->v;
        k = (k + 1) & (g->n_kslots - 1);
    }
    return NULL;
}

const yt_gg_tensor *yt_gg_tensor_find(const yt_gg *g, const char *name)
{
    if (!g->slots)
        return NULL;
    size_t k = slot_of(name, g->n_slots);
    while (g->slots[k] >= 0) {
        const yt_gg_tensor *t = &g->t[g->slots[k]];
        if (strcmp(t->name, name) == 0)
            return t;
        k = (k + 1) & (g->n_slots - 1);
    }
    return NULL;
}

int yt_gg_str_eq(yt_gg_str s, const char *z)
{
    return s.len == strlen(z) && memcmp(s.p, z, (size_t)s.len) == 0;
}

static int is_int_type(yt_gg_vtype t)
{
    return t == YT_GG_U8 || t == YT_GG_I8 || t == YT_GG_U16 || t == YT_GG_I16 || t == YT_GG_U32 ||
           t == YT_GG_I32 || t == YT_GG_U64 || t == YT_GG_I64;
}

static int is_signed(yt_gg_vtype t)
{
    return t == YT_GG_I8 || t == YT_GG_I16 || t == YT_GG_I32 || t == YT_GG_I64;
}

static const yt_gg_value *lookup(const yt_gg *g, const char *key, int required, yt_err *e, int *rc)
{
    const yt_gg_value *v = yt_gg_find(g, key);
    *rc = 0;
    if (!v && required)
        *rc = yt_errf(e, "%s: missing key '%s'", g->path, key);
    return v;
}

int yt_gg_get_int(const yt_gg *g, const char *key, int64_t lo, int64_t hi, int64_t *out,
                  int required, yt_err *e)
{
    int rc;
    const yt_gg_value *v = lookup(g, key, required, e, &rc);
    if (!v)
        return rc;
    if (!is_int_type(v->type))
        return yt_errf(e, "%s: key '%s' must be an integer (is %s)", g->path, key,
                       yt_gg_vtype_name(v->type));
    if (is_signed(v->type) ? (v->i < lo || v->i > hi)
                           : (v->u > (uint64_t)INT64_MAX || (int64_t)v->u < lo || (int64_t)v->u > hi)) {
        if (is_signed(v->type))
            return yt_errf(e, "%s: key '%s' is %" PRId64 ", outside [%" PRId64 ", %" PRId64 "]",
                           g->path, key, v->i, lo, hi);
        return yt_errf(e, "%s: key '%s' is %" PRIu64 ", outside [%" PRId64 ", %" PRId64 "]",
                       g->path, key, v->u, lo, hi);
    }
    *out = is_signed(v->type) ? v->i : (int64_t)v->u;
    return 0;
}

int yt_gg_get_float(const yt_gg *g, const char *key, double *out, int required, yt_err *e)
{
    int rc;
    const yt_gg_value *v = lookup(g, key, required, e, &rc);
    if (!v)
        return rc;
    if (v->type == YT_GG_F32 || v->type == YT_GG_F64)
        *out = v->f;
    else if (is_int_type(v->type))
        *out = is_signed(v->type) ? (double)v->i : (double)v->u;
    else
        return yt_errf(e, "%s: key '%s' must be a number (is %s)", g->path, key,
                       yt_gg_vtype_name(v->type));
    return 0;
}

int yt_gg_get_bool(const yt_gg *g, const char *key, int *out, int required, yt_err *e)
{
    int rc;
    const yt_gg_value *v = lookup(g, key, required, e, &rc);
    if (!v)
        return rc;
    if (v->type != YT_GG_BOOL)
        return yt_errf(e, "%s: key '%s' must be a bool (is %s)", g->path, key,
                       yt_gg_vtype_name(v->type));
    *out = (int)v->u;
    return 0;
}

int yt_gg_get_str(const yt_gg *g, const char *key, yt_gg_str *out, int required, yt_err *e)
{
    int rc;
    const yt_gg_value *v = lookup(g, key, required, e, &rc);
    if (!v)
        return rc;
    if (v->type != YT_GG_STRING)
        return yt_errf(e, "%s: key '%s' must be a string (is %s)", g->path, key,
                       yt_gg_vtype_name(v->type));
    *out = v->str;
    return 0;
}

int yt_gg_get_array(const yt_gg *g, const char *key, yt_gg_vtype elem, const yt_gg_value **out,
                    int required, yt_err *e)
{
    int rc;
    const yt_gg_value *v = lookup(g, key, required, e, &rc);
    if (!v)
        return rc;
    if (v->type != YT_GG_ARRAY)
        return yt_errf(e, "%s: key '%s' must be an array (is %s)", g->path, key,
                       yt_gg_vtype_name(v->type));
    if (elem != YT_GG_NVTYPES && v->elem != elem)
        return yt_errf(e, "%s: key '%s' must be an array of %s (holds %s)", g->path, key,
                       yt_gg_vtype_name(elem), yt_gg_vtype_name(v->elem));
    *out = v;
    return 0;
}

int64_t yt_gg_arr_int(const yt_gg_value *v, uint64_t i)
{
    const unsigned char *p = (const unsigned char *)v->data + i * (uint64_t)vsize[v->elem];
    switch (v->elem) {
    case YT_GG_U8: case YT_GG_BOOL: return p[0];
    case YT_GG_I8: return (int8_t)p[0];
    case YT_GG_U16: { uint16_t x; memcpy(&x, p, 2); return x; }
    case YT_GG_I16: { int16_t x; memcpy(&x, p, 2); return x; }
    case YT_GG_U32: { uint32_t x; memcpy(&x, p, 4); return x; }
    case YT_GG_I32: { int32_t x; memcpy(&x, p, 4); return x; }
    case YT_GG_U64: case YT_GG_I64: { int64_t x; memcpy(&x, p, 8); return x; }
    case YT_GG_F32: { float x; memcpy(&x, p, 4); return (int64_t)x; }
    case YT_GG_F64: { double x; memcpy(&x, p, 8); return (int64_t)x; }
    default: return 0;
    }
}

double yt_gg_arr_float(const yt_gg_value *v, uint64_t i)
{
    const unsigned char *p = (const unsigned char *)v->data + i * (uint64_t)vsize[v->elem];
    switch (v->elem) {
    case YT_GG_F32: { float x; memcpy(&x, p, 4); return x; }
    case YT_GG_F64: { double x; memcpy(&x, p, 8); return x; }
    case YT_GG_U64: { uint64_t x; memcpy(&x, p, 8); return (double)x; }
    default: return (double)yt_gg_arr_int(v, i);
    }
}
