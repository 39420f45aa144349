/* Filters as jinja2 defines them, tojson as transformers overrides it
 * (json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)). */
#include "datasets/template/tpl_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(name) static tpl_val f_##name(tpl_rt *rt, const tpl_node *at, tpl_val v, const tpl_args *a)

static tpl_val strv(const tpl_str *s) { return tpl_strv(s); }

F(trim)
{
    tpl_args_max(rt, at, a, 1, "trim");
    const tpl_val *chars = tpl_arg(a, 0, "chars");
    const tpl_str *c = chars && chars->t != V_NONE ? tpl_want_str(rt, at, *chars, "trim") : NULL;
    return strv(tpl_str_strip(rt, tpl_to_str(rt, at, v), c, 'b'));
}

F(length)
{
    (void)a;
    switch (v.t) {
    case V_STR: return tpl_int(tpl_str_len(v.u.s));
    case V_LIST: return tpl_int(v.u.l->n);
    case V_DICT:
    case V_NS: return tpl_int(v.u.d->n);
    case V_UNDEF: return tpl_int(0);
    default: tpl_fail(rt, at, "object of type '%s' has no len()", tpl_type_name(v));
    }
}

F(string)
{
    (void)a;
    return strv(tpl_to_str(rt, at, v));
}

F(upper) { (void)a; return strv(tpl_str_case(rt, tpl_to_str(rt, at, v), 'u')); }
F(lower) { (void)a; return strv(tpl_str_case(rt, tpl_to_str(rt, at, v), 'l')); }
F(capitalize) { (void)a; return strv(tpl_str_case(rt, tpl_to_str(rt, at, v), 'c')); }
F(title) { (void)a; return strv(tpl_str_case(rt, tpl_to_str(rt, at, v), 't')); }

F(default)
{
    const tpl_val *dv = tpl_arg(a, 0, "default_value");
    const tpl_val *bo = tpl_arg(a, 1, "boolean");
    (void)at;
    int use = v.t == V_UNDEF || (bo && tpl_truthy(*bo) && !tpl_truthy(v));
    if (!use)
        return v;
    return dv ? *dv : tpl_cstr(rt, "", 0, 0);
}

F(items)
{
    (void)a;
    if (v.t == V_UNDEF)
        return tpl_listv(tpl_list_new(rt, 1), 0);
    if (v.t != V_DICT)
        tpl_fail(rt, at, "items: expected a mapping, not %s", tpl_type_name(v));
    tpl_list *l = tpl_list_new(rt, v.u.d->n + 1);
    for (uint32_t i = 0; i < v.u.d->n; i++) {
        tpl_list *p = tpl_list_new(rt, 2);
        tpl_list_push(rt, p, v.u.d->k[i]);
        tpl_list_push(rt, p, v.u.d->v[i]);
        tpl_list_push(rt, l, tpl_listv(p, 1));
    }
    return tpl_listv(l, 0);
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
static tpl_val attr_path(tpl_rt *rt, const tpl_node *at, tpl_val x, tpl_val attr)
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
        tpl_val x = attr && attr->t != V_NONE ? attr_path(rt, at, l->v[i], *attr) : l->v[i];
        const tpl_str *s = tpl_to_str(rt, at, x);
        tpl_sb_add_str(rt, &b, s, 0, s->n, 0);
    }
    return strv(tpl_sb_done(rt, &b));
}

