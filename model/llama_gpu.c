/* The Llama model on a GPU: the layer-by-layer forward and backward of
 * model/llama.c, op for op, queued on one CUDA stream through kernels/cuda.
 * Base weights are bf16 on the device; LoRA, norms, activations and gradients
 * fp32.  With recompute, only each layer's input survives the forward pass
 * and the backward pass redoes the layer's forward into one shared set of
 * activations first (the dropout masks are pure functions of the seed, so the
 * redo is the same computation). */
#include "model/model_gpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

typedef struct gacts {
    float *xn1, *rstd1, *q, *k, *v, *att, *lse, *x_mid, *xn2, *rstd2, *g, *u, *h;
    float *xa[YT_NPROJ];
    float *xd[YT_NPROJ];
} gacts;

struct yt_gmodel {
    yt_model *host;
    const yt_config *cfg;
    yt_gmodel_opts o;
    int B, S, T, L, eval;
    float lora_scale;
    yt_kc_ctx *kc;
    yt_poll_fn poll;
    void *poll_ctx;
    /* weights */
    uint16_t *w16;                 /* every bf16 matrix, one allocation */
    const uint16_t *embed16, *head16;
    const uint16_t **pw16;         /* [L * YT_NPROJ] */
    float *norms;                  /* [L][2][C] attention, mlp; then final [C] */
    /* --base-dtype nf4 (UNTESTED on a GPU): every layer's projections as
     * stored (model/quant.h), the one being computed decoded into scratch16;
     * pw16 of every layer points into scratch16. */
    unsigned char *q4;
    size_t q4_layer, q4_off[YT_NPROJ], s16_off[YT_NPROJ];
    yt_q_layout q4_lay[YT_NPROJ];
    uint16_t *scratch16;
    float *q4_tables;              /* NF4 levels [16], then the dynamic map [256] */
    int decoded;                   /* the layer in scratch16, -1 none */
    /* one float arena for everything else */
    float *arena;
    size_t arena_bytes, w16_bytes, ctx_ws_bytes;
    float *params, *grads;
    float **x_in;                  /* [L + 1]: each layer's input; x_in[L] is the final hidden state */
    gacts *acts;                   /* [L], or [1] with recompute */
    float *xn_final, *rstd_final;
    float *dx, *dtmp, *dq, *dk, *dv, *datt, *dg, *du, *dh, *dxa, *dxd;
    float *rope_cos, *rope_sin;
    float *weight;
    int32_t *ids, *targets, *pos, *doc;
    int use_doc;
    void *att_ws;
    void *xent_ws;
    int xent_chunk;
    double *loss_dev;
    int32_t *pos_host;             /* staging for the clamped positions [T] */
};

/* Every kernel call returns 0 or -1 with the message in e. */
#define K(call)                                                                                    \
    do {                                                                                           \
        if ((call) != 0)                                                                           \
            return -1;                                                                             \
    } while (0)

/* ---- layout: sizes first (base NULL), then pointers ---- */

static size_t carve(void **p, char *base, size_t *off, size_t bytes)
{
    size_t b = (bytes + 255) & ~(size_t)255;
    if (base)
        *p = base + *off;
    *off += b;
    return b;
}

