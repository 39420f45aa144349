/* kernels/cpu/threads.c: one knob for both thread pools.
 *
 * Our loops use OpenMP and OpenBLAS (its OpenMP build) uses the same runtime, so
 * setting both here keeps them from oversubscribing the cores.  Workspaces that
 * hold per-thread slices must be sized with yt_k_get_threads(). */
#include "kernels/kernels.h"

#include <cblas.h>
#include <omp.h>

void yt_k_set_threads(int n)
{
    if (n < 1)
        n = 1;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int yt_k_get_threads(void) { return omp_get_max_threads(); }
