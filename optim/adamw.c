/* AdamW state and step; the arithmetic is kernels' yt_k_adamw. */
#include "optim/optim.h"

#include <math.h>

#include "kernels/kernels.h"

int yt_adamw_init(yt_adamw *a, size_t n, yt_err *e)
{
    a->n = n;
    a->t = 0;
    a->m = yt_alloc(n * sizeof(float), "AdamW first moments", e);
    a->v = yt_alloc(n * sizeof(float), "AdamW second moments", e);
    if (!a->m || !a->v) {
        yt_adamw_free(a);
        return -1;
    }
    return 0;
}

void yt_adamw_free(yt_adamw *a)
{
    yt_free(a->m);
    yt_free(a->v);
    a->m = a->v = NULL;
}

void yt_adamw_next(yt_adamw *a, const yt_optim_config *c, float *bc1, float *bc2)
{
    a->t++;
    *bc1 = (float)(1.0 - pow((double)c->beta1, (double)a->t));
    *bc2 = (float)(1.0 - pow((double)c->beta2, (double)a->t));
}

void yt_adamw_step(yt_adamw *a, const yt_optim_config *c, float *p, const float *g, float lr,
                   float grad_scale)
{
    float bc1, bc2;
    yt_adamw_next(a, c, &bc1, &bc2);
    yt_k_adamw(p, g, a->m, a->v, a->n, lr, c->beta1, c->beta2, c->eps, c->weight_decay, bc1, bc2,
               grad_scale);
}
