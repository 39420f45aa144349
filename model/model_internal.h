/* model/ internals shared by its files: the model struct and its buffers. */
#ifndef YT_MODEL_INTERNAL_H
#define YT_MODEL_INTERNAL_H

#include "model/model.h"
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

    yt_st_set *st;
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

const float *yt_lora_A(const yt_model *m, int l, int p);
const float *yt_lora_B(const yt_model *m, int l, int p);
int yt_lora_layout(yt_model *m, yt_err *e);
void yt_proj_forward(yt_model *m, int l, int p, float *y, const float *x, float beta,
                     uint64_t seed);
void yt_proj_backward(yt_model *m, int l, int p, float *dx, const float *dy, const float *x,
                      float beta, uint64_t seed);

#endif
