/* datasets/: the HDF5 token file (writer, reader, validation, corruption), prep from
 * JSONL (every error names the file and line), and the sampler (coverage per epoch,
 * rank-independent global order, cursor restore, seeds and epochs).
 *
 * With YT_DS_OUT set, the "fixture" case leaves writer.h5, prep.jsonl and prep.h5 there
 * for tests/integration/prep.sh, which checks them with h5py (the fixture formula is
 * repeated in tests/tools/check_dataset.py). */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "datasets/datasets.h"

/* ---- helpers ---- */

static void make_tmpdir(char *dir, size_t n)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, n, "%s/yt-ds-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    char p[4096];
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Number of entries in dir whose name contains ".tmp." (leftover temp files). */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

#define ck_assert_msg_has(e, sub)                                                           \
    ck_assert_msg(strstr((e).msg, (sub)) != NULL, "message '%s' lacks '%s'", (e).msg, (sub))

/* A generated corpus: doc d has len[d] tokens; mask bytes may be NULL (all counted). */
typedef struct corpus {
    int n_docs;
    size_t len[64];
    uint32_t *ids[64];
    uint8_t *mask[64];
} corpus;

static void corpus_free(corpus *c)
{
    for (int d = 0; d < c->n_docs; d++) {
        free(c->ids[d]);
        free(c->mask[d]);
    }
}

static void corpus_random(corpus *c, int n_docs, uint64_t seed, uint32_t vocab)
{
    memset(c, 0, sizeof *c);
    c->n_docs = n_docs;
    for (int d = 0; d < n_docs; d++) {
        uint64_t h = yt_mix64(seed * 1000 + (uint64_t)d);
        c->len[d] = (d == 2) ? 0 : 1 + h % 23; /* doc 2 empty */
        c->ids[d] = malloc((c->len[d] + 1) * sizeof(uint32_t));
        if (d % 3 != 0)
            c->mask[d] = malloc(c->len[d] + 1);
        for (size_t i = 0; i < c->len[d]; i++) {
            uint64_t x = yt_mix64(h + i);
            c->ids[d][i] = (uint32_t)(x % vocab);
            if (c->mask[d])
                c->mask[d][i] = (uint8_t)((x >> 40) % 3); /* 0, 1 or 2 (2 means counted) */
        }
    }
}

static void corpus_write(const corpus *c, const char *path, size_t chunk, uint64_t vocab)
{
    yt_err e = {{0}};
    yt_ds_writer_opts o = {.tokenizer_fingerprint = "tok-abc", .vocab_size = vocab,
                           .source = "unit test corpus", .chunk_elems = chunk};
    yt_ds_writer *w;
    ck_assert_msg(yt_ds_writer_open(&w, path, &o, &e) == 0, "%s", e.msg);
    for (int d = 0; d < c->n_docs; d++)
        ck_assert_msg(yt_ds_writer_add_doc(w, c->ids[d], c->mask[d], c->len[d], &e) == 0, "%s",
                      e.msg);
    ck_assert_msg(yt_ds_writer_close(w, &e) == 0, "%s", e.msg);
}

static yt_ds *open_ok(const char *path)
{
    yt_err e = {{0}};
    yt_ds *ds = NULL;
    ck_assert_msg(yt_ds_open(&ds, path, &e) == 0, "%s", e.msg);
    return ds;
}

/* FNV-1a written out again here, so the fingerprint is checked against its definition. */
static uint64_t fnv(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* ---- writer and reader ---- */

START_TEST(test_roundtrip)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/data.h5", dir);
    corpus c;
    corpus_random(&c, 12, 1, 50000);
    corpus_write(&c, path, 5, 50000); /* tiny chunks: many flushes */
    ck_assert_int_eq(count_tmp(dir), 0);

    yt_ds *ds = open_ok(path);
    ck_assert_uint_eq(ds->n_docs, 12);
    uint64_t t = 0, counted = 0, max1 = 0;
    ck_assert_uint_eq(ds->doc_offsets[0], 0);
    for (int d = 0; d < c.n_docs; d++) {
        for (size_t i = 0; i < c.len[d]; i++, t++) {
            ck_assert_uint_eq(ds->tokens[t], c.ids[d][i]);
            uint8_t m = c.mask[d] ? c.mask[d][i] != 0 : 1;
            ck_assert_uint_eq(ds->loss_mask[t], m);
            counted += m;
            if (c.ids[d][i] + 1ULL > max1)
                max1 = c.ids[d][i] + 1ULL;
        }
        ck_assert_uint_eq(ds->doc_offsets[d + 1], t);
    }
    ck_assert_uint_eq(ds->doc_offsets[2], ds->doc_offsets[3]); /* the empty document */
    ck_assert_uint_eq(ds->n_tokens, t);
    ck_assert_uint_eq(ds->n_counted, counted);
    ck_assert_uint_eq(ds->max_token_id_plus_one, max1);
    ck_assert_uint_eq(ds->vocab_size, 50000);
    ck_assert_str_eq(ds->tokenizer_fingerprint, "tok-abc");
    ck_assert_str_eq(ds->source, "unit test corpus");
    uint64_t h[3] = {fnv(ds->tokens, t * 4), fnv(ds->loss_mask, t),
                     fnv(ds->doc_offsets, (ds->n_docs + 1) * 8)};
    ck_assert_uint_eq(ds->fingerprint, fnv(h, sizeof h));
    yt_ds_close(ds);
    corpus_free(&c);
    rm_tree(dir);
}
END_TEST

