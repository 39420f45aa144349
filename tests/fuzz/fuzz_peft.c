/* Fuzz target: a PEFT adapter folder (model/peft.c: adapter_config.json and
 * adapter_model.safetensors), loaded into a tiny model as `train --init-adapter`
 * does, then merged into that model's base as `yieldtune merge` does
 * (model/merge.c, which reads the same two files).  The input is
 * adapter_config.json, FUZZ_SEP, adapter_model.safetensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static yt_model *g_model;
static char g_base[1024];

static void close_model(void) { yt_model_close(g_model); }

/* vocab 16, hidden 8, 2 layers, 2 heads of 4 (1 kv head), LoRA r=2 alpha=4 on
 * q, v and down: what the seeds were written for. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    yt_config c = {.vocab_size = 16, .hidden_size = 8, .intermediate_size = 12, .n_layers = 2,
                   .n_heads = 2, .n_kv_heads = 1, .head_dim = 4, .max_pos = 32,
                   .rms_eps = 1e-5f, .rope_theta = 10000.0f, .bos_id = 1, .eos_id = 2};
    yt_lora_config lc = {.rank = 2, .alpha = 4,
                         .targets = (1u << YT_Q) | (1u << YT_V) | (1u << YT_DOWN)};
    yt_err e = {{0}};
    fuzz_path(g_base, sizeof g_base, "base");
    if (yt_model_open_config(&g_model, &c, &lc, &e) != 0 ||
        yt_model_write_random(&c, g_base, 1, "bf16", &e) != 0) {
        fprintf(stderr, "fuzz_peft: %s\n", e.msg);
        abort();
    }
    atexit(close_model);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *part[2];
    size_t len[2];
    size_t n = fuzz_split(data, size, part, len, 2);
    char dir[1024], path[1024], out[1024];
    fuzz_remove("adapter");
    fuzz_path(dir, sizeof dir, "adapter");
    yt_err e = {{0}};
    if (yt_mkdirs(dir, &e))
        abort();
    fuzz_write("adapter/adapter_config.json", part[0], len[0], path, sizeof path);
    if (n > 1)
        fuzz_write("adapter/adapter_model.safetensors", part[1], len[1], path, sizeof path);
    fuzz_note("load", yt_model_load_peft(g_model, dir, &e) ? &e : NULL);
    fuzz_path(out, sizeof out, "merged");
    yt_merge_stats st;
    fuzz_note("merge", yt_merge_peft(g_base, dir, out, &st, &e) ? &e : NULL);
    fuzz_remove("merged");
    return 0;
}
