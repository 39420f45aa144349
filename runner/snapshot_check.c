/* The content rule of a training snapshot (see snapshot_check.h). */
#define _POSIX_C_SOURCE 200809L
#include "runner/snapshot_check.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ctx {
    yt_snap *s;
    const char *f;
    yt_train_snap_facts *k;
    yt_err *e;
    int bad;             /* e holds the first problem found while walking */
    int64_t found[3];    /* tensors seen under lora/, optim/m/, optim/v/ */
} ctx;

static const char *const groups[3] = {"lora/", "optim/m/", "optim/v/"};

static int get_json(yt_snap *s, const char *key, json_t **out, yt_err *e)
{
    char *text = NULL;
    if (yt_snap_get_attr_str_dup(s, key, &text, e))
        return -1;
    json_error_t je;
    *out = json_loads(text, 0, &je);
    free(text);
    if (!*out || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return yt_errf(e, "%s: attribute '%s' is not a JSON object", yt_snap_file(s), key);
    }
    return 0;
}

static int id_int(yt_snap *s, json_t *id, const char *key, int64_t *v, yt_err *e)
{
    json_t *j = json_object_get(id, key);
    if (!json_is_integer(j))
        return yt_errf(e, "%s: attribute 'identity' has no integer '%s'", yt_snap_file(s), key);
    *v = (int64_t)json_integer_value(j);
    return 0;
}

/* A number of identity equal to the attribute's value as the run's float was. */
static int id_same_float(yt_snap *s, json_t *id, const char *key, double attr, yt_err *e)
{
    json_t *j = json_object_get(id, key);
    if (!json_is_number(j) || (float)json_number_value(j) != (float)attr)
        return yt_errf(e, "%s: attribute 'identity' '%s' differs from attribute '%s' (%g)",
                       yt_snap_file(s), key, key, attr);
    return 0;
}

static int identity_targets(yt_snap *s, json_t *id, unsigned *targets, yt_err *e)
{
    json_t *a = json_object_get(id, "lora_targets");
    char list[256] = "";
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > YT_NPROJ)
        return yt_errf(e, "%s: attribute 'identity' has no 'lora_targets' list", yt_snap_file(s));
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *t = json_string_value(json_array_get(a, i));
        if (!t || strlen(t) > 16)
            return yt_errf(e, "%s: attribute 'identity': bad 'lora_targets'", yt_snap_file(s));
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "", t);
    }
    if (yt_lora_parse_targets(list, targets, e))
        return yt_err_prefix(e, "%s: attribute 'identity' 'lora_targets'", yt_snap_file(s));
    return 0;
}

static int same_string(yt_snap *s, json_t *id, const char *key, yt_err *e)
{
    char *v = NULL;
    if (yt_snap_get_attr_str_dup(s, key, &v, e))
        return -1;
    const char *w = json_string_value(json_object_get(id, key));
    int ok = w && strcmp(v, w) == 0;
    free(v);
    if (!ok)
        return yt_errf(e, "%s: attribute '%s' differs from the one in attribute 'identity'",
                       yt_snap_file(s), key);
    return 0;
}

