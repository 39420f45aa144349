/* yieldtune generate: text from a model (with an adapter, a run's snapshot or
 * nothing), on the CPU, through the key/value-cache forward (model/generate.c).
 * One prompt (--prompt raw text, --chat a user message through the model's chat
 * template) streams its text to stdout as it is produced; --in FILE.jsonl
 * ({"prompt": ...} or {"messages": [...]} per line) decodes up to --batch
 * sequences together, a finished one's slot going to the next prompt, and
 * writes one JSON object per prompt, in input order, as soon as it and those
 * before it are done.  A sequence stops at the model's EOS, at an end-of-turn
 * token (gen_stop below), or after --max-tokens. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/datasets.h"
#include "datasets/tokenizer/tokenizer.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "runner/gen_sample.h"
#include "runner/options.h"
#include "runner/run_adapter.h"
#include "runner/runner.h"

typedef struct gen_opts {
    char model[4096], adapter[4096], prompt[65536], chat[65536], in[4096], chat_template[4096];
    int max_tokens, top_k, batch, threads, device, ids;
    float temperature, top_p;
    long seed;
} gen_opts;

#define O(f) offsetof(gen_opts, f)
#define S(f) sizeof(((gen_opts *)0)->f)
static const yt_opt gen_table[] = {
    {"model", YT_OPT_STR, O(model), S(model), NULL, 0, 0, NULL, YT_OPT_REQUIRED, "DIR|GGUF",
     "Hugging Face model folder (with tokenizer.json) or a llama GGUF file"},
    {"adapter", YT_OPT_STR, O(adapter), S(adapter), NULL, 0, 0, NULL, 0, "DIR|RUN|SNAPSHOT",
     "LoRA weights: a PEFT adapter folder, a run folder (its newest snapshot that verifies, "
     "else RUN/adapter/) or a snapshot file (default: none, the base model)"},
    {"prompt", YT_OPT_STR, O(prompt), S(prompt), NULL, 0, 0, NULL, 0, "TEXT",
     "continue this text (tokenized with the special tokens the tokenizer adds, e.g. BOS)"},
    {"chat", YT_OPT_STR, O(chat), S(chat), NULL, 0, 0, NULL, 0, "TEXT",
     "answer this user message: the model's chat template with add_generation_prompt"},
    {"in", YT_OPT_STR, O(in), S(in), NULL, 0, 0, NULL, 0, "FILE.jsonl",
     "one prompt per line, {\"prompt\": TEXT} or {\"messages\": [...]}; writes one JSON "
     "object per line (the input's keys plus text, new_tokens, prompt_tokens, stop)"},
    {"chat-template", YT_OPT_STR, O(chat_template), S(chat_template), "auto", 0, 0, NULL, 0,
     "auto|chatml|llama3|FILE", "the chat template for --chat and messages (auto: the model's own)"},
    {"max-tokens", YT_OPT_INT, O(max_tokens), 0, "128", 1, 1 << 20, NULL, 0, NULL,
     "new tokens at most per prompt"},
    {"temperature", YT_OPT_FLOAT, O(temperature), 0, "0", 0, 100, NULL, 0, NULL,
     "0 = greedy (the most likely token); else sample from softmax(logits / X)"},
    {"top-p", YT_OPT_FLOAT, O(top_p), 0, "1", 1e-6, 1, NULL, 0, NULL,
     "sampling: keep the smallest set of most likely tokens whose probability reaches X"},
    {"top-k", YT_OPT_INT, O(top_k), 0, "0", 0, 1 << 30, NULL, 0, NULL,
     "sampling: keep the N most likely tokens (0 = all)"},
    {"seed", YT_OPT_LONG, O(seed), 0, "0", 0, 0, NULL, 0, NULL,
     "sampling: the same seed gives the same text (each draw is a function of the seed, the "
     "prompt's line and the token's index)"},
    {"batch", YT_OPT_INT, O(batch), 0, "8", 1, 4096, NULL, 0, NULL,
     "with --in: sequences decoded together"},
    {"ids", YT_OPT_BOOL, O(ids), 0, "false", 0, 0, NULL, 0, NULL,
     "with --in: also write prompt_ids and ids (the new tokens, the stop token included)"},
    {"device", YT_OPT_CHOICE, O(device), 0, "cpu", 0, 0, "cpu|cuda", 0, NULL,
     "cpu only for now (cuda is refused)"},
    {"threads", YT_OPT_INT, O(threads), 0, "0", 0, 4096, NULL, 0, NULL,
     "threads for the matrix products (0 = the library default)"},
    YT_OPT_END,
};
#undef O
#undef S

/* One prompt and what was generated for it. */
typedef struct gen_seq {
    json_t *rec;          /* --in: the input object (output starts from it) */
    yt_tok_ids prompt;
    int32_t *out;         /* [max_tokens] new tokens, the stop token included */
    int n_out;
    int done;
    const char *stop;     /* "eos", "end_of_turn" or "length" */
    size_t printed;       /* bytes of text already on stdout (streaming) */
} gen_seq;

