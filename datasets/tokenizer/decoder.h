/* Decoders (HF tokenizers semantics): a chain of steps that turns the list of token
 * strings of a decode into text.  Steps: ByteLevel, Replace (literal), ByteFallback,
 * Fuse, Strip, Metaspace. */
#ifndef YT_TOK_DECODER_H
#define YT_TOK_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/tokenizer/tokenizer.h"

enum { TD_BYTELEVEL, TD_REPLACE, TD_BYTEFALLBACK, TD_FUSE, TD_STRIP, TD_METASPACE };
typedef struct tok_dec {
    int kind;
    char *a, *b; /* Replace: pattern, content */
    size_t alen, blen;
    uint32_t content; /* Strip: the code point */
    size_t start, stop;
    uint32_t repl;    /* Metaspace: replacement code point */
    int prepend_scheme; /* Metaspace: TM_* of pretokenizer.h */
} tok_dec;

typedef struct tok_dec_chain {
    tok_dec *v;
    size_t n;
    int present; /* the file has a decoder (else tokens are joined with spaces) */
} tok_dec_chain;

/* Appends a step and marks the chain present.  WHERE names the file and key for
 * messages. */
/* ByteLevel, ByteFallback or Fuse. */
int tok_dec_add(tok_dec_chain *c, int kind, const char *where, yt_err *e);
int tok_dec_add_replace(tok_dec_chain *c, const char *pat, size_t plen, const char *content,
                        size_t clen, const char *where, yt_err *e);
int tok_dec_add_strip(tok_dec_chain *c, uint32_t content, size_t start, size_t stop,
                      const char *where, yt_err *e);
int tok_dec_add_metaspace(tok_dec_chain *c, uint32_t repl, int prepend_scheme, const char *where,
                          yt_err *e);
void tok_dec_chain_free(tok_dec_chain *c);

/* A list of owned strings (each NUL-terminated after n[i] bytes). */
typedef struct tok_strs {
    char **s;
    size_t *n;
    size_t len, cap;
} tok_strs;

/* Appends a copy of p[0..n). */
int tok_strs_push(tok_strs *v, const char *p, size_t n, yt_err *e);
void tok_strs_free(tok_strs *v);

/* Runs the chain over V (replaced by the decoded strings, to be joined as they are). */
int tok_dec_chain_run(const tok_dec_chain *c, tok_strs *v, yt_err *e);
/* The chain's part of the fingerprint. */
uint64_t tok_dec_chain_hash(uint64_t h, const tok_dec_chain *c);

#endif
