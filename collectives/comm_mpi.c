/* The MPI backend of the communicator.  Every call adds the time it spent
 * inside MPI to c->seconds. */
#include "collectives/comm_internal.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct yt_comm_reqs {
    yt_comm *c;
    MPI_Request *req;
    int cap, n;
};

static int mpi_err(yt_err *e, int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return yt_errf(e, "MPI %s failed: %s", what, msg);
}

/* Wraps an MPI call: times it and turns its code into 0 / -1 + message. */
#define TIMED(c, what, call)                                                                       \
    do {                                                                                           \
        double t0_ = yt_now();                                                                     \
        int rc_ = (call);                                                                          \
        (c)->seconds += yt_now() - t0_;                                                            \
        if (rc_ != MPI_SUCCESS)                                                                    \
            return mpi_err(e, rc_, what);                                                          \
    } while (0)

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
    MPI_Comm_set_errhandler(c->node, MPI_ERRORS_RETURN);
    MPI_Comm_rank(c->node, &c->local_rank);
    MPI_Comm_size(c->node, &c->local_size);
    c->counts = yt_alloc(sizeof(int) * (size_t)c->size, "communicator counts", e);
    c->displs = yt_alloc(sizeof(int) * (size_t)c->size, "communicator displacements", e);
    if (!c->counts || !c->displs) {
        yt_comm_finalize(c);
        return -1;
    }
    *out = c;
    return 0;
}

void yt_comm_finalize(yt_comm *c)
{
    if (!c)
        return;
    /* NCCL first: its communicator is torn down while every rank is still here
     * and the CUDA context is alive (MPI is not needed for it). */
    yt_comm_dev_free(c);
    for (int i = c->n_win - 1; i >= 0; i--)
        MPI_Win_free(&c->win[i]);
    MPI_Comm_free(&c->node);
    if (c->we_initialized)
        MPI_Finalize();
    yt_free(c->counts);
    yt_free(c->displs);
    yt_free(c);
}

_Noreturn void yt_comm_abort(yt_comm *c, int code)
{
    MPI_Abort(c ? c->world : MPI_COMM_WORLD, code);
    _exit(code); /* MPI_Abort is not declared noreturn */
}

int yt_comm_rank(const yt_comm *c) { return c->rank; }
int yt_comm_size(const yt_comm *c) { return c->size; }
int yt_comm_local_rank(const yt_comm *c) { return c->local_rank; }
int yt_comm_local_size(const yt_comm *c) { return c->local_size; }
double yt_comm_seconds(const yt_comm *c) { return c->seconds; }

int yt_comm_allreduce_f32(yt_comm *c, float *buf, size_t n, yt_err *e)
{
    if (c->size == 1)
        return 0;
    while (n > 0) {
        int cnt = n > INT_MAX ? INT_MAX : (int)n;
        TIMED(c, "all-reduce", MPI_Allreduce(MPI_IN_PLACE, buf, cnt, MPI_FLOAT, MPI_SUM, c->world));
        buf += cnt;
        n -= (size_t)cnt;
    }
    return 0;
}

int yt_comm_allreduce_f64(yt_comm *c, double *buf, size_t n, yt_err *e)
{
    if (c->size == 1)
        return 0;
    if (n > INT_MAX)
        return yt_errf(e, "all-reduce of %zu doubles: too many for one call", n);
    TIMED(c, "all-reduce", MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, c->world));
    return 0;
}

int yt_comm_bcast(yt_comm *c, void *buf, size_t bytes, int root, yt_err *e)
{
    if (c->size == 1)
        return 0;
    char *p = buf;
    while (bytes > 0) {
        int cnt = bytes > INT_MAX ? INT_MAX : (int)bytes;
        TIMED(c, "broadcast", MPI_Bcast(p, cnt, MPI_BYTE, root, c->world));
        p += cnt;
        bytes -= (size_t)cnt;
    }
    return 0;
}