typedef struct gen {
    gen_opts o;
    yt_tok *tok;
    yt_chat *chat;
    int64_t eos;
    int32_t stops[16];    /* EOS and end-of-turn ids */
    int n_stops;
    gen_seq *seq;
    int n_seq;
    yt_tok_text text;     /* scratch decode */
} gen;

/* End-of-turn markers of the chat formats in use; a special token of the
 * tokenizer with one of these pieces ends a sequence like the EOS does. */
static const char *const end_of_turn[] = {"<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<end_of_turn>",
                                          "<|end|>", "<|endoftext|>", "</s>"};

static void add_stop(gen *g, int64_t id)
{
    if (id < 0 || g->n_stops >= (int)(sizeof g->stops / sizeof g->stops[0]))
        return;
    for (int i = 0; i < g->n_stops; i++)
        if (g->stops[i] == id)
            return;
    g->stops[g->n_stops++] = (int32_t)id;
}

static const char *stop_kind(const gen *g, int32_t id)
{
    if (id == g->eos)
        return "eos";
    for (int i = 0; i < g->n_stops; i++)
        if (g->stops[i] == id)
            return "end_of_turn";
    return NULL;
}

/* The prompt ids of a text or of a messages array. */
static int encode_prompt(gen *g, const char *text, json_t *messages, yt_tok_ids *ids, yt_err *e)
{
    if (!messages)
        return yt_tok_encode(g->tok, text, strlen(text), 1, ids, e);
    if (!g->chat && yt_chat_open(&g->chat, g->o.chat_template, g->o.model, g->tok, g->eos, e))
        return -1;
    yt_ds_doc d = {0};
    int rc = yt_chat_encode(g->chat, messages, 1, 1, &d, e);
    if (rc == 0)
        for (size_t i = 0; i < d.ids.n && rc == 0; i++)
            rc = yt_tok_ids_push(ids, d.ids.v[i], e);
    yt_ds_doc_free(&d);
    return rc;
}

static int add_seq(gen *g, gen_seq *s, yt_err *e)
{
    if (s->prompt.n == 0)
        return yt_errf(e, "the prompt is empty (no tokens)");
    gen_seq *v = yt_realloc_array(g->seq, (size_t)g->n_seq + 1, sizeof *v, "the prompt list", e);
    if (!v)
        return -1;
    g->seq = v;
    g->seq[g->n_seq++] = *s;
    return 0;
}

/* --in: every line read and tokenized before the cache is sized. */
static int read_prompts(gen *g, yt_err *e)
{
    FILE *f = fopen(g->o.in, "r");
    if (!f)
        return yt_errno(e, errno, "--in %s", g->o.in);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
        lineno++;
        size_t k = 0;
        while (k < (size_t)len && strchr(" \t\r\n", line[k]))
            k++;
        if (k == (size_t)len)
            continue;
        json_error_t je;
        gen_seq s = {0};
        s.rec = json_loadb(line, (size_t)len, 0, &je);
        json_t *p = s.rec ? json_object_get(s.rec, "prompt") : NULL;
        json_t *m = s.rec ? json_object_get(s.rec, "messages") : NULL;
        if (!s.rec)
            rc = yt_errf(e, "%s:%ld: not JSON: %s", g->o.in, lineno, je.text);
        else if (!json_is_object(s.rec) || (!json_is_string(p) && !json_is_array(m)))
            rc = yt_errf(e, "%s:%ld: expected {\"prompt\": TEXT} or {\"messages\": [...]}", g->o.in,
                         lineno);
        else if (encode_prompt(g, json_is_string(p) ? json_string_value(p) : NULL,
                               json_is_string(p) ? NULL : m, &s.prompt, e) ||
                 add_seq(g, &s, e))
            rc = yt_err_prefix(e, "%s:%ld", g->o.in, lineno);
        if (rc) {
            json_decref(s.rec);
            free(s.prompt.v);
        }
    }
    free(line);
    fclose(f);
    if (rc == 0 && g->n_seq == 0)
        rc = yt_errf(e, "%s: no prompts", g->o.in);
    return rc;
}

