/* Folder locks: flock(2) on DIR/lock (contract and shared-file-system notes
 * in common.h).  flock, not fcntl locks: an fcntl lock is dropped when the
 * process closes ANY descriptor of the file, and it is per process, so a
 * library opening the lock file would silently release it. */
#define _DEFAULT_SOURCE
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* What the holder wrote into the lock file, printable, or "" when unknown. */
static void read_holder(int fd, char *out, size_t cap)
{
    out[0] = '\0';
    ssize_t n = pread(fd, out, cap - 1, 0);
    if (n <= 0)
        return;
    out[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (out[i] == '\n') {
            out[i] = '\0';
            break;
        } else if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e) {
            out[i] = '?';
        }
}

int yt_dirlock_take(yt_dirlock *l, const char *dir, yt_err *e)
{
    l->fd = -1;
    if (snprintf(l->path, sizeof l->path, "%s/lock", dir) >= (int)sizeof l->path)
        return yt_errf(e, "%s: path too long", dir);
    if (yt_mkdirs(dir, e))
        return -1;
    int fd = open(l->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return yt_errno(e, errno, "%s: cannot open the lock file", l->path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return yt_errf(e, "%s: is not a regular file", l->path);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err == EWOULDBLOCK) {
            char holder[256];
            read_holder(fd, holder, sizeof holder);
            close(fd);
            return yt_errf(e, "%s is in use by another process (%s; lock file %s)", dir,
                           holder[0] ? holder : "holder not known yet", l->path);
        }
        close(fd);
        if (err == ENOLCK || err == ENOSYS || err == EOPNOTSUPP || err == EINVAL) {
            yt_errno(e, err, "%s: this file system does not lock files (flock)", l->path);
            return 1;
        }
        return yt_errno(e, err, "%s: cannot lock", l->path);
    }
    char host[256] = "?", when[64] = "?", text[512];
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    if (localtime_r(&now, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %z", &tm);
    int n = snprintf(text, sizeof text, "pid %ld host %s since %s\n", (long)getpid(), host, when);
    /* Only for messages: a failure here does not cost the lock. */
    if (ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)n, 0) != n)
        (void)ftruncate(fd, 0);
    l->fd = fd;
    return 0;
}

void yt_dirlock_release(yt_dirlock *l)
{
    if (l && l->fd >= 0) {
        close(l->fd); /* the lock goes with the last descriptor */
        l->fd = -1;
    }
}
