/* The tokenizer of a GGUF file (llama.cpp's tokenizer.ggml.* keys): "gpt2" is
 * byte-level BPE with merges and a pre-tokenizer named by tokenizer.ggml.pre,
 * "llama" is SentencePiece BPE with byte fallback and merges from the scores.  The
 * tokenizer's only file that reads GGUF metadata (through model/gguf.h's reader). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer/load_gguf.h"
#include "datasets/tokenizer/yt_tok.h"
#include "model/gguf.h"

static int is_int_type(yt_gg_vtype t)
{
    return t <= YT_GG_I32 || t == YT_GG_U64 || t == YT_GG_I64;
}

static int is_signed(yt_gg_vtype t)
{
    return t == YT_GG_I8 || t == YT_GG_I16 || t == YT_GG_I32 || t == YT_GG_I64;
}

/* At most 200 bytes of S, for a message. */
#define SHOW(s) (int)((s).len < 200 ? (s).len : 200), (s).p

static int get_id(const yt_tok *t, const yt_gg *g, const char *key, int64_t *out, yt_err *e)
{
    const yt_gg_value *v = yt_gg_find(g, key);
    if (!v)
        return 0;
    if (!is_int_type(v->type))
        return yt_errf(e, "%s: key '%s': expected an integer, found %s", t->path, key,
                       yt_gg_vtype_name(v->type));
    int64_t id = is_signed(v->type) ? v->i : v->u > INT64_MAX ? -1 : (int64_t)v->u;
    if (id < 0 || (uint64_t)id >= t->vocab.n_ids)
        return yt_errf(e, "%s: key '%s': id %lld is outside the %u tokens", t->path, key,
                       (long long)id, t->vocab.n_ids);
    *out = id;
    return 0;
}

static int get_flag(const yt_tok *t, const yt_gg *g, const char *key, int def, int *out,
                    yt_err *e)
{
    const yt_gg_value *v = yt_gg_find(g, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (v->type != YT_GG_BOOL)
        return yt_errf(e, "%s: key '%s': expected a bool, found %s", t->path, key,
                       yt_gg_vtype_name(v->type));
    *out = v->u != 0;
    return 0;
}

/* tokenizer.ggml.tokens: the vocabulary (and whether token_type and scores, when
 * there are any, fit it). */
static int read_vocab(yt_tok *t, const yt_gg *g, yt_err *e)
{
    const yt_gg_value *toks = yt_gg_find(g, "tokenizer.ggml.tokens");
    const yt_gg_value *tt = yt_gg_find(g, "tokenizer.ggml.token_type");
    if (!toks || toks->type != YT_GG_ARRAY || toks->elem != YT_GG_STRING)
        return yt_errf(e, "%s: key 'tokenizer.ggml.tokens': %s", t->path,
                       toks ? "expected an array of strings" : "missing");
    if (toks->n == 0 || toks->n >= 0xfffffff0ULL)
        return yt_errf(e, "%s: key 'tokenizer.ggml.tokens': %llu tokens", t->path,
                       (unsigned long long)toks->n);
    uint32_t n = (uint32_t)toks->n;
    if (tt && (tt->type != YT_GG_ARRAY || !is_int_type(tt->elem) || tt->n != n))
        return yt_errf(e, "%s: key 'tokenizer.ggml.token_type': expected %u integers", t->path, n);
    const yt_gg_value *sc = yt_gg_find(g, "tokenizer.ggml.scores");
    if (sc && (sc->type != YT_GG_ARRAY ||
               (sc->elem != YT_GG_F32 && sc->elem != YT_GG_F64) || sc->n != n))
        return yt_errf(e, "%s: key 'tokenizer.ggml.scores': expected %u floats", t->path, n);
    char where[600];
    snprintf(where, sizeof where, "%s: key 'tokenizer.ggml.tokens'", t->path);
    if (tok_vocab_reserve(&t->vocab, n, where, e))
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        snprintf(where, sizeof where, "%s: key 'tokenizer.ggml.tokens'[%u]", t->path, i);
        if (tok_vocab_set(&t->vocab, i, toks->strs[i].p, (size_t)toks->strs[i].len, where, e))
            return -1;
    }
    return 0;
}

/* tokenizer.ggml.token_type: the added tokens. */
static int read_added(yt_tok *t, const yt_gg *g, yt_err *e)
{
    const yt_gg_value *tt = yt_gg_find(g, "tokenizer.ggml.token_type");
    /* added tokens: CONTROL (3) and UNKNOWN (2) are special, USER_DEFINED (4) not */
    for (uint32_t i = 0; tt && i < t->vocab.n_ids; i++) {
        int64_t ty = yt_gg_arr_int(tt, i);
        if (ty != 2 && ty != 3 && ty != 4)
            continue;
        tok_added a = {.id = i, .content = t->vocab.piece[i], .len = t->vocab.piece_len[i],
                       .special = ty != 4};
        if (tok_added_add(&t->added, &t->vocab, &a, t->path, e))
            return -1;
    }
    return 0;
}

/* Unknown, BOS and EOS ids; whether an encode with add_special adds BOS / EOS; and
 * add_space_prefix (for a llama model). */
