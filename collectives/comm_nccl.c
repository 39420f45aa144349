/* The NCCL backend of the communicator: sums and gathers of device buffers
 * (the contract is "device buffers on a GPU" in collectives.h).
 *
 * One NCCL communicator over the same ranks as c->world, on each rank's
 * current CUDA device; rank 0's unique id travels by MPI_Bcast.  Every
 * collective runs on our own non-blocking stream, after an event recorded on
 * the caller's compute stream at the start; a join records an event on our
 * stream and makes the compute stream wait for it, so the host never blocks.
 * With one rank no NCCL communicator is made at all: the starts keep the same
 * stream ordering and do what is left to do (a copy for an out-of-place
 * reduce-scatter) -- unless the caller asks for one anyway (one_rank), so
 * that a machine with one GPU runs the NCCL calls too (train --gpu-comm nccl,
 * tests/integration/nccl.sh).  The host time of
 * every call is added to c->seconds. */
#define _POSIX_C_SOURCE 200809L
#include "collectives/comm_internal.h"

#include <cuda_runtime_api.h>
#include <nccl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ncclGetLastError came with NCCL 2.13. */
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 13, 0)
#define YT_NCCL_HAS_LAST_ERROR 1
#else
#define YT_NCCL_HAS_LAST_ERROR 0
#endif

/* yt_comm_dev_free waits at most this long for collectives still in flight
 * before it aborts the communicator instead of destroying it (a peer that
 * died or never posted its part would otherwise hang the exit forever). */
#define YT_NCCL_DRAIN_SECONDS 60.0

struct yt_nccl {
    ncclComm_t comm;        /* NULL with one rank */
    cudaStream_t compute;   /* the caller's compute stream (NULL: the legacy default stream) */
    cudaStream_t stream;    /* ours: every collective runs here */
    cudaEvent_t ordered;    /* compute -> ours at each start (no timing) */
    cudaEvent_t at_compute; /* the last join: where the compute stream was ... */
    cudaEvent_t at_comm;    /* ... and where our stream was (the compute stream waits for it) */
    int device;
    int pending;            /* starts since the last join */
    int timed;              /* the last join recorded at_compute / at_comm */
    int measured;           /* last_ms holds their difference */
    double last_ms;
    int failed;             /* NCCL reported an asynchronous error: unusable */
};

int yt_comm_has_nccl(void) { return 1; }

/* ---- messages ---- */

/* "what: call failed: CUDA's words (name)".  Clears the runtime's last-error
 * state so that a non-sticky error of ours is not blamed on the next kernel
 * launch that checks cudaGetLastError. */
static int cuda_fail(yt_err *e, cudaError_t ce, const char *what, const char *call)
{
    (void)cudaGetLastError();
    return yt_errf(e, "%s: %s failed: %s (%s)", what, call, cudaGetErrorString(ce), cudaGetErrorName(ce));
}

/* "what: call failed: NCCL's words; NCCL's last message: ...".  The last
 * message (NCCL >= 2.13; comm is unused by NCCL and may be NULL) says which
 * peer, device or transport failed, but it may also be older than this call. */
static int nccl_fail(yt_err *e, ncclComm_t comm, ncclResult_t r, const char *what, const char *call,
                     const char *hint)
{
    char last[512] = "";
#if YT_NCCL_HAS_LAST_ERROR
    const char *l = ncclGetLastError(comm);
    if (l)
        snprintf(last, sizeof last, "%s", l);
    for (size_t n = strlen(last); n > 0 && (last[n - 1] == '\n' || last[n - 1] == ' '); n--)
        last[n - 1] = '\0';
#else
    (void)comm;
#endif
    return yt_errf(e, "%s: %s failed: %s%s%s%s", what, call, ncclGetErrorString(r),
                   last[0] ? "; NCCL's last message: " : "", last, hint ? hint : "");
}

static int mpi_fail(yt_err *e, int rc, const char *what, const char *call)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return yt_errf(e, "%s: %s failed: %s", what, call, msg);
}

#define INIT_WHAT "NCCL communicator (yt_comm_dev_init)"
#define INIT_HINT " (run with NCCL_DEBUG=WARN for NCCL's own account of it, NCCL_DEBUG=INFO for more)"

