/* runner/options: argv and config-file parsing, precedence, ranges, errors that
 * name the flag or the file and line, and the resolved JSON. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner/train_options.h"

static int parse(yt_train_opts *o, yt_err *e, int argc, char **argv)
{
    const char *pos[1];
    int n;
    return yt_opts_parse(yt_train_table, o, argc, argv, 0, pos, 0, &n, e);
}

START_TEST(test_defaults_and_argv)
{
    yt_train_opts o;
    yt_err e;
    char *argv[] = {"--model", "M", "--data=D.h5", "--out", "R", "--lr", "1e-3", "--rslora",
                    "--lora-targets", "q,v"};
    ck_assert_int_eq(parse(&o, &e, 10, argv), 0);
    ck_assert_str_eq(o.model, "M");
    ck_assert_str_eq(o.data, "D.h5");
    ck_assert_float_eq(o.lr, 1e-3f);
    ck_assert_int_eq(o.rslora, 1);
    ck_assert_str_eq(o.lora_targets, "q,v");
    ck_assert_int_eq(o.seq_len, 256);      /* default */
    ck_assert_int_eq(o.schedule, YT_SCHEDULE_COSINE);
}
END_TEST

START_TEST(test_config_file_and_precedence)
{
    char path[] = "/tmp/yt-opts-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "# a comment\nmodel = /m\ndata = \"/d.h5\"\nout=/r\nmax_steps = 7\n"
                       "lr = 5e-4   # trailing comment\nschedule = constant\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    yt_train_opts o;
    yt_err e;
    char *argv[] = {"--config", path, "--max-steps", "9"};
    ck_assert_int_eq(parse(&o, &e, 4, argv), 0);
    ck_assert_str_eq(o.model, "/m");
    ck_assert_str_eq(o.data, "/d.h5");
    ck_assert_int_eq(o.max_steps, 9);      /* command line wins */
    ck_assert_float_eq(o.lr, 5e-4f);
    ck_assert_int_eq(o.schedule, YT_SCHEDULE_CONSTANT);
    /* CHOICE values are enums inside, their names in the resolved config. */
    json_t *resolved = yt_opts_to_json(yt_train_table, &o);
    ck_assert_str_eq(json_string_value(json_object_get(resolved, "schedule")), "constant");
    ck_assert_str_eq(json_string_value(json_object_get(resolved, "device")), "cpu");
    json_decref(resolved);
    json_t *j = yt_opts_to_json(yt_train_table, &o);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "max_steps")), 9);
    ck_assert_ptr_null(json_object_get(j, "config"));
    json_decref(j);
    unlink(path);
}
END_TEST

/* A LIST option (--val-data): repeated on the command line, its values are
 * joined with ','; a config file's value is replaced by the command line's, and
 * a plain option given twice keeps the last. */
START_TEST(test_list_option)
{
    char path[] = "/tmp/yt-opts-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "val_data = C.h5\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    yt_train_opts o;
    yt_err e;
    char *a1[] = {"--model", "M", "--data", "D", "--out", "R", "--val-data", "A.h5", "--val-data=B.h5",
                  "--lr", "1", "--lr", "2"};
    ck_assert_int_eq(parse(&o, &e, 13, a1), 0);
    ck_assert_str_eq(o.val_data, "A.h5,B.h5");
    ck_assert_float_eq(o.lr, 2.0f);
    char *a2[] = {"--config", path, "--model", "M", "--data", "D", "--out", "R"};
    ck_assert_int_eq(parse(&o, &e, 8, a2), 0);
    ck_assert_str_eq(o.val_data, "C.h5");
    char *a3[] = {"--config", path, "--model", "M", "--data", "D", "--out", "R", "--val-data", "A.h5,B.h5",
                  "--val-data", "E.h5"};
    ck_assert_int_eq(parse(&o, &e, 12, a3), 0);
    ck_assert_str_eq(o.val_data, "A.h5,B.h5,E.h5");
    unlink(path);
}
END_TEST

START_TEST(test_errors_name_the_culprit)
{
    yt_train_opts o;
    yt_err e;
    char *a1[] = {"--model", "M", "--data", "D", "--out", "R", "--lr", "fast"};
    ck_assert_int_ne(parse(&o, &e, 8, a1), 0);
    ck_assert_msg(strstr(e.msg, "--lr") && strstr(e.msg, "fast"), "%s", e.msg);
    char *a2[] = {"--model", "M", "--data", "D", "--out", "R", "--seq-len", "0"};
    ck_assert_int_ne(parse(&o, &e, 8, a2), 0);
    ck_assert_msg(strstr(e.msg, "--seq-len") && strstr(e.msg, "range"), "%s", e.msg);
    char *a3[] = {"--model", "M", "--data", "D", "--out", "R", "--schedule", "linear"};
    ck_assert_int_ne(parse(&o, &e, 8, a3), 0);
    ck_assert_msg(strstr(e.msg, "cosine|constant"), "%s", e.msg);
    char *a4[] = {"--model", "M", "--out", "R"};
    ck_assert_int_ne(parse(&o, &e, 4, a4), 0);
    ck_assert_msg(strstr(e.msg, "--data"), "%s", e.msg);
    char *a5[] = {"--model", "M", "--data", "D", "--out", "R", "--frobnicate", "1"};
    ck_assert_int_ne(parse(&o, &e, 8, a5), 0);
    ck_assert_msg(strstr(e.msg, "--frobnicate"), "%s", e.msg);
    char *a6[] = {"--model", "M", "--data", "D", "--out", "R", "--max-steps"};
    ck_assert_int_ne(parse(&o, &e, 7, a6), 0);
    ck_assert_msg(strstr(e.msg, "--max-steps"), "%s", e.msg);

    char path[] = "/tmp/yt-opts-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "model = m\nwarmup = -3\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    char *a7[] = {"--config", path};
    ck_assert_int_ne(parse(&o, &e, 2, a7), 0);
    char want[64];
    snprintf(want, sizeof want, "%s:2", path);
    ck_assert_msg(strstr(e.msg, want), "%s", e.msg);
    unlink(path);
    char *a8[] = {"--config", "/nonexistent/yt.conf"};
    ck_assert_int_ne(parse(&o, &e, 2, a8), 0);
    ck_assert_msg(strstr(e.msg, "/nonexistent/yt.conf"), "%s", e.msg);
}
END_TEST

START_TEST(test_help)
{
    yt_train_opts o;
    yt_err e;
    char *argv[] = {"--model", "M", "--help"};
    ck_assert_int_eq(parse(&o, &e, 3, argv), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("options");
    tcase_add_test(tc, test_defaults_and_argv);
    tcase_add_test(tc, test_config_file_and_precedence);
    tcase_add_test(tc, test_errors_name_the_culprit);
    tcase_add_test(tc, test_list_option);
    tcase_add_test(tc, test_help);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
