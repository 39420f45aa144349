/* yieldtune tokenize: JSONL {"text": ...} on stdin -> {"ids": [...]} on stdout with a
 * tokenizer.json or GGUF tokenizer (and --decode: {"ids": [...]} -> {"text": ...}),
 * for users checking their data and for the parity tests.  Blank lines are skipped;
 * errors name the input line. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/datasets.h"
#include "datasets/tokenizer/tokenizer.h"
#include "runner/options.h"
#include "runner/runner.h"

typedef struct tokenize_opts {
    char tokenizer[4096], chat_template[4096];
    int add_special, decode, skip_special, stats, info, chat, add_generation_prompt;
    int train_on_inputs;
} tokenize_opts;

#define O(f) offsetof(tokenize_opts, f)
#define S(f) sizeof(((tokenize_opts *)0)->f)
static const yt_opt tokenize_table[] = {
    {"tokenizer", YT_OPT_STR, O(tokenizer), S(tokenizer), NULL, 0, 0, NULL, YT_OPT_REQUIRED, "FILE",
     "tokenizer.json, a GGUF file, or a model folder holding tokenizer.json"},
    {"add-special", YT_OPT_BOOL, O(add_special), 0, "false", 0, 0, NULL, 0, NULL,
     "add the special tokens the tokenizer's post-processor adds (BOS, EOS where it says so)"},
    {"decode", YT_OPT_BOOL, O(decode), 0, "false", 0, 0, NULL, 0, NULL,
     "read {\"ids\": [...]} lines and write {\"text\": ...}"},
    {"skip-special", YT_OPT_BOOL, O(skip_special), 0, "false", 0, 0, NULL, 0, NULL,
     "with --decode: leave special tokens out of the text"},
    {"stats", YT_OPT_BOOL, O(stats), 0, "false", 0, 0, NULL, 0, NULL,
     "print records, bytes, tokens and the encode/decode throughput to stderr"},
    {"info", YT_OPT_BOOL, O(info), 0, "false", 0, 0, NULL, 0, NULL,
     "print the tokenizer's vocab size, fingerprint, BOS id and the model's EOS id (the one "
     "prep and train use, and where it comes from) as JSON, read nothing"},
    {"chat", YT_OPT_BOOL, O(chat), 0, "false", 0, 0, NULL, 0, NULL,
     "read {\"messages\": [...]} lines and write {\"text\", \"ids\", \"mask\"} as prep "
     "renders, tokenizes and masks them"},
    {"chat-template", YT_OPT_STR, O(chat_template), S(chat_template), "auto", 0, 0, NULL, 0,
     "auto|chatml|llama3|FILE", "with --chat: the template (as prep --chat-template)"},
    {"add-generation-prompt", YT_OPT_BOOL, O(add_generation_prompt), 0, "false", 0, 0, NULL, 0,
     NULL, "with --chat: render add_generation_prompt = true"},
    {"train-on-inputs", YT_OPT_BOOL, O(train_on_inputs), 0, "false", 0, 0, NULL, 0, NULL,
     "with --chat: count every token (as prep --train-on-inputs)"},
    YT_OPT_END,
};
#undef O
#undef S

typedef struct obuf {
    char *s;
    size_t n, cap;
} obuf;

static int ob_reserve(obuf *b, size_t more, yt_err *e)
{
    if (b->n + more <= b->cap)
        return 0;
    size_t nc = b->cap ? b->cap : 1 << 16;
    while (nc < b->n + more)
        nc *= 2;
    char *v = yt_realloc(b->s, nc, "the output buffer", e);
    if (!v)
        return -1;
    b->s = v;
    b->cap = nc;
    return 0;
}

static int write_ids(obuf *b, const uint32_t *ids, size_t n, yt_err *e)
{
    if (ob_reserve(b, 16 + n * 11, e))
        return -1;
    char *p = b->s + b->n;
    memcpy(p, "{\"ids\": [", 9);
    p += 9;
    for (size_t i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
            *p++ = ' ';
        }
        char tmp[12];
        int k = 0;
        uint32_t v = ids[i];
        do {
            tmp[k++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        while (k)
            *p++ = tmp[--k];
    }
    memcpy(p, "]}\n", 3);
    p += 3;
    b->n = (size_t)(p - b->s);
    return 0;
}

static int flush(obuf *b)
{
    if (b->n && fwrite(b->s, 1, b->n, stdout) != b->n)
        return -1;
    b->n = 0;
    return 0;
}

/* What one tokenize run holds: the tokenizer, the chat renderer (--chat), the
 * buffers every line reuses, and the counts --stats prints. */
