/* Reading text inputs a line at a time with a bound, so that an endless or
 * binary input (/dev/zero, a FIFO that never sends a newline) is refused at
 * the bound instead of growing a buffer until memory runs out. */
#define _POSIX_C_SOURCE 200809L
#include "common/common.h"

#include <errno.h>
#include <stdlib.h>

long long yt_getline_max(char **buf, size_t *cap, size_t max, FILE *f)
{
    size_t n = 0;
    int c = 0;
    while ((c = getc_unlocked(f)) != EOF) {
        if (n >= max)
            return -2;
        if (n + 2 > *cap) { /* room for c and the NUL */
            size_t want = *cap ? *cap * 2 : 4096;
            if (want > max + 1)
                want = max + 1;
            if (want < n + 2)
                want = n + 2;
            char *nb = realloc(*buf, want);
            if (!nb) {
                errno = ENOMEM;
                return -1;
            }
            *buf = nb;
            *cap = want;
        }
        (*buf)[n++] = (char)c;
        if (c == '\n')
            break;
    }
    if (c == EOF && ferror(f))
        return -1;
    if (*cap == 0) {
        if (!(*buf = malloc(1))) {
            errno = ENOMEM;
            return -1;
        }
        *cap = 1;
    }
    (*buf)[n] = '\0';
    return (long long)n;
}

int yt_line_is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}