/* The text of s's new tokens (special tokens left out) into g->text. */
static int decode(gen *g, const gen_seq *s, yt_err *e)
{
    g->text.n = 0;
    if (g->text.s)
        g->text.s[0] = '\0';
    return yt_tok_decode(g->tok, (const uint32_t *)s->out, (size_t)s->n_out, 1, &g->text, e);
}

/* Streams the text decoded so far.  A token may end inside a UTF-8 sequence,
 * which decodes to U+FFFD until the next token completes it: a trailing
 * U+FFFD waits for the end. */
static int stream(gen *g, gen_seq *s, int final, yt_err *e)
{
    if (decode(g, s, e))
        return -1;
    size_t n = g->text.n;
    while (!final && n >= 3 && memcmp(g->text.s + n - 3, "\xef\xbf\xbd", 3) == 0)
        n -= 3;
    if (n > s->printed) {
        fwrite(g->text.s + s->printed, 1, n - s->printed, stdout);
        fflush(stdout);
        s->printed = n;
    }
    return 0;
}

static json_t *ids_json(const uint32_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

static int emit(gen *g, gen_seq *s, yt_err *e)
{
    if (decode(g, s, e))
        return -1;
    json_t *r = s->rec, *text = json_stringn(g->text.s, g->text.n);
    if (!text)
        return yt_errf(e, "the decoded text is not UTF-8");
    json_object_set_new(r, "text", text);
    json_object_set_new(r, "new_tokens", json_integer(s->n_out));
    json_object_set_new(r, "prompt_tokens", json_integer((json_int_t)s->prompt.n));
    json_object_set_new(r, "stop", json_string(s->stop));
    if (g->o.ids) {
        json_object_set_new(r, "prompt_ids", ids_json(s->prompt.v, s->prompt.n));
        json_object_set_new(r, "ids", ids_json((const uint32_t *)s->out, (size_t)s->n_out));
    }
    char *txt = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!txt)
        return yt_err_oom(e, "a JSON result line");
    printf("%s\n", txt);
    fflush(stdout);
    free(txt);
    json_decref(s->rec);
    s->rec = NULL;
    return 0;
}

/* The decoding loop: slots hold sequences; each call feeds every active slot's
 * last token plus the prompts of newly admitted sequences. */
