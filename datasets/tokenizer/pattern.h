/* Patterns of the normalizers and pre-tokenizers: regular expressions in PCRE2 with
 * Oniguruma's (HF's engine) reading of \s and \S, and the matches of a regex or a
 * literal string as segments covering the text (HF's Pattern::find_matches). */
#ifndef YT_TOK_PATTERN_H
#define YT_TOK_PATTERN_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>

#include "datasets/tokenizer/buffers.h"

typedef struct tok_regex {
    pcre2_code *code;
    pcre2_match_data *md;
    int jit;
    char *src; /* the pattern as the file gave it (for the fingerprint) */
} tok_regex;

/* Compiles PATTERN (Oniguruma syntax as HF uses it; \s/\S rewritten to White_Space).
 * WHERE names the file and key for messages.  R is freed on failure. */
int tok_re_compile(tok_regex *r, const char *pattern, const char *where, yt_err *e);
void tok_re_free(tok_regex *r);
/* Next match at or after OFF; 1 found (start/end set), 0 none, -1 error. */
int tok_re_next(tok_regex *r, const char *s, size_t len, size_t off, size_t *start, size_t *end,
                yt_err *e);

/* Matches of RE, or of the literal LIT (RE NULL), in s[0..n) as (start, end, is_match)
 * segments covering the whole string, into *g (replaced). */
int tok_find_segments(tok_regex *re, const char *lit, size_t litlen, const char *s, size_t n,
                      tok_segs *g, yt_err *e);

#endif
