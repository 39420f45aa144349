/* The goodput accounting (runner/goodput.c) on hand-written run folders in
 * tests/fixtures/report/ whose answers were worked out by hand (the timelines
 * are in tests/fixtures/report/README), the CRC-32C of the TensorBoard writer
 * against published check values, and the plot as files cairo reads back. */
#define _POSIX_C_SOURCE 200809L
#include <cairo.h>
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner/goodput.h"
#include "runner/plot.h"
#include "runner/tensorboard.h"

#define TOL 1e-9

static void read_fixture(yt_goodput *g, const char *name)
{
    const char *src = getenv("YT_SRCDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/fixtures/report/%s", src ? src : ".", name);
    yt_err e = {{0}};
    ck_assert_msg(yt_goodput_read(g, dir, &e) == 0, "%s: %s", dir, e.msg);
}

static double causes_sum(const yt_goodput *g)
{
    double s = 0;
    for (int c = 0; c < YT_GP_NCAUSES; c++)
        s += g->s[c];
    return s;
}

START_TEST(test_clean)
{
    yt_goodput g;
    read_fixture(&g, "clean");
    ck_assert_int_eq(g.n_att, 1);
    ck_assert_double_eq_tol(g.rented, 7.0, TOL);
    ck_assert_double_eq_tol(g.s[YT_GP_KEPT], 4.0, TOL);
    ck_assert_double_eq_tol(g.s[YT_GP_STARTUP], 2.0, TOL);
    ck_assert_double_eq_tol(g.s[YT_GP_SNAPSHOT], 0.45, TOL);
    ck_assert_double_eq_tol(g.s[YT_GP_EVAL], 0.3, TOL);
    ck_assert_double_eq_tol(g.s[YT_GP_OTHER], 0.25, TOL);
    ck_assert_double_eq_tol(g.goodput, 4.0 / 7.0, TOL);
    ck_assert_int_eq(g.preemptions, 0);
    ck_assert_int_eq(g.att[0].how, YT_GP_FINISHED);
    ck_assert_int_eq(g.kept_tokens, 400);
    ck_assert_int_eq(g.n_skipped, 0);
    ck_assert_int_eq(g.n_notes, 0);
    yt_goodput_free(&g);
}
END_TEST

/* A yield at step 4, a kill -9 after step 8 with the newest snapshot at 6,
 * a resume from 6 that redoes 7 and 8 and finishes at 9. */
static void check_preempted(const yt_goodput *g)
{
    ck_assert_int_eq(g->n_att, 3);
    ck_assert_double_eq_tol(g->rented, 17.3, TOL);
    ck_assert_double_eq_tol(causes_sum(g), g->rented, TOL);
    ck_assert_double_eq_tol(g->s[YT_GP_KEPT], 9.0, TOL);
    ck_assert_double_eq_tol(g->s[YT_GP_LOST], 2.0, TOL);
    ck_assert_double_eq_tol(g->s[YT_GP_STARTUP], 3.5, TOL);
    ck_assert_double_eq_tol(g->s[YT_GP_RESUME], 0.75, TOL);
    ck_assert_double_eq_tol(g->s[YT_GP_YIELD], 0.4, TOL);
    ck_assert_double_eq_tol(g->s[YT_GP_SNAPSHOT], 1.1, TOL);
    ck_assert_double_eq_tol(g->s[YT_GP_EVAL], 0.25, TOL);
    ck_assert_double_eq_tol(g->s[YT_GP_OTHER], 0.3, TOL);
    ck_assert_double_eq_tol(g->goodput, 9.0 / 17.3, TOL);
    ck_assert_double_eq_tol(g->idle, 7.7, TOL);
    ck_assert_int_eq(g->kept_steps, 9);
    ck_assert_int_eq(g->lost_steps, 2);
    ck_assert_int_eq(g->redone_steps, 2);
    ck_assert_int_eq(g->preemptions, 2);
    ck_assert_int_eq(g->yields, 1);
    ck_assert_int_eq(g->kills, 1);
    ck_assert_int_eq(g->snapshots, 4);
    ck_assert_double_eq_tol(g->snapshot_s, 1.4, TOL);
    ck_assert_int_eq(g->att[0].how, YT_GP_YIELDED);
    ck_assert_str_eq(g->att[0].signal, "USR1");
    ck_assert_int_eq(g->att[1].how, YT_GP_NO_EXIT);
    ck_assert_double_eq_tol(g->att[1].end, 116.4, TOL); /* its last line */
    ck_assert_double_eq_tol(g->att[1].rented, 6.4, TOL);
    ck_assert_int_eq(g->att[1].kept_steps, 2);
    ck_assert_int_eq(g->att[1].lost_steps, 2);
    ck_assert_int_eq(g->att[2].first_step, 6);
    ck_assert_int_eq(g->att[2].how, YT_GP_FINISHED);
    ck_assert_double_eq_tol(g->att[2].s[YT_GP_OTHER], 0.3, TOL);
}

