/* runner/progress: what the user sees while training (a progress line refreshed
 * in place on a terminal, one line per --log-every steps otherwise: --progress) and what
 * tools read afterwards (RUN/metrics.jsonl, one JSON object per step; a step
 * after which the validation sets were evaluated (--eval-every) has "val_loss" (the
 * first set) and "val_loss.NAME" (the others) on its line, the others do not). */
#ifndef YT_PROGRESS_H
#define YT_PROGRESS_H

#include <stdio.h>

#include "common/common.h"

typedef struct yt_step_metrics {
    long step;            /* 1-based, after the update */
    long total_steps;
    double loss;          /* mean over counted tokens of the global batch */
    double lr;
    double grad_norm;     /* before clipping */
    long long tokens;     /* tokens processed so far, all ranks */
    long long step_tokens;
    double step_time_s;
    double tokens_per_s;  /* this step, all ranks */
    double counted;       /* counted (loss) tokens of this step */
    double comm_s;        /* time inside collectives this step */
    double exposed_comm_s; /* communication after the backward pass (not hidden by it) */
    double gather_s;      /* --shard-base: base-weight all-gathers in flight (summed) */
    double exposed_gather_s; /* the part of them compute waited for */
    double val_loss;      /* mean loss over the validation set after this step; NAN = not evaluated */
    const char *val_more_json; /* the other validation sets' ",\"val_loss.NAME\":X" (NULL = none) */
    const char *val_more_text; /* the same for the screen: " val_loss.NAME X" */
    double wall;          /* when the step was recorded (Unix seconds): metrics.jsonl's
                           * "time" and TensorBoard's, so goodput so far agrees with both */
} yt_step_metrics;

typedef struct yt_progress {
    FILE *metrics;        /* RUN/metrics.jsonl, appended */
    int tty;
    int log_every;
    double t_start;
    long first_step;
} yt_progress;

/* mode: YT_PROGRESS_AUTO|TTY|LINES (--progress; train_options.h). */
int yt_progress_open(yt_progress *p, const char *run_dir, int mode, int log_every, long first_step,
                     yt_err *e);
/* Appends the metrics line and updates the screen. */
int yt_progress_step(yt_progress *p, const yt_step_metrics *m, yt_err *e);
void yt_progress_close(yt_progress *p);

#endif
