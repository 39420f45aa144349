/* datasets/tokenizer: the GGUF metadata reader on files written by the PyPI `gguf`
 * package (fixtures made at test time by tests/tools/make_tokenizer_fixtures.py with
 * $PYTHON, as AM_TESTS_ENVIRONMENT sets it), tokenizers loaded from GGUF and from
 * tokenizer.json text with hand-computed expectations, malformed files (errors name
 * the file and key), invalid UTF-8 (refused, naming the byte offset), HF's lossy
 * decoding rules, and the fingerprint.  Token-exact agreement with HF tokenizers on
 * real files is tests/integration/tokenizer_parity.sh. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "datasets/tokenizer/gguf_meta.h"
#include "datasets/tokenizer/tokenizer.h"

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

START_TEST(gguf_all_types)
{
    yt_gguf *g;
    yt_err e = {{0}};
    ck_assert_msg(yt_gguf_open(&g, fx("all_types.gguf"), &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(yt_gguf_version(g), 3);
    ck_assert_uint_eq(yt_gguf_tensor_count(g), 0);
    /* general.architecture + 17 keys */
    ck_assert_uint_eq(yt_gguf_kv_count(g), 18);
    ck_assert_str_eq(yt_gguf_kv_at(g, 0)->key, "general.architecture");
    const yt_gguf_value *v;
#define SCALAR(key, ty, field, val)                                                          \
    v = yt_gguf_find(g, key);                                                                \
    ck_assert_ptr_nonnull(v);                                                                \
    ck_assert_int_eq(v->type, ty);                                                           \
    ck_assert_msg(v->field == (val), "%s", key);
    SCALAR("t.u8", YT_GGUF_U8, u, 200u);
    SCALAR("t.i8", YT_GGUF_I8, i, -100);
    SCALAR("t.u16", YT_GGUF_U16, u, 60000u);
    SCALAR("t.i16", YT_GGUF_I16, i, -30000);
    SCALAR("t.u32", YT_GGUF_U32, u, 4000000000u);
    SCALAR("t.i32", YT_GGUF_I32, i, -2000000000);
    SCALAR("t.f32", YT_GGUF_F32, f, 1.5);
    SCALAR("t.bool", YT_GGUF_BOOL, u, 1u);
    SCALAR("t.u64", YT_GGUF_U64, u, 18000000000000000000ull);
    SCALAR("t.i64", YT_GGUF_I64, i, -9000000000000000000ll);
    SCALAR("t.f64", YT_GGUF_F64, f, -2.25);
#undef SCALAR
    v = yt_gguf_find(g, "t.str");
    ck_assert_int_eq(v->type, YT_GGUF_STRING);
    ck_assert_str_eq(v->str.s, "h\xc3\xa9llo w\xc3\xb6rld");
    ck_assert_uint_eq(v->str.len, 13);
    v = yt_gguf_find(g, "t.arr_i32");
    ck_assert_int_eq(v->type, YT_GGUF_ARRAY);
    ck_assert_int_eq(v->elem_type, YT_GGUF_I32);
    ck_assert_uint_eq(v->n, 3);
    ck_assert_int_eq(yt_gguf_elem_i64(v, 0), 1);
    ck_assert_int_eq(yt_gguf_elem_i64(v, 1), -2);
    ck_assert_int_eq(yt_gguf_elem_i64(v, 2), 3);
    v = yt_gguf_find(g, "t.arr_f32");
    ck_assert_int_eq(v->elem_type, YT_GGUF_F32);
    ck_assert(yt_gguf_elem_f64(v, 0) == 0.5 && yt_gguf_elem_f64(v, 1) == -1.25);
    v = yt_gguf_find(g, "t.arr_str");
    ck_assert_int_eq(v->elem_type, YT_GGUF_STRING);
    ck_assert_uint_eq(v->n, 3);
    ck_assert_str_eq(v->strs[0].s, "a");
    ck_assert_uint_eq(v->strs[1].len, 0);
    ck_assert_str_eq(v->strs[2].s, "\xe6\x97\xa5\xe6\x9c\xac");
    v = yt_gguf_find(g, "t.arr_bool");
    ck_assert_int_eq(v->elem_type, YT_GGUF_BOOL);
    ck_assert(yt_gguf_elem_i64(v, 0) == 1 && yt_gguf_elem_i64(v, 1) == 0 &&
              yt_gguf_elem_i64(v, 2) == 1);
    v = yt_gguf_find(g, "t.nested");
    ck_assert_int_eq(v->elem_type, YT_GGUF_ARRAY);
    ck_assert_uint_eq(v->n, 2);
    ck_assert_uint_eq(v->items[0].n, 2);
    ck_assert_uint_eq(v->items[1].n, 3);
    ck_assert_int_eq(yt_gguf_elem_i64(&v->items[1], 2), 5);
    ck_assert_ptr_null(yt_gguf_find(g, "no.such.key"));
    yt_gguf_close(g);
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
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    remove_fixtures();
    return failed ? 1 : 0;
}
