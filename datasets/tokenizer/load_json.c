/* Loading a Hugging Face tokenizer.json (jansson) into the parts of a tokenizer.
 * Every error names the file and the key path ("model.merges[12]",
 * "pre_tokenizer.pretokenizers[0].pattern"). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer/load_json.h"
#include "datasets/tokenizer/utf8.h"
#include "datasets/tokenizer/yt_tok.h"

typedef struct ld {
    yt_tok *t;
    const char *file;
    yt_err *e;
} ld;

static int bad(ld *L, const char *key, const char *fmt, const char *arg)
{
    char what[512];
    snprintf(what, sizeof what, fmt, arg ? arg : "");
    return yt_errf(L->e, "%s: key '%s': %s", L->file, key, what);
}

/* "FILE: key 'KEY'" for the parts' messages. */
static const char *where(ld *L, const char *key, char buf[600])
{
    snprintf(buf, 600, "%s: key '%s'", L->file, key);
    return buf;
}

static const char *get_type(json_t *o) { return json_string_value(json_object_get(o, "type")); }

/* Boolean member with default; a non-boolean is an error. */
static int get_bool(ld *L, json_t *o, const char *name, int def, const char *key, int *out)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v)) {
        char k[512];
        snprintf(k, sizeof k, "%s.%s", key, name);
        return bad(L, k, "expected true or false", NULL);
    }
    *out = json_is_true(v);
    return 0;
}

static int get_str(ld *L, json_t *o, const char *name, const char *key, const char **out,
                   size_t *len)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v)) {
        char k[512];
        snprintf(k, sizeof k, "%s.%s", key, name);
        return bad(L, k, "expected a string", NULL);
    }
    *out = json_string_value(v);
    if (len)
        *len = json_string_length(v);
    return 0;
}

/* {"String": s} or {"Regex": r} */
static int get_pattern(ld *L, json_t *o, const char *key, int *is_regex, const char **s,
                       size_t *n)
{
    char k[512];
    snprintf(k, sizeof k, "%s.pattern", key);
    json_t *p = json_object_get(o, "pattern");
    json_t *v;
    if (json_is_object(p) && json_is_string(v = json_object_get(p, "String"))) {
        *is_regex = 0;
    } else if (json_is_object(p) && json_is_string(v = json_object_get(p, "Regex"))) {
        *is_regex = 1;
    } else {
        return bad(L, k, "expected {\"String\": ...} or {\"Regex\": ...}", NULL);
    }
    *s = json_string_value(v);
    *n = json_string_length(v);
    return 0;
}

/* ---------------- normalizer ---------------- */

static int parse_norm(ld *L, json_t *o, const char *key)
{
    if (!o || json_is_null(o))
        return 0;
    const char *ty = get_type(o);
    if (!ty)
        return bad(L, key, "normalizer without a \"type\"", NULL);
    tok_norm_chain *c = &L->t->norm;
    char w[600];
    if (!strcmp(ty, "Sequence")) {
        json_t *a = json_object_get(o, "normalizers");
        if (!json_is_array(a))
            return bad(L, key, "Sequence without a \"normalizers\" array", NULL);
        for (size_t i = 0; i < json_array_size(a); i++) {
            char k[512];
            snprintf(k, sizeof k, "%s.normalizers[%zu]", key, i);
            if (parse_norm(L, json_array_get(a, i), k))
                return -1;
        }
        return 0;
    }
    if (!strcmp(ty, "Prepend")) {
        const char *s;
        size_t len;
        if (get_str(L, o, "prepend", key, &s, &len))
            return -1;
        return tok_norm_add_prepend(c, s, len, where(L, key, w), L->e);
    }
    if (!strcmp(ty, "Replace")) {
        int isre;
        const char *s, *content;
        size_t len, clen;
        if (get_pattern(L, o, key, &isre, &s, &len) ||
            get_str(L, o, "content", key, &content, &clen))
            return -1;
        char k[512];
        snprintf(k, sizeof k, "%s.pattern", key);
        return tok_norm_add_replace(c, s, len, isre, content, clen, where(L, k, w), L->e);
    }
    if (!strcmp(ty, "NFC"))
        return tok_norm_add_nfc(c, where(L, key, w), L->e);
    return bad(L, key, "normalizer type '%s' is not supported", ty);
}

/* ---------------- pre-tokenizer ---------------- */

