/* Values with Python's semantics: constructors, lists and dicts (insertion-ordered),
 * truth, equality, ordering, type names and iteration. */
#include "datasets/template/tpl_internal.h"

#include <string.h>

tpl_val tpl_undef(const char *what)
{
    tpl_val v = {.t = V_UNDEF};
    v.u.undef = what;
    return v;
}
tpl_val tpl_none(void) { return (tpl_val){.t = V_NONE}; }
tpl_val tpl_bool(int b)
{
    tpl_val v = {.t = V_BOOL};
    v.u.b = b != 0;
    return v;
}
tpl_val tpl_int(int64_t i)
{
    tpl_val v = {.t = V_INT};
    v.u.i = i;
    return v;
}
tpl_val tpl_float(double f)
{
    tpl_val v = {.t = V_FLOAT};
    v.u.f = f;
    return v;
}
tpl_val tpl_strv(const tpl_str *s)
{
    tpl_val v = {.t = V_STR};
    v.u.s = s;
    return v;
}

tpl_val tpl_cstr(tpl_rt *rt, const char *s, size_t n, uint32_t tag)
{
    tpl_sb b;
    tpl_sb_init(rt, &b, (uint32_t)n + 1);
    tpl_sb_add(rt, &b, s, n, tag);
    return tpl_strv(tpl_sb_done(rt, &b));
}

tpl_list *tpl_list_new(tpl_rt *rt, uint32_t cap)
{
    tpl_list *l = tpl_alloc(rt, sizeof *l);
    l->n = 0;
    l->cap = cap ? cap : 4;
    l->v = tpl_alloc(rt, l->cap * sizeof *l->v);
    return l;
}

