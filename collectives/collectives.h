/* collectives/: the communicator.  Rank, size and local rank; sums of float
 * buffers across ranks; broadcast; and agreement ("did any rank flag?", "are all
 * ranks well?") so that every rank takes the same decision at the same step.
 * Backends: MPI now; NCCL plugs in behind the same calls.
 * Knows nothing of models or files. */
#ifndef YT_COLLECTIVES_H
#define YT_COLLECTIVES_H

#include <stddef.h>

#include "common/common.h"

typedef struct yt_comm yt_comm;

/* MPI_Init_thread (FUNNELED); works under mpirun, srun, or alone (singleton). */
int yt_comm_init(yt_comm **out, int *argc, char ***argv, yt_err *e);
void yt_comm_finalize(yt_comm *c);
/* Ends every rank now (a rank that cannot go on and cannot tell the others). */
void yt_comm_abort(yt_comm *c, int code);

int yt_comm_rank(const yt_comm *c);
int yt_comm_size(const yt_comm *c);
int yt_comm_local_rank(const yt_comm *c);
int yt_comm_local_size(const yt_comm *c);

/* In-place sums over all ranks. */
int yt_comm_allreduce_f32(yt_comm *c, float *buf, size_t n, yt_err *e);
int yt_comm_allreduce_f64(yt_comm *c, double *buf, size_t n, yt_err *e);
int yt_comm_bcast(yt_comm *c, void *buf, size_t bytes, int root, yt_err *e);
/* 1 when any rank passed a non-zero flag. */
int yt_comm_any(yt_comm *c, int flag, int *any, yt_err *e);
/* Collective check that every rank succeeded so far: returns the number of
 * ranks that passed ok == 0 (0 means all fine). */
int yt_comm_failed_ranks(yt_comm *c, int ok);

#endif
