/* The option table machinery (see options.h). */
#define _POSIX_C_SOURCE 200809L
#include "runner/options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* "max_steps" and "max-steps" name the same option. */
static int same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

static const yt_opt *find(const yt_opt *t, const char *name)
{
    for (; t->name; t++)
        if (same_name(t->name, name))
            return t;
    return NULL;
}

static int parse_bool(const char *v, int *out)
{
    const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(v, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* The position of v in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *v)
{
    size_t n = strlen(v);
    int i = 0;
    for (const char *c = choices; c && *c; i++) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, v, n) == 0)
            return i;
        c = bar ? bar + 1 : NULL;
    }
    return -1;
}

const char *yt_opt_choice_name(const yt_opt *o, int idx, char *buf, size_t cap)
{
    const char *c = o->choices;
    for (int i = 0; c && *c; i++) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (i == idx) {
            snprintf(buf, cap, "%.*s", (int)len, c);
            return buf;
        }
        c = bar ? bar + 1 : NULL;
    }
    snprintf(buf, cap, "?");
    return buf;
}

static int check_range(const yt_opt *o, double x, const char *where, const char *v, yt_err *e)
{
    if (o->min < o->max && (x < o->min || x > o->max))
        return yt_errf(e, "%s: value '%s' out of range [%.15g, %.15g]", where, v, o->min, o->max);
    return 0;
}

int yt_opts_set(const yt_opt *table, void *dst, const char *name, const char *v, const char *where,
                yt_err *e)
{
    const yt_opt *o = find(table, name);
    if (!o)
        return yt_errf(e, "%s: unknown option '%s' (see --help)", where, name);
    char *p = (char *)dst + o->offset;
    char *end = NULL;
    errno = 0;
    switch (o->type) {
    case YT_OPT_INT:
    case YT_OPT_LONG: {
        long long x = strtoll(v, &end, 10);
        if (end == v || *end || errno)
            return yt_errf(e, "%s: '%s' is not an integer", where, v);
        if (check_range(o, (double)x, where, v, e))
            return -1;
        if (o->type == YT_OPT_INT) {
            if (x < -2147483647LL || x > 2147483647LL)
                return yt_errf(e, "%s: value '%s' out of range", where, v);
            *(int *)p = (int)x;
        } else {
            *(long *)p = (long)x;
        }
        return 0;
    }
    case YT_OPT_FLOAT: {
        double x = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(x))
            return yt_errf(e, "%s: '%s' is not a number", where, v);
        if (check_range(o, x, where, v, e))
            return -1;
        *(float *)p = (float)x;
        return 0;
    }
    case YT_OPT_BOOL: {
        int b;
        if (parse_bool(v, &b))
            return yt_errf(e, "%s: '%s' is not true or false", where, v);
        *(int *)p = b;
        return 0;
    }
    case YT_OPT_CHOICE: {
        int idx = choice_index(o->choices, v);
        if (idx < 0)
            return yt_errf(e, "%s: '%s' is not one of %s", where, v, o->choices);
        *(int *)p = idx;
        return 0;
    }
    case YT_OPT_STR:
        if (strlen(v) >= o->size)
            return yt_errf(e, "%s: value too long (at most %zu characters)", where, o->size - 1);
        strcpy(p, v);
        return 0;
    }
    return yt_errf(e, "%s: bad option table entry", where);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* A config file is a few dozen short lines: anything much larger (say
 * --config /dev/zero) is refused before it fills memory. */
#define CONFIG_LINE_MAX 8192
#define CONFIG_FILE_MAX (1 << 20)

