/* runner/: the run folder belongs to one trainer at a time.  Rank 0 (the only
 * rank that writes RUN; with several ranks on a node it is the one holding
 * the lock, and ranks on other nodes never write RUN) takes RUN/lock
 * (yt_dirlock, common.h) before anything in RUN is written and holds it until
 * the process ends, so a second trainer on the same RUN is refused before it
 * changes a byte there, with the holder's pid and host in the message.  On a
 * file system without flock the run goes on with a warning (common.h says
 * which shared file systems lock across nodes). */
#ifndef YT_RUN_LOCK_H
#define YT_RUN_LOCK_H

#include "common/common.h"

/* Rank 0: refuses a RUN that is the --model folder (RUN/config.json would
 * replace the model's), creates RUN and locks it.  Other ranks: nothing.
 * The caller agrees on the result across ranks. */
int yt_train_lock_run(yt_dirlock *lock, int rank, const char *run, const char *model, yt_err *e);

#endif
