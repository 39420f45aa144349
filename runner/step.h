/* runner/step: one optimizer step as the training loop sees it, whatever
 * device computes it.  train.c calls only the yt_step_* verbs below; a backend
 * (step_cpu.c: the host model with OpenBLAS, sums over MPI, --zero 1, and
 * the all-gathers of a sharded base (--shard-base) as the model's source;
 * step_cuda.c: a GPU model, sums over NCCL per layer or MPI through the host)
 * fills in the yt_step_ops.  What every backend shares lives once, here: the
 * layer buckets of the gradient buffer and the per-step state of their sums
 * (armed on the last micro-batch, how many were started, the first failure).
 *
 * Order: open (local) and connect (collective) once; per step begin, then
 * micro_batch for each of this rank's micro-batches (abandon instead of the
 * rest when the loop gives up the step), reduce, update, end; eval between
 * steps.  state_out / state_buffers + state_in bracket snapshots and resume.
 * Verbs marked collective are called by every rank in the same order.
 * Internal to runner/. */
#ifndef YT_STEP_H
#define YT_STEP_H

#include <stddef.h>
#include <stdint.h>

#include "collectives/collectives.h"
#include "datasets/datasets.h"
#include "model/model.h"
#include "optim/optim.h"
#include "runner/train_options.h"

typedef struct yt_step yt_step;

/* What the trainer lends a backend (not owned by it). */
typedef struct yt_step_env {
    yt_comm *comm;
    yt_model *model;              /* host model: config, LoRA layout, host parameters */
    yt_adamw *adam;               /* step count; host moments of this rank's span */
    const yt_optim_config *oc;
    const yt_train_opts *o;
    yt_poll_fn poll;              /* the loop's "abandon now?" between layers */
    void *poll_ctx;
} yt_step_env;

typedef struct yt_step_ops {
    const char *device;
    int host_activations;          /* the host model computes (needs a micro-batch's buffers) */
    /* Refuses options this backend cannot run, before anything is loaded. */
    int (*check)(const yt_train_opts *o, yt_err *e);
    /* Local: allocates everything, env->adam included (sized to the moments
     * this rank keeps: all, or its shard); clears s->bucketed when the sums
     * are not started per layer. */
    int (*open)(yt_step *s, yt_err *e);
    int (*connect)(yt_step *s, yt_err *e);          /* collective */
    void (*close)(yt_step *s);
    int (*begin)(yt_step *s, yt_err *e);
    /* One micro-batch: forward and backward, gradients added; the model's
     * layer-done callback is yt_step_layer_done(s). 1 = abandoned. */
    int (*micro_batch)(yt_step *s, const yt_ds_batch *b, uint64_t seed, double *loss, yt_err *e);
    /* Starts the sum over ranks of gradients [begin, begin + n). */
    int (*sum_start)(yt_step *s, size_t begin, size_t n, yt_err *e);
    /* Lets started sums progress between layers (may be NULL). */
    int (*sum_progress)(yt_step *s, yt_err *e);
    /* Waits for every started sum. */
    int (*sum_join)(yt_step *s, yt_err *e);
    /* Collective: the summed gradients ready for the update, the loss summed,
     * the global gradient norm. */
    int (*reduce)(yt_step *s, double *loss, double *grad_norm, yt_err *e);
    int (*update)(yt_step *s, float lr, float grad_scale, yt_err *e); /* collective with --zero 1 */
    /* The step's communication time: all of it and the part after backward
     * (NULL: the communicator's clock since begin, and s->exposed_s). */
    void (*end)(yt_step *s, double *comm_s, double *exposed_comm_s);
    /* Base-weight gathers (--shard-base) since begin: seconds in flight and
     * the part compute waited for (NULL: none). */
    void (*gather_times)(yt_step *s, double *gather_s, double *exposed_gather_s);
    int (*eval)(yt_step *s, const yt_ds_batch *b, double *loss, yt_err *e);
    /* Collective: parameters into the host model and full-size moments on
     * rank 0 (*m, *v), for a snapshot. */
    int (*state_out)(yt_step *s, const float **m, const float **v, yt_err *e);
    /* Rank 0's full-size moment buffers that a resume reads into. */
    void (*state_buffers)(yt_step *s, float **m, float **v);
    /* Collective: rank 0's host parameters and moments reach every rank and device. */
    int (*state_in)(yt_step *s, yt_err *e);
} yt_step_ops;

