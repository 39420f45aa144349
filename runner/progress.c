/* Progress line and metrics.jsonl. */
#define _POSIX_C_SOURCE 200809L
#include "runner/progress.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner/train_options.h"

/* Whether the stdout of process pid is a terminal, from the name of the file
 * it writes to (the file itself is not opened: it may be a pipe or a device). */
static int pid_stdout_is_terminal(pid_t pid)
{
    char link[64], target[256];
    snprintf(link, sizeof link, "/proc/%ld/fd/1", (long)pid);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0)
        return 0;
    target[n] = '\0';
    return strncmp(target, "/dev/pts/", 9) == 0 || strncmp(target, "/dev/tty", 8) == 0 ||
           strcmp(target, "/dev/console") == 0;
}

/* --progress auto: a refreshed line only where a person watches a terminal.
 * Under Open MPI stdout is always a pseudo-terminal (mpirun gives each rank
 * one, whatever its own stdout is, and Open MPI 4.1 has no setting against
 * it); the launcher that prints it is this rank's parent (mpirun, or orted on
 * another host), so its stdout decides.  In a Slurm job without srun --pty,
 * output lands in the job log. */
static int auto_tty(void)
{
    if (!isatty(STDOUT_FILENO))
        return 0;
    if (getenv("OMPI_COMM_WORLD_SIZE"))
        return pid_stdout_is_terminal(getppid());
    if (getenv("SLURM_JOB_ID") && !getenv("SLURM_PTY_PORT"))
        return 0;
    return 1;
}

int yt_progress_open(yt_progress *p, const char *run_dir, int mode, int log_every, long first_step,
                     yt_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
    p->metrics = fopen(path, "a");
    if (!p->metrics)
        return yt_errno(e, errno, "%s", path);
    p->tty = mode == YT_PROGRESS_TTY || (mode == YT_PROGRESS_AUTO && auto_tty());
    p->log_every = log_every > 0 ? log_every : 10;
    p->t_start = yt_now();
    p->first_step = first_step;
    return 0;
}

static void fmt_eta(char *buf, size_t n, double s)
{
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, n, "--:--:--");
        return;
    }
    long t = (long)(s + 0.5);
    snprintf(buf, n, "%02ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
}

int yt_progress_step(yt_progress *p, const yt_step_metrics *m, yt_err *e)
{
    char val[64] = "", gather[96] = "";
    const char *more = isfinite(m->val_loss) && m->val_more_json ? m->val_more_json : "";
    const char *more_text = isfinite(m->val_loss) && m->val_more_text ? m->val_more_text : "";
    if (isfinite(m->val_loss))
        snprintf(val, sizeof val, ",\"val_loss\":%.9g", m->val_loss);
    if (m->gather_s > 0) /* --shard-base */
        snprintf(gather, sizeof gather, ",\"gather_s\":%.6f,\"exposed_gather_s\":%.6f", m->gather_s,
                 m->exposed_gather_s);
    if (fprintf(p->metrics,
                "{\"step\":%ld,\"loss\":%.9g%s%s,\"lr\":%.9g,\"grad_norm\":%.9g,\"tokens\":%lld,"
                "\"step_tokens\":%lld,\"counted_tokens\":%.0f,\"step_time_s\":%.6f,\"tokens_per_s\":%.2f,"
                "\"comm_s\":%.6f,\"exposed_comm_s\":%.6f%s,\"time\":%.6f}\n",
                m->step, m->loss, val, more, m->lr, m->grad_norm, m->tokens, m->step_tokens, m->counted,
                m->step_time_s, m->tokens_per_s, m->comm_s, m->exposed_comm_s, gather, m->wall) < 0 ||
        fflush(p->metrics) != 0)
        return yt_errno(e, errno, "metrics.jsonl: write failed");
    double elapsed = yt_now() - p->t_start;
    long done = m->step - p->first_step;
    double eta = done > 0 ? elapsed / (double)done * (double)(m->total_steps - m->step) : -1;
    char etas[32];
    fmt_eta(etas, sizeof etas, eta);
    int last = m->step == m->total_steps;
    if (p->tty) {
        printf("\rstep %ld/%ld | loss %.4f | lr %.2e | grad %.3f | %.0f tok/s | ETA %s  ", m->step,
               m->total_steps, m->loss, m->lr, m->grad_norm, m->tokens_per_s, etas);
        if (last || isfinite(m->val_loss))
            putchar('\n');
        if (isfinite(m->val_loss)) /* kept on screen: the next step draws below it */
            printf("step %ld/%ld | val_loss %.4f%s\n", m->step, m->total_steps, m->val_loss, more_text);
        fflush(stdout);
    } else if (isfinite(m->val_loss)) {
        printf("step %ld/%ld loss %.4f val_loss %.4f%s lr %.2e grad_norm %.3f tok/s %.0f step_s %.3f eta %s\n",
               m->step, m->total_steps, m->loss, m->val_loss, more_text, m->lr, m->grad_norm, m->tokens_per_s,
               m->step_time_s, etas);
        fflush(stdout);
    } else if (m->step % p->log_every == 0 || last || done == 1) {
        printf("step %ld/%ld loss %.4f lr %.2e grad_norm %.3f tok/s %.0f step_s %.3f eta %s\n", m->step,
               m->total_steps, m->loss, m->lr, m->grad_norm, m->tokens_per_s, m->step_time_s, etas);
        fflush(stdout);
    }
    return 0;
}

void yt_progress_close(yt_progress *p)
{
    if (p->metrics)
        fclose(p->metrics);
    p->metrics = NULL;
}
