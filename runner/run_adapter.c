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

static int parse_lora_name(const char *name, int *layer, int *proj, int *is_b)
{
    int l, used = 0;
    char mod[32], pr[32], ab;
    if (sscanf(name, "layers.%d.%31[a-z_].%31[a-z_].lora_%c%n", &l, mod, pr, &ab, &used) != 4 ||
        name[used] != '\0' || l < 0 || (ab != 'A' && ab != 'B'))
        return -1;
    for (int p = 0; p < YT_NPROJ; p++) {
        char want[128];
        snprintf(want, sizeof want, "layers.%d.%s.%s.lora_%c", l, p <= YT_O ? "self_attn" : "mlp",
                 yt_proj_names[p], ab);
        if (strcmp(want, name) == 0) {
            *layer = l;
            *proj = p;
            *is_b = ab == 'B';
            return 0;
        }
    }
    return -1;
}

typedef struct collect {
    yt_snap_adapter *a;
    char bad[512];       /* first tensor under lora/ that is not a LoRA matrix */
} collect;

static int collect_fn(const yt_snap_info *info, void *ctx)
{
    collect *c = ctx;
    yt_snap_adapter *a = c->a;
    if (strncmp(info->name, "lora/", 5) != 0)
        return 0;
    const char *nm = info->name + 5;
    yt_snap_lora t = {0};
    if (strlen(nm) >= sizeof t.name || parse_lora_name(nm, &t.layer, &t.proj, &t.is_b) ||
        info->dtype != YT_SNAP_F32 || info->ndim != 2 || info->shape[0] < 1 || info->shape[1] < 1 ||
        info->shape[0] > 1 << 30 || info->shape[1] > 1 << 30) {
        snprintf(c->bad, sizeof c->bad, "%s", info->name);
        return 1;
    }
    snprintf(t.name, sizeof t.name, "%s", nm);
    t.rows = (int)info->shape[0];
    t.cols = (int)info->shape[1];
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 64;
        yt_snap_lora *nv = realloc(a->v, sizeof *nv * (size_t)cap);
        if (!nv) {
            snprintf(c->bad, sizeof c->bad, "(out of memory)");
            return 1;
        }
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = t;
    return 0;
}

/* The training loop's order: layer, then projection, A before B. */
static int cmp_lora(const void *x_, const void *y_)
{
    const yt_snap_lora *x = x_, *y = y_;
    if (x->layer != y->layer)
        return x->layer < y->layer ? -1 : 1;
    if (x->proj != y->proj)
        return x->proj < y->proj ? -1 : 1;
    return x->is_b - y->is_b;
}

/* lora_targets from the identity attribute ("q", "v", ...). */
static int identity_targets(yt_snap *s, unsigned *targets, yt_err *e)
{
    char *text = NULL;
    if (yt_snap_get_attr_str_dup(s, "identity", &text, e))
        return -1;
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    free(text);
    json_t *a = j ? json_object_get(j, "lora_targets") : NULL;
    if (!json_is_array(a) || json_array_size(a) == 0) {
        json_decref(j);
        return yt_errf(e, "%s: attribute 'identity' has no 'lora_targets' list", yt_snap_file(s));
    }
    char list[256] = "";
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *t = json_string_value(json_array_get(a, i));
        if (!t || strlen(list) + strlen(t) + 2 > sizeof list) {
            json_decref(j);
            return yt_errf(e, "%s: attribute 'identity': bad 'lora_targets'", yt_snap_file(s));
        }
        if (i)
            strcat(list, ",");
        strcat(list, t);
    }
    json_decref(j);
    if (yt_lora_parse_targets(list, targets, e))
        return yt_err_prefix(e, "%s: attribute 'identity' 'lora_targets'", yt_snap_file(s));
    return 0;
}

