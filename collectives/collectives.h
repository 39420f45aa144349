/* collectives/: the communicator.  Rank, size and local rank; sums of float
 * buffers across ranks, blocking or started asynchronously and waited for later;
 * sharded sums (reduce-scatter / all-gather) for optimizer-state sharding;
 * broadcast; agreement ("did any rank flag?", "are all ranks well?") so that
 * every rank takes the same decision at the same step; memory shared by the
 * ranks of one node.
 * Backends: MPI for host buffers; NCCL for device buffers (yt_comm_dev_*, below)
 * with MPI carrying its bootstrap (nothing here names an MPI, CUDA or NCCL type).
 * Every call is collective over all ranks (or, where it says so, over the
 * ranks of one node) and must be made by every rank in the same order.  With
 * one rank every call returns at once (copying where it has to).
 * Knows nothing of models or files. */
#ifndef YT_COLLECTIVES_H
#define YT_COLLECTIVES_H

#include <stddef.h>

#include "common/common.h"

typedef struct yt_comm yt_comm;

/* MPI_Init_thread (FUNNELED: only the thread that called init calls the
 * communicator); works under mpirun, srun, or alone (singleton). */
int yt_comm_init(yt_comm **out, int *argc, char ***argv, yt_err *e);
/* Frees the node-shared memory (collective) and finalizes. */
void yt_comm_finalize(yt_comm *c);
/* Ends every rank now (a rank that cannot go on and cannot tell the others). */
_Noreturn void yt_comm_abort(yt_comm *c, int code);

int yt_comm_rank(const yt_comm *c);
int yt_comm_size(const yt_comm *c);
int yt_comm_local_rank(const yt_comm *c);
int yt_comm_local_size(const yt_comm *c);
/* Seconds spent inside this communicator's calls since init: blocking calls,
 * starts, tests and waits (the runner's comm_s is its difference over a step). */
double yt_comm_seconds(const yt_comm *c);

/* In-place sums over all ranks. */
int yt_comm_allreduce_f32(yt_comm *c, float *buf, size_t n, yt_err *e);
int yt_comm_allreduce_f64(yt_comm *c, double *buf, size_t n, yt_err *e);
int yt_comm_bcast(yt_comm *c, void *buf, size_t bytes, int root, yt_err *e);
/* Every rank's `bytes` bytes, in rank order, into all[size * bytes]. */
int yt_comm_allgather(yt_comm *c, const void *mine, size_t bytes, void *all, yt_err *e);
/* 1 when any rank passed a non-zero flag. */
int yt_comm_any(yt_comm *c, int flag, int *any, yt_err *e);
/* Collective check that every rank succeeded so far: returns the number of
 * ranks that passed ok == 0 (0 means all fine). */
int yt_comm_failed_ranks(yt_comm *c, int ok);

/* ---- asynchronous in-place sums ----
 * A request set holds up to `cap` sums in flight (allocated once).  Start a sum
 * as soon as its buffer is final; do not touch that buffer until the set was
 * waited for.  yt_comm_reqs_test lets the started sums progress (the MPI
 * backend has no progress thread: call it between pieces of work);
 * yt_comm_reqs_wait completes them all and empties the set.  After a failed
 * call, wait before reusing the set. */
typedef struct yt_comm_reqs yt_comm_reqs;
int yt_comm_reqs_create(yt_comm *c, int cap, yt_comm_reqs **out, yt_err *e);
void yt_comm_reqs_free(yt_comm_reqs *r);
int yt_comm_iallreduce_f32(yt_comm_reqs *r, float *buf, size_t n, yt_err *e);
/* *done = 1 when every started sum is complete (done may be NULL). */
int yt_comm_reqs_test(yt_comm_reqs *r, int *done, yt_err *e);
int yt_comm_reqs_wait(yt_comm_reqs *r, yt_err *e);
int yt_comm_reqs_pending(const yt_comm_reqs *r);

/* ---- sharded buffers ----
 * counts[0..size) cut a buffer of sum(counts) floats into consecutive pieces,
 * piece r belonging to rank r (pieces may be empty; sizes may differ). */
/* out[0..counts[rank]) = piece `rank` of the sum over ranks of in. */
int yt_comm_reduce_scatter_f32(yt_comm *c, const float *in, float *out, const size_t *counts,
                               yt_err *e);
/* In place: every rank's piece of buf reaches every rank. */
int yt_comm_allgather_f32(yt_comm *c, float *buf, const size_t *counts, yt_err *e);
/* Pieces to one rank: full (on root only) gets every rank's `piece`. */
int yt_comm_gather_f32(yt_comm *c, const float *piece, float *full, const size_t *counts, int root,
                       yt_err *e);
/* And back: every rank's piece from root's full. */
int yt_comm_scatter_f32(yt_comm *c, const float *full, float *piece, const size_t *counts, int root,
                        yt_err *e);

