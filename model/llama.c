/* The Llama model: setup of all buffers for one micro-batch shape, and the
 * forward and backward passes over the decoder layers.
 *   x_mid = x_in + o(attn(rope(q(n1)), rope(k(n1)), v(n1)))   n1 = rmsnorm(x_in)
 *   x_out = x_mid + down(silu(gate(n2)) * up(n2))             n2 = rmsnorm(x_mid)
 *   loss  = cross_entropy(lm_head(rmsnorm(x_final)))          fused, in chunks */
#include "model/model_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int yt_model_load_weights(yt_model *m, yt_err *e);

const yt_config *yt_model_config(const yt_model *m) { return &m->cfg; }
const yt_lora_config *yt_model_lora_config(const yt_model *m) { return &m->lora; }
uint64_t yt_model_fingerprint(const yt_model *m) { return m->fingerprint; }
size_t yt_model_converted_bytes(const yt_model *m) { return m->converted_bytes; }
int yt_model_converted_filled(const yt_model *m) { return m->converted_filled; }
float *yt_model_params(yt_model *m) { return m->params; }
float *yt_model_grads(yt_model *m) { return m->grads; }
size_t yt_model_n_params(const yt_model *m) { return m->n_params; }
int yt_model_n_lora_tensors(const yt_model *m) { return m->n_lt; }
const yt_lora_tensor *yt_model_lora_tensor(const yt_model *m, int i) { return &m->lt[i]; }

void yt_model_layer_span(const yt_model *m, int l, size_t *begin, size_t *end)
{
    *begin = *end = 0;
    for (int p = 0; p < YT_NPROJ; p++) {
        int i = m->lora_index[l * YT_NPROJ + p];
        if (i < 0)
            continue;
        if (*end == 0)
            *begin = m->lt[i].offset;
        *end = m->lt[i + 1].offset + (size_t)m->lt[i + 1].rows * (size_t)m->lt[i + 1].cols;
    }
}

/* Carves every per-step buffer out of one arena: sizes first, then pointers. */
static size_t carve(float **p, float *base, size_t *off, size_t n)
{
    size_t n64 = (n + 15) & ~(size_t)15;
    if (base)
        *p = base + *off;
    *off += n64;
    return n64;
}

static void layout_buffers(yt_model *m, float *base, size_t *total)
{
    const yt_config *c = &m->cfg;
    size_t T = (size_t)m->T, C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t Q = (size_t)c->n_heads * c->head_dim, KV = (size_t)c->n_kv_heads * c->head_dim;
    size_t r = (size_t)m->lora.rank, off = 0, max_in = C > F ? C : F;
    if (Q > max_in)
        max_in = Q;
    float *dummy;
#define CARVE_M(field, n) carve(base ? &m->field : &dummy, base, &off, (n))
    if (m->T == 0) { /* weights and LoRA parameters only (a GPU model computes) */
        CARVE_M(params, m->n_params);
        CARVE_M(grads, m->n_params);
        *total = off;
        return;
    }
    for (int l = 0; l < c->n_layers; l++) {
        yt_layer_acts *a = base ? &m->acts[l] : NULL;
#define CARVE(field, n) carve(a ? &a->field : &dummy, base, &off, (n))
        CARVE(x_in, T * C);
        CARVE(xn1, T * C);
        CARVE(rstd1, T);
        CARVE(q, T * Q);
        CARVE(k, T * KV);
        CARVE(v, T * KV);
        CARVE(att, T * Q);
        CARVE(lse, (size_t)m->B * c->n_heads * m->S);
        CARVE(x_mid, T * C);
        CARVE(xn2, T * C);
        CARVE(rstd2, T);
        CARVE(g, T * F);
        CARVE(u, T * F);
        CARVE(h, T * F);
        for (int p = 0; p < YT_NPROJ; p++) {
            if (!((m->lora.targets >> p) & 1))
                continue;
            CARVE(xa[p], T * r);
            if (m->lora.dropout > 0)
                CARVE(xd[p], T * (size_t)m->proj_in[p]);
        }
#undef CARVE
    }
    CARVE_M(x_final, T * C);
    CARVE_M(xn_final, T * C);
    CARVE_M(rstd_final, T);
    CARVE_M(rope_cos, (size_t)m->S * c->head_dim / 2);
    CARVE_M(rope_sin, (size_t)m->S * c->head_dim / 2);
    CARVE_M(dx, T * C);
    CARVE_M(dtmp, T * C);
    CARVE_M(dq, T * Q);
    CARVE_M(dk, T * KV);
    CARVE_M(dv, T * KV);
    CARVE_M(datt, T * Q);
    CARVE_M(dg, T * F);
    CARVE_M(du, T * F);
    CARVE_M(dh, T * F);
    CARVE_M(dxa, T * (r ? r : 1));
    CARVE_M(dxd, T * max_in);
    CARVE_M(ws_attn, yt_k_attention_workspace(m->S, yt_k_get_threads()));
    CARVE_M(ws_xent, yt_k_lmhead_xent_workspace(m->xent_chunk, c->vocab_size));
    CARVE_M(params, m->n_params);
    CARVE_M(grads, m->n_params);
#undef CARVE_M
    *total = off;
}