static void layout(yt_gmodel *g, char *base, size_t *total)
{
    const yt_config *c = g->cfg;
    const yt_model *m = g->host;
    size_t T = (size_t)g->T, C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t Q = (size_t)c->n_heads * c->head_dim, KV = (size_t)c->n_kv_heads * c->head_dim;
    size_t r = (size_t)m->lora.rank, off = 0, f = sizeof(float), max_in = C > F ? C : F;
    if (Q > max_in)
        max_in = Q;
    void *dummy;
#define CV(ptr, bytes) carve(base ? (void **)&(ptr) : &dummy, base, &off, (bytes))
    CV(g->params, m->n_params * f);
    CV(g->grads, m->n_params * f);
    for (int l = 0; l <= g->L; l++)
        CV(g->x_in[l], T * C * f);
    int n_acts = g->o.recompute ? 1 : g->L;
    for (int l = 0; l < n_acts; l++) {
        gacts *a = &g->acts[l];
        CV(a->xn1, T * C * f);
        CV(a->rstd1, T * f);
        CV(a->q, T * Q * f);
        CV(a->k, T * KV * f);
        CV(a->v, T * KV * f);
        CV(a->att, T * Q * f);
        CV(a->lse, (size_t)g->B * c->n_heads * g->S * f);
        CV(a->x_mid, T * C * f);
        CV(a->xn2, T * C * f);
        CV(a->rstd2, T * f);
        CV(a->g, T * F * f);
        CV(a->u, T * F * f);
        CV(a->h, T * F * f);
        for (int p = 0; p < YT_NPROJ; p++) {
            if (!((m->lora.targets >> p) & 1))
                continue;
            CV(a->xa[p], T * r * f);
            if (m->lora.dropout > 0)
                CV(a->xd[p], T * (size_t)m->proj_in[p] * f);
        }
    }
    CV(g->xn_final, T * C * f);
    CV(g->rstd_final, T * f);
    CV(g->dx, T * C * f);
    CV(g->dtmp, T * C * f);
    CV(g->dq, T * Q * f);
    CV(g->dk, T * KV * f);
    CV(g->dv, T * KV * f);
    CV(g->datt, T * Q * f);
    CV(g->dg, T * F * f);
    CV(g->du, T * F * f);
    CV(g->dh, T * F * f);
    CV(g->dxa, T * r * f);
    CV(g->dxd, T * max_in * f);
    CV(g->rope_cos, (size_t)g->S * c->head_dim / 2 * f);
    CV(g->rope_sin, (size_t)g->S * c->head_dim / 2 * f);
    CV(g->weight, T * f);
    CV(g->ids, T * sizeof(int32_t));
    CV(g->targets, T * sizeof(int32_t));
    CV(g->pos, T * sizeof(int32_t));
    CV(g->doc, T * sizeof(int32_t));
    CV(g->loss_dev, sizeof(double));
    size_t att_bytes = g->o.attention == YT_GATT_GEMM
                           ? yt_kc_attention_gemm_workspace(g->S, c->n_heads, c->n_kv_heads, c->head_dim)
                           : yt_kc_attention_workspace(g->B, g->S, c->n_heads) * f;
    CV(g->att_ws, att_bytes);
    CV(g->xent_ws, yt_kc_lmhead_xent_workspace(g->T, c->hidden_size, c->vocab_size, g->xent_chunk));
#undef CV
    *total = off;
}

/* ---- base weights ---- */

/* bf16 matrices: embed, lm_head (unless tied), then per layer the seven projections. */
static size_t w16_elems(const yt_gmodel *g, int tied)
{
    const yt_config *c = g->cfg;
    size_t n = (size_t)c->vocab_size * c->hidden_size * (tied ? 1 : 2);
    for (int p = 0; g->o.base != YT_GBASE_NF4 && p < YT_NPROJ; p++)
        n += (size_t)g->L * g->host->proj_in[p] * g->host->proj_out[p];
    return n;
}

/* dst16[n] = bf16(src[n]) through a device staging buffer of `chunk` floats. */
static int upload_bf16(yt_gmodel *g, uint16_t *dst16, const float *src, size_t n, float *stage,
                       size_t chunk, yt_err *e)
{
    for (size_t i = 0; i < n; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        K(yt_kc_upload(g->kc, stage, src + i, k * sizeof(float), e));
        K(yt_kc_to_bf16(g->kc, dst16 + i, stage, k, e));
    }
    return 0;
}

/* ---- an NF4 base (UNTESTED on a GPU) ---- */

static size_t proj_n(const yt_gmodel *g, int p) { return (size_t)g->host->proj_in[p] * g->host->proj_out[p]; }

/* Layer l's projections into scratch16 (nothing when they are there). */
static int decode_layer(yt_gmodel *g, int l, yt_err *e)
{
    if (!g->q4 || g->decoded == l)
        return 0;
    for (int p = 0; p < YT_NPROJ; p++) {
        const unsigned char *t = g->q4 + (size_t)l * g->q4_layer + g->q4_off[p];
        const yt_q_layout *ly = &g->q4_lay[p];
        K(yt_kc_dequant_nf4_bf16(g->kc, g->scratch16 + g->s16_off[p], t + ly->codes, t + ly->qabsmax,
                                 (const float *)(t + ly->absmax2), (const float *)(t + ly->offset),
                                 g->q4_tables + 16, g->q4_tables, proj_n(g, p), e));
    }
    g->decoded = l;
    return 0;
}

/* Every layer's stored projections: the host's units (--base-dtype nf4), or
 * one random layer encoded on the host and copied into every layer. */
