/* Yield signals: blocked everywhere, taken by one sigwait thread. */
#define _POSIX_C_SOURCE 200809L
#include "runner/yield.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The one global: what the signal thread saw (written by that thread only),
 * and what it needs to act as the watchdog. */
static struct {
    atomic_int pending;
    atomic_int saved;       /* the yield snapshot is written: only teardown is left */
    atomic_int signo;
    _Atomic double when;
    sigset_t set;
    yt_yield_config config;
} yt_signal_flag;

static const struct {
    const char *name;
    int signo;
} names[] = {{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"INT", SIGINT},
             {"HUP", SIGHUP},   {"ALRM", SIGALRM}, {"XCPU", SIGXCPU}};

const char *yt_signal_name(int signo)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].signo == signo)
            return names[i].name;
    return "?";
}

static int lookup(const char *s, size_t n)
{
    if (n > 3 && strncmp(s, "SIG", 3) == 0) {
        s += 3;
        n -= 3;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == n && strncmp(names[i].name, s, n) == 0)
            return names[i].signo;
    return -1;
}

int yt_yield_parse(yt_yield_config *c, const char *signals, const char *deadlines, yt_err *e)
{
    memset(c, 0, sizeof *c);
    for (const char *p = signals; *p;) {
        size_t n = strcspn(p, ",");
        int s = lookup(p, n);
        if (s < 0)
            return yt_errf(e, "--yield-signals: unknown signal '%.*s' (USR1, USR2, TERM, INT, HUP, ALRM, XCPU)",
                           (int)n, p);
        if (c->n == YT_YIELD_MAX_SIGNALS)
            return yt_errf(e, "--yield-signals: too many signals");
        c->signo[c->n++] = s;
        p += n + (p[n] == ',');
    }
    if (c->n == 0)
        return yt_errf(e, "--yield-signals: no signal given");
    for (const char *p = deadlines; *p;) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        if (!eq)
            return yt_errf(e, "--yield-deadline: '%.*s' is not SIGNAL=SECONDS", (int)n, p);
        int s = lookup(p, (size_t)(eq - p));
        char *end;
        double d = strtod(eq + 1, &end);
        if (end == eq + 1)
            return yt_errf(e, "--yield-deadline: '%.*s' gives no seconds (0 finishes the step; "
                              "leave the signal out of the list to keep the default)",
                           (int)n, p);
        if (s < 0 || end != p + n || !(d >= 0) || !isfinite(d))
            return yt_errf(e, "--yield-deadline: bad entry '%.*s'", (int)n, p);
        int found = 0;
        for (int i = 0; i < c->n; i++)
            if (c->signo[i] == s) {
                c->deadline[i] = d;
                found = 1;
            }
        if (!found)
            return yt_errf(e, "--yield-deadline: %.*s is not one of --yield-signals", (int)(eq - p), p);
        p += n + (p[n] == ',');
    }
    return 0;
}

/* The watchdog: a process still alive shortly after its yield deadline is
 * stuck (a peer died or hangs in a collective).  It exits non-zero at once:
 * snapshots are written to a temp file and renamed, so the last good one is
 * untouched whatever the main thread was doing.  No margin: the loop plans to
 * be out 0.1 s before the deadline, so a process still here at the deadline
 * is stuck, and mpirun's SIGKILL follows about 0.2 s later. */
static void watch_deadline(double deadline)
{
    const double margin = 0.0;
    for (;;) {
        double left = deadline + margin - yt_now();
        if (left <= 0)
            break;
        struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        sigtimedwait(&yt_signal_flag.set, NULL, &ts);
    }
    if (atomic_load(&yt_signal_flag.saved)) {
        /* Teardown (MPI, NCCL, CUDA) outlasted the deadline: the snapshot is
         * safe, so the exit still says "run me again". */
        static const char done[] = "yieldtune: yield deadline passed during teardown; the "
                                   "snapshot is written; exiting 75\n";
        ssize_t w = write(2, done, sizeof done - 1);
        (void)w;
        _exit(75);
    }
    static const char msg[] = "yieldtune: yield deadline passed with the ranks not agreed "
                              "(a peer died or hangs); exiting without a new snapshot\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

void yt_yield_saved(void) { atomic_store(&yt_signal_flag.saved, 1); }

static void *signal_thread(void *arg)
{
    (void)arg;
    for (;;) {
        int s = 0;
        if (sigwait(&yt_signal_flag.set, &s) != 0)
            continue;
        if (!atomic_load(&yt_signal_flag.pending)) {
            atomic_store(&yt_signal_flag.when, yt_now());
            atomic_store(&yt_signal_flag.signo, s);
            atomic_store(&yt_signal_flag.pending, 1);
            double d = yt_yield_deadline(&yt_signal_flag.config);
            if (d < INFINITY)
                watch_deadline(d);
        }
    }
    return NULL;
}

int yt_yield_start(const yt_yield_config *c, yt_err *e)
{
    yt_signal_flag.config = *c;
    sigemptyset(&yt_signal_flag.set);
    for (int i = 0; i < c->n; i++)
        sigaddset(&yt_signal_flag.set, c->signo[i]);
    int rc = pthread_sigmask(SIG_BLOCK, &yt_signal_flag.set, NULL);
    if (rc != 0)
        return yt_errno(e, rc, "blocking the yield signals");
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&th, &attr, signal_thread, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return yt_errno(e, rc, "starting the signal thread");
    return 0;
}

int yt_yield_pending(void) { return atomic_load(&yt_signal_flag.pending); }
int yt_yield_signo(void) { return atomic_load(&yt_signal_flag.signo); }
double yt_yield_time(void) { return atomic_load(&yt_signal_flag.when); }

double yt_yield_deadline(const yt_yield_config *c)
{
    if (!yt_yield_pending())
        return INFINITY;
    int s = yt_yield_signo();
    for (int i = 0; i < c->n; i++)
        if (c->signo[i] == s && c->deadline[i] > 0)
            return yt_yield_time() + c->deadline[i];
    return INFINITY;
}
