/* yieldtune export: the LoRA weights of a training snapshot as a PEFT adapter
 * (adapter_config.json + adapter_model.safetensors), without loading the model.
 * From a run folder it takes the newest snapshot in RUN/snapshots that
 * verifies; from a snapshot file, that file (which must verify). */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <limits.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/model.h"
#include "runner/options.h"
#include "runner/run_adapter.h"
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
     "base_model_name_or_path to record (default: the one the run recorded: its --base-model, "
     "else a hub name OWNER/NAME from the model's metadata, else the model's absolute path)"},
    YT_OPT_END,
};
#undef O
#undef S

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
    yt_snap_adapter a;
    char skipped[4096];
    int found = 0;
    int status = YT_EXIT_FAIL;
    if (yt_snap_adapter_read(src, &a, &found, skipped, sizeof skipped, &e))
        goto out;
    if (skipped[0])
        yt_report("export: skipped snapshots that do not verify: %s", skipped);
    if (!found) {
        struct stat st;
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/snapshots", src);
        yt_errf(&e, "%s: no snapshot that verifies (looked for step-*.h5 in %s)", src,
                stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? dir : src);
        goto out;
    }
    /* The adapter files must not replace the snapshot they come from. */
    const char *inputs[1] = {a.path};
    for (int i = 0; i < 2; i++) {
        char outfile[4400];
        snprintf(outfile, sizeof outfile, "%s/%s", o.out,
                 i ? "adapter_config.json" : "adapter_model.safetensors");
        if (yt_af_check_not_input(outfile, inputs, 1, &e)) {
            yt_err_prefix(&e, "--out");
            goto out;
        }
    }
    yt_peft_tensor *pt = yt_calloc(a.n > 0 ? (size_t)a.n : 1, sizeof *pt, "the adapter's tensor list", &e);
    if (!pt)
        goto out;
    for (int i = 0; i < a.n; i++)
        pt[i] = (yt_peft_tensor){a.v[i].name, a.v[i].rows, a.v[i].cols, a.v[i].data};
    const yt_lora_config lc = a.lc;
    /* Snapshots of older versions hold the --model as typed: made absolute when
     * it names a path from here. */
    const char *base = o.base_model[0] ? o.base_model : a.base_model;
    char abs[PATH_MAX];
    if (!o.base_model[0] && base[0] != '/' && !yt_model_is_hub_name(base, strlen(base)) &&
        realpath(base, abs))
        base = abs;
    rc = yt_peft_write(o.out, pt, a.n, &lc, base, &e);
    free(pt);
    if (rc)
        goto out;
    char targets[128] = "";
    for (int p = 0; p < YT_NPROJ; p++)
        if ((lc.targets >> p) & 1)
            snprintf(targets + strlen(targets), sizeof targets - strlen(targets), "%s%s",
                     targets[0] ? "," : "", yt_proj_short[p]);
    printf("exported step %ld of %s to %s: %d LoRA tensors, r %d, alpha %g%s, targets %s\n",
           a.step, a.path, o.out, a.n, lc.rank, (double)lc.alpha, lc.rslora ? " (rsLoRA)" : "",
           targets);
    status = YT_EXIT_OK;
out:
    if (status != YT_EXIT_OK)
        yt_report("export: %s", e.msg);
    yt_snap_adapter_free(&a);
    return status;
}
