/* The globals transformers provides (raise_exception, strftime_now) and jinja2's
 * range, namespace and dict. */
#define _POSIX_C_SOURCE 200809L
#include "datasets/template/tpl_internal.h"

#include <string.h>
#include <time.h>

static tpl_val g_raise(tpl_rt *rt, const tpl_node *at, tpl_val self, const tpl_args *a)
{
    (void)self;
    const tpl_val *m = tpl_arg(a, 0, NULL);
    const tpl_str *s = m ? tpl_to_str(rt, at, *m) : NULL;
    tpl_fail(rt, at, "the template raised an exception: %s", s ? s->s : "");
}

static tpl_val g_strftime(tpl_rt *rt, const tpl_node *at, tpl_val self, const tpl_args *a)
{
    (void)self;
    const tpl_val *f = tpl_arg(a, 0, "format");
    if (!f)
        tpl_fail(rt, at, "strftime_now needs a format");
    const tpl_str *fmt = tpl_want_str(rt, at, *f, "strftime_now");
    time_t now = time(NULL);
    struct tm tmv;
    localtime_r(&now, &tmv);
    char buf[512];
    size_t n = strftime(buf, sizeof buf, fmt->s, &tmv);
    return tpl_cstr(rt, buf, n, 0);
}

static tpl_val g_range(tpl_rt *rt, const tpl_node *at, tpl_val self, const tpl_args *a)
{
    (void)self;
    int64_t lo = 0, hi, st = 1;
    if (a->npos == 1) {
        hi = tpl_want_int(rt, at, a->pos[0], "range");
    } else if (a->npos == 2 || a->npos == 3) {
        lo = tpl_want_int(rt, at, a->pos[0], "range");
        hi = tpl_want_int(rt, at, a->pos[1], "range");
        if (a->npos == 3)
            st = tpl_want_int(rt, at, a->pos[2], "range");
    } else {
        tpl_fail(rt, at, "range takes 1 to 3 arguments");
    }
    if (st == 0)
        tpl_fail(rt, at, "range step must not be zero");
    int64_t count = st > 0 ? (hi > lo ? (hi - lo + st - 1) / st : 0)
                           : (lo > hi ? (lo - hi - st - 1) / -st : 0);
    if (count > 100000)
        tpl_fail(rt, at, "range of %lld items is too large (100000 at most)", (long long)count);
    tpl_list *l = tpl_list_new(rt, (uint32_t)count + 1);
    for (int64_t i = 0; i < count; i++)
        tpl_list_push(rt, l, tpl_int(lo + i * st));
    return tpl_listv(l, 0);
}

static tpl_val g_namespace(tpl_rt *rt, const tpl_node *at, tpl_val self, const tpl_args *a)
{
    (void)self;
    tpl_dict *d = tpl_dict_new(rt, a->nkw + 4);
    for (uint32_t i = 0; i < a->npos; i++) {
        if (a->pos[i].t != V_DICT)
            tpl_fail(rt, at, "namespace() takes keyword arguments or a dict");
        for (uint32_t k = 0; k < a->pos[i].u.d->n; k++)
            tpl_dict_set(rt, d, a->pos[i].u.d->k[k], a->pos[i].u.d->v[k]);
    }
    for (uint32_t i = 0; i < a->nkw; i++)
        tpl_dict_set(rt, d, tpl_cstr(rt, a->kwn[i], strlen(a->kwn[i]), 0), a->kwv[i]);
    tpl_val v = {.t = V_NS};
    v.u.d = d;
    return v;
}

static tpl_val g_dict(tpl_rt *rt, const tpl_node *at, tpl_val self, const tpl_args *a)
{
    tpl_val v = g_namespace(rt, at, self, a);
    v.t = V_DICT;
    return v;
}

static const tpl_builtin globals[] = {
    {"raise_exception", g_raise}, {"strftime_now", g_strftime}, {"range", g_range},
    {"namespace", g_namespace}, {"dict", g_dict}, {NULL, NULL},
};

const tpl_builtin *tpl_find_global(const char *name)
{
    for (int i = 0; globals[i].name; i++)
        if (!strcmp(globals[i].name, name))
            return &globals[i];
    return NULL;
}
