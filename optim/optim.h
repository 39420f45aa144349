/* optim/: AdamW over a flat parameter buffer (on the CPU, and on a GPU in CUDA
 * builds), learning-rate schedules, global-norm clipping, optimizer-state
 * sharding across ranks (ZeRO stage 1).  A new optimizer goes here, with a
 * host and a device update.  Knows nothing of models or files: it sees float
 * spans (and the communicator for sharding).
 * Gradient accumulation is the caller summing micro-batch gradients (with the
 * loss already weighted by 1/global-token-count) before one yt_adamw_step. */
#ifndef YT_OPTIM_H
#define YT_OPTIM_H

#include <stddef.h>

#include "collectives/collectives.h"
#include "common/common.h"

enum { YT_SCHED_CONSTANT = 0, YT_SCHED_COSINE = 1 };

typedef struct yt_optim_config {
    float lr;
    float beta1, beta2, eps;
    float weight_decay;
    float clip;          /* max global grad norm; 0 = no clipping */
    int schedule;        /* YT_SCHED_* */
    long warmup;         /* steps of linear warmup */
    long total_steps;    /* for the cosine decay */
    float min_lr_ratio;  /* cosine floor as a fraction of lr */
} yt_optim_config;

/* Learning rate of optimizer step `step` (0-based): linear warmup
 * lr*(step+1)/warmup for step < warmup, then constant or cosine decay to
 * lr*min_lr_ratio at total_steps. */
float yt_lr_at(const yt_optim_config *c, long step);

/* Factor that scales gradients so their global norm is at most clip. */
float yt_clip_factor(double grad_norm, float clip);

typedef struct yt_adamw {
    float *m, *v;   /* moments for the span this rank updates */
    size_t n;
    long t;         /* steps taken (bias correction) */
} yt_adamw;

int yt_adamw_init(yt_adamw *a, size_t n, yt_err *e);
void yt_adamw_free(yt_adamw *a);
/* Counts one more step and gives its bias corrections 1 - beta^t (for a
 * caller that runs the update elsewhere, e.g. on a GPU). */
void yt_adamw_next(yt_adamw *a, const yt_optim_config *c, float *bc1, float *bc2);
/* One update of p[0..n) from g[0..n) times grad_scale. */
void yt_adamw_step(yt_adamw *a, const yt_optim_config *c, float *p, const float *g, float lr,
                   float grad_scale);

/* ---- AdamW on a GPU (optim/adamw_cuda.c, CUDA builds only) ----
 * The moments live in device memory; the step count and bias corrections are
 * the host yt_adamw's, whose m and v are the host copies snapshots read
 * (download before a snapshot, upload after a resume).  p and g are device
 * buffers of n floats; the update is queued on the context's stream. */
struct yt_kc_ctx;
typedef struct yt_adamw_cuda {
    struct yt_kc_ctx *kc;
    float *m, *v;   /* device */
    size_t n;
} yt_adamw_cuda;

int yt_adamw_cuda_init(yt_adamw_cuda *d, struct yt_kc_ctx *kc, size_t n, yt_err *e);
void yt_adamw_cuda_free(yt_adamw_cuda *d);
int yt_adamw_cuda_step(yt_adamw_cuda *d, yt_adamw *a, const yt_optim_config *c, float *p,
                       const float *g, float lr, float grad_scale, yt_err *e);
int yt_adamw_cuda_download(const yt_adamw_cuda *d, yt_adamw *a, yt_err *e);
int yt_adamw_cuda_upload(yt_adamw_cuda *d, const yt_adamw *a, yt_err *e);

/* ---- optimizer-state sharding (ZeRO stage 1) ----
 * The n parameters are cut into `world` consecutive shards whose sizes differ
 * by at most one (the first n % world shards hold one more).  Each rank keeps
 * AdamW moments for its own shard only: the summed gradients are
 * reduce-scattered, each rank updates its shard, and the parameters are
 * all-gathered.  The result equals the unsharded update up to the order of
 * floating-point sums.  All calls but yt_zero_shard are collective. */
void yt_zero_shard(size_t n, int world, int rank, size_t *begin, size_t *count);

typedef struct yt_zero {
    yt_comm *comm;
    size_t n;
    int rank, world;
    size_t *counts;        /* [world] shard sizes */
    size_t begin, count;   /* this rank's shard */
    float *gshard;         /* [count] this rank's piece of the summed gradients */
} yt_zero;

/* Allocates the shard table and gradient piece; the caller's yt_adamw holds
 * z->count moments (yt_adamw_init(&a, z->count)). */
int yt_zero_init(yt_zero *z, yt_comm *c, size_t n, yt_err *e);
void yt_zero_free(yt_zero *z);
/* Sums grads[0..n) over ranks into z->gshard; *sumsq gets the sum of squares of
 * the whole summed gradient (every rank's shard, all-reduced). */
int yt_zero_reduce(yt_zero *z, const float *grads, double *sumsq, yt_err *e);
/* AdamW on this rank's shard of p[0..n) with z->gshard (a->n == z->count), then
 * every rank receives every shard of p. */
int yt_zero_step(yt_zero *z, yt_adamw *a, const yt_optim_config *c, float *p, float lr,
                 float grad_scale, yt_err *e);
/* Shard state <-> one full-size copy on root (snapshots): full is read or
 * written on root only. */
int yt_zero_gather(yt_zero *z, const float *shard, float *full, int root, yt_err *e);
int yt_zero_scatter(yt_zero *z, const float *full, float *shard, int root, yt_err *e);

#endif
