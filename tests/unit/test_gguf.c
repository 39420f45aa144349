/* The GGUF reader, the dequantisers and the llama mapping against files and
 * values written by gguf-py and transformers (tests/tools/make_gguf_fixtures.py).
 *
 * Env: YT_GG_FIXTURES  folder written by the fixture script (required);
 *      YT_GG_SMOL      a real GGUF (SmolLM2-135M-Instruct): config and load time. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "model/gguf.h"
#include "model/model.h"
#include "model/model_internal.h"
#include "model/safetensors.h"

static void fx(char *buf, size_t cap, const char *rel)
{
    const char *d = getenv("YT_GG_FIXTURES");
    ck_assert_msg(d && d[0], "set YT_GG_FIXTURES to a folder made by make_gguf_fixtures.py");
    snprintf(buf, cap, "%s/%s", d, rel);
}

static json_t *load_json(const char *rel)
{
    char p[4096];
    fx(p, sizeof p, rel);
    json_error_t je;
    json_t *j = json_load_file(p, JSON_ALLOW_NUL, &je);
    ck_assert_msg(j != NULL, "%s: %s", p, je.text);
    return j;
}

static yt_gg *open_fx(const char *rel)
{
    char p[4096];
    fx(p, sizeof p, rel);
    yt_gg *g = NULL;
    yt_err e = {{0}};
    ck_assert_msg(yt_gg_open(&g, p, &e) == 0, "%s", e.msg);
    return g;
}

static int vtype_of(const char *name)
{
    static const char *const n[] = {"UINT8", "INT8",    "UINT16", "INT16",  "UINT32",
                                    "INT32", "FLOAT32", "BOOL",   "STRING", "ARRAY",
                                    "UINT64", "INT64",  "FLOAT64"};
    for (int i = 0; i < YT_GG_NVTYPES; i++)
        if (strcmp(name, n[i]) == 0)
            return i;
    ck_abort_msg("unknown value type %s", name);
    return -1;
}

/* One scalar or array element against its expectation ({"array": T, "items"} or
 * a decimal string, number, bool, string). */
static void check_scalar(const char *key, int type, json_t *x, uint64_t u, int64_t i, double f,
                         yt_gg_str s)
{
    char buf[64];
    switch (type) {
    case YT_GG_U8: case YT_GG_U16: case YT_GG_U32: case YT_GG_U64:
        snprintf(buf, sizeof buf, "%" PRIu64, u);
        ck_assert_msg(strcmp(buf, json_string_value(x)) == 0, "%s: %s vs %s", key, buf,
                      json_string_value(x));
        break;
    case YT_GG_I8: case YT_GG_I16: case YT_GG_I32: case YT_GG_I64:
        snprintf(buf, sizeof buf, "%" PRId64, i);
        ck_assert_msg(strcmp(buf, json_string_value(x)) == 0, "%s: %s vs %s", key, buf,
                      json_string_value(x));
        break;
    case YT_GG_F32: case YT_GG_F64:
        ck_assert_msg(f == json_real_value(x), "%s: %.17g vs %.17g", key, f, json_real_value(x));
        break;
    case YT_GG_BOOL:
        ck_assert_msg((u != 0) == json_is_true(x), "%s: bool %d", key, (int)u);
        break;
    case YT_GG_STRING:
        ck_assert_msg(s.len == json_string_length(x) &&
                          memcmp(s.p, json_string_value(x), (size_t)s.len) == 0,
                      "%s: string of %" PRIu64 " bytes differs", key, s.len);
        break;
    default:
        ck_abort_msg("%s: type %d", key, type);
    }
}

