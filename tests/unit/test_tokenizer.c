/* datasets/tokenizer: the GGUF metadata as the tokenizer reads it (model/gguf.c's
 * yt_gg_read_meta, through a stream) on files written by the PyPI `gguf`
 * package (fixtures made at test time by tests/tools/make_tokenizer_fixtures.py with
 * $PYTHON, as AM_TESTS_ENVIRONMENT sets it), tokenizers loaded from GGUF and from
 * tokenizer.json text with hand-computed expectations, malformed files (errors name
 * the file and key), invalid UTF-8 (refused, naming the byte offset), HF's lossy
 * decoding rules, and the fingerprint.  Inputs: a FIFO is read once (a tokenizer.json
 * and a GGUF through one load the same as from a file), a file over the size limit
 * and an endless stream are refused naming them.  Allocation failures: this binary is
 * linked with --wrap for malloc, calloc, realloc and strdup (tests/tokenizer.inc), so
 * that the Nth allocation can be made to fail; every load and encode must then fail
 * naming what ran out, or succeed with the same result (never skip a failure).
 * Token-exact agreement with HF tokenizers on real files is
 * tests/integration/tokenizer_parity.sh. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/common.h"
#include "datasets/tokenizer/input.h"
#include "datasets/tokenizer/tokenizer.h"
#include "model/gguf.h"

/* ---- the allocation-failure seam (ld --wrap) ---- */

static long fail_at = -1; /* which allocation fails while armed; -1 = none */
static long n_allocs;     /* allocations seen while armed */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);

static int fail_now(void) { return fail_at >= 0 && n_allocs++ == fail_at; }
void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return fail_now() ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return fail_now() ? NULL : __real_strdup(s); }

static void arm(long k)
{
    n_allocs = 0;
    fail_at = k;
}

/* Whether the armed failure happened (disarms). */
static int disarm(void)
{
    int hit = fail_at >= 0 && n_allocs > fail_at;
    fail_at = -1;
    return hit;
}

#define ck_assert_msg_has(e, sub)                                                           \
    ck_assert_msg(strstr((e).msg, (sub)) != NULL, "message '%s' lacks '%s'", (e).msg, (sub))

static char fixdir[4096];

static void make_fixtures(void)
{
    const char *py = getenv("PYTHON"), *src = getenv("YT_SRCDIR");
    if (!py || !*py || !src || !*src) {
        fprintf(stderr, "test_tokenizer: PYTHON and YT_SRCDIR must be set (make check sets them)\n");
        exit(1);
    }
    const char *base = getenv("TMPDIR");
    snprintf(fixdir, sizeof fixdir, "%s/yt-tok-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(fixdir)) {
        perror("mkdtemp");
        exit(1);
    }
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/tools/make_tokenizer_fixtures.py' '%s' >/dev/null",
             py, src, fixdir);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_tokenizer: fixture script failed: %s\n", cmd);
        exit(1);
    }
}

static void remove_fixtures(void)
{
    DIR *d = opendir(fixdir);
    if (!d)
        return;
    struct dirent *de;
    char p[8192];
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", fixdir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(fixdir);
}

static const char *fx(const char *name)
{
    static char p[8192];
    snprintf(p, sizeof p, "%s/%s", fixdir, name);
    return p;
}

