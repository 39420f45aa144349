/* The goodput accounting (goodput.h): the merged lines of events.jsonl and
 * metrics.jsonl are walked once to cut them into attempts, then each step is
 * kept or lost and each attempt's seconds are split over the causes. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/goodput.h"

const char *const yt_gp_cause_names[YT_GP_NCAUSES] = {
    "kept_steps", "startup", "resume", "yields", "lost_steps", "snapshots", "evaluation", "other",
};

const char *yt_gp_end_name(yt_gp_end how)
{
    switch (how) {
    case YT_GP_FINISHED: return "finished";
    case YT_GP_YIELDED: return "yielded";
    case YT_GP_ABANDONED: return "abandoned";
    case YT_GP_FAILED: return "failed";
    default: return "no exit event";
    }
}

/* The state of the walk over the merged lines. */
typedef struct walk {
    yt_goodput *g;
    int cur;              /* the open attempt, -1 when none */
    double last_time;     /* its last line's time */
    char last_from[64];   /* and where that line is */
    double snap_s;        /* its last snapshot event (a yield's snapshot moves to "yields") */
    long snap_step;
    double yield_time;    /* its yield event, NAN when none */
    int finished;         /* it logged "finish" */
    yt_err *e;            /* where a failed allocation is told */
} walk;

#define NOTE(g, ...) yt_gp_note(&(g)->notes, &(g)->n_notes, __VA_ARGS__)

static const char *fname(const yt_gp_item *it) { return it->is_event ? "events.jsonl" : "metrics.jsonl"; }

static void touch(walk *w, const yt_gp_item *it)
{
    if (it->time > w->last_time)
        w->last_time = it->time;
    snprintf(w->last_from, sizeof w->last_from, "%s:%ld", fname(it), it->line);
}

static int open_attempt(walk *w, double start, long first_step)
{
    yt_goodput *g = w->g;
    yt_gp_attempt *a = yt_realloc_array(g->att, (size_t)g->n_att + 1, sizeof *a, "the attempt list", w->e);
    if (!a)
        return -1;
    g->att = a;
    a = &g->att[g->n_att];
    memset(a, 0, sizeof *a);
    a->start = a->end = start;
    a->first_step = a->last_step = first_step;
    a->how = YT_GP_NO_EXIT;
    w->cur = g->n_att++;
    w->last_time = start;
    w->last_from[0] = '\0';
    w->snap_s = 0;
    w->snap_step = -1;
    w->yield_time = NAN;
    w->finished = 0;
    return 0;
}

/* Ends the open attempt without an exit event: at its last line. */
static void close_attempt(walk *w)
{
    if (w->cur < 0)
        return;
    yt_gp_attempt *a = &w->g->att[w->cur];
    a->end = w->last_time;
    snprintf(a->end_from, sizeof a->end_from, "%s", w->last_from[0] ? w->last_from : "its start");
    if (w->finished)
        a->how = YT_GP_FINISHED;
    else if (isfinite(w->yield_time))
        a->how = YT_GP_YIELDED;
    if (isfinite(w->yield_time))
        a->s[YT_GP_YIELD] += a->end - w->yield_time;
    w->cur = -1;
}

/* An attempt that the lines imply but no start/resume event opened. */
static int implicit_attempt(walk *w, const yt_gp_item *it, double start, long first_step, const char *why)
{
    close_attempt(w);
    if (open_attempt(w, start, first_step))
        return -1;
    w->g->att[w->cur].implicit = 1;
    NOTE(w->g, "%s/%s:%ld: %s: attempt %d assumed to begin %s", w->g->run, fname(it), it->line, why,
         w->cur + 1, it->is_event ? "at that line" : "with that step (its start-up is not known)");
    return 0;
}

static int on_start(walk *w, const yt_gp_item *it)
{
    close_attempt(w);
    int resumed = strcmp(it->event, "resume") == 0;
    if (open_attempt(w, it->key, resumed ? it->step : 0))
        return -1;
    yt_gp_attempt *a = &w->g->att[w->cur];
    a->resumed = resumed;
    a->start_known = isfinite(it->attempt_start);
    if (isfinite(it->load_s))
        a->s[YT_GP_STARTUP] = it->load_s;
    if (isfinite(it->resume_s))
        a->s[YT_GP_RESUME] = it->resume_s;
    if (!a->start_known && !(isfinite(it->load_s) && isfinite(it->resume_s)))
        NOTE(w->g, "%s/events.jsonl:%ld: attempt %d's %s event has no process start time (an older "
             "yieldtune): its start-up before that line is not counted", w->g->run, it->line,
             w->cur + 1, it->event);
    touch(w, it);
    return 0;
}

