/* safetensors reader: mmap, header validation as the reference crate does,
 * sharded Hugging Face folders, lookup by name and conversion to float. */
#define _POSIX_C_SOURCE 200809L
#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

static const struct {
    const char *name;
    int bits;
} dtypes[YT_ST_NDTYPES] = {
    [YT_ST_F32] = {"F32", 32},         [YT_ST_F16] = {"F16", 16},
    [YT_ST_BF16] = {"BF16", 16},       [YT_ST_F64] = {"F64", 64},
    [YT_ST_I8] = {"I8", 8},            [YT_ST_U8] = {"U8", 8},
    [YT_ST_I16] = {"I16", 16},         [YT_ST_U16] = {"U16", 16},
    [YT_ST_I32] = {"I32", 32},         [YT_ST_U32] = {"U32", 32},
    [YT_ST_I64] = {"I64", 64},         [YT_ST_U64] = {"U64", 64},
    [YT_ST_BOOL] = {"BOOL", 8},        [YT_ST_F8_E4M3] = {"F8_E4M3", 8},
    [YT_ST_F8_E5M2] = {"F8_E5M2", 8},  [YT_ST_F8_E8M0] = {"F8_E8M0", 8},
    [YT_ST_F4] = {"F4", 4},            [YT_ST_F6_E2M3] = {"F6_E2M3", 6},
    [YT_ST_F6_E3M2] = {"F6_E3M2", 6},  [YT_ST_C64] = {"C64", 64},
};

const char *yt_st_dtype_name(yt_st_dtype t)
{
    return (unsigned)t < YT_ST_NDTYPES ? dtypes[t].name : "?";
}

int yt_st_dtype_bits(yt_st_dtype t) { return (unsigned)t < YT_ST_NDTYPES ? dtypes[t].bits : 0; }

int yt_st_dtype_parse(const char *s, yt_st_dtype *out)
{
    for (int i = 0; i < YT_ST_NDTYPES; i++)
        if (strcmp(s, dtypes[i].name) == 0) {
            *out = (yt_st_dtype)i;
            return 0;
        }
    return -1;
}

typedef struct st_file {
    char *path;
    unsigned char *base;   /* whole file mapped */
    size_t size;
    json_t *meta;          /* "__metadata__" object or NULL */
} st_file;

struct yt_st_set {
    char *path;
    st_file *files;
    int n_files;
    yt_st_tensor *t;
    size_t n, cap;
    int *slots;            /* open addressing over t, -1 empty */
    size_t n_slots;
};

/* ---- small helpers ---- */

static void fmt_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, cap - k, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (k < cap)
        snprintf(buf + k, cap - k, "]");
}

/* Compact JSON text of a value, shortened for messages. */
static void fmt_json(char *buf, size_t cap, const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        snprintf(buf, cap, "?");
        return;
    }
    if (strlen(s) >= cap && cap > 4)
        snprintf(buf, cap, "%.*s...", (int)(cap - 4), s);
    else
        snprintf(buf, cap, "%s", s);
    free(s);
}

static char *join_path(const char *dir, const char *name, yt_err *e)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = yt_malloc(a + b + 2, "a path", e);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a == 0 || dir[a - 1] != '/')
        p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

static int is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- name lookup ---- */

static size_t slot_of(const char *name, size_t n_slots)
{
    return (size_t)yt_hash64(name, strlen(name), YT_HASH_SEED) & (n_slots - 1);
}

static int build_index(yt_st_set *s, yt_err *e)
{
    size_t n_slots = 16;
    while (n_slots < 2 * s->n)
        n_slots *= 2;
    s->slots = yt_alloc_array(n_slots, sizeof *s->slots, "the tensor index", e);
    if (!s->slots)
        return yt_err_prefix(e, "%s", s->path);
    s->n_slots = n_slots;
    for (size_t i = 0; i < n_slots; i++)
        s->slots[i] = -1;
    for (size_t i = 0; i < s->n; i++) {
        size_t k = slot_of(s->t[i].name, n_slots);
        while (s->slots[k] >= 0) {
            const yt_st_tensor *o = &s->t[s->slots[k]];
            if (strcmp(o->name, s->t[i].name) == 0)
                return yt_errf(e, "%s: tensor '%s' appears in both %s and %s", s->path,
                               s->t[i].name, o->file, s->t[i].file);
            k = (k + 1) & (n_slots - 1);
        }
        s->slots[k] = (int)i;
    }
    return 0;
}

