/* datasets/tokenizer/: the text tokenizer of Llama-family models, token-exact with
 * Hugging Face `tokenizers` (0.20) for the files it accepts.
 *
 * Sources: a Hugging Face tokenizer.json (or a model folder holding one), or the
 * metadata of a GGUF file (tokenizer.ggml.model "gpt2" = byte-level BPE, "llama" =
 * SentencePiece BPE with byte fallback; tokenizer.ggml.pre names the pre-tokenizer).
 * yt_tok_load picks by content (GGUF magic) or by a folder.  Every input is opened and
 * read once, front to back, so a FIFO or a pipe works; a tokenizer.json (or the
 * metadata of a GGUF stream) over 1 GiB is refused, naming the file.
 *
 * Supported tokenizer.json parts (anything else is refused at load, naming the key):
 *   model         BPE (vocab, merges as "a b" strings or [a, b] pairs, unk_token,
 *                 fuse_unk, byte_fallback, ignore_merges; no dropout, no subword
 *                 prefix/suffix)
 *   normalizer    null, Sequence, Prepend, Replace (String or Regex), NFC (utf8proc,
 *                 as Qwen2 uses); other normalizers are refused at load
 *   pre_tokenizer null, Sequence, Split (String or Regex, all five behaviours,
 *                 invert), ByteLevel (add_prefix_space, use_regex = GPT-2 regex),
 *                 Digits, Metaspace (prepend_scheme first/always/never, split)
 *   post_processor null, Sequence, TemplateProcessing (single), ByteLevel (no-op on
 *                 ids), RobertaProcessing, BertProcessing
 *   decoder       null, Sequence, ByteLevel, Replace (String), ByteFallback, Fuse,
 *                 Strip, Metaspace
 *   added_tokens  split first, leftmost-longest, with lstrip/rstrip/single_word and
 *                 normalized (matched on the raw or on the normalized text) as HF.
 * Regular expressions run in PCRE2 (UTF, UCP, JIT when available); \s and \S are
 * rewritten to Unicode White_Space as Oniguruma (HF's engine) reads them.
 *
 * Input text must be valid UTF-8 (HF's Python API cannot even hold anything else):
 * encode refuses other bytes with a message naming the byte offset.  Decoding is
 * lossy exactly where HF's is (ByteFallback: one U+FFFD per byte of an invalid run;
 * ByteLevel: maximal-subpart U+FFFD as Rust's from_utf8_lossy), and refuses an id
 * outside the vocabulary (HF silently drops it).
 *
 * Contract: 0 / -1 with a message in yt_err naming the file and key (load), the byte
 * offset (encode) or the id (decode); nothing prints; an allocation that fails is an
 * error naming what was being allocated, never skipped.  A yt_tok keeps a cache of
 * pre-token -> ids and scratch buffers: use one yt_tok per thread.
 *
 * Inside, in layers (a file uses only the files listed before it; no loops):
 *   base      maps.c (hash maps; fingerprint field hashing), buffers.c (id, text and
 *             piece buffers, the arena, scratch), utf8.c (UTF-8, GPT-2's byte
 *             alphabet), trie.c, input.c (a file read once, bounded), cache.c
 *   patterns  pattern.c (PCRE2 regexes read as Oniguruma does; match segments)
 *   parts     vocab.c (id <-> piece), bpe.c (the BPE model and its merging),
 *             normalizer.c, pretokenizer.c, decoder.c (the pipeline's steps),
 *             added.c (added tokens: kept, indexed, found in text)
 *   whole     yt_tok.h (struct yt_tok: the parts together), fingerprint.c,
 *             encode.c, decode.c
 *   loaders   load_json.c (tokenizer.json); load_gguf.c (tokenizer.ggml.* keys,
 *             read with model/gguf.h's parser: yt_gg_read_meta, metadata alone)
 *   face      load.c (read once and dispatch, finish, free, queries) */
#ifndef YT_TOKENIZER_H
#define YT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

typedef struct yt_tok yt_tok;

/* A growable id array (free v with free()). */
typedef struct yt_tok_ids {
    uint32_t *v;
    size_t n, cap;
} yt_tok_ids;

/* A growable byte string, NUL-terminated after n bytes (free s with free()). */
typedef struct yt_tok_text {
    char *s;
    size_t n, cap;
} yt_tok_text;

/* PATH: a tokenizer.json, a GGUF file (by its magic or a .gguf name), or a folder
 * with tokenizer.json; a FIFO or a pipe holding either works too. */
int yt_tok_load(yt_tok **out, const char *path, yt_err *e);
int yt_tok_load_json(yt_tok **out, const char *path, yt_err *e);
/* JSON text already in memory; NAME is used in messages. */
int yt_tok_load_json_text(yt_tok **out, const char *text, size_t len, const char *name,
                          yt_err *e);
int yt_tok_load_gguf(yt_tok **out, const char *path, yt_err *e);
void yt_tok_free(yt_tok *t);

/* Appends the ids of TEXT (len bytes, any bytes incl. NUL; must be UTF-8) to OUT.
 * add_special: add what the post-processor adds (BOS, and EOS where it says so; for
 * GGUF: tokenizer.ggml.add_bos_token (default true for "llama", false for "gpt2") and
 * add_eos_token (default false)).  On error OUT keeps what it had before the call. */
int yt_tok_encode(yt_tok *t, const char *text, size_t len, int add_special, yt_tok_ids *out,
                  yt_err *e);
/* Appends the text of N ids to OUT, as HF's decode(ids, skip_special_tokens). */
int yt_tok_decode(yt_tok *t, const uint32_t *ids, size_t n, int skip_special, yt_tok_text *out,
                  yt_err *e);

/* Largest id + 1 over the model vocabulary and the added tokens. */
uint32_t yt_tok_vocab_size(const yt_tok *t);
/* BOS / EOS ids the file names (post-processor or GGUF keys); -1 when none. */
int64_t yt_tok_bos_id(const yt_tok *t);
int64_t yt_tok_eos_id(const yt_tok *t);
/* Token string as stored in the file ("Ġhello", "▁hello", "<s>"), NULL when unused. */
const char *yt_tok_piece(const yt_tok *t, uint32_t id);
/* 1 when id is a special token (an added token marked special; GGUF: CONTROL or
 * UNKNOWN type), the tokens decode(skip_special) leaves out. */
int yt_tok_is_special(const yt_tok *t, uint32_t id);
/* Id of an exact token string (vocabulary or added token); -1 when absent. */
int64_t yt_tok_piece_id(const yt_tok *t, const char *piece);
/* "tokenizer.json" or "gguf". */
const char *yt_tok_source_kind(const yt_tok *t);

/* 64-bit fingerprint of everything that decides the ids: model kind, vocabulary
 * (id -> bytes), merge ranks, added tokens and their flags, normalizer,
 * pre-tokenizer and post-processor configuration (the decoder is included too).
 * Formatting as 16 lowercase hex digits gives the dataset's tokenizer_fingerprint. */
uint64_t yt_tok_fingerprint(const yt_tok *t);
void yt_tok_fingerprint_hex(const yt_tok *t, char buf[17]);

/* Small buffer helpers. */
int yt_tok_ids_push(yt_tok_ids *a, uint32_t id, yt_err *e);
int yt_tok_text_append(yt_tok_text *s, const void *p, size_t n, yt_err *e);
/* Checks UTF-8 (no overlongs, no surrogates, <= U+10FFFF); returns the offset of the
 * first bad byte, or len when valid. */
size_t yt_tok_utf8_check(const char *s, size_t len);

#endif
