/* Chat templates for prep: ChatML and Llama 3, rendered as segments that are tokenized
 * one by one (ids concatenated) so that every token's loss-mask bit is known.
 *
 *   ChatML  per message: "<|im_start|>ROLE\n" | CONTENT "<|im_end|>" | "\n"
 *   Llama 3 "<|begin_of_text|>" before the first message, then per message:
 *           "<|start_header_id|>ROLE<|end_header_id|>\n\n" | TRIM(CONTENT) "<|eot_id|>"
 *           (TRIM strips ASCII white space at both ends, as the Meta template's `| trim`
 *           does for ASCII text).
 * The middle segment of an assistant message (its content and its end-of-turn token)
 * counts toward the loss, as TRL's assistant-only loss with a {% generation %} block;
 * every other segment (system and user turns, role headers, the "\n" after
 * <|im_end|>) does not, unless train_on_inputs.
 * Caveat: separate tokenization equals tokenizing the whole rendered string whenever no
 * pre-token crosses a segment boundary; the segments meet at special tokens or at the
 * header's trailing "\n", which both Llama-3 and GPT-2 style pre-tokenizers split off
 * from following letters (content that itself starts with white space may differ). */
#define _POSIX_C_SOURCE 200809L
#include "datasets/datasets.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

const char *yt_chat_template_name(yt_chat_template t)
{
    return t == YT_CHAT_LLAMA3 ? "llama3" : t == YT_CHAT_CHATML ? "chatml" : "auto";
}

int yt_chat_template_parse(const char *name, yt_chat_template *out, yt_err *e)
{
    if (!strcmp(name, "chatml"))
        *out = YT_CHAT_CHATML;
    else if (!strcmp(name, "llama3"))
        *out = YT_CHAT_LLAMA3;
    else if (!strcmp(name, "auto"))
        *out = YT_CHAT_AUTO;
    else
        return yt_errf(e, "unknown chat template \"%s\" (expected chatml, llama3 or auto)", name);
    return 0;
}

yt_chat_template yt_chat_template_detect(const char *jinja)
{
    if (!jinja)
        return YT_CHAT_AUTO;
    if (strstr(jinja, "<|start_header_id|>") && strstr(jinja, "<|eot_id|>"))
        return YT_CHAT_LLAMA3;
    if (strstr(jinja, "<|im_start|>") && strstr(jinja, "<|im_end|>"))
        return YT_CHAT_CHATML;
    return YT_CHAT_AUTO;
}

