/* Arena of the template interpreter: chunks from malloc, freed together, with a
 * bound on the bytes taken (the render memory limit). */
#include "datasets/template/tpl_internal.h"

#include <stdalign.h>
#include <stdlib.h>

struct tpl_chunk {
    tpl_chunk *next;
    size_t cap, used;
    alignas(max_align_t) char data[];
};

void *tpl_arena_alloc(tpl_arena *a, size_t n)
{
    const size_t al = alignof(max_align_t);
    n = (n + al - 1) & ~(al - 1);
    if (n == 0)
        n = al;
    tpl_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ((size_t)64 << 10) ? n : ((size_t)64 << 10);
        if (c && c->cap * 2 > cap && c->cap < ((size_t)16 << 20))
            cap = c->cap * 2;
        if (a->limit && a->total + cap > a->limit) {
            if (a->total + n + sizeof *c > a->limit)
                return NULL;
            cap = n;
        }
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
        a->total += cap + sizeof *c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

void tpl_arena_free(tpl_arena *a)
{
    tpl_chunk *c = a->head;
    while (c) {
        tpl_chunk *nx = c->next;
        free(c);
        c = nx;
    }
    a->head = NULL;
    a->total = 0;
}