static void check_value(const char *key, const yt_gg_value *v, int type, json_t *x)
{
    ck_assert_msg((int)v->type == type, "%s: type %s, expected %s", key, yt_gg_vtype_name(v->type),
                  yt_gg_vtype_name(type));
    if (type != YT_GG_ARRAY) {
        check_scalar(key, type, x, v->u, v->i, v->f, v->str);
        return;
    }
    int et = vtype_of(json_string_value(json_object_get(x, "array")));
    json_t *items = json_object_get(x, "items");
    ck_assert_msg((int)v->elem == et, "%s: element type %s", key, yt_gg_vtype_name(v->elem));
    ck_assert_uint_eq(v->n, json_array_size(items));
    for (uint64_t k = 0; k < v->n; k++) {
        json_t *it = json_array_get(items, (size_t)k);
        if (et == YT_GG_ARRAY) {
            check_value(key, &v->items[k], YT_GG_ARRAY, it);
        } else if (et == YT_GG_STRING) {
            check_scalar(key, et, it, 0, 0, 0, v->strs[k]);
        } else {
            int64_t iv = yt_gg_arr_int(v, k);
            check_scalar(key, et, it, (uint64_t)iv, iv, yt_gg_arr_float(v, k), (yt_gg_str){0});
        }
    }
}

static void check_meta(const char *file)
{
    json_t *ex = load_json("meta.json");
    yt_gg *g = open_fx(file);
    ck_assert_uint_eq(yt_gg_version(g), strcmp(file, "meta_v2.gguf") == 0 ? 2 : 3);
    ck_assert_uint_eq(yt_gg_alignment(g), 64);
    ck_assert_uint_eq(yt_gg_data_offset(g), json_integer_value(json_object_get(ex, "data_offset")));
    json_t *kv = json_object_get(ex, "kv");
    ck_assert_uint_eq(yt_gg_n_kv(g), json_array_size(kv));
    for (size_t i = 0; i < json_array_size(kv); i++) {
        json_t *k = json_array_get(kv, i);
        const char *key = json_string_value(json_object_get(k, "key"));
        const yt_gg_value *v = yt_gg_find(g, key);
        ck_assert_msg(v != NULL, "%s: key '%s' not found", file, key);
        check_value(key, v, vtype_of(json_string_value(json_object_get(k, "type"))),
                    json_object_get(k, "value"));
    }
    json_t *ts = json_object_get(ex, "tensors");
    ck_assert_uint_eq(yt_gg_n_tensors(g), json_array_size(ts));
    for (size_t i = 0; i < json_array_size(ts); i++) {
        json_t *x = json_array_get(ts, i);
        const yt_gg_tensor *t = yt_gg_tensor_at(g, i);
        ck_assert_str_eq(t->name, json_string_value(json_object_get(x, "name")));
        ck_assert_ptr_eq(yt_gg_tensor_find(g, t->name), t);
        json_t *ne = json_object_get(x, "ne");
        ck_assert_int_eq(t->n_dims, (int)json_array_size(ne));
        for (int d = 0; d < t->n_dims; d++)
            ck_assert_int_eq(t->ne[d], json_integer_value(json_array_get(ne, (size_t)d)));
        ck_assert_str_eq(yt_gg_type_name(t->type), json_string_value(json_object_get(x, "type")));
        ck_assert_uint_eq(yt_gg_data_offset(g) + t->offset,
                          json_integer_value(json_object_get(x, "file_offset")));
        ck_assert_uint_eq(t->offset % 64, 0);
        json_t *vals = json_object_get(x, "values");
        float *buf = malloc(sizeof(float) * json_array_size(vals));
        yt_err e;
        ck_assert_msg(yt_gg_tensor_f32(t, buf, json_array_size(vals), NULL, &e) == 0, "%s", e.msg);
        for (size_t k = 0; k < json_array_size(vals); k++)
            ck_assert_msg(buf[k] == (float)json_real_value(json_array_get(vals, k)),
                          "%s[%zu]: %g", t->name, k, (double)buf[k]);
        free(buf);
    }
    yt_gg_close(g);
    json_decref(ex);
}

START_TEST(test_meta_v3) { check_meta("meta.gguf"); }
END_TEST

START_TEST(test_meta_v2) { check_meta("meta_v2.gguf"); }
END_TEST