const yt_st_tensor *yt_st_find(const yt_st_set *s, const char *name)
{
    if (!s || !s->slots || !name)
        return NULL;
    size_t k = slot_of(name, s->n_slots);
    while (s->slots[k] >= 0) {
        const yt_st_tensor *t = &s->t[s->slots[k]];
        if (strcmp(t->name, name) == 0)
            return t;
        k = (k + 1) & (s->n_slots - 1);
    }
    return NULL;
}

/* ---- one file ---- */

static int push_tensor(yt_st_set *s, const yt_st_tensor *t, yt_err *e)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        yt_st_tensor *nt = yt_realloc_array(s->t, cap, sizeof *nt, "the tensor list", e);
        if (!nt)
            return yt_err_prefix(e, "%s", t->file);
        s->t = nt;
        s->cap = cap;
    }
    s->t[s->n++] = *t;
    return 0;
}

static int cmp_offset(const void *a, const void *b)
{
    const yt_st_tensor *x = a, *y = b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes)
        return x->nbytes < y->nbytes ? -1 : 1;
    return 0;
}

/* Parses one header entry into T (offsets relative to the data section). */
static int parse_entry(const char *path, const char *name, json_t *v, yt_st_tensor *t, yt_err *e)
{
    char buf[256];
    if (!json_is_object(v))
        return yt_errf(e, "%s: tensor '%s': header entry is not a JSON object", path, name);
    json_t *jd = json_object_get(v, "dtype");
    json_t *js = json_object_get(v, "shape");
    json_t *jo = json_object_get(v, "data_offsets");
    if (!jd)
        return yt_errf(e, "%s: tensor '%s': missing \"dtype\"", path, name);
    if (!js)
        return yt_errf(e, "%s: tensor '%s': missing \"shape\"", path, name);
    if (!jo)
        return yt_errf(e, "%s: tensor '%s': missing \"data_offsets\"", path, name);
    if (!json_is_string(jd)) {
        fmt_json(buf, sizeof buf, jd);
        return yt_errf(e, "%s: tensor '%s': \"dtype\" must be a string, got %s", path, name, buf);
    }
    if (yt_st_dtype_parse(json_string_value(jd), &t->dtype) != 0)
        return yt_errf(e, "%s: tensor '%s': unknown dtype '%s'", path, name, json_string_value(jd));
    if (!json_is_array(js)) {
        fmt_json(buf, sizeof buf, js);
        return yt_errf(e, "%s: tensor '%s': \"shape\" must be a list of integers, got %s", path,
                       name, buf);
    }
    size_t nd = json_array_size(js);
    if (nd > YT_ST_MAX_DIMS)
        return yt_errf(e, "%s: tensor '%s': %zu dimensions, at most %d are supported", path, name,
                       nd, YT_ST_MAX_DIMS);
    t->ndim = (int)nd;
    int64_t numel = 1;
    int overflow = 0;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0) {
            fmt_json(buf, sizeof buf, js);
            return yt_errf(e, "%s: tensor '%s': shape %s: dimensions must be non-negative integers",
                           path, name, buf);
        }
        t->shape[i] = (int64_t)json_integer_value(d);
        if (__builtin_mul_overflow(numel, t->shape[i], &numel))
            overflow = 1;
    }
    for (size_t i = nd; i < YT_ST_MAX_DIMS; i++)
        t->shape[i] = 0;
    if (!json_is_array(jo) || json_array_size(jo) != 2 ||
        !json_is_integer(json_array_get(jo, 0)) || !json_is_integer(json_array_get(jo, 1)) ||
        json_integer_value(json_array_get(jo, 0)) < 0 ||
        json_integer_value(json_array_get(jo, 1)) < json_integer_value(json_array_get(jo, 0))) {
        fmt_json(buf, sizeof buf, jo);
        return yt_errf(e, "%s: tensor '%s': \"data_offsets\" must be two non-negative, "
                       "non-decreasing integers [begin, end], got %s", path, name, buf);
    }
    uint64_t begin = (uint64_t)json_integer_value(json_array_get(jo, 0));
    uint64_t end = (uint64_t)json_integer_value(json_array_get(jo, 1));
    int bits = yt_st_dtype_bits(t->dtype);
    uint64_t nbits = 0;
    if (overflow || __builtin_mul_overflow((uint64_t)numel, (uint64_t)bits, &nbits)) {
        fmt_shape(buf, sizeof buf, t->ndim, t->shape);
        return yt_errf(e, "%s: tensor '%s': shape %s is too large", path, name, buf);
    }
    if (nbits % 8 != 0) {
        fmt_shape(buf, sizeof buf, t->ndim, t->shape);
        return yt_errf(e, "%s: tensor '%s': shape %s of %s is not a whole number of bytes", path,
                       name, buf, yt_st_dtype_name(t->dtype));
    }
    if (end - begin != nbits / 8) {
        fmt_shape(buf, sizeof buf, t->ndim, t->shape);
        return yt_errf(e, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64
                       " bytes but shape %s of %s needs %" PRIu64 " bytes", path, name, begin, end,
                       end - begin, buf, yt_st_dtype_name(t->dtype), nbits / 8);
    }
    t->numel = numel;
    t->offset = begin;
    t->nbytes = (size_t)(end - begin);
    return 0;
}

