/* runner/snapshot_bg: periodic snapshots written off the critical path.  At a
 * snapshot step the trainer captures the state into a copy made once at
 * start (yt_train_capture), hands it to one writer thread, and goes on with
 * the next steps while the thread builds, checksums, writes, fsyncs, renames
 * and prunes the file.  At most one write is in flight: a snapshot due while
 * the last one is still being written waits for it.  A yield, the final
 * snapshot and the end of the run wait for the thread first, so snapshots
 * land in step order and the yield snapshot stays synchronous.  A crash
 * during a background write loses only that file (atomic-file writes): the
 * newest valid snapshot before it stays readable.  Rank 0 only; HDF5 is
 * called by one thread at a time (the trainer touches no HDF5 while steps
 * run).  Internal to runner/. */
#ifndef YT_SNAPSHOT_BG_H
#define YT_SNAPSHOT_BG_H

#include <pthread.h>

#include "datasets/datasets.h"
#include "model/model.h"

struct trainer;

/* A snapshot's content apart from the trainer, so that a background thread
 * can write it while the next steps run (runner/snapshot_bg.c). */
typedef struct yt_snap_image {
    const yt_model *model;          /* constant during a run: the LoRA tensor table */
    const float *params, *m, *v;    /* full-size, in the model's LoRA layout */
    long step;
    long long tokens_seen;
    long adamw_t;
    yt_ds_cursor cursor;
    uint64_t steps_per_epoch;
    int world, keep;
    const char *snap_dir, *base_model;
    uint64_t model_fp, dataset_fp;
    char *id_text, *cfg_text, *mc_text;
} yt_snap_image;


typedef struct yt_snap_bg {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, quit;
    int pending;         /* an image waits for or is in the writer */
    int done;            /* a finished write waits for yt_snap_bg_poll */
    yt_snap_image img;
    float *copy;         /* 3 x n_params floats: params, m, v */
    /* the finished write */
    int rc;
    yt_err err;
    long step;
    double write_s;
    size_t bytes;
} yt_snap_bg;

/* Rank 0, at start: the copy buffer and the thread. */
int yt_snap_bg_start(yt_snap_bg *bg, size_t n_params, yt_err *e);
/* Collective (the capture): the state of step t->step to the writer.  Waits
 * for a write still in flight first (its result stays for poll).  *stall_s:
 * the time the steps waited (that wait and the copy). */
int yt_snap_bg_submit(yt_snap_bg *bg, struct trainer *t, double *stall_s, yt_err *e);
/* A finished write, once: 1 and its result (rc, step, write_s, bytes, err),
 * or 0 while none.  wait: block until the one in flight (if any) is done. */
int yt_snap_bg_poll(yt_snap_bg *bg, int wait);
/* Waits for the write in flight and ends the thread. */
void yt_snap_bg_stop(yt_snap_bg *bg);

#endif
