/* runner/goodput: where a run's rented time went, from RUN/events.jsonl and
 * RUN/metrics.jsonl (both appended across restarts).
 *
 * An attempt is one process (rank 0) from its start to its exit.  Rented time
 * is the sum over attempts of (exit - process start); time between attempts
 * (queue, requeue) is not rented.  A step's result is kept when no later
 * attempt resumed from a snapshot older than that step; its step_time_s is
 * kept step time.  Goodput = kept step time / rented time.  Every second of
 * an attempt falls into exactly one cause (yt_gp_cause_names), "other" being
 * the remainder, so the causes sum to the rented time.
 *
 * Lines that are not JSON, truncated, or lack the fields the accounting needs
 * are skipped and listed (file:line and why); an attempt without an exit event
 * (kill -9, or still running) ends at its last line, and says so. */
#ifndef YT_GOODPUT_H
#define YT_GOODPUT_H

#include <stddef.h>

#include "common/common.h"

/* How an attempt ended. */
typedef enum {
    YT_GP_FINISHED,  /* exit 0 after the last step */
    YT_GP_YIELDED,   /* a yield signal: snapshot of the last completed step, exit 75 */
    YT_GP_ABANDONED, /* a yield whose deadline abandoned the step in progress */
    YT_GP_FAILED,    /* an error (exit 1) */
    YT_GP_NO_EXIT,   /* no exit event: killed (kill -9, node lost), or still running */
} yt_gp_end;

/* The causes of rented time, in report order. */
enum {
    YT_GP_KEPT,      /* steps whose results were kept */
    YT_GP_STARTUP,   /* process start to the weights loaded (MPI, model, data) */
    YT_GP_RESUME,    /* finding, verifying and loading the snapshot */
    YT_GP_YIELD,     /* yield snapshot, abandoned step, shutdown after a yield */
    YT_GP_LOST,      /* steps computed, then lost: a later attempt resumed from an older snapshot */
    YT_GP_SNAPSHOT,  /* periodic and final snapshots */
    YT_GP_EVAL,      /* validation passes */
    YT_GP_OTHER,     /* the rest: between steps, adapter, exit, unrecorded start-up */
    YT_GP_NCAUSES
};
extern const char *const yt_gp_cause_names[YT_GP_NCAUSES]; /* "kept_steps", ... (JSON keys) */

typedef struct yt_gp_step { /* one metrics.jsonl line */
    long step;
    double time;            /* wall clock when the line was written */
    double step_s, loss, val_loss, lr, grad_norm, tokens_per_s; /* NAN when absent */
    long long step_tokens;
    int attempt;            /* index into attempts */
    int kept, redone;       /* redone: lost, and computed again by a later attempt */
    long line;
} yt_gp_step;

typedef struct yt_gp_attempt {
    double start, end;      /* wall clock: process start, exit */
    int start_known;        /* the start event carried the process start time */
    int implicit;           /* no start/resume event: inferred from other lines */
    char end_from[64];      /* without an exit event: "metrics.jsonl:17", the line it ends at */
    long first_step;        /* steps completed when it began (0 for a fresh start) */
    long last_step;         /* the last step it completed (first_step when none) */
    int resumed;
    yt_gp_end how;
    char signal[16];        /* the yield signal ("" when none) */
    double s[YT_GP_NCAUSES];/* seconds per cause */
    double rented;
    long kept_steps, lost_steps;
    int snapshots;
    double snapshot_s;
    long long snapshot_bytes;
    int evals;
    char error[256];        /* a failed attempt's message, when recorded */
} yt_gp_attempt;

typedef struct yt_goodput {
    char run[4096];
    yt_gp_attempt *att;
    int n_att;
    yt_gp_step *steps;      /* every metrics line, file order */
    size_t n_steps, cap_steps;
    /* totals */
    double s[YT_GP_NCAUSES];
    double rented, goodput; /* goodput: fraction kept / rented (0 when nothing rented) */
    double idle;            /* between attempts, not rented */
    long kept_steps, lost_steps, redone_steps;
    int preemptions, yields, kills, failures;
    int snapshots;
    double snapshot_s;
    long long snapshot_bytes;
    int evals;
    long long kept_tokens, computed_tokens;
    double computed_s;      /* step time of every step */
    char **skipped;         /* "RUN/metrics.jsonl:17: not JSON (...)" */
    int n_skipped;
    char **notes;           /* what was inferred, and from where */
    int n_notes;
} yt_goodput;

/* Reads RUN/events.jsonl and RUN/metrics.jsonl (either may be missing, not
 * both) and does the accounting.  -1 only when neither file can be read. */
int yt_goodput_read(yt_goodput *g, const char *run, yt_err *e);
void yt_goodput_free(yt_goodput *g);
/* "finished", "yielded", ... */
const char *yt_gp_end_name(yt_gp_end how);

/* internal to goodput*.c: the parsed lines, in the order of the merged files */
typedef struct yt_gp_item {
    int is_event;
    char event[16];
    double key;             /* time the item is ordered by */
    double time;
    long line;
    /* event fields (NAN / -1 when absent) */
    double attempt_start, load_s, resume_s, seconds, abandoned_s;
    long step;
    long long bytes;
    char signal[16], cause[16], error[256];
    int code;
    size_t step_index;      /* metrics: index into steps */
} yt_gp_item;
int yt_gp_parse(yt_goodput *g, yt_gp_item **items, size_t *n_items, yt_err *e);
int yt_gp_note(char ***list, int *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
