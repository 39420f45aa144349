/* The options of `yieldtune train`, shared by the command and its config file. */
#ifndef YT_TRAIN_OPTIONS_H
#define YT_TRAIN_OPTIONS_H

#include "runner/options.h"

/* The CHOICE options, in the order of their table's choices. */
enum { YT_SCHEDULE_COSINE, YT_SCHEDULE_CONSTANT };            /* cosine|constant */
enum { YT_DEVICE_CPU, YT_DEVICE_CUDA };                       /* cpu|cuda */
enum { YT_ATTENTION_GEMM, YT_ATTENTION_FLASH };               /* gemm|flash */
enum { YT_GPU_COMM_AUTO, YT_GPU_COMM_NCCL, YT_GPU_COMM_MPI };  /* auto|nccl|mpi */
enum { YT_PROGRESS_AUTO, YT_PROGRESS_TTY, YT_PROGRESS_LINES }; /* auto|tty|lines */
/* --base-dtype f32|bf16|nf4|int8: the indices are model/quant.h's YT_BASE_*. */

typedef struct yt_train_opts {
    char config[4096], model[4096], data[4096], out[4096], init_adapter[4096];
    char base_model[4096];               /* adapter_config.json's base_model_name_or_path ("" = derived) */
    long max_steps, warmup, seed;
    int seq_len, micro_batch, grad_accum;
    float lr, min_lr_ratio, weight_decay, clip, beta1, beta2, eps;
    int schedule;                        /* YT_SCHEDULE_* */
    int lora_rank;
    float lora_alpha, lora_dropout;
    char lora_targets[128];
    int rslora;
    int threads, log_every;
    int progress;                        /* YT_PROGRESS_* */
    int background_snapshots;            /* periodic snapshots written by a thread */
    int zero;                  /* optimizer-state sharding (0 or 1) */
    char resume[4096], yield_signals[128], yield_deadline[256];
    long snapshot_every;
    float snapshot_seconds;
    int keep;
    int pack_eos, doc_mask, pad_per_doc; /* how the sampler cuts windows (datasets.h) */
    long eval_every;                     /* validation loss every N steps (0 = off) */
    char val_data[4096];                 /* validation dataset ("" = DATA's .val.h5 if any) */
    int device;                          /* YT_DEVICE_* */
    int attention;                       /* GPU attention kernel: YT_ATTENTION_* */
    int gpu_comm;                        /* GPU gradient sums: YT_GPU_COMM_* */
    int recompute;                       /* GPU: redo each layer's forward in backward */
    int base_dtype;                      /* how the frozen base is stored: YT_BASE_* (quant.h) */
    int shard_base;                      /* each rank keeps 1/N of the base, gathered per layer */
    int shard_group;                     /* N: ranks per shard group (0 = all ranks) */
    char tensorboard[4096];              /* TensorBoard event files folder ("" = off) */
} yt_train_opts;

extern const yt_opt yt_train_table[];

#endif
