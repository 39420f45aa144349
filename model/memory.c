/* Memory per rank from the config and the options alone (model.h,
 * yt_model_memory): the sizes the CPU model (llama.c's layout_buffers,
 * base.c's units and working buffers) and the GPU model (llama_gpu.c's
 * layout) allocate, added up without allocating anything. */
#include "model/model_internal.h"

#include <string.h>

#define R16(n) (((n) + 15) & ~(size_t)15) /* floats, as llama.c carves */

size_t yt_lora_param_count(const yt_config *c, const yt_lora_config *lc)
{
    size_t C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t Q = (size_t)c->n_heads * c->head_dim, KV = (size_t)c->n_kv_heads * c->head_dim;
    size_t in[YT_NPROJ] = {C, C, C, Q, C, C, F}, out[YT_NPROJ] = {Q, KV, KV, C, F, F, C}, n = 0;
    for (int p = 0; p < YT_NPROJ; p++)
        if ((lc->targets >> p) & 1)
            n += (size_t)lc->rank * (in[p] + out[p]);
    return n * (size_t)c->n_layers;
}

/* The CPU model's arena without its LoRA parameters and gradients: one
 * micro-batch's activations and gradient buffers, and the two workspaces. */
static void cpu_acts(const yt_config *c, const yt_lora_config *lc, const yt_mem_opts *o, double *acts,
                     double *ws)
{
    size_t B = (size_t)o->micro_batch, S = (size_t)o->seq_len, T = B * S;
    size_t C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size, r = (size_t)lc->rank;
    size_t Q = (size_t)c->n_heads * c->head_dim, KV = (size_t)c->n_kv_heads * c->head_dim;
    size_t in[YT_NPROJ] = {C, C, C, Q, C, C, F}, max_in = C > F ? C : F;
    if (Q > max_in)
        max_in = Q;
    /* x_in, xn1, x_mid, xn2; rstd1, rstd2; q, att; k, v; lse; g, u, h */
    size_t layer = 4 * R16(T * C) + 2 * R16(T) + 2 * R16(T * Q) + 2 * R16(T * KV) +
            R16(B * (size_t)c->n_heads * S) + 3 * R16(T * F);
    for (int p = 0; p < YT_NPROJ; p++) {
        if (!((lc->targets >> p) & 1))
            continue;
        layer += R16(T * r);
        if (lc->dropout > 0)
            layer += R16(T * in[p]);
    }
    size_t chunk = (size_t)(8u * 1024 * 1024 / (unsigned)c->vocab_size);
    if (chunk < 32)
        chunk = 32;
    if (chunk > T)
        chunk = T;
    size_t rest = 2 * R16(T * C) + R16(T) + 2 * R16(S * (size_t)c->head_dim / 2) /* final, rope */
                  + 2 * R16(T * C) + 2 * R16(T * Q) + 2 * R16(T * KV) + 3 * R16(T * F) /* d* */
                  + R16(T * (r ? r : 1)) + R16(T * max_in);
    size_t work = R16(yt_k_attention_workspace((int)S, o->threads)) +
                  R16(yt_k_lmhead_xent_workspace((int)chunk, c->vocab_size));
    *acts = (double)(layer * (size_t)c->n_layers + rest) * 4.0;
    *ws = (double)work * 4.0;
}

/* The GPU model's arena (llama_gpu.c's layout, 256-byte alignment ignored),
 * the context's bf16 activation copies and the attention and loss workspaces. */
