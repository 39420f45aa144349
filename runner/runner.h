/* runner/: the yieldtune program.  main dispatches to one function per
 * subcommand (cmd_*.c, train.c); each starts through yt_cmd_options with its
 * option table (options.h), calls the library layers, and is the only place
 * that prints to the user or chooses an exit code: errors read
 * "yieldtune: <what>: <why>" and exit non-zero.
 * Training: train.c is the loop; it drives the step interface (step.h), which
 * step_cpu.c (host model, MPI) and step_cuda.c (GPU model, NCCL) implement;
 * ddp_setup.c is the start-up across ranks; train_state.c, snapshot_check.c
 * and snapshot_bg.c the snapshots and resume; yield.c the signals; events.c,
 * progress.c and tensorboard.c what a run records; evaluation.c the loss over
 * a dataset (train and eval). */
#ifndef YT_RUNNER_H
#define YT_RUNNER_H

#include "common/common.h"

/* Exit codes. */
enum {
    YT_EXIT_OK = 0,
    YT_EXIT_FAIL = 1,       /* an error, explained on stderr */
    YT_EXIT_USAGE = 2,      /* bad command line */
    YT_EXIT_YIELD = 75,     /* EX_TEMPFAIL: yielded, run me again */
};

int yt_cmd_init_model(int argc, char **argv);
int yt_cmd_prep(int argc, char **argv);
int yt_cmd_train(int argc, char **argv);
int yt_cmd_tokenize(int argc, char **argv);
int yt_cmd_export(int argc, char **argv);
int yt_cmd_inspect(int argc, char **argv);
int yt_cmd_merge(int argc, char **argv);
int yt_cmd_report(int argc, char **argv);
int yt_cmd_generate(int argc, char **argv);
int yt_cmd_eval(int argc, char **argv);

/* The EOS id of MODEL (a model folder, a GGUF, or a tokenizer file whose folder is
 * read) with tokenizer TOK (may be NULL): DIR/generation_config.json "eos_token_id",
 * else DIR/config.json's (the first of a list), else DIR/tokenizer_config.json
 * "eos_token" looked up in TOK, else TOK's own (tokenizer.json post-processor, GGUF
 * tokenizer.ggml.eos_token_id); -1 when none.  SRC names the source ("none"). */
struct yt_tok;
int yt_runner_eos(const char *model, struct yt_tok *tok, int64_t *eos, char *src,
                  size_t srclen, yt_err *e);

/* Prints "yieldtune: <msg>" to stderr. */
void yt_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
