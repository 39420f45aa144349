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
    double t0 = yt_now();
    yt_tok *tok;
    if (yt_tok_load(&tok, o.tokenizer, &e)) {
        yt_report("tokenize: %s", e.msg);
        return YT_EXIT_FAIL;
    }
    double t_load = yt_now() - t0;
    int64_t eos = -1;
    char eos_src[4300];
    if ((o.info || o.chat) && yt_runner_eos(o.tokenizer, tok, &eos, eos_src, sizeof eos_src, &e)) {
        yt_report("tokenize: %s", e.msg);
        yt_tok_free(tok);
        return YT_EXIT_FAIL;
    }
    if (o.info) {
        char fp[17];
        yt_tok_fingerprint_hex(tok, fp);
        json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:s, s:I}", "tokenizer", o.tokenizer,
                              "kind", yt_tok_source_kind(tok), "vocab_size",
                              (json_int_t)yt_tok_vocab_size(tok), "fingerprint", fp, "bos_id",
                              (json_int_t)yt_tok_bos_id(tok), "eos_id", (json_int_t)eos,
                              "eos_source", eos_src, "tokenizer_eos_id",
                              (json_int_t)yt_tok_eos_id(tok));
        char *txt = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (txt)
            printf("%s\n", txt);
        free(txt);
        json_decref(j);
        yt_tok_free(tok);
        return txt ? YT_EXIT_OK : YT_EXIT_FAIL;
    }
    yt_chat *chat = NULL;
    if (o.chat && yt_chat_open(&chat, o.chat_template, o.tokenizer, tok, eos, &e) != 0) {
        yt_report("tokenize: %s", e.msg);
        yt_tok_free(tok);
        return YT_EXIT_FAIL;
    }
    yt_ds_doc doc = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long long lineno = 0, records = 0, bytes = 0, tokens = 0;
    double t_work = 0;
    yt_tok_ids ids = {0};
    yt_tok_text text = {0};
    uint32_t *dids = NULL;
    size_t dcap = 0;
    obuf out = {0};
    int status = YT_EXIT_OK;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        lineno++;
        size_t n = (size_t)len;
        size_t k = 0;
        while (k < n && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r' || line[k] == '\n'))
            k++;
        if (k == n)
            continue;
        json_error_t je;
        json_t *rec = json_loadb(line, n, JSON_ALLOW_NUL, &je);
        if (!rec) {
            yt_report("tokenize: <stdin>:%llu: not JSON: %s", lineno, je.text);
            status = YT_EXIT_FAIL;
            break;
        }
        if (o.chat) {
            json_t *msgs = json_object_get(rec, "messages");
            doc.ids.n = 0;
            double a = yt_now();
            int r = msgs ? yt_chat_encode(chat, msgs, o.add_generation_prompt, o.train_on_inputs,
                                          &doc, &e)
                         : yt_errf(&e, "expected an object with \"messages\"");
            t_work += yt_now() - a;
            json_decref(rec);
            if (r) {
                yt_report("tokenize: <stdin>:%llu: %s", lineno, e.msg);
                status = YT_EXIT_FAIL;
                break;
            }
            size_t tn;
            const char *tt = yt_chat_text(chat, &tn);
            json_t *ids_j = json_array(), *mask_j = json_array();
            for (size_t i = 0; i < doc.ids.n; i++) {
                json_array_append_new(ids_j, json_integer(doc.ids.v[i]));
                json_array_append_new(mask_j, json_integer(doc.mask[i]));
            }
            json_t *res = json_pack("{s:s%, s:o, s:o}", "text", tt, tn, "ids", ids_j, "mask", mask_j);
            char *js = res ? json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            json_decref(res);
            if (!js || ob_reserve(&out, strlen(js) + 2, &e)) {
                if (!js)
                    yt_err_oom(&e, "a JSON result line");
                free(js);
                yt_report("tokenize: %s", e.msg);
                status = YT_EXIT_FAIL;
                break;
            }
            out.n += (size_t)sprintf(out.s + out.n, "%s\n", js);
            free(js);
            bytes += tn;
            tokens += doc.ids.n;
        } else if (!o.decode) {
            json_t *tx = json_object_get(rec, "text");
            if (!json_is_string(tx)) {
                yt_report("tokenize: <stdin>:%llu: expected an object with a string \"text\"",
                          lineno);
                json_decref(rec);
                status = YT_EXIT_FAIL;
                break;
            }
            ids.n = 0;
            double a = yt_now();
            int r = yt_tok_encode(tok, json_string_value(tx), json_string_length(tx),
                                  o.add_special, &ids, &e);
            t_work += yt_now() - a;
            bytes += json_string_length(tx);
            json_decref(rec);
            if (r) {
                yt_report("tokenize: <stdin>:%llu: %s", lineno, e.msg);
                status = YT_EXIT_FAIL;
                break;
            }
            tokens += ids.n;
            if (write_ids(&out, ids.v, ids.n, &e)) {
                yt_report("tokenize: %s", e.msg);
                status = YT_EXIT_FAIL;
                break;
            }
        } else {
            json_t *arr = json_object_get(rec, "ids");
            if (!json_is_array(arr)) {
                yt_report("tokenize: <stdin>:%llu: expected an object with an array \"ids\"",
                          lineno);
                json_decref(rec);
                status = YT_EXIT_FAIL;
                break;
            }
            size_t m = json_array_size(arr);
            if (m > dcap) {
                dcap = m * 2;
                uint32_t *v = yt_realloc_array(dids, dcap, sizeof *v, "the token ids", &e);
                if (!v) {
                    yt_report("tokenize: %s", e.msg);
                    json_decref(rec);
                    status = YT_EXIT_FAIL;
                    break;
                }
                dids = v;
            }
            int ok = 1;
            for (size_t i = 0; i < m; i++) {
                json_t *x = json_array_get(arr, i);
                if (!json_is_integer(x) || json_integer_value(x) < 0 ||
                    json_integer_value(x) > (json_int_t)UINT32_MAX) {
                    yt_report("tokenize: <stdin>:%llu: ids[%zu] is not an integer in [0, 2^32)",
                              lineno, i);
                    ok = 0;
                    break;
                }
                dids[i] = (uint32_t)json_integer_value(x);
            }
            json_decref(rec);
            if (!ok) {
                status = YT_EXIT_FAIL;
                break;
            }
            text.n = 0;
            double a = yt_now();
            int r = yt_tok_decode(tok, dids, m, o.skip_special, &text, &e);
            t_work += yt_now() - a;
            if (r) {
                yt_report("tokenize: <stdin>:%llu: %s", lineno, e.msg);
                status = YT_EXIT_FAIL;
                break;
            }
            tokens += m;
            bytes += text.n;
            json_t *s = json_stringn(text.s, text.n);
            char *js = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
            json_decref(s);
            if (!js || ob_reserve(&out, strlen(js) + 16, &e)) {
                if (!js)
                    yt_err_oom(&e, "a JSON result line");
                free(js);
                yt_report("tokenize: %s", e.msg);
                status = YT_EXIT_FAIL;
                break;
            }
            out.n += (size_t)sprintf(out.s + out.n, "{\"text\": %s}\n", js);
            free(js);
        }
        records++;
        if (out.n > (1 << 20) && flush(&out)) {
            yt_report("tokenize: writing stdout failed");
            status = YT_EXIT_FAIL;
            break;
        }
    }
    if (status == YT_EXIT_OK && (flush(&out) || fflush(stdout))) {
        yt_report("tokenize: writing stdout failed");
        status = YT_EXIT_FAIL;
    }
    if (o.stats)
        fprintf(stderr,
                "tokenize: %llu records, %llu bytes of text, %llu tokens; load %.3f s; %s %.3f s "
                "= %.2f MB/s\n",
                records, bytes, tokens, t_load, o.decode ? "decode" : "encode", t_work,
                t_work > 0 ? (double)bytes / t_work / 1e6 : 0.0);
    free(line);
    free(ids.v);
    free(text.s);
    free(dids);
    free(out.s);
    yt_ds_doc_free(&doc);
    yt_chat_free(chat);
    yt_tok_free(tok);
    return status;
}
