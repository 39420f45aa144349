/* yieldtune init-model: a random Llama model folder from a preset, with every
 * config field overridable, for tests, benchmarks and the demo; or its
 * config.json alone (--shape-only, and always for llama3-70b, whose weights
 * benchmarks make on the device: bench/gpu_step). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "runner/options.h"
#include "runner/runner.h"

typedef struct init_opts {
    char out[4096];
    int preset, dtype, rope_scaling; /* CHOICE indices */
    long seed;
    int vocab_size, hidden_size, intermediate_size, layers, heads, kv_heads, head_dim, max_pos;
    int tie, shape_only;
    float rope_theta, rms_eps, rope_factor, rope_low, rope_high;
    int rope_orig_max;
} init_opts;

#define O(f) offsetof(init_opts, f)
#define S(f) sizeof(((init_opts *)0)->f)
static const yt_opt init_table[] = {
    {"preset", YT_OPT_CHOICE, O(preset), 0, "tiny", 0, 0,
     "tiny|bench-small|llama3-1b|llama3-8b|llama3-70b", 0, NULL,
     "architecture preset (llama3-70b: shape only)"},
    {"out", YT_OPT_STR, O(out), S(out), NULL, 0, 0, NULL, YT_OPT_REQUIRED, "DIR",
     "model folder to write (config.json, model.safetensors)"},
    {"seed", YT_OPT_LONG, O(seed), 0, "1", 0, 0, NULL, 0, NULL, "random seed of the weights"},
    {"dtype", YT_OPT_CHOICE, O(dtype), 0, "f32", 0, 0, "f32|bf16|f16", 0, NULL,
     "dtype of the weights on disk"},
    {"vocab-size", YT_OPT_INT, O(vocab_size), 0, "0", 0, 16777216, NULL, 0, NULL, "override vocab_size"},
    {"hidden-size", YT_OPT_INT, O(hidden_size), 0, "0", 0, 65536, NULL, 0, NULL, "override hidden_size"},
    {"intermediate-size", YT_OPT_INT, O(intermediate_size), 0, "0", 0, 262144, NULL, 0, NULL,
     "override intermediate_size"},
    {"layers", YT_OPT_INT, O(layers), 0, "0", 0, 1024, NULL, 0, NULL, "override num_hidden_layers"},
    {"heads", YT_OPT_INT, O(heads), 0, "0", 0, 1024, NULL, 0, NULL, "override num_attention_heads"},
    {"kv-heads", YT_OPT_INT, O(kv_heads), 0, "0", 0, 1024, NULL, 0, NULL, "override num_key_value_heads"},
    {"head-dim", YT_OPT_INT, O(head_dim), 0, "0", 0, 1024, NULL, 0, NULL,
     "override head_dim (default hidden/heads)"},
    {"max-position", YT_OPT_INT, O(max_pos), 0, "0", 0, 16777216, NULL, 0, NULL,
     "override max_position_embeddings"},
    {"rope-theta", YT_OPT_FLOAT, O(rope_theta), 0, "0", 0, 1e12, NULL, 0, NULL, "override rope_theta"},
    {"rms-eps", YT_OPT_FLOAT, O(rms_eps), 0, "0", 0, 1, NULL, 0, NULL, "override rms_norm_eps"},
    {"tie-embeddings", YT_OPT_BOOL, O(tie), 0, "false", 0, 0, NULL, 0, NULL,
     "tie lm_head to the embedding (no lm_head.weight)"},
    {"rope-scaling", YT_OPT_CHOICE, O(rope_scaling), 0, "none", 0, 0, "none|llama3", 0,
     NULL, "rope_scaling type"},
    {"rope-factor", YT_OPT_FLOAT, O(rope_factor), 0, "8", 0, 1e6, NULL, 0, NULL, "llama3 factor"},
    {"rope-low-freq-factor", YT_OPT_FLOAT, O(rope_low), 0, "1", 0, 1e6, NULL, 0, NULL,
     "llama3 low_freq_factor"},
    {"rope-high-freq-factor", YT_OPT_FLOAT, O(rope_high), 0, "4", 0, 1e6, NULL, 0, NULL,
     "llama3 high_freq_factor"},
    {"shape-only", YT_OPT_BOOL, O(shape_only), 0, "false", 0, 0, NULL, 0, NULL,
     "write config.json alone, no weights (implied by --preset llama3-70b)"},
    {"rope-original-max", YT_OPT_INT, O(rope_orig_max), 0, "8192", 1, 16777216, NULL, 0, NULL,
     "llama3 original_max_position_embeddings"},
    YT_OPT_END,
};
#undef O
#undef S

