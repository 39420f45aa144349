/* tests/emu/emu_comm.c: the device collectives of collectives.h
 * (yt_comm_dev_*) for the emulated GPU, over MPI through host staging.
 *
 * Why not the "--gpu-comm mpi" path alone: this is the path NCCL takes in
 * runner/train_gpu.c (a sum started per layer from the backward pass, one
 * join, the fallback when no layer started one), and its contract has a rule
 * the emulator can enforce: a buffer belongs to the collective from its start
 * to the next join.  So a start copies the buffer into host staging, starts a
 * non-blocking MPI collective on a duplicate of the world communicator (as
 * NCCL has a communicator of its own), and holds the device range (emu_hold):
 * any emulated call that touches it before the join is refused.  The join
 * waits for the MPI requests and writes the results back.  With one rank no
 * communicator is made (as comm_nccl.c does): the starts still hold their
 * buffers until the join.  Like comm_nccl.c, init refuses two ranks of a node
 * on the same (emulated) device.  Everything else of NCCL (streams, events,
 * asynchronous errors, the exposed-wait timing: always 0 here) is not
 * modelled. */
#include "collectives/comm_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/emu/emu.h"

typedef struct emu_coll {
    MPI_Request req;
    float *stage, *stage_out; /* host staging (stage_out: the reduce-scatter's piece) */
    float *dst;               /* where the result lands at the join */
    size_t dst_count;
    const float *held[2];
} emu_coll;

struct yt_nccl {
    MPI_Comm comm; /* MPI_COMM_NULL with one rank */
    int n, cap;
    emu_coll *q;
};

int yt_comm_has_nccl(void) { return 1; }

static int mpi_fail(yt_err *e, int rc, const char *what, const char *call)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return yt_errf(e, "%s: %s failed: %s", what, call, msg);
}

#define INIT_WHAT "NCCL communicator (yt_comm_dev_init, emulated)"

int yt_comm_dev_init(yt_comm *c, void *compute_stream, int one_rank, yt_err *e)
{
    if (c->nccl)
        return yt_errf(e, INIT_WHAT ": called twice");
    double t0 = yt_now();
    int ok = 1;
    if (compute_stream && !emu_stream_valid(compute_stream))
        ok = 0, yt_errf(e, INIT_WHAT ": the compute stream is not a live context's");
    int dev = emu_current_device();
    if (ok && dev < 0)
        ok = 0, yt_errf(e, INIT_WHAT ": no device is current (no context was made)");
    /* NCCL refuses two ranks of a node on one GPU (comm_nccl.c). */
    int *devs = calloc((size_t)c->local_size, sizeof *devs);
    if (c->size > 1) {
        int mine = ok ? dev : -1;
        if (!devs || MPI_Allgather(&mine, 1, MPI_INT, devs, 1, MPI_INT, c->node) != MPI_SUCCESS) {
            if (ok)
                yt_errf(e, INIT_WHAT ": MPI_Allgather of the devices failed");
            ok = 0;
        }
        for (int j = 0; ok && j < c->local_size; j++)
            if (j != c->local_rank && devs[j] == dev)
                ok = 0, yt_errf(e, INIT_WHAT ": local ranks %d and %d of this node are both on "
                                   "emulated device %d: NCCL needs a GPU of its own for each rank",
                                j < c->local_rank ? j : c->local_rank,
                                j < c->local_rank ? c->local_rank : j, dev);
    }
    free(devs);
    int bad = !ok, total = bad;
    if (c->size > 1 && MPI_Allreduce(&bad, &total, 1, MPI_INT, MPI_SUM, c->world) != MPI_SUCCESS && ok)
        ok = 0, yt_errf(e, INIT_WHAT ": MPI_Allreduce (agreement) failed");
    if (ok && total > 0)
        ok = 0, yt_errf(e, INIT_WHAT ": the set-up failed on %d other rank%s", total,
                        total == 1 ? "" : "s");
    struct yt_nccl *s = ok ? calloc(1, sizeof *s) : NULL;
    if (ok && !s)
        ok = 0, yt_errf(e, INIT_WHAT ": out of host memory");
    if (s) {
        s->comm = MPI_COMM_NULL;
        int rc = c->size > 1 || one_rank ? MPI_Comm_dup(c->world, &s->comm) : MPI_SUCCESS;
        if (rc != MPI_SUCCESS) {
            ok = 0;
            mpi_fail(e, rc, INIT_WHAT, "MPI_Comm_dup");
            free(s);
            s = NULL;
        }
    }
    c->nccl = ok ? s : NULL;
    c->seconds += yt_now() - t0;
    return ok ? 0 : -1;
}