START_TEST(test_fingerprint)
{
    char dir[256], a[512], b[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(a, sizeof a, "%s/a.h5", dir);
    snprintf(b, sizeof b, "%s/b.h5", dir);
    corpus c;
    corpus_random(&c, 10, 7, 1000);
    corpus_write(&c, a, 3, 0);
    corpus_write(&c, b, 0, 0); /* default chunking: same content, same fingerprint */
    yt_ds *da = open_ok(a), *db = open_ok(b);
    ck_assert_uint_eq(da->fingerprint, db->fingerprint);
    uint64_t fp0 = da->fingerprint;
    yt_ds_close(db);

    c.ids[4][c.len[4] / 2] ^= 1; /* one token */
    corpus_write(&c, b, 3, 0);
    db = open_ok(b);
    ck_assert_uint_ne(db->fingerprint, fp0);
    yt_ds_close(db);
    c.ids[4][c.len[4] / 2] ^= 1;

    c.mask[5][0] = c.mask[5][0] ? 0 : 1; /* one mask bit */
    corpus_write(&c, b, 3, 0);
    db = open_ok(b);
    ck_assert_uint_ne(db->fingerprint, fp0);
    yt_ds_close(db);
    c.mask[5][0] = c.mask[5][0] ? 0 : 1;

    /* same tokens, different document boundaries */
    yt_err e = {{0}};
    yt_ds_writer *w;
    ck_assert(yt_ds_writer_open(&w, b, NULL, &e) == 0);
    ck_assert(yt_ds_writer_add_doc(w, da->tokens, da->loss_mask, da->n_tokens, &e) == 0);
    ck_assert_msg(yt_ds_writer_close(w, &e) == 0, "%s", e.msg);
    db = open_ok(b);
    ck_assert_uint_eq(db->n_tokens, da->n_tokens);
    ck_assert_uint_ne(db->fingerprint, fp0);
    ck_assert_str_eq(db->tokenizer_fingerprint, "none");
    yt_ds_close(db);

    yt_ds_close(da);
    corpus_free(&c);
    rm_tree(dir);
}
END_TEST

START_TEST(test_writer_atomic)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/data.h5", dir);
    /* an earlier dataset (the writer replaces only HDF5 files) */
    write_text(path, "\211HDF\r\n\032\nprevious content");
    uint32_t ids[4] = {1, 2, 3, 4};
    yt_err e = {{0}};
    yt_ds_writer *w;
    ck_assert(yt_ds_writer_open(&w, path, NULL, &e) == 0);
    ck_assert(yt_ds_writer_add_doc(w, ids, NULL, 4, &e) == 0);
    ck_assert_int_eq(count_tmp(dir), 1);
    yt_ds_writer_abort(w);
    ck_assert_int_eq(count_tmp(dir), 0);

    /* a failing add (id >= vocab_size): the file in place survives, no temp is left */
    yt_ds_writer_opts o = {.vocab_size = 4};
    ck_assert(yt_ds_writer_open(&w, path, &o, &e) == 0);
    ck_assert_int_eq(yt_ds_writer_add_doc(w, ids, NULL, 4, &e), -1);
    ck_assert_msg_has(e, path);
    ck_assert_msg_has(e, "vocab_size 4");
    ck_assert_int_eq(yt_ds_writer_close(w, &e), -1);
    ck_assert_int_eq(count_tmp(dir), 0);
    char *text;
    ck_assert(yt_read_file(path, &text, NULL, &e) == 0);
    ck_assert_str_eq(text, "\211HDF\r\n\032\nprevious content");
    free(text);

    /* success replaces it */
    ck_assert(yt_ds_writer_open(&w, path, NULL, &e) == 0);
    ck_assert(yt_ds_writer_add_doc(w, ids, NULL, 4, &e) == 0);
    ck_assert_msg(yt_ds_writer_close(w, &e) == 0, "%s", e.msg);
    yt_ds *ds = open_ok(path);
    ck_assert_uint_eq(ds->n_tokens, 4);
    yt_ds_close(ds);

    /* a folder that does not exist */
    snprintf(path, sizeof path, "%s/no/such/dir/x.h5", dir);
    ck_assert_int_eq(yt_ds_writer_open(&w, path, NULL, &e), -1);
    ck_assert_msg_has(e, "no/such/dir/x.h5");
    rm_tree(dir);
}
END_TEST

