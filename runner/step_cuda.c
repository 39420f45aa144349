/* The GPU step backend (CUDA builds): the GPU model (model/model_gpu.h), AdamW
 * with device moments (optim/adamw_cuda.c), and the gradient sums: NCCL
 * all-reduce per layer on its own stream, started from the backward pass of
 * the last micro-batch and joined before the update, or through host memory
 * and MPI after backward (--gpu-comm mpi, which lets ranks share a GPU).  With
 * one rank nothing is summed, unless --gpu-comm nccl asks for a one-rank NCCL
 * communicator (a one-GPU machine then runs the NCCL path too).  Agreement and
 * loss sums stay on MPI (host scalars). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/kernels_cuda.h"
#include "model/model_gpu.h"
#include "runner/step.h"

typedef struct cuda_step {
    yt_gmodel *g;
    yt_kc_ctx *kc;
    int device, n_devices, nccl;
    yt_adamw_cuda adam;
    double *sumsq_dev;
} cuda_step;

static int cuda_state_in_local(yt_step *s, yt_err *e)
{
    cuda_step *c = s->impl;
    return yt_gmodel_params_from_host(c->g, e) || yt_adamw_cuda_upload(&c->adam, s->env.adam, e) ? -1 : 0;
}

static int cuda_check(const yt_train_opts *o, yt_err *e)
{
    if (o->zero)
        return yt_errf(e, "--zero 1 is not supported with --device cuda (the LoRA optimizer "
                          "state is small: use --zero 0)");
    if (o->shard_base)
        return yt_errf(e, "--shard-base: the GPU engine does not shard its base yet (CPU only); for a "
                          "model larger than one GPU use --base-dtype nf4");
    if (o->base_dtype == YT_BASE_INT8)
        return yt_errf(e, "--base-dtype int8 is not supported with --device cuda (use nf4 or bf16)");
    if (o->gpu_comm == YT_GPU_COMM_NCCL && !yt_comm_has_nccl())
        return yt_errf(e, "--gpu-comm nccl: this yieldtune was built without NCCL (configure "
                          "--with-cuda --with-nccl)");
    return 0;
}

static int cuda_open(yt_step *s, yt_err *e)
{
    const yt_train_opts *o = s->env.o;
    cuda_step *c = yt_alloc(sizeof *c, "GPU step state", e);
    if (!c)
        return -1;
    s->impl = c;
    if (yt_kc_device_count(&c->n_devices, e))
        return yt_err_prefix(e, "--device cuda: no usable CUDA device");
    if (c->n_devices < 1)
        return yt_errf(e, "--device cuda: no CUDA device on this node");
    /* Local rank i takes visible device i mod count: all GPUs when each rank
     * sees them all, its own when the scheduler shows each rank one
     * (CUDA_VISIBLE_DEVICES per task).  Two ranks on one GPU are refused by
     * the NCCL backend (it compares PCI bus ids); --gpu-comm mpi allows them. */
    c->device = yt_comm_local_rank(s->env.comm) % c->n_devices;
    c->nccl = yt_comm_has_nccl() &&
              (o->gpu_comm == YT_GPU_COMM_NCCL || (o->gpu_comm == YT_GPU_COMM_AUTO && s->world > 1));
    s->bucketed = s->bucketed && c->nccl; /* with one rank too: --gpu-comm nccl */
    /* --base-dtype nf4: the host model holds the NF4 units, the GPU decodes a
     * layer at a time (UNTESTED on a GPU so far); f32 and bf16: bf16. */
    yt_gmodel_opts go = {.device = c->device, .recompute = o->recompute,
                         .attention = o->attention == YT_ATTENTION_FLASH ? YT_GATT_FLASH : YT_GATT_GEMM,
                         .base = o->base_dtype == YT_BASE_NF4 ? YT_GBASE_NF4 : YT_GBASE_BF16};
    if (yt_gmodel_create(&c->g, s->env.model, o->micro_batch, o->seq_len, &go, e))
        return yt_err_prefix(e, "GPU %d", c->device);
    c->kc = yt_gmodel_ctx(c->g);
    yt_gmodel_set_poll(c->g, s->env.poll, s->env.poll_ctx);
    size_t np = s->n_params;
    if (yt_adamw_init(s->env.adam, np, e) || yt_adamw_cuda_init(&c->adam, c->kc, np, e) ||
        yt_kc_malloc((void **)&c->sumsq_dev, sizeof(double), "gradient norm", e) ||
        cuda_state_in_local(s, e))
        return -1;
    snprintf(s->summary, sizeof s->summary, "GPU %d of %d, %.2f GiB on the device, %s base, %s attention%s, %s",
             c->device, c->n_devices,
             (double)(yt_gmodel_device_bytes(c->g) + 2 * np * sizeof(float)) / (1u << 30),
             go.base == YT_GBASE_NF4 ? "NF4" : "bf16", o->attention == YT_ATTENTION_FLASH ? "flash" : "gemm", o->recompute ? ", recompute" : "",
             c->nccl ? (s->world == 1 ? "one-rank NCCL communicator" : "NCCL all-reduce per layer")
             : s->world == 1 ? "one rank"
                             : "MPI sums via host");
    return 0;
}