static int parse_prepend_scheme(ld *L, json_t *o, const char *key, int *scheme)
{
    json_t *ps = json_object_get(o, "prepend_scheme");
    if (json_is_string(ps)) {
        const char *s = json_string_value(ps);
        if (!strcmp(s, "first"))
            *scheme = TM_FIRST;
        else if (!strcmp(s, "always"))
            *scheme = TM_ALWAYS;
        else if (!strcmp(s, "never"))
            *scheme = TM_NEVER;
        else
            return bad(L, key, "prepend_scheme '%s' is not first, always or never", s);
        return 0;
    }
    int aps;
    if (get_bool(L, o, "add_prefix_space", 1, key, &aps))
        return -1;
    *scheme = aps ? TM_ALWAYS : TM_NEVER;
    return 0;
}

static int parse_pre(ld *L, json_t *o, const char *key)
{
    if (!o || json_is_null(o))
        return 0;
    const char *ty = get_type(o);
    if (!ty)
        return bad(L, key, "pre-tokenizer without a \"type\"", NULL);
    tok_pre_chain *c = &L->t->pre;
    char w[600];
    if (!strcmp(ty, "Sequence")) {
        json_t *a = json_object_get(o, "pretokenizers");
        if (!json_is_array(a))
            return bad(L, key, "Sequence without a \"pretokenizers\" array", NULL);
        for (size_t i = 0; i < json_array_size(a); i++) {
            char k[512];
            snprintf(k, sizeof k, "%s.pretokenizers[%zu]", key, i);
            if (parse_pre(L, json_array_get(a, i), k))
                return -1;
        }
        return 0;
    }
    if (!strcmp(ty, "Split")) {
        const char *s;
        size_t len;
        int isre, invert = 0;
        if (get_pattern(L, o, key, &isre, &s, &len))
            return -1;
        const char *b;
        if (get_str(L, o, "behavior", key, &b, NULL))
            return -1;
        static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                      "Contiguous"};
        int behavior = -1;
        for (int i = 0; i < 5; i++)
            if (!strcmp(b, names[i]))
                behavior = i;
        char k[512];
        if (behavior < 0) {
            snprintf(k, sizeof k, "%s.behavior", key);
            return bad(L, k, "unknown behavior '%s'", b);
        }
        if (get_bool(L, o, "invert", 0, key, &invert))
            return -1;
        snprintf(k, sizeof k, "%s.pattern", key);
        return tok_pre_add_split(c, s, len, isre, behavior, invert, where(L, k, w), L->e);
    }
    if (!strcmp(ty, "ByteLevel")) {
        int aps = 0, use_regex = 0;
        if (get_bool(L, o, "add_prefix_space", 1, key, &aps) ||
            get_bool(L, o, "use_regex", 1, key, &use_regex))
            return -1;
        return tok_pre_add_bytelevel(c, aps, use_regex, where(L, key, w), L->e);
    }
    if (!strcmp(ty, "Digits")) {
        int individual = 0;
        if (get_bool(L, o, "individual_digits", 0, key, &individual))
            return -1;
        return tok_pre_add_digits(c, individual, where(L, key, w), L->e);
    }
    if (!strcmp(ty, "Metaspace")) {
        const char *r;
        size_t rl;
        int scheme = 0, split = 0;
        if (get_str(L, o, "replacement", key, &r, &rl))
            return -1;
        uint32_t cp;
        if (rl == 0 || rl > 4 || tok_utf8_get(r, rl, &cp) != rl)
            return bad(L, key, "replacement must be one character", NULL);
        if (parse_prepend_scheme(L, o, key, &scheme) || get_bool(L, o, "split", 1, key, &split))
            return -1;
        return tok_pre_add_metaspace(c, r, rl, scheme, split, where(L, key, w), L->e);
    }
    return bad(L, key, "pre-tokenizer type '%s' is not supported", ty);
}

/* ---------------- decoder ---------------- */

static int one_char(ld *L, json_t *o, const char *name, const char *key, uint32_t *cp)
{
    const char *s;
    size_t n;
    if (get_str(L, o, name, key, &s, &n))
        return -1;
    if (n == 0 || n > 4 || tok_utf8_get(s, n, cp) != n) {
        char k[512];
        snprintf(k, sizeof k, "%s.%s", key, name);
        return bad(L, k, "must be one character", NULL);
    }
    return 0;
}

