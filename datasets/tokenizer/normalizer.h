/* Normalizers (HF tokenizers semantics): a chain of steps applied to the text between
 * added tokens before pre-tokenization.  Steps: Prepend, Replace (literal or regex),
 * NFC (utf8proc). */
#ifndef YT_TOK_NORMALIZER_H
#define YT_TOK_NORMALIZER_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/tokenizer/buffers.h"
#include "datasets/tokenizer/pattern.h"

enum { TN_PREPEND, TN_REPLACE, TN_REPLACE_RE, TN_NFC };
typedef struct tok_norm {
    int kind;
    char *a, *b; /* prepend text / replace pattern, content */
    size_t alen, blen;
    tok_regex re;
    char name[8]; /* NFC */
} tok_norm;

typedef struct tok_norm_chain {
    tok_norm *v;
    size_t n;
} tok_norm_chain;

/* Appends a step.  WHERE names the file and key for messages.  Nothing is left to
 * free on failure. */
int tok_norm_add_prepend(tok_norm_chain *c, const char *s, size_t n, const char *where,
                         yt_err *e);
/* Replace: the literal PAT (is_regex 0) or the regex PAT by CONTENT. */
int tok_norm_add_replace(tok_norm_chain *c, const char *pat, size_t plen, int is_regex,
                         const char *content, size_t clen, const char *where, yt_err *e);
int tok_norm_add_nfc(tok_norm_chain *c, const char *where, yt_err *e);
void tok_norm_chain_free(tok_norm_chain *c);

/* Applies the chain to in[0..n); *out may be IN itself (unchanged) or bytes in w's
 * arena. */
int tok_norm_chain_run(tok_norm_chain *c, const char *in, size_t n, const char **out,
                       size_t *outn, tok_scratch *w, yt_err *e);
/* The chain's part of the fingerprint. */
uint64_t tok_norm_chain_hash(uint64_t h, const tok_norm_chain *c);

#endif