static void expect_ids(yt_tok *t, const char *text, int add_special, const uint32_t *want,
                       size_t n)
{
    yt_tok_ids ids = {0};
    yt_err e = {{0}};
    ck_assert_msg(yt_tok_encode(t, text, strlen(text), add_special, &ids, &e) == 0, "%s", e.msg);
    ck_assert_msg(ids.n == n, "'%s': %zu ids, expected %zu", text, ids.n, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(ids.v[i] == want[i], "'%s': ids[%zu] = %u, expected %u", text, i, ids.v[i],
                      want[i]);
    free(ids.v);
}

static void expect_text(yt_tok *t, const uint32_t *ids, size_t n, int skip, const char *want,
                        size_t want_len)
{
    yt_tok_text s = {0};
    yt_err e = {{0}};
    ck_assert_msg(yt_tok_decode(t, ids, n, skip, &s, &e) == 0, "%s", e.msg);
    ck_assert_msg(s.n == want_len && memcmp(s.s, want, want_len) == 0, "decoded '%s', expected '%s'",
                  s.s, want);
    free(s.s);
}

/* ---- GGUF reader ---- */

static int read_file(void *f, void *dst, size_t n, size_t *got, yt_err *e)
{
    (void)e;
    *got = fread(dst, 1, n, f);
    return 0;
}

START_TEST(gguf_all_types)
{
    yt_gg *g;
    yt_err e = {{0}};
    FILE *f = fopen(fx("all_types.gguf"), "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(yt_gg_read_meta(&g, read_file, f, "all_types.gguf", TOK_INPUT_MAX, 0, &e) == 0,
                  "%s", e.msg);
    fclose(f);
    ck_assert_uint_eq(yt_gg_version(g), 3);
    ck_assert_uint_eq(yt_gg_n_tensors(g), 0);
    /* general.architecture + 17 keys */
    ck_assert_uint_eq(yt_gg_n_kv(g), 18);
    ck_assert_str_eq(yt_gg_kv_key(g, 0), "general.architecture");
    const yt_gg_value *v;
#define SCALAR(key, ty, field, val)                                                          \
    v = yt_gg_find(g, key);                                                                  \
    ck_assert_ptr_nonnull(v);                                                                \
    ck_assert_int_eq(v->type, ty);                                                           \
    ck_assert_msg(v->field == (val), "%s", key);
    SCALAR("t.u8", YT_GG_U8, u, 200u);
    SCALAR("t.i8", YT_GG_I8, i, -100);
    SCALAR("t.u16", YT_GG_U16, u, 60000u);
    SCALAR("t.i16", YT_GG_I16, i, -30000);
    SCALAR("t.u32", YT_GG_U32, u, 4000000000u);
    SCALAR("t.i32", YT_GG_I32, i, -2000000000);
    SCALAR("t.f32", YT_GG_F32, f, 1.5);
    SCALAR("t.bool", YT_GG_BOOL, u, 1u);
    SCALAR("t.u64", YT_GG_U64, u, 18000000000000000000ull);
    SCALAR("t.i64", YT_GG_I64, i, -9000000000000000000ll);
    SCALAR("t.f64", YT_GG_F64, f, -2.25);
#undef SCALAR
    v = yt_gg_find(g, "t.str");
    ck_assert_int_eq(v->type, YT_GG_STRING);
    ck_assert(yt_gg_str_eq(v->str, "h\xc3\xa9llo w\xc3\xb6rld"));
    ck_assert_uint_eq(v->str.len, 13);
    v = yt_gg_find(g, "t.arr_i32");
    ck_assert_int_eq(v->type, YT_GG_ARRAY);
    ck_assert_int_eq(v->elem, YT_GG_I32);
    ck_assert_uint_eq(v->n, 3);
    ck_assert_int_eq(yt_gg_arr_int(v, 0), 1);
    ck_assert_int_eq(yt_gg_arr_int(v, 1), -2);
    ck_assert_int_eq(yt_gg_arr_int(v, 2), 3);
    v = yt_gg_find(g, "t.arr_f32");
    ck_assert_int_eq(v->elem, YT_GG_F32);
    ck_assert(yt_gg_arr_float(v, 0) == 0.5 && yt_gg_arr_float(v, 1) == -1.25);
    v = yt_gg_find(g, "t.arr_str");
    ck_assert_int_eq(v->elem, YT_GG_STRING);
    ck_assert_uint_eq(v->n, 3);
    ck_assert(yt_gg_str_eq(v->strs[0], "a"));
    ck_assert_uint_eq(v->strs[1].len, 0);
    ck_assert(yt_gg_str_eq(v->strs[2], "\xe6\x97\xa5\xe6\x9c\xac"));
    v = yt_gg_find(g, "t.arr_bool");
    ck_assert_int_eq(v->elem, YT_GG_BOOL);
    ck_assert(yt_gg_arr_int(v, 0) == 1 && yt_gg_arr_int(v, 1) == 0 && yt_gg_arr_int(v, 2) == 1);
    v = yt_gg_find(g, "t.nested");
    ck_assert_int_eq(v->elem, YT_GG_ARRAY);
    ck_assert_uint_eq(v->n, 2);
    ck_assert_uint_eq(v->items[0].n, 2);
    ck_assert_uint_eq(v->items[1].n, 3);
    ck_assert_int_eq(yt_gg_arr_int(&v->items[1], 2), 5);
    ck_assert_ptr_null(yt_gg_find(g, "no.such.key"));
    yt_gg_close(g);
}
END_TEST

START_TEST(gguf_malformed)
{
    static const struct {
        const char *file, *what;
    } cases[] = {
        {"bad_magic.gguf", "not a GGUF file"},
        {"bad_version.gguf", "GGUF version 1"},
        {"truncated.gguf", "tokenizer.ggml.tokens"},
        {"huge_array.gguf", "tokenizer.ggml.merges"},
        {"no_model.gguf", "tokenizer.ggml.model"},
        {"bad_merge.gguf", "tokenizer.ggml.merges'[1]"},
        {"bad_pre.gguf", "no-such-pre"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        yt_tok *t = NULL;
        yt_err e = {{0}};
        ck_assert_msg(yt_tok_load(&t, fx(cases[i].file), &e) == -1, "%s loaded", cases[i].file);
        ck_assert_ptr_null(t);
        ck_assert_msg_has(e, cases[i].file);
        ck_assert_msg_has(e, cases[i].what);
    }
    yt_tok *t = NULL;
    yt_err e = {{0}};
    ck_assert_int_eq(yt_tok_load(&t, fx("absent.gguf"), &e), -1);
    ck_assert_msg_has(e, "absent.gguf");
}
END_TEST

START_TEST(gguf_tokenizers)
{
    yt_tok *t;
    yt_err e = {{0}};
    /* gpt2: ids 0..255 are the byte symbols, 256 he, 257 ll, 258 hell, 259 hello, 260 <|end|> */
    ck_assert_msg(yt_tok_load(&t, fx("tiny.gguf"), &e) == 0, "%s", e.msg);
    ck_assert_str_eq(yt_tok_source_kind(t), "gguf");
    ck_assert_uint_eq(yt_tok_vocab_size(t), 261);
    ck_assert_int_eq(yt_tok_bos_id(t), 260);
    expect_ids(t, "hello hello", 0, (const uint32_t[]){259, 32, 259}, 3);
    expect_ids(t, "hello hello", 1, (const uint32_t[]){259, 32, 259}, 3); /* add_bos false */
    expect_ids(t, "<|end|>hell", 0, (const uint32_t[]){260, 258}, 2);
    expect_ids(t, "hel", 0, (const uint32_t[]){256, 'l'}, 2);
    expect_text(t, (const uint32_t[]){260, 259, 32, 259}, 4, 0, "<|end|>hello hello", 18);
    expect_text(t, (const uint32_t[]){260, 259}, 2, 1, "hello", 5);
    yt_tok_free(t);

    /* llama: <unk> <s> </s>, <0x00>..<0xFF> = 3..258, then scored pieces from 259 */
    ck_assert_msg(yt_tok_load(&t, fx("tiny_llama.gguf"), &e) == 0, "%s", e.msg);
    /* "▁hello▁world": merges by score give ▁hello, ▁wor, l, d */
    expect_ids(t, "hello world", 0, (const uint32_t[]){272, 275, 262, 266}, 4);
    expect_ids(t, "hello world", 1, (const uint32_t[]){1, 272, 275, 262, 266}, 5);
    /* é is not a piece: byte fallback <0xC3> <0xA9> */
    expect_ids(t, "h\xc3\xa9", 0, (const uint32_t[]){267, 3 + 0xc3, 3 + 0xa9}, 3);
    expect_text(t, (const uint32_t[]){1, 272, 275, 262, 266}, 5, 1, "hello world", 11);
    expect_text(t, (const uint32_t[]){267, 3 + 0xc3, 3 + 0xa9}, 3, 0, "h\xc3\xa9", 3);
    /* an invalid byte run: one U+FFFD per byte (HF ByteFallback) */
    expect_text(t, (const uint32_t[]){267, 3 + 0xc3, 3 + 0x41}, 3, 0,
                "h\xef\xbf\xbd\xef\xbf\xbd", 7);
    yt_tok_free(t);
}
END_TEST

/* ---- tokenizer.json ---- */

/* A byte-level BPE over "a".."e" with merges, added tokens with lstrip/rstrip. */
static const char *tiny_json(const char *merges, const char *extra_added, const char *norm)
{
    static char buf[8192];
    snprintf(buf, sizeof buf,
             "{\"version\": \"1.0\", \"normalizer\": %s,"
             " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false,"
             " \"use_regex\": true},"
             " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": ["
             "{\"SpecialToken\": {\"id\": \"<bos>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\","
             " \"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"<eos>\", \"type_id\": 0}}],"
             " \"special_tokens\": {\"<bos>\": {\"id\": \"<bos>\", \"ids\": [10], \"tokens\": "
             "[\"<bos>\"]}, \"<eos>\": {\"id\": \"<eos>\", \"ids\": [11], \"tokens\": [\"<eos>\"]}}},"
             " \"decoder\": {\"type\": \"ByteLevel\"},"
             " \"added_tokens\": [{\"id\": 10, \"content\": \"<bos>\", \"special\": true, \"normalized\":"
             " false, \"lstrip\": false, \"rstrip\": false, \"single_word\": false},"
             " {\"id\": 11, \"content\": \"<eos>\", \"special\": true, \"normalized\": false,"
             " \"lstrip\": true, \"rstrip\": true, \"single_word\": false}%s],"
             " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"\\u0120\": 3,"
             " \"ab\": 4, \"abc\": 5, \"\\u0120a\": 6, \"\\u00c3\": 7, \"\\u00a9\": 8, \"bc\": 9},"
             " \"merges\": %s}}",
             norm, extra_added, merges);
    return buf;
}

START_TEST(json_tokenizer)
{
    yt_tok *t;
    yt_err e = {{0}};
    const char *js = tiny_json("[\"a b\", \"ab c\", \"\\u0120 a\", \"b c\"]", "", "null");
    ck_assert_msg(yt_tok_load_json_text(&t, js, strlen(js), "tiny.json", &e) == 0, "%s", e.msg);
    ck_assert_str_eq(yt_tok_source_kind(t), "tokenizer.json");
    ck_assert_int_eq(yt_tok_bos_id(t), 10);
    ck_assert_int_eq(yt_tok_eos_id(t), 11);
    ck_assert_int_eq(yt_tok_piece_id(t, "abc"), 5);
    ck_assert_int_eq(yt_tok_piece_id(t, "<eos>"), 11);
    /* "abc abc": "abc" -> a b c -> (a b) rank 0 -> ab c -> abc; " abc" -> Ġ a b c ->
     * (a b) rank 0 first, then (ab c), Ġa never forms */
    expect_ids(t, "abc abc", 0, (const uint32_t[]){5, 3, 5}, 3);
    expect_ids(t, "abc abc", 1, (const uint32_t[]){10, 5, 3, 5, 11}, 5);
    /* <eos> strips the white space around it; "bc" merges only after "ab" loses */
    expect_ids(t, "a  <eos>  bc", 0, (const uint32_t[]){0, 11, 9}, 3);
    /* unknown characters (no unk token): dropped, as HF, so a and b meet and merge */
    expect_ids(t, "axb", 0, (const uint32_t[]){4}, 1);
    /* decode: ByteLevel joins bytes; Ã© = bytes C3 A9 = "é" */
    expect_text(t, (const uint32_t[]){7, 8, 3, 5}, 4, 0, "\xc3\xa9 abc", 6);
    /* lossy: a lone C3 becomes U+FFFD (maximal subpart) */
    expect_text(t, (const uint32_t[]){7, 0}, 2, 0, "\xef\xbf\xbd" "a", 4);
    expect_text(t, (const uint32_t[]){10, 5, 11}, 3, 1, "abc", 3);
    expect_text(t, (const uint32_t[]){10, 5, 11}, 3, 0, "<bos>abc<eos>", 13);
    /* an id outside the vocabulary is refused (HF drops it) */
    yt_tok_text s = {0};
    ck_assert_int_eq(yt_tok_decode(t, (const uint32_t[]){5, 99}, 2, 0, &s, &e), -1);
    ck_assert_msg_has(e, "id 99");
    free(s.s);
    char fp1[17], fp2[17];
    yt_tok_fingerprint_hex(t, fp1);
    ck_assert_uint_eq(strlen(fp1), 16);
    yt_tok *t2;
    ck_assert_msg(yt_tok_load_json_text(&t2, js, strlen(js), "again.json", &e) == 0, "%s", e.msg);
    ck_assert(yt_tok_fingerprint(t) == yt_tok_fingerprint(t2));
    yt_tok_free(t2);
    /* other merge order, other added token, other normalizer: other fingerprints */
    js = tiny_json("[\"b c\", \"a b\", \"ab c\", \"\\u0120 a\"]", "", "null");
    ck_assert_msg(yt_tok_load_json_text(&t2, js, strlen(js), "v1.json", &e) == 0, "%s", e.msg);
    ck_assert(yt_tok_fingerprint(t) != yt_tok_fingerprint(t2));
    expect_ids(t2, "abc", 0, (const uint32_t[]){0, 9}, 2); /* b c merges first now */
    yt_tok_free(t2);
    js = tiny_json("[\"a b\", \"ab c\", \"\\u0120 a\", \"b c\"]",
                   ", {\"id\": 12, \"content\": \"ca\", \"special\": false, \"normalized\": true}",
                   "null");
    ck_assert_msg(yt_tok_load_json_text(&t2, js, strlen(js), "v2.json", &e) == 0, "%s", e.msg);
    yt_tok_fingerprint_hex(t2, fp2);
    ck_assert_str_ne(fp1, fp2);
    expect_ids(t2, "abcab", 0, (const uint32_t[]){4, 12, 1}, 3);
    yt_tok_free(t2);
    js = tiny_json("[\"a b\", \"ab c\", \"\\u0120 a\", \"b c\"]", "",
                   "{\"type\": \"Replace\", \"pattern\": {\"String\": \"x\"}, \"content\": \"c\"}");
    ck_assert_msg(yt_tok_load_json_text(&t2, js, strlen(js), "v3.json", &e) == 0, "%s", e.msg);
    ck_assert(yt_tok_fingerprint(t) != yt_tok_fingerprint(t2));
    expect_ids(t2, "abx", 0, (const uint32_t[]){5}, 1);
    yt_tok_free(t2);
    yt_tok_free(t);
}
END_TEST

START_TEST(json_malformed)
{
    static const struct {
        const char *json, *what;
    } cases[] = {
        {"{\"model\": ", "line 1"},
        {"[1, 2]", "not a JSON object"},
        {"{\"model\": {\"type\": \"BPE\", \"merges\": []}}", "model.vocab"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "model.type"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2},"
         " \"merges\": [\"a b\", \"a z\"]}}", "model.merges[1]"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1},"
         " \"merges\": [\"a b\"]}}", "merged token 'ab'"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": -1}, \"merges\": []}}",
         "model.vocab[\"b\"]"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
         " \"normalizer\": {\"type\": \"Lowercase\"}}", "'normalizer'"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
         " \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\","
         " \"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Sideways\"}]}}",
         "pre_tokenizer.pretokenizers[0].behavior"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
         " \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a\"},"
         " \"behavior\": \"Isolated\"}}", "pre_tokenizer.pattern"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
         " \"added_tokens\": [{\"content\": \"<x>\"}]}", "added_tokens[0]"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
         " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\":"
         " {\"id\": \"<s>\"}}, {\"Sequence\": {\"id\": \"A\"}}], \"special_tokens\": {}}}",
         "post_processor.single[0]"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
         " \"decoder\": {\"type\": \"WordPiece\"}}", "'decoder'"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [],"
         " \"unk_token\": \"<unk>\"}}", "model.unk_token"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        yt_tok *t = NULL;
        yt_err e = {{0}};
        ck_assert_msg(yt_tok_load_json_text(&t, cases[i].json, strlen(cases[i].json), "bad.json",
                                            &e) == -1, "case %zu loaded", i);
        ck_assert_ptr_null(t);
        ck_assert_msg_has(e, "bad.json");
        ck_assert_msg_has(e, cases[i].what);
    }
    /* through a file: the message names the path */
    char path[8192];
    snprintf(path, sizeof path, "%s/broken.json", fixdir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": [\"x y\"]}}", f);
    fclose(f);
    yt_tok *t = NULL;
    yt_err e = {{0}};
    ck_assert_int_eq(yt_tok_load(&t, path, &e), -1);
    ck_assert_msg_has(e, "broken.json");
    ck_assert_msg_has(e, "model.merges[0]");
}
END_TEST

/* ---- inputs: read once, bounded ---- */

/* Writes N bytes of P into the FIFO at PATH from a child process; returns its pid. */
static pid_t fifo_writer(const char *path, const void *p, size_t n)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(path, O_WRONLY);
        if (fd < 0)
            _exit(2);
        const char *c = p;
        while (n) {
            ssize_t w = write(fd, c, n);
            if (w <= 0)
                _exit(3);
            c += w;
            n -= (size_t)w;
        }
        close(fd);
        _exit(0);
    }
    return pid;
}