int yt_comm_allgather(yt_comm *c, const void *mine, size_t bytes, void *all, yt_err *e)
{
    if (c->size == 1 || bytes == 0) {
        if (bytes)
            memmove(all, mine, bytes);
        return 0;
    }
    if (bytes > INT_MAX)
        return yt_errf(e, "all-gather of %zu bytes per rank: too many for one call", bytes);
    TIMED(c, "all-gather", MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, c->world));
    return 0;
}

int yt_comm_any(yt_comm *c, int flag, int *any, yt_err *e)
{
    int in = flag != 0, outv = in;
    if (c->size > 1)
        TIMED(c, "agreement", MPI_Allreduce(&in, &outv, 1, MPI_INT, MPI_LOR, c->world));
    *any = outv;
    return 0;
}

int yt_comm_failed_ranks(yt_comm *c, int ok)
{
    int bad = ok ? 0 : 1, total = bad;
    if (c->size == 1)
        return total;
    double t0 = yt_now();
    int rc = MPI_Allreduce(&bad, &total, 1, MPI_INT, MPI_SUM, c->world);
    c->seconds += yt_now() - t0;
    return rc == MPI_SUCCESS ? total : c->size;
}

/* ---- asynchronous sums ---- */

int yt_comm_reqs_create(yt_comm *c, int cap, yt_comm_reqs **out, yt_err *e)
{
    *out = NULL;
    yt_comm_reqs *r = yt_alloc(sizeof *r, "request set", e);
    if (!r)
        return -1;
    r->c = c;
    r->cap = cap > 0 ? cap : 1;
    r->req = yt_alloc(sizeof(MPI_Request) * (size_t)r->cap, "requests", e);
    if (!r->req) {
        yt_free(r);
        return -1;
    }
    for (int i = 0; i < r->cap; i++)
        r->req[i] = MPI_REQUEST_NULL;
    *out = r;
    return 0;
}

void yt_comm_reqs_free(yt_comm_reqs *r)
{
    if (!r)
        return;
    if (r->n > 0)
        MPI_Waitall(r->n, r->req, MPI_STATUSES_IGNORE);
    yt_free(r->req);
    yt_free(r);
}

int yt_comm_iallreduce_f32(yt_comm_reqs *r, float *buf, size_t n, yt_err *e)
{
    yt_comm *c = r->c;
    if (c->size == 1 || n == 0)
        return 0;
    if (n > INT_MAX)
        return yt_errf(e, "asynchronous all-reduce of %zu floats: too many for one request", n);
    if (r->n >= r->cap)
        return yt_errf(e, "asynchronous all-reduce: more than %d in flight", r->cap);
    TIMED(c, "asynchronous all-reduce (start)",
          MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, c->world, &r->req[r->n]));
    r->n++;
    return 0;
}

int yt_comm_reqs_test(yt_comm_reqs *r, int *done, yt_err *e)
{
    int flag = 1;
    if (r->n > 0)
        TIMED(r->c, "asynchronous all-reduce (test)", MPI_Testall(r->n, r->req, &flag, MPI_STATUSES_IGNORE));
    if (done)
        *done = flag;
    return 0;
}

int yt_comm_reqs_wait(yt_comm_reqs *r, yt_err *e)
{
    int n = r->n;
    r->n = 0;
    if (n > 0)
        TIMED(r->c, "asynchronous all-reduce (wait)", MPI_Waitall(n, r->req, MPI_STATUSES_IGNORE));
    return 0;
}

int yt_comm_reqs_pending(const yt_comm_reqs *r) { return r->n; }

/* ---- sharded buffers ---- */

/* counts -> int counts and displacements; fails when a piece or an offset does not fit an int. */
static int int_counts(yt_comm *c, const size_t *counts, const char *what, yt_err *e)
{
    size_t off = 0;
    for (int r = 0; r < c->size; r++) {
        if (counts[r] > INT_MAX || off > INT_MAX)
            return yt_errf(e, "%s: %zu floats at offset %zu for rank %d: too many for one call", what,
                           counts[r], off, r);
        c->counts[r] = (int)counts[r];
        c->displs[r] = (int)off;
        off += counts[r];
    }
    return 0;
}

