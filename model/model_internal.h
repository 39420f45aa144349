/* model/ internals shared by its files: the model struct and its buffers. */
#ifndef YT_MODEL_INTERNAL_H
#define YT_MODEL_INTERNAL_H

#include "model/model.h"
#include "model/gguf.h"
#include "model/quant.h"
#include "model/safetensors.h"

typedef struct yt_layer_weights {
    const float *attn_norm, *mlp_norm;
    const float *w[YT_NPROJ];
} yt_layer_weights;

/* One base weight of the fixed order the loader and the fingerprint use
 * (embedding, final norm, lm_head when present, then per layer the two norms
 * and the seven projections): its Hugging Face name and shape, where its fp32
 * pointer goes in direct mode, and its place in the base units (model/base.c):
 * unit -1 for the final norm, which every process keeps whole. */
typedef struct yt_wspec {
    char name[128];
    const float **dst;
    int ndim;
    int64_t shape[2];
    int unit, part;
} yt_wspec;

/* The weight table of m (yt_free it); *n its length. */
int yt_weights_table(yt_model *m, yt_wspec **out, int *n, yt_err *e);
size_t yt_wspec_count(const yt_wspec *w);
/* The fingerprint's step for one tensor: its name, count and strided samples. */
uint64_t yt_weights_sample_hash(uint64_t h, const char *name, const float *w, size_t n);
/* 0 when every element is finite; else the first NaN/Inf, naming m's source
 * and the tensor. */
int yt_weights_check_finite(const yt_model *m, const char *name, const float *w, size_t n, yt_err *e);
int yt_weights_has(const yt_model *m, const char *name);
const float *yt_weights_view(const yt_model *m, const char *name);
int yt_weights_read(const yt_model *m, const char *name, float *dst, size_t n, yt_err *e);

/* How the frozen base weights are held (model/base.c). */
enum {
    YT_BASE_DIRECT,  /* fp32 pointers into the mmap or the converted copy (no per-layer work) */
    YT_BASE_STORED,  /* every unit's bytes in memory, in the stored dtype */
    YT_BASE_SHARDED, /* this process's piece of every unit; the rest gathered before use */
};
#define YT_LAYER_PARTS (2 + YT_NPROJ) /* attn_norm, mlp_norm, q .. down */

typedef struct yt_base {
    int mode, dtype, head_dtype;    /* dtypes of the projections and of embedding/lm_head */
    int shard_index, shard_count;
    int n_units, embed_unit, head_unit; /* layers 0..L-1, then embedding, then lm_head (= embedding when tied) */
    size_t part_off[YT_LAYER_PARTS], part_n[YT_LAYER_PARTS]; /* a layer unit's parts */
    size_t layer_bytes, head_bytes;  /* a layer unit; the embedding or lm_head unit */
    size_t *keep_begin, *keep_end;   /* [n_units]: this process's bytes of each unit */
    size_t *store_off;               /* [n_units]: where they are in store */
    unsigned char *store;
    size_t store_bytes;
    int store_filled;                /* this process wrote store (not the provider's other filler) */
    float *final_norm;               /* [C] */
    /* per-pass working memory */
    unsigned char *slot[2];          /* sharded: gathered layer units */
    int slot_unit[2], slot_handle[2];
    unsigned char *hbuf;             /* sharded: the gathered embedding or lm_head */
    int hbuf_unit, hbuf_handle;
    float *lscratch;                 /* one layer in fp32 (projection dtype not f32) */
    int lscratch_unit;
    float *hscratch;                 /* the lm_head in fp32 (head dtype not f32) */
    size_t work_bytes;
    int in_use;                      /* the layer unit being computed (its slot is not reused) */
    yt_model_base_source src;
    int failed;                      /* a source call failed: err */
    yt_err err;
} yt_base;

/* A layer unit's parts (offsets in bytes, element counts) and the bytes of a
 * layer unit and of the embedding / lm_head unit, for the projections in dtype. */
void yt_base_layout(const yt_config *c, int dtype, size_t part_off[YT_LAYER_PARTS],
                    size_t part_n[YT_LAYER_PARTS], size_t *layer_bytes, size_t *head_bytes);
/* Floats of the fp32 scratch that holds one decoded layer. */
size_t yt_base_scratch_floats(const size_t part_n[YT_LAYER_PARTS]);
int yt_base_open(yt_model *m, const yt_model_base_opts *o, yt_err *e);
/* m->lw[l] at the fp32 parts of a layer unit (in_scratch 0) or of lscratch (1). */
void yt_base_point_layer(yt_model *m, int l, const void *unit, int in_scratch);
void yt_base_close(yt_model *m);
/* Pass hooks, no-ops in direct mode (the inline checks keep it free).
 * yt_base_layer: m->lw[l] holds layer l's fp32 weights until the next call;
 * the gather of unit `next` (-1: none) is started first.  -1 when a gather
 * failed (m->base.err). */
int yt_base_layer_slow(yt_model *m, int l, int next);
static inline int yt_base_layer(yt_model *m, int l, int next);
int yt_base_embed(yt_model *m, float *x, const int32_t *ids);
/* The lm_head in fp32, NULL when a gather failed. */
const float *yt_base_head(yt_model *m);
void yt_base_prefetch(yt_model *m, int unit);
void yt_base_progress_slow(yt_model *m);
static inline void yt_base_progress(yt_model *m);
/* Waits for every gather in flight (the end of a pass, close). */
void yt_base_drain(yt_model *m);

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

    char source[4096];             /* the --model path, for messages */
    yt_st_set *st;                 /* the base weights: a Hugging Face folder ... */
    yt_gg *gg;                     /* ... or a GGUF file (then st is NULL) */
    float *converted;              /* BF16/F16 weights converted to fp32 */
    size_t converted_bytes;
    int converted_filled;          /* this process converted them */
    const yt_model_alloc *alloc;   /* provider of `converted` (NULL: ours, freed at close) */
    yt_base base;                  /* how the base weights are held (direct: lw/embed/lm_head below) */
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
    size_t arena_bytes;
};

static inline int yt_base_layer(yt_model *m, int l, int next)
{
    return m->base.mode == YT_BASE_DIRECT ? 0 : yt_base_layer_slow(m, l, next);
}

static inline void yt_base_progress(yt_model *m)
{
    if (m->base.mode == YT_BASE_SHARDED)
        yt_base_progress_slow(m);
}

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