static int parse_file(const yt_opt *table, void *dst, const char *path, yt_err *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return yt_errno(e, errno, "--config %s", path);
    char *line = NULL;
    size_t cap = 0;
    long long len, total = 0;
    int lineno = 0, rc = 0;
    while ((len = yt_getline_max(&line, &cap, CONFIG_LINE_MAX, f)) > 0) {
        lineno++;
        total += len;
        if (strlen(line) != (size_t)len) {
            rc = yt_errf(e, "%s:%d: a NUL byte: not a config file", path, lineno);
            break;
        }
        if (total > CONFIG_FILE_MAX) {
            rc = yt_errf(e, "%s: larger than %d bytes: not a config file", path, CONFIG_FILE_MAX);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char where[512];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = yt_errf(e, "%s: expected 'key = value'", where);
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = '\0';
            val++;
        }
        const yt_opt *o = find(table, key);
        if (o && (o->flags & YT_OPT_CONFIG)) {
            rc = yt_errf(e, "%s: a config file cannot name another config file", where);
            break;
        }
        if ((rc = yt_opts_set(table, dst, key, val, where, e)) != 0)
            break;
    }
    if (rc == 0 && len == -2)
        rc = yt_errf(e, "%s:%d: line longer than %d bytes: not a config file", path, lineno + 1,
                     CONFIG_LINE_MAX);
    if (rc == 0 && (len == -1 || ferror(f)))
        rc = yt_errno(e, errno, "--config %s", path);
    free(line);
    fclose(f);
    return rc;
}

int yt_opts_parse(const yt_opt *table, void *dst, int argc, char **argv, int first,
                  const char **positional, int max_pos, int *n_pos, yt_err *e)
{
    *n_pos = 0;
    for (const yt_opt *o = table; o->name; o++) {
        if (o->type == YT_OPT_STR)
            ((char *)dst)[o->offset] = '\0';
        else if (o->type == YT_OPT_CHOICE)
            *(int *)((char *)dst + o->offset) = -1;
        if (o->def && yt_opts_set(table, dst, o->name, o->def, "default", e))
            return -1;
    }
    /* Pass 1: --help and the config file, so that argv overrides the file. */
    const yt_opt *cfg = NULL;
    for (const yt_opt *o = table; o->name; o++)
        if (o->flags & YT_OPT_CONFIG)
            cfg = o;
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
        if (cfg && strncmp(argv[i], "--", 2) == 0) {
            const char *a = argv[i] + 2, *eq = strchr(a, '=');
            size_t n = eq ? (size_t)(eq - a) : strlen(a);
            if (n == strlen(cfg->name) && strncmp(a, cfg->name, n) == 0) {
                const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
                if (!v)
                    return yt_errf(e, "--%s needs a value", cfg->name);
                if (yt_opts_set(table, dst, cfg->name, v, "--config", e) ||
                    parse_file(table, dst, v, e))
                    return -1;
            }
        }
    }
    /* Pass 2: the command line. */
    int only_pos = 0;
    char listed[256] = {0}; /* LIST options already given on the command line */
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (!only_pos && strcmp(a, "--") == 0) {
                only_pos = 1;
                continue;
            }
            if (*n_pos >= max_pos)
                return yt_errf(e, "unexpected argument '%s' (see --help)", a);
            positional[(*n_pos)++] = a;
            continue;
        }
        char name[128];
        const char *eq = strchr(a + 2, '='), *v = NULL;
        size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (n >= sizeof name)
            return yt_errf(e, "%s: unknown option", a);
        memcpy(name, a + 2, n);
        name[n] = '\0';
        const yt_opt *o = find(table, name);
        if (!o)
            return yt_errf(e, "unknown option '--%s' (see --help)", name);
        char where[160];
        snprintf(where, sizeof where, "--%s", o->name);
        if (eq) {
            v = eq + 1;
        } else if (o->type == YT_OPT_BOOL) {
            v = (i + 1 < argc && (strcmp(argv[i + 1], "true") == 0 || strcmp(argv[i + 1], "false") == 0))
                    ? argv[++i]
                    : "true";
        } else {
            if (i + 1 >= argc)
                return yt_errf(e, "%s needs a value", where);
            v = argv[++i];
        }
        if (o->flags & YT_OPT_CONFIG)
            continue;
        size_t k = (size_t)(o - table);
        if ((o->flags & YT_OPT_LIST) && o->type == YT_OPT_STR && k < sizeof listed && listed[k]) {
            char *cur = (char *)dst + o->offset;
            size_t n = strlen(cur);
            if (n + 1 + strlen(v) >= o->size)
                return yt_errf(e, "%s: values too long together (at most %zu characters)", where,
                               o->size - 1);
            cur[n] = ',';
            strcpy(cur + n + 1, v);
            continue;
        }
        if (k < sizeof listed)
            listed[k] = 1;
        if (yt_opts_set(table, dst, name, v, where, e))
            return -1;
    }
    for (const yt_opt *o = table; o->name; o++)
        if ((o->flags & YT_OPT_REQUIRED) &&
            ((o->type == YT_OPT_STR && ((char *)dst)[o->offset] == '\0') ||
             (o->type == YT_OPT_CHOICE && *(int *)((char *)dst + o->offset) < 0)))
            return yt_errf(e, "--%s is required (see --help)", o->name);
    return 0;
}

