/* The public face of the tokenizer: loading (an input read once; GGUF or
 * tokenizer.json picked by its first bytes or a folder), finishing what a loader
 * filled in (encode maps, tries, cache, fingerprint), freeing, and the read-only
 * queries. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/tokenizer/fingerprint.h"
#include "datasets/tokenizer/input.h"
#include "datasets/tokenizer/load_gguf.h"
#include "datasets/tokenizer/load_json.h"
#include "datasets/tokenizer/yt_tok.h"

static int tok_new(yt_tok **out, const char *path, const char *kind, yt_err *e)
{
    yt_tok *t = yt_calloc(1, sizeof *t, "a tokenizer", e);
    if (!t)
        return yt_err_prefix(e, "%s", path);
    t->kind = kind;
    t->bos = t->eos = -1;
    tok_bpe_init(&t->bpe);
    tok_added_init(&t->added);
    if (!(t->path = yt_strdup(path, "a path", e))) {
        yt_tok_free(t);
        return yt_err_prefix(e, "%s", path);
    }
    if (tok_vocab_init(&t->vocab, e)) {
        yt_tok_free(t);
        return yt_err_prefix(e, "%s", path);
    }
    *out = t;
    return 0;
}

void yt_tok_free(yt_tok *t)
{
    if (!t)
        return;
    tok_vocab_free(&t->vocab);
    tok_bpe_free(&t->bpe);
    tok_norm_chain_free(&t->norm);
    tok_pre_chain_free(&t->pre);
    tok_dec_chain_free(&t->dec);
    tok_added_free(&t->added);
    free(t->post_prefix);
    free(t->post_suffix);
    tok_cache_free(&t->cache);
    tok_scratch_free(&t->work);
    free(t->path);
    free(t);
}

/* Once a loader has set the pipeline, the vocabulary, the merges and the added tokens:
 * the maps and tries encode looks things up in, the cache, the fingerprint. */
static int finish(yt_tok *t, yt_err *e)
{
    int byte_level;
    if (tok_pre_chain_byte_level(&t->pre, &byte_level, e) || tok_vocab_index(&t->vocab, e) ||
        tok_bpe_build(&t->bpe, &t->vocab, byte_level, e))
        return yt_err_prefix(e, "%s", t->path);
    if (tok_added_build(&t->added, &t->vocab, t->path, e))
        return -1;
    if (tok_cache_init(&t->cache, e))
        return yt_err_prefix(e, "%s", t->path);
    return tok_fingerprint(t, &t->fingerprint, e);
}

int yt_tok_load_json_text(yt_tok **out, const char *text, size_t len, const char *name, yt_err *e)
{
    yt_tok *t;
    if (tok_new(&t, name, "tokenizer.json", e))
        return -1;
    if (tok_json_fill(t, text, len, e) || finish(t, e)) {
        yt_tok_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

static int load_json(yt_tok **out, tok_input *in, yt_err *e)
{
    char *text;
    size_t len;
    if (tok_input_slurp(in, TOK_INPUT_MAX, &text, &len, e))
        return -1;
    int rc = yt_tok_load_json_text(out, text, len, in->name, e);
    free(text);
    return rc;
}

static int load_gguf(yt_tok **out, tok_input *in, yt_err *e)
{
    yt_tok *t;
    if (tok_new(&t, in->name, "gguf", e))
        return -1;
    if (tok_gguf_fill(t, in, e) || finish(t, e)) {
        yt_tok_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

int yt_tok_load_json(yt_tok **out, const char *path, yt_err *e)
{
    tok_input in;
    if (tok_input_open(&in, path, e))
        return -1;
    int rc = load_json(out, &in, e);
    tok_input_close(&in);
    return rc;
}

int yt_tok_load_gguf(yt_tok **out, const char *path, yt_err *e)
{
    tok_input in;
    if (tok_input_open(&in, path, e))
        return -1;
    int rc = load_gguf(out, &in, e);
    tok_input_close(&in);
    return rc;
}

int yt_tok_load(yt_tok **out, const char *path, yt_err *e)
{
    struct stat st;
    if (stat(path, &st))
        return yt_errno(e, errno, "%s", path);
    if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(path) + 32;
        char *p = yt_malloc(n, "a path", e);
        if (!p)
            return yt_err_prefix(e, "%s", path);
        snprintf(p, n, "%s/tokenizer.json", path);
        int rc = yt_tok_load_json(out, p, e);
        free(p);
        return rc;
    }
    /* the first bytes decide, and stay to be read again by the loader: the input is
     * opened and read once (a FIFO or a pipe cannot be read twice) */
    tok_input in;
    if (tok_input_open(&in, path, e))
        return -1;
    const unsigned char *magic;
    size_t got;
    int rc = tok_input_peek(&in, 4, &magic, &got, e);
    if (!rc) {
        size_t pl = strlen(path);
        if ((got == 4 && memcmp(magic, "GGUF", 4) == 0) ||
            (pl >= 5 && strcmp(path + pl - 5, ".gguf") == 0))
            rc = load_gguf(out, &in, e);
        else
            rc = load_json(out, &in, e);
    }
    tok_input_close(&in);
    return rc;
}

uint32_t yt_tok_vocab_size(const yt_tok *t) { return t->vocab.n_ids; }
int64_t yt_tok_bos_id(const yt_tok *t) { return t->bos; }
int64_t yt_tok_eos_id(const yt_tok *t) { return t->eos; }
const char *yt_tok_source_kind(const yt_tok *t) { return t->kind; }

const char *yt_tok_piece(const yt_tok *t, uint32_t id)
{
    return id < t->vocab.n_ids ? t->vocab.piece[id] : NULL;
}

int yt_tok_is_special(const yt_tok *t, uint32_t id)
{
    return id < t->vocab.n_ids && t->added.is_special && t->added.is_special[id];
}

int64_t yt_tok_piece_id(const yt_tok *t, const char *piece)
{
    const tok_sm_ent *en = tok_sm_get(&t->vocab.by_piece, piece, strlen(piece));
    return en ? (int64_t)en->val : -1;
}