static void gpu_acts(const yt_config *c, const yt_lora_config *lc, const yt_mem_opts *o, double *acts,
                     double *ws)
{
    double B = o->micro_batch, S = o->seq_len, T = B * S, L = c->n_layers;
    double C = c->hidden_size, F = c->intermediate_size, r = lc->rank, V = c->vocab_size;
    double Q = (double)c->n_heads * c->head_dim, KV = (double)c->n_kv_heads * c->head_dim;
    double in[YT_NPROJ] = {C, C, C, Q, C, C, F}, max_in = C > F ? C : F;
    if (Q > max_in)
        max_in = Q;
    double layer = 3 * T * C + 2 * T + 2 * T * Q + 2 * T * KV + B * c->n_heads * S + 3 * T * F;
    for (int p = 0; p < YT_NPROJ; p++)
        if ((lc->targets >> p) & 1)
            layer += T * r + (lc->dropout > 0 ? T * in[p] : 0);
    double n_acts = o->recompute ? 1 : L;
    double f = (L + 1) * T * C + n_acts * layer + T * C + T /* xn_final, rstd_final */
               + 2 * T * C + 2 * T * Q + 2 * T * KV + 3 * T * F + T * r + T * max_in /* d* */
               + S * c->head_dim + T /* rope, weight */ + 4 * T /* ids, targets, pos, doc */;
    double chunk = (double)(((64u << 20) / (unsigned)c->vocab_size) & ~63u);
    if (chunk < 64)
        chunk = 64;
    if (chunk > T)
        chunk = T;
    double att = o->flash ? B * c->n_heads * S * 4 : 2.0 * c->n_heads * S * S * 4;
    double xent = chunk * C * 2 + chunk * V * 6 + T * 8;
    *acts = f * 4;
    *ws = att + xent + 2 * T * max_in /* bf16 copies of activations (the context's) */;
}

void yt_model_memory(const yt_config *c, const yt_lora_config *lc, const yt_mem_opts *o,
                     yt_mem_estimate *m)
{
    memset(m, 0, sizeof *m);
    size_t off[YT_LAYER_PARTS], n[YT_LAYER_PARTS], layer_bytes, head_bytes;
    double C = c->hidden_size, V = c->vocab_size, L = c->n_layers;
    int untied = !c->tie_embeddings, N = o->shard_count > 1 ? o->shard_count : 1;
    double heads = untied ? 2 : 1, proj = 0;
    int gpu = o->device == YT_MEM_GPU;
    int dtype = gpu ? (o->base_dtype == YT_BASE_NF4 ? YT_BASE_NF4 : YT_BASE_BF16) : o->base_dtype;
    yt_base_layout(c, dtype, off, n, &layer_bytes, &head_bytes);
    for (int k = 2; k < YT_LAYER_PARTS; k++)
        proj += (double)n[k];
    m->params = L * (proj + 2 * C) + heads * V * C + C;
    double lora = (double)yt_lora_param_count(c, lc);
    m->lora = lora * 16; /* parameters, gradients, AdamW m and v, fp32 */
    if (gpu) {
        /* bf16 matrices (nf4: the projections as stored, one layer decoded
         * to bf16 at a time), fp32 norms. */
        double projb = dtype == YT_BASE_NF4 ? 0 : proj * 2;
        if (dtype == YT_BASE_NF4)
            for (int k = 2; k < YT_LAYER_PARTS; k++)
                projb += (double)yt_q_bytes(YT_BASE_NF4, n[k]);
        m->base = L * projb + heads * V * C * 2 + (2 * L + 1) * C * 4;
        gpu_acts(c, lc, o, &m->activations, &m->workspace);
        if (dtype == YT_BASE_NF4)
            m->workspace += proj * 2;
    } else if (!o->sharded && o->base_dtype == YT_BASE_F32) {
        m->base = m->params * 4; /* in place in the mmap, or the converted copy */
        cpu_acts(c, lc, o, &m->activations, &m->workspace);
    } else {
        /* Units, 1/N of each (the largest piece), plus the final norm. */
        size_t b, e, lb = 0, hb = 0;
        yt_model_shard_range(layer_bytes, 0, N, &b, &e);
        lb = e - b;
        yt_model_shard_range(head_bytes, 0, N, &b, &e);
        hb = e - b;
        m->base = L * (double)lb + heads * (double)hb + C * 4;
        cpu_acts(c, lc, o, &m->activations, &m->workspace);
        if (N > 1)
            m->workspace += 2.0 * (double)layer_bytes + (double)head_bytes;
        if (o->base_dtype != YT_BASE_F32)
            m->workspace += (double)yt_base_scratch_floats(n) * 4 + V * C * 4;
    }
    m->total = m->base + m->lora + m->activations + m->workspace;
    m->base_per_param = m->params > 0 ? m->base / m->params : 0;
}

double yt_model_memory_fits(const yt_mem_estimate *m, double avail)
{
    double left = avail - m->lora - m->activations - m->workspace;
    return left > 0 && m->base_per_param > 0 ? left / m->base_per_param : 0;
}
