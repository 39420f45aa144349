/* Clocks: monotonic for durations, wall for event timestamps. */
#define _POSIX_C_SOURCE 200809L
#include "common/common.h"

#include <time.h>

double yt_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

double yt_wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
