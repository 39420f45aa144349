/* Chart primitives on cairo (plot_frame.h). */
#define _POSIX_C_SOURCE 200809L
#include "runner/plot_frame.h"

#include <math.h>
#include <stdio.h>

void yt_plot_rgb(cairo_t *cr, unsigned rgb, double alpha)
{
    cairo_set_source_rgba(cr, ((rgb >> 16) & 255) / 255.0, ((rgb >> 8) & 255) / 255.0,
                          (rgb & 255) / 255.0, alpha);
}

void yt_plot_text(cairo_t *cr, double x, double y, double size, int bold, double ax, double ay,
                  const char *s)
{
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t te;
    cairo_font_extents_t fe;
    cairo_text_extents(cr, s, &te);
    cairo_font_extents(cr, &fe);
    /* vertical placement by the font's ascent and descent, so that labels of
     * one row line up whatever their letters */
    double h = fe.ascent + fe.descent;
    cairo_move_to(cr, x - ax * te.x_advance, y - ay * h + fe.ascent);
    cairo_show_text(cr, s);
}

double yt_plot_nice(double *lo, double *hi, int ticks, int integer)
{
    if (!(*hi > *lo)) {
        double c = isfinite(*lo) ? *lo : 0;
        *lo = c - 1;
        *hi = c + 1;
    }
    double raw = (*hi - *lo) / ticks;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
    if (integer && step < 1)
        step = 1;
    *lo = floor(*lo / step) * step;
    *hi = ceil(*hi / step) * step;
    return step;
}

static void fmt_tick(char *buf, size_t n, double v, double step)
{
    if (fabs(v) < step * 1e-6)
        v = 0;
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, n, "%.*f", dec, v);
}

void yt_plot_frame(cairo_t *cr, const yt_panel *p, double xstep, double ystep, const char *xlabel,
                   const char *ylabel, const char *title)
{
    char buf[64];
    cairo_set_line_width(cr, 1);
    for (double v = p->x0; v <= p->x1 + xstep * 1e-6; v += xstep) {
        double x = round(yt_px(p, v)) + 0.5;
        yt_plot_rgb(cr, 0x000000, 0.08);
        cairo_move_to(cr, x, p->y);
        cairo_line_to(cr, x, p->y + p->h);
        cairo_stroke(cr);
        yt_plot_rgb(cr, 0x333333, 1);
        cairo_move_to(cr, x, p->y + p->h);
        cairo_line_to(cr, x, p->y + p->h + 5);
        cairo_stroke(cr);
        fmt_tick(buf, sizeof buf, v, xstep);
        yt_plot_text(cr, x, p->y + p->h + 8, 11, 0, 0.5, 0, buf);
    }
    for (double v = p->y0; v <= p->y1 + ystep * 1e-6; v += ystep) {
        double y = round(yt_py(p, v)) + 0.5;
        yt_plot_rgb(cr, 0x000000, 0.08);
        cairo_move_to(cr, p->x, y);
        cairo_line_to(cr, p->x + p->w, y);
        cairo_stroke(cr);
        yt_plot_rgb(cr, 0x333333, 1);
        cairo_move_to(cr, p->x - 5, y);
        cairo_line_to(cr, p->x, y);
        cairo_stroke(cr);
        fmt_tick(buf, sizeof buf, v, ystep);
        yt_plot_text(cr, p->x - 8, y, 11, 0, 1, 0.5, buf);
    }
    yt_plot_rgb(cr, 0x333333, 1);
    cairo_rectangle(cr, round(p->x) + 0.5, round(p->y) + 0.5, round(p->w), round(p->h));
    cairo_stroke(cr);
    yt_plot_text(cr, p->x + p->w / 2, p->y + p->h + 26, 12, 0, 0.5, 0, xlabel);
    yt_plot_text(cr, p->x, p->y - 8, 13, 1, 0, 1, title);
    cairo_save(cr);
    cairo_translate(cr, p->x - 52, p->y + p->h / 2);
    cairo_rotate(cr, -1.5707963267948966); /* -pi/2 */
    yt_plot_text(cr, 0, 0, 12, 0, 0.5, 0.5, ylabel);
    cairo_restore(cr);
}

void yt_plot_clip(cairo_t *cr, const yt_panel *p)
{
    cairo_rectangle(cr, p->x, p->y, p->w, p->h);
    cairo_clip(cr);
}
