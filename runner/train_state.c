/* Snapshots of a training run and resuming from them.  A snapshot holds what
 * makes the continuation bitwise identical to an uninterrupted run on the same
 * ranks: LoRA weights, AdamW moments and step count, the optimizer step, tokens
 * seen, the sampler cursor.  Random streams (LoRA init, dropout masks, data
 * order) are counter-based functions of (seed, step, micro-batch), so the seed
 * and the step are their whole state.  Rank 0 writes and reads; resume
 * broadcasts to the others, so only rank 0 needs to see RUN.
 *
 * Test seam (tests/integration/snapshot_faults.sh): YT_SNAP_FAULT_PAUSE=SECONDS
 * in the environment makes every snapshot commit pause that long half way
 * through writing its temp file and again just before the rename, so that a
 * test can kill the writer there.  It is read here and handed to the atomic
 * file as its hook (common.h); no library code reads the environment. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "checkpoint/checkpoint.h"
#include "config.h"
#include "runner/runner.h"
#include "runner/snapshot_check.h"
#include "runner/train.h"

static const char *const identity_keys[] = {
    "seq_len", "lr", "warmup", "schedule", "min_lr_ratio", "weight_decay", "clip", "beta1", "beta2",
    "eps", "lora_rank", "lora_alpha", "lora_dropout", "rslora", "seed",
    "pack_eos", "doc_mask", "pad_per_doc", "base_dtype",
};

json_t *yt_train_identity(const trainer *t)
{
    json_t *all = yt_opts_to_json(yt_train_table, &t->o);
    json_t *id = json_object();
    char fp[32];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)yt_model_fingerprint(t->model));
    json_object_set_new(id, "model_fingerprint", json_string(fp));
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)t->ds->fingerprint);
    json_object_set_new(id, "dataset_fingerprint", json_string(fp));
    json_object_set_new(id, "global_batch", json_integer((json_int_t)t->o.micro_batch * t->A * t->world));
    for (size_t i = 0; i < sizeof identity_keys / sizeof identity_keys[0]; i++)
        json_object_set(id, identity_keys[i], json_object_get(all, identity_keys[i]));
    /* targets as the set, not the spelling */
    json_t *tg = json_array();
    for (int p = 0; p < YT_NPROJ; p++)
        if ((yt_model_lora_config(t->model)->targets >> p) & 1)
            json_array_append_new(tg, json_string(yt_proj_short[p]));
    json_object_set_new(id, "lora_targets", tg);
    json_decref(all);
    return id;
}

static int put_tensors(yt_snap_writer *w, const yt_model *m, const char *group, const float *base,
                       yt_err *e)
{
    for (int i = 0; i < yt_model_n_lora_tensors(m); i++) {
        const yt_lora_tensor *lt = yt_model_lora_tensor(m, i);
        char name[200];
        snprintf(name, sizeof name, "%s/%s", group, lt->name);
        int64_t shape[2] = {lt->rows, lt->cols};
        if (yt_snap_put_f32(w, name, base + lt->offset, 2, shape, e))
            return -1;
    }
    return 0;
}