F(replace)
{
    tpl_args_max(rt, at, a, 3, "replace");
    const tpl_val *o = tpl_arg(a, 0, "old"), *nw = tpl_arg(a, 1, "new"), *cnt = tpl_arg(a, 2, "count");
    if (!o || !nw)
        tpl_fail(rt, at, "replace needs old and new");
    const tpl_str *s = tpl_to_str(rt, at, v);
    const tpl_str *old = tpl_to_str(rt, at, *o), *rep = tpl_to_str(rt, at, *nw);
    int64_t max = cnt && cnt->t != V_NONE ? tpl_want_int(rt, at, *cnt, "replace") : -1;
    tpl_sb b;
    tpl_sb_init(rt, &b, s->n + 16);
    uint32_t i = 0;
    int64_t done = 0;
    if (old->n == 0) { /* Python inserts between every character */
        for (; i <= s->n && (max < 0 || done < max);) {
            tpl_sb_add_str(rt, &b, rep, 0, rep->n, 0);
            done++;
            if (i == s->n)
                break;
            uint32_t k = 1;
            while (i + k < s->n && ((unsigned char)s->s[i + k] & 0xC0) == 0x80)
                k++;
            tpl_sb_add_str(rt, &b, s, i, i + k, 0);
            i += k;
        }
        tpl_sb_add_str(rt, &b, s, i, s->n, 0);
        return strv(tpl_sb_done(rt, &b));
    }
    uint32_t from = 0;
    while (i + old->n <= s->n && (max < 0 || done < max)) {
        if (!memcmp(s->s + i, old->s, old->n)) {
            tpl_sb_add_str(rt, &b, s, from, i, 0);
            /* the replacement inherits the tag of the text it replaces */
            tpl_sb_add_str(rt, &b, rep, 0, rep->n, tpl_str_tag_at(s, i));
            i += old->n;
            from = i;
            done++;
        } else {
            i++;
        }
    }
    tpl_sb_add_str(rt, &b, s, from, s->n, 0);
    return strv(tpl_sb_done(rt, &b));
}

static tpl_val tojson_impl(tpl_rt *rt, const tpl_node *at, tpl_val v, const tpl_args *a)
{
    tpl_args_max(rt, at, a, 1, "tojson");
    const tpl_val *ind = tpl_arg(a, 0, "indent");
    const tpl_val *asc = tpl_arg(a, 99, "ensure_ascii");
    const tpl_val *sep = tpl_arg(a, 99, "separators");
    const tpl_val *sk = tpl_arg(a, 99, "sort_keys");
    int indent = ind && ind->t != V_NONE ? (int)tpl_want_int(rt, at, *ind, "tojson indent") : -1;
    if (indent > 64)
        indent = 64;
    if (indent < -1)
        indent = 0;
    const char *is = indent >= 0 ? "," : ", ", *ks = ": ";
    if (sep && sep->t == V_LIST && sep->u.l->n == 2) {
        is = tpl_want_str(rt, at, sep->u.l->v[0], "tojson separators")->s;
        ks = tpl_want_str(rt, at, sep->u.l->v[1], "tojson separators")->s;
    }
    tpl_sb b;
    tpl_sb_init(rt, &b, 64);
    tpl_json_dump(rt, at, &b, v, indent, is, ks, sk && tpl_truthy(*sk), asc && tpl_truthy(*asc));
    return strv(tpl_sb_done(rt, &b));
}

F(tojson) { return tojson_impl(rt, at, v, a); }

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
        tpl_val x = attr ? attr_path(rt, at, l->v[i], attrname) : l->v[i];
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

F(map)
{
    const tpl_list *l = tpl_iter(rt, at, v);
    tpl_list *out = tpl_list_new(rt, l->n + 1);
    const tpl_val *attr = tpl_arg(a, 99, "attribute");
    if (attr) {
        const tpl_val *dflt = tpl_arg(a, 99, "default");
        for (uint32_t i = 0; i < l->n; i++) {
            tpl_val x = attr_path(rt, at, l->v[i], *attr);
            tpl_list_push(rt, out, x.t == V_UNDEF && dflt ? *dflt : x);
        }
        return tpl_listv(out, 0);
    }
    if (a->npos < 1)
        tpl_fail(rt, at, "map needs a filter name or attribute=");
    const char *fname = tpl_want_str(rt, at, a->pos[0], "map filter name")->s;
    const tpl_builtin *f = tpl_find_filter(fname);
    if (!f)
        tpl_fail(rt, at, "unknown filter '%s'", fname);
    tpl_args fa = {a->pos + 1, a->npos - 1, a->kwn, a->kwv, a->nkw};
    for (uint32_t i = 0; i < l->n; i++)
        tpl_list_push(rt, out, f->fn(rt, at, l->v[i], &fa));
    return tpl_listv(out, 0);
}

