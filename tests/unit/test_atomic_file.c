/* common/atomic_file.c: the one atomic-file primitive.  Every check looks at
 * the file system itself (stat, the bytes on disk) at the moment it matters:
 * in the test-seam hook, after commit, after abort. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <dirent.h>

#include "common/common.h"

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
    snprintf(buf, cap, "%s/yt-af-XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

static int n_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void put_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* The whole file as a string ("" when absent). */
static char *slurp(const char *path)
{
    static char buf[4096];
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

START_TEST(write_commit_abort)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/out.bin", dir);
    yt_err e = {{0}};
    put_text(path, "old");
    yt_afile f;
    ck_assert_msg(yt_af_begin(&f, path, NULL, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(n_entries(dir), 2);
    ck_assert_int_eq(yt_af_write(&f, "new ", 4, &e), 0);
    ck_assert_int_eq(yt_af_write(&f, "content", 7, &e), 0);
    ck_assert_str_eq(slurp(path), "old"); /* untouched before commit */
    ck_assert_msg(yt_af_commit(&f, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(slurp(path), "new content");
    ck_assert_int_eq(n_entries(dir), 1);
    yt_af_abort(&f); /* after commit: nothing to do */
    ck_assert_str_eq(slurp(path), "new content");

    ck_assert_int_eq(yt_af_begin(&f, path, NULL, &e), 0);
    ck_assert_int_eq(yt_af_write(&f, "discarded", 9, &e), 0);
    yt_af_abort(&f);
    ck_assert_str_eq(slurp(path), "new content");
    ck_assert_int_eq(n_entries(dir), 1);
    ck_assert_int_eq(yt_af_commit(&f, &e), -1); /* aborted: nothing to commit */

    /* Mode of the new file. */
    yt_af_opts o = {.mode = 0600};
    ck_assert_int_eq(yt_af_begin(&f, path, &o, &e), 0);
    ck_assert_int_eq(yt_af_commit(&f, &e), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(st.st_size, 0);
    rm_rf(dir);
}
END_TEST

/* A library that writes the temp file by name (as HDF5 does). */
START_TEST(library_writes_temp)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/data.h5", dir);
    yt_err e = {{0}};
    yt_afile f;
    ck_assert_int_eq(yt_af_begin(&f, path, NULL, &e), 0);
    put_text(yt_af_temp_path(&f), "written by name");
    ck_assert_msg(yt_af_commit(&f, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(slurp(path), "written by name");

    /* The temp file replaced behind our back: never renamed into place. */
    ck_assert_int_eq(yt_af_begin(&f, path, NULL, &e), 0);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s", yt_af_temp_path(&f));
    ck_assert_int_eq(unlink(tmp), 0);
    put_text(tmp, "someone else's");
    ck_assert_int_eq(yt_af_commit(&f, &e), -1);
    ck_assert_msg(strstr(e.msg, "replaced") != NULL, "%s", e.msg);
    ck_assert_str_eq(slurp(path), "written by name");
    ck_assert_str_eq(slurp(tmp), "someone else's"); /* not ours: left alone */
    rm_rf(dir);
}
END_TEST

/* A temp file of a dead process with our pid is replaced; anything but a
 * plain file there is refused and left alone. */
START_TEST(stale_temp)
{
    char dir[256], path[512], tmp[600], victim[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/out.json", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    snprintf(victim, sizeof victim, "%s/victim", dir);
    yt_err e = {{0}};
    put_text(tmp, "stale");
    ck_assert_int_eq(yt_write_file_atomic(path, "{}", 2, &e), 0);
    ck_assert_str_eq(slurp(path), "{}");
    ck_assert_int_eq(access(tmp, F_OK), -1);

    put_text(victim, "precious");
    ck_assert_int_eq(symlink(victim, tmp), 0);
    ck_assert_int_eq(yt_write_file_atomic(path, "[]", 2, &e), -1);
    ck_assert_msg(strstr(e.msg, "not a regular file") != NULL, "%s", e.msg);
    ck_assert_str_eq(slurp(victim), "precious");
    ck_assert_str_eq(slurp(path), "{}");
    rm_rf(dir);
}
END_TEST

/* The test seam: the hook sees half of the first write on disk, then the
 * complete temp file with the target still old just before the rename. */
typedef struct seen {
    int mid, before;
    long mid_size, before_size;
    char before_target[64];
    char tmp[600];
} seen;

static void hook_fn(yt_af_point at, const char *path, void *ctx)
{
    seen *s = ctx;
    if (at == YT_AF_MID_WRITE) {
        s->mid++;
        s->mid_size = file_size(s->tmp);
    } else {
        s->before++;
        s->before_size = file_size(s->tmp);
        snprintf(s->before_target, sizeof s->before_target, "%s", slurp(path));
    }
}

START_TEST(hook_points)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/snap.bin", dir);
    put_text(path, "previous");
    yt_err e = {{0}};
    seen s = {0};
    yt_af_hook h = {hook_fn, &s};
    yt_af_opts o = {.hook = &h};
    yt_afile f;
    ck_assert_int_eq(yt_af_begin(&f, path, &o, &e), 0);
    snprintf(s.tmp, sizeof s.tmp, "%s", yt_af_temp_path(&f));
    char data[1000];
    memset(data, 'x', sizeof data);
    ck_assert_int_eq(yt_af_write(&f, data, sizeof data, &e), 0);
    ck_assert_int_eq(yt_af_write(&f, data, 10, &e), 0);
    ck_assert_int_eq(s.mid, 1);
    ck_assert_int_eq(s.mid_size, 500);
    ck_assert_int_eq(s.before, 0);
    ck_assert_int_eq(yt_af_commit(&f, &e), 0);
    ck_assert_int_eq(s.before, 1);
    ck_assert_int_eq(s.before_size, 1010);
    ck_assert_str_eq(s.before_target, "previous");
    ck_assert_int_eq(file_size(path), 1010);

    /* Without a hook nothing is called; set_hook adds one to a begun file. */
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(yt_af_begin(&f, path, NULL, &e), 0);
    snprintf(s.tmp, sizeof s.tmp, "%s", yt_af_temp_path(&f));
    ck_assert_int_eq(yt_af_write(&f, data, 100, &e), 0);
    ck_assert_int_eq(s.mid, 0);
    yt_af_set_hook(&f, &h);
    ck_assert_int_eq(yt_af_write(&f, data, 100, &e), 0);
    ck_assert_int_eq(s.mid, 1);
    ck_assert_int_eq(s.mid_size, 150);
    ck_assert_int_eq(yt_af_commit(&f, &e), 0);
    ck_assert_int_eq(s.before, 1);
    rm_rf(dir);
}
END_TEST

/* What an output may replace: nothing but a regular file.  Each refusal names
 * the path, and leaves it and everything it points at as it was; the check is
 * made again at commit. */
START_TEST(refuses_non_regular_targets)
{
    char dir[256], path[512], victim[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    put_text(victim, "precious");
    yt_err e = {{0}};
    yt_afile f;
    struct stat st;

    snprintf(path, sizeof path, "%s/link", dir);
    ck_assert_int_eq(symlink(victim, path), 0);
    ck_assert_int_eq(yt_write_file_atomic(path, "new", 3, &e), -1);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "symbolic link"), "%s", e.msg);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_str_eq(slurp(victim), "precious");

    snprintf(path, sizeof path, "%s/dangling", dir);
    ck_assert_int_eq(symlink("/nonexistent/yt-af-target", path), 0);
    ck_assert_int_eq(yt_write_file_atomic(path, "new", 3, &e), -1);
    ck_assert_msg(strstr(e.msg, "symbolic link"), "%s", e.msg);

    snprintf(path, sizeof path, "%s/folder", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(yt_write_file_atomic(path, "new", 3, &e), -1);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "folder"), "%s", e.msg);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));

    snprintf(path, sizeof path, "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(path, 0644), 0);
    ck_assert_int_eq(yt_write_file_atomic(path, "new", 3, &e), -1);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "FIFO"), "%s", e.msg);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISFIFO(st.st_mode));

    snprintf(path, sizeof path, "%s/sock", dir);
    int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(path), sizeof sa.sun_path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    ck_assert_int_eq(bind(sfd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(yt_write_file_atomic(path, "new", 3, &e), -1);
    ck_assert_msg(strstr(e.msg, "socket"), "%s", e.msg);
    close(sfd);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));

    /* Checked again just before the rename: a target that became a link
     * after begin is not replaced. */
    snprintf(path, sizeof path, "%s/late", dir);
    put_text(path, "regular at begin");
    ck_assert_int_eq(yt_af_begin(&f, path, NULL, &e), 0);
    ck_assert_int_eq(yt_af_write(&f, "new", 3, &e), 0);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(symlink(victim, path), 0);
    ck_assert_int_eq(yt_af_commit(&f, &e), -1);
    ck_assert_msg(strstr(e.msg, "symbolic link"), "%s", e.msg);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_str_eq(slurp(victim), "precious");
    ck_assert_int_eq(n_entries(dir), 7); /* no temp file left */
    rm_rf(dir);
}
END_TEST