static int load_nf4(yt_gmodel *g, int random, yt_err *e)
{
    const yt_model *m = g->host;
    size_t s16 = 0;
    g->q4_layer = 0;
    g->decoded = -1;
    for (int p = 0; p < YT_NPROJ; p++) {
        yt_q_layout_of(YT_BASE_NF4, proj_n(g, p), &g->q4_lay[p]);
        g->q4_off[p] = g->q4_layer;
        g->q4_layer += g->q4_lay[p].bytes;
        g->s16_off[p] = s16;
        s16 += (proj_n(g, p) + 127) & ~(size_t)127;
    }
    if (!random && !(m->base.mode == YT_BASE_STORED && m->base.dtype == YT_BASE_NF4))
        return yt_errf(e, "the GPU's NF4 base needs the host model opened with --base-dtype nf4 (unsharded)");
    K(yt_kc_malloc((void **)&g->q4, g->q4_layer * (size_t)g->L, "NF4 base weights", e));
    K(yt_kc_malloc((void **)&g->scratch16, s16 * sizeof(uint16_t), "decoded layer (bf16)", e));
    K(yt_kc_malloc((void **)&g->q4_tables, (16 + 256) * sizeof(float), "NF4 tables", e));
    float tables[16 + 256];
    memcpy(tables, yt_nf4_levels, sizeof yt_nf4_levels);
    yt_q_dynamic_map(tables + 16);
    K(yt_kc_upload(g->kc, g->q4_tables, tables, sizeof tables, e));
    for (int l = 0; l < g->L; l++)
        for (int p = 0; p < YT_NPROJ; p++)
            g->pw16[l * YT_NPROJ + p] = g->scratch16 + g->s16_off[p];
    if (!random) {
        for (int l = 0; l < g->L; l++) {
            const unsigned char *unit = m->base.store + m->base.store_off[l];
            for (int p = 0; p < YT_NPROJ; p++)
                K(yt_kc_upload(g->kc, g->q4 + (size_t)l * g->q4_layer + g->q4_off[p],
                               unit + m->base.part_off[2 + p], g->q4_lay[p].bytes, e));
        }
        return 0;
    }
    /* Uniform(-a, a) weights as the bf16 random fill, a = 0.02 sqrt(3). */
    size_t most = 0;
    for (int p = 0; p < YT_NPROJ; p++)
        most = proj_n(g, p) > most ? proj_n(g, p) : most;
    float *x = yt_alloc_array(most, sizeof(float), "a random NF4 layer's floats", e);
    unsigned char *q = x ? yt_malloc(g->q4_layer, "a random NF4 layer", e) : NULL;
    int rc = x && q ? 0 : -1;
    for (int p = 0; rc == 0 && p < YT_NPROJ; p++) {
        for (size_t i = 0; i < proj_n(g, p); i++)
            x[i] = 0.02f * sqrtf(3.0f) * (2.0f * yt_u01(yt_mix64(g->o.random_seed ^ (i * 8 + (size_t)p))) - 1.0f);
        rc = yt_q_encode(YT_BASE_NF4, q + g->q4_off[p], x, proj_n(g, p), e);
    }
    if (rc == 0)
        rc = yt_kc_upload(g->kc, g->q4, q, g->q4_layer, e);
    for (int l = 1; rc == 0 && l < g->L; l++)
        rc = yt_kc_copy(g->kc, g->q4 + (size_t)l * g->q4_layer, g->q4, g->q4_layer, e);
    free(x);
    free(q);
    return rc;
}