START_TEST(test_getters)
{
    yt_gg *g = open_fx("meta.gguf");
    yt_err e = {{0}};
    int64_t i = 0;
    double f = 0;
    int b = 0;
    yt_gg_str s;
    const yt_gg_value *a;
    ck_assert_int_eq(yt_gg_get_int(g, "t.i16", INT64_MIN, INT64_MAX, &i, 1, &e), 0);
    ck_assert_int_eq(i, -32768);
    ck_assert_int_eq(yt_gg_get_int(g, "t.u8", 0, 100, &i, 1, &e), -1);
    ck_assert_msg(strstr(e.msg, "t.u8") && strstr(e.msg, "200"), "%s", e.msg);
    ck_assert_int_eq(yt_gg_get_int(g, "t.u64", 0, INT64_MAX, &i, 1, &e), -1);
    ck_assert_msg(strstr(e.msg, "t.u64") && strstr(e.msg, "18446744073709551615"), "%s", e.msg);
    ck_assert_int_eq(yt_gg_get_int(g, "t.str", 0, 1, &i, 1, &e), -1);
    ck_assert_msg(strstr(e.msg, "t.str") && strstr(e.msg, "string"), "%s", e.msg);
    i = 42;
    ck_assert_int_eq(yt_gg_get_int(g, "absent.key", 0, 1, &i, 0, &e), 0);
    ck_assert_int_eq(i, 42);
    ck_assert_int_eq(yt_gg_get_int(g, "absent.key", 0, 1, &i, 1, &e), -1);
    ck_assert_msg(strstr(e.msg, "missing key 'absent.key'") && strstr(e.msg, "meta.gguf"), "%s",
                  e.msg);
    ck_assert_int_eq(yt_gg_get_float(g, "t.f32", &f, 1, &e), 0);
    ck_assert(f == (double)0.1f);
    ck_assert_int_eq(yt_gg_get_float(g, "t.i32", &f, 1, &e), 0);
    ck_assert(f == -2000000000.0);
    ck_assert_int_eq(yt_gg_get_bool(g, "t.bool", &b, 1, &e), 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(yt_gg_get_str(g, "t.nul", &s, 1, &e), 0);
    ck_assert(s.len == 3 && memcmp(s.p, "a\0b", 3) == 0);
    ck_assert(yt_gg_str_eq(s, "a") == 0);
    ck_assert_int_eq(yt_gg_get_array(g, "a.str", YT_GG_STRING, &a, 1, &e), 0);
    ck_assert(a->n == 4 && yt_gg_str_eq(a->strs[3], "\xc3\xbc"));
    ck_assert_int_eq(yt_gg_get_array(g, "a.str", YT_GG_I32, &a, 1, &e), -1);
    ck_assert_msg(strstr(e.msg, "a.str") && strstr(e.msg, "int32"), "%s", e.msg);
    yt_gg_close(g);
}
END_TEST

static const yt_gg_tensor *need(const yt_gg *g, const char *name)
{
    const yt_gg_tensor *t = yt_gg_tensor_find(g, name);
    ck_assert_msg(t != NULL, "no tensor %s", name);
    return t;
}

static uint32_t bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

/* Every supported type against gguf-py's dequantize: bit for bit, and the bf16
 * output against gguf-py's bf16 of that. */
START_TEST(test_dequant)
{
    static const char *const types[] = {"F32",  "F16",  "BF16", "Q8_0", "Q4_0", "Q4_1",
                                        "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"};
    yt_gg *g = open_fx("quants.gguf");
    yt_err e = {{0}};
    int checked = 0;
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        for (int src = 0; src < 2; src++) {
            char name[64], refn[80], bfn[80];
            snprintf(name, sizeof name, "%s.%s", src ? "q" : "raw", types[k]);
            snprintf(refn, sizeof refn, "%s.ref", name);
            snprintf(bfn, sizeof bfn, "%s.bf16", name);
            const yt_gg_tensor *t = yt_gg_tensor_find(g, name);
            if (!t && src)
                continue; /* gguf-py does not quantise this type */
            ck_assert_msg(t != NULL, "no tensor %s", name);
            ck_assert_str_eq(yt_gg_type_name(t->type), types[k]);
            ck_assert(yt_gg_type_supported(t->type));
            const yt_gg_tensor *r = need(g, refn);
            size_t n = (size_t)t->numel;
            ck_assert_int_eq(r->numel, t->numel);
            float *got = malloc(n * sizeof(float)), *want = malloc(n * sizeof(float));
            ck_assert_msg(yt_gg_tensor_f32(t, got, n, NULL, &e) == 0, "%s", e.msg);
            ck_assert_msg(yt_gg_tensor_f32(r, want, n, NULL, &e) == 0, "%s", e.msg);
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(bits(got[i]) == bits(want[i]), "%s[%zu]: %.9g, gguf-py %.9g", name, i,
                              (double)got[i], (double)want[i]);
            /* Rows in reverse through a row map. */
            int64_t rows = t->rows, *map = malloc(sizeof(int64_t) * (size_t)rows);
            for (int64_t i = 0; i < rows; i++)
                map[i] = rows - 1 - i;
            ck_assert_msg(yt_gg_tensor_f32(t, got, n, map, &e) == 0, "%s", e.msg);
            for (int64_t rr = 0; rr < rows; rr++)
                ck_assert(memcmp(got + rr * t->ne[0], want + (rows - 1 - rr) * t->ne[0],
                                 sizeof(float) * (size_t)t->ne[0]) == 0);
            map[0] = rows;
            ck_assert_int_eq(yt_gg_tensor_f32(t, got, n, map, &e), -1);
            ck_assert_msg(strstr(e.msg, name) && strstr(e.msg, "row map"), "%s", e.msg);
            free(map);
            const yt_gg_tensor *bt = yt_gg_tensor_find(g, bfn);
            if (bt) {
                uint16_t *b16 = malloc(n * 2);
                ck_assert_msg(yt_gg_tensor_bf16(t, b16, n, NULL, &e) == 0, "%s", e.msg);
                ck_assert_str_eq(yt_gg_type_name(bt->type), "BF16");
                ck_assert_msg(memcmp(b16, bt->data, n * 2) == 0, "%s: bf16 differs from gguf-py's",
                              name);
                free(b16);
            }
            ck_assert_int_eq(yt_gg_tensor_f32(t, got, n - 1, NULL, &e), -1);
            ck_assert_msg(strstr(e.msg, name) && strstr(e.msg, "elements"), "%s", e.msg);
            free(got);
            free(want);
            checked++;
        }
    }
    ck_assert_int_eq(checked, 11 + 7);
    const yt_gg_tensor *q2 = need(g, "raw.Q2_K");
    float *buf = malloc(sizeof(float) * (size_t)q2->numel);
    ck_assert_int_eq(yt_gg_tensor_f32(q2, buf, (size_t)q2->numel, NULL, &e), -1);
    ck_assert_msg(strstr(e.msg, "raw.Q2_K") && strstr(e.msg, "type Q2_K") &&
                      strstr(e.msg, "quants.gguf"), "%s", e.msg);
    free(buf);
    yt_gg_close(g);
}
END_TEST

