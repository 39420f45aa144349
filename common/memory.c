/* Checked allocation: the one wording of "out of memory" (see common.h).
 * yt_alloc aligns to 64 bytes, which keeps SIMD loads and cache lines happy;
 * the others are the plain C allocator with the size arithmetic checked. */
#define _POSIX_C_SOURCE 200809L
#include "common/common.h"

#include <stdlib.h>
#include <string.h>

static void *oom(const char *what, size_t bytes, yt_err *e)
{
    yt_errf(e, "out of memory for %s (%zu bytes)", what, bytes);
    return NULL;
}

/* n * size into *bytes; -1 (with the message) when it does not fit a size_t. */
static int array_bytes(size_t n, size_t size, size_t *bytes, const char *what, yt_err *e)
{
    if (size && n > SIZE_MAX / size) {
        yt_errf(e, "out of memory for %s (%zu x %zu bytes: more than the address space)", what,
                n, size);
        return -1;
    }
    *bytes = n * size;
    return 0;
}

void *yt_alloc(size_t bytes, const char *what, yt_err *e)
{
    void *p = NULL;
    if (bytes > SIZE_MAX - 63)
        return oom(what, bytes, e);
    size_t n = bytes ? (bytes + 63) & ~(size_t)63 : 64;
    if (posix_memalign(&p, 64, n) != 0)
        return oom(what, bytes, e);
    memset(p, 0, n);
    return p;
}

void *yt_malloc(size_t bytes, const char *what, yt_err *e)
{
    void *p = malloc(bytes ? bytes : 1);
    return p ? p : oom(what, bytes, e);
}

void *yt_calloc(size_t n, size_t size, const char *what, yt_err *e)
{
    size_t bytes;
    if (array_bytes(n, size, &bytes, what, e) != 0)
        return NULL;
    void *p = bytes ? calloc(n, size) : calloc(1, 1);
    return p ? p : oom(what, bytes, e);
}

void *yt_alloc_array(size_t n, size_t size, const char *what, yt_err *e)
{
    size_t bytes;
    if (array_bytes(n, size, &bytes, what, e) != 0)
        return NULL;
    return yt_malloc(bytes, what, e);
}

void *yt_realloc(void *p, size_t bytes, const char *what, yt_err *e)
{
    /* realloc(p, 0) may free p; a 1-byte block keeps "p stays valid" simple */
    void *q = realloc(p, bytes ? bytes : 1);
    return q ? q : oom(what, bytes, e);
}

void *yt_realloc_array(void *p, size_t n, size_t size, const char *what, yt_err *e)
{
    size_t bytes;
    if (array_bytes(n, size, &bytes, what, e) != 0)
        return NULL;
    return yt_realloc(p, bytes, what, e);
}

char *yt_strndup(const char *s, size_t n, const char *what, yt_err *e)
{
    size_t len = strnlen(s, n);
    if (len == SIZE_MAX)
        return oom(what, len, e);
    char *p = malloc(len + 1);
    if (!p)
        return oom(what, len + 1, e);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *yt_strdup(const char *s, const char *what, yt_err *e)
{
    return yt_strndup(s, SIZE_MAX, what, e);
}

void yt_free(void *p) { free(p); }

int yt_err_oom(yt_err *e, const char *what) { return yt_errf(e, "out of memory for %s", what); }