static int run(gen *g, yt_model *m, int with_adapter, double *secs, long *new_tokens, yt_err *e)
{
    const yt_config *c = yt_model_config(m);
    const int V = c->vocab_size, stream_one = !g->o.in[0];
    int max_prompt = 0;
    for (int i = 0; i < g->n_seq; i++)
        if ((int)g->seq[i].prompt.n > max_prompt)
            max_prompt = (int)g->seq[i].prompt.n;
    int slots = g->o.batch < g->n_seq ? g->o.batch : g->n_seq;
    int max_len = max_prompt + g->o.max_tokens, max_tokens = max_prompt + slots;
    if (max_len > c->max_pos)
        return yt_errf(e, "the longest prompt (%d tokens) + --max-tokens %d exceed the model's "
                          "context (%d tokens)", max_prompt, g->o.max_tokens, c->max_pos);
    yt_kv *kv = NULL;
    yt_gen_sampler smp = {0};
    yt_sampler_cfg sc = {.temperature = g->o.temperature, .top_p = g->o.top_p, .top_k = g->o.top_k,
                         .seed = (uint64_t)g->o.seed};
    float *logits = yt_alloc(sizeof(float) * (size_t)slots * V, "logits", e);
    int32_t *ids = yt_alloc(sizeof(int32_t) * (size_t)max_tokens, "token batch", e);
    int32_t *slot_of = yt_alloc(sizeof(int32_t) * (size_t)max_tokens, "token batch", e);
    int *seq_in = yt_alloc(sizeof(int) * (size_t)slots, "slots", e);
    int *run_slot = yt_alloc(sizeof(int) * (size_t)slots, "slots", e);
    int rc = !logits || !ids || !slot_of || !seq_in || !run_slot ||
             yt_kv_open(&kv, m, slots, max_len, max_tokens, with_adapter, e) ||
             yt_gen_sampler_init(&smp, &sc, V, e);
    for (int i = 0; !rc && i < g->n_seq; i++) {
        g->seq[i].out = yt_alloc_array((size_t)g->o.max_tokens, sizeof(int32_t), "the generated tokens", e);
        if (!g->seq[i].out)
            rc = -1;
    }
    for (int s = 0; !rc && s < slots; s++)
        seq_in[s] = -1;
    double t0 = yt_now();
    int next = 0, finished = 0, emitted = 0;
    while (!rc && finished < g->n_seq) {
        int T = 0, runs = 0;
        for (int s = 0; s < slots; s++) {
            if (seq_in[s] >= 0) {
                gen_seq *q = &g->seq[seq_in[s]];
                ids[T] = q->out[q->n_out - 1];
                slot_of[T++] = s;
                run_slot[runs++] = s;
            } else if (next < g->n_seq && T + (int)g->seq[next].prompt.n <= max_tokens) {
                gen_seq *q = &g->seq[next];
                seq_in[s] = next++;
                yt_kv_reset(kv, s);
                for (size_t i = 0; i < q->prompt.n; i++) {
                    ids[T] = (int32_t)q->prompt.v[i];
                    slot_of[T++] = s;
                }
                run_slot[runs++] = s;
            }
        }
        int rows = 0;
        if (yt_kv_forward(kv, ids, slot_of, T, logits, &rows, e)) {
            rc = -1;
            break;
        }
        for (int r = 0; r < rows && !rc; r++) {
            int s = run_slot[r], k = seq_in[s];
            gen_seq *q = &g->seq[k];
            int32_t tok = yt_gen_sample(&smp, logits + (size_t)r * V, (uint64_t)k, (uint64_t)q->n_out);
            q->out[q->n_out++] = tok;
            const char *why = stop_kind(g, tok);
            if (!why && q->n_out == g->o.max_tokens)
                why = "length";
            if (why) {
                q->done = 1;
                q->stop = why;
                seq_in[s] = -1;
                finished++;
            }
            if (stream_one)
                rc = stream(g, q, q->done, e);
        }
        while (!rc && !stream_one && emitted < g->n_seq && g->seq[emitted].done)
            rc = emit(g, &g->seq[emitted++], e);
    }
    *secs = yt_now() - t0;
    *new_tokens = 0;
    for (int i = 0; i < g->n_seq; i++)
        *new_tokens += g->seq[i].n_out;
    yt_gen_sampler_free(&smp);
    yt_kv_close(kv);
    yt_free(logits);
    yt_free(ids);
    yt_free(slot_of);
    yt_free(seq_in);
    yt_free(run_slot);
    return rc ? -1 : 0;
}

static void gen_free(gen *g)
{
    for (int i = 0; i < g->n_seq; i++) {
        json_decref(g->seq[i].rec);
        free(g->seq[i].prompt.v);
        free(g->seq[i].out);
    }
    free(g->seq);
    free(g->text.s);
    yt_chat_free(g->chat);
    yt_tok_free(g->tok);
}