static int parse_dec(ld *L, json_t *o, const char *key)
{
    if (!o || json_is_null(o))
        return 0;
    tok_dec_chain *c = &L->t->dec;
    c->present = 1;
    const char *ty = get_type(o);
    if (!ty)
        return bad(L, key, "decoder without a \"type\"", NULL);
    char w[600];
    if (!strcmp(ty, "Sequence")) {
        json_t *a = json_object_get(o, "decoders");
        if (!json_is_array(a))
            return bad(L, key, "Sequence without a \"decoders\" array", NULL);
        for (size_t i = 0; i < json_array_size(a); i++) {
            char k[512];
            snprintf(k, sizeof k, "%s.decoders[%zu]", key, i);
            if (parse_dec(L, json_array_get(a, i), k))
                return -1;
        }
        return 0;
    }
    if (!strcmp(ty, "ByteLevel"))
        return tok_dec_add(c, TD_BYTELEVEL, where(L, key, w), L->e);
    if (!strcmp(ty, "ByteFallback"))
        return tok_dec_add(c, TD_BYTEFALLBACK, where(L, key, w), L->e);
    if (!strcmp(ty, "Fuse"))
        return tok_dec_add(c, TD_FUSE, where(L, key, w), L->e);
    if (!strcmp(ty, "Replace")) {
        int isre;
        const char *s, *content;
        size_t n, cn;
        if (get_pattern(L, o, key, &isre, &s, &n) || get_str(L, o, "content", key, &content, &cn))
            return -1;
        if (isre)
            return bad(L, key, "a Replace decoder with a Regex pattern is not supported", NULL);
        return tok_dec_add_replace(c, s, n, content, cn, where(L, key, w), L->e);
    }
    if (!strcmp(ty, "Strip")) {
        uint32_t content;
        if (one_char(L, o, "content", key, &content))
            return -1;
        json_t *a = json_object_get(o, "start"), *b = json_object_get(o, "stop");
        if (!json_is_integer(a) || !json_is_integer(b) || json_integer_value(a) < 0 ||
            json_integer_value(b) < 0)
            return bad(L, key, "Strip needs non-negative integers \"start\" and \"stop\"", NULL);
        return tok_dec_add_strip(c, content, (size_t)json_integer_value(a),
                                 (size_t)json_integer_value(b), where(L, key, w), L->e);
    }
    if (!strcmp(ty, "Metaspace")) {
        uint32_t repl;
        int scheme = 0;
        if (one_char(L, o, "replacement", key, &repl) ||
            parse_prepend_scheme(L, o, key, &scheme))
            return -1;
        return tok_dec_add_metaspace(c, repl, scheme, where(L, key, w), L->e);
    }
    return bad(L, key, "decoder type '%s' is not supported", ty);
}

/* ---------------- post-processor ---------------- */

static int add_ids(ld *L, uint32_t **arr, size_t *n, const uint32_t *ids, size_t k, int front)
{
    uint32_t *v = yt_realloc_array(*arr, *n + k + 1, sizeof *v, "the post-processor's ids", L->e);
    if (!v)
        return yt_err_prefix(L->e, "%s", L->file);
    if (front) {
        memmove(v + k, v, *n * sizeof *v);
        memcpy(v, ids, k * sizeof *v);
    } else {
        memcpy(v + *n, ids, k * sizeof *v);
    }
    *arr = v;
    *n += k;
    return 0;
}

static int special_pair(ld *L, json_t *o, const char *name, const char *key, uint32_t *id)
{
    json_t *a = json_object_get(o, name);
    char k[512];
    snprintf(k, sizeof k, "%s.%s", key, name);
    if (!json_is_array(a) || json_array_size(a) != 2 || !json_is_integer(json_array_get(a, 1)) ||
        json_integer_value(json_array_get(a, 1)) < 0 ||
        json_integer_value(json_array_get(a, 1)) > UINT32_MAX)
        return bad(L, k, "expected [\"token\", id]", NULL);
    *id = (uint32_t)json_integer_value(json_array_get(a, 1));
    return 0;
}

