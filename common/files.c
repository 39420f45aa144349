/* File helpers: whole-file reads, folder fsync, mkdir -p, and the one-call
 * atomic write (the pattern itself is common/atomic_file.c). */
#define _POSIX_C_SOURCE 200809L
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int yt_read_file(const char *path, char **out, size_t *len, yt_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return yt_errno(e, errno, "%s", path);
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return yt_errno(e, errno, "%s", path);
    }
    long n = ftell(f);
    if (n < 0) {
        fclose(f);
        return yt_errno(e, errno, "%s", path);
    }
    rewind(f);
    char *buf = yt_malloc((size_t)n + 1, "the file's bytes", e);
    if (!buf) {
        fclose(f);
        return yt_err_prefix(e, "%s", path);
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        int err = ferror(f) ? errno : EIO;
        free(buf);
        fclose(f);
        return yt_errno(e, err, "%s: read failed", path);
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = (size_t)n;
    return 0;
}

int yt_fsync_dir_of(const char *path, yt_err *e)
{
    char *copy = yt_strdup(path, "a path", e);
    if (!copy)
        return yt_err_prefix(e, "%s", path);
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        int err = errno;
        yt_errno(e, err, "%s: cannot open folder to fsync", dir);
        free(copy);
        return -1;
    }
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0) {
        yt_errno(e, err, "%s: fsync of folder failed", dir);
        free(copy);
        return -1;
    }
    free(copy);
    return 0;
}

int yt_mkdirs(const char *path, yt_err *e)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return yt_errf(e, "bad folder path '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return yt_errno(e, errno, "%s: cannot create folder", buf);
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return yt_errf(e, "%s: not a folder", path);
    return 0;
}