/* ---- groups: asynchronous all-gathers of host buffers ----
 * A group is `size` consecutive ranks (rank / size says which), with a
 * communicator of its own, so that its collectives never match the sums above.
 * Create and free are collective over ALL ranks; an all-gather is collective
 * over the group.  All-gathers are started and waited for one by one, by
 * handle (up to `cap` in flight); a started one may stay in flight while other
 * collectives run.  counts[0..size) are byte counts in rank order: piece r
 * lands at the sum of counts[0..r) in all, this rank's comes from `mine` (which
 * must not overlap all).  Pieces of a multiple of 64 bytes may be larger than
 * 2 GiB.  Between start and wait neither buffer may be touched; call
 * yt_comm_group_test between pieces of work so that transfers progress (MPI has
 * no progress thread).  Times: *inflight_s sums, over the gathers waited for,
 * the time from start until completion was seen (by a test or the wait);
 * *waited_s the part spent blocked in waits (what compute waited for). */
typedef struct yt_comm_group yt_comm_group;
int yt_comm_group_create(yt_comm *c, int size, int cap, yt_comm_group **out, yt_err *e);
void yt_comm_group_free(yt_comm_group *g);
int yt_comm_group_rank(const yt_comm_group *g);
int yt_comm_group_size(const yt_comm_group *g);
/* The handle (>= 0), or -1 with a message. */
int yt_comm_group_iallgatherv(yt_comm_group *g, const void *mine, void *all, const size_t *counts,
                              yt_err *e);
int yt_comm_group_test(yt_comm_group *g, yt_err *e);
int yt_comm_group_wait(yt_comm_group *g, int handle, yt_err *e);
void yt_comm_group_times(const yt_comm_group *g, double *inflight_s, double *waited_s);

/* ---- device buffers on a GPU: the NCCL backend (collectives/comm_nccl.c) ----
 * Built with --with-nccl.  The NCCL communicator spans the same ranks as this
 * one, on each rank's current CUDA device; rank 0's unique id travels by MPI
 * broadcast.  Every collective runs on the communicator's own CUDA stream,
 * ordered after the work queued so far on the compute stream (an event), so it
 * overlaps with compute queued later; yt_comm_dev_join makes the compute stream
 * wait for every collective started so far (the host does not block).
 * Counts are in floats; buffers are device memory and must not be touched by
 * the compute stream (nor freed) between start and join.  A count of 0 is a
 * no-op.  With one rank no NCCL communicator is made unless one_rank is set
 * (a one-GPU machine then runs the NCCL calls too): without it the starts keep
 * the same ordering and copy where they have to.  yt_comm_finalize ends the NCCL
 * communicator (after the collectives in flight, at most a minute): call it
 * before the CUDA context goes (cudaDeviceReset).  Without NCCL in the build,
 * yt_comm_has_nccl() is 0 and every call fails saying so. */
int yt_comm_has_nccl(void);
/* Collective: creates the NCCL communicator; compute_stream is a cudaStream_t
 * (NULL: the legacy default stream) of the current device.  Fails when
 * NCCL_PROXY_DUMP_SIGNAL is set (NCCL would take a yield signal). */
int yt_comm_dev_init(yt_comm *c, void *compute_stream, int one_rank, yt_err *e);
/* In-place sum over ranks. */
int yt_comm_dev_allreduce_start(yt_comm *c, float *buf, size_t n, yt_err *e);
/* out[count] = piece `rank` of the sum of in[size * count] over ranks.  out is
 * either in + rank * count (in place) or does not overlap in. */
int yt_comm_dev_reduce_scatter_start(yt_comm *c, const float *in, float *out, size_t count,
                                     yt_err *e);
/* In place: buf[size * count], rank r's piece at buf + r * count, reaches every rank. */
int yt_comm_dev_allgather_start(yt_comm *c, float *buf, size_t count, yt_err *e);
/* Also reports an asynchronous NCCL error (a rank died, the network broke)
 * when NCCL has noticed one; the communicator is unusable after that. */
int yt_comm_dev_join(yt_comm *c, yt_err *e);
/* The exposed part of the communication at the last join, in milliseconds:
 * from the moment the compute stream reached that join (an event recorded on
 * it there) to the moment the communicator's stream finished the collectives
 * started before it (an event recorded on that stream there), or 0 when they
 * had finished first.  It includes time a collective spent waiting for slower
 * ranks to reach it.  An approximation: CUDA event timestamps of two streams
 * (resolution about half a microsecond), without the compute stream's
 * latency to resume.  0 before a join, after a join with nothing started, or
 * when the events cannot be read.  It waits (on the host) until the GPU has
 * passed that join: call it where the host waits anyway (after reading the
 * step's loss, say). */
double yt_comm_dev_last_wait_ms(yt_comm *c);

/* ---- memory shared by the ranks of one node ----
 * Collective over ALL ranks (so that every rank makes the same calls): each
 * node's local rank 0 allocates `bytes`, and every rank of that node gets the
 * same memory in *mem (NULL when bytes is 0).  It stays until
 * yt_comm_finalize.  Fill it on one rank, then yt_comm_failed_ranks (or any
 * other collective) before the others read it. */
int yt_comm_node_shared(yt_comm *c, size_t bytes, void **mem, yt_err *e);

#endif