/* TemplateProcessing: the special tokens around sequence A of the single template. */
static int parse_template(ld *L, json_t *o, const char *key)
{
    yt_tok *t = L->t;
    json_t *single = json_object_get(o, "single"), *sp = json_object_get(o, "special_tokens");
    char k[512];
    snprintf(k, sizeof k, "%s.single", key);
    if (!json_is_array(single))
        return bad(L, k, "expected an array", NULL);
    uint32_t *pre = NULL, *suf = NULL;
    size_t npre = 0, nsuf = 0;
    int seen_a = 0, rc = 0;
    for (size_t i = 0; i < json_array_size(single) && !rc; i++) {
        json_t *it = json_array_get(single, i), *st, *sq;
        snprintf(k, sizeof k, "%s.single[%zu]", key, i);
        if ((sq = json_object_get(it, "Sequence"))) {
            const char *which = json_string_value(json_object_get(sq, "id"));
            if (!which || strcmp(which, "A") != 0 || seen_a)
                rc = bad(L, k, "a single template must hold sequence A exactly once", NULL);
            seen_a = 1;
        } else if ((st = json_object_get(it, "SpecialToken"))) {
            const char *name = json_string_value(json_object_get(st, "id"));
            json_t *def = name ? json_object_get(sp, name) : NULL;
            json_t *ids = json_object_get(def, "ids");
            if (!name || !json_is_array(ids)) {
                rc = bad(L, k, "special token '%s' is not in special_tokens", name);
                break;
            }
            for (size_t j = 0; j < json_array_size(ids) && !rc; j++) {
                json_t *x = json_array_get(ids, j);
                if (!json_is_integer(x) || json_integer_value(x) < 0 ||
                    json_integer_value(x) > UINT32_MAX) {
                    rc = bad(L, k, "special token '%s' has a bad id", name);
                    break;
                }
                uint32_t id = (uint32_t)json_integer_value(x);
                rc = seen_a ? add_ids(L, &suf, &nsuf, &id, 1, 0)
                            : add_ids(L, &pre, &npre, &id, 1, 0);
            }
        } else {
            rc = bad(L, k, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}", NULL);
        }
    }
    if (!rc && !seen_a)
        rc = bad(L, key, "the single template has no sequence A", NULL);
    if (!rc && npre)
        rc = add_ids(L, &t->post_prefix, &t->n_prefix, pre, npre, 1);
    if (!rc && nsuf)
        rc = add_ids(L, &t->post_suffix, &t->n_suffix, suf, nsuf, 0);
    free(pre);
    free(suf);
    return rc;
}

static int parse_post(ld *L, json_t *o, const char *key)
{
    yt_tok *t = L->t;
    if (!o || json_is_null(o))
        return 0;
    const char *ty = get_type(o);
    if (!ty)
        return bad(L, key, "post-processor without a \"type\"", NULL);
    if (!strcmp(ty, "Sequence")) {
        json_t *a = json_object_get(o, "processors");
        if (!json_is_array(a))
            return bad(L, key, "Sequence without a \"processors\" array", NULL);
        for (size_t i = 0; i < json_array_size(a); i++) {
            char k[512];
            snprintf(k, sizeof k, "%s.processors[%zu]", key, i);
            if (parse_post(L, json_array_get(a, i), k))
                return -1;
        }
        return 0;
    }
    if (!strcmp(ty, "ByteLevel"))
        return 0; /* offsets only */
    if (!strcmp(ty, "RobertaProcessing") || !strcmp(ty, "BertProcessing")) {
        uint32_t cls, sep;
        if (special_pair(L, o, "cls", key, &cls) || special_pair(L, o, "sep", key, &sep))
            return -1;
        return add_ids(L, &t->post_prefix, &t->n_prefix, &cls, 1, 1) ||
               add_ids(L, &t->post_suffix, &t->n_suffix, &sep, 1, 0);
    }
    if (!strcmp(ty, "TemplateProcessing"))
        return parse_template(L, o, key);
    return bad(L, key, "post-processor type '%s' is not supported", ty);
}

/* ---------------- model ---------------- */

/* VMAP: piece -> id of the model vocabulary (keys borrowed from T's pieces). */
static int parse_vocab(ld *L, json_t *m, tok_strmap *vmap)
{
    yt_tok *t = L->t;
    json_t *vocab = json_object_get(m, "vocab");
    if (!json_is_object(vocab))
        return bad(L, "model.vocab", "expected an object of token -> id", NULL);
    size_t nv = json_object_size(vocab);
    if (tok_sm_init(vmap, nv, L->e))
        return yt_err_prefix(L->e, "%s: key 'model.vocab'", L->file);
    uint32_t maxid = 0;
    const char *k;
    json_t *v;
    json_object_foreach(vocab, k, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= 0xfffffff0LL) {
            char kk[600];
            snprintf(kk, sizeof kk, "model.vocab[\"%.200s\"]", k);
            return bad(L, kk, "expected a token id (integer >= 0)", NULL);
        }
        uint32_t id = (uint32_t)json_integer_value(v);
        if (id + 1 > maxid)
            maxid = id + 1;
    }
    char w[600];
    where(L, "model.vocab", w);
    if (tok_vocab_reserve(&t->vocab, maxid, w, L->e))
        return -1;
    json_object_foreach(vocab, k, v) {
        uint32_t id = (uint32_t)json_integer_value(v);
        size_t len = strlen(k); /* jansson object keys are NUL-terminated */
        if (tok_vocab_set(&t->vocab, id, k, len, w, L->e))
            return -1;
        if (tok_sm_put(vmap, t->vocab.piece[id], len, id, L->e))
            return yt_err_prefix(L->e, "%s", w);
    }
    return 0;
}

