/* common/hash.c's checksum in pieces and common/sealed_file.c: known answers
 * from tests/tools/check_snapshot.py's Python checksum64, pieces of every size
 * against the whole, a file sealed through its descriptor equal to the same
 * bytes sealed in memory, and every single flipped bit of a sealed file
 * refused. */
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"

static const yt_seal_kind KIND = {"\211yieldtune-test\n", 7, "test file", "; make it again"};

static void pattern(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 7 % 256);
}

START_TEST(checksum_known_answers)
{
    unsigned char d[1000];
    pattern(d, sizeof d);
    /* python3 -c 'from check_snapshot import checksum64; ...' in tests/tools */
    ck_assert_uint_eq(yt_checksum64(d, sizeof d), 0x01ed678dc5e40c1aULL);
    ck_assert_uint_eq(yt_checksum64("", 0), 0xd55ccd4aeb3ccafbULL);
    ck_assert_uint_eq(yt_checksum64("a", 1), 0xc79a6ca6ddd63e20ULL);
}
END_TEST

START_TEST(checksum_in_pieces)
{
    unsigned char d[1000];
    pattern(d, sizeof d);
    for (size_t n = 0; n <= 200; n += 7)
        for (size_t piece = 1; piece <= 70; piece++) {
            yt_cksum c;
            yt_cksum_init(&c);
            for (size_t at = 0; at < n; at += piece)
                yt_cksum_update(&c, d + at, n - at < piece ? n - at : piece);
            ck_assert_uint_eq(yt_cksum_final(&c), yt_checksum64(d, n));
        }
}
END_TEST

static void write_file(const char *path, const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static int check_file(const char *path, yt_err *e)
{
    int fd = open(path, O_RDONLY);
    ck_assert(fd >= 0);
    int rc = yt_seal_check_fd(fd, path, &KIND, e);
    close(fd);
    return rc;
}

START_TEST(sealed_by_fd_and_in_memory_agree)
{
    char path[] = "/tmp/yt-seal-XXXXXX";
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    /* 4 MiB + 1000: more than one of the reader's pieces */
    size_t n = ((size_t)4 << 20) + 1000;
    unsigned char *img = malloc(n), *back = malloc(n);
    ck_assert(img && back);
    pattern(img, n);
    memset(img, 0, YT_SEAL_HEADER_BYTES);
    write_file(path, img, n);
    yt_err e = {{0}};
    ck_assert_msg(yt_seal_fd(fd, path, &KIND, &e) == 0, "%s", e.msg);
    close(fd);
    yt_seal_image(img, n, &KIND);
    FILE *f = fopen(path, "rb");
    ck_assert_uint_eq(fread(back, 1, n, f), n);
    fclose(f);
    ck_assert_int_eq(memcmp(img, back, n), 0);
    ck_assert_msg(check_file(path, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(yt_seal_check_image(path, img, n, &KIND, &e), 0);
    unlink(path);
    free(img);
    free(back);
}
END_TEST

START_TEST(every_flipped_bit_refused)
{
    size_t n = 1500;
    unsigned char *img = malloc(n);
    ck_assert_ptr_nonnull(img);
    pattern(img, n);
    yt_seal_image(img, n, &KIND);
    yt_err e = {{0}};
    for (size_t bit = 0; bit < 8 * n; bit++) {
        img[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        ck_assert_msg(yt_seal_check_image("f", img, n, &KIND, &e) != 0, "bit %zu accepted", bit);
        img[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    ck_assert_int_eq(yt_seal_check_image("f", img, n, &KIND, &e), 0);
    /* a flip in the data names the checksum; in the size field, the size */
    img[900] ^= 4;
    ck_assert_int_eq(yt_seal_check_image("f", img, n, &KIND, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "f: whole-file checksum mismatch"));
    img[900] ^= 4;
    img[24] ^= 1;
    ck_assert_int_eq(yt_seal_check_image("f", img, n, &KIND, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "the header says 1501 bytes but the file has 1500"));
    free(img);
}
END_TEST

START_TEST(other_files_named)
{
    yt_err e = {{0}};
    static const unsigned char hdf5[16] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    ck_assert_int_eq(yt_seal_check_image("old.h5", hdf5, sizeof hdf5, &KIND, &e), -2);
    ck_assert_str_eq(e.msg, "old.h5: a format 1 test file (written by an earlier yieldtune, "
                            "without the whole-file checksum); this yieldtune reads format 7 "
                            "only; make it again");
    ck_assert_int_eq(yt_seal_check_image("x", (const unsigned char *)"hello", 5, &KIND, &e), -1);
    ck_assert_str_eq(e.msg, "x: not a yieldtune test file (no test file header: file too short)");
    unsigned char img[600] = {0};
    yt_seal_image(img, sizeof img, &KIND);
    img[16] = 8;
    ck_assert_int_eq(yt_seal_check_image("v", img, sizeof img, &KIND, &e), -1);
    ck_assert_str_eq(e.msg, "v: test file header says format 8 with a 512-byte header; this "
                            "yieldtune reads format 7 (512 bytes)");
    /* a folder is not a regular file; sealing a file shorter than the header fails */
    int fd = open("/tmp", O_RDONLY);
    ck_assert_int_eq(yt_seal_check_fd(fd, "/tmp", &KIND, &e), -1);
    ck_assert_str_eq(e.msg, "/tmp: not a regular file");
    close(fd);
    char path[] = "/tmp/yt-seal-XXXXXX";
    fd = mkstemp(path);
    ck_assert_int_eq(yt_seal_fd(fd, path, &KIND, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "0 bytes, shorter than the 512-byte header"));
    close(fd);
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("sealed_file");
    TCase *tc = tcase_create("seal");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, checksum_known_answers);
    tcase_add_test(tc, checksum_in_pieces);
    tcase_add_test(tc, sealed_by_fd_and_in_memory_agree);
    tcase_add_test(tc, every_flipped_bit_refused);
    tcase_add_test(tc, other_files_named);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