/* Attributes and the JSON they hold, and how they agree. */
static int check_values(yt_snap *s, long name_step, yt_train_snap_facts *k, yt_err *e)
{
    const char *f = yt_snap_file(s);
    int64_t rank = 0, rslora = 0;
    double alpha = 0, dropout = 0;
    if (yt_snap_get_attr_i64(s, "step", &k->step, e) ||
        yt_snap_get_attr_i64(s, "adamw_t", &k->adamw_t, e) ||
        yt_snap_get_attr_i64(s, "tokens_seen", &k->tokens_seen, e) ||
        yt_snap_get_attr_i64(s, "sampler_epoch", &k->epoch, e) ||
        yt_snap_get_attr_i64(s, "sampler_position", &k->position, e) ||
        yt_snap_get_attr_i64(s, "sampler_steps_per_epoch", &k->steps_per_epoch, e) ||
        yt_snap_get_attr_i64(s, "world_size", &k->world_size, e) ||
        yt_snap_get_attr_i64(s, "lora_rank", &rank, e) ||
        yt_snap_get_attr_i64(s, "use_rslora", &rslora, e) ||
        yt_snap_get_attr_f64(s, "lora_alpha", &alpha, e) ||
        yt_snap_get_attr_f64(s, "lora_dropout", &dropout, e))
        return -1;
    if (k->step < 0)
        return yt_errf(e, "%s: attribute 'step' is %lld", f, (long long)k->step);
    if (name_step >= 0 && k->step != name_step)
        return yt_errf(e, "%s: attribute 'step' is %lld but the file name says %ld", f,
                       (long long)k->step, name_step);
    if (k->adamw_t != k->step)
        return yt_errf(e, "%s: attribute 'adamw_t' is %lld, not the step %lld (one AdamW update "
                          "per step)",
                       f, (long long)k->adamw_t, (long long)k->step);
    if (rank < 1 || rank > 65536 || (rslora != 0 && rslora != 1) || !isfinite(alpha) ||
        !(alpha > 0) || !(dropout >= 0 && dropout < 1))
        return yt_errf(e, "%s: LoRA settings out of range (lora_rank %lld, lora_alpha %g, "
                          "lora_dropout %g, use_rslora %lld)",
                       f, (long long)rank, alpha, dropout, (long long)rslora);
    k->lc = (yt_lora_config){.rank = (int)rank, .alpha = (float)alpha, .dropout = (float)dropout,
                             .rslora = (int)rslora};

    json_t *id = NULL, *cfg = NULL, *mc = NULL;
    int rc = -1;
    if (get_json(s, "identity", &id, e) || get_json(s, "config", &cfg, e) ||
        get_json(s, "model_config", &mc, e))
        goto out;
    int64_t id_rank = 0;
    json_t *id_rs = json_object_get(id, "rslora");
    if (id_int(s, id, "seq_len", &k->seq_len, e) ||
        id_int(s, id, "global_batch", &k->global_batch, e) ||
        id_int(s, id, "lora_rank", &id_rank, e) || id_same_float(s, id, "lora_alpha", alpha, e) ||
        id_same_float(s, id, "lora_dropout", dropout, e) ||
        identity_targets(s, id, &k->lc.targets, e) || same_string(s, id, "model_fingerprint", e) ||
        same_string(s, id, "dataset_fingerprint", e))
        goto out;
    if (id_rank != rank || !json_is_boolean(id_rs) || json_is_true(id_rs) != (rslora == 1)) {
        yt_errf(e, "%s: attributes 'lora_rank'/'use_rslora' differ from attribute 'identity'", f);
        goto out;
    }
    if (yt_config_from_json(&k->model, mc, "attribute 'model_config'", e) ||
        yt_config_validate(&k->model, "attribute 'model_config'", e)) {
        yt_err_prefix(e, "%s", f);
        goto out;
    }
    /* Tokens and data position follow from the step. */
    const int64_t G = k->global_batch, S = k->seq_len, E = k->steps_per_epoch;
    if (G < 1 || S < 1 || E < 1 || k->world_size < 1 || G % k->world_size != 0) {
        yt_errf(e, "%s: global_batch %lld, seq_len %lld, sampler_steps_per_epoch %lld, world_size "
                   "%lld do not fit together",
                f, (long long)G, (long long)S, (long long)E, (long long)k->world_size);
        goto out;
    }
    if (k->step > INT64_MAX / G / S || k->tokens_seen != k->step * G * S) {
        yt_errf(e, "%s: attribute 'tokens_seen' is %lld, not step x global_batch x seq_len", f,
                (long long)k->tokens_seen);
        goto out;
    }
    if (k->position < 0 || k->epoch < 0 || k->position % G != 0 || k->position / G >= E ||
        k->epoch > k->step / E || k->epoch * E + k->position / G != k->step) {
        yt_errf(e, "%s: the sampler cursor (epoch %lld, position %lld) is not where step %lld "
                   "leaves it (%lld steps of %lld windows per epoch)",
                f, (long long)k->epoch, (long long)k->position, (long long)k->step, (long long)E,
                (long long)G);
        goto out;
    }
    rc = 0;
out:
    json_decref(id);
    json_decref(cfg);
    json_decref(mc);
    return rc;
}

/* layers.<l>.<module>.<proj>.lora_<A|B> as yt_lora_name writes it, else -1. */
static int parse_lora(const char *name, int *layer, int *proj, int *is_b)
{
    int l, used = 0;
    char mod[32], pr[32], ab;
    if (sscanf(name, "layers.%d.%31[a-z_].%31[a-z_].lora_%c%n", &l, mod, pr, &ab, &used) != 4 ||
        name[used] != '\0' || l < 0 || (ab != 'A' && ab != 'B'))
        return -1;
    for (int p = 0; p < YT_NPROJ; p++) {
        char want[96];
        yt_lora_name(want, l, p, ab == 'B');
        if (strcmp(want, name) == 0) {
            *layer = l;
            *proj = p;
            *is_b = ab == 'B';
            return 0;
        }
    }
    return -1;
}

