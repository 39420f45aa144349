/* Choosing the step backend of a device (step.h).  Apart from step.c: the
 * backends call step.c's shared bookkeeping, so the choice of them sits above
 * both. */
#include "runner/step.h"

#include <string.h>

#include "runner/train_options.h"

int yt_step_prepare(yt_step *s, const yt_train_opts *o, yt_err *e)
{
    memset(s, 0, sizeof *s);
    s->ops = o->device == YT_DEVICE_CPU ? &yt_step_cpu_ops : yt_step_cuda(e);
    if (!s->ops)
        return -1;
    return s->ops->check ? s->ops->check(o, e) : 0;
}
