/* Base weights held as units of bytes (model.h, "How the frozen base weights
 * are held"): their layout, the load that encodes each tensor into its unit
 * (keeping this process's piece only when sharded), and the working memory
 * the passes decode and gather into (model/base_pass.c). */
#include "model/model_internal.h"

#include <string.h>

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)
#define ALIGN16F(x) (((x) + 15) & ~(size_t)15) /* floats */

void yt_model_shard_range(size_t bytes, int index, int count, size_t *begin, size_t *end)
{
    size_t units = bytes / 64, n = (size_t)(count > 0 ? count : 1), i = (size_t)index;
    *begin = units * i / n * 64;
    *end = i + 1 >= n ? bytes : units * (i + 1) / n * 64;
}

int yt_model_base_units(const yt_model *m) { return m->base.mode == YT_BASE_SHARDED ? m->base.n_units : 0; }

size_t yt_model_base_unit_bytes(const yt_model *m, int unit)
{
    return unit < m->cfg.n_layers ? m->base.layer_bytes : m->base.head_bytes;
}

int yt_model_base_dtype(const yt_model *m) { return m->base.dtype; }

size_t yt_model_base_bytes(const yt_model *m)
{
    if (m->base.mode == YT_BASE_DIRECT)
        return m->converted_bytes;
    return m->base.store_bytes + (size_t)m->cfg.hidden_size * sizeof(float);
}

size_t yt_model_base_work_bytes(const yt_model *m) { return m->base.work_bytes; }

int yt_model_base_failed(const yt_model *m, yt_err *e)
{
    if (!m->base.failed)
        return 0;
    *e = m->base.err;
    return -1;
}

void yt_base_layout(const yt_config *c, int dtype, size_t part_off[YT_LAYER_PARTS],
                    size_t part_n[YT_LAYER_PARTS], size_t *layer_bytes, size_t *head_bytes)
{
    size_t C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t Q = (size_t)c->n_heads * c->head_dim, KV = (size_t)c->n_kv_heads * c->head_dim;
    size_t n[YT_LAYER_PARTS] = {C, C, Q * C, KV * C, KV * C, C * Q, F * C, F * C, C * F};
    size_t off = 0;
    for (int k = 0; k < YT_LAYER_PARTS; k++) {
        part_n[k] = n[k];
        part_off[k] = off;
        off += yt_q_bytes(k < 2 ? YT_BASE_F32 : dtype, n[k]);
    }
    *layer_bytes = ALIGN64(off);
    *head_bytes = yt_q_bytes(dtype == YT_BASE_F32 ? YT_BASE_F32 : YT_BASE_BF16, (size_t)c->vocab_size * C);
}

static void layout(yt_model *m)
{
    yt_base *b = &m->base;
    yt_base_layout(&m->cfg, b->dtype, b->part_off, b->part_n, &b->layer_bytes, &b->head_bytes);
}

static size_t unit_bytes(const yt_base *b, int L, int u) { return u < L ? b->layer_bytes : b->head_bytes; }

/* Where tensor w goes: the byte offset of its part in its unit and the dtype. */
static void part_of(const yt_base *b, const yt_wspec *w, int L, size_t *off, int *dtype)
{
    if (w->unit < L) {
        *off = b->part_off[w->part];
        *dtype = w->part < 2 ? YT_BASE_F32 : b->dtype;
    } else {
        *off = 0;
        *dtype = b->head_dtype;
    }
}

/* fp32 offsets of a layer's parts inside lscratch. */
static size_t scratch_off(const yt_base *b, int k)
{
    size_t off = 0;
    for (int j = 0; j < k; j++)
        off += ALIGN16F(b->part_n[j]);
    return off;
}

size_t yt_base_scratch_floats(const size_t part_n[YT_LAYER_PARTS])
{
    size_t off = 0;
    for (int j = 0; j < YT_LAYER_PARTS; j++)
        off += ALIGN16F(part_n[j]);
    return off;
}

