/* A Llama model from a GGUF file: the config from llama.cpp's llama.* and
 * tokenizer.ggml.* keys, Hugging Face names for its tensors, and the Q/K rows
 * put back in Hugging Face order.
 *
 * llama.cpp's convert_hf_to_gguf.py stores q_proj (n_head heads) and k_proj
 * (n_head_kv heads) with each head's rows interleaved for its "rotate
 * adjacent pairs" RoPE: W.reshape(n, 2, hd/2, in).swapaxes(1, 2), so GGUF row
 * h*hd + 2i + s holds HF row h*hd + s*hd/2 + i.  Reading it back takes, for
 * HF row r = h*hd + s*hd/2 + i, GGUF row h*hd + 2i + s: rotate-half holds. */
#define _POSIX_C_SOURCE 200809L
#include "model/model_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int yt_gg_llama_probe(const char *path, yt_err *e)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    if (yt_gg_probe(path))
        return 1;
    return yt_errf(e, "%s: a file that is not GGUF (no 'GGUF' magic); a model is a Hugging Face "
                   "folder (config.json + safetensors) or a .gguf file", path);
}

int yt_model_is_gguf(const char *path) { return yt_gg_probe(path); }

static const struct {
    const char *gg, *hf;
} layer_names[] = {
    {"attn_norm", "input_layernorm"},  {"ffn_norm", "post_attention_layernorm"},
    {"attn_q", "self_attn.q_proj"},    {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},    {"attn_output", "self_attn.o_proj"},
    {"ffn_gate", "mlp.gate_proj"},     {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},
}, top_names[] = {
    {"token_embd.weight", "model.embed_tokens.weight"},
    {"output_norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
};
#define N_LAYER_NAMES (sizeof layer_names / sizeof layer_names[0])
#define N_TOP_NAMES (sizeof top_names / sizeof top_names[0])
#define ROPE_FREQS "rope_freqs.weight"
#define PI 3.141592653589793 /* math.pi, as the converter */

/* "PREFIX<n>.<mid>.weight" -> n and mid (into mid[cap]); -1 when not that form. */
static int split_layer(const char *s, const char *prefix, int *n, char *mid, size_t cap)
{
    size_t lp = strlen(prefix);
    if (strncmp(s, prefix, lp) != 0 || s[lp] < '0' || s[lp] > '9')
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s + lp, &end, 10);
    if (errno || v > INT_MAX || *end != '.' || (s[lp] == '0' && end != s + lp + 1))
        return -1;
    const char *m = end + 1;
    size_t lm = strlen(m);
    if (lm <= 7 || strcmp(m + lm - 7, ".weight") != 0 || lm - 7 >= cap)
        return -1;
    memcpy(mid, m, lm - 7);
    mid[lm - 7] = '\0';
    *n = (int)v;
    return 0;
}

int yt_gg_llama_hf_name(const char *gg, char *hf, size_t cap, int *layer)
{
    *layer = -1;
    if (strcmp(gg, ROPE_FREQS) == 0)
        return 1;
    for (size_t i = 0; i < N_TOP_NAMES; i++)
        if (strcmp(gg, top_names[i].gg) == 0)
            return snprintf(hf, cap, "%s", top_names[i].hf) < (int)cap ? 0 : -1;
    char mid[64];
    int n;
    if (split_layer(gg, "blk.", &n, mid, sizeof mid))
        return -1;
    for (size_t i = 0; i < N_LAYER_NAMES; i++)
        if (strcmp(mid, layer_names[i].gg) == 0) {
            *layer = n;
            return snprintf(hf, cap, "model.layers.%d.%s.weight", n, layer_names[i].hf) < (int)cap
                       ? 0
                       : -1;
        }
    return -1;
}

/* GGUF name of HF weight HF into gg[cap]; -1 when not a Llama weight. */
static int gg_name(const char *hf, char *gg, size_t cap)
{
    for (size_t i = 0; i < N_TOP_NAMES; i++)
        if (strcmp(hf, top_names[i].hf) == 0)
            return snprintf(gg, cap, "%s", top_names[i].gg) < (int)cap ? 0 : -1;
    char mid[64];
    int n;
    if (split_layer(hf, "model.layers.", &n, mid, sizeof mid))
        return -1;
    for (size_t i = 0; i < N_LAYER_NAMES; i++)
        if (strcmp(mid, layer_names[i].hf) == 0)
            return snprintf(gg, cap, "blk.%d.%s.weight", n, layer_names[i].gg) < (int)cap ? 0 : -1;
    return -1;
}

/* Every layer's nine weights are in the file; the first one missing is
 * named. Bounded by the file: each hit is a distinct tensor, so at most
 * n_tensors + 1 lookups before a miss. */
