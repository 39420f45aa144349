/* yieldtune eval: the mean loss and perplexity of a model (with an adapter, a
 * run's snapshot or nothing) over every window of one or more datasets, cut
 * and computed exactly as train's --eval-every does (runner/evaluation.h):
 * the same number on the same set as train's val_loss.  Alone or under mpirun
 * (the windows are shared out over the ranks; rank 0 prints). */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectives/collectives.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "runner/ddp_setup.h"
#include "runner/evaluation.h"
#include "runner/options.h"
#include "runner/run_adapter.h"
#include "runner/runner.h"

typedef struct eval_opts {
    char model[4096], adapter[4096], data[YT_EVAL_MAX_SETS * 512];
    int seq_len, micro_batch, pack_eos, doc_mask, pad_per_doc, threads, json;
} eval_opts;

#define O(f) offsetof(eval_opts, f)
#define S(f) sizeof(((eval_opts *)0)->f)
static const yt_opt eval_table[] = {
    {"model", YT_OPT_STR, O(model), S(model), NULL, 0, 0, NULL, YT_OPT_REQUIRED, "DIR|GGUF",
     "Hugging Face model folder or a llama GGUF file"},
    {"adapter", YT_OPT_STR, O(adapter), S(adapter), NULL, 0, 0, NULL, 0, "DIR|RUN|SNAPSHOT",
     "LoRA weights: a PEFT adapter folder, a run folder (its newest snapshot that verifies, "
     "else RUN/adapter/) or a snapshot file (default: none, the base model)"},
    {"data", YT_OPT_STR, O(data), S(data), NULL, 0, 0, NULL, YT_OPT_REQUIRED | YT_OPT_LIST,
     "FILE.h5[,...]", "datasets made by 'yieldtune prep' (comma-separated, or the option repeated)"},
    {"seq-len", YT_OPT_INT, O(seq_len), 0, "256", 2, 1 << 20, NULL, 0, NULL,
     "tokens per window (as train --seq-len)"},
    {"micro-batch", YT_OPT_INT, O(micro_batch), 0, "4", 1, 1 << 16, NULL, 0, NULL,
     "windows per forward pass on each rank"},
    {"pack-eos", YT_OPT_BOOL, O(pack_eos), 0, "true", 0, 0, NULL, 0, NULL,
     "the model's EOS after every document (as train --pack-eos)"},
    {"doc-mask", YT_OPT_BOOL, O(doc_mask), 0, "false", 0, 0, NULL, 0, NULL,
     "attention inside each document of a window (as train --doc-mask)"},
    {"pad-per-doc", YT_OPT_BOOL, O(pad_per_doc), 0, "false", 0, 0, NULL, 0, NULL,
     "one document per window (as train --pad-per-doc)"},
    {"threads", YT_OPT_INT, O(threads), 0, "0", 0, 4096, NULL, 0, NULL,
     "threads per rank (0 = the node's cores / ranks on the node)"},
    {"json", YT_OPT_BOOL, O(json), 0, "false", 0, 0, NULL, 0, NULL,
     "print one JSON object instead of the table"},
    YT_OPT_END,
};
#undef O
#undef S

typedef struct eval_result {
    double loss, counted;
    uint64_t windows;
} eval_result;

static int forward_loss(void *ctx, const yt_ds_batch *b, double *loss, yt_err *e)
{
    (void)e;
    yt_model *m = ctx;
    if (b->doc_ids)
        yt_model_set_docs(m, b->doc_ids, b->positions);
    *loss = yt_model_forward_loss(m, b->inputs, b->targets, b->weights);
    return 0;
}

static void print_table(const eval_opts *o, const char *from, const yt_eval_set *sets,
                        const eval_result *r, int n)
{
    printf("%s%s%s, windows of %d tokens\n", o->model, from[0] ? " + adapter " : "", from, o->seq_len);
    printf("%-32s %8s %12s %10s %12s\n", "dataset", "windows", "counted", "loss", "perplexity");
    for (int i = 0; i < n; i++)
        printf("%-32s %8llu %12.0f %10.4f %12.3f\n", sets[i].path, (unsigned long long)r[i].windows,
               r[i].counted, r[i].loss, exp(r[i].loss));
}

static int print_json(const eval_opts *o, const char *from, const yt_eval_set *sets,
                      const eval_result *r, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:I, s:f, s:f}", "path", sets[i].path,
                                           "name", sets[i].name, "windows", (json_int_t)r[i].windows,
                                           "counted_tokens", (json_int_t)r[i].counted, "loss",
                                           isfinite(r[i].loss) ? r[i].loss : -1.0, "perplexity",
                                           isfinite(r[i].loss) ? exp(r[i].loss) : -1.0));
    json_t *j = json_pack("{s:s, s:s?, s:i, s:o}", "model", o->model, "adapter", from[0] ? from : NULL,
                          "seq_len", o->seq_len, "datasets", a);
    char *txt = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(j);
    if (!txt)
        return -1;
    printf("%s\n", txt);
    free(txt);
    return 0;
}