typedef struct session {
    const tokenize_opts *o;
    yt_tok *tok;
    yt_chat *chat;
    yt_ds_doc doc;
    yt_tok_ids ids;
    yt_tok_text text;
    uint32_t *dids;
    size_t dcap;
    obuf out;
    unsigned long long records, bytes, tokens;
    double t_work;
} session;

/* Appends one JSON value as a line, wrapped as PREFIX value SUFFIX; takes j. */
static int put_json(session *s, json_t *j, size_t flags, const char *prefix, const char *suffix,
                    yt_err *e)
{
    char *js = j ? json_dumps(j, flags) : NULL;
    json_decref(j);
    if (!js)
        return yt_err_oom(e, "a JSON result line");
    int rc = ob_reserve(&s->out, strlen(prefix) + strlen(js) + strlen(suffix) + 2, e);
    if (rc == 0)
        s->out.n += (size_t)sprintf(s->out.s + s->out.n, "%s%s%s\n", prefix, js, suffix);
    free(js);
    return rc;
}

/* --info: the tokenizer's facts as one JSON line. */
static int print_info(const tokenize_opts *o, yt_tok *tok, int64_t eos, const char *eos_src,
                      yt_err *e)
{
    char fp[17];
    yt_tok_fingerprint_hex(tok, fp);
    json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:s, s:I}", "tokenizer", o->tokenizer,
                          "kind", yt_tok_source_kind(tok), "vocab_size",
                          (json_int_t)yt_tok_vocab_size(tok), "fingerprint", fp, "bos_id",
                          (json_int_t)yt_tok_bos_id(tok), "eos_id", (json_int_t)eos, "eos_source",
                          eos_src, "tokenizer_eos_id", (json_int_t)yt_tok_eos_id(tok));
    char *txt = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!txt)
        return yt_err_oom(e, "the --info line");
    printf("%s\n", txt);
    free(txt);
    return 0;
}

/* --chat: {"messages": [...]} -> {"text", "ids", "mask"}. */
static int chat_record(session *s, json_t *rec, yt_err *e)
{
    json_t *msgs = json_object_get(rec, "messages");
    if (!msgs)
        return yt_errf(e, "expected an object with \"messages\"");
    s->doc.ids.n = 0;
    double a = yt_now();
    int r = yt_chat_encode(s->chat, msgs, s->o->add_generation_prompt, s->o->train_on_inputs,
                           &s->doc, e);
    s->t_work += yt_now() - a;
    if (r)
        return -1;
    size_t tn;
    const char *tt = yt_chat_text(s->chat, &tn);
    json_t *ids_j = json_array(), *mask_j = json_array();
    for (size_t i = 0; i < s->doc.ids.n; i++) {
        json_array_append_new(ids_j, json_integer(s->doc.ids.v[i]));
        json_array_append_new(mask_j, json_integer(s->doc.mask[i]));
    }
    s->bytes += tn;
    s->tokens += s->doc.ids.n;
    return put_json(s, json_pack("{s:s%, s:o, s:o}", "text", tt, tn, "ids", ids_j, "mask", mask_j),
                    JSON_COMPACT | JSON_PRESERVE_ORDER, "", "", e);
}

/* {"text": ...} -> {"ids": [...]}. */
static int encode_record(session *s, json_t *rec, yt_err *e)
{
    json_t *tx = json_object_get(rec, "text");
    if (!json_is_string(tx))
        return yt_errf(e, "expected an object with a string \"text\"");
    s->ids.n = 0;
    double a = yt_now();
    int r = yt_tok_encode(s->tok, json_string_value(tx), json_string_length(tx),
                          s->o->add_special, &s->ids, e);
    s->t_work += yt_now() - a;
    s->bytes += json_string_length(tx);
    if (r)
        return -1;
    s->tokens += s->ids.n;
    return write_ids(&s->out, s->ids.v, s->ids.n, e);
}

/* --decode: {"ids": [...]} -> {"text": ...}. */
static int decode_record(session *s, json_t *rec, yt_err *e)
{
    json_t *arr = json_object_get(rec, "ids");
    if (!json_is_array(arr))
        return yt_errf(e, "expected an object with an array \"ids\"");
    size_t m = json_array_size(arr);
    if (m > s->dcap) {
        uint32_t *v = yt_realloc_array(s->dids, m * 2, sizeof *v, "the token ids", e);
        if (!v)
            return -1;
        s->dids = v;
        s->dcap = m * 2;
    }
    for (size_t i = 0; i < m; i++) {
        json_t *x = json_array_get(arr, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0 ||
            json_integer_value(x) > (json_int_t)UINT32_MAX)
            return yt_errf(e, "ids[%zu] is not an integer in [0, 2^32)", i);
        s->dids[i] = (uint32_t)json_integer_value(x);
    }
    s->text.n = 0;
    double a = yt_now();
    int r = yt_tok_decode(s->tok, s->dids, m, s->o->skip_special, &s->text, e);
    s->t_work += yt_now() - a;
    if (r)
        return -1;
    s->tokens += m;
    s->bytes += s->text.n;
    return put_json(s, json_stringn(s->text.s, s->text.n), JSON_ENCODE_ANY | JSON_COMPACT,
                    "{\"text\": ", "}", e);
}

