/* Aligned allocation: 64 bytes keeps SIMD loads and cache lines happy. */
#define _POSIX_C_SOURCE 200809L
#include "common/common.h"

#include <stdlib.h>
#include <string.h>

void *yt_alloc(size_t bytes, const char *what, yt_err *e)
{
    void *p = NULL;
    size_t n = bytes ? (bytes + 63) & ~(size_t)63 : 64;
    if (posix_memalign(&p, 64, n) != 0) {
        yt_errf(e, "out of memory allocating %zu bytes for %s", bytes, what);
        return NULL;
    }
    memset(p, 0, n);
    return p;
}

void yt_free(void *p) { free(p); }