static struct yt_nccl *ready(yt_comm *c, const char *what, yt_err *e)
{
    if (!c->nccl)
        yt_errf(e, "%s: the NCCL communicator was not made (yt_comm_dev_init)", what);
    return c->nccl;
}

static emu_coll *push(struct yt_nccl *s, const char *what, yt_err *e)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 32;
        emu_coll *q = realloc(s->q, (size_t)cap * sizeof *q);
        if (!q) {
            yt_errf(e, "%s: out of host memory", what);
            return NULL;
        }
        s->q = q;
        s->cap = cap;
    }
    emu_coll *x = &s->q[s->n];
    memset(x, 0, sizeof *x);
    x->req = MPI_REQUEST_NULL;
    return x;
}

/* Checks and holds a device range for the collective `what`. */
static int take(emu_coll *x, int slot, const float *p, size_t n, const char *what, yt_err *e)
{
    emu_call k; /* refused when not device memory, or held by another collective */
    emu_begin(&k, what);
    emu_arg_add(&k, "the buffer", p, n, sizeof(float), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    emu_leave(&k);
    if (emu_hold(p, n * sizeof(float), what, e))
        return -1;
    x->held[slot] = p;
    return 0;
}

static void drop(emu_coll *x)
{
    for (int i = 0; i < 2; i++)
        if (x->held[i])
            emu_release(x->held[i]);
    free(x->stage);
    free(x->stage_out);
}

static int start(yt_comm *c, struct yt_nccl *s, emu_coll *x, int rc, double t0)
{
    if (rc == 0)
        s->n++;
    else
        drop(x);
    c->seconds += yt_now() - t0;
    return rc;
}

int yt_comm_dev_allreduce_start(yt_comm *c, float *buf, size_t n, yt_err *e)
{
    char what[96];
    snprintf(what, sizeof what, "NCCL all-reduce of %zu floats (emulated)", n);
    struct yt_nccl *s = ready(c, what, e);
    if (!s)
        return -1;
    if (n == 0)
        return 0;
    if (!buf)
        return yt_errf(e, "%s: NULL buffer", what);
    double t0 = yt_now();
    emu_coll *x = push(s, what, e);
    if (!x)
        return -1;
    int rc = take(x, 0, buf, n, what, e);
    if (rc == 0 && s->comm != MPI_COMM_NULL) {
        x->stage = malloc(n * sizeof(float));
        if (!x->stage)
            rc = yt_errf(e, "%s: out of host memory", what);
        if (rc == 0) {
            emu_raw_read(x->stage, buf, n * sizeof(float));
            x->dst = buf;
            x->dst_count = n;
            int m = MPI_Iallreduce(MPI_IN_PLACE, x->stage, (int)n, MPI_FLOAT, MPI_SUM, s->comm, &x->req);
            if (m != MPI_SUCCESS)
                rc = mpi_fail(e, m, what, "MPI_Iallreduce");
        }
    }
    return start(c, s, x, rc, t0);
}

int yt_comm_dev_reduce_scatter_start(yt_comm *c, const float *in, float *out, size_t count,
                                     yt_err *e)
{
    char what[96];
    snprintf(what, sizeof what, "NCCL reduce-scatter of %d x %zu floats (emulated)", c->size, count);
    struct yt_nccl *s = ready(c, what, e);
    if (!s)
        return -1;
    if (count == 0)
        return 0;
    if (!in || !out)
        return yt_errf(e, "%s: NULL buffer", what);
    size_t total = (size_t)c->size * count;
    const float *mine = in + (size_t)c->rank * count;
    if (out != mine && (const float *)out < in + total && in < (const float *)out + count)
        return yt_errf(e, "%s: out overlaps in without being its piece %d (in + rank * count)", what,
                       c->rank);
    double t0 = yt_now();
    emu_coll *x = push(s, what, e);
    if (!x)
        return -1;
    int rc = take(x, 0, in, total, what, e);
    if (rc == 0 && out != mine)
        rc = take(x, 1, out, count, what, e);
    x->stage = malloc(total * sizeof(float));
    x->stage_out = malloc(count * sizeof(float));
    if (rc == 0 && (!x->stage || !x->stage_out))
        rc = yt_errf(e, "%s: out of host memory", what);
    if (rc == 0) {
        emu_raw_read(x->stage, in, total * sizeof(float));
        x->dst = out;
        x->dst_count = count;
        if (s->comm == MPI_COMM_NULL) {
            memcpy(x->stage_out, x->stage, count * sizeof(float));
        } else {
            int m = MPI_Ireduce_scatter_block(x->stage, x->stage_out, (int)count, MPI_FLOAT, MPI_SUM,
                                              s->comm, &x->req);
            if (m != MPI_SUCCESS)
                rc = mpi_fail(e, m, what, "MPI_Ireduce_scatter_block");
        }
    }
    return start(c, s, x, rc, t0);
}

int yt_comm_dev_allgather_start(yt_comm *c, float *buf, size_t count, yt_err *e)
{
    char what[96];
    snprintf(what, sizeof what, "NCCL all-gather of %d x %zu floats (emulated)", c->size, count);
    struct yt_nccl *s = ready(c, what, e);
    if (!s)
        return -1;
    if (count == 0)
        return 0;
    if (!buf)
        return yt_errf(e, "%s: NULL buffer", what);
    size_t total = (size_t)c->size * count;
    double t0 = yt_now();
    emu_coll *x = push(s, what, e);
    if (!x)
        return -1;
    int rc = take(x, 0, buf, total, what, e);
    if (rc == 0 && s->comm != MPI_COMM_NULL) {
        x->stage = malloc(total * sizeof(float));
        if (!x->stage)
            rc = yt_errf(e, "%s: out of host memory", what);
        if (rc == 0) {
            emu_raw_read(x->stage, buf, total * sizeof(float));
            x->dst = buf;
            x->dst_count = total;
            int m = MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x->stage, (int)count, MPI_FLOAT,
                                   s->comm, &x->req);
            if (m != MPI_SUCCESS)
                rc = mpi_fail(e, m, what, "MPI_Iallgather");
        }
    }
    return start(c, s, x, rc, t0);
}

