/* The CPU step backend: the host model (OpenBLAS + OpenMP), gradient sums
 * over MPI -- each layer's asynchronous all-reduce started from the backward
 * pass of the step's last micro-batch, progressed between layers, waited for
 * before the optimizer -- or, with --zero 1, a reduce-scatter, AdamW on this
 * rank's shard and an all-gather of the parameters (optim/zero.c).
 * With --shard-base over N > 1 ranks it is also the model's base-weight source
 * (model.h): each unit's pieces all-gathered over the rank group of N, started
 * by the model one unit ahead and progressed between its products. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "runner/step.h"

typedef struct cpu_step {
    yt_comm_reqs *reqs;
    int zero;
    yt_zero z;
    float *m_full, *v_full;  /* --zero 1, rank 0: full moments for snapshots */
    yt_comm_group *group;    /* --shard-base: the ranks sharing one copy of the base */
    size_t *counts;          /* [group size] pieces of the unit being gathered */
    double inflight0, waited0; /* the group's times at begin */
} cpu_step;

/* ---- the model's base-weight source (--shard-base) ---- */

static int src_start(int unit, const void *mine, void *all, size_t bytes, void *ctx, yt_err *e)
{
    cpu_step *c = ctx;
    int n = yt_comm_group_size(c->group);
    for (int r = 0; r < n; r++) {
        size_t b, end;
        yt_model_shard_range(bytes, r, n, &b, &end);
        c->counts[r] = end - b;
    }
    int h = yt_comm_group_iallgatherv(c->group, mine, all, c->counts, e);
    return h < 0 ? yt_err_prefix(e, "gathering base-weight unit %d", unit) : h;
}

static int src_wait(int handle, void *ctx, yt_err *e)
{
    cpu_step *c = ctx;
    return yt_comm_group_wait(c->group, handle, e);
}

/* Errors surface at the wait. */
static void src_progress(void *ctx)
{
    cpu_step *c = ctx;
    yt_err ignore;
    yt_comm_group_test(c->group, &ignore);
}

/* Collective: the group of --shard-group ranks (all by default), when the
 * model holds pieces of its base. */
static int cpu_connect(yt_step *s, yt_err *e)
{
    cpu_step *c = s->impl;
    const yt_train_opts *o = s->env.o;
    int n = o->shard_group > 0 ? o->shard_group : s->world;
    if (!o->shard_base || n == 1)
        return 0;
    if (yt_model_base_units(s->env.model) == 0)
        return yt_errf(e, "--shard-base: the model holds its whole base (opened without pieces)");
    c->counts = yt_alloc(sizeof(size_t) * (size_t)n, "gather counts", e);
    if (!c->counts || yt_comm_group_create(s->env.comm, n, 4, &c->group, e))
        return -1;
    yt_model_base_source src = {.start = src_start, .wait = src_wait, .progress = src_progress, .ctx = c};
    yt_model_set_base_source(s->env.model, &src);
    return 0;
}

static void cpu_gather_times(yt_step *s, double *gather_s, double *exposed_gather_s)
{
    cpu_step *c = s->impl;
    *gather_s = *exposed_gather_s = 0;
    if (!c->group)
        return;
    double in, w;
    yt_comm_group_times(c->group, &in, &w);
    *gather_s = in - c->inflight0;
    *exposed_gather_s = w - c->waited0;
}

static int cpu_open(yt_step *s, yt_err *e)
{
    cpu_step *c = yt_alloc(sizeof *c, "CPU step state", e);
    if (!c)
        return -1;
    s->impl = c;
    c->zero = s->env.o->zero != 0;
    /* With --zero 1 the sum is a reduce-scatter after backward. */
    s->bucketed = s->bucketed && s->world > 1 && !c->zero;
    if (yt_comm_reqs_create(s->env.comm, s->n_layers, &c->reqs, e))
        return -1;
    size_t keep = s->n_params;
    if (c->zero) {
        if (yt_zero_init(&c->z, s->env.comm, s->n_params, e))
            return -1;
        keep = c->z.count;
        if (s->rank == 0) {
            c->m_full = yt_alloc(s->n_params * sizeof(float), "full AdamW moments (snapshots)", e);
            c->v_full = yt_alloc(s->n_params * sizeof(float), "full AdamW moments (snapshots)", e);
            if (!c->m_full || !c->v_full)
                return -1;
        }
    }
    if (yt_adamw_init(s->env.adam, keep, e))
        return -1;
    return 0;
}

static void cpu_close(yt_step *s)
{
    cpu_step *c = s->impl;
    if (!c)
        return;
    if (c->group) {
        yt_model_set_base_source(s->env.model, NULL); /* nothing in flight */
        yt_comm_group_free(c->group);
    }
    yt_free(c->counts);
    if (c->reqs)
        yt_comm_reqs_free(c->reqs);
    if (c->zero)
        yt_zero_free(&c->z);
    yt_free(c->m_full);
    yt_free(c->v_full);
    yt_free(c);
    s->impl = NULL;
}

static int cpu_begin(yt_step *s, yt_err *e)
{
    (void)e;
    cpu_step *c = s->impl;
    if (c->group)
        yt_comm_group_times(c->group, &c->inflight0, &c->waited0);
    memset(yt_model_grads(s->env.model), 0, s->n_params * sizeof(float));
    return 0;
}

