/* Data-parallel gradient reduction: per-layer asynchronous all-reduce started
 * from the backward pass, or reduce-scatter + sharded AdamW + all-gather
 * (--zero 1); communication timing; optimizer state for snapshots. */
#include "runner/ddp.h"

#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

int yt_ddp_init(yt_ddp *d, yt_comm *c, yt_model *m, int zero, yt_err *e)
{
    d->comm = c;
    d->rank = yt_comm_rank(c);
    d->world = yt_comm_size(c);
    d->zero = zero != 0;
    d->model = m;
    d->grads = yt_model_grads(m);
    d->n_params = yt_model_n_params(m);
    d->n_layers = yt_model_config(m)->n_layers;
    d->span_begin = yt_alloc(sizeof(size_t) * (size_t)d->n_layers, "layer spans", e);
    d->span_end = yt_alloc(sizeof(size_t) * (size_t)d->n_layers, "layer spans", e);
    if (!d->span_begin || !d->span_end)
        return -1;
    /* Buckets are the layers' spans; they must tile the buffer in order so that
     * starting every non-empty one sums every gradient exactly once. */
    size_t next = 0;
    for (int l = 0; l < d->n_layers; l++) {
        yt_model_layer_span(m, l, &d->span_begin[l], &d->span_end[l]);
        if (d->span_end[l] == d->span_begin[l])
            continue;
        if (d->span_begin[l] != next)
            next = (size_t)-1;
        else
            next = d->span_end[l];
    }
    d->bucketed = !d->zero && d->world > 1 && next == d->n_params;
    if (yt_comm_reqs_create(c, d->n_layers, &d->reqs, e))
        return -1;
    if (d->zero) {
        if (yt_zero_init(&d->z, c, d->n_params, e))
            return -1;
        if (d->rank == 0) {
            d->m_full = yt_alloc(d->n_params * sizeof(float), "full AdamW moments (snapshots)", e);
            d->v_full = yt_alloc(d->n_params * sizeof(float), "full AdamW moments (snapshots)", e);
            if (!d->m_full || !d->v_full)
                return -1;
        }
    }
    return 0;
}

void yt_ddp_free(yt_ddp *d)
{
    if (d->reqs)
        yt_comm_reqs_free(d->reqs);
    d->reqs = NULL;
    if (d->zero)
        yt_zero_free(&d->z);
    yt_free(d->span_begin);
    yt_free(d->span_end);
    yt_free(d->m_full);
    yt_free(d->v_full);
    yt_free(d->ranks);
    d->span_begin = d->span_end = NULL;
    d->m_full = d->v_full = NULL;
    d->ranks = NULL;
}

size_t yt_ddp_optim_size(const yt_ddp *d) { return d->zero ? d->z.count : d->n_params; }

void yt_ddp_step_begin(yt_ddp *d)
{
    d->comm_at_start = yt_comm_seconds(d->comm);
    d->comm_s = d->exposed_s = 0;
    d->armed = 0;
    d->started = 0;
    d->failed = 0;
}

void yt_ddp_micro_batch(yt_ddp *d, int last) { d->armed = last && d->bucketed; }

void yt_ddp_layer_done(yt_ddp *d, int layer)
{
    if (d->failed || !d->bucketed)
        return;
    if (d->armed && layer >= 0 && layer < d->n_layers && d->span_end[layer] > d->span_begin[layer]) {
        if (yt_comm_iallreduce_f32(d->reqs, d->grads + d->span_begin[layer],
                                   d->span_end[layer] - d->span_begin[layer], &d->err)) {
            d->failed = 1;
            return;
        }
        d->started++;
    }
    /* No progress thread: let the sums in flight move while backward goes on. */
    if (yt_comm_reqs_pending(d->reqs) && yt_comm_reqs_test(d->reqs, NULL, &d->err))
        d->failed = 1;
}

int yt_ddp_abandon(yt_ddp *d, yt_err *e)
{
    d->armed = 0;
    return yt_comm_reqs_wait(d->reqs, e);
}

static int nonempty_layers(const yt_ddp *d)
{
    int n = 0;
    for (int l = 0; l < d->n_layers; l++)
        n += d->span_end[l] > d->span_begin[l];
    return n;
}

int yt_ddp_reduce(yt_ddp *d, double *loss, double *grad_norm, yt_err *e)
{
    double c0 = yt_comm_seconds(d->comm);
    double sumsq = 0;
    if (d->failed) {
        yt_err ignore;
        yt_comm_reqs_wait(d->reqs, &ignore);
        *e = d->err;
        return -1;
    }
    if (d->zero) {
        if (yt_zero_reduce(&d->z, d->grads, &sumsq, e))
            return -1;
    } else {
        if (d->started > 0) {
            if (yt_comm_reqs_wait(d->reqs, e))
                return -1;
            if (d->started != nonempty_layers(d))
                return yt_errf(e, "gradient all-reduce: %d of %d layers were started (the layer-done "
                                  "callback did not run for every layer)",
                               d->started, nonempty_layers(d));
        } else if (yt_comm_allreduce_f32(d->comm, d->grads, d->n_params, e)) {
            return -1;
        }
        sumsq = yt_k_sumsq(d->grads, d->n_params);
    }
    if (yt_comm_allreduce_f64(d->comm, loss, 1, e))
        return -1;
    *grad_norm = sqrt(sumsq);
    d->exposed_s += yt_comm_seconds(d->comm) - c0;
    return 0;
}

int yt_ddp_update(yt_ddp *d, yt_adamw *a, const yt_optim_config *oc, float lr, float grad_scale,
                  yt_err *e)
{
    float *p = yt_model_params(d->model);
    if (!d->zero) {
        yt_adamw_step(a, oc, p, d->grads, lr, grad_scale);
        return 0;
    }
    double c0 = yt_comm_seconds(d->comm);
    int rc = yt_zero_step(&d->z, a, oc, p, lr, grad_scale, e);
    d->exposed_s += yt_comm_seconds(d->comm) - c0;
    return rc;
}

void yt_ddp_step_end(yt_ddp *d, double *comm_s, double *exposed_comm_s)
{
    d->comm_s = yt_comm_seconds(d->comm) - d->comm_at_start;
    *comm_s = d->comm_s;
    *exposed_comm_s = d->exposed_s;
}

/* ---- optimizer state for snapshots ---- */

int yt_ddp_optim_gather(yt_ddp *d, const yt_adamw *a, const float **m, const float **v, yt_err *e)
{
    if (!d->zero) {
        *m = a->m;
        *v = a->v;
        return 0;
    }
    if (yt_zero_gather(&d->z, a->m, d->m_full, 0, e) || yt_zero_gather(&d->z, a->v, d->v_full, 0, e))
        return -1;
    *m = d->m_full;
    *v = d->v_full;
    return 0;
}

void yt_ddp_optim_full(yt_ddp *d, yt_adamw *a, float **m, float **v)
{
    *m = d->zero ? d->m_full : a->m;
    *v = d->zero ? d->v_full : a->v;
}

int yt_ddp_optim_scatter(yt_ddp *d, yt_adamw *a, yt_err *e)
{
    if (d->zero)
        return yt_zero_scatter(&d->z, d->m_full, a->m, 0, e) || yt_zero_scatter(&d->z, d->v_full, a->v, 0, e)
                   ? -1
                   : 0;
    return yt_comm_bcast(d->comm, a->m, d->n_params * sizeof(float), 0, e) ||
                   yt_comm_bcast(d->comm, a->v, d->n_params * sizeof(float), 0, e)
               ? -1
               : 0;
}
