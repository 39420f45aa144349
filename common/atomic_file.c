/* Atomic files: temp file beside the target, fsync, rename, fsync of the
 * folder (contract in common.h).  Every durable write of yieldtune goes
 * through here, so the crash-safety rules live in one place. */
#define _POSIX_C_SOURCE 200809L
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void call_hook(yt_afile *f, yt_af_point at)
{
    if (f->hook.fn)
        f->hook.fn(at, f->path, f->hook.ctx);
}

/* Closes and removes the temp file; returns -1 for `return drop(f)`. */
static int drop(yt_afile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->live)
        unlink(f->tmp);
    f->live = 0;
    return -1;
}

static int create_temp(yt_afile *f, unsigned mode, yt_err *e)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        f->fd = open(f->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (f->fd >= 0)
            return 0;
        if (errno != EEXIST || attempt > 0)
            break;
        /* Left by a dead process that had our pid: ours to remove, if it is a
         * plain file (never follow or remove anything else). */
        struct stat st;
        if (lstat(f->tmp, &st) != 0 || !S_ISREG(st.st_mode))
            return yt_errf(e, "%s: exists and is not a regular file; not removing it", f->tmp);
        if (unlink(f->tmp) != 0 && errno != ENOENT)
            return yt_errno(e, errno, "%s: cannot remove a stale temp file", f->tmp);
    }
    return yt_errno(e, errno, "%s: cannot create", f->tmp);
}

/* The target may be replaced: absent, or a regular file (of the writer's kind
 * when it named one). */
static int check_target(const yt_afile *f, yt_err *e)
{
    struct stat st;
    if (lstat(f->path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return yt_errno(e, errno, "%s: cannot look at the output path", f->path);
    }
    const char *what = S_ISLNK(st.st_mode)                            ? "a symbolic link"
                       : S_ISDIR(st.st_mode)                          ? "a folder, not a file"
                       : S_ISFIFO(st.st_mode)                         ? "a FIFO (named pipe)"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)   ? "a device node"
                       : S_ISSOCK(st.st_mode)                         ? "a socket"
                       : !S_ISREG(st.st_mode)                         ? "not a regular file"
                                                                      : NULL;
    if (what)
        return yt_errf(e, "%s: is %s; refusing to replace it (remove it, or give another path)",
                       f->path, what);
    if (!f->magic)
        return 0;
    int fd = open(f->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return yt_errno(e, errno, "%s: cannot read the existing file", f->path);
    char head[64];
    size_t want = f->magic_len < sizeof head ? f->magic_len : sizeof head;
    ssize_t got = pread(fd, head, want, (off_t)f->magic_off);
    int ok = got == (ssize_t)want && memcmp(head, f->magic, want) == 0;
    if (!ok && f->magic_alt_off) {
        got = pread(fd, head, want, (off_t)f->magic_alt_off);
        ok = got == (ssize_t)want && memcmp(head, f->magic, want) == 0;
    }
    close(fd);
    if (!ok)
        return yt_errf(e, "%s: exists and is not %s; refusing to replace it (remove it, or give "
                          "another path)",
                       f->path, f->kind ? f->kind : "a file of this kind");
    return 0;
}

int yt_af_begin(yt_afile *f, const char *path, const yt_af_opts *opts, yt_err *e)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (!path || !path[0])
        return yt_errf(e, "output path is empty");
    if (strlen(path) >= sizeof f->path)
        return yt_errf(e, "%.200s...: path too long", path);
    if (path[strlen(path) - 1] == '/')
        return yt_errf(e, "%s: names a folder, not a file", path);
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp.%ld", path, (long)getpid());
    if (opts && opts->hook)
        f->hook = *opts->hook;
    if (opts && opts->magic) {
        f->magic = opts->magic;
        f->magic_len = opts->magic_len;
        f->magic_off = opts->magic_off;
        f->magic_alt_off = opts->magic_alt_off;
        f->kind = opts->kind;
    }
    if (check_target(f, e) != 0)
        return -1;
    unsigned mode = opts && opts->mode ? opts->mode : 0644;
    if (create_temp(f, mode, e) != 0)
        return -1;
    f->live = 1;
    return 0;
}

static int write_all(yt_afile *f, const unsigned char *p, size_t n, yt_err *e)
{
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return yt_errno(e, errno, "%s: write failed", f->tmp);
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int yt_af_write(yt_afile *f, const void *data, size_t n, yt_err *e)
{
    if (!f->live || f->fd < 0)
        return yt_errf(e, "%s: not open for writing (an earlier step failed)", f->path);
    const unsigned char *p = data;
    size_t first = 0;
    if (f->hook.fn && !f->mid_done && n >= 2) {
        first = n / 2;
        if (write_all(f, p, first, e) != 0)
            return drop(f);
        f->mid_done = 1;
        call_hook(f, YT_AF_MID_WRITE);
    }
    if (write_all(f, p + first, n - first, e) != 0)
        return drop(f);
    return 0;
}

const char *yt_af_temp_path(const yt_afile *f) { return f->tmp; }

void yt_af_set_hook(yt_afile *f, const yt_af_hook *hook)
{
    f->hook = hook ? *hook : (yt_af_hook){0};
}

int yt_af_commit(yt_afile *f, yt_err *e)
{
    if (!f->live || f->fd < 0)
        return yt_errf(e, "%s: nothing to commit (an earlier step failed)", f->path);
    if (fsync(f->fd) != 0) {
        yt_errno(e, errno, "%s: fsync failed", f->tmp);
        return drop(f);
    }
    /* A library that wrote the temp file by name (HDF5) must have written the
     * file we created: never rename something else into place. */
    struct stat mine, now;
    if (fstat(f->fd, &mine) != 0 || lstat(f->tmp, &now) != 0 || mine.st_dev != now.st_dev ||
        mine.st_ino != now.st_ino) {
        yt_errf(e, "%s: the temp file was replaced or removed while being written", f->tmp);
        f->live = 0; /* not ours any more: do not remove it */
        return drop(f);
    }
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0) {
        yt_errno(e, errno, "%s: close failed", f->tmp);
        return drop(f);
    }
    call_hook(f, YT_AF_BEFORE_RENAME);
    if (check_target(f, e) != 0)
        return drop(f);
    if (rename(f->tmp, f->path) != 0) {
        yt_errno(e, errno, "%s: cannot rename into place from %s", f->path, f->tmp);
        return drop(f);
    }
    f->live = 0;
    /* From here the new file is in place; a failure below only leaves its
     * durability across a power cut in doubt. */
    if (yt_fsync_dir_of(f->path, e) != 0)
        return yt_err_prefix(e, "%s: renamed into place but not made durable", f->path);
    return 0;
}

void yt_af_abort(yt_afile *f)
{
    if (f)
        drop(f);
}

int yt_af_check_not_input(const char *out, const char *const *inputs, size_t n, yt_err *e)
{
    struct stat so, si;
    if (!out || stat(out, &so) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (inputs[i] && stat(inputs[i], &si) == 0 && si.st_dev == so.st_dev &&
            si.st_ino == so.st_ino)
            return yt_errf(e, "%s is the same %s as the input %s: writing it would destroy that "
                              "input",
                           out, S_ISDIR(so.st_mode) ? "folder" : "file", inputs[i]);
    return 0;
}

/* The whole file at once: the common case (JSON files). */
int yt_write_file_atomic(const char *path, const void *data, size_t len, yt_err *e)
{
    yt_afile f;
    if (yt_af_begin(&f, path, NULL, e) != 0 || yt_af_write(&f, data, len, e) != 0)
        return -1;
    return yt_af_commit(&f, e);
}