static void fault_pause(yt_af_point at, const char *path, void *ctx)
{
    (void)at;
    (void)path;
    double s = *(const double *)ctx;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void yt_snap_image_free(yt_snap_image *img)
{
    free(img->id_text);
    free(img->cfg_text);
    free(img->mc_text);
    img->id_text = img->cfg_text = img->mc_text = NULL;
}

int yt_train_capture(trainer *t, yt_snap_image *img, float *copy, yt_err *e)
{
    /* With --zero 1 every rank holds a shard of the moments: gather them on rank 0. */
    const float *adam_m, *adam_v;
    if (yt_step_state_out(&t->stepper, &adam_m, &adam_v, e))
        return -1;
    if (t->rank != 0)
        return 0;
    size_t np = yt_model_n_params(t->model);
    img->params = yt_model_params(t->model);
    img->m = adam_m;
    img->v = adam_v;
    if (copy) { /* a background write reads the copy while the next steps run */
        memcpy(copy, img->params, np * sizeof(float));
        memcpy(copy + np, adam_m, np * sizeof(float));
        memcpy(copy + 2 * np, adam_v, np * sizeof(float));
        img->params = copy;
        img->m = copy + np;
        img->v = copy + 2 * np;
    }
    img->model = t->model;
    img->step = t->step;
    img->tokens_seen = t->tokens_seen;
    img->adamw_t = t->adam.t;
    img->cursor = yt_ds_sampler_cursor(t->sampler);
    img->steps_per_epoch = yt_ds_sampler_steps_per_epoch(t->sampler);
    img->world = t->world;
    img->keep = t->o.keep;
    img->snap_dir = t->snap_dir;
    img->base_model = t->base_name;
    img->model_fp = yt_model_fingerprint(t->model);
    img->dataset_fp = t->ds->fingerprint;
    json_t *id = yt_train_identity(t);
    img->id_text = json_dumps(id, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(id);
    json_t *cfg = yt_opts_to_json(yt_train_table, &t->o);
    img->cfg_text = json_dumps(cfg, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(cfg);
    json_t *mc = yt_config_to_json(yt_model_config(t->model), NULL);
    img->mc_text = json_dumps(mc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(mc);
    if (!img->id_text || !img->cfg_text || !img->mc_text) {
        yt_snap_image_free(img);
        yt_err_oom(e, "the snapshot's JSON attributes");
        return yt_err_prefix(e, "step %ld", t->step);
    }
    return 0;
}

int yt_train_write_image(const yt_snap_image *img, double *seconds, size_t *bytes, yt_err *e)
{
    double t0 = yt_now();
    char path[4400];
    if (yt_snap_path(path, sizeof path, img->snap_dir, img->step, e))
        return -1;
    yt_snap_writer *w = yt_snap_begin(path, e);
    if (!w)
        return -1;
    const char *pause_env = getenv("YT_SNAP_FAULT_PAUSE");
    double pause = pause_env ? atof(pause_env) : 0;
    yt_af_hook hook = {fault_pause, &pause};
    if (pause > 0)
        yt_snap_set_hook(w, &hook);
    char fp[32];
    const yt_lora_config *lc = yt_model_lora_config(img->model);
    int rc = put_tensors(w, img->model, "lora", img->params, e) ||
             put_tensors(w, img->model, "optim/m", img->m, e) ||
             put_tensors(w, img->model, "optim/v", img->v, e) ||
             yt_snap_attr_str(w, "program_version", "yieldtune " PACKAGE_VERSION, e) ||
             yt_snap_attr_i64(w, "step", img->step, e) ||
             yt_snap_attr_i64(w, "tokens_seen", img->tokens_seen, e) ||
             yt_snap_attr_i64(w, "adamw_t", img->adamw_t, e) ||
             yt_snap_attr_i64(w, "sampler_epoch", (int64_t)img->cursor.epoch, e) ||
             yt_snap_attr_i64(w, "sampler_position", (int64_t)img->cursor.position, e) ||
             yt_snap_attr_i64(w, "sampler_steps_per_epoch", (int64_t)img->steps_per_epoch, e) ||
             yt_snap_attr_i64(w, "world_size", img->world, e) ||
             yt_snap_attr_str(w, "identity", img->id_text, e) ||
             yt_snap_attr_str(w, "config", img->cfg_text, e) ||
             yt_snap_attr_str(w, "model_config", img->mc_text, e) ||
             yt_snap_attr_str(w, "base_model", img->base_model, e) ||
             yt_snap_attr_i64(w, "lora_rank", lc->rank, e) ||
             yt_snap_attr_f64(w, "lora_alpha", lc->alpha, e) ||
             yt_snap_attr_f64(w, "lora_dropout", lc->dropout, e) ||
             yt_snap_attr_i64(w, "use_rslora", lc->rslora, e) ||
             yt_snap_attr_str(w, "rng", "counter-based: LoRA init, dropout and data order are "
                                        "functions of (seed, step, micro-batch)", e);
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)img->model_fp);
    rc = rc || yt_snap_attr_str(w, "model_fingerprint", fp, e);
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)img->dataset_fp);
    rc = rc || yt_snap_attr_str(w, "dataset_fingerprint", fp, e);
    if (rc) {
        yt_snap_abort(w);
        return -1;
    }
    if (yt_snap_commit(w, e))
        return -1;
    yt_snap_check rule = yt_train_snap_rule();
    if (yt_snap_prune(img->snap_dir, img->keep, &rule, NULL, e))
        return -1;
    struct stat st;
    *bytes = stat(path, &st) == 0 ? (size_t)st.st_size : 0;
    *seconds = yt_now() - t0;
    return 0;
}

