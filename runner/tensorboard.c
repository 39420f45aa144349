/* TensorBoard event files (tensorboard.h).  The protobuf wire format by hand:
 * Event {1: wall_time double, 2: step int64, 3: file_version string,
 *        5: summary Summary, 7: session_log SessionLog}
 * Summary {1: repeated Value}; Value {1: tag string, 2: simple_value float}
 * SessionLog {1: status enum (START = 1)}. */
#define _POSIX_C_SOURCE 200809L
#include "runner/tensorboard.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

uint32_t yt_tb_crc32c(const void *data, size_t n, uint32_t crc)
{
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

uint32_t yt_tb_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

/* A writer over the record buffer; `over` is set when it would overflow. */
typedef struct wbuf {
    unsigned char *p;
    size_t n, cap;
    int over;
} wbuf;

static void put(wbuf *w, const void *src, size_t n)
{
    if (w->over || w->n + n > w->cap) {
        w->over = 1;
        return;
    }
    memcpy(w->p + w->n, src, n);
    w->n += n;
}

static void put_byte(wbuf *w, unsigned v)
{
    unsigned char b = (unsigned char)v;
    put(w, &b, 1);
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void put_varint(wbuf *w, uint64_t v)
{
    while (v >= 0x80) {
        put_byte(w, (unsigned)(v & 0x7f) | 0x80);
        v >>= 7;
    }
    put_byte(w, (unsigned)v);
}

static void put_le(wbuf *w, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        put_byte(w, (unsigned)(v >> (8 * i)) & 0xff);
}

static void put_double(wbuf *w, unsigned field, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    put_byte(w, field << 3 | 1);
    put_le(w, u, 8);
}

static void put_float(wbuf *w, unsigned field, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_byte(w, field << 3 | 5);
    put_le(w, u, 4);
}

static void put_len(wbuf *w, unsigned field, size_t len)
{
    put_byte(w, field << 3 | 2);
    put_varint(w, len);
}

static size_t value_len(const char *tag)
{
    size_t t = strlen(tag);
    return 1 + varint_len(t) + t + 5;
}

/* Frames the Event in buf[12 .. 12 + n) as one record and writes it. */
static int write_record(yt_tb *tb, size_t n, yt_err *e)
{
    unsigned char *b = tb->buf;
    wbuf h = {b, 0, 12, 0};
    put_le(&h, n, 8);
    put_le(&h, yt_tb_mask(yt_tb_crc32c(b, 8, 0)), 4);
    wbuf t = {b + 12 + n, 0, 4, 0};
    put_le(&t, yt_tb_mask(yt_tb_crc32c(b + 12, n, 0)), 4);
    if (fwrite(b, 1, 12 + n + 4, tb->f) != 12 + n + 4 || fflush(tb->f) != 0)
        return yt_errno(e, errno, "%s: write failed", tb->path);
    return 0;
}

static wbuf event_head(yt_tb *tb, long step, double wall)
{
    wbuf w = {tb->buf + 12, 0, YT_TB_BUF - 16, 0};
    put_double(&w, 1, wall);
    if (step) {
        put_byte(&w, 2 << 3 | 0);
        put_varint(&w, (uint64_t)step);
    }
    return w;
}

int yt_tb_scalars(yt_tb *tb, long step, double wall, const char *const *tags, const float *values,
                  int n, yt_err *e)
{
    if (!tb->f)
        return 0;
    wbuf w = event_head(tb, step, wall);
    size_t summary = 0;
    for (int i = 0; i < n; i++)
        summary += 1 + varint_len(value_len(tags[i])) + value_len(tags[i]);
    put_len(&w, 5, summary);
    for (int i = 0; i < n; i++) {
        put_len(&w, 1, value_len(tags[i]));
        put_len(&w, 1, strlen(tags[i]));
        put(&w, tags[i], strlen(tags[i]));
        put_float(&w, 2, values[i]);
    }
    if (w.over)
        return yt_errf(e, "%s: an event of %d scalars does not fit in %d bytes", tb->path, n, YT_TB_BUF);
    return write_record(tb, w.n, e);
}

int yt_tb_open(yt_tb *tb, const char *dir, long first_step, double wall, yt_err *e)
{
    memset(tb, 0, sizeof *tb);
    if (yt_mkdirs(dir, e))
        return yt_err_prefix(e, "--tensorboard");
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "localhost");
    for (char *c = host; *c; c++)
        if (*c == '/')
            *c = '_';
    struct timeval tv;
    gettimeofday(&tv, NULL);
    /* seconds and microseconds first: the names sort by time even for two
     * attempts within one second */
    snprintf(tb->path, sizeof tb->path, "%s/events.out.tfevents.%010lld.%06ld.%s.%ld", dir,
             (long long)tv.tv_sec, (long)tv.tv_usec, host, (long)getpid());
    tb->buf = yt_alloc(YT_TB_BUF, "TensorBoard record buffer", e);
    if (!tb->buf)
        return -1;
    tb->f = fopen(tb->path, "wbx");
    if (!tb->f) {
        int err = errno;
        yt_free(tb->buf);
        tb->buf = NULL;
        return yt_errno(e, err, "--tensorboard: %s", tb->path);
    }
    static const char version[] = "brain.Event:2";
    wbuf w = event_head(tb, 0, wall);
    put_len(&w, 3, sizeof version - 1);
    put(&w, version, sizeof version - 1);
    if (write_record(tb, w.n, e))
        goto fail;
    w = event_head(tb, first_step, wall);
    put_len(&w, 7, 2);
    put_byte(&w, 1 << 3 | 0);
    put_byte(&w, 1); /* SessionLog.START */
    if (write_record(tb, w.n, e))
        goto fail;
    return 0;
fail:
    yt_tb_close(tb);
    return -1;
}

void yt_tb_close(yt_tb *tb)
{
    if (tb->f)
        fclose(tb->f);
    tb->f = NULL;
    yt_free(tb->buf);
    tb->buf = NULL;
}
