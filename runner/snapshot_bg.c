/* The periodic-snapshot writer thread (snapshot_bg.h). */
#include "runner/snapshot_bg.h"

#include "runner/train.h"

#include <string.h>

static void *writer(void *arg)
{
    yt_snap_bg *bg = arg;
    pthread_mutex_lock(&bg->mu);
    for (;;) {
        while (!bg->pending && !bg->quit)
            pthread_cond_wait(&bg->cv, &bg->mu);
        if (!bg->pending && bg->quit)
            break;
        pthread_mutex_unlock(&bg->mu);
        double secs = 0;
        size_t bytes = 0;
        yt_err err = {{0}};
        int rc = yt_train_write_image(&bg->img, &secs, &bytes, &err);
        pthread_mutex_lock(&bg->mu);
        bg->rc = rc;
        bg->err = err;
        bg->step = bg->img.step;
        bg->write_s = secs;
        bg->bytes = bytes;
        yt_snap_image_free(&bg->img);
        bg->pending = 0;
        bg->done = 1;
        pthread_cond_broadcast(&bg->cv);
    }
    pthread_mutex_unlock(&bg->mu);
    return NULL;
}

int yt_snap_bg_start(yt_snap_bg *bg, size_t n_params, yt_err *e)
{
    memset(bg, 0, sizeof *bg);
    bg->copy = yt_alloc(3 * n_params * sizeof(float), "the copy of the state for background snapshots", e);
    if (!bg->copy)
        return -1;
    pthread_mutex_init(&bg->mu, NULL);
    pthread_cond_init(&bg->cv, NULL);
    /* The yield signals are blocked in every thread (yield.c did it before any
     * thread started): this one inherits the mask and never takes them. */
    int rc = pthread_create(&bg->thread, NULL, writer, bg);
    if (rc != 0) {
        yt_free(bg->copy);
        bg->copy = NULL;
        return yt_errno(e, rc, "starting the snapshot writer thread");
    }
    bg->started = 1;
    return 0;
}

/* Until the write in flight (if any) has finished. */
static void wait_idle(yt_snap_bg *bg)
{
    pthread_mutex_lock(&bg->mu);
    while (bg->pending)
        pthread_cond_wait(&bg->cv, &bg->mu);
    pthread_mutex_unlock(&bg->mu);
}

int yt_snap_bg_submit(yt_snap_bg *bg, trainer *t, double *stall_s, yt_err *e)
{
    double t0 = yt_now();
    if (bg->started)
        wait_idle(bg);
    yt_snap_image img = {0};
    if (yt_train_capture(t, &img, bg->started ? bg->copy : NULL, e))
        return -1;
    *stall_s = yt_now() - t0;
    if (!bg->started) /* not rank 0: the capture was its whole part */
        return 0;
    pthread_mutex_lock(&bg->mu);
    bg->img = img;
    bg->pending = 1;
    pthread_cond_broadcast(&bg->cv);
    pthread_mutex_unlock(&bg->mu);
    return 0;
}

int yt_snap_bg_poll(yt_snap_bg *bg, int wait)
{
    if (!bg->started)
        return 0;
    if (wait)
        wait_idle(bg);
    pthread_mutex_lock(&bg->mu);
    int done = bg->done;
    bg->done = 0;
    pthread_mutex_unlock(&bg->mu);
    return done;
}

void yt_snap_bg_stop(yt_snap_bg *bg)
{
    if (bg->started) {
        pthread_mutex_lock(&bg->mu);
        bg->quit = 1;
        pthread_cond_broadcast(&bg->cv);
        pthread_mutex_unlock(&bg->mu);
        pthread_join(bg->thread, NULL);
        pthread_mutex_destroy(&bg->mu);
        pthread_cond_destroy(&bg->cv);
        bg->started = 0;
    }
    yt_free(bg->copy);
    bg->copy = NULL;
}
