/* Filters of lists and dicts as jinja2 defines them: items, first/last, join,
 * select/reject(attr), sort, dictsort, unique, min/max/sum, batch, attr. */
#include "datasets/template/tpl_internal.h"

#include <string.h>

#define F(name) static tpl_val f_##name(tpl_rt *rt, const tpl_node *at, tpl_val v, const tpl_args *a)

F(items)
{
    (void)a;
    if (v.t == V_UNDEF)
        return tpl_listv(tpl_list_new(rt, 1), 0);
    if (v.t != V_DICT)
        tpl_fail(rt, at, "items: expected a mapping, not %s", tpl_type_name(v));
    return tpl_dict_items(rt, v.u.d);
}

F(list)
{
    (void)a;
    const tpl_list *src = tpl_iter(rt, at, v);
    tpl_list *l = tpl_list_new(rt, src->n + 1);
    for (uint32_t i = 0; i < src->n; i++)
        tpl_list_push(rt, l, src->v[i]);
    return tpl_listv(l, 0);
}

F(first)
{
    (void)a;
    const tpl_list *l = tpl_iter(rt, at, v);
    return l->n ? l->v[0] : tpl_undef("first of an empty sequence");
}

F(last)
{
    (void)a;
    const tpl_list *l = tpl_iter(rt, at, v);
    return l->n ? l->v[l->n - 1] : tpl_undef("last of an empty sequence");
}

/* The value of attribute path "a.b" (or an integer index) of item x. */
tpl_val tpl_attr_path(tpl_rt *rt, const tpl_node *at, tpl_val x, tpl_val attr)
{
    if (attr.t == V_INT)
        return tpl_getitem(rt, at, x, attr);
    const tpl_str *p = tpl_want_str(rt, at, attr, "attribute");
    const char *s = p->s;
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        char part[256];
        if (n >= sizeof part)
            tpl_fail(rt, at, "attribute name too long");
        memcpy(part, s, n);
        part[n] = 0;
        int digits = n > 0;
        for (size_t i = 0; i < n; i++)
            if (part[i] < '0' || part[i] > '9')
                digits = 0;
        if (x.t == V_UNDEF)
            return x;
        x = digits ? tpl_getitem(rt, at, x, tpl_int(atoll(part)))
                   : tpl_getitem(rt, at, x, tpl_cstr(rt, part, n, 0));
        s += n + (dot ? 1 : 0);
        if (!dot)
            break;
    }
    return x;
}

F(join)
{
    tpl_args_max(rt, at, a, 2, "join");
    const tpl_val *sep = tpl_arg(a, 0, "d");
    const tpl_val *attr = tpl_arg(a, 1, "attribute");
    const tpl_list *l = tpl_iter(rt, at, v);
    const tpl_str *d = sep ? tpl_to_str(rt, at, *sep) : NULL;
    tpl_sb b;
    tpl_sb_init(rt, &b, 64);
    for (uint32_t i = 0; i < l->n; i++) {
        if (i && d)
            tpl_sb_add_str(rt, &b, d, 0, d->n, 0);
        tpl_val x = attr && attr->t != V_NONE ? tpl_attr_path(rt, at, l->v[i], *attr) : l->v[i];
        const tpl_str *s = tpl_to_str(rt, at, x);
        tpl_sb_add_str(rt, &b, s, 0, s->n, 0);
    }
    return tpl_strv(tpl_sb_done(rt, &b));
}

/* select/reject(test, args...) and selectattr/rejectattr(attr, test, args...) */
static tpl_val select_impl(tpl_rt *rt, const tpl_node *at, tpl_val v, const tpl_args *a,
                           int attr, int keep)
{
    const tpl_list *l = tpl_iter(rt, at, v);
    uint32_t k = 0;
    tpl_val attrname = tpl_none();
    if (attr) {
        if (a->npos < 1)
            tpl_fail(rt, at, "selectattr/rejectattr need an attribute name");
        attrname = a->pos[k++];
    }
    const char *test = NULL;
    if (k < a->npos)
        test = tpl_want_str(rt, at, a->pos[k++], "select test name")->s;
    if (test && !tpl_find_test(test))
        tpl_fail(rt, at, "unknown test '%s'", test);
    tpl_args ta = {a->pos + k, a->npos - k, a->kwn, a->kwv, a->nkw};
    tpl_list *out = tpl_list_new(rt, l->n + 1);
    for (uint32_t i = 0; i < l->n; i++) {
        tpl_val x = attr ? tpl_attr_path(rt, at, l->v[i], attrname) : l->v[i];
        int r = test ? tpl_run_test(rt, at, test, x, &ta) : tpl_truthy(x);
        if (r == keep)
            tpl_list_push(rt, out, l->v[i]);
    }
    return tpl_listv(out, 0);
}

