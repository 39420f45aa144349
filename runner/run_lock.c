/* The run-folder lock of `train` (see run_lock.h). */
#include "runner/run_lock.h"

#include <stdio.h>

#include "runner/runner.h"

int yt_train_lock_run(yt_dirlock *lock, int rank, const char *run, const char *model, yt_err *e)
{
    lock->fd = -1;
    if (rank != 0)
        return 0;
    const char *inputs[1] = {model};
    if (yt_af_check_not_input(run, inputs, 1, e))
        return yt_err_prefix(e, "--out");
    int rc = yt_dirlock_take(lock, run, e);
    if (rc == 1) {
        yt_report("train: warning: %s; a second trainer on %s would not be stopped", e->msg, run);
        return 0;
    }
    if (rc != 0) {
        yt_err why = *e;
        return yt_errf(e, "%.700s: two trainers on one run folder would overwrite each other's "
                          "snapshots; let that one finish or stop it, or train into another --out",
                       why.msg);
    }
    return 0;
}
