/* The training step on a GPU: the GPU model, device AdamW, and the gradient
 * sums over ranks (NCCL per layer, or MPI through host memory). */
#include "runner/train_gpu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/kernels_cuda.h"
#include "model/model_gpu.h"
#include "runner/train.h"

struct yt_tgpu {
    yt_gmodel *g;
    yt_kc_ctx *kc;
    int device, n_devices, nccl;
    float *m, *v;              /* device AdamW moments */
    double *sumsq_dev;
    int armed, started, failed;
    yt_err err;                /* of a start that failed inside the layer callback */
    double exposed_s;
    char summary[256];
};

static int tg_layer_done(int layer, void *ctx)
{
    trainer *t = ctx;
    struct yt_tgpu *G = t->gpu;
    const yt_ddp *d = &t->ddp;
    if (!G->armed || G->failed || !d->bucketed)
        return 0;
    if (d->span_end[layer] > d->span_begin[layer]) {
        if (yt_comm_dev_allreduce_start(t->comm, yt_gmodel_grads(G->g) + d->span_begin[layer],
                                        d->span_end[layer] - d->span_begin[layer], &G->err)) {
            G->failed = 1;
            return 0;
        }
        G->started++;
    }
    return 0;
}

int yt_tgpu_open(trainer *t, yt_poll_fn poll, yt_err *e)
{
    const yt_train_opts *o = &t->o;
    struct yt_tgpu *G = calloc(1, sizeof *G);
    if (!G)
        return yt_errf(e, "out of host memory");
    t->gpu = G;
    if (yt_kc_device_count(&G->n_devices, e))
        return yt_err_prefix(e, "--device cuda: no usable CUDA device");
    if (G->n_devices < 1)
        return yt_errf(e, "--device cuda: no CUDA device on %s", "this node");
    /* Local rank i takes visible device i mod count: all GPUs when each rank
     * sees them all, its own when the scheduler shows each rank one
     * (CUDA_VISIBLE_DEVICES per task).  Two ranks on one GPU are refused by
     * the NCCL backend (it compares PCI bus ids); --gpu-comm mpi allows them. */
    G->device = yt_comm_local_rank(t->comm) % G->n_devices;
    G->nccl = t->world > 1 && strcmp(o->gpu_comm, "mpi") != 0 && yt_comm_has_nccl();
    yt_gmodel_opts go = {.device = G->device, .recompute = o->recompute,
                         .attention = strcmp(o->attention, "flash") == 0 ? YT_GATT_FLASH : YT_GATT_GEMM};
    if (yt_gmodel_create(&G->g, t->model, o->micro_batch, o->seq_len, &go, e))
        return yt_err_prefix(e, "GPU %d", G->device);
    G->kc = yt_gmodel_ctx(G->g);
    yt_gmodel_set_poll(G->g, poll, t);
    size_t np = yt_model_n_params(t->model);
    if (yt_kc_malloc((void **)&G->m, np * sizeof(float), "AdamW moments", e) ||
        yt_kc_malloc((void **)&G->v, np * sizeof(float), "AdamW moments", e) ||
        yt_kc_malloc((void **)&G->sumsq_dev, sizeof(double), "gradient norm", e) ||
        yt_tgpu_from_host(t, e))
        return -1;
    snprintf(G->summary, sizeof G->summary, "GPU %d of %d, %.2f GiB on the device, %s attention%s, %s",
             G->device, G->n_devices,
             (double)(yt_gmodel_device_bytes(G->g) + 2 * np * sizeof(float)) / (1u << 30),
             o->attention, o->recompute ? ", recompute" : "",
             t->world == 1 ? "one rank" : G->nccl ? "NCCL all-reduce per layer" : "MPI sums via host");
    return 0;
}

int yt_tgpu_connect(trainer *t, yt_err *e)
{
    struct yt_tgpu *G = t->gpu;
    if (!G->nccl)
        return 0;
    return yt_comm_dev_init(t->comm, yt_kc_ctx_stream(G->kc), e);
}

void yt_tgpu_close(trainer *t)
{
    struct yt_tgpu *G = t->gpu;
    if (!G)
        return;
    yt_kc_free(G->m);
    yt_kc_free(G->v);
    yt_kc_free(G->sumsq_dev);
    yt_gmodel_free(G->g);
    free(G);
    t->gpu = NULL;
}

const char *yt_tgpu_summary(const trainer *t) { return t->gpu ? t->gpu->summary : ""; }

int yt_tgpu_step_begin(trainer *t, yt_err *e)
{
    struct yt_tgpu *G = t->gpu;
    G->armed = G->started = G->failed = 0;
    G->exposed_s = 0;
    return yt_gmodel_zero_grads(G->g, e);
}

