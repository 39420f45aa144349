/* Base weights: names, expected shapes, and the choice between using an F32
 * tensor in place in the mmap and converting BF16/F16 (or a GGUF's quantised
 * types) once into our own buffer.  Tensors are named as Hugging Face names
 * them whatever the file; the w_* helpers find them in safetensors or GGUF. */
#include "model/model_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The projections as Hugging Face names them, and their --lora-targets short
 * names (model.h). */
const char *const yt_proj_names[YT_NPROJ] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                             "gate_proj", "up_proj", "down_proj"};
const char *const yt_proj_short[YT_NPROJ] = {"q", "k", "v", "o", "gate", "up", "down"};

/* Fingerprint from shapes and a strided sample of each tensor's values: cheap
 * even for 8B models, and any real change of the weights changes it. */
uint64_t yt_weights_sample_hash(uint64_t h, const char *name, const float *w, size_t n)
{
    h = yt_hash64(name, strlen(name), h);
    h = yt_hash64(&n, sizeof n, h);
    size_t step = n > 4096 ? n / 4096 : 1;
    for (size_t i = 0; i < n; i += step)
        h = yt_hash64(&w[i], sizeof w[i], h);
    return h;
}

int yt_weights_check_finite(const yt_model *m, const char *name, const float *w, size_t n, yt_err *e)
{
    /* Exponent bits all set: Inf or NaN.  An OR over the bits vectorises; the
     * index is looked up only for a damaged tensor. */
    const uint32_t *u = (const uint32_t *)(const void *)w;
    uint32_t any = 0;
#pragma omp parallel for reduction(| : any) schedule(static) if (n > (1u << 20))
    for (size_t i = 0; i < n; i++)
        any |= (u[i] & 0x7f800000u) == 0x7f800000u;
    if (!any)
        return 0;
    size_t i = 0;
    while (isfinite(w[i]))
        i++;
    return yt_errf(e, "%s: base weight '%s': element %zu of %zu is %s: the model file is damaged "
                      "(or was saved in a type too narrow for its values)",
                   m->source, name, i, n, isnan(w[i]) ? "NaN" : w[i] > 0 ? "+Inf" : "-Inf");
}

int yt_weights_has(const yt_model *m, const char *name)
{
    return m->gg ? yt_gg_llama_find(m->gg, name) != NULL : yt_st_find(m->st, name) != NULL;
}

static int w_expect(const yt_model *m, const char *name, int ndim, const int64_t *shape, yt_err *e)
{
    return m->gg ? yt_gg_llama_expect(m->gg, name, ndim, shape, e)
                 : yt_st_expect_shape(m->st, name, ndim, shape, e);
}

const float *yt_weights_view(const yt_model *m, const char *name)
{
    return m->gg ? yt_gg_llama_f32_view(m->gg, &m->cfg, name) : yt_st_f32_view(m->st, name);
}

int yt_weights_read(const yt_model *m, const char *name, float *dst, size_t n, yt_err *e)
{
    return m->gg ? yt_gg_llama_read_f32(m->gg, &m->cfg, name, dst, n, e)
                 : yt_st_read_f32(m->st, name, dst, n, e);
}

size_t yt_wspec_count(const yt_wspec *w)
{
    return (size_t)w->shape[0] * (size_t)(w->ndim == 2 ? w->shape[1] : 1);
}

