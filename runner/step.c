/* The step verbs every backend shares: the layer buckets of the gradient
 * buffer, and the per-step bookkeeping of their sums (armed, started, failed),
 * which the backends only start and join.  The backend itself is chosen in
 * step_backend.c, above the backends, so that they may call back in here. */
#include "runner/step.h"

#include <stdio.h>
#include <string.h>

#include "runner/train_options.h"

/* Layer l's gradients are one span; the spans must tile the buffer in order
 * for per-layer sums to cover every gradient exactly once. */
static int make_buckets(yt_step *s, yt_err *e)
{
    yt_model *m = s->env.model;
    s->n_params = yt_model_n_params(m);
    s->n_layers = yt_model_config(m)->n_layers;
    s->span_begin = yt_alloc(sizeof(size_t) * (size_t)s->n_layers, "layer spans", e);
    s->span_end = yt_alloc(sizeof(size_t) * (size_t)s->n_layers, "layer spans", e);
    if (!s->span_begin || !s->span_end)
        return -1;
    size_t next = 0;
    for (int l = 0; l < s->n_layers; l++) {
        yt_model_layer_span(m, l, &s->span_begin[l], &s->span_end[l]);
        if (s->span_end[l] == s->span_begin[l])
            continue;
        next = s->span_begin[l] == next ? s->span_end[l] : (size_t)-1;
    }
    s->bucketed = next == s->n_params; /* each backend also asks for world > 1 or NCCL */
    return 0;
}

int yt_step_host_micro_batch(const yt_step *s, const yt_train_opts *o)
{
    return s->ops->host_activations ? o->micro_batch : 0;
}

int yt_step_open(yt_step *s, const yt_step_env *env, yt_err *e)
{
    s->env = *env;
    s->rank = yt_comm_rank(env->comm);
    s->world = yt_comm_size(env->comm);
    if (make_buckets(s, e))
        return -1;
    return s->ops->open(s, e);
}

int yt_step_connect(yt_step *s, yt_err *e) { return s->ops->connect ? s->ops->connect(s, e) : 0; }

void yt_step_close(yt_step *s)
{
    if (s->ops && s->env.model)
        s->ops->close(s);
    yt_free(s->span_begin);
    yt_free(s->span_end);
    s->span_begin = s->span_end = NULL;
    s->ops = NULL;
}

int yt_step_begin(yt_step *s, yt_err *e)
{
    s->comm_at_start = yt_comm_seconds(s->env.comm);
    s->exposed_s = 0;
    s->armed = s->started = s->failed = 0;
    return s->ops->begin(s, e);
}

int yt_step_layer_done(int layer, void *step)
{
    yt_step *s = step;
    if (s->failed || !s->bucketed)
        return 0;
    if (s->armed && layer >= 0 && layer < s->n_layers && s->span_end[layer] > s->span_begin[layer]) {
        if (s->ops->sum_start(s, s->span_begin[layer], s->span_end[layer] - s->span_begin[layer],
                              &s->err)) {
            s->failed = 1;
            return 0;
        }
        s->started++;
    }
    if (s->ops->sum_progress && s->ops->sum_progress(s, &s->err))
        s->failed = 1;
    return 0;
}

int yt_step_micro_batch(yt_step *s, const yt_ds_batch *b, int last, uint64_t seed, double *loss,
                        yt_err *e)
{
    s->armed = last && s->bucketed;
    return s->ops->micro_batch(s, b, seed, loss, e);
}

int yt_step_abandon(yt_step *s, yt_err *e)
{
    s->armed = 0;
    return s->ops->sum_join(s, e);
}

int yt_step_sums_complete(const yt_step *s, yt_err *e)
{
    if (s->started == 0)
        return 0;
    int nonempty = 0;
    for (int l = 0; l < s->n_layers; l++)
        nonempty += s->span_end[l] > s->span_begin[l];
    if (s->started != nonempty)
        return yt_errf(e, "gradient all-reduce: %d of %d layers were started (the layer-done "
                          "callback did not run for every layer)",
                       s->started, nonempty);
    return 1;
}

int yt_step_reduce(yt_step *s, double *loss, double *grad_norm, yt_err *e)
{
    if (s->failed) {
        yt_err ignore;
        s->ops->sum_join(s, &ignore);
        *e = s->err;
        return -1;
    }
    return s->ops->reduce(s, loss, grad_norm, e);
}

int yt_step_update(yt_step *s, float lr, float grad_scale, yt_err *e)
{
    return s->ops->update(s, lr, grad_scale, e);
}

void yt_step_end(yt_step *s, double *comm_s, double *exposed_comm_s)
{
    if (s->ops->end) {
        s->ops->end(s, comm_s, exposed_comm_s);
        return;
    }
    *comm_s = yt_comm_seconds(s->env.comm) - s->comm_at_start;
    *exposed_comm_s = s->exposed_s;
}

void yt_step_gather_times(yt_step *s, double *gather_s, double *exposed_gather_s)
{
    *gather_s = *exposed_gather_s = 0;
    if (s->ops->gather_times)
        s->ops->gather_times(s, gather_s, exposed_gather_s);
}

int yt_step_eval(yt_step *s, const yt_ds_batch *b, double *loss, yt_err *e)
{
    return s->ops->eval(s, b, loss, e);
}

int yt_step_state_out(yt_step *s, const float **m, const float **v, yt_err *e)
{
    return s->ops->state_out(s, m, v, e);
}

void yt_step_state_buffers(yt_step *s, float **m, float **v) { s->ops->state_buffers(s, m, v); }

int yt_step_state_in(yt_step *s, yt_err *e) { return s->ops->state_in(s, e); }
