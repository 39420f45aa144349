/* checkpoint/: snapshot round trips, corruption detection, the snapshots folder, and
 * failure paths that must leave the previous snapshot intact.
 *
 * Helper modes (used by tests/integration/checkpoint.sh):
 *   YT_SNAP_SAMPLE=FILE        write the sample snapshot that the script checks with h5py
 *   YT_SNAP_DISKFULL_DIR=DIR   DIR is a small file system: a small snapshot must commit, a
 *                              big one must fail cleanly (no temp left, old one intact). */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <hdf5.h>

#include "checkpoint/checkpoint.h"
#include "common/common.h"

/* ---- helpers ---- */

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static void rm_rf(const char *dir) { nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static void make_tmpdir(char *buf, size_t cap)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, cap, "%s/yt-ckpt-XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Number of directory entries whose name contains ".tmp.". */
static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

#define PAT_N 4096
static void pattern(float *v, size_t n, float base)
{
    for (size_t i = 0; i < n; i++)
        v[i] = base + (float)i * 0.25f;
}

/* A small valid snapshot: tensor "lora/a" = pattern(base), attribute step. */
static int write_small_rc(const char *path, long step, float base, yt_err *e)
{
    float v[64];
    pattern(v, 64, base);
    int64_t shape[2] = {8, 8};
    yt_snap_writer *w = yt_snap_begin(path, e);
    if (!w)
        return -1;
    if (yt_snap_attr_str(w, "program_version", "test", e) != 0 ||
        yt_snap_attr_i64(w, "step", step, e) != 0 ||
        yt_snap_put_f32(w, "lora/a", v, 2, shape, e) != 0) {
        yt_snap_abort(w);
        return -1;
    }
    return yt_snap_commit(w, e);
}

static void write_small(const char *path, long step, float base)
{
    yt_err e = {{0}};
    ck_assert_msg(write_small_rc(path, step, base, &e) == 0, "%s", e.msg);
}

/* Snapshot with the pattern tensor "lora/layers.1.v_proj.lora_B" (PAT_N floats from 1000). */
static void write_patterned(const char *path)
{
    yt_err e = {{0}};
    static float v[PAT_N], other[256];
    pattern(v, PAT_N, 1000.0f);
    pattern(other, 256, -5.0f);
    int64_t shape[2] = {64, PAT_N / 64}, oshape[1] = {256};
    yt_snap_writer *w = yt_snap_begin(path, &e);
    ck_assert_msg(w != NULL, "%s", e.msg);
    ck_assert(yt_snap_attr_str(w, "program_version", "test", &e) == 0);
    ck_assert(yt_snap_put_f32(w, "lora/layers.0.q_proj.lora_A", other, 1, oshape, &e) == 0);
    ck_assert(yt_snap_put_f32(w, "lora/layers.1.v_proj.lora_B", v, 2, shape, &e) == 0);
    ck_assert_msg(yt_snap_commit(w, &e) == 0, "%s", e.msg);
}

/* Flips one byte in the middle of the pattern tensor's raw data. */
static void flip_pattern_byte(const char *path)
{
    yt_err e = {{0}};
    char *buf;
    size_t len;
    ck_assert_msg(yt_read_file(path, &buf, &len, &e) == 0, "%s", e.msg);
    float head[4];
    pattern(head, 4, 1000.0f);
    char *hit = memmem(buf, len, head, sizeof head);
    ck_assert_msg(hit != NULL, "pattern not found in %s", path);
    long off = (long)(hit - buf) + PAT_N * 4 / 2 + 1;
    free(buf);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
    int c = fgetc(f);
    ck_assert_int_ne(c, EOF);
    ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
    fputc(c ^ 0x10, f);
    fclose(f);
}

static void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* Writes the format-2 header again (size, whole-file hash) after a test changed
 * the file, so that the layers below the whole-file checksum (Fletcher32, the
 * tensor hashes, 'complete') are what catches the change.  Follows checkpoint.h's
 * description of the header. */
static void reseal(const char *path)
{
    yt_err e = {{0}};
    char *buf;
    size_t len;
    ck_assert_msg(yt_read_file(path, &buf, &len, &e) == 0, "%s", e.msg);
    unsigned char *b = (unsigned char *)buf;
    ck_assert(len > YT_SNAP_HEADER_BYTES && memcmp(b, YT_SNAP_MAGIC, 16) == 0);
    for (int i = 0; i < 8; i++) {
        b[24 + i] = (unsigned char)((uint64_t)len >> (8 * i));
        b[32 + i] = 0;
    }
    uint64_t h = yt_checksum64(b, len);
    for (int i = 0; i < 8; i++)
        b[32 + i] = (unsigned char)(h >> (8 * i));
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    fclose(f);
    free(buf);
}

/* Removes the root attribute `complete` (as if the writer died before finishing). */
static void drop_complete(const char *path)
{
    h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    ck_assert(H5Adelete(f, "complete") >= 0);
    ck_assert(H5Fclose(f) >= 0);
    reseal(path);
}

static void truncate_half(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(truncate(path, st.st_size / 2), 0);
}

/* Opens and verifies; returns 0 if valid, else -1 with the reason in e. */
static int open_verify(const char *path, yt_err *e)
{
    yt_snap *s;
    if (yt_snap_open(&s, path, e) != 0)
        return -1;
    int rc = yt_snap_verify(s, e);
    yt_snap_close(s);
    return rc;
}

/* ---- round trip ---- */

typedef struct {
    char names[16][128];
    int n;
    size_t counts[16];
} listing;

static int list_cb(const yt_snap_info *info, void *ctx)
{
    listing *l = ctx;
    if (l->n < 16) {
        snprintf(l->names[l->n], sizeof l->names[0], "%s", info->name);
        l->counts[l->n] = info->count;
        l->n++;
    }
    return 0;
}

static int attr_cb(const char *key, char kind, void *ctx)
{
    char *out = ctx;
    char item[96];
    snprintf(item, sizeof item, "%s:%c ", key, kind);
    strcat(out, item);
    return 0;
}

START_TEST(roundtrip)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    yt_err e = {{0}};
    ck_assert_int_eq(yt_snap_path(path, sizeof path, dir, 42, &e), 0);
    ck_assert_ptr_nonnull(strstr(path, "/step-00000042.h5"));

    size_t nbig = 1100 * 1000; /* > 1M elements: several chunks */
    float *big = malloc(nbig * sizeof *big);
    for (size_t i = 0; i < nbig; i++)
        big[i] = (float)yt_u01(yt_mix64(i)) - 0.5f;
    float a[6] = {1.5f, -2.25f, 3.0f, 0.0f, -0.0f, 1e-30f};
    uint64_t rng[4] = {1, UINT64_MAX, 0x123456789abcdefULL, 0};
    const char blob[] = "opaque\0blob";
    int64_t sa[2] = {2, 3}, sbig[3] = {1100, 10, 100}, szero[2] = {0, 4};

    yt_snap_writer *w = yt_snap_begin(path, &e);
    ck_assert_msg(w != NULL, "%s", e.msg);
    ck_assert_int_eq(yt_snap_attr_str(w, "program_version", "yieldtune 0.1-test", &e), 0);
    ck_assert_int_eq(yt_snap_attr_str(w, "config", "{\"lr\": 0.001}", &e), 0);
    ck_assert_int_eq(yt_snap_attr_i64(w, "step", 42, &e), 0);
    ck_assert_int_eq(yt_snap_attr_i64(w, "tokens_seen", -7000000000LL, &e), 0);
    ck_assert_int_eq(yt_snap_attr_f64(w, "loss", 2.718281828459045, &e), 0);
    ck_assert_int_eq(yt_snap_put_f32(w, "lora/layers.0.q_proj.lora_A", a, 2, sa, &e), 0);
    ck_assert_int_eq(yt_snap_put_f32(w, "/optim/m/layers.0.q_proj.lora_A", big, 3, sbig, &e), 0);
    ck_assert_int_eq(yt_snap_put_f32(w, "lora/empty", NULL, 2, szero, &e), 0);
    ck_assert_int_eq(yt_snap_put_u64_array(w, "rng/rank0", rng, 4, &e), 0);
    ck_assert_int_eq(yt_snap_put_bytes(w, "sampler/cursor", blob, sizeof blob, &e), 0);
    ck_assert_int_eq(count_temps(dir), 1);
    ck_assert(!file_exists(path));
    ck_assert_msg(yt_snap_commit(w, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(count_temps(dir), 0);

    yt_snap *s;
    ck_assert_msg(yt_snap_open(&s, path, &e) == 0, "%s", e.msg);
    ck_assert_msg(yt_snap_verify(s, &e) == 0, "%s", e.msg);

    float ra[6];
    ck_assert_msg(yt_snap_get_f32(s, "lora/layers.0.q_proj.lora_A", ra, 6, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(memcmp(ra, a, sizeof a), 0);
    float *rbig = malloc(nbig * sizeof *rbig);
    ck_assert_int_eq(yt_snap_get_f32(s, "optim/m/layers.0.q_proj.lora_A", rbig, nbig, &e), 0);
    ck_assert_int_eq(memcmp(rbig, big, nbig * sizeof *big), 0);
    ck_assert_int_eq(yt_snap_get_f32(s, "lora/empty", NULL, 0, &e), 0);
    uint64_t rr[4];
    ck_assert_int_eq(yt_snap_get_u64_array(s, "rng/rank0", rr, 4, &e), 0);
    ck_assert_int_eq(memcmp(rr, rng, sizeof rng), 0);
    char rb[sizeof blob];
    ck_assert_int_eq(yt_snap_get_bytes(s, "sampler/cursor", rb, sizeof blob, &e), 0);
    ck_assert_int_eq(memcmp(rb, blob, sizeof blob), 0);

    int nd;
    int64_t shape[YT_SNAP_MAX_DIMS];
    ck_assert_int_eq(yt_snap_get_shape(s, "optim/m/layers.0.q_proj.lora_A", &nd, shape, &e), 0);
    ck_assert_int_eq(nd, 3);
    ck_assert(shape[0] == 1100 && shape[1] == 10 && shape[2] == 100);
    yt_snap_info info;
    ck_assert_int_eq(yt_snap_get_info(s, "sampler/cursor", &info, &e), 0);
    ck_assert_int_eq(info.dtype, YT_SNAP_BYTES);
    ck_assert_uint_eq(info.count, sizeof blob);
    ck_assert(yt_snap_has(s, "rng/rank0"));
    ck_assert(!yt_snap_has(s, "rng"));
    ck_assert(!yt_snap_has(s, "rng/rank1"));
    ck_assert(!yt_snap_has(s, "nope/deeper"));
    ck_assert(yt_snap_has_attr(s, "step"));
    ck_assert(!yt_snap_has_attr(s, "nope"));

    char str[64];
    ck_assert_int_eq(yt_snap_get_attr_str(s, "program_version", str, sizeof str, &e), 0);
    ck_assert_str_eq(str, "yieldtune 0.1-test");
    ck_assert_int_eq(yt_snap_get_attr_str(s, "format", str, sizeof str, &e), 0);
    ck_assert_str_eq(str, YT_SNAP_FORMAT);
    char *cfg;
    ck_assert_int_eq(yt_snap_get_attr_str_dup(s, "config", &cfg, &e), 0);
    ck_assert_str_eq(cfg, "{\"lr\": 0.001}");
    free(cfg);
    ck_assert_int_eq(yt_snap_get_attr_str(s, "config", str, 5, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "'config'"));
    int64_t iv;
    double dv;
    ck_assert_int_eq(yt_snap_get_attr_i64(s, "step", &iv, &e), 0);
    ck_assert_int_eq(iv, 42);
    ck_assert_int_eq(yt_snap_get_attr_i64(s, "tokens_seen", &iv, &e), 0);
    ck_assert(iv == -7000000000LL);
    ck_assert_int_eq(yt_snap_get_attr_i64(s, "format_version", &iv, &e), 0);
    ck_assert_int_eq(iv, YT_SNAP_FORMAT_VERSION);
    ck_assert_int_eq(yt_snap_get_attr_i64(s, "complete", &iv, &e), 0);
    ck_assert_int_eq(iv, 1);
    ck_assert_int_eq(yt_snap_get_attr_f64(s, "loss", &dv, &e), 0);
    ck_assert(dv == 2.718281828459045);

    /* Errors name the key / tensor. */
    ck_assert_int_eq(yt_snap_get_attr_i64(s, "dataset_fingerprint", &iv, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "'dataset_fingerprint'"));
    ck_assert_ptr_nonnull(strstr(e.msg, path));
    ck_assert_int_eq(yt_snap_get_attr_f64(s, "config", &dv, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "'config'"));
    ck_assert_int_eq(yt_snap_get_f32(s, "lora/layers.9.q_proj.lora_A", ra, 6, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "'lora/layers.9.q_proj.lora_A' not found"));
    ck_assert_int_eq(yt_snap_get_f32(s, "lora/layers.0.q_proj.lora_A", ra, 5, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "6 elements, expected 5"));
    ck_assert_int_eq(yt_snap_get_f32(s, "rng/rank0", ra, 4, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "uint64"));

    listing l = {0};
    ck_assert_int_eq(yt_snap_foreach(s, list_cb, &l, &e), 0);
    ck_assert_int_eq(l.n, 5);
    ck_assert_str_eq(l.names[0], "lora/empty");
    ck_assert_str_eq(l.names[1], "lora/layers.0.q_proj.lora_A");
    ck_assert_str_eq(l.names[2], "optim/m/layers.0.q_proj.lora_A");
    ck_assert_str_eq(l.names[3], "rng/rank0");
    ck_assert_str_eq(l.names[4], "sampler/cursor");
    ck_assert_uint_eq(l.counts[2], nbig);
    char attrs[512] = "";
    ck_assert_int_eq(yt_snap_foreach_attr(s, attr_cb, attrs, &e), 0);
    ck_assert_str_eq(attrs, "complete:i config:s format:s format_version:i loss:f "
                            "program_version:s step:i tokens_seen:i ");
    yt_snap_close(s);
    free(big);
    free(rbig);
    rm_rf(dir);
}
END_TEST

START_TEST(writer_misuse)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    yt_err e = {{0}};
    float v[2] = {1, 2};
    int64_t sh[1] = {2};
    ck_assert_int_eq(yt_snap_path(path, sizeof path, dir, 1, &e), 0);

    /* A tensor written twice: error naming it, temp gone, commit refused. */
    yt_snap_writer *w = yt_snap_begin(path, &e);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(yt_snap_put_f32(w, "lora/x", v, 1, sh, &e), 0);
    ck_assert_int_eq(yt_snap_put_f32(w, "lora/x", v, 1, sh, &e), -1);
    ck_assert_msg(strstr(e.msg, "'lora/x'") != NULL, "%s", e.msg);
    ck_assert_int_eq(count_temps(dir), 0);
    ck_assert_int_eq(yt_snap_attr_str(w, "program_version", "t", &e), -1);
    ck_assert_int_eq(yt_snap_commit(w, &e), -1);
    ck_assert(!file_exists(path));

    /* Reserved and repeated attributes, bad names. */
    w = yt_snap_begin(path, &e);
    ck_assert_int_eq(yt_snap_attr_i64(w, "complete", 1, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "'complete'"));
    yt_snap_abort(w);
    w = yt_snap_begin(path, &e);
    ck_assert_int_eq(yt_snap_attr_i64(w, "step", 1, &e), 0);
    ck_assert_int_eq(yt_snap_attr_i64(w, "step", 2, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "'step'"));
    yt_snap_abort(w);
    w = yt_snap_begin(path, &e);
    ck_assert_int_eq(yt_snap_put_f32(w, "lora//x", v, 1, sh, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "bad tensor name"));
    yt_snap_abort(w);
    w = yt_snap_begin(path, &e);
    ck_assert_int_eq(yt_snap_put_f32(w, "lora/x", v, 0, sh, &e), -1);
    yt_snap_abort(w);

    /* program_version is required. */
    w = yt_snap_begin(path, &e);
    ck_assert_int_eq(yt_snap_put_f32(w, "lora/x", v, 1, sh, &e), 0);
    ck_assert_int_eq(yt_snap_commit(w, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "program_version"));
    ck_assert(!file_exists(path));
    ck_assert_int_eq(count_temps(dir), 0);

    /* A folder that does not exist: error naming the temp path. */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no/such/step-00000001.h5", dir);
    ck_assert_ptr_null(yt_snap_begin(missing, &e));
    ck_assert_msg(strstr(e.msg, missing) != NULL, "%s", e.msg);

    yt_snap_abort(NULL);
    rm_rf(dir);
}
END_TEST

/* One tensor-name rule for writer and reader: what the writer refuses, the
 * reader refuses too (it used to resolve "lora/./x" to "lora/x"). */
START_TEST(tensor_name_rule)
{
    static const char *const bad[] = {"", "/", "//", ".", "..", "lora/.", "lora/..", "lora/./x",
                                      "lora/../lora/x", "./lora/x", "lora//x", "lora/x/",
                                      "lora/a b", "lora/\tx", "lora/\x7f"};
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    yt_err e = {{0}};
    snprintf(path, sizeof path, "%s/step-00000001.h5", dir);
    float v[2] = {1, 2}, r[2];
    int64_t sh[1] = {2};
    yt_snap_writer *w = yt_snap_begin(path, &e);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(yt_snap_attr_str(w, "program_version", "t", &e), 0);
    ck_assert_int_eq(yt_snap_put_f32(w, "lora/x", v, 1, sh, &e), 0);
    ck_assert_msg(yt_snap_commit(w, &e) == 0, "%s", e.msg);
    yt_snap *s;
    ck_assert_msg(yt_snap_open(&s, path, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(yt_snap_get_f32(s, "/lora/x", r, 2, &e), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *name = bad[i];
        char other[512];
        snprintf(other, sizeof other, "%s/step-00000002.h5", dir);
        w = yt_snap_begin(other, &e);
        ck_assert_ptr_nonnull(w);
        ck_assert_msg(yt_snap_put_f32(w, name, v, 1, sh, &e) == -1, "writer took '%s'", bad[i]);
        ck_assert_msg(strstr(e.msg, "bad tensor name") != NULL, "%s", e.msg);
        yt_snap_abort(w);
        ck_assert_msg(yt_snap_get_f32(s, name, r, 2, &e) == -1, "reader took '%s'", bad[i]);
        ck_assert_msg(strstr(e.msg, "bad tensor name") != NULL, "'%s': %s", bad[i], e.msg);
        ck_assert_msg(!yt_snap_has(s, name), "reader has '%s'", bad[i]);
        yt_snap_info info;
        ck_assert_int_eq(yt_snap_get_info(s, name, &info, &e), -1);
    }
    yt_snap_close(s);
    ck_assert_int_eq(count_temps(dir), 0);
    rm_rf(dir);
}
END_TEST

/* HDF5 must not print its error stack: run failing calls with stderr captured. */
START_TEST(silent_failures)
{
    char dir[256], path[512], junk[512], cap[512];
    make_tmpdir(dir, sizeof dir);
    yt_err e = {{0}};
    snprintf(path, sizeof path, "%s/step-00000001.h5", dir);
    snprintf(junk, sizeof junk, "%s/junk.h5", dir);
    snprintf(cap, sizeof cap, "%s/stderr.txt", dir);
    write_patterned(path);
    flip_pattern_byte(path);
    ck_assert_int_eq(yt_write_file_atomic(junk, "not hdf5 at all", 15, &e), 0);

    fflush(stderr);
    int saved = dup(2);
    int fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    yt_snap *s;
    int r1 = yt_snap_open(&s, junk, &e);
    int r2 = open_verify(path, &e);
    float x[1];
    int r3 = -1;
    if (yt_snap_open(&s, path, &e) == 0) {
        r3 = yt_snap_get_f32(s, "lora/layers.1.v_proj.lora_B", x, 1, &e);
        yt_snap_close(s);
    }
    yt_snap_writer *w = yt_snap_begin("/proc/no/such/file.h5", &e);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ck_assert_int_eq(r1, -1);
    ck_assert_int_eq(r2, -1);
    ck_assert_int_eq(r3, -1);
    ck_assert_ptr_null(w);
    struct stat st;
    ck_assert_int_eq(stat(cap, &st), 0);
    ck_assert_msg(st.st_size == 0, "something was printed to stderr (%ld bytes)",
                  (long)st.st_size);
    rm_rf(dir);
}
END_TEST

/* ---- corruption ---- */

START_TEST(flipped_byte_detected)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    yt_err e = {{0}};
    snprintf(path, sizeof path, "%s/step-00000001.h5", dir);
    write_patterned(path);
    ck_assert_msg(open_verify(path, &e) == 0, "%s", e.msg);
    flip_pattern_byte(path);
    /* The whole-file checksum sees it first ... */
    yt_snap *s;
    ck_assert_int_eq(yt_snap_open(&s, path, &e), -1);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "whole-file checksum mismatch"), "%s",
                  e.msg);
    /* ... and below it Fletcher32, naming the tensor. */
    reseal(path);
    ck_assert_msg(yt_snap_open(&s, path, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(yt_snap_verify(s, &e), -1);
    ck_assert_msg(strstr(e.msg, "'lora/layers.1.v_proj.lora_B'") != NULL, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, path) != NULL, "%s", e.msg);
    static float v[PAT_N];
    ck_assert_int_eq(yt_snap_get_f32(s, "lora/layers.1.v_proj.lora_B", v, PAT_N, &e), -1);
    ck_assert_msg(strstr(e.msg, "'lora/layers.1.v_proj.lora_B'") != NULL, "%s", e.msg);
    /* The intact tensor still reads. */
    float o[256];
    ck_assert_msg(yt_snap_get_f32(s, "lora/layers.0.q_proj.lora_A", o, 256, &e) == 0, "%s",
                  e.msg);
    yt_snap_close(s);
    rm_rf(dir);
}
END_TEST

/* The stored hash catches a change that HDF5 cannot see (here: data rewritten through
 * HDF5 itself, so the Fletcher32 checksum is consistent). */
START_TEST(hash_mismatch_detected)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    yt_err e = {{0}};
    snprintf(path, sizeof path, "%s/step-00000001.h5", dir);
    write_patterned(path);
    h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t d = H5Dopen2(f, "lora/layers.0.q_proj.lora_A", H5P_DEFAULT);
    ck_assert(d >= 0);
    float o[256];
    pattern(o, 256, -5.0f);
    o[100] += 1.0f;
    ck_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, o) >= 0);
    H5Dclose(d);
    H5Fclose(f);
    reseal(path);

    yt_snap *s;
    ck_assert_msg(yt_snap_open(&s, path, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(yt_snap_verify(s, &e), -1);
    ck_assert_msg(strstr(e.msg, "'lora/layers.0.q_proj.lora_A'") != NULL, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "hash mismatch") != NULL, "%s", e.msg);
    ck_assert_int_eq(yt_snap_get_f32(s, "lora/layers.0.q_proj.lora_A", o, 256, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "hash mismatch"));
    yt_snap_close(s);
    rm_rf(dir);
}
END_TEST

START_TEST(truncated_rejected)
{
    char dir[256], path[512], empty[512];
    make_tmpdir(dir, sizeof dir);
    yt_err e = {{0}};
    snprintf(path, sizeof path, "%s/step-00000001.h5", dir);
    write_patterned(path);
    truncate_half(path);
    ck_assert_int_eq(open_verify(path, &e), -1);
    ck_assert_msg(strstr(e.msg, path) != NULL, "%s", e.msg);

    snprintf(empty, sizeof empty, "%s/step-00000002.h5", dir);
    fclose(fopen(empty, "wb"));
    ck_assert_int_eq(open_verify(empty, &e), -1);
    ck_assert_msg(strstr(e.msg, empty) != NULL, "%s", e.msg);
    rm_rf(dir);
}
END_TEST

START_TEST(incomplete_rejected)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    yt_err e = {{0}};
    snprintf(path, sizeof path, "%s/step-00000001.h5", dir);
    write_patterned(path);
    drop_complete(path);
    ck_assert_int_eq(open_verify(path, &e), -1);
    ck_assert_msg(strstr(e.msg, "'complete'") != NULL, "%s", e.msg);
    rm_rf(dir);
}
END_TEST

