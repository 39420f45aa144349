/* Generation: the decoder forward of new tokens against a key/value cache.
 * The same layer as llama.c's forward (and the same kernels), with three
 * differences: a token's RoPE position continues its sequence's cache, each
 * layer appends the new tokens' rotated keys and values to the cache before
 * attending (yt_k_attention_cached), and only the last new token of each
 * sequence goes through the final norm and the lm_head.
 *   x_mid = x + o(attn(rope(q(n1)), cache + rope(k(n1)), cache + v(n1)))
 *   x_out = x_mid + down(silu(gate(n2)) * up(n2))
 * The tokens of one call may belong to several sequences (slots): a prompt
 * being read in and other sequences' next tokens share every projection's
 * GEMM.  Everything is allocated by yt_kv_open; a forward allocates nothing. */
#include "model/model_internal.h"

#include <math.h>
#include <string.h>

struct yt_kv {
    yt_model *m;
    int slots, max_len, max_tokens, use_lora;
    int *len;                    /* tokens cached per slot */
    int *seen;                   /* scratch: the call in which a slot last had a run */
    unsigned calls;
    float *kc, *vc;              /* [layers][slots * max_len][KV] */
    float *x, *xn, *rstd, *q, *k, *v, *att, *g, *u, *h, *xa, *last;
    float *rope_cos, *rope_sin;  /* [max_len, hd/2] */
    int32_t *pos, *nkeys, *row;  /* per token: position, keys seen, run index */
    int64_t *start, *crow;       /* per token: its slot's first cache row, its own row */
    float *ws;
    float *arena;
};

static size_t carve(float **p, float *base, size_t *off, size_t n)
{
    size_t n16 = (n + 15) & ~(size_t)15;
    if (base)
        *p = base + *off;
    *off += n16;
    return n16;
}

static void layout(yt_kv *kv, float *base, size_t *total)
{
    const yt_config *c = &kv->m->cfg;
    size_t T = (size_t)kv->max_tokens, C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t Q = (size_t)c->n_heads * c->head_dim, KV = (size_t)c->n_kv_heads * c->head_dim;
    size_t rows = (size_t)kv->slots * kv->max_len, r = (size_t)kv->m->lora.rank, off = 0;
    size_t half = (size_t)c->head_dim / 2;
    carve(&kv->kc, base, &off, (size_t)c->n_layers * rows * KV);
    carve(&kv->vc, base, &off, (size_t)c->n_layers * rows * KV);
    carve(&kv->x, base, &off, T * C);
    carve(&kv->xn, base, &off, T * C);
    carve(&kv->rstd, base, &off, T);
    carve(&kv->q, base, &off, T * Q);
    carve(&kv->k, base, &off, T * KV);
    carve(&kv->v, base, &off, T * KV);
    carve(&kv->att, base, &off, T * Q);
    carve(&kv->g, base, &off, T * F);
    carve(&kv->u, base, &off, T * F);
    carve(&kv->h, base, &off, T * F);
    carve(&kv->xa, base, &off, T * (r ? r : 1));
    carve(&kv->last, base, &off, (size_t)kv->slots * C);
    carve(&kv->rope_cos, base, &off, (size_t)kv->max_len * half);
    carve(&kv->rope_sin, base, &off, (size_t)kv->max_len * half);
    carve(&kv->ws, base, &off, yt_k_attention_cached_workspace(kv->max_len, yt_k_get_threads()));
    *total = off;
}