static int layers_present(const yt_gg *g, const yt_config *c, const char *path, yt_err *e)
{
    for (int l = 0; l < c->n_layers; l++)
        for (size_t i = 0; i < N_LAYER_NAMES; i++) {
            char gg[96];
            snprintf(gg, sizeof gg, "blk.%d.%s.weight", l, layer_names[i].gg);
            if (!yt_gg_tensor_find(g, gg))
                return yt_errf(e, "%s: missing tensor '%s' (key 'llama.block_count' is %d)",
                               path, gg, c->n_layers);
        }
    return 0;
}

const yt_gg_tensor *yt_gg_llama_find(const yt_gg *g, const char *hf)
{
    char gg[128];
    return gg_name(hf, gg, sizeof gg) ? NULL : yt_gg_tensor_find(g, gg);
}

/* Heads of a permuted projection: q (n_heads), k (n_kv_heads), else 0. */
static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static int permuted_heads(const yt_config *c, const char *hf)
{
    if (ends_with(hf, ".self_attn.q_proj.weight"))
        return c->n_heads;
    if (ends_with(hf, ".self_attn.k_proj.weight"))
        return c->n_kv_heads;
    return 0;
}

int yt_gg_llama_expect(const yt_gg *g, const char *hf, int ndim, const int64_t *shape, yt_err *e)
{
    const yt_gg_tensor *t = yt_gg_llama_find(g, hf);
    char gg[128] = "?";
    gg_name(hf, gg, sizeof gg);
    if (!t)
        return yt_errf(e, "%s: missing tensor '%s' (%s)", yt_gg_path(g), gg, hf);
    /* GGUF lists dims fastest first: HF [out, in] is ne {in, out}. */
    int ok = t->n_dims == ndim && (ndim == 1 ? t->ne[0] == shape[0]
                                             : t->ne[0] == shape[1] && t->ne[1] == shape[0]);
    if (!ok) {
        char got[96];
        int k = 0;
        for (int d = 0; d < t->n_dims; d++)
            k += snprintf(got + k, sizeof got - (size_t)k, "%s%" PRId64, d ? ", " : "", t->ne[d]);
        if (ndim == 1)
            return yt_errf(e, "%s: tensor '%s' (%s) has dims [%s], expected [%" PRId64 "]",
                           yt_gg_path(g), gg, hf, got, shape[0]);
        return yt_errf(e, "%s: tensor '%s' (%s) has dims [%s], expected [%" PRId64 ", %" PRId64
                       "] (GGUF order: in, out)", yt_gg_path(g), gg, hf, got, shape[1], shape[0]);
    }
    return 0;
}

const float *yt_gg_llama_f32_view(const yt_gg *g, const yt_config *c, const char *hf)
{
    const yt_gg_tensor *t = yt_gg_llama_find(g, hf);
    if (!t || t->type != YT_GGML_F32 || permuted_heads(c, hf) || ((uintptr_t)t->data & 3u))
        return NULL;
    return t->data;
}

int yt_gg_llama_read_f32(const yt_gg *g, const yt_config *c, const char *hf, float *dst, size_t n,
                         yt_err *e)
{
    const yt_gg_tensor *t = yt_gg_llama_find(g, hf);
    if (!t)
        return yt_errf(e, "%s: missing tensor for '%s'", yt_gg_path(g), hf);
    int heads = permuted_heads(c, hf);
    if (!heads)
        return yt_gg_tensor_f32(t, dst, n, NULL, e);
    int64_t rows = t->rows;
    if (t->n_dims != 2 || rows % (2 * heads) != 0)
        return yt_errf(e, "%s: tensor '%s': %" PRId64 " rows do not split into %d heads of an "
                       "even size", t->file, t->name, rows, heads);
    int64_t hd = rows / heads, half = hd / 2;
    int64_t *map = yt_alloc_array((size_t)rows, sizeof *map, "the rope row map", e);
    if (!map)
        return yt_err_prefix(e, "%s: tensor '%s'", t->file, t->name);
    for (int64_t r = 0; r < rows; r++) {
        int64_t h = r / hd, j = r % hd, s = j / half, i = j % half;
        map[r] = h * hd + 2 * i + s;
    }
    int rc = yt_gg_tensor_f32(t, dst, n, map, e);
    free(map);
    return rc;
}

/* Llama 3 RoPE scaling is not in llama.cpp's metadata: its converter writes
 * the per-frequency factors as tensor rope_freqs.weight.  Those of the Llama
 * 3.x releases (low_freq_factor 1, high_freq_factor 4, original context 8192
 * or the file's llama.rope.scaling.original_context_length, factor = the
 * largest one) are recognised by recomputing them as the converter does;
 * anything else is refused. */
