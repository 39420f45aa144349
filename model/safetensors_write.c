/* safetensors writer: collects borrowed tensors and metadata, then streams one
 * file through an atomic file (common.h: temp file, fsync, rename, folder fsync). */
#define _POSIX_C_SOURCE 200809L
#include "model/safetensors.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wentry {
    char *name;
    yt_st_dtype dtype;
    int ndim;
    int64_t shape[YT_ST_MAX_DIMS];
    const void *data;
    int from_float;      /* 1: data is float[numel]; 2: fill() makes it; stored as dtype */
    yt_st_fill_fn fill;
    size_t nbytes;       /* stored size */
    uint64_t offset;
} wentry;

struct yt_st_writer {
    wentry *v;
    size_t n, cap;
    json_t *meta;
};

int yt_st_writer_new(yt_st_writer **out, yt_err *e)
{
    yt_st_writer *w = yt_calloc(1, sizeof *w, "a safetensors writer", e);
    if (!w || !(w->meta = json_object())) {
        if (w)
            yt_err_oom(e, "a safetensors writer");
        free(w);
        *out = NULL;
        return -1;
    }
    *out = w;
    return 0;
}

void yt_st_writer_free(yt_st_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i].name);
    free(w->v);
    json_decref(w->meta);
    free(w);
}

static int add_entry(yt_st_writer *w, const char *name, yt_st_dtype dtype, int ndim,
                     const int64_t *shape, const void *data, int from_float, size_t raw_nbytes,
                     yt_err *e)
{
    if (!name || !name[0] || strcmp(name, "__metadata__") == 0)
        return yt_errf(e, "safetensors writer: invalid tensor name '%s'", name ? name : "(null)");
    if ((unsigned)dtype >= YT_ST_NDTYPES)
        return yt_errf(e, "safetensors writer: tensor '%s': invalid dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > YT_ST_MAX_DIMS)
        return yt_errf(e, "safetensors writer: tensor '%s': %d dimensions (0..%d supported)", name,
                       ndim, YT_ST_MAX_DIMS);
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->v[i].name, name) == 0)
            return yt_errf(e, "safetensors writer: tensor '%s' added twice", name);
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return yt_errf(e, "safetensors writer: tensor '%s': negative dimension %" PRId64,
                           name, shape[i]);
        if (__builtin_mul_overflow(numel, (uint64_t)shape[i], &numel))
            return yt_errf(e, "safetensors writer: tensor '%s': shape too large", name);
    }
    uint64_t nbits;
    if (__builtin_mul_overflow(numel, (uint64_t)yt_st_dtype_bits(dtype), &nbits) ||
        nbits / 8 > (uint64_t)INT64_MAX)
        return yt_errf(e, "safetensors writer: tensor '%s': shape too large", name);
    if (nbits % 8)
        return yt_errf(e, "safetensors writer: tensor '%s': %s shape is not a whole number of bytes",
                       name, yt_st_dtype_name(dtype));
    size_t nbytes = (size_t)(nbits / 8);
    if (!from_float && raw_nbytes != nbytes)
        return yt_errf(e, "safetensors writer: tensor '%s': %zu bytes given, shape of %s needs %zu",
                       name, raw_nbytes, yt_st_dtype_name(dtype), nbytes);
    if (!data && nbytes && from_float != 2)
        return yt_errf(e, "safetensors writer: tensor '%s': no data", name);
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 32;
        wentry *nv = yt_realloc_array(w->v, cap, sizeof *nv, "the tensor list", e);
        if (!nv)
            return yt_err_prefix(e, "safetensors writer: adding tensor '%s'", name);
        w->v = nv;
        w->cap = cap;
    }
    wentry *t = &w->v[w->n];
    memset(t, 0, sizeof *t);
    t->name = yt_strdup(name, "a tensor name", e);
    if (!t->name)
        return yt_err_prefix(e, "safetensors writer: adding tensor '%s'", name);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->data = data;
    t->from_float = from_float;
    t->nbytes = nbytes;
    w->n++;
    return 0;
}