int yt_train_save(trainer *t, double *seconds, size_t *bytes, yt_err *e)
{
    yt_snap_image img = {0};
    double t0 = yt_now();
    if (yt_train_capture(t, &img, NULL, e))
        return -1;
    int rc = t->rank == 0 ? yt_train_write_image(&img, seconds, bytes, e) : 0;
    yt_snap_image_free(&img);
    *seconds = yt_now() - t0;
    return rc;
}

/* Compares the snapshot's identity with this run's; names the first key that differs. */
static int check_identity(const trainer *t, const char *path, const char *text, yt_err *e)
{
    json_error_t je;
    json_t *saved = json_loads(text, 0, &je);
    if (!saved)
        return yt_errf(e, "%s: attribute 'identity' is not JSON: %s", path, je.text);
    json_t *now = yt_train_identity(t);
    const char *key;
    json_t *v;
    int rc = 0;
    /* The base dtype first (its fingerprint differs too); snapshots from
     * before --base-dtype existed were made with f32. */
    const char *was = json_string_value(json_object_get(saved, "base_dtype"));
    const char *is = json_string_value(json_object_get(now, "base_dtype"));
    if (strcmp(was ? was : "f32", is ? is : "f32") != 0)
        rc = yt_errf(e, "%s was made with --base-dtype %s but this run has --base-dtype %s; resume it "
                        "with --base-dtype %s, or train into another --out",
                     path, was ? was : "f32", is ? is : "f32", was ? was : "f32");
    json_object_foreach(now, key, v)
    {
        if (rc)
            break;
        if (strcmp(key, "base_dtype") == 0)
            continue;
        json_t *old = json_object_get(saved, key);
        int same = old && (json_equal(old, v) ||
                           (json_is_number(old) && json_is_number(v) &&
                            (float)json_number_value(old) == (float)json_number_value(v)));
        if (!same) {
            char *a = old ? json_dumps(old, JSON_ENCODE_ANY | JSON_REAL_PRECISION(7)) : strdup("(absent)");
            char *b = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(7));
            const char *what = strcmp(key, "model_fingerprint") == 0 ? " (another base model)"
                               : strcmp(key, "dataset_fingerprint") == 0 ? " (another dataset)"
                               : strcmp(key, "global_batch") == 0
                                   ? " (keep micro-batch x grad-accum x ranks equal)"
                                   : "";
            rc = yt_errf(e, "%s was made with %s = %s but this run has %s = %s%s; resume it with the "
                            "same setting, or train into another --out",
                         path, key, a ? a : "?", key, b ? b : "?", what);
            free(a);
            free(b);
            break;
        }
    }
    json_decref(now);
    json_decref(saved);
    return rc;
}

/* The group's tensors into base, in the model's layout; the shapes are the
 * model's (yt_train_snap_check tied them to the snapshot's model_config, and
 * the caller tied that to this model). */
static int get_tensors(yt_snap *s, trainer *t, const char *group, float *base, yt_err *e)
{
    const yt_model *m = t->model;
    for (int i = 0; i < yt_model_n_lora_tensors(m); i++) {
        const yt_lora_tensor *lt = yt_model_lora_tensor(m, i);
        char name[200];
        snprintf(name, sizeof name, "%s/%s", group, lt->name);
        if (yt_snap_get_f32(s, name, base + lt->offset, (size_t)lt->rows * lt->cols, e))
            return -1;
    }
    return 0;
}

/* What rank 0 tells the others after looking at RUN. */
typedef struct resume_msg {
    int32_t status;        /* 0 fresh, 1 resumed, -1 error */
    int64_t step, tokens, adam_t, epoch, position;
} resume_msg;

