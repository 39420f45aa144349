/* AdamW with its moments on a GPU (CUDA builds): the update kernel runs where
 * the parameters and gradients are, while the step count and bias
 * corrections stay the host yt_adamw's, so the CPU and the GPU count steps
 * the same way and a snapshot reads one place. */
#include "optim/optim.h"

#include "kernels/cuda/kernels_cuda.h"

int yt_adamw_cuda_init(yt_adamw_cuda *d, struct yt_kc_ctx *kc, size_t n, yt_err *e)
{
    d->kc = kc;
    d->n = n;
    d->m = d->v = NULL;
    return yt_kc_malloc((void **)&d->m, n * sizeof(float), "AdamW moments", e) ||
                   yt_kc_malloc((void **)&d->v, n * sizeof(float), "AdamW moments", e)
               ? -1
               : 0;
}

void yt_adamw_cuda_free(yt_adamw_cuda *d)
{
    yt_kc_free(d->m);
    yt_kc_free(d->v);
    d->m = d->v = NULL;
}

int yt_adamw_cuda_step(yt_adamw_cuda *d, yt_adamw *a, const yt_optim_config *c, float *p,
                       const float *g, float lr, float grad_scale, yt_err *e)
{
    float bc1, bc2;
    yt_adamw_next(a, c, &bc1, &bc2);
    return yt_kc_adamw(d->kc, p, g, d->m, d->v, d->n, lr, c->beta1, c->beta2, c->eps,
                       c->weight_decay, bc1, bc2, grad_scale, e);
}

int yt_adamw_cuda_download(const yt_adamw_cuda *d, yt_adamw *a, yt_err *e)
{
    size_t bytes = d->n * sizeof(float);
    return yt_kc_download(d->kc, a->m, d->m, bytes, e) || yt_kc_download(d->kc, a->v, d->v, bytes, e)
               ? -1
               : 0;
}

int yt_adamw_cuda_upload(yt_adamw_cuda *d, const yt_adamw *a, yt_err *e)
{
    size_t bytes = d->n * sizeof(float);
    return yt_kc_upload(d->kc, d->m, a->m, bytes, e) || yt_kc_upload(d->kc, d->v, a->v, bytes, e) ? -1
                                                                                                   : 0;
}
