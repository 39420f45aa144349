/* yieldtune report: goodput of a run folder (runner/goodput.h does the
 * accounting), as text or JSON, and optionally a plot (runner/plot.h). */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "runner/goodput.h"
#include "runner/options.h"
#include "runner/plot.h"
#include "runner/runner.h"

typedef struct report_opts {
    char plot[4096];
    int json;
} report_opts;

#define O(f) offsetof(report_opts, f)
#define S(f) sizeof(((report_opts *)0)->f)
static const yt_opt report_table[] = {
    {"plot", YT_OPT_STR, O(plot), S(plot), NULL, 0, 0, NULL, 0, "FILE.png|FILE.svg",
     "also draw the loss and validation loss against step and against wall time, each "
     "attempt's span shaded and the preemptions marked (PNG or SVG by the extension)"},
    {"json", YT_OPT_BOOL, O(json), 0, "false", 0, 0, NULL, 0, NULL,
     "print the report as one JSON object (for machines) instead of text"},
    YT_OPT_END,
};
#undef O
#undef S

#define DEFINITION                                                                                 \
    "goodput = kept step time / rented time.  Rented time: the sum over attempts (processes) "     \
    "of exit minus process start, start-up, weight loading, resume, yields and everything "        \
    "between included; time between attempts is not rented.  Kept step time: the step_time_s "     \
    "of every step whose result the run kept, i.e. that no later attempt recomputed after "        \
    "resuming from an older snapshot."

static const char *const cause_text[YT_GP_NCAUSES] = {
    "kept steps", "start-up and weight loading", "resume (find, verify, load snapshot)",
    "yields (snapshot, abandoned step, exit)", "lost steps (computed, then redone)",
    "snapshots (periodic and final)", "evaluation", "other (between steps, adapter, exit)",
};

static void fmt_time(char *buf, size_t n, double wall)
{
    time_t s = (time_t)wall;
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, n, "%.0f", wall);
}

static void fmt_bytes(char *buf, size_t n, double b)
{
    if (b >= 1e9)
        snprintf(buf, n, "%.2f GB", b / 1e9);
    else if (b >= 1e6)
        snprintf(buf, n, "%.2f MB", b / 1e6);
    else
        snprintf(buf, n, "%.1f kB", b / 1e3);
}

static void end_text(const yt_gp_attempt *a, char *buf, size_t n)
{
    switch (a->how) {
    case YT_GP_FINISHED: snprintf(buf, n, "finished at step %ld", a->last_step); break;
    case YT_GP_YIELDED: snprintf(buf, n, "yielded (%s) at step %ld", a->signal[0] ? a->signal : "?", a->last_step); break;
    case YT_GP_ABANDONED:
        snprintf(buf, n, "yielded (%s), step %ld abandoned", a->signal[0] ? a->signal : "?", a->last_step + 1);
        break;
    case YT_GP_FAILED: snprintf(buf, n, "failed%s%.200s", a->error[0] ? ": " : "", a->error); break;
    default: snprintf(buf, n, "no exit event (killed?); ends at %s", a->end_from); break;
    }
}

static double pct(double a, double b) { return b > 0 ? 100.0 * a / b : 0; }