START_TEST(foreign_file_rejected)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    yt_err e = {{0}};
    snprintf(path, sizeof path, "%s/other.h5", dir);
    h5_quiet();
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(f >= 0);
    H5Fclose(f);
    yt_snap *s;
    /* A bare HDF5 file is what format 1 snapshots were: said so. */
    ck_assert_int_eq(yt_snap_open(&s, path, &e), -2);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "format 1"), "%s", e.msg);
    /* Our header on another program's HDF5 file: the format attribute is missing. */
    char other[600];
    snprintf(other, sizeof other, "%s/with-header.h5", dir);
    char *buf;
    size_t len;
    ck_assert_int_eq(yt_read_file(path, &buf, &len, &e), 0);
    char *img = calloc(1, YT_SNAP_HEADER_BYTES + len);
    memcpy(img, YT_SNAP_MAGIC, 16);
    img[16] = YT_SNAP_FORMAT_VERSION;
    img[21] = YT_SNAP_HEADER_BYTES >> 8;
    memcpy(img + YT_SNAP_HEADER_BYTES, buf, len);
    FILE *fo = fopen(other, "wb");
    fwrite(img, 1, YT_SNAP_HEADER_BYTES + len, fo);
    fclose(fo);
    free(img);
    free(buf);
    reseal(other);
    ck_assert_int_eq(yt_snap_open(&s, other, &e), -1);
    ck_assert_msg(strstr(e.msg, "'format'") != NULL, "%s", e.msg);
    rm_rf(dir);
}
END_TEST

