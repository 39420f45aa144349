/* yieldtune inspect: what a snapshot holds (root attributes with their values,
 * tensors with shapes and sizes, totals) and whether it is valid: it verifies
 * (checkpoint/) and passes the content rule train and export apply
 * (runner/snapshot_check.h); or, for a run folder, its snapshots with step and
 * valid/invalid. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint/checkpoint.h"
#include "runner/options.h"
#include "runner/runner.h"
#include "runner/snapshot_check.h"

typedef struct inspect_opts {
    int quiet;
} inspect_opts;

#define O(f) offsetof(inspect_opts, f)
static const yt_opt inspect_table[] = {
    {"quiet", YT_OPT_BOOL, O(quiet), 0, "false", 0, 0, NULL, 0, NULL,
     "print only the verification result (snapshot) or the list (run folder)"},
    YT_OPT_END,
};
#undef O

#define MAX_GROUPS 16

typedef struct listing {
    int quiet;
    size_t tensors, elems, bytes;
    struct {
        char name[64];
        size_t tensors, bytes;
    } g[MAX_GROUPS];
    int ng;
} listing;

static size_t elem_size(yt_snap_dtype t) { return t == YT_SNAP_F32 ? 4 : t == YT_SNAP_U64 ? 8 : 1; }
static const char *dtype_name(yt_snap_dtype t)
{
    return t == YT_SNAP_F32 ? "f32" : t == YT_SNAP_U64 ? "u64" : "bytes";
}

static int tensor_fn(const yt_snap_info *info, void *ctx)
{
    listing *l = ctx;
    size_t bytes = info->count * elem_size(info->dtype);
    if (!l->quiet) {
        char shape[160] = "[";
        for (int d = 0; d < info->ndim; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? ", " : "",
                     (long long)info->shape[d]);
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "]");
        printf("  %-52s %-5s %-14s %10zu bytes\n", info->name, dtype_name(info->dtype), shape, bytes);
    }
    l->tensors++;
    l->elems += info->count;
    l->bytes += bytes;
    char group[64];
    size_t n = strcspn(info->name, "/");
    snprintf(group, sizeof group, "%.*s", (int)(n < 63 ? n : 63), info->name);
    int i = 0;
    while (i < l->ng && strcmp(l->g[i].name, group) != 0)
        i++;
    if (i == l->ng && l->ng < MAX_GROUPS) {
        snprintf(l->g[i].name, sizeof l->g[i].name, "%s", group);
        l->g[i].tensors = l->g[i].bytes = 0;
        l->ng++;
    }
    if (i < l->ng) {
        l->g[i].tensors++;
        l->g[i].bytes += bytes;
    }
    return 0;
}

typedef struct attr_list {
    char **keys;
    char *kinds;
    size_t n, cap;
    yt_err *e;
} attr_list;

static int attr_fn(const char *key, char kind, void *ctx)
{
    attr_list *a = ctx;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 32;
        char **nk = yt_realloc_array(a->keys, cap, sizeof *nk, "the attribute names", a->e);
        if (!nk)
            return 1;
        a->keys = nk;
        char *nkd = yt_realloc(a->kinds, cap, "the attribute kinds", a->e);
        if (!nkd)
            return 1;
        a->kinds = nkd;
        a->cap = cap;
    }
    if (!(a->keys[a->n] = yt_strdup(key, "an attribute name", a->e)))
        return 1;
    a->kinds[a->n++] = kind;
    return 0;
}

/* Prints the attributes; returns -1 (message in e) when one cannot be read. */
static int print_attrs(yt_snap *s, yt_err *e)
{
    attr_list a = {.e = e};
    int rc = yt_snap_foreach_attr(s, attr_fn, &a, e);
    if (rc > 0)
        rc = yt_err_prefix(e, "%s: listing attributes", yt_snap_file(s));
    printf("attributes:\n");
    for (size_t i = 0; i < a.n && rc == 0; i++) {
        const char *k = a.keys[i];
        if (a.kinds[i] == 's') {
            char *v = NULL;
            if ((rc = yt_snap_get_attr_str_dup(s, k, &v, e)) == 0)
                printf("  %-20s \"%s\"\n", k, v);
            free(v);
        } else if (a.kinds[i] == 'i') {
            int64_t v;
            if ((rc = yt_snap_get_attr_i64(s, k, &v, e)) == 0)
                printf("  %-20s %lld\n", k, (long long)v);
        } else if (a.kinds[i] == 'f') {
            double v;
            if ((rc = yt_snap_get_attr_f64(s, k, &v, e)) == 0)
                printf("  %-20s %.9g\n", k, v);
        } else {
            printf("  %-20s (a type yieldtune does not write)\n", k);
        }
    }
    for (size_t i = 0; i < a.n; i++)
        free(a.keys[i]);
    free(a.keys);
    free(a.kinds);
    return rc ? -1 : 0;
}