static int load_weights(yt_gmodel *g, yt_err *e)
{
    const yt_config *c = g->cfg;
    const yt_model *m = g->host;
    size_t C = (size_t)c->hidden_size, V = (size_t)c->vocab_size;
    int random = g->o.random_seed != 0;
    int tied = random ? c->tie_embeddings
               : m->base.mode != YT_BASE_DIRECT ? m->base.head_unit == m->base.embed_unit
                                                : m->lm_head == m->embed;
    size_t n16 = w16_elems(g, tied);
    g->w16_bytes = n16 * sizeof(uint16_t);
    K(yt_kc_malloc((void **)&g->w16, g->w16_bytes, "bf16 base weights", e));
    K(yt_kc_malloc((void **)&g->norms, ((size_t)g->L * 2 + 1) * C * sizeof(float), "norm weights", e));
    g->pw16 = yt_calloc((size_t)g->L * YT_NPROJ, sizeof *g->pw16, "the GPU weight table", e);
    if (!g->pw16)
        return -1;
    /* Assign the pieces in one order for both sources. */
    uint16_t *w = g->w16;
    g->embed16 = w;
    w += V * C;
    g->head16 = g->embed16;
    if (!tied) {
        g->head16 = w;
        w += V * C;
    }
    for (int l = 0; g->o.base != YT_GBASE_NF4 && l < g->L; l++)
        for (int p = 0; p < YT_NPROJ; p++) {
            g->pw16[l * YT_NPROJ + p] = w;
            w += (size_t)m->proj_in[p] * m->proj_out[p];
        }
    if (g->o.base == YT_GBASE_NF4 && load_nf4(g, random, e))
        return -1;
    if (random) {
        /* std 0.02 like Hugging Face's initializer; norms 1. */
        K(yt_kc_fill_uniform_bf16(g->kc, g->w16, n16, 0.02f * sqrtf(3.0f), g->o.random_seed, e));
        K(yt_kc_fill_f32(g->kc, g->norms, ((size_t)g->L * 2 + 1) * C, 1.0f, e));
        return yt_kc_sync(g->kc, e);
    }
    if (g->o.base == YT_GBASE_NF4) {
        /* embedding / lm_head as the host stores them (bf16), norms from its units */
        const yt_base *b = &m->base;
        K(yt_kc_upload(g->kc, (uint16_t *)g->embed16, b->store + b->store_off[b->embed_unit], V * C * 2, e));
        if (!tied)
            K(yt_kc_upload(g->kc, (uint16_t *)g->head16, b->store + b->store_off[b->head_unit], V * C * 2, e));
        for (int l = 0; l < g->L; l++)
            for (int k = 0; k < 2; k++)
                K(yt_kc_upload(g->kc, g->norms + ((size_t)l * 2 + (size_t)k) * C,
                               b->store + b->store_off[l] + b->part_off[k], C * sizeof(float), e));
        K(yt_kc_upload(g->kc, g->norms + (size_t)g->L * 2 * C, m->final_norm, C * sizeof(float), e));
        return yt_kc_sync(g->kc, e);
    }
    size_t chunk = (size_t)16 << 20;
    float *stage = NULL;
    K(yt_kc_malloc((void **)&stage, chunk * sizeof(float), "weight upload staging", e));
    int rc = upload_bf16(g, (uint16_t *)g->embed16, m->embed, V * C, stage, chunk, e);
    if (rc == 0 && !tied)
        rc = upload_bf16(g, (uint16_t *)g->head16, m->lm_head, V * C, stage, chunk, e);
    for (int l = 0; rc == 0 && l < g->L; l++) {
        for (int p = 0; rc == 0 && p < YT_NPROJ; p++)
            rc = upload_bf16(g, (uint16_t *)g->pw16[l * YT_NPROJ + p], m->lw[l].w[p],
                             (size_t)m->proj_in[p] * m->proj_out[p], stage, chunk, e);
        if (rc == 0)
            rc = yt_kc_upload(g->kc, g->norms + (size_t)l * 2 * C, m->lw[l].attn_norm, C * sizeof(float), e);
        if (rc == 0)
            rc = yt_kc_upload(g->kc, g->norms + ((size_t)l * 2 + 1) * C, m->lw[l].mlp_norm,
                              C * sizeof(float), e);
    }
    if (rc == 0)
        rc = yt_kc_upload(g->kc, g->norms + (size_t)g->L * 2 * C, m->final_norm, C * sizeof(float), e);
    if (rc == 0)
        rc = yt_kc_sync(g->kc, e);
    yt_kc_free(stage);
    return rc;
}

/* ---- create / free ---- */

void yt_gmodel_free(yt_gmodel *g)
{
    if (!g)
        return;
    if (g->kc)
        yt_kc_sync(g->kc, &(yt_err){{0}});
    yt_kc_free(g->arena);
    yt_kc_free(g->w16);
    yt_kc_free(g->norms);
    yt_kc_free(g->q4);
    yt_kc_free(g->scratch16);
    yt_kc_free(g->q4_tables);
    yt_kc_ctx_destroy(g->kc);
    free(g->pw16);
    free(g->x_in);
    free(g->acts);
    free(g->pos_host);
    free(g);
}

