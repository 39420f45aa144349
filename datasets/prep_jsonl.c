/* prep from pre-tokenised JSONL: one JSON object per line with "input_ids" and optional
 * "labels" (-100 = not counted).  Streams line by line into the dataset writer. */
#define _POSIX_C_SOURCE 200809L
#include "datasets/datasets.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct docbuf {
    uint32_t *ids;
    uint8_t *mask;
    size_t cap;
} docbuf;

static int grow(docbuf *b, size_t n, const char *in, unsigned long long line, yt_err *e)
{
    if (n <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < n)
        cap *= 2;
    uint32_t *ids = yt_realloc_array(b->ids, cap, sizeof *ids, "a record's token ids", e);
    if (ids)
        b->ids = ids;
    uint8_t *mask = ids ? yt_realloc(b->mask, cap, "a record's loss mask", e) : NULL;
    if (mask)
        b->mask = mask;
    if (!ids || !mask)
        return yt_err_prefix(e, "%s:%llu", in, line);
    b->cap = cap;
    return 0;
}

/* Parses one JSON object into b (n tokens).  Messages read "IN:LINE: what". */
static int parse_doc(json_t *root, const char *in, unsigned long long line, uint64_t vocab,
                     docbuf *b, size_t *n_out, yt_err *e)
{
    if (!json_is_object(root))
        return yt_errf(e, "%s:%llu: expected a JSON object", in, line);
    json_t *ids = json_object_get(root, "input_ids");
    if (!ids)
        return yt_errf(e, "%s:%llu: missing \"input_ids\"", in, line);
    if (!json_is_array(ids))
        return yt_errf(e, "%s:%llu: \"input_ids\" is not an array", in, line);
    size_t n = json_array_size(ids);
    json_t *labels = json_object_get(root, "labels");
    if (json_is_null(labels))
        labels = NULL;
    if (labels && !json_is_array(labels))
        return yt_errf(e, "%s:%llu: \"labels\" is not an array", in, line);
    if (labels && json_array_size(labels) != n)
        return yt_errf(e, "%s:%llu: \"labels\" has %zu entries but \"input_ids\" has %zu", in,
                       line, json_array_size(labels), n);
    if (grow(b, n, in, line, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(ids, i);
        if (!json_is_integer(v))
            return yt_errf(e, "%s:%llu: input_ids[%zu] is not an integer", in, line, i);
        json_int_t x = json_integer_value(v);
        if (x < 0)
            return yt_errf(e, "%s:%llu: input_ids[%zu] = %lld is negative", in, line, i,
                           (long long)x);
        if ((unsigned long long)x > UINT32_MAX)
            return yt_errf(e, "%s:%llu: input_ids[%zu] = %lld does not fit in 32 bits", in,
                           line, i, (long long)x);
        if (vocab && (uint64_t)x >= vocab)
            return yt_errf(e, "%s:%llu: input_ids[%zu] = %lld >= vocab_size %llu", in, line, i,
                           (long long)x, (unsigned long long)vocab);
        b->ids[i] = (uint32_t)x;
        if (labels) {
            json_t *l = json_array_get(labels, i);
            if (!json_is_integer(l))
                return yt_errf(e, "%s:%llu: labels[%zu] is not an integer", in, line, i);
            b->mask[i] = json_integer_value(l) != -100;
        } else {
            b->mask[i] = 1;
        }
    }
    *n_out = n;
    return 0;
}

int yt_ds_prep_jsonl(const char *in, const char *out, const yt_ds_prep_opts *o,
                     yt_ds_prep_summary *s, yt_err *e)
{
    yt_ds_prep_opts def = {0};
    yt_ds_prep_summary local;
    if (!o)
        o = &def;
    if (!s)
        s = &local;
    memset(s, 0, sizeof *s);

    FILE *f = fopen(in, "r");
    if (!f)
        return yt_errno(e, errno, "%s: cannot open", in);
    char *src = NULL;
    if (!o->source) {
        size_t n = strlen(in) + 8;
        src = yt_malloc(n, "the source name", e);
        if (!src) {
            fclose(f);
            return yt_err_prefix(e, "%s", in);
        }
        snprintf(src, n, "jsonl:%s", in);
    }
    yt_ds_writer_opts wo = {
        .tokenizer_fingerprint = o->tokenizer_fingerprint,
        .vocab_size = o->vocab_size,
        .source = o->source ? o->source : src,
        .chunk_elems = o->chunk_elems,
    };
    yt_ds_writer *w = NULL;
    if (yt_ds_writer_open(&w, out, &wo, e) != 0) {
        free(src);
        fclose(f);
        return -1;
    }
    free(src);

    docbuf b = {0};
    char *line = NULL;
    size_t cap = 0;
    long long len;
    int rc = 0;
    while ((len = yt_getline_max(&line, &cap, YT_TEXT_LINE_MAX, f)) > 0) {
        unsigned long long ln = ++s->lines;
        if (yt_line_is_blank(line, (size_t)len))
            continue;
        json_error_t jerr;
        json_t *root = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
            if (jerr.column > 0)
                rc = yt_errf(e, "%s:%llu: invalid JSON: %s (column %d)", in, ln, jerr.text,
                             jerr.column);
            else
                rc = yt_errf(e, "%s:%llu: invalid JSON: %s", in, ln, jerr.text);
            break;
        }
        size_t n = 0;
        rc = parse_doc(root, in, ln, o->vocab_size, &b, &n, e);
        json_decref(root);
        if (rc != 0)
            break;
        if (n == 0) {
            s->skipped_empty++;
            continue;
        }
        if ((rc = yt_ds_writer_add_doc(w, b.ids, b.mask, n, e)) != 0) {
            yt_err_prefix(e, "%s:%llu", in, ln);
            break;
        }
        s->documents++;
        s->tokens += n;
        for (size_t i = 0; i < n; i++)
            s->counted += b.mask[i];
    }
    if (rc == 0 && len == -2)
        rc = yt_errf(e, "%s:%llu: a line longer than %zu MiB (not JSONL?)", in,
                     (unsigned long long)s->lines + 1, YT_TEXT_LINE_MAX >> 20);
    if (rc == 0 && (len == -1 || ferror(f)))
        rc = yt_errno(e, errno, "%s: read failed after line %llu", in,
                      (unsigned long long)s->lines);
    if (rc == 0 && s->tokens == 0)
        rc = yt_errf(e, "%s: no tokens in %llu lines (%llu empty documents)", in,
                     (unsigned long long)s->lines, (unsigned long long)s->skipped_empty);
    free(line);
    free(b.ids);
    free(b.mask);
    fclose(f);
    if (rc != 0) {
        yt_ds_writer_abort(w);
        return -1;
    }
    return yt_ds_writer_close(w, e);
}