START_TEST(test_preempted)
{
    yt_goodput g;
    read_fixture(&g, "preempted");
    check_preempted(&g);
    ck_assert_int_eq(g.n_skipped, 0);
    ck_assert_int_eq(g.n_notes, 1); /* attempt 2 has no exit event */
    ck_assert_ptr_nonnull(strstr(g.notes[0], "metrics.jsonl:8"));
    yt_goodput_free(&g);
}
END_TEST

/* The same run with bad lines: each is named by file:line, the rest gives the
 * same answers. */
START_TEST(test_damaged)
{
    yt_goodput g;
    read_fixture(&g, "damaged");
    check_preempted(&g);
    static const char *const want[] = {"events.jsonl:3:", "events.jsonl:5:", "events.jsonl:9:",
                                       "metrics.jsonl:4:", "metrics.jsonl:7:", "metrics.jsonl:14:"};
    ck_assert_int_eq(g.n_skipped, 6);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(strstr(g.skipped[i], want[i]) != NULL, "skipped[%d] = %s, want %s", i,
                      g.skipped[i], want[i]);
    ck_assert_ptr_nonnull(strstr(g.skipped[0], "seconds"));
    ck_assert_ptr_nonnull(strstr(g.skipped[1], "not JSON"));
    ck_assert_ptr_nonnull(strstr(g.skipped[2], "unknown event"));
    ck_assert_ptr_nonnull(strstr(g.skipped[5], "truncated"));
    yt_goodput_free(&g);
}
END_TEST

/* No events.jsonl: attempts from the steps alone (a restart shows where the
 * step goes back; the yield at 4 is invisible). */
START_TEST(test_metrics_only)
{
    yt_goodput g;
    read_fixture(&g, "metrics_only");
    ck_assert_int_eq(g.n_att, 2);
    ck_assert_double_eq_tol(g.att[0].start, 101.0, TOL);  /* first line's time - its step time */
    ck_assert_double_eq_tol(g.att[0].end, 116.4, TOL);
    ck_assert_double_eq_tol(g.att[1].start, 121.25, TOL);
    ck_assert_double_eq_tol(g.att[1].end, 124.5, TOL);
    ck_assert_double_eq_tol(g.rented, 18.65, TOL);
    ck_assert_double_eq_tol(g.s[YT_GP_KEPT], 9.0, TOL);
    ck_assert_double_eq_tol(g.s[YT_GP_LOST], 2.0, TOL);
    ck_assert_double_eq_tol(causes_sum(&g), g.rented, TOL);
    ck_assert_int_eq(g.redone_steps, 2);
    ck_assert_int_eq(g.kills, 1);
    ck_assert_int_eq(g.att[0].start_known, 0);
    ck_assert_int_eq(g.att[0].implicit, 1);
    yt_goodput_free(&g);
}
END_TEST

/* A TERM yield whose deadline abandoned step 2: the abandoned step, the yield
 * snapshot and the exit after it are the yield's cost. */
