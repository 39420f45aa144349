/* yieldtune prep: text, instruction (Alpaca), chat or pre-tokenised JSONL records and
 * plain text files into the HDF5 token dataset (datasets/prep_text.c has the rules),
 * with an optional validation split.  A progress bar goes to stderr on a terminal. */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/datasets.h"
#include "datasets/tokenizer/tokenizer.h"
#include "model/model.h"
#include "runner/options.h"
#include "runner/runner.h"

#define MAX_INPUTS 256

typedef struct prep_opts {
    char in[4096], out[4096], model[4096], tokenizer[4096];
    int format;                /* CHOICE index: yt_prep_format */
    char chat_template[4096];
    long vocab_size, max_doc_tokens, seed, example_tokens;
    int train_on_inputs, split_long;
    float val_fraction;
} prep_opts;

#define O(f) offsetof(prep_opts, f)
#define S(f) sizeof(((prep_opts *)0)->f)
static const yt_opt prep_table[] = {
    {"in", YT_OPT_STR, O(in), S(in), NULL, 0, 0, NULL, 0, "FILE",
     "input file (more inputs may follow as positional arguments)"},
    {"out", YT_OPT_STR, O(out), S(out), NULL, 0, 0, NULL, YT_OPT_REQUIRED, "FILE.h5",
     "dataset to write (replaced atomically)"},
    {"format", YT_OPT_CHOICE, O(format), 0, "auto", 0, 0,
     "auto|ids|text|alpaca|chat|plain", 0, NULL,
     "input format; auto: per file, *.jsonl/*.json by the first record's keys (input_ids, "
     "messages, instruction, text), any other file plain text (a document per paragraph)"},
    {"model", YT_OPT_STR, O(model), S(model), NULL, 0, 0, NULL, 0, "DIR_OR_GGUF",
     "tokenizer from this model folder (tokenizer.json; config.json's vocab_size is "
     "checked) or GGUF file"},
    {"tokenizer", YT_OPT_STR, O(tokenizer), S(tokenizer), NULL, 0, 0, NULL, 0, "FILE",
     "tokenizer.json or GGUF file (instead of --model)"},
    {"chat-template", YT_OPT_STR, O(chat_template), S(chat_template), "auto", 0, 0, NULL, 0,
     "auto|chatml|llama3|FILE",
     "chat rendering: auto = the model's own Jinja template (chat_template.jinja, "
     "tokenizer_config.json or the GGUF's); chatml, llama3 = built-in; else a Jinja file"},
    {"train-on-inputs", YT_OPT_BOOL, O(train_on_inputs), 0, "false", 0, 0, NULL, 0, NULL,
     "count prompt / system / user tokens toward the loss too"},
    {"max-doc-tokens", YT_OPT_LONG, O(max_doc_tokens), 0, "0", 0, 4294967295.0, NULL, 0, "N",
     "truncate longer documents to N tokens (0 = no limit)"},
    {"split-long", YT_OPT_BOOL, O(split_long), 0, "false", 0, 0, NULL, 0, NULL,
     "with --max-doc-tokens: split long documents into pieces instead of truncating"},
    {"val-fraction", YT_OPT_FLOAT, O(val_fraction), 0, "0", 0, 0.99, NULL, 0, "X",
     "send this fraction of documents (by hash of seed and index) to OUT's .val.h5"},
    {"seed", YT_OPT_LONG, O(seed), 0, "0", 0, 9.2e18, NULL, 0, NULL, "seed of the validation split"},
    {"example-tokens", YT_OPT_LONG, O(example_tokens), 0, "1024", 0, 1e9, NULL, 0, "N",
     "print the first document written (up to N tokens) with the counted tokens marked; 0 = "
     "don't"},
    {"vocab-size", YT_OPT_LONG, O(vocab_size), 0, "0", 0, 4294967296.0, NULL, 0, NULL,
     "check ids against this vocab size (0 = the model's or tokenizer's)"},
    YT_OPT_END,
};
#undef O
#undef S

typedef struct bar {
    int tty;
    double t0, last;
} bar;