static void print_text(const yt_goodput *g)
{
    char t0[32] = "-", t1[32] = "-";
    if (g->n_att) {
        fmt_time(t0, sizeof t0, g->att[0].start);
        fmt_time(t1, sizeof t1, g->att[g->n_att - 1].end);
    }
    printf("run %s: %d attempt%s, %s to %s UTC\n", g->run, g->n_att, g->n_att == 1 ? "" : "s", t0, t1);
    printf("goodput %.1f %% = kept step time %.2f s / rented time %.2f s\n", 100 * g->goodput,
           g->s[YT_GP_KEPT], g->rented);
    printf("  rented time: the sum over attempts of (exit - process start): start-up, weight\n"
           "    loading, resume, yields and everything between included; time between attempts\n"
           "    is not rented\n"
           "  kept step time: the step_time_s of each step whose result the run kept (no later\n"
           "    attempt recomputed it after resuming from an older snapshot)\n\n");
    printf("where the rented time went                   seconds    share\n");
    for (int c = 0; c < YT_GP_NCAUSES; c++) {
        char label[96];
        snprintf(label, sizeof label, "%s", cause_text[c]);
        if (c == YT_GP_KEPT)
            snprintf(label, sizeof label, "kept steps (%ld)", g->kept_steps);
        else if (c == YT_GP_LOST)
            snprintf(label, sizeof label, "lost steps (%ld, computed then redone)", g->lost_steps);
        else if (c == YT_GP_SNAPSHOT)
            snprintf(label, sizeof label, "snapshots (periodic and final)");
        else if (c == YT_GP_EVAL)
            snprintf(label, sizeof label, "evaluation (%d)", g->evals);
        printf("  %-40s %10.2f  %6.1f %%\n", label, g->s[c], pct(g->s[c], g->rented));
    }
    printf("  %-40s %10.2f  %6.1f %%\n\n", "total = rented time", g->rented, g->rented > 0 ? 100.0 : 0);
    printf("steps: %ld kept, %ld lost (%ld redone), %zu computed\n", g->kept_steps, g->lost_steps,
           g->redone_steps, g->n_steps);
    printf("preemptions: %d (%d yield%s, %d killed without an exit event); failures: %d\n",
           g->preemptions, g->yields, g->yields == 1 ? "" : "s", g->kills, g->failures);
    char b1[32], b2[32];
    fmt_bytes(b1, sizeof b1, (double)g->snapshot_bytes);
    fmt_bytes(b2, sizeof b2, g->snapshots ? (double)g->snapshot_bytes / g->snapshots : 0);
    printf("snapshots: %d, %.2f s and %s in all (%.3f s and %s each on average)\n", g->snapshots,
           g->snapshot_s, b1, g->snapshots ? g->snapshot_s / g->snapshots : 0, b2);
    printf("tokens/s: %.0f while stepping, %.0f kept tokens per rented second\n",
           g->computed_s > 0 ? (double)g->computed_tokens / g->computed_s : 0,
           g->rented > 0 ? (double)g->kept_tokens / g->rented : 0);
    printf("between attempts (not rented): %.2f s\n\n", g->idle);
    printf("attempts\n   #  start (UTC)           rented s    load s  resume s  steps          kept  lost  end\n");
    for (int i = 0; i < g->n_att; i++) {
        const yt_gp_attempt *a = &g->att[i];
        char ts[32], steps[48], end[400];
        fmt_time(ts, sizeof ts, a->start);
        if (a->last_step > a->first_step)
            snprintf(steps, sizeof steps, "%ld-%ld", a->first_step + 1, a->last_step);
        else
            snprintf(steps, sizeof steps, "none");
        end_text(a, end, sizeof end);
        printf("  %2d  %s%s %10.2f %9.2f %9.2f  %-12s %6ld %5ld  %s\n", i + 1, ts,
               a->start_known ? " " : "*", a->rented, a->s[YT_GP_STARTUP], a->s[YT_GP_RESUME], steps,
               a->kept_steps, a->lost_steps, end);
    }
    int starred = 0;
    for (int i = 0; i < g->n_att; i++)
        starred |= !g->att[i].start_known;
    if (starred)
        printf("  * process start not recorded: the attempt begins at its first line\n");
    if (g->n_skipped) {
        printf("\nskipped lines (%d)\n", g->n_skipped);
        for (int i = 0; i < g->n_skipped; i++)
            printf("  %s\n", g->skipped[i]);
    }
    if (g->n_notes) {
        printf("\nnotes\n");
        for (int i = 0; i < g->n_notes; i++)
            printf("  %s\n", g->notes[i]);
    }
}

static json_t *causes_json(const double *s)
{
    json_t *o = json_object();
    for (int c = 0; c < YT_GP_NCAUSES; c++)
        json_object_set_new(o, yt_gp_cause_names[c], json_real(s[c]));
    return o;
}

