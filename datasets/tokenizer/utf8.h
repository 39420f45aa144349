/* UTF-8 as the tokenizer needs it: checking, reading and writing code points, Rust's
 * lossy decoding, Unicode White_Space, and GPT-2's byte <-> character alphabet
 * (yt_tok_utf8_check is in tokenizer.h). */
#ifndef YT_TOK_UTF8_H
#define YT_TOK_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/tokenizer/tokenizer.h"

/* UTF-8 lead byte c (>= 0x80): how many continuation bytes follow (0 = not a
 * valid lead) and the allowed range of the first one (excludes overlongs,
 * surrogates and code points above U+10FFFF), per RFC 3629. */
static inline size_t tok_utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        return 1;
    if (c >= 0xe0 && c <= 0xef) {
        if (c == 0xe0)
            *lo = 0xa0;
        else if (c == 0xed)
            *hi = 0x9f;
        return 2;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (c == 0xf0)
            *lo = 0x90;
        else if (c == 0xf4)
            *hi = 0x8f;
        return 3;
    }
    return 0;
}

/* Writes cp (<= U+10FFFF) at dst; returns its length (1-4). */
size_t tok_utf8_put(char *dst, uint32_t cp);
/* Decodes one code point at s (valid UTF-8 assumed); returns its length. */
size_t tok_utf8_get(const char *s, size_t n, uint32_t *cp);
/* Appends Rust String::from_utf8_lossy(s) to out. */
int tok_utf8_lossy(yt_tok_text *out, const char *s, size_t n, yt_err *e);
/* Unicode White_Space (Rust char::is_whitespace). */
int tok_is_white_space(uint32_t cp);

/* GPT-2's bytes_to_unicode read backwards: the byte a character of the byte-level
 * alphabet stands for, -1 when the code point is not in that alphabet. */
int tok_cp_to_byte(uint32_t cp);

#endif