static int inspect_snapshot(const char *path, int quiet)
{
    yt_err e = {{0}};
    yt_snap *s = NULL;
    struct stat st;
    long long fsize = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    if (yt_snap_open(&s, path, &e)) {
        yt_report("inspect: %s", e.msg);
        return YT_EXIT_FAIL;
    }
    if (!quiet) {
        printf("snapshot %s (%lld bytes)\n", path, fsize);
        if (print_attrs(s, &e))
            yt_report("inspect: %s", e.msg);
        printf("tensors:\n");
    }
    listing l = {.quiet = quiet};
    if (yt_snap_foreach(s, tensor_fn, &l, &e) < 0)
        yt_report("inspect: listing tensors: %s", e.msg);
    if (!quiet) {
        printf("totals: %zu tensors, %zu elements, %zu bytes", l.tensors, l.elems, l.bytes);
        for (int i = 0; i < l.ng; i++)
            printf("%s%s: %zu tensors, %zu bytes", i ? "; " : " (", l.g[i].name, l.g[i].tensors,
                   l.g[i].bytes);
        printf("%s\n", l.ng ? ")" : "");
    }
    int ok = yt_train_snap_validate(s, yt_train_snap_name_step(path), NULL, &e) == 0;
    yt_snap_close(s);
    if (!ok) {
        printf("verify: FAILED\n");
        yt_report("inspect: does not verify: %s", e.msg);
        return YT_EXIT_FAIL;
    }
    printf("verify: ok (whole-file checksum, complete, every tensor matches its checksum and "
           "hash, resume values consistent)\n");
    return YT_EXIT_OK;
}

static int inspect_run(const char *run)
{
    yt_err e = {{0}};
    char dir[4200];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/snapshots", run);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        snprintf(dir, sizeof dir, "%s", run); /* a snapshots folder itself */
    long *steps = NULL;
    size_t n = 0;
    if (yt_snap_list(dir, &steps, &n, &e)) {
        yt_report("inspect: %s", e.msg);
        return YT_EXIT_FAIL;
    }
    printf("%s: %zu snapshot%s\n", dir, n, n == 1 ? "" : "s");
    int bad = 0;
    long newest = -1;
    for (size_t i = 0; i < n; i++) {
        char path[4400];
        if (yt_snap_path(path, sizeof path, dir, steps[i], &e)) {
            yt_report("inspect: %s", e.msg);
            free(steps);
            return YT_EXIT_FAIL;
        }
        long long fsize = stat(path, &st) == 0 ? (long long)st.st_size : -1;
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        yt_snap *s = NULL;
        int64_t step = -1;
        yt_train_snap_facts k;
        int ok = yt_snap_open(&s, path, &e) == 0 &&
                 yt_train_snap_validate(s, steps[i], &k, &e) == 0;
        if (ok)
            step = k.step;
        yt_snap_close(s);
        if (ok) {
            printf("  %s  step %-8lld valid    %lld bytes\n", base, (long long)step, fsize);
            newest = steps[i];
        } else {
            printf("  %s  step %-8ld INVALID  %s\n", base, steps[i], e.msg);
            bad++;
        }
    }
    free(steps);
    if (newest >= 0)
        printf("newest valid: step %ld (what train --resume auto and export use)\n", newest);
    if (n == 0) {
        yt_report("inspect: %s: no snapshots (step-*.h5)", dir);
        return YT_EXIT_FAIL;
    }
    if (bad) {
        yt_report("inspect: %d of %zu snapshots do not verify", bad, n);
        return YT_EXIT_FAIL;
    }
    return YT_EXIT_OK;
}

int yt_cmd_inspect(int argc, char **argv)
{
    inspect_opts o;
    yt_err e = {{0}};
    const char *pos[1];
    int npos = 0;
    static const yt_cmd_spec spec = {
        "inspect", "yieldtune inspect SNAPSHOT.h5 | RUN",
        "SNAPSHOT: prints its root attributes with values, its tensors with shapes\n"
        "and sizes, totals, and whether it is valid: whole-file checksum, complete,\n"
        "tensor checksums and hashes, and the values a resume uses consistent.\n"
        "RUN (or a snapshots folder): lists its snapshots with step and valid/invalid.\n"
        "Exit 0 when the snapshot (every snapshot of RUN) verifies, 1 when not.",
        inspect_table, 1, 1, "one snapshot file or RUN folder"};
    int rc = yt_cmd_options(&spec, &o, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    struct stat st;
    if (stat(pos[0], &st) != 0) {
        yt_errno(&e, errno, "%s", pos[0]);
        yt_report("inspect: %s", e.msg);
        return YT_EXIT_FAIL;
    }
    return S_ISDIR(st.st_mode) ? inspect_run(pos[0]) : inspect_snapshot(pos[0], o.quiet);
}