/* The snapshot's facts against this run's model and data (beyond identity). */
static int check_fits_run(const trainer *t, const char *path, const yt_train_snap_facts *k,
                          yt_err *e)
{
    if (yt_config_hash(&k->model) != yt_config_hash(yt_model_config(t->model)))
        return yt_errf(e, "%s was made for another model architecture (attribute 'model_config') "
                          "than %s",
                       path, t->o.model);
    if (k->n_lora != yt_model_n_lora_tensors(t->model))
        return yt_errf(e, "%s holds %d LoRA matrices, this run has %d", path, k->n_lora,
                       yt_model_n_lora_tensors(t->model));
    uint64_t spe = yt_ds_sampler_steps_per_epoch(t->sampler);
    if ((uint64_t)k->steps_per_epoch != spe)
        return yt_errf(e, "%s counts %lld steps per epoch, this run's data has %llu", path,
                       (long long)k->steps_per_epoch, (unsigned long long)spe);
    return 0;
}

static int load_on_root(trainer *t, resume_msg *msg, char *from, size_t cap, char *report,
                        size_t rcap, yt_err *e)
{
    const char *mode = t->o.resume;
    char path[4400] = "";
    long step = -1;
    report[0] = '\0';
    yt_snap_check rule = yt_train_snap_rule();
    if (strcmp(mode, "never") == 0 || strcmp(mode, "auto") == 0) {
        if (yt_snap_clean_temps(t->snap_dir, NULL, e) ||
            yt_snap_latest_valid(t->snap_dir, &rule, path, sizeof path, &step, report, rcap, e))
            return -1;
        if (step >= 0 && strcmp(mode, "never") == 0)
            return yt_errf(e, "%s holds snapshots (newest %s) and --resume is never: train into "
                              "another --out, or resume with --resume auto",
                           t->snap_dir, path);
        if (step < 0) {
            msg->status = 0;
            from[0] = '\0';
            return 0;
        }
    } else {
        snprintf(path, sizeof path, "%s", mode);
        step = yt_train_snap_name_step(path);
    }
    yt_snap *s = NULL;
    if (yt_snap_open(&s, path, e))
        return -1;
    float *adam_m, *adam_v; /* full-size moments (handed to every rank by yt_step_state_in) */
    yt_step_state_buffers(&t->stepper, &adam_m, &adam_v);
    char *id = NULL;
    yt_train_snap_facts k;
    int rc = yt_train_snap_validate(s, step, &k, e) ||
             yt_snap_get_attr_str_dup(s, "identity", &id, e) || check_identity(t, path, id, e) ||
             check_fits_run(t, path, &k, e) ||
             get_tensors(s, t, "lora", yt_model_params(t->model), e) ||
             get_tensors(s, t, "optim/m", adam_m, e) || get_tensors(s, t, "optim/v", adam_v, e);
    free(id);
    yt_snap_close(s);
    if (rc)
        return -1;
    msg->step = k.step;
    msg->tokens = k.tokens_seen;
    msg->adam_t = k.adamw_t;
    msg->epoch = k.epoch;
    msg->position = k.position;
    msg->status = 1;
    snprintf(from, cap, "%s", path);
    return 0;
}

int yt_train_resume(trainer *t, char *from, size_t cap, char *report, size_t rcap, yt_err *e)
{
    resume_msg msg = {0};
    yt_events_resume_begin(&t->att);
    from[0] = report[0] = '\0';
    if (t->rank == 0 && load_on_root(t, &msg, from, cap, report, rcap, e))
        msg.status = -1;
    if (yt_comm_bcast(t->comm, &msg, sizeof msg, 0, e))
        return -1;
    if (msg.status < 0)
        return t->rank == 0 ? -1 : yt_errf(e, "rank 0 could not resume");
    if (msg.status == 0)
        return 0;
    if (yt_step_state_in(&t->stepper, e))
        return -1;
    t->step = (long)msg.step;
    t->tokens_seen = msg.tokens;
    t->adam.t = (long)msg.adam_t;
    yt_ds_cursor c = {(uint64_t)msg.epoch, (uint64_t)msg.position};
    if (yt_ds_sampler_set_cursor(t->sampler, c, e))
        return yt_err_prefix(e, "restoring the data position");
    return 1;
}
