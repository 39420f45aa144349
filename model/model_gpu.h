/* model/ on a GPU (model/llama_gpu.c, built with --with-cuda): the forward
 * and backward of model/llama.c computed by kernels/cuda.
 *
 * Contract: a host yt_model (opened with micro_batch 0, or yt_model_open_config
 * for a shape without weights) supplies the config, the LoRA layout and the
 * host copy of the LoRA parameters; the GPU model holds the base weights
 * rounded to bf16 (exact for BF16 checkpoints), fp32 norm weights, fp32 LoRA
 * parameters and gradients, and every activation for one micro-batch shape,
 * all allocated by yt_gmodel_create.  A pass allocates nothing.  The same
 * callbacks as the CPU model: the poll between layers abandons a pass, and
 * layer_done(l) fires when layer l's gradients are queued (final once the
 * work queued so far on the model's stream has run: the NCCL backend orders
 * its collectives after it).  Every call returns 0 or -1 with a message. */
#ifndef YT_MODEL_GPU_H
#define YT_MODEL_GPU_H

#include "kernels/cuda/kernels_cuda.h"
#include "model/model.h"

enum { YT_GATT_GEMM = 0, YT_GATT_FLASH = 1 };
/* How the frozen projections are kept on the GPU: bf16, or (UNTESTED on a GPU
 * so far: it compiles) NF4 as model/quant.h stores it -- from a host model
 * opened with --base-dtype nf4, or random -- each layer decoded into one bf16
 * scratch right before its products (forward, recompute and backward). */
enum { YT_GBASE_BF16 = 0, YT_GBASE_NF4 = 1 };

typedef struct yt_gmodel_opts {
    int device;          /* CUDA device */
    int recompute;       /* keep only each layer's input; redo its forward in backward */
    int attention;       /* YT_GATT_GEMM (cuBLAS tensor cores) or YT_GATT_FLASH (CUDA cores) */
    uint64_t random_seed;/* 0: base weights from the host model; else random on the device */
    int base;            /* YT_GBASE_BF16 or YT_GBASE_NF4 */
} yt_gmodel_opts;

typedef struct yt_gmodel yt_gmodel;

int yt_gmodel_create(yt_gmodel **out, yt_model *host, int micro_batch, int seq_len,
                     const yt_gmodel_opts *o, yt_err *e);
void yt_gmodel_free(yt_gmodel *g);
/* The context (stream, cuBLAS) the model queues its work on. */
yt_kc_ctx *yt_gmodel_ctx(yt_gmodel *g);
/* Device bytes the model allocated (weights, activations, workspaces). */
size_t yt_gmodel_device_bytes(const yt_gmodel *g);

float *yt_gmodel_params(yt_gmodel *g); /* device, the host model's layout */
float *yt_gmodel_grads(yt_gmodel *g);  /* device */
/* The host model's LoRA parameters <-> the device's. */
int yt_gmodel_params_to_host(yt_gmodel *g, yt_err *e);
int yt_gmodel_params_from_host(yt_gmodel *g, yt_err *e);
int yt_gmodel_grads_to_host(yt_gmodel *g, yt_err *e);
int yt_gmodel_zero_grads(yt_gmodel *g, yt_err *e);

void yt_gmodel_set_poll(yt_gmodel *g, yt_poll_fn poll, void *ctx);

/* The next micro-batch (host arrays of B*S, as yt_model_forward_backward and
 * yt_model_set_docs take them; doc and pos may be NULL). */
int yt_gmodel_set_batch(yt_gmodel *g, const int32_t *inputs, const int32_t *targets,
                        const float *weight, const int32_t *doc, const int32_t *pos, yt_err *e);
/* Forward and backward of the batch set last; gradients ADDED to the device
 * gradients.  *loss = sum(weight * nll).  Returns 1 (loss NAN) when the poll or
 * layer_done abandoned the pass. */
int yt_gmodel_forward_backward(yt_gmodel *g, uint64_t dropout_seed, yt_layer_done_fn done,
                               void *ctx, double *loss, yt_err *e);
/* Forward only, no dropout. */
int yt_gmodel_forward_loss(yt_gmodel *g, double *loss, yt_err *e);
/* Forward only: logits [B*S, V] into host memory (tests). */
int yt_gmodel_logits(yt_gmodel *g, float *out, yt_err *e);

#endif
