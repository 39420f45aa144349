/* The argument helpers every builtin shares: positional-or-keyword lookup, the
 * positional count, and the type checks whose messages name the builtin. */
#include "datasets/template/tpl_internal.h"

#include <string.h>

const tpl_val *tpl_arg(const tpl_args *a, uint32_t i, const char *name)
{
    if (i < a->npos)
        return &a->pos[i];
    if (name)
        for (uint32_t k = 0; k < a->nkw; k++)
            if (!strcmp(a->kwn[k], name))
                return &a->kwv[k];
    return NULL;
}

void tpl_args_max(tpl_rt *rt, const tpl_node *at, const tpl_args *a, uint32_t max_pos,
                  const char *fn)
{
    if (a->npos > max_pos)
        tpl_fail(rt, at, "%s takes at most %u positional arguments (%u given)", fn, max_pos,
                 a->npos);
}

const tpl_str *tpl_want_str(tpl_rt *rt, const tpl_node *at, tpl_val v, const char *what)
{
    if (v.t != V_STR) {
        if (v.t == V_UNDEF && v.u.undef)
            tpl_fail(rt, at, "%s: '%s' is undefined", what, v.u.undef);
        tpl_fail(rt, at, "%s needs a string, not %s", what, tpl_type_name(v));
    }
    return v.u.s;
}

int64_t tpl_want_int(tpl_rt *rt, const tpl_node *at, tpl_val v, const char *what)
{
    if (v.t == V_INT)
        return v.u.i;
    if (v.t == V_BOOL)
        return v.u.b;
    tpl_fail(rt, at, "%s needs an integer, not %s", what, tpl_type_name(v));
}
