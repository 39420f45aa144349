/* UTF-8 checking, reading, writing and lossy decoding; White_Space; GPT-2's byte
 * alphabet (see utf8.h). */
#include <string.h>

#include "datasets/tokenizer/utf8.h"

size_t yt_tok_utf8_check(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* ASCII fast path, 8 bytes at a time */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        unsigned char lo, hi;
        size_t need = tok_utf8_lead(c, &lo, &hi);
        if (!need)
            return i;
        if (i + need >= len)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
        i += need + 1;
    }
    return len;
}

size_t tok_utf8_put(char *dst, uint32_t cp)
{
    unsigned char *d = (unsigned char *)dst;
    if (cp < 0x80) {
        d[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (unsigned char)(0xc0 | (cp >> 6));
        d[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (unsigned char)(0xe0 | (cp >> 12));
        d[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (unsigned char)(0xf0 | (cp >> 18));
    d[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

size_t tok_utf8_get(const char *str, size_t n, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    if (c < 0x80 || n < 2) {
        *cp = c;
        return 1;
    }
    if (c < 0xe0) {
        *cp = (uint32_t)(c & 0x1f) << 6 | (s[1] & 0x3f);
        return 2;
    }
    if (c < 0xf0 || n < 4) {
        if (n < 3) {
            *cp = c;
            return 1;
        }
        *cp = (uint32_t)(c & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
        return 3;
    }
    *cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
          (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
    return 4;
}

/* Each maximal invalid subpart becomes U+FFFD. */
int tok_utf8_lossy(yt_tok_text *out, const char *str, size_t n, yt_err *e)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;
    static const char rep[3] = {(char)0xef, (char)0xbf, (char)0xbd};
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        unsigned char lo, hi;
        size_t need = tok_utf8_lead(c, &lo, &hi);
        size_t k = 0; /* continuation bytes accepted */
        if (need) {
            if (i + 1 < n && s[i + 1] >= lo && s[i + 1] <= hi) {
                k = 1;
                while (k < need && i + 1 + k < n && (s[i + 1 + k] & 0xc0) == 0x80)
                    k++;
            }
        }
        if (need && k == need) {
            i += need + 1;
            continue;
        }
        /* invalid: flush the valid run, emit U+FFFD, skip lead + accepted bytes */
        if (yt_tok_text_append(out, str + run, i - run, e) || yt_tok_text_append(out, rep, 3, e))
            return -1;
        i += 1 + k;
        run = i;
    }
    return yt_tok_text_append(out, str + run, n - run, e);
}

int tok_is_white_space(uint32_t c)
{
    return (c >= 9 && c <= 13) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* GPT-2 maps the printable Latin-1 bytes to themselves and the others, in byte
 * order, to U+0100 + n. */
int tok_cp_to_byte(uint32_t cp)
{
    if ((cp >= 0x21 && cp <= 0x7e) || (cp >= 0xa1 && cp <= 0xac) || (cp >= 0xae && cp <= 0xff))
        return (int)cp;
    if (cp < 0x100 || cp >= 0x144)
        return -1;
    /* the (cp - 0x100)-th byte outside the printable ranges, in byte order */
    static const unsigned char other[68] = {
        0,   1,   2,   3,   4,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  15,  16,
        17,  18,  19,  20,  21,  22,  23,  24,  25,  26,  27,  28,  29,  30,  31,  32,  127,
        128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144,
        145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 173};
    return other[cp - 0x100];
}
