/* The base weights during a pass: a sharded base gathers each layer unit into
 * one of two slots (the next layer's gather started before the current layer
 * computes), the embedding and lm_head into one more buffer; a layer stored in
 * another dtype than f32 is decoded into the fp32 scratch right before its
 * products.  A slot is never overwritten while its gather is in flight (it is
 * waited for first) nor while its layer computes (`in_use`).  The source
 * that gathers (set here) and the end of the base live here too, so that the
 * load (model/base.c) never reaches into a pass. */
#include "model/model_internal.h"

#include <string.h>

static int failed(yt_base *b) { return b->failed; }

/* Starts gathering unit u into dst; the handle, or -1 after a failure. */
static int start(yt_model *m, int u, unsigned char *dst)
{
    yt_base *b = &m->base;
    if (b->failed)
        return -1;
    size_t bytes = yt_model_base_unit_bytes(m, u);
    int h = b->src.start ? b->src.start(u, b->store + b->store_off[u], dst, bytes, b->src.ctx, &b->err)
                         : yt_errf(&b->err, "sharded base weights: no source to gather unit %d from", u);
    if (h < 0)
        b->failed = 1;
    return h;
}

static void finish(yt_model *m, int *handle)
{
    yt_base *b = &m->base;
    if (*handle < 0)
        return;
    if (!b->failed && b->src.wait(*handle, b->src.ctx, &b->err))
        b->failed = 1;
    *handle = -1;
}

void yt_base_drain(yt_model *m)
{
    yt_base *b = &m->base;
    if (b->mode != YT_BASE_SHARDED)
        return;
    for (int s = 0; s < 2; s++)
        finish(m, &b->slot_handle[s]);
    finish(m, &b->hbuf_handle);
}

void yt_base_progress_slow(yt_model *m)
{
    yt_base *b = &m->base;
    if (b->src.progress && !b->failed)
        b->src.progress(b->src.ctx);
}

/* Layer unit u is in a slot or on its way there; `protect`'s slot is kept. */
static int ensure_layer(yt_model *m, int u, int protect)
{
    yt_base *b = &m->base;
    for (int s = 0; s < 2; s++)
        if (b->slot_unit[s] == u)
            return s;
    int keep0 = b->slot_unit[0] == protect || b->slot_unit[0] == b->in_use;
    int keep1 = b->slot_unit[1] == protect || b->slot_unit[1] == b->in_use;
    int s = b->slot_unit[0] < 0 ? 0 : b->slot_unit[1] < 0 ? 1 : keep0 && !keep1 ? 1 : 0;
    finish(m, &b->slot_handle[s]);
    b->slot_unit[s] = u;
    b->slot_handle[s] = start(m, u, b->slot[s]);
    return s;
}

static void ensure_head(yt_model *m, int u)
{
    yt_base *b = &m->base;
    if (b->hbuf_unit == u)
        return;
    finish(m, &b->hbuf_handle);
    b->hbuf_unit = u;
    b->hbuf_handle = start(m, u, b->hbuf);
}

void yt_base_prefetch(yt_model *m, int unit)
{
    yt_base *b = &m->base;
    if (b->mode != YT_BASE_SHARDED || unit < 0 || b->failed)
        return;
    if (unit < m->cfg.n_layers)
        ensure_layer(m, unit, -1);
    else
        ensure_head(m, unit);
}

/* Decodes a whole layer unit into lscratch (norms copied as they are). */
static void decode_layer(yt_model *m, int l, const unsigned char *unit)
{
    yt_base *b = &m->base;
    if (b->lscratch_unit != l) {
        float *dst = b->lscratch;
        for (int k = 0; k < YT_LAYER_PARTS; k++) {
            yt_q_decode(k < 2 ? YT_BASE_F32 : b->dtype, dst, unit + b->part_off[k], b->part_n[k]);
            dst += (b->part_n[k] + 15) & ~(size_t)15;
        }
        b->lscratch_unit = l;
    }
    yt_base_point_layer(m, l, b->lscratch, 1);
}

int yt_base_layer_slow(yt_model *m, int l, int next)
{
    yt_base *b = &m->base;
    if (b->mode == YT_BASE_STORED) {
        if (b->dtype != YT_BASE_F32)
            decode_layer(m, l, b->store + b->store_off[l]);
        return 0;
    }
    b->in_use = -1; /* the layer before is done */
    int s = ensure_layer(m, l, next);
    if (next >= 0 && next < m->cfg.n_layers)
        ensure_layer(m, next, l);
    else if (next >= 0)
        ensure_head(m, next);
    finish(m, &b->slot_handle[s]);
    if (failed(b))
        return -1;
    b->in_use = l;
    if (b->dtype == YT_BASE_F32)
        yt_base_point_layer(m, l, b->slot[s], 0);
    else
        decode_layer(m, l, b->slot[s]);
    return 0;
}

/* The embedding or lm_head unit whole: in store, or gathered into hbuf. */
static const unsigned char *head_unit(yt_model *m, int u)
{
    yt_base *b = &m->base;
    if (b->mode == YT_BASE_STORED)
        return b->store + b->store_off[u];
    ensure_head(m, u);
    finish(m, &b->hbuf_handle);
    return failed(b) ? NULL : b->hbuf;
}

int yt_base_embed(yt_model *m, float *x, const int32_t *ids)
{
    yt_base *b = &m->base;
    int T = m->T, C = m->cfg.hidden_size;
    if (b->mode == YT_BASE_DIRECT || (b->mode == YT_BASE_STORED && b->head_dtype == YT_BASE_F32)) {
        yt_k_embed(x, m->embed, ids, T, C);
        return 0;
    }
    const unsigned char *u = head_unit(m, b->embed_unit);
    if (!u)
        return -1;
    if (b->head_dtype == YT_BASE_F32) {
        yt_k_embed(x, (const float *)u, ids, T, C);
        return 0;
    }
    const uint16_t *e16 = (const uint16_t *)u;
    for (int t = 0; t < T; t++)
        yt_q_decode(YT_BASE_BF16, x + (size_t)t * C, e16 + (size_t)ids[t] * C, (size_t)C);
    return 0;
}

const float *yt_base_head(yt_model *m)
{
    yt_base *b = &m->base;
    if (b->mode == YT_BASE_DIRECT || (b->mode == YT_BASE_STORED && b->head_dtype == YT_BASE_F32))
        return m->lm_head;
    const unsigned char *u = head_unit(m, b->head_unit);
    if (!u)
        return NULL;
    if (b->head_dtype == YT_BASE_F32)
        return (const float *)u;
    yt_q_decode(b->head_dtype, b->hscratch, u, (size_t)m->cfg.vocab_size * (size_t)m->cfg.hidden_size);
    return b->hscratch;
}

void yt_model_set_base_source(yt_model *m, const yt_model_base_source *src)
{
    yt_base_drain(m); /* nothing in flight through the old one */
    if (src)
        m->base.src = *src;
    else
        memset(&m->base.src, 0, sizeof m->base.src);
}

/* The end of the base: nothing in flight, then every buffer (the load's and
 * the passes'). */
void yt_base_close(yt_model *m)
{
    yt_base *b = &m->base;
    if (b->mode == YT_BASE_DIRECT)
        return;
    yt_base_drain(m);
    yt_free(b->keep_begin);
    yt_free(b->keep_end);
    yt_free(b->store_off);
    yt_free(b->store);
    yt_free(b->final_norm);
    for (int s = 0; s < 2; s++)
        yt_free(b->slot[s]);
    yt_free(b->hbuf);
    yt_free(b->lscratch);
    yt_free(b->hscratch);
    memset(b, 0, sizeof *b);
}
