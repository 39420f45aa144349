/* Error messages: formatted into the caller's buffer, never printed here. */
#include "common/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int yt_errf(yt_err *e, const char *fmt, ...)
{
    if (!e)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int yt_err_prefix(yt_err *e, const char *fmt, ...)
{
    if (!e)
        return -1;
    char head[YT_ERR_MAX], old[YT_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%.511s: %.509s", head, old);
    return -1;
}

int yt_errno(yt_err *e, int errnum, const char *fmt, ...)
{
    if (!e)
        return -1;
    char head[YT_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    snprintf(e->msg, sizeof e->msg, "%.900s: %.120s", head, strerror(errnum));
    return -1;
}