F(reverse)
{
    (void)a;
    if (v.t == V_STR) {
        const tpl_list *cs = tpl_iter(rt, at, v);
        tpl_sb b;
        tpl_sb_init(rt, &b, v.u.s->n + 1);
        for (uint32_t i = cs->n; i-- > 0;)
            tpl_sb_add_str(rt, &b, cs->v[i].u.s, 0, cs->v[i].u.s->n, 0);
        return strv(tpl_sb_done(rt, &b));
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
        x = attr_path(c->rt, c->at, x, c->attr);
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

F(int)
{
    const tpl_val *d = tpl_arg(a, 0, "default");
    switch (v.t) {
    case V_INT: return v;
    case V_BOOL: return tpl_int(v.u.b);
    case V_FLOAT:
        if (isfinite(v.u.f) && fabs(v.u.f) < 9.2e18)
            return tpl_int((int64_t)v.u.f);
        break;
    case V_STR: {
        char *end;
        long long x = strtoll(v.u.s->s, &end, 10);
        if (end != v.u.s->s && *end == 0)
            return tpl_int(x);
        double f = strtod(v.u.s->s, &end);
        if (end != v.u.s->s && *end == 0 && isfinite(f) && fabs(f) < 9.2e18)
            return tpl_int((int64_t)f);
        break;
    }
    default: break;
    }
    (void)rt;
    (void)at;
    return d ? *d : tpl_int(0);
}

F(float)
{
    const tpl_val *d = tpl_arg(a, 0, "default");
    switch (v.t) {
    case V_FLOAT: return v;
    case V_INT: return tpl_float((double)v.u.i);
    case V_BOOL: return tpl_float(v.u.b);
    case V_STR: {
        char *end;
        double f = strtod(v.u.s->s, &end);
        if (end != v.u.s->s && *end == 0)
            return tpl_float(f);
        break;
    }
    default: break;
    }
    (void)rt;
    (void)at;
    return d ? *d : tpl_float(0);
}

F(abs)
{
    (void)a;
    if (v.t == V_INT)
        return tpl_int(v.u.i < 0 ? -v.u.i : v.u.i);
    if (v.t == V_BOOL)
        return tpl_int(v.u.b);
    if (v.t == V_FLOAT)
        return tpl_float(fabs(v.u.f));
    tpl_fail(rt, at, "bad operand type for abs(): '%s'", tpl_type_name(v));
}

F(round)
{
    const tpl_val *p = tpl_arg(a, 0, "precision"), *m = tpl_arg(a, 1, "method");
    int64_t prec = p ? tpl_want_int(rt, at, *p, "round") : 0;
    const char *method = m ? tpl_want_str(rt, at, *m, "round method")->s : "common";
    if (v.t != V_INT && v.t != V_FLOAT && v.t != V_BOOL)
        tpl_fail(rt, at, "round needs a number, not %s", tpl_type_name(v));
    double x = v.t == V_FLOAT ? v.u.f : v.t == V_INT ? (double)v.u.i : v.u.b;
    double s = pow(10.0, (double)prec);
    double y = x * s;
    if (!strcmp(method, "ceil"))
        y = ceil(y);
    else if (!strcmp(method, "floor"))
        y = floor(y);
    else
        y = nearbyint(y); /* Python's round: half to even */
    return tpl_float(y / s);
}

static tpl_val fold(tpl_rt *rt, const tpl_node *at, tpl_val v, const tpl_args *a, int want_max)
{
    const tpl_list *l = tpl_iter(rt, at, v);
    const tpl_val *attr = tpl_arg(a, 1, "attribute");
    if (!l->n)
        return tpl_undef("min/max of an empty sequence");
    uint32_t best = 0;
    for (uint32_t i = 1; i < l->n; i++) {
        tpl_val x = attr ? attr_path(rt, at, l->v[i], *attr) : l->v[i];
        tpl_val y = attr ? attr_path(rt, at, l->v[best], *attr) : l->v[best];
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
        tpl_val x = attr ? attr_path(rt, at, l->v[i], *attr) : l->v[i];
        if (acc.t == V_FLOAT || x.t == V_FLOAT)
            acc = tpl_float((acc.t == V_FLOAT ? acc.u.f : (double)tpl_want_int(rt, at, acc, "sum")) +
                            (x.t == V_FLOAT ? x.u.f : (double)tpl_want_int(rt, at, x, "sum")));
        else
            acc = tpl_int(tpl_want_int(rt, at, acc, "sum") + tpl_want_int(rt, at, x, "sum"));
    }
    return acc;
}

F(safe)
{
    (void)rt;
    (void)at;
    (void)a;
    return v;
}

F(count) { return f_length(rt, at, v, a); }

F(indent)
{
    const tpl_val *w = tpl_arg(a, 0, "width"), *first = tpl_arg(a, 1, "first");
    const tpl_val *blank = tpl_arg(a, 2, "blank");
    const tpl_str *pad;
    if (w && w->t == V_STR)
        pad = w->u.s;
    else {
        int64_t k = w ? tpl_want_int(rt, at, *w, "indent") : 4;
        if (k < 0)
            k = 0;
        if (k > 256)
            k = 256;
        char sp[257];
        memset(sp, ' ', (size_t)k);
        pad = tpl_cstr(rt, sp, (size_t)k, 0).u.s;
    }
    /* jinja2: lines of s + "\n"; every line after the first gets the padding (empty
     * ones only with blank); the first with first. */
    const tpl_str *s = tpl_to_str(rt, at, v);
    int bl = blank && tpl_truthy(*blank);
    tpl_sb b;
    tpl_sb_init(rt, &b, s->n * 2 + 16);
    if (first && tpl_truthy(*first))
        tpl_sb_add_str(rt, &b, pad, 0, pad->n, 0);
    uint32_t i = 0;
    for (int line = 0;; line++) {
        uint32_t j = i;
        while (j < s->n && s->s[j] != '\n')
            j++;
        if (line) {
            tpl_sb_add(rt, &b, "\n", 1, 0);
            if (j > i || bl)
                tpl_sb_add_str(rt, &b, pad, 0, pad->n, 0);
        }
        tpl_sb_add_str(rt, &b, s, i, j, 0);
        if (j >= s->n)
            break;
        i = j + 1;
        if (i == s->n) { /* s ended with a newline: one more, empty, line */
            tpl_sb_add(rt, &b, "\n", 1, 0);
            if (bl)
                tpl_sb_add_str(rt, &b, pad, 0, pad->n, 0);
            break;
        }
    }
    return strv(tpl_sb_done(rt, &b));
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

F(wordcount)
{
    (void)a;
    const tpl_str *s = tpl_to_str(rt, at, v);
    int64_t n = 0;
    int in = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        unsigned char c = (unsigned char)s->s[i];
        int w = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                c == '_' || c >= 0x80;
        if (w && !in)
            n++;
        in = w;
    }
    return tpl_int(n);
}

static const tpl_builtin filters[] = {
    {"abs", f_abs}, {"attr", f_attr}, {"batch", f_batch}, {"capitalize", f_capitalize},
    {"count", f_count}, {"d", f_default}, {"default", f_default}, {"dictsort", f_dictsort},
    {"first", f_first}, {"float", f_float}, {"indent", f_indent}, {"int", f_int},
    {"items", f_items}, {"join", f_join}, {"last", f_last}, {"length", f_length},
    {"list", f_list}, {"lower", f_lower}, {"map", f_map}, {"max", f_max}, {"min", f_min},
    {"reject", f_reject}, {"rejectattr", f_rejectattr}, {"replace", f_replace},
    {"reverse", f_reverse}, {"round", f_round}, {"safe", f_safe}, {"select", f_select},
    {"selectattr", f_selectattr}, {"sort", f_sort}, {"string", f_string}, {"sum", f_sum},
    {"title", f_title}, {"tojson", f_tojson}, {"trim", f_trim}, {"unique", f_unique},
    {"upper", f_upper}, {"wordcount", f_wordcount}, {NULL, NULL},
};

const tpl_builtin *tpl_find_filter(const char *name)
{
    for (int i = 0; filters[i].name; i++)
        if (!strcmp(filters[i].name, name))
            return &filters[i];
    return NULL;
}
