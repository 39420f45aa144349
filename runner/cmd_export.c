/* yieldtune export: the LoRA weights of a training snapshot as a PEFT adapter
 * (adapter_config.json + adapter_model.safetensors), without loading the model.
 * From a run folder it takes the newest snapshot in RUN/snapshots that
 * verifies; from a snapshot file, that file (which must verify). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint/checkpoint.h"
#include "model/model.h"
#include "runner/options.h"
#include "runner/runner.h"

typedef struct export_opts {
    char out[4096], base_model[4096];
} export_opts;

#define O(f) offsetof(export_opts, f)
#define S(f) sizeof(((export_opts *)0)->f)
static const yt_opt export_table[] = {
    {"out", YT_OPT_STR, O(out), S(out), NULL, 0, 0, NULL, YT_OPT_REQUIRED, "DIR",
     "adapter folder to write (adapter_config.json, adapter_model.safetensors)"},
    {"base-model", YT_OPT_STR, O(base_model), S(base_model), NULL, 0, 0, NULL, 0, "NAME",
     "base_model_name_or_path to record (default: the --model the run trained)"},
    YT_OPT_END,
};
#undef O
#undef S

/* One LoRA tensor of the snapshot. */
typedef struct snap_lora {
    char name[128];      /* without "lora/" */
    int layer, proj, is_b, rows, cols;
    float *data;
} snap_lora;

typedef struct collect {
    snap_lora *v;
    int n, cap;
    char bad[512];       /* first tensor under lora/ that is not a LoRA matrix */
} collect;

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

static int collect_fn(const yt_snap_info *info, void *ctx)
{
    collect *c = ctx;
    if (strncmp(info->name, "lora/", 5) != 0)
        return 0;
    const char *nm = info->name + 5;
    snap_lora t = {0};
    if (strlen(nm) >= sizeof t.name || parse_lora_name(nm, &t.layer, &t.proj, &t.is_b) ||
        info->dtype != YT_SNAP_F32 || info->ndim != 2 || info->shape[0] < 1 || info->shape[1] < 1 ||
        info->shape[0] > 1 << 30 || info->shape[1] > 1 << 30) {
        snprintf(c->bad, sizeof c->bad, "%s", info->name);
        return 1;
    }
    snprintf(t.name, sizeof t.name, "%s", nm);
    t.rows = (int)info->shape[0];
    t.cols = (int)info->shape[1];
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 64;
        snap_lora *nv = realloc(c->v, sizeof *nv * (size_t)cap);
        if (!nv) {
            snprintf(c->bad, sizeof c->bad, "(out of memory)");
            return 1;
        }
        c->v = nv;
        c->cap = cap;
    }
    c->v[c->n++] = t;
    return 0;
}