static int parse_merges(ld *L, json_t *m, const tok_strmap *vmap)
{
    tok_bpe *bpe = &L->t->bpe;
    json_t *merges = json_object_get(m, "merges");
    if (!json_is_array(merges))
        return bad(L, "model.merges", "expected an array", NULL);
    size_t nm = json_array_size(merges);
    if (tok_bpe_merges_init(bpe, nm, L->e))
        return yt_err_prefix(L->e, "%s: key 'model.merges'", L->file);
    yt_tok_text cat = {0};
    int rc = 0;
    for (size_t i = 0; i < nm && !rc; i++) {
        json_t *it = json_array_get(merges, i);
        const char *a, *b;
        size_t al, bl;
        char key[64];
        snprintf(key, sizeof key, "model.merges[%zu]", i);
        if (json_is_string(it)) {
            const char *s = json_string_value(it);
            size_t n = json_string_length(it);
            const char *sp = memchr(s, ' ', n);
            if (!sp) {
                rc = bad(L, key, "'%s' is not two tokens separated by a space", s);
                break;
            }
            a = s;
            al = (size_t)(sp - s);
            b = sp + 1;
            bl = n - al - 1;
        } else if (json_is_array(it) && json_array_size(it) == 2 &&
                   json_is_string(json_array_get(it, 0)) && json_is_string(json_array_get(it, 1))) {
            a = json_string_value(json_array_get(it, 0));
            al = json_string_length(json_array_get(it, 0));
            b = json_string_value(json_array_get(it, 1));
            bl = json_string_length(json_array_get(it, 1));
        } else {
            rc = bad(L, key, "expected \"a b\" or [\"a\", \"b\"]", NULL);
            break;
        }
        int r = tok_bpe_merge(bpe, vmap, a, al, b, bl, (uint32_t)i, &cat, L->e);
        char tokn[256];
        if (r == 1 || r == 2) {
            size_t tl = r == 1 ? al : bl;
            snprintf(tokn, sizeof tokn, "%.*s", (int)(tl > 200 ? 200 : tl), r == 1 ? a : b);
            rc = bad(L, key, "token '%s' is not in model.vocab", tokn);
        } else if (r == 3) {
            snprintf(tokn, sizeof tokn, "%.*s", (int)(cat.n > 200 ? 200 : cat.n), cat.s);
            rc = bad(L, key, "merged token '%s' is not in model.vocab", tokn);
        } else if (r < 0) {
            rc = yt_err_prefix(L->e, "%s: key '%s'", L->file, key);
        }
    }
    free(cat.s);
    bpe->n_merges = nm;
    return rc;
}

static int parse_model(ld *L, json_t *m, tok_strmap *vmap)
{
    tok_bpe *bpe = &L->t->bpe;
    if (!json_is_object(m))
        return bad(L, "model", "expected an object", NULL);
    const char *ty = get_type(m);
    if (ty && strcmp(ty, "BPE") != 0)
        return bad(L, "model.type", "model type '%s' is not supported (only BPE)", ty);
    json_t *dr = json_object_get(m, "dropout");
    if (dr && !json_is_null(dr) && !(json_is_number(dr) && json_number_value(dr) == 0.0))
        return bad(L, "model.dropout", "BPE dropout is not supported", NULL);
    const char *fix[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(m, fix[i]);
        if (v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0)) {
            char k[128];
            snprintf(k, sizeof k, "model.%s", fix[i]);
            return bad(L, k, "is not supported", NULL);
        }
    }
    if (get_bool(L, m, "fuse_unk", 0, "model", &bpe->fuse_unk) ||
        get_bool(L, m, "byte_fallback", 0, "model", &bpe->byte_fallback) ||
        get_bool(L, m, "ignore_merges", 0, "model", &bpe->ignore_merges))
        return -1;
    if (parse_vocab(L, m, vmap))
        return -1;
    json_t *unk = json_object_get(m, "unk_token");
    if (json_is_string(unk)) {
        const tok_sm_ent *en = tok_sm_get(vmap, json_string_value(unk), json_string_length(unk));
        if (!en)
            return bad(L, "model.unk_token", "'%s' is not in model.vocab", json_string_value(unk));
        bpe->unk_id = en->val;
    } else if (unk && !json_is_null(unk)) {
        return bad(L, "model.unk_token", "expected a string or null", NULL);
    }
    return parse_merges(L, m, vmap);
}