/* ---- NCCL_PROXY_DUMP_SIGNAL ----
 * With NCCL_PROXY_DUMP_SIGNAL=N, NCCL's proxy thread calls signal(N, ...) to
 * dump its state on signal N.  yieldtune's yield signals (SIGUSR1, SIGTERM,
 * ...: runner/yield.c blocks them in every thread and takes them in one
 * sigwait thread) must reach that thread; a handler is process-wide, so any
 * thread that has N unblocked (or a moment when the sigwait thread is not
 * waiting) hands the signal to NCCL's dump instead, and the run ignores the
 * scheduler's request to yield.  We refuse to start
 * rather than unset the variable: (1) someone set it on purpose, to debug a
 * hang, and silently dropping it would leave them wondering why no dump
 * comes; (2) unsetenv is not safe once MPI has started its threads, which may
 * read the environment; (3) NCCL also takes variables from ~/.nccl.conf and
 * /etc/nccl.conf, which it reads after our check (the NCCL versions we know
 * copy them into the environment with setenv, without overwriting), so
 * unsetting could not keep it out anyway: we look again once the communicator
 * exists, and fail then (too late to stop the handler, early enough that no
 * step has run).
 * Unset, empty and -1 (NCCL's default: no handler) are fine. */
static int check_dump_signal(const char *when, yt_err *e)
{
    const char *v = getenv("NCCL_PROXY_DUMP_SIGNAL");
    if (!v || !v[0] || strcmp(v, "-1") == 0)
        return 0;
    return yt_errf(e,
                   INIT_WHAT ": NCCL_PROXY_DUMP_SIGNAL=%s is set%s: NCCL's proxy thread would install "
                   "a process-wide handler for signal %s, which can take it from yieldtune's yield "
                   "signals (--yield-signals: SIGUSR1, SIGTERM, ..., which must reach its signal "
                   "thread), so a request to yield could be lost; unset NCCL_PROXY_DUMP_SIGNAL (or set "
                   "it to -1) in the environment, ~/.nccl.conf and /etc/nccl.conf",
                   v, when, v);
}

/* ---- set-up and tear-down ---- */

/* Waits (polling, without blocking in CUDA) until our stream is idle: 0 when
 * it is, -1 when a CUDA error, an NCCL asynchronous error or the deadline came
 * first. */