static int rope_from_freqs(const yt_gg *g, const yt_gg_tensor *t, yt_config *c, yt_err *e)
{
    int half = c->head_dim / 2;
    float f[1024];
    if (half > 1024 || t->numel != half)
        return yt_errf(e, "%s: tensor '%s' has %" PRId64 " elements; expected head_dim/2 = %d",
                       t->file, t->name, t->numel, half);
    if (yt_gg_tensor_f32(t, f, (size_t)half, NULL, e))
        return -1;
    float factor = 1.0f;
    for (int i = 0; i < half; i++) {
        if (!(f[i] >= 1.0f) || !isfinite(f[i]))
            return yt_errf(e, "%s: tensor '%s': factor %d is %g (must be >= 1)", t->file, t->name,
                           i, (double)f[i]);
        if (f[i] > factor)
            factor = f[i];
    }
    if (factor == 1.0f)
        return 0; /* no scaling at all */
    int64_t orig = 8192;
    if (yt_gg_get_int(g, "llama.rope.scaling.original_context_length", 1, INT_MAX, &orig, 0, e))
        return -1;
    const double lff = 1.0, hff = 4.0, o = (double)orig;
    for (int i = 0; i < half; i++) {
        float fr = 1.0f / (float)pow((double)c->rope_theta, (double)((float)(2 * i) / (float)c->head_dim));
        double wl = 2.0 * PI / (double)fr, want;
        if (wl < o / hff)
            want = 1.0;
        else if (wl > o / lff)
            want = factor;
        else {
            double s = (o / wl - lff) / (hff - lff);
            want = 1.0 / ((1.0 - s) / factor + s);
        }
        if (fabs(want - (double)f[i]) > 1e-5 * want)
            return yt_errf(e, "%s: tensor '%s' holds RoPE frequency factors other than Llama 3's "
                           "(factor %g, low_freq_factor 1, high_freq_factor 4, original context "
                           "%" PRId64 "): factor %d is %.8g, Llama 3 scaling gives %.8g; yieldtune "
                           "supports no other RoPE scaling",
                           t->file, t->name, (double)factor, orig, i, (double)f[i], want);
    }
    c->rope_scaling.llama3 = 1;
    c->rope_scaling.factor = factor;
    c->rope_scaling.low_freq_factor = (float)lff;
    c->rope_scaling.high_freq_factor = (float)hff;
    c->rope_scaling.original_max_pos = (int)orig;
    return 0;
}

static int get_pos(const yt_gg *g, const char *key, int *dst, int required, yt_err *e)
{
    int64_t v = *dst;
    if (yt_gg_get_int(g, key, 1, INT_MAX, &v, required, e))
        return -1;
    *dst = (int)v;
    return 0;
}