/* A writer that names the kind of file it makes replaces only such a file. */
START_TEST(replaces_only_its_own_kind)
{
    char dir[256], path[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/data.h5", dir);
    yt_err e = {{0}};
    yt_af_opts o = {.magic = "\x89HDF\r\n\x1a\n", .magic_len = 8, .kind = "an HDF5 file"};
    yt_afile f;
    put_text(path, "my notes, not a dataset");
    ck_assert_int_eq(yt_af_begin(&f, path, &o, &e), -1);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "not an HDF5 file"), "%s", e.msg);
    ck_assert_str_eq(slurp(path), "my notes, not a dataset");
    put_text(path, "");
    ck_assert_int_eq(yt_af_begin(&f, path, &o, &e), -1);
    put_text(path, "\x89HDF\r\n\x1a\n old dataset");
    ck_assert_msg(yt_af_begin(&f, path, &o, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(yt_af_write(&f, "\x89HDF\r\n\x1a\n new", 12, &e), 0);
    ck_assert_msg(yt_af_commit(&f, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(slurp(path), "\x89HDF\r\n\x1a\n new");
    /* The magic may sit at an offset (safetensors: '{' after the 8-byte length). */
    yt_af_opts st = {.magic = "{", .magic_len = 1, .magic_off = 8, .kind = "a safetensors file"};
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    put_text(path, "12345678{}");
    ck_assert_msg(yt_af_begin(&f, path, &st, &e) == 0, "%s", e.msg);
    yt_af_abort(&f);
    put_text(path, "1234567");
    ck_assert_int_eq(yt_af_begin(&f, path, &st, &e), -1);
    ck_assert_msg(strstr(e.msg, "not a safetensors file"), "%s", e.msg);
    ck_assert_int_eq(n_entries(dir), 2);
    rm_rf(dir);
}
END_TEST

/* An output that is one of the command's inputs, by device and inode, however
 * it is spelled. */
START_TEST(output_is_not_an_input)
{
    char dir[256], in[512], out[512], other[512], hard[512], sub[512];
    make_tmpdir(dir, sizeof dir);
    snprintf(in, sizeof in, "%s/data.jsonl", dir);
    snprintf(other, sizeof other, "%s/more.jsonl", dir);
    snprintf(hard, sizeof hard, "%s/hard.jsonl", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    put_text(in, "{}");
    put_text(other, "{}");
    ck_assert_int_eq(link(in, hard), 0);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    yt_err e = {{0}};
    const char *inputs[] = {other, in};
    ck_assert_int_eq(yt_af_check_not_input(in, inputs, 2, &e), -1);
    ck_assert_msg(strstr(e.msg, in) && strstr(e.msg, "input"), "%s", e.msg);
    snprintf(out, sizeof out, "%s/sub/../data.jsonl", dir);
    ck_assert_int_eq(yt_af_check_not_input(out, inputs, 2, &e), -1);
    ck_assert_int_eq(yt_af_check_not_input(hard, inputs, 2, &e), -1);
    snprintf(out, sizeof out, "%s/new.h5", dir);
    ck_assert_int_eq(yt_af_check_not_input(out, inputs, 2, &e), 0);
    ck_assert_int_eq(yt_af_check_not_input(sub, inputs, 2, &e), 0);
    const char *folders[] = {sub};
    snprintf(out, sizeof out, "%s/./sub", dir);
    ck_assert_int_eq(yt_af_check_not_input(out, folders, 1, &e), -1);
    const char *missing[] = {"/nonexistent/yt-af-input"};
    ck_assert_int_eq(yt_af_check_not_input(in, missing, 1, &e), 0);
    rm_rf(dir);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("atomic_file");
    TCase *tc = tcase_create("atomic_file");
    tcase_add_test(tc, write_commit_abort);
    tcase_add_test(tc, library_writes_temp);
    tcase_add_test(tc, stale_temp);
    tcase_add_test(tc, hook_points);
    tcase_add_test(tc, refuses_non_regular_targets);
    tcase_add_test(tc, replaces_only_its_own_kind);
    tcase_add_test(tc, output_is_not_an_input);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
