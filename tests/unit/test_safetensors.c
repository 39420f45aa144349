/* safetensors reader and writer against files and values from the reference
 * Python package (tests/tools/make_safetensors_fixtures.py).
 *
 * Env: YT_ST_FIXTURES  folder written by the fixture script (required);
 *      YT_ST_OUT       folder for the C-written files that the integration
 *                      script then checks with Python (default: a temp folder). */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "model/safetensors.h"

static const char *fixtures(void)
{
    const char *d = getenv("YT_ST_FIXTURES");
    ck_assert_msg(d && d[0], "set YT_ST_FIXTURES to a folder made by make_safetensors_fixtures.py");
    return d;
}

static void fixture_path(char *buf, size_t cap, const char *rel)
{
    snprintf(buf, cap, "%s/%s", fixtures(), rel);
}

static json_t *load_json(const char *rel)
{
    char p[4096];
    fixture_path(p, sizeof p, rel);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    ck_assert_msg(j != NULL, "%s: %s", p, je.text);
    return j;
}

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int is_nan16(uint16_t h, int bf16)
{
    return bf16 ? (h & 0x7f80) == 0x7f80 && (h & 0x7f) : (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
}

static void check_has(const yt_err *e, const char *what, const char *needle)
{
    ck_assert_msg(strstr(e->msg, needle) != NULL, "%s: error \"%s\" lacks \"%s\"", what, e->msg,
                  needle);
}

/* ---- good files: values equal torch's .float() bit for bit ---- */

static void check_set(const char *rel, json_t *spec)
{
    char p[4096];
    fixture_path(p, sizeof p, rel);
    yt_err e = {{0}};
    yt_st_set *s = NULL;
    ck_assert_msg(yt_st_open(&s, p, &e) == 0, "%s: %s", rel, e.msg);
    ck_assert_str_eq(yt_st_path(s), p);
    json_t *tensors = json_object_get(spec, "tensors");
    ck_assert_uint_eq(yt_st_count(s), json_object_size(tensors));
    const char *mk;
    json_t *mv;
    json_object_foreach(json_object_get(spec, "metadata"), mk, mv) {
        const char *got = yt_st_meta(s, mk);
        ck_assert_msg(got && strcmp(got, json_string_value(mv)) == 0, "%s: metadata %s", rel, mk);
    }
    ck_assert_ptr_null(yt_st_meta(s, "no-such-key"));
    /* every listed tensor is found under its own name */
    for (size_t i = 0; i < yt_st_count(s); i++) {
        const yt_st_tensor *t = yt_st_at(s, i);
        ck_assert_ptr_eq(yt_st_find(s, t->name), t);
        ck_assert_ptr_nonnull(json_object_get(tensors, t->name));
    }
    ck_assert_ptr_null(yt_st_at(s, yt_st_count(s)));
    const char *name;
    json_t *tj;
    json_object_foreach(tensors, name, tj) {
        const yt_st_tensor *t = yt_st_find(s, name);
        ck_assert_msg(t != NULL, "%s: tensor %s not found", rel, name);
        ck_assert_str_eq(yt_st_dtype_name(t->dtype), json_string_value(json_object_get(tj, "dtype")));
        json_t *shape = json_object_get(tj, "shape");
        int64_t sh[YT_ST_MAX_DIMS];
        int64_t numel = 1;
        ck_assert_int_eq(t->ndim, (int)json_array_size(shape));
        for (int d = 0; d < t->ndim; d++) {
            sh[d] = json_integer_value(json_array_get(shape, (size_t)d));
            ck_assert_int_eq(t->shape[d], sh[d]);
            numel *= sh[d];
        }
        ck_assert_int_eq(t->numel, numel);
        ck_assert_uint_eq(t->nbytes, (size_t)numel * (size_t)yt_st_dtype_bits(t->dtype) / 8);
        ck_assert_msg(yt_st_expect_shape(s, name, t->ndim, sh, &e) == 0, "%s", e.msg);
        json_t *bits = json_object_get(tj, "bits");
        if (!bits)
            continue;
        size_t n = (size_t)numel;
        ck_assert_uint_eq(json_array_size(bits), n);
        float *buf = malloc((n + 1) * sizeof *buf);
        ck_assert_msg(yt_st_read_f32(s, name, buf, n, &e) == 0, "%s: %s", rel, e.msg);
        for (size_t i = 0; i < n; i++) {
            uint32_t want = (uint32_t)json_integer_value(json_array_get(bits, i));
            uint32_t got = f2u(buf[i]);
            ck_assert_msg(got == want, "%s: %s[%zu]: C 0x%08x, torch 0x%08x", rel, name, i, got, want);
        }
        const float *v = yt_st_f32_view(s, name);
        if (t->dtype == YT_ST_F32 && ((uintptr_t)t->data & 3) == 0) {
            ck_assert_ptr_eq(v, t->data);
            ck_assert_int_eq(memcmp(v, buf, n * 4), 0);
        } else {
            ck_assert_ptr_null(v);
        }
        free(buf);
    }
    yt_st_close(s);
}

START_TEST(test_good_files)
{
    json_t *exp = load_json("expected.json");
    const char *rel;
    json_t *spec;
    int n = 0;
    json_object_foreach(exp, rel, spec) {
        check_set(rel, spec);
        n++;
    }
    ck_assert_int_ge(n, 7);
    json_decref(exp);
}
END_TEST

START_TEST(test_unaligned_and_other_dtypes)
{
    char p[4096];
    yt_err e = {{0}};
    yt_st_set *s;
    fixture_path(p, sizeof p, "unaligned.safetensors");
    ck_assert_msg(yt_st_open(&s, p, &e) == 0, "%s", e.msg);
    const yt_st_tensor *w = yt_st_find(s, "w");
    ck_assert_ptr_nonnull(w);
    ck_assert_uint_ne((uintptr_t)w->data & 3, 0);
    ck_assert_ptr_null(yt_st_f32_view(s, "w"));
    float buf[4];
    ck_assert_int_eq(yt_st_read_f32(s, "w", buf, 4, &e), 0);
    ck_assert(buf[0] == 3.25f && buf[1] == -4.5f && buf[2] == 1e-3f && buf[3] == 7.0f);
    yt_st_close(s);

    fixture_path(p, sizeof p, "other.safetensors");
    ck_assert_msg(yt_st_open(&s, p, &e) == 0, "%s", e.msg);
    const yt_st_tensor *t = yt_st_find(s, "i32");
    ck_assert_int_eq(t->dtype, YT_ST_I32);
    int32_t iv[4];
    memcpy(iv, t->data, sizeof iv);
    ck_assert(iv[0] == 4 && iv[1] == 5 && iv[2] == 6 && iv[3] == -7);
    ck_assert_int_eq(yt_st_find(s, "u8")->dtype, YT_ST_U8);
    ck_assert_int_eq(((const uint8_t *)yt_st_find(s, "u8")->data)[0], 250);
    ck_assert_int_eq(yt_st_find(s, "mask")->dtype, YT_ST_BOOL);
    ck_assert_int_eq(yt_st_find(s, "f64")->dtype, YT_ST_F64);
    ck_assert_int_eq(yt_st_find(s, "i64")->dtype, YT_ST_I64);
    ck_assert_int_eq(yt_st_find(s, "i16")->dtype, YT_ST_I16);
    ck_assert_int_eq(yt_st_find(s, "i8")->dtype, YT_ST_I8);
    ck_assert_int_eq(yt_st_read_f32(s, "i32", buf, 4, &e), -1);
    check_has(&e, "read I32", "other.safetensors");
    check_has(&e, "read I32", "'i32'");
    check_has(&e, "read I32", "I32");
    ck_assert_ptr_null(yt_st_f32_view(s, "i32"));
    ck_assert_ptr_nonnull(yt_st_f32_view(s, "w"));
    yt_st_close(s);
}
END_TEST

START_TEST(test_api_errors)
{
    char p[4096];
    yt_err e = {{0}};
    yt_st_set *s;
    fixture_path(p, sizeof p, "bf16.safetensors");
    ck_assert_msg(yt_st_open(&s, p, &e) == 0, "%s", e.msg);
    float buf[64];
    ck_assert_int_eq(yt_st_read_f32(s, "model.missing.weight", buf, 4, &e), -1);
    check_has(&e, "missing", "model.missing.weight");
    check_has(&e, "missing", "bf16.safetensors");
    ck_assert_ptr_null(yt_st_find(s, "model.missing.weight"));
    ck_assert_ptr_null(yt_st_f32_view(s, "model.missing.weight"));
    ck_assert_int_eq(yt_st_read_f32(s, "model.norm.weight", buf, 6, &e), -1);
    check_has(&e, "count", "model.norm.weight");
    check_has(&e, "count", "5 elements");
    check_has(&e, "count", "expected 6");
    check_has(&e, "count", "bf16.safetensors");
    int64_t want[2] = {5, 8};
    ck_assert_int_eq(yt_st_expect_shape(s, "model.embed_tokens.weight", 2, want, &e), -1);
    check_has(&e, "shape", "model.embed_tokens.weight");
    check_has(&e, "shape", "has shape [8, 5], expected [5, 8]");
    check_has(&e, "shape", "bf16.safetensors");
    ck_assert_int_eq(yt_st_expect_shape(s, "model.norm.weight", 2, want, &e), -1);
    check_has(&e, "ndim", "[5], expected [5, 8]");
    ck_assert_int_eq(yt_st_expect_shape(s, "nope", 1, want, &e), -1);
    check_has(&e, "shape missing", "'nope'");
    int64_t sc[1] = {0};
    ck_assert_int_eq(yt_st_expect_shape(s, "scalar", 0, sc, &e), 0);
    ck_assert_int_eq(yt_st_read_f32(s, "scalar", buf, 1, &e), 0);
    ck_assert(buf[0] == -7.75f);
    ck_assert_int_eq(yt_st_read_f32(s, "empty", buf, 0, &e), 0);
    yt_st_close(s);

    /* a folder: the message names the folder when a tensor is missing */
    fixture_path(p, sizeof p, "sharded");
    ck_assert_msg(yt_st_open(&s, p, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(yt_st_read_f32(s, "model.layers.7.x", buf, 1, &e), -1);
    check_has(&e, "folder", p);
    check_has(&e, "folder", "model.layers.7.x");
    yt_st_close(s);
}
END_TEST

START_TEST(test_sharded)
{
    char p[4096], q[4200];
    yt_err e = {{0}};
    yt_st_set *s;
    fixture_path(p, sizeof p, "sharded");
    ck_assert_msg(yt_st_open(&s, p, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(yt_st_file_count(s), 2);
    ck_assert_ptr_nonnull(strstr(yt_st_file_path(s, 0), "model-00001-of-00002.safetensors"));
    ck_assert_ptr_nonnull(strstr(yt_st_file_path(s, 1), "model-00002-of-00002.safetensors"));
    ck_assert_ptr_null(yt_st_file_path(s, 2));
    const yt_st_tensor *t = yt_st_find(s, "lm_head.weight");
    ck_assert_int_eq(t->file_index, 1);
    ck_assert_str_eq(t->file, yt_st_file_path(s, 1));
    ck_assert_int_eq(yt_st_find(s, "model.embed_tokens.weight")->file_index, 0);
    ck_assert_int_eq(t->dtype, YT_ST_BF16);
    yt_st_close(s);
    /* the index file itself opens the same set */
    snprintf(q, sizeof q, "%s/model.safetensors.index.json", p);
    ck_assert_msg(yt_st_open(&s, q, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(yt_st_count(s), 9);
    yt_st_close(s);
}
END_TEST

/* ---- malformed files and folders ---- */

START_TEST(test_bad_cases)
{
    json_t *j = load_json("bad_cases.json");
    json_t *cases = json_object_get(j, "cases");
    ck_assert_uint_ge(json_array_size(cases), 30);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *rel = json_string_value(json_object_get(c, "path"));
        char p[4096];
        fixture_path(p, sizeof p, rel);
        yt_err e = {{0}};
        yt_st_set *s = (yt_st_set *)&e;
        int rc = yt_st_open(&s, p, &e);
        ck_assert_msg(rc == -1, "%s: opened, but it is malformed", rel);
        ck_assert_ptr_null(s);
        size_t k;
        json_t *needle;
        json_array_foreach(json_object_get(c, "contains"), k, needle)
            check_has(&e, rel, json_string_value(needle));
    }
    json_decref(j);
}
END_TEST

/* ---- conversions ---- */

START_TEST(test_rounding_vs_torch)
{
    json_t *j = load_json("rounding.json");
    json_t *cases = json_object_get(j, "cases");
    ck_assert_uint_ge(json_array_size(cases), 10000);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        uint32_t in = (uint32_t)json_integer_value(json_array_get(c, 0));
        uint16_t bf = (uint16_t)json_integer_value(json_array_get(c, 1));
        uint16_t hf = (uint16_t)json_integer_value(json_array_get(c, 2));
        float f = u2f(in);
        uint16_t b = yt_st_f32_to_bf16(f), h = yt_st_f32_to_f16(f);
        if (isnan(f)) {
            ck_assert_msg(is_nan16(b, 1) && is_nan16(bf, 1), "bf16 of NaN 0x%08x: 0x%04x", in, b);
            ck_assert_msg(is_nan16(h, 0) && is_nan16(hf, 0), "f16 of NaN 0x%08x: 0x%04x", in, h);
            continue;
        }
        ck_assert_msg(b == bf, "bf16(0x%08x = %.9g): C 0x%04x, torch 0x%04x", in, f, b, bf);
        ck_assert_msg(h == hf, "f16(0x%08x = %.9g): C 0x%04x, torch 0x%04x", in, f, h, hf);
    }
    json_decref(j);
}
END_TEST

START_TEST(test_exhaustive_16bit)
{
    for (uint32_t x = 0; x < 65536; x++) {
        uint16_t h = (uint16_t)x;
        float f = yt_st_f16_to_f32(h);
        if (is_nan16(h, 0)) {
            ck_assert(isnan(f));
            ck_assert_int_eq(signbit(f) != 0, (h >> 15) != 0);
        } else {
            ck_assert_msg(yt_st_f32_to_f16(f) == h, "f16 0x%04x -> %g -> 0x%04x", h, f,
                          yt_st_f32_to_f16(f));
            /* independent formula for finite values */
            int ex = (h >> 10) & 31, m = h & 1023;
            if (ex != 31) {
                double v = ex ? ldexp(1024 + m, ex - 25) : ldexp(m, -24);
                ck_assert(f == (float)((h >> 15) ? -v : v));
            }
        }
        float g = yt_st_bf16_to_f32(h);
        if (is_nan16(h, 1))
            ck_assert(isnan(g));
        else
            ck_assert_int_eq(yt_st_f32_to_bf16(g), h);
    }
}
END_TEST

/* ---- writer ---- */

#define NSRC 4096

static void source_values(float *x)
{
    static const float special[] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65519.0f, 65520.0f,
                                    1e5f, -1e5f, 6.1e-5f, 5.96e-8f, 2.98e-8f, 1e-9f, 1e-40f,
                                    3.4e38f, -3.4e38f, 1.0f / 3.0f, 0.1f, 1.00390625f,
                                    1.01171875f, 2049.0f, 2051.0f, -2051.0f};
    size_t ns = sizeof special / sizeof special[0];
    for (size_t i = 0; i < NSRC; i++) {
        uint64_t r = yt_mix64(i + 77);
        if (i < ns) {
            x[i] = special[i];
        } else if (i % 4 == 0) {
            x[i] = u2f((uint32_t)r & 0x7f7fffffu) * ((r >> 40) & 1 ? -1.0f : 1.0f);
        } else if (i % 4 == 1) {
            /* exact f16/bf16 ties and their neighbours */
            uint32_t base = (uint32_t)(r % 0x7bff);
            float lo = yt_st_f16_to_f32((uint16_t)base), hi = yt_st_f16_to_f32((uint16_t)(base + 1));
            x[i] = (float)(((double)lo + (double)hi) / 2);
        } else if (i % 4 == 2) {
            x[i] = u2f(((uint32_t)r & 0xffff0000u) | 0x8000u);
        } else {
            double e = -27.0 + 44.0 * yt_u01(r);
            x[i] = (float)((r & 1 ? -1 : 1) * exp2(e));
        }
    }
    x[NSRC - 1] = u2f(0x7fc00000u);   /* NaN */
    x[NSRC - 2] = -INFINITY;
    x[NSRC - 3] = INFINITY;
}

static void write_one(const char *dir, const char *tag, yt_st_dtype dt, const float *x,
                      const float *m)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/c_%s.safetensors", dir, tag);
    yt_err e = {{0}};
    yt_st_writer *w;
    ck_assert_int_eq(yt_st_writer_new(&w, &e), 0);
    int64_t s1[1] = {NSRC}, s2[2] = {3, 4}, s3[3] = {2, 0, 5};
    ck_assert_int_eq(yt_st_writer_meta(w, "format", "pt", &e), 0);
    ck_assert_int_eq(yt_st_writer_meta(w, "writer", "old", &e), 0);
    ck_assert_int_eq(yt_st_writer_meta(w, "writer", "yieldtune", &e), 0);
    char up[8];
    snprintf(up, sizeof up, "%s", tag);
    for (char *c = up; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
    ck_assert_int_eq(yt_st_writer_meta(w, "dtype", up, &e), 0);
    ck_assert_msg(yt_st_writer_add(w, "x", dt, 1, s1, x, &e) == 0, "%s", e.msg);
    ck_assert_msg(yt_st_writer_add(w, "model.layers.0.m.weight", dt, 2, s2, m, &e) == 0, "%s", e.msg);
    ck_assert_msg(yt_st_writer_add(w, "scalar", dt, 0, NULL, m + 5, &e) == 0, "%s", e.msg);
    ck_assert_msg(yt_st_writer_add(w, "empty", dt, 3, s3, NULL, &e) == 0, "%s", e.msg);
    /* refused entries leave the writer usable */
    ck_assert_int_eq(yt_st_writer_add(w, "x", dt, 1, s1, x, &e), -1);
    check_has(&e, "duplicate", "'x'");
    ck_assert_int_eq(yt_st_writer_add(w, "__metadata__", dt, 1, s1, x, &e), -1);
    ck_assert_int_eq(yt_st_writer_add(w, "i", YT_ST_I32, 1, s1, x, &e), -1);
    check_has(&e, "float as I32", "I32");
    ck_assert_msg(yt_st_writer_write(w, p, &e) == 0, "%s", e.msg);
    yt_st_writer_free(w);
    ck_assert_int_ne(access(p, F_OK), -1);
}

static void read_back(const char *dir, const char *tag, yt_st_dtype dt, const float *x,
                      const float *m)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/c_%s.safetensors", dir, tag);
    yt_err e = {{0}};
    yt_st_set *s;
    ck_assert_msg(yt_st_open(&s, p, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(yt_st_count(s), 4);
    ck_assert_str_eq(yt_st_meta(s, "writer"), "yieldtune");
    ck_assert_str_eq(yt_st_meta(s, "format"), "pt");
    FILE *f = fopen(p, "rb");
    uint64_t hlen;
    ck_assert_int_eq(fread(&hlen, 8, 1, f), 1);
    fclose(f);
    ck_assert_uint_eq(hlen % 8, 0);
    const yt_st_tensor *t = yt_st_find(s, "x");
    ck_assert_int_eq(t->dtype, dt);
    ck_assert_uint_eq(((uintptr_t)t->data) % (uintptr_t)(yt_st_dtype_bits(dt) / 8), 0);
    float *buf = malloc(NSRC * sizeof *buf);
    ck_assert_int_eq(yt_st_read_f32(s, "x", buf, NSRC, &e), 0);
    for (size_t i = 0; i < NSRC; i++) {
        float want = dt == YT_ST_F32    ? x[i]
                     : dt == YT_ST_BF16 ? yt_st_bf16_to_f32(yt_st_f32_to_bf16(x[i]))
                                        : yt_st_f16_to_f32(yt_st_f32_to_f16(x[i]));
        if (isnan(want))
            ck_assert(isnan(buf[i]));
        else
            ck_assert_msg(f2u(buf[i]) == f2u(want), "%s x[%zu]", tag, i);
    }
    if (dt == YT_ST_F32) {
        ck_assert_ptr_nonnull(yt_st_f32_view(s, "x"));
        ck_assert_int_eq(memcmp(yt_st_f32_view(s, "x"), x, NSRC * 4), 0);
    }
    int64_t s2[2] = {3, 4}, s3[3] = {2, 0, 5};
    ck_assert_msg(yt_st_expect_shape(s, "model.layers.0.m.weight", 2, s2, &e) == 0, "%s", e.msg);
    ck_assert_msg(yt_st_expect_shape(s, "empty", 3, s3, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(yt_st_find(s, "scalar")->ndim, 0);
    ck_assert_int_eq(yt_st_read_f32(s, "model.layers.0.m.weight", buf, 12, &e), 0);
    for (int i = 0; i < 12; i++)
        ck_assert(buf[i] == m[i]);   /* exact in all three dtypes */
    ck_assert_int_eq(yt_st_read_f32(s, "scalar", buf, 1, &e), 0);
    ck_assert(buf[0] == m[5]);
    free(buf);
    yt_st_close(s);
}

START_TEST(test_writer)
{
    char tmpl[] = "/tmp/yt_st_out_XXXXXX";
    const char *out = getenv("YT_ST_OUT");
    int own = !out || !out[0];
    if (own) {
        ck_assert_ptr_nonnull(mkdtemp(tmpl));
        out = tmpl;
    }
    float *x = malloc(NSRC * sizeof *x);
    source_values(x);
    float m[12];
    for (int i = 0; i < 12; i++)
        m[i] = (float)(i - 6) * 0.25f;
    write_one(out, "f32", YT_ST_F32, x, m);
    write_one(out, "bf16", YT_ST_BF16, x, m);
    write_one(out, "f16", YT_ST_F16, x, m);
    read_back(out, "f32", YT_ST_F32, x, m);
    read_back(out, "bf16", YT_ST_BF16, x, m);
    read_back(out, "f16", YT_ST_F16, x, m);

    /* mixed dtypes, raw entries; data laid out by decreasing element size */
    char p[4096];
    snprintf(p, sizeof p, "%s/c_mixed.safetensors", out);
    yt_err e = {{0}};
    yt_st_writer *w;
    ck_assert_int_eq(yt_st_writer_new(&w, &e), 0);
    int32_t iv[4] = {1, -2, 3, -4};
    uint8_t uv[3] = {7, 8, 9};
    float hv[3] = {1.0f, -2.5f, 65504.0f}, wv[5] = {0.5f, -1.5f, 2.25f, 1e-3f, 3e4f}, sv = 42.0f;
    int64_t s3[1] = {3}, s4[1] = {4}, s5[1] = {5}, sz[2] = {0, 2};
    ck_assert_int_eq(yt_st_writer_add(w, "h", YT_ST_F16, 1, s3, hv, &e), 0);
    ck_assert_int_eq(yt_st_writer_add_raw(w, "u8", YT_ST_U8, 1, s3, uv, 3, &e), 0);
    ck_assert_int_eq(yt_st_writer_add(w, "w", YT_ST_F32, 1, s5, wv, &e), 0);
    ck_assert_int_eq(yt_st_writer_add_raw(w, "i32", YT_ST_I32, 1, s4, iv, 12, &e), -1);
    check_has(&e, "raw size", "'i32'");
    ck_assert_int_eq(yt_st_writer_add_raw(w, "i32", YT_ST_I32, 1, s4, iv, 16, &e), 0);
    ck_assert_int_eq(yt_st_writer_add(w, "s", YT_ST_F32, 0, NULL, &sv, &e), 0);
    ck_assert_int_eq(yt_st_writer_add(w, "z", YT_ST_BF16, 2, sz, NULL, &e), 0);
    ck_assert_msg(yt_st_writer_write(w, p, &e) == 0, "%s", e.msg);
    /* a write into a missing folder fails naming the path */
    char bad[4200];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.safetensors", out);
    ck_assert_int_eq(yt_st_writer_write(w, bad, &e), -1);
    check_has(&e, "bad path", "no/such/dir/x.safetensors");
    yt_st_writer_free(w);
    yt_st_set *s;
    ck_assert_msg(yt_st_open(&s, p, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(yt_st_count(s), 6);
    ck_assert_ptr_nonnull(yt_st_f32_view(s, "w"));
    ck_assert_ptr_nonnull(yt_st_f32_view(s, "s"));
    ck_assert_int_eq(memcmp(yt_st_find(s, "i32")->data, iv, 16), 0);
    ck_assert_int_eq(memcmp(yt_st_find(s, "u8")->data, uv, 3), 0);
    float hb[3];
    ck_assert_int_eq(yt_st_read_f32(s, "h", hb, 3, &e), 0);
    ck_assert(hb[0] == 1.0f && hb[1] == -2.5f && hb[2] == 65504.0f);
    /* every tensor aligned to its element size */
    for (size_t i = 0; i < yt_st_count(s); i++) {
        const yt_st_tensor *t = yt_st_at(s, i);
        ck_assert_uint_eq(t->offset % (uint64_t)(yt_st_dtype_bits(t->dtype) / 8), 0);
    }
    yt_st_close(s);
    free(x);
    if (own) {
        const char *names[] = {"f32", "bf16", "f16", "mixed"};
        for (int i = 0; i < 4; i++) {
            snprintf(p, sizeof p, "%s/c_%s.safetensors", out, names[i]);
            unlink(p);
        }
        rmdir(out);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_good_files);
    tcase_add_test(tc, test_unaligned_and_other_dtypes);
    tcase_add_test(tc, test_api_errors);
    tcase_add_test(tc, test_sharded);
    tcase_add_test(tc, test_bad_cases);
    tcase_add_test(tc, test_rounding_vs_torch);
    tcase_add_test(tc, test_exhaustive_16bit);
    tcase_add_test(tc, test_writer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
