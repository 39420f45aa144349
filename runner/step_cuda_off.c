/* --device cuda in a build without CUDA: refused at start, naming the
 * configure option (the twin of step_cuda.c). */
#include <stdio.h>

#include "runner/step.h"

const yt_step_ops *yt_step_cuda(yt_err *e)
{
    yt_errf(e, "--device cuda: this yieldtune was built without CUDA (configure --with-cuda "
               "[--with-nccl])");
    return NULL;
}

void yt_step_describe_gpu(char *buf, size_t cap) { snprintf(buf, cap, "CUDA no (configure --with-cuda)"); }
