/* model/ internals shared by its files: the model struct and its buffers. */
#ifndef YT_MODEL_INTERNAL_H
#define YT_MODEL_INTERNAL_H

#include "model/model.h"
#include "model/gguf.h"
#include "model/safetensors.h"

typedef struct yt_layer_weights {
    const float *attn_norm, *mlp_norm;
    const float *w[YT_NPROJ];
} yt_layer_weights;

/* What one layer keeps from forward for its backward. */
typedef struct yt_layer_acts {
    float *x_in, *xn1, *rstd1, *q, *k, *v, *att, *lse, *x_mid, *xn2, *rstd2, *g, *u, *h;
    float *xa[YT_NPROJ];   /* scale * dropout(x) A^T, [T, r] */
    float *xd[YT_NPROJ];   /* dropout(x) [T, in], only when dropout > 0 */
} yt_layer_acts;

struct yt_model {
    yt_config cfg;
    yt_lora_config lora;
    float lora_scale;
    int B, S, T;
    int eval;                      /* forward without dropout */
    yt_poll_fn poll;               /* between layers; non-zero abandons */
    void *poll_ctx;
    int proj_in[YT_NPROJ], proj_out[YT_NPROJ];

    yt_st_set *st;                 /* the base weights: a Hugging Face folder ... */
    yt_gg *gg;                     /* ... or a GGUF file (then st is NULL) */
    float *converted;              /* BF16/F16 weights converted to fp32 */
    size_t converted_bytes;
    int converted_filled;          /* this process converted them */
    const yt_model_alloc *alloc;   /* provider of `converted` (NULL: ours, freed at close) */
    const float *embed, *final_norm, *lm_head;
    yt_layer_weights *lw;
    uint64_t fingerprint;

    float *params, *grads;
    size_t n_params;
    yt_lora_tensor *lt;
    int n_lt;
    /* index into lt of A for (layer, proj), -1 when not targeted; B is the next one */
    int *lora_index;

    yt_layer_acts *acts;
    float *x_final, *xn_final, *rstd_final;
    float *rope_cos, *rope_sin;
    int32_t *pos;                   /* RoPE position of each token [T] */
    int32_t *doc;                   /* document ids [T] for attention masking */
    int use_doc;                    /* doc holds the current micro-batch's ids */
    /* backward scratch, shared by all layers */
    float *dx, *dtmp, *dq, *dk, *dv, *datt, *dg, *du, *dh, *dxa, *dxd;
    float *ws_attn, *ws_xent;
    int xent_chunk;
    float *arena;                   /* one allocation for all of the above */
};

/* The dropout mask's seed of projection p of layer l in the pass keyed by seed
 * (the same on the CPU and the GPU). */
static inline uint64_t yt_lora_dropout_seed(uint64_t seed, int l, int p)
{
    return yt_mix64(seed ^ yt_mix64(((uint64_t)l << 8) | (uint64_t)p));
}

/* A Llama model from a GGUF file (model/gguf_llama.c).  Tensors are looked up
 * by their Hugging Face names; q_proj/k_proj come back in HF row order. */
/* 1: PATH is a GGUF file; 0: not a regular file (read it as a folder); -1: a
 * regular file that is not GGUF (message). */
int yt_gg_llama_probe(const char *path, yt_err *e);
/* The config from llama.* / tokenizer.ggml.* keys; refuses other
 * architectures, unsupported features and tensors a Llama does not have. */
int yt_gg_llama_config(const yt_gg *g, yt_config *c, yt_err *e);
/* HF name of GGUF tensor GG into hf[cap], *layer its block (-1 if none):
 * 0; 1 for rope_freqs.weight (RoPE factors, not a weight); -1 unknown. */
int yt_gg_llama_hf_name(const char *gg, char *hf, size_t cap, int *layer);
const yt_gg_tensor *yt_gg_llama_find(const yt_gg *g, const char *hf);
/* HF shape [out, in] or [n] (GGUF stores ne {in, out}); errors name both names. */
int yt_gg_llama_expect(const yt_gg *g, const char *hf, int ndim, const int64_t *shape, yt_err *e);
/* The mapping when HF is F32, 4-byte aligned and not row-permuted, else NULL. */
const float *yt_gg_llama_f32_view(const yt_gg *g, const yt_config *c, const char *hf);
int yt_gg_llama_read_f32(const yt_gg *g, const yt_config *c, const char *hf, float *dst, size_t n,
                         yt_err *e);

const float *yt_lora_A(const yt_model *m, int l, int p);
const float *yt_lora_B(const yt_model *m, int l, int p);
int yt_lora_layout(yt_model *m, yt_err *e);
void yt_proj_forward(yt_model *m, int l, int p, float *y, const float *x, float beta,
                     uint64_t seed);
void yt_proj_backward(yt_model *m, int l, int p, float *dx, const float *dy, const float *x,
                      float beta, uint64_t seed);

#endif
