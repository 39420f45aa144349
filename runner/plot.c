/* The picture of a run (plot.h): title, two panels (loss against step, loss
 * against wall time) and a legend, on a PNG or SVG cairo surface. */
#define _POSIX_C_SOURCE 200809L
#include "runner/plot.h"

#include <cairo-svg.h>
#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "runner/plot_frame.h"

#define W 1000
#define H 780

enum {
    C_KEPT = 0x1f4e9c,  /* loss of kept steps */
    C_LOST = 0xe07b00,  /* loss of steps later redone */
    C_VAL = 0x1a8c3a,   /* validation loss */
    C_PREEMPT = 0xc62828,
    C_FAIL = 0x555555,
};
static const unsigned band_rgb[2] = {0x4a90d9, 0x6ab04c};

static int preempted(const yt_goodput *g, int i)
{
    yt_gp_end h = g->att[i].how;
    return h == YT_GP_YIELDED || h == YT_GP_ABANDONED || (h == YT_GP_NO_EXIT && i + 1 < g->n_att);
}

static const char *mark_label(const yt_gp_attempt *a)
{
    if (a->how == YT_GP_FAILED)
        return "failed";
    if (a->how == YT_GP_NO_EXIT)
        return "killed";
    return a->signal[0] ? a->signal : "yield";
}

/* A vertical mark at x for attempt i's end, labelled left of the line. */
static void end_mark(cairo_t *cr, const yt_panel *p, double x, const yt_gp_attempt *a, int row)
{
    int fail = a->how == YT_GP_FAILED;
    yt_plot_rgb(cr, fail ? C_FAIL : C_PREEMPT, 0.9);
    double dash[] = {5, 3};
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_line_width(cr, 1.6);
    cairo_move_to(cr, x, p->y);
    cairo_line_to(cr, x, p->y + p->h);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    yt_plot_text(cr, x - 3, p->y + 20 + 13 * row, 10, 1, 1, 0, mark_label(a));
}

static void band(cairo_t *cr, const yt_panel *p, double x0, double x1, int i)
{
    double a = yt_px(p, x0), b = yt_px(p, x1);
    yt_plot_rgb(cr, band_rgb[i % 2], 0.16);
    cairo_rectangle(cr, a, p->y, b - a, p->h);
    cairo_fill(cr);
    char buf[16];
    snprintf(buf, sizeof buf, "#%d", i + 1);
    yt_plot_rgb(cr, band_rgb[i % 2], 1);
    yt_plot_text(cr, a + 3, p->y + 4, 10, 1, 0, 0, buf);
}

static void marker(cairo_t *cr, double x, double y, int cross)
{
    if (cross) {
        cairo_move_to(cr, x - 2.5, y - 2.5);
        cairo_line_to(cr, x + 2.5, y + 2.5);
        cairo_move_to(cr, x - 2.5, y + 2.5);
        cairo_line_to(cr, x + 2.5, y - 2.5);
        cairo_stroke(cr);
    } else {
        cairo_new_sub_path(cr);
        cairo_arc(cr, x, y, 3, 0, 6.283185307179586);
        cairo_fill(cr);
    }
}

/* The loss (or validation loss) of the steps chosen, one polyline per run of
 * consecutive chosen lines in the same attempt (per_attempt) or over all. */
static void series(cairo_t *cr, const yt_panel *p, const yt_goodput *g, int by_time, double t0,
                   double unit, int kept, int val, int per_attempt)
{
    int open = 0, last_att = -1;
    for (size_t k = 0; k < g->n_steps; k++) {
        const yt_gp_step *s = &g->steps[k];
        double v = val ? s->val_loss : s->loss;
        if (s->kept != kept || !isfinite(v))
            continue;
        double x = yt_px(p, by_time ? (s->time - t0) / unit : (double)s->step), y = yt_py(p, v);
        if (!open || (per_attempt && s->attempt != last_att))
            cairo_move_to(cr, x, y);
        else
            cairo_line_to(cr, x, y);
        open = 1;
        last_att = s->attempt;
    }
    cairo_stroke(cr);
    if (!val && kept)
        return;
    for (size_t k = 0; k < g->n_steps; k++) {
        const yt_gp_step *s = &g->steps[k];
        double v = val ? s->val_loss : s->loss;
        if (s->kept == kept && isfinite(v))
            marker(cr, yt_px(p, by_time ? (s->time - t0) / unit : (double)s->step), yt_py(p, v), !val);
    }
}

