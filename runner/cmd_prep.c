/* yieldtune prep: JSONL records with pre-tokenised input_ids (and optional
 * labels, -100 = not counted) into the HDF5 token dataset. */
#include <stddef.h>
#include <stdio.h>

#include "datasets/datasets.h"
#include "model/model.h"
#include "runner/options.h"
#include "runner/runner.h"

typedef struct prep_opts {
    char in[4096], out[4096], model[4096];
    long vocab_size;
} prep_opts;

#define O(f) offsetof(prep_opts, f)
#define S(f) sizeof(((prep_opts *)0)->f)
static const yt_opt prep_table[] = {
    {"in", YT_OPT_STR, O(in), S(in), NULL, 0, 0, NULL, YT_OPT_REQUIRED, "FILE.jsonl",
     "input: one JSON object per line with \"input_ids\" (and optional \"labels\")"},
    {"out", YT_OPT_STR, O(out), S(out), NULL, 0, 0, NULL, YT_OPT_REQUIRED, "FILE.h5",
     "dataset to write (replaced atomically)"},
    {"model", YT_OPT_STR, O(model), S(model), NULL, 0, 0, NULL, 0, "DIR",
     "check ids against this model's vocab_size and record it"},
    {"vocab-size", YT_OPT_LONG, O(vocab_size), 0, "0", 0, 4294967296.0, NULL, 0, NULL,
     "check ids against this vocab size (0 = no check)"},
    YT_OPT_END,
};
#undef O
#undef S

int yt_cmd_prep(int argc, char **argv)
{
    prep_opts o;
    yt_err e = {{0}};
    const char *pos[1];
    int npos;
    int rc = yt_opts_parse(prep_table, &o, argc, argv, 2, pos, 0, &npos, &e);
    if (rc == 1) {
        yt_opts_help(stdout, "yieldtune prep --in FILE.jsonl --out FILE.h5 [--model DIR]",
                     "Writes the token dataset that 'yieldtune train --data' reads.", prep_table);
        return YT_EXIT_OK;
    }
    if (rc) {
        yt_report("prep: %s", e.msg);
        return YT_EXIT_USAGE;
    }
    yt_ds_prep_opts po = {.vocab_size = (uint64_t)o.vocab_size};
    if (o.model[0]) {
        yt_config c;
        if (yt_config_load(&c, o.model, &e)) {
            yt_report("prep: %s", e.msg);
            return YT_EXIT_FAIL;
        }
        po.vocab_size = (uint64_t)c.vocab_size;
    }
    yt_ds_prep_summary s;
    if (yt_ds_prep_jsonl(o.in, o.out, &po, &s, &e)) {
        yt_report("prep: %s", e.msg);
        return YT_EXIT_FAIL;
    }
    printf("wrote %s: %llu documents, %llu tokens, %.1f%% counted toward the loss",
           o.out, (unsigned long long)s.documents, (unsigned long long)s.tokens,
           s.tokens ? 100.0 * (double)s.counted / (double)s.tokens : 0.0);
    if (s.skipped_empty)
        printf(", %llu empty documents skipped", (unsigned long long)s.skipped_empty);
    printf("\n");
    return YT_EXIT_OK;
}