static yt_config expect_config(const char *json_name)
{
    json_t *j = load_json(json_name);
    yt_config c = {0};
#define I(k) (int)json_integer_value(json_object_get(j, k))
    c.vocab_size = I("vocab");
    c.hidden_size = I("hidden");
    c.intermediate_size = I("ffn");
    c.n_layers = I("layers");
    c.n_heads = I("heads");
    c.n_kv_heads = I("kv_heads");
    c.head_dim = I("head_dim");
    c.max_pos = I("ctx");
    c.bos_id = I("bos");
    c.eos_id = I("eos");
#undef I
    c.rms_eps = (float)json_number_value(json_object_get(j, "eps"));
    c.rope_theta = (float)json_number_value(json_object_get(j, "theta"));
    c.tie_embeddings = json_is_true(json_object_get(j, "tied"));
    if (json_object_get(j, "rope_factor")) {
        c.rope_scaling.llama3 = 1;
        c.rope_scaling.factor = (float)json_number_value(json_object_get(j, "rope_factor"));
        c.rope_scaling.low_freq_factor = (float)json_number_value(json_object_get(j, "rope_low"));
        c.rope_scaling.high_freq_factor = (float)json_number_value(json_object_get(j, "rope_high"));
        c.rope_scaling.original_max_pos = (int)json_integer_value(json_object_get(j, "rope_orig"));
    }
    json_decref(j);
    return c;
}