void yt_lora_proj_dims(const yt_config *c, int p, int *in, int *out)
{
    int C = c->hidden_size, F = c->intermediate_size;
    int Q = c->n_heads * c->head_dim, KV = c->n_kv_heads * c->head_dim;
    const int ins[YT_NPROJ] = {C, C, C, Q, C, C, F}, outs[YT_NPROJ] = {Q, KV, KV, C, F, F, C};
    *in = ins[p];
    *out = outs[p];
}

static void set_proj_shapes(yt_model *m)
{
    for (int p = 0; p < YT_NPROJ; p++)
        yt_lora_proj_dims(&m->cfg, p, &m->proj_in[p], &m->proj_out[p]);
}

static int model_finish(yt_model *m, const char *dir, yt_err *e);

int yt_model_open(yt_model **out, const char *dir, const yt_lora_config *lc, int micro_batch,
                  int seq_len, yt_err *e)
{
    return yt_model_open_ex(out, dir, lc, micro_batch, seq_len, NULL, e);
}

int yt_model_open_ex(yt_model **out, const char *dir, const yt_lora_config *lc, int micro_batch,
                     int seq_len, const yt_model_alloc *alloc, yt_err *e)
{
    return yt_model_open_base(out, dir, lc, micro_batch, seq_len, alloc, NULL, e);
}

int yt_model_open_base(yt_model **out, const char *dir, const yt_lora_config *lc, int micro_batch,
                       int seq_len, const yt_model_alloc *alloc, const yt_model_base_opts *bo,
                       yt_err *e)
{
    *out = NULL;
    if (lc->rank <= 0)
        return yt_errf(e, "--lora-rank must be positive (got %d)", lc->rank);
    if (!(lc->dropout >= 0 && lc->dropout < 1))
        return yt_errf(e, "--lora-dropout must be in [0, 1) (got %g)", (double)lc->dropout);
    if (micro_batch < 0 || seq_len <= 0)
        return yt_errf(e, "micro-batch and seq-len must be positive");
    yt_model *m = yt_alloc(sizeof *m, "model", e);
    if (!m)
        return -1;
    m->alloc = alloc;
    snprintf(m->source, sizeof m->source, "%s", dir);
    int gguf = yt_gg_llama_probe(dir, e);
    if (gguf < 0)
        goto fail;
    if (gguf ? yt_gg_open(&m->gg, dir, e) || yt_gg_llama_config(m->gg, &m->cfg, e)
             : yt_config_load(&m->cfg, dir, e))
        goto fail;
    const yt_config *c = &m->cfg;
    if (seq_len > c->max_pos) {
        yt_errf(e, "--seq-len %d exceeds the model's max_position_embeddings (%d)", seq_len, c->max_pos);
        goto fail;
    }
    m->lora = *lc;
    m->lora_scale = yt_lora_scale(lc);
    m->B = micro_batch;
    m->S = seq_len;
    m->T = micro_batch * seq_len;
    set_proj_shapes(m);
    /* Tokens per lm_head chunk: each chunk repacks the whole lm_head inside
     * sgemm, so chunks must be large enough to amortise that (measured on
     * bench-small: 256 tokens ~15% faster per step than 64); 32 MB of logits. */
    m->xent_chunk = (int)(8u * 1024 * 1024 / (unsigned)c->vocab_size);
    if (m->xent_chunk < 32)
        m->xent_chunk = 32;
    if (m->xent_chunk > m->T)
        m->xent_chunk = m->T;
    if (!m->gg && yt_st_open(&m->st, dir, e) != 0)
        goto fail;
    if (bo && (bo->shard || bo->dtype != YT_BASE_F32) ? yt_base_open(m, bo, e) != 0
                                                      : yt_model_load_weights(m, e) != 0)
        goto fail;
    if (model_finish(m, dir, e) != 0)
        goto fail;
    *out = m;
    return 0;
fail:
    yt_model_close(m);
    return -1;
}

