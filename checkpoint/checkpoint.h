/* checkpoint/: HDF5 snapshots of named tensors and attributes.  It knows nothing
 * of what the tensors mean.
 *
 * Format (format_version 2), one serial HDF5 file per snapshot:
 *   header           the first 512 bytes (the HDF5 user block; HDF5 tools and h5py
 *                    read the file as usual): 16-byte magic YT_SNAP_MAGIC, then
 *                    little-endian u32 format version (2), u32 header size (512),
 *                    u64 file size, u64 yt_checksum64 (common.h) of the whole
 *                    file with these 8 checksum bytes taken as zero; the rest 0.
 *   root attributes  format = "yieldtune-snapshot", format_version = 2 (int64),
 *                    program_version (string, set by the caller, required),
 *                    caller attributes (fixed-length UTF-8 strings, int64, float64),
 *                    and last of all complete = 1 (int64).
 *   datasets         at slash paths ("lora/layers.0.q_proj.lora_A", "optim/m/..."),
 *                    groups created on the way; float32, uint64 or uint8 (opaque
 *                    bytes), little-endian, chunked (whole tensor or <= 1M-element
 *                    chunks) with the Fletcher32 filter, plus a uint64 attribute
 *                    hash_fnv1a64 = yt_hash64(raw little-endian bytes, YT_HASH_SEED).
 * Reading: yt_snap_open reads the whole file into memory (never more than its own
 * size), checks the header and the whole-file hash, and only then lets HDF5 parse
 * the bytes, from memory: every byte of the file, attributes included, is covered,
 * and a damaged file never reaches HDF5's parsers.  Attribute counts, string sizes
 * and tensor sizes are bounded by the file's size before anything is read.
 * Format 1 files (bare HDF5, written before the header existed) are refused with
 * a message saying so (yt_snap_open returns -2 for them).
 *
 * Writing is crash-safe: an atomic file (common.h): everything goes to
 * "<final>.tmp.<pid>" in the same folder; commit writes it, fsyncs it, renames it
 * over <final> and fsyncs the folder.  On any failure the temp file is removed and
 * an existing <final> is never touched.  The HDF5 file is assembled in memory
 * (the header needs the finished bytes) and written with write(2) at commit, because
 * HDF5 1.10 crashes after its own write errors (ENOSPC): a writer holds the whole
 * snapshot in RAM, twice over during commit.
 *
 * A snapshots folder holds "step-%08ld.h5" files (yt_snap_path).  Readers pick the
 * newest one that opens, verifies and passes the caller's check (yt_snap_check);
 * pruning never deletes the newest such one.
 *
 * Errors: 0 on success, -1 with a message naming the file and the tensor or
 * attribute at fault (HDF5's own error stack is silenced and folded into it).
 * Nothing here prints or exits.  Not thread-safe (serial HDF5). */
#ifndef YT_CHECKPOINT_H
#define YT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#define YT_SNAP_FORMAT "yieldtune-snapshot"
#define YT_SNAP_FORMAT_VERSION 2
#define YT_SNAP_HEADER_BYTES YT_SEAL_HEADER_BYTES
#define YT_SNAP_MAGIC "\211yieldtune-snap\n" /* 16 bytes */
/* The sealed-file kind (common.h) of a snapshot. */
#define YT_SNAP_SEAL_KIND {YT_SNAP_MAGIC, YT_SNAP_FORMAT_VERSION, "snapshot", ""}
/* Most root attributes a snapshot may have. */
#define YT_SNAP_MAX_ATTRS 64
#define YT_SNAP_MAX_DIMS 8
/* Largest number of elements in one chunk. */
#define YT_SNAP_CHUNK_ELEMS (1 << 20)

typedef enum { YT_SNAP_F32 = 1, YT_SNAP_U64 = 2, YT_SNAP_BYTES = 3 } yt_snap_dtype;

