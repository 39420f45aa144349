/* config.json <-> yt_config, presets, and the checks a model must pass before
 * anything is allocated for it. */
#include "model/model.h"

#include "common/json.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int get_int(json_t *root, const char *key, int *dst, int required, const char *src, yt_err *e)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        if (required)
            return yt_errf(e, "%s: missing key '%s'", src, key);
        return 0;
    }
    if (!json_is_integer(v))
        return yt_errf(e, "%s: key '%s' must be an integer", src, key);
    json_int_t x = json_integer_value(v);
    if (x < -2147483647 || x > 2147483647)
        return yt_errf(e, "%s: key '%s' out of range", src, key);
    *dst = (int)x;
    return 0;
}

static int get_float(json_t *root, const char *key, float *dst, int required, const char *src,
                     yt_err *e)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        if (required)
            return yt_errf(e, "%s: missing key '%s'", src, key);
        return 0;
    }
    if (!json_is_number(v))
        return yt_errf(e, "%s: key '%s' must be a number", src, key);
    *dst = (float)json_number_value(v);
    return 0;
}

int yt_config_from_json(yt_config *c, json_t *root, const char *src, yt_err *e)
{
    memset(c, 0, sizeof *c);
    if (!json_is_object(root))
        return yt_errf(e, "%s: not a JSON object", src);
    json_t *mt = json_object_get(root, "model_type");
    if (mt && json_is_string(mt) && strcmp(json_string_value(mt), "llama") != 0 &&
        strcmp(json_string_value(mt), "mistral") != 0)
        return yt_errf(e, "%s: key 'model_type' is '%s'; yieldtune supports Llama-architecture models",
                       src, json_string_value(mt));
    c->rms_eps = 1e-6f;
    c->rope_theta = 10000.0f;
    c->max_pos = 2048;
    c->bos_id = 1;
    c->eos_id = -1; /* unknown unless a file names it (see yt_model_eos_id) */
    if (get_int(root, "vocab_size", &c->vocab_size, 1, src, e) ||
        get_int(root, "hidden_size", &c->hidden_size, 1, src, e) ||
        get_int(root, "intermediate_size", &c->intermediate_size, 1, src, e) ||
        get_int(root, "num_hidden_layers", &c->n_layers, 1, src, e) ||
        get_int(root, "num_attention_heads", &c->n_heads, 1, src, e) ||
        get_int(root, "max_position_embeddings", &c->max_pos, 0, src, e) ||
        get_float(root, "rms_norm_eps", &c->rms_eps, 0, src, e) ||
        get_float(root, "rope_theta", &c->rope_theta, 0, src, e))
        return -1;
    c->n_kv_heads = c->n_heads;
    if (get_int(root, "num_key_value_heads", &c->n_kv_heads, 0, src, e))
        return -1;
    c->head_dim = c->n_heads > 0 ? c->hidden_size / c->n_heads : 0;
    if (get_int(root, "head_dim", &c->head_dim, 0, src, e))
        return -1;
    json_t *tie = json_object_get(root, "tie_word_embeddings");
    if (tie && !json_is_boolean(tie))
        return yt_errf(e, "%s: key 'tie_word_embeddings' must be true or false", src);
    c->tie_embeddings = tie ? json_is_true(tie) : 0;
    /* bos/eos may be lists in some configs: take the first. */
    const char *ids[2] = {"bos_token_id", "eos_token_id"};
    int *dst[2] = {&c->bos_id, &c->eos_id};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(root, ids[i]);
        if (json_is_array(v))
            v = json_array_get(v, 0);
        if (!json_is_integer(v))
            continue;
        /* checked before narrowing: 2^40 would otherwise become 0, a real token */
        json_int_t x = json_integer_value(v);
        if (x < 0 || x > INT32_MAX)
            return yt_errf(e, "%s: key '%s' is %lld: not a token id", src, ids[i], (long long)x);
        *dst[i] = (int)x;
    }
    json_t *rs = json_object_get(root, "rope_scaling");
    if (rs && !json_is_null(rs)) {
        if (!json_is_object(rs))
            return yt_errf(e, "%s: key 'rope_scaling' must be an object or null", src);
        json_t *t = json_object_get(rs, "rope_type");
        if (!t)
            t = json_object_get(rs, "type");
        const char *type = json_is_string(t) ? json_string_value(t) : "";
        if (strcmp(type, "llama3") == 0) {
            yt_rope_scaling *s = &c->rope_scaling;
            s->llama3 = 1;
            if (get_float(rs, "factor", &s->factor, 1, src, e) ||
                get_float(rs, "low_freq_factor", &s->low_freq_factor, 1, src, e) ||
                get_float(rs, "high_freq_factor", &s->high_freq_factor, 1, src, e) ||
                get_int(rs, "original_max_position_embeddings", &s->original_max_pos, 1, src, e))
                return yt_err_prefix(e, "rope_scaling");
        } else if (strcmp(type, "default") != 0) {
            return yt_errf(e, "%s: key 'rope_scaling.rope_type' is '%s'; supported: llama3, default",
                           src, type);
        }
    }
    json_t *act = json_object_get(root, "hidden_act");
    if (act && json_is_string(act) && strcmp(json_string_value(act), "silu") != 0)
        return yt_errf(e, "%s: key 'hidden_act' is '%s'; Llama uses silu", src, json_string_value(act));
    static const char *const biases[] = {"attention_bias", "mlp_bias"};
    for (int i = 0; i < 2; i++) {
        json_t *bias = json_object_get(root, biases[i]);
        if (bias && !json_is_boolean(bias) && !json_is_null(bias))
            return yt_errf(e, "%s: key '%s' must be true or false", src, biases[i]);
        if (bias && json_is_true(bias))
            return yt_errf(e, "%s: key '%s' is true; biased projections are not supported", src,
                           biases[i]);
    }
    return yt_config_validate(c, src, e);
}

