/* runner/plot_frame: the chart primitives of runner/plot.c on a cairo context:
 * a panel mapping data to pixels, its frame with "nice" ticks, grid and
 * labels, and text placed by alignment.  Internal to runner/. */
#ifndef YT_PLOT_FRAME_H
#define YT_PLOT_FRAME_H

#include <cairo.h>

typedef struct yt_panel {
    double x, y, w, h;     /* pixels: top-left corner and size of the data area */
    double x0, x1, y0, y1; /* data range shown */
} yt_panel;

static inline double yt_px(const yt_panel *p, double v) { return p->x + (v - p->x0) / (p->x1 - p->x0) * p->w; }
static inline double yt_py(const yt_panel *p, double v) { return p->y + p->h - (v - p->y0) / (p->y1 - p->y0) * p->h; }

void yt_plot_rgb(cairo_t *cr, unsigned rgb, double alpha);
/* Text with its anchor at (x, y): ax 0 left, 0.5 centre, 1 right; ay likewise top to bottom. */
void yt_plot_text(cairo_t *cr, double x, double y, double size, int bold, double ax, double ay,
                  const char *s);
/* Widens [lo, hi] to nice tick bounds; returns the tick step. */
double yt_plot_nice(double *lo, double *hi, int ticks, int integer);
/* Grid, ticks, tick labels, axis labels and the panel title. */
void yt_plot_frame(cairo_t *cr, const yt_panel *p, double xstep, double ystep, const char *xlabel,
                   const char *ylabel, const char *title);
/* Restricts drawing to the data area (cairo_reset_clip to undo). */
void yt_plot_clip(cairo_t *cr, const yt_panel *p);

#endif
