/* JSON files from the wild (see common/json.h).  jansson refuses integers beyond
 * 64 bits and Python's NaN/Infinity, so the text is first rewritten outside strings
 * (big integer -> the nearest double written as a real, NaN/Infinity -> null) and
 * jansson's error offsets are mapped back to the original text. */
#define _POSIX_C_SOURCE 200809L
#include "common/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct edit {
    size_t new_at, new_len, old_at, old_len;
} edit;

typedef struct rewrite {
    char *s;
    size_t n, cap;
    edit *ed;
    size_t ned, edcap;
    yt_err *e;
} rewrite;

static int put(rewrite *r, const char *p, size_t n)
{
    if (r->n + n + 1 > r->cap) {
        size_t c = r->cap ? r->cap : 4096;
        while (c < r->n + n + 1)
            c *= 2;
        char *v = yt_realloc(r->s, c, "the rewritten JSON text", r->e);
        if (!v)
            return -1;
        r->s = v;
        r->cap = c;
    }
    memcpy(r->s + r->n, p, n);
    r->n += n;
    r->s[r->n] = 0;
    return 0;
}

static int replace(rewrite *r, size_t old_at, size_t old_len, const char *with)
{
    if (r->ned == r->edcap) {
        size_t c = r->edcap ? r->edcap * 2 : 16;
        edit *v = yt_realloc_array(r->ed, c, sizeof *v, "the JSON rewrite's edits", r->e);
        if (!v)
            return -1;
        r->ed = v;
        r->edcap = c;
    }
    size_t wl = strlen(with);
    r->ed[r->ned++] = (edit){r->n, wl, old_at, old_len};
    return put(r, with, wl);
}

/* Offset in the rewritten text -> offset in the original. */
static size_t old_offset(const rewrite *r, size_t pos)
{
    long long delta = 0;
    for (size_t i = 0; i < r->ned; i++) {
        const edit *d = &r->ed[i];
        if (pos >= d->new_at + d->new_len)
            delta = (long long)(d->old_at + d->old_len) - (long long)(d->new_at + d->new_len);
        else if (pos >= d->new_at)
            return d->old_at;
        else
            break;
    }
    return (size_t)((long long)pos + delta);
}

static void line_col(const char *s, size_t len, size_t at, size_t skip, int *line, int *col)
{
    if (at > len)
        at = len;
    *line = 1;
    size_t start = 0;
    for (size_t i = 0; i < at; i++)
        if (s[i] == '\n') {
            (*line)++;
            start = i + 1;
        }
    if (start < skip)
        start = skip;
    *col = 1;
    for (size_t i = start; i < at; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            (*col)++;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Does the integer literal (optional '-', digits) fit in int64? */
static int fits_int64(const char *p, size_t n)
{
    int neg = p[0] == '-';
    const char *d = p + neg;
    size_t nd = n - (size_t)neg;
    while (nd > 1 && *d == '0')
        d++, nd--;
    if (nd < 19)
        return 1;
    if (nd > 19)
        return 0;
    return memcmp(d, neg ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
}

/* Rewrites text into r; on a number beyond double range sets *bad to its offset. */
static int rewrite_text(const char *t, size_t len, size_t skip, rewrite *r, size_t *bad)
{
    size_t i = skip, copied = skip;
    if (skip && replace(r, 0, skip, ""))
        return -1;
    while (i < len) {
        char c = t[i];
        if (c == '"') {
            for (i++; i < len && t[i] != '"'; i++)
                if (t[i] == '\\')
                    i++;
            i++;
            continue;
        }
        if (c == '-' || is_digit(c)) {
            size_t a = i;
            int real = 0;
            if (t[i] == '-')
                i++;
            if (i < len && t[i] == 'I' && len - i >= 8 && !memcmp(t + i, "Infinity", 8)) {
                if (put(r, t + copied, a - copied) || replace(r, a, i + 8 - a, "null"))
                    return -1;
                i += 8;
                copied = i;
                continue;
            }
            while (i < len && (is_digit(t[i]) || t[i] == '.' || t[i] == 'e' || t[i] == 'E' ||
                               ((t[i] == '+' || t[i] == '-') && (t[i - 1] == 'e' || t[i - 1] == 'E')))) {
                if (!is_digit(t[i]))
                    real = 1;
                i++;
            }
            if (!real && i - a > (size_t)(t[a] == '-') && !fits_int64(t + a, i - a)) {
                char num[400], out[40];
                size_t n = i - a < sizeof num - 1 ? i - a : sizeof num - 1;
                memcpy(num, t + a, n);
                num[n] = 0;
                double v = i - a < sizeof num - 1 ? strtod(num, NULL) : HUGE_VAL;
                if (!isfinite(v)) {
                    *bad = a;
                    return 0;
                }
                snprintf(out, sizeof out, "%.17e", v);
                if (put(r, t + copied, a - copied) || replace(r, a, i - a, out))
                    return -1;
                copied = i;
            }
            continue;
        }
        if ((c == 'N' && len - i >= 3 && !memcmp(t + i, "NaN", 3)) ||
            (c == 'I' && len - i >= 8 && !memcmp(t + i, "Infinity", 8))) {
            size_t w = c == 'N' ? 3 : 8;
            if (put(r, t + copied, i - copied) || replace(r, i, w, "null"))
                return -1;
            i += w;
            copied = i;
            continue;
        }
        i++;
    }
    if (copied < len && put(r, t + copied, len - copied))
        return -1;
    if (!r->s && put(r, "", 0))
        return -1;
    return 0;
}

json_t *yt_json_loadb(const char *text, size_t len, const char *name, yt_err *e)
{
    size_t skip = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
    rewrite r = {.e = e};
    size_t bad = (size_t)-1;
    if (rewrite_text(text, len, skip, &r, &bad)) {
        free(r.s);
        free(r.ed);
        yt_err_prefix(e, "%s", name);
        return NULL;
    }
    json_t *root = NULL;
    int line, col;
    if (bad != (size_t)-1) {
        line_col(text, len, bad, skip, &line, &col);
        yt_errf(e, "%s:%d:%d: invalid JSON: number beyond the range of a double", name, line, col);
    } else {
        json_error_t je;
        root = json_loadb(r.s, r.n, 0, &je);
        if (!root) {
            /* jansson's position is just past the character it stopped at */
            size_t at = old_offset(&r, (size_t)(je.position > 0 ? je.position - 1 : 0));
            line_col(text, len, at, skip, &line, &col);
            yt_errf(e, "%s:%d:%d: invalid JSON: %s", name, line, col, je.text);
        }
    }
    free(r.s);
    free(r.ed);
    return root;
}

json_t *yt_json_load_file(const char *path, size_t max_bytes, yt_err *e)
{
    if (!max_bytes)
        max_bytes = YT_JSON_MAX_BYTES;
    struct stat st;
    if (stat(path, &st) != 0) {
        yt_errno(e, errno, "%s: cannot open", path);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        yt_errf(e, "%s: is a folder, not a JSON file", path);
        return NULL;
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        yt_errf(e, "%s: %llu bytes, more than the %zu allowed for this JSON file", path,
                (unsigned long long)st.st_size, max_bytes);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    if (yt_read_file(path, &text, &len, e) != 0)
        return NULL;
    json_t *root = yt_json_loadb(text, len, path, e);
    free(text);
    return root;
}

int yt_json_file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fclose(f);
    return 1;
}
