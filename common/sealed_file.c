/* Sealed files: the header (common.h) that lets a reader trust every byte of a
 * file before a library parses it.  Snapshots are sealed in memory; token
 * datasets, too large to hold twice, are sealed and checked through a file
 * descriptor in pieces. */
#define _POSIX_C_SOURCE 200809L
#include "common/common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_AT 32
#define PIECE ((size_t)4 << 20)

static void put_le(unsigned char *p, uint64_t v, int nbytes)
{
    for (int i = 0; i < nbytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int nbytes)
{
    uint64_t v = 0;
    for (int i = nbytes; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

/* The header's fields but the checksum, which stays zero. */
static void fill(unsigned char *h, uint64_t size, const yt_seal_kind *k)
{
    memset(h, 0, YT_SEAL_HEADER_BYTES);
    memcpy(h, k->magic, 16);
    put_le(h + 16, k->version, 4);
    put_le(h + 20, YT_SEAL_HEADER_BYTES, 4);
    put_le(h + 24, size, 8);
}

/* Feeds file bytes [at, at + n) to c, the checksum field read as zero. */
static void feed(yt_cksum *c, const unsigned char *p, uint64_t at, size_t n)
{
    static const unsigned char zero[8];
    if (at >= HASH_AT + 8 || at + n <= HASH_AT) {
        yt_cksum_update(c, p, n);
        return;
    }
    size_t pre = at < HASH_AT ? (size_t)(HASH_AT - at) : 0;
    size_t skip_from = at > HASH_AT ? (size_t)(at - HASH_AT) : 0;
    size_t mid = 8 - skip_from < n - pre ? 8 - skip_from : n - pre;
    yt_cksum_update(c, p, pre);
    yt_cksum_update(c, zero, mid);
    yt_cksum_update(c, p + pre + mid, n - pre - mid);
}

static uint64_t image_sum(const unsigned char *img, size_t size)
{
    yt_cksum c;
    yt_cksum_init(&c);
    feed(&c, img, 0, size);
    return yt_cksum_final(&c);
}

void yt_seal_image(unsigned char *img, size_t size, const yt_seal_kind *k)
{
    fill(img, size, k);
    put_le(img + HASH_AT, image_sum(img, size), 8);
}

/* Reads exactly n bytes at off; -1 with a message otherwise. */
static int read_at(int fd, const char *path, unsigned char *p, size_t n, uint64_t off, yt_err *e)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return yt_errno(e, errno, "%s: read failed", path);
        if (r == 0)
            return yt_errf(e, "%s: shrank while being read", path);
        got += (size_t)r;
    }
    return 0;
}

/* The checksum of the open file's `size` bytes, read in pieces. */
static int fd_sum(int fd, const char *path, uint64_t size, uint64_t *out, yt_err *e)
{
    unsigned char *buf = yt_malloc(size < PIECE ? (size_t)size + 1 : PIECE, "a read buffer", e);
    if (!buf)
        return yt_err_prefix(e, "%s", path);
    yt_cksum c;
    yt_cksum_init(&c);
    int rc = 0;
    for (uint64_t at = 0; at < size && rc == 0; at += PIECE) {
        size_t n = size - at < PIECE ? (size_t)(size - at) : PIECE;
        rc = read_at(fd, path, buf, n, at, e);
        if (rc == 0)
            feed(&c, buf, at, n);
    }
    free(buf);
    *out = yt_cksum_final(&c);
    return rc;
}

static int fd_size(int fd, const char *path, uint64_t *size, yt_err *e)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return yt_errno(e, errno, "%s: cannot stat", path);
    if (!S_ISREG(st.st_mode))
        return yt_errf(e, "%s: not a regular file", path);
    *size = (uint64_t)st.st_size;
    return 0;
}

static int write_at(int fd, const char *path, const unsigned char *p, size_t n, yt_err *e)
{
    size_t put = 0;
    while (put < n) {
        ssize_t r = pwrite(fd, p + put, n - put, (off_t)put);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return yt_errno(e, errno, "%s: writing the header failed", path);
        put += (size_t)r;
    }
    return 0;
}

