/* LoRA adapters: the parameter layout (one buffer, layer-major, A then B per
 * projection) and a projection's forward and backward with its adapter.
 * y = x W^T + s * dropout(x) A^T B^T, s = alpha/r (or alpha/sqrt(r) for rsLoRA).
 * The adapter activation is stored already scaled (xa = s*dropout(x)A^T), which
 * makes dB = dy^T xa directly. */
#include "model/model_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void yt_lora_name(char name[96], int layer, int p, int is_b)
{
    snprintf(name, 96, "layers.%d.%s.%s.lora_%c", layer, p <= YT_O ? "self_attn" : "mlp",
             yt_proj_names[p], is_b ? 'B' : 'A');
}

int yt_lora_parse_targets(const char *s, unsigned *targets, yt_err *e)
{
    unsigned t = 0;
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return yt_errf(e, "--lora-targets: value too long");
    strcpy(buf, s);
    for (char *tok = buf, *next; tok && *tok; tok = next) {
        next = strchr(tok, ',');
        if (next)
            *next++ = '\0';
        while (*tok == ' ')
            tok++;
        if (strcmp(tok, "all") == 0) {
            t = (1u << YT_NPROJ) - 1;
            continue;
        }
        int found = -1;
        for (int p = 0; p < YT_NPROJ; p++)
            if (strcmp(tok, yt_proj_short[p]) == 0 || strcmp(tok, yt_proj_names[p]) == 0)
                found = p;
        if (found < 0)
            return yt_errf(e, "--lora-targets: unknown projection '%s' (use q,k,v,o,gate,up,down)", tok);
        t |= 1u << found;
    }
    if (!t)
        return yt_errf(e, "--lora-targets: no projection given");
    *targets = t;
    return 0;
}

float yt_lora_scale(const yt_lora_config *lc)
{
    return lc->rslora ? lc->alpha / sqrtf((float)lc->rank) : lc->alpha / (float)lc->rank;
}

int yt_lora_layout(yt_model *m, yt_err *e)
{
    const yt_config *c = &m->cfg;
    int r = m->lora.rank;
    int per_layer = 0;
    for (int p = 0; p < YT_NPROJ; p++)
        per_layer += (m->lora.targets >> p) & 1;
    m->n_lt = 2 * per_layer * c->n_layers;
    m->lt = yt_alloc(sizeof(yt_lora_tensor) * (size_t)(m->n_lt ? m->n_lt : 1), "LoRA table", e);
    m->lora_index = yt_alloc(sizeof(int) * (size_t)c->n_layers * YT_NPROJ, "LoRA index", e);
    if (!m->lt || !m->lora_index)
        return -1;
    size_t off = 0;
    int i = 0;
    for (int l = 0; l < c->n_layers; l++) {
        for (int p = 0; p < YT_NPROJ; p++) {
            m->lora_index[l * YT_NPROJ + p] = -1;
            if (!((m->lora.targets >> p) & 1))
                continue;
            m->lora_index[l * YT_NPROJ + p] = i;
            for (int b = 0; b < 2; b++, i++) {
                yt_lora_tensor *t = &m->lt[i];
                yt_lora_name(t->name, l, p, b);
                t->layer = l;
                t->proj = p;
                t->is_b = b;
                t->rows = b ? m->proj_out[p] : r;
                t->cols = b ? r : m->proj_in[p];
                t->offset = off;
                off += (size_t)t->rows * (size_t)t->cols;
            }
        }
    }
    m->n_params = off;
    return 0;
}

const float *yt_lora_A(const yt_model *m, int l, int p)
{
    int i = m->lora_index[l * YT_NPROJ + p];
    return i < 0 ? NULL : m->params + m->lt[i].offset;
}

const float *yt_lora_B(const yt_model *m, int l, int p)
{
    int i = m->lora_index[l * YT_NPROJ + p];
    return i < 0 ? NULL : m->params + m->lt[i + 1].offset;
}


void yt_model_lora_init(yt_model *m, uint64_t seed)
{
    for (int i = 0; i < m->n_lt; i++) {
        const yt_lora_tensor *t = &m->lt[i];
        float *w = m->params + t->offset;
        size_t n = (size_t)t->rows * (size_t)t->cols;
        if (t->is_b) {
            memset(w, 0, n * sizeof *w);
            continue;
        }
        /* kaiming_uniform_(a=sqrt(5)) as PEFT does: bound = 1/sqrt(fan_in). */
        float bound = 1.0f / sqrtf((float)t->cols);
        uint64_t s = yt_mix64(seed ^ yt_hash64(t->name, strlen(t->name), YT_HASH_SEED));
        for (size_t j = 0; j < n; j++)
            w[j] = (2.0f * yt_u01(yt_mix64(s + j)) - 1.0f) * bound;
    }
}

void yt_proj_forward(yt_model *m, int l, int p, float *y, const float *x, float beta, uint64_t seed)
{
    int T = m->T, in = m->proj_in[p], out = m->proj_out[p], r = m->lora.rank;
    yt_base_progress(m);
    yt_k_matmul_xwT(y, x, m->lw[l].w[p], T, in, out, beta);
    const float *A = yt_lora_A(m, l, p);
    if (!A)
        return;
    yt_layer_acts *a = &m->acts[l];
    const float *xin = x;
    if (a->xd[p] && !m->eval) {
        yt_k_dropout_forward(a->xd[p], x, (size_t)T * in, m->lora.dropout, yt_lora_dropout_seed(seed, l, p));
        xin = a->xd[p];
    }
    yt_k_matmul_xwT(a->xa[p], xin, A, T, in, r, 0.0f);
    yt_k_scale(a->xa[p], m->lora_scale, (size_t)T * r);
    yt_k_matmul_xwT(y, a->xa[p], yt_lora_B(m, l, p), T, r, out, 1.0f);
}

void yt_proj_backward(yt_model *m, int l, int p, float *dx, const float *dy, const float *x,
                      float beta, uint64_t seed)
{
    int T = m->T, in = m->proj_in[p], out = m->proj_out[p], r = m->lora.rank;
    yt_base_progress(m);
    yt_k_matmul_dyW(dx, dy, m->lw[l].w[p], T, in, out, beta);
    int i = m->lora_index[l * YT_NPROJ + p];
    if (i < 0)
        return;
    yt_layer_acts *a = &m->acts[l];
    const float *A = m->params + m->lt[i].offset, *Bm = m->params + m->lt[i + 1].offset;
    float *dA = m->grads + m->lt[i].offset, *dB = m->grads + m->lt[i + 1].offset;
    yt_k_matmul_dW(dB, dy, a->xa[p], T, r, out, 1.0f, 1.0f);
    yt_k_matmul_dyW(m->dxa, dy, Bm, T, r, out, 0.0f);
    yt_k_scale(m->dxa, m->lora_scale, (size_t)T * r);
    const float *xin = a->xd[p] ? a->xd[p] : x;
    yt_k_matmul_dW(dA, m->dxa, xin, T, in, r, 1.0f, 1.0f);
    if (a->xd[p]) {
        yt_k_matmul_dyW(m->dxd, m->dxa, A, T, in, r, 0.0f);
        yt_k_dropout_backward(dx, m->dxd, (size_t)T * in, m->lora.dropout, yt_lora_dropout_seed(seed, l, p));
    } else {
        yt_k_matmul_dyW(dx, m->dxa, A, T, in, r, 1.0f);
    }
}