int yt_weights_table(yt_model *m, yt_wspec **out, int *count, yt_err *e)
{
    const yt_config *c = &m->cfg;
    int nw = 3 + 9 * c->n_layers, L = c->n_layers;
    yt_wspec *ws = yt_alloc(sizeof(yt_wspec) * (size_t)nw, "weight table", e);
    *out = ws;
    if (!ws)
        return -1;
    int n = 0;
#define SPEC(ptr, u, pt, nd, d0, d1, ...)                                                           \
    do {                                                                                           \
        snprintf(ws[n].name, sizeof ws[n].name, __VA_ARGS__);                                       \
        ws[n].dst = (ptr);                                                                         \
        ws[n].unit = (u);                                                                          \
        ws[n].part = (pt);                                                                         \
        ws[n].ndim = (nd);                                                                         \
        ws[n].shape[0] = (d0);                                                                     \
        ws[n].shape[1] = (d1);                                                                     \
        n++;                                                                                       \
    } while (0)
    SPEC(&m->embed, L, 0, 2, c->vocab_size, c->hidden_size, "model.embed_tokens.weight");
    SPEC(&m->final_norm, -1, 0, 1, c->hidden_size, 0, "model.norm.weight");
    int have_head = yt_weights_has(m, "lm_head.weight");
    if (!c->tie_embeddings || have_head)
        SPEC(&m->lm_head, L + 1, 0, 2, c->vocab_size, c->hidden_size, "lm_head.weight");
    for (int l = 0; l < L; l++) {
        yt_layer_weights *lw = &m->lw[l];
        SPEC(&lw->attn_norm, l, 0, 1, c->hidden_size, 0, "model.layers.%d.input_layernorm.weight", l);
        SPEC(&lw->mlp_norm, l, 1, 1, c->hidden_size, 0, "model.layers.%d.post_attention_layernorm.weight", l);
        for (int p = 0; p < YT_NPROJ; p++)
            SPEC(&lw->w[p], l, 2 + p, 2, m->proj_out[p], m->proj_in[p], "model.layers.%d.%s.%s.weight",
                 l, p <= YT_O ? "self_attn" : "mlp", yt_proj_names[p]);
    }
#undef SPEC
    *count = n;
    /* Every shape checked before anything is allocated or read. */
    for (int i = 0; i < n; i++)
        if (w_expect(m, ws[i].name, ws[i].ndim, ws[i].shape, e) != 0)
            return -1;
    return 0;
}

int yt_model_load_weights(yt_model *m, yt_err *e)
{
    const yt_config *c = &m->cfg;
    yt_wspec *ws = NULL;
    int n = 0;
    m->lw = yt_alloc(sizeof(yt_layer_weights) * (size_t)c->n_layers, "layer weights", e);
    if (!m->lw || yt_weights_table(m, &ws, &n, e)) {
        yt_free(ws);
        return -1;
    }
    /* Count what needs converting. */
    size_t convert = 0;
    for (int i = 0; i < n; i++)
        if (!yt_weights_view(m, ws[i].name))
            convert += yt_wspec_count(&ws[i]);
    if (m->alloc) {
        void *mem = NULL;
        int fill = 0;
        if (m->alloc->alloc(convert * sizeof(float), &mem, &fill, m->alloc->ctx, e) != 0) {
            yt_free(ws);
            return -1;
        }
        if (convert && !mem) {
            yt_free(ws);
            return yt_errf(e, "no memory for %zu bytes of converted base weights", convert * sizeof(float));
        }
        m->converted = mem;
        m->converted_filled = fill;
    } else if (convert) {
        m->converted = yt_alloc(convert * sizeof(float), "converted base weights", e);
        if (!m->converted) {
            yt_free(ws);
            return -1;
        }
        m->converted_filled = 1;
    }
    m->converted_bytes = convert * sizeof(float);
    /* Pass 2: point at the mmap or at the converted copy, converting it here
     * when this process fills it. */
    size_t off = 0;
    int ok = 1;
    for (int i = 0; i < n; i++) {
        size_t cnt = yt_wspec_count(&ws[i]);
        const float *v = yt_weights_view(m, ws[i].name);
        int check = v != NULL; /* a converted copy is checked by the process that fills it */
        if (!v) {
            float *dst = m->converted + off;
            if (m->converted_filled && yt_weights_read(m, ws[i].name, dst, cnt, e) != 0) {
                ok = 0;
                break;
            }
            off += cnt;
            v = dst;
            check = m->converted_filled;
        }
        if (check && yt_weights_check_finite(m, ws[i].name, v, cnt, e) != 0) {
            ok = 0;
            break;
        }
        *ws[i].dst = v;
    }
    /* Others may be filling the copy we use: wait for them (and they for us).
     * Our own failure keeps its message. */
    if (m->alloc) {
        yt_err others;
        if (m->alloc->barrier(ok, m->alloc->ctx, ok ? e : &others) != 0)
            ok = 0;
    }
    if (!ok) {
        yt_free(ws);
        return -1;
    }
    uint64_t h = yt_config_hash(c);
    for (int i = 0; i < n; i++) {
        h = yt_weights_sample_hash(h, ws[i].name, *ws[i].dst, yt_wspec_count(&ws[i]));
    }
    if (!m->lm_head)
        m->lm_head = m->embed;
    m->fingerprint = h;
    yt_free(ws);
    return 0;
}
