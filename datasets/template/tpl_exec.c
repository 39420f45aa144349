/* Statements: output (with the {% generation %} tag), if, for (loop variable,
 * filter, else, break/continue), set, set blocks, macros, filter blocks. */
#include "datasets/template/tpl_internal.h"

#include <string.h>

/* ---- output ---- */

void tpl_emit(tpl_rt *rt, const tpl_node *at, const tpl_str *s)
{
    tpl_sb_add_str(rt, rt->out, s, 0, s->n, rt->gen);
    if (rt->out->n > rt->t->lim.max_output)
        tpl_fail(rt, at, "output larger than %zu bytes", rt->t->lim.max_output);
}

/* Renders block N into a new string (set blocks, filter blocks, macro calls). */
const tpl_str *tpl_capture(tpl_rt *rt, const tpl_node *n)
{
    tpl_sb sub, *saved = rt->out;
    tpl_sb_init(rt, &sub, 256);
    rt->out = &sub;
    tpl_exec(rt, n);
    rt->out = saved;
    return tpl_sb_done(rt, &sub);
}

/* ---- statements ---- */

static void assign(tpl_rt *rt, const tpl_node *tgt, tpl_val v)
{
    if (tgt->kind == N_NAME) {
        tpl_scope_set(rt, rt->sc, tgt->name, v);
    } else if (tgt->kind == N_ATTR) {
        tpl_val ns = tpl_lookup(rt, tgt->a->name);
        if (ns.t != V_NS)
            tpl_fail(rt, tgt, "cannot set attribute '%s' of '%s': only namespace() objects "
                     "can be changed", tgt->name, tgt->a->name);
        tpl_dict_set(rt, ns.u.d, tpl_cstr(rt, tgt->name, strlen(tgt->name), 0), v);
    } else { /* tuple of names */
        const tpl_list *items = tpl_iter(rt, tgt, v);
        if (items->n != tgt->n)
            tpl_fail(rt, tgt, "cannot unpack %u values into %u names", items->n, tgt->n);
        for (uint32_t i = 0; i < tgt->n; i++)
            tpl_scope_set(rt, rt->sc, tgt->list[i]->name, items->v[i]);
    }
}

static void bind_targets(tpl_rt *rt, const tpl_node *n, tpl_val item)
{
    if (n->nnames == 1) {
        tpl_scope_set(rt, rt->sc, n->names[0], item);
        return;
    }
    const tpl_list *parts = tpl_iter(rt, n, item);
    if (parts->n != n->nnames)
        tpl_fail(rt, n, "cannot unpack %u values into %u loop variables", parts->n, n->nnames);
    for (uint32_t i = 0; i < n->nnames; i++)
        tpl_scope_set(rt, rt->sc, n->names[i], parts->v[i]);
}

static void exec_for(tpl_rt *rt, const tpl_node *n)
{
    tpl_val seq = tpl_eval(rt, n->a);
    if (seq.t == V_NONE)
        tpl_fail(rt, n->a, "'NoneType' object is not iterable");
    const tpl_list *items = tpl_iter(rt, n->a, seq);
    tpl_scope *outer = rt->sc;
    if (n->d) { /* loop filter: decides before loop.length is known */
        tpl_list *kept = tpl_list_new(rt, items->n + 1);
        for (uint32_t i = 0; i < items->n; i++) {
            rt->sc = tpl_scope_new(rt, outer);
            bind_targets(rt, n, items->v[i]);
            if (tpl_truthy(tpl_eval(rt, n->d)))
                tpl_list_push(rt, kept, items->v[i]);
        }
        rt->sc = outer;
        items = kept;
    }
    tpl_loop *L = tpl_alloc(rt, sizeof *L);
    L->items = items;
    L->depth0 = 0;
    for (uint32_t i = 0; i < items->n; i++) {
        tpl_step(rt, n);
        rt->sc = tpl_scope_new(rt, outer);
        L->index0 = i;
        tpl_val lv = {.t = V_LOOP};
        lv.u.loop = L;
        tpl_scope_set(rt, rt->sc, "loop", lv);
        bind_targets(rt, n, items->v[i]);
        tpl_exec(rt, n->b);
        rt->sc = outer;
        int ctl = rt->ctl;
        rt->ctl = 0;
        if (ctl == 1)
            break;
    }
    if (!items->n && n->c)
        tpl_exec(rt, n->c);
}

