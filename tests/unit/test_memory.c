/* common/memory.c: the checked allocation helpers.  Failures are real ones (a
 * request no allocator can meet, an n * size past SIZE_MAX), each checked for
 * its NULL, its message and, for realloc, the old block left intact. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

/* Under AddressSanitizer a request it cannot meet must come back as NULL (as
 * from the C library) instead of ending the process. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

#define HUGE_BYTES (SIZE_MAX / 2)

static void expect_msg(const yt_err *e, const char *want)
{
    ck_assert_msg(strcmp(e->msg, want) == 0, "message '%s', expected '%s'", e->msg, want);
}

START_TEST(huge_requests_fail_cleanly)
{
    yt_err e = {{0}};
    char want[256];
    snprintf(want, sizeof want, "out of memory for the big one (%zu bytes)", (size_t)HUGE_BYTES);

    ck_assert_ptr_null(yt_malloc(HUGE_BYTES, "the big one", &e));
    expect_msg(&e, want);
    e.msg[0] = '\0';
    ck_assert_ptr_null(yt_alloc(HUGE_BYTES, "the big one", &e));
    expect_msg(&e, want);
    e.msg[0] = '\0';
    ck_assert_ptr_null(yt_calloc(HUGE_BYTES / 8, 8, "the big one", &e));
    snprintf(want, sizeof want, "out of memory for the big one (%zu bytes)",
             (size_t)HUGE_BYTES / 8 * 8);
    expect_msg(&e, want);
    e.msg[0] = '\0';
    ck_assert_ptr_null(yt_alloc_array(HUGE_BYTES / 8, 8, "the big one", &e));
    expect_msg(&e, want);
    /* the round-up to 64 bytes must not wrap to a tiny block */
    e.msg[0] = '\0';
    ck_assert_ptr_null(yt_alloc(SIZE_MAX - 10, "the wrap", &e));
    snprintf(want, sizeof want, "out of memory for the wrap (%zu bytes)", SIZE_MAX - 10);
    expect_msg(&e, want);
    /* no yt_err: still NULL, nothing written anywhere */
    ck_assert_ptr_null(yt_malloc(HUGE_BYTES, "nobody", NULL));
}
END_TEST

START_TEST(overflowing_counts_refused)
{
    yt_err e = {{0}};
    char want[256];
    size_t n = SIZE_MAX / 4 + 2; /* n * 4 wraps to 4 */
    snprintf(want, sizeof want,
             "out of memory for 'x' ids (%zu x 4 bytes: more than the address space)", n);
    ck_assert_ptr_null(yt_calloc(n, 4, "'x' ids", &e));
    expect_msg(&e, want);
    e.msg[0] = '\0';
    ck_assert_ptr_null(yt_alloc_array(n, 4, "'x' ids", &e));
    expect_msg(&e, want);

    uint32_t *p = yt_alloc_array(3, sizeof *p, "three", &e);
    ck_assert_ptr_nonnull(p);
    p[0] = 7, p[1] = 8, p[2] = 9;
    e.msg[0] = '\0';
    ck_assert_ptr_null(yt_realloc_array(p, n, 4, "'x' ids", &e));
    expect_msg(&e, want);
    ck_assert(p[0] == 7 && p[1] == 8 && p[2] == 9);
    free(p);
}
END_TEST

START_TEST(realloc_failure_keeps_the_block)
{
    yt_err e = {{0}};
    char *p = yt_malloc(5, "five", &e);
    ck_assert_ptr_nonnull(p);
    memcpy(p, "abcd", 5);
    ck_assert_ptr_null(yt_realloc(p, HUGE_BYTES, "growth", &e));
    char want[256];
    snprintf(want, sizeof want, "out of memory for growth (%zu bytes)", (size_t)HUGE_BYTES);
    expect_msg(&e, want);
    ck_assert_str_eq(p, "abcd");
    /* and it still grows when it can */
    char *q = yt_realloc_array(p, 1000, 2, "growth", &e);
    ck_assert_ptr_nonnull(q);
    ck_assert_str_eq(q, "abcd");
    q[1999] = 'z';
    free(q);
}
END_TEST

START_TEST(blocks_and_copies)
{
    yt_err e = {{0}};
    unsigned char *a = yt_alloc(100, "aligned", &e);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq((uintptr_t)a % 64, 0);
    for (int i = 0; i < 128; i++) /* zeroed up to the rounded size */
        ck_assert_uint_eq(a[i], 0);
    yt_free(a);
    int *z = yt_calloc(50, sizeof *z, "zeros", &e);
    ck_assert_ptr_nonnull(z);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(z[i], 0);
    free(z);
    /* zero bytes: a valid block, not a NULL read as failure */
    void *none[4] = {yt_malloc(0, "none", &e), yt_calloc(0, 8, "none", &e),
                     yt_alloc_array(8, 0, "none", &e), yt_realloc(NULL, 0, "none", &e)};
    for (int i = 0; i < 4; i++) {
        ck_assert_ptr_nonnull(none[i]);
        free(none[i]);
    }
    ck_assert_str_eq(e.msg, "");

    char *s = yt_strdup("tok\xc4\xa0" "en", "a token", &e);
    ck_assert_str_eq(s, "tok\xc4\xa0" "en");
    free(s);
    s = yt_strndup("abcdef", 3, "a prefix", &e);
    ck_assert_str_eq(s, "abc");
    free(s);
    s = yt_strndup("ab", 10, "a short one", &e);
    ck_assert_str_eq(s, "ab");
    free(s);
    const char raw[4] = {'w', 'x', 'y', 'z'}; /* no NUL: only n bytes are read */
    s = yt_strndup(raw, sizeof raw, "raw bytes", &e);
    ck_assert_str_eq(s, "wxyz");
    free(s);
    ck_assert_str_eq(e.msg, "");
}
END_TEST

int main(void)
{
    Suite *su = suite_create("memory");
    TCase *tc = tcase_create("alloc");
    tcase_add_test(tc, huge_requests_fail_cleanly);
    tcase_add_test(tc, overflowing_counts_refused);
    tcase_add_test(tc, realloc_failure_keeps_the_block);
    tcase_add_test(tc, blocks_and_copies);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
