/* runner/yield: the preemption signals.  yt_yield_start blocks the yield
 * signals in the calling thread before MPI, OpenMP or CUDA create theirs (so
 * every later thread inherits the mask and none swallows a signal) and starts
 * one thread that takes them with sigwait and only records them: the flag, the
 * first signal and when it came.  The training loop reads the flag at its
 * agreement points; all decisions are taken there, agreed across ranks.
 * The same thread is the watchdog: after a signal with a deadline, a process
 * still running at it exits 1 (its peers stopped answering), or 75 when the
 * yield snapshot was already written (slow teardown). */
#ifndef YT_YIELD_H
#define YT_YIELD_H

#include "common/common.h"

#define YT_YIELD_MAX_SIGNALS 8

typedef struct yt_yield_config {
    int n;
    int signo[YT_YIELD_MAX_SIGNALS];
    double deadline[YT_YIELD_MAX_SIGNALS]; /* seconds from signal to exit; 0 = finish the step */
} yt_yield_config;

/* signals: "USR1,USR2,TERM"; deadlines: "TERM=0.8,USR1=0" (unnamed signals: 0). */
int yt_yield_parse(yt_yield_config *c, const char *signals, const char *deadlines, yt_err *e);
int yt_yield_start(const yt_yield_config *c, yt_err *e);

/* 1 once any yield signal arrived in this process. */
int yt_yield_pending(void);
/* The first signal's number and monotonic arrival time (0 when none). */
int yt_yield_signo(void);
double yt_yield_time(void);
/* Monotonic time by which this process must have exited (INFINITY without a
 * pending signal or for a signal with no deadline). */
double yt_yield_deadline(const yt_yield_config *c);
const char *yt_signal_name(int signo);
/* The yield snapshot is written (every rank agreed): a watchdog firing after
 * this exits 75 instead of 1, since only teardown was left. */
void yt_yield_saved(void);

#endif
