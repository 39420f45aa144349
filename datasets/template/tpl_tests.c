/* Tests ("x is defined", "x is divisibleby 3", ...) as jinja2 defines them. */
#include "datasets/template/tpl_internal.h"

#include <math.h>
#include <string.h>

static const tpl_val *need1(tpl_rt *rt, const tpl_node *at, const tpl_args *a, const char *t)
{
    const tpl_val *x = tpl_arg(a, 0, NULL);
    if (!x)
        tpl_fail(rt, at, "test '%s' needs an argument", t);
    return x;
}

static int is_lower_or_upper(const tpl_str *s, int upper)
{
    int cased = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        char c = s->s[i];
        if (c >= 'a' && c <= 'z') {
            if (upper)
                return 0;
            cased = 1;
        } else if (c >= 'A' && c <= 'Z') {
            if (!upper)
                return 0;
            cased = 1;
        }
    }
    return cased;
}

int tpl_run_test(tpl_rt *rt, const tpl_node *at, const char *name, tpl_val v, const tpl_args *a)
{
    const char *n = name;
    if (!strcmp(n, "defined"))
        return v.t != V_UNDEF;
    if (!strcmp(n, "undefined"))
        return v.t == V_UNDEF;
    if (!strcmp(n, "none"))
        return v.t == V_NONE;
    if (!strcmp(n, "boolean"))
        return v.t == V_BOOL;
    if (!strcmp(n, "true"))
        return v.t == V_BOOL && v.u.b;
    if (!strcmp(n, "false"))
        return v.t == V_BOOL && !v.u.b;
    if (!strcmp(n, "integer"))
        return v.t == V_INT;
    if (!strcmp(n, "float"))
        return v.t == V_FLOAT;
    if (!strcmp(n, "number"))
        return v.t == V_INT || v.t == V_FLOAT || v.t == V_BOOL;
    if (!strcmp(n, "string"))
        return v.t == V_STR;
    if (!strcmp(n, "mapping"))
        return v.t == V_DICT;
    if (!strcmp(n, "iterable"))
        return v.t == V_LIST || v.t == V_DICT || v.t == V_STR || v.t == V_UNDEF;
    if (!strcmp(n, "sequence"))
        return v.t == V_LIST || v.t == V_DICT || v.t == V_STR || v.t == V_UNDEF;
    if (!strcmp(n, "callable"))
        return v.t == V_FUNC || v.t == V_METHOD || v.t == V_MACRO;
    if (!strcmp(n, "odd") || !strcmp(n, "even"))
        return (tpl_want_int(rt, at, v, n) & 1) == (n[0] == 'o');
    if (!strcmp(n, "divisibleby")) {
        int64_t d = tpl_want_int(rt, at, *need1(rt, at, a, n), n);
        if (!d)
            tpl_fail(rt, at, "divisibleby 0");
        return tpl_want_int(rt, at, v, n) % d == 0;
    }
    if (!strcmp(n, "eq") || !strcmp(n, "equalto") || !strcmp(n, "=="))
        return tpl_equal(v, *need1(rt, at, a, n));
    if (!strcmp(n, "ne") || !strcmp(n, "!="))
        return !tpl_equal(v, *need1(rt, at, a, n));
    if (!strcmp(n, "lt") || !strcmp(n, "lessthan") || !strcmp(n, "<"))
        return tpl_compare(rt, at, v, *need1(rt, at, a, n)) < 0;
    if (!strcmp(n, "le") || !strcmp(n, "<="))
        return tpl_compare(rt, at, v, *need1(rt, at, a, n)) <= 0;
    if (!strcmp(n, "gt") || !strcmp(n, "greaterthan") || !strcmp(n, ">"))
        return tpl_compare(rt, at, v, *need1(rt, at, a, n)) > 0;
    if (!strcmp(n, "ge") || !strcmp(n, ">="))
        return tpl_compare(rt, at, v, *need1(rt, at, a, n)) >= 0;
    if (!strcmp(n, "in")) {
        tpl_val h = *need1(rt, at, a, n);
        if (h.t == V_STR && v.t == V_STR) {
            for (uint32_t i = 0; i + v.u.s->n <= h.u.s->n; i++)
                if (!memcmp(h.u.s->s + i, v.u.s->s, v.u.s->n))
                    return 1;
            return 0;
        }
        const tpl_list *l = tpl_iter(rt, at, h);
        for (uint32_t i = 0; i < l->n; i++)
            if (tpl_equal(v, l->v[i]))
                return 1;
        return 0;
    }
    if (!strcmp(n, "sameas")) {
        tpl_val o = *need1(rt, at, a, n);
        if (v.t != o.t)
            return 0;
        if (v.t == V_NONE || v.t == V_UNDEF)
            return 1;
        if (v.t == V_BOOL)
            return v.u.b == o.u.b;
        return tpl_equal(v, o) && (v.t == V_INT || v.u.l == o.u.l);
    }
    if (!strcmp(n, "lower"))
        return v.t == V_STR && is_lower_or_upper(v.u.s, 0);
    if (!strcmp(n, "upper"))
        return v.t == V_STR && is_lower_or_upper(v.u.s, 1);
    tpl_fail(rt, at, "unknown test '%s'", name);
}

const tpl_builtin *tpl_find_test(const char *name)
{
    static const char *const known[] = {
        "defined", "undefined", "none", "boolean", "true", "false", "integer", "float",
        "number", "string", "mapping", "iterable", "sequence", "callable", "odd", "even",
        "divisibleby", "eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=",
        "gt", "greaterthan", ">", "ge", ">=", "in", "sameas", "lower", "upper", NULL};
    static tpl_builtin marker = {"test", NULL};
    for (int i = 0; known[i]; i++)
        if (!strcmp(known[i], name))
            return &marker;
    return NULL;
}