static int cpu_micro_batch(yt_step *s, const yt_ds_batch *b, uint64_t seed, double *loss, yt_err *e)
{
    yt_model *m = s->env.model;
    if (b->doc_ids)
        yt_model_set_docs(m, b->doc_ids, b->positions);
    *loss = yt_model_forward_backward(m, b->inputs, b->targets, b->weights, seed, yt_step_layer_done, s);
    return yt_model_base_failed(m, e);
}

static int cpu_sum_start(yt_step *s, size_t begin, size_t n, yt_err *e)
{
    cpu_step *c = s->impl;
    return yt_comm_iallreduce_f32(c->reqs, yt_model_grads(s->env.model) + begin, n, e);
}

/* No progress thread in MPI: let the sums in flight move while backward goes on. */
static int cpu_sum_progress(yt_step *s, yt_err *e)
{
    cpu_step *c = s->impl;
    return yt_comm_reqs_pending(c->reqs) ? yt_comm_reqs_test(c->reqs, NULL, e) : 0;
}

static int cpu_sum_join(yt_step *s, yt_err *e)
{
    cpu_step *c = s->impl;
    return yt_comm_reqs_wait(c->reqs, e);
}

static int cpu_reduce(yt_step *s, double *loss, double *grad_norm, yt_err *e)
{
    cpu_step *c = s->impl;
    float *grads = yt_model_grads(s->env.model);
    double c0 = yt_comm_seconds(s->env.comm);
    double sumsq = 0;
    if (c->zero) {
        if (yt_zero_reduce(&c->z, grads, &sumsq, e))
            return -1;
    } else {
        int all = yt_step_sums_complete(s, e);
        if (all < 0)
            return -1;
        if (all ? cpu_sum_join(s, e) : yt_comm_allreduce_f32(s->env.comm, grads, s->n_params, e))
            return -1;
        sumsq = yt_k_sumsq(grads, s->n_params);
    }
    if (yt_comm_allreduce_f64(s->env.comm, loss, 1, e))
        return -1;
    *grad_norm = sqrt(sumsq);
    s->exposed_s += yt_comm_seconds(s->env.comm) - c0;
    return 0;
}

static int cpu_update(yt_step *s, float lr, float grad_scale, yt_err *e)
{
    cpu_step *c = s->impl;
    float *p = yt_model_params(s->env.model);
    if (!c->zero) {
        yt_adamw_step(s->env.adam, s->env.oc, p, yt_model_grads(s->env.model), lr, grad_scale);
        return 0;
    }
    double c0 = yt_comm_seconds(s->env.comm);
    int rc = yt_zero_step(&c->z, s->env.adam, s->env.oc, p, lr, grad_scale, e);
    s->exposed_s += yt_comm_seconds(s->env.comm) - c0;
    return rc;
}

static int cpu_eval(yt_step *s, const yt_ds_batch *b, double *loss, yt_err *e)
{
    yt_model *m = s->env.model;
    if (b->doc_ids)
        yt_model_set_docs(m, b->doc_ids, b->positions);
    *loss = yt_model_forward_loss(m, b->inputs, b->targets, b->weights);
    return yt_model_base_failed(m, e);
}

static int cpu_state_out(yt_step *s, const float **m, const float **v, yt_err *e)
{
    cpu_step *c = s->impl;
    const yt_adamw *a = s->env.adam;
    if (!c->zero) {
        *m = a->m;
        *v = a->v;
        return 0;
    }
    if (yt_zero_gather(&c->z, a->m, c->m_full, 0, e) || yt_zero_gather(&c->z, a->v, c->v_full, 0, e))
        return -1;
    *m = c->m_full;
    *v = c->v_full;
    return 0;
}

static void cpu_state_buffers(yt_step *s, float **m, float **v)
{
    cpu_step *c = s->impl;
    *m = c->zero ? c->m_full : s->env.adam->m;
    *v = c->zero ? c->v_full : s->env.adam->v;
}

static int cpu_state_in(yt_step *s, yt_err *e)
{
    cpu_step *c = s->impl;
    yt_adamw *a = s->env.adam;
    yt_comm *comm = s->env.comm;
    size_t bytes = s->n_params * sizeof(float);
    if (yt_comm_bcast(comm, yt_model_params(s->env.model), bytes, 0, e))
        return -1;
    if (c->zero)
        return yt_zero_scatter(&c->z, c->m_full, a->m, 0, e) || yt_zero_scatter(&c->z, c->v_full, a->v, 0, e)
                   ? -1
                   : 0;
    return yt_comm_bcast(comm, a->m, bytes, 0, e) || yt_comm_bcast(comm, a->v, bytes, 0, e) ? -1 : 0;
}

const yt_step_ops yt_step_cpu_ops = {
    .device = "cpu",
    .host_activations = 1,
    .open = cpu_open,
    .connect = cpu_connect,
    .close = cpu_close,
    .begin = cpu_begin,
    .micro_batch = cpu_micro_batch,
    .sum_start = cpu_sum_start,
    .sum_progress = cpu_sum_progress,
    .sum_join = cpu_sum_join,
    .reduce = cpu_reduce,
    .update = cpu_update,
    .gather_times = cpu_gather_times,
    .eval = cpu_eval,
    .state_out = cpu_state_out,
    .state_buffers = cpu_state_buffers,
    .state_in = cpu_state_in,
};
