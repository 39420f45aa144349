/* Render state, the floor every render file stands on: errors (name:line:col,
 * unwound by longjmp to the entry point), and the memory, step and depth bounds. */
#define _POSIX_C_SOURCE 200809L
#include "datasets/template/tpl_internal.h"

#include <stdarg.h>
#include <stdio.h>

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

_Noreturn void tpl_undefined_error(tpl_rt *rt, const tpl_node *at, tpl_val v)
{
    if (v.u.undef)
        tpl_fail(rt, at, "'%s' is undefined", v.u.undef);
    tpl_fail(rt, at, "a value is undefined");
}