static int detect_named(const char *jinja, const char *where, yt_chat_template *out, yt_err *e)
{
    yt_chat_template t = yt_chat_template_detect(jinja);
    if (t == YT_CHAT_AUTO)
        return yt_errf(e, "%s: chat_template is neither ChatML nor Llama 3; "
                          "choose one with --chat-template chatml|llama3", where);
    *out = t;
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int yt_chat_template_from_model(const char *model, yt_chat_template *out, yt_err *e)
{
    *out = YT_CHAT_CHATML;
    if (!model || !model[0])
        return 0;
    if (ends_with(model, ".gguf")) {
        yt_gguf *g = NULL;
        if (yt_gguf_open(&g, model, e) != 0)
            return -1;
        const yt_gguf_value *v = yt_gguf_find(g, "tokenizer.chat_template");
        int rc = 0;
        if (v && v->type == YT_GGUF_STRING) {
            char where[4200];
            snprintf(where, sizeof where, "%s: tokenizer.chat_template", model);
            rc = detect_named(v->str.s, where, out, e);
        }
        yt_gguf_close(g);
        return rc;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", model);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0; /* no config: ChatML */
    fclose(f);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        return yt_errf(e, "%s:%d: invalid JSON: %s", path, jerr.line, jerr.text);
    json_t *ct = json_object_get(root, "chat_template");
    const char *s = NULL;
    if (json_is_string(ct)) {
        s = json_string_value(ct);
    } else if (json_is_array(ct)) { /* [{"name": "default", "template": "..."}, ...] */
        size_t i;
        json_t *it;
        json_array_foreach(ct, i, it) {
            const char *nm = json_string_value(json_object_get(it, "name"));
            if (nm && !strcmp(nm, "default"))
                s = json_string_value(json_object_get(it, "template"));
        }
    }
    int rc = 0;
    if (s) {
        char where[4300];
        snprintf(where, sizeof where, "%s: \"chat_template\"", path);
        rc = detect_named(s, where, out, e);
    }
    json_decref(root);
    return rc;
}

/* ---- rendering ---- */

int yt_ds_doc_push(yt_ds_doc *d, yt_tok *t, const char *text, size_t len, int counted,
                   yt_err *e)
{
    size_t before = d->ids.n;
    if (len && yt_tok_encode(t, text, len, 0, &d->ids, e) != 0)
        return -1;
    return yt_ds_doc_mark(d, before, counted, e);
}

int yt_ds_doc_mark(yt_ds_doc *d, size_t from, int counted, yt_err *e)
{
    if (d->ids.n > d->mask_cap) {
        size_t cap = d->mask_cap ? d->mask_cap : 1024;
        while (cap < d->ids.n)
            cap *= 2;
        uint8_t *m = realloc(d->mask, cap);
        if (!m)
            return yt_errf(e, "out of memory for a %zu-token document", d->ids.n);
        d->mask = m;
        d->mask_cap = cap;
    }
    if (d->ids.n > from)
        memset(d->mask + from, counted ? 1 : 0, d->ids.n - from);
    return 0;
}

int yt_ds_doc_push_id(yt_ds_doc *d, uint32_t id, int counted, yt_err *e)
{
    size_t before = d->ids.n;
    if (yt_tok_ids_push(&d->ids, id, e) != 0)
        return -1;
    return yt_ds_doc_mark(d, before, counted, e);
}

void yt_ds_doc_free(yt_ds_doc *d)
{
    free(d->ids.v);
    free(d->mask);
    memset(d, 0, sizeof *d);
}

static int is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int yt_chat_role_parse(const char *role, yt_chat_role *out)
{
    if (!strcmp(role, "system"))
        *out = YT_ROLE_SYSTEM;
    else if (!strcmp(role, "user"))
        *out = YT_ROLE_USER;
    else if (!strcmp(role, "assistant"))
        *out = YT_ROLE_ASSISTANT;
    else
        return -1;
    return 0;
}

static const char *role_name(yt_chat_role r)
{
    return r == YT_ROLE_SYSTEM ? "system" : r == YT_ROLE_USER ? "user" : "assistant";
}

/* A template as the pieces of one turn: [bos on the first turn] head_open role
 * head_close | content end | sep.  The head counts only with --train-on-inputs,
 * content and end as the turn does (assistant), the separator never. */
typedef struct chat_format {
    const char *bos, *head_open, *head_close, *end, *sep;
    int strip; /* Llama 3 trims the content */
} chat_format;

static const chat_format formats[] = {
    [YT_CHAT_CHATML] = {"", "<|im_start|>", "\n", "<|im_end|>", "\n", 0},
    [YT_CHAT_LLAMA3] = {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>\n\n",
                        "<|eot_id|>", "", 1},
};

static int append(yt_tok_text *buf, const char *s, yt_err *e)
{
    return yt_tok_text_append(buf, s, strlen(s), e);
}

int yt_chat_encode(yt_tok *t, yt_chat_template tpl, const yt_chat_msg *m, size_t n,
                   int train_on_inputs, yt_ds_doc *d, yt_err *e)
{
    const chat_format *f = &formats[tpl == YT_CHAT_LLAMA3 ? YT_CHAT_LLAMA3 : YT_CHAT_CHATML];
    yt_tok_text buf = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int counted = train_on_inputs || m[i].role == YT_ROLE_ASSISTANT;
        const char *c = m[i].content;
        size_t cl = m[i].content_len;
        if (f->strip) {
            while (cl && is_ascii_space(*c))
                c++, cl--;
            while (cl && is_ascii_space(c[cl - 1]))
                cl--;
        }
        buf.n = 0;
        rc = (i == 0 && append(&buf, f->bos, e)) || append(&buf, f->head_open, e) ||
             append(&buf, role_name(m[i].role), e) || append(&buf, f->head_close, e) ||
             yt_ds_doc_push(d, t, buf.s, buf.n, train_on_inputs, e);
        buf.n = 0;
        rc = rc || yt_tok_text_append(&buf, c, cl, e) || append(&buf, f->end, e) ||
             yt_ds_doc_push(d, t, buf.s, buf.n, counted, e) ||
             (*f->sep && yt_ds_doc_push(d, t, f->sep, strlen(f->sep), train_on_inputs, e));
        if (rc)
            yt_err_prefix(e, "messages[%zu]", i);
    }
    free(buf.s);
    return rc ? -1 : 0;
}