static void draw(void *ctx, uint64_t done, uint64_t total)
{
    bar *b = ctx;
    double now = yt_now();
    if (!b->tty || (now - b->last < 0.5 && done < total))
        return;
    b->last = now;
    double mb = (double)done / 1e6, dt = now - b->t0;
    double frac = total ? (double)done / (double)total : 1.0;
    int fill = (int)(frac * 30.0 + 0.5);
    fprintf(stderr, "\rprep [%.*s%*s] %5.1f%% %.1f MB %.1f MB/s", fill,
            "##############################", 30 - fill, "", 100.0 * frac, mb,
            dt > 0 ? mb / dt : 0.0);
    if (done >= total)
        fputc('\n', stderr);
    fflush(stderr);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists_in(const char *dir, const char *name)
{
    char p[8300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, R_OK) == 0;
}

typedef struct example_ctx {
    yt_tok *tok;
    long max;
} example_ctx;

/* The first document as the user should see it: its text, the counted tokens in
 * green on a terminal, else between [[ and ]]. */
static void show_example(void *ctx, const char *file, uint64_t line, const uint32_t *ids,
                         const uint8_t *mask, size_t n)
{
    example_ctx *x = ctx;
    if (!x->tok || x->max <= 0)
        return;
    size_t counted = 0;
    for (size_t i = 0; i < n; i++)
        counted += mask[i] != 0;
    int tty = isatty(1);
    printf("first example (%s:%llu): %zu tokens, %zu counted toward the loss (%s):\n", file,
           (unsigned long long)line, n, counted,
           tty ? "in green" : "between [[ and ]]");
    size_t shown = n < (size_t)x->max ? n : (size_t)x->max;
    yt_tok_text t = {0};
    yt_err e = {{0}};
    for (size_t a = 0; a < shown;) {
        size_t b = a;
        while (b < shown && (mask[b] != 0) == (mask[a] != 0))
            b++;
        t.n = 0;
        if (yt_tok_decode(x->tok, ids + a, b - a, 0, &t, &e) != 0) {
            printf("(cannot decode: %s)", e.msg);
            break;
        }
        if (mask[a])
            printf("%s%.*s%s", tty ? "\033[32m" : "[[", (int)t.n, t.s, tty ? "\033[0m" : "]]");
        else
            printf("%.*s", (int)t.n, t.s);
        a = b;
    }
    if (shown < n)
        printf(" ... (%zu more tokens)", n - shown);
    printf("\n");
    free(t.s);
    fflush(stdout);
}

/* --out and its validation file must not be files prep reads (compared by
 * device and inode: another spelling or a hard link is the same file). */
static int check_outputs(const prep_opts *o, const char *const *ins, size_t n_in, const char *val,
                         yt_err *e)
{
    static const char *const model_files[] = {"tokenizer.json", "config.json",
                                              "tokenizer_config.json"};
    char extra[3][8300];
    const char *inputs[MAX_INPUTS + 8];
    size_t n = 0;
    for (size_t i = 0; i < n_in; i++)
        inputs[n++] = ins[i];
    if (o->tokenizer[0])
        inputs[n++] = o->tokenizer;
    if (o->model[0]) {
        inputs[n++] = o->model;
        for (int i = 0; i < 3; i++) {
            snprintf(extra[i], sizeof extra[i], "%s/%s", o->model, model_files[i]);
            inputs[n++] = extra[i];
        }
    }
    if (yt_af_check_not_input(o->out, inputs, n, e))
        return yt_err_prefix(e, "--out");
    if (val[0] && yt_af_check_not_input(val, inputs, n, e))
        return yt_err_prefix(e, "the validation output");
    return 0;
}

static void summary(const char *path, const yt_ds_prep_summary *p)
{
    printf("wrote %s: %llu documents, %llu tokens, %.1f%% counted toward the loss\n", path,
           (unsigned long long)p->documents, (unsigned long long)p->tokens,
           p->tokens ? 100.0 * (double)p->counted / (double)p->tokens : 0.0);
}

int yt_cmd_prep(int argc, char **argv)
{
    prep_opts o;
    yt_err e = {{0}};
    const char *pos[MAX_INPUTS];
    const char *ins[MAX_INPUTS + 1];
    int npos;
    static const yt_cmd_spec spec = {
        "prep",
        "yieldtune prep --in FILE --out FILE.h5 [--model DIR_OR_GGUF | --tokenizer FILE] [FILE...]",
        "Writes the token dataset that 'yieldtune train --data' reads, and shows its first\n"
        "document with the tokens that count toward the loss marked.",
        prep_table, 0, MAX_INPUTS, NULL};
    int rc = yt_cmd_options(&spec, &o, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    size_t n_in = 0;
    if (o.in[0])
        ins[n_in++] = o.in;
    for (int i = 0; i < npos; i++)
        ins[n_in++] = pos[i];
    if (n_in == 0) {
        yt_report("prep: no input: give --in FILE");
        return YT_EXIT_USAGE;
    }
    if (o.model[0] && o.tokenizer[0]) {
        yt_report("prep: give --model or --tokenizer, not both");
        return YT_EXIT_USAGE;
    }
    if (o.split_long && !o.max_doc_tokens) {
        yt_report("prep: --split-long needs --max-doc-tokens");
        return YT_EXIT_USAGE;
    }
    yt_ds_prep_text_opts po = {.vocab_size = (uint64_t)o.vocab_size, .eos_id = -1,
                               .train_on_inputs = o.train_on_inputs,
                               .max_doc_tokens = (uint64_t)o.max_doc_tokens,
                               .split_long = o.split_long, .val_fraction = o.val_fraction,
                               .seed = (uint64_t)o.seed};
    po.format = (yt_prep_format)o.format; /* the table lists them in the enum's order */
    yt_tok *tok = NULL;
    char dir[4096] = "";
    const char *tok_path = NULL;
    if (o.tokenizer[0]) {
        tok_path = o.tokenizer;
        snprintf(dir, sizeof dir, "%s", o.tokenizer);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(dir, sizeof dir, ".");
    } else if (o.model[0]) {
        if (is_dir(o.model)) {
            snprintf(dir, sizeof dir, "%s", o.model);
            if (exists_in(o.model, "config.json")) {
                yt_config c;
                if (yt_config_load(&c, o.model, &e)) {
                    yt_report("prep: %s", e.msg);
                    return YT_EXIT_FAIL;
                }
                if (!po.vocab_size)
                    po.vocab_size = (uint64_t)c.vocab_size;
            }
            if (exists_in(o.model, "tokenizer.json"))
                tok_path = o.model;
        } else {
            tok_path = o.model;
        }
    }
    /* A model folder's tokenizer.json that does not load is only an error when the
     * input needs a tokenizer (pre-tokenised ids do not): remember why. */
    yt_err tok_err = {{0}};
    if (tok_path && yt_tok_load(&tok, tok_path, &e) != 0) {
        int lenient = !o.tokenizer[0] && is_dir(o.model) &&
                      (po.format == YT_PREP_AUTO || po.format == YT_PREP_IDS);
        if (!lenient) {
            yt_report("prep: %s", e.msg);
            return YT_EXIT_FAIL;
        }
        tok_err = e;
        tok = NULL;
    }
    yt_chat *chat = NULL;
    yt_err chat_err = {{0}};
    if (tok) {
        po.tok = tok;
        const char *where = o.model[0] ? o.model : o.tokenizer;
        char src[4300];
        if (yt_runner_eos(where, tok, &po.eos_id, src, sizeof src, &e) != 0) {
            yt_report("prep: %s", e.msg);
            yt_tok_free(tok);
            return YT_EXIT_FAIL;
        }
        /* The chat template: an explicit choice, or chat input, must have one now;
         * auto with input of unknown format fails only at the first chat record. */
        int needed = strcmp(o.chat_template, "auto") != 0 || po.format == YT_PREP_CHAT;
        if (po.format == YT_PREP_AUTO || po.format == YT_PREP_CHAT || needed) {
            if (yt_chat_open(&chat, o.chat_template, where, tok, po.eos_id, &chat_err) != 0) {
                if (needed) {
                    yt_report("prep: %s", chat_err.msg);
                    yt_tok_free(tok);
                    return YT_EXIT_FAIL;
                }
                po.chat_error = chat_err.msg;
            }
        }
        po.chat = chat;
    }
    bar b = {.tty = isatty(2), .t0 = yt_now(), .last = 0};
    po.progress = draw;
    po.progress_ctx = &b;
    example_ctx ex = {tok, o.example_tokens};
    po.example = show_example;
    po.example_ctx = &ex;
    char val[4200] = "";
    if (po.val_fraction > 0 && yt_ds_val_path(o.out, val, sizeof val, &e) != 0) {
        yt_report("prep: %s", e.msg);
        yt_chat_free(chat);
        yt_tok_free(tok);
        return YT_EXIT_USAGE;
    }
    if (check_outputs(&o, ins, n_in, val, &e) != 0) {
        yt_report("prep: %s", e.msg);
        yt_tok_free(tok);
        return YT_EXIT_FAIL;
    }
    yt_ds_prep_text_summary s;
    rc = yt_ds_prep_text(ins, n_in, o.out, val[0] ? val : NULL, &po, &s, &e);
    if (rc == 0 && chat && s.chats)
        printf("chat template: %s\n", yt_chat_name(chat));
    yt_chat_free(chat);
    yt_tok_free(tok);
    if (rc) {
        if (b.tty)
            fputc('\n', stderr);
        if (tok_err.msg[0] && strstr(e.msg, "needs a tokenizer"))
            yt_report("prep: %s; the tokenizer did not load: %s", e.msg, tok_err.msg);
        else
            yt_report("prep: %s", e.msg);
        return YT_EXIT_FAIL;
    }
    summary(o.out, &s.out[0]);
    if (val[0])
        summary(val, &s.out[1]);
    printf("read %llu files, %llu documents, %.1f MB in %.2f s (%.1f MB/s)",
           (unsigned long long)s.files, (unsigned long long)s.records, (double)s.bytes / 1e6,
           s.seconds, s.seconds > 0 ? (double)s.bytes / 1e6 / s.seconds : 0.0);
    if (s.skipped_empty)
        printf(", %llu empty documents skipped", (unsigned long long)s.skipped_empty);
    if (s.truncated)
        printf(", %llu documents truncated (%llu tokens dropped)",
               (unsigned long long)s.truncated, (unsigned long long)s.truncated_tokens);
    if (s.split)
        printf(", %llu documents split into %llu pieces", (unsigned long long)s.split,
               (unsigned long long)s.split_pieces);
    printf("\n");
    return YT_EXIT_OK;
}
