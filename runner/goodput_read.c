/* Reading RUN/events.jsonl and RUN/metrics.jsonl for the goodput accounting:
 * one item per usable line, the two files merged by time (each file keeps its
 * own order, so a hand-edited time cannot reorder a file).  A line that cannot
 * be used is listed with file:line and why, and the rest is still read. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/goodput.h"

int yt_gp_note(char ***list, int *n, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **l = realloc(*list, (size_t)(*n + 1) * sizeof *l);
    if (!l)
        return -1;
    *list = l;
    l[*n] = strdup(buf);
    if (!l[*n])
        return -1;
    (*n)++;
    return 0;
}

typedef struct vec {
    yt_gp_item *v;
    size_t n, cap;
} vec;

static yt_gp_item *push(vec *a, yt_err *e)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 256;
        yt_gp_item *v = yt_realloc_array(a->v, cap, sizeof *v, "the line list", e);
        if (!v)
            return NULL;
        a->v = v;
        a->cap = cap;
    }
    yt_gp_item *it = &a->v[a->n++];
    memset(it, 0, sizeof *it);
    it->attempt_start = it->load_s = it->resume_s = it->seconds = it->abandoned_s = NAN;
    it->step = -1;
    it->bytes = -1;
    it->code = -1;
    return it;
}

/* A number field: 1 when present and finite. */
static int num(json_t *o, const char *k, double *v)
{
    json_t *x = json_object_get(o, k);
    if (!json_is_number(x) || !isfinite(json_number_value(x)))
        return 0;
    *v = json_number_value(x);
    return 1;
}

static int whole(json_t *o, const char *k, long *v)
{
    double d;
    if (!num(o, k, &d) || d != floor(d) || fabs(d) > 9e15)
        return 0;
    *v = (long)d;
    return 1;
}

static void str(json_t *o, const char *k, char *dst, size_t cap)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (s)
        snprintf(dst, cap, "%s", s);
}

/* Fills an event item; returns the reason it cannot be used, or NULL. */
static const char *event_item(json_t *o, yt_gp_item *it)
{
    const char *ev = json_string_value(json_object_get(o, "event"));
    if (!ev)
        return "no \"event\" string";
    if (!num(o, "time", &it->time))
        return "no numeric \"time\"";
    static const char *const known[] = {"start", "resume", "snapshot", "eval", "yield", "finish", "exit"};
    size_t k = 0;
    while (k < sizeof known / sizeof known[0] && strcmp(ev, known[k]) != 0)
        k++;
    if (k == sizeof known / sizeof known[0])
        return "unknown event";
    snprintf(it->event, sizeof it->event, "%s", ev);
    it->is_event = 1;
    num(o, "attempt_start", &it->attempt_start);
    num(o, "load_s", &it->load_s);
    num(o, "resume_s", &it->resume_s);
    num(o, "abandoned_s", &it->abandoned_s);
    whole(o, "step", &it->step);
    str(o, "signal", it->signal, sizeof it->signal);
    str(o, "error", it->error, sizeof it->error);
    long v;
    if (whole(o, "code", &v))
        it->code = (int)v;
    if (strcmp(ev, "snapshot") == 0 || strcmp(ev, "eval") == 0) {
        if (!num(o, "seconds", &it->seconds) || it->seconds < 0)
            return "no \"seconds\" (a number >= 0)";
        if (whole(o, "bytes", &v))
            it->bytes = v;
    }
    if (strcmp(ev, "exit") == 0) {
        str(o, "cause", it->cause, sizeof it->cause);
        if (!it->cause[0])
            return "no \"cause\" string";
    }
    it->key = it->time;
    if ((strcmp(ev, "start") == 0 || strcmp(ev, "resume") == 0)) {
        if (isfinite(it->attempt_start))
            it->key = it->attempt_start;
        else if (isfinite(it->load_s) && isfinite(it->resume_s))
            it->key = it->time - it->load_s - it->resume_s;
    }
    return NULL;
}

static const char *metrics_item(json_t *o, yt_gp_item *it, yt_gp_step *s)
{
    long step;
    if (!whole(o, "step", &step) || step < 1)
        return "no \"step\" (an integer >= 1)";
    if (!num(o, "time", &it->time))
        return "no numeric \"time\"";
    double st;
    if (!num(o, "step_time_s", &st) || st < 0)
        return "no \"step_time_s\" (a number >= 0)";
    memset(s, 0, sizeof *s);
    s->step = step;
    s->time = it->time;
    s->step_s = st;
    s->loss = s->val_loss = s->lr = s->grad_norm = s->tokens_per_s = NAN;
    num(o, "loss", &s->loss);
    num(o, "val_loss", &s->val_loss);
    num(o, "lr", &s->lr);
    num(o, "grad_norm", &s->grad_norm);
    num(o, "tokens_per_s", &s->tokens_per_s);
    long tk;
    if (whole(o, "step_tokens", &tk) && tk >= 0)
        s->step_tokens = tk;
    it->key = it->time;
    it->step = step;
    return NULL;
}