/* The header: size and version as written, the hash over every byte. */
START_TEST(header_checked)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    yt_err e = {{0}};
    snprintf(path, sizeof path, "%s/step-00000001.h5", dir);
    write_small(path, 1, 1.0f);
    char *buf;
    size_t len;
    ck_assert_int_eq(yt_read_file(path, &buf, &len, &e), 0);
    unsigned char *b = (unsigned char *)buf;
    ck_assert_int_eq(memcmp(b, YT_SNAP_MAGIC, 16), 0);
    uint64_t size = 0, stored = 0;
    for (int i = 7; i >= 0; i--) {
        size = size << 8 | b[24 + i];
        stored = stored << 8 | b[32 + i];
    }
    ck_assert_uint_eq(size, len);
    ck_assert_int_eq(b[16], YT_SNAP_FORMAT_VERSION);
    ck_assert_int_eq(b[20] | b[21] << 8, YT_SNAP_HEADER_BYTES);
    memset(b + 32, 0, 8);
    ck_assert_uint_eq(stored, yt_checksum64(b, len));
    for (size_t i = 40; i < YT_SNAP_HEADER_BYTES; i++)
        ck_assert_int_eq(b[i], 0);
    free(buf);

    /* One byte more: the size field disagrees. */
    FILE *f = fopen(path, "ab");
    fputc(0, f);
    fclose(f);
    yt_snap *s;
    ck_assert_int_eq(yt_snap_open(&s, path, &e), -1);
    ck_assert_msg(strstr(e.msg, "header says"), "%s", e.msg);
    /* Another version: refused by number, even when the hash fits. */
    reseal(path);
    ck_assert_msg(open_verify(path, &e) == 0, "%s", e.msg);
    f = fopen(path, "r+b");
    fseek(f, 16, SEEK_SET);
    fputc(YT_SNAP_FORMAT_VERSION + 1, f);
    fclose(f);
    reseal(path);
    ck_assert_int_eq(yt_snap_open(&s, path, &e), -1);
    ck_assert_msg(strstr(e.msg, "format 3"), "%s", e.msg);
    rm_rf(dir);
}
END_TEST