void tpl_exec(tpl_rt *rt, const tpl_node *n)
{
    tpl_enter(rt, n);
    switch (n->kind) {
    case N_BLOCK:
        for (uint32_t i = 0; i < n->n && !rt->ctl; i++)
            tpl_exec(rt, n->list[i]);
        break;
    case N_TEXT: tpl_emit(rt, n, n->val.u.s); break;
    case N_OUT: tpl_emit(rt, n, tpl_to_str(rt, n, tpl_eval(rt, n->a))); break;
    case N_IF:
        tpl_step(rt, n);
        if (tpl_truthy(tpl_eval(rt, n->a)))
            tpl_exec(rt, n->b);
        else if (n->c)
            tpl_exec(rt, n->c);
        break;
    case N_FOR: exec_for(rt, n); break;
    case N_SET: assign(rt, n->a, tpl_eval(rt, n->b)); break;
    case N_SETBLOCK: {
        uint32_t g = rt->gen;
        rt->gen = 0;
        const tpl_str *s = tpl_capture(rt, n->b);
        rt->gen = g;
        assign(rt, n->a, tpl_strv(s));
        break;
    }
    case N_MACRO: {
        tpl_val m = {.t = V_MACRO};
        m.u.macro = n;
        tpl_scope_set(rt, rt->sc, n->name, m);
        break;
    }
    case N_BREAK: rt->ctl = 1; break;
    case N_CONTINUE: rt->ctl = 2; break;
    case N_GEN: {
        uint32_t g = rt->gen;
        rt->gen = YT_TPL_GEN;
        tpl_exec(rt, n->b);
        rt->gen = g;
        break;
    }
    case N_FILTERBLOCK: {
        uint32_t g = rt->gen;
        rt->gen = 0;
        const tpl_str *s = tpl_capture(rt, n->b);
        rt->gen = g;
        tpl_emit(rt, n, tpl_to_str(rt, n, tpl_apply_filter(rt, n->a, tpl_strv(s))));
        break;
    }
    default: tpl_emit(rt, n, tpl_to_str(rt, n, tpl_eval(rt, n)));
    }
    rt->depth--;
}

/* ---- macro calls ---- */

tpl_val tpl_call_macro(tpl_rt *rt, const tpl_node *at, const tpl_node *m, const tpl_args *a)
{
    if (a->npos > m->nnames)
        tpl_fail(rt, at, "macro '%s' takes %u arguments, %u given", m->name, m->nnames, a->npos);
    tpl_scope *saved = rt->sc;
    tpl_scope *s = tpl_scope_new(rt, rt->top);
    rt->sc = s;
    for (uint32_t i = 0; i < m->nnames; i++) {
        const tpl_val *v = tpl_arg(a, i, m->names[i]);
        if (v && i < a->npos && tpl_arg(a, 0xFFFFFFFFu, m->names[i]))
            tpl_fail(rt, at, "macro '%s' got parameter '%s' twice", m->name, m->names[i]);
        tpl_scope_set(rt, s, m->names[i], v ? *v : m->list[i] ? tpl_eval(rt, m->list[i])
                                                         : tpl_undef(m->names[i]));
    }
    for (uint32_t k = 0; k < a->nkw; k++) {
        uint32_t i;
        for (i = 0; i < m->nnames && strcmp(m->names[i], a->kwn[k]); i++)
            ;
        if (i == m->nnames)
            tpl_fail(rt, at, "macro '%s' has no parameter '%s'", m->name, a->kwn[k]);
    }
    uint32_t saved_gen = rt->gen;
    rt->gen = 0;
    const tpl_str *r = tpl_capture(rt, m->b);
    rt->gen = saved_gen;
    rt->sc = saved;
    return tpl_strv(r);
}