/* Reads one file; a missing file is *missing = 1, not an error. */
static int read_file(yt_goodput *g, const char *name, int events, vec *out, int *missing, yt_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", g->run, name);
    FILE *f = fopen(path, "r");
    *missing = 0;
    if (!f) {
        if (errno == ENOENT) {
            *missing = 1;
            return 0;
        }
        return yt_errno(e, errno, "%s", path);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long no = 0;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        no++;
        int has_nl = len > 0 && line[len - 1] == '\n';
        if (has_nl)
            line[--len] = '\0';
        const char *why = NULL;
        char whybuf[320];
        json_error_t je;
        json_t *o = NULL;
        if (len == 0) {
            why = "empty line";
        } else if (!(o = json_loads(line, 0, &je))) {
            snprintf(whybuf, sizeof whybuf, "%s (%s at column %d)",
                     has_nl ? "not JSON" : "truncated (no end of line)", je.text, je.column);
            why = whybuf;
        } else if (!json_is_object(o)) {
            why = "not a JSON object";
        } else {
            yt_gp_item *it = push(out, e);
            if (!it) {
                json_decref(o);
                rc = yt_err_prefix(e, "%s", path);
                break;
            }
            it->line = no;
            if (events) {
                why = event_item(o, it);
            } else {
                yt_gp_step s;
                why = metrics_item(o, it, &s);
                if (!why && g->n_steps == g->cap_steps) {
                    size_t cap = g->cap_steps ? 2 * g->cap_steps : 256;
                    yt_gp_step *v = yt_realloc_array(g->steps, cap, sizeof *v, "the step list", e);
                    if (!v) {
                        json_decref(o);
                        rc = yt_err_prefix(e, "%s", path);
                        break;
                    }
                    g->steps = v;
                    g->cap_steps = cap;
                }
                if (!why) {
                    s.line = no;
                    it->step_index = g->n_steps;
                    g->steps[g->n_steps++] = s;
                }
            }
            if (why)
                out->n--;
        }
        json_decref(o);
        if (why && yt_gp_note(&g->skipped, &g->n_skipped, "%s:%ld: skipped: %s", path, no, why)) {
            yt_err_oom(e, "the notes on skipped lines");
            rc = yt_err_prefix(e, "%s", path);
            break;
        }
    }
    if (rc == 0 && ferror(f))
        rc = yt_errno(e, errno, "%s: read failed", path);
    free(line);
    fclose(f);
    return rc;
}

int yt_gp_parse(yt_goodput *g, yt_gp_item **items, size_t *n_items, yt_err *e)
{
    vec ev = {0}, me = {0};
    int miss_e = 0, miss_m = 0;
    *items = NULL;
    *n_items = 0;
    if (read_file(g, "events.jsonl", 1, &ev, &miss_e, e) || read_file(g, "metrics.jsonl", 0, &me, &miss_m, e)) {
        free(ev.v);
        free(me.v);
        return -1;
    }
    if (miss_e && miss_m) {
        free(ev.v);
        free(me.v);
        return yt_errf(e, "%s: neither events.jsonl nor metrics.jsonl exists (not a run folder?)", g->run);
    }
    if (miss_e)
        yt_gp_note(&g->notes, &g->n_notes, "%s/events.jsonl is missing: attempts are inferred "
                   "from metrics.jsonl alone (restarts where the step goes back; start-up, "
                   "snapshots and exits unknown)", g->run);
    if (miss_m)
        yt_gp_note(&g->notes, &g->n_notes, "%s/metrics.jsonl is missing: no steps", g->run);
    yt_gp_item *all = yt_alloc_array(ev.n + me.n + 1, sizeof *all, "the merged lines", e);
    if (!all) {
        free(ev.v);
        free(me.v);
        return yt_err_prefix(e, "%s", g->run);
    }
    size_t i = 0, j = 0, n = 0;
    while (i < ev.n || j < me.n) {
        if (j == me.n || (i < ev.n && ev.v[i].key <= me.v[j].key))
            all[n++] = ev.v[i++];
        else
            all[n++] = me.v[j++];
    }
    free(ev.v);
    free(me.v);
    *items = all;
    *n_items = n;
    return 0;
}
