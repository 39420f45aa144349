/* A random-initialised Llama model folder: weights N(0, 0.02) as Hugging Face
 * initialises them, norm weights 1 + N(0, 0.05) (not exactly 1, so that tests
 * see the norm weights matter), written as config.json + model.safetensors,
 * config.json marked as random (yt_model_random_init). */
#include "model/model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

static void fill_normal(float *w, size_t n, float mean, float std, uint64_t seed, const char *name)
{
    uint64_t s = yt_mix64(seed ^ yt_hash64(name, strlen(name), YT_HASH_SEED));
    for (size_t i = 0; i < n; i += 2) {
        float u1 = yt_u01(yt_mix64(s + i)), u2 = yt_u01(yt_mix64(s + i + 1));
        float r = sqrtf(-2.0f * logf(u1 + 1e-12f)), th = 6.28318530718f * u2;
        w[i] = mean + std * r * cosf(th);
        if (i + 1 < n)
            w[i + 1] = mean + std * r * sinf(th);
    }
}

int yt_model_random_init(const char *model, yt_err *e)
{
    if (yt_model_is_gguf(model))
        return 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", model);
    json_t *j = yt_json_load_file(path, 0, e);
    if (!j)
        return -1;
    int marked = json_object_get(j, YT_RANDOM_INIT_KEY) != NULL;
    json_decref(j);
    return marked;
}

int yt_model_write_random(const yt_config *c, const char *dir, uint64_t seed, const char *dtype,
                          yt_err *e)
{
    yt_st_dtype dt = YT_ST_F32;
    const char *torch_dtype = "float32";
    if (strcmp(dtype, "bf16") == 0) {
        dt = YT_ST_BF16;
        torch_dtype = "bfloat16";
    } else if (strcmp(dtype, "f16") == 0) {
        dt = YT_ST_F16;
        torch_dtype = "float16";
    } else if (strcmp(dtype, "f32") != 0) {
        return yt_errf(e, "unknown dtype '%s' (f32, bf16, f16)", dtype);
    }
    size_t C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size, V = (size_t)c->vocab_size;
    size_t Q = (size_t)c->n_heads * c->head_dim, KV = (size_t)c->n_kv_heads * c->head_dim;
    size_t per_layer = 2 * C + Q * C + 2 * KV * C + C * Q + 3 * F * C;
    size_t total = V * C + C + (c->tie_embeddings ? 0 : V * C) + per_layer * (size_t)c->n_layers;
    float *buf = yt_alloc(total * sizeof(float), "random weights", e);
    if (!buf)
        return -1;
    yt_st_writer *w = NULL;
    if (yt_st_writer_new(&w, e) || yt_st_writer_meta(w, "format", "pt", e)) {
        yt_free(buf);
        yt_st_writer_free(w);
        return -1;
    }
    size_t off = 0;
    int rc = 0;
    char name[160];
#define ADD(nd, d0, d1, mean, std, ...)                                                             \
    do {                                                                                           \
        snprintf(name, sizeof name, __VA_ARGS__);                                                  \
        int64_t shape[2] = {(int64_t)(d0), (int64_t)(d1)};                                         \
        size_t cnt = (size_t)(d0) * ((nd) == 2 ? (size_t)(d1) : 1);                                \
        fill_normal(buf + off, cnt, (mean), (std), seed, name);                                    \
        if (!rc)                                                                                   \
            rc = yt_st_writer_add(w, name, dt, (nd), shape, buf + off, e);                         \
        off += cnt;                                                                                \
    } while (0)
    ADD(2, V, C, 0.0f, 0.02f, "model.embed_tokens.weight");
    for (int l = 0; l < c->n_layers; l++) {
        ADD(1, C, 0, 1.0f, 0.05f, "model.layers.%d.input_layernorm.weight", l);
        ADD(2, Q, C, 0.0f, 0.02f, "model.layers.%d.self_attn.q_proj.weight", l);
        ADD(2, KV, C, 0.0f, 0.02f, "model.layers.%d.self_attn.k_proj.weight", l);
        ADD(2, KV, C, 0.0f, 0.02f, "model.layers.%d.self_attn.v_proj.weight", l);
        ADD(2, C, Q, 0.0f, 0.02f, "model.layers.%d.self_attn.o_proj.weight", l);
        ADD(1, C, 0, 1.0f, 0.05f, "model.layers.%d.post_attention_layernorm.weight", l);
        ADD(2, F, C, 0.0f, 0.02f, "model.layers.%d.mlp.gate_proj.weight", l);
        ADD(2, F, C, 0.0f, 0.02f, "model.layers.%d.mlp.up_proj.weight", l);
        ADD(2, C, F, 0.0f, 0.02f, "model.layers.%d.mlp.down_proj.weight", l);
    }
    ADD(1, C, 0, 1.0f, 0.05f, "model.norm.weight");
    if (!c->tie_embeddings)
        ADD(2, V, C, 0.0f, 0.02f, "lm_head.weight");
#undef ADD
    char path[4200];
    if (!rc)
        rc = yt_mkdirs(dir, e);
    if (!rc) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        rc = yt_st_writer_write(w, path, e);
    }
    yt_st_writer_free(w);
    yt_free(buf);
    if (rc)
        return -1;
    json_t *j = yt_config_to_json(c, torch_dtype);
    /* The mark yt_model_random_init reads (transformers keeps unknown keys as
     * attributes of the config, harmlessly). */
    json_object_set_new(j, YT_RANDOM_INIT_KEY, json_pack("{s:I}", "seed", (json_int_t)seed));
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!text) {
        yt_err_oom(e, "the JSON text");
        return yt_err_prefix(e, "%s/config.json", dir);
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    rc = yt_write_file_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}