int yt_config_validate(const yt_config *c, const char *src, yt_err *e)
{
    /* Upper bounds far above any Llama (405B: 126 layers, hidden 16384, vocab
     * 128256) keep every size computed from them (layers * 9 weights, vocab *
     * hidden, heads * head_dim) well inside the int and size_t they land in. */
    struct { const char *key; int v, max; } pos[] = {
        {"vocab_size", c->vocab_size, 1 << 24}, {"hidden_size", c->hidden_size, 1 << 18},
        {"intermediate_size", c->intermediate_size, 1 << 20},
        {"num_hidden_layers", c->n_layers, 1 << 12}, {"num_attention_heads", c->n_heads, 1 << 12},
        {"num_key_value_heads", c->n_kv_heads, 1 << 12}, {"head_dim", c->head_dim, 1 << 12},
        {"max_position_embeddings", c->max_pos, 1 << 26},
    };
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
        if (pos[i].v <= 0)
            return yt_errf(e, "%s: key '%s' must be positive (got %d)", src, pos[i].key, pos[i].v);
        if (pos[i].v > pos[i].max)
            return yt_errf(e, "%s: key '%s' is %d, more than yieldtune accepts (%d)", src, pos[i].key,
                           pos[i].v, pos[i].max);
    }
    if ((int64_t)c->n_heads * c->head_dim > (1 << 18))
        return yt_errf(e, "%s: num_attention_heads x head_dim = %lld is too large", src,
                       (long long)c->n_heads * c->head_dim);
    if (c->n_heads % c->n_kv_heads != 0)
        return yt_errf(e, "%s: num_attention_heads (%d) must be a multiple of num_key_value_heads (%d)",
                       src, c->n_heads, c->n_kv_heads);
    if (c->head_dim % 2 != 0)
        return yt_errf(e, "%s: head_dim (%d) must be even for rotary embeddings", src, c->head_dim);
    /* Sizes the model keeps in int: the projection widths, and per layer 9 weights
     * and up to 2 LoRA matrices for each of the 7 projections. */
    if ((int64_t)c->n_heads * c->head_dim > INT_MAX)
        return yt_errf(e, "%s: num_attention_heads (%d) x head_dim (%d) is too large", src,
                       c->n_heads, c->head_dim);
    if (c->n_layers > (INT_MAX - 3) / (2 * YT_NPROJ))
        return yt_errf(e, "%s: num_hidden_layers (%d) is too large", src, c->n_layers);
    if (!(c->rms_eps > 0) || !isfinite(c->rms_eps))
        return yt_errf(e, "%s: key 'rms_norm_eps' must be positive", src);
    if (!(c->rope_theta > 0) || !isfinite(c->rope_theta))
        return yt_errf(e, "%s: key 'rope_theta' must be positive", src);
    const yt_rope_scaling *s = &c->rope_scaling;
    if (s->llama3 && (!(s->factor > 0) || !(s->high_freq_factor > s->low_freq_factor) ||
                      !(s->low_freq_factor > 0) || s->original_max_pos <= 0))
        return yt_errf(e, "%s: key 'rope_scaling': llama3 needs factor > 0, "
                          "high_freq_factor > low_freq_factor > 0, original_max_position_embeddings > 0",
                       src);
    return 0;
}