int yt_tgpu_micro_batch(trainer *t, int a, int last, uint64_t seed, double *loss, yt_err *e)
{
    struct yt_tgpu *G = t->gpu;
    size_t off = (size_t)a * t->BS;
    G->armed = last && G->nccl && t->ddp.bucketed;
    if (yt_gmodel_set_batch(G->g, t->inputs + off, t->targets + off, t->weights + off,
                            t->doc ? t->doc + off : NULL, t->pos ? t->pos + off : NULL, e))
        return -1;
    return yt_gmodel_forward_backward(G->g, seed, tg_layer_done, t, loss, e);
}

/* Waits for the collectives started this step (compute stream, then host). */
static int join(trainer *t, yt_err *e)
{
    struct yt_tgpu *G = t->gpu;
    if (G->nccl && yt_comm_dev_join(t->comm, e))
        return -1;
    return yt_kc_sync(G->kc, e);
}

int yt_tgpu_abandon(trainer *t, yt_err *e)
{
    t->gpu->armed = 0;
    return join(t, e);
}

int yt_tgpu_reduce(trainer *t, double *loss, double *grad_norm, yt_err *e)
{
    struct yt_tgpu *G = t->gpu;
    size_t np = yt_model_n_params(t->model);
    float *grads = yt_gmodel_grads(G->g);
    /* The backward pass has run; what is left of the step's communication is exposed. */
    if (yt_kc_sync(G->kc, e))
        return -1;
    double t0 = yt_now();
    if (G->failed) {
        yt_err ignore;
        join(t, &ignore);
        *e = G->err;
        return -1;
    }
    if (t->world > 1) {
        if (G->nccl) {
            if (G->started == 0 && yt_comm_dev_allreduce_start(t->comm, grads, np, e))
                return -1;
            if (join(t, e))
                return -1;
        } else {
            /* Through host memory: the host model's gradient buffer is the staging. */
            if (yt_gmodel_grads_to_host(G->g, e) ||
                yt_comm_allreduce_f32(t->comm, yt_model_grads(t->model), np, e) ||
                yt_kc_upload(G->kc, grads, yt_model_grads(t->model), np * sizeof(float), e))
                return -1;
        }
        if (yt_comm_allreduce_f64(t->comm, loss, 1, e))
            return -1;
    }
    double sumsq = 0;
    if (yt_kc_sumsq(G->kc, G->sumsq_dev, grads, np, e) ||
        yt_kc_download(G->kc, &sumsq, G->sumsq_dev, sizeof sumsq, e))
        return -1;
    *grad_norm = sqrt(sumsq);
    G->exposed_s = yt_now() - t0;
    return 0;
}

int yt_tgpu_update(trainer *t, float lr, float grad_scale, yt_err *e)
{
    struct yt_tgpu *G = t->gpu;
    const yt_optim_config *c = &t->oc;
    float bc1, bc2;
    yt_adamw_next(&t->adam, c, &bc1, &bc2);
    return yt_kc_adamw(G->kc, yt_gmodel_params(G->g), yt_gmodel_grads(G->g), G->m, G->v,
                       yt_model_n_params(t->model), lr, c->beta1, c->beta2, c->eps, c->weight_decay,
                       bc1, bc2, grad_scale, e);
}

void yt_tgpu_step_end(trainer *t, double *comm_s, double *exposed_comm_s)
{
    /* NCCL runs on its own stream: only the part the step waited for is seen. */
    *comm_s = *exposed_comm_s = t->gpu->exposed_s;
}

int yt_tgpu_eval(trainer *t, double *loss, yt_err *e)
{
    struct yt_tgpu *G = t->gpu;
    if (yt_gmodel_set_batch(G->g, t->inputs, t->targets, t->weights, t->doc, t->pos, e))
        return -1;
    return yt_gmodel_forward_loss(G->g, loss, e);
}

int yt_tgpu_to_host(trainer *t, yt_err *e)
{
    struct yt_tgpu *G = t->gpu;
    size_t bytes = yt_model_n_params(t->model) * sizeof(float);
    return yt_kc_sync(G->kc, e) || yt_gmodel_params_to_host(G->g, e) ||
                   yt_kc_download(G->kc, t->adam.m, G->m, bytes, e) ||
                   yt_kc_download(G->kc, t->adam.v, G->v, bytes, e)
               ? -1
               : 0;
}

int yt_tgpu_from_host(trainer *t, yt_err *e)
{
    struct yt_tgpu *G = t->gpu;
    size_t bytes = yt_model_n_params(t->model) * sizeof(float);
    return yt_gmodel_params_from_host(G->g, e) || yt_kc_upload(G->kc, G->m, t->adam.m, bytes, e) ||
                   yt_kc_upload(G->kc, G->v, t->adam.v, bytes, e)
               ? -1
               : 0;
}

void yt_tgpu_describe(char *buf, size_t cap)
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
