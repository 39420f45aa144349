/* Attribute, item and slice access with jinja2's rules ("." tries the attribute
 * first, "[]" the item first; a missing key is undefined), and calls of builtins,
 * bound methods and macros. */
#include "datasets/template/tpl_internal.h"

#include <string.h>

/* ---- attribute and item access ---- */

static tpl_val bound(tpl_rt *rt, tpl_val self, const tpl_builtin *m)
{
    tpl_bound *b = tpl_alloc(rt, sizeof *b);
    b->self = self;
    b->m = m;
    tpl_val v = {.t = V_METHOD};
    v.u.m = b;
    return v;
}

static tpl_val loop_attr(tpl_rt *rt, tpl_val obj, const char *name)
{
    const tpl_loop *L = obj.u.loop;
    int64_t len = L->items->n, i = L->index0;
    if (!strcmp(name, "index"))
        return tpl_int(i + 1);
    if (!strcmp(name, "index0"))
        return tpl_int(i);
    if (!strcmp(name, "revindex"))
        return tpl_int(len - i);
    if (!strcmp(name, "revindex0"))
        return tpl_int(len - i - 1);
    if (!strcmp(name, "first"))
        return tpl_bool(i == 0);
    if (!strcmp(name, "last"))
        return tpl_bool(i == len - 1);
    if (!strcmp(name, "length"))
        return tpl_int(len);
    if (!strcmp(name, "depth"))
        return tpl_int(L->depth0 + 1);
    if (!strcmp(name, "depth0"))
        return tpl_int(L->depth0);
    if (!strcmp(name, "previtem"))
        return i > 0 ? L->items->v[i - 1] : tpl_undef("previtem");
    if (!strcmp(name, "nextitem"))
        return i + 1 < len ? L->items->v[i + 1] : tpl_undef("nextitem");
    const tpl_builtin *m = tpl_find_method(obj, name);
    if (m)
        return bound(rt, obj, m);
    return tpl_undef(name);
}

tpl_val tpl_getattr(tpl_rt *rt, const tpl_node *at, tpl_val obj, const char *name)
{
    tpl_val r;
    switch (obj.t) {
    case V_UNDEF: tpl_undefined_error(rt, at, obj);
    case V_LOOP: return loop_attr(rt, obj, name);
    case V_NS: return tpl_dict_gets(obj.u.d, name, &r) ? r : tpl_undef(name);
    case V_DICT: {
        const tpl_builtin *m = tpl_find_method(obj, name);
        if (m)
            return bound(rt, obj, m);
        return tpl_dict_gets(obj.u.d, name, &r) ? r : tpl_undef(name);
    }
    default: {
        const tpl_builtin *m = tpl_find_method(obj, name);
        return m ? bound(rt, obj, m) : tpl_undef(name);
    }
    }
}

static int as_index(tpl_val k, int64_t *i)
{
    if (k.t == V_INT) {
        *i = k.u.i;
        return 1;
    }
    if (k.t == V_BOOL) {
        *i = k.u.b;
        return 1;
    }
    return 0;
}

tpl_val tpl_getitem(tpl_rt *rt, const tpl_node *at, tpl_val obj, tpl_val key)
{
    tpl_val r;
    int64_t i;
    switch (obj.t) {
    case V_UNDEF: tpl_undefined_error(rt, at, obj);
    case V_DICT:
    case V_NS:
        if (tpl_dict_get(obj.u.d, key, &r))
            return r;
        break;
    case V_LIST:
        if (as_index(key, &i)) {
            int64_t n = obj.u.l->n;
            if (i < 0)
                i += n;
            return i >= 0 && i < n ? obj.u.l->v[i] : tpl_undef("list index out of range");
        }
        break;
    case V_STR:
        if (as_index(key, &i)) {
            int64_t n = tpl_str_len(obj.u.s);
            if (i < 0)
                i += n;
            if (i < 0 || i >= n)
                return tpl_undef("string index out of range");
            uint32_t a = tpl_str_offset(obj.u.s, i), b = tpl_str_offset(obj.u.s, i + 1);
            return tpl_strv(tpl_substr(rt, obj.u.s, a, b));
        }
        break;
    default: break;
    }
    if (key.t == V_STR)
        return tpl_getattr(rt, at, obj, key.u.s->s);
    return tpl_undef(NULL);
}

