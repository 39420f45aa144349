/* yieldtune train: the training loop.
 * Each optimizer step takes one global batch from the sampler (this rank's A
 * micro-batches), weights every counted token by 1/(counted tokens of the whole
 * global batch), sums LoRA gradients over micro-batches and ranks, clips, and
 * applies AdamW.  Everything is allocated before the first step. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectives/collectives.h"
#include "config.h"
#include "datasets/datasets.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "optim/optim.h"
#include "runner/evaluation.h"
#include "runner/progress.h"
#include "runner/run_lock.h"
#include "runner/runner.h"
#include "runner/snapshot_bg.h"
#include "runner/train.h"
#include "runner/train_options.h"


static int default_threads(const yt_comm *c) { return yt_ddp_default_threads(c); }

static int write_run_config(trainer *t, yt_err *e)
{
    json_t *j = yt_opts_to_json(yt_train_table, &t->o);
    json_object_set_new(j, "world_size", json_integer(t->world));
    json_object_set_new(j, "global_batch", json_integer((json_int_t)t->o.micro_batch * t->A * t->world));
    char fp[32];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)yt_model_fingerprint(t->model));
    json_object_set_new(j, "model_fingerprint", json_string(fp));
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)t->ds->fingerprint);
    json_object_set_new(j, "dataset_fingerprint", json_string(fp));
    json_object_set_new(j, "lora_parameters", json_integer((json_int_t)yt_model_n_params(t->model)));
    json_object_set_new(j, "yieldtune_version", json_string(PACKAGE_VERSION));
    yt_ddp_config_json(&t->ddp, j);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!text) {
        yt_err_oom(e, "the JSON text");
        return yt_err_prefix(e, "%s/config.json", t->o.out);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", t->o.out);
    size_t n = strlen(text);
    text[n] = '\n';
    int rc = yt_write_file_atomic(path, text, n + 1, e);
    free(text);
    return rc;
}

/* The validation sets: --val-data (a comma-separated list; the option may be
 * repeated), else DATA with .h5 replaced by .val.h5 when that file exists.
 * --eval-every needs one; without --eval-every none is opened. */
static int resolve_val_paths(trainer *t, char (*paths)[4200], yt_err *e)
{
    const yt_train_opts *o = &t->o;
    t->n_val = 0;
    if (o->val_data[0]) {
        if (yt_eval_split(o->val_data, paths, &t->n_val, e))
            return yt_err_prefix(e, "--val-data");
    } else {
        size_t n = strlen(o->data);
        if (n >= 3 && strcmp(o->data + n - 3, ".h5") == 0) {
            snprintf(paths[0], sizeof paths[0], "%.*s.val.h5", (int)(n - 3), o->data);
            t->n_val = access(paths[0], F_OK) == 0;
        }
    }
    if (o->eval_every > 0 && !t->n_val)
        return yt_errf(e, "--eval-every %ld needs a validation set: give --val-data FILE.h5 or "
                          "make %s with .h5 replaced by .val.h5",
                       o->eval_every, o->data);
    if (o->eval_every == 0)
        t->n_val = 0; /* not used */
    return 0;
}

static int poll_abandon(void *ctx);

