/* runner/train: the state of a training run, shared by the loop (train.c),
 * its snapshots and resume (train_state.c).  Internal to runner/. */
#ifndef YT_TRAIN_H
#define YT_TRAIN_H

#include <jansson.h>

#include "collectives/collectives.h"
#include "datasets/datasets.h"
#include "model/model.h"
#include "optim/optim.h"
#include "runner/ddp_setup.h"
#include "runner/evaluation.h"
#include "runner/events.h"
#include "runner/progress.h"
#include "runner/snapshot_bg.h"
#include "runner/step.h"
#include "runner/train_options.h"
#include "runner/yield.h"

typedef struct trainer {
    yt_train_opts o;
    yt_comm *comm;
    int rank, world;
    yt_ds *ds;
    yt_ds_sampler *sampler;
    yt_model *model;
    char base_name[4200];      /* base_model_name_or_path (--base-model or yt_model_base_name) */
    yt_optim_config oc;
    yt_adamw adam;             /* step count; host moments (with --zero 1 this rank's shard) */
    yt_ddp ddp;                /* the ranks at start: shared weights, setup checks, memory */
    yt_step stepper;           /* computes the steps on this rank's device (step.h) */
    int A, BS;                 /* micro-batches per step on this rank; tokens per micro-batch */
    int32_t *inputs, *targets; /* [A][BS] */
    float *weights;            /* [A][BS] */
    int32_t *doc, *pos;        /* [A][BS] document ids and positions (--doc-mask) */
    yt_eval_set val[YT_EVAL_MAX_SETS]; /* validation sets (--eval-every) */
    int n_val;                 /* 0 when off */
    char val_json[YT_EVAL_MAX_SETS * 300], val_text[YT_EVAL_MAX_SETS * 300]; /* the others' losses */
    yt_progress progress;
    /* snapshots and yielding */
    yt_yield_config yc;
    char snap_dir[4200];
    long step;                 /* optimizer steps completed */
    long long tokens_seen;
    double last_step_s;        /* duration of the last completed step */
    double step_started;       /* monotonic time the current step began */
    double last_snapshot;      /* monotonic time of the last snapshot */
    FILE *events;              /* RUN/events.jsonl (rank 0) */
    int abandoned;             /* the agreement decided to drop the step in progress */
    yt_snap_bg snap_bg;        /* rank 0: the periodic-snapshot writer (snapshot_bg.h) */
    double bg_stall_s;         /* what the last background snapshot cost the steps */
    int bg_failed;             /* a background write failed: bg_err */
    yt_err bg_err;
    yt_attempt att;            /* this process's events and --tensorboard (runner/events.h) */
} trainer;

/* The options and fingerprints a resumed run must share with its snapshot. */
json_t *yt_train_identity(const trainer *t);
/* Writes RUN/snapshots/step-N.h5 for the completed step t->step (rank 0 only;
 * others return 0 at once), then prunes to --keep. */
int yt_train_save(trainer *t, double *seconds, size_t *bytes, yt_err *e);

/* Collective: the state of the completed step t->step; rank 0 fills img,
 * pointing at the live buffers, or at copy (3 x n_params floats) when given. */
int yt_train_capture(trainer *t, yt_snap_image *img, float *copy, yt_err *e);
/* Writes img's snapshot file and prunes to keep; reads nothing of the trainer. */
int yt_train_write_image(const yt_snap_image *img, double *seconds, size_t *bytes, yt_err *e);
void yt_snap_image_free(yt_snap_image *img);
/* Collective.  Finds the snapshot --resume names (auto: newest valid in RUN),
 * checks it belongs to this run, restores weights, optimizer, step, tokens
 * and sampler cursor on every rank.  *resumed_from gets the path ("" for a
 * fresh start); *report gets what was skipped. */
int yt_train_resume(trainer *t, char *resumed_from, size_t cap, char *report, size_t rcap, yt_err *e);
/* Rank 0, after the run's first step (t->step == 1): warns on stderr when the
 * loss is within 10% of ln(vocab_size) (or above) on a model that is not
 * random-initialised (runner/first_loss.c says why). */
void yt_train_first_loss_check(const trainer *t, double loss);

#endif
