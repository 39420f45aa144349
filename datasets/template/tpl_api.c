/* The entry points of template.h: compile (lex + parse into the template's arena)
 * and render (variables from JSON, messages[i].content tagged i + 1, output copied
 * out of the render arena). */
#define _POSIX_C_SOURCE 200809L
#include "datasets/template/tpl_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ---- entry points ---- */

int yt_tpl_compile(yt_tpl **out, const char *src, size_t len, const char *name,
                   const yt_tpl_limits *lim, yt_err *e)
{
    *out = NULL;
    yt_tpl *t = calloc(1, sizeof *t);
    if (!t)
        return yt_errf(e, "%s: out of memory", name);
    t->name = strdup(name);
    if (!t->name) {
        free(t);
        return yt_errf(e, "%s: out of memory", name);
    }
    yt_tpl_limits d = {(size_t)64 << 20, (size_t)512 << 20, 50000000, 200};
    if (lim) {
        if (lim->max_output)
            d.max_output = lim->max_output;
        if (lim->max_memory)
            d.max_memory = lim->max_memory;
        if (lim->max_steps)
            d.max_steps = lim->max_steps;
        if (lim->max_depth)
            d.max_depth = lim->max_depth;
    }
    t->lim = d;
    if (len > ((size_t)16 << 20)) {
        yt_errf(e, "%s: template of %zu bytes is too large (16 MiB at most)", name, len);
        yt_tpl_free(t);
        return -1;
    }
    tpl_cc *c = calloc(1, sizeof *c);
    if (!c) {
        yt_tpl_free(t);
        return yt_errf(e, "%s: out of memory", name);
    }
    c->e = e;
    c->name = t->name;
    c->arena = &t->arena;
    c->max_depth = d.max_depth;
    if (setjmp(c->jb)) {
        free(c);
        yt_tpl_free(t);
        return -1;
    }
    tpl_lex(c, src, len);
    t->root = tpl_parse(c);
    t->has_generation = c->has_generation;
    free(c);
    *out = t;
    return 0;
}

void yt_tpl_free(yt_tpl *t)
{
    if (!t)
        return;
    tpl_arena_free(&t->arena);
    free(t->name);
    free(t);
}

const char *yt_tpl_name(const yt_tpl *t) { return t->name; }
int yt_tpl_has_generation(const yt_tpl *t) { return t->has_generation; }

void yt_tpl_out_free(yt_tpl_out *o)
{
    free(o->text);
    free(o->runs);
    memset(o, 0, sizeof *o);
}

static int copy_out(const tpl_sb *b, yt_tpl_out *o, const char *name, yt_err *e)
{
    if ((size_t)b->n + 1 > o->cap) {
        char *s = realloc(o->text, (size_t)b->n + 1);
        if (!s)
            return yt_errf(e, "%s: out of memory for %u bytes of output", name, b->n);
        o->text = s;
        o->cap = (size_t)b->n + 1;
    }
    memcpy(o->text, b->s, b->n);
    o->text[b->n] = 0;
    o->n = b->n;
    size_t nr = b->nruns ? b->nruns : (b->n ? 1 : 0);
    if (nr > o->rcap) {
        yt_tpl_run *r = realloc(o->runs, nr * sizeof *r);
        if (!r)
            return yt_errf(e, "%s: out of memory", name);
        o->runs = r;
        o->rcap = nr;
    }
    if (b->nruns)
        for (uint32_t i = 0; i < b->nruns; i++)
            o->runs[i] = (yt_tpl_run){b->runs[i].end, b->runs[i].tag};
    else if (b->n)
        o->runs[0] = (yt_tpl_run){b->n, 0};
    o->nruns = nr;
    return 0;
}

int yt_tpl_render(yt_tpl *t, json_t *vars, yt_tpl_out *out, yt_err *e)
{
    tpl_rt *rt = calloc(1, sizeof *rt);
    if (!rt)
        return yt_errf(e, "%s: out of memory", t->name);
    rt->e = e;
    rt->t = t;
    rt->arena.limit = t->lim.max_memory;
    if (setjmp(rt->jb)) {
        tpl_arena_free(&rt->arena);
        free(rt);
        return -1;
    }
    rt->call_macro = tpl_call_macro;
    rt->top = tpl_scope_new(rt, NULL);
    rt->sc = rt->top;
    tpl_bind_vars(rt, vars);
    tpl_sb top;
    tpl_sb_init(rt, &top, 4096);
    rt->out = &top;
    tpl_exec(rt, t->root);
    int rc = copy_out(&top, out, t->name, e);
    tpl_arena_free(&rt->arena);
    free(rt);
    return rc;
}