/* DIR/config.json alone (atomically), DIR created. */
static int write_config(const yt_config *c, const char *dir, const char *dtype, yt_err *e)
{
    static const char *const torch_names[][2] = {{"f32", "float32"}, {"bf16", "bfloat16"}, {"f16", "float16"}};
    const char *td = "float32";
    for (size_t i = 0; i < sizeof torch_names / sizeof torch_names[0]; i++)
        if (strcmp(dtype, torch_names[i][0]) == 0)
            td = torch_names[i][1];
    if (yt_mkdirs(dir, e))
        return -1;
    json_t *j = yt_config_to_json(c, td);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!text) {
        yt_err_oom(e, "the JSON text");
        return yt_err_prefix(e, "%s/config.json", dir);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    int rc = yt_write_file_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}

int yt_cmd_init_model(int argc, char **argv)
{
    init_opts o;
    yt_err e = {{0}};
    const char *pos[1];
    int npos;
    static const yt_cmd_spec spec = {
        "init-model", "yieldtune init-model --out DIR [--preset NAME] [options]",
        "Writes a random-initialised Llama model as a Hugging Face folder.", init_table, 0, 0, NULL};
    int rc = yt_cmd_options(&spec, &o, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    /* The model layer names presets and dtypes by their names. */
    char preset[32], dtype[8];
    yt_opt_choice_name(&init_table[0], o.preset, preset, sizeof preset);
    yt_opt_choice_name(&init_table[3], o.dtype, dtype, sizeof dtype);
    yt_config c;
    if (yt_config_preset(&c, preset, &e)) {
        yt_report("init-model: %s", e.msg);
        return YT_EXIT_USAGE;
    }
    int head_dim_given = o.head_dim > 0;
    if (o.vocab_size) c.vocab_size = o.vocab_size;
    if (o.hidden_size) c.hidden_size = o.hidden_size;
    if (o.intermediate_size) c.intermediate_size = o.intermediate_size;
    if (o.layers) c.n_layers = o.layers;
    if (o.heads) c.n_heads = o.heads;
    if (o.kv_heads) c.n_kv_heads = o.kv_heads;
    if (o.max_pos) c.max_pos = o.max_pos;
    if (o.rope_theta > 0) c.rope_theta = o.rope_theta;
    if (o.rms_eps > 0) c.rms_eps = o.rms_eps;
    c.head_dim = head_dim_given ? o.head_dim : c.hidden_size / (c.n_heads ? c.n_heads : 1);
    c.tie_embeddings = o.tie;
    if (o.rope_scaling == 1) { /* llama3 */
        c.rope_scaling.llama3 = 1;
        c.rope_scaling.factor = o.rope_factor;
        c.rope_scaling.low_freq_factor = o.rope_low;
        c.rope_scaling.high_freq_factor = o.rope_high;
        c.rope_scaling.original_max_pos = o.rope_orig_max;
    }
    if (c.eos_id >= c.vocab_size) c.eos_id = c.vocab_size - 1;
    if (c.bos_id >= c.vocab_size) c.bos_id = 0;
    int shape_only = o.shape_only || strcmp(preset, "llama3-70b") == 0;
    if (yt_config_validate(&c, "init-model", &e) ||
        (shape_only ? write_config(&c, o.out, dtype, &e)
                    : yt_model_write_random(&c, o.out, (uint64_t)o.seed, dtype, &e))) {
        yt_report("init-model: %s", e.msg);
        return YT_EXIT_FAIL;
    }
    if (shape_only) {
        printf("wrote %s/config.json (shape only, no weights): llama, %d layers, hidden %d, %d heads / %d kv, "
               "ffn %d, vocab %d\n", o.out, c.n_layers, c.hidden_size, c.n_heads, c.n_kv_heads,
               c.intermediate_size, c.vocab_size);
        return YT_EXIT_OK;
    }
    printf("wrote %s: llama, %d layers, hidden %d, %d heads / %d kv, ffn %d, vocab %d, %s\n", o.out,
           c.n_layers, c.hidden_size, c.n_heads, c.n_kv_heads, c.intermediate_size, c.vocab_size,
           dtype);
    return YT_EXIT_OK;
}