/* Reads the adapter of snapshot s: tensors in training order and settings. */
static int read_adapter(yt_snap *s, yt_snap_adapter *a, yt_err *e)
{
    const char *f = yt_snap_file(s);
    yt_lora_config *lc = &a->lc;
    int64_t rank = 0, rslora = 0, step = -1;
    double alpha = 0, dropout = 0;
    if (yt_snap_get_attr_i64(s, "step", &step, e) ||
        yt_snap_get_attr_i64(s, "lora_rank", &rank, e) ||
        yt_snap_get_attr_f64(s, "lora_alpha", &alpha, e) ||
        yt_snap_get_attr_f64(s, "lora_dropout", &dropout, e) ||
        yt_snap_get_attr_i64(s, "use_rslora", &rslora, e) ||
        yt_snap_get_attr_str_dup(s, "base_model", &a->base_model, e) ||
        identity_targets(s, &lc->targets, e))
        return -1;
    if (rank < 1 || rank > 1 << 20)
        return yt_errf(e, "%s: attribute 'lora_rank' is %lld", f, (long long)rank);
    a->step = (long)step;
    lc->rank = (int)rank;
    lc->alpha = (float)alpha;
    lc->dropout = (float)dropout;
    lc->rslora = rslora != 0;
    collect c = {.a = a};
    int stop = yt_snap_foreach(s, collect_fn, &c, e);
    if (stop < 0)
        return -1;
    if (stop)
        return yt_errf(e, "%s: tensor '%s' is not a LoRA matrix (lora/layers.N.<module>.<proj>.lora_A|B, "
                          "2-D float32)", f, c.bad);
    if (a->n == 0)
        return yt_errf(e, "%s: holds no LoRA tensors (lora/...)", f);
    qsort(a->v, (size_t)a->n, sizeof *a->v, cmp_lora);
    unsigned seen = 0;
    for (int i = 0; i < a->n; i++) {
        yt_snap_lora *t = &a->v[i];
        seen |= 1u << t->proj;
        int pair_ok = t->is_b ? (i > 0 && !a->v[i - 1].is_b && a->v[i - 1].layer == t->layer &&
                                 a->v[i - 1].proj == t->proj)
                              : (i + 1 < a->n && a->v[i + 1].is_b && a->v[i + 1].layer == t->layer &&
                                 a->v[i + 1].proj == t->proj);
        if (!pair_ok)
            return yt_errf(e, "%s: tensor 'lora/%s' has no lora_%c partner", f, t->name,
                           t->is_b ? 'A' : 'B');
        if ((t->is_b ? t->cols : t->rows) != lc->rank)
            return yt_errf(e, "%s: tensor 'lora/%s' is [%d, %d], not of rank %d (attribute 'lora_rank')",
                           f, t->name, t->rows, t->cols, lc->rank);
    }
    if (seen != lc->targets)
        return yt_errf(e, "%s: the LoRA tensors' projections differ from attribute 'identity' "
                          "lora_targets", f);
    for (int i = 0; i < a->n; i++) {
        yt_snap_lora *t = &a->v[i];
        size_t cnt = (size_t)t->rows * (size_t)t->cols;
        char name[160];
        snprintf(name, sizeof name, "lora/%s", t->name);
        t->data = malloc(cnt * sizeof(float));
        if (!t->data)
            return yt_errf(e, "%s: out of memory reading '%s'", f, name);
        if (yt_snap_get_f32(s, name, t->data, cnt, e))
            return -1;
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
        if (yt_snap_latest_valid(dir, a->path, sizeof a->path, &step, skipped, skipped_cap, e))
            return -1;
        if (step < 0)
            return 0;
    } else {
        snprintf(a->path, sizeof a->path, "%s", src);
    }
    yt_snap *s = NULL;
    int rc = yt_snap_open(&s, a->path, e) || yt_snap_verify(s, e) || read_adapter(s, a, e) ? -1 : 0;
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
    if (yt_peft_read_config(peft, &lc, e) || yt_model_open(m, model, &lc, micro_batch, seq_len, e) ||
        yt_model_load_peft(*m, peft, e)) {
        yt_model_close(*m);
        *m = NULL;
        return -1;
    }
    snprintf(from, cap, "%s", peft);
    *with_adapter = 1;
    return 0;
}
