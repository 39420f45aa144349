/* Pre-tokenizers (HF tokenizers semantics): a chain of steps that splits normalized
 * text into the pieces BPE runs on.  Steps: Split (literal or regex, five behaviours,
 * invert), ByteLevel, Digits, Metaspace; and the regexes of the GGUF pre-tokenizer
 * names. */
#ifndef YT_TOK_PRETOKENIZER_H
#define YT_TOK_PRETOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/tokenizer/buffers.h"
#include "datasets/tokenizer/pattern.h"

/* The pre-tokenizer regexes exactly as the models define them. */
extern const char *const tok_gpt2_regex;
extern const char *const tok_llama3_regex;
extern const char *const tok_qwen2_regex;

enum { TP_SPLIT, TP_BYTELEVEL, TP_DIGITS, TP_METASPACE };
/* Split behaviours, in the order of HF's SplitDelimiterBehavior names. */
enum { TB_REMOVED, TB_ISOLATED, TB_MERGED_PREV, TB_MERGED_NEXT, TB_CONTIGUOUS };
/* Metaspace prepend_scheme (the Metaspace decoder uses it too). */
enum { TM_NEVER, TM_FIRST, TM_ALWAYS };
typedef struct tok_pre {
    int kind;
    /* Split / Digits / ByteLevel(use_regex) */
    int is_regex;
    char *lit;
    size_t litlen;
    tok_regex re;
    int behavior, invert;
    /* ByteLevel */
    int add_prefix_space, use_regex;
    /* Digits */
    int individual;
    /* Metaspace */
    char repl[8];
    size_t repl_len;
    int prepend_scheme, split;
} tok_pre;

typedef struct tok_pre_chain {
    tok_pre *v;
    size_t n;
} tok_pre_chain;

/* Appends a step.  WHERE names the file and key for messages.  Nothing is left to
 * free on failure. */
int tok_pre_add_split(tok_pre_chain *c, const char *pat, size_t plen, int is_regex, int behavior,
                      int invert, const char *where, yt_err *e);
/* use_regex: split with the GPT-2 regex first. */
int tok_pre_add_bytelevel(tok_pre_chain *c, int add_prefix_space, int use_regex,
                          const char *where, yt_err *e);
int tok_pre_add_digits(tok_pre_chain *c, int individual, const char *where, yt_err *e);
/* REPL: one UTF-8 character (1-4 bytes). */
int tok_pre_add_metaspace(tok_pre_chain *c, const char *repl, size_t rlen, int prepend_scheme,
                          int split, const char *where, yt_err *e);
void tok_pre_chain_free(tok_pre_chain *c);

/* *byte_level: the chain ends in ByteLevel (BPE then runs on raw bytes); a ByteLevel
 * step anywhere else is refused (a step after it would see mapped characters). */
int tok_pre_chain_byte_level(const tok_pre_chain *c, int *byte_level, yt_err *e);
/* Splits s[0..n) into pieces, left in w->pa (replaced; they point into s or into w's
 * arena). */
int tok_pre_chain_run(tok_pre_chain *c, const char *s, size_t n, int at_origin, tok_scratch *w,
                      yt_err *e);
/* The chain's part of the fingerprint. */
uint64_t tok_pre_chain_hash(uint64_t h, const tok_pre_chain *c);

#endif