/* A variable-length string attribute (its size unknown before reading it) is
 * refused by name. */
START_TEST(vlen_string_refused)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    yt_err e = {{0}};
    snprintf(path, sizeof path, "%s/step-00000001.h5", dir);
    write_small(path, 1, 1.0f);
    h5_quiet();
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "note", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    const char *v = "hello";
    ck_assert(a >= 0 && H5Awrite(a, t, &v) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
    reseal(path);
    yt_snap *s;
    ck_assert_msg(yt_snap_open(&s, path, &e) == 0, "%s", e.msg);
    char *out = NULL;
    ck_assert_int_eq(yt_snap_get_attr_str_dup(s, "note", &out, &e), -1);
    ck_assert_msg(strstr(e.msg, "'note' is a variable-length string"), "%s", e.msg);
    ck_assert_int_eq(yt_snap_get_attr_str_dup(s, "program_version", &out, &e), 0);
    ck_assert_str_eq(out, "test");
    free(out);
    yt_snap_close(s);
    rm_rf(dir);
}
END_TEST

/* ---- the snapshots folder ---- */

static int reject_odd_step(yt_snap *s, long step, void *ctx, yt_err *e)
{
    (void)ctx;
    int64_t v = -1;
    if (yt_snap_get_attr_i64(s, "step", &v, e) != 0)
        return -1;
    ck_assert_int_eq(v, step);
    return v % 2 ? yt_errf(e, "step %lld is odd", (long long)v) : 0;
}