/* Rewrites the sealed header after an edit: the file is well formed again and
 * only its meaning is wrong (common.h's yt_seal_fd). */
static void reseal(const char *path)
{
    yt_err e = {{0}};
    int fd = open(path, O_RDWR);
    ck_assert(fd >= 0);
    const yt_seal_kind kind = YT_DS_SEAL_KIND;
    ck_assert_msg(yt_seal_fd(fd, path, &kind, &e) == 0, "%s", e.msg);
    close(fd);
}

/* Opens the file read-write and applies one edit through HDF5 (Fletcher32
 * stays valid; the header is sealed again). */
static void h5_edit_u64(const char *path, const char *dset, hsize_t at, hid_t mtype,
                        const void *v)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    ck_assert(d >= 0);
    hid_t fs = H5Dget_space(d);
    hsize_t one = 1;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &one, NULL);
    hid_t ms = H5Screate_simple(1, &one, NULL);
    ck_assert(H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, v) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(f);
    reseal(path);
}

static void h5_set_format(const char *path, const char *value)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    ck_assert(H5Adelete(f, "format") >= 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(value));
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "format", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(H5Awrite(a, t, value) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
    reseal(path);
}

static void copy_file(const char *from, const char *to)
{
    yt_err e;
    char *buf;
    size_t n;
    ck_assert(yt_read_file(from, &buf, &n, &e) == 0);
    FILE *f = fopen(to, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    free(buf);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void expect_open_fails(const char *path, const char *sub)
{
    yt_err e = {{0}};
    yt_ds *ds = NULL;
    ck_assert_int_eq(yt_ds_open(&ds, path, &e), -1);
    ck_assert_ptr_null(ds);
    ck_assert_msg_has(e, path);
    ck_assert_msg_has(e, sub);
}

START_TEST(test_reader_errors)
{
    char dir[256], good[512], bad[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(good, sizeof good, "%s/good.h5", dir);
    snprintf(bad, sizeof bad, "%s/bad.h5", dir);
    /* tokens 0x12340000 + i: a pattern to find in the raw file */
    uint32_t ids[64];
    uint8_t mask[64];
    for (int i = 0; i < 64; i++) {
        ids[i] = 0x12340000u + (uint32_t)i;
        mask[i] = (uint8_t)(i % 2);
    }
    yt_err e = {{0}};
    yt_ds_writer *w;
    yt_ds_writer_opts wo = {.chunk_elems = 16};
    ck_assert(yt_ds_writer_open(&w, good, &wo, &e) == 0);
    ck_assert(yt_ds_writer_add_doc(w, ids, mask, 40, &e) == 0);
    ck_assert(yt_ds_writer_add_doc(w, ids + 40, mask + 40, 24, &e) == 0);
    ck_assert_msg(yt_ds_writer_close(w, &e) == 0, "%s", e.msg);
    yt_ds_close(open_ok(good));

    snprintf(bad, sizeof bad, "%s/missing.h5", dir);
    expect_open_fails(bad, "No such file");
    snprintf(bad, sizeof bad, "%s/bad.h5", dir);
    write_text(bad, "not hdf5 at all\n");
    expect_open_fails(bad, "not a yieldtune token dataset");

    copy_file(good, bad);
    h5_set_format(bad, "something-else");
    expect_open_fails(bad, "'format'");

    copy_file(good, bad);
    uint64_t off = 50;
    h5_edit_u64(bad, "/doc_offsets", 1, H5T_NATIVE_UINT64, &off);
    expect_open_fails(bad, "fingerprint"); /* monotonic still: caught by the fingerprint */
    off = 70;
    h5_edit_u64(bad, "/doc_offsets", 1, H5T_NATIVE_UINT64, &off);
    expect_open_fails(bad, "/doc_offsets decreases at index 2");

    copy_file(good, bad);
    uint8_t two = 2;
    h5_edit_u64(bad, "/loss_mask", 3, H5T_NATIVE_UINT8, &two);
    expect_open_fails(bad, "/loss_mask[3] = 2");

    copy_file(good, bad);
    uint32_t tok = 0x7fffffffu;
    h5_edit_u64(bad, "/tokens", 5, H5T_NATIVE_UINT32, &tok);
    expect_open_fails(bad, "max_token_id_plus_one"); /* attrs no longer agree */
    tok = 7; /* same maximum, same counts: only the fingerprint tells */
    h5_edit_u64(bad, "/tokens", 5, H5T_NATIVE_UINT32, &tok);
    expect_open_fails(bad, "content fingerprint");

    /* flip a bit of token 20 in the raw file: the whole-file checksum catches
     * it before HDF5 opens the file; sealed again (a forged checksum), the
     * Fletcher32 checksum of its chunk still does */
    copy_file(good, bad);
    char *buf;
    size_t n;
    ck_assert(yt_read_file(bad, &buf, &n, &e) == 0);
    unsigned char pat[4] = {20, 0, 0x34, 0x12};
    int hits = 0;
    for (size_t i = 0; i + 4 <= n; i++)
        if (!memcmp(buf + i, pat, 4)) {
            buf[i] ^= 0x01;
            hits++;
        }
    ck_assert_int_eq(hits, 1);
    write_bytes(bad, buf, n);
    expect_open_fails(bad, "whole-file checksum mismatch");
    reseal(bad);
    expect_open_fails(bad, "/tokens: Fletcher32 checksum mismatch");
    free(buf);

    /* the header: a format-1 file (bare HDF5), a truncated one, another version */
    ck_assert(yt_read_file(good, &buf, &n, &e) == 0);
    write_bytes(bad, buf + YT_SEAL_HEADER_BYTES, n - YT_SEAL_HEADER_BYTES);
    expect_open_fails(bad, "a format 1 token dataset");
    expect_open_fails(bad, "yieldtune prep");
    write_bytes(bad, buf, n - 1);
    expect_open_fails(bad, "truncated or damaged");
    buf[16] = 3;
    write_bytes(bad, buf, n);
    expect_open_fails(bad, "token dataset header says format 3");
    free(buf);
    rm_tree(dir);
}
END_TEST

/* ---- prep from JSONL ---- */

START_TEST(test_prep_ok)
{
    char dir[256], in[512], out[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(in, sizeof in, "%s/in.jsonl", dir);
    snprintf(out, sizeof out, "%s/out.h5", dir);
    write_text(in, "{\"input_ids\": [1, 2, 3]}\n"
                   "\n"
                   "{\"input_ids\": [4, 5, 6, 7], \"labels\": [-100, -100, 6, 7]}\r\n"
                   "   \n"
                   "{\"input_ids\": []}\n"
                   "{\"text\": \"x\", \"input_ids\": [8], \"labels\": null}\n"
                   "{\"input_ids\": [9, 4294967295], \"labels\": [-100, 0]}");
    yt_err e = {{0}};
    yt_ds_prep_summary s;
    ck_assert_msg(yt_ds_prep_jsonl(in, out, NULL, &s, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(s.lines, 7);
    ck_assert_uint_eq(s.documents, 4);
    ck_assert_uint_eq(s.skipped_empty, 1);
    ck_assert_uint_eq(s.tokens, 10);
    ck_assert_uint_eq(s.counted, 7);
    ck_assert_int_eq(count_tmp(dir), 0);
    yt_ds *ds = open_ok(out);
    const uint32_t tok[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 4294967295u};
    const uint8_t msk[10] = {1, 1, 1, 0, 0, 1, 1, 1, 0, 1};
    const uint64_t off[5] = {0, 3, 7, 8, 10};
    ck_assert_uint_eq(ds->n_tokens, 10);
    ck_assert_uint_eq(ds->n_docs, 4);
    ck_assert_mem_eq(ds->tokens, tok, sizeof tok);
    ck_assert_mem_eq(ds->loss_mask, msk, sizeof msk);
    ck_assert_mem_eq(ds->doc_offsets, off, sizeof off);
    ck_assert_uint_eq(ds->vocab_size, 0);
    ck_assert_uint_eq(ds->max_token_id_plus_one, 4294967296ULL);
    ck_assert_str_eq(ds->tokenizer_fingerprint, "none");
    char src[600];
    snprintf(src, sizeof src, "jsonl:%s", in);
    ck_assert_str_eq(ds->source, src);
    yt_ds_close(ds);

    /* vocab_size given: stored, and ids below it pass */
    yt_ds_prep_opts o = {.vocab_size = 1ULL << 32, .source = "mine"};
    ck_assert_msg(yt_ds_prep_jsonl(in, out, &o, NULL, &e) == 0, "%s", e.msg);
    ds = open_ok(out);
    ck_assert_uint_eq(ds->vocab_size, 1ULL << 32);
    ck_assert_str_eq(ds->source, "mine");
    yt_ds_close(ds);
    rm_tree(dir);
}
END_TEST

typedef struct bad_case {
    const char *line;
    const char *expect;
    uint64_t vocab;
} bad_case;

static const bad_case bad_cases[] = {
    {"{\"input_ids\": [1, 2", "invalid JSON", 0},
    {"{\"input_ids\": [1], \"input_ids\": [2]}", "invalid JSON", 0},
    {"[1, 2, 3]", "expected a JSON object", 0},
    {"{\"labels\": [1]}", "missing \"input_ids\"", 0},
    {"{\"input_ids\": 5}", "\"input_ids\" is not an array", 0},
    {"{\"input_ids\": [1, 2.5]}", "input_ids[1] is not an integer", 0},
    {"{\"input_ids\": [1, \"2\"]}", "input_ids[1] is not an integer", 0},
    {"{\"input_ids\": [1, -3]}", "input_ids[1] = -3 is negative", 0},
    {"{\"input_ids\": [4294967296]}", "does not fit in 32 bits", 0},
    {"{\"input_ids\": [1, 2], \"labels\": [1]}", "\"labels\" has 1 entries but", 0},
    {"{\"input_ids\": [1, 2], \"labels\": 3}", "\"labels\" is not an array", 0},
    {"{\"input_ids\": [1], \"labels\": [\"x\"]}", "labels[0] is not an integer", 0},
    {"{\"input_ids\": [1, 100]}", "input_ids[1] = 100 >= vocab_size 100", 100},
};

START_TEST(test_prep_errors)
{
    const bad_case *bc = &bad_cases[_i];
    char dir[256], in[512], out[512], text[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(in, sizeof in, "%s/in.jsonl", dir);
    snprintf(out, sizeof out, "%s/out.h5", dir);
    /* line 3 is the bad one, after a good line and an empty one */
    snprintf(text, sizeof text, "{\"input_ids\": [1, 2, 3]}\n\n%s\n{\"input_ids\": [4]}\n",
             bc->line);
    write_text(in, text);
    if (_i % 2)
        write_text(out, "\211HDF\r\n\032\nkeep me"); /* an earlier dataset */
    yt_err e = {{0}};
    yt_ds_prep_opts o = {.vocab_size = bc->vocab};
    ck_assert_int_eq(yt_ds_prep_jsonl(in, out, &o, NULL, &e), -1);
    char where[600];
    snprintf(where, sizeof where, "%s:3: ", in);
    ck_assert_msg_has(e, where);
    ck_assert_msg_has(e, bc->expect);
    ck_assert_int_eq(count_tmp(dir), 0);
    if (_i % 2) {
        char *got;
        ck_assert(yt_read_file(out, &got, NULL, &e) == 0);
        ck_assert_str_eq(got, "\211HDF\r\n\032\nkeep me");
        free(got);
    } else {
        ck_assert(!file_exists(out));
    }
    rm_tree(dir);
}
END_TEST

START_TEST(test_prep_input_errors)
{
    char dir[256], in[512], out[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(in, sizeof in, "%s/missing.jsonl", dir);
    snprintf(out, sizeof out, "%s/out.h5", dir);
    yt_err e = {{0}};
    ck_assert_int_eq(yt_ds_prep_jsonl(in, out, NULL, NULL, &e), -1);
    ck_assert_msg_has(e, in);
    snprintf(in, sizeof in, "%s/empty.jsonl", dir);
    write_text(in, "\n{\"input_ids\": []}\n\n");
    ck_assert_int_eq(yt_ds_prep_jsonl(in, out, NULL, NULL, &e), -1);
    ck_assert_msg_has(e, in);
    ck_assert_msg_has(e, "no tokens");
    ck_assert(!file_exists(out));
    ck_assert_int_eq(count_tmp(dir), 0);
    rm_tree(dir);
}
END_TEST

/* ---- the fixture for tests/integration/prep.sh ---- */

/* Doc d (0..5) has FIX_LEN[d] tokens; token i of doc d = (d*7919 + i*104729) % 32000;
 * mask: doc 0 and doc 3 all counted (NULL), else 1 when (d + i) % 3 != 0. */
static const size_t FIX_LEN[6] = {5, 9, 0, 13, 1, 22};

START_TEST(test_fixture)
{
    const char *env = getenv("YT_DS_OUT");
    char dir[256], path[512], in[512], out[512];
    if (env && *env) {
        yt_err e;
        ck_assert_msg(yt_mkdirs(env, &e) == 0, "%s", e.msg);
        snprintf(dir, sizeof dir, "%s", env);
    } else {
        make_tmpdir(dir, sizeof dir);
    }
    snprintf(path, sizeof path, "%s/writer.h5", dir);
    yt_err e = {{0}};
    yt_ds_writer_opts o = {.tokenizer_fingerprint = "none", .vocab_size = 32000,
                           .source = "test_datasets fixture", .chunk_elems = 8};
    yt_ds_writer *w;
    ck_assert(yt_ds_writer_open(&w, path, &o, &e) == 0);
    for (int d = 0; d < 6; d++) {
        uint32_t ids[32];
        uint8_t mask[32];
        for (size_t i = 0; i < FIX_LEN[d]; i++) {
            ids[i] = (uint32_t)(((uint64_t)d * 7919 + i * 104729) % 32000);
            mask[i] = (d + i) % 3 != 0;
        }
        int all = d == 0 || d == 3;
        ck_assert(yt_ds_writer_add_doc(w, ids, all ? NULL : mask, FIX_LEN[d], &e) == 0);
    }
    ck_assert_msg(yt_ds_writer_close(w, &e) == 0, "%s", e.msg);
    yt_ds *ds = open_ok(path);
    ck_assert_uint_eq(ds->n_tokens, 50);
    ck_assert_uint_eq(ds->n_docs, 6);
    yt_ds_close(ds);

    snprintf(in, sizeof in, "%s/prep.jsonl", dir);
    snprintf(out, sizeof out, "%s/prep.h5", dir);
    write_text(in, "{\"input_ids\": [10, 11, 12, 13]}\n"
                   "{\"input_ids\": [20, 21, 22], \"labels\": [-100, 21, 22]}\n"
                   "\n"
                   "{\"input_ids\": [], \"labels\": []}\n"
                   "{\"input_ids\": [30, 31, 32, 33, 34], \"labels\": [-100, -100, -100, 5, -100]}\n");
    yt_ds_prep_opts po = {.vocab_size = 128, .tokenizer_fingerprint = "none"};
    yt_ds_prep_summary s;
    ck_assert_msg(yt_ds_prep_jsonl(in, out, &po, &s, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(s.documents, 3);
    ck_assert_uint_eq(s.skipped_empty, 1);
    ck_assert_uint_eq(s.tokens, 12);
    ck_assert_uint_eq(s.counted, 7);
    if (!(env && *env))
        rm_tree(dir);
}
END_TEST

/* ---- sampler ---- */

enum { SQ = 8, NTOK = 1 + 37 * SQ + 3 }; /* 37 windows of 8+1 tokens */

/* tokens[i] = i, so a window is known from its first input; docs of varying length. */
static void sampler_dataset(const char *path)
{
    static uint32_t ids[NTOK];
    static uint8_t mask[NTOK];
    for (uint32_t i = 0; i < NTOK; i++) {
        ids[i] = i;
        mask[i] = (i * 7) % 5 != 0;
    }
    yt_err e = {{0}};
    yt_ds_writer *w;
    ck_assert(yt_ds_writer_open(&w, path, NULL, &e) == 0);
    size_t at = 0, d = 0;
    while (at < NTOK) {
        size_t n = 1 + (yt_mix64(d++) % 30);
        if (n > NTOK - at)
            n = NTOK - at;
        ck_assert(yt_ds_writer_add_doc(w, ids + at, mask + at, n, &e) == 0);
        at += n;
    }
    ck_assert_msg(yt_ds_writer_close(w, &e) == 0, "%s", e.msg);
}

typedef struct sfix {
    char dir[256], path[512];
    yt_ds *ds;
} sfix;

static void sfix_open(sfix *f)
{
    make_tmpdir(f->dir, sizeof f->dir);
    snprintf(f->path, sizeof f->path, "%s/s.h5", f->dir);
    sampler_dataset(f->path);
    f->ds = open_ok(f->path);
}

static void sfix_close(sfix *f)
{
    yt_ds_close(f->ds);
    rm_tree(f->dir);
}

static yt_ds_sampler *mk(const yt_ds *ds, int rank, int world, uint32_t B, uint32_t G,
                         uint64_t seed)
{
    yt_err e = {{0}};
    yt_ds_sampler_opts o = {.seq_len = SQ, .micro_batch = B, .global_batch = G,
                            .rank = rank, .world = world, .seed = seed};
    yt_ds_sampler *s;
    ck_assert_msg(yt_ds_sampler_create(&s, ds, &o, &e) == 0, "%s", e.msg);
    return s;
}

/* One next() call; checks every output against the dataset, writes the B windows. */
static void draw(yt_ds_sampler *s, const yt_ds *ds, uint32_t B, uint64_t *win)
{
    int32_t in[16 * SQ], tg[16 * SQ], doc[16 * SQ];
    float wt[16 * SQ];
    uint64_t peek[16];
    for (uint32_t b = 0; b < B; b++)
        peek[b] = yt_ds_sampler_peek_window(s, b);
    yt_err e = {{0}};
    ck_assert(yt_ds_sampler_next(s, in, tg, wt, doc, &e) == 0);
    for (uint32_t b = 0; b < B; b++) {
        uint64_t w = (uint64_t)in[b * SQ] / SQ;
        ck_assert_uint_eq((uint64_t)in[b * SQ] % SQ, 0);
        ck_assert_uint_eq(w, peek[b]);
        for (int t = 0; t < SQ; t++) {
            uint64_t pos = w * SQ + (uint64_t)t;
            ck_assert_int_eq(in[b * SQ + t], (int32_t)pos);
            ck_assert_int_eq(tg[b * SQ + t], (int32_t)pos + 1);
            ck_assert(wt[b * SQ + t] == (float)(((pos + 1) * 7) % 5 != 0));
            uint64_t d = 0; /* linear scan: the document holding token pos */
            while (ds->doc_offsets[d + 1] <= pos)
                d++;
            ck_assert_int_eq(doc[b * SQ + t], (int32_t)d);
        }
        win[b] = w;
    }
}

/* The global order of `steps` steps with world W (B per call, G per step), in
 * (step, rank, micro-batch, row) order, starting from cursor c. */
static void global_order(const yt_ds *ds, int W, uint32_t B, uint32_t G, uint64_t seed,
                         yt_ds_cursor c, int steps, uint64_t *out)
{
    yt_ds_sampler *s[8];
    yt_err e = {{0}};
    for (int r = 0; r < W; r++) {
        s[r] = mk(ds, r, W, B, G, seed);
        ck_assert_msg(yt_ds_sampler_set_cursor(s[r], c, &e) == 0, "%s", e.msg);
    }
    uint32_t A = yt_ds_sampler_accum(s[0]);
    ck_assert_uint_eq((uint64_t)A * B * (uint64_t)W, G);
    size_t k = 0;
    for (int st = 0; st < steps; st++)
        for (int r = 0; r < W; r++)
            for (uint32_t m = 0; m < A; m++, k += B)
                draw(s[r], ds, B, out + k);
    for (int r = 0; r < W; r++)
        yt_ds_sampler_free(s[r]);
}

START_TEST(test_sampler_coverage)
{
    sfix f;
    sfix_open(&f);
    const int worlds[3] = {1, 2, 4};
    for (int wi = 0; wi < 3; wi++) {
        int W = worlds[wi];
        yt_ds_sampler *s0 = mk(f.ds, 0, W, 2, 8, 42);
        ck_assert_uint_eq(yt_ds_sampler_n_windows(s0), 37);
        ck_assert_uint_eq(yt_ds_sampler_steps_per_epoch(s0), 4); /* 32 used, 5 dropped */
        yt_ds_sampler_free(s0);
        uint64_t order[2 * 32];
        global_order(f.ds, W, 2, 8, 42, (yt_ds_cursor){0, 0}, 8, order); /* two epochs */
        for (int ep = 0; ep < 2; ep++) {
            int seen[37] = {0};
            for (int i = 0; i < 32; i++) {
                uint64_t w = order[ep * 32 + i];
                ck_assert_uint_lt(w, 37);
                ck_assert_int_eq(seen[w]++, 0);
            }
        }
    }
    sfix_close(&f);
}
END_TEST

START_TEST(test_sampler_world_invariance)
{
    sfix f;
    sfix_open(&f);
    uint64_t o1[6 * 8], o2[6 * 8], o4[6 * 8];
    yt_ds_cursor c0 = {0, 0};
    global_order(f.ds, 1, 2, 8, 9, c0, 6, o1); /* A = 4 */
    global_order(f.ds, 2, 2, 8, 9, c0, 6, o2); /* A = 2 */
    global_order(f.ds, 4, 2, 8, 9, c0, 6, o4); /* A = 1 */
    ck_assert_mem_eq(o1, o2, sizeof o1);
    ck_assert_mem_eq(o1, o4, sizeof o1);
    /* micro-batch 4 on world 2 (A = 1) too */
    global_order(f.ds, 2, 4, 8, 9, c0, 6, o2);
    ck_assert_mem_eq(o1, o2, sizeof o1);
    /* a cursor taken at a step boundary with world 1 restores into world 4 */
    yt_ds_cursor c = {1, 16};
    global_order(f.ds, 1, 2, 8, 9, c, 3, o1);
    global_order(f.ds, 4, 2, 8, 9, c, 3, o4);
    ck_assert_mem_eq(o1, o4, 3 * 8 * sizeof(uint64_t));
    sfix_close(&f);
}
END_TEST

START_TEST(test_sampler_cursor)
{
    sfix f;
    sfix_open(&f);
    yt_err e = {{0}};
    for (int r = 0; r < 2; r++) {
        yt_ds_sampler *a = mk(f.ds, r, 2, 2, 8, 5);
        uint64_t tmp[2];
        for (int i = 0; i < 3; i++) /* one and a half steps */
            draw(a, f.ds, 2, tmp);
        yt_ds_cursor c = yt_ds_sampler_cursor(a);
        ck_assert_uint_eq(c.epoch, 0);
        ck_assert_uint_eq(c.position, 12); /* 8 + one micro-batch of 2 x world 2 */
        uint64_t rest_a[40], rest_b[40];
        for (int i = 0; i < 20; i++) /* runs into epoch 2 */
            draw(a, f.ds, 2, rest_a + 2 * i);
        ck_assert_uint_eq(yt_ds_sampler_cursor(a).epoch, 2);
        yt_ds_sampler *b = mk(f.ds, r, 2, 2, 8, 5);
        ck_assert(yt_ds_sampler_set_cursor(b, c, &e) == 0);
        for (int i = 0; i < 20; i++)
            draw(b, f.ds, 2, rest_b + 2 * i);
        ck_assert_mem_eq(rest_a, rest_b, sizeof rest_a);
        ck_assert_uint_eq(yt_ds_sampler_cursor(b).epoch, yt_ds_sampler_cursor(a).epoch);
        ck_assert_uint_eq(yt_ds_sampler_cursor(b).position, yt_ds_sampler_cursor(a).position);
        /* invalid cursors */
        ck_assert_int_eq(yt_ds_sampler_set_cursor(b, (yt_ds_cursor){0, 2}, &e), -1);
        ck_assert_msg_has(e, "inside a micro-batch");
        ck_assert_int_eq(yt_ds_sampler_set_cursor(b, (yt_ds_cursor){0, 40}, &e), -1);
        ck_assert_msg_has(e, "past the 32 windows");
        /* the end of an epoch is the start of the next */
        ck_assert(yt_ds_sampler_set_cursor(b, (yt_ds_cursor){3, 32}, &e) == 0);
        ck_assert_uint_eq(yt_ds_sampler_cursor(b).epoch, 4);
        ck_assert_uint_eq(yt_ds_sampler_cursor(b).position, 0);
        yt_ds_sampler_free(a);
        yt_ds_sampler_free(b);
    }
    sfix_close(&f);
}
END_TEST

START_TEST(test_sampler_seeds_epochs)
{
    sfix f;
    sfix_open(&f);
    uint64_t a[8 * 8], b[8 * 8], c[8 * 8];
    global_order(f.ds, 1, 8, 8, 1, (yt_ds_cursor){0, 0}, 8, a); /* epochs 0 and 1 */
    global_order(f.ds, 1, 8, 8, 1, (yt_ds_cursor){0, 0}, 8, c);
    ck_assert_mem_eq(a, c, sizeof a); /* deterministic */
    global_order(f.ds, 1, 8, 8, 2, (yt_ds_cursor){0, 0}, 8, b);
    ck_assert(memcmp(a, b, 32 * sizeof(uint64_t)) != 0);             /* seeds differ */
    ck_assert(memcmp(a, a + 32, 32 * sizeof(uint64_t)) != 0);        /* epochs differ */
    int ident = 1; /* not the identity order either */
    for (int i = 0; i < 32; i++)
        ident &= a[i] == (uint64_t)i;
    ck_assert(!ident);
    sfix_close(&f);
}
END_TEST

START_TEST(test_sampler_errors)
{
    sfix f;
    sfix_open(&f);
    yt_err e = {{0}};
    yt_ds_sampler *s;
    yt_ds_sampler_opts o = {.seq_len = SQ, .micro_batch = 3, .global_batch = 8, .world = 2};
    ck_assert_int_eq(yt_ds_sampler_create(&s, f.ds, &o, &e), -1);
    ck_assert_msg_has(e, "not a multiple");
    o.micro_batch = 1;
    o.global_batch = 38;
    ck_assert_int_eq(yt_ds_sampler_create(&s, f.ds, &o, &e), -1);
    ck_assert_msg_has(e, f.path);
    ck_assert_msg_has(e, "37 windows");
    o.global_batch = 4;
    o.rank = 2;
    ck_assert_int_eq(yt_ds_sampler_create(&s, f.ds, &o, &e), -1);
    ck_assert_msg_has(e, "rank 2 of world 2");
    sfix_close(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("datasets");
    TCase *t = tcase_create("file");
    tcase_add_test(t, test_roundtrip);
    tcase_add_test(t, test_fingerprint);
    tcase_add_test(t, test_writer_atomic);
    tcase_add_test(t, test_reader_errors);
    suite_add_tcase(s, t);
    t = tcase_create("prep");
    tcase_add_test(t, test_prep_ok);
    tcase_add_loop_test(t, test_prep_errors, 0, (int)(sizeof bad_cases / sizeof *bad_cases));
    tcase_add_test(t, test_prep_input_errors);
    suite_add_tcase(s, t);
    t = tcase_create("fixture");
    tcase_add_test(t, test_fixture);
    suite_add_tcase(s, t);
    t = tcase_create("sampler");
    tcase_add_test(t, test_sampler_coverage);
    tcase_add_test(t, test_sampler_world_invariance);
    tcase_add_test(t, test_sampler_cursor);
    tcase_add_test(t, test_sampler_seeds_epochs);
    tcase_add_test(t, test_sampler_errors);
    suite_add_tcase(s, t);
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
