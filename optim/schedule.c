/* Learning-rate schedules and clipping factor. */
#include "optim/optim.h"

#include <math.h>

float yt_lr_at(const yt_optim_config *c, long step)
{
    if (c->warmup > 0 && step < c->warmup)
        return c->lr * (float)(step + 1) / (float)c->warmup;
    if (c->schedule == YT_SCHED_CONSTANT)
        return c->lr;
    long span = c->total_steps - c->warmup;
    double progress = span > 0 ? (double)(step - c->warmup) / (double)span : 1.0;
    if (progress > 1.0)
        progress = 1.0;
    if (progress < 0.0)
        progress = 0.0;
    double floor = (double)c->min_lr_ratio;
    double f = floor + (1.0 - floor) * 0.5 * (1.0 + cos(3.14159265358979323846 * progress));
    return (float)((double)c->lr * f);
}

float yt_clip_factor(double grad_norm, float clip)
{
    if (clip <= 0 || !(grad_norm > clip))
        return 1.0f;
    return (float)((double)clip / (grad_norm + 1e-6));
}
