/* datasets/: the token dataset (HDF5), `prep` from pre-tokenised JSONL, text, Alpaca
 * and chat records (chat through the model's own Jinja chat template, interpreted by
 * datasets/template/template.h), the tokenizer (tokenizer.h), and the sampler that
 * cuts the token stream into training windows for each rank.
 *
 * Contract: knows nothing of models or MPI (the sampler is told rank and world).
 * Functions return 0 / -1 and leave a message naming the file, dataset, attribute or
 * input line at fault in the caller's yt_err; nothing prints, nothing exits, the HDF5
 * error printer is silenced while these functions run.  Memory is allocated when a
 * writer, dataset or sampler is opened/created; yt_ds_sampler_next allocates nothing.
 *
 * File format (format_version 2), one HDF5 file sealed (common.h): its first
 * 512 bytes, the HDF5 user block, are a header with magic YT_DS_MAGIC, the
 * format version and a checksum of the whole file, checked before HDF5 reads a
 * byte (format 1, a bare HDF5 file, is refused with a message saying so):
 *   /tokens       uint32 [n_tokens]    all documents concatenated in order
 *   /loss_mask    uint8  [n_tokens]    1 = the token counts toward the loss, else 0
 *   /doc_offsets  uint64 [n_docs + 1]  document d is tokens[off[d], off[d+1]);
 *                                      off[0] = 0, non-decreasing, off[n_docs] = n_tokens
 *   every dataset 1-D, chunked, extendable, Fletcher32-checksummed.
 *   Root attributes: format = "yieldtune-tokens" (string), format_version = 2 (int32),
 *   tokenizer_fingerprint (string, "none" for pre-tokenised input), vocab_size (uint64,
 *   0 = unknown), max_token_id_plus_one (uint64), source (string), n_docs, n_tokens,
 *   n_counted_tokens, content_fingerprint (uint64, see yt_ds.fingerprint). */
#ifndef YT_DATASETS_H
#define YT_DATASETS_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "datasets/tokenizer/tokenizer.h"

#define YT_DS_FORMAT "yieldtune-tokens"
#define YT_DS_FORMAT_VERSION 2
#define YT_DS_MAGIC "\211yieldtune-toks\n" /* 16 bytes */
#define YT_DS_SEAL_KIND {YT_DS_MAGIC, YT_DS_FORMAT_VERSION, "token dataset", \
                         "; run `yieldtune prep` again to rewrite it"}
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

/* Opens and validates: the header and whole-file checksum (before HDF5 opens
 * the file), format and version attributes, dtypes, rank, lengths
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
 * Windows.  Three ways to cut the dataset into windows of S + 1 tokens (S = seq_len;
 * inputs = window[0..S), targets = window[1..S], weight of a target = its loss_mask bit):
 *  - packed (pad_per_doc = 0): the token stream is all documents in file order,
 *    concatenated as they are (pack_eos = 0) or each document (empty ones included)
 *    followed by one EOS token eos_id (pack_eos = 1).  An EOS belongs to the document it
 *    ends (its doc id) and is always counted in the loss (loss_mask 1): the model learns
 *    to end a document.  Stream length L = n_tokens (+ n_docs with EOS).  Window w is
 *    stream [w*S, w*S + S]; consecutive windows overlap by one token; n_windows =
 *    (L - 1) / S (the tail is never used).  Every stream token but the first is a target
 *    of exactly one window.
 *  - one document per window (pad_per_doc = 1): document d with n' tokens (its EOS
 *    included when pack_eos) gives ceil((n' - 1) / S) windows (none when n' < 2), in
 *    document order; its window j is the document's tokens [j*S, min(j*S + S, n' - 1)],
 *    the rest of the row is padding: input and target = pad id (eos_id with pack_eos,
 *    else 0), weight 0, doc id -1.  A window never holds two documents.
 * Document masking (doc_mask = 1): a target whose document differs from its input's
 * (the first token of the next document, or padding) gets weight 0, and positions
 * restart at 0 at each document's first token in a row (and at the row's start, since
 * a window may begin inside a document); without it positions are 0..S-1.  Positions
 * are always < S.  Give doc_ids and positions to the model (yt_model_set_docs) so that
 * attention stays inside documents.
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
 * {epoch + 1, 0}.  The windows depend on (pack_eos, eos_id, pad_per_doc, doc_mask, S):
 * a cursor is only meaningful with the same ones. */
typedef struct yt_ds_sampler yt_ds_sampler;

typedef struct yt_ds_sampler_opts {
    uint32_t seq_len;      /* S >= 1 */
    uint32_t micro_batch;  /* B: windows per rank per yt_ds_sampler_next */
    uint32_t global_batch; /* G: windows per optimizer step, all ranks; G % (W*B) == 0 */
    int rank, world;       /* 0 <= rank < world */
    uint64_t seed;
    int pack_eos;          /* 1: an EOS (eos_id) after every document */
    uint32_t eos_id;       /* < 2^31 */
    int pad_per_doc;       /* 1: one document per window, padded */
    int doc_mask;          /* 1: weights and positions for document masking */
} yt_ds_sampler_opts;

