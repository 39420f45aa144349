/* The snapshots folder: step-%08ld.h5 files, newest first when choosing, never
 * deleting the newest one that verifies. */
#define _POSIX_C_SOURCE 200809L
#include "checkpoint/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "step-<digits>.h5" followed by `tail` (exact end when tail is NULL).  Returns the
 * step or -1. */
static long parse_step(const char *name, const char **rest)
{
    if (strncmp(name, "step-", 5) != 0)
        return -1;
    const char *p = name + 5;
    long v = 0;
    int nd = 0;
    while (*p >= '0' && *p <= '9') {
        if (nd >= 18)
            return -1;
        v = v * 10 + (*p - '0');
        p++;
        nd++;
    }
    if (nd == 0 || strncmp(p, ".h5", 3) != 0)
        return -1;
    *rest = p + 3;
    return v;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

int yt_snap_path(char *out, size_t cap, const char *dir, long step, yt_err *e)
{
    if (!dir || !dir[0])
        return yt_errf(e, "snapshots folder is empty");
    if (step < 0)
        return yt_errf(e, "%s: negative snapshot step %ld", dir, step);
    int n = snprintf(out, cap, "%s/step-%08ld.h5", dir, step);
    if (n < 0 || (size_t)n >= cap)
        return yt_errf(e, "%s: snapshot path too long", dir);
    return 0;
}

int yt_snap_list(const char *dir, long **steps, size_t *n, yt_err *e)
{
    *steps = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return yt_errno(e, errno, "%s: cannot list snapshots", dir);
    }
    long *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    int fd = dirfd(d);
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        const char *rest;
        long step = parse_step(de->d_name, &rest);
        if (step < 0 || *rest != '\0')
            continue;
        struct stat st;
        if (fstatat(fd, de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            long *nv = yt_realloc_array(v, nc, sizeof *nv, "the snapshot list", e);
            if (!nv) {
                free(v);
                closedir(d);
                return yt_err_prefix(e, "%s", dir);
            }
            v = nv;
            cap = nc;
        }
        v[cnt++] = step;
        errno = 0;
    }
    int err = errno;
    closedir(d);
    if (err != 0) {
        free(v);
        return yt_errno(e, err, "%s: cannot list snapshots", dir);
    }
    if (cnt > 1)
        qsort(v, cnt, sizeof *v, cmp_long);
    *steps = v;
    *n = cnt;
    return 0;
}

/* Appends "fmt" to a bounded report (silently truncated). */
static void report_add(char *buf, size_t cap, const char *name, const char *why)
{
    if (!buf || cap == 0)
        return;
    size_t len = strlen(buf);
    if (len + 1 >= cap)
        return;
    snprintf(buf + len, cap - len, "%s%s: %s", len ? "; " : "", name, why);
}

/* 0 if the snapshot opens, verifies and passes the caller's check, else -1
 * (-2 for a format 1 snapshot) with the reason in e. */
static int check_one(const char *path, long step, const yt_snap_check *check, yt_err *e)
{
    yt_snap *s = NULL;
    int rc = yt_snap_open(&s, path, e);
    if (rc != 0)
        return rc;
    rc = check ? yt_snap_verify_each(s, check->data, check->ctx, e) : yt_snap_verify(s, e);
    if (rc == 0 && check && check->fn)
        rc = check->fn(s, step, check->ctx, e) != 0 ? -1 : 0;
    yt_snap_close(s);
    return rc;
}

/* The reason without the leading "path: " the reader puts in front. */
static const char *strip_path(const char *msg, const char *path)
{
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

int yt_snap_latest_valid(const char *dir, const yt_snap_check *check, char *path_out,
                         size_t path_cap, long *step, char *skipped, size_t skipped_cap,
                         yt_err *e)
{
    *step = -1;
    if (path_cap > 0)
        path_out[0] = '\0';
    if (skipped && skipped_cap > 0)
        skipped[0] = '\0';
    long *steps;
    size_t n;
    if (yt_snap_list(dir, &steps, &n, e) != 0)
        return -1;
    char path[4096];
    for (size_t i = n; i-- > 0;) {
        if (yt_snap_path(path, sizeof path, dir, steps[i], e) != 0) {
            free(steps);
            return -1;
        }
        yt_err why;
        int rc = check_one(path, steps[i], check, &why);
        if (rc == -2) {
            free(steps);
            return yt_errf(e, "%s; finish this run with the yieldtune that wrote it, or move its "
                              "snapshots away (or train into another --out) to start afresh",
                           why.msg);
        }
        if (rc != 0) {
            report_add(skipped, skipped_cap, strrchr(path, '/') + 1,
                       strip_path(why.msg, path));
            continue;
        }
        if (strlen(path) + 1 > path_cap) {
            free(steps);
            return yt_errf(e, "%s: path does not fit in %zu bytes", path, path_cap);
        }
        memcpy(path_out, path, strlen(path) + 1);
        *step = steps[i];
        break;
    }
    free(steps);
    return 0;
}

int yt_snap_prune(const char *dir, int keep, const yt_snap_check *check, int *removed,
                  yt_err *e)
{
    if (removed)
        *removed = 0;
    if (keep < 1)
        keep = 1;
    long *steps;
    size_t n;
    if (yt_snap_list(dir, &steps, &n, e) != 0)
        return -1;
    /* Decide first (newest down), delete afterwards, and only if something valid is
     * kept: a failure that is not the file's fault (e.g. out of memory) must not
     * cost every snapshot. */
    char *del = yt_calloc(n, 1, "the deletion marks", e);
    if (!del) {
        free(steps);
        return yt_err_prefix(e, "%s", dir);
    }
    int kept = 0;
    char path[4096];
    for (size_t i = n; i-- > 0;) {
        if (kept >= keep) {
            del[i] = 1;
            continue;
        }
        if (yt_snap_path(path, sizeof path, dir, steps[i], e) != 0)
            goto out_err;
        yt_err why;
        if (check_one(path, steps[i], check, &why) == 0)
            kept++;
        else
            del[i] = 1;
    }
    int rc = 0, gone = 0;
    if (kept > 0) {
        for (size_t i = 0; i < n; i++) {
            if (!del[i])
                continue;
            if (yt_snap_path(path, sizeof path, dir, steps[i], e) != 0)
                goto out_err;
            if (unlink(path) != 0 && errno != ENOENT) {
                rc = yt_errno(e, errno, "%s: cannot delete old snapshot", path);
                break;
            }
            gone++;
            if (removed)
                (*removed)++;
        }
        if (rc == 0 && gone > 0 && yt_fsync_dir_of(path, e) != 0)
            rc = -1;
    }
    free(del);
    free(steps);
    return rc;
out_err:
    free(del);
    free(steps);
    return -1;
}

int yt_snap_clean_temps(const char *dir, int *removed, yt_err *e)
{
    if (removed)
        *removed = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return yt_errno(e, errno, "%s: cannot list snapshots", dir);
    }
    int fd = dirfd(d);
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *rest;
        if (parse_step(de->d_name, &rest) < 0 || strncmp(rest, ".tmp.", 5) != 0 ||
            rest[5] == '\0')
            continue;
        if (unlinkat(fd, de->d_name, 0) != 0) {
            if (errno == ENOENT)
                continue;
            rc = yt_errno(e, errno, "%s/%s: cannot remove stale temp file", dir, de->d_name);
            break;
        }
        if (removed)
            (*removed)++;
    }
    closedir(d);
    return rc;
}
