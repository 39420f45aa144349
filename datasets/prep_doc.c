/* One document being built by prep: ids and their loss-mask bits. */
#include "datasets/datasets.h"

#include <stdlib.h>
#include <string.h>

int yt_ds_doc_push(yt_ds_doc *d, yt_tok *t, const char *text, size_t len, int counted,
                   yt_err *e)
{
    size_t before = d->ids.n;
    if (len && yt_tok_encode(t, text, len, 0, &d->ids, e) != 0)
        return -1;
    return yt_ds_doc_mark(d, before, counted, e);
}

int yt_ds_doc_mark(yt_ds_doc *d, size_t from, int counted, yt_err *e)
{
    if (d->ids.n > d->mask_cap) {
        size_t cap = d->mask_cap ? d->mask_cap : 1024;
        while (cap < d->ids.n)
            cap *= 2;
        uint8_t *m = yt_realloc(d->mask, cap, "a document's loss mask", e);
        if (!m)
            return -1;
        d->mask = m;
        d->mask_cap = cap;
    }
    if (d->ids.n > from)
        memset(d->mask + from, counted ? 1 : 0, d->ids.n - from);
    return 0;
}

int yt_ds_doc_push_id(yt_ds_doc *d, uint32_t id, int counted, yt_err *e)
{
    size_t before = d->ids.n;
    if (yt_tok_ids_push(&d->ids, id, e) != 0)
        return -1;
    return yt_ds_doc_mark(d, before, counted, e);
}

void yt_ds_doc_free(yt_ds_doc *d)
{
    free(d->ids.v);
    free(d->mask);
    memset(d, 0, sizeof *d);
}