/* Row-major [B, S] outputs of one micro-batch; any member may be NULL. */
typedef struct yt_ds_batch {
    int32_t *inputs, *targets;
    float *weights;        /* 0 or 1, not normalised */
    int32_t *doc_ids;      /* document of each input (-1 = padding) */
    int32_t *positions;    /* RoPE position of each input */
} yt_ds_batch;

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
 * window[t+1] (0 or 1, not normalised; see doc_mask); doc_ids[b*S+t] = index of the document
 * holding window[t] (equal ids = same document: build a document mask from them).  Any output
 * except inputs may be NULL.  Allocates nothing. */
int yt_ds_sampler_next(yt_ds_sampler *s, int32_t *inputs, int32_t *targets, float *weights,
                       int32_t *doc_ids, yt_err *e);
/* The same with every output, positions included (see yt_ds_batch). */
int yt_ds_sampler_next_batch(yt_ds_sampler *s, const yt_ds_batch *out, yt_err *e);
/* Fills row `row` of out with window w (< n_windows), whatever the cursor; does not
 * advance (evaluation reads every window in order with it).  Allocates nothing. */
void yt_ds_sampler_window(const yt_ds_sampler *s, uint64_t w, uint32_t row, const yt_ds_batch *out);

/* Which window (index into the dataset's windows) the next call gives as row b (for
 * logs and tests); b < B. */
uint64_t yt_ds_sampler_peek_window(const yt_ds_sampler *s, uint32_t b);

yt_ds_cursor yt_ds_sampler_cursor(const yt_ds_sampler *s);
/* Needs position <= steps_per_epoch*G and position % G a multiple of B*W. */
int yt_ds_sampler_set_cursor(yt_ds_sampler *s, yt_ds_cursor c, yt_err *e);

uint64_t yt_ds_sampler_n_windows(const yt_ds_sampler *s);
uint64_t yt_ds_sampler_steps_per_epoch(const yt_ds_sampler *s);
uint32_t yt_ds_sampler_accum(const yt_ds_sampler *s); /* A = G / (W*B) */

/* ---- prep from text: text / instruction (Alpaca) / chat / pre-tokenised JSONL and
 * plain text files, tokenized here (datasets/prep_text.c, datasets/chat_template.c) ----
 *
 * Formats (YT_PREP_AUTO decides per file: a name not ending in .jsonl or .json is a
 * plain text file; otherwise the keys of the first non-blank record: input_ids -> ids,
 * messages -> chat, instruction -> alpaca, text -> text):
 *   text    {"text": S}: BOS (when the tokenizer's post-processor adds one) + S + EOS
 *           (when the tokenizer names one); every token counted.
 *   alpaca  {"instruction": I, "input": X (optional), "output": O}: BOS + the Stanford
 *           Alpaca prompt (with or without the input paragraph) not counted, then O and
 *           EOS counted.
 *   chat    {"messages": [{"role": R, "content": S, ...}, ...]} rendered by the chat
 *           template (see yt_chat_encode); no BOS/EOS added beyond what it writes.
 *   ids     {"input_ids": [...], "labels": [...] optional, -100 = not counted}.
 *   plain   a text file; one document per paragraph: a run of non-blank lines, joined
 *           with their line ends, the last line end dropped; then as "text".
 * --train-on-inputs counts every token.  Empty documents (text of white space only, an
 * alpaca record with an empty output, a chat without messages, no input_ids) are
 * skipped and counted.  Documents longer than max_doc_tokens are truncated to their
 * first max_doc_tokens tokens, or with split_long cut into pieces of at most
 * max_doc_tokens (each piece a document).  Validation split: document k (0-based over
 * all records of all inputs, skipped ones included) goes to the validation set when
 * yt_u01(yt_mix64(yt_mix64(seed) ^ k)) < val_fraction; all pieces of a split document
 * go together.  Inputs are read line by line (never whole). */
typedef enum yt_prep_format {
    YT_PREP_AUTO = 0, YT_PREP_IDS, YT_PREP_TEXT, YT_PREP_ALPACA, YT_PREP_CHAT, YT_PREP_PLAIN
} yt_prep_format;

/* One document being built: ids and their mask bits (mask[i] for ids.v[i]). */
typedef struct yt_ds_doc {
    yt_tok_ids ids;
    uint8_t *mask;
    size_t mask_cap;
} yt_ds_doc;

/* Appends the ids of TEXT (no special tokens added; added tokens in it are recognised)
 * with mask bit `counted`. */
int yt_ds_doc_push(yt_ds_doc *d, yt_tok *t, const char *text, size_t len, int counted,
                   yt_err *e);
int yt_ds_doc_push_id(yt_ds_doc *d, uint32_t id, int counted, yt_err *e);
/* Sets the mask of ids [from, ids.n) (growing the mask). */
int yt_ds_doc_mark(yt_ds_doc *d, size_t from, int counted, yt_err *e);
void yt_ds_doc_free(yt_ds_doc *d);

