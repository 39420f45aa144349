/* prep from text: text / Alpaca / chat / pre-tokenised JSONL and plain text files into
 * the token dataset (see datasets.h for the formats and rules).  Streams line by line. */
#define _POSIX_C_SOURCE 200809L
#include "datasets/datasets.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ALPACA_WITH_INPUT                                                                   \
    "Below is an instruction that describes a task, paired with an input that provides "    \
    "further context. Write a response that appropriately completes the request.\n\n"       \
    "### Instruction:\n"
#define ALPACA_NO_INPUT                                                                     \
    "Below is an instruction that describes a task. Write a response that appropriately "   \
    "completes the request.\n\n### Instruction:\n"

typedef struct prep_ctx {
    const yt_ds_prep_text_opts *o;
    yt_ds_prep_text_summary *s;
    yt_ds_writer *w[2];
    yt_ds_doc doc;
    yt_tok_text tmp;
    int64_t bos, eos;
    uint64_t vocab;
    const char *file;    /* where the current document comes from (for the example) */
    uint64_t line;
    int shown;           /* the example was shown */
} prep_ctx;

int yt_ds_val_path(const char *out, char *buf, size_t cap, yt_err *e)
{
    size_t n = strlen(out);
    int w;
    if (n > 3 && !strcmp(out + n - 3, ".h5"))
        w = snprintf(buf, cap, "%.*s.val.h5", (int)(n - 3), out);
    else
        w = snprintf(buf, cap, "%s.val.h5", out);
    if (w < 0 || (size_t)w >= cap)
        return yt_errf(e, "%s: path too long", out);
    return 0;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' && s[i] != '\v' &&
            s[i] != '\f')
            return 0;
    return 1;
}

/* Writes the finished document (truncating or splitting it), choosing the output. */
static int emit(prep_ctx *c, uint64_t k, yt_err *e)
{
    const yt_ds_prep_text_opts *o = c->o;
    yt_ds_prep_text_summary *s = c->s;
    size_t n = c->doc.ids.n;
    int which = 0;
    if (o->val_fraction > 0 && yt_u01(yt_mix64(yt_mix64(o->seed) ^ k)) < o->val_fraction)
        which = 1;
    size_t lim = o->max_doc_tokens ? (size_t)o->max_doc_tokens : n;
    if (n > lim) {
        if (o->split_long) {
            s->split++;
        } else {
            s->truncated++;
            s->truncated_tokens += n - lim;
            n = lim;
        }
    }
    for (size_t at = 0; at < n; at += lim) {
        size_t m = n - at < lim ? n - at : lim;
        if (yt_ds_writer_add_doc(c->w[which], c->doc.ids.v + at, c->doc.mask + at, m, e) != 0)
            return -1;
        if (!c->shown && o->example) {
            c->shown = 1;
            o->example(o->example_ctx, c->file, c->line, c->doc.ids.v + at, c->doc.mask + at, m);
        }
        yt_ds_prep_summary *ps = &s->out[which];
        ps->documents++;
        ps->tokens += m;
        for (size_t i = 0; i < m; i++)
            ps->counted += c->doc.mask[at + i];
        if (o->split_long && n > lim)
            s->split_pieces++;
    }
    return 0;
}

static int need_tok(prep_ctx *c, const char *what, yt_err *e)
{
    if (!c->o->tok)
        return yt_errf(e, "%s input needs a tokenizer (--model or --tokenizer)", what);
    return 0;
}

static int push_bos(prep_ctx *c, yt_err *e)
{
    return c->bos >= 0 ? yt_ds_doc_push_id(&c->doc, (uint32_t)c->bos, 1, e) : 0;
}

static int push_eos(prep_ctx *c, int required, yt_err *e)
{
    if (c->eos < 0)
        return required ? yt_errf(e, "the tokenizer names no EOS token") : 0;
    return yt_ds_doc_push_id(&c->doc, (uint32_t)c->eos, 1, e);
}

/* A text document: BOS + text + EOS, all counted.  *empty set when text is blank. */
static int doc_text(prep_ctx *c, const char *t, size_t n, int *empty, yt_err *e)
{
    if (need_tok(c, "text", e))
        return -1;
    if (blank(t, n)) {
        *empty = 1;
        return 0;
    }
    if (push_bos(c, e) || yt_ds_doc_push(&c->doc, c->o->tok, t, n, 1, e) || push_eos(c, 0, e))
        return -1;
    return 0;
}

static int get_str(json_t *root, const char *key, int optional, const char **out, size_t *len,
                   yt_err *e)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        if (optional) {
            *out = "";
            *len = 0;
            return 0;
        }
        return yt_errf(e, "missing key \"%s\"", key);
    }
    if (!json_is_string(v))
        return yt_errf(e, "\"%s\" is not a string", key);
    *out = json_string_value(v);
    *len = json_string_length(v);
    return 0;
}