static void on_exit_event(walk *w, const yt_gp_item *it)
{
    yt_gp_attempt *a = &w->g->att[w->cur];
    a->end = it->time;
    a->end_from[0] = '\0';
    const char *c = it->cause;
    a->how = strcmp(c, "finished") == 0    ? YT_GP_FINISHED
             : strcmp(c, "yielded") == 0   ? YT_GP_YIELDED
             : strcmp(c, "abandoned") == 0 ? YT_GP_ABANDONED
                                           : YT_GP_FAILED;
    if (it->signal[0])
        snprintf(a->signal, sizeof a->signal, "%s", it->signal);
    if (it->error[0])
        snprintf(a->error, sizeof a->error, "%s", it->error);
    if (isfinite(it->abandoned_s) && it->abandoned_s > 0)
        a->s[YT_GP_YIELD] += it->abandoned_s;
    if (isfinite(w->yield_time))
        a->s[YT_GP_YIELD] += it->time - w->yield_time; /* shutdown after the yield */
    w->cur = -1;
}

static int on_event(walk *w, const yt_gp_item *it)
{
    yt_goodput *g = w->g;
    const char *ev = it->event;
    if (strcmp(ev, "start") == 0 || strcmp(ev, "resume") == 0)
        return on_start(w, it);
    if (strcmp(ev, "exit") == 0) {
        int same = w->cur >= 0 && (!isfinite(it->attempt_start) ||
                                   fabs(g->att[w->cur].start - it->attempt_start) < 0.01);
        if (!same && implicit_attempt(w, it, isfinite(it->attempt_start) ? it->attempt_start : it->time,
                                      it->step >= 0 ? it->step : 0, "an exit with no start/resume event of its attempt"))
            return -1;
        touch(w, it);
        on_exit_event(w, it);
        return 0;
    }
    if (w->cur < 0 && implicit_attempt(w, it, it->time, it->step >= 0 ? it->step : 0,
                                       "an event with no start/resume event before it"))
        return -1;
    yt_gp_attempt *a = &g->att[w->cur];
    touch(w, it);
    if (strcmp(ev, "snapshot") == 0) {
        a->snapshots++;
        a->snapshot_s += it->seconds;
        if (it->bytes > 0)
            a->snapshot_bytes += it->bytes;
        a->s[YT_GP_SNAPSHOT] += it->seconds;
        w->snap_s = it->seconds;
        w->snap_step = it->step;
    } else if (strcmp(ev, "eval") == 0) {
        a->evals++;
        a->s[YT_GP_EVAL] += it->seconds;
    } else if (strcmp(ev, "yield") == 0) {
        /* the snapshot written for this yield is the yield's cost */
        if (w->snap_step >= 0 && w->snap_step == it->step) {
            a->s[YT_GP_SNAPSHOT] -= w->snap_s;
            a->s[YT_GP_YIELD] += w->snap_s;
            w->snap_step = -1;
        }
        w->yield_time = it->time;
        if (it->signal[0])
            snprintf(a->signal, sizeof a->signal, "%s", it->signal);
    } else if (strcmp(ev, "finish") == 0) {
        w->finished = 1;
    }
    return 0;
}

static int on_step(walk *w, const yt_gp_item *it)
{
    yt_goodput *g = w->g;
    yt_gp_step *s = &g->steps[it->step_index];
    if (w->cur < 0) {
        if (implicit_attempt(w, it, it->time - s->step_s, s->step - 1,
                             "a step with no attempt open (no start/resume event before it)"))
            return -1;
    } else {
        yt_gp_attempt *a = &g->att[w->cur];
        if (a->first_step < 0) /* a resume event without its step */
            a->first_step = a->last_step = s->step - 1;
        if (s->step <= a->last_step) {
            if (implicit_attempt(w, it, it->time - s->step_s, s->step - 1,
                                 "the step goes back with no start/resume event (a restart not logged)"))
                return -1;
        } else if (s->step != a->last_step + 1) {
            NOTE(g, "%s/metrics.jsonl:%ld: step %ld follows step %ld: the lines between are missing",
                 g->run, it->line, s->step, a->last_step);
        }
    }
    yt_gp_attempt *a = &g->att[w->cur];
    s->attempt = w->cur;
    a->last_step = s->step;
    touch(w, it);
    return 0;
}

