/* Chat rendering for prep and tokenize: the model's own Jinja chat template (or a
 * built-in / a file), run by datasets/template, tokenized as one string as
 * transformers' apply_chat_template(tokenize=True) does, and the loss mask derived
 * from where the bytes of the text came from.
 *
 * Which tokens count (without --train-on-inputs):
 *  - a template with {% generation %} blocks: the tokens that overlap what those
 *    blocks wrote (transformers' return_assistant_tokens_mask, TRL's assistant-only
 *    loss);
 *  - otherwise each assistant turn: from where the conversation before it, rendered
 *    with add_generation_prompt, ends (when that is a prefix of the text: TRL's and
 *    axolotl's "diff of prefixes", so "<think>\n" or a tool-call wrapper the model
 *    writes before the content counts) or else from its content's first byte, to
 *    its content's last byte (bytes are traced through the interpreter: trim,
 *    slicing, split, replace ... keep their origin, so templates that render earlier
 *    turns differently, e.g. drop their reasoning or move the system prompt, are
 *    handled: only what is in the text counts), then the tokens after it up to and
 *    including the first special token or EOS (<|im_end|>, <|eot_id|>, </s>,
 *    <end_of_turn> ...) when it comes before any other message's content.  A
 *    template that writes no end token after the content gets the content counted.
 * Token <-> byte mapping: each run of equally tagged bytes is tokenized alone; when
 * the pieces' ids concatenated equal the whole text's ids, every token belongs to
 * one run.  Otherwise (a pre-token crosses a run boundary, or a normalizer acts at
 * a piece start) the boundary token is found by tokenizing the text up to the
 * boundary and comparing with the whole: a token that straddles a boundary belongs
 * to both sides. */
#define _POSIX_C_SOURCE 200809L
#include "datasets/datasets.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/json.h"
#include "datasets/template/template.h"
#include "model/gguf.h"

/* Hugging Face's ChatML (transformers' former default_chat_template) and Meta
 * Llama 3 Instruct's template, as the models ship them. */