static int doc_alpaca(prep_ctx *c, json_t *root, int *empty, yt_err *e)
{
    const char *ins, *inp, *outp;
    size_t nins, ninp, nout;
    if (get_str(root, "instruction", 0, &ins, &nins, e) || get_str(root, "input", 1, &inp, &ninp, e) ||
        get_str(root, "output", 0, &outp, &nout, e))
        return -1;
    if (need_tok(c, "alpaca", e))
        return -1;
    if (nout == 0) {
        *empty = 1;
        return 0;
    }
    yt_tok_text *b = &c->tmp;
    b->n = 0;
    int cnt = c->o->train_on_inputs;
    int rc = ninp ? yt_tok_text_append(b, ALPACA_WITH_INPUT, sizeof ALPACA_WITH_INPUT - 1, e)
                  : yt_tok_text_append(b, ALPACA_NO_INPUT, sizeof ALPACA_NO_INPUT - 1, e);
    if (!rc)
        rc = yt_tok_text_append(b, ins, nins, e);
    if (!rc && ninp) {
        rc = yt_tok_text_append(b, "\n\n### Input:\n", 13, e);
        if (!rc)
            rc = yt_tok_text_append(b, inp, ninp, e);
    }
    if (!rc)
        rc = yt_tok_text_append(b, "\n\n### Response:\n", 16, e);
    if (rc)
        return -1;
    size_t from = c->doc.ids.n;
    if (push_bos(c, e) || yt_ds_doc_mark(&c->doc, from, cnt, e) ||
        yt_ds_doc_push(&c->doc, c->o->tok, b->s, b->n, cnt, e) ||
        yt_ds_doc_push(&c->doc, c->o->tok, outp, nout, 1, e) || push_eos(c, 1, e))
        return -1;
    return 0;
}

static int doc_chat(prep_ctx *c, json_t *root, int *empty, yt_err *e)
{
    json_t *m = json_object_get(root, "messages");
    if (!m)
        return yt_errf(e, "missing key \"messages\"");
    if (!json_is_array(m))
        return yt_errf(e, "\"messages\" is not an array");
    if (need_tok(c, "chat", e))
        return -1;
    if (json_array_size(m) == 0) {
        *empty = 1;
        return 0;
    }
    if (!c->o->chat)
        return yt_errf(e, "chat input needs a chat template: %s",
                       c->o->chat_error ? c->o->chat_error : "none was given");
    c->s->chats++;
    return yt_chat_encode(c->o->chat, m, 0, c->o->train_on_inputs, &c->doc, e);
}

