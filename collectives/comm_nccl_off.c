/* The device backend in a build without NCCL: yt_comm_has_nccl() says 0 and
 * every other call fails saying how to get NCCL (collectives.h). */
#include "collectives/comm_internal.h"

#define YT_NO_NCCL "this yieldtune was built without NCCL (configure --with-cuda --with-nccl)"

int yt_comm_has_nccl(void) { return 0; }

int yt_comm_dev_init(yt_comm *c, void *compute_stream, int one_rank, yt_err *e)
{
    (void)c;
    (void)compute_stream;
    (void)one_rank;
    return yt_errf(e, "NCCL communicator (yt_comm_dev_init): " YT_NO_NCCL);
}

int yt_comm_dev_allreduce_start(yt_comm *c, float *buf, size_t n, yt_err *e)
{
    (void)c;
    (void)buf;
    return yt_errf(e, "NCCL all-reduce of %zu floats: " YT_NO_NCCL, n);
}

int yt_comm_dev_reduce_scatter_start(yt_comm *c, const float *in, float *out, size_t count,
                                     yt_err *e)
{
    (void)in;
    (void)out;
    return yt_errf(e, "NCCL reduce-scatter of %d x %zu floats: " YT_NO_NCCL, c ? c->size : 0, count);
}

int yt_comm_dev_allgather_start(yt_comm *c, float *buf, size_t count, yt_err *e)
{
    (void)buf;
    return yt_errf(e, "NCCL all-gather of %d x %zu floats: " YT_NO_NCCL, c ? c->size : 0, count);
}

int yt_comm_dev_join(yt_comm *c, yt_err *e)
{
    (void)c;
    return yt_errf(e, "NCCL join: " YT_NO_NCCL);
}

double yt_comm_dev_last_wait_ms(yt_comm *c)
{
    (void)c;
    return 0.0;
}

void yt_comm_dev_free(yt_comm *c) { (void)c; }