int yt_gmodel_create(yt_gmodel **out, yt_model *host, int micro_batch, int seq_len,
                     const yt_gmodel_opts *o, yt_err *e)
{
    *out = NULL;
    const yt_config *c = &host->cfg;
    if (micro_batch <= 0 || seq_len <= 0)
        return yt_errf(e, "micro-batch and seq-len must be positive");
    if (seq_len > c->max_pos)
        return yt_errf(e, "--seq-len %d exceeds the model's max_position_embeddings (%d)", seq_len,
                       c->max_pos);
    if (!o->random_seed && !host->embed && host->base.mode == YT_BASE_DIRECT)
        return yt_errf(e, "the GPU model needs base weights (the model was opened without them)");
    if (!o->random_seed && o->base != YT_GBASE_NF4 && host->base.mode != YT_BASE_DIRECT)
        return yt_errf(e, "the GPU's bf16 base needs the host model's fp32 weights (open it with --base-dtype f32)");
    if (o->attention != YT_GATT_GEMM && o->attention != YT_GATT_FLASH)
        return yt_errf(e, "unknown attention kernel %d", o->attention);
    if (c->head_dim % 2 || c->head_dim / 2 > 1024)
        return yt_errf(e, "head_dim %d: the GPU model needs an even head_dim <= 2048", c->head_dim);
    if (o->attention == YT_GATT_FLASH && c->head_dim > 256)
        return yt_errf(e, "head_dim %d: the flash attention kernel needs head_dim <= 256 (use "
                          "--attention gemm)", c->head_dim);
    yt_gmodel *g = yt_calloc(1, sizeof *g, "the GPU model", e);
    if (!g)
        return -1;
    g->host = host;
    g->cfg = c;
    g->o = *o;
    g->B = micro_batch;
    g->S = seq_len;
    g->T = micro_batch * seq_len;
    g->L = c->n_layers;
    g->lora_scale = host->lora_scale;
    g->xent_chunk = yt_kc_lmhead_xent_chunk(g->T, c->vocab_size);
    if (!(g->x_in = yt_calloc((size_t)g->L + 1, sizeof *g->x_in, "the GPU model's layer inputs", e)) ||
        !(g->acts = yt_calloc(o->recompute ? 1 : (size_t)g->L, sizeof *g->acts,
                              "the GPU model's activations", e)) ||
        !(g->pos_host = yt_calloc((size_t)g->T, sizeof *g->pos_host, "the GPU model's positions", e))) {
        yt_gmodel_free(g);
        return -1;
    }
    /* The bf16 products round their activation input into the context's
     * workspace: the largest is T x max(hidden, q, ffn). */
    size_t widest = (size_t)c->hidden_size;
    if ((size_t)c->intermediate_size > widest)
        widest = (size_t)c->intermediate_size;
    if ((size_t)c->n_heads * c->head_dim > widest)
        widest = (size_t)c->n_heads * c->head_dim;
    g->ctx_ws_bytes = 2 * (size_t)g->T * widest;
    if (yt_kc_ctx_create(&g->kc, o->device, g->ctx_ws_bytes, e) != 0 ||
        load_weights(g, e) != 0)
        goto fail;
    size_t total = 0;
    layout(g, NULL, &total);
    g->arena_bytes = total;
    if (yt_kc_malloc((void **)&g->arena, total, "activations, gradients and workspaces", e) != 0)
        goto fail;
    layout(g, (char *)g->arena, &total);
    /* RoPE tables as the CPU makes them. */
    size_t half = (size_t)g->S * c->head_dim / 2;
    float *tab = yt_alloc_array(2 * half, sizeof(float), "the RoPE tables", e);
    float inv_freq[1024];
    if (!tab)
        goto fail;
    yt_k_rope_inv_freq(inv_freq, c->head_dim, c->rope_theta, &c->rope_scaling);
    yt_k_rope_tables(tab, tab + half, inv_freq, g->S, c->head_dim);
    int rc = yt_kc_upload(g->kc, g->rope_cos, tab, half * sizeof(float), e) ||
             yt_kc_upload(g->kc, g->rope_sin, tab + half, half * sizeof(float), e);
    free(tab);
    if (rc || yt_gmodel_params_from_host(g, e) || yt_gmodel_zero_grads(g, e) ||
        yt_kc_sync(g->kc, e))
        goto fail;
    *out = g;
    return 0;
fail:
    yt_gmodel_free(g);
    return -1;
}

yt_kc_ctx *yt_gmodel_ctx(yt_gmodel *g) { return g->kc; }
size_t yt_gmodel_device_bytes(const yt_gmodel *g)
{
    size_t s16 = g->q4 ? g->s16_off[YT_NPROJ - 1] + proj_n(g, YT_NPROJ - 1) : 0;
    return g->arena_bytes + g->w16_bytes + g->ctx_ws_bytes +
           ((size_t)g->L * 2 + 1) * g->cfg->hidden_size * sizeof(float) +
           (g->q4 ? g->q4_layer * (size_t)g->L + s16 * sizeof(uint16_t) + (16 + 256) * sizeof(float) : 0);
}
float *yt_gmodel_params(yt_gmodel *g) { return g->params; }
float *yt_gmodel_grads(yt_gmodel *g) { return g->grads; }

int yt_gmodel_params_to_host(yt_gmodel *g, yt_err *e)
{
    return yt_kc_download(g->kc, g->host->params, g->params, g->host->n_params * sizeof(float), e);
}

int yt_gmodel_params_from_host(yt_gmodel *g, yt_err *e)
{
    return yt_kc_upload(g->kc, g->params, g->host->params, g->host->n_params * sizeof(float), e);
}

int yt_gmodel_grads_to_host(yt_gmodel *g, yt_err *e)
{
    return yt_kc_download(g->kc, g->host->grads, g->grads, g->host->n_params * sizeof(float), e);
}

int yt_gmodel_zero_grads(yt_gmodel *g, yt_err *e)
{
    return yt_kc_memset(g->kc, g->grads, 0, g->host->n_params * sizeof(float), e);
}

void yt_gmodel_set_poll(yt_gmodel *g, yt_poll_fn poll, void *ctx)
{
    g->poll = poll;
    g->poll_ctx = ctx;
}