START_TEST(latest_valid_skips_bad)
{
    char dir[256], path[512], got[512], skipped[2048];
    make_tmpdir(dir, sizeof dir);
    yt_err e = {{0}};
    long step;
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none", dir);
    ck_assert_int_eq(yt_snap_latest_valid(missing, NULL, got, sizeof got, &step, skipped,
                                          sizeof skipped, &e), 0);
    ck_assert_int_eq(step, -1);
    ck_assert_str_eq(got, "");

    for (long s = 1; s <= 3; s++) {
        yt_snap_path(path, sizeof path, dir, s, &e);
        write_small(path, s, (float)s);
    }
    yt_snap_path(path, sizeof path, dir, 4, &e);
    write_patterned(path);
    flip_pattern_byte(path);
    yt_snap_path(path, sizeof path, dir, 5, &e);
    write_small(path, 5, 5.0f);
    drop_complete(path);
    yt_snap_path(path, sizeof path, dir, 6, &e);
    fclose(fopen(path, "wb")); /* killed during save */
    snprintf(path, sizeof path, "%s/step-00000007.h5.tmp.99", dir);
    fclose(fopen(path, "wb"));
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    fclose(fopen(path, "wb"));

    long *steps;
    size_t n;
    ck_assert_int_eq(yt_snap_list(dir, &steps, &n, &e), 0);
    ck_assert_uint_eq(n, 6);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(steps[i], (long)i + 1);
    free(steps);

    ck_assert_msg(yt_snap_latest_valid(dir, NULL, got, sizeof got, &step, skipped,
                                       sizeof skipped, &e) == 0,
                  "%s", e.msg);
    ck_assert_int_eq(step, 3);
    yt_snap_path(path, sizeof path, dir, 3, &e);
    ck_assert_str_eq(got, path);
    ck_assert_msg(strstr(skipped, "step-00000006.h5: ") != NULL, "%s", skipped);
    ck_assert_msg(strstr(skipped, "step-00000005.h5: ") != NULL, "%s", skipped);
    ck_assert_msg(strstr(skipped, "'complete'") != NULL, "%s", skipped);
    ck_assert_msg(strstr(skipped, "step-00000004.h5: whole-file checksum mismatch") != NULL,
                  "%s", skipped);
    ck_assert_ptr_null(strstr(skipped, "step-00000003"));
    ck_assert_ptr_null(strstr(skipped, "tmp"));

    /* Restored values are the older snapshot's. */
    yt_snap *s;
    ck_assert_int_eq(yt_snap_open(&s, got, &e), 0);
    int64_t st;
    ck_assert_int_eq(yt_snap_get_attr_i64(s, "step", &st, &e), 0);
    ck_assert_int_eq(st, 3);
    yt_snap_close(s);

    /* The caller's check: a snapshot it rejects is skipped with its reason. */
    yt_snap_check odd = {.fn = reject_odd_step};
    ck_assert_int_eq(yt_snap_latest_valid(dir, &odd, got, sizeof got, &step, skipped,
                                          sizeof skipped, &e), 0);
    ck_assert_int_eq(step, 2);
    ck_assert_msg(strstr(skipped, "step-00000003.h5: step 3 is odd"), "%s", skipped);

    /* A format 1 snapshot newer than every valid one stops the search. */
    yt_snap_path(path, sizeof path, dir, 8, &e);
    h5_quiet();
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(f >= 0);
    H5Fclose(f);
    ck_assert_int_eq(yt_snap_latest_valid(dir, NULL, got, sizeof got, &step, skipped,
                                          sizeof skipped, &e), -1);
    ck_assert_msg(strstr(e.msg, "step-00000008.h5") && strstr(e.msg, "format 1") &&
                      strstr(e.msg, "finish this run"),
                  "%s", e.msg);
    rm_rf(dir);
}
END_TEST