static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    *n = (size_t)ftell(f);
    rewind(f);
    char *b = malloc(*n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

START_TEST(fifo_read_once)
{
    char fifo[8192];
    snprintf(fifo, sizeof fifo, "%s/tok.fifo", fixdir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    yt_err e = {{0}};
    int status;

    /* tokenizer.json through a FIFO: the same tokenizer as from memory */
    const char *js = tiny_json("[\"a b\", \"ab c\", \"\\u0120 a\", \"b c\"]", "", "null");
    yt_tok *ref, *t = NULL;
    ck_assert_msg(yt_tok_load_json_text(&ref, js, strlen(js), "tiny.json", &e) == 0, "%s", e.msg);
    pid_t pid = fifo_writer(fifo, js, strlen(js));
    int rc = yt_tok_load(&t, fifo, &e);
    if (rc)
        kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(rc == 0, "%s", e.msg);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer did not finish");
    ck_assert_str_eq(yt_tok_source_kind(t), "tokenizer.json");
    ck_assert(yt_tok_fingerprint(t) == yt_tok_fingerprint(ref));
    expect_ids(t, "abc abc", 1, (const uint32_t[]){10, 5, 3, 5, 11}, 5);
    yt_tok_free(t);
    yt_tok_free(ref);

    /* a GGUF through a FIFO (its magic picks the loader; the metadata is read as it
     * comes): the same tokenizer as from the file */
    size_t n;
    char *bytes = read_all(fx("tiny_llama.gguf"), &n);
    ck_assert_msg(yt_tok_load(&ref, fx("tiny_llama.gguf"), &e) == 0, "%s", e.msg);
    pid = fifo_writer(fifo, bytes, n);
    t = NULL;
    rc = yt_tok_load(&t, fifo, &e);
    if (rc)
        kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(rc == 0, "%s", e.msg);
    ck_assert_str_eq(yt_tok_source_kind(t), "gguf");
    ck_assert(yt_tok_fingerprint(t) == yt_tok_fingerprint(ref));
    expect_ids(t, "hello world", 1, (const uint32_t[]){1, 272, 275, 262, 266}, 5);
    yt_tok_free(t);
    yt_tok_free(ref);
    free(bytes);

    /* a GGUF stream has no size to check lengths against: a string longer than the
     * metadata limit is refused before anything is allocated for it */
    unsigned char hdr[32] = "GGUF";
    size_t o = 4;
    const uint64_t fields[] = {3, 0, 1, (uint64_t)1 << 40}; /* version, tensors, kv, key length */
    for (int f = 0; f < 4; f++)
        for (int b = 0; b < (f ? 8 : 4); b++)
            hdr[o++] = (unsigned char)(fields[f] >> (8 * b));
    pid = fifo_writer(fifo, hdr, o);
    t = NULL;
    rc = yt_tok_load(&t, fifo, &e);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_null(t);
    ck_assert_msg_has(e, "tok.fifo");
    ck_assert_msg_has(e, "metadata limit");
    unlink(fifo);
}
END_TEST

START_TEST(size_limit)
{
    /* a regular file over the limit is refused before it is read (sparse: no disk) */
    char big[8192];
    snprintf(big, sizeof big, "%s/huge.json", fixdir);
    int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)TOK_INPUT_MAX + 1), 0);
    close(fd);
    yt_tok *t = NULL;
    yt_err e = {{0}};
    ck_assert_int_eq(yt_tok_load(&t, big, &e), -1);
    ck_assert_ptr_null(t);
    ck_assert_msg_has(e, "huge.json");
    ck_assert_msg_has(e, "1073741825 bytes");
    unlink(big);

    /* an endless stream: refused once it passes the limit (here 1 MiB, the reader the
     * loaders use, with a smaller bound), naming it */
    tok_input in;
    ck_assert_msg(tok_input_open(&in, "/dev/zero", &e) == 0, "%s", e.msg);
    char *text = NULL;
    size_t len = 0;
    ck_assert_int_eq(tok_input_slurp(&in, (uint64_t)1 << 20, &text, &len, &e), -1);
    tok_input_close(&in);
    ck_assert_ptr_null(text);
    ck_assert_msg_has(e, "/dev/zero");
    ck_assert_msg_has(e, "1048576 bytes");
    /* exactly at the limit is fine: a stream of 1 MiB + 0 bytes */
    char fifo[8192];
    snprintf(fifo, sizeof fifo, "%s/lim.fifo", fixdir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    char *mib = calloc(1, (size_t)1 << 20);
    ck_assert_ptr_nonnull(mib);
    pid_t pid = fifo_writer(fifo, mib, (size_t)1 << 20);
    ck_assert_msg(tok_input_open(&in, fifo, &e) == 0, "%s", e.msg);
    int rc = tok_input_slurp(&in, (uint64_t)1 << 20, &text, &len, &e);
    tok_input_close(&in);
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(rc == 0, "%s", e.msg);
    ck_assert_uint_eq(len, (size_t)1 << 20);
    ck_assert(memcmp(text, mib, len) == 0 && text[len] == '\0');
    free(text);
    free(mib);
    unlink(fifo);
}
END_TEST