int yt_gmodel_set_batch(yt_gmodel *g, const int32_t *inputs, const int32_t *targets,
                        const float *weight, const int32_t *doc, const int32_t *pos, yt_err *e)
{
    size_t T = (size_t)g->T;
    yt_model_positions(g->pos_host, pos, g->T, g->S);
    g->use_doc = doc != NULL;
    K(yt_kc_upload(g->kc, g->ids, inputs, T * sizeof(int32_t), e));
    K(yt_kc_upload(g->kc, g->pos, g->pos_host, T * sizeof(int32_t), e));
    if (targets)
        K(yt_kc_upload(g->kc, g->targets, targets, T * sizeof(int32_t), e));
    if (weight)
        K(yt_kc_upload(g->kc, g->weight, weight, T * sizeof(float), e));
    if (doc)
        K(yt_kc_upload(g->kc, g->doc, doc, T * sizeof(int32_t), e));
    return 0;
}

/* ---- one projection with its adapter (model/lora.c's, on the device) ---- */

static const float *lora_param(const yt_gmodel *g, const float *base, int l, int p, int b)
{
    int i = g->host->lora_index[l * YT_NPROJ + p];
    return i < 0 ? NULL : base + g->host->lt[i + b].offset;
}

static int proj_forward(yt_gmodel *g, gacts *a, int l, int p, float *y, const float *x, float beta,
                        uint64_t seed, yt_err *e)
{
    const yt_model *m = g->host;
    int T = g->T, in = m->proj_in[p], out = m->proj_out[p], r = m->lora.rank;
    K(yt_kc_matmul_xwT_bf16(g->kc, y, x, g->pw16[l * YT_NPROJ + p], T, in, out, beta, e));
    const float *A = lora_param(g, g->params, l, p, 0);
    if (!A)
        return 0;
    const float *xin = x;
    if (a->xd[p] && !g->eval) {
        K(yt_kc_dropout_forward(g->kc, a->xd[p], x, (size_t)T * in, m->lora.dropout,
                                yt_lora_dropout_seed(seed, l, p), e));
        xin = a->xd[p];
    }
    K(yt_kc_matmul_xwT(g->kc, a->xa[p], xin, A, T, in, r, 0.0f, e));
    K(yt_kc_scale(g->kc, a->xa[p], g->lora_scale, (size_t)T * r, e));
    return yt_kc_matmul_xwT(g->kc, y, a->xa[p], lora_param(g, g->params, l, p, 1), T, r, out, 1.0f, e);
}

static int proj_backward(yt_gmodel *g, gacts *a, int l, int p, float *dx, const float *dy,
                         const float *x, float beta, uint64_t seed, yt_err *e)
{
    const yt_model *m = g->host;
    int T = g->T, in = m->proj_in[p], out = m->proj_out[p], r = m->lora.rank;
    K(yt_kc_matmul_dyW_bf16(g->kc, dx, dy, g->pw16[l * YT_NPROJ + p], T, in, out, beta, e));
    const float *A = lora_param(g, g->params, l, p, 0);
    if (!A)
        return 0;
    const float *Bm = lora_param(g, g->params, l, p, 1);
    float *dA = (float *)lora_param(g, g->grads, l, p, 0);
    float *dB = (float *)lora_param(g, g->grads, l, p, 1);
    K(yt_kc_matmul_dW(g->kc, dB, dy, a->xa[p], T, r, out, 1.0f, 1.0f, e));
    K(yt_kc_matmul_dyW(g->kc, g->dxa, dy, Bm, T, r, out, 0.0f, e));
    K(yt_kc_scale(g->kc, g->dxa, g->lora_scale, (size_t)T * r, e));
    K(yt_kc_matmul_dW(g->kc, dA, g->dxa, a->xd[p] ? a->xd[p] : x, T, in, r, 1.0f, 1.0f, e));
    if (!a->xd[p])
        return yt_kc_matmul_dyW(g->kc, dx, g->dxa, A, T, in, r, 1.0f, e);
    K(yt_kc_matmul_dyW(g->kc, g->dxd, g->dxa, A, T, in, r, 0.0f, e));
    return yt_kc_dropout_backward(g->kc, dx, g->dxd, (size_t)T * in, m->lora.dropout,
                                  yt_lora_dropout_seed(seed, l, p), e);
}

/* ---- one decoder layer ---- */

static const float *norm_w(const yt_gmodel *g, int l, int which)
{
    return g->norms + ((size_t)l * 2 + (size_t)which) * (size_t)g->cfg->hidden_size;
}

static int attention_forward(yt_gmodel *g, gacts *a, yt_err *e)
{
    const yt_config *c = g->cfg;
    const int32_t *doc = g->use_doc ? g->doc : NULL;
    if (g->o.attention == YT_GATT_GEMM)
        return yt_kc_attention_gemm_forward(g->kc, a->att, a->lse, a->q, a->k, a->v, doc, g->B, g->S,
                                            c->n_heads, c->n_kv_heads, c->head_dim, g->att_ws, e);
    return yt_kc_attention_forward(g->kc, a->att, a->lse, a->q, a->k, a->v, doc, g->B, g->S,
                                   c->n_heads, c->n_kv_heads, c->head_dim, e);
}