static int tensor_fn(const yt_snap_info *info, void *arg)
{
    ctx *c = arg;
    int g = -1;
    for (int i = 0; i < 3 && g < 0; i++)
        if (strncmp(info->name, groups[i], strlen(groups[i])) == 0)
            g = i;
    const char *nm = g >= 0 ? info->name + strlen(groups[g]) : "";
    int l, p, b, in, out;
    if (g < 0 || parse_lora(nm, &l, &p, &b) != 0 || l >= c->k->model.n_layers ||
        !((c->k->lc.targets >> p) & 1)) {
        yt_errf(c->e, "%s: tensor '%s' is not a LoRA matrix of this model and targets", c->f,
                info->name);
        return c->bad = 1;
    }
    yt_lora_proj_dims(&c->k->model, p, &in, &out);
    int64_t rows = b ? out : c->k->lc.rank, cols = b ? c->k->lc.rank : in;
    if (info->dtype != YT_SNAP_F32 || info->ndim != 2 || info->shape[0] != rows ||
        info->shape[1] != cols) {
        yt_errf(c->e, "%s: tensor '%s' is not float32 [%lld, %lld] (rank %d, model_config)", c->f,
                info->name, (long long)rows, (long long)cols, c->k->lc.rank);
        return c->bad = 1;
    }
    c->found[g]++;
    return 0;
}

/* During the verification: every float finite, second moments >= 0 (the
 * structural check rejects tensors of another type). */
static int finite_fn(const yt_snap_info *info, const void *data, void *arg, yt_err *e)
{
    (void)arg;
    if (info->dtype != YT_SNAP_F32)
        return 0;
    const float *x = data;
    int is_v = strncmp(info->name, groups[2], strlen(groups[2])) == 0;
    for (size_t i = 0; i < info->count; i++)
        if (!isfinite(x[i]) || (is_v && x[i] < 0))
            return yt_errf(e, "tensor '%s' element %zu is %g", info->name, i, (double)x[i]);
    return 0;
}

static int check_tensors(yt_snap *s, yt_train_snap_facts *k, yt_err *e)
{
    ctx c = {.s = s, .f = yt_snap_file(s), .k = k, .e = e};
    int rc = yt_snap_foreach(s, tensor_fn, &c, e);
    if (rc < 0 || c.bad)
        return -1;
    int per_layer = 0;
    for (int p = 0; p < YT_NPROJ; p++)
        per_layer += (k->lc.targets >> p) & 1;
    /* Names are unique and each maps to one expected matrix: equal counts
     * mean exactly the expected set. */
    int64_t want = 2LL * per_layer * k->model.n_layers;
    for (int g = 0; g < 3; g++)
        if (c.found[g] != want)
            return yt_errf(e, "%s: %lld tensors under %s, the model and targets make %lld", c.f,
                           (long long)c.found[g], groups[g], (long long)want);
    k->n_lora = (int)want;
    return 0;
}

int yt_train_snap_check(yt_snap *s, long name_step, yt_train_snap_facts *facts, yt_err *e)
{
    yt_train_snap_facts k;
    memset(&k, 0, sizeof k);
    if (check_values(s, name_step, &k, e) || check_tensors(s, &k, e))
        return -1;
    if (facts)
        *facts = k;
    return 0;
}

static int rule_fn(yt_snap *s, long step, void *ctx_, yt_err *e)
{
    (void)ctx_;
    return yt_train_snap_check(s, step, NULL, e);
}

/* The finiteness messages from inside the verification name the file too. */
static int rule_data(const yt_snap_info *info, const void *data, void *ctx_, yt_err *e)
{
    const char *file = ctx_;
    if (finite_fn(info, data, NULL, e) == 0)
        return 0;
    return file ? yt_err_prefix(e, "%s", file) : -1;
}

yt_snap_check yt_train_snap_rule(void) { return (yt_snap_check){rule_fn, finite_fn, NULL}; }

int yt_train_snap_validate(yt_snap *s, long name_step, yt_train_snap_facts *facts, yt_err *e)
{
    if (yt_snap_verify_each(s, rule_data, (void *)yt_snap_file(s), e))
        return -1;
    return yt_train_snap_check(s, name_step, facts, e);
}

long yt_train_snap_name_step(const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    long step = -1;
    int used = 0;
    if (strncmp(base, "step-", 5) != 0 || sscanf(base + 5, "%ld%n", &step, &used) != 1 ||
        strcmp(base + 5 + used, ".h5") != 0 || step < 0 || base[5] < '0' || base[5] > '9')
        return -1;
    return step;
}
