/* runner/options: one table per subcommand describes every option once; the same
 * table parses argv (--name value, --name=value), config files (key = value),
 * fills defaults, checks ranges, prints --help and writes the resolved values as
 * JSON.  Precedence: defaults < --config file < command line. */
#ifndef YT_OPTIONS_H
#define YT_OPTIONS_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "common/common.h"

typedef enum { YT_OPT_INT, YT_OPT_LONG, YT_OPT_FLOAT, YT_OPT_STR, YT_OPT_BOOL, YT_OPT_CHOICE } yt_opt_type;

enum {
    YT_OPT_REQUIRED = 1,   /* must be given (argv or config file) */
    YT_OPT_CONFIG = 2,     /* this option names the config file */
    YT_OPT_NOSAVE = 4,     /* not written into the resolved config */
    YT_OPT_LIST = 8,       /* STR: given again on the command line, the values are joined
                            * with ',' (a config file's value is replaced, not joined) */
};

/* INT, BOOL and CHOICE fill an int (CHOICE: the index of the value in
 * `choices`, so the caller compares enums, not strings); LONG a long, FLOAT a
 * float, STR a char buffer of `size` bytes. */
typedef struct yt_opt {
    const char *name;      /* without dashes: "max-steps" (config files may write max_steps) */
    yt_opt_type type;
    size_t offset;         /* into the options struct */
    size_t size;           /* buffer size for STR */
    const char *def;       /* default as text; NULL = empty / unset */
    double min, max;       /* numeric range (inclusive) when min < max */
    const char *choices;   /* "cosine|constant" for CHOICE */
    int flags;
    const char *metavar;
    const char *help;
} yt_opt;

#define YT_OPT_END {NULL, 0, 0, 0, NULL, 0, 0, NULL, 0, NULL, NULL}

/* Parses argv[first..argc) into dst.  Non-option words go to positional[]
 * (up to max_pos; more is an error).  Returns 1 when --help was asked, 0 on
 * success, -1 on error (message names the flag or the file and line). */
int yt_opts_parse(const yt_opt *table, void *dst, int argc, char **argv, int first,
                  const char **positional, int max_pos, int *n_pos, yt_err *e);
/* Sets one option from text; `where` is "--name" or "FILE:LINE" for messages. */
int yt_opts_set(const yt_opt *table, void *dst, const char *name, const char *value,
                const char *where, yt_err *e);
json_t *yt_opts_to_json(const yt_opt *table, const void *src);
/* The name of a CHOICE option's value idx, in buf. */
const char *yt_opt_choice_name(const yt_opt *o, int idx, char *buf, size_t cap);
/* A subcommand's command line: its option table and positional arguments. */
typedef struct yt_cmd_spec {
    const char *name;      /* "export" */
    const char *usage;     /* "yieldtune export RUN_OR_SNAPSHOT --out DIR" */
    const char *about;     /* a paragraph for --help */
    const yt_opt *table;
    int min_pos, max_pos;  /* positional arguments accepted */
    const char *pos_what;  /* what they are, for the usage error: "one RUN folder" */
} yt_cmd_spec;

/* The start of every subcommand: parses argv[2..] into dst and the
 * positional arguments into positional[] (room for max_pos).  On --help prints
 * the usage and returns 0 (exit OK); on a bad command line prints
 * "yieldtune: CMD: why" and returns 2 (exit USAGE); returns -1 to go on. */
int yt_cmd_options(const yt_cmd_spec *cmd, void *dst, int argc, char **argv,
                   const char **positional, int *n_pos);
void yt_opts_help(FILE *f, const char *usage, const char *about, const yt_opt *table);

#endif