START_TEST(prune_keeps_newest_valid)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    yt_err e = {{0}};
    for (long s = 1; s <= 5; s++) {
        yt_snap_path(path, sizeof path, dir, s, &e);
        write_small(path, s, (float)s);
    }
    yt_snap_path(path, sizeof path, dir, 6, &e);
    write_small(path, 6, 6.0f);
    truncate_half(path);
    snprintf(path, sizeof path, "%s/keep-me.txt", dir);
    fclose(fopen(path, "wb"));

    int removed;
    ck_assert_msg(yt_snap_prune(dir, 2, NULL, &removed, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(removed, 4);
    long *steps;
    size_t n;
    ck_assert_int_eq(yt_snap_list(dir, &steps, &n, &e), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(steps[0], 4);
    ck_assert_int_eq(steps[1], 5);
    free(steps);
    ck_assert(file_exists(path));

    /* keep 0 still keeps the newest valid one. */
    ck_assert_int_eq(yt_snap_prune(dir, 0, NULL, &removed, &e), 0);
    ck_assert_int_eq(removed, 1);
    ck_assert_int_eq(yt_snap_list(dir, &steps, &n, &e), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(steps[0], 5);
    free(steps);

    /* The caller's check decides validity too: step 5 rejected, 4 kept. */
    for (long st = 3; st <= 4; st++) {
        yt_snap_path(path, sizeof path, dir, st, &e);
        write_small(path, st, (float)st);
    }
    yt_snap_check odd = {.fn = reject_odd_step};
    ck_assert_int_eq(yt_snap_prune(dir, 1, &odd, &removed, &e), 0);
    ck_assert_int_eq(removed, 2);
    ck_assert_int_eq(yt_snap_list(dir, &steps, &n, &e), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(steps[0], 4);
    free(steps);

    /* Nothing valid: nothing deleted. */
    yt_snap_path(path, sizeof path, dir, 4, &e);
    truncate_half(path);
    ck_assert_int_eq(yt_snap_prune(dir, 1, NULL, &removed, &e), 0);
    ck_assert_int_eq(removed, 0);
    ck_assert(file_exists(path));
    rm_rf(dir);
}
END_TEST

START_TEST(stale_temps_cleaned)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    yt_err e = {{0}};
    yt_snap_path(path, sizeof path, dir, 1, &e);
    write_small(path, 1, 1.0f);
    const char *temps[] = {"step-00000002.h5.tmp.1234", "step-00000003.h5.tmp.77"};
    const char *keep[] = {"step-00000002.h5.tmp.", "other.tmp.5", "notes"};
    char p[600];
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, temps[i]);
        fclose(fopen(p, "wb"));
    }
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, keep[i]);
        fclose(fopen(p, "wb"));
    }
    int removed;
    ck_assert_msg(yt_snap_clean_temps(dir, &removed, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(removed, 2);
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, temps[i]);
        ck_assert(!file_exists(p));
    }
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, keep[i]);
        ck_assert(file_exists(p));
    }
    ck_assert_int_eq(open_verify(path, &e), 0);
    rm_rf(dir);
}
END_TEST

