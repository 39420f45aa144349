/* collectives/: what the backends share and nobody else sees.  The MPI
 * backend (comm_mpi.c) owns struct yt_comm; the device backend (comm_nccl.c,
 * or comm_nccl_off.c in builds without NCCL) hangs its state off c->nccl. */
#ifndef YT_COMM_INTERNAL_H
#define YT_COMM_INTERNAL_H

#include <mpi.h>

#include "collectives/collectives.h"

#define YT_COMM_MAX_WINDOWS 4

struct yt_nccl; /* the device backend's state: comm_nccl.c */

struct yt_comm {
    MPI_Comm world, node;
    int rank, size, local_rank, local_size;
    int we_initialized;
    double seconds;
    int *counts, *displs;                 /* [size] scratch of the sharded calls */
    MPI_Win win[YT_COMM_MAX_WINDOWS];     /* node-shared memory, freed at finalize */
    int n_win;
    struct yt_nccl *nccl;                 /* NULL until yt_comm_dev_init */
};

/* Ends the device backend: lets the collectives in flight finish, destroys
 * the NCCL communicator, its stream and events, and sets c->nccl to NULL.
 * yt_comm_finalize calls it before MPI_Finalize, with the CUDA context still
 * alive.  A no-op when c->nccl is NULL (and always without NCCL). */
void yt_comm_dev_free(yt_comm *c);

#endif