static int read_specials(yt_tok *t, const yt_gg *g, int is_llama, int64_t *unk, int *add_space,
                         yt_err *e)
{
    int64_t bos = -1, eos = -1;
    int add_bos, add_eos;
    if (get_id(t, g, "tokenizer.ggml.unknown_token_id", unk, e) ||
        get_id(t, g, "tokenizer.ggml.bos_token_id", &bos, e) ||
        get_id(t, g, "tokenizer.ggml.eos_token_id", &eos, e) ||
        get_flag(t, g, "tokenizer.ggml.add_bos_token", is_llama, &add_bos, e) ||
        get_flag(t, g, "tokenizer.ggml.add_eos_token", 0, &add_eos, e) ||
        get_flag(t, g, "tokenizer.ggml.add_space_prefix", 1, add_space, e))
        return -1;
    t->bos = bos;
    t->eos = eos;
    if (add_bos && bos >= 0) {
        if (!(t->post_prefix = yt_malloc(sizeof *t->post_prefix, "the post-processor's BOS", e)))
            return yt_err_prefix(e, "%s", t->path);
        t->post_prefix[0] = (uint32_t)bos;
        t->n_prefix = 1;
    }
    if (add_eos && eos >= 0) {
        if (!(t->post_suffix = yt_malloc(sizeof *t->post_suffix, "the post-processor's EOS", e)))
            return yt_err_prefix(e, "%s", t->path);
        t->post_suffix[0] = (uint32_t)eos;
        t->n_suffix = 1;
    }
    return 0;
}

/* tokenizer.ggml.pre -> the HF pre-tokenizer llama.cpp's table stands for */
static int gpt2_pretokenizer(yt_tok *t, yt_gg_str pre, yt_err *e)
{
    static const char *gpt2[] = {"default", "gpt-2", "gpt2", "olmo", "jais", NULL};
    static const char *llama3[] = {"llama3", "llama-v3", "llama-bpe", "smaug-bpe", "dbrx", NULL};
    static const char *digits_gpt2[] = {"smollm", "starcoder", "refact", "command-r", "codeshell",
                                        "exaone", "minerva", NULL};
    static const char *qwen2[] = {"qwen2", NULL};
    const char **lists[] = {gpt2, llama3, digits_gpt2, qwen2};
    int which = -1;
    for (int l = 0; l < 4 && which < 0; l++)
        for (int i = 0; lists[l][i]; i++)
            if (yt_gg_str_eq(pre, lists[l][i]))
                which = l;
    if (which < 0)
        return yt_errf(e, "%s: key 'tokenizer.ggml.pre': pre-tokenizer '%.*s' is not supported "
                       "(known: default, gpt-2, llama3/llama-bpe, smollm/starcoder/refact, qwen2)",
                       t->path, SHOW(pre));
    char where[600];
    snprintf(where, sizeof where, "%s: key 'tokenizer.ggml.pre'", t->path);
    if (which == 1 || which == 3) {
        const char *re = which == 1 ? tok_llama3_regex : tok_qwen2_regex;
        if (tok_pre_add_split(&t->pre, re, strlen(re), 1, TB_ISOLATED, 0, where, e))
            return -1;
    }
    if (which == 2 && tok_pre_add_digits(&t->pre, 1, where, e))
        return -1;
    if (tok_pre_add_bytelevel(&t->pre, 0, which == 0 || which == 2, where, e))
        return -1;
    /* GGUF tokenizers have always entered their ByteLevel step into the fingerprint
     * with is_regex 0 (tokenizer.json ones with 1): datasets made with them store it */
    t->pre.v[t->pre.n - 1].is_regex = 0;
    return 0;
}

/* gpt2: byte-level BPE, merges "a b" over the stored pieces. */
static int gpt2_model(yt_tok *t, const yt_gg *g, yt_err *e)
{
    const yt_gg_value *merges = yt_gg_find(g, "tokenizer.ggml.merges");
    const yt_gg_value *pre = yt_gg_find(g, "tokenizer.ggml.pre");
    if (!merges || merges->type != YT_GG_ARRAY || merges->elem != YT_GG_STRING)
        return yt_errf(e, "%s: key 'tokenizer.ggml.merges': %s", t->path,
                       merges ? "expected an array of strings"
                              : "missing (needed by a gpt2 tokenizer)");
    yt_gg_str pname = {"default", 7};
    if (pre) {
        if (pre->type != YT_GG_STRING)
            return yt_errf(e, "%s: key 'tokenizer.ggml.pre': expected a string", t->path);
        pname = pre->str;
    }
    char where[600];
    snprintf(where, sizeof where, "%s: key 'tokenizer.ggml.model'", t->path);
    if (gpt2_pretokenizer(t, pname, e) || tok_dec_add(&t->dec, TD_BYTELEVEL, where, e))
        return -1;
    tok_strmap ids;
    if (tok_vocab_first_ids(&t->vocab, &ids, e))
        return yt_err_prefix(e, "%s: key 'tokenizer.ggml.tokens'", t->path);
    int rc = tok_bpe_merges_init(&t->bpe, (size_t)merges->n, e);
    if (rc)
        yt_err_prefix(e, "%s: key 'tokenizer.ggml.merges'", t->path);
    yt_tok_text cat = {0};
    for (uint64_t i = 0; i < merges->n && !rc; i++) {
        const char *s = merges->strs[i].p;
        size_t len = (size_t)merges->strs[i].len;
        const char *sp = memchr(s, ' ', len);
        int r = 1;
        if (sp) {
            size_t al = (size_t)(sp - s);
            r = tok_bpe_merge(&t->bpe, &ids, s, al, sp + 1, len - al - 1, (uint32_t)i, &cat, e);
        }
        if (r < 0)
            rc = yt_err_prefix(e, "%s: key 'tokenizer.ggml.merges'[%llu]", t->path,
                               (unsigned long long)i);
        else if (r > 0)
            rc = yt_errf(e, "%s: key 'tokenizer.ggml.merges'[%llu]: '%.*s' is not two tokens "
                         "whose concatenation is a token", t->path, (unsigned long long)i,
                         SHOW(merges->strs[i]));
    }
    free(cat.s);
    tok_sm_free(&ids);
    t->bpe.n_merges = (size_t)merges->n;
    t->bpe.unk_id = -1; /* byte-level: every byte is a token */
    return rc;
}

