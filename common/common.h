/* common/: the floor of the house.  Errors, time, hashing, aligned memory and
 * small file helpers shared by every folder; JSON files from the wild in
 * common/json.h (jansson).
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

/* 64-byte aligned, zeroed allocation; NULL with a message naming `what` on failure. */
void *yt_alloc(size_t bytes, const char *what, yt_err *e);
void yt_free(void *p);

/* Reads a whole file into a NUL-terminated buffer (free with free()). */
int yt_read_file(const char *path, char **out, size_t *len, yt_err *e);
/* Writes a file atomically: temp file in the same folder, fsync, rename, fsync folder. */
int yt_write_file_atomic(const char *path, const void *data, size_t len, yt_err *e);
/* fsync of the folder holding `path` (after a rename into it). */
int yt_fsync_dir_of(const char *path, yt_err *e);
/* The next line of f, its '\n' included, NUL-terminated in *buf (grown as
 * needed, free() it): its length, 0 at the end, -1 on a read error (errno), -2
 * when the line is longer than max bytes (the rest of it stays unread). */
long long yt_getline_max(char **buf, size_t *cap, size_t max, FILE *f);
/* The longest line a text input (JSONL record, paragraph) may have. */
#define YT_TEXT_LINE_MAX ((size_t)64 << 20)
/* mkdir -p. */
int yt_mkdirs(const char *path, yt_err *e);

#endif