static int cuda_connect(yt_step *s, yt_err *e)
{
    cuda_step *c = s->impl;
    if (!c->nccl)
        return 0;
    return yt_comm_dev_init(s->env.comm, yt_kc_ctx_stream(c->kc), s->world == 1, e);
}

static void cuda_close(yt_step *s)
{
    cuda_step *c = s->impl;
    if (!c)
        return;
    yt_adamw_cuda_free(&c->adam);
    yt_kc_free(c->sumsq_dev);
    yt_gmodel_free(c->g);
    yt_free(c);
    s->impl = NULL;
}

static int cuda_begin(yt_step *s, yt_err *e)
{
    cuda_step *c = s->impl;
    return yt_gmodel_zero_grads(c->g, e);
}

static int cuda_micro_batch(yt_step *s, const yt_ds_batch *b, uint64_t seed, double *loss, yt_err *e)
{
    cuda_step *c = s->impl;
    if (yt_gmodel_set_batch(c->g, b->inputs, b->targets, b->weights, b->doc_ids, b->positions, e))
        return -1;
    return yt_gmodel_forward_backward(c->g, seed, yt_step_layer_done, s, loss, e);
}

static int cuda_sum_start(yt_step *s, size_t begin, size_t n, yt_err *e)
{
    cuda_step *c = s->impl;
    return yt_comm_dev_allreduce_start(s->env.comm, yt_gmodel_grads(c->g) + begin, n, e);
}

/* The collectives started this step, then the compute stream, then the host. */
static int cuda_sum_join(yt_step *s, yt_err *e)
{
    cuda_step *c = s->impl;
    if (c->nccl && yt_comm_dev_join(s->env.comm, e))
        return -1;
    return yt_kc_sync(c->kc, e);
}

static int cuda_reduce(yt_step *s, double *loss, double *grad_norm, yt_err *e)
{
    cuda_step *c = s->impl;
    float *grads = yt_gmodel_grads(c->g);
    size_t np = s->n_params;
    /* The backward pass has run; what is left of the step's communication is exposed. */
    if (yt_kc_sync(c->kc, e))
        return -1;
    double t0 = yt_now();
    if (c->nccl) {
        int all = yt_step_sums_complete(s, e);
        if (all < 0 || (all == 0 && yt_comm_dev_allreduce_start(s->env.comm, grads, np, e)) ||
            cuda_sum_join(s, e))
            return -1;
    } else if (s->world > 1) {
        /* Through host memory: the host model's gradient buffer is the staging. */
        float *host = yt_model_grads(s->env.model);
        if (yt_gmodel_grads_to_host(c->g, e) || yt_comm_allreduce_f32(s->env.comm, host, np, e) ||
            yt_kc_upload(c->kc, grads, host, np * sizeof(float), e))
            return -1;
    }
    if (s->world > 1 && yt_comm_allreduce_f64(s->env.comm, loss, 1, e))
        return -1;
    double sumsq = 0;
    if (yt_kc_sumsq(c->kc, c->sumsq_dev, grads, np, e) ||
        yt_kc_download(c->kc, &sumsq, c->sumsq_dev, sizeof sumsq, e))
        return -1;
    *grad_norm = sqrt(sumsq);
    s->exposed_s = yt_now() - t0;
    return 0;
}