/* ---- chat templates (datasets/chat_template.c; the Jinja interpreter is
 * datasets/template) ----
 * A chat record's "messages" (the JSON objects as they are: role, content and any
 * other keys) is rendered by a Jinja chat template with the variables transformers'
 * apply_chat_template gives it: messages, add_generation_prompt, tools = none,
 * documents = none, and bos_token, eos_token, unk_token, sep_token, pad_token,
 * cls_token, mask_token, additional_special_tokens from tokenizer_config.json (then
 * special_tokens_map.json; a GGUF, or a folder without tokenizer_config.json: the
 * pieces of the tokenizer's BOS/EOS ids).  The text is tokenized whole, without
 * added special tokens, so the ids equal apply_chat_template(messages,
 * tokenize=True).  The loss mask: see datasets/chat_template.c (the {% generation %}
 * blocks when the template has them, else the assistant messages' content and each
 * turn's end token). */
typedef struct yt_chat yt_chat;
struct json_t;

/* WHICH: "auto" = the model's own template (MODEL/chat_template.jinja, else
 * MODEL/tokenizer_config.json "chat_template", a string or the template named
 * "default" of a list; a GGUF's tokenizer.chat_template); "chatml" or "llama3" =
 * built-in (Hugging Face's ChatML, Meta Llama 3 Instruct's); anything else = a Jinja
 * file.  MODEL: a model folder, a GGUF file, or a tokenizer file (its folder is read).
 * eos_id: the model's EOS (ends an assistant turn like a special token), -1 = none.
 * No template, or one that does not compile: an error naming the file (and
 * line:column) and --chat-template. */
int yt_chat_open(yt_chat **out, const char *which, const char *model, yt_tok *tok,
                 int64_t eos_id, yt_err *e);
void yt_chat_free(yt_chat *c);
/* Where the template came from ("DIR/tokenizer_config.json: chat_template"). */
const char *yt_chat_name(const yt_chat *c);
/* Renders MESSAGES (a JSON array of objects with a string "role") only. */
int yt_chat_render(yt_chat *c, struct json_t *messages, int add_generation_prompt, yt_err *e);
/* Renders, tokenizes and appends ids and mask bits to d (all counted with
 * train_on_inputs). */
int yt_chat_encode(yt_chat *c, struct json_t *messages, int add_generation_prompt,
                   int train_on_inputs, yt_ds_doc *d, yt_err *e);
/* The text of the last render (NUL-terminated; n may be NULL). */
const char *yt_chat_text(const yt_chat *c, size_t *n);

typedef struct yt_ds_prep_text_opts {
    yt_prep_format format;
    yt_tok *tok;                  /* NULL: only ids inputs are accepted */
    yt_chat *chat;                /* renders chat records; NULL: chat input is an error */
    const char *chat_error;       /* why there is no chat template (in that error) */
    int64_t eos_id;               /* <0 -> yt_tok_eos_id(tok) */
    int train_on_inputs;
    uint64_t max_doc_tokens;      /* 0 = no limit */
    int split_long;
    double val_fraction;          /* 0 = no validation set */
    uint64_t seed;
    uint64_t vocab_size;          /* recorded and checked; 0 -> tokenizer's */
    const char *tokenizer_fingerprint; /* NULL -> the tokenizer's, "none" without one */
    const char *source;           /* NULL -> "jsonl:<first input>" ("text:" for a plain file) */
    size_t chunk_elems;
    /* Called once with the first document written (its file and line, ids and mask bits
     * as stored), so that the user sees what will be trained on. */
    void (*example)(void *ctx, const char *file, uint64_t line, const uint32_t *ids,
                    const uint8_t *mask, size_t n);
    void *example_ctx;
    /* Called every few hundred lines and at the end (runner draws a progress bar). */
    void (*progress)(void *ctx, uint64_t bytes_done, uint64_t bytes_total);
    void *progress_ctx;
} yt_ds_prep_text_opts;

typedef struct yt_ds_prep_text_summary {
    uint64_t files, lines, bytes;
    uint64_t records;        /* documents read, skipped ones included */
    uint64_t chats;          /* of which chat records rendered by the template */
    uint64_t skipped_empty;
    uint64_t truncated;      /* documents cut to max_doc_tokens */
    uint64_t truncated_tokens; /* tokens dropped by truncation */
    uint64_t split;          /* documents split into pieces */
    uint64_t split_pieces;   /* pieces written for them */
    yt_ds_prep_summary out[2]; /* [0] = OUT, [1] = validation (documents, tokens, counted) */
    double seconds;
} yt_ds_prep_text_summary;

/* Writes OUT (and VAL_OUT when o->val_fraction > 0; VAL_OUT NULL -> yt_ds_val_path).
 * Errors read "FILE:LINE: what" (invalid UTF-8 also names the byte offset in the line
 * and in the file).  On error neither output is touched. */
int yt_ds_prep_text(const char *const *in, size_t n_in, const char *out, const char *val_out,
                    const yt_ds_prep_text_opts *o, yt_ds_prep_text_summary *s, yt_err *e);
/* data.h5 -> data.val.h5; a name not ending in .h5 gets ".val.h5" appended. */
int yt_ds_val_path(const char *out, char *buf, size_t cap, yt_err *e);

#endif
