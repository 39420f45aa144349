/* datasets/: the token dataset (HDF5), `prep` from pre-tokenised JSONL, and the
 * sampler that cuts the token stream into training windows for each rank.
 *
 * Contract: knows nothing of models or MPI (the sampler is told rank and world).
 * Functions return 0 / -1 and leave a message naming the file, dataset, attribute or
 * input line at fault in the caller's yt_err; nothing prints, nothing exits, the HDF5
 * error printer is silenced while these functions run.  Memory is allocated when a
 * writer, dataset or sampler is opened/created; yt_ds_sampler_next allocates nothing.
 *
 * File format (format_version 1), one HDF5 file:
 *   /tokens       uint32 [n_tokens]    all documents concatenated in order
 *   /loss_mask    uint8  [n_tokens]    1 = the token counts toward the loss, else 0
 *   /doc_offsets  uint64 [n_docs + 1]  document d is tokens[off[d], off[d+1]);
 *                                      off[0] = 0, non-decreasing, off[n_docs] = n_tokens
 *   every dataset 1-D, chunked, extendable, Fletcher32-checksummed.
 *   Root attributes: format = "yieldtune-tokens" (string), format_version = 1 (int32),
 *   tokenizer_fingerprint (string, "none" for pre-tokenised input), vocab_size (uint64,
 *   0 = unknown), max_token_id_plus_one (uint64), source (string), n_docs, n_tokens,
 *   n_counted_tokens, content_fingerprint (uint64, see yt_ds.fingerprint). */
#ifndef YT_DATASETS_H
#define YT_DATASETS_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

#define YT_DS_FORMAT "yieldtune-tokens"
#define YT_DS_FORMAT_VERSION 1
#define YT_DS_DEFAULT_CHUNK ((size_t)1 << 20) /* elements per chunk of /tokens */

/* ---- writer: streaming, durable, atomic ---- */
typedef struct yt_ds_writer yt_ds_writer;

typedef struct yt_ds_writer_opts {
    const char *tokenizer_fingerprint; /* NULL -> "none" */
    uint64_t vocab_size;               /* 0 = unknown; >0: every id must be < vocab_size */
    const char *source;                /* NULL -> "" */
    size_t chunk_elems;                /* 0 -> YT_DS_DEFAULT_CHUNK (tests use tiny chunks) */
} yt_ds_writer_opts;

/* Creates PATH.tmp.PID; PATH itself is not touched until yt_ds_writer_close. */
int yt_ds_writer_open(yt_ds_writer **out, const char *path, const yt_ds_writer_opts *o,
                      yt_err *e);
/* Appends one document of n tokens (n may be 0: an empty document).  mask NULL =
 * every token counted; otherwise nonzero = counted.  Buffers and writes whole chunks.
 * After a failure the writer is unusable: call yt_ds_writer_abort. */
int yt_ds_writer_add_doc(yt_ds_writer *w, const uint32_t *ids, const uint8_t *mask, size_t n,
                         yt_err *e);
/* Writes the tail and the attributes, closes, fsyncs, renames over PATH, fsyncs the
 * folder.  Frees w whether it succeeds or not; on failure the temp file is removed and
 * an existing PATH is unchanged. */
int yt_ds_writer_close(yt_ds_writer *w, yt_err *e);
/* Discards everything written (removes the temp file) and frees w.  NULL is fine. */
void yt_ds_writer_abort(yt_ds_writer *w);

/* ---- reader: the whole dataset in memory (datasets here are small: a few GB at most;
 * a memory-mapped or chunk-streaming reader is future work) ---- */
typedef struct yt_ds {
    char *path;
    uint64_t n_tokens, n_docs, n_counted;
    uint32_t *tokens;      /* [n_tokens] */
    uint8_t *loss_mask;    /* [n_tokens], 0 or 1 */
    uint64_t *doc_offsets; /* [n_docs + 1] */
    uint64_t vocab_size;   /* 0 = unknown */
    uint64_t max_token_id_plus_one;
    char *tokenizer_fingerprint;
    char *source;
    /* Content fingerprint: with h(x) = yt_hash64(bytes of x, YT_HASH_SEED) over the
     * arrays in little-endian order, fingerprint = yt_hash64 of the three uint64 values
     * {h(tokens), h(loss_mask), h(doc_offsets)} (24 bytes, little-endian, same seed).
     * Computable while streaming; independent of chunking; a resume compares it with the
     * one its snapshot recorded. */
    uint64_t fingerprint;
} yt_ds;

/* Opens and validates: format and version attributes, dtypes, rank, lengths
 * (loss_mask = tokens, doc_offsets = n_docs + 1, attributes agree), offsets start at 0,
 * never decrease and end at n_tokens, mask values 0/1, ids < vocab_size when known,
 * stored content_fingerprint equals the recomputed one.  A Fletcher32 mismatch is
 * reported as corruption naming the file and the dataset. */
int yt_ds_open(yt_ds **out, const char *path, yt_err *e);
void yt_ds_close(yt_ds *ds);

/* ---- prep: pre-tokenised JSONL -> dataset ---- */
typedef struct yt_ds_prep_opts {
    uint64_t vocab_size;               /* >0: ids >= vocab_size are an error */
    const char *tokenizer_fingerprint; /* NULL -> "none" */
    const char *source;                /* NULL -> "jsonl:<input path>" */
    size_t chunk_elems;                /* 0 -> default */
} yt_ds_prep_opts;