int yt_model_open_config(yt_model **out, const yt_config *cfg, const yt_lora_config *lc, yt_err *e)
{
    *out = NULL;
    if (yt_config_validate(cfg, "config", e))
        return -1;
    if (lc->rank <= 0)
        return yt_errf(e, "--lora-rank must be positive (got %d)", lc->rank);
    yt_model *m = yt_alloc(sizeof *m, "model", e);
    if (!m)
        return -1;
    m->cfg = *cfg;
    m->lora = *lc;
    m->lora_scale = yt_lora_scale(lc);
    set_proj_shapes(m);
    m->fingerprint = yt_config_hash(cfg);
    if (model_finish(m, "config", e) != 0) {
        yt_model_close(m);
        return -1;
    }
    *out = m;
    return 0;
}

/* The LoRA layout and every buffer; rope tables and positions when T > 0. */
static int model_finish(yt_model *m, const char *dir, yt_err *e)
{
    const yt_config *c = &m->cfg;
    if (yt_lora_layout(m, e) != 0)
        return -1;
    m->acts = yt_alloc(sizeof(yt_layer_acts) * (size_t)c->n_layers, "activations", e);
    m->pos = yt_alloc(sizeof(int32_t) * (size_t)m->T, "positions", e);
    m->doc = yt_alloc(sizeof(int32_t) * (size_t)m->T, "document ids", e);
    if (!m->acts || !m->pos || !m->doc)
        return -1;
    size_t total = 0;
    layout_buffers(m, NULL, &total);
    m->arena_bytes = total * sizeof(float);
    m->arena = yt_alloc(total * sizeof(float), "activations and gradients", e);
    if (!m->arena)
        return -1;
    layout_buffers(m, m->arena, &total);
    if (m->T == 0)
        return 0;
    float inv_freq[1024];
    if (c->head_dim / 2 > 1024)
        return yt_errf(e, "%s: head_dim %d too large", dir, c->head_dim);
    yt_k_rope_inv_freq(inv_freq, c->head_dim, c->rope_theta, &c->rope_scaling);
    yt_k_rope_tables(m->rope_cos, m->rope_sin, inv_freq, m->S, c->head_dim);
    for (int t = 0; t < m->T; t++)
        m->pos[t] = t % m->S;
    return 0;
}

void yt_model_close(yt_model *m)
{
    if (!m)
        return;
    yt_base_close(m);
    if (m->st)
        yt_st_close(m->st);
    yt_gg_close(m->gg);
    if (!m->alloc)
        yt_free(m->converted);
    yt_free(m->lw);
    yt_free(m->lt);
    yt_free(m->lora_index);
    yt_free(m->acts);
    yt_free(m->pos);
    yt_free(m->doc);
    yt_free(m->arena);
    yt_free(m);
}

void yt_model_set_poll(yt_model *m, yt_poll_fn poll, void *ctx)
{
    m->poll = poll;
    m->poll_ctx = ctx;
}

void yt_model_set_docs(yt_model *m, const int32_t *doc, const int32_t *pos)
{
    m->use_doc = doc != NULL;
    if (doc)
        memcpy(m->doc, doc, sizeof(int32_t) * (size_t)m->T);
    yt_model_positions(m->pos, pos, m->T, m->S);
}

void yt_model_positions(int32_t *out, const int32_t *pos, int T, int S)
{
    for (int t = 0; t < T; t++) {
        int s = t % S;
        int32_t p = pos ? pos[t] : s;
        out[t] = p >= 0 && p <= s ? p : s; /* a position past the row's start cannot be */
    }
}