/* Python slice indices for a sequence of n items. */
static void slice_bounds(tpl_rt *rt, const tpl_node *at, int64_t n, const tpl_val *sv,
                         int64_t *start, int64_t *stop, int64_t *step)
{
    int64_t st = 1;
    if (sv[2].t != V_NONE && sv[2].t != V_UNDEF) {
        if (!as_index(sv[2], &st))
            tpl_fail(rt, at, "slice step must be an integer");
        if (st == 0)
            tpl_fail(rt, at, "slice step cannot be zero");
    }
    int64_t lo = st < 0 ? -1 : 0, hi = st < 0 ? n - 1 : n;
    int64_t a = st < 0 ? hi : lo, b = st < 0 ? lo : hi;
    for (int k = 0; k < 2; k++) {
        int64_t x;
        if (sv[k].t == V_NONE || sv[k].t == V_UNDEF)
            continue;
        if (!as_index(sv[k], &x))
            tpl_fail(rt, at, "slice indices must be integers or none");
        if (x < 0) {
            x += n;
            if (x < lo)
                x = lo;
        } else if (x > hi) {
            x = hi;
        }
        if (k == 0)
            a = x;
        else
            b = x;
    }
    *start = a;
    *stop = b;
    *step = st;
}

tpl_val tpl_do_slice(tpl_rt *rt, const tpl_node *at, tpl_val obj, const tpl_val *sv)
{
    int64_t a, b, st;
    if (obj.t == V_UNDEF)
        tpl_undefined_error(rt, at, obj);
    if (obj.t == V_LIST) {
        slice_bounds(rt, at, obj.u.l->n, sv, &a, &b, &st);
        tpl_list *l = tpl_list_new(rt, 4);
        for (int64_t i = a; st > 0 ? i < b : i > b; i += st)
            tpl_list_push(rt, l, obj.u.l->v[i]);
        return tpl_listv(l, obj.tuple);
    }
    if (obj.t == V_STR) {
        const tpl_str *s = obj.u.s;
        int64_t n = tpl_str_len(s);
        slice_bounds(rt, at, n, sv, &a, &b, &st);
        if (st == 1)
            return tpl_strv(tpl_substr(rt, s, a < b ? tpl_str_offset(s, a) : 0,
                                       a < b ? tpl_str_offset(s, b) : 0));
        tpl_sb sb;
        tpl_sb_init(rt, &sb, s->n + 1);
        for (int64_t i = a; st > 0 ? i < b : i > b; i += st) {
            uint32_t x = tpl_str_offset(s, i), y = tpl_str_offset(s, i + 1);
            tpl_sb_add_str(rt, &sb, s, x, y, 0);
        }
        return tpl_strv(tpl_sb_done(rt, &sb));
    }
    tpl_fail(rt, at, "'%s' object cannot be sliced", tpl_type_name(obj));
}

/* ---- calls ---- */

tpl_val tpl_call(tpl_rt *rt, const tpl_node *at, tpl_val f, const tpl_args *a)
{
    switch (f.t) {
    case V_FUNC: return f.u.fn->fn(rt, at, tpl_none(), a);
    case V_METHOD: return f.u.m->m->fn(rt, at, f.u.m->self, a);
    case V_MACRO: return rt->call_macro(rt, at, f.u.macro, a);
    case V_UNDEF: tpl_undefined_error(rt, at, f);
    default: tpl_fail(rt, at, "'%s' object is not callable", tpl_type_name(f));
    }
}