int yt_cmd_generate(int argc, char **argv)
{
    gen g;
    memset(&g, 0, sizeof g);
    yt_err e = {{0}};
    const char *pos[1];
    int npos;
    static const yt_cmd_spec spec = {
        "generate",
        "yieldtune generate --model DIR|GGUF [--adapter DIR|RUN] (--prompt TEXT | --chat TEXT | "
        "--in FILE.jsonl) [options]",
        "Generates text with the model and, when given, a LoRA adapter: a PEFT folder, a run\n"
        "folder (its newest snapshot that verifies) or a snapshot.  --prompt and --chat\n"
        "stream one answer to stdout; --in writes one JSON object per input line.  Stops\n"
        "at the model's EOS, at an end-of-turn token, or after --max-tokens.  Greedy\n"
        "unless --temperature is above 0.",
        gen_table, 0, 0, NULL};
    int rc = yt_cmd_options(&spec, &g.o, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    int given = (g.o.prompt[0] != 0) + (g.o.chat[0] != 0) + (g.o.in[0] != 0);
    if (given != 1) {
        yt_report("generate: give exactly one of --prompt, --chat and --in (see --help)");
        return YT_EXIT_USAGE;
    }
    if (g.o.device != 0) {
        yt_report("generate --device cuda: not yet (generation runs on the CPU: leave out --device)");
        return YT_EXIT_USAGE;
    }
    if (g.o.threads > 0)
        yt_k_set_threads(g.o.threads);
    int status = YT_EXIT_FAIL;
    yt_model *m = NULL;
    char eos_src[4300], from[8192];
    int with_adapter = 0;
    if (yt_tok_load(&g.tok, g.o.model, &e)) {
        yt_err_prefix(&e, "the tokenizer of %s", g.o.model);
        goto out;
    }
    if (yt_runner_eos(g.o.model, g.tok, &g.eos, eos_src, sizeof eos_src, &e))
        goto out;
    add_stop(&g, g.eos);
    for (size_t i = 0; i < sizeof end_of_turn / sizeof end_of_turn[0]; i++) {
        int64_t id = yt_tok_piece_id(g.tok, end_of_turn[i]);
        if (id >= 0 && yt_tok_is_special(g.tok, (uint32_t)id))
            add_stop(&g, id);
    }
    if (g.o.in[0]) {
        if (read_prompts(&g, &e))
            goto out;
    } else {
        gen_seq s = {0};
        json_t *msgs = NULL;
        if (g.o.chat[0])
            msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", g.o.chat);
        rc = encode_prompt(&g, g.o.prompt, msgs, &s.prompt, &e) || add_seq(&g, &s, &e);
        json_decref(msgs);
        if (rc) {
            free(s.prompt.v);
            yt_err_prefix(&e, g.o.chat[0] ? "--chat" : "--prompt");
            goto out;
        }
    }
    double t0 = yt_now();
    if (yt_adapter_open_model(&m, g.o.model, g.o.adapter, 0, 1, &with_adapter, from, sizeof from, &e))
        goto out;
    long prompt_tokens = 0;
    for (int i = 0; i < g.n_seq; i++)
        prompt_tokens += (long)g.seq[i].prompt.n;
    fprintf(stderr, "generate: %s%s%s, %d prompt%s (%ld tokens), stop ids", g.o.model,
            with_adapter ? " + adapter " : "", with_adapter ? from : "", g.n_seq,
            g.n_seq > 1 ? "s" : "", prompt_tokens);
    for (int i = 0; i < g.n_stops; i++)
        fprintf(stderr, "%s%d", i ? "," : " ", g.stops[i]);
    fprintf(stderr, "; loaded in %.1f s\n", yt_now() - t0);
    double secs = 0;
    long made = 0;
    if (run(&g, m, with_adapter, &secs, &made, &e))
        goto out;
    if (!g.o.in[0]) {
        printf("\n");
        fprintf(stderr, "generate: %ld new tokens in %.2f s (%.1f tokens/s), stopped at %s\n", made,
                secs, secs > 0 ? (double)made / secs : 0.0,
                strcmp(g.seq[0].stop, "length") ? "an end token" : "--max-tokens");
    } else {
        fprintf(stderr, "generate: %d prompts, %ld new tokens in %.2f s (%.1f tokens/s)\n", g.n_seq,
                made, secs, secs > 0 ? (double)made / secs : 0.0);
    }
    status = YT_EXIT_OK;
out:
    if (status != YT_EXIT_OK)
        yt_report("generate: %s", e.msg);
    yt_model_close(m);
    gen_free(&g);
    return status;
}