static int polled_stop(yt_model *m) { return m->poll && !m->eval && m->poll(m->poll_ctx); }

/* Decoder layers forward; leaves the final hidden state in x_final.  Returns
 * -1 when the poll abandoned the pass. */
static int forward_layers(yt_model *m, const int32_t *inputs, uint64_t seed)
{
    const yt_config *c = &m->cfg;
    int T = m->T, C = c->hidden_size, F = c->intermediate_size, L = c->n_layers;
    yt_base_prefetch(m, 0);
    if (yt_base_embed(m, m->acts[0].x_in, inputs))
        return -1;
    for (int l = 0; l < L; l++) {
        yt_layer_acts *a = &m->acts[l];
        const yt_layer_weights *w = &m->lw[l];
        if (yt_base_layer(m, l, l + 1 < L ? l + 1 : m->base.head_unit))
            return -1;
        float *x_out = l + 1 < c->n_layers ? m->acts[l + 1].x_in : m->x_final;
        yt_k_rmsnorm_forward(a->xn1, a->rstd1, a->x_in, w->attn_norm, T, C, c->rms_eps);
        yt_proj_forward(m, l, YT_Q, a->q, a->xn1, 0.0f, seed);
        yt_proj_forward(m, l, YT_K, a->k, a->xn1, 0.0f, seed);
        yt_proj_forward(m, l, YT_V, a->v, a->xn1, 0.0f, seed);
        yt_k_rope_forward(a->q, m->rope_cos, m->rope_sin, m->pos, T, c->n_heads, c->head_dim);
        yt_k_rope_forward(a->k, m->rope_cos, m->rope_sin, m->pos, T, c->n_kv_heads, c->head_dim);
        yt_k_attention_forward(a->att, a->lse, a->q, a->k, a->v, m->use_doc ? m->doc : NULL, m->B,
                               m->S, c->n_heads, c->n_kv_heads, c->head_dim, m->ws_attn);
        memcpy(a->x_mid, a->x_in, sizeof(float) * (size_t)T * C);
        yt_proj_forward(m, l, YT_O, a->x_mid, a->att, 1.0f, seed);
        yt_k_rmsnorm_forward(a->xn2, a->rstd2, a->x_mid, w->mlp_norm, T, C, c->rms_eps);
        yt_proj_forward(m, l, YT_GATE, a->g, a->xn2, 0.0f, seed);
        yt_proj_forward(m, l, YT_UP, a->u, a->xn2, 0.0f, seed);
        yt_k_swiglu_forward(a->h, a->g, a->u, (size_t)T * F);
        memcpy(x_out, a->x_mid, sizeof(float) * (size_t)T * C);
        yt_proj_forward(m, l, YT_DOWN, x_out, a->h, 1.0f, seed);
        if (polled_stop(m))
            return -1;
    }
    yt_k_rmsnorm_forward(m->xn_final, m->rstd_final, m->x_final, m->final_norm, T, C, c->rms_eps);
    return 0;
}