struct yt_step {
    const yt_step_ops *ops;
    yt_step_env env;
    int rank, world;
    void *impl;                    /* the backend's own state */
    char summary[256];             /* one line for the start-up message */
    /* layer buckets: layer l's gradients are [span_begin[l], span_end[l]) */
    int n_layers;
    size_t n_params;
    size_t *span_begin, *span_end;
    int bucketed;                  /* sums start per layer from backward */
    /* this step's sums */
    int armed;                     /* the micro-batch in progress is the step's last */
    int started;                   /* layers whose sum was started */
    int failed;                    /* a start inside the layer callback failed: err */
    yt_err err;
    double exposed_s;              /* communication waited for after backward */
    double comm_at_start;          /* the communicator's clock at begin */
};

/* Picks the backend of o->device (a build without CUDA says so) and checks
 * that it can run the options, before anything is loaded. */
int yt_step_prepare(yt_step *s, const yt_train_opts *o, yt_err *e);
/* The micro-batch the host model must hold activations for (0: weights and
 * LoRA parameters only). */
int yt_step_host_micro_batch(const yt_step *s, const yt_train_opts *o);
/* Computes the layer buckets and opens the backend (local). */
int yt_step_open(yt_step *s, const yt_step_env *env, yt_err *e);
int yt_step_connect(yt_step *s, yt_err *e);
void yt_step_close(yt_step *s);
/* The model's layer-done callback (ctx: the yt_step): on the step's last
 * micro-batch, starts layer's sum, and lets the started ones progress.
 * Never fails here; a failure surfaces in yt_step_reduce. */
int yt_step_layer_done(int layer, void *step);

int yt_step_begin(yt_step *s, yt_err *e);
int yt_step_micro_batch(yt_step *s, const yt_ds_batch *b, int last, uint64_t seed, double *loss,
                        yt_err *e);
int yt_step_abandon(yt_step *s, yt_err *e);
int yt_step_reduce(yt_step *s, double *loss, double *grad_norm, yt_err *e);
int yt_step_update(yt_step *s, float lr, float grad_scale, yt_err *e);
/* comm_s: time in collectives this step; exposed_comm_s: the part waited
 * for after backward. */
void yt_step_end(yt_step *s, double *comm_s, double *exposed_comm_s);
/* gather_s: base-weight gathers in flight this step (summed over gathers);
 * exposed_gather_s: the part compute waited for.  0 without --shard-base. */
void yt_step_gather_times(yt_step *s, double *gather_s, double *exposed_gather_s);
int yt_step_eval(yt_step *s, const yt_ds_batch *b, double *loss, yt_err *e);
int yt_step_state_out(yt_step *s, const float **m, const float **v, yt_err *e);
void yt_step_state_buffers(yt_step *s, float **m, float **v);
int yt_step_state_in(yt_step *s, yt_err *e);

/* For backends: the sums of a step whose layers all started (1), none (0),
 * or some (an error naming the count). */
int yt_step_sums_complete(const yt_step *s, yt_err *e);

/* The backends: step_cpu.c; step_cuda.c in CUDA builds, where step_cuda_off.c
 * says what is missing otherwise. */
extern const yt_step_ops yt_step_cpu_ops;
const yt_step_ops *yt_step_cuda(yt_err *e);
/* `yieldtune version`: "CUDA no" or "CUDA yes (NCCL yes|no), N devices". */
void yt_step_describe_gpu(char *buf, size_t cap);

#endif