static int attention_backward(yt_gmodel *g, gacts *a, yt_err *e)
{
    const yt_config *c = g->cfg;
    const int32_t *doc = g->use_doc ? g->doc : NULL;
    if (g->o.attention == YT_GATT_GEMM)
        return yt_kc_attention_gemm_backward(g->kc, g->dq, g->dk, g->dv, g->datt, a->q, a->k, a->v,
                                             a->att, a->lse, doc, g->B, g->S, c->n_heads,
                                             c->n_kv_heads, c->head_dim, g->att_ws, e);
    return yt_kc_attention_backward(g->kc, g->dq, g->dk, g->dv, g->datt, a->q, a->k, a->v, a->att,
                                    a->lse, doc, g->B, g->S, c->n_heads, c->n_kv_heads,
                                    c->head_dim, (float *)g->att_ws, e);
}

static int layer_forward(yt_gmodel *g, int l, gacts *a, uint64_t seed, yt_err *e)
{
    const yt_config *c = g->cfg;
    int T = g->T, C = c->hidden_size, F = c->intermediate_size;
    const float *x_in = g->x_in[l];
    float *x_out = g->x_in[l + 1];
    K(decode_layer(g, l, e));
    K(yt_kc_rmsnorm_forward(g->kc, a->xn1, a->rstd1, x_in, norm_w(g, l, 0), T, C, c->rms_eps, e));
    K(proj_forward(g, a, l, YT_Q, a->q, a->xn1, 0.0f, seed, e));
    K(proj_forward(g, a, l, YT_K, a->k, a->xn1, 0.0f, seed, e));
    K(proj_forward(g, a, l, YT_V, a->v, a->xn1, 0.0f, seed, e));
    K(yt_kc_rope_forward(g->kc, a->q, g->rope_cos, g->rope_sin, g->pos, T, c->n_heads, c->head_dim, e));
    K(yt_kc_rope_forward(g->kc, a->k, g->rope_cos, g->rope_sin, g->pos, T, c->n_kv_heads, c->head_dim, e));
    K(attention_forward(g, a, e));
    K(yt_kc_copy(g->kc, a->x_mid, x_in, sizeof(float) * (size_t)T * C, e));
    K(proj_forward(g, a, l, YT_O, a->x_mid, a->att, 1.0f, seed, e));
    K(yt_kc_rmsnorm_forward(g->kc, a->xn2, a->rstd2, a->x_mid, norm_w(g, l, 1), T, C, c->rms_eps, e));
    K(proj_forward(g, a, l, YT_GATE, a->g, a->xn2, 0.0f, seed, e));
    K(proj_forward(g, a, l, YT_UP, a->u, a->xn2, 0.0f, seed, e));
    K(yt_kc_swiglu_forward(g->kc, a->h, a->g, a->u, (size_t)T * F, e));
    K(yt_kc_copy(g->kc, x_out, a->x_mid, sizeof(float) * (size_t)T * C, e));
    return proj_forward(g, a, l, YT_DOWN, x_out, a->h, 1.0f, seed, e);
}

/* g->dx holds d(loss)/d(layer output) and becomes d(loss)/d(layer input). */
static int layer_backward(yt_gmodel *g, int l, gacts *a, uint64_t seed, yt_err *e)
{
    const yt_config *c = g->cfg;
    int T = g->T, C = c->hidden_size, F = c->intermediate_size;
    K(decode_layer(g, l, e));
    K(proj_backward(g, a, l, YT_DOWN, g->dh, g->dx, a->h, 0.0f, seed, e));
    K(yt_kc_swiglu_backward(g->kc, g->dg, g->du, g->dh, a->g, a->u, (size_t)T * F, e));
    K(proj_backward(g, a, l, YT_GATE, g->dtmp, g->dg, a->xn2, 0.0f, seed, e));
    K(proj_backward(g, a, l, YT_UP, g->dtmp, g->du, a->xn2, 1.0f, seed, e));
    K(yt_kc_rmsnorm_backward(g->kc, g->dx, g->dtmp, a->x_mid, norm_w(g, l, 1), a->rstd2, T, C, e));
    K(proj_backward(g, a, l, YT_O, g->datt, g->dx, a->att, 0.0f, seed, e));
    K(attention_backward(g, a, e));
    K(yt_kc_rope_backward(g->kc, g->dq, g->rope_cos, g->rope_sin, g->pos, T, c->n_heads, c->head_dim, e));
    K(yt_kc_rope_backward(g->kc, g->dk, g->rope_cos, g->rope_sin, g->pos, T, c->n_kv_heads, c->head_dim, e));
    K(proj_backward(g, a, l, YT_Q, g->dtmp, g->dq, a->xn1, 0.0f, seed, e));
    K(proj_backward(g, a, l, YT_K, g->dtmp, g->dk, a->xn1, 1.0f, seed, e));
    K(proj_backward(g, a, l, YT_V, g->dtmp, g->dv, a->xn1, 1.0f, seed, e));
    return yt_kc_rmsnorm_backward(g->kc, g->dx, g->dtmp, g->x_in[l], norm_w(g, l, 0), a->rstd1, T, C, e);
}

