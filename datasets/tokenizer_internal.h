/* datasets/tokenizer_internal: what the tokenizer_*.c files share (not a public
 * contract; see tokenizer.h).  The pipeline mirrors HF tokenizers: added-token split
 * on raw text -> normalizer per piece -> added-token split on normalized text ->
 * pre-tokenizer steps -> BPE per pre-token (cached) -> post-processor. */
#ifndef YT_TOKENIZER_INTERNAL_H
#define YT_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "datasets/tokenizer.h"

/* ---- hashing and maps ---- */
static inline uint64_t tok_hash(const void *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)n * 0xff51afd7ed558ccdULL);
    while (n >= 8) {
        uint64_t w = (uint64_t)s[0] | (uint64_t)s[1] << 8 | (uint64_t)s[2] << 16 |
                     (uint64_t)s[3] << 24 | (uint64_t)s[4] << 32 | (uint64_t)s[5] << 40 |
                     (uint64_t)s[6] << 48 | (uint64_t)s[7] << 56;
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)s[i] << (8 * i);
    h = (h ^ w) * 0x94d049bb133111ebULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

/* String -> u32 map; keys are borrowed (must outlive the map). */
typedef struct tok_sm_ent {
    const char *key;
    uint32_t len;
    uint32_t val;
    uint64_t hash;
} tok_sm_ent;

typedef struct tok_strmap {
    uint32_t *slots; /* entry index + 1; 0 = empty */
    size_t mask;
    tok_sm_ent *ents;
    size_t n, cap;
} tok_strmap;

int tok_sm_init(tok_strmap *m, size_t expect, yt_err *e);
void tok_sm_free(tok_strmap *m);
void tok_sm_clear(tok_strmap *m);
/* Returns the entry or NULL. */
const tok_sm_ent *tok_sm_get(const tok_strmap *m, const char *key, size_t len);
/* Inserts or replaces.  Returns 0/-1. */
int tok_sm_put(tok_strmap *m, const char *key, size_t len, uint32_t val, yt_err *e);

/* (left id, right id) -> (rank, merged id) */
typedef struct tok_mergemap {
    uint64_t *keys; /* UINT64_MAX = empty */
    uint32_t *rank, *id;
    size_t mask, n;
} tok_mergemap;

int tok_mm_init(tok_mergemap *m, size_t expect, yt_err *e);
void tok_mm_free(tok_mergemap *m);
/* Later puts of the same pair replace earlier ones (as HF's HashMap). */
void tok_mm_put(tok_mergemap *m, uint32_t a, uint32_t b, uint32_t rank, uint32_t id);
static inline int tok_mm_get(const tok_mergemap *m, uint32_t a, uint32_t b, uint32_t *rank,
                             uint32_t *id)
{
    if (!m->n)
        return 0;
    uint64_t k = (uint64_t)a << 32 | b;
    uint64_t h = k * 0x9e3779b97f4a7c15ULL;
    size_t i = (size_t)(h >> 20) & m->mask;
    for (;;) {
        uint64_t kk = m->keys[i];
        if (kk == k) {
            *rank = m->rank[i];
            *id = m->id[i];
            return 1;
        }
        if (kk == UINT64_MAX)
            return 0;
        i = (i + 1) & m->mask;
    }
}

/* ---- regex ---- */
typedef struct tok_regex {
    pcre2_code *code;
    pcre2_match_data *md;
    int jit;
    char *src; /* the pattern as the file gave it (for the fingerprint) */
} tok_regex;

/* Compiles PATTERN (Oniguruma syntax as HF uses it; \s/\S rewritten to White_Space).
 * WHERE names the file and key for messages. */
int tok_re_compile(tok_regex *r, const char *pattern, const char *where, yt_err *e);
void tok_re_free(tok_regex *r);
/* Next match at or after OFF; 1 found (start/end set), 0 none, -1 error. */
int tok_re_next(tok_regex *r, const char *s, size_t len, size_t off, size_t *start, size_t *end,
                yt_err *e);

/* ---- pipeline steps ---- */
enum { TN_PREPEND, TN_REPLACE, TN_REPLACE_RE, TN_NFC };
typedef struct tok_norm {
    int kind;
    char *a, *b; /* prepend text / replace pattern, content */
    size_t alen, blen;
    tok_regex re;
    char name[8]; /* NFC / NFKC ... */
} tok_norm;

enum { TP_SPLIT, TP_BYTELEVEL, TP_DIGITS, TP_METASPACE };
enum { TB_REMOVED, TB_ISOLATED, TB_MERGED_PREV, TB_MERGED_NEXT, TB_CONTIGUOUS };
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

enum { TD_BYTELEVEL, TD_REPLACE, TD_BYTEFALLBACK, TD_FUSE, TD_STRIP, TD_METASPACE };
typedef struct tok_dec {
    int kind;
    char *a, *b;
    size_t alen, blen;
    uint32_t content; /* Strip: the code point */
    size_t start, stop;
    uint32_t repl;    /* Metaspace: replacement code point */
    int prepend_scheme;
} tok_dec;

typedef struct tok_added {
    uint32_t id;
    char *content;
    size_t len;
    int special, lstrip, rstrip, normalized, single_word;
} tok_added;

/* A byte trie of added-token contents for leftmost-longest matching. */
typedef struct tok_trie_node {
    int32_t first_child, next_sibling;
    int32_t added; /* index into added[], -1 none */
    unsigned char byte;
} tok_trie_node;

typedef struct tok_trie {
    tok_trie_node *nodes;
    size_t n, cap;
    int32_t root_child[256]; /* child of the root per first byte, -1 none */
} tok_trie;