int yt_comm_reduce_scatter_f32(yt_comm *c, const float *in, float *out, const size_t *counts,
                               yt_err *e)
{
    if (c->size == 1) {
        memmove(out, in, counts[0] * sizeof(float));
        return 0;
    }
    if (int_counts(c, counts, "reduce-scatter", e))
        return -1;
    TIMED(c, "reduce-scatter", MPI_Reduce_scatter(in, out, c->counts, MPI_FLOAT, MPI_SUM, c->world));
    return 0;
}

int yt_comm_allgather_f32(yt_comm *c, float *buf, const size_t *counts, yt_err *e)
{
    if (c->size == 1)
        return 0;
    if (int_counts(c, counts, "all-gather", e))
        return -1;
    TIMED(c, "all-gather", MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, c->counts, c->displs,
                                          MPI_FLOAT, c->world));
    return 0;
}

int yt_comm_gather_f32(yt_comm *c, const float *piece, float *full, const size_t *counts, int root,
                       yt_err *e)
{
    if (c->size == 1) {
        memmove(full, piece, counts[0] * sizeof(float));
        return 0;
    }
    if (int_counts(c, counts, "gather", e))
        return -1;
    TIMED(c, "gather", MPI_Gatherv(piece, c->counts[c->rank], MPI_FLOAT, full, c->counts, c->displs,
                                   MPI_FLOAT, root, c->world));
    return 0;
}

int yt_comm_scatter_f32(yt_comm *c, const float *full, float *piece, const size_t *counts, int root,
                        yt_err *e)
{
    if (c->size == 1) {
        memmove(piece, full, counts[0] * sizeof(float));
        return 0;
    }
    if (int_counts(c, counts, "scatter", e))
        return -1;
    TIMED(c, "scatter", MPI_Scatterv(full, c->counts, c->displs, MPI_FLOAT, piece, c->counts[c->rank],
                                     MPI_FLOAT, root, c->world));
    return 0;
}

/* ---- node-shared memory ---- */

int yt_comm_node_shared(yt_comm *c, size_t bytes, void **mem, yt_err *e)
{
    *mem = NULL;
    /* Every rank takes part even when there is nothing to share, so that all
     * ranks make the same calls. */
    double t0 = yt_now();
    int ok = 1, rc = MPI_SUCCESS;
    char why[MPI_MAX_ERROR_STRING] = "";
    MPI_Win win = MPI_WIN_NULL;
    if (bytes > 0 && c->n_win >= YT_COMM_MAX_WINDOWS) {
        ok = 0;
        snprintf(why, sizeof why, "more than %d shared segments", YT_COMM_MAX_WINDOWS);
    }
    /* All local ranks must agree on bytes (the caller checked); only local rank 0 holds memory. */
    int all_ok = ok;
    if (c->size > 1)
        MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, c->world);
    if (!all_ok) {
        c->seconds += yt_now() - t0;
        return yt_errf(e, "node-shared memory of %zu bytes: %s", bytes, why[0] ? why : "failed on another rank");
    }
    if (bytes == 0) {
        c->seconds += yt_now() - t0;
        return 0;
    }
    void *base = NULL;
    MPI_Aint mine = c->local_rank == 0 ? (MPI_Aint)bytes : 0;
    rc = MPI_Win_allocate_shared(mine, 1, MPI_INFO_NULL, c->node, &base, &win);
    if (rc == MPI_SUCCESS) {
        MPI_Aint size = 0;
        int disp = 0;
        rc = MPI_Win_shared_query(win, 0, &size, &disp, &base);
        if (rc == MPI_SUCCESS && (size_t)size < bytes)
            rc = MPI_ERR_SIZE;
    }
    ok = rc == MPI_SUCCESS;
    if (!ok) {
        int len = 0;
        MPI_Error_string(rc, why, &len);
    }
    all_ok = ok;
    if (c->size > 1)
        MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, c->world);
    c->seconds += yt_now() - t0;
    if (!all_ok)
        /* A window made on some ranks only cannot be freed collectively: leave it. */
        return yt_errf(e, "node-shared memory of %zu bytes (MPI_Win_allocate_shared): %s", bytes,
                       why[0] ? why : "failed on another rank");
    c->win[c->n_win++] = win;
    *mem = base;
    return 0;
}