/* llama: SentencePiece BPE as transformers' LlamaConverter (legacy): normalizer
 * Prepend("▁") (when add_space_prefix) + Replace(" ", "▁"), byte fallback, merges
 * from the scores; decoder Replace("▁", " "), ByteFallback, Fuse, Strip(1). */
static int llama_model(yt_tok *t, const yt_gg *g, int64_t unk, int add_space, yt_err *e)
{
    const yt_gg_value *sc = yt_gg_find(g, "tokenizer.ggml.scores");
    uint32_t n = t->vocab.n_ids;
    if (!sc)
        return yt_errf(e, "%s: key 'tokenizer.ggml.scores': missing (needed by a llama tokenizer)",
                       t->path);
    float *scores = yt_alloc_array(n, sizeof *scores, "the token scores", e);
    if (!scores)
        return yt_err_prefix(e, "%s: key 'tokenizer.ggml.scores'", t->path);
    for (uint32_t i = 0; i < n; i++)
        scores[i] = (float)yt_gg_arr_float(sc, i);
    int rc = tok_bpe_merges_from_scores(&t->bpe, &t->vocab, scores, e);
    free(scores);
    if (rc)
        return yt_err_prefix(e, "%s: key 'tokenizer.ggml.scores'", t->path);
    t->bpe.unk_id = unk;
    t->bpe.fuse_unk = 1;
    t->bpe.byte_fallback = 1;
    char where[600];
    snprintf(where, sizeof where, "%s: key 'tokenizer.ggml.model'", t->path);
    const char *sp = "\xe2\x96\x81"; /* ▁ */
    if ((add_space && tok_norm_add_prepend(&t->norm, sp, 3, where, e)) ||
        tok_norm_add_replace(&t->norm, " ", 1, 0, sp, 3, where, e) ||
        tok_dec_add_replace(&t->dec, sp, 3, " ", 1, where, e) ||
        tok_dec_add(&t->dec, TD_BYTEFALLBACK, where, e) ||
        tok_dec_add(&t->dec, TD_FUSE, where, e) ||
        (add_space && tok_dec_add_strip(&t->dec, ' ', 1, 0, where, e)))
        return -1;
    return 0;
}

static int read_input(void *in, void *dst, size_t n, size_t *got, yt_err *e)
{
    return tok_input_read(in, dst, n, got, e);
}

int tok_gguf_fill(yt_tok *t, tok_input *in, yt_err *e)
{
    yt_gg *g;
    /* the metadata alone, read as it comes (a FIFO works); a stream's is bounded */
    if (yt_gg_read_meta(&g, read_input, in, in->name, in->size_known ? in->size : TOK_INPUT_MAX,
                        in->size_known, e))
        return -1;
    const yt_gg_value *model = yt_gg_find(g, "tokenizer.ggml.model");
    int rc = -1, is_gpt2 = 0, is_llama = 0, add_space = 1;
    int64_t unk = -1;
    if (!model || model->type != YT_GG_STRING) {
        yt_errf(e, "%s: key 'tokenizer.ggml.model': %s", t->path,
                model ? "expected a string" : "missing (no tokenizer in this GGUF file)");
        goto done;
    }
    is_gpt2 = yt_gg_str_eq(model->str, "gpt2");
    is_llama = yt_gg_str_eq(model->str, "llama");
    if (!is_gpt2 && !is_llama) {
        yt_errf(e, "%s: key 'tokenizer.ggml.model': '%.*s' is not supported (gpt2 or llama)",
                t->path, SHOW(model->str));
        goto done;
    }
    if (read_vocab(t, g, e) || read_specials(t, g, is_llama, &unk, &add_space, e) ||
        read_added(t, g, e))
        goto done;
    rc = is_gpt2 ? gpt2_model(t, g, e) : llama_model(t, g, unk, add_space, e);
done:
    yt_gg_close(g);
    return rc;
}
