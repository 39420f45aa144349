/* Data-parallel setup: one converted copy of the base weights per node, the
 * check that every rank runs the same thing, memory and threads per rank. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "kernels/kernels.h"
#include "runner/ddp_setup.h"
#include "runner/runner.h"

/* ---- node-shared converted weights ---- */

typedef struct alloc_msg {
    int64_t ok, bytes;
} alloc_msg;

/* Every rank says whether it got this far and how much it needs; all ranks
 * take the same decision from the same table. */
static int alloc_agree(yt_ddp *d, int ok, size_t bytes, yt_err *e)
{
    alloc_msg mine = {ok, (int64_t)bytes};
    alloc_msg *all = yt_alloc(sizeof(alloc_msg) * (size_t)d->world, "setup agreement", e);
    if (!all) /* cannot take part: the others would wait for us forever */
        yt_comm_abort(d->comm, YT_EXIT_FAIL);
    int rc = yt_comm_allgather(d->comm, &mine, sizeof mine, all, e);
    int failed = 0, differ = -1;
    for (int r = 0; rc == 0 && r < d->world; r++) {
        failed += all[r].ok == 0;
        if (all[r].ok && all[0].ok && all[r].bytes != all[0].bytes && differ < 0)
            differ = r;
    }
    if (rc == 0 && failed)
        rc = yt_errf(e, "setup failed on %d other rank%s", failed, failed > 1 ? "s" : "");
    else if (rc == 0 && differ >= 0)
        rc = yt_errf(e, "rank %d needs %lld bytes of converted base weights and rank 0 %lld: the ranks "
                        "load different models",
                     differ, (long long)all[differ].bytes, (long long)all[0].bytes);
    yt_free(all);
    return rc;
}

static int weights_alloc(size_t bytes, void **mem, int *fill, void *ctx, yt_err *e)
{
    yt_ddp *d = ctx;
    d->alloc_called = 1;
    *mem = NULL;
    *fill = 0;
    if (alloc_agree(d, 1, bytes, e))
        return -1;
    if (yt_comm_node_shared(d->comm, bytes, mem, e))
        return -1;
    *fill = yt_comm_local_rank(d->comm) == 0;
    d->weights_shared = bytes > 0;
    return 0;
}

static int weights_barrier(int ok, void *ctx, yt_err *e)
{
    yt_ddp *d = ctx;
    int bad = yt_comm_failed_ranks(d->comm, ok);
    if (bad)
        return yt_errf(e, "converting the base weights failed on %d rank%s", bad, bad > 1 ? "s" : "");
    return 0;
}

const yt_model_alloc *yt_ddp_weights_alloc(yt_ddp *d, yt_comm *c, int shared)
{
    d->comm = c;
    d->rank = yt_comm_rank(c);
    d->world = yt_comm_size(c);
    if (d->world == 1 || !shared)
        return NULL;
    d->weights_alloc = (yt_model_alloc){.alloc = weights_alloc, .barrier = weights_barrier, .ctx = d};
    return &d->weights_alloc;
}

void yt_ddp_weights_settle(yt_ddp *d)
{
    if (d->weights_alloc.alloc && !d->alloc_called) {
        yt_err ignore;
        d->alloc_called = 1;
        alloc_agree(d, 0, 0, &ignore);
    }
}

/* ---- same configuration on every rank ---- */

#define MAX_KEYS 64

typedef struct check_msg {
    uint64_t n;
    uint64_t h[MAX_KEYS];
} check_msg;

static uint64_t hash_str(const char *s, uint64_t h) { return yt_hash64(s, strlen(s), h); }

static void add_key(check_msg *m, const char **names, const char *name, uint64_t h)
{
    if (m->n < MAX_KEYS) {
        names[m->n] = name;
        m->h[m->n++] = h;
    }
}