/* "eos_token_id" of a config object: an integer or a list (the first); 0 absent. */
static int eos_of(json_t *root, int64_t *out, const char *src, yt_err *e)
{
    json_t *v = json_object_get(root, "eos_token_id");
    if (json_is_array(v))
        v = json_array_size(v) ? json_array_get(v, 0) : NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
        return yt_errf(e, "%s: key 'eos_token_id' must be a non-negative integer or a list of them",
                       src);
    *out = json_integer_value(v);
    return 1;
}

int yt_model_eos_id(const char *model_dir, int64_t *eos, char *src, size_t srclen, yt_err *e)
{
    static const char *const files[] = {"generation_config.json", "config.json"};
    *eos = -1;
    if (src && srclen)
        src[0] = 0;
    for (int i = 0; i < 2; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", model_dir, files[i]);
        if (!yt_json_file_exists(path))
            continue;
        json_t *root = yt_json_load_file(path, 0, e);
        if (!root)
            return -1;
        int rc = json_is_object(root) ? eos_of(root, eos, path, e)
                                      : yt_errf(e, "%s: not a JSON object", path);
        json_decref(root);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            if (src && srclen)
                snprintf(src, srclen, "%s", path);
            return 0;
        }
    }
    return 0;
}

int yt_config_load(yt_config *c, const char *model_dir, yt_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", model_dir);
    json_t *root = yt_json_load_file(path, 0, e);
    if (!root)
        return -1;
    int rc = yt_config_from_json(c, root, path, e);
    json_decref(root);
    int64_t eos;
    if (rc == 0 && yt_model_eos_id(model_dir, &eos, NULL, 0, e) != 0)
        rc = -1;
    if (rc == 0 && eos >= 0)
        c->eos_id = (int)eos;
    return rc;
}

json_t *yt_config_to_json(const yt_config *c, const char *torch_dtype)
{
    json_t *r = json_object();
    json_object_set_new(r, "architectures", json_pack("[s]", "LlamaForCausalLM"));
    json_object_set_new(r, "model_type", json_string("llama"));
    json_object_set_new(r, "vocab_size", json_integer(c->vocab_size));
    json_object_set_new(r, "hidden_size", json_integer(c->hidden_size));
    json_object_set_new(r, "intermediate_size", json_integer(c->intermediate_size));
    json_object_set_new(r, "num_hidden_layers", json_integer(c->n_layers));
    json_object_set_new(r, "num_attention_heads", json_integer(c->n_heads));
    json_object_set_new(r, "num_key_value_heads", json_integer(c->n_kv_heads));
    json_object_set_new(r, "head_dim", json_integer(c->head_dim));
    json_object_set_new(r, "max_position_embeddings", json_integer(c->max_pos));
    json_object_set_new(r, "rms_norm_eps", json_real(c->rms_eps));
    json_object_set_new(r, "rope_theta", json_real(c->rope_theta));
    if (c->rope_scaling.llama3)
        json_object_set_new(r, "rope_scaling",
                            json_pack("{s:s, s:f, s:f, s:f, s:i}", "rope_type", "llama3", "factor",
                                      (double)c->rope_scaling.factor, "low_freq_factor",
                                      (double)c->rope_scaling.low_freq_factor, "high_freq_factor",
                                      (double)c->rope_scaling.high_freq_factor,
                                      "original_max_position_embeddings",
                                      c->rope_scaling.original_max_pos));
    else
        json_object_set_new(r, "rope_scaling", json_null());
    json_object_set_new(r, "tie_word_embeddings", json_boolean(c->tie_embeddings));
    json_object_set_new(r, "hidden_act", json_string("silu"));
    json_object_set_new(r, "attention_bias", json_false());
    json_object_set_new(r, "mlp_bias", json_false());
    json_object_set_new(r, "attention_dropout", json_real(0.0));
    /* A GGUF may name no bos/eos (-1): null, as transformers writes it. */
    json_object_set_new(r, "bos_token_id", c->bos_id >= 0 ? json_integer(c->bos_id) : json_null());
    json_object_set_new(r, "eos_token_id", c->eos_id >= 0 ? json_integer(c->eos_id) : json_null());
    json_object_set_new(r, "initializer_range", json_real(0.02));
    json_object_set_new(r, "torch_dtype", json_string(torch_dtype));
    return r;
}

