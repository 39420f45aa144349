/* runner/events: what one attempt (one process of a run) tells RUN/events.jsonl
 * so that `yieldtune report` can account for every rented second, and the
 * --tensorboard scalars.  Rank 0 writes; on other ranks these do nothing.
 *
 *   start | resume  attempt_start (wall clock at process start, before MPI and
 *                   the weights), load_s (process start to the weights loaded),
 *                   resume_s (finding, verifying, loading the snapshot), pid, host
 *   eval            step, seconds, val_loss
 *   exit            attempt_start, cause (finished | yielded | abandoned |
 *                   failed), code, step, signal, abandoned_s (the step given up
 *                   for a yield deadline), error
 * A process killed with SIGKILL writes no exit: the report ends that attempt
 * at its last line.  (snapshot, yield and finish are written by train.c.) */
#ifndef YT_EVENTS_H
#define YT_EVENTS_H

#include <jansson.h>

#include "common/common.h"
#include "runner/progress.h"
#include "runner/tensorboard.h"

struct trainer;

typedef struct yt_attempt {
    double start_wall, start_mono; /* process start */
    double resume_mono;            /* setup done, resume begins */
    double abandoned_s;            /* the step abandoned for a yield; 0 = none */
    yt_tb tb;                      /* --tensorboard (rank 0) */
    double prev_rented, prev_kept; /* goodput of the earlier attempts (--tensorboard) */
    double kept;                   /* step time of this attempt */
    int write_failed;              /* an events.jsonl write failed: err says why */
    yt_err err;
} yt_attempt;

/* Appends one line to RUN/events.jsonl (rank 0; fields: a JSON object, taken).
 * A failed write returns -1 and is kept in the attempt (write_failed, err) for
 * the loop's next agreement, which stops the run naming the file. */
int yt_events_write(struct trainer *t, const char *event, json_t *fields);
/* At process start, before anything else. */
void yt_events_begin(yt_attempt *a);
/* When the resume (snapshot search) begins. */
void yt_events_resume_begin(yt_attempt *a);
/* The start or resume event; opens the --tensorboard file.  -1 when it cannot. */
int yt_events_attempt(struct trainer *t, int resumed, const char *from, yt_err *e);
void yt_events_eval(struct trainer *t, double seconds, double val_loss);
/* After each step's metrics line: the --tensorboard scalars. */
void yt_events_step(struct trainer *t, const yt_step_metrics *m);
/* Yields in a row whose attempt completed no step (events.jsonl, "attempt_steps"
 * 0) after which the run says it makes no progress. */
#define YT_STALLED_YIELDS 3
/* After a yield's event (rank 0): when the last YT_STALLED_YIELDS or more
 * yields completed no step, says so on stderr and as a "no_progress" event. */
void yt_train_check_stalled(struct trainer *t);
/* Last thing before the event log closes, with the exit status. */
void yt_events_exit(struct trainer *t, int status, const yt_err *e);

#endif
