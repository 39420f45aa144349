/* runner/ddp_setup: the ranks of a data-parallel run at start, before the
 * first step (the step itself is runner/step.h):
 *  - one converted copy of BF16/F16 base weights per node (shared memory),
 *    handed to the model as its allocator;
 *  - the check that every rank runs the same configuration, model and data,
 *    naming the keys that differ;
 *  - resident memory and threads per rank, for the start-up line and
 *    config.json; threads per rank when --threads is 0.
 * Internal to runner/; functions named collective are called by every rank
 * in the same order. */
#ifndef YT_DDP_SETUP_H
#define YT_DDP_SETUP_H

#include <jansson.h>
#include <stddef.h>

#include "collectives/collectives.h"
#include "model/model.h"
#include "optim/optim.h"
#include "runner/options.h"

/* What one rank tells the others about itself at start (memory in KiB). */
typedef struct yt_ddp_rank_info {
    int32_t rank, local_rank, threads, cpus_allowed;
    int64_t vm_rss_kb, rss_anon_kb, rss_file_kb, rss_shmem_kb;
    int64_t converted_bytes;    /* fp32 copy of BF16/F16 base weights this rank uses */
    int32_t converted_filled;   /* this rank converted them (owns the copy or filled the shared one) */
    int32_t converted_shared;   /* the copy is node-shared memory */
    int64_t base_bytes;         /* base weights resident on this rank (its pieces with --shard-base) */
    int64_t base_work_bytes;    /* gather buffers and decode scratch */
    char host[64];
} yt_ddp_rank_info;

typedef struct yt_ddp {
    yt_comm *comm;
    int rank, world, zero;
    yt_model *model;               /* set by yt_ddp_setup_check */
    /* converted-weights provider (world > 1) */
    yt_model_alloc weights_alloc;
    int alloc_called, weights_shared;
    /* setup report */
    yt_ddp_rank_info *ranks;       /* [world], filled by yt_ddp_setup_check */
    char summary[256];             /* memory, for the start-up line */
} yt_ddp;

/* Provider of node-shared converted base weights for yt_model_open_ex; NULL
 * when world is 1 or not `shared` (the model keeps its own memory, as it does
 * with --base-dtype other than f32 or --shard-base).  Collective through the
 * model: a rank that fails before the model asked for memory must call
 * yt_ddp_weights_settle so that every rank makes the same calls. */
const yt_model_alloc *yt_ddp_weights_alloc(yt_ddp *d, yt_comm *c, int shared);
void yt_ddp_weights_settle(yt_ddp *d);

/* Collective, after every rank's setup succeeded: rank 0's resolved options
 * (those written to config.json, minus paths), model, dataset and initial LoRA
 * fingerprints against every rank's; memory and threads of every rank.  Fails
 * on every rank, naming the keys on the ranks that differ. */
int yt_ddp_setup_check(yt_ddp *d, yt_model *m, int zero, const yt_opt *table,
                       const void *opts, uint64_t dataset_fp, yt_err *e);
void yt_ddp_free(yt_ddp *d);
/* Adds "ranks" (per-rank memory and threads) to config.json's object. */
void yt_ddp_config_json(const yt_ddp *d, json_t *j);
/* Threads per rank when --threads is 0: the node's cores over its ranks, and
 * no more than the CPUs this rank is bound to. */
int yt_ddp_default_threads(const yt_comm *c);
/* This node's memory (MemTotal) over its ranks, in bytes (0 if unknown). */
double yt_ddp_node_memory_per_rank(const yt_comm *c);

#endif