static void check_config(const char *stem)
{
    char p[4096], js[256];
    snprintf(js, sizeof js, "%s.json", stem);
    snprintf(p, sizeof p, "%s.gguf", stem);
    char path[4096];
    fx(path, sizeof path, p);
    yt_config want = expect_config(js);
    yt_lora_config lc = {.rank = 4, .alpha = 8, .targets = 0x7f};
    yt_model *m = NULL;
    yt_err e;
    ck_assert_msg(yt_model_open(&m, path, &lc, 0, 16, &e) == 0, "%s", e.msg);
    const yt_config *c = yt_model_config(m);
    ck_assert_int_eq(c->vocab_size, want.vocab_size);
    ck_assert_int_eq(c->hidden_size, want.hidden_size);
    ck_assert_int_eq(c->intermediate_size, want.intermediate_size);
    ck_assert_int_eq(c->n_layers, want.n_layers);
    ck_assert_int_eq(c->n_heads, want.n_heads);
    ck_assert_int_eq(c->n_kv_heads, want.n_kv_heads);
    ck_assert_int_eq(c->head_dim, want.head_dim);
    ck_assert_int_eq(c->max_pos, want.max_pos);
    ck_assert_int_eq(c->bos_id, want.bos_id);
    ck_assert_int_eq(c->eos_id, want.eos_id);
    ck_assert(c->rms_eps == want.rms_eps);
    ck_assert(c->rope_theta == want.rope_theta);
    ck_assert_int_eq(c->tie_embeddings, want.tie_embeddings);
    ck_assert_int_eq(c->rope_scaling.llama3, want.rope_scaling.llama3);
    ck_assert(c->rope_scaling.factor == want.rope_scaling.factor);
    ck_assert(c->rope_scaling.low_freq_factor == want.rope_scaling.low_freq_factor);
    ck_assert(c->rope_scaling.high_freq_factor == want.rope_scaling.high_freq_factor);
    ck_assert_int_eq(c->rope_scaling.original_max_pos, want.rope_scaling.original_max_pos);
    yt_model_close(m);
}

START_TEST(test_llama_config)
{
    check_config("tiny_untied");
    check_config("tiny_tied");
    check_config("tiny_llama3");
}
END_TEST

/* Every weight as yieldtune reads it (HF names, q/k in HF row order) against
 * transformers' reading of the same file; and the fingerprint of the GGUF
 * equals that of an F32 safetensors folder holding those values. */
