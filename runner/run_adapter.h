/* runner/run_adapter: the LoRA weights a user names by a path, wherever they
 * live: a snapshot file, a RUN folder (its newest snapshot that verifies), or a
 * PEFT adapter folder.  `export` writes them out; `generate` and `eval` load
 * them into a model (--adapter).  Internal to runner/. */
#ifndef YT_RUN_ADAPTER_H
#define YT_RUN_ADAPTER_H

#include "common/common.h"
#include "model/model.h"

/* One LoRA matrix of a snapshot. */
typedef struct yt_snap_lora {
    char name[128];      /* "layers.0.self_attn.q_proj.lora_A" (without "lora/") */
    int layer, proj, is_b, rows, cols;
    float *data;
} yt_snap_lora;

/* The adapter held by a snapshot: its tensors in training order (layer,
 * projection, A before B) and settings. */
typedef struct yt_snap_adapter {
    char path[4400];     /* the snapshot file */
    long step;
    yt_lora_config lc;
    char *base_model;    /* attribute 'base_model' (what the run recorded) */
    yt_snap_lora *v;
    int n, cap;
} yt_snap_adapter;

/* SRC: a RUN folder (RUN/snapshots), a snapshots folder, or a snapshot file.
 * For a folder, the newest snapshot that verifies (*skipped lists the newer ones
 * that do not; "" when none); a file must verify.  *found = 0 (and 0 returned)
 * when a folder holds no snapshot that verifies. */
int yt_snap_adapter_read(const char *src, yt_snap_adapter *a, int *found, char *skipped,
                         size_t skipped_cap, yt_err *e);
void yt_snap_adapter_free(yt_snap_adapter *a);

/* Opens MODEL for generation or evaluation (micro_batch x seq_len activations,
 * 0 x 1 for weights only) with the LoRA weights of ADAPTER: "" = none (the
 * model then holds a rank-1 zero adapter and *with_adapter = 0); a PEFT adapter
 * folder (adapter_config.json); a RUN folder: its newest snapshot that
 * verifies, else RUN/adapter/; a snapshot file.  *from (cap bytes) says where
 * the weights came from, for the user. */
int yt_adapter_open_model(yt_model **m, const char *model, const char *adapter, int micro_batch,
                          int seq_len, int *with_adapter, char *from, size_t cap, yt_err *e);

#endif
