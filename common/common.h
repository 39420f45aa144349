/* common/: the floor of the house.  Errors, time, hashing, checked allocation,
 * small file helpers, atomic files, folder locks and sealed files (the
 * checksummed header of snapshots and token datasets) shared by every folder;
 * JSON files from the wild in common/json.h (jansson).
 *
 * Contract: library code never prints or exits.  A function that can fail returns
 * 0 on success and -1 on failure, after writing a message that names the file,
 * tensor, key or flag at fault into the caller's yt_err.  Only runner/ prints. */
#ifndef YT_COMMON_H
#define YT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define YT_ERR_MAX 1024

typedef struct yt_err {
    char msg[YT_ERR_MAX];
} yt_err;

/* Writes the message (printf-style) and returns -1, so `return yt_errf(e, ...)`. */
int yt_errf(yt_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes an existing message with context: "ctx: old message".  Returns -1. */
int yt_err_prefix(yt_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends ": strerror(errnum)" style text for a failed system call.  Returns -1. */
int yt_errno(yt_err *e, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Monotonic seconds. */
double yt_now(void);
/* Wall-clock seconds since the epoch (for event logs). */
double yt_wall(void);

/* 64-bit FNV-1a, chainable: pass the previous hash as seed (YT_HASH_SEED to start). */
#define YT_HASH_SEED 0xcbf29ce484222325ULL
uint64_t yt_hash64(const void *data, size_t n, uint64_t seed);

/* Checksum of a large buffer, not a fingerprint: the little-endian 64-bit
 * words of data (the last one zero-padded) go round-robin into four lanes,
 * lane = yt_mix64(lane ^ word) from lanes 1, 2, 3, 4; the result is
 * h = n, then h = yt_mix64(h ^ lane) for each lane in order.  Any change within
 * one 8-byte word (any single flipped bit) always changes it; ~5 GB/s. */
uint64_t yt_checksum64(const void *data, size_t n);
/* The same checksum over data given in pieces of any sizes. */
typedef struct yt_cksum {
    uint64_t lane[4], n;
    unsigned char buf[32];
    size_t nbuf;
} yt_cksum;
void yt_cksum_init(yt_cksum *c);
void yt_cksum_update(yt_cksum *c, const void *data, size_t n);
uint64_t yt_cksum_final(const yt_cksum *c);

/* SplitMix64: a stateless mixer used to derive deterministic random streams. */
static inline uint64_t yt_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}
/* Uniform float in [0,1) from a 64-bit value (24 high bits). */
static inline float yt_u01(uint64_t x) { return (float)(x >> 40) * (1.0f / 16777216.0f); }

/* ---- checked allocation (common/memory.c) ----
 * The one place that words an allocation failure: each helper returns NULL
 * after writing "out of memory for <what> (N bytes)" into e, and callers add
 * the file, tensor or key with yt_err_prefix.  An n * size that overflows
 * size_t is refused the same way, never wrapped.  A request for 0 bytes gets a
 * valid (1-byte) block.  All of them are the C library's allocator
 * underneath (yt_alloc through posix_memalign), so free() and yt_free are the
 * same and any of these blocks may be freed with either. */
/* 64-byte aligned, zeroed. */
void *yt_alloc(size_t bytes, const char *what, yt_err *e);
/* malloc: uninitialised. */
void *yt_malloc(size_t bytes, const char *what, yt_err *e);
/* calloc: n * size zeroed bytes. */
void *yt_calloc(size_t n, size_t size, const char *what, yt_err *e);
/* malloc of n * size uninitialised bytes. */
void *yt_alloc_array(size_t n, size_t size, const char *what, yt_err *e);
/* realloc: on failure NULL, and p stays valid and unchanged (still the
 * caller's to free).  Not for yt_alloc blocks that must stay aligned. */
void *yt_realloc(void *p, size_t bytes, const char *what, yt_err *e);
void *yt_realloc_array(void *p, size_t n, size_t size, const char *what, yt_err *e);
/* A NUL-terminated copy of s, and of at most n bytes of s. */
char *yt_strdup(const char *s, const char *what, yt_err *e);
char *yt_strndup(const char *s, size_t n, const char *what, yt_err *e);
void yt_free(void *p);
/* The same message for memory a library ran out of inside (jansson, HDF5,
 * PCRE2), whose size is not ours to know: "out of memory for <what>".
 * Returns -1. */
int yt_err_oom(yt_err *e, const char *what);

/* Reads a whole file into a NUL-terminated buffer (free with free()). */
int yt_read_file(const char *path, char **out, size_t *len, yt_err *e);
/* Writes a whole file atomically through yt_afile (below). */
int yt_write_file_atomic(const char *path, const void *data, size_t len, yt_err *e);
/* fsync of the folder holding `path` (after a rename into it). */
int yt_fsync_dir_of(const char *path, yt_err *e);
/* The next line of f, its '\n' included, NUL-terminated in *buf (grown as
 * needed, free() it): its length, 0 at the end, -1 on a read error (errno), -2
 * when the line is longer than max bytes (the rest of it stays unread). */
long long yt_getline_max(char **buf, size_t *cap, size_t max, FILE *f);
/* 1 when the line holds nothing but JSON whitespace (space, tab, CR, LF): a
 * JSONL reader skips it. */
int yt_line_is_blank(const char *s, size_t n);
/* The longest line a text input (JSONL record, paragraph) may have. */
#define YT_TEXT_LINE_MAX ((size_t)64 << 20)
/* mkdir -p. */
int yt_mkdirs(const char *path, yt_err *e);

/* ---- atomic files (common/atomic_file.c) ----
 * The one way a file that must be whole or absent is written (datasets,
 * snapshots, safetensors, JSON):
 *   yt_af_begin   creates the temp file "<path>.tmp.<pid>" beside <path>
 *                 (O_EXCL, never through a link; a stale one of a dead process
 *                 with our pid is removed first);
 *   yt_af_write   appends bytes to it, or a library that writes files by name
 *                 (HDF5) writes yt_af_temp_path(f) itself and closes it;
 *   yt_af_commit  fsyncs the temp file, renames it over <path>, fsyncs the
 *                 folder;
 *   yt_af_abort   removes the temp file (after commit or abort: a no-op).
 * What may be replaced: nothing but a regular file (never a symbolic link, a
 * folder, a FIFO, a device node or a socket), and with opts->magic only a file
 * of the kind the writer makes; checked at begin and again just before the
 * rename.  A command also refuses an output that is one of its own inputs
 * (yt_af_check_not_input, by device and inode, not by name).
 * Any failing call removes the temp file itself, so <path> is never touched
 * unless the new file is complete.  A process killed in between leaves the temp
 * file ("*.tmp.<pid>") for its owner to clean up.  If only the final folder fsync
 * fails, the new file is in place and the error says so.
 *
 * Test seam: opts->hook (NULL in production) is called at fixed points of a
 * write so that a test can stop or kill the writer there; yieldtune sets it
 * only from runner/ (see runner/train_state.c).  Library code reads no
 * environment for it. */
typedef enum {
    YT_AF_MID_WRITE,     /* once per file: half of the first yt_af_write's bytes are written */
    YT_AF_BEFORE_RENAME, /* the temp file is complete and fsynced; <path> is untouched */
} yt_af_point;

typedef struct yt_af_hook {
    void (*fn)(yt_af_point at, const char *path, void *ctx);
    void *ctx;
} yt_af_hook;

typedef struct yt_af_opts {
    unsigned mode;            /* permission bits of the new file (before umask); 0 = 0644 */
    const char *magic;        /* an existing target must hold these bytes (<= 64) ... */
    size_t magic_len, magic_off; /* ... at this offset (magic NULL: any regular file) */
    size_t magic_alt_off;     /* ... or at this one (0: none) */
    const char *kind;         /* what magic identifies, for messages ("an HDF5 file") */
    const yt_af_hook *hook;   /* test seam; NULL = none */
} yt_af_opts;

#define YT_AF_PATH_CAP 4096

typedef struct yt_afile {
    int fd;                   /* the temp file; -1 when none is open */
    int live;                 /* the temp file exists and is ours to remove */
    int mid_done;             /* the YT_AF_MID_WRITE point has passed */
    yt_af_hook hook;
    const char *magic, *kind; /* opts' (static strings) */
    size_t magic_len, magic_off, magic_alt_off;
    char path[YT_AF_PATH_CAP];
    char tmp[YT_AF_PATH_CAP + 32];
} yt_afile;

/* opts may be NULL (defaults).  On failure f holds no temp file. */
int yt_af_begin(yt_afile *f, const char *path, const yt_af_opts *opts, yt_err *e);
int yt_af_write(yt_afile *f, const void *data, size_t n, yt_err *e);
/* The temp file's name, for a library that writes the file by name. */
const char *yt_af_temp_path(const yt_afile *f);
/* Replaces the hook (test seam) of a begun file; NULL removes it. */
void yt_af_set_hook(yt_afile *f, const yt_af_hook *hook);
int yt_af_commit(yt_afile *f, yt_err *e);
void yt_af_abort(yt_afile *f);
/* ---- folder locks (common/dir_lock.c) ----
 * An exclusive flock(2) on DIR/lock, held until yt_dirlock_release or the end
 * of the process: the kernel drops it when the holder exits or dies, so a lock
 * file left behind locks nothing.  The holder writes "pid P host H since T"
 * into the file, and a refused taker's message quotes it.
 * Shared file systems: on NFS (Linux >= 2.6.12) flock is carried out as a
 * whole-file POSIX lock held by the server (NFSv4 natively, NFSv3 through the
 * NLM lock manager), so it excludes processes on every client; a mount with
 * "nolock" or "local_lock=flock|all" makes it node-local, and a client cut off
 * from the server for longer than the lease (NFSv4: 90 s by default) can lose
 * the lock without being told.  On Lustre it follows the client mount option:
 * "flock" cluster-wide, "localflock" this node only, "noflock" refused.  On
 * other cluster file systems check that flock is coherent across nodes before
 * relying on it.  Where the file system refuses flock, yt_dirlock_take returns
 * 1 and holds nothing (the message says why), and the caller decides. */
typedef struct yt_dirlock {
    int fd;                 /* -1 when nothing is held */
    char path[4200];
} yt_dirlock;

/* Creates DIR (mkdir -p) and takes its lock.  0: held; 1: this file system
 * does not do flock (nothing held); -1: another process holds it (the message
 * names DIR and quotes the holder) or an error. */
int yt_dirlock_take(yt_dirlock *l, const char *dir, yt_err *e);
void yt_dirlock_release(yt_dirlock *l);

/* ---- sealed files (common/sealed_file.c) ----
 * A file whose first YT_SEAL_HEADER_BYTES are our header: a 16-byte magic,
 * little-endian u32 format version, u32 header size (512), u64 file size,
 * u64 yt_checksum64 of the whole file with these 8 checksum bytes taken as
 * zero, then zeros.  HDF5 keeps the header as its user block (h5py and the
 * HDF5 tools read the file as usual).  Checking it before HDF5 opens the file
 * means HDF5 only ever parses bytes our writer produced: a damaged file is
 * refused here, before HDF5's own parsers (which crash or allocate without
 * bound on some damaged files) see a byte. */
#define YT_SEAL_HEADER_BYTES 512

typedef struct yt_seal_kind {
    const char *magic;      /* 16 bytes */
    uint32_t version;
    const char *noun;       /* "snapshot", "token dataset": for messages */
    const char *old_hint;   /* appended to the message for a bare HDF5 file
                               (the format before the header); "" for none */
} yt_seal_kind;

/* Writes the header into img[0, 512) of a whole in-memory file. */
void yt_seal_image(unsigned char *img, size_t size, const yt_seal_kind *k);
/* Writes the header into the first 512 bytes of the open file fd (read and
 * written with pread/pwrite; the caller fsyncs).  Messages name path. */
int yt_seal_fd(int fd, const char *path, const yt_seal_kind *k, yt_err *e);
/* 0 when the whole file (img, `size` bytes; or fd, read in pieces) carries a
 * good header and checksum; -2 for a bare HDF5 file of the format before the
 * header; -1 otherwise.  Messages name path. */
int yt_seal_check_image(const char *path, const unsigned char *img, size_t size,
                        const yt_seal_kind *k, yt_err *e);
int yt_seal_check_fd(int fd, const char *path, const yt_seal_kind *k, yt_err *e);

/* 0 unless `out` exists and is the same file or folder (device and inode) as
 * one of the inputs; an input that does not exist is not compared. */
int yt_af_check_not_input(const char *out, const char *const *inputs, size_t n, yt_err *e);

#endif
