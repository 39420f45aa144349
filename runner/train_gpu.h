/* runner/train_gpu: the training step's pieces on a GPU (--device cuda).
 * The trainer keeps its host model (weights for the upload, LoRA layout, the
 * host copy of the parameters) and its host AdamW state: those are what
 * snapshots, resume and the adapter read and write, brought up to date by
 * yt_tgpu_to_host and pushed back by yt_tgpu_from_host.  On the device: the
 * GPU model (model/model_gpu.h), gradients, AdamW moments, and the gradient
 * sums: NCCL all-reduce per layer started from the backward pass of the last
 * micro-batch (the same layer buckets as the CPU path), or through host memory
 * and MPI after backward (--gpu-comm mpi).  Agreement and loss sums stay on
 * MPI (host scalars).  Without CUDA in the build, yt_tgpu_open fails saying so.
 * Internal to runner/. */
#ifndef YT_TRAIN_GPU_H
#define YT_TRAIN_GPU_H

#include "model/model.h"

struct trainer;

/* After the host model, ddp, AdamW and the LoRA init: picks the GPU by local
 * rank, makes the GPU model and uploads (local).  poll: the model's poll. */
int yt_tgpu_open(struct trainer *t, yt_poll_fn poll, yt_err *e);
/* Collective, once every rank opened: the NCCL communicator (when used). */
int yt_tgpu_connect(struct trainer *t, yt_err *e);
void yt_tgpu_close(struct trainer *t);
/* One line for the start-up message: device, memory, kernels, comm. */
const char *yt_tgpu_summary(const struct trainer *t);
int yt_tgpu_step_begin(struct trainer *t, yt_err *e);
/* Micro-batch a of the step (t's batch arrays): 0 done, 1 abandoned, -1 error. */
int yt_tgpu_micro_batch(struct trainer *t, int a, int last, uint64_t seed, double *loss, yt_err *e);
int yt_tgpu_abandon(struct trainer *t, yt_err *e);
int yt_tgpu_reduce(struct trainer *t, double *loss, double *grad_norm, yt_err *e);
int yt_tgpu_update(struct trainer *t, float lr, float grad_scale, yt_err *e);
void yt_tgpu_step_end(struct trainer *t, double *comm_s, double *exposed_comm_s);
/* Forward loss of the first micro-batch of t's batch arrays (validation). */
int yt_tgpu_eval(struct trainer *t, double *loss, yt_err *e);
int yt_tgpu_to_host(struct trainer *t, yt_err *e);
int yt_tgpu_from_host(struct trainer *t, yt_err *e);
/* What this build can do on GPUs, for `yieldtune version`: "CUDA no" or
 * "CUDA yes (NCCL yes|no), N devices" (or why none is usable). */
void yt_tgpu_describe(char *buf, size_t cap);

#endif