static int doc_ids(prep_ctx *c, json_t *root, int *empty, yt_err *e)
{
    json_t *ids = json_object_get(root, "input_ids");
    if (!ids)
        return yt_errf(e, "missing key \"input_ids\"");
    if (!json_is_array(ids))
        return yt_errf(e, "\"input_ids\" is not an array");
    size_t n = json_array_size(ids);
    json_t *labels = json_object_get(root, "labels");
    if (json_is_null(labels))
        labels = NULL;
    if (labels && !json_is_array(labels))
        return yt_errf(e, "\"labels\" is not an array");
    if (labels && json_array_size(labels) != n)
        return yt_errf(e, "\"labels\" has %zu entries but \"input_ids\" has %zu",
                       json_array_size(labels), n);
    if (n == 0) {
        *empty = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(ids, i);
        if (!json_is_integer(v))
            return yt_errf(e, "input_ids[%zu] is not an integer", i);
        json_int_t x = json_integer_value(v);
        if (x < 0 || (unsigned long long)x > UINT32_MAX)
            return yt_errf(e, "input_ids[%zu] = %lld is out of range", i, (long long)x);
        if (c->vocab && (uint64_t)x >= c->vocab)
            return yt_errf(e, "input_ids[%zu] = %lld >= vocab_size %llu", i, (long long)x,
                           (unsigned long long)c->vocab);
        int cnt = 1;
        if (labels) {
            json_t *l = json_array_get(labels, i);
            if (!json_is_integer(l))
                return yt_errf(e, "labels[%zu] is not an integer", i);
            cnt = json_integer_value(l) != -100;
        }
        if (yt_ds_doc_push_id(&c->doc, (uint32_t)x, cnt, e) != 0)
            return -1;
    }
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int detect(json_t *root, yt_prep_format *f, yt_err *e)
{
    if (!json_is_object(root))
        return yt_errf(e, "expected a JSON object");
    if (json_object_get(root, "input_ids"))
        *f = YT_PREP_IDS;
    else if (json_object_get(root, "messages"))
        *f = YT_PREP_CHAT;
    else if (json_object_get(root, "instruction"))
        *f = YT_PREP_ALPACA;
    else if (json_object_get(root, "text"))
        *f = YT_PREP_TEXT;
    else
        return yt_errf(e, "cannot tell the format: the record has none of the keys "
                          "\"input_ids\", \"messages\", \"instruction\", \"text\" "
                          "(or give --format)");
    return 0;
}

/* Finishes a document (k = its index): counts it and writes it or skips it. */
static int finish(prep_ctx *c, int empty, yt_err *e)
{
    uint64_t k = c->s->records++;
    if (empty || c->doc.ids.n == 0) {
        c->s->skipped_empty++;
        return 0;
    }
    return emit(c, k, e);
}

static int run_file(prep_ctx *c, const char *in, uint64_t total, yt_err *e)
{
    FILE *f = fopen(in, "r");
    if (!f)
        return yt_errno(e, errno, "%s: cannot open", in);
    yt_prep_format fmt = c->o->format;
    if (fmt == YT_PREP_AUTO && !ends_with(in, ".jsonl") && !ends_with(in, ".json"))
        fmt = YT_PREP_PLAIN;
    char *line = NULL;
    size_t cap = 0;
    long long len;
    unsigned long long ln = 0, para_line = 0;
    uint64_t off = 0;
    yt_tok_text para = {0};
    int rc = 0;
    while ((len = yt_getline_max(&line, &cap, YT_TEXT_LINE_MAX, f)) > 0) {
        ln++;
        c->s->lines++;
        uint64_t line_off = off;
        off += (uint64_t)len;
        c->s->bytes += (uint64_t)len;
        if (c->o->progress && (c->s->lines & 255) == 0)
            c->o->progress(c->o->progress_ctx, c->s->bytes, total);
        size_t bad = yt_tok_utf8_check(line, (size_t)len);
        if (bad < (size_t)len) {
            rc = yt_errf(e, "%s:%llu: invalid UTF-8 at byte %zu of the line (file offset %llu)",
                         in, ln, bad, (unsigned long long)(line_off + bad));
            break;
        }
        c->doc.ids.n = 0;
        c->file = in;
        c->line = ln;
        int empty = 0;
        if (fmt == YT_PREP_PLAIN) {
            if (blank(line, (size_t)len)) {
                if (para.n) {
                    while (para.n && (para.s[para.n - 1] == '\n' || para.s[para.n - 1] == '\r'))
                        para.n--;
                    c->line = para_line;
                    if ((rc = doc_text(c, para.s, para.n, &empty, e)) == 0)
                        rc = finish(c, empty, e);
                    para.n = 0;
                    if (rc) {
                        yt_err_prefix(e, "%s:%llu", in, para_line);
                        break;
                    }
                }
                continue;
            }
            if (!para.n)
                para_line = ln;
            if (para.n + (size_t)len > YT_TEXT_LINE_MAX) {
                rc = yt_errf(e, "%s:%llu: a paragraph longer than %zu MiB (a text file without "
                                "blank lines?)",
                             in, para_line, YT_TEXT_LINE_MAX >> 20);
                break;
            }
            if ((rc = yt_tok_text_append(&para, line, (size_t)len, e)) != 0)
                break;
            continue;
        }
        if (blank(line, (size_t)len))
            continue;
        json_error_t jerr;
        json_t *root = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
            rc = yt_errf(e, "%s:%llu: malformed JSON: %s (column %d)", in, ln, jerr.text,
                         jerr.column);
            break;
        }
        if (!json_is_object(root))
            rc = yt_errf(e, "expected a JSON object");
        else if (fmt == YT_PREP_AUTO)
            rc = detect(root, &fmt, e);
        if (rc == 0) {
            switch (fmt) {
            case YT_PREP_TEXT: {
                const char *t;
                size_t n;
                rc = get_str(root, "text", 0, &t, &n, e);
                if (!rc)
                    rc = doc_text(c, t, n, &empty, e);
                break;
            }
            case YT_PREP_ALPACA: rc = doc_alpaca(c, root, &empty, e); break;
            case YT_PREP_CHAT: rc = doc_chat(c, root, &empty, e); break;
            default: rc = doc_ids(c, root, &empty, e); break;
            }
        }
        json_decref(root);
        if (rc == 0)
            rc = finish(c, empty, e);
        if (rc) {
            yt_err_prefix(e, "%s:%llu", in, ln);
            break;
        }
    }
    if (rc == 0 && len == -2)
        rc = yt_errf(e, "%s:%llu: a line longer than %zu MiB (not a text file?)", in, ln + 1,
                     YT_TEXT_LINE_MAX >> 20);
    if (rc == 0 && (len == -1 || ferror(f)))
        rc = yt_errno(e, errno, "%s: read failed after line %llu", in, ln);
    if (rc == 0 && para.n) { /* the last paragraph */
        int empty = 0;
        c->doc.ids.n = 0;
        c->line = para_line;
        while (para.n && (para.s[para.n - 1] == '\n' || para.s[para.n - 1] == '\r'))
            para.n--;
        if ((rc = doc_text(c, para.s, para.n, &empty, e)) == 0)
            rc = finish(c, empty, e);
        if (rc)
            yt_err_prefix(e, "%s:%llu", in, para_line);
    }
    free(para.s);
    free(line);
    fclose(f);
    return rc;
}

