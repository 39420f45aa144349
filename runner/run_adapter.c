/* Reading the LoRA weights of a snapshot (export's reader, shared with
 * generate and eval) and opening a model with an adapter from a snapshot, a run
 * folder or a PEFT folder. */
#define _POSIX_C_SOURCE 200809L
#include "runner/run_adapter.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "runner/snapshot_check.h"

/* Reads the adapter of snapshot s (which passed the run's snapshot rule, so
 * its tensors are exactly the ones k describes) in the training loop's order:
 * layer, then projection, A before B. */
static int read_adapter(yt_snap *s, const yt_train_snap_facts *k, yt_snap_adapter *a, yt_err *e)
{
    a->step = (long)k->step;
    a->lc = k->lc;
    if (yt_snap_get_attr_str_dup(s, "base_model", &a->base_model, e))
        return -1;
    a->v = yt_calloc((size_t)k->n_lora, sizeof *a->v, "the LoRA tensor list", e);
    if (!a->v)
        return yt_err_prefix(e, "%s", yt_snap_file(s));
    a->cap = k->n_lora;
    for (int l = 0; l < k->model.n_layers; l++)
        for (int p = 0; p < YT_NPROJ; p++) {
            if (!((k->lc.targets >> p) & 1))
                continue;
            int in, outw;
            yt_lora_proj_dims(&k->model, p, &in, &outw);
            for (int bb = 0; bb < 2; bb++) {
                yt_snap_lora *t = &a->v[a->n++];
                yt_lora_name(t->name, l, p, bb);
                t->layer = l;
                t->proj = p;
                t->is_b = bb;
                t->rows = bb ? outw : k->lc.rank;
                t->cols = bb ? k->lc.rank : in;
                size_t cnt = (size_t)t->rows * (size_t)t->cols;
                char name[160];
                snprintf(name, sizeof name, "lora/%s", t->name);
                if (!(t->data = yt_alloc_array(cnt, sizeof(float), "a LoRA tensor", e)))
                    return yt_err_prefix(e, "%s: reading '%s'", yt_snap_file(s), name);
                if (yt_snap_get_f32(s, name, t->data, cnt, e))
                    return -1;
            }
        }
    return 0;
}

int yt_snap_adapter_read(const char *src, yt_snap_adapter *a, int *found, char *skipped,
                         size_t skipped_cap, yt_err *e)
{
    memset(a, 0, sizeof *a);
    *found = 0;
    if (skipped_cap)
        skipped[0] = '\0';
    struct stat st;
    if (stat(src, &st) != 0)
        return yt_errno(e, errno, "%s", src);
    if (S_ISDIR(st.st_mode)) {
        char dir[4200];
        long step = -1;
        snprintf(dir, sizeof dir, "%s/snapshots", src);
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            snprintf(dir, sizeof dir, "%s", src); /* a snapshots folder itself */
        yt_snap_check rule = yt_train_snap_rule();
        if (yt_snap_latest_valid(dir, &rule, a->path, sizeof a->path, &step, skipped, skipped_cap, e))
            return -1;
        if (step < 0)
            return 0;
    } else {
        snprintf(a->path, sizeof a->path, "%s", src);
    }
    yt_snap *s = NULL;
    yt_train_snap_facts k = {0};
    int rc = yt_snap_open(&s, a->path, e) ||
                     yt_train_snap_validate(s, yt_train_snap_name_step(a->path), &k, e) ||
                     read_adapter(s, &k, a, e)
                 ? -1
                 : 0;
    yt_snap_close(s);
    *found = rc == 0;
    return rc;
}

void yt_snap_adapter_free(yt_snap_adapter *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i].data);
    free(a->v);
    free(a->base_model);
    memset(a, 0, sizeof *a);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The snapshot's tensors into the model's LoRA parameters, by name. */
static int load_snapshot(yt_model *m, const yt_snap_adapter *a, yt_err *e)
{
    if (yt_model_n_lora_tensors(m) != a->n)
        return yt_errf(e, "%s: holds %d LoRA tensors, the model expects %d", a->path, a->n,
                       yt_model_n_lora_tensors(m));
    float *p = yt_model_params(m);
    for (int i = 0; i < a->n; i++) {
        const yt_lora_tensor *t = yt_model_lora_tensor(m, i);
        const yt_snap_lora *s = &a->v[i];
        if (strcmp(t->name, s->name) != 0 || t->rows != s->rows || t->cols != s->cols)
            return yt_errf(e, "%s: tensor 'lora/%s' [%d, %d] does not fit the model (%s is [%d, %d])",
                           a->path, s->name, s->rows, s->cols, t->name, t->rows, t->cols);
        memcpy(p + t->offset, s->data, sizeof(float) * (size_t)s->rows * s->cols);
    }
    return 0;
}

int yt_adapter_open_model(yt_model **m, const char *model, const char *adapter, int micro_batch,
                          int seq_len, int *with_adapter, char *from, size_t cap, yt_err *e)
{
    *m = NULL;
    *with_adapter = 0;
    snprintf(from, cap, "none");
    char peft[4300];
    yt_lora_config lc = {.rank = 1, .alpha = 1, .targets = 1u << YT_Q};
    if (!adapter || !adapter[0])
        return yt_model_open(m, model, &lc, micro_batch, seq_len, e);
    struct stat st;
    if (stat(adapter, &st) != 0)
        return yt_errno(e, errno, "--adapter %s", adapter);
    snprintf(peft, sizeof peft, "%s/adapter_config.json", adapter);
    int is_peft = S_ISDIR(st.st_mode) && is_file(peft);
    if (!is_peft) {
        yt_snap_adapter a;
        int found = 0;
        char skipped[2048];
        if (yt_snap_adapter_read(adapter, &a, &found, skipped, sizeof skipped, e)) {
            yt_snap_adapter_free(&a);
            return yt_err_prefix(e, "--adapter %s", adapter);
        }
        if (found) {
            int rc = yt_model_open(m, model, &a.lc, micro_batch, seq_len, e) || load_snapshot(*m, &a, e);
            if (rc) {
                yt_model_close(*m);
                *m = NULL;
            } else {
                snprintf(from, cap, "%s (step %ld)%s%s", a.path, a.step, skipped[0] ? "; skipped: " : "",
                         skipped);
                *with_adapter = 1;
            }
            yt_snap_adapter_free(&a);
            return rc ? -1 : 0;
        }
        yt_snap_adapter_free(&a);
        /* a run folder without a valid snapshot: its exported adapter */
        snprintf(peft, sizeof peft, "%s/adapter/adapter_config.json", adapter);
        if (!is_file(peft))
            return yt_errf(e, "--adapter %s: neither a PEFT adapter (adapter_config.json) nor a run "
                              "with a snapshot that verifies or an adapter/ folder",
                           adapter);
        snprintf(peft, sizeof peft, "%s/adapter", adapter);
    } else {
        snprintf(peft, sizeof peft, "%s", adapter);
    }
    if (yt_peft_lora_config(peft, &lc, e) || yt_model_open(m, model, &lc, micro_batch, seq_len, e) ||
        yt_model_load_peft(*m, peft, e)) {
        yt_model_close(*m);
        *m = NULL;
        return -1;
    }
    snprintf(from, cap, "%s", peft);
    *with_adapter = 1;
    return 0;
}