/* Tensor names, one rule for writing and reading: a slash path ("lora/x",
 * "optim/m/x"; one leading '/' is allowed and ignored) of 1..YT_SNAP_NAME_MAX
 * bytes whose components are non-empty, printable ASCII without spaces, and
 * neither "." nor "..".  Returns the name without its leading '/', or NULL
 * when it breaks the rule. */
#define YT_SNAP_NAME_MAX 1000
const char *yt_snap_tensor_name(const char *name);

/* ---- writing ---- */
typedef struct yt_snap_writer yt_snap_writer;

/* Creates "<final_path>.tmp.<pid>" and writes the format attributes.  NULL on error. */
yt_snap_writer *yt_snap_begin(const char *final_path, yt_err *e);
/* ndim in 1..YT_SNAP_MAX_DIMS, shape[i] >= 0.  Names must be new in this file. */
int yt_snap_put_f32(yt_snap_writer *w, const char *name, const float *data, int ndim,
                    const int64_t *shape, yt_err *e);
int yt_snap_put_u64_array(yt_snap_writer *w, const char *name, const uint64_t *data, size_t n,
                          yt_err *e);
int yt_snap_put_bytes(yt_snap_writer *w, const char *name, const void *data, size_t n,
                      yt_err *e);
/* Root attributes; a key may be set once.  "format", "format_version" and
 * "complete" belong to the library; "program_version" must be set before commit. */
int yt_snap_attr_str(yt_snap_writer *w, const char *key, const char *value, yt_err *e);
int yt_snap_attr_i64(yt_snap_writer *w, const char *key, int64_t value, yt_err *e);
int yt_snap_attr_f64(yt_snap_writer *w, const char *key, double value, yt_err *e);
/* Writes complete=1, closes, fsyncs, renames into place, fsyncs the folder.  Frees w
 * whatever happens.  After any earlier failure of a put/attr call the temp file is
 * already gone and commit fails.  (If only the final folder fsync fails, the new
 * snapshot is already in place; the error says so.) */
int yt_snap_commit(yt_snap_writer *w, yt_err *e);
/* Test seam: the atomic-file hook (common.h) for this snapshot's commit. */
void yt_snap_set_hook(yt_snap_writer *w, const yt_af_hook *hook);
/* Closes and unlinks the temp file, frees w.  NULL is allowed. */
void yt_snap_abort(yt_snap_writer *w);

/* ---- reading ---- */
typedef struct yt_snap yt_snap;

typedef struct yt_snap_info {
    const char *name; /* path without leading '/', valid during the callback only */
    yt_snap_dtype dtype;
    int ndim;
    int64_t shape[YT_SNAP_MAX_DIMS];
    size_t count; /* elements (bytes for YT_SNAP_BYTES) */
} yt_snap_info;

/* Reads the file, checks its header and whole-file hash, opens it read-only and
 * checks format and format_version.  -1 on error; -2 for a snapshot of the
 * earlier format 1 (the message says so). */
int yt_snap_open(yt_snap **out, const char *path, yt_err *e);
void yt_snap_close(yt_snap *s);
const char *yt_snap_file(const yt_snap *s);
/* complete == 1, and every dataset reads (Fletcher32) and matches its stored hash.
 * The first bad tensor is named. */
int yt_snap_verify(yt_snap *s, yt_err *e);
/* yt_snap_verify, calling fn for each tensor once its checks passed, with its
 * data (info->count elements of its type, valid during the call): a caller's
 * check of the values costs no second read.  fn returns 0, or -1 with e set. */
typedef int (*yt_snap_data_fn)(const yt_snap_info *info, const void *data, void *ctx, yt_err *e);
int yt_snap_verify_each(yt_snap *s, yt_snap_data_fn fn, void *ctx, yt_err *e);

/* Read a whole tensor of the given type; its element count must equal n_expected.
 * The stored hash is checked.  On error dst may have been partly written. */
int yt_snap_get_f32(yt_snap *s, const char *name, float *dst, size_t n_expected, yt_err *e);
int yt_snap_get_u64_array(yt_snap *s, const char *name, uint64_t *dst, size_t n_expected,
                          yt_err *e);