/* "1.23 GiB" or "45.6 MiB" into b[32]. */
static const char *size_str(char b[32], double bytes)
{
    if (bytes >= 1024.0 * 1024.0 * 1024.0)
        snprintf(b, 32, "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
    else
        snprintf(b, 32, "%.1f MiB", bytes / (1024.0 * 1024.0));
    return b;
}

/* The start-up memory line (model/memory.c's estimate for these options):
 * what one rank holds, and the largest model that fits one rank's share of
 * this node's memory (CPU) at the same options. */
static void memory_line(const trainer *t, char *buf, size_t cap)
{
    const yt_train_opts *o = &t->o;
    int gpu = o->device == YT_DEVICE_CUDA, N = o->shard_group > 0 ? o->shard_group : t->world;
    yt_mem_opts mo = {.device = gpu ? YT_MEM_GPU : YT_MEM_CPU, .micro_batch = o->micro_batch,
                      .seq_len = o->seq_len, .base_dtype = o->base_dtype, .sharded = o->shard_base,
                      .shard_count = o->shard_base ? N : 1, .threads = yt_k_get_threads(),
                      .recompute = o->recompute, .flash = o->attention == YT_ATTENTION_FLASH};
    yt_mem_estimate m;
    yt_model_memory(yt_model_config(t->model), yt_model_lora_config(t->model), &mo, &m);
    char how[64], s[4][32];
    int shown = gpu && o->base_dtype == YT_BASE_F32 ? YT_BASE_BF16 : o->base_dtype;
    if (o->shard_base && N > 1)
        snprintf(how, sizeof how, "%s, sharded 1/%d", yt_base_dtype_name(shown), N);
    else
        snprintf(how, sizeof how, "%s", yt_base_dtype_name(shown));
    int n = snprintf(buf, cap, "memory per rank%s: base %s (%s), LoRA and AdamW %s, activations %s, "
                               "workspace %s",
                     gpu ? " (GPU)" : "", size_str(s[0], m.base), how, size_str(s[1], m.lora),
                     size_str(s[2], m.activations), size_str(s[3], m.workspace));
    double avail = gpu ? 0 : yt_ddp_node_memory_per_rank(t->comm);
    if (avail > 0 && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, "; at these options one rank's share of this node's memory "
                                           "(%s) fits a base of up to ~%.1fB parameters",
                 size_str(s[0], avail), yt_model_memory_fits(&m, avail) / 1e9);
}

/* Everything a step needs, built once.  Runs on every rank. */
static int setup_body(trainer *t, yt_err *e)
{
    yt_train_opts *o = &t->o;
    yt_lora_config lc = {.rank = o->lora_rank, .alpha = o->lora_alpha, .dropout = o->lora_dropout,
                         .rslora = o->rslora};
    if (yt_lora_parse_targets(o->lora_targets, &lc.targets, e))
        return -1;
    if (yt_ds_open(&t->ds, o->data, e))
        return -1;
    /* --shard-base: N consecutive ranks share one copy of the base, rank r
     * keeping piece r mod N of every unit. */
    int group = o->shard_group > 0 ? o->shard_group : t->world;
    if (o->shard_base && t->world % group != 0)
        return yt_errf(e, "--shard-group %d does not divide the %d ranks", group, t->world);
    yt_model_base_opts bo = {.dtype = o->base_dtype, .shard = o->shard_base,
                             .shard_index = t->rank % group, .shard_count = group};
    /* The GPU rounds an fp32 host base to bf16 itself; it takes NF4 units as they are. */
    if (o->device == YT_DEVICE_CUDA && o->base_dtype != YT_BASE_NF4)
        bo.dtype = YT_BASE_F32;
    int default_base = !o->shard_base && bo.dtype == YT_BASE_F32;
    /* The step's device first: it refuses what it cannot run before the weights load. */
    if (yt_step_prepare(&t->stepper, o, e) ||
        yt_model_open_base(&t->model, o->model, &lc, yt_step_host_micro_batch(&t->stepper, o),
                           o->seq_len, yt_ddp_weights_alloc(&t->ddp, t->comm, default_base), &bo, e))
        return -1;
    const yt_config *c = yt_model_config(t->model);
    if (o->base_model[0])
        snprintf(t->base_name, sizeof t->base_name, "%s", o->base_model);
    else if (yt_model_base_name(o->model, t->base_name, sizeof t->base_name, e))
        return -1;
    char tokfp[17] = "";
    int tok_read = 0;
    if (yt_eval_check_dataset(t->ds, o->data, o->model, c, tokfp, &tok_read, e))
        return -1;
    if (o->pack_eos && (c->eos_id < 0 || c->eos_id >= c->vocab_size))
        return yt_errf(e, "the model %s has no usable eos_token_id (%d) for --pack-eos; set "
                          "--pack-eos false",
                       o->model, c->eos_id);
    t->A = o->grad_accum;
    t->BS = o->micro_batch * o->seq_len;
    yt_ds_sampler_opts so = {.seq_len = (uint32_t)o->seq_len, .micro_batch = (uint32_t)o->micro_batch,
                             .global_batch = (uint32_t)(o->micro_batch * o->grad_accum * t->world),
                             .rank = t->rank, .world = t->world, .seed = (uint64_t)o->seed,
                             .pack_eos = o->pack_eos, .eos_id = o->pack_eos ? (uint32_t)c->eos_id : 0,
                             .pad_per_doc = o->pad_per_doc, .doc_mask = o->doc_mask};
    if (yt_ds_sampler_create(&t->sampler, t->ds, &so, e))
        return yt_err_prefix(e, "%s", o->data);
    char val_paths[YT_EVAL_MAX_SETS][4200];
    if (resolve_val_paths(t, val_paths, e))
        return -1;
    for (int i = 0; i < t->n_val; i++)
        if (yt_eval_set_open(&t->val[i], val_paths[i], &so, o->model, c, tokfp, &tok_read, e))
            return yt_err_prefix(e, "validation set");
    if (o->init_adapter[0]) {
        if (yt_model_load_peft(t->model, o->init_adapter, e))
            return -1;
    } else {
        yt_model_lora_init(t->model, (uint64_t)o->seed);
    }
    t->oc = (yt_optim_config){.lr = o->lr, .beta1 = o->beta1, .beta2 = o->beta2, .eps = o->eps,
                              .weight_decay = o->weight_decay, .clip = o->clip,
                              .schedule = o->schedule == YT_SCHEDULE_COSINE ? YT_SCHED_COSINE
                                                                            : YT_SCHED_CONSTANT,
                              .warmup = o->warmup, .total_steps = o->max_steps,
                              .min_lr_ratio = o->min_lr_ratio};
    size_t n = (size_t)t->A * t->BS;
    t->inputs = yt_alloc(n * sizeof(int32_t), "batch inputs", e);
    t->targets = yt_alloc(n * sizeof(int32_t), "batch targets", e);
    t->weights = yt_alloc(n * sizeof(float), "batch weights", e);
    if (!t->inputs || !t->targets || !t->weights)
        return -1;
    if (o->doc_mask) {
        t->doc = yt_alloc(n * sizeof(int32_t), "batch document ids", e);
        t->pos = yt_alloc(n * sizeof(int32_t), "batch positions", e);
        if (!t->doc || !t->pos)
            return -1;
    }
    yt_step_env env = {.comm = t->comm, .model = t->model, .adam = &t->adam, .oc = &t->oc,
                       .o = &t->o, .poll = poll_abandon, .poll_ctx = t};
    return yt_step_open(&t->stepper, &env, e);
}

/* setup_body on every rank, then what needs all of them: the calls a rank that
 * failed before loading the weights owes the others, the agreement, the check
 * that every rank runs the same configuration, model and data, and (rank 0)
 * RUN/config.json with every rank's memory. */
static int setup(trainer *t, yt_err *e)
{
    int ok = setup_body(t, e) == 0;
    yt_ddp_weights_settle(&t->ddp);
    int failed = yt_comm_failed_ranks(t->comm, ok);
    if (!ok)
        return -1;
    if (failed)
        return yt_errf(e, "setup failed on %d other rank%s", failed, failed > 1 ? "s" : "");
    if (yt_ddp_setup_check(&t->ddp, t->model, t->o.zero, yt_train_table, &t->o, t->ds->fingerprint, e))
        return -1;
    ok = yt_step_connect(&t->stepper, e) == 0;
    failed = yt_comm_failed_ranks(t->comm, ok);
    if (!ok)
        return -1;
    if (failed)
        return yt_errf(e, "the %s step's start-up failed on %d other rank%s", t->stepper.ops->device,
                       failed, failed > 1 ? "s" : "");
    if (t->rank == 0 && (yt_mkdirs(t->o.out, e) || write_run_config(t, e)))
        return -1;
    return 0;
}

/* Whether to abandon the step in progress: a yield signal with a deadline
 * arrived and the rest of the step would not finish in time.  Agreed across
 * ranks at fixed points (after each layer, forward and backward, and between
 * micro-batches), so that every rank abandons the same step. */
static int abandon_now(trainer *t)
{
    int want = 0;
    double deadline = yt_yield_deadline(&t->yc);
    if (deadline < INFINITY) {
        double now = yt_now();
        double left = t->last_step_s > 0 ? t->last_step_s - (now - t->step_started) : INFINITY;
        if (left < 0)
            left = 0;
        /* room for the snapshot and the exit */
        want = now + left + 0.1 > deadline;
    }
    if (t->world == 1)
        return want;
    int any = 0;
    yt_err e;
    if (yt_comm_any(t->comm, want, &any, &e))
        return 1;
    return any;
}

/* The model's poll between layers, forward and backward. */
static int poll_abandon(void *ctx)
{
    trainer *t = ctx;
    t->abandoned = abandon_now(t);
    return t->abandoned;
}

/* The micro-batch a of t's batch arrays. */
static yt_ds_batch batch_at(const trainer *t, int a)
{
    size_t off = (size_t)a * t->BS;
    return (yt_ds_batch){.inputs = t->inputs + off, .targets = t->targets + off,
                         .weights = t->weights + off, .doc_ids = t->doc ? t->doc + off : NULL,
                         .positions = t->pos ? t->pos + off : NULL};
}

/* One optimizer step; fills the metrics.  Returns 0 when done, 1 when the step
 * was abandoned for a yield (weights, optimizer and data position are still
 * those of the last completed step), -1 on an error. */
static int train_step(trainer *t, long step, yt_step_metrics *sm, yt_err *e)
{
    double t0 = yt_now();
    t->step_started = t0;
    yt_ds_cursor cursor = yt_ds_sampler_cursor(t->sampler);
    /* The whole step's batch first: the loss weights need the global count. */
    double counted = 0;
    for (int a = 0; a < t->A; a++) {
        yt_ds_batch bt = batch_at(t, a);
        if (yt_ds_sampler_next_batch(t->sampler, &bt, e))
            return -1;
    }
    for (size_t i = 0; i < (size_t)t->A * t->BS; i++)
        counted += t->weights[i];
    if (yt_comm_allreduce_f64(t->comm, &counted, 1, e))
        return -1;
    float inv = counted > 0 ? (float)(1.0 / counted) : 0.0f;
    yt_k_scale(t->weights, inv, (size_t)t->A * t->BS);
    if (yt_step_begin(&t->stepper, e))
        return -1;
    double loss = 0;
    t->abandoned = 0;
    for (int a = 0; a < t->A; a++) {
        /* Dropout masks keyed by the micro-batch's global index: the same for any
         * split of the global batch over ranks. */
        uint64_t g = (uint64_t)t->rank * (uint64_t)t->A + (uint64_t)a;
        uint64_t seed = yt_mix64(yt_mix64((uint64_t)t->o.seed ^ 0x5eedULL) ^ yt_mix64((uint64_t)step)) ^ g;
        yt_ds_batch bt = batch_at(t, a);
        double l = 0;
        if (yt_step_micro_batch(&t->stepper, &bt, a == t->A - 1, yt_mix64(seed), &l, e) < 0)
            return -1;
        loss += l;
        if (t->abandoned || abandon_now(t)) {
            t->abandoned = 0;
            if (yt_step_abandon(&t->stepper, e) || yt_ds_sampler_set_cursor(t->sampler, cursor, e))
                return -1;
            return 1;
        }
    }
    /* Gradients, loss and norm summed over ranks, then AdamW (sharded with --zero 1). */
    double norm = 0;
    if (yt_step_reduce(&t->stepper, &loss, &norm, e))
        return -1;
    float lr = yt_lr_at(&t->oc, step);
    float clip = yt_clip_factor(norm, t->oc.clip);
    if (yt_step_update(&t->stepper, lr, clip, e))
        return -1;
    double dt = yt_now() - t0;
    t->last_step_s = dt;
    long long step_tokens = (long long)t->A * t->BS * t->world;
    sm->step = step + 1;
    sm->total_steps = t->o.max_steps;
    sm->loss = loss;
    sm->lr = lr;
    sm->grad_norm = norm;
    sm->step_tokens = step_tokens;
    sm->tokens += step_tokens;
    sm->step_time_s = dt;
    sm->tokens_per_s = dt > 0 ? (double)step_tokens / dt : 0;
    sm->counted = counted;
    yt_step_end(&t->stepper, &sm->comm_s, &sm->exposed_comm_s);
    yt_step_gather_times(&t->stepper, &sm->gather_s, &sm->exposed_gather_s);
    return 0;
}

static int eval_micro_batch(void *ctx, const yt_ds_batch *b, double *loss, yt_err *e)
{
    return yt_step_eval(&((trainer *)ctx)->stepper, b, loss, e);
}

/* The mean loss over every window of each validation set (forward only, no
 * dropout), collective (runner/evaluation.h): the first set's is val_loss, the
 * others' go to metrics.jsonl as val_loss.NAME.  Uses the first micro-batch of
 * the batch buffers (the step is done with them). */
static int evaluate(trainer *t, yt_step_metrics *sm, yt_err *e)
{
    double t0 = yt_now();
    yt_ds_batch bt = batch_at(t, 0);
    t->val_json[0] = t->val_text[0] = '\0';
    for (int i = 0; i < t->n_val; i++) {
        double loss, counted;
        uint64_t windows;
        if (yt_eval_run(&t->val[i], t->comm, t->o.micro_batch, t->o.seq_len, &bt, eval_micro_batch, t,
                        &loss, &counted, &windows, e))
            return yt_err_prefix(e, "%s", t->val[i].path);
        if (i == 0) {
            sm->val_loss = loss;
            continue;
        }
        size_t a = strlen(t->val_json), b = strlen(t->val_text);
        snprintf(t->val_json + a, sizeof t->val_json - a, ",\"val_loss.%s\":%.9g", t->val[i].name,
                 isfinite(loss) ? loss : -1.0);
        snprintf(t->val_text + b, sizeof t->val_text - b, " val_loss.%s %.4f", t->val[i].name, loss);
    }
    sm->val_more_json = t->val_json;
    sm->val_more_text = t->val_text;
    yt_events_eval(t, yt_now() - t0, sm->val_loss);
    return 0;
}

static void teardown(trainer *t)
{
    yt_progress_close(&t->progress);
    yt_free(t->inputs);
    yt_free(t->targets);
    yt_free(t->weights);
    yt_free(t->doc);
    yt_free(t->pos);
    for (int i = 0; i < t->n_val; i++)
        yt_eval_set_close(&t->val[i]);
    yt_snap_bg_stop(&t->snap_bg);
    yt_step_close(&t->stepper);
    yt_adamw_free(&t->adam);
    yt_ddp_free(&t->ddp);
    yt_ds_sampler_free(t->sampler);
    yt_model_close(t->model);
    yt_ds_close(t->ds);
}

/* Stops every rank after an error that the others may not see.  The snapshot
 * in flight is finished first (it commits or removes its temp file): aborting
 * under it would leave a half-written temp file. */
static _Noreturn void abort_run(trainer *t)
{
    yt_snap_bg_stop(&t->snap_bg);
    yt_comm_abort(t->comm, YT_EXIT_FAIL);
}

/* Reports an error once per failing rank and agrees with the others; returns
 * non-zero when any rank failed. */
static int agree_ok(trainer *t, int ok, const yt_err *e, const char *what)
{
    if (!ok) {
        if (t->world > 1)
            yt_report("train: rank %d: %s: %s", t->rank, what, e->msg);
        else
            yt_report("train: %s", e->msg);
    }
    return yt_comm_failed_ranks(t->comm, ok) != 0;
}

static json_t *snapshot_fields(long step, double seconds, size_t bytes)
{
    return json_pack("{s:I, s:f, s:I}", "step", (json_int_t)step, "seconds", seconds, "bytes",
                     (json_int_t)bytes);
}

/* A background snapshot that finished (rank 0): its event, or its failure
 * kept for the next agreement (which stops the run).  wait: for the one in
 * flight. */
static void background_done(trainer *t, int wait)
{
    yt_snap_bg *bg = &t->snap_bg;
    if (!yt_snap_bg_poll(bg, wait))
        return;
    if (bg->rc != 0) {
        if (!t->bg_failed)
            t->bg_err = bg->err;
        t->bg_failed = 1;
        return;
    }
    json_t *f = snapshot_fields(bg->step, t->bg_stall_s, bg->bytes);
    json_object_set_new(f, "write_s", json_real(bg->write_s));
    json_object_set_new(f, "background", json_true());
    yt_events_write(t, "snapshot", f);
}

/* A periodic snapshot of the last completed step: captured now (collective),
 * written by the background thread while the next steps run. */
static int save_background(trainer *t, yt_err *e)
{
    background_done(t, 1); /* the last one first: its event, at most one in flight */
    if (t->bg_failed) /* the next agreement stops the run; no write after a failed one */
        return 0;
    int rc = yt_snap_bg_submit(&t->snap_bg, t, &t->bg_stall_s, e);
    if (rc == 0)
        t->last_snapshot = yt_now();
    return agree_ok(t, rc == 0, e, "capturing a snapshot") ? -1 : 0;
}

/* Writes the snapshot of the last completed step on rank 0 and agrees that it
 * worked.  Returns 0 when every rank may go on. */
static int save_agreed(trainer *t, yt_err *e)
{
    double secs = 0;
    size_t bytes = 0;
    background_done(t, 1); /* snapshots land in step order */
    int rc = yt_train_save(t, &secs, &bytes, e);
    if (rc == 0) {
        t->last_snapshot = yt_now();
        yt_events_write(t, "snapshot", snapshot_fields(t->step, secs, bytes));
    }
    return agree_ok(t, rc == 0, e, "writing a snapshot") ? -1 : 0;
}

/* Every rank learns the same step whether any rank was signalled and whether a
 * timed snapshot is due. */
static int agree_after_step(trainer *t, int *yield, int *snap, yt_err *e)
{
    background_done(t, 0);
    double v[3] = {yt_yield_pending() ? 1 : 0,
                   t->o.snapshot_seconds > 0 && yt_now() - t->last_snapshot >= t->o.snapshot_seconds,
                   t->att.write_failed || t->bg_failed};
    if (yt_comm_allreduce_f64(t->comm, v, 3, e))
        return -1;
    /* The report needs every event, and a run whose snapshots fail would
     * lose its progress at the next preemption: either stops the run. */
    if (v[2] > 0) {
        if (t->att.write_failed)
            *e = t->att.err;
        else if (t->bg_failed)
            *e = t->bg_err, yt_err_prefix(e, "writing a snapshot (in the background)");
        else
            yt_errf(e, "rank 0 could not write %s/events.jsonl or a snapshot", t->o.out);
        return -1;
    }
    *yield = v[0] > 0;
    *snap = v[1] > 0 || (t->o.snapshot_every > 0 && t->step % t->o.snapshot_every == 0);
    return 0;
}

static int do_yield(trainer *t, yt_err *e)
{
    if (save_agreed(t, e))
        return YT_EXIT_FAIL;
    yt_yield_saved();
    int signo = yt_yield_signo();
    double latency = yt_yield_pending() ? yt_now() - yt_yield_time() : -1;
    long attempt_steps = t->step - t->progress.first_step; /* completed since this process began */
    yt_events_write(t, "yield",
                    json_pack("{s:s, s:I, s:f, s:I}", "signal",
                             signo ? yt_signal_name(signo) : "(another rank)", "step",
                             (json_int_t)t->step, "latency_s", latency, "attempt_steps",
                             (json_int_t)attempt_steps));
    if (t->rank == 0) {
        printf("%syielded at step %ld: snapshot written, exiting %d (run the same command to resume)\n",
               t->progress.tty ? "\n" : "", t->step, YT_EXIT_YIELD);
        fflush(stdout);
        yt_train_check_stalled(t);
    }
    return YT_EXIT_YIELD;
}

/* Prepares RUN (rank 0): the snapshots folder and the event log. */
static int open_run(trainer *t, yt_err *e)
{
    snprintf(t->snap_dir, sizeof t->snap_dir, "%s/snapshots", t->o.out);
    if (t->rank != 0)
        return 0;
    if (yt_mkdirs(t->snap_dir, e))
        return -1;
    char path[4300];
    snprintf(path, sizeof path, "%s/events.jsonl", t->o.out);
    t->events = fopen(path, "a");
    if (!t->events)
        return yt_errno(e, errno, "%s", path);
    if (t->o.background_snapshots && t->o.snapshot_every + (t->o.snapshot_seconds > 0) > 0)
        return yt_snap_bg_start(&t->snap_bg, yt_model_n_params(t->model), e);
    return 0;
}

int yt_cmd_train(int argc, char **argv)
{
    trainer t;
    memset(&t, 0, sizeof t);
    yt_events_begin(&t.att);
    yt_err e = {{0}};
    static const yt_cmd_spec spec = {
        "train", "yieldtune train --model DIR|GGUF --data FILE.h5 --out RUN [options]",
        "LoRA fine-tunes the model on the dataset.  Run it alone or under mpirun\n"
        "(one rank per socket or GPU); every option may also be written as\n"
        "'key = value' in a --config file.  The resolved configuration is\n"
        "written to RUN/config.json, one line per step to RUN/metrics.jsonl,\n"
        "events to RUN/events.jsonl, snapshots to RUN/snapshots/ and the final\n"
        "adapter (PEFT format) to RUN/adapter/.  On a yield signal every rank\n"
        "stops at the same step, a snapshot is written and the exit code is 75;\n"
        "the same command line resumes (--resume auto).",
        yt_train_table, 0, 0, NULL};
    const char *pos[1];
    int npos;
    int rc = yt_cmd_options(&spec, &t.o, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (yt_yield_parse(&t.yc, t.o.yield_signals, t.o.yield_deadline, &e)) {
        yt_report("train: %s", e.msg);
        return YT_EXIT_USAGE;
    }
    /* Before MPI and OpenMP start threads, so that all of them inherit the mask. */
    if (yt_yield_start(&t.yc, &e) || yt_comm_init(&t.comm, &argc, &argv, &e)) {
        yt_report("train: %s", e.msg);
        return YT_EXIT_FAIL;
    }
    t.rank = yt_comm_rank(t.comm);
    t.world = yt_comm_size(t.comm);
    yt_k_set_threads(t.o.threads > 0 ? t.o.threads : default_threads(t.comm));
    int status = YT_EXIT_FAIL;
    /* RUN is locked before anything in it is written, for the whole run. */
    yt_dirlock run_lock = {.fd = -1};
    if (agree_ok(&t, yt_train_lock_run(&run_lock, t.rank, t.o.out, t.o.model, &e) == 0, &e,
                 "the run folder"))
        goto out;
    if (agree_ok(&t, setup(&t, &e) == 0 && open_run(&t, &e) == 0, &e, "setup"))
        goto out;
    yt_model_set_poll(t.model, poll_abandon, &t);
    char from[4400], report[4096];
    rc = yt_train_resume(&t, from, sizeof from, report, sizeof report, &e);
    if (agree_ok(&t, rc >= 0, &e, "resume"))
        goto out;
    if (t.rank == 0 && report[0])
        yt_report("train: skipped snapshots that do not verify: %s", report);
    if (agree_ok(&t, yt_events_attempt(&t, rc == 1, from, &e) == 0, &e, "starting"))
        goto out;
    t.last_snapshot = yt_now();
    if (t.rank == 0 && yt_progress_open(&t.progress, t.o.out, t.o.progress, t.o.log_every, t.step, &e)) {
        yt_report("train: %s", e.msg);
        abort_run(&t);
    }
    if (t.rank == 0) {
        printf("training %s on %s: %zu LoRA parameters, %d rank%s x %d thread%s, global batch %d x %d tokens%s; %s\n",
               t.o.model, t.o.data, yt_model_n_params(t.model), t.world, t.world > 1 ? "s" : "",
               yt_k_get_threads(), yt_k_get_threads() > 1 ? "s" : "",
               t.o.micro_batch * t.A * t.world, t.o.seq_len,
               t.o.zero ? ", optimizer state sharded (--zero 1)" : "", t.ddp.summary);
        if (t.stepper.summary[0])
            printf("on %s\n", t.stepper.summary);
        char mem[512];
        memory_line(&t, mem, sizeof mem);
        printf("%s\n", mem);
        if (rc == 1)
            printf("resumed from %s at step %ld\n", from, t.step);
    }
    yt_step_metrics sm;
    memset(&sm, 0, sizeof sm);
    sm.tokens = t.tokens_seen;
    while (t.step < t.o.max_steps) {
        rc = train_step(&t, t.step, &sm, &e);
        if (rc < 0) {
            yt_report("train: step %ld: %s", t.step + 1, e.msg);
            abort_run(&t);
        }
        if (rc == 1) { /* abandoned: the snapshot holds the last completed step */
            t.att.abandoned_s = yt_now() - t.step_started;
            status = do_yield(&t, &e);
            goto out;
        }
        t.step++;
        t.tokens_seen = sm.tokens;
        sm.val_loss = NAN;
        sm.val_more_json = sm.val_more_text = NULL;
        if (t.n_val && (t.step % t.o.eval_every == 0 || t.step == t.o.max_steps) &&
            evaluate(&t, &sm, &e)) {
            yt_report("train: step %ld: validation: %s", t.step, e.msg);
            abort_run(&t);
        }
        if (!isfinite(sm.loss)) {
            if (t.rank == 0)
                yt_report("train: step %ld: loss is %g; stopping (lower --lr?)", t.step, sm.loss);
            goto out;
        }
        sm.wall = yt_wall();
        if (t.rank == 0 && yt_progress_step(&t.progress, &sm, &e)) {
            yt_report("train: %s", e.msg);
            abort_run(&t);
        }
        yt_events_step(&t, &sm);
        yt_train_first_loss_check(&t, sm.loss);
        int yield = 0, snap = 0;
        if (agree_after_step(&t, &yield, &snap, &e)) {
            yt_report("train: step %ld: %s", t.step, e.msg);
            abort_run(&t);
        }
        if (yield && t.step < t.o.max_steps) {
            status = do_yield(&t, &e);
            goto out;
        }
        if (snap && t.step < t.o.max_steps &&
            (t.o.background_snapshots ? save_background(&t, &e) : save_agreed(&t, &e)))
            goto out;
    }
    /* Finished: a last snapshot (a requeued finished job then only re-exports)
     * and the adapter. */
    if (save_agreed(&t, &e))
        goto out;
    rc = 0;
    if (t.rank == 0) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/adapter", t.o.out);
        rc = yt_model_save_peft(t.model, dir, t.base_name, &e);
        if (rc == 0)
            printf("adapter written to %s\n", dir);
    }
    if (agree_ok(&t, rc == 0, &e, "saving the adapter"))
        goto out;
    yt_events_write(&t, "finish", json_pack("{s:I, s:I}", "step", (json_int_t)t.step, "tokens",
                                           (json_int_t)t.tokens_seen));
    status = YT_EXIT_OK;
out:
    yt_events_exit(&t, status, &e);
    if (t.events)
        fclose(t.events);
    teardown(&t);
    yt_dirlock_release(&run_lock);
    yt_comm_finalize(t.comm);
    return status;
}
