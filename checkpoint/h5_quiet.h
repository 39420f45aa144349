/* checkpoint/ internals: HDF5 prints its error stack to stderr by default and
 * library code must not print.  yt_snap_quiet_on/off silence the printer around our
 * calls; yt_snap_h5_why folds the current error stack into one line for a yt_err: the
 * system error message when there is one (e.g. "No space left on device"),
 * else the innermost description. */
#ifndef YT_H5_QUIET_H
#define YT_H5_QUIET_H

#include <hdf5.h>

typedef struct {
    H5E_auto2_t func;
    void *data;
} quiet_t;

typedef struct {
    char text[400];
    int sys; /* text came from a system call's error message */
} walk_t;

void yt_snap_quiet_on(quiet_t *q);
void yt_snap_quiet_off(const quiet_t *q);
const char *yt_snap_h5_why(walk_t *w);

#endif
