/* The GGUF metadata container: header, key/value pairs, arrays (see gguf_meta.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer/buffers.h"
#include "datasets/tokenizer/gguf_meta.h"

#define GGUF_MAX_DEPTH 8

struct yt_gguf {
    uint32_t version;
    uint64_t n_tensors;
    yt_gguf_kv *kv;
    size_t n_kv;
    tok_arena mem; /* strings, arrays */
};

typedef struct rd {
    tok_input *in;
    const char *path;
    uint64_t pos, size; /* size: the file's, or for a stream the most it may give */
    yt_err *e;
    yt_gguf *g;
    char key[256]; /* current key for messages */
} rd;

static const size_t type_size[YT_GGUF_NTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *yt_gguf_type_name(yt_gguf_type t)
{
    static const char *n[] = {"uint8", "int8",  "uint16", "int16",  "uint32", "int32", "float32",
                              "bool",  "string", "array", "uint64", "int64",  "float64"};
    return (unsigned)t < YT_GGUF_NTYPES ? n[t] : "?";
}

static int rd_bytes(rd *r, void *dst, uint64_t n)
{
    if (n > r->size - r->pos) {
        if (r->in->size_known)
            return yt_errf(r->e, "%s: %s%s%struncated (needs %llu bytes at offset %llu, file has "
                           "%llu)", r->path, r->key[0] ? "key '" : "", r->key,
                           r->key[0] ? "': " : "", (unsigned long long)n,
                           (unsigned long long)r->pos, (unsigned long long)r->size);
        return yt_errf(r->e, "%s: %s%s%sneeds %llu bytes at offset %llu: past the %llu bytes of "
                       "metadata read from a stream", r->path, r->key[0] ? "key '" : "", r->key,
                       r->key[0] ? "': " : "", (unsigned long long)n, (unsigned long long)r->pos,
                       (unsigned long long)r->size);
    }
    size_t got;
    if (tok_input_read(r->in, dst, (size_t)n, &got, r->e))
        return -1;
    if (got < n)
        return yt_errf(r->e, "%s: %s%s%struncated (needs %llu bytes at offset %llu, the input "
                       "ends at %llu)", r->path, r->key[0] ? "key '" : "", r->key,
                       r->key[0] ? "': " : "", (unsigned long long)n, (unsigned long long)r->pos,
                       (unsigned long long)(r->pos + got));
    r->pos += n;
    return 0;
}

static int rd_u32(rd *r, uint32_t *v)
{
    unsigned char b[4];
    if (rd_bytes(r, b, 4))
        return -1;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 0;
}

static int rd_u64(rd *r, uint64_t *v)
{
    unsigned char b[8];
    if (rd_bytes(r, b, 8))
        return -1;
    *v = 0;
    for (int i = 7; i >= 0; i--)
        *v = *v << 8 | b[i];
    return 0;
}

static int rd_string(rd *r, yt_gguf_str *s)
{
    uint64_t n;
    if (rd_u64(r, &n))
        return -1;
    if (n > r->size - r->pos)
        return yt_errf(r->e, "%s: %s%s%sstring length %llu runs past the end of the %s",
                       r->path, r->key[0] ? "key '" : "", r->key, r->key[0] ? "': " : "",
                       (unsigned long long)n, r->in->size_known ? "file" : "metadata limit");
    char *p = tok_arena_alloc(&r->g->mem, (size_t)n + 1, r->e);
    if (!p)
        return yt_err_prefix(r->e, "%s: key '%s'", r->path, r->key);
    if (rd_bytes(r, p, n))
        return -1;
    p[n] = '\0';
    s->s = p;
    s->len = n;
    return 0;
}

static int rd_value(rd *r, yt_gguf_type type, yt_gguf_value *v, int depth);

static int rd_scalar(rd *r, yt_gguf_type type, yt_gguf_value *v)
{
    unsigned char b[8];
    size_t sz = type_size[type];
    if (rd_bytes(r, b, sz))
        return -1;
    uint64_t u = 0;
    for (size_t i = sz; i-- > 0;)
        u = u << 8 | b[i];
    v->u = u;
    switch (type) {
    case YT_GGUF_I8: v->i = (int8_t)u; break;
    case YT_GGUF_I16: v->i = (int16_t)u; break;
    case YT_GGUF_I32: v->i = (int32_t)u; break;
    case YT_GGUF_I64: v->i = (int64_t)u; break;
    case YT_GGUF_F32: {
        uint32_t x = (uint32_t)u;
        float f;
        memcpy(&f, &x, 4);
        v->f = f;
        break;
    }
    case YT_GGUF_F64: memcpy(&v->f, &u, 8); break;
    case YT_GGUF_BOOL:
        if (u > 1)
            return yt_errf(r->e, "%s: key '%s': bool value %llu is not 0 or 1", r->path, r->key,
                           (unsigned long long)u);
        v->i = (int64_t)u;
        break;
    default: v->i = (int64_t)u; break;
    }
    if (type != YT_GGUF_F32 && type != YT_GGUF_F64)
        v->f = (type == YT_GGUF_I8 || type == YT_GGUF_I16 || type == YT_GGUF_I32 ||
                type == YT_GGUF_I64)
                   ? (double)v->i
                   : (double)v->u;
    return 0;
}

static int rd_value(rd *r, yt_gguf_type type, yt_gguf_value *v, int depth)
{
    memset(v, 0, sizeof *v);
    v->type = type;
    if ((unsigned)type >= YT_GGUF_NTYPES)
        return yt_errf(r->e, "%s: key '%s': unknown value type %u", r->path, r->key, (unsigned)type);
    if (type == YT_GGUF_STRING)
        return rd_string(r, &v->str);
    if (type != YT_GGUF_ARRAY)
        return rd_scalar(r, type, v);
    if (depth >= GGUF_MAX_DEPTH)
        return yt_errf(r->e, "%s: key '%s': arrays nested deeper than %d", r->path, r->key,
                       GGUF_MAX_DEPTH);
    uint32_t et;
    uint64_t n;
    if (rd_u32(r, &et) || rd_u64(r, &n))
        return -1;
    if (et >= YT_GGUF_NTYPES)
        return yt_errf(r->e, "%s: key '%s': unknown array element type %u", r->path, r->key, et);
    v->elem_type = (yt_gguf_type)et;
    v->n = n;
    /* every element takes at least one byte (a string at least 8, an array 12) */
    uint64_t min = et == YT_GGUF_STRING ? 8 : et == YT_GGUF_ARRAY ? 12 : type_size[et];
    if (n > (r->size - r->pos) / min)
        return yt_errf(r->e, "%s: key '%s': array of %llu %s elements runs past the end of the "
                       "%s", r->path, r->key, (unsigned long long)n, yt_gguf_type_name(et),
                       r->in->size_known ? "file" : "metadata limit");
    if (et == YT_GGUF_STRING) {
        yt_gguf_str *s = (yt_gguf_str *)tok_arena_alloc(&r->g->mem, (size_t)(n ? n : 1) * sizeof *s,
                                                        r->e);
        if (!s)
            return yt_err_prefix(r->e, "%s: key '%s'", r->path, r->key);
        for (uint64_t i = 0; i < n; i++)
            if (rd_string(r, &s[i]))
                return -1;
        v->strs = s;
    } else if (et == YT_GGUF_ARRAY) {
        yt_gguf_value *items = (yt_gguf_value *)tok_arena_alloc(
            &r->g->mem, (size_t)(n ? n : 1) * sizeof *items, r->e);
        if (!items)
            return yt_err_prefix(r->e, "%s: key '%s'", r->path, r->key);
        for (uint64_t i = 0; i < n; i++)
            if (rd_value(r, YT_GGUF_ARRAY, &items[i], depth + 1))
                return -1;
        v->items = items;
    } else {
        size_t bytes = (size_t)n * type_size[et];
        char *raw = tok_arena_alloc(&r->g->mem, bytes ? bytes : 1, r->e);
        if (!raw)
            return yt_err_prefix(r->e, "%s: key '%s'", r->path, r->key);
        if (rd_bytes(r, raw, bytes))
            return -1;
        if (et == YT_GGUF_BOOL)
            for (size_t i = 0; i < bytes; i++)
                if ((unsigned char)raw[i] > 1)
                    return yt_errf(r->e, "%s: key '%s': element %zu: bool value %u is not 0 or 1",
                                   r->path, r->key, i, (unsigned char)raw[i]);
        v->raw = raw;
    }
    return 0;
}

void yt_gguf_close(yt_gguf *g)
{
    if (!g)
        return;
    tok_arena_free(&g->mem);
    free(g->kv);
    free(g);
}

int tok_gguf_read(yt_gguf **out, tok_input *in, yt_err *e)
{
    const char *path = in->name;
    yt_gguf *g = calloc(1, sizeof *g);
    if (!g)
        return yt_errf(e, "%s: out of memory (GGUF reader)", path);
    rd r = {in, path, 0, in->size_known ? in->size : TOK_INPUT_MAX, e, g, {0}};
    char magic[4];
    uint64_t n_kv;
    int rc = rd_bytes(&r, magic, 4);
    if (!rc && memcmp(magic, "GGUF", 4) != 0)
        rc = yt_errf(e, "%s: not a GGUF file (magic '%.4s')", path, magic);
    if (!rc)
        rc = rd_u32(&r, &g->version);
    if (!rc && (g->version < 2 || g->version > 3))
        rc = yt_errf(e, "%s: GGUF version %u is not supported (2 and 3 are)", path, g->version);
    if (!rc)
        rc = rd_u64(&r, &g->n_tensors) || rd_u64(&r, &n_kv);
    if (!rc && n_kv > (r.size - r.pos) / 13)
        rc = yt_errf(e, "%s: %llu key/value pairs cannot fit in the %s", path,
                     (unsigned long long)n_kv, in->size_known ? "file" : "metadata limit");
    if (!rc && !(g->kv = calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->kv)))
        rc = yt_errf(e, "%s: out of memory (%llu key/value pairs)", path,
                     (unsigned long long)n_kv);
    for (uint64_t i = 0; !rc && i < n_kv; i++) {
        yt_gguf_str key;
        uint32_t type;
        r.key[0] = '\0';
        snprintf(r.key, sizeof r.key, "#%llu", (unsigned long long)i);
        if ((rc = rd_string(&r, &key)))
            break;
        snprintf(r.key, sizeof r.key, "%.200s", key.s);
        for (size_t j = 0; j < g->n_kv; j++)
            if (!strcmp(g->kv[j].key, key.s)) {
                rc = yt_errf(e, "%s: key '%s' appears twice", path, r.key);
                break;
            }
        if (rc || (rc = rd_u32(&r, &type)))
            break;
        g->kv[i].key = key.s;
        rc = rd_value(&r, (yt_gguf_type)type, &g->kv[i].v, 0);
        if (!rc)
            g->n_kv++;
    }
    if (rc) {
        yt_gguf_close(g);
        return -1;
    }
    *out = g;
    return 0;
}