/* Paths may differ between hosts; what they hold is compared by fingerprint. */
static int is_path_option(const char *name)
{
    static const char *const paths[] = {"model", "data", "out", "init-adapter"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (strcmp(name, paths[i]) == 0)
            return 1;
    return 0;
}

static void build_keys(const yt_ddp *d, const yt_opt *table, const void *opts, uint64_t dataset_fp,
                       check_msg *m, const char **names)
{
    memset(m, 0, sizeof *m);
    for (const yt_opt *o = table; o->name; o++) {
        if ((o->flags & (YT_OPT_NOSAVE | YT_OPT_CONFIG)) || is_path_option(o->name))
            continue;
        const char *p = (const char *)opts + o->offset;
        char v[160];
        switch (o->type) {
        case YT_OPT_INT:
        case YT_OPT_BOOL: snprintf(v, sizeof v, "%d", *(const int *)p); break;
        case YT_OPT_LONG: snprintf(v, sizeof v, "%ld", *(const long *)p); break;
        case YT_OPT_FLOAT: snprintf(v, sizeof v, "%.9g", (double)*(const float *)p); break;
        case YT_OPT_STR: snprintf(v, sizeof v, "%.150s", p); break;
        case YT_OPT_CHOICE: yt_opt_choice_name(o, *(const int *)p, v, sizeof v); break;
        }
        add_key(m, names, o->name, hash_str(v, hash_str(o->name, YT_HASH_SEED)));
    }
    uint64_t fp = yt_model_fingerprint(d->model);
    add_key(m, names, "model fingerprint", yt_hash64(&fp, sizeof fp, YT_HASH_SEED));
    add_key(m, names, "dataset fingerprint", yt_hash64(&dataset_fp, sizeof dataset_fp, YT_HASH_SEED));
    /* The initial LoRA weights (seed or --init-adapter): a strided sample. */
    const float *w = yt_model_params(d->model);
    size_t n = yt_model_n_params(d->model), step = n > 65536 ? n / 65536 : 1;
    uint64_t h = yt_hash64(&n, sizeof n, YT_HASH_SEED);
    for (size_t i = 0; i < n; i += step)
        h = yt_hash64(&w[i], sizeof w[i], h);
    add_key(m, names, "initial LoRA weights", h);
    add_key(m, names, "yieldtune version", hash_str(PACKAGE_VERSION, YT_HASH_SEED));
}

static void list_keys(char *out, size_t cap, uint64_t mask, const char **names, uint64_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (uint64_t i = 0; i < n && i < MAX_KEYS && len + 1 < cap; i++)
        if ((mask >> i) & 1)
            len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? ", " : "", names[i]);
}

/* ---- memory and threads ---- */

static void read_status(yt_ddp_rank_info *ri)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        long long kb;
        if (sscanf(line, "VmRSS: %lld", &kb) == 1)
            ri->vm_rss_kb = kb;
        else if (sscanf(line, "RssAnon: %lld", &kb) == 1)
            ri->rss_anon_kb = kb;
        else if (sscanf(line, "RssFile: %lld", &kb) == 1)
            ri->rss_file_kb = kb;
        else if (sscanf(line, "RssShmem: %lld", &kb) == 1)
            ri->rss_shmem_kb = kb;
    }
    fclose(f);
}

static int cpus_allowed(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return (int)sysconf(_SC_NPROCESSORS_ONLN);
    return CPU_COUNT(&set);
}

static void fill_info(const yt_ddp *d, yt_ddp_rank_info *ri)
{
    memset(ri, 0, sizeof *ri);
    ri->rank = d->rank;
    ri->local_rank = yt_comm_local_rank(d->comm);
    ri->threads = yt_k_get_threads();
    ri->cpus_allowed = cpus_allowed();
    read_status(ri);
    ri->converted_bytes = (int64_t)yt_model_converted_bytes(d->model);
    ri->converted_filled = yt_model_converted_filled(d->model);
    ri->converted_shared = d->weights_shared;
    ri->base_bytes = (int64_t)yt_model_base_bytes(d->model);
    ri->base_work_bytes = (int64_t)yt_model_base_work_bytes(d->model);
    if (gethostname(ri->host, sizeof ri->host) != 0)
        snprintf(ri->host, sizeof ri->host, "?");
    ri->host[sizeof ri->host - 1] = '\0';
}

/* Rank 0 warns about more threads than cores (all ranks of a host together)
 * or than the CPUs a rank is bound to. */
static void check_threads(const yt_ddp *d)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    for (int r = 0; r < d->world; r++) {
        const yt_ddp_rank_info *ri = &d->ranks[r];
        if (ri->threads > ri->cpus_allowed)
            yt_report("train: warning: rank %d runs %d threads but may use %d CPU%s (mpirun binds each "
                      "rank to a core by default for 2 ranks or fewer: pass --bind-to none, or lower "
                      "--threads)",
                      r, ri->threads, ri->cpus_allowed, ri->cpus_allowed > 1 ? "s" : "");
        if (ri->local_rank != 0)
            continue;
        int total = 0, nranks = 0;
        for (int q = 0; q < d->world; q++)
            if (strcmp(d->ranks[q].host, ri->host) == 0) {
                total += d->ranks[q].threads;
                nranks++;
            }
        if (total > cores)
            yt_report("train: warning: host %s runs %d rank%s with %d threads in all on %ld cores "
                      "(oversubscribed: lower --threads)",
                      ri->host, nranks, nranks > 1 ? "s" : "", total, cores);
    }
}

static void summarise(yt_ddp *d)
{
    int64_t lo = -1, hi = 0, alo = -1, ahi = 0;
    for (int r = 0; r < d->world; r++) {
        int64_t v = d->ranks[r].vm_rss_kb, a = d->ranks[r].rss_anon_kb;
        lo = lo < 0 || v < lo ? v : lo;
        hi = v > hi ? v : hi;
        alo = alo < 0 || a < alo ? a : alo;
        ahi = a > ahi ? a : ahi;
    }
    char conv[160] = "";
    int64_t cb = d->ranks[0].converted_bytes;
    if (cb > 0) {
        int fillers = 0;
        for (int r = 0; r < d->world; r++)
            fillers += d->ranks[r].converted_filled;
        snprintf(conv, sizeof conv, "; converted base weights %.1f MiB, %d cop%s for %d rank%s%s",
                 (double)cb / 1048576.0, fillers, fillers == 1 ? "y" : "ies", d->world,
                 d->world > 1 ? "s" : "", d->ranks[0].converted_shared ? " (node-shared)" : "");
    }
    if (d->world == 1)
        snprintf(d->summary, sizeof d->summary, "VmRSS %.0f MiB (anonymous %.0f MiB)%s", (double)hi / 1024.0,
                 (double)ahi / 1024.0, conv);
    else
        snprintf(d->summary, sizeof d->summary, "VmRSS per rank %.0f-%.0f MiB (anonymous %.0f-%.0f MiB)%s",
                 (double)lo / 1024.0, (double)hi / 1024.0, (double)alo / 1024.0, (double)ahi / 1024.0, conv);
}