static const char CHATML[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}";
static const char LLAMA3[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | "
    "trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
    "{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

#define HOW "--chat-template chatml|llama3|FILE.jinja"

enum { F_ASSIST = 1, F_CONTENT = 2, F_GEN = 4 };

struct yt_chat {
    yt_tpl *tpl;
    json_t *vars;     /* special tokens, add_generation_prompt, tools, documents */
    yt_tok *tok;
    int64_t eos;
    yt_tpl_out out, pout; /* the text; a conversation's head (turn_start) */
    yt_tok_ids whole, piece;
    uint8_t *flags, *bcls;  /* classes per token, per byte of the text */
    size_t flags_cap, bcls_cap;
};

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_gguf(const char *p)
{
    if (ends_with(p, ".gguf"))
        return 1;
    FILE *f = fopen(p, "rb");
    if (!f)
        return 0;
    char m[4] = {0};
    size_t n = fread(m, 1, 4, f);
    fclose(f);
    return n == 4 && !memcmp(m, "GGUF", 4);
}

/* The template text of a tokenizer_config.json "chat_template" value. */
static const char *config_template(json_t *ct, const char *path, yt_err *e, int *err)
{
    *err = 0;
    if (json_is_string(ct))
        return json_string_value(ct);
    if (json_is_array(ct)) { /* [{"name": "default", "template": "..."}, ...] */
        size_t i;
        json_t *it;
        json_array_foreach(ct, i, it) {
            const char *nm = json_string_value(json_object_get(it, "name"));
            const char *tx = json_string_value(json_object_get(it, "template"));
            if (nm && tx && !strcmp(nm, "default"))
                return tx;
        }
        *err = 1;
        yt_errf(e, "%s: \"chat_template\" is a list without a template named \"default\"; "
                   "choose one with " HOW, path);
        return NULL;
    }
    if (ct && !json_is_null(ct)) {
        *err = 1;
        yt_errf(e, "%s: \"chat_template\" is neither a string nor a list of named templates",
                path);
    }
    return NULL;
}

/* "bos_token": "<s>" or {"content": "<s>", ...}. */
static void add_token_var(json_t *vars, const char *key, json_t *v)
{
    if (json_is_object(v))
        v = json_object_get(v, "content");
    if (json_is_string(v) && !json_object_get(vars, key))
        json_object_set_new(vars, key, json_string(json_string_value(v)));
}

static const char *const special_keys[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                           "pad_token", "cls_token", "mask_token", NULL};

static void vars_from_config(json_t *vars, json_t *cfg)
{
    for (int i = 0; special_keys[i]; i++)
        add_token_var(vars, special_keys[i], json_object_get(cfg, special_keys[i]));
    json_t *add = json_object_get(cfg, "additional_special_tokens");
    if (json_is_array(add) && !json_object_get(vars, "additional_special_tokens")) {
        json_t *l = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(add, i, x) {
            if (json_is_object(x))
                x = json_object_get(x, "content");
            if (json_is_string(x))
                json_array_append_new(l, json_string(json_string_value(x)));
        }
        json_object_set_new(vars, "additional_special_tokens", l);
    }
}

static void add_piece(json_t *vars, const char *key, yt_tok *tok, int64_t id)
{
    const char *p = id >= 0 ? yt_tok_piece(tok, (uint32_t)id) : NULL;
    if (p && !json_object_get(vars, key))
        json_object_set_new(vars, key, json_string(p));
}

/* Reads FILE into a NUL-terminated string (the template source). */
static char *read_text(const char *path, size_t *len, yt_err *e)
{
    char *s = NULL;
    if (yt_read_file(path, &s, len, e) != 0)
        return NULL;
    return s;
}

typedef struct source {
    char *text;       /* owned */
    size_t len;
    char name[4400];
} source;

static int set_source(source *src, const char *text, size_t len, yt_err *e)
{
    src->text = yt_malloc(len + 1, "the chat template's text", e);
    if (!src->text)
        return -1;
    memcpy(src->text, text, len);
    src->text[len] = 0;
    src->len = len;
    return 0;
}

/* The model's own template: DIR/chat_template.jinja, DIR/tokenizer_config.json, or
 * the GGUF's tokenizer.chat_template.  cfg: the parsed tokenizer_config.json or NULL. */
static int model_template(source *src, const char *model, const char *dir, json_t *cfg,
                          const char *cfg_path, int gguf, yt_err *e)
{
    if (gguf) {
        yt_gg *g = NULL;
        if (yt_gg_open(&g, model, e) != 0)
            return -1;
        const yt_gg_value *v = yt_gg_find(g, "tokenizer.chat_template");
        int rc;
        if (v && v->type == YT_GG_STRING) {
            snprintf(src->name, sizeof src->name, "%s: tokenizer.chat_template", model);
            rc = set_source(src, v->str.p, (size_t)v->str.len, e);
        } else {
            rc = yt_errf(e, "%s has no chat template (no tokenizer.chat_template key); give one "
                            "with " HOW, model);
        }
        yt_gg_close(g);
        return rc;
    }
    char path[4300];
    snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
    if (yt_json_file_exists(path)) {
        snprintf(src->name, sizeof src->name, "%s", path);
        src->text = read_text(path, &src->len, e);
        return src->text ? 0 : -1;
    }
    int err;
    const char *t = cfg ? config_template(json_object_get(cfg, "chat_template"), cfg_path, e, &err)
                        : NULL;
    if (cfg && err)
        return -1;
    if (!t) {
        if (cfg)
            return yt_errf(e, "%s has no chat template (no \"chat_template\" in %s); give one "
                              "with " HOW, model, cfg_path);
        return yt_errf(e, "%s has no chat template (no tokenizer_config.json or "
                          "chat_template.jinja in %s); give one with " HOW, model, dir);
    }
    snprintf(src->name, sizeof src->name, "%s: chat_template", cfg_path);
    return set_source(src, t, strlen(t), e);
}

int yt_chat_open(yt_chat **out, const char *which, const char *model, yt_tok *tok,
                 int64_t eos_id, yt_err *e)
{
    *out = NULL;
    if (!which || !which[0])
        which = "auto";
    int gguf = model && model[0] && !is_dir(model) && is_gguf(model);
    char dir[4096] = "";
    if (model && model[0] && !gguf) {
        if (is_dir(model)) {
            snprintf(dir, sizeof dir, "%s", model);
        } else {
            snprintf(dir, sizeof dir, "%s", model);
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = 0;
            else
                snprintf(dir, sizeof dir, ".");
        }
    }
    /* tokenizer_config.json: template and special-token variables */
    char cfg_path[4300] = "";
    json_t *cfg = NULL;
    if (dir[0]) {
        snprintf(cfg_path, sizeof cfg_path, "%s/tokenizer_config.json", dir);
        if (yt_json_file_exists(cfg_path)) {
            cfg = yt_json_load_file(cfg_path, 0, e);
            if (!cfg)
                return -1;
            if (!json_is_object(cfg)) {
                json_decref(cfg);
                return yt_errf(e, "%s: not a JSON object", cfg_path);
            }
        }
    }
    source src = {0};
    int rc = 0;
    if (!strcmp(which, "chatml")) {
        snprintf(src.name, sizeof src.name, "built-in chatml template");
        rc = set_source(&src, CHATML, sizeof CHATML - 1, e);
    } else if (!strcmp(which, "llama3")) {
        snprintf(src.name, sizeof src.name, "built-in llama3 template");
        rc = set_source(&src, LLAMA3, sizeof LLAMA3 - 1, e);
    } else if (!strcmp(which, "auto")) {
        if (!model || !model[0])
            rc = yt_errf(e, "chat input needs the model's chat template: give --model (or "
                            "--tokenizer in the model's folder), or " HOW);
        else
            rc = model_template(&src, model, dir, cfg, cfg_path, gguf, e);
    } else {
        snprintf(src.name, sizeof src.name, "%s", which);
        src.text = read_text(which, &src.len, e);
        if (!src.text)
            rc = yt_err_prefix(e, "--chat-template %s is not auto, chatml, llama3 or a readable "
                                  "Jinja file", which);
    }
    yt_chat *c = NULL;
    if (rc == 0 && !(c = yt_calloc(1, sizeof *c, "a chat template", e)))
        rc = -1;
    if (rc == 0) {
        c->tok = tok;
        c->eos = eos_id;
        c->vars = json_object();
        if (yt_tpl_compile(&c->tpl, src.text, src.len, src.name, NULL, e) != 0) {
            yt_err_prefix(e, "chat template");
            size_t l = strlen(e->msg);
            snprintf(e->msg + l, sizeof e->msg - l, " (choose another with " HOW ")");
            rc = -1;
        }
    }
    if (rc == 0) {
        if (cfg)
            vars_from_config(c->vars, cfg);
        if (dir[0]) { /* special_tokens_map.json fills what tokenizer_config.json leaves */
            char p[4300];
            snprintf(p, sizeof p, "%s/special_tokens_map.json", dir);
            if (yt_json_file_exists(p)) {
                json_t *m = yt_json_load_file(p, 0, e);
                if (!m)
                    rc = -1;
                else if (json_is_object(m))
                    vars_from_config(c->vars, m);
                json_decref(m);
            }
        }
        if (tok && (gguf || (!cfg && rc == 0))) {
            add_piece(c->vars, "bos_token", tok, yt_tok_bos_id(tok));
            add_piece(c->vars, "eos_token", tok, yt_tok_eos_id(tok));
        }
        json_object_set_new(c->vars, "tools", json_null());
        json_object_set_new(c->vars, "documents", json_null());
    }
    free(src.text);
    json_decref(cfg);
    if (rc != 0) {
        yt_chat_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void yt_chat_free(yt_chat *c)
{
    if (!c)
        return;
    yt_tpl_free(c->tpl);
    json_decref(c->vars);
    yt_tpl_out_free(&c->out);
    yt_tpl_out_free(&c->pout);
    free(c->whole.v);
    free(c->piece.v);
    free(c->flags);
    free(c->bcls);
    free(c);
}

const char *yt_chat_name(const yt_chat *c) { return yt_tpl_name(c->tpl); }

const char *yt_chat_text(const yt_chat *c, size_t *n)
{
    if (n)
        *n = c->out.n;
    return c->out.text ? c->out.text : "";
}

static int render_into(yt_chat *c, json_t *messages, int agp, yt_tpl_out *out, yt_err *e)
{
    json_object_set(c->vars, "messages", messages);
    json_object_set_new(c->vars, "add_generation_prompt", json_boolean(agp));
    int rc = yt_tpl_render(c->tpl, c->vars, out, e);
    json_object_del(c->vars, "messages");
    return rc;
}

int yt_chat_render(yt_chat *c, struct json_t *messages, int add_generation_prompt, yt_err *e)
{
    if (!json_is_array(messages))
        return yt_errf(e, "\"messages\" is not an array");
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        if (!json_is_object(m))
            return yt_errf(e, "messages[%zu] is not an object", i);
        json_t *r = json_object_get(m, "role");
        if (!r)
            return yt_errf(e, "messages[%zu]: missing key \"role\"", i);
        if (!json_is_string(r))
            return yt_errf(e, "messages[%zu]: \"role\" is not a string", i);
    }
    int rc = render_into(c, messages, add_generation_prompt, &c->out, e);
    if (rc != 0 && !strstr(e->msg, "the template raised")) {
        size_t l = strlen(e->msg);
        snprintf(e->msg + l, sizeof e->msg - l, " (chat template; choose another with " HOW ")");
    }
    if (rc == 0 && yt_tok_utf8_check(c->out.text, c->out.n) < c->out.n)
        rc = yt_errf(e, "%s: the rendered text is not valid UTF-8", yt_tpl_name(c->tpl));
    return rc;
}

static int grow(void **p, size_t *cap, size_t n, size_t elem, const char *what, yt_err *e)
{
    if (n <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 256;
    while (nc < n)
        nc *= 2;
    void *v = yt_realloc_array(*p, nc, elem, what, e);
    if (!v)
        return -1;
    *p = v;
    *cap = nc;
    return 0;
}

/* Where assistant message k's turn starts: the end of the conversation before it
 * rendered with add_generation_prompt, when that is a prefix of the text and ends
 * before the message's first byte with no other message's content in between (the
 * turn then includes what the model writes before the content, e.g. "<think>\n");
 * else its first byte. */
static size_t turn_start(yt_chat *c, json_t *messages, size_t k, size_t first)
{
    json_t *head = json_array();
    for (size_t i = 0; i < k; i++)
        json_array_append(head, json_array_get(messages, i));
    yt_err ignore = {{0}};
    int rc = render_into(c, head, 1, &c->pout, &ignore);
    json_decref(head);
    size_t p = c->pout.n;
    if (rc != 0 || p > first || memcmp(c->pout.text, c->out.text, p) != 0)
        return first;
    for (size_t b = p; b < first; b++)
        if (c->bcls[b] & F_CONTENT)
            return first;
    return p;
}

/* bcls[b]: F_CONTENT for bytes of any message's content, F_GEN for bytes written in
 * {% generation %}, F_ASSIST for the bytes of an assistant turn. */
static int byte_classes(yt_chat *c, json_t *messages, yt_err *e)
{
    const yt_tpl_out *o = &c->out;
    size_t nmsg = json_array_size(messages);
    if (grow((void **)&c->bcls, &c->bcls_cap, o->n + 1, 1, "the classes of the rendered bytes", e))
        return -1;
    size_t start = 0;
    for (size_t r = 0; r < o->nruns; r++) {
        uint32_t tag = o->runs[r].tag, k = tag & ~YT_TPL_GEN;
        uint8_t f = (tag & YT_TPL_GEN) ? F_GEN : 0;
        if (k && k <= nmsg)
            f |= F_CONTENT;
        memset(c->bcls + start, f, o->runs[r].end - start);
        start = o->runs[r].end;
    }
    if (yt_tpl_has_generation(c->tpl))
        return 0;
    for (size_t k = 0; k < nmsg; k++) {
        const char *role = json_string_value(json_object_get(json_array_get(messages, k), "role"));
        if (!role || strcmp(role, "assistant"))
            continue;
        size_t first = (size_t)-1, last = 0;
        start = 0;
        for (size_t r = 0; r < o->nruns; r++) {
            if ((o->runs[r].tag & ~YT_TPL_GEN) == k + 1) {
                if (first == (size_t)-1)
                    first = start;
                last = o->runs[r].end;
            }
            start = o->runs[r].end;
        }
        if (first == (size_t)-1)
            continue; /* the template did not write this turn's content */
        size_t from = turn_start(c, messages, k, first);
        /* the turn: its bytes and the template's between them, not other messages' */
        start = 0;
        for (size_t r = 0; r < o->nruns; r++) {
            size_t end = o->runs[r].end;
            uint32_t t = o->runs[r].tag & ~YT_TPL_GEN;
            if ((t == 0 || t == k + 1) && end > from && start < last) {
                size_t a = start > from ? start : from, b = end < last ? end : last;
                for (size_t i = a; i < b; i++)
                    c->bcls[i] |= F_ASSIST;
            }
            start = end;
        }
    }
    return 0;
}

/* Token index at byte boundary b by tokenizing text[0, b): *exact when those ids are
 * a prefix of the whole text's ids, else the index of the token that straddles b. */
static int boundary(yt_chat *c, size_t b, size_t *k, int *exact, yt_err *e)
{
    c->piece.n = 0;
    if (yt_tok_encode(c->tok, c->out.text, b, 0, &c->piece, e) != 0)
        return -1;
    size_t m = c->piece.n < c->whole.n ? c->piece.n : c->whole.n, i = 0;
    while (i < m && c->piece.v[i] == c->whole.v[i])
        i++;
    *exact = i == c->piece.n;
    *k = i;
    return 0;
}

/* flags[t] = the classes of the bytes token t covers. */
static int token_flags(yt_chat *c, yt_err *e)
{
    const char *text = c->out.text;
    size_t n = c->out.n, nt = c->whole.n;
    if (grow((void **)&c->flags, &c->flags_cap, nt + 1, 1, "the classes of the tokens", e))
        return -1;
    memset(c->flags, 0, nt + 1);
    int any = 0;
    for (size_t b = 0; b < n && !any; b++)
        any = c->bcls[b] != 0;
    if (!any)
        return 0;
    /* 1. each run of equal class alone */
    c->piece.n = 0;
    int ok = 1;
    for (size_t a = 0; a < n && ok;) {
        size_t b = a;
        while (b < n && c->bcls[b] == c->bcls[a])
            b++;
        size_t before = c->piece.n;
        if (yt_tok_encode(c->tok, text + a, b - a, 0, &c->piece, e) != 0)
            return -1;
        if (c->piece.n > nt || memcmp(c->piece.v + before, c->whole.v + before,
                                      (c->piece.n - before) * sizeof *c->piece.v))
            ok = 0;
        else
            memset(c->flags + before, c->bcls[a], c->piece.n - before);
        a = b;
    }
    if (ok && c->piece.n == nt)
        return 0;
    /* 2. the token index of every class boundary from a tokenized prefix; a token
     * that straddles a boundary gets the classes of both sides */
    memset(c->flags, 0, nt + 1);
    size_t k0 = 0;
    for (size_t a = 0; a < n;) {
        size_t b = a, k1 = nt, k;
        while (b < n && c->bcls[b] == c->bcls[a])
            b++;
        int exact = 1;
        if (b < n && boundary(c, b, &k, &exact, e))
            return -1;
        if (b < n)
            k1 = exact ? k : k + 1;
        for (size_t t = k0; t < k1 && t < nt; t++)
            c->flags[t] |= c->bcls[a];
        k0 = exact ? k1 : k1 - 1;
        a = b;
    }
    return 0;
}

int yt_chat_encode(yt_chat *c, struct json_t *messages, int add_generation_prompt,
                   int train_on_inputs, yt_ds_doc *d, yt_err *e)
{
    if (yt_chat_render(c, messages, add_generation_prompt, e) != 0)
        return -1;
    c->whole.n = 0;
    if (yt_tok_encode(c->tok, c->out.text, c->out.n, 0, &c->whole, e) != 0)
        return yt_err_prefix(e, "%s: rendered text", yt_tpl_name(c->tpl));
    size_t nt = c->whole.n;
    if (!train_on_inputs && (byte_classes(c, messages, e) != 0 || token_flags(c, e) != 0))
        return -1;
    size_t before = d->ids.n;
    for (size_t i = 0; i < nt; i++)
        if (yt_tok_ids_push(&d->ids, c->whole.v[i], e) != 0)
            return -1;
    if (yt_ds_doc_mark(d, before, train_on_inputs, e) != 0)
        return -1;
    /* (a template that writes nothing leaves no mask at all to point into) */
    if (train_on_inputs || nt == 0)
        return 0;
    uint8_t *m = d->mask + before;
    if (yt_tpl_has_generation(c->tpl)) {
        for (size_t t = 0; t < nt; t++)
            m[t] = (c->flags[t] & F_GEN) != 0;
        return 0;
    }
    for (size_t t = 0; t < nt; t++)
        m[t] = (c->flags[t] & F_ASSIST) != 0;
    /* the end of each assistant turn: up to the first special token or EOS */
    for (size_t t = 0; t < nt; t++) {
        if (!(c->flags[t] & F_ASSIST) || (t + 1 < nt && (c->flags[t + 1] & F_ASSIST)))
            continue;
        for (size_t j = t + 1; j < nt; j++) {
            if (c->flags[j] & F_CONTENT)
                break;
            uint32_t id = c->whole.v[j];
            if (yt_tok_is_special(c->tok, id) || (c->eos >= 0 && id == (uint64_t)c->eos)) {
                for (size_t k = t + 1; k <= j; k++)
                    m[k] = 1;
                break;
            }
        }
    }
    return 0;
}