int yt_config_preset(yt_config *c, const char *name, yt_err *e)
{
    memset(c, 0, sizeof *c);
    c->rms_eps = 1e-5f;
    c->rope_theta = 10000.0f;
    c->bos_id = 1;
    c->eos_id = 2;
    if (strcmp(name, "tiny") == 0) {
        /* Small enough for finite differences and seconds-per-step tests, with
         * GQA (ratio 2) so the grouped paths are exercised. */
        c->vocab_size = 256;
        c->hidden_size = 64;
        c->intermediate_size = 160;
        c->n_layers = 2;
        c->n_heads = 4;
        c->n_kv_heads = 2;
        c->max_pos = 512;
    } else if (strcmp(name, "bench-small") == 0) {
        c->vocab_size = 32000;
        c->hidden_size = 512;
        c->intermediate_size = 1376;
        c->n_layers = 8;
        c->n_heads = 8;
        c->n_kv_heads = 4;
        c->max_pos = 2048;
    } else if (strcmp(name, "llama3-8b") == 0 || strcmp(name, "llama3-1b") == 0) {
        /* The shapes of Llama 3.1 8B and Llama 3.2 1B (random weights: GPU benchmarks). */
        int big = name[7] == '8';
        c->vocab_size = 128256;
        c->hidden_size = big ? 4096 : 2048;
        c->intermediate_size = big ? 14336 : 8192;
        c->n_layers = big ? 32 : 16;
        c->n_heads = 32;
        c->n_kv_heads = 8;
        c->max_pos = 131072;
        c->rope_theta = 500000.0f;
        c->tie_embeddings = !big;
        c->bos_id = 128000;
        c->eos_id = 128001;
    } else if (strcmp(name, "llama3-70b") == 0) {
        /* The shape of Llama 3.1 70B (shape only: benchmarks make its weights on the device). */
        c->vocab_size = 128256;
        c->hidden_size = 8192;
        c->intermediate_size = 28672;
        c->n_layers = 80;
        c->n_heads = 64;
        c->n_kv_heads = 8;
        c->max_pos = 131072;
        c->rope_theta = 500000.0f;
        c->bos_id = 128000;
        c->eos_id = 128001;
    } else {
        return yt_errf(e, "unknown preset '%s' (known: tiny, bench-small, llama3-1b, llama3-8b, llama3-70b)",
                       name);
    }
    c->head_dim = c->hidden_size / c->n_heads;
    return 0;
}

uint64_t yt_config_hash(const yt_config *c)
{
    int64_t f[] = {c->vocab_size, c->hidden_size, c->intermediate_size, c->n_layers, c->n_heads,
                   c->n_kv_heads, c->head_dim, c->tie_embeddings, c->rope_scaling.llama3,
                   c->rope_scaling.original_max_pos};
    float g[] = {c->rms_eps, c->rope_theta, c->rope_scaling.factor, c->rope_scaling.low_freq_factor,
                 c->rope_scaling.high_freq_factor};
    return yt_hash64(g, sizeof g, yt_hash64(f, sizeof f, YT_HASH_SEED));
}