int yt_kv_open(yt_kv **out, yt_model *m, int slots, int max_len, int max_tokens, int use_lora,
               yt_err *e)
{
    *out = NULL;
    const yt_config *c = &m->cfg;
    if (!m->embed)
        return yt_errf(e, "generation needs a model with weights");
    if (slots < 1 || max_len < 1 || max_tokens < 1)
        return yt_errf(e, "generation: slots, length and tokens per call must be positive");
    if (max_len > c->max_pos)
        return yt_errf(e, "prompt + new tokens (%d) exceed the model's max_position_embeddings (%d)",
                       max_len, c->max_pos);
    if (c->head_dim / 2 > 1024)
        return yt_errf(e, "head_dim %d too large", c->head_dim);
    yt_kv *kv = yt_alloc(sizeof *kv, "generation cache", e);
    if (!kv)
        return -1;
    kv->m = m;
    kv->slots = slots;
    kv->max_len = max_len;
    kv->max_tokens = max_tokens;
    kv->use_lora = use_lora;
    size_t total = 0;
    layout(kv, NULL, &total);
    kv->arena = yt_alloc(total * sizeof(float), "key/value cache and generation buffers", e);
    kv->len = yt_alloc(sizeof(int) * (size_t)slots, "cache lengths", e);
    kv->seen = yt_alloc(sizeof(int) * (size_t)slots, "cache lengths", e);
    kv->pos = yt_alloc(sizeof(int32_t) * (size_t)max_tokens, "positions", e);
    kv->nkeys = yt_alloc(sizeof(int32_t) * (size_t)max_tokens, "key counts", e);
    kv->row = yt_alloc(sizeof(int32_t) * (size_t)max_tokens, "run index", e);
    kv->start = yt_alloc(sizeof(int64_t) * (size_t)max_tokens, "cache rows", e);
    kv->crow = yt_alloc(sizeof(int64_t) * (size_t)max_tokens, "cache rows", e);
    if (!kv->arena || !kv->len || !kv->seen || !kv->pos || !kv->nkeys || !kv->row || !kv->start || !kv->crow) {
        yt_kv_close(kv);
        return -1;
    }
    layout(kv, kv->arena, &total);
    float inv_freq[1024];
    yt_k_rope_inv_freq(inv_freq, c->head_dim, c->rope_theta, &c->rope_scaling);
    yt_k_rope_tables(kv->rope_cos, kv->rope_sin, inv_freq, max_len, c->head_dim);
    *out = kv;
    return 0;
}

void yt_kv_close(yt_kv *kv)
{
    if (!kv)
        return;
    yt_free(kv->arena);
    yt_free(kv->len);
    yt_free(kv->seen);
    yt_free(kv->pos);
    yt_free(kv->nkeys);
    yt_free(kv->row);
    yt_free(kv->start);
    yt_free(kv->crow);
    yt_free(kv);
}

void yt_kv_reset(yt_kv *kv, int slot) { kv->len[slot] = 0; }
int yt_kv_len(const yt_kv *kv, int slot) { return kv->len[slot]; }

/* y[T, out] = x W^T + beta y; one token (a lone sequence decoding) as a
 * matrix-vector product, which reads W once instead of packing it. */
static void linear(float *y, const float *x, const float *W, int T, int in, int out, float beta)
{
    if (T == 1)
        yt_k_matvec(y, x, W, in, out, beta);
    else
        yt_k_matmul_xwT(y, x, W, T, in, out, beta);
}

/* y[T, out] = x W^T (+ s x A^T B^T when the adapter is on) + beta y: lora.c's
 * order of operations, so that a token's output equals the training forward's. */
static void proj(yt_kv *kv, int l, int p, float *y, const float *x, int T, float beta)
{
    yt_model *m = kv->m;
    int in = m->proj_in[p], out = m->proj_out[p], r = m->lora.rank;
    linear(y, x, m->lw[l].w[p], T, in, out, beta);
    const float *A = kv->use_lora ? yt_lora_A(m, l, p) : NULL;
    if (!A)
        return;
    linear(kv->xa, x, A, T, in, r, 0.0f);
    yt_k_scale(kv->xa, m->lora_scale, (size_t)T * r);
    linear(y, kv->xa, yt_lora_B(m, l, p), T, r, out, 1.0f);
}

