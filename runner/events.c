/* The attempt's lines of RUN/events.jsonl and its TensorBoard scalars (events.h). */
#define _POSIX_C_SOURCE 200809L
#include "runner/events.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner/goodput.h"
#include "runner/runner.h"
#include "runner/train.h"

int yt_events_write(trainer *t, const char *event, json_t *fields)
{
    if (t->rank != 0 || !t->events) {
        json_decref(fields);
        return 0;
    }
    json_t *j = json_object();
    json_object_set_new(j, "event", json_string(event));
    json_object_set_new(j, "time", json_real(yt_wall()));
    if (fields)
        json_object_update(j, fields);
    json_decref(fields);
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    errno = 0;
    int ok = text && fprintf(t->events, "%s\n", text) > 0 && fflush(t->events) == 0;
    free(text);
    if (ok)
        return 0;
    if (!t->att.write_failed)
        yt_errno(&t->att.err, errno ? errno : ENOMEM, "%s/events.jsonl: writing the %s event", t->o.out,
                 event);
    t->att.write_failed = 1;
    return -1;
}

void yt_events_begin(yt_attempt *a)
{
    a->start_wall = yt_wall();
    a->start_mono = yt_now();
}

void yt_events_resume_begin(yt_attempt *a) { a->resume_mono = yt_now(); }

/* The earlier attempts' rented and kept time, for "goodput so far": the
 * accounting of the run folder as it is now, this attempt (just logged, no
 * steps yet) being the last one. */
static void earlier_goodput(trainer *t)
{
    yt_attempt *a = &t->att;
    yt_goodput g;
    yt_err e;
    if (yt_goodput_read(&g, t->o.out, &e))
        return;
    a->prev_kept = g.s[YT_GP_KEPT];
    a->prev_rented = g.rented;
    if (g.n_att > 0 && fabs(g.att[g.n_att - 1].start - a->start_wall) < 0.01)
        a->prev_rented -= g.att[g.n_att - 1].rented;
    yt_goodput_free(&g);
}

int yt_events_attempt(trainer *t, int resumed, const char *from, yt_err *e)
{
    yt_attempt *a = &t->att;
    double now = yt_now();
    double begin = a->resume_mono > 0 ? a->resume_mono : now;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    json_t *f = json_object();
    if (resumed) {
        json_object_set_new(f, "from", json_string(from));
        json_object_set_new(f, "step", json_integer((json_int_t)t->step));
    }
    json_object_set_new(f, "world_size", json_integer(t->world));
    json_object_set_new(f, "attempt_start", json_real(a->start_wall));
    json_object_set_new(f, "load_s", json_real(begin - a->start_mono));
    json_object_set_new(f, "resume_s", json_real(now - begin));
    json_object_set_new(f, "pid", json_integer((json_int_t)getpid()));
    json_object_set_new(f, "host", json_string(host));
    yt_events_write(t, resumed ? "resume" : "start", f);
    if (t->rank != 0 || !t->o.tensorboard[0])
        return 0;
    earlier_goodput(t);
    return yt_tb_open(&a->tb, t->o.tensorboard, t->step + 1, yt_wall(), e);
}

void yt_events_eval(trainer *t, double seconds, double val_loss)
{
    yt_events_write(t, "eval", json_pack("{s:I, s:f, s:f}", "step", (json_int_t)t->step, "seconds",
                                        seconds, "val_loss", isfinite(val_loss) ? val_loss : -1.0));
}

void yt_events_step(trainer *t, const yt_step_metrics *m)
{
    yt_attempt *a = &t->att;
    if (t->rank != 0 || !a->tb.f)
        return;
    a->kept += m->step_time_s;
    double wall = m->wall;
    double rented = a->prev_rented + (wall - a->start_wall);
    const char *tags[] = {"train/loss", "train/lr", "train/grad_norm", "train/tokens_per_s",
                          "train/step_time_s", "goodput/percent", "val/loss"};
    float v[] = {(float)m->loss, (float)m->lr, (float)m->grad_norm, (float)m->tokens_per_s,
                 (float)m->step_time_s,
                 rented > 0 ? (float)(100.0 * (a->prev_kept + a->kept) / rented) : 0.0f,
                 (float)m->val_loss};
    int n = isfinite(m->val_loss) ? 7 : 6;
    yt_err e;
    if (yt_tb_scalars(&a->tb, m->step, wall, tags, v, n, &e)) {
        yt_report("train: --tensorboard: %s; no more TensorBoard scalars for this attempt", e.msg);
        yt_tb_close(&a->tb);
    }
}

void yt_events_exit(trainer *t, int status, const yt_err *e)
{
    yt_attempt *a = &t->att;
    const char *cause = status == YT_EXIT_OK      ? "finished"
                        : status == YT_EXIT_YIELD ? (a->abandoned_s > 0 ? "abandoned" : "yielded")
                                                  : "failed";
    json_t *f = json_object();
    json_object_set_new(f, "attempt_start", json_real(a->start_wall));
    json_object_set_new(f, "cause", json_string(cause));
    json_object_set_new(f, "code", json_integer(status));
    json_object_set_new(f, "step", json_integer((json_int_t)t->step));
    if (status == YT_EXIT_YIELD) {
        int signo = yt_yield_signo();
        json_object_set_new(f, "signal", json_string(signo ? yt_signal_name(signo) : "(another rank)"));
    }
    if (a->abandoned_s > 0)
        json_object_set_new(f, "abandoned_s", json_real(a->abandoned_s));
    if (status != YT_EXIT_OK && status != YT_EXIT_YIELD && e && e->msg[0])
        json_object_set_new(f, "error", json_string(e->msg));
    yt_events_write(t, "exit", f);
    yt_tb_close(&a->tb);
}

/* The yields in a row, at the end of RUN/events.jsonl, whose attempt completed
 * no step (an attempt's "yield" event with "attempt_steps" 0; other events do
 * not break the row, a yield with progress ends it). */
static int stalled_yields(const char *run, long *at_step)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/events.jsonl", run);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    int row = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        const char *ev = json_string_value(json_object_get(j, "event"));
        if (ev && strcmp(ev, "yield") == 0) {
            json_t *n = json_object_get(j, "attempt_steps");
            row = json_is_integer(n) && json_integer_value(n) == 0 ? row + 1 : 0;
            *at_step = (long)json_integer_value(json_object_get(j, "step"));
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
    return row;
}

void yt_train_check_stalled(trainer *t)
{
    long step = -1;
    int row = t->rank == 0 ? stalled_yields(t->o.out, &step) : 0;
    if (row < YT_STALLED_YIELDS)
        return;
    yt_report("train: no progress: %d yields in a row completed no step (still at step %ld): every "
              "attempt is stopped before its first step ends; give the job more time between "
              "preemptions or signals, or make a step shorter (--micro-batch, --grad-accum)",
              row, step);
    yt_events_write(t, "no_progress", json_pack("{s:I, s:i}", "step", (json_int_t)step, "yields", row));
}