static void check_weights(const char *stem)
{
    char rel[256], gpath[4096], dir[4096];
    snprintf(rel, sizeof rel, "%s.gguf", stem);
    fx(gpath, sizeof gpath, rel);
    snprintf(rel, sizeof rel, "%s.hf.gguf", stem);
    yt_gg *ref = open_fx(rel);
    yt_lora_config lc = {.rank = 4, .alpha = 8, .targets = 0x7f};
    yt_model *m = NULL;
    yt_err e;
    ck_assert_msg(yt_model_open(&m, gpath, &lc, 0, 16, &e) == 0, "%s", e.msg);
    yt_gg *g = NULL;
    ck_assert_msg(yt_gg_open(&g, gpath, &e) == 0, "%s", e.msg);
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/yt_gguf_hf_%d_%s", tmp && tmp[0] ? tmp : "/tmp", (int)getpid(),
             stem);
    ck_assert_msg(yt_mkdirs(dir, &e) == 0, "%s", e.msg);
    yt_st_writer *w;
    ck_assert(yt_st_writer_new(&w, &e) == 0);
    float **bufs = calloc(yt_gg_n_tensors(ref), sizeof *bufs);
    for (size_t i = 0; i < yt_gg_n_tensors(ref); i++) {
        const yt_gg_tensor *r = yt_gg_tensor_at(ref, i);
        size_t n = (size_t)r->numel;
        float *want = malloc(n * sizeof(float));
        bufs[i] = want;
        ck_assert_msg(yt_gg_tensor_f32(r, want, n, NULL, &e) == 0, "%s", e.msg);
        int64_t shape[2] = {r->n_dims == 2 ? r->ne[1] : r->ne[0], r->ne[0]};
        ck_assert(yt_st_writer_add(w, r->name, YT_ST_F32, r->n_dims, shape, want, &e) == 0);
        /* through the model's own reader */
        yt_config c = *yt_model_config(m);
        float *got = malloc(n * sizeof(float));
        ck_assert_msg(yt_gg_llama_read_f32(g, &c, r->name, got, n, &e) == 0, "%s", e.msg);
        for (size_t k = 0; k < n; k++)
            ck_assert_msg(bits(got[k]) == bits(want[k]), "%s %s[%zu]: %.9g, transformers %.9g",
                          stem, r->name, k, (double)got[k], (double)want[k]);
        free(got);
    }
    char p[4200];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    ck_assert_msg(yt_st_writer_write(w, p, &e) == 0, "%s", e.msg);
    yt_st_writer_free(w);
    json_t *cj = yt_config_to_json(yt_model_config(m), "float32");
    snprintf(p, sizeof p, "%s/config.json", dir);
    ck_assert(json_dump_file(cj, p, 0) == 0);
    json_decref(cj);
    yt_model *h = NULL;
    ck_assert_msg(yt_model_open(&h, dir, &lc, 0, 16, &e) == 0, "%s", e.msg);
    ck_assert_msg(yt_model_fingerprint(h) == yt_model_fingerprint(m),
                  "%s: fingerprint %016" PRIx64 " of the GGUF, %016" PRIx64 " of its F32 export",
                  stem, yt_model_fingerprint(m), yt_model_fingerprint(h));
    /* ... and another file gives another fingerprint. */
    yt_model *o = NULL;
    char other[4096];
    fx(other, sizeof other, strcmp(stem, "tiny_tied") ? "tiny_tied.gguf" : "tiny_untied.gguf");
    ck_assert_msg(yt_model_open(&o, other, &lc, 0, 16, &e) == 0, "%s", e.msg);
    ck_assert(yt_model_fingerprint(o) != yt_model_fingerprint(m));
    /* F32 tensors in GGUF order are used in place: only the rest is converted. */
    ck_assert(yt_model_converted_bytes(m) > 0);
    yt_model_close(o);
    yt_model_close(h);
    yt_model_close(m);
    for (size_t i = 0; i < yt_gg_n_tensors(ref); i++)
        free(bufs[i]);
    free(bufs);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/config.json", dir);
    unlink(p);
    rmdir(dir);
    yt_gg_close(g);
    yt_gg_close(ref);
}

START_TEST(test_llama_weights)
{
    check_weights("tiny_untied");
    check_weights("tiny_tied");
}
END_TEST

/* Broken files: every one refused with a message naming the file and what
 * is wrong (bad/expect.tsv: file, then the words its message must hold). */