/* ---- allocation failures ---- */

typedef int (*load_fn)(yt_tok **t, const void *arg, yt_err *e);

static int load_path(yt_tok **t, const void *arg, yt_err *e) { return yt_tok_load(t, arg, e); }

static int load_text(yt_tok **t, const void *arg, yt_err *e)
{
    return yt_tok_load_json_text(t, arg, strlen(arg), "oom.json", e);
}

/* Fails allocation 0, 1, 2, ... of a load (and then of an encode) until one runs
 * without reaching the failure: every failed run must report it ("out of memory",
 * naming NAME), and none may swallow it. */
static void alloc_sweep(load_fn load, const void *arg, const char *name, const char *text)
{
    yt_tok *ref;
    yt_err e = {{0}};
    ck_assert_msg(load(&ref, arg, &e) == 0, "%s", e.msg);
    yt_tok_ids want = {0};
    ck_assert_msg(yt_tok_encode(ref, text, strlen(text), 1, &want, &e) == 0, "%s", e.msg);
    long k, failed = 0;
    for (k = 0;; k++) {
        yt_tok *t = NULL;
        e.msg[0] = '\0';
        arm(k);
        int rc = load(&t, arg, &e);
        int hit = disarm();
        if (!hit) {
            ck_assert_msg(rc == 0, "%s: load %ld failed with no allocation failing: %s", name, k,
                          e.msg);
            ck_assert(yt_tok_fingerprint(t) == yt_tok_fingerprint(ref));
            yt_tok_free(t);
            break;
        }
        ck_assert_msg(rc == -1, "%s: allocation %ld failed and the load went on (fingerprint %s)",
                      name, k, t && yt_tok_fingerprint(t) == yt_tok_fingerprint(ref)
                                       ? "unchanged" : "changed");
        ck_assert_ptr_null(t);
        ck_assert_msg_has(e, "out of memory");
        ck_assert_msg_has(e, name);
        failed++;
    }
    ck_assert_int_gt(failed, 20);
    for (k = 0;; k++) {
        yt_tok *t;
        ck_assert_msg(load(&t, arg, &e) == 0, "%s", e.msg);
        yt_tok_ids ids = {0};
        ck_assert_int_eq(yt_tok_ids_push(&ids, 7, &e), 0);
        arm(k);
        int rc = yt_tok_encode(t, text, strlen(text), 1, &ids, &e);
        int hit = disarm();
        yt_tok_free(t);
        if (!hit) {
            ck_assert_msg(rc == 0, "%s", e.msg);
            ck_assert_uint_eq(ids.n, want.n + 1);
            ck_assert(memcmp(ids.v + 1, want.v, want.n * sizeof *want.v) == 0);
            free(ids.v);
            break;
        }
        ck_assert_msg(rc == -1, "%s: allocation %ld of an encode failed and it went on", name, k);
        ck_assert_msg_has(e, "out of memory");
        ck_assert_uint_eq(ids.n, 1); /* untouched */
        free(ids.v);
    }
    ck_assert_int_gt(k, 2);
    free(want.v);
    yt_tok_free(ref);
}

