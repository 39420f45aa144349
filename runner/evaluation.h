/* runner/evaluation: the mean loss of a model over every window of a dataset,
 * as train's --eval-every and `yieldtune eval` compute it: the dataset cut into
 * windows exactly as training cuts it (the sampler's windows, in file order;
 * datasets.h), forward only, sharded over the ranks, the loss summed over the
 * counted targets and divided by their number.  Also the checks that a dataset
 * fits a model (vocabulary, tokenizer).  Internal to runner/. */
#ifndef YT_EVALUATION_H
#define YT_EVALUATION_H

#include "collectives/collectives.h"
#include "datasets/datasets.h"
#include "model/model.h"

#define YT_EVAL_MAX_SETS 16

/* A dataset to evaluate on. */
typedef struct yt_eval_set {
    char path[4200];
    char name[256];        /* the file name without ".h5": metrics key "val_loss.NAME" */
    yt_ds *ds;
    yt_ds_sampler *sampler;
} yt_eval_set;

/* A dataset fits MODEL (config c): ids below its vocab size, the same vocab size
 * when the dataset knows one, and the same tokenizer when both know theirs
 * (pre-tokenised data has fingerprint "none": vocabulary checks only).  tokfp
 * and *tok_read cache the model's tokenizer fingerprint across calls. */
int yt_eval_check_dataset(const yt_ds *ds, const char *path, const char *model, const yt_config *c,
                          char tokfp[17], int *tok_read, yt_err *e);

/* "A.h5,B.h5" into paths (at most YT_EVAL_MAX_SETS); names must differ. */
int yt_eval_split(const char *list, char (*paths)[4200], int *n, yt_err *e);

/* Opens PATH, checks it against the model, and cuts its windows as `so` says
 * (seq_len, pack_eos, eos_id, pad_per_doc, doc_mask; the batch fields are
 * ignored: every window is read in order). */
int yt_eval_set_open(yt_eval_set *s, const char *path, const yt_ds_sampler_opts *so,
                     const char *model, const yt_config *c, char tokfp[17], int *tok_read, yt_err *e);
void yt_eval_set_close(yt_eval_set *s);

/* Sum of weight * nll over one micro-batch of B windows (the model's forward). */
typedef int (*yt_eval_fn)(void *ctx, const yt_ds_batch *b, double *loss, yt_err *e);

/* Collective over comm: rank r takes micro-batches r, r + W, ... of B windows
 * (buffers bt of B x S); rows past the last window repeat window 0 with weight
 * 0.  *loss = mean loss over the counted targets (NAN when none), *counted
 * their number, *windows the set's window count. */
int yt_eval_run(const yt_eval_set *s, yt_comm *comm, int B, int S, const yt_ds_batch *bt,
                yt_eval_fn fn, void *ctx, double *loss, double *counted, uint64_t *windows, yt_err *e);

#endif