static void curves(cairo_t *cr, const yt_panel *p, const yt_goodput *g, int by_time, double t0, double unit)
{
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    /* lost steps last: a redone step has the same loss as its kept twin */
    cairo_set_line_width(cr, 1.8);
    yt_plot_rgb(cr, C_KEPT, 1);
    series(cr, p, g, by_time, t0, unit, 1, 0, by_time);
    yt_plot_rgb(cr, C_VAL, 1);
    series(cr, p, g, by_time, t0, unit, 1, 1, by_time);
    cairo_set_line_width(cr, 1.2);
    yt_plot_rgb(cr, C_LOST, 0.9);
    series(cr, p, g, by_time, t0, unit, 0, 0, 1);
}

static void legend(cairo_t *cr, double x, double y)
{
    static const char *const label[] = {"loss (kept steps)", "loss (lost steps, redone)",
                                        "validation loss", "attempt span", "start-up + resume",
                                        "preemption (signal / killed)"};
    for (int i = 0; i < 6; i++) {
        double lx = x + (i % 3) * 300, ly = y + (i / 3) * 20;
        cairo_set_line_width(cr, 1.8);
        switch (i) {
        case 0: yt_plot_rgb(cr, C_KEPT, 1); cairo_move_to(cr, lx, ly + 7); cairo_line_to(cr, lx + 26, ly + 7); cairo_stroke(cr); break;
        case 1:
            yt_plot_rgb(cr, C_LOST, 1);
            cairo_set_line_width(cr, 1.2);
            cairo_move_to(cr, lx, ly + 7);
            cairo_line_to(cr, lx + 26, ly + 7);
            cairo_stroke(cr);
            marker(cr, lx + 13, ly + 7, 1);
            break;
        case 2:
            yt_plot_rgb(cr, C_VAL, 1);
            cairo_move_to(cr, lx, ly + 7);
            cairo_line_to(cr, lx + 26, ly + 7);
            cairo_stroke(cr);
            marker(cr, lx + 13, ly + 7, 0);
            break;
        case 3:
            yt_plot_rgb(cr, band_rgb[0], 0.25);
            cairo_rectangle(cr, lx, ly, 12, 14);
            cairo_fill(cr);
            yt_plot_rgb(cr, band_rgb[1], 0.25);
            cairo_rectangle(cr, lx + 13, ly, 12, 14);
            cairo_fill(cr);
            break;
        case 4: yt_plot_rgb(cr, 0x000000, 0.2); cairo_rectangle(cr, lx, ly, 26, 14); cairo_fill(cr); break;
        default: {
            double dash[] = {5, 3};
            cairo_set_dash(cr, dash, 2, 0);
            yt_plot_rgb(cr, C_PREEMPT, 1);
            cairo_move_to(cr, lx + 13, ly - 1);
            cairo_line_to(cr, lx + 13, ly + 15);
            cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
        }
        }
        yt_plot_rgb(cr, 0x222222, 1);
        yt_plot_text(cr, lx + 34, ly + 7, 12, 0, 0, 0.5, label[i]);
    }
}

