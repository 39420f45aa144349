/* HDF5 error silencing and folding for checkpoint/ (see h5_quiet.h). */
#include "checkpoint/h5_quiet.h"

#include <stdio.h>
#include <string.h>

void yt_snap_quiet_on(quiet_t *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void yt_snap_quiet_off(const quiet_t *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

static herr_t walk_cb(unsigned n, const H5E_error2_t *err, void *data)
{
    walk_t *w = data;
    const char *d = err->desc ? err->desc : "";
    const char *m = strstr(d, "error message = '");
    if (m && !w->sys) {
        m += strlen("error message = '");
        const char *end = strchr(m, '\'');
        size_t len = end ? (size_t)(end - m) : strlen(m);
        if (len >= sizeof w->text)
            len = sizeof w->text - 1;
        memcpy(w->text, m, len);
        w->text[len] = '\0';
        w->sys = 1;
    } else if (n == 0 && !w->sys) {
        snprintf(w->text, sizeof w->text, "%s", d);
    }
    return 0;
}

const char *yt_snap_h5_why(walk_t *w)
{
    w->text[0] = '\0';
    w->sys = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, w);
    if (!w->text[0])
        snprintf(w->text, sizeof w->text, "HDF5 error");
    return w->text;
}
