/* The MPI backend of the communicator. */
#include "collectives/collectives.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>

struct yt_comm {
    MPI_Comm world, node;
    int rank, size, local_rank, local_size;
    int we_initialized;
};

static int mpi_err(yt_err *e, int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return yt_errf(e, "MPI %s failed: %s", what, msg);
}

int yt_comm_init(yt_comm **out, int *argc, char ***argv, yt_err *e)
{
    *out = NULL;
    yt_comm *c = yt_alloc(sizeof *c, "communicator", e);
    if (!c)
        return -1;
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) {
            yt_free(c);
            return yt_errf(e, "MPI_Init_thread failed (code %d)", rc);
        }
        c->we_initialized = 1;
    }
    /* Errors come back as codes so that we can name what failed. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    c->world = MPI_COMM_WORLD;
    MPI_Comm_rank(c->world, &c->rank);
    MPI_Comm_size(c->world, &c->size);
    MPI_Comm_split_type(c->world, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &c->node);
    MPI_Comm_rank(c->node, &c->local_rank);
    MPI_Comm_size(c->node, &c->local_size);
    *out = c;
    return 0;
}

void yt_comm_finalize(yt_comm *c)
{
    if (!c)
        return;
    MPI_Comm_free(&c->node);
    if (c->we_initialized)
        MPI_Finalize();
    yt_free(c);
}

void yt_comm_abort(yt_comm *c, int code) { MPI_Abort(c ? c->world : MPI_COMM_WORLD, code); }

int yt_comm_rank(const yt_comm *c) { return c->rank; }
int yt_comm_size(const yt_comm *c) { return c->size; }
int yt_comm_local_rank(const yt_comm *c) { return c->local_rank; }
int yt_comm_local_size(const yt_comm *c) { return c->local_size; }

int yt_comm_allreduce_f32(yt_comm *c, float *buf, size_t n, yt_err *e)
{
    if (c->size == 1)
        return 0;
    while (n > 0) {
        int cnt = n > INT_MAX ? INT_MAX : (int)n;
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf, cnt, MPI_FLOAT, MPI_SUM, c->world);
        if (rc != MPI_SUCCESS)
            return mpi_err(e, rc, "all-reduce");
        buf += cnt;
        n -= (size_t)cnt;
    }
    return 0;
}

int yt_comm_allreduce_f64(yt_comm *c, double *buf, size_t n, yt_err *e)
{
    if (c->size == 1)
        return 0;
    int rc = MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, c->world);
    return rc == MPI_SUCCESS ? 0 : mpi_err(e, rc, "all-reduce");
}

int yt_comm_bcast(yt_comm *c, void *buf, size_t bytes, int root, yt_err *e)
{
    if (c->size == 1)
        return 0;
    int rc = MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, c->world);
    return rc == MPI_SUCCESS ? 0 : mpi_err(e, rc, "broadcast");
}

int yt_comm_any(yt_comm *c, int flag, int *any, yt_err *e)
{
    int in = flag != 0, outv = in;
    if (c->size > 1) {
        int rc = MPI_Allreduce(&in, &outv, 1, MPI_INT, MPI_LOR, c->world);
        if (rc != MPI_SUCCESS)
            return mpi_err(e, rc, "agreement");
    }
    *any = outv;
    return 0;
}

int yt_comm_failed_ranks(yt_comm *c, int ok)
{
    int bad = ok ? 0 : 1, total = bad;
    if (c->size > 1 && MPI_Allreduce(&bad, &total, 1, MPI_INT, MPI_SUM, c->world) != MPI_SUCCESS)
        return c->size;
    return total;
}