static void draw(cairo_t *cr, const yt_goodput *g)
{
    yt_plot_rgb(cr, 0xffffff, 1);
    cairo_paint(cr);
    /* data ranges */
    double lo = INFINITY, hi = -INFINITY;
    long max_step = 1;
    for (size_t k = 0; k < g->n_steps; k++) {
        const yt_gp_step *s = &g->steps[k];
        double v[2] = {s->loss, s->val_loss};
        for (int j = 0; j < 2; j++)
            if (isfinite(v[j])) {
                lo = fmin(lo, v[j]);
                hi = fmax(hi, v[j]);
            }
        if (s->step > max_step)
            max_step = s->step;
    }
    if (!isfinite(lo)) {
        lo = 0;
        hi = 1;
    }
    double pad = (hi - lo) * 0.05;
    lo -= pad;
    hi += pad;
    double t0 = g->n_att ? g->att[0].start : 0, span = 0;
    for (int i = 0; i < g->n_att; i++)
        span = fmax(span, g->att[i].end - t0);
    double unit = span <= 180 ? 1 : span <= 180 * 60 ? 60 : 3600;
    const char *uname = unit == 1 ? "seconds" : unit == 60 ? "minutes" : "hours";

    char buf[512];
    yt_plot_rgb(cr, 0x111111, 1);
    snprintf(buf, sizeof buf, "%.300s: goodput %.1f %% (kept step time / rented time)", g->run,
             100 * g->goodput);
    yt_plot_text(cr, 70, 14, 16, 1, 0, 0, buf);
    snprintf(buf, sizeof buf,
             "%d attempt%s, %d preemption%s (%d yield%s, %d killed), %ld steps redone; rented %.1f s, "
             "kept step time %.1f s",
             g->n_att, g->n_att == 1 ? "" : "s", g->preemptions, g->preemptions == 1 ? "" : "s",
             g->yields, g->yields == 1 ? "" : "s", g->kills, g->redone_steps, g->rented, g->s[YT_GP_KEPT]);
    yt_plot_rgb(cr, 0x444444, 1);
    yt_plot_text(cr, 70, 38, 12, 0, 0, 0, buf);

    yt_panel ps = {80, 96, W - 110, 250, 0, (double)max_step, lo, hi};
    yt_panel pt = {80, 420, W - 110, 250, 0, span / unit, lo, hi};
    double xs = yt_plot_nice(&ps.x0, &ps.x1, 10, 1);
    double ys = yt_plot_nice(&ps.y0, &ps.y1, 6, 0);
    double xt = yt_plot_nice(&pt.x0, &pt.x1, 10, 0);
    pt.y0 = ps.y0;
    pt.y1 = ps.y1;

    /* against step */
    cairo_save(cr);
    yt_plot_clip(cr, &ps);
    for (int i = 0; i < g->n_att; i++)
        if (g->att[i].last_step > g->att[i].first_step)
            band(cr, &ps, (double)g->att[i].first_step, (double)g->att[i].last_step, i);
    curves(cr, &ps, g, 0, t0, unit);
    for (int i = 0, row = 0; i < g->n_att; i++)
        if (preempted(g, i) || g->att[i].how == YT_GP_FAILED)
            end_mark(cr, &ps, yt_px(&ps, (double)g->att[i].last_step), &g->att[i], (row++) % 2);
    cairo_restore(cr);
    yt_plot_frame(cr, &ps, xs, ys, "step", "loss", "loss against step (shaded: the steps each attempt computed)");

    /* against wall time */
    cairo_save(cr);
    yt_plot_clip(cr, &pt);
    for (int i = 0; i < g->n_att; i++) {
        const yt_gp_attempt *a = &g->att[i];
        band(cr, &pt, (a->start - t0) / unit, (a->end - t0) / unit, i);
        double su = a->s[YT_GP_STARTUP] + a->s[YT_GP_RESUME];
        if (su > 0) {
            double x0 = yt_px(&pt, (a->start - t0) / unit), x1 = yt_px(&pt, (a->start + su - t0) / unit);
            yt_plot_rgb(cr, 0x000000, 0.12);
            cairo_rectangle(cr, x0, pt.y + 18, x1 - x0, pt.h - 18);
            cairo_fill(cr);
        }
    }
    curves(cr, &pt, g, 1, t0, unit);
    for (int i = 0, row = 0; i < g->n_att; i++)
        if (preempted(g, i) || g->att[i].how == YT_GP_FAILED)
            end_mark(cr, &pt, yt_px(&pt, (g->att[i].end - t0) / unit), &g->att[i], (row++) % 2);
    cairo_restore(cr);
    char xl[64];
    snprintf(xl, sizeof xl, "wall time since the first start (%s)", uname);
    yt_plot_frame(cr, &pt, xt, ys, xl, "loss",
                  "loss against wall time (shaded: each attempt from process start to exit)");
    legend(cr, 80, H - 58);
}

static cairo_status_t write_cb(void *closure, const unsigned char *data, unsigned int len)
{
    return fwrite(data, 1, len, closure) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

static int ends_with(const char *s, const char *ext)
{
    size_t n = strlen(s), m = strlen(ext);
    return n > m && strcasecmp(s + n - m, ext) == 0;
}

int yt_plot_check_name(const char *path, yt_err *e)
{
    if (!ends_with(path, ".svg") && !ends_with(path, ".png"))
        return yt_errf(e, "--plot %s: the file name must end in .png or .svg", path);
    return 0;
}

int yt_plot_run(const yt_goodput *g, const char *path, yt_err *e)
{
    int svg = ends_with(path, ".svg");
    if (yt_plot_check_name(path, e))
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return yt_errno(e, errno, "--plot %s", path);
    cairo_surface_t *s = svg ? cairo_svg_surface_create_for_stream(write_cb, f, W, H)
                             : cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(s);
    draw(cr, g);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (st == CAIRO_STATUS_SUCCESS && !svg)
        st = cairo_surface_write_to_png_stream(s, write_cb, f);
    cairo_surface_finish(s);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    int err = 0;
    if (fflush(f) != 0 || ferror(f))
        err = errno ? errno : EIO;
    if (fclose(f) != 0 && !err)
        err = errno;
    if (st != CAIRO_STATUS_SUCCESS)
        return yt_errf(e, "--plot %s: %s", path, st == CAIRO_STATUS_WRITE_ERROR && err ? strerror(err)
                                                                                      : cairo_status_to_string(st));
    if (err)
        return yt_errno(e, err, "--plot %s: write failed", path);
    return 0;
}
