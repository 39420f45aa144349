/* GGUF metadata (header + key/value pairs, all value types, nested arrays) and the
 * tokenizer it describes (llama.cpp's tokenizer.ggml.* keys). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/tokenizer_internal.h"

#define GGUF_MAX_DEPTH 8

struct yt_gguf {
    char *path;
    uint32_t version;
    uint64_t n_tensors;
    yt_gguf_kv *kv;
    size_t n_kv;
    tok_arena mem; /* strings, arrays */
};

typedef struct rd {
    FILE *f;
    const char *path;
    uint64_t pos, size;
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
    if (n > r->size - r->pos)
        return yt_errf(r->e, "%s: %s%s%struncated (needs %llu bytes at offset %llu, file has %llu)",
                       r->path, r->key[0] ? "key '" : "", r->key, r->key[0] ? "': " : "",
                       (unsigned long long)n, (unsigned long long)r->pos,
                       (unsigned long long)r->size);
    if (n && fread(dst, 1, (size_t)n, r->f) != n)
        return yt_errno(r->e, errno ? errno : EIO, "%s: read at offset %llu", r->path,
                        (unsigned long long)r->pos);
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
        return yt_errf(r->e, "%s: %s%s%sstring length %llu runs past the end of the file",
                       r->path, r->key[0] ? "key '" : "", r->key, r->key[0] ? "': " : "",
                       (unsigned long long)n);
    char *p = tok_arena_alloc(&r->g->mem, (size_t)n + 1, r->e);
    if (!p)
        return yt_err_prefix(r->e, "%s", r->path);
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
                       "file", r->path, r->key, (unsigned long long)n, yt_gguf_type_name(et));
    if (et == YT_GGUF_STRING) {
        yt_gguf_str *s = (yt_gguf_str *)tok_arena_alloc(&r->g->mem, (size_t)(n ? n : 1) * sizeof *s,
                                                        r->e);
        if (!s)
            return yt_err_prefix(r->e, "%s", r->path);
        for (uint64_t i = 0; i < n; i++)
            if (rd_string(r, &s[i]))
                return -1;
        v->strs = s;
    } else if (et == YT_GGUF_ARRAY) {
        yt_gguf_value *items = (yt_gguf_value *)tok_arena_alloc(
            &r->g->mem, (size_t)(n ? n : 1) * sizeof *items, r->e);
        if (!items)
            return yt_err_prefix(r->e, "%s", r->path);
        for (uint64_t i = 0; i < n; i++)
            if (rd_value(r, YT_GGUF_ARRAY, &items[i], depth + 1))
                return -1;
        v->items = items;
    } else {
        size_t bytes = (size_t)n * type_size[et];
        char *raw = tok_arena_alloc(&r->g->mem, bytes ? bytes : 1, r->e);
        if (!raw)
            return yt_err_prefix(r->e, "%s", r->path);
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
    free(g->path);
    free(g);
}

int yt_gguf_open(yt_gguf **out, const char *path, yt_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return yt_errno(e, errno, "%s", path);
    struct stat st;
    if (fstat(fileno(f), &st)) {
        fclose(f);
        return yt_errno(e, errno, "%s", path);
    }
    yt_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(path))) {
        free(g);
        fclose(f);
        return yt_errf(e, "%s: out of memory", path);
    }
    setvbuf(f, NULL, _IOFBF, 1 << 16);
    rd r = {f, path, 0, (uint64_t)st.st_size, e, g, {0}};
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
        rc = yt_errf(e, "%s: %llu key/value pairs cannot fit in the file", path,
                     (unsigned long long)n_kv);
    if (!rc && !(g->kv = calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->kv)))
        rc = yt_errf(e, "%s: out of memory", path);
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
    fclose(f);
    if (rc) {
        yt_gguf_close(g);
        return -1;
    }
    *out = g;
    return 0;
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

/* ---------------- the tokenizer ---------------- */

static int is_int_type(yt_gguf_type t)
{
    return t <= YT_GGUF_I32 || t == YT_GGUF_U64 || t == YT_GGUF_I64;
}

static int get_id(const yt_gguf *g, const char *key, uint32_t n_ids, int64_t *out, yt_err *e)
{
    const yt_gguf_value *v = yt_gguf_find(g, key);
    if (!v)
        return 0;
    if (!is_int_type(v->type))
        return yt_errf(e, "%s: key '%s': expected an integer, found %s", g->path, key,
                       yt_gguf_type_name(v->type));
    int64_t id = v->type == YT_GGUF_U64 ? (int64_t)(v->u > INT64_MAX ? -1 : (int64_t)v->u) : v->i;
    if (id < 0 || (uint64_t)id >= n_ids)
        return yt_errf(e, "%s: key '%s': id %lld is outside the %u tokens", g->path, key,
                       (long long)id, n_ids);
    *out = id;
    return 0;
}

