/* Fuzz target: the snapshot reader (checkpoint/snapshot_read.c), as a resume
 * reads a snapshot: open (format checks), verify (complete flag, every dataset's
 * Fletcher32 and stored hash), then every tensor's info and contents by its type,
 * and every root attribute by its kind.  The input is one mode byte and a
 * snapshot file (raw or sealed: fuzz_util.h's fuzz_write_sealed).  HDF5's own parsing is not our code, but a
 * crash reached through these reads counts: the report says whose it is.  No
 * HDF5 identifier may stay open (fuzz_h5_check).  A tensor is read whatever its
 * size: the reader bounds it by the file's (a larger one fails run.sh's
 * -rss_limit_mb). */
#include <stdlib.h>

#include "checkpoint/checkpoint.h"
#include "tests/fuzz/fuzz_util.h"

static int on_tensor(const yt_snap_info *info, void *ctx)
{
    yt_snap *s = ctx;
    yt_err e = {{0}};
    yt_snap_info again;
    int nd;
    int64_t shape[YT_SNAP_MAX_DIMS];
    (void)yt_snap_get_info(s, info->name, &again, &e);
    (void)yt_snap_get_shape(s, info->name, &nd, shape, &e);
    (void)yt_snap_has(s, info->name);
    size_t n = info->count;
    void *buf = malloc(n * 8 + 8);
    if (!buf)
        abort();
    switch (info->dtype) {
    case YT_SNAP_F32:
        (void)yt_snap_get_f32(s, info->name, buf, n, &e);
        break;
    case YT_SNAP_U64:
        (void)yt_snap_get_u64_array(s, info->name, buf, n, &e);
        break;
    case YT_SNAP_BYTES:
        (void)yt_snap_get_bytes(s, info->name, buf, n, &e);
        break;
    }
    /* the wrong count and the wrong type are errors, not reads past buf */
    (void)yt_snap_get_f32(s, info->name, buf, n + 1, &e);
    (void)yt_snap_get_bytes(s, info->name, buf, n, &e);
    free(buf);
    return 0;
}

static int on_attr(const char *key, char kind, void *ctx)
{
    yt_snap *s = ctx;
    yt_err e = {{0}};
    char small[8];
    char *dup = NULL;
    int64_t i;
    double f;
    (void)yt_snap_has_attr(s, key);
    (void)kind;
    (void)yt_snap_get_attr_str(s, key, small, sizeof small, &e);
    if (yt_snap_get_attr_str_dup(s, key, &dup, &e) == 0)
        free(dup);
    (void)yt_snap_get_attr_i64(s, key, &i, &e);
    (void)yt_snap_get_attr_f64(s, key, &f, &e);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const yt_seal_kind kind = YT_SNAP_SEAL_KIND;
    char path[1024];
    if (!fuzz_write_sealed("step-00000001.h5", data, size, &kind, path, sizeof path))
        return 0;
    yt_snap *s = NULL;
    yt_err e = {{0}};
    long ids = fuzz_h5_ids();
    if (yt_snap_open(&s, path, &e) != 0) {
        fuzz_note("open", &e);
        fuzz_h5_check(ids, "yt_snap_open");
        return 0;
    }
    (void)yt_snap_file(s);
    fuzz_note("verify", yt_snap_verify(s, &e) ? &e : NULL);
    (void)yt_snap_foreach(s, on_tensor, s, &e);
    (void)yt_snap_foreach_attr(s, on_attr, s, &e);
    yt_snap_close(s);
    fuzz_h5_check(ids, "the snapshot reader");
    return 0;
}