START_TEST(test_abandoned)
{
    yt_goodput g;
    read_fixture(&g, "abandoned");
    ck_assert_int_eq(g.n_att, 2);
    ck_assert_int_eq(g.att[0].how, YT_GP_ABANDONED);
    ck_assert_str_eq(g.att[0].signal, "TERM");
    ck_assert_double_eq_tol(g.att[0].s[YT_GP_YIELD], 0.9, TOL);
    ck_assert_double_eq_tol(g.att[0].s[YT_GP_OTHER], 0.0, TOL);
    ck_assert_double_eq_tol(g.rented, 5.7, TOL);
    ck_assert_double_eq_tol(g.s[YT_GP_SNAPSHOT], 0.2, TOL);
    ck_assert_double_eq_tol(g.s[YT_GP_OTHER], 0.1, TOL);
    ck_assert_double_eq_tol(g.goodput, 2.0 / 5.7, TOL);
    ck_assert_int_eq(g.preemptions, 1);
    ck_assert_int_eq(g.lost_steps, 0);
    yt_goodput_free(&g);
}
END_TEST

START_TEST(test_missing_run)
{
    yt_goodput g;
    yt_err e = {{0}};
    ck_assert_int_eq(yt_goodput_read(&g, "/nonexistent-run", &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent-run"));
    yt_goodput_free(&g);
}
END_TEST

/* CRC-32C check values: RFC 3720 B.4 and the "123456789" catalogue value. */
START_TEST(test_crc32c)
{
    ck_assert_uint_eq(yt_tb_crc32c("123456789", 9, 0), 0xE3069283u);
    unsigned char zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++)
        inc[i] = (unsigned char)i;
    ck_assert_uint_eq(yt_tb_crc32c(zeros, 32, 0), 0x8A9136AAu);
    ck_assert_uint_eq(yt_tb_crc32c(ones, 32, 0), 0x62A8AB43u);
    ck_assert_uint_eq(yt_tb_crc32c(inc, 32, 0), 0x46DD794Eu);
    /* chainable */
    ck_assert_uint_eq(yt_tb_crc32c("56789", 5, yt_tb_crc32c("1234", 4, 0)), 0xE3069283u);
}
END_TEST

static void plot_roundtrip(const char *ext)
{
    yt_goodput g;
    read_fixture(&g, "preempted");
    char path[64];
    snprintf(path, sizeof path, "/tmp/yt-plot-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    unlink(path);
    strcat(path, ext);
    yt_err e = {{0}};
    ck_assert_msg(yt_plot_run(&g, path, &e) == 0, "%s", e.msg);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char head[64] = {0};
    size_t n = fread(head, 1, sizeof head - 1, f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    ck_assert_int_gt(size, 5000);
    if (strcmp(ext, ".png") == 0) {
        ck_assert_int_ge(n, 8);
        ck_assert_int_eq(memcmp(head, "\x89PNG\r\n\x1a\n", 8), 0);
        cairo_surface_t *s = cairo_image_surface_create_from_png(path);
        ck_assert_int_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
        ck_assert_int_eq(cairo_image_surface_get_width(s), 1000);
        /* not blank: some pixels are the kept-loss blue and the preemption red */
        cairo_surface_flush(s);
        const unsigned char *px = cairo_image_surface_get_data(s);
        int stride = cairo_image_surface_get_stride(s), h = cairo_image_surface_get_height(s);
        int blue = 0, red = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < 1000; x++) {
                uint32_t v = *(const uint32_t *)(px + y * stride + 4 * x) & 0xffffff;
                blue += v == 0x1f4e9c;
                red += (v >> 16) > 0xa0 && ((v >> 8) & 0xff) < 0x60 && (v & 0xff) < 0x60;
            }
        ck_assert_int_gt(blue, 200);
        ck_assert_int_gt(red, 100);
        cairo_surface_destroy(s);
    } else {
        ck_assert_ptr_nonnull(strstr(head, "<svg") ? head : strstr(head, "<?xml"));
    }
    unlink(path);
    ck_assert_int_eq(yt_plot_run(&g, "/tmp/plot.gif", &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, ".png or .svg"));
    yt_goodput_free(&g);
}

START_TEST(test_plot_png) { plot_roundtrip(".png"); }
END_TEST
START_TEST(test_plot_svg) { plot_roundtrip(".svg"); }
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("goodput");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_clean);
    tcase_add_test(tc, test_preempted);
    tcase_add_test(tc, test_damaged);
    tcase_add_test(tc, test_metrics_only);
    tcase_add_test(tc, test_abandoned);
    tcase_add_test(tc, test_missing_run);
    tcase_add_test(tc, test_crc32c);
    tcase_add_test(tc, test_plot_png);
    tcase_add_test(tc, test_plot_svg);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