static int get_flag(const yt_gguf *g, const char *key, int def, int *out, yt_err *e)
{
    const yt_gguf_value *v = yt_gguf_find(g, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (v->type != YT_GGUF_BOOL)
        return yt_errf(e, "%s: key '%s': expected a bool, found %s", g->path, key,
                       yt_gguf_type_name(v->type));
    *out = v->u != 0;
    return 0;
}

static int add_pre(yt_tok *t, tok_pre *p, yt_err *e)
{
    tok_pre *v = realloc(t->pre, (t->n_pre + 1) * sizeof *v);
    if (!v)
        return yt_errf(e, "out of memory");
    t->pre = v;
    v[t->n_pre++] = *p;
    return 0;
}

static int add_dec(yt_tok *t, int kind, const char *a, const char *b, uint32_t content, size_t start,
                   yt_err *e)
{
    tok_dec *v = realloc(t->dec, (t->n_dec + 1) * sizeof *v);
    if (!v)
        return yt_errf(e, "out of memory");
    t->dec = v;
    tok_dec d;
    memset(&d, 0, sizeof d);
    d.kind = kind;
    if (a) {
        d.a = strdup(a);
        d.alen = strlen(a);
    }
    if (b) {
        d.b = strdup(b);
        d.blen = strlen(b);
    }
    d.content = content;
    d.start = start;
    v[t->n_dec++] = d;
    t->has_decoder = 1;
    return 0;
}

/* tokenizer.ggml.pre -> the HF pre-tokenizer llama.cpp's table stands for */
static int gguf_pretok(yt_tok *t, const char *pre, yt_err *e)
{
    static const char *gpt2[] = {"default", "gpt-2", "gpt2", "olmo", "jais", NULL};
    static const char *llama3[] = {"llama3", "llama-v3", "llama-bpe", "smaug-bpe", "dbrx", NULL};
    static const char *digits_gpt2[] = {"smollm", "starcoder", "refact", "command-r", "codeshell",
                                        "exaone", "minerva", NULL};
    static const char *qwen2[] = {"qwen2", NULL};
    const char **lists[] = {gpt2, llama3, digits_gpt2, qwen2};
    int which = -1;
    for (int l = 0; l < 4 && which < 0; l++)
        for (int i = 0; lists[l][i]; i++)
            if (!strcmp(pre, lists[l][i]))
                which = l;
    if (which < 0)
        return yt_errf(e, "%s: key 'tokenizer.ggml.pre': pre-tokenizer '%s' is not supported "
                       "(known: default, gpt-2, llama3/llama-bpe, smollm/starcoder/refact, qwen2)",
                       t->path, pre);
    tok_pre p;
    char where[512];
    snprintf(where, sizeof where, "%s: key 'tokenizer.ggml.pre'", t->path);
    if (which == 1 || which == 3) {
        memset(&p, 0, sizeof p);
        p.kind = TP_SPLIT;
        p.behavior = TB_ISOLATED;
        p.is_regex = 1;
        if (tok_re_compile(&p.re, which == 1 ? tok_llama3_regex : tok_qwen2_regex, where, e) ||
            add_pre(t, &p, e))
            return -1;
    }
    if (which == 2) {
        memset(&p, 0, sizeof p);
        p.kind = TP_DIGITS;
        p.individual = 1;
        p.behavior = TB_ISOLATED;
        p.is_regex = 1;
        if (tok_re_compile(&p.re, "\\p{N}", where, e) || add_pre(t, &p, e))
            return -1;
    }
    memset(&p, 0, sizeof p);
    p.kind = TP_BYTELEVEL;
    p.use_regex = which == 0 || which == 2;
    if (p.use_regex && tok_re_compile(&p.re, tok_gpt2_regex, where, e))
        return -1;
    return add_pre(t, &p, e);
}

int yt_tok_load_gguf(yt_tok **out, const char *path, yt_err *e)
{
    yt_gguf *g;
    if (yt_gguf_open(&g, path, e))
        return -1;
    yt_tok *t = NULL;
    float *scores = NULL;
    int rc = -1;
    const yt_gguf_value *model = yt_gguf_find(g, "tokenizer.ggml.model");
    const yt_gguf_value *toks = yt_gguf_find(g, "tokenizer.ggml.tokens");
    const yt_gguf_value *merges = yt_gguf_find(g, "tokenizer.ggml.merges");
    const yt_gguf_value *sc = yt_gguf_find(g, "tokenizer.ggml.scores");
    const yt_gguf_value *tt = yt_gguf_find(g, "tokenizer.ggml.token_type");
    const yt_gguf_value *pre = yt_gguf_find(g, "tokenizer.ggml.pre");
    if (!model || model->type != YT_GGUF_STRING) {
        yt_errf(e, "%s: key 'tokenizer.ggml.model': %s", path,
                model ? "expected a string" : "missing (no tokenizer in this GGUF file)");
        goto done;
    }
    int is_gpt2 = !strcmp(model->str.s, "gpt2"), is_llama = !strcmp(model->str.s, "llama");
    if (!is_gpt2 && !is_llama) {
        yt_errf(e, "%s: key 'tokenizer.ggml.model': '%s' is not supported (gpt2 or llama)", path,
                model->str.s);
        goto done;
    }
    if (!toks || toks->type != YT_GGUF_ARRAY || toks->elem_type != YT_GGUF_STRING) {
        yt_errf(e, "%s: key 'tokenizer.ggml.tokens': %s", path,
                toks ? "expected an array of strings" : "missing");
        goto done;
    }
    if (toks->n == 0 || toks->n >= 0xfffffff0ULL) {
        yt_errf(e, "%s: key 'tokenizer.ggml.tokens': %llu tokens", path,
                (unsigned long long)toks->n);
        goto done;
    }
    uint32_t n = (uint32_t)toks->n;
    if (tt && (tt->type != YT_GGUF_ARRAY || !is_int_type(tt->elem_type) || tt->n != n)) {
        yt_errf(e, "%s: key 'tokenizer.ggml.token_type': expected %u integers", path, n);
        goto done;
    }
    if (sc && (sc->type != YT_GGUF_ARRAY ||
               (sc->elem_type != YT_GGUF_F32 && sc->elem_type != YT_GGUF_F64) || sc->n != n)) {
        yt_errf(e, "%s: key 'tokenizer.ggml.scores': expected %u floats", path, n);
        goto done;
    }
    if (tok_new(&t, path, "gguf", e) || tok_reserve_ids(t, n, e))
        goto done;
    for (uint32_t i = 0; i < n; i++) {
        char where[64];
        snprintf(where, sizeof where, "key 'tokenizer.ggml.tokens'[%u]", i);
        if (tok_set_piece(t, i, toks->strs[i].s, (size_t)toks->strs[i].len, where, e))
            goto done;
    }
    int64_t unk = -1, bos = -1, eos = -1;
    if (get_id(g, "tokenizer.ggml.unknown_token_id", n, &unk, e) ||
        get_id(g, "tokenizer.ggml.bos_token_id", n, &bos, e) ||
        get_id(g, "tokenizer.ggml.eos_token_id", n, &eos, e))
        goto done;
    int add_bos, add_eos, add_space;
    if (get_flag(g, "tokenizer.ggml.add_bos_token", is_llama, &add_bos, e) ||
        get_flag(g, "tokenizer.ggml.add_eos_token", 0, &add_eos, e) ||
        get_flag(g, "tokenizer.ggml.add_space_prefix", 1, &add_space, e))
        goto done;
    t->bos = bos;
    t->eos = eos;
    if (add_bos && bos >= 0) {
        t->post_prefix = malloc(sizeof(uint32_t));
        if (!t->post_prefix)
            goto oom;
        t->post_prefix[0] = (uint32_t)bos;
        t->n_prefix = 1;
    }
    if (add_eos && eos >= 0) {
        t->post_suffix = malloc(sizeof(uint32_t));
        if (!t->post_suffix)
            goto oom;
        t->post_suffix[0] = (uint32_t)eos;
        t->n_suffix = 1;
    }
    /* added tokens: CONTROL (3) and UNKNOWN (2) are special, USER_DEFINED (4) not */
    for (uint32_t i = 0; tt && i < n; i++) {
        int64_t ty = yt_gguf_elem_i64(tt, i);
        if (ty != 2 && ty != 3 && ty != 4)
            continue;
        tok_added a;
        memset(&a, 0, sizeof a);
        a.id = i;
        a.content = t->piece[i];
        a.len = t->piece_len[i];
        a.special = ty != 4;
        a.normalized = 0;
        if (tok_add_added(t, &a, e))
            goto done;
    }
    t->fuse_unk = 0;
    t->byte_fallback = 0;
    if (is_gpt2) {
        if (!merges || merges->type != YT_GGUF_ARRAY || merges->elem_type != YT_GGUF_STRING) {
            yt_errf(e, "%s: key 'tokenizer.ggml.merges': %s", path,
                    merges ? "expected an array of strings" : "missing (needed by a gpt2 tokenizer)");
            goto done;
        }
        const char *pname = "default";
        if (pre) {
            if (pre->type != YT_GGUF_STRING) {
                yt_errf(e, "%s: key 'tokenizer.ggml.pre': expected a string", path);
                goto done;
            }
            pname = pre->str.s;
        }
        if (gguf_pretok(t, pname, e))
            goto done;
        if (add_dec(t, TD_BYTELEVEL, NULL, NULL, 0, 0, e))
            goto done;
        /* merges: "a b" over the stored pieces */
        tok_strmap vm;
        if (tok_sm_init(&vm, n, e))
            goto done;
        for (uint32_t i = 0; i < n; i++)
            if (!tok_sm_get(&vm, t->piece[i], t->piece_len[i]) &&
                tok_sm_put(&vm, t->piece[i], t->piece_len[i], i, e)) {
                tok_sm_free(&vm);
                goto done;
            }
        if (tok_mm_init(&t->merges, (size_t)merges->n, e)) {
            tok_sm_free(&vm);
            goto done;
        }
        char *buf = NULL;
        size_t cap = 0;
        for (uint64_t i = 0; i < merges->n; i++) {
            const char *s = merges->strs[i].s;
            size_t len = (size_t)merges->strs[i].len;
            const char *sp = memchr(s, ' ', len);
            const tok_sm_ent *ea = NULL, *eb = NULL, *em = NULL;
            if (sp) {
                size_t al = (size_t)(sp - s), bl = len - al - 1;
                ea = tok_sm_get(&vm, s, al);
                eb = tok_sm_get(&vm, sp + 1, bl);
                if (al + bl + 1 > cap) {
                    cap = (al + bl) * 2 + 64;
                    char *nb = realloc(buf, cap);
                    if (!nb) {
                        free(buf);
                        tok_sm_free(&vm);
                        goto oom;
                    }
                    buf = nb;
                }
                memcpy(buf, s, al);
                memcpy(buf + al, sp + 1, bl);
                em = tok_sm_get(&vm, buf, al + bl);
            }
            if (!ea || !eb || !em) {
                yt_errf(e, "%s: key 'tokenizer.ggml.merges'[%llu]: '%.200s' is not two tokens "
                        "whose concatenation is a token", path, (unsigned long long)i, s);
                free(buf);
                tok_sm_free(&vm);
                goto done;
            }
            tok_mm_put(&t->merges, ea->val, eb->val, (uint32_t)i, em->val);
        }
        free(buf);
        tok_sm_free(&vm);
        t->n_merges = (size_t)merges->n;
        t->unk_id = -1; /* byte-level: every byte is a token */
    } else {
        /* SentencePiece BPE as transformers' LlamaConverter (legacy): normalizer
         * Prepend("▁") (when add_space_prefix) + Replace(" ", "▁"), byte fallback, merges
         * from the scores; decoder Replace("▁", " "), ByteFallback, Fuse, Strip(1). */
        if (!sc) {
            yt_errf(e, "%s: key 'tokenizer.ggml.scores': missing (needed by a llama tokenizer)",
                    path);
            goto done;
        }
        scores = malloc((size_t)n * sizeof *scores);
        if (!scores)
            goto oom;
        for (uint32_t i = 0; i < n; i++)
            scores[i] = (float)yt_gguf_elem_f64(sc, i);
        if (tok_merges_from_scores(t, scores, e))
            goto done;
        t->unk_id = unk;
        t->fuse_unk = 1;
        t->byte_fallback = 1;
        tok_norm nm[2];
        memset(nm, 0, sizeof nm);
        size_t k = 0;
        if (add_space) {
            nm[k].kind = TN_PREPEND;
            nm[k].a = strdup("\xe2\x96\x81");
            nm[k].alen = 3;
            k++;
        }
        nm[k].kind = TN_REPLACE;
        nm[k].a = strdup(" ");
        nm[k].alen = 1;
        nm[k].b = strdup("\xe2\x96\x81");
        nm[k].blen = 3;
        k++;
        t->norm = malloc(k * sizeof *t->norm);
        if (!t->norm) {
            for (size_t i = 0; i < k; i++)
                tok_norm_free(&nm[i]);
            goto oom;
        }
        memcpy(t->norm, nm, k * sizeof *nm);
        t->n_norm = k;
        if (add_dec(t, TD_REPLACE, "\xe2\x96\x81", " ", 0, 0, e) ||
            add_dec(t, TD_BYTEFALLBACK, NULL, NULL, 0, 0, e) ||
            add_dec(t, TD_FUSE, NULL, NULL, 0, 0, e))
            goto done;
        if (add_space) {
            if (add_dec(t, TD_STRIP, NULL, NULL, ' ', 1, e))
                goto done;
        }
    }
    if (tok_finish(t, e))
        goto done;
    rc = 0;
    goto done;
oom:
    yt_errf(e, "%s: out of memory", path);
done:
    free(scores);
    yt_gguf_close(g);
    if (rc) {
        yt_tok_free(t);
        return -1;
    }
    *out = t;
    return 0;
}