int yt_kv_forward(yt_kv *kv, const int32_t *ids, const int32_t *slot, int T, float *logits,
                  int *n_rows, yt_err *e)
{
    yt_model *m = kv->m;
    const yt_config *c = &m->cfg;
    const int C = c->hidden_size, F = c->intermediate_size, hd = c->head_dim;
    const size_t KV = (size_t)c->n_kv_heads * hd, rows = (size_t)kv->slots * kv->max_len;
    *n_rows = 0;
    if (T < 1 || T > kv->max_tokens)
        return yt_errf(e, "generation: %d tokens in one call (1 to %d)", T, kv->max_tokens);
    /* Positions continue each slot's cache; a run of equal slots is one sequence's chunk. */
    int runs = 0;
    int stamp = (int)(++kv->calls & 0x3fffffff) + 1;
    for (int t = 0; t < T; t++) {
        int s = slot[t];
        if (s < 0 || s >= kv->slots)
            return yt_errf(e, "generation: slot %d out of range", s);
        if (ids[t] < 0 || ids[t] >= c->vocab_size)
            return yt_errf(e, "generation: token id %d outside the vocabulary (%d)", ids[t],
                           c->vocab_size);
        if (t > 0 && slot[t - 1] != s)
            runs++;
        if (t == 0 || slot[t - 1] != s) {
            if (kv->seen[s] == stamp)
                return yt_errf(e, "generation: the tokens of slot %d are not consecutive", s);
            kv->seen[s] = stamp;
        }
        kv->row[t] = runs;
    }
    for (int t = 0, at = 0; t < T; t++) {
        int s = slot[t];
        at = t > 0 && slot[t - 1] == s ? at + 1 : 0;
        int p = kv->len[s] + at;
        if (p >= kv->max_len)
            return yt_errf(e, "generation: sequence %d is longer than the cache (%d tokens)", s,
                           kv->max_len);
        kv->pos[t] = p;
        kv->nkeys[t] = p + 1;
        kv->start[t] = (int64_t)s * kv->max_len;
        kv->crow[t] = kv->start[t] + p;
    }
    yt_k_embed(kv->x, m->embed, ids, T, C);
    for (int l = 0; l < c->n_layers; l++) {
        const yt_layer_weights *w = &m->lw[l];
        float *kc = kv->kc + (size_t)l * rows * KV, *vc = kv->vc + (size_t)l * rows * KV;
        yt_k_rmsnorm_forward(kv->xn, kv->rstd, kv->x, w->attn_norm, T, C, c->rms_eps);
        proj(kv, l, YT_Q, kv->q, kv->xn, T, 0.0f);
        proj(kv, l, YT_K, kv->k, kv->xn, T, 0.0f);
        proj(kv, l, YT_V, kv->v, kv->xn, T, 0.0f);
        yt_k_rope_forward(kv->q, kv->rope_cos, kv->rope_sin, kv->pos, T, c->n_heads, hd);
        yt_k_rope_forward(kv->k, kv->rope_cos, kv->rope_sin, kv->pos, T, c->n_kv_heads, hd);
        for (int t = 0; t < T; t++) {
            memcpy(kc + (size_t)kv->crow[t] * KV, kv->k + (size_t)t * KV, KV * sizeof(float));
            memcpy(vc + (size_t)kv->crow[t] * KV, kv->v + (size_t)t * KV, KV * sizeof(float));
        }
        yt_k_attention_cached(kv->att, kv->q, kc, vc, kv->start, kv->nkeys, T, c->n_heads,
                              c->n_kv_heads, hd, kv->max_len, kv->ws);
        proj(kv, l, YT_O, kv->x, kv->att, T, 1.0f); /* x is now x_mid */
        yt_k_rmsnorm_forward(kv->xn, kv->rstd, kv->x, w->mlp_norm, T, C, c->rms_eps);
        proj(kv, l, YT_GATE, kv->g, kv->xn, T, 0.0f);
        proj(kv, l, YT_UP, kv->u, kv->xn, T, 0.0f);
        yt_k_swiglu_forward(kv->h, kv->g, kv->u, (size_t)T * F);
        proj(kv, l, YT_DOWN, kv->x, kv->h, T, 1.0f);
    }
    /* The last token of each run through the final norm and the lm_head. */
    int n = 0;
    for (int t = 0; t < T; t++)
        if (t + 1 == T || kv->row[t + 1] != kv->row[t])
            memcpy(kv->last + (size_t)n++ * C, kv->x + (size_t)t * C, sizeof(float) * (size_t)C);
    yt_k_rmsnorm_forward(kv->xn, kv->rstd, kv->last, m->final_norm, n, C, c->rms_eps);
    linear(logits, kv->xn, m->lm_head, n, C, c->vocab_size, 0.0f);
    for (int t = 0; t < T; t++)
        if (t + 1 == T || slot[t + 1] != slot[t])
            kv->len[slot[t]] = kv->pos[t] + 1;
    *n_rows = n;
    return 0;
}