json_t *yt_opts_to_json(const yt_opt *table, const void *src)
{
    json_t *r = json_object();
    for (const yt_opt *o = table; o->name; o++) {
        if (o->flags & (YT_OPT_NOSAVE | YT_OPT_CONFIG))
            continue;
        const char *p = (const char *)src + o->offset;
        json_t *v = NULL;
        switch (o->type) {
        case YT_OPT_INT: v = json_integer(*(const int *)p); break;
        case YT_OPT_LONG: v = json_integer(*(const long *)p); break;
        case YT_OPT_FLOAT: v = json_real(*(const float *)p); break;
        case YT_OPT_BOOL: v = json_boolean(*(const int *)p); break;
        case YT_OPT_STR: v = json_string(p); break;
        case YT_OPT_CHOICE: {
            char name[64];
            v = json_string(yt_opt_choice_name(o, *(const int *)p, name, sizeof name));
            break;
        }
        }
        char key[128];
        snprintf(key, sizeof key, "%s", o->name);
        for (char *k = key; *k; k++)
            if (*k == '-')
                *k = '_';
        json_object_set_new(r, key, v);
    }
    return r;
}

void yt_opts_help(FILE *f, const char *usage, const char *about, const yt_opt *table)
{
    fprintf(f, "usage: %s\n\n%s\n\noptions:\n", usage, about);
    for (const yt_opt *o = table; o->name; o++) {
        char head[96];
        const char *mv = o->metavar ? o->metavar
                         : o->type == YT_OPT_INT || o->type == YT_OPT_LONG ? "N"
                         : o->type == YT_OPT_FLOAT ? "X"
                         : o->type == YT_OPT_CHOICE ? o->choices
                         : o->type == YT_OPT_BOOL ? NULL : "S";
        if (mv)
            snprintf(head, sizeof head, "--%s %s", o->name, mv);
        else
            snprintf(head, sizeof head, "--%s", o->name);
        fprintf(f, "  %-28s %s", head, o->help);
        if (o->flags & YT_OPT_REQUIRED)
            fprintf(f, " (required)");
        else if (o->def && o->type != YT_OPT_BOOL)
            fprintf(f, " (default %s)", o->def);
        fputc('\n', f);
    }
    fprintf(f, "  %-28s %s\n", "--help", "show this help");
}

int yt_cmd_options(const yt_cmd_spec *cmd, void *dst, int argc, char **argv,
                   const char **positional, int *n_pos)
{
    yt_err e = {{0}};
    int rc = yt_opts_parse(cmd->table, dst, argc, argv, 2, positional, cmd->max_pos, n_pos, &e);
    if (rc == 1) {
        yt_opts_help(stdout, cmd->usage, cmd->about, cmd->table);
        return 0;
    }
    if (rc == 0 && *n_pos < cmd->min_pos)
        rc = yt_errf(&e, "give %s (see --help)", cmd->pos_what ? cmd->pos_what : "the arguments");
    if (rc) {
        fprintf(stderr, "yieldtune: %s: %s\n", cmd->name, e.msg);
        return 2;
    }
    return -1;
}