/* Maps PATH, validates its header and appends its tensors to S. */
static int open_file(yt_st_set *s, const char *path, yt_err *e)
{
    st_file *nf = yt_realloc_array(s->files, (size_t)s->n_files + 1, sizeof *nf, "the file list", e);
    if (!nf)
        return yt_err_prefix(e, "%s", path);
    s->files = nf;
    st_file *f = &s->files[s->n_files];
    memset(f, 0, sizeof *f);
    f->path = yt_strdup(path, "a path", e);
    if (!f->path)
        return yt_err_prefix(e, "%s", path);
    int fi = s->n_files++;   /* counted now so that close frees it */

    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return yt_errno(e, errno, "%s", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return yt_errno(e, err, "%s", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return yt_errf(e, "%s: not a regular file", path);
    }
    if (st.st_size < 8) {
        close(fd);
        return yt_errf(e, "%s: file is %lld bytes, shorter than the 8-byte header length of a "
                       "safetensors file", path, (long long)st.st_size);
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (m == MAP_FAILED)
        return yt_errno(e, err, "%s: mmap failed", path);
    f->base = m;
    f->size = (size_t)st.st_size;

    uint64_t hlen;
    memcpy(&hlen, f->base, 8);
    if (hlen > YT_ST_MAX_HEADER)
        return yt_errf(e, "%s: header length %" PRIu64 " exceeds the %llu-byte limit (corrupt or "
                       "not a safetensors file)", path, hlen, YT_ST_MAX_HEADER);
    if (hlen > f->size - 8)
        return yt_errf(e, "%s: header length %" PRIu64 " runs past the end of the %zu-byte file "
                       "(truncated or not a safetensors file)", path, hlen, f->size);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)f->base + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return yt_errf(e, "%s: header is not valid JSON: %s (header byte %d)", path, jerr.text,
                       jerr.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return yt_errf(e, "%s: header is not a JSON object", path);
    }
    size_t data_start = 8 + (size_t)hlen;
    uint64_t data_len = f->size - data_start;
    size_t first = s->n;
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            if (json_is_null(v))
                continue;
            const char *mk;
            json_t *mv;
            if (!json_is_object(v)) {
                rc = yt_errf(e, "%s: \"__metadata__\" must be an object of strings", path);
                break;
            }
            json_object_foreach(v, mk, mv) {
                if (!json_is_string(mv)) {
                    rc = yt_errf(e, "%s: \"__metadata__\" key '%s': value must be a string", path, mk);
                    break;
                }
            }
            if (rc)
                break;
            f->meta = json_incref(v);
            continue;
        }
        yt_st_tensor t;
        memset(&t, 0, sizeof t);
        if ((rc = parse_entry(path, key, v, &t, e)) != 0)
            break;
        t.name = yt_strdup(key, "a tensor name", e);
        if (!t.name) {
            rc = yt_err_prefix(e, "%s", path);
            break;
        }
        t.file = f->path;
        t.file_index = fi;
        if ((rc = push_tensor(s, &t, e)) != 0) {
            free((char *)t.name);
            break;
        }
    }
    json_decref(root);
    if (rc)
        return -1;

    /* Bounds, then tiling of the data section: sorted by offset, each tensor
     * must start where the previous one ended and the last end at the end. */
    size_t nt = s->n - first;
    yt_st_tensor *t = nt ? s->t + first : NULL; /* a header without tensors: s->t may be NULL */
    for (size_t i = 0; i < nt; i++)
        if (t[i].offset + t[i].nbytes > data_len)
            return yt_errf(e, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] run past "
                           "the end of the %" PRIu64 "-byte data section (truncated file?)",
                           path, t[i].name, t[i].offset, t[i].offset + t[i].nbytes, data_len);
    if (nt > 1) /* qsort must not see the NULL table of a header without tensors */
        qsort(t, nt, sizeof *t, cmp_offset);
    uint64_t prev = 0;
    for (size_t i = 0; i < nt; i++) {
        uint64_t b = t[i].offset, en = b + t[i].nbytes;
        if (b < prev)
            return yt_errf(e, "%s: tensors '%s' [%" PRIu64 ", %" PRIu64 "] and '%s' [%" PRIu64
                           ", %" PRIu64 "] overlap", path, t[i - 1].name, t[i - 1].offset,
                           t[i - 1].offset + t[i - 1].nbytes, t[i].name, b, en);
        if (b > prev) {
            if (i == 0)
                return yt_errf(e, "%s: hole of %" PRIu64 " bytes at the start of the data section, "
                               "before tensor '%s' (safetensors requires contiguous data)",
                               path, b - prev, t[i].name);
            return yt_errf(e, "%s: hole of %" PRIu64 " bytes in the data section between tensor "
                           "'%s' (ends at %" PRIu64 ") and tensor '%s' (starts at %" PRIu64 ") "
                           "(safetensors requires contiguous data)", path, b - prev,
                           t[i - 1].name, prev, t[i].name, b);
        }
        prev = en;
    }
    if (prev != data_len) {
        if (nt == 0)
            return yt_errf(e, "%s: %" PRIu64 " bytes of data but no tensors", path, data_len);
        return yt_errf(e, "%s: hole of %" PRIu64 " bytes at the end of the data section, after "
                       "tensor '%s' (safetensors requires contiguous data)", path,
                       data_len - prev, t[nt - 1].name);
    }
    for (size_t i = 0; i < nt; i++)
        t[i].data = f->base + data_start + t[i].offset;
    return 0;
}

