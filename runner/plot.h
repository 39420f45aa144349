/* runner/plot: the picture of a run for `yieldtune report --plot`, drawn with
 * cairo (one C library writes both PNG and SVG; Debian libcairo2-dev).  Two
 * panels: loss and validation loss against step, and against wall time; each
 * attempt's span shaded (its start-up and resume darker), the steps that were
 * lost to a restart from an older snapshot in another colour, and every
 * preemption marked with its signal (or "killed" when the attempt has no exit
 * event). */
#ifndef YT_PLOT_H
#define YT_PLOT_H

#include "common/common.h"
#include "runner/goodput.h"

/* Writes PATH, PNG or SVG by its extension (.png, .svg). */
int yt_plot_run(const yt_goodput *g, const char *path, yt_err *e);
/* -1 with a message when PATH does not end in .png or .svg. */
int yt_plot_check_name(const char *path, yt_err *e);

#endif