static json_t *strings_json(char **v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static void print_json(const yt_goodput *g)
{
    json_t *r = json_object();
    json_object_set_new(r, "run", json_string(g->run));
    json_object_set_new(r, "definition", json_string(DEFINITION));
    json_object_set_new(r, "goodput_percent", json_real(100 * g->goodput));
    json_object_set_new(r, "rented_s", json_real(g->rented));
    json_object_set_new(r, "kept_step_s", json_real(g->s[YT_GP_KEPT]));
    json_object_set_new(r, "seconds", causes_json(g->s));
    json_object_set_new(r, "between_attempts_s", json_real(g->idle));
    json_object_set_new(r, "steps", json_pack("{s:I, s:I, s:I, s:I}", "kept", (json_int_t)g->kept_steps,
                                              "lost", (json_int_t)g->lost_steps, "redone",
                                              (json_int_t)g->redone_steps, "computed",
                                              (json_int_t)g->n_steps));
    json_object_set_new(r, "preemptions", json_integer(g->preemptions));
    json_object_set_new(r, "yields", json_integer(g->yields));
    json_object_set_new(r, "kills", json_integer(g->kills));
    json_object_set_new(r, "failures", json_integer(g->failures));
    json_object_set_new(r, "snapshots", json_pack("{s:i, s:f, s:I}", "count", g->snapshots, "seconds",
                                                  g->snapshot_s, "bytes", (json_int_t)g->snapshot_bytes));
    json_object_set_new(r, "evaluations", json_integer(g->evals));
    json_object_set_new(r, "tokens", json_pack("{s:I, s:I}", "kept", (json_int_t)g->kept_tokens,
                                               "computed", (json_int_t)g->computed_tokens));
    json_object_set_new(r, "tokens_per_s",
                        json_pack("{s:f, s:f}", "stepping",
                                  g->computed_s > 0 ? (double)g->computed_tokens / g->computed_s : 0.0,
                                  "kept_per_rented", g->rented > 0 ? (double)g->kept_tokens / g->rented : 0.0));
    json_t *atts = json_array();
    for (int i = 0; i < g->n_att; i++) {
        const yt_gp_attempt *a = &g->att[i];
        json_t *o = json_object();
        json_object_set_new(o, "start", json_real(a->start));
        json_object_set_new(o, "end", json_real(a->end));
        json_object_set_new(o, "rented_s", json_real(a->rented));
        json_object_set_new(o, "start_known", json_boolean(a->start_known));
        json_object_set_new(o, "implicit", json_boolean(a->implicit));
        json_object_set_new(o, "resumed", json_boolean(a->resumed));
        json_object_set_new(o, "first_step", json_integer(a->first_step));
        json_object_set_new(o, "last_step", json_integer(a->last_step));
        json_object_set_new(o, "end_cause", json_string(yt_gp_end_name(a->how)));
        if (a->signal[0])
            json_object_set_new(o, "signal", json_string(a->signal));
        if (a->end_from[0])
            json_object_set_new(o, "end_from", json_string(a->end_from));
        if (a->error[0])
            json_object_set_new(o, "error", json_string(a->error));
        json_object_set_new(o, "kept_steps", json_integer(a->kept_steps));
        json_object_set_new(o, "lost_steps", json_integer(a->lost_steps));
        json_object_set_new(o, "snapshots", json_integer(a->snapshots));
        json_object_set_new(o, "seconds", causes_json(a->s));
        json_array_append_new(atts, o);
    }
    json_object_set_new(r, "attempts", atts);
    json_object_set_new(r, "skipped", strings_json(g->skipped, g->n_skipped));
    json_object_set_new(r, "notes", strings_json(g->notes, g->n_notes));
    json_dumpf(r, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    putchar('\n');
    json_decref(r);
}

int yt_cmd_report(int argc, char **argv)
{
    report_opts o;
    const char *pos[1];
    int npos = 0;
    static const yt_cmd_spec spec = {
        "report", "yieldtune report RUN [--plot FILE.png|FILE.svg] [--json]",
        "Where the rented time of a run went, from RUN/events.jsonl and RUN/metrics.jsonl:\n"
        "rented time, kept and lost step time, start-up, resume, yields, snapshots,\n"
        "evaluation and the rest, steps redone, preemptions, snapshots, tokens/s, and\n"
        "\n"
        "  goodput = kept step time / rented time\n"
        "\n"
        "rented time: the sum over attempts (processes) of exit minus process start,\n"
        "  start-up, weight loading, resume, yields and everything between included;\n"
        "  time between attempts (queue, requeue) is not rented;\n"
        "kept step time: the step_time_s of every step whose result the run kept,\n"
        "  i.e. that no later attempt recomputed after resuming from an older snapshot.\n"
        "The causes sum to the rented time.  An attempt without an exit event (kill -9,\n"
        "or still running) ends at its last line.  Lines that cannot be read are\n"
        "listed with file:line and skipped.",
        report_table, 1, 1, "one RUN folder"};
    int rc = yt_cmd_options(&spec, &o, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    yt_err e = {{0}};
    if (o.plot[0] && yt_plot_check_name(o.plot, &e)) {
        yt_report("report: %s", e.msg);
        return YT_EXIT_USAGE;
    }
    yt_goodput g;
    if (yt_goodput_read(&g, pos[0], &e)) {
        yt_report("report: %s", e.msg);
        yt_goodput_free(&g);
        return YT_EXIT_FAIL;
    }
    if (o.json)
        print_json(&g);
    else
        print_text(&g);
    int status = YT_EXIT_OK;
    if (o.plot[0]) {
        if (yt_plot_run(&g, o.plot, &e)) {
            yt_report("report: %s", e.msg);
            status = YT_EXIT_FAIL;
        } else if (!o.json) {
            printf("\nplot written to %s\n", o.plot);
        }
    }
    yt_goodput_free(&g);
    return status;
}