int yt_st_writer_add(yt_st_writer *w, const char *name, yt_st_dtype dtype, int ndim,
                     const int64_t *shape, const float *data, yt_err *e)
{
    if (dtype != YT_ST_F32 && dtype != YT_ST_BF16 && dtype != YT_ST_F16)
        return yt_errf(e, "safetensors writer: tensor '%s': float data can be stored as F32, BF16 "
                       "or F16, not %s", name ? name : "(null)", yt_st_dtype_name(dtype));
    return add_entry(w, name, dtype, ndim, shape, data, 1, 0, e);
}

int yt_st_writer_add_fill(yt_st_writer *w, const char *name, yt_st_dtype dtype, int ndim,
                          const int64_t *shape, yt_st_fill_fn fill, void *ctx, yt_err *e)
{
    if (dtype != YT_ST_F32 && dtype != YT_ST_BF16 && dtype != YT_ST_F16)
        return yt_errf(e, "safetensors writer: tensor '%s': float data can be stored as F32, BF16 "
                       "or F16, not %s", name ? name : "(null)", yt_st_dtype_name(dtype));
    if (!fill)
        return yt_errf(e, "safetensors writer: tensor '%s': no fill function", name ? name : "(null)");
    if (add_entry(w, name, dtype, ndim, shape, ctx, 2, 0, e))
        return -1;
    w->v[w->n - 1].fill = fill;
    return 0;
}

int yt_st_writer_add_raw(yt_st_writer *w, const char *name, yt_st_dtype dtype, int ndim,
                         const int64_t *shape, const void *data, size_t nbytes, yt_err *e)
{
    return add_entry(w, name, dtype, ndim, shape, data, 0, nbytes, e);
}

int yt_st_writer_meta(yt_st_writer *w, const char *key, const char *value, yt_err *e)
{
    if (!key || !value)
        return yt_errf(e, "safetensors writer: metadata key and value must be strings");
    json_t *s = json_string(value);
    if (!s || json_object_set_new(w->meta, key, s) != 0)
        return yt_errf(e, "safetensors writer: metadata '%s': not valid UTF-8 or out of memory", key);
    return 0;
}

/* Buffered output to one atomic file. */
typedef struct wout {
    yt_afile *f;
    unsigned char *buf;
    size_t len, cap;
} wout;

static int flush_out(wout *o, yt_err *e)
{
    int rc = yt_af_write(o->f, o->buf, o->len, e);
    o->len = 0;
    return rc;
}