/* Points m->lw[l] at fp32 parts laid out from base (a unit in f32, or lscratch). */
void yt_base_point_layer(yt_model *m, int l, const void *unit, int in_scratch)
{
    yt_base *b = &m->base;
    yt_layer_weights *w = &m->lw[l];
    const float *f = unit;
    const unsigned char *u = unit;
    const float *part[YT_LAYER_PARTS];
    for (int k = 0; k < YT_LAYER_PARTS; k++)
        part[k] = in_scratch ? f + scratch_off(b, k) : (const float *)(u + b->part_off[k]);
    w->attn_norm = part[0];
    w->mlp_norm = part[1];
    for (int p = 0; p < YT_NPROJ; p++)
        w->w[p] = part[2 + p];
}

/* Copies the bytes [off, off + n) of unit u that this process keeps. */
static void keep_bytes(yt_base *b, int u, size_t off, const void *src, size_t n)
{
    size_t lo = off > b->keep_begin[u] ? off : b->keep_begin[u];
    size_t hi = off + n < b->keep_end[u] ? off + n : b->keep_end[u];
    if (lo < hi)
        memcpy(b->store + b->store_off[u] + (lo - b->keep_begin[u]), (const unsigned char *)src + (lo - off),
               hi - lo);
}

static int alloc_work(yt_model *m, yt_err *e)
{
    yt_base *b = &m->base;
    const yt_config *c = &m->cfg;
    size_t layer_f32 = scratch_off(b, YT_LAYER_PARTS);
    b->slot_unit[0] = b->slot_unit[1] = b->hbuf_unit = b->lscratch_unit = b->in_use = -1;
    b->slot_handle[0] = b->slot_handle[1] = b->hbuf_handle = -1;
    if (b->mode == YT_BASE_SHARDED) {
        for (int s = 0; s < 2; s++)
            if (!(b->slot[s] = yt_alloc(b->layer_bytes, "gathered layer weights", e)))
                return -1;
        if (!(b->hbuf = yt_alloc(b->head_bytes, "gathered embedding / lm_head", e)))
            return -1;
        b->work_bytes += 2 * b->layer_bytes + b->head_bytes;
    }
    if (b->dtype != YT_BASE_F32) {
        if (!(b->lscratch = yt_alloc(layer_f32 * sizeof(float), "decoded layer weights", e)))
            return -1;
        b->work_bytes += layer_f32 * sizeof(float);
    }
    if (b->head_dtype != YT_BASE_F32) {
        size_t n = (size_t)c->vocab_size * (size_t)c->hidden_size;
        if (!(b->hscratch = yt_alloc(n * sizeof(float), "decoded lm_head", e)))
            return -1;
        b->work_bytes += n * sizeof(float);
    }
    return 0;
}

/* Every tensor in the weight table's order: its fp32 values (in place or
 * read into tmp), their samples into the fingerprint, their stored bytes
 * (encoded into enc unless f32) into this process's pieces. */
static int load_units(yt_model *m, yt_wspec *ws, int n, yt_err *e)
{
    yt_base *b = &m->base;
    int L = m->cfg.n_layers;
    size_t max_n = 0, max_enc = 0;
    for (int i = 0; i < n; i++) {
        size_t cnt = yt_wspec_count(&ws[i]), off;
        int dt;
        max_n = cnt > max_n ? cnt : max_n;
        if (ws[i].unit >= 0) {
            part_of(b, &ws[i], L, &off, &dt);
            if (dt != YT_BASE_F32 && yt_q_bytes(dt, cnt) > max_enc)
                max_enc = yt_q_bytes(dt, cnt);
        }
    }
    float *tmp = yt_alloc(max_n * sizeof(float), "base weight being loaded", e);
    unsigned char *enc = max_enc ? yt_alloc(max_enc, "base weight being encoded", e) : NULL;
    int rc = !tmp || (max_enc && !enc) ? -1 : 0;
    uint64_t h = yt_config_hash(&m->cfg);
    for (int i = 0; rc == 0 && i < n; i++) {
        yt_wspec *w = &ws[i];
        size_t cnt = yt_wspec_count(w), off;
        const float *v = yt_weights_view(m, w->name);
        if (!v) {
            if (yt_weights_read(m, w->name, tmp, cnt, e)) {
                rc = -1;
                break;
            }
            v = tmp;
        }
        if (yt_weights_check_finite(m, w->name, v, cnt, e)) {
            rc = -1;
            break;
        }
        h = yt_weights_sample_hash(h, w->name, v, cnt);
        if (w->unit < 0) {
            memcpy(b->final_norm, v, cnt * sizeof(float));
            continue;
        }
        int dt;
        part_of(b, w, L, &off, &dt);
        if (dt == YT_BASE_F32) {
            keep_bytes(b, w->unit, off, v, cnt * sizeof(float));
        } else {
            if (yt_q_encode(dt, enc, v, cnt, e)) {
                rc = -1;
                break;
            }
            keep_bytes(b, w->unit, off, enc, yt_q_bytes(dt, cnt));
        }
    }
    if (rc == 0 && b->dtype != YT_BASE_F32) {
        const char *name = yt_base_dtype_name(b->dtype);
        h = yt_hash64(name, strlen(name), h);
    }
    m->fingerprint = h;
    yt_free(tmp);
    yt_free(enc);
    return rc;
}

