/* optim/: AdamW over a flat parameter buffer, learning-rate schedules, global-norm
 * clipping.  Knows nothing of models or files: it sees float spans.
 * Gradient accumulation is the caller summing micro-batch gradients (with the
 * loss already weighted by 1/global-token-count) before one yt_adamw_step. */
#ifndef YT_OPTIM_H
#define YT_OPTIM_H

#include <stddef.h>

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
/* One update of p[0..n) from g[0..n) times grad_scale. */
void yt_adamw_step(yt_adamw *a, const yt_optim_config *c, float *p, const float *g, float lr,
                   float grad_scale);

#endif
