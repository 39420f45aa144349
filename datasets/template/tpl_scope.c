/* Scopes of a render: a for-loop iteration and a macro call get their own ("if"
 * does not); a name is looked up from the innermost scope outward, then among the
 * globals. */
#include "datasets/template/tpl_internal.h"

#include <string.h>

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
