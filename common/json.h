/* common/json: loading JSON files as other tools write them (transformers, PEFT,
 * llama.cpp converters), with jansson.
 *
 * What is accepted beyond strict jansson: a UTF-8 byte-order mark; integers beyond
 * 64 bits (transformers writes model_max_length = int(1e30) as
 * 1000000000000000019884624838656), which become reals (the nearest double);
 * Python's NaN, Infinity and -Infinity outside strings, which become null.  Every
 * other integer stays an integer.  Errors name the file, line and column of the
 * original text ("PATH:LINE:COL: what"); files above max_bytes are refused before
 * they are read. */
#ifndef YT_COMMON_JSON_H
#define YT_COMMON_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "common/common.h"

/* Default bound on a configuration file (tokenizer_config.json with a few hundred
 * thousand added tokens stays far below it). */
#define YT_JSON_MAX_BYTES ((size_t)256 << 20)

/* Reads and parses PATH (at most max_bytes, 0 = YT_JSON_MAX_BYTES).  NULL with a
 * message in e on failure; json_decref the result. */
json_t *yt_json_load_file(const char *path, size_t max_bytes, yt_err *e);
/* The same for text in memory; NAME stands for the file in messages. */
json_t *yt_json_loadb(const char *text, size_t len, const char *name, yt_err *e);
/* PATH exists and can be opened for reading (so an absent optional file is not an
 * error but an unreadable one is). */
int yt_json_file_exists(const char *path);

#endif
