/* runner/: what makes a training snapshot usable, beyond its format (which
 * checkpoint/ checks): every value a resume, an export or inspect uses is
 * present, in range, and consistent with the others and with the tensors.
 * One rule for all three: a snapshot failing it is invalid everywhere, and
 * `--resume auto` falls back past it saying why.
 *
 * Checked (writer: runner/train_state.c):
 *  - attributes step, adamw_t, tokens_seen, sampler_epoch, sampler_position,
 *    sampler_steps_per_epoch, world_size, lora_rank, use_rslora (int64),
 *    lora_alpha, lora_dropout (float64), identity, config, model_config
 *    (JSON objects), base_model, model_fingerprint, dataset_fingerprint;
 *  - step >= 0 and equal to the file name's step; adamw_t == step (one AdamW
 *    update per completed step); tokens_seen == step * global_batch * seq_len;
 *    the sampler cursor is the step's: epoch * steps_per_epoch +
 *    position / global_batch == step with position a whole number of global
 *    batches inside the epoch; world_size divides global_batch;
 *  - the LoRA settings agree with identity; model_config is a valid Llama
 *    config; the tensors are exactly lora/<name>, optim/m/<name>,
 *    optim/v/<name> for every LoRA matrix that config, rank and targets make
 *    (yt_lora_name, yt_lora_proj_dims), float32 of exactly those shapes, all
 *    finite, optim/v >= 0. */
#ifndef YT_SNAPSHOT_CHECK_H
#define YT_SNAPSHOT_CHECK_H

#include <stdint.h>

#include "checkpoint/checkpoint.h"
#include "model/model.h"

/* The values a snapshot holds, once checked. */
typedef struct yt_train_snap_facts {
    int64_t step, tokens_seen, adamw_t;
    int64_t epoch, position, steps_per_epoch;
    int64_t world_size, global_batch, seq_len;
    yt_lora_config lc;
    yt_config model;
    int n_lora;             /* LoRA matrices (A's and B's) */
} yt_train_snap_facts;

/* Verifies s (yt_snap_verify_each, checking the values of every tensor as it
 * is read) and checks it as above.  name_step: the step of its file name, or
 * -1 when the name says none.  facts (may be NULL) gets the values. */
int yt_train_snap_validate(yt_snap *s, long name_step, yt_train_snap_facts *facts, yt_err *e);
/* The checks that need no tensor data (s already verified with the rule's data
 * function, e.g. by the snapshots-folder functions). */
int yt_train_snap_check(yt_snap *s, long name_step, yt_train_snap_facts *facts, yt_err *e);

/* The same as a yt_snap_check for the snapshots-folder functions. */
yt_snap_check yt_train_snap_rule(void);
/* The step a file name "step-<digits>.h5" (any folder) says, else -1. */
long yt_train_snap_name_step(const char *path);

#endif