int yt_seal_fd(int fd, const char *path, const yt_seal_kind *k, yt_err *e)
{
    uint64_t size, sum;
    if (fd_size(fd, path, &size, e))
        return -1;
    if (size < YT_SEAL_HEADER_BYTES)
        return yt_errf(e, "%s: %llu bytes, shorter than the %d-byte header", path,
                       (unsigned long long)size, YT_SEAL_HEADER_BYTES);
    unsigned char h[YT_SEAL_HEADER_BYTES];
    fill(h, size, k);
    if (write_at(fd, path, h, sizeof h, e) || fd_sum(fd, path, size, &sum, e))
        return -1;
    put_le(h + HASH_AT, sum, 8);
    return write_at(fd, path, h, sizeof h, e);
}

/* The header's own checks (h: its first 512 bytes, or fewer when the file is
 * shorter); *stored gets the checksum it holds. */
static int check_fields(const char *path, const unsigned char *h, uint64_t size,
                        const yt_seal_kind *k, uint64_t *stored, yt_err *e)
{
    static const unsigned char hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (size >= 8 && memcmp(h, hdf5_sig, 8) == 0) {
        yt_errf(e, "%s: a format 1 %s (written by an earlier yieldtune, without the whole-file "
                   "checksum); this yieldtune reads format %u only%s",
                path, k->noun, (unsigned)k->version, k->old_hint);
        return -2;
    }
    if (size < YT_SEAL_HEADER_BYTES || memcmp(h, k->magic, 16) != 0)
        return yt_errf(e, "%s: not a yieldtune %s (no %s header%s)", path, k->noun, k->noun,
                       size < YT_SEAL_HEADER_BYTES ? ": file too short" : "");
    uint64_t version = get_le(h + 16, 4), hbytes = get_le(h + 20, 4);
    uint64_t stored_size = get_le(h + 24, 8);
    *stored = get_le(h + HASH_AT, 8);
    if (version != k->version || hbytes != YT_SEAL_HEADER_BYTES)
        return yt_errf(e, "%s: %s header says format %llu with a %llu-byte header; this "
                          "yieldtune reads format %u (%d bytes)",
                       path, k->noun, (unsigned long long)version, (unsigned long long)hbytes,
                       (unsigned)k->version, YT_SEAL_HEADER_BYTES);
    if (stored_size != size)
        return yt_errf(e, "%s: the header says %llu bytes but the file has %llu (truncated or "
                          "damaged)",
                       path, (unsigned long long)stored_size, (unsigned long long)size);
    return 0;
}

static int compare(const char *path, uint64_t stored, uint64_t sum, yt_err *e)
{
    if (sum != stored)
        return yt_errf(e, "%s: whole-file checksum mismatch (stored %016llx, data %016llx): "
                          "the file is damaged",
                       path, (unsigned long long)stored, (unsigned long long)sum);
    return 0;
}

int yt_seal_check_image(const char *path, const unsigned char *img, size_t size,
                        const yt_seal_kind *k, yt_err *e)
{
    uint64_t stored;
    int rc = check_fields(path, img, size, k, &stored, e);
    return rc ? rc : compare(path, stored, image_sum(img, size), e);
}

int yt_seal_check_fd(int fd, const char *path, const yt_seal_kind *k, yt_err *e)
{
    uint64_t size, stored, sum;
    if (fd_size(fd, path, &size, e))
        return -1;
    unsigned char h[YT_SEAL_HEADER_BYTES] = {0};
    size_t n = size < sizeof h ? (size_t)size : sizeof h;
    if (read_at(fd, path, h, n, 0, e))
        return -1;
    int rc = check_fields(path, h, size, k, &stored, e);
    if (rc)
        return rc;
    return fd_sum(fd, path, size, &sum, e) ? -1 : compare(path, stored, sum, e);
}