static int drain(struct yt_nccl *s, double seconds)
{
    double t0 = yt_now();
    for (;;) {
        cudaError_t q = cudaStreamQuery(s->stream);
        if (q == cudaSuccess)
            return 0;
        if (q != cudaErrorNotReady) {
            (void)cudaGetLastError();
            return -1;
        }
        if (s->comm) {
            ncclResult_t a = ncclSuccess;
            if (ncclCommGetAsyncError(s->comm, &a) != ncclSuccess || (a != ncclSuccess && a != ncclInProgress))
                return -1;
        }
        if (yt_now() - t0 > seconds)
            return -1;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

/* Frees what exists of s.  abort: the communicator may be broken or exist on
 * some ranks only (ncclCommAbort is local and stops its kernels). */
static void destroy(struct yt_nccl *s, int abort)
{
    if (!s)
        return;
    if (s->stream && drain(s, abort ? 0.0 : YT_NCCL_DRAIN_SECONDS) != 0)
        abort = 1;
    if (s->comm) {
        if (abort || s->failed)
            (void)ncclCommAbort(s->comm);
        else
            (void)ncclCommDestroy(s->comm); /* nobody to tell when it fails: we are ending */
        s->comm = NULL;
    }
    if (s->at_comm)
        cudaEventDestroy(s->at_comm);
    if (s->at_compute)
        cudaEventDestroy(s->at_compute);
    if (s->ordered)
        cudaEventDestroy(s->ordered);
    if (s->stream)
        cudaStreamDestroy(s->stream);
    (void)cudaGetLastError();
    yt_free(s);
}

/* The local half of init: the device, our stream (highest priority, so that
 * the few blocks of a collective get onto the SMs ahead of queued compute
 * blocks), the events. */
static int setup_local(struct yt_nccl *s, void *compute_stream, yt_err *e)
{
    cudaError_t ce;
    s->compute = (cudaStream_t)compute_stream;
    if ((ce = cudaGetDevice(&s->device)) != cudaSuccess)
        return cuda_fail(e, ce, INIT_WHAT, "cudaGetDevice");
    int least = 0, greatest = 0;
    if ((ce = cudaDeviceGetStreamPriorityRange(&least, &greatest)) != cudaSuccess)
        return cuda_fail(e, ce, INIT_WHAT, "cudaDeviceGetStreamPriorityRange");
    if ((ce = cudaStreamCreateWithPriority(&s->stream, cudaStreamNonBlocking, greatest)) != cudaSuccess)
        return cuda_fail(e, ce, INIT_WHAT, "cudaStreamCreateWithPriority");
    if ((ce = cudaEventCreateWithFlags(&s->ordered, cudaEventDisableTiming)) != cudaSuccess)
        return cuda_fail(e, ce, INIT_WHAT, "cudaEventCreateWithFlags");
    if ((ce = cudaEventCreateWithFlags(&s->at_compute, cudaEventDefault)) != cudaSuccess)
        return cuda_fail(e, ce, INIT_WHAT, "cudaEventCreateWithFlags");
    if ((ce = cudaEventCreateWithFlags(&s->at_comm, cudaEventDefault)) != cudaSuccess)
        return cuda_fail(e, ce, INIT_WHAT, "cudaEventCreateWithFlags");
    return 0;
}

/* Collective over the node: fails (on every rank of the node that has a
 * device) when two ranks of this node are on the same GPU, compared by PCI
 * bus id so that CUDA_VISIBLE_DEVICES cannot hide it.  NCCL does not support
 * that and may hang rather than say so. */
static int distinct_devices(yt_comm *c, struct yt_nccl *s, int ok, yt_err *e)
{
    enum { ID = 32 };
    char (*all)[ID] = yt_alloc((size_t)c->local_size * ID, "the node's PCI bus ids", e);
    if (!all) /* cannot take part: the node's other ranks would wait for us forever */
        MPI_Abort(c->world, 1);
    char mine[ID];
    memset(mine, 0, sizeof mine);
    if (ok) {
        cudaError_t ce = cudaDeviceGetPCIBusId(mine, ID, s->device);
        if (ce != cudaSuccess) {
            cuda_fail(e, ce, INIT_WHAT, "cudaDeviceGetPCIBusId");
            ok = 0;
            memset(mine, 0, sizeof mine);
        }
    }
    /* Every rank of the node takes part, even one that failed. */
    int rc = MPI_Allgather(mine, ID, MPI_CHAR, all, ID, MPI_CHAR, c->node);
    int found = -1;
    for (int j = 0; ok && rc == MPI_SUCCESS && j < c->local_size && found < 0; j++)
        if (j != c->local_rank && strncmp(all[j], mine, ID) == 0)
            found = j;
    yt_free(all);
    if (!ok)
        return -1;
    if (rc != MPI_SUCCESS)
        return mpi_fail(e, rc, INIT_WHAT, "MPI_Allgather of the PCI bus ids");
    int j = found;
    if (j >= 0)
        return yt_errf(e,
                       INIT_WHAT ": local ranks %d and %d of this node are both on the GPU at PCI %s "
                       "(CUDA device %d here): NCCL needs a GPU of its own for each rank; start at "
                       "most as many ranks per node as there are GPUs",
                       j < c->local_rank ? j : c->local_rank, j < c->local_rank ? c->local_rank : j,
                       mine, s->device);
    return 0;
}

/* Every rank learns whether every rank got through `step`: 0 when all did.
 * A rank that failed keeps its own message; the others say where it failed. */
static int agree(yt_comm *c, int ok, const char *step, yt_err *e)
{
    int bad = ok ? 0 : 1, total = bad;
    if (c->size > 1) {
        int rc = MPI_Allreduce(&bad, &total, 1, MPI_INT, MPI_SUM, c->world);
        if (rc != MPI_SUCCESS && ok)
            return mpi_fail(e, rc, INIT_WHAT, "MPI_Allreduce (agreement)");
    }
    if (!ok)
        return -1;
    if (total > 0)
        return yt_errf(e, INIT_WHAT ": %s failed on %d other rank%s (see %s message)", step, total,
                       total == 1 ? "" : "s", total == 1 ? "its" : "their");
    return 0;
}

int yt_comm_dev_init(yt_comm *c, void *compute_stream, int one_rank, yt_err *e)
{
    if (c->nccl)
        return yt_errf(e, INIT_WHAT ": called twice");
    double t0 = yt_now();
    /* Local set-up first, and every rank agrees before anything collective. */
    struct yt_nccl *s = yt_alloc(sizeof *s, "NCCL communicator state", e);
    int ok = s != NULL && check_dump_signal("", e) == 0 && setup_local(s, compute_stream, e) == 0;
    if (c->size > 1 && distinct_devices(c, s, ok, e))
        ok = 0;
    if (agree(c, ok, "the CUDA set-up", e))
        goto fail;

    if (c->size > 1 || one_rank) {
        struct {
            ncclUniqueId id;
            int ok;
        } boot;
        memset(&boot, 0, sizeof boot);
        if (c->rank == 0) {
            ncclResult_t r = ncclGetUniqueId(&boot.id);
            boot.ok = r == ncclSuccess;
            if (!boot.ok)
                nccl_fail(e, NULL, r, INIT_WHAT, "ncclGetUniqueId on rank 0", INIT_HINT);
        }
        int rc = MPI_Bcast(&boot, (int)sizeof boot, MPI_BYTE, 0, c->world);
        if (rc != MPI_SUCCESS) {
            mpi_fail(e, rc, INIT_WHAT, "MPI_Bcast of the NCCL unique id");
            goto fail;
        }
        if (!boot.ok) {
            if (c->rank != 0)
                yt_errf(e, INIT_WHAT ": ncclGetUniqueId failed on rank 0 (see its message)");
            goto fail;
        }
        /* Blocking: returns when every rank has joined (or NCCL gave up). */
        ncclResult_t r = ncclCommInitRank(&s->comm, c->size, boot.id, c->rank);
        ok = r == ncclSuccess;
        if (!ok) {
            char call[96];
            snprintf(call, sizeof call, "ncclCommInitRank (rank %d of %d, CUDA device %d)", c->rank, c->size,
                     s->device);
            nccl_fail(e, s->comm, r, INIT_WHAT, call, INIT_HINT);
        }
        /* A ~/.nccl.conf or /etc/nccl.conf read during init may have set it. */
        if (ok && check_dump_signal(" (from ~/.nccl.conf or /etc/nccl.conf)", e))
            ok = 0;
        if (agree(c, ok, "ncclCommInitRank", e))
            goto fail;
    }
    c->nccl = s;
    c->seconds += yt_now() - t0;
    return 0;

fail:
    destroy(s, 1);
    c->seconds += yt_now() - t0;
    return -1;
}

void yt_comm_dev_free(yt_comm *c)
{
    if (!c || !c->nccl)
        return;
    struct yt_nccl *s = c->nccl;
    c->nccl = NULL;
    destroy(s, 0);
}

/* ---- collectives ---- */

/* The state, when the communicator can take a collective. */
static struct yt_nccl *ready(yt_comm *c, const char *what, yt_err *e)
{
    struct yt_nccl *s = c->nccl;
    if (!s) {
        yt_errf(e, "%s: the NCCL communicator was not made (yt_comm_dev_init)", what);
        return NULL;
    }
    if (s->failed) {
        yt_errf(e, "%s: the NCCL communicator failed earlier (%s) and cannot be used any more", what,
                ncclGetErrorString((ncclResult_t)s->failed));
        return NULL;
    }
    return s;
}

/* Our stream waits for everything queued on the compute stream so far. */
static int after_compute(struct yt_nccl *s, const char *what, yt_err *e)
{
    cudaError_t ce = cudaEventRecord(s->ordered, s->compute);
    if (ce != cudaSuccess)
        return cuda_fail(e, ce, what, "cudaEventRecord on the compute stream");
    ce = cudaStreamWaitEvent(s->stream, s->ordered, 0);
    if (ce != cudaSuccess)
        return cuda_fail(e, ce, what, "cudaStreamWaitEvent on the communication stream");
    return 0;
}

int yt_comm_dev_allreduce_start(yt_comm *c, float *buf, size_t n, yt_err *e)
{
    char what[96];
    snprintf(what, sizeof what, "NCCL all-reduce of %zu floats", n);
    struct yt_nccl *s = ready(c, what, e);
    if (!s)
        return -1;
    if (n == 0)
        return 0;
    if (!buf)
        return yt_errf(e, "%s: NULL buffer", what);
    double t0 = yt_now();
    int rc = after_compute(s, what, e);
    if (rc == 0 && s->comm) { /* one rank: the sum is the buffer */
        ncclResult_t r = ncclAllReduce(buf, buf, n, ncclFloat32, ncclSum, s->comm, s->stream);
        if (r != ncclSuccess)
            rc = nccl_fail(e, s->comm, r, what, "ncclAllReduce", NULL);
    }
    if (rc == 0)
        s->pending++;
    c->seconds += yt_now() - t0;
    return rc;
}

int yt_comm_dev_reduce_scatter_start(yt_comm *c, const float *in, float *out, size_t count,
                                     yt_err *e)
{
    char what[96];
    snprintf(what, sizeof what, "NCCL reduce-scatter of %d x %zu floats", c->size, count);
    struct yt_nccl *s = ready(c, what, e);
    if (!s)
        return -1;
    if (count == 0)
        return 0;
    if (!in || !out)
        return yt_errf(e, "%s: NULL buffer", what);
    if (count > SIZE_MAX / sizeof(float) / (size_t)c->size)
        return yt_errf(e, "%s: too many", what);
    double t0 = yt_now();
    int rc = after_compute(s, what, e);
    if (rc == 0 && s->comm) {
        ncclResult_t r = ncclReduceScatter(in, out, count, ncclFloat32, ncclSum, s->comm, s->stream);
        if (r != ncclSuccess)
            rc = nccl_fail(e, s->comm, r, what, "ncclReduceScatter", NULL);
    } else if (rc == 0 && out != in) { /* one rank: piece 0 is the input */
        cudaError_t ce = cudaMemcpyAsync(out, in, count * sizeof(float), cudaMemcpyDeviceToDevice, s->stream);
        if (ce != cudaSuccess)
            rc = cuda_fail(e, ce, what, "cudaMemcpyAsync (one rank)");
    }
    if (rc == 0)
        s->pending++;
    c->seconds += yt_now() - t0;
    return rc;
}

int yt_comm_dev_allgather_start(yt_comm *c, float *buf, size_t count, yt_err *e)
{
    char what[96];
    snprintf(what, sizeof what, "NCCL all-gather of %d x %zu floats", c->size, count);
    struct yt_nccl *s = ready(c, what, e);
    if (!s)
        return -1;
    if (count == 0)
        return 0;
    if (!buf)
        return yt_errf(e, "%s: NULL buffer", what);
    if (count > SIZE_MAX / sizeof(float) / (size_t)c->size)
        return yt_errf(e, "%s: too many", what);
    double t0 = yt_now();
    int rc = after_compute(s, what, e);
    if (rc == 0 && s->comm) { /* in place: our piece is already where it belongs */
        ncclResult_t r = ncclAllGather(buf + (size_t)c->rank * count, buf, count, ncclFloat32, s->comm, s->stream);
        if (r != ncclSuccess)
            rc = nccl_fail(e, s->comm, r, what, "ncclAllGather", NULL);
    }
    if (rc == 0)
        s->pending++;
    c->seconds += yt_now() - t0;
    return rc;
}

int yt_comm_dev_join(yt_comm *c, yt_err *e)
{
    const char *what = "NCCL join";
    struct yt_nccl *s = ready(c, what, e);
    if (!s)
        return -1;
    double t0 = yt_now();
    int rc = 0;
    /* A peer that died or a network that broke shows here (when NCCL noticed)
     * rather than as a silent hang at the next synchronization. */
    if (s->comm) {
        ncclResult_t a = ncclSuccess, r = ncclCommGetAsyncError(s->comm, &a);
        if (r != ncclSuccess)
            rc = nccl_fail(e, s->comm, r, what, "ncclCommGetAsyncError", NULL);
        else if (a != ncclSuccess && a != ncclInProgress) {
            s->failed = (int)a;
            rc = nccl_fail(e, s->comm, a, what,
                           "a collective (asynchronous error: another rank failed or the network broke)",
                           "; the communicator is unusable");
        }
    }
    if (rc == 0) {
        s->timed = s->measured = 0;
        s->last_ms = 0.0;
        if (s->pending > 0) {
            cudaError_t ce = cudaEventRecord(s->at_compute, s->compute);
            if (ce != cudaSuccess)
                rc = cuda_fail(e, ce, what, "cudaEventRecord on the compute stream");
            if (rc == 0 && (ce = cudaEventRecord(s->at_comm, s->stream)) != cudaSuccess)
                rc = cuda_fail(e, ce, what, "cudaEventRecord on the communication stream");
            if (rc == 0 && (ce = cudaStreamWaitEvent(s->compute, s->at_comm, 0)) != cudaSuccess)
                rc = cuda_fail(e, ce, what, "cudaStreamWaitEvent on the compute stream");
            if (rc == 0) {
                s->pending = 0;
                s->timed = 1;
            }
        }
    }
    c->seconds += yt_now() - t0;
    return rc;
}

double yt_comm_dev_last_wait_ms(yt_comm *c)
{
    struct yt_nccl *s = c ? c->nccl : NULL;
    if (!s || !s->timed)
        return 0.0;
    if (!s->measured) {
        float ms = 0.0f;
        if (cudaEventSynchronize(s->at_comm) == cudaSuccess && cudaEventSynchronize(s->at_compute) == cudaSuccess &&
            cudaEventElapsedTime(&ms, s->at_compute, s->at_comm) == cudaSuccess)
            s->last_ms = ms > 0.0f ? (double)ms : 0.0; /* negative: the collectives were done first */
        else {
            (void)cudaGetLastError();
            s->last_ms = 0.0;
        }
        s->measured = 1;
    }
    return s->last_ms;
}