/* Kept or lost, redone, and the per-attempt and total sums. */
static void account(yt_goodput *g)
{
    int n = g->n_att;
    /* the lowest step any later attempt resumed from */
    long *later = malloc((size_t)(n + 1) * sizeof *later);
    if (!later)
        return;
    later[n] = -1; /* none */
    for (int i = n - 1; i >= 0; i--) {
        long f = i + 1 < n ? g->att[i + 1].first_step : -1;
        later[i] = later[i + 1];
        if (f >= 0 && (later[i] < 0 || f < later[i]))
            later[i] = f;
    }
    for (size_t k = 0; k < g->n_steps; k++) {
        yt_gp_step *s = &g->steps[k];
        yt_gp_attempt *a = &g->att[s->attempt];
        long lim = later[s->attempt];
        s->kept = lim < 0 || s->step <= lim;
        s->redone = 0;
        if (!s->kept)
            for (int j = s->attempt + 1; j < n && !s->redone; j++)
                s->redone = g->att[j].first_step < s->step && s->step <= g->att[j].last_step;
        a->s[s->kept ? YT_GP_KEPT : YT_GP_LOST] += s->step_s;
        if (s->kept) {
            a->kept_steps++;
            g->kept_tokens += s->step_tokens;
        } else {
            a->lost_steps++;
            g->redone_steps += s->redone;
        }
        g->computed_tokens += s->step_tokens;
        g->computed_s += s->step_s;
    }
    free(later);
    for (int i = 0; i < n; i++) {
        yt_gp_attempt *a = &g->att[i];
        a->rented = a->end - a->start;
        if (a->rented < 0) {
            NOTE(g, "attempt %d ends before it starts (clock or hand edits): counted as 0 s", i + 1);
            a->rented = 0;
        }
        double parts = 0;
        for (int c = 0; c < YT_GP_NCAUSES; c++)
            if (c != YT_GP_OTHER)
                parts += a->s[c];
        a->s[YT_GP_OTHER] = a->rented - parts;
        if (a->s[YT_GP_OTHER] < -0.05 * (a->rented + 1))
            NOTE(g, "attempt %d: its recorded parts exceed its span by %.3f s (clock or hand edits)",
                 i + 1, -a->s[YT_GP_OTHER]);
        for (int c = 0; c < YT_GP_NCAUSES; c++)
            g->s[c] += a->s[c];
        g->rented += a->rented;
        g->kept_steps += a->kept_steps;
        g->lost_steps += a->lost_steps;
        g->snapshots += a->snapshots;
        g->snapshot_s += a->snapshot_s;
        g->snapshot_bytes += a->snapshot_bytes;
        g->evals += a->evals;
        if (i > 0 && a->start > g->att[i - 1].end)
            g->idle += a->start - g->att[i - 1].end;
        switch (a->how) {
        case YT_GP_YIELDED:
        case YT_GP_ABANDONED: g->yields++; break;
        case YT_GP_FAILED: g->failures++; break;
        case YT_GP_NO_EXIT:
            if (i + 1 < n)
                g->kills++;
            break;
        default: break;
        }
    }
    g->preemptions = g->yields + g->kills;
    g->goodput = g->rented > 0 ? g->s[YT_GP_KEPT] / g->rented : 0;
    if (n > 0 && g->att[n - 1].how == YT_GP_NO_EXIT)
        NOTE(g, "the last attempt (%d) has no exit event: still running, or killed; it ends at its "
             "last line (%s), and its steps count as kept until a resume redoes them",
             n, g->att[n - 1].end_from);
    for (int i = 0; i + 1 < n; i++)
        if (g->att[i].how == YT_GP_NO_EXIT)
            NOTE(g, "attempt %d has no exit event (killed, or aborted on an error): its end is taken "
                 "from its last line, %s/%s", i + 1, g->run, g->att[i].end_from);
}

int yt_goodput_read(yt_goodput *g, const char *run, yt_err *e)
{
    memset(g, 0, sizeof *g);
    snprintf(g->run, sizeof g->run, "%s", run);
    size_t n = strlen(g->run);
    while (n > 1 && g->run[n - 1] == '/')
        g->run[--n] = '\0';
    yt_gp_item *items;
    size_t n_items;
    if (yt_gp_parse(g, &items, &n_items, e))
        return -1;
    walk w = {.g = g, .cur = -1, .yield_time = NAN, .e = e};
    int rc = 0;
    for (size_t i = 0; i < n_items && rc == 0; i++)
        rc = items[i].is_event ? on_event(&w, &items[i]) : on_step(&w, &items[i]);
    close_attempt(&w);
    free(items);
    if (rc)
        return yt_err_prefix(e, "%s", g->run);
    account(g);
    return 0;
}

void yt_goodput_free(yt_goodput *g)
{
    for (int i = 0; i < g->n_skipped; i++)
        free(g->skipped[i]);
    for (int i = 0; i < g->n_notes; i++)
        free(g->notes[i]);
    free(g->skipped);
    free(g->notes);
    free(g->att);
    free(g->steps);
    memset(g, 0, sizeof *g);
}