static int cuda_update(yt_step *s, float lr, float grad_scale, yt_err *e)
{
    cuda_step *c = s->impl;
    return yt_adamw_cuda_step(&c->adam, s->env.adam, s->env.oc, yt_gmodel_params(c->g),
                              yt_gmodel_grads(c->g), lr, grad_scale, e);
}

/* NCCL runs on its own stream: only the part the step waited for is seen. */
static void cuda_end(yt_step *s, double *comm_s, double *exposed_comm_s)
{
    *comm_s = *exposed_comm_s = s->exposed_s;
}

static int cuda_eval(yt_step *s, const yt_ds_batch *b, double *loss, yt_err *e)
{
    cuda_step *c = s->impl;
    if (yt_gmodel_set_batch(c->g, b->inputs, b->targets, b->weights, b->doc_ids, b->positions, e))
        return -1;
    return yt_gmodel_forward_loss(c->g, loss, e);
}

/* Every rank holds the whole state: rank 0's copy is the snapshot's. */
static int cuda_state_out(yt_step *s, const float **m, const float **v, yt_err *e)
{
    cuda_step *c = s->impl;
    if (yt_kc_sync(c->kc, e) || yt_gmodel_params_to_host(c->g, e) ||
        yt_adamw_cuda_download(&c->adam, s->env.adam, e))
        return -1;
    *m = s->env.adam->m;
    *v = s->env.adam->v;
    return 0;
}

static void cuda_state_buffers(yt_step *s, float **m, float **v)
{
    *m = s->env.adam->m;
    *v = s->env.adam->v;
}

static int cuda_state_in(yt_step *s, yt_err *e)
{
    yt_comm *comm = s->env.comm;
    size_t bytes = s->n_params * sizeof(float);
    yt_adamw *a = s->env.adam;
    if (yt_comm_bcast(comm, yt_model_params(s->env.model), bytes, 0, e) ||
        yt_comm_bcast(comm, a->m, bytes, 0, e) || yt_comm_bcast(comm, a->v, bytes, 0, e))
        return -1;
    return cuda_state_in_local(s, e);
}

static const yt_step_ops cuda_ops = {
    .device = "cuda",
    .check = cuda_check,
    .open = cuda_open,
    .connect = cuda_connect,
    .close = cuda_close,
    .begin = cuda_begin,
    .micro_batch = cuda_micro_batch,
    .sum_start = cuda_sum_start,
    .sum_join = cuda_sum_join,
    .reduce = cuda_reduce,
    .update = cuda_update,
    .end = cuda_end,
    .eval = cuda_eval,
    .state_out = cuda_state_out,
    .state_buffers = cuda_state_buffers,
    .state_in = cuda_state_in,
};

const yt_step_ops *yt_step_cuda(yt_err *e)
{
    (void)e;
    return &cuda_ops;
}

void yt_step_describe_gpu(char *buf, size_t cap)
{
    int n = 0;
    yt_err e = {{0}};
    if (yt_kc_device_count(&n, &e))
        snprintf(buf, cap, "CUDA yes (NCCL %s), no usable device: %s", yt_comm_has_nccl() ? "yes" : "no",
                 e.msg);
    else
        snprintf(buf, cap, "CUDA yes (NCCL %s), %d device%s", yt_comm_has_nccl() ? "yes" : "no", n,
                 n == 1 ? "" : "s");
}