int yt_base_open(yt_model *m, const yt_model_base_opts *o, yt_err *e)
{
    yt_base *b = &m->base;
    const yt_config *c = &m->cfg;
    int L = c->n_layers;
    if (o->dtype < 0 || o->dtype >= YT_BASE_NDTYPES)
        return yt_errf(e, "--base-dtype: unknown dtype %d", o->dtype);
    int count = o->shard && o->shard_count > 1 ? o->shard_count : 1;
    if (o->shard && (o->shard_index < 0 || o->shard_index >= count))
        return yt_errf(e, "--shard-base: piece %d of %d", o->shard_index, count);
    b->dtype = o->dtype;
    b->head_dtype = o->dtype == YT_BASE_F32 ? YT_BASE_F32 : YT_BASE_BF16;
    b->shard_count = count;
    b->shard_index = count > 1 ? o->shard_index : 0;
    b->mode = count > 1 ? YT_BASE_SHARDED : YT_BASE_STORED;
    yt_wspec *ws = NULL;
    int n = 0;
    m->lw = yt_alloc(sizeof(yt_layer_weights) * (size_t)L, "layer weights", e);
    if (!m->lw || yt_weights_table(m, &ws, &n, e)) {
        yt_free(ws);
        return -1;
    }
    int have_head = 0;
    for (int i = 0; i < n; i++)
        have_head |= ws[i].unit == L + 1;
    b->embed_unit = L;
    b->head_unit = have_head ? L + 1 : L;
    b->n_units = have_head ? L + 2 : L + 1;
    layout(m);
    b->keep_begin = yt_alloc(sizeof(size_t) * (size_t)b->n_units, "base units", e);
    b->keep_end = yt_alloc(sizeof(size_t) * (size_t)b->n_units, "base units", e);
    b->store_off = yt_alloc(sizeof(size_t) * (size_t)b->n_units, "base units", e);
    b->final_norm = yt_alloc(sizeof(float) * (size_t)c->hidden_size, "final norm", e);
    int rc = b->keep_begin && b->keep_end && b->store_off && b->final_norm ? 0 : -1;
    for (int u = 0; rc == 0 && u < b->n_units; u++) {
        yt_model_shard_range(unit_bytes(b, L, u), b->shard_index, count, &b->keep_begin[u], &b->keep_end[u]);
        b->store_off[u] = b->store_bytes;
        b->store_bytes += b->keep_end[u] - b->keep_begin[u];
    }
    if (rc == 0 && !(b->store = yt_alloc(b->store_bytes, "base weights", e)))
        rc = -1;
    if (rc == 0)
        rc = load_units(m, ws, n, e);
    yt_free(ws);
    if (rc)
        return -1;
    /* Everything is in store now: the files are not read again. */
    if (m->st)
        yt_st_close(m->st);
    yt_gg_close(m->gg);
    m->st = NULL;
    m->gg = NULL;
    m->final_norm = b->final_norm;
    /* Without a micro-batch (a GPU model computes) nothing is decoded here. */
    if (m->T > 0 && alloc_work(m, e))
        return -1;
    if (b->mode == YT_BASE_STORED) {
        /* Whole units in memory: what is fp32 is used where it lies. */
        if (b->dtype == YT_BASE_F32)
            for (int l = 0; l < L; l++)
                yt_base_point_layer(m, l, b->store + b->store_off[l], 0);
        if (b->head_dtype == YT_BASE_F32) {
            m->embed = (const float *)(b->store + b->store_off[b->embed_unit]);
            m->lm_head = (const float *)(b->store + b->store_off[b->head_unit]);
        }
    }
    return 0;
}