/* A ".." path component. */
static int has_dotdot(const char *p)
{
    for (const char *c = p; (c = strstr(c, "..")) != NULL; c += 2)
        if ((c == p || c[-1] == '/') && (c[2] == '\0' || c[2] == '/'))
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* INDEX: model.safetensors.index.json; DIR: its folder. */
static int open_sharded(yt_st_set *s, const char *index, const char *dir, yt_err *e)
{
    char *text = NULL;
    size_t len = 0;
    if (yt_read_file(index, &text, &len, e) != 0)
        return -1;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root)
        return yt_errf(e, "%s: not valid JSON: %s (line %d, column %d)", index, jerr.text,
                       jerr.line, jerr.column);
    int rc = -1;
    const char **shards = NULL;
    size_t ns = 0;
    json_t *wm = json_is_object(root) ? json_object_get(root, "weight_map") : NULL;
    if (!json_is_object(wm)) {
        yt_errf(e, "%s: no \"weight_map\" object", index);
        goto done;
    }
    shards = yt_alloc_array(json_object_size(wm) + 1, sizeof *shards, "the shard list", e);
    if (!shards) {
        yt_err_prefix(e, "%s", index);
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(wm, key, v) {
        if (!json_is_string(v)) {
            yt_errf(e, "%s: weight_map entry for tensor '%s' must be a file name", index, key);
            goto done;
        }
        const char *sh = json_string_value(v);
        if (sh[0] == '\0' || sh[0] == '/' || has_dotdot(sh)) {
            yt_errf(e, "%s: weight_map entry for tensor '%s' names shard '%s', which is not a "
                    "file name inside the folder", index, key, sh);
            goto done;
        }
        shards[ns++] = sh;
    }
    if (ns == 0) {
        yt_errf(e, "%s: \"weight_map\" is empty", index);
        goto done;
    }
    qsort(shards, ns, sizeof *shards, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < ns; i++)
        if (u == 0 || strcmp(shards[u - 1], shards[i]) != 0)
            shards[u++] = shards[i];
    ns = u;
    for (size_t i = 0; i < ns; i++) {
        char *p = join_path(dir, shards[i], e);
        if (!p) {
            yt_err_prefix(e, "%s", index);
            goto done;
        }
        if (!is_regular(p)) {
            const char *who = "?";
            json_object_foreach(wm, key, v) {
                if (strcmp(json_string_value(v), shards[i]) == 0) {
                    who = key;
                    break;
                }
            }
            yt_errf(e, "%s: shard file %s is missing (weight_map lists tensor '%s' in it)", index,
                    p, who);
            free(p);
            goto done;
        }
        int r = open_file(s, p, e);
        free(p);
        if (r != 0)
            goto done;
    }
    if (build_index(s, e) != 0)
        goto done;
    json_object_foreach(wm, key, v) {
        const yt_st_tensor *t = yt_st_find(s, key);
        char *p = join_path(dir, json_string_value(v), e);
        if (!p) {
            yt_err_prefix(e, "%s", index);
            goto done;
        }
        if (!t || strcmp(t->file, p) != 0) {
            yt_errf(e, "%s: weight_map lists tensor '%s' in shard %s, but that file has no "
                    "tensor '%s'%s%s%s", index, key, p, key, t ? " (it is in " : "",
                    t ? t->file : "", t ? ")" : "");
            free(p);
            goto done;
        }
        free(p);
    }
    rc = 0;
done:
    free(shards);
    json_decref(root);
    return rc;
}

int yt_st_open(yt_st_set **out, const char *path, yt_err *e)
{
    *out = NULL;
    yt_st_set *s = yt_calloc(1, sizeof *s, "a safetensors set", e);
    if (!s)
        return yt_err_prefix(e, "%s", path);
    s->path = yt_strdup(path, "a path", e);
    if (!s->path) {
        free(s);
        return yt_err_prefix(e, "%s", path);
    }
    struct stat st;
    int rc;
    if (stat(path, &st) != 0) {
        rc = yt_errno(e, errno, "%s", path);
    } else if (S_ISDIR(st.st_mode)) {
        char *single = join_path(path, "model.safetensors", e);
        char *index = single ? join_path(path, "model.safetensors.index.json", e) : NULL;
        if (!single || !index)
            rc = yt_err_prefix(e, "%s", path);
        else if (is_regular(single))
            rc = open_file(s, single, e) || build_index(s, e) ? -1 : 0;
        else if (is_regular(index))
            rc = open_sharded(s, index, path, e);
        else
            rc = yt_errf(e, "%s: folder has neither model.safetensors nor "
                         "model.safetensors.index.json", path);
        free(single);
        free(index);
    } else {
        size_t n = strlen(path);
        const char *suf = ".index.json";
        size_t k = strlen(suf);
        if (n > k && strcmp(path + n - k, suf) == 0) {
            char *dir = yt_strdup(path, "a path", e);
            if (!dir) {
                rc = yt_err_prefix(e, "%s", path);
            } else {
                char *slash = strrchr(dir, '/');
                if (slash)
                    slash[slash == dir ? 1 : 0] = '\0';
                rc = open_sharded(s, path, slash ? dir : ".", e);
                free(dir);
            }
        } else {
            rc = open_file(s, path, e) || build_index(s, e) ? -1 : 0;
        }
    }
    if (rc != 0) {
        yt_st_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void yt_st_close(yt_st_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free((char *)s->t[i].name);
    for (int i = 0; i < s->n_files; i++) {
        if (s->files[i].base)
            munmap(s->files[i].base, s->files[i].size);
        json_decref(s->files[i].meta);
        free(s->files[i].path);
    }
    free(s->files);
    free(s->t);
    free(s->slots);
    free(s->path);
    free(s);
}

const char *yt_st_path(const yt_st_set *s) { return s->path; }
size_t yt_st_count(const yt_st_set *s) { return s->n; }
const yt_st_tensor *yt_st_at(const yt_st_set *s, size_t i) { return i < s->n ? &s->t[i] : NULL; }
int yt_st_file_count(const yt_st_set *s) { return s->n_files; }
const char *yt_st_file_path(const yt_st_set *s, int i)
{
    return i >= 0 && i < s->n_files ? s->files[i].path : NULL;
}

const char *yt_st_meta(const yt_st_set *s, const char *key)
{
    for (int i = 0; i < s->n_files; i++) {
        json_t *v = s->files[i].meta ? json_object_get(s->files[i].meta, key) : NULL;
        if (json_is_string(v))
            return json_string_value(v);
    }
    return NULL;
}

/* ---- reading values ---- */

int yt_st_tensor_read_f32(const yt_st_tensor *t, float *dst, size_t n_expected, yt_err *e)
{
    if ((uint64_t)t->numel != (uint64_t)n_expected) {
        char buf[256];
        fmt_shape(buf, sizeof buf, t->ndim, t->shape);
        return yt_errf(e, "%s: tensor '%s' has %" PRId64 " elements (shape %s), expected %zu",
                       t->file, t->name, t->numel, buf, n_expected);
    }
    size_t n = n_expected;
    const unsigned char *src = t->data;
    switch (t->dtype) {
    case YT_ST_F32:
        if (n)
            memcpy(dst, src, n * sizeof(float));
        return 0;
    case YT_ST_BF16:
#pragma omp parallel for schedule(static) if (n > (1u << 20))
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = yt_st_bf16_to_f32(h);
        }
        return 0;
    case YT_ST_F16:
#pragma omp parallel for schedule(static) if (n > (1u << 20))
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = yt_st_f16_to_f32(h);
        }
        return 0;
    default:
        return yt_errf(e, "%s: tensor '%s' has dtype %s; only F32, F16 and BF16 convert to float",
                       t->file, t->name, yt_st_dtype_name(t->dtype));
    }
}

static const yt_st_tensor *find_or_err(const yt_st_set *s, const char *name, yt_err *e)
{
    const yt_st_tensor *t = yt_st_find(s, name);
    if (!t)
        yt_errf(e, "%s: no tensor '%s'", s->path, name);
    return t;
}

int yt_st_read_f32(const yt_st_set *s, const char *name, float *dst, size_t n_expected, yt_err *e)
{
    const yt_st_tensor *t = find_or_err(s, name, e);
    return t ? yt_st_tensor_read_f32(t, dst, n_expected, e) : -1;
}

int yt_st_expect_shape(const yt_st_set *s, const char *name, int ndim, const int64_t *shape,
                       yt_err *e)
{
    const yt_st_tensor *t = find_or_err(s, name, e);
    if (!t)
        return -1;
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (same)
        return 0;
    char want[256], got[256];
    fmt_shape(want, sizeof want, ndim, shape);
    fmt_shape(got, sizeof got, t->ndim, t->shape);
    return yt_errf(e, "%s: tensor '%s' has shape %s, expected %s", t->file, name, got, want);
}

const float *yt_st_f32_view(const yt_st_set *s, const char *name)
{
    const yt_st_tensor *t = yt_st_find(s, name);
    if (!t || t->dtype != YT_ST_F32 || ((uintptr_t)t->data & 3u) != 0)
        return NULL;
    return t->data;
}