/* ---- failing commits leave the previous snapshot intact ---- */

static void assert_small_intact(const char *path, float base)
{
    yt_err e = {{0}};
    yt_snap *s;
    ck_assert_msg(yt_snap_open(&s, path, &e) == 0, "%s", e.msg);
    ck_assert_msg(yt_snap_verify(s, &e) == 0, "%s", e.msg);
    float v[64], want[64];
    pattern(want, 64, base);
    ck_assert_int_eq(yt_snap_get_f32(s, "lora/a", v, 64, &e), 0);
    ck_assert_int_eq(memcmp(v, want, sizeof v), 0);
    yt_snap_close(s);
}

static yt_snap_writer *begin_replacement(const char *path)
{
    yt_err e = {{0}};
    float v[64];
    pattern(v, 64, 99.0f);
    int64_t shape[2] = {8, 8};
    yt_snap_writer *w = yt_snap_begin(path, &e);
    ck_assert_msg(w != NULL, "%s", e.msg);
    ck_assert_int_eq(yt_snap_attr_str(w, "program_version", "test", &e), 0);
    ck_assert_int_eq(yt_snap_put_f32(w, "lora/a", v, 2, shape, &e), 0);
    return w;
}

START_TEST(failed_commit_keeps_previous)
{
    char dir[256], path[512], tmp[600];
    make_tmpdir(dir, sizeof dir);
    yt_err e = {{0}};
    yt_snap_path(path, sizeof path, dir, 1, &e);
    write_small(path, 1, 1.0f);

    /* The temp file vanishes before commit (e.g. removed by a cleaner). */
    yt_snap_writer *w = begin_replacement(path);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    ck_assert_int_eq(unlink(tmp), 0);
    ck_assert_int_eq(yt_snap_commit(w, &e), -1);
    ck_assert_msg(strstr(e.msg, tmp) != NULL, "%s", e.msg);
    assert_small_intact(path, 1.0f);
    ck_assert_int_eq(count_temps(dir), 0);

    /* Abort leaves it too. */
    w = begin_replacement(path);
    yt_snap_abort(w);
    assert_small_intact(path, 1.0f);
    ck_assert_int_eq(count_temps(dir), 0);

    /* The folder becomes read-only before commit: the rename fails (as an
     * unprivileged user; root would ignore the mode, so drop to nobody). */
    char sub[400], subpath[512];
    ck_assert_int_eq(chmod(dir, 0755), 0);
    snprintf(sub, sizeof sub, "%s/ro", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    yt_snap_path(subpath, sizeof subpath, sub, 1, &e);
    write_small(subpath, 1, 1.0f);
    uid_t uid = geteuid() == 0 ? 65534 : geteuid();
    ck_assert_int_eq(chown(sub, uid, (gid_t)-1), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(uid) != 0))
            _exit(10);
        yt_snap_writer *cw = begin_replacement(subpath);
        if (chmod(sub, 0555) != 0)
            _exit(11);
        yt_err ce = {{0}};
        if (yt_snap_commit(cw, &ce) != -1)
            _exit(12);
        if (!strstr(ce.msg, strerror(EACCES)) || !strstr(ce.msg, subpath))
            _exit(13);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    assert_small_intact(subpath, 1.0f);
    ck_assert_int_eq(chmod(sub, 0755), 0);
    /* The temp could not be unlinked in a read-only folder; the cleaner removes it. */
    int removed;
    ck_assert_int_eq(yt_snap_clean_temps(sub, &removed, &e), 0);
    ck_assert_int_eq(count_temps(sub), 0);
    rm_rf(dir);
}
END_TEST

/* ---- helper modes ---- */

static int fail_msg(const char *what, const yt_err *e)
{
    fprintf(stderr, "test_checkpoint: %s: %s\n", what, e ? e->msg : "");
    return 1;
}

