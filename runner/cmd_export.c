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
#include "runner/snapshot_check.h"

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
    char name[96];       /* without "lora/" */
    int rows, cols;
    float *data;
} snap_lora;

/* Reads the adapter of snapshot s (which passed yt_train_snap_check, so its
 * tensors are exactly the ones k describes) in the training loop's order:
 * layer, then projection, A before B. */
static int read_adapter(yt_snap *s, const yt_train_snap_facts *k, snap_lora **out, yt_err *e)
{
    snap_lora *v = calloc((size_t)k->n_lora, sizeof *v);
    if (!v)
        return yt_errf(e, "out of memory");
    *out = v;
    int n = 0;
    for (int l = 0; l < k->model.n_layers; l++)
        for (int p = 0; p < YT_NPROJ; p++) {
            if (!((k->lc.targets >> p) & 1))
                continue;
            int in, outw;
            yt_lora_proj_dims(&k->model, p, &in, &outw);
            for (int b = 0; b < 2; b++, n++) {
                snap_lora *t = &v[n];
                yt_lora_name(t->name, l, p, b);
                t->rows = b ? outw : k->lc.rank;
                t->cols = b ? k->lc.rank : in;
                size_t cnt = (size_t)t->rows * (size_t)t->cols;
                char name[128];
                snprintf(name, sizeof name, "lora/%s", t->name);
                if (!(t->data = malloc(cnt * sizeof(float))))
                    return yt_errf(e, "%s: out of memory reading '%s'", yt_snap_file(s), name);
                if (yt_snap_get_f32(s, name, t->data, cnt, e))
                    return -1;
            }
        }
    return 0;
}

int yt_cmd_export(int argc, char **argv)
{
    export_opts o;
    yt_err e = {{0}};
    const char *pos[1];
    int npos = 0;
    static const yt_cmd_spec spec = {
        "export", "yieldtune export RUN_OR_SNAPSHOT --out DIR [--base-model NAME]",
        "Writes the LoRA weights of a snapshot as a PEFT adapter that loads in PEFT\n"
        "and vLLM.  RUN: the newest snapshot in RUN/snapshots that verifies; a\n"
        "snapshot file (.h5): that one, which must verify.",
        export_table, 1, 1, "one RUN folder or snapshot file"};
    int rc = yt_cmd_options(&spec, &o, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
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
        yt_snap_check rule = yt_train_snap_rule();
        if (yt_snap_latest_valid(dir, &rule, path, sizeof path, &step, skipped, sizeof skipped,
                                 &e)) {
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
    snap_lora *v = NULL;
    char *base_model = NULL;
    yt_train_snap_facts k = {0};
    int status = YT_EXIT_FAIL;
    if (yt_snap_open(&s, path, &e) ||
        yt_train_snap_validate(s, yt_train_snap_name_step(path), &k, &e) ||
        yt_snap_get_attr_str_dup(s, "base_model", &base_model, &e) || read_adapter(s, &k, &v, &e))
        goto out;
    yt_peft_tensor *pt = calloc(k.n_lora > 0 ? (size_t)k.n_lora : 1, sizeof *pt);
    if (!pt) {
        yt_errf(&e, "out of memory");
        goto out;
    }
    for (int i = 0; i < k.n_lora; i++)
        pt[i] = (yt_peft_tensor){v[i].name, v[i].rows, v[i].cols, v[i].data};
    rc = yt_peft_write(o.out, pt, k.n_lora, &k.lc, o.base_model[0] ? o.base_model : base_model, &e);
    free(pt);
    if (rc)
        goto out;
    char targets[128] = "";
    for (int p = 0; p < YT_NPROJ; p++)
        if ((k.lc.targets >> p) & 1)
            snprintf(targets + strlen(targets), sizeof targets - strlen(targets), "%s%s",
                     targets[0] ? "," : "", yt_proj_short[p]);
    printf("exported step %lld of %s to %s: %d LoRA tensors, r %d, alpha %g%s, targets %s\n",
           (long long)k.step, path, o.out, k.n_lora, k.lc.rank, (double)k.lc.alpha,
           k.lc.rslora ? " (rsLoRA)" : "", targets);
    status = YT_EXIT_OK;
out:
    if (status != YT_EXIT_OK)
        yt_report("export: %s", e.msg);
    yt_snap_close(s);
    for (int i = 0; v && i < k.n_lora; i++)
        free(v[i].data);
    free(v);
    free(base_model);
    return status;
}