/* A chunked arena: pointers into it stay valid until reset. */
typedef struct tok_arena_blk {
    struct tok_arena_blk *next;
    size_t used, cap;
    char data[];
} tok_arena_blk;

typedef struct tok_arena {
    tok_arena_blk *head;
} tok_arena;

char *tok_arena_alloc(tok_arena *a, size_t n, yt_err *e);
void tok_arena_reset(tok_arena *a);
void tok_arena_free(tok_arena *a);

/* A pre-token piece: bytes, and whether it starts at offset 0 of the original text. */
typedef struct tok_piece {
    const char *p;
    size_t n;
    int at_origin;
} tok_piece;

typedef struct tok_pieces {
    tok_piece *v;
    size_t n, cap;
} tok_pieces;

int tok_pieces_push(tok_pieces *a, const char *p, size_t n, int at_origin, yt_err *e);

struct yt_tok {
    char *path;
    const char *kind; /* "tokenizer.json" / "gguf" */

    /* vocabulary: id -> piece as stored (UTF-8, NUL-terminated); NULL = unused id */
    uint32_t n_ids;
    char **piece;
    uint32_t *piece_len;
    tok_strmap model_vocab; /* encode key -> id (raw bytes for byte-level models) */
    tok_strmap all_pieces;  /* stored piece -> id (model, then added tokens win) */
    unsigned char *added_only; /* [n_ids] 1 = an added token that is not in the model */
    char **enc_key;         /* [n_ids] byte-level: decoded raw bytes (or NULL) */
    uint32_t *enc_len;

    /* BPE model */
    int byte_level;      /* a ByteLevel pre-tokenizer: BPE symbols are raw bytes */
    int64_t byte_sym[256]; /* byte-level: id of the one-byte symbol; else id of <0xHH> */
    tok_mergemap merges;
    size_t n_merges;
    int64_t unk_id;
    int fuse_unk, byte_fallback, ignore_merges;

    /* pipeline */
    tok_norm *norm;
    size_t n_norm;
    tok_pre *pre;
    size_t n_pre;
    tok_dec *dec;
    size_t n_dec;
    int has_decoder;
    uint32_t *post_prefix, *post_suffix;
    size_t n_prefix, n_suffix;
    int64_t bos, eos;

    /* added tokens */
    tok_added *added;
    size_t n_added;
    tok_trie raw_trie, norm_trie;
    int n_raw_added, n_norm_added;
    unsigned char *is_special; /* [n_ids] */
    tok_regex word_re;         /* single_word boundary test: [\p{L}\p{N}] ... */
    int has_single_word;

    /* cache: pre-token bytes -> ids (in cache_ids) */
    tok_strmap cache;
    char *cache_keys;
    size_t cache_keys_n, cache_keys_cap;
    uint32_t *cache_ids;
    size_t cache_ids_n, cache_ids_cap;

    /* scratch (reused across calls) */
    tok_arena arena;
    tok_pieces pa, pb;
    void *sym;
    size_t sym_cap;
    void *heap;
    size_t heap_cap;
    size_t *seg; /* split segments: start, end, is_match triples */
    size_t seg_cap;

    uint64_t fingerprint;
};

/* core */
int tok_new(yt_tok **out, const char *path, const char *kind, yt_err *e);
/* Sets piece ID (copied); fails on a duplicate id. */
int tok_set_piece(yt_tok *t, uint32_t id, const char *s, size_t len, const char *where, yt_err *e);
int tok_reserve_ids(yt_tok *t, uint32_t n, yt_err *e);
int tok_add_added(yt_tok *t, const tok_added *a, yt_err *e);
/* After the pipeline, vocabulary, merges and added tokens are set: builds the
 * encode maps, tries, special flags and the fingerprint. */
int tok_finish(yt_tok *t, yt_err *e);
/* GPT-2 byte <-> char map. */
uint32_t tok_byte_to_cp(unsigned char b);
/* -1 when the code point is not in the byte alphabet. */
int tok_cp_to_byte(uint32_t cp);
/* UTF-8 helpers */
size_t tok_utf8_put(char *dst, uint32_t cp);
/* Decodes one code point at s (valid UTF-8 assumed); returns its length. */
size_t tok_utf8_get(const char *s, size_t n, uint32_t *cp);

/* BPE of one pre-token (uncached): appends ids.  tokenizer_bpe.c */
int tok_bpe_word(yt_tok *t, const char *w, size_t n, yt_tok_ids *out, yt_err *e);
/* Builds SentencePiece merges from vocabulary and scores as transformers'
 * SentencePieceExtractor does.  tokenizer_bpe.c */
int tok_merges_from_scores(yt_tok *t, const float *scores, yt_err *e);

/* normalizers and pre-tokenizers: tokenizer_pretok.c */
extern const char *const tok_gpt2_regex;
extern const char *const tok_llama3_regex;
extern const char *const tok_qwen2_regex;
/* Applies the normalizer chain; *out may be IN itself (unchanged). */
int tok_normalize(yt_tok *t, const char *in, size_t n, const char **out, size_t *outn, yt_err *e);
/* Applies the pre-tokenizer chain to a piece; result in t->pa (replaced). */
int tok_pretokenize(yt_tok *t, const char *s, size_t n, int at_origin, yt_err *e);
void tok_norm_free(tok_norm *n);
void tok_pre_free(tok_pre *p);
void tok_dec_free(tok_dec *d);

/* decoders: tokenizer_decode.c */
/* Appends Rust String::from_utf8_lossy(s) to out. */
int tok_utf8_lossy(yt_tok_text *out, const char *s, size_t n, yt_err *e);

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

#endif
