/* runner/train_gpu for builds without CUDA: --device cuda fails at start. */
#include <stdio.h>

#include "runner/train.h"
#include "runner/train_gpu.h"

static int off(yt_err *e) { return yt_errf(e, "built without CUDA"); }

int yt_tgpu_open(trainer *t, yt_poll_fn poll, yt_err *e)
{
    (void)t, (void)poll;
    return yt_errf(e, "--device cuda: this yieldtune was built without CUDA (configure "
                      "--with-cuda [--with-nccl])");
}
int yt_tgpu_connect(trainer *t, yt_err *e) { (void)t; return off(e); }
void yt_tgpu_close(trainer *t) { (void)t; }
const char *yt_tgpu_summary(const trainer *t) { (void)t; return ""; }
int yt_tgpu_step_begin(trainer *t, yt_err *e) { (void)t; return off(e); }
int yt_tgpu_micro_batch(trainer *t, int a, int last, uint64_t seed, double *loss, yt_err *e)
{
    (void)t, (void)a, (void)last, (void)seed, (void)loss;
    return off(e);
}
int yt_tgpu_abandon(trainer *t, yt_err *e) { (void)t; return off(e); }
int yt_tgpu_reduce(trainer *t, double *loss, double *grad_norm, yt_err *e)
{
    (void)t, (void)loss, (void)grad_norm;
    return off(e);
}
int yt_tgpu_update(trainer *t, float lr, float grad_scale, yt_err *e)
{
    (void)t, (void)lr, (void)grad_scale;
    return off(e);
}
void yt_tgpu_step_end(trainer *t, double *comm_s, double *exposed_comm_s)
{
    (void)t;
    *comm_s = *exposed_comm_s = 0;
}
int yt_tgpu_eval(trainer *t, double *loss, yt_err *e) { (void)t, (void)loss; return off(e); }
int yt_tgpu_to_host(trainer *t, yt_err *e) { (void)t; return off(e); }
int yt_tgpu_from_host(trainer *t, yt_err *e) { (void)t; return off(e); }
void yt_tgpu_describe(char *buf, size_t cap) { snprintf(buf, cap, "CUDA no (configure --with-cuda)"); }