/* The BOS the post-processor puts in front ("a" with and without specials). */
static int find_bos(yt_tok *t, int64_t *bos, yt_err *e)
{
    yt_tok_ids a = {0}, b = {0};
    *bos = -1;
    int rc = yt_tok_encode(t, "a", 1, 0, &a, e);
    if (!rc)
        rc = yt_tok_encode(t, "a", 1, 1, &b, e);
    if (!rc && b.n > a.n && b.n && (a.n == 0 || b.v[0] != a.v[0]))
        *bos = b.v[0];
    free(a.v);
    free(b.v);
    return rc;
}

int yt_ds_prep_text(const char *const *in, size_t n_in, const char *out, const char *val_out,
                    const yt_ds_prep_text_opts *o, yt_ds_prep_text_summary *s, yt_err *e)
{
    yt_ds_prep_text_summary local;
    if (!s)
        s = &local;
    memset(s, 0, sizeof *s);
    if (n_in == 0)
        return yt_errf(e, "prep: no input files");
    if (o->val_fraction < 0 || o->val_fraction >= 1)
        return yt_errf(e, "val_fraction %g is not in [0, 1)", o->val_fraction);
    double t0 = yt_now();
    prep_ctx c = {.o = o, .s = s, .bos = -1, .eos = -1};
    c.vocab = o->vocab_size;
    char fp[17] = "none";
    if (o->tok) {
        if (!c.vocab)
            c.vocab = yt_tok_vocab_size(o->tok);
        yt_tok_fingerprint_hex(o->tok, fp);
        if (find_bos(o->tok, &c.bos, e) != 0)
            return -1;
        c.eos = o->eos_id >= 0 ? o->eos_id : yt_tok_eos_id(o->tok);
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n_in; i++) {
        struct stat st;
        if (stat(in[i], &st) != 0)
            return yt_errno(e, errno, "%s: cannot open", in[i]);
        total += (uint64_t)st.st_size;
    }
    char vbuf[4200];
    if (o->val_fraction > 0 && !val_out) {
        if (yt_ds_val_path(out, vbuf, sizeof vbuf, e) != 0)
            return -1;
        val_out = vbuf;
    }
    char *src = NULL;
    if (!o->source) {
        size_t n = strlen(in[0]) + 16;
        src = yt_malloc(n, "the source name", e);
        if (!src)
            return yt_err_prefix(e, "%s", in[0]);
        snprintf(src, n, "%s:%s",
                 ends_with(in[0], ".jsonl") || ends_with(in[0], ".json") ? "jsonl" : "text",
                 in[0]);
    }
    yt_ds_writer_opts wo = {
        .tokenizer_fingerprint = o->tokenizer_fingerprint ? o->tokenizer_fingerprint : fp,
        .vocab_size = c.vocab,
        .source = o->source ? o->source : src,
        .chunk_elems = o->chunk_elems,
    };
    int rc = yt_ds_writer_open(&c.w[0], out, &wo, e);
    if (!rc && o->val_fraction > 0)
        rc = yt_ds_writer_open(&c.w[1], val_out, &wo, e);
    free(src);
    for (size_t i = 0; i < n_in && rc == 0; i++) {
        rc = run_file(&c, in[i], total, e);
        s->files++;
    }
    if (rc == 0 && o->progress)
        o->progress(o->progress_ctx, s->bytes, total);
    if (rc == 0 && s->out[0].tokens == 0)
        rc = yt_errf(e, "%s: no tokens in %llu lines (%llu empty documents)", in[0],
                     (unsigned long long)s->lines, (unsigned long long)s->skipped_empty);
    if (rc == 0 && c.w[1] && s->out[1].tokens == 0)
        rc = yt_errf(e, "--val-fraction %g chose none of the %llu documents", o->val_fraction,
                     (unsigned long long)s->records);
    yt_ds_doc_free(&c.doc);
    free(c.tmp.s);
    if (rc != 0) {
        yt_ds_writer_abort(c.w[0]);
        yt_ds_writer_abort(c.w[1]);
        return -1;
    }
    rc = yt_ds_writer_close(c.w[1] ? c.w[1] : c.w[0], e);
    if (c.w[1]) {
        if (rc)
            yt_ds_writer_abort(c.w[0]);
        else
            rc = yt_ds_writer_close(c.w[0], e);
    }
    s->seconds = yt_now() - t0;
    return rc;
}