F(select) { return select_impl(rt, at, v, a, 0, 1); }
F(reject) { return select_impl(rt, at, v, a, 0, 0); }
F(selectattr) { return select_impl(rt, at, v, a, 1, 1); }
F(rejectattr) { return select_impl(rt, at, v, a, 1, 0); }

F(reverse)
{
    (void)a;
    if (v.t == V_STR) {
        const tpl_list *cs = tpl_iter(rt, at, v);
        tpl_sb b;
        tpl_sb_init(rt, &b, v.u.s->n + 1);
        for (uint32_t i = cs->n; i-- > 0;)
            tpl_sb_add_str(rt, &b, cs->v[i].u.s, 0, cs->v[i].u.s->n, 0);
        return tpl_strv(tpl_sb_done(rt, &b));
    }
    const tpl_list *l = tpl_iter(rt, at, v);
    tpl_list *out = tpl_list_new(rt, l->n + 1);
    for (uint32_t i = l->n; i-- > 0;)
        tpl_list_push(rt, out, l->v[i]);
    return tpl_listv(out, 0);
}

typedef struct sort_ctx {
    tpl_rt *rt;
    const tpl_node *at;
    tpl_val attr;
    int has_attr, reverse, fold;
} sort_ctx;

static tpl_val sort_key(sort_ctx *c, tpl_val x)
{
    if (c->has_attr)
        x = tpl_attr_path(c->rt, c->at, x, c->attr);
    if (c->fold && x.t == V_STR)
        x = tpl_strv(tpl_str_case(c->rt, x.u.s, 'l'));
    return x;
}