/* The snapshot tests/integration/checkpoint.sh checks with h5py. */
static int sample_mode(const char *path)
{
    yt_err e = {{0}};
    float a[2 * 3] = {0.5f, -1.25f, 3.0f, 1e-3f, -7.5f, 42.0f};
    float m[4 * 2];
    for (int i = 0; i < 8; i++)
        m[i] = (float)i * 0.125f - 0.5f;
    uint64_t rng[3] = {12345, 0xffffffffffffffffULL, 0x0123456789abcdefULL};
    const char cursor[] = "cursor-bytes";
    int64_t sa[2] = {2, 3}, sm[2] = {4, 2};
    yt_snap_writer *w = yt_snap_begin(path, &e);
    if (!w)
        return fail_msg("begin", &e);
    if (yt_snap_attr_str(w, "program_version", "yieldtune test-sample", &e) ||
        yt_snap_attr_i64(w, "step", 100, &e) || yt_snap_attr_i64(w, "world_size", 2, &e) ||
        yt_snap_attr_f64(w, "lr", 0.00025, &e) ||
        yt_snap_attr_str(w, "config", "{\"rank\": 8}", &e) ||
        yt_snap_attr_str(w, "note", "h\xc3\xa9llo", &e) ||
        yt_snap_put_f32(w, "lora/layers.0.q_proj.lora_A", a, 2, sa, &e) ||
        yt_snap_put_f32(w, "optim/m/layers.0.q_proj.lora_A", m, 2, sm, &e) ||
        yt_snap_put_u64_array(w, "rng/rank0", rng, 3, &e) ||
        yt_snap_put_bytes(w, "sampler/cursor", cursor, strlen(cursor), &e)) {
        yt_snap_abort(w);
        return fail_msg("write", &e);
    }
    if (yt_snap_commit(w, &e) != 0)
        return fail_msg("commit", &e);
    return 0;
}

static int write_big(const char *path, size_t n, yt_err *e)
{
    float *v = malloc(n * sizeof *v);
    if (!v)
        return yt_errf(e, "out of memory");
    for (size_t i = 0; i < n; i++)
        v[i] = (float)yt_u01(yt_mix64(i));
    int64_t shape[1] = {(int64_t)n};
    yt_snap_writer *w = yt_snap_begin(path, e);
    int rc = -1;
    if (w) {
        if (yt_snap_attr_str(w, "program_version", "test", e) == 0 &&
            yt_snap_put_f32(w, "lora/a", v, 1, shape, e) == 0)
            rc = yt_snap_commit(w, e);
        else
            yt_snap_abort(w);
    }
    free(v);
    return rc;
}

static int small_ok(const char *path, float base)
{
    yt_err e = {{0}};
    yt_snap *s;
    float v[64], want[64];
    pattern(want, 64, base);
    if (yt_snap_open(&s, path, &e) != 0)
        return fail_msg("reopen small", &e);
    int rc = yt_snap_verify(s, &e) || yt_snap_get_f32(s, "lora/a", v, 64, &e);
    yt_snap_close(s);
    if (rc)
        return fail_msg("verify small", &e);
    if (memcmp(v, want, sizeof v) != 0)
        return fail_msg("small snapshot changed", NULL);
    return 0;
}

static int diskfull_mode(const char *dir)
{
    yt_err e = {{0}};
    char p1[512], p2[512], p3[512];
    yt_snap_path(p1, sizeof p1, dir, 1, &e);
    yt_snap_path(p2, sizeof p2, dir, 2, &e);
    yt_snap_path(p3, sizeof p3, dir, 3, &e);
    if (write_small_rc(p1, 1, 1.0f, &e) != 0)
        return fail_msg("small snapshot", &e);
    if (small_ok(p1, 1.0f))
        return 1;
    const size_t big = 4u << 20; /* 16 MiB of floats */
    /* A new, bigger snapshot. */
    if (write_big(p2, big, &e) == 0)
        return fail_msg("big snapshot unexpectedly fit", NULL);
    printf("new snapshot: %s\n", e.msg);
    if (!strstr(e.msg, strerror(ENOSPC)))
        return fail_msg("error does not say the disk is full", &e);
    if (count_temps(dir) != 0 || file_exists(p2))
        return fail_msg("a temp file or partial snapshot was left behind", NULL);
    if (small_ok(p1, 1.0f))
        return 1;
    /* Replacing the existing snapshot in place. */
    if (write_big(p1, big, &e) == 0)
        return fail_msg("big snapshot unexpectedly fit", NULL);
    printf("replacement: %s\n", e.msg);
    if (!strstr(e.msg, strerror(ENOSPC)))
        return fail_msg("error does not say the disk is full", &e);
    if (count_temps(dir) != 0)
        return fail_msg("a temp file was left behind", NULL);
    if (small_ok(p1, 1.0f))
        return 1;
    /* The space of the failed temp files was given back. */
    if (write_small_rc(p3, 3, 3.0f, &e) != 0)
        return fail_msg("small snapshot after the failures", &e);
    if (small_ok(p3, 3.0f))
        return 1;
    printf("DISKFULL OK\n");
    return 0;
}

int main(void)
{
    const char *sample = getenv("YT_SNAP_SAMPLE");
    if (sample && sample[0])
        return sample_mode(sample);
    const char *full = getenv("YT_SNAP_DISKFULL_DIR");
    if (full && full[0])
        return diskfull_mode(full);

    Suite *su = suite_create("checkpoint");
    TCase *tc = tcase_create("snapshots");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, roundtrip);
    tcase_add_test(tc, writer_misuse);
    tcase_add_test(tc, tensor_name_rule);
    tcase_add_test(tc, silent_failures);
    tcase_add_test(tc, flipped_byte_detected);
    tcase_add_test(tc, hash_mismatch_detected);
    tcase_add_test(tc, truncated_rejected);
    tcase_add_test(tc, incomplete_rejected);
    tcase_add_test(tc, foreign_file_rejected);
    tcase_add_test(tc, header_checked);
    tcase_add_test(tc, vlen_string_refused);
    tcase_add_test(tc, latest_valid_skips_bad);
    tcase_add_test(tc, prune_keeps_newest_valid);
    tcase_add_test(tc, stale_temps_cleaned);
    tcase_add_test(tc, failed_commit_keeps_previous);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
