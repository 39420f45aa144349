/* tests/fuzz: what the fuzz targets share.  A target (fuzz_NAME.c) is one
 * LLVMFuzzerTestOneInput that hands the bytes to one parser of outside input,
 * the way yieldtune reads such a file, and frees everything it made.  It links
 * with libFuzzer in a --enable-fuzzers build (tests/fuzz/fuzz_NAME) and with
 * replay.c in every build (tests/fuzz/replay_NAME, run by make check on the
 * seeds and the regressions).
 *
 * Parsers that read a path get the bytes as a file in a scratch folder of this
 * process inside $YT_FUZZ_TMP, else on tmpfs (/dev/shm when it exists, else
 * $TMPDIR or /tmp), made on first use and removed at exit. */
#ifndef YT_FUZZ_UTIL_H
#define YT_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The scratch folder (aborts when it cannot be made: nothing to fuzz then). */
const char *fuzz_dir(void);
/* fuzz_dir()/NAME into buf. */
void fuzz_path(char *buf, size_t cap, const char *name);
/* Writes N bytes to fuzz_dir()/NAME (replacing it); the path goes to buf.
 * Aborts on a write error (the scratch space is ours, not the input's). */
void fuzz_write(const char *name, const void *data, size_t n, char *buf, size_t cap);
/* Inputs of sealed files (snapshots, token datasets): the first byte is a mode.
 * FUZZ_RAW_MODE: the rest is written as it is, so that the header check (magic,
 * version, size, whole-file checksum) is fuzzed.  Anything else: the rest is
 * sealed first with KIND's valid header (common/'s yt_seal_image), as an
 * adversary who forges the checksum would, so that the reader behind the check
 * is fuzzed: random changes almost never keep the checksum right.  Writes it
 * to fuzz_dir()/NAME (path into buf); 0 for an empty input (nothing written). */
#define FUZZ_RAW_MODE 'R'
int fuzz_write_sealed(const char *name, const uint8_t *data, size_t size,
                      const yt_seal_kind *kind, char *buf, size_t cap);
/* Removes fuzz_dir()/NAME, a file or a folder tree ("" = everything inside). */
void fuzz_remove(const char *name);

/* What became of an input, for the replay log: fuzz_note prints "  WHAT: the
 * message" when fuzz_verbose is set (replay.c sets it; libFuzzer runs stay
 * quiet). */
extern int fuzz_verbose;
void fuzz_note(const char *what, const yt_err *e);

/* HDF5 objects open in this process (files, groups, datasets, attributes,
 * committed datatypes).  The targets that read HDF5 call fuzz_h5_check(before)
 * after closing everything: a difference is an object our code left open
 * (abort).  The leaks HDF5 1.10 has on its own error paths are not ours to fix:
 * run.sh gives LSan tests/fuzz/lsan_hdf5.supp, which leaves HDF5's allocations out. */
long fuzz_h5_ids(void);
void fuzz_h5_check(long before, const char *what);

/* Inputs made of several files: parts separated by FUZZ_SEP.  Fills at most max
 * parts, returns how many there were (the last one runs to the end). */
#define FUZZ_SEP "\n=====yt-fuzz-part=====\n"
size_t fuzz_split(const uint8_t *data, size_t size, const uint8_t **part, size_t *len,
                  size_t max);

/* A small byte-level BPE tokenizer (the 256 GPT-2 byte symbols, a few merges, and
 * the special tokens of ChatML, Llama 3 and <s> </s>), made once; BOS <s> is added
 * by its post-processor.  Never NULL. */
yt_tok *fuzz_tokenizer(void);
/* The id of a special token of fuzz_tokenizer(). */
uint32_t fuzz_token_id(const char *piece);

/* Text to encode with a tokenizer under test: fixed strings plus the input. */
extern const char *const fuzz_texts[];

#endif
