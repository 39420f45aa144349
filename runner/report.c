/* The one way runner/ tells the user something went wrong. */
#include <stdarg.h>
#include <stdio.h>

#include "runner/runner.h"

void yt_report(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("yieldtune: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