/* Every line of stdin through the mode's record function; errors name the line. */
static int run_lines(session *s, yt_err *e)
{
    int (*one)(session *, json_t *, yt_err *) =
        s->o->chat ? chat_record : s->o->decode ? decode_record : encode_record;
    char *line = NULL;
    size_t cap = 0;
    long long len;
    unsigned long long lineno = 0;
    int rc = 0;
    while (rc == 0 && (len = yt_getline_max(&line, &cap, YT_TEXT_LINE_MAX, stdin)) > 0) {
        lineno++;
        if (yt_line_is_blank(line, (size_t)len))
            continue;
        json_error_t je;
        json_t *rec = json_loadb(line, (size_t)len, JSON_ALLOW_NUL, &je);
        if (!rec) {
            rc = yt_errf(e, "<stdin>:%llu: not JSON: %s", lineno, je.text);
            break;
        }
        rc = one(s, rec, e);
        json_decref(rec);
        if (rc) {
            yt_err_prefix(e, "<stdin>:%llu", lineno);
            break;
        }
        s->records++;
        if (s->out.n > (1 << 20) && flush(&s->out))
            rc = yt_errf(e, "writing stdout failed");
    }
    if (rc == 0 && len == -2)
        rc = yt_errf(e, "<stdin>:%llu: a line longer than %zu MiB", lineno + 1,
                     YT_TEXT_LINE_MAX >> 20);
    else if (rc == 0 && len == -1)
        rc = yt_errf(e, "<stdin>: read failed");
    free(line);
    if (rc == 0 && (flush(&s->out) || fflush(stdout)))
        rc = yt_errf(e, "writing stdout failed");
    return rc;
}

int yt_cmd_tokenize(int argc, char **argv)
{
    tokenize_opts o;
    yt_err e = {{0}};
    const char *pos[1];
    int npos;
    static const yt_cmd_spec spec = {
        "tokenize", "yieldtune tokenize --tokenizer FILE [--add-special] [--decode] < in.jsonl > out.jsonl",
        "Tokenizes {\"text\": ...} lines into {\"ids\": [...]} lines (or back with --decode),\nas "
        "Hugging Face tokenizers does with the same file.",
        tokenize_table, 0, 0, NULL};
    int rc = yt_cmd_options(&spec, &o, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    session s = {.o = &o};
    double t0 = yt_now();
    if (yt_tok_load(&s.tok, o.tokenizer, &e)) {
        yt_report("tokenize: %s", e.msg);
        return YT_EXIT_FAIL;
    }
    double t_load = yt_now() - t0;
    int64_t eos = -1;
    char eos_src[4300];
    rc = (o.info || o.chat) ? yt_runner_eos(o.tokenizer, s.tok, &eos, eos_src, sizeof eos_src, &e) : 0;
    if (rc == 0 && o.info)
        rc = print_info(&o, s.tok, eos, eos_src, &e);
    else if (rc == 0 && o.chat)
        rc = yt_chat_open(&s.chat, o.chat_template, o.tokenizer, s.tok, eos, &e);
    if (rc == 0 && !o.info)
        rc = run_lines(&s, &e);
    if (rc)
        yt_report("tokenize: %s", e.msg);
    if (o.stats && !o.info)
        fprintf(stderr,
                "tokenize: %llu records, %llu bytes of text, %llu tokens; load %.3f s; %s %.3f s "
                "= %.2f MB/s\n",
                s.records, s.bytes, s.tokens, t_load, o.decode ? "decode" : "encode", s.t_work,
                s.t_work > 0 ? (double)s.bytes / s.t_work / 1e6 : 0.0);
    free(s.ids.v);
    free(s.text.s);
    free(s.dids);
    free(s.out.s);
    yt_ds_doc_free(&s.doc);
    yt_chat_free(s.chat);
    yt_tok_free(s.tok);
    return rc ? YT_EXIT_FAIL : YT_EXIT_OK;
}
