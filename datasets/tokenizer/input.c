/* Reading a tokenizer input exactly once (see input.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/tokenizer/input.h"

int tok_input_open(tok_input *in, const char *path, yt_err *e)
{
    memset(in, 0, sizeof *in);
    in->name = path;
    in->f = fopen(path, "rb");
    if (!in->f)
        return yt_errno(e, errno, "%s", path);
    struct stat st;
    if (fstat(fileno(in->f), &st)) {
        int err = errno;
        tok_input_close(in);
        return yt_errno(e, err, "%s", path);
    }
    if (S_ISDIR(st.st_mode)) {
        tok_input_close(in);
        return yt_errno(e, EISDIR, "%s", path);
    }
    if (S_ISREG(st.st_mode)) {
        in->size_known = 1;
        in->size = (uint64_t)st.st_size;
    }
    setvbuf(in->f, NULL, _IOFBF, 1 << 16);
    return 0;
}

void tok_input_close(tok_input *in)
{
    if (in->f)
        fclose(in->f);
    in->f = NULL;
}

static int read_file(tok_input *in, void *dst, size_t n, size_t *got, yt_err *e)
{
    *got = n ? fread(dst, 1, n, in->f) : 0;
    if (*got < n && ferror(in->f))
        return yt_errno(e, errno ? errno : EIO, "%s: read at offset %llu", in->name,
                        (unsigned long long)(in->pos + *got));
    return 0;
}

int tok_input_peek(tok_input *in, size_t n, const unsigned char **p, size_t *got, yt_err *e)
{
    if (n > sizeof in->head)
        n = sizeof in->head;
    if (in->head_at == 0 && in->head_n < n) {
        size_t k;
        if (read_file(in, in->head + in->head_n, n - in->head_n, &k, e))
            return -1;
        in->head_n += k;
    }
    *p = in->head + in->head_at;
    *got = in->head_n - in->head_at < n ? in->head_n - in->head_at : n;
    return 0;
}

int tok_input_read(tok_input *in, void *dst, size_t n, size_t *got, yt_err *e)
{
    size_t h = in->head_n - in->head_at;
    if (h > n)
        h = n;
    memcpy(dst, in->head + in->head_at, h);
    in->head_at += h;
    size_t k = 0;
    if (h < n && read_file(in, (char *)dst + h, n - h, &k, e))
        return -1;
    *got = h + k;
    in->pos += *got;
    return 0;
}

int tok_input_slurp(tok_input *in, uint64_t limit, char **text, size_t *len, yt_err *e)
{
    if (in->size_known && in->size > limit)
        return yt_errf(e, "%s: %llu bytes is more than the %llu a tokenizer file may hold",
                       in->name, (unsigned long long)in->size, (unsigned long long)limit);
    /* a regular file is read into one buffer of its size; a stream grows it */
    size_t cap = in->size_known ? (size_t)in->size + 1 : (size_t)1 << 16, n = 0, got;
    char *buf = yt_malloc(cap, "the file's bytes", e);
    if (!buf)
        return yt_err_prefix(e, "%s", in->name);
    for (;;) {
        size_t want = cap - 1 - n;
        if ((uint64_t)n + want > limit + 1)
            want = (size_t)(limit + 1 - n);
        if (tok_input_read(in, buf + n, want, &got, e))
            goto fail;
        n += got;
        if (got < want || n > limit)
            break;
        /* the buffer is full: one byte more says whether to grow it */
        char c;
        if (tok_input_read(in, &c, 1, &got, e))
            goto fail;
        if (!got)
            break;
        char *nb = yt_realloc_array(buf, cap, 2, "the file's bytes", e);
        if (!nb) {
            yt_err_prefix(e, "%s", in->name);
            goto fail;
        }
        buf = nb;
        cap *= 2;
        buf[n++] = c;
    }
    if (n > limit) {
        yt_errf(e, "%s: more than the %llu bytes a tokenizer file may hold", in->name,
                (unsigned long long)limit);
        goto fail;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
fail:
    free(buf);
    return -1;
}