static int put(wout *o, const void *p, size_t n, yt_err *e)
{
    if (n == 0)
        return 0;
    if (o->len + n > o->cap) {
        if (flush_out(o, e) != 0)
            return -1;
        if (n > o->cap)
            return yt_af_write(o->f, p, n, e);
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    return 0;
}

static int write_floats(wout *o, const wentry *t, const float *x, yt_err *e)
{
    if (t->dtype == YT_ST_F32)
        return put(o, x, t->nbytes, e);
    size_t n = t->nbytes / 2;
    for (size_t i = 0; i < n; i++) {
        if (o->len + 2 > o->cap && flush_out(o, e) != 0)
            return -1;
        uint16_t h = t->dtype == YT_ST_BF16 ? yt_st_f32_to_bf16(x[i]) : yt_st_f32_to_f16(x[i]);
        memcpy(o->buf + o->len, &h, 2);
        o->len += 2;
    }
    return 0;
}

static int write_tensor(wout *o, const wentry *t, yt_err *e)
{
    if (!t->from_float)
        return put(o, t->data, t->nbytes, e);
    if (t->from_float == 1)
        return write_floats(o, t, t->data, e);
    size_t numel = t->nbytes / (size_t)(yt_st_dtype_bits(t->dtype) / 8);
    float *x = yt_alloc_array(numel, sizeof *x, "a tensor's floats", e);
    if (!x)
        return yt_err_prefix(e, "tensor '%s'", t->name);
    int rc = t->fill((void *)t->data, x, numel, e) != 0 ? -1 : write_floats(o, t, x, e);
    free(x);
    return rc;
}

static char *build_header(yt_st_writer *w, size_t *len, yt_err *e)
{
    json_t *root = json_object();
    if (!root)
        goto oom;
    if (json_object_size(w->meta) > 0 && json_object_set(root, "__metadata__", w->meta) != 0)
        goto oom;
    for (size_t i = 0; i < w->n; i++) {
        const wentry *t = &w->v[i];
        json_t *shape = json_array();
        json_t *offs = json_array();
        json_t *ent = json_object();
        if (!shape || !offs || !ent) {
            json_decref(shape);
            json_decref(offs);
            json_decref(ent);
            goto oom;
        }
        for (int d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer((json_int_t)t->shape[d]));
        json_array_append_new(offs, json_integer((json_int_t)t->offset));
        json_array_append_new(offs, json_integer((json_int_t)(t->offset + t->nbytes)));
        json_object_set_new(ent, "dtype", json_string(yt_st_dtype_name(t->dtype)));
        json_object_set_new(ent, "shape", shape);
        json_object_set_new(ent, "data_offsets", offs);
        if (json_object_set_new(root, t->name, ent) != 0)
            goto oom;
    }
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!s)
        goto oom_nofree;
    size_t n = strlen(s), padded = (n + 7) & ~(size_t)7;
    char *h = yt_realloc(s, padded + 1, "the safetensors header", e);
    if (!h) {
        free(s);
        return NULL;
    }
    memset(h + n, ' ', padded - n);
    h[padded] = '\0';
    *len = padded;
    return h;
oom:
    json_decref(root);
oom_nofree:
    yt_err_oom(e, "the safetensors header");
    return NULL;
}

int yt_st_writer_write(yt_st_writer *w, const char *path, yt_err *e)
{
    /* Data order: stable by decreasing element size, so each tensor starts at a
     * multiple of its element size. */
    size_t *order = yt_alloc_array(w->n + 1, sizeof *order, "the tensor order", e);
    if (!order)
        return yt_err_prefix(e, "%s", path);
    size_t k = 0;
    uint64_t off = 0;
    for (int bits = 64; bits >= 1; bits--)
        for (size_t i = 0; i < w->n; i++)
            if (yt_st_dtype_bits(w->v[i].dtype) == bits) {
                order[k++] = i;
                w->v[i].offset = off;
                off += w->v[i].nbytes;
            }
    size_t hlen = 0;
    char *header = build_header(w, &hlen, e);
    if (!header) {
        free(order);
        return yt_err_prefix(e, "%s", path);
    }
    yt_afile f;
    wout o = {.f = &f, .cap = 1u << 20};
    o.buf = yt_malloc(o.cap, "the write buffer", e);
    int rc = -1;
    if (!o.buf) {
        free(order);
        free(header);
        return yt_err_prefix(e, "%s", path);
    }
    /* Replaces only a safetensors file: its JSON header starts after the length. */
    const yt_af_opts ao = {.magic = "{", .magic_len = 1, .magic_off = 8, .kind = "a safetensors file"};
    if (yt_af_begin(&f, path, &ao, e) != 0) {
        free(order);
        free(header);
        free(o.buf);
        return -1;
    }
    uint64_t h64 = hlen;
    if (put(&o, &h64, 8, e) != 0 || put(&o, header, hlen, e) != 0)
        goto out;
    for (size_t j = 0; j < k; j++)
        if (write_tensor(&o, &w->v[order[j]], e) != 0) {
            yt_err_prefix(e, "tensor '%s'", w->v[order[j]].name);
            goto out;
        }
    if (flush_out(&o, e) != 0)
        goto out;
    rc = yt_af_commit(&f, e);
out:
    yt_af_abort(&f);
    free(order);
    free(header);
    free(o.buf);
    return rc;
}