int yt_cmd_eval(int argc, char **argv)
{
    eval_opts o;
    yt_err e = {{0}};
    const char *pos[1];
    int npos;
    static const yt_cmd_spec spec = {
        "eval",
        "yieldtune eval --model DIR|GGUF [--adapter DIR|RUN] --data FILE.h5 [--data FILE2.h5 ...] "
        "[options]",
        "The mean loss per counted token and the perplexity of the model over every\n"
        "window of each dataset, the windows cut as train cuts them (same --seq-len,\n"
        "--pack-eos, --doc-mask, --pad-per-doc): on a set that train evaluates with\n"
        "--eval-every, the same number as its val_loss.  Alone or under mpirun.",
        eval_table, 0, 0, NULL};
    int rc = yt_cmd_options(&spec, &o, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    char paths[YT_EVAL_MAX_SETS][4200];
    int n = 0;
    if (yt_eval_split(o.data, paths, &n, &e)) {
        yt_report("eval: --data %s", e.msg);
        return YT_EXIT_USAGE;
    }
    yt_comm *comm = NULL;
    if (yt_comm_init(&comm, &argc, &argv, &e)) {
        yt_report("eval: %s", e.msg);
        return YT_EXIT_FAIL;
    }
    int rank = yt_comm_rank(comm), world = yt_comm_size(comm);
    yt_k_set_threads(o.threads > 0 ? o.threads : yt_ddp_default_threads(comm));
    yt_eval_set sets[YT_EVAL_MAX_SETS];
    eval_result res[YT_EVAL_MAX_SETS];
    memset(sets, 0, sizeof sets);
    yt_model *m = NULL;
    int with_adapter = 0, opened = 0, status = YT_EXIT_FAIL;
    char from[8192] = "";
    size_t T = (size_t)o.micro_batch * (size_t)o.seq_len;
    int32_t *in = NULL, *tg = NULL, *doc = NULL, *posn = NULL;
    float *w = NULL;
    int ok = (in = yt_alloc_array(T, sizeof *in, "the batch's input tokens", &e)) &&
             (tg = yt_alloc_array(T, sizeof *tg, "the batch's target tokens", &e)) &&
             (doc = yt_alloc_array(T, sizeof *doc, "the batch's document ids", &e)) &&
             (posn = yt_alloc_array(T, sizeof *posn, "the batch's positions", &e)) &&
             (w = yt_alloc_array(T, sizeof *w, "the batch's token weights", &e));
    ok = ok && yt_adapter_open_model(&m, o.model, o.adapter, o.micro_batch, o.seq_len, &with_adapter,
                                     from, sizeof from, &e) == 0;
    if (ok && !with_adapter)
        from[0] = '\0';
    const yt_config *c = ok ? yt_model_config(m) : NULL;
    if (ok && o.pack_eos && (c->eos_id < 0 || c->eos_id >= c->vocab_size))
        ok = yt_errf(&e, "the model %s has no usable eos_token_id (%d) for --pack-eos; set "
                         "--pack-eos false", o.model, c->eos_id) == 0;
    yt_ds_sampler_opts so = {.seq_len = (uint32_t)o.seq_len, .pack_eos = o.pack_eos,
                             .eos_id = ok && o.pack_eos ? (uint32_t)c->eos_id : 0,
                             .pad_per_doc = o.pad_per_doc, .doc_mask = o.doc_mask};
    char tokfp[17] = "";
    int tok_read = 0;
    for (; ok && opened < n; opened++)
        ok = yt_eval_set_open(&sets[opened], paths[opened], &so, o.model, c, tokfp, &tok_read, &e) == 0;
    int failed = yt_comm_failed_ranks(comm, ok);
    if (!ok) {
        if (world > 1)
            yt_report("eval: rank %d: %s", rank, e.msg);
        else
            yt_report("eval: %s", e.msg);
        goto out;
    }
    if (failed) {
        if (rank == 0)
            yt_report("eval: setup failed on %d other rank%s", failed, failed > 1 ? "s" : "");
        goto out;
    }
    yt_ds_batch bt = {.inputs = in, .targets = tg, .weights = w, .doc_ids = o.doc_mask ? doc : NULL,
                      .positions = o.doc_mask ? posn : NULL};
    double t0 = yt_now();
    for (int i = 0; i < n; i++)
        if (yt_eval_run(&sets[i], comm, o.micro_batch, o.seq_len, &bt, forward_loss, m, &res[i].loss,
                        &res[i].counted, &res[i].windows, &e)) {
            yt_report("eval: %s: %s", sets[i].path, e.msg);
            yt_comm_abort(comm, YT_EXIT_FAIL);
        }
    if (rank == 0) {
        if (o.json ? print_json(&o, from, sets, res, n) : (print_table(&o, from, sets, res, n), 0)) {
            yt_err_oom(&e, "the JSON report");
            yt_report("eval: %s", e.msg);
            goto out;
        }
        if (!o.json)
            printf("%d rank%s x %d thread%s, %.1f s\n", world, world > 1 ? "s" : "", yt_k_get_threads(),
                   yt_k_get_threads() > 1 ? "s" : "", yt_now() - t0);
        fflush(stdout);
    }
    status = YT_EXIT_OK;
out:
    for (int i = 0; i < opened; i++)
        yt_eval_set_close(&sets[i]);
    yt_model_close(m);
    free(in);
    free(tg);
    free(doc);
    free(posn);
    free(w);
    yt_comm_finalize(comm);
    return status;
}