/* The training loop's order: layer, then projection, A before B. */
static int cmp_lora(const void *a, const void *b)
{
    const snap_lora *x = a, *y = b;
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
static int read_adapter(yt_snap *s, collect *c, yt_lora_config *lc, char **base_model, yt_err *e)
{
    const char *f = yt_snap_file(s);
    int64_t rank = 0, rslora = 0;
    double alpha = 0, dropout = 0;
    if (yt_snap_get_attr_i64(s, "lora_rank", &rank, e) ||
        yt_snap_get_attr_f64(s, "lora_alpha", &alpha, e) ||
        yt_snap_get_attr_f64(s, "lora_dropout", &dropout, e) ||
        yt_snap_get_attr_i64(s, "use_rslora", &rslora, e) ||
        yt_snap_get_attr_str_dup(s, "base_model", base_model, e) ||
        identity_targets(s, &lc->targets, e))
        return -1;
    if (rank < 1 || rank > 1 << 20)
        return yt_errf(e, "%s: attribute 'lora_rank' is %lld", f, (long long)rank);
    lc->rank = (int)rank;
    lc->alpha = (float)alpha;
    lc->dropout = (float)dropout;
    lc->rslora = rslora != 0;
    int stop = yt_snap_foreach(s, collect_fn, c, e);
    if (stop < 0)
        return -1;
    if (stop)
        return yt_errf(e, "%s: tensor '%s' is not a LoRA matrix (lora/layers.N.<module>.<proj>.lora_A|B, "
                          "2-D float32)", f, c->bad);
    if (c->n == 0)
        return yt_errf(e, "%s: holds no LoRA tensors (lora/...)", f);
    qsort(c->v, (size_t)c->n, sizeof *c->v, cmp_lora);
    unsigned seen = 0;
    for (int i = 0; i < c->n; i++) {
        snap_lora *t = &c->v[i];
        seen |= 1u << t->proj;
        int pair_ok = t->is_b ? (i > 0 && !c->v[i - 1].is_b && c->v[i - 1].layer == t->layer &&
                                 c->v[i - 1].proj == t->proj)
                              : (i + 1 < c->n && c->v[i + 1].is_b && c->v[i + 1].layer == t->layer &&
                                 c->v[i + 1].proj == t->proj);
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
    for (int i = 0; i < c->n; i++) {
        snap_lora *t = &c->v[i];
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

int yt_cmd_export(int argc, char **argv)
{
    export_opts o;
    yt_err e = {{0}};
    const char *pos[1];
    int npos = 0;
    int rc = yt_opts_parse(export_table, &o, argc, argv, 2, pos, 1, &npos, &e);
    if (rc == 1) {
        yt_opts_help(stdout, "yieldtune export RUN_OR_SNAPSHOT --out DIR [--base-model NAME]",
                     "Writes the LoRA weights of a snapshot as a PEFT adapter that loads in PEFT\n"
                     "and vLLM.  RUN: the newest snapshot in RUN/snapshots that verifies; a\n"
                     "snapshot file (.h5): that one, which must verify.",
                     export_table);
        return YT_EXIT_OK;
    }
    if (rc == 0 && npos != 1)
        rc = yt_errf(&e, "give one RUN folder or snapshot file");
    if (rc) {
        yt_report("export: %s", e.msg);
        return YT_EXIT_USAGE;
    }
    const char *src = pos[0];
    char path[4400];
    struct stat st;
    if (stat(src, &st) != 0) {
        yt_errno(&e, errno, "%s", src);
        yt_report("export: %s", e.msg);
        return YT_EXIT_FAIL;
    }
    if (S_ISDIR(st.st_mode)) {
        char dir[4200], skipped[4096];
        long step = -1;
        snprintf(dir, sizeof dir, "%s/snapshots", src);
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            snprintf(dir, sizeof dir, "%s", src); /* a snapshots folder itself */
        if (yt_snap_latest_valid(dir, path, sizeof path, &step, skipped, sizeof skipped, &e)) {
            yt_report("export: %s", e.msg);
            return YT_EXIT_FAIL;
        }
        if (skipped[0])
            yt_report("export: skipped snapshots that do not verify: %s", skipped);
        if (step < 0) {
            yt_report("export: %s: no snapshot that verifies (looked for step-*.h5 in %s)", src, dir);
            return YT_EXIT_FAIL;
        }
    } else {
        snprintf(path, sizeof path, "%s", src);
    }

    /* The adapter files must not replace the snapshot they come from. */
    const char *inputs[1] = {path};
    char outfile[4400];
    for (int i = 0; i < 2; i++) {
        snprintf(outfile, sizeof outfile, "%s/%s", o.out,
                 i ? "adapter_config.json" : "adapter_model.safetensors");
        if (yt_af_check_not_input(outfile, inputs, 1, &e)) {
            yt_report("export: --out: %s", e.msg);
            return YT_EXIT_FAIL;
        }
    }

    yt_snap *s = NULL;
    collect c = {0};
    char *base_model = NULL;
    yt_lora_config lc = {0};
    int64_t step = -1;
    int status = YT_EXIT_FAIL;
    if (yt_snap_open(&s, path, &e) || yt_snap_verify(s, &e) ||
        yt_snap_get_attr_i64(s, "step", &step, &e) || read_adapter(s, &c, &lc, &base_model, &e))
        goto out;
    yt_peft_tensor *pt = calloc(c.n > 0 ? (size_t)c.n : 1, sizeof *pt);
    if (!pt) {
        yt_errf(&e, "out of memory");
        goto out;
    }
    for (int i = 0; i < c.n; i++)
        pt[i] = (yt_peft_tensor){c.v[i].name, c.v[i].rows, c.v[i].cols, c.v[i].data};
    rc = yt_peft_write(o.out, pt, c.n, &lc, o.base_model[0] ? o.base_model : base_model, &e);
    free(pt);
    if (rc)
        goto out;
    char targets[128] = "";
    for (int p = 0; p < YT_NPROJ; p++)
        if ((lc.targets >> p) & 1)
            snprintf(targets + strlen(targets), sizeof targets - strlen(targets), "%s%s",
                     targets[0] ? "," : "", yt_proj_short[p]);
    printf("exported step %lld of %s to %s: %d LoRA tensors, r %d, alpha %g%s, targets %s\n",
           (long long)step, path, o.out, c.n, lc.rank, (double)lc.alpha, lc.rslora ? " (rsLoRA)" : "",
           targets);
    status = YT_EXIT_OK;
out:
    if (status != YT_EXIT_OK)
        yt_report("export: %s", e.msg);
    yt_snap_close(s);
    for (int i = 0; i < c.n; i++)
        free(c.v[i].data);
    free(c.v);
    free(base_model);
    return status;
}