static int backward_layers(yt_model *m, uint64_t seed, yt_layer_done_fn done, void *ctx)
{
    const yt_config *c = &m->cfg;
    int T = m->T, C = c->hidden_size, F = c->intermediate_size;
    /* m->dtmp holds d(loss)/d(xn_final). */
    memset(m->dx, 0, sizeof(float) * (size_t)T * C);
    yt_k_rmsnorm_backward(m->dx, m->dtmp, m->x_final, m->final_norm, m->rstd_final, T, C);
    for (int l = c->n_layers - 1; l >= 0; l--) {
        yt_layer_acts *a = &m->acts[l];
        const yt_layer_weights *w = &m->lw[l];
        if (yt_base_layer(m, l, l - 1))
            return -1;
        /* MLP block: dx is d(x_out), which is also d(x_mid) through the residual. */
        yt_proj_backward(m, l, YT_DOWN, m->dh, m->dx, a->h, 0.0f, seed);
        yt_k_swiglu_backward(m->dg, m->du, m->dh, a->g, a->u, (size_t)T * F);
        yt_proj_backward(m, l, YT_GATE, m->dtmp, m->dg, a->xn2, 0.0f, seed);
        yt_proj_backward(m, l, YT_UP, m->dtmp, m->du, a->xn2, 1.0f, seed);
        yt_k_rmsnorm_backward(m->dx, m->dtmp, a->x_mid, w->mlp_norm, a->rstd2, T, C);
        /* Attention block. */
        yt_proj_backward(m, l, YT_O, m->datt, m->dx, a->att, 0.0f, seed);
        yt_k_attention_backward(m->dq, m->dk, m->dv, m->datt, a->q, a->k, a->v, a->att, a->lse,
                                m->use_doc ? m->doc : NULL,
                                m->B, m->S, c->n_heads, c->n_kv_heads, c->head_dim, m->ws_attn);
        yt_k_rope_backward(m->dq, m->rope_cos, m->rope_sin, m->pos, T, c->n_heads, c->head_dim);
        yt_k_rope_backward(m->dk, m->rope_cos, m->rope_sin, m->pos, T, c->n_kv_heads, c->head_dim);
        yt_proj_backward(m, l, YT_Q, m->dtmp, m->dq, a->xn1, 0.0f, seed);
        yt_proj_backward(m, l, YT_K, m->dtmp, m->dk, a->xn1, 1.0f, seed);
        yt_proj_backward(m, l, YT_V, m->dtmp, m->dv, a->xn1, 1.0f, seed);
        yt_k_rmsnorm_backward(m->dx, m->dtmp, a->x_in, w->attn_norm, a->rstd1, T, C);
        if ((done && done(l, ctx)) || polled_stop(m))
            return -1;
    }
    return 0;
}

/* The end of a pass that was given up (abandoned, or a gather failed):
 * nothing stays in flight. */
static double given_up(yt_model *m)
{
    yt_base_drain(m);
    return NAN;
}

double yt_model_forward_backward(yt_model *m, const int32_t *inputs, const int32_t *targets,
                                 const float *weight, uint64_t seed, yt_layer_done_fn done, void *ctx)
{
    const yt_config *c = &m->cfg;
    if (forward_layers(m, inputs, seed))
        return given_up(m);
    const float *head = yt_base_head(m);
    if (!head)
        return given_up(m);
    /* The lm_head pass is the longest stretch without a layer boundary (a
     * third of the step's FLOPs): it is cut into chunk-sized calls with a poll
     * between them, so a deadline can stop it too. */
    double loss = 0;
    size_t C = (size_t)c->hidden_size;
    for (int t0 = 0; t0 < m->T; t0 += m->xent_chunk) {
        int n = m->T - t0 < m->xent_chunk ? m->T - t0 : m->xent_chunk;
        loss += yt_k_lmhead_xent(m->dtmp + (size_t)t0 * C, m->xn_final + (size_t)t0 * C, head,
                                 targets + t0, weight + t0, n, c->hidden_size, c->vocab_size,
                                 m->xent_chunk, m->ws_xent);
        if (polled_stop(m))
            return given_up(m);
    }
    /* The next pass's embedding comes in while backward runs. */
    yt_base_prefetch(m, m->base.embed_unit);
    if (backward_layers(m, seed, done, ctx))
        return given_up(m);
    return loss;
}

/* Forward without dropout (evaluation, logits): the lm_head in fp32, or
 * NULL when a gather failed. */
static const float *forward_eval(yt_model *m, const int32_t *inputs)
{
    m->eval = 1;
    int rc = forward_layers(m, inputs, 0);
    m->eval = 0;
    const float *head = rc ? NULL : yt_base_head(m);
    if (!head)
        yt_base_drain(m);
    return head;
}

double yt_model_forward_loss(yt_model *m, const int32_t *inputs, const int32_t *targets,
                             const float *weight)
{
    const float *head = forward_eval(m, inputs);
    if (!head)
        return NAN;
    double loss = yt_k_lmhead_xent(NULL, m->xn_final, head, targets, weight, m->T, m->cfg.hidden_size,
                                   m->cfg.vocab_size, m->xent_chunk, m->ws_xent);
    yt_base_prefetch(m, m->base.embed_unit);
    return loss;
}

void yt_model_logits(yt_model *m, const int32_t *inputs, float *out)
{
    const float *head = forward_eval(m, inputs);
    if (head)
        yt_k_matmul_xwT(out, m->xn_final, head, m->T, m->cfg.hidden_size, m->cfg.vocab_size, 0.0f);
}
