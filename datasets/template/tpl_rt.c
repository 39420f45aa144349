/* Render state: errors (name:line:col), the memory, step and depth bounds, and
 * scopes (a for-loop iteration and a macro call get their own; "if" does not). */
#define _POSIX_C_SOURCE 200809L
#include "datasets/template/tpl_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

_Noreturn void tpl_fail(tpl_rt *rt, const tpl_node *at, const char *fmt, ...)
{
    char msg[YT_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at)
        yt_errf(rt->e, "%s:%u:%u: %s", rt->t->name, at->line, at->col, msg);
    else
        yt_errf(rt->e, "%s: %s", rt->t->name, msg);
    longjmp(rt->jb, 1);
}

void *tpl_alloc(tpl_rt *rt, size_t n)
{
    void *p = tpl_arena_alloc(&rt->arena, n);
    if (!p)
        tpl_fail(rt, NULL, "rendering needs more than %zu MiB of memory",
                 rt->t->lim.max_memory >> 20);
    return p;
}

void tpl_step(tpl_rt *rt, const tpl_node *at)
{
    if (++rt->steps > rt->t->lim.max_steps)
        tpl_fail(rt, at, "rendering takes more than %llu steps (a runaway loop?)",
                 (unsigned long long)rt->t->lim.max_steps);
}

void tpl_enter(tpl_rt *rt, const tpl_node *at)
{
    if (++rt->depth > rt->t->lim.max_depth)
        tpl_fail(rt, at, "nested deeper than %d levels (recursive macro?)", rt->t->lim.max_depth);
}

/* ---- scopes ---- */

tpl_scope *tpl_scope_new(tpl_rt *rt, tpl_scope *parent)
{
    tpl_scope *s = tpl_alloc(rt, sizeof *s);
    memset(s, 0, sizeof *s);
    s->parent = parent;
    return s;
}

void tpl_scope_set(tpl_rt *rt, tpl_scope *s, const char *k, tpl_val v)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (!strcmp(s->k[i], k)) {
            s->v[i] = v;
            return;
        }
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 8;
        const char **nk = tpl_alloc(rt, cap * sizeof *nk);
        tpl_val *nv = tpl_alloc(rt, cap * sizeof *nv);
        if (s->n) {
            memcpy(nk, s->k, s->n * sizeof *nk);
            memcpy(nv, s->v, s->n * sizeof *nv);
        }
        s->k = nk;
        s->v = nv;
        s->cap = cap;
    }
    s->k[s->n] = k;
    s->v[s->n++] = v;
}

tpl_val tpl_lookup(tpl_rt *rt, const char *name)
{
    for (tpl_scope *s = rt->sc; s; s = s->parent)
        for (uint32_t i = 0; i < s->n; i++)
            if (!strcmp(s->k[i], name))
                return s->v[i];
    const tpl_builtin *g = tpl_find_global(name);
    if (g) {
        tpl_val v = {.t = V_FUNC};
        v.u.fn = g;
        return v;
    }
    return tpl_undef(name);
}

_Noreturn void tpl_undefined_error(tpl_rt *rt, const tpl_node *at, tpl_val v)
{
    if (v.u.undef)
        tpl_fail(rt, at, "'%s' is undefined", v.u.undef);
    tpl_fail(rt, at, "a value is undefined");
}