typedef struct yt_ds_prep_summary {
    uint64_t lines;         /* lines read, empty ones included */
    uint64_t documents;     /* documents written */
    uint64_t skipped_empty; /* documents with zero input_ids, not written */
    uint64_t tokens;        /* tokens written */
    uint64_t counted;       /* tokens with loss_mask 1 */
} yt_ds_prep_summary;

/* Each non-blank line: a JSON object with "input_ids" (array of integers in [0, 2^32))
 * and optional "labels" (array of integers, same length; -100 = not counted, anything
 * else counted; null or absent = all counted).  Other keys are ignored.  Reads line by
 * line.  Errors read "IN:LINE: what".  o may be NULL; s may be NULL.  On error OUT is
 * untouched.  An input without a single token is an error. */
int yt_ds_prep_jsonl(const char *in, const char *out, const yt_ds_prep_opts *o,
                     yt_ds_prep_summary *s, yt_err *e);

/* ---- sampler: packing, deterministic shuffling, sharding, resumable cursor ----
 *
 * The token stream is all documents concatenated in file order (no separator yet).
 * Window w is tokens [w*S, w*S + S] (S + 1 tokens; S = seq_len); consecutive windows
 * overlap by one token; n_windows = (n_tokens - 1) / S (the tail is never used).
 * inputs = window[0..S), targets = window[1..S], weight of a target = its loss_mask bit.
 *
 * Epoch e visits the windows in a permutation of [0, n_windows) that depends only on
 * (seed, e): Fisher-Yates, i = n-1..1, j = yt_mix64(key ^ yt_mix64(i)) % (i+1),
 * key = yt_mix64(yt_mix64(seed) ^ e).  Permutation positions are cut into global
 * batches of G = global_batch windows: step k of an epoch is positions [kG, (k+1)G).
 * An epoch has floor(n_windows / G) steps; the last n_windows % G positions of each
 * epoch are DROPPED (a different set each epoch, since the permutation changes).
 *
 * Mapping (world W, rank r, micro-batch B windows, A = G / (W*B) micro-batches per
 * step): rank r owns positions [kG + r*P, kG + (r+1)*P), P = G / W, and its micro-batch
 * m (0..A-1) is positions [kG + r*P + m*B, kG + r*P + (m+1)*B).  So every optimizer
 * step sees the same SET of windows whatever W is (W=1 A=4, W=2 A=2, W=4 A=1 with the
 * same G and B), and concatenating the ranks' micro-batches in (rank, m) order gives
 * the W=1 order.
 *
 * Cursor = {epoch, position}: position counts the windows of this epoch consumed by
 * all ranks together (ranks run in lock-step), so after m micro-batches of step k it is
 * kG + m*B*W.  It is the same on every rank; at a step boundary (position % G == 0) it
 * is the permutation index of the next step's first window and may be restored with a
 * different W or B.  When an epoch's last step is done the cursor moves to
 * {epoch + 1, 0}. */
typedef struct yt_ds_sampler yt_ds_sampler;

typedef struct yt_ds_sampler_opts {
    uint32_t seq_len;      /* S >= 1 */
    uint32_t micro_batch;  /* B: windows per rank per yt_ds_sampler_next */
    uint32_t global_batch; /* G: windows per optimizer step, all ranks; G % (W*B) == 0 */
    int rank, world;       /* 0 <= rank < world */
    uint64_t seed;
} yt_ds_sampler_opts;

typedef struct yt_ds_cursor {
    uint64_t epoch;
    uint64_t position;
} yt_ds_cursor;

/* The sampler reads ds (which must outlive it) and starts at {0, 0}.  Needs
 * n_windows >= G, ids < 2^31 and n_docs < 2^31 (they are handed out as int32). */
int yt_ds_sampler_create(yt_ds_sampler **out, const yt_ds *ds, const yt_ds_sampler_opts *o,
                         yt_err *e);
void yt_ds_sampler_free(yt_ds_sampler *s);

/* Fills this rank's next micro-batch, B rows of S, row-major [B, S], and advances.
 * inputs[b*S+t] = window[t]; targets[b*S+t] = window[t+1]; weights[b*S+t] = loss_mask of
 * window[t+1] (0 or 1, not normalised); doc_ids[b*S+t] = index of the document holding
 * window[t] (equal ids = same document: build a document mask from them).  Any output
 * except inputs may be NULL.  Allocates nothing. */
int yt_ds_sampler_next(yt_ds_sampler *s, int32_t *inputs, int32_t *targets, float *weights,
                       int32_t *doc_ids, yt_err *e);

/* Which window (index into the dataset's windows) the next call gives as row b (for
 * logs and tests); b < B. */
uint64_t yt_ds_sampler_peek_window(const yt_ds_sampler *s, uint32_t b);

yt_ds_cursor yt_ds_sampler_cursor(const yt_ds_sampler *s);
/* Needs position <= steps_per_epoch*G and position % G a multiple of B*W. */
int yt_ds_sampler_set_cursor(yt_ds_sampler *s, yt_ds_cursor c, yt_err *e);

uint64_t yt_ds_sampler_n_windows(const yt_ds_sampler *s);
uint64_t yt_ds_sampler_steps_per_epoch(const yt_ds_sampler *s);
uint32_t yt_ds_sampler_accum(const yt_ds_sampler *s); /* A = G / (W*B) */

#endif