START_TEST(alloc_failures_reported)
{
    const char *js = tiny_json("[\"a b\", \"ab c\", \"\\u0120 a\", \"b c\"]",
                               ", {\"id\": 12, \"content\": \"ca\", \"special\": false,"
                               " \"normalized\": true, \"single_word\": true}",
                               "{\"type\": \"Replace\", \"pattern\": {\"Regex\": \"x+\"},"
                               " \"content\": \"c\"}");
    alloc_sweep(load_text, js, "oom.json", "abxx ca  <eos> abc");
    alloc_sweep(load_path, fx("tiny.gguf"), "tiny.gguf", "hello <|end|>hell hello");
    alloc_sweep(load_path, fx("tiny_llama.gguf"), "tiny_llama.gguf", "hello h\xc3\xa9 world");
}
END_TEST

/* ---- invalid UTF-8 ---- */

START_TEST(utf8_refused)
{
    static const struct {
        const char *s;
        size_t n, off;
    } cases[] = {
        {"\xff", 1, 0},
        {"ab\xc3", 3, 2},             /* truncated sequence */
        {"abc\xed\xa0\x80z", 7, 3},   /* UTF-16 surrogate */
        {"\xc0\xaf", 2, 0},           /* overlong '/' */
        {"ok \xf4\x90\x80\x80", 7, 3}, /* above U+10FFFF */
        {"\xe2\x82", 2, 0},
        {"12345678\x80", 9, 8},       /* continuation byte after the ASCII fast path */
    };
    yt_tok *t;
    yt_err e = {{0}};
    ck_assert_msg(yt_tok_load(&t, fx("tiny.gguf"), &e) == 0, "%s", e.msg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_uint_eq(yt_tok_utf8_check(cases[i].s, cases[i].n), cases[i].off);
        yt_tok_ids ids = {0};
        ck_assert_int_eq(yt_tok_ids_push(&ids, 7, &e), 0);
        ck_assert_int_eq(yt_tok_encode(t, cases[i].s, cases[i].n, 1, &ids, &e), -1);
        char want[64];
        snprintf(want, sizeof want, "byte offset %zu", cases[i].off);
        ck_assert_msg_has(e, want);
        ck_assert_uint_eq(ids.n, 1); /* untouched */
        free(ids.v);
    }
    /* valid: NUL, 4-byte sequences, U+10FFFF */
    const char ok[] = "a\0b \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
    ck_assert_uint_eq(yt_tok_utf8_check(ok, sizeof ok - 1), sizeof ok - 1);
    yt_tok_ids ids = {0};
    ck_assert_int_eq(yt_tok_encode(t, ok, sizeof ok - 1, 0, &ids, &e), 0);
    yt_tok_text s = {0};
    ck_assert_int_eq(yt_tok_decode(t, ids.v, ids.n, 0, &s, &e), 0);
    ck_assert(s.n == sizeof ok - 1 && memcmp(s.s, ok, s.n) == 0); /* byte-level round trip */
    free(s.s);
    free(ids.v);
    yt_tok_free(t);
}
END_TEST

int main(void)
{
    make_fixtures();
    Suite *s = suite_create("tokenizer");
    TCase *c = tcase_create("gguf");
    tcase_set_timeout(c, 60);
    tcase_add_test(c, gguf_all_types);
    tcase_add_test(c, gguf_malformed);
    tcase_add_test(c, gguf_tokenizers);
    suite_add_tcase(s, c);
    c = tcase_create("json");
    tcase_set_timeout(c, 60);
    tcase_add_test(c, json_tokenizer);
    tcase_add_test(c, json_malformed);
    suite_add_tcase(s, c);
    c = tcase_create("utf8");
    tcase_add_test(c, utf8_refused);
    suite_add_tcase(s, c);
    c = tcase_create("input");
    tcase_set_timeout(c, 60);
    tcase_add_test(c, fifo_read_once);
    tcase_add_test(c, size_limit);
    suite_add_tcase(s, c);
    c = tcase_create("alloc");
    tcase_set_timeout(c, 120);
    tcase_add_test(c, alloc_failures_reported);
    suite_add_tcase(s, c);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    remove_fixtures();
    return failed ? 1 : 0;
}