F(sort)
{
    const tpl_val *rev = tpl_arg(a, 0, "reverse"), *cs = tpl_arg(a, 1, "case_sensitive");
    const tpl_val *attr = tpl_arg(a, 2, "attribute");
    sort_ctx c = {rt, at, attr ? *attr : tpl_none(), attr && attr->t != V_NONE,
                  rev && tpl_truthy(*rev), !(cs && tpl_truthy(*cs))};
    const tpl_list *l = tpl_iter(rt, at, v);
    tpl_list *out = tpl_list_new(rt, l->n + 1);
    tpl_val *keys = tpl_alloc(rt, (l->n + 1) * sizeof *keys);
    for (uint32_t i = 0; i < l->n; i++) {
        tpl_list_push(rt, out, l->v[i]);
        keys[i] = sort_key(&c, l->v[i]);
    }
    /* stable insertion sort (lists in templates are short) */
    for (uint32_t i = 1; i < out->n; i++)
        for (uint32_t j = i; j > 0; j--) {
            int cmp = tpl_compare(rt, at, keys[j - 1], keys[j]);
            if (c.reverse ? cmp >= 0 : cmp <= 0)
                break;
            tpl_val t = out->v[j];
            out->v[j] = out->v[j - 1];
            out->v[j - 1] = t;
            t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    return tpl_listv(out, 0);
}

F(dictsort)
{
    if (v.t != V_DICT)
        tpl_fail(rt, at, "dictsort: expected a mapping, not %s", tpl_type_name(v));
    const tpl_val *cs = tpl_arg(a, 0, "case_sensitive"), *by = tpl_arg(a, 1, "by");
    const tpl_val *rev = tpl_arg(a, 2, "reverse");
    int by_value = by && by->t == V_STR && !strcmp(by->u.s->s, "value");
    tpl_val items = f_items(rt, at, v, a);
    tpl_list *l = items.u.l;
    sort_ctx c = {rt, at, tpl_int(by_value), 1, rev && tpl_truthy(*rev), !(cs && tpl_truthy(*cs))};
    tpl_val *keys = tpl_alloc(rt, (l->n + 1) * sizeof *keys);
    for (uint32_t i = 0; i < l->n; i++)
        keys[i] = sort_key(&c, l->v[i]);
    for (uint32_t i = 1; i < l->n; i++)
        for (uint32_t j = i; j > 0; j--) {
            int cmp = tpl_compare(rt, at, keys[j - 1], keys[j]);
            if (c.reverse ? cmp >= 0 : cmp <= 0)
                break;
            tpl_val t = l->v[j];
            l->v[j] = l->v[j - 1];
            l->v[j - 1] = t;
            t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    return items;
}

F(unique)
{
    (void)a;
    const tpl_list *l = tpl_iter(rt, at, v);
    tpl_list *out = tpl_list_new(rt, l->n + 1);
    for (uint32_t i = 0; i < l->n; i++) {
        int seen = 0;
        for (uint32_t j = 0; j < out->n && !seen; j++)
            seen = tpl_equal(out->v[j], l->v[i]);
        if (!seen)
            tpl_list_push(rt, out, l->v[i]);
    }
    return tpl_listv(out, 0);
}

static tpl_val fold(tpl_rt *rt, const tpl_node *at, tpl_val v, const tpl_args *a, int want_max)
{
    const tpl_list *l = tpl_iter(rt, at, v);
    const tpl_val *attr = tpl_arg(a, 1, "attribute");
    if (!l->n)
        return tpl_undef("min/max of an empty sequence");
    uint32_t best = 0;
    for (uint32_t i = 1; i < l->n; i++) {
        tpl_val x = attr ? tpl_attr_path(rt, at, l->v[i], *attr) : l->v[i];
        tpl_val y = attr ? tpl_attr_path(rt, at, l->v[best], *attr) : l->v[best];
        int c = tpl_compare(rt, at, x, y);
        if (want_max ? c > 0 : c < 0)
            best = i;
    }
    return l->v[best];
}

F(max) { return fold(rt, at, v, a, 1); }
F(min) { return fold(rt, at, v, a, 0); }

F(sum)
{
    const tpl_val *attr = tpl_arg(a, 0, "attribute"), *start = tpl_arg(a, 1, "start");
    const tpl_list *l = tpl_iter(rt, at, v);
    tpl_val acc = start ? *start : tpl_int(0);
    for (uint32_t i = 0; i < l->n; i++) {
        tpl_val x = attr ? tpl_attr_path(rt, at, l->v[i], *attr) : l->v[i];
        if (acc.t == V_FLOAT || x.t == V_FLOAT)
            acc = tpl_float((acc.t == V_FLOAT ? acc.u.f : (double)tpl_want_int(rt, at, acc, "sum")) +
                            (x.t == V_FLOAT ? x.u.f : (double)tpl_want_int(rt, at, x, "sum")));
        else
            acc = tpl_int(tpl_want_int(rt, at, acc, "sum") + tpl_want_int(rt, at, x, "sum"));
    }
    return acc;
}

F(attr)
{
    const tpl_val *n = tpl_arg(a, 0, "name");
    if (!n)
        tpl_fail(rt, at, "attr needs a name");
    return tpl_getattr(rt, at, v, tpl_want_str(rt, at, *n, "attr")->s);
}

F(batch)
{
    const tpl_val *n = tpl_arg(a, 0, "linecount"), *fill = tpl_arg(a, 1, "fill_with");
    int64_t k = n ? tpl_want_int(rt, at, *n, "batch") : 1;
    if (k <= 0)
        tpl_fail(rt, at, "batch size must be positive");
    const tpl_list *l = tpl_iter(rt, at, v);
    tpl_list *out = tpl_list_new(rt, l->n / (uint32_t)k + 2), *cur = NULL;
    for (uint32_t i = 0; i < l->n; i++) {
        if (!cur || cur->n == k) {
            cur = tpl_list_new(rt, (uint32_t)k);
            tpl_list_push(rt, out, tpl_listv(cur, 0));
        }
        tpl_list_push(rt, cur, l->v[i]);
    }
    if (cur && fill)
        while (cur->n < k)
            tpl_list_push(rt, cur, *fill);
    return tpl_listv(out, 0);
}

const tpl_builtin tpl_seq_filters[] = {
    {"attr", f_attr}, {"batch", f_batch}, {"dictsort", f_dictsort}, {"first", f_first},
    {"items", f_items}, {"join", f_join}, {"last", f_last}, {"list", f_list},
    {"max", f_max}, {"min", f_min}, {"reject", f_reject}, {"rejectattr", f_rejectattr},
    {"reverse", f_reverse}, {"select", f_select}, {"selectattr", f_selectattr},
    {"sort", f_sort}, {"sum", f_sum}, {"unique", f_unique}, {NULL, NULL},
};
