/* Growable buffers: the public id and text buffers, pre-token pieces, pattern
 * segments, the scratch arena (see buffers.h). */
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer/buffers.h"

int yt_tok_ids_push(yt_tok_ids *a, uint32_t id, yt_err *e)
{
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 256;
        uint32_t *v = yt_realloc_array(a->v, nc, sizeof *v, "the token ids", e);
        if (!v)
            return -1;
        a->v = v;
        a->cap = nc;
    }
    a->v[a->n++] = id;
    return 0;
}

int yt_tok_text_append(yt_tok_text *s, const void *p, size_t n, yt_err *e)
{
    if (s->n + n + 1 > s->cap) {
        size_t nc = s->cap ? s->cap : 256;
        while (nc < s->n + n + 1)
            nc *= 2;
        char *v = yt_realloc(s->s, nc, "the text", e);
        if (!v)
            return -1;
        s->s = v;
        s->cap = nc;
    }
    if (n)
        memcpy(s->s + s->n, p, n);
    s->n += n;
    s->s[s->n] = '\0';
    return 0;
}

int tok_pieces_push(tok_pieces *a, const char *p, size_t n, int at_origin, yt_err *e)
{
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        tok_piece *v = yt_realloc_array(a->v, nc, sizeof *v, "the pre-tokens", e);
        if (!v)
            return -1;
        a->v = v;
        a->cap = nc;
    }
    a->v[a->n].p = p;
    a->v[a->n].n = n;
    a->v[a->n].at_origin = at_origin;
    a->n++;
    return 0;
}

char *tok_memdup(const char *s, size_t n, const char *what, yt_err *e)
{
    char *c = yt_malloc(n + 1, what, e);
    if (c) {
        if (n)
            memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

int tok_segs_push(tok_segs *g, size_t start, size_t end, size_t flag, yt_err *e)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 256;
        size_t *v = yt_realloc_array(g->v, nc * 3, sizeof *v, "the pattern segments", e);
        if (!v)
            return -1;
        g->v = v;
        g->cap = nc;
    }
    g->v[3 * g->n] = start;
    g->v[3 * g->n + 1] = end;
    g->v[3 * g->n + 2] = flag;
    g->n++;
    return 0;
}

char *tok_arena_alloc(tok_arena *a, size_t n, yt_err *e)
{
    n = (n + 7) & ~(size_t)7;
    tok_arena_blk *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ((size_t)1 << 16) ? n : ((size_t)1 << 16);
        tok_arena_blk *nb = yt_malloc(sizeof *nb + cap, "the working space", e);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->cap = cap;
        nb->next = b;
        a->head = nb;
        b = nb;
    }
    char *p = b->data + b->used;
    b->used += n;
    return p;
}

void tok_arena_reset(tok_arena *a)
{
    tok_arena_blk *b = a->head;
    if (!b)
        return;
    tok_arena_blk *rest = b->next;
    b->next = NULL;
    b->used = 0;
    while (rest) {
        tok_arena_blk *nx = rest->next;
        free(rest);
        rest = nx;
    }
}

void tok_arena_free(tok_arena *a)
{
    tok_arena_blk *b = a->head;
    while (b) {
        tok_arena_blk *nx = b->next;
        free(b);
        b = nx;
    }
    a->head = NULL;
}

void tok_scratch_free(tok_scratch *w)
{
    tok_arena_free(&w->arena);
    free(w->pa.v);
    free(w->pb.v);
    free(w->seg.v);
    memset(w, 0, sizeof *w);
}
