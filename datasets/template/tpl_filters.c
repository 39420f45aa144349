/* Filters of strings and numbers as jinja2 defines them, tojson as transformers
 * overrides it (json.dumps(x, ensure_ascii=False, indent=None, separators=None,
 * sort_keys=False)), map, and the lookup of every filter (the filters of lists and
 * dicts are in tpl_filters_seq.c). */
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

/* map(attribute=) or map(filter name, args...): the one filter that looks filters up. */
F(map)
{
    const tpl_list *l = tpl_iter(rt, at, v);
    tpl_list *out = tpl_list_new(rt, l->n + 1);
    const tpl_val *attr = tpl_arg(a, 99, "attribute");
    if (attr) {
        const tpl_val *dflt = tpl_arg(a, 99, "default");
        for (uint32_t i = 0; i < l->n; i++) {
            tpl_val x = tpl_attr_path(rt, at, l->v[i], *attr);
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

static const tpl_builtin filters[] = {
    {"abs", f_abs}, {"capitalize", f_capitalize}, {"count", f_count}, {"d", f_default},
    {"default", f_default}, {"float", f_float}, {"indent", f_indent}, {"int", f_int},
    {"length", f_length}, {"lower", f_lower}, {"map", f_map}, {"replace", tpl_replace}, {"round", f_round},
    {"safe", f_safe}, {"string", f_string}, {"title", f_title}, {"tojson", f_tojson},
    {"trim", f_trim}, {"upper", f_upper}, {"wordcount", f_wordcount}, {NULL, NULL},
};

const tpl_builtin *tpl_find_filter(const char *name)
{
    for (int i = 0; filters[i].name; i++)
        if (!strcmp(filters[i].name, name))
            return &filters[i];
    for (int i = 0; tpl_seq_filters[i].name; i++)
        if (!strcmp(tpl_seq_filters[i].name, name))
            return &tpl_seq_filters[i];
    return NULL;
}