static int parse_added(ld *L, json_t *a)
{
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return bad(L, "added_tokens", "expected an array", NULL);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *o = json_array_get(a, i);
        char key[64];
        snprintf(key, sizeof key, "added_tokens[%zu]", i);
        json_t *id = json_object_get(o, "id");
        if (!json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= 0xfffffff0LL)
            return bad(L, key, "needs an integer \"id\"", NULL);
        tok_added ad;
        memset(&ad, 0, sizeof ad);
        const char *c;
        if (get_str(L, o, "content", key, &c, &ad.len))
            return -1;
        ad.content = (char *)c;
        ad.id = (uint32_t)json_integer_value(id);
        if (get_bool(L, o, "special", 0, key, &ad.special) ||
            get_bool(L, o, "lstrip", 0, key, &ad.lstrip) ||
            get_bool(L, o, "rstrip", 0, key, &ad.rstrip) ||
            get_bool(L, o, "normalized", !ad.special, key, &ad.normalized) ||
            get_bool(L, o, "single_word", 0, key, &ad.single_word))
            return -1;
        if (tok_added_add(&L->t->added, &L->t->vocab, &ad, L->file, L->e))
            return yt_err_prefix(L->e, "key '%s'", key);
    }
    return 0;
}

/* The post-processor's ids must be tokens. */
static int check_post(ld *L)
{
    const yt_tok *t = L->t;
    const uint32_t *lists[2] = {t->post_prefix, t->post_suffix};
    size_t ns[2] = {t->n_prefix, t->n_suffix};
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < ns[l]; i++)
            if (lists[l][i] >= t->vocab.n_ids || !t->vocab.piece[lists[l][i]])
                return yt_errf(L->e, "%s: key 'post_processor': id %u is not a token", L->file,
                               lists[l][i]);
    return 0;
}

/* BOS / EOS: the post-processor's, else a special added token of a usual name. */
static void guess_bos_eos(yt_tok *t)
{
    if (t->n_prefix)
        t->bos = t->post_prefix[0];
    if (t->n_suffix)
        t->eos = t->post_suffix[t->n_suffix - 1];
    static const char *bos[] = {"<s>", "<|begin_of_text|>", "<|startoftext|>", "<bos>"};
    static const char *eos[] = {"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"};
    for (size_t i = 0; i < t->added.n; i++) {
        const tok_added *a = &t->added.v[i];
        if (!a->special)
            continue;
        for (int k = 0; k < 4; k++) {
            if (t->bos < 0 && !strcmp(a->content, bos[k]))
                t->bos = a->id;
            if (t->eos < 0 && !strcmp(a->content, eos[k]))
                t->eos = a->id;
        }
    }
}

int tok_json_fill(yt_tok *t, const char *text, size_t len, yt_err *e)
{
    const char *name = t->path;
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root)
        return yt_errf(e, "%s: line %d: %s", name, je.line, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return yt_errf(e, "%s: not a JSON object", name);
    }
    ld L = {t, name, e};
    tok_strmap vmap = {0};
    int rc = parse_model(&L, json_object_get(root, "model"), &vmap);
    tok_sm_free(&vmap);
    if (!rc)
        rc = parse_added(&L, json_object_get(root, "added_tokens"));
    if (!rc)
        rc = parse_norm(&L, json_object_get(root, "normalizer"), "normalizer");
    if (!rc)
        rc = parse_pre(&L, json_object_get(root, "pre_tokenizer"), "pre_tokenizer");
    if (!rc)
        rc = parse_post(&L, json_object_get(root, "post_processor"), "post_processor");
    if (!rc)
        rc = parse_dec(&L, json_object_get(root, "decoder"), "decoder");
    json_decref(root);
    if (!rc)
        rc = check_post(&L);
    if (!rc)
        guess_bos_eos(t);
    return rc;
}