/* Completes every started collective, writes the results back, releases. */
static int finish_all(struct yt_nccl *s, const char *what, yt_err *e)
{
    int rc = 0;
    for (int i = 0; i < s->n; i++) {
        emu_coll *x = &s->q[i];
        if (x->req != MPI_REQUEST_NULL) {
            int m = MPI_Wait(&x->req, MPI_STATUS_IGNORE);
            if (m != MPI_SUCCESS && rc == 0)
                rc = mpi_fail(e, m, what, "MPI_Wait");
        }
        for (int j = 0; j < 2; j++)
            if (x->held[j])
                emu_release(x->held[j]);
        x->held[0] = x->held[1] = NULL;
        if (rc == 0 && x->dst)
            emu_raw_write(x->dst, x->stage_out ? x->stage_out : x->stage, x->dst_count * sizeof(float));
        free(x->stage);
        free(x->stage_out);
    }
    s->n = 0;
    return rc;
}

int yt_comm_dev_join(yt_comm *c, yt_err *e)
{
    const char *what = "NCCL join (emulated)";
    struct yt_nccl *s = ready(c, what, e);
    if (!s)
        return -1;
    double t0 = yt_now();
    int rc = finish_all(s, what, e);
    c->seconds += yt_now() - t0;
    return rc;
}

double yt_comm_dev_last_wait_ms(yt_comm *c)
{
    (void)c;
    return 0.0;
}

void yt_comm_dev_free(yt_comm *c)
{
    if (!c || !c->nccl)
        return;
    struct yt_nccl *s = c->nccl;
    c->nccl = NULL;
    yt_err ignore;
    finish_all(s, "NCCL communicator end (emulated)", &ignore);
    if (s->comm != MPI_COMM_NULL)
        MPI_Comm_free(&s->comm);
    free(s->q);
    free(s);
}
