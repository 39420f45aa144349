/* runner/ddp: data-parallel training across ranks, as the training loop sees it.
 *  - Gradient reduction: each layer's LoRA gradients (one span of the gradient
 *    buffer) start their asynchronous all-reduce as soon as the backward pass
 *    finished that layer in the LAST micro-batch of the step (earlier
 *    micro-batches only accumulate); the started sums progress between layers
 *    and are waited for before the optimizer.  With --zero 1 the gradients are
 *    reduce-scattered instead, each rank updates its shard with its shard of the
 *    AdamW moments, and the parameters are all-gathered (optim/zero.c).
 *  - Timing: comm_s (time inside collectives this step) and exposed_comm_s
 *    (communication after the backward pass finished, not hidden by compute).
 *  - Setup across ranks: one converted copy of BF16/F16 base weights per node
 *    (shared memory), the check that every rank runs the same configuration,
 *    model and data, resident memory per rank, and threads per rank.
 * Internal to runner/; every function named collective must be called by every
 * rank in the same order. */
#ifndef YT_DDP_H
#define YT_DDP_H

#include <jansson.h>
#include <stddef.h>

#include "collectives/collectives.h"
#include "model/model.h"
#include "optim/optim.h"
#include "runner/options.h"

/* What one rank tells the others about itself at start (memory in KiB). */
typedef struct yt_ddp_rank_info {
    int32_t rank, local_rank, threads, cpus_allowed;
    int64_t vm_rss_kb, rss_anon_kb, rss_file_kb, rss_shmem_kb;
    int64_t converted_bytes;    /* fp32 copy of BF16/F16 base weights this rank uses */
    int32_t converted_filled;   /* this rank converted them (owns the copy or filled the shared one) */
    int32_t converted_shared;   /* the copy is node-shared memory */
    char host[64];
} yt_ddp_rank_info;

typedef struct yt_ddp {
    yt_comm *comm;
    int rank, world, zero;
    /* converted-weights provider (world > 1) */
    yt_model_alloc weights_alloc;
    int alloc_called, weights_shared;
    /* gradient reduction */
    yt_model *model;
    float *grads;
    size_t n_params;
    int n_layers;
    size_t *span_begin, *span_end; /* [n_layers]: layer l's gradients */
    int bucketed;                  /* layer spans tile [0, n_params): start per layer */
    int armed;                     /* this micro-batch is the step's last: start sums */
    int started;                   /* layers whose sum was started this step */
    int failed;                    /* a start or test failed inside the callback */
    yt_err err;
    yt_comm_reqs *reqs;
    yt_zero z;
    float *m_full, *v_full;        /* --zero 1, rank 0: full moments for snapshots */
    double comm_at_start, comm_s, exposed_s;
    /* setup report */
    yt_ddp_rank_info *ranks;       /* [world], filled by yt_ddp_setup_check */
    char summary[256];             /* memory, for the start-up line */
} yt_ddp;

/* Provider of node-shared converted base weights for yt_model_open_ex; NULL
 * when world is 1 (the model keeps its own copy).  Collective through the
 * model: a rank that fails before the model asked for memory must call
 * yt_ddp_weights_settle so that every rank makes the same calls. */
const yt_model_alloc *yt_ddp_weights_alloc(yt_ddp *d, yt_comm *c);
void yt_ddp_weights_settle(yt_ddp *d);

/* After the model is open (local; no communication).  zero: 0 or 1. */
int yt_ddp_init(yt_ddp *d, yt_comm *c, yt_model *m, int zero, yt_err *e);
void yt_ddp_free(yt_ddp *d);
/* How many AdamW moments this rank keeps (n_params, or its shard with --zero 1). */
size_t yt_ddp_optim_size(const yt_ddp *d);

/* Collective, after every rank's setup succeeded: rank 0's resolved options
 * (those written to config.json, minus paths), model, dataset and initial LoRA
 * fingerprints against every rank's; memory and threads of every rank.  Fails
 * on every rank, naming the keys on the ranks that differ. */
int yt_ddp_setup_check(yt_ddp *d, const yt_opt *table, const void *opts, uint64_t dataset_fp,
                       yt_err *e);
/* Adds "ranks" (per-rank memory and threads) to config.json's object. */
void yt_ddp_config_json(const yt_ddp *d, json_t *j);
/* Threads per rank when --threads is 0: the node's cores over its ranks, and
 * no more than the CPUs this rank is bound to. */
int yt_ddp_default_threads(const yt_comm *c);

/* ---- one step ---- */
void yt_ddp_step_begin(yt_ddp *d);
/* Before each micro-batch's forward/backward: last = 1 for the step's last. */
void yt_ddp_micro_batch(yt_ddp *d, int last);
/* From the model's layer-done callback: starts layer l's sum when armed and
 * lets the started ones progress.  Never fails here (errors surface in reduce). */
void yt_ddp_layer_done(yt_ddp *d, int layer);
/* The step was abandoned (every rank at the same point): completes what was started. */
int yt_ddp_abandon(yt_ddp *d, yt_err *e);
/* After the last backward: sums the gradients (waits for the started sums, or
 * reduce-scatters), the loss, and the global gradient norm. */
int yt_ddp_reduce(yt_ddp *d, double *loss, double *grad_norm, yt_err *e);
/* AdamW: the whole buffer, or this rank's shard and then the all-gather. */
int yt_ddp_update(yt_ddp *d, yt_adamw *a, const yt_optim_config *oc, float lr, float grad_scale,
                  yt_err *e);
/* Communication time of the step: all of it, and the part after backward. */
void yt_ddp_step_end(yt_ddp *d, double *comm_s, double *exposed_comm_s);

/* ---- snapshots with sharded moments (collective) ----
 * gather: *m / *v point to full-size moments on rank 0 afterwards (the state
 * itself when not sharded).  For resume, rank 0 reads full moments into
 * yt_ddp_optim_full's buffers, then yt_ddp_optim_scatter hands every rank its
 * part (broadcast when not sharded). */
int yt_ddp_optim_gather(yt_ddp *d, const yt_adamw *a, const float **m, const float **v, yt_err *e);
void yt_ddp_optim_full(yt_ddp *d, yt_adamw *a, float **m, float **v);
int yt_ddp_optim_scatter(yt_ddp *d, yt_adamw *a, yt_err *e);

#endif
