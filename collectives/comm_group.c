/* Groups of consecutive ranks and their asynchronous all-gathers
 * (collectives.h, "groups").  Each handle keeps its own counts and
 * displacements: MPI reads them until the gather completes. */
#include "collectives/comm_internal.h"

#include <limits.h>
#include <string.h>

typedef struct gather {
    MPI_Request req;
    int active;        /* started, not yet waited for */
    int seen_done;     /* a test saw it complete */
    double t0, t1;     /* start; completion seen */
} gather;

struct yt_comm_group {
    yt_comm *c;
    MPI_Comm comm;
    MPI_Datatype block;  /* 64 contiguous bytes */
    int rank, size, cap;
    gather *g;
    int *counts, *displs; /* [cap][size] */
    double inflight, waited;
};

static int mpi_fail(yt_err *e, int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return yt_errf(e, "MPI %s failed: %s", what, msg);
}

int yt_comm_group_create(yt_comm *c, int size, int cap, yt_comm_group **out, yt_err *e)
{
    *out = NULL;
    if (size < 1 || c->size % size != 0)
        return yt_errf(e, "a group of %d ranks does not divide %d ranks", size, c->size);
    yt_comm_group *g = yt_alloc(sizeof *g, "rank group", e);
    if (!g)
        return -1;
    g->c = c;
    g->cap = cap > 0 ? cap : 1;
    g->comm = MPI_COMM_NULL;
    g->block = MPI_DATATYPE_NULL;
    double t0 = yt_now();
    int rc = MPI_Comm_split(c->world, c->rank / size, c->rank, &g->comm);
    c->seconds += yt_now() - t0;
    if (rc != MPI_SUCCESS) {
        yt_free(g);
        return mpi_fail(e, rc, "communicator split for a rank group");
    }
    MPI_Comm_set_errhandler(g->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(g->comm, &g->rank);
    MPI_Comm_size(g->comm, &g->size);
    MPI_Type_contiguous(64, MPI_BYTE, &g->block);
    MPI_Type_commit(&g->block);
    g->g = yt_alloc(sizeof(gather) * (size_t)g->cap, "gather handles", e);
    g->counts = yt_alloc(sizeof(int) * (size_t)g->cap * (size_t)g->size, "gather counts", e);
    g->displs = yt_alloc(sizeof(int) * (size_t)g->cap * (size_t)g->size, "gather counts", e);
    if (!g->g || !g->counts || !g->displs) {
        yt_comm_group_free(g);
        return -1;
    }
    for (int i = 0; i < g->cap; i++)
        g->g[i].req = MPI_REQUEST_NULL;
    *out = g;
    return 0;
}

void yt_comm_group_free(yt_comm_group *g)
{
    if (!g)
        return;
    for (int i = 0; g->g && i < g->cap; i++)
        if (g->g[i].active && g->g[i].req != MPI_REQUEST_NULL)
            MPI_Wait(&g->g[i].req, MPI_STATUS_IGNORE);
    if (g->block != MPI_DATATYPE_NULL)
        MPI_Type_free(&g->block);
    if (g->comm != MPI_COMM_NULL)
        MPI_Comm_free(&g->comm);
    yt_free(g->g);
    yt_free(g->counts);
    yt_free(g->displs);
    yt_free(g);
}

int yt_comm_group_rank(const yt_comm_group *g) { return g->rank; }
int yt_comm_group_size(const yt_comm_group *g) { return g->size; }

int yt_comm_group_iallgatherv(yt_comm_group *g, const void *mine, void *all, const size_t *counts,
                              yt_err *e)
{
    int h = 0;
    while (h < g->cap && g->g[h].active)
        h++;
    if (h == g->cap)
        return yt_errf(e, "all-gather: more than %d in flight", g->cap);
    gather *x = &g->g[h];
    x->t0 = yt_now();
    x->seen_done = 0;
    x->req = MPI_REQUEST_NULL;
    if (g->size == 1) {
        memcpy(all, mine, counts[0]);
        x->active = 1;
        x->seen_done = 1;
        x->t1 = yt_now();
        return h;
    }
    /* In 64-byte blocks when every piece allows it (pieces past 2 GiB). */
    size_t unit = 64, off = 0;
    for (int r = 0; r < g->size; r++)
        if (counts[r] % 64)
            unit = 1;
    int *cnt = g->counts + (size_t)h * g->size, *dis = g->displs + (size_t)h * g->size;
    for (int r = 0; r < g->size; r++) {
        if (counts[r] / unit > INT_MAX || off / unit > INT_MAX)
            return yt_errf(e, "all-gather: %zu bytes at offset %zu for group rank %d: too many for one "
                              "call", counts[r], off, r);
        cnt[r] = (int)(counts[r] / unit);
        dis[r] = (int)(off / unit);
        off += counts[r];
    }
    MPI_Datatype t = unit == 64 ? g->block : MPI_BYTE;
    int rc = MPI_Iallgatherv(mine, cnt[g->rank], t, all, cnt, dis, t, g->comm, &x->req);
    if (rc != MPI_SUCCESS)
        return mpi_fail(e, rc, "asynchronous all-gather (start)");
    x->active = 1;
    return h;
}

int yt_comm_group_test(yt_comm_group *g, yt_err *e)
{
    for (int h = 0; h < g->cap; h++) {
        gather *x = &g->g[h];
        if (!x->active || x->seen_done)
            continue;
        int flag = 0;
        int rc = MPI_Test(&x->req, &flag, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return mpi_fail(e, rc, "asynchronous all-gather (test)");
        if (flag) {
            x->seen_done = 1;
            x->t1 = yt_now();
        }
    }
    return 0;
}

int yt_comm_group_wait(yt_comm_group *g, int h, yt_err *e)
{
    if (h < 0 || h >= g->cap || !g->g[h].active)
        return yt_errf(e, "all-gather: wait for handle %d, which is not in flight", h);
    gather *x = &g->g[h];
    x->active = 0;
    if (!x->seen_done) {
        double t0 = yt_now();
        int rc = MPI_Wait(&x->req, MPI_STATUS_IGNORE);
        x->t1 = yt_now();
        g->waited += x->t1 - t0;
        if (rc != MPI_SUCCESS)
            return mpi_fail(e, rc, "asynchronous all-gather (wait)");
    }
    g->inflight += x->t1 - x->t0;
    return 0;
}

void yt_comm_group_times(const yt_comm_group *g, double *inflight_s, double *waited_s)
{
    *inflight_s = g->inflight;
    *waited_s = g->waited;
}