START_TEST(test_bad_files)
{
    char p[4096];
    fx(p, sizeof p, "bad/expect.tsv");
    FILE *f = fopen(p, "r");
    ck_assert_msg(f != NULL, "%s", p);
    char line[1024];
    int n = 0;
    yt_lora_config lc = {.rank = 4, .alpha = 8, .targets = 0x7f};
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *save = NULL, *name = strtok_r(line, "\t", &save);
        char rel[512], path[4096];
        snprintf(rel, sizeof rel, "bad/%s", name);
        fx(path, sizeof path, rel);
        yt_model *m = NULL;
        yt_err e = {{0}};
        ck_assert_msg(yt_model_open(&m, path, &lc, 1, 8, &e) == -1, "%s opened", name);
        ck_assert_msg(strstr(e.msg, name) != NULL, "%s: message does not name the file: %s", name,
                      e.msg);
        for (char *w = strtok_r(NULL, "\t", &save); w; w = strtok_r(NULL, "\t", &save))
            ck_assert_msg(strstr(e.msg, w) != NULL, "%s: message lacks '%s': %s", name, w, e.msg);
        fprintf(stderr, "  %-22s %s\n", name, e.msg);
        n++;
    }
    fclose(f);
    ck_assert_int_ge(n, 20);
}
END_TEST

START_TEST(test_probe)
{
    char p[4096];
    fx(p, sizeof p, "tiny_tied.gguf");
    ck_assert_int_eq(yt_model_is_gguf(p), 1);
    fx(p, sizeof p, "meta.json");
    ck_assert_int_eq(yt_model_is_gguf(p), 0);
    fx(p, sizeof p, "bad");
    ck_assert_int_eq(yt_model_is_gguf(p), 0);
    /* A regular file that is not GGUF is not read as a folder. */
    fx(p, sizeof p, "meta.json");
    yt_lora_config lc = {.rank = 4, .alpha = 8, .targets = 0x7f};
    yt_model *m = NULL;
    yt_err e;
    ck_assert_int_eq(yt_model_open(&m, p, &lc, 0, 8, &e), -1);
    ck_assert_msg(strstr(e.msg, "meta.json") && strstr(e.msg, "not GGUF"), "%s", e.msg);
    /* The reader says the same of a non-GGUF file. */
    yt_gg *g = NULL;
    ck_assert_int_eq(yt_gg_open(&g, p, &e), -1);
    ck_assert_msg(strstr(e.msg, "not a GGUF file"), "%s", e.msg);
}
END_TEST

/* A real model: its config, and how long opening it takes. */
START_TEST(test_smollm2)
{
    const char *p = getenv("YT_GG_SMOL");
    if (!p || !p[0])
        return;
    yt_lora_config lc = {.rank = 8, .alpha = 16, .targets = 0x7f};
    yt_model *m = NULL;
    yt_err e;
    double t0 = yt_now();
    ck_assert_msg(yt_model_open(&m, p, &lc, 0, 64, &e) == 0, "%s", e.msg);
    double dt = yt_now() - t0;
    const yt_config *c = yt_model_config(m);
    ck_assert_int_eq(c->vocab_size, 49152);
    ck_assert_int_eq(c->hidden_size, 576);
    ck_assert_int_eq(c->intermediate_size, 1536);
    ck_assert_int_eq(c->n_layers, 30);
    ck_assert_int_eq(c->n_heads, 9);
    ck_assert_int_eq(c->n_kv_heads, 3);
    ck_assert_int_eq(c->head_dim, 64);
    ck_assert_int_eq(c->max_pos, 8192);
    ck_assert(c->rope_theta == 100000.0f);
    ck_assert(c->rms_eps == 1e-5f);
    ck_assert_int_eq(c->tie_embeddings, 1);
    ck_assert_int_eq(c->bos_id, 1);
    ck_assert_int_eq(c->eos_id, 2);
    fprintf(stderr, "  SmolLM2-135M GGUF opened in %.3f s (%.1f MiB dequantised to fp32)\n", dt,
            (double)yt_model_converted_bytes(m) / 1048576.0);
    yt_model_close(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("gguf");
    TCase *tc = tcase_create("gguf");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_meta_v3);
    tcase_add_test(tc, test_meta_v2);
    tcase_add_test(tc, test_getters);
    tcase_add_test(tc, test_dequant);
    tcase_add_test(tc, test_llama_config);
    tcase_add_test(tc, test_llama_weights);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_probe);
    tcase_add_test(tc, test_smollm2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