int yt_gguf_open(yt_gguf **out, const char *path, yt_err *e)
{
    tok_input in;
    if (tok_input_open(&in, path, e))
        return -1;
    int rc = tok_gguf_read(out, &in, e);
    tok_input_close(&in);
    return rc;
}

uint32_t yt_gguf_version(const yt_gguf *g) { return g->version; }
uint64_t yt_gguf_tensor_count(const yt_gguf *g) { return g->n_tensors; }
size_t yt_gguf_kv_count(const yt_gguf *g) { return g->n_kv; }
const yt_gguf_kv *yt_gguf_kv_at(const yt_gguf *g, size_t i) { return i < g->n_kv ? &g->kv[i] : NULL; }

const yt_gguf_value *yt_gguf_find(const yt_gguf *g, const char *key)
{
    for (size_t i = 0; i < g->n_kv; i++)
        if (!strcmp(g->kv[i].key, key))
            return &g->kv[i].v;
    return NULL;
}

static uint64_t raw_elem(const yt_gguf_value *v, uint64_t i)
{
    size_t sz = type_size[v->elem_type];
    const unsigned char *p = (const unsigned char *)v->raw + i * sz;
    uint64_t u = 0;
    for (size_t k = sz; k-- > 0;)
        u = u << 8 | p[k];
    return u;
}