static gacts *acts_of(yt_gmodel *g, int l) { return &g->acts[g->o.recompute ? 0 : l]; }
static int polled_stop(yt_gmodel *g) { return g->poll && !g->eval && g->poll(g->poll_ctx); }

/* Returns 1 when the poll abandoned the pass. */
static int forward_layers(yt_gmodel *g, uint64_t seed, yt_err *e)
{
    const yt_config *c = g->cfg;
    K(yt_kc_embed_bf16(g->kc, g->x_in[0], g->embed16, g->ids, g->T, c->hidden_size, e));
    for (int l = 0; l < g->L; l++) {
        K(layer_forward(g, l, acts_of(g, l), seed, e));
        if (polled_stop(g))
            return 1;
    }
    K(yt_kc_rmsnorm_forward(g->kc, g->xn_final, g->rstd_final, g->x_in[g->L],
                            g->norms + (size_t)g->L * 2 * c->hidden_size, g->T, c->hidden_size,
                            c->rms_eps, e));
    return 0;
}

static int read_loss(yt_gmodel *g, double *loss, yt_err *e)
{
    return yt_kc_download(g->kc, loss, g->loss_dev, sizeof(double), e);
}

int yt_gmodel_forward_backward(yt_gmodel *g, uint64_t seed, yt_layer_done_fn done, void *ctx,
                               double *loss, yt_err *e)
{
    const yt_config *c = g->cfg;
    int T = g->T, C = c->hidden_size;
    *loss = NAN;
    int rc = forward_layers(g, seed, e);
    if (rc)
        return rc < 0 ? -1 : (yt_kc_sync(g->kc, e) ? -1 : 1);
    K(yt_kc_lmhead_xent(g->kc, g->loss_dev, g->dtmp, g->xn_final, g->head16, g->targets, g->weight,
                        T, C, c->vocab_size, g->xent_chunk, g->xent_ws, e));
    if (polled_stop(g))
        return yt_kc_sync(g->kc, e) ? -1 : 1;
    K(yt_kc_memset(g->kc, g->dx, 0, sizeof(float) * (size_t)T * C, e));
    K(yt_kc_rmsnorm_backward(g->kc, g->dx, g->dtmp, g->x_in[g->L],
                             g->norms + (size_t)g->L * 2 * C, g->rstd_final, T, C, e));
    for (int l = g->L - 1; l >= 0; l--) {
        gacts *a = acts_of(g, l);
        if (g->o.recompute)
            K(layer_forward(g, l, a, seed, e));
        K(layer_backward(g, l, a, seed, e));
        if ((done && done(l, ctx)) || polled_stop(g))
            return yt_kc_sync(g->kc, e) ? -1 : 1;
    }
    return read_loss(g, loss, e);
}

/* Forward without dropout or polls (evaluation, logits). */
static int forward_eval(yt_gmodel *g, yt_err *e)
{
    g->eval = 1;
    int rc = forward_layers(g, 0, e);
    g->eval = 0;
    return rc ? -1 : 0;
}

int yt_gmodel_forward_loss(yt_gmodel *g, double *loss, yt_err *e)
{
    const yt_config *c = g->cfg;
    K(forward_eval(g, e));
    K(yt_kc_lmhead_xent(g->kc, g->loss_dev, NULL, g->xn_final, g->head16, g->targets, g->weight,
                        g->T, c->hidden_size, c->vocab_size, g->xent_chunk, g->xent_ws, e));
    return read_loss(g, loss, e);
}

int yt_gmodel_logits(yt_gmodel *g, float *out, yt_err *e)
{
    const yt_config *c = g->cfg;
    K(forward_eval(g, e));
    /* Tests only: the [T, V] logits are allocated here, not at create. */
    size_t bytes = sizeof(float) * (size_t)g->T * (size_t)c->vocab_size;
    float *logits = NULL;
    K(yt_kc_malloc((void **)&logits, bytes, "logits", e));
    int rc = yt_kc_matmul_xwT_bf16(g->kc, logits, g->xn_final, g->head16, g->T, c->hidden_size,
                               c->vocab_size, 0.0f, e);
    if (rc == 0)
        rc = yt_kc_download(g->kc, out, logits, bytes, e);
    yt_kc_free(logits);
    return rc;
}