void tpl_list_push(tpl_rt *rt, tpl_list *l, tpl_val v)
{
    if (l->n == l->cap) {
        uint32_t cap = l->cap * 2;
        tpl_val *nv = tpl_alloc(rt, cap * sizeof *nv);
        memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
}

tpl_val tpl_listv(tpl_list *l, int tuple)
{
    tpl_val v = {.t = V_LIST, .tuple = (uint8_t)(tuple != 0)};
    v.u.l = l;
    return v;
}

tpl_dict *tpl_dict_new(tpl_rt *rt, uint32_t cap)
{
    tpl_dict *d = tpl_alloc(rt, sizeof *d);
    d->n = 0;
    d->cap = cap ? cap : 4;
    d->k = tpl_alloc(rt, d->cap * sizeof *d->k);
    d->v = tpl_alloc(rt, d->cap * sizeof *d->v);
    return d;
}

static int find_key(const tpl_dict *d, tpl_val k)
{
    for (uint32_t i = 0; i < d->n; i++)
        if (tpl_equal(d->k[i], k))
            return (int)i;
    return -1;
}

void tpl_dict_set(tpl_rt *rt, tpl_dict *d, tpl_val k, tpl_val v)
{
    int i = find_key(d, k);
    if (i >= 0) {
        d->v[i] = v;
        return;
    }
    if (d->n == d->cap) {
        uint32_t cap = d->cap * 2;
        tpl_val *nk = tpl_alloc(rt, cap * sizeof *nk), *nv = tpl_alloc(rt, cap * sizeof *nv);
        memcpy(nk, d->k, d->n * sizeof *nk);
        memcpy(nv, d->v, d->n * sizeof *nv);
        d->k = nk;
        d->v = nv;
        d->cap = cap;
    }
    d->k[d->n] = k;
    d->v[d->n++] = v;
}

int tpl_dict_get(const tpl_dict *d, tpl_val k, tpl_val *out)
{
    int i = find_key(d, k);
    if (i < 0)
        return 0;
    *out = d->v[i];
    return 1;
}

int tpl_dict_gets(const tpl_dict *d, const char *k, tpl_val *out)
{
    size_t n = strlen(k);
    for (uint32_t i = 0; i < d->n; i++)
        if (d->k[i].t == V_STR && d->k[i].u.s->n == n && !memcmp(d->k[i].u.s->s, k, n)) {
            *out = d->v[i];
            return 1;
        }
    return 0;
}

int tpl_truthy(tpl_val v)
{
    switch (v.t) {
    case V_UNDEF:
    case V_NONE: return 0;
    case V_BOOL: return v.u.b;
    case V_INT: return v.u.i != 0;
    case V_FLOAT: return v.u.f != 0;
    case V_STR: return v.u.s->n > 0;
    case V_LIST: return v.u.l->n > 0;
    case V_DICT: return v.u.d->n > 0;
    default: return 1;
    }
}

static int is_num(tpl_val v) { return v.t == V_BOOL || v.t == V_INT || v.t == V_FLOAT; }
static double num(tpl_val v)
{
    return v.t == V_FLOAT ? v.u.f : v.t == V_INT ? (double)v.u.i : (double)v.u.b;
}
static int64_t inum(tpl_val v) { return v.t == V_INT ? v.u.i : v.u.b; }

int tpl_equal(tpl_val a, tpl_val b)
{
    if (is_num(a) && is_num(b)) {
        if (a.t != V_FLOAT && b.t != V_FLOAT)
            return inum(a) == inum(b);
        return num(a) == num(b);
    }
    if (a.t != b.t)
        return 0;
    switch (a.t) {
    case V_UNDEF:
    case V_NONE: return 1;
    case V_STR: return a.u.s->n == b.u.s->n && !memcmp(a.u.s->s, b.u.s->s, a.u.s->n);
    case V_LIST:
        if (a.u.l->n != b.u.l->n)
            return 0;
        for (uint32_t i = 0; i < a.u.l->n; i++)
            if (!tpl_equal(a.u.l->v[i], b.u.l->v[i]))
                return 0;
        return 1;
    case V_DICT: {
        if (a.u.d->n != b.u.d->n)
            return 0;
        for (uint32_t i = 0; i < a.u.d->n; i++) {
            tpl_val o;
            if (!tpl_dict_get(b.u.d, a.u.d->k[i], &o) || !tpl_equal(a.u.d->v[i], o))
                return 0;
        }
        return 1;
    }
    case V_NS: return a.u.d == b.u.d;
    case V_FUNC: return a.u.fn == b.u.fn;
    case V_MACRO: return a.u.macro == b.u.macro;
    default: return 0;
    }
}

const char *tpl_type_name(tpl_val v)
{
    switch (v.t) {
    case V_UNDEF: return "undefined";
    case V_NONE: return "NoneType";
    case V_BOOL: return "bool";
    case V_INT: return "int";
    case V_FLOAT: return "float";
    case V_STR: return "str";
    case V_LIST: return v.tuple ? "tuple" : "list";
    case V_DICT: return "dict";
    case V_NS: return "Namespace";
    case V_LOOP: return "LoopContext";
    case V_MACRO: return "Macro";
    default: return "function";
    }
}

int tpl_compare(tpl_rt *rt, const tpl_node *at, tpl_val a, tpl_val b)
{
    if (is_num(a) && is_num(b)) {
        if (a.t != V_FLOAT && b.t != V_FLOAT)
            return inum(a) < inum(b) ? -1 : inum(a) > inum(b);
        double x = num(a), y = num(b);
        return x < y ? -1 : x > y;
    }
    if (a.t == V_STR && b.t == V_STR) {
        uint32_t n = a.u.s->n < b.u.s->n ? a.u.s->n : b.u.s->n;
        int c = memcmp(a.u.s->s, b.u.s->s, n);
        if (c)
            return c < 0 ? -1 : 1;
        return a.u.s->n < b.u.s->n ? -1 : a.u.s->n > b.u.s->n;
    }
    if (a.t == V_LIST && b.t == V_LIST) {
        uint32_t n = a.u.l->n < b.u.l->n ? a.u.l->n : b.u.l->n;
        for (uint32_t i = 0; i < n; i++) {
            if (tpl_equal(a.u.l->v[i], b.u.l->v[i]))
                continue;
            return tpl_compare(rt, at, a.u.l->v[i], b.u.l->v[i]);
        }
        return a.u.l->n < b.u.l->n ? -1 : a.u.l->n > b.u.l->n;
    }
    tpl_fail(rt, at, "cannot order %s and %s", tpl_type_name(a), tpl_type_name(b));
}

const tpl_list *tpl_iter(tpl_rt *rt, const tpl_node *at, tpl_val v)
{
    switch (v.t) {
    case V_LIST: return v.u.l;
    case V_UNDEF: return tpl_list_new(rt, 1);
    case V_DICT:
    case V_NS: {
        tpl_list *l = tpl_list_new(rt, v.u.d->n);
        for (uint32_t i = 0; i < v.u.d->n; i++)
            tpl_list_push(rt, l, v.u.d->k[i]);
        return l;
    }
    case V_STR: {
        const tpl_str *s = v.u.s;
        tpl_list *l = tpl_list_new(rt, s->n);
        for (uint32_t i = 0; i < s->n;) {
            uint32_t k = 1;
            while (i + k < s->n && ((unsigned char)s->s[i + k] & 0xC0) == 0x80)
                k++;
            tpl_list_push(rt, l, tpl_strv(tpl_substr(rt, s, i, i + k)));
            i += k;
        }
        return l;
    }
    default: tpl_fail(rt, at, "'%s' object is not iterable", tpl_type_name(v));
    }
}