int yt_gg_llama_config(const yt_gg *g, yt_config *c, yt_err *e)
{
    const char *path = yt_gg_path(g);
    memset(c, 0, sizeof *c);
    yt_gg_str arch;
    if (yt_gg_get_str(g, "general.architecture", &arch, 1, e))
        return -1;
    if (!yt_gg_str_eq(arch, "llama"))
        return yt_errf(e, "%s: key 'general.architecture' is '%.*s'; yieldtune reads GGUF models "
                       "of the 'llama' architecture only", path, arch.len > 64 ? 64 : (int)arch.len,
                       arch.p);
    int64_t experts = 0;
    if (yt_gg_get_int(g, "llama.expert_count", 0, INT_MAX, &experts, 0, e))
        return -1;
    if (experts > 0)
        return yt_errf(e, "%s: key 'llama.expert_count' is %" PRId64 ": mixture-of-experts models "
                       "are not supported", path, experts);
    c->max_pos = 2048;
    double eps = 0, theta = 10000.0;
    if (get_pos(g, "llama.block_count", &c->n_layers, 1, e) ||
        get_pos(g, "llama.embedding_length", &c->hidden_size, 1, e) ||
        get_pos(g, "llama.feed_forward_length", &c->intermediate_size, 1, e) ||
        get_pos(g, "llama.attention.head_count", &c->n_heads, 1, e) ||
        get_pos(g, "llama.context_length", &c->max_pos, 0, e) ||
        yt_gg_get_float(g, "llama.attention.layer_norm_rms_epsilon", &eps, 1, e) ||
        yt_gg_get_float(g, "llama.rope.freq_base", &theta, 0, e))
        return -1;
    c->rms_eps = (float)eps;
    c->rope_theta = (float)theta;
    c->n_kv_heads = c->n_heads;
    c->head_dim = c->hidden_size / c->n_heads;
    int rot = 0, vlen = 0;
    if (get_pos(g, "llama.attention.head_count_kv", &c->n_kv_heads, 0, e) ||
        get_pos(g, "llama.attention.key_length", &c->head_dim, 0, e) ||
        get_pos(g, "llama.attention.value_length", &vlen, 0, e) ||
        get_pos(g, "llama.rope.dimension_count", &rot, 0, e))
        return -1;
    if (vlen && vlen != c->head_dim)
        return yt_errf(e, "%s: key 'llama.attention.value_length' (%d) differs from the key length "
                       "(%d): not supported", path, vlen, c->head_dim);
    if (rot && rot != c->head_dim)
        return yt_errf(e, "%s: key 'llama.rope.dimension_count' is %d but heads have %d dimensions: "
                       "partial rotary embeddings are not supported", path, rot, c->head_dim);
    /* RoPE scaling other than Llama 3's (which comes as a tensor) is refused. */
    yt_gg_str st = {0};
    if (yt_gg_get_str(g, "llama.rope.scaling.type", &st, 0, e))
        return -1;
    if (st.p && !yt_gg_str_eq(st, "none"))
        return yt_errf(e, "%s: key 'llama.rope.scaling.type' is '%.*s'; supported: none (and Llama 3 "
                       "scaling, given by the tensor '" ROPE_FREQS "')", path,
                       st.len > 32 ? 32 : (int)st.len, st.p);
    double lin = 1.0;
    if (yt_gg_get_float(g, "llama.rope.scale_linear", &lin, 0, e))
        return -1;
    if (lin != 1.0)
        return yt_errf(e, "%s: key 'llama.rope.scale_linear' is %g: linear RoPE scaling is not "
                       "supported", path, lin);
    /* vocab_size: the rows of the embedding. */
    const yt_gg_tensor *emb = yt_gg_tensor_find(g, "token_embd.weight");
    if (!emb)
        return yt_errf(e, "%s: missing tensor 'token_embd.weight'", path);
    if (emb->n_dims != 2 || emb->ne[1] > INT_MAX)
        return yt_errf(e, "%s: tensor 'token_embd.weight' is not [hidden, vocab]", path);
    c->vocab_size = (int)emb->ne[1];
    int64_t nv = c->vocab_size;
    if (yt_gg_get_int(g, "llama.vocab_size", 1, INT_MAX, &nv, 0, e))
        return -1;
    if (nv != c->vocab_size)
        return yt_errf(e, "%s: key 'llama.vocab_size' is %" PRId64 " but tensor 'token_embd.weight' "
                       "has %d rows", path, nv, c->vocab_size);
    const yt_gg_value *toks = NULL;
    if (yt_gg_get_array(g, "tokenizer.ggml.tokens", YT_GG_STRING, &toks, 0, e))
        return -1;
    if (toks && toks->n > (uint64_t)c->vocab_size)
        return yt_errf(e, "%s: key 'tokenizer.ggml.tokens' holds %" PRIu64 " tokens but tensor "
                       "'token_embd.weight' has only %d rows", path, toks->n, c->vocab_size);
    int64_t bos = -1, eos = -1;
    if (yt_gg_get_int(g, "tokenizer.ggml.bos_token_id", 0, INT_MAX, &bos, 0, e) ||
        yt_gg_get_int(g, "tokenizer.ggml.eos_token_id", 0, INT_MAX, &eos, 0, e))
        return -1;
    c->bos_id = (int)bos;
    c->eos_id = (int)eos;
    c->tie_embeddings = yt_gg_tensor_find(g, "output.weight") == NULL;
    if (yt_config_validate(c, path, e))
        return -1;
    /* Before anything is allocated per layer, so that a huge block count in
     * a small file costs nothing. */
    if (layers_present(g, c, path, e))
        return -1;
    /* Every tensor must be one this model uses: biases, experts or anything
     * else a Llama does not have would otherwise be silently ignored. */
    for (size_t i = 0; i < yt_gg_n_tensors(g); i++) {
        const yt_gg_tensor *t = yt_gg_tensor_at(g, i);
        char hf[160];
        int layer, k = yt_gg_llama_hf_name(t->name, hf, sizeof hf, &layer);
        if (k < 0)
            return yt_errf(e, "%s: tensor '%s' is not part of a Llama model (yieldtune reads "
                           "token_embd, output_norm, output, rope_freqs and blk.N.attn_norm/"
                           "attn_q/attn_k/attn_v/attn_output/ffn_norm/ffn_gate/ffn_up/ffn_down)",
                           path, t->name);
        if (layer >= c->n_layers)
            return yt_errf(e, "%s: tensor '%s' is beyond llama.block_count (%d)", path, t->name,
                           c->n_layers);
        if (k == 1 && rope_from_freqs(g, t, c, e))
            return -1;
    }
    return 0;
}