int yt_snap_get_bytes(yt_snap *s, const char *name, void *dst, size_t n_expected, yt_err *e);
/* shape must hold YT_SNAP_MAX_DIMS entries. */
int yt_snap_get_shape(yt_snap *s, const char *name, int *ndim, int64_t *shape, yt_err *e);
int yt_snap_get_info(yt_snap *s, const char *name, yt_snap_info *info, yt_err *e);
/* 1 if a dataset (resp. root attribute) of that name exists, else 0. */
int yt_snap_has(yt_snap *s, const char *name);
int yt_snap_has_attr(yt_snap *s, const char *key);

/* Missing attribute or wrong type: error naming the key.  get_attr_str fails if the
 * value (with its NUL) does not fit in cap; get_attr_str_dup returns malloc'd text. */
int yt_snap_get_attr_str(yt_snap *s, const char *key, char *dst, size_t cap, yt_err *e);
int yt_snap_get_attr_str_dup(yt_snap *s, const char *key, char **out, yt_err *e);
int yt_snap_get_attr_i64(yt_snap *s, const char *key, int64_t *out, yt_err *e);
int yt_snap_get_attr_f64(yt_snap *s, const char *key, double *out, yt_err *e);

/* Calls fn for every dataset, depth first in name order.  fn returns 0 to go on,
 * non-zero to stop (then yt_snap_foreach returns that value). */
typedef int (*yt_snap_tensor_fn)(const yt_snap_info *info, void *ctx);
int yt_snap_foreach(yt_snap *s, yt_snap_tensor_fn fn, void *ctx, yt_err *e);
/* Calls fn for every root attribute in name order; kind is 's', 'i' or 'f' ('?' for
 * another type). */
typedef int (*yt_snap_attr_fn)(const char *key, char kind, void *ctx);
int yt_snap_foreach_attr(yt_snap *s, yt_snap_attr_fn fn, void *ctx, yt_err *e);

/* ---- snapshots folder ---- */
/* What makes a snapshot valid beyond its format, for the folder functions: the
 * caller's check of what the values mean (they are opaque here).  data sees
 * every tensor during the verification (yt_snap_verify_each); fn is then called
 * with the snapshot that opened and verified and the step its file name says.
 * Both return 0 when it may be used, else -1 with the reason in e. */
typedef struct yt_snap_check {
    int (*fn)(yt_snap *s, long step, void *ctx, yt_err *e);
    yt_snap_data_fn data; /* may be NULL: run on each tensor by the verification */
    void *ctx;
} yt_snap_check;

/* "<dir>/step-%08ld.h5". */
int yt_snap_path(char *out, size_t cap, const char *dir, long step, yt_err *e);
/* Steps of the regular files named step-<digits>.h5, ascending; *steps is malloc'd
 * (NULL when none; free() it).  A missing folder is an empty list. */
int yt_snap_list(const char *dir, long **steps, size_t *n, yt_err *e);
/* Newest snapshot that opens, verifies and passes check (NULL: no check).  None:
 * returns 0 with *step = -1 and path_out = "".  skipped (may be NULL) receives
 * "step-X.h5: why; ..." for every newer snapshot that was rejected ("" when none).
 * A format 1 snapshot newer than any valid one is an error (-1): falling back past
 * it would restart the run. */
int yt_snap_latest_valid(const char *dir, const yt_snap_check *check, char *path_out,
                         size_t path_cap, long *step, char *skipped, size_t skipped_cap,
                         yt_err *e);
/* Keeps the newest `keep` valid snapshots (valid as for yt_snap_latest_valid; keep < 1
 * counts as 1) and deletes every other step-*.h5, valid or not.  Older ones than the
 * last kept are deleted without being opened.  *removed (may be NULL) counts
 * deletions. */
int yt_snap_prune(const char *dir, int keep, const yt_snap_check *check, int *removed,
                  yt_err *e);
/* Removes step-<digits>.h5.tmp.* files left by a crashed writer.  Call it only when
 * no writer is running in dir. */
int yt_snap_clean_temps(const char *dir, int *removed, yt_err *e);

#endif
