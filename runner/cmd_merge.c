/* yieldtune merge: a base model plus a PEFT LoRA adapter into one Hugging
 * Face model folder (model/merge.c does the work). */
#include <stddef.h>
#include <stdio.h>

#include "model/model.h"
#include "runner/options.h"
#include "runner/runner.h"

typedef struct merge_opts {
    char model[4096], adapter[4096], out[4096];
    int threads;
} merge_opts;

#define O(f) offsetof(merge_opts, f)
#define S(f) sizeof(((merge_opts *)0)->f)
static const yt_opt merge_table[] = {
    {"model", YT_OPT_STR, O(model), S(model), NULL, 0, 0, NULL, YT_OPT_REQUIRED, "DIR|GGUF",
     "base Hugging Face model folder (model.safetensors or sharded with an index) or llama GGUF file"},
    {"adapter", YT_OPT_STR, O(adapter), S(adapter), NULL, 0, 0, NULL, YT_OPT_REQUIRED, "DIR",
     "PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors)"},
    {"out", YT_OPT_STR, O(out), S(out), NULL, 0, 0, NULL, YT_OPT_REQUIRED, "DIR",
     "merged model folder to write (one model.safetensors, config.json, tokenizer files)"},
    {"threads", YT_OPT_INT, O(threads), 0, "0", 0, 4096, NULL, 0, NULL,
     "threads for the matrix products (0 = the library default)"},
    YT_OPT_END,
};
#undef O
#undef S

int yt_cmd_merge(int argc, char **argv)
{
    merge_opts o;
    yt_err e = {{0}};
    const char *pos[1];
    int npos;
    static const yt_cmd_spec spec = {
        "merge", "yieldtune merge --model DIR|GGUF --adapter DIR --out DIR",
        "Writes the base model with the adapter merged in: each adapted weight W\n"
        "becomes W + scale * B A (scale alpha/r, or alpha/sqrt(r) with use_rslora),\n"
        "computed in fp32 and stored in W's dtype; every other tensor is copied as is.\n"
        "The output is one model.safetensors even for a sharded base; config.json and\n"
        "the tokenizer files present are copied.  A GGUF base gives an F32\n"
        "model.safetensors (its tensors dequantised, with Hugging Face names and q/k\n"
        "order) and a config.json made from its metadata; no tokenizer files.\n"
        "Each file is written atomically.",
        merge_table, 0, 0, NULL};
    int rc = yt_cmd_options(&spec, &o, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (o.threads > 0)
        yt_k_set_threads(o.threads);
    yt_merge_stats st;
    if (yt_merge_peft(o.model, o.adapter, o.out, &st, &e)) {
        yt_report("merge: %s", e.msg);
        return YT_EXIT_FAIL;
    }
    printf("wrote %s: %zu tensors (%d merged with the adapter, r %d, scale %g), %.1f MB, "
           "%d other files copied\n",
           o.out, st.tensors, st.merged, st.rank, (double)st.scale, (double)st.bytes / 1e6,
           st.copied_files);
    return YT_EXIT_OK;
}
