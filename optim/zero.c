/* Optimizer-state sharding: reduce-scatter, AdamW on the own shard, all-gather. */
#include "optim/optim.h"

#include "kernels/kernels.h"

void yt_zero_shard(size_t n, int world, int rank, size_t *begin, size_t *count)
{
    size_t w = (size_t)(world > 0 ? world : 1), r = (size_t)rank;
    size_t base = n / w, extra = n % w;
    *count = base + (r < extra ? 1 : 0);
    *begin = r * base + (r < extra ? r : extra);
}

int yt_zero_init(yt_zero *z, yt_comm *c, size_t n, yt_err *e)
{
    z->comm = c;
    z->n = n;
    z->rank = yt_comm_rank(c);
    z->world = yt_comm_size(c);
    z->counts = yt_alloc(sizeof(size_t) * (size_t)z->world, "shard sizes", e);
    if (!z->counts)
        return -1;
    for (int r = 0; r < z->world; r++) {
        size_t b;
        yt_zero_shard(n, z->world, r, &b, &z->counts[r]);
    }
    yt_zero_shard(n, z->world, z->rank, &z->begin, &z->count);
    z->gshard = yt_alloc((z->count ? z->count : 1) * sizeof(float), "gradient shard", e);
    if (!z->gshard) {
        yt_zero_free(z);
        return -1;
    }
    return 0;
}

void yt_zero_free(yt_zero *z)
{
    yt_free(z->counts);
    yt_free(z->gshard);
    z->counts = NULL;
    z->gshard = NULL;
}

int yt_zero_reduce(yt_zero *z, const float *grads, double *sumsq, yt_err *e)
{
    if (yt_comm_reduce_scatter_f32(z->comm, grads, z->gshard, z->counts, e))
        return -1;
    double s = yt_k_sumsq(z->gshard, z->count);
    if (yt_comm_allreduce_f64(z->comm, &s, 1, e))
        return -1;
    *sumsq = s;
    return 0;
}

int yt_zero_step(yt_zero *z, yt_adamw *a, const yt_optim_config *c, float *p, float lr,
                 float grad_scale, yt_err *e)
{
    if (a->n != z->count)
        return yt_errf(e, "sharded AdamW: state for %zu parameters, shard holds %zu", a->n, z->count);
    yt_adamw_step(a, c, p + z->begin, z->gshard, lr, grad_scale);
    return yt_comm_allgather_f32(z->comm, p, z->counts, e);
}

int yt_zero_gather(yt_zero *z, const float *shard, float *full, int root, yt_err *e)
{
    return yt_comm_gather_f32(z->comm, shard, full, z->counts, root, e);
}

int yt_zero_scatter(yt_zero *z, const float *full, float *shard, int root, yt_err *e)
{
    return yt_comm_scatter_f32(z->comm, full, shard, z->counts, root, e);
}