double yt_gguf_elem_f64(const yt_gguf_value *v, uint64_t i)
{
    if (v->type != YT_GGUF_ARRAY)
        return i == 0 ? v->f : 0.0;
    if (i >= v->n || !v->raw)
        return 0.0;
    uint64_t u = raw_elem(v, i);
    switch (v->elem_type) {
    case YT_GGUF_F32: {
        uint32_t x = (uint32_t)u;
        float f;
        memcpy(&f, &x, 4);
        return f;
    }
    case YT_GGUF_F64: {
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    case YT_GGUF_I8: return (int8_t)u;
    case YT_GGUF_I16: return (int16_t)u;
    case YT_GGUF_I32: return (int32_t)u;
    case YT_GGUF_I64: return (double)(int64_t)u;
    default: return (double)u;
    }
}

int64_t yt_gguf_elem_i64(const yt_gguf_value *v, uint64_t i)
{
    if (v->type != YT_GGUF_ARRAY)
        return i == 0 ? v->i : 0;
    if (i >= v->n || !v->raw)
        return 0;
    uint64_t u = raw_elem(v, i);
    switch (v->elem_type) {
    case YT_GGUF_F32:
    case YT_GGUF_F64: return (int64_t)yt_gguf_elem_f64(v, i);
    case YT_GGUF_I8: return (int8_t)u;
    case YT_GGUF_I16: return (int16_t)u;
    case YT_GGUF_I32: return (int32_t)u;
    default: return (int64_t)u;
    }
}