int yt_ddp_setup_check(yt_ddp *d, yt_model *m, int zero, const yt_opt *table,
                       const void *opts, uint64_t dataset_fp, yt_err *e)
{
    d->model = m;
    d->zero = zero;
    const char *names[MAX_KEYS];
    check_msg mine, root;
    build_keys(d, table, opts, dataset_fp, &mine, names);
    root = mine;
    if (yt_comm_bcast(d->comm, &root, sizeof root, 0, e))
        return -1;
    uint64_t mask = 0;
    if (root.n != mine.n)
        mask = ~(uint64_t)0;
    else
        for (uint64_t i = 0; i < mine.n; i++)
            if (root.h[i] != mine.h[i])
                mask |= (uint64_t)1 << i;
    uint64_t *masks = yt_alloc(sizeof(uint64_t) * (size_t)d->world, "configuration check", e);
    d->ranks = yt_alloc(sizeof(yt_ddp_rank_info) * (size_t)d->world, "rank table", e);
    if (!masks || !d->ranks) /* cannot take part: the others would wait for us forever */
        yt_comm_abort(d->comm, YT_EXIT_FAIL);
    int rc = yt_comm_allgather(d->comm, &mask, sizeof mask, masks, e);
    int differ = 0, first = -1;
    for (int r = 0; rc == 0 && r < d->world; r++)
        if (masks[r]) {
            differ++;
            first = first < 0 ? r : first;
        }
    if (rc == 0 && differ) {
        char keys[600];
        if (mask) {
            list_keys(keys, sizeof keys, mask, names, mine.n);
            rc = yt_errf(e, "configuration differs from rank 0: %s", root.n != mine.n ? "(another yieldtune build)" : keys);
        } else {
            list_keys(keys, sizeof keys, masks[first], names, mine.n);
            rc = yt_errf(e, "configuration differs from rank 0 on %d rank%s (rank %d: %s)", differ,
                         differ > 1 ? "s" : "", first, keys);
        }
    }
    yt_free(masks);
    if (rc)
        return -1;
    yt_ddp_rank_info info;
    fill_info(d, &info);
    if (yt_comm_allgather(d->comm, &info, sizeof info, d->ranks, e))
        return -1;
    summarise(d);
    if (d->rank == 0)
        check_threads(d);
    return 0;
}

void yt_ddp_config_json(const yt_ddp *d, json_t *j)
{
    if (!d->ranks)
        return;
    json_t *a = json_array();
    for (int r = 0; r < d->world; r++) {
        const yt_ddp_rank_info *ri = &d->ranks[r];
        json_array_append_new(
            a, json_pack("{s:i, s:s, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:I, s:I}", "rank", ri->rank,
                         "host", ri->host, "local_rank", ri->local_rank, "threads", ri->threads,
                         "cpus_allowed", ri->cpus_allowed, "vm_rss_kb", (json_int_t)ri->vm_rss_kb,
                         "rss_anon_kb", (json_int_t)ri->rss_anon_kb, "rss_file_kb",
                         (json_int_t)ri->rss_file_kb, "rss_shmem_kb", (json_int_t)ri->rss_shmem_kb,
                         "converted_weights_bytes", (json_int_t)ri->converted_bytes,
                         "converted_weights_filled", ri->converted_filled, "converted_weights_shared",
                         ri->converted_shared, "base_weight_bytes", (json_int_t)ri->base_bytes,
                         "base_work_bytes", (json_int_t)ri->base_work_bytes));
    }
    json_object_set_new(j, "zero_shards", json_integer(d->zero ? d->world : 0));
    json_object_set_new(j, "ranks", a);
}

double yt_ddp_node_memory_per_rank(const yt_comm *c)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemTotal: %lld", &kb) == 1)
            break;
    fclose(f);
    int local = yt_comm_local_size(c) > 0 ? yt_comm_local_size(c) : 1;
    return (double)kb * 1024.0 / local;
}

int yt_ddp_default_threads(const yt_comm *c)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int local = yt_comm_local_size(c) > 0 ? yt_comm_local_size(c) : 1;
    int per = (int)(cores / local), allowed = cpus_allowed();
    if (per > allowed)
        per = allowed;
    return per > 0 ? per : 1;
}

void yt_ddp_free(yt_ddp *d)
{
    yt_free(d->ranks);
    d->ranks = NULL;
}
