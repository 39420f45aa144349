/* Evaluation: expressions with Python's operators and jinja2's lookup rules
 * (attribute first for ".", item first for "[]", a missing key is undefined),
 * statements with jinja2's scoping (a for-loop iteration and a macro call get their
 * own scope; "if" does not), and the render entry point. */
#define _POSIX_C_SOURCE 200809L
#include "datasets/template/tpl_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void tpl_fail(tpl_rt *rt, const tpl_node *at, const char *fmt, ...)
{
    char msg[YT_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at)
        yt_errf(rt->e, "%s:%u:%u: %s", rt->t->name, at->line, at->col, msg);
    else
        yt_errf(rt->e, "%s: %s", rt->t->name, msg);
    longjmp(rt->jb, 1);
}

void *tpl_alloc(tpl_rt *rt, size_t n)
{
    void *p = tpl_arena_alloc(&rt->arena, n);
    if (!p)
        tpl_fail(rt, NULL, "rendering needs more than %zu MiB of memory",
                 rt->t->lim.max_memory >> 20);
    return p;
}

void tpl_step(tpl_rt *rt, const tpl_node *at)
{
    if (++rt->steps > rt->t->lim.max_steps)
        tpl_fail(rt, at, "rendering takes more than %llu steps (a runaway loop?)",
                 (unsigned long long)rt->t->lim.max_steps);
}

static void enter(tpl_rt *rt, const tpl_node *at)
{
    if (++rt->depth > rt->t->lim.max_depth)
        tpl_fail(rt, at, "nested deeper than %d levels (recursive macro?)", rt->t->lim.max_depth);
}

/* ---- scopes ---- */

static tpl_scope *scope_new(tpl_rt *rt, tpl_scope *parent)
{
    tpl_scope *s = tpl_alloc(rt, sizeof *s);
    memset(s, 0, sizeof *s);
    s->parent = parent;
    return s;
}

static void scope_set(tpl_rt *rt, tpl_scope *s, const char *k, tpl_val v)
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

static tpl_val lookup(tpl_rt *rt, const char *name)
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

_Noreturn static void undefined_error(tpl_rt *rt, const tpl_node *at, tpl_val v)
{
    if (v.u.undef)
        tpl_fail(rt, at, "'%s' is undefined", v.u.undef);
    tpl_fail(rt, at, "a value is undefined");
}

/* ---- output ---- */

static void emit(tpl_rt *rt, const tpl_node *at, const tpl_str *s)
{
    tpl_sb_add_str(rt, rt->out, s, 0, s->n, rt->gen);
    if (rt->out->n > rt->t->lim.max_output)
        tpl_fail(rt, at, "output larger than %zu bytes", rt->t->lim.max_output);
}

/* Renders block N into a new string (set blocks, filter blocks, macro calls). */
static const tpl_str *capture(tpl_rt *rt, const tpl_node *n)
{
    tpl_sb sub, *saved = rt->out;
    tpl_sb_init(rt, &sub, 256);
    rt->out = &sub;
    tpl_exec(rt, n);
    rt->out = saved;
    return tpl_sb_done(rt, &sub);
}

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
    case V_UNDEF: undefined_error(rt, at, obj);
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
    case V_UNDEF: undefined_error(rt, at, obj);
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

static tpl_val do_slice(tpl_rt *rt, const tpl_node *at, tpl_val obj, const tpl_val *sv)
{
    int64_t a, b, st;
    if (obj.t == V_UNDEF)
        undefined_error(rt, at, obj);
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

void tpl_eval_args(tpl_rt *rt, const tpl_node *n, tpl_args *a)
{
    tpl_list *pos = tpl_list_new(rt, n->n + 1);
    tpl_list *kwv = tpl_list_new(rt, 4);
    uint32_t nk = 0, cap = 4;
    const char **kwn = tpl_alloc(rt, cap * sizeof *kwn);
    for (uint32_t i = 0; i < n->n; i++) {
        tpl_val v = tpl_eval(rt, n->list[i]);
        const char *k = n->kw ? n->kw[i] : NULL;
        if (!k) {
            tpl_list_push(rt, pos, v);
        } else if (!strcmp(k, "*")) {
            const tpl_list *l = tpl_iter(rt, n->list[i], v);
            for (uint32_t j = 0; j < l->n; j++)
                tpl_list_push(rt, pos, l->v[j]);
        } else {
            uint32_t more = 1;
            if (!strcmp(k, "**")) {
                if (v.t != V_DICT)
                    tpl_fail(rt, n->list[i], "argument after ** must be a mapping, not %s",
                             tpl_type_name(v));
                more = v.u.d->n;
            }
            if (nk + more > cap) {
                while (nk + more > cap)
                    cap *= 2;
                const char **nn = tpl_alloc(rt, cap * sizeof *nn);
                memcpy(nn, kwn, nk * sizeof *nn);
                kwn = nn;
            }
            if (strcmp(k, "**")) {
                kwn[nk++] = k;
                tpl_list_push(rt, kwv, v);
            } else {
                for (uint32_t j = 0; j < v.u.d->n; j++) {
                    kwn[nk++] = tpl_want_str(rt, n->list[i], v.u.d->k[j], "** keyword")->s;
                    tpl_list_push(rt, kwv, v.u.d->v[j]);
                }
            }
        }
    }
    *a = (tpl_args){pos->v, pos->n, kwn, kwv->v, nk};
}

static tpl_val call_macro(tpl_rt *rt, const tpl_node *at, const tpl_node *m, const tpl_args *a)
{
    if (a->npos > m->nnames)
        tpl_fail(rt, at, "macro '%s' takes %u arguments, %u given", m->name, m->nnames, a->npos);
    tpl_scope *saved = rt->sc;
    tpl_scope *s = scope_new(rt, rt->top);
    rt->sc = s;
    for (uint32_t i = 0; i < m->nnames; i++) {
        const tpl_val *v = tpl_arg(a, i, m->names[i]);
        if (v && i < a->npos && tpl_arg(a, 0xFFFFFFFFu, m->names[i]))
            tpl_fail(rt, at, "macro '%s' got parameter '%s' twice", m->name, m->names[i]);
        scope_set(rt, s, m->names[i], v ? *v : m->list[i] ? tpl_eval(rt, m->list[i])
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
    const tpl_str *r = capture(rt, m->b);
    rt->gen = saved_gen;
    rt->sc = saved;
    return tpl_strv(r);
}

tpl_val tpl_call(tpl_rt *rt, const tpl_node *at, tpl_val f, const tpl_args *a)
{
    switch (f.t) {
    case V_FUNC: return f.u.fn->fn(rt, at, tpl_none(), a);
    case V_METHOD: return f.u.m->m->fn(rt, at, f.u.m->self, a);
    case V_MACRO: return call_macro(rt, at, f.u.macro, a);
    case V_UNDEF: undefined_error(rt, at, f);
    default: tpl_fail(rt, at, "'%s' object is not callable", tpl_type_name(f));
    }
}

/* ---- operators ---- */

static int is_num(tpl_val v) { return v.t == V_BOOL || v.t == V_INT || v.t == V_FLOAT; }
static double fnum(tpl_val v)
{
    return v.t == V_FLOAT ? v.u.f : v.t == V_INT ? (double)v.u.i : (double)v.u.b;
}
static int64_t inum(tpl_val v) { return v.t == V_INT ? v.u.i : v.u.b; }

_Noreturn static void bad_operands(tpl_rt *rt, const tpl_node *at, const char *op, tpl_val a,
                                   tpl_val b)
{
    if (a.t == V_UNDEF)
        undefined_error(rt, at, a);
    if (b.t == V_UNDEF)
        undefined_error(rt, at, b);
    tpl_fail(rt, at, "unsupported operand type(s) for %s: '%s' and '%s'", op, tpl_type_name(a),
             tpl_type_name(b));
}

static tpl_val repeat(tpl_rt *rt, const tpl_node *at, tpl_val seq, int64_t k)
{
    if (k < 0)
        k = 0;
    if (seq.t == V_STR) {
        if ((uint64_t)seq.u.s->n * (uint64_t)k > rt->t->lim.max_output)
            tpl_fail(rt, at, "string repetition larger than the output limit");
        tpl_sb b;
        tpl_sb_init(rt, &b, (uint32_t)(seq.u.s->n * k + 1));
        for (int64_t i = 0; i < k; i++)
            tpl_sb_add_str(rt, &b, seq.u.s, 0, seq.u.s->n, 0);
        return tpl_strv(tpl_sb_done(rt, &b));
    }
    if ((uint64_t)seq.u.l->n * (uint64_t)k > 10000000u)
        tpl_fail(rt, at, "list repetition too large");
    tpl_list *l = tpl_list_new(rt, (uint32_t)(seq.u.l->n * k + 1));
    for (int64_t i = 0; i < k; i++)
        for (uint32_t j = 0; j < seq.u.l->n; j++)
            tpl_list_push(rt, l, seq.u.l->v[j]);
    return tpl_listv(l, seq.tuple);
}

static tpl_val binop(tpl_rt *rt, const tpl_node *at, const char *op, tpl_val a, tpl_val b)
{
    int ints = (a.t == V_INT || a.t == V_BOOL) && (b.t == V_INT || b.t == V_BOOL);
    if (!strcmp(op, "+")) {
        if (a.t == V_STR && b.t == V_STR)
            return tpl_strv(tpl_concat(rt, a.u.s, b.u.s));
        if (a.t == V_LIST && b.t == V_LIST && a.tuple == b.tuple) {
            tpl_list *l = tpl_list_new(rt, a.u.l->n + b.u.l->n + 1);
            for (uint32_t i = 0; i < a.u.l->n; i++)
                tpl_list_push(rt, l, a.u.l->v[i]);
            for (uint32_t i = 0; i < b.u.l->n; i++)
                tpl_list_push(rt, l, b.u.l->v[i]);
            return tpl_listv(l, a.tuple);
        }
    }
    if (!strcmp(op, "*")) {
        if ((a.t == V_STR || a.t == V_LIST) && (b.t == V_INT || b.t == V_BOOL))
            return repeat(rt, at, a, inum(b));
        if ((b.t == V_STR || b.t == V_LIST) && (a.t == V_INT || a.t == V_BOOL))
            return repeat(rt, at, b, inum(a));
    }
    if (!is_num(a) || !is_num(b)) {
        if (!strcmp(op, "%") && a.t == V_STR)
            tpl_fail(rt, at, "printf-style '%%' formatting of strings is not supported");
        bad_operands(rt, at, op, a, b);
    }
    int64_t x = inum(a), y = inum(b), r;
    double fx = fnum(a), fy = fnum(b);
    switch (op[0]) {
    case '+':
        if (ints) {
            if (__builtin_add_overflow(x, y, &r))
                tpl_fail(rt, at, "integer overflow");
            return tpl_int(r);
        }
        return tpl_float(fx + fy);
    case '-':
        if (ints) {
            if (__builtin_sub_overflow(x, y, &r))
                tpl_fail(rt, at, "integer overflow");
            return tpl_int(r);
        }
        return tpl_float(fx - fy);
    case '*':
        if (op[1] == '*') {
            if (ints && y >= 0) {
                int64_t p = 1;
                for (int64_t i = 0; i < y; i++)
                    if (__builtin_mul_overflow(p, x, &p))
                        tpl_fail(rt, at, "integer overflow");
                return tpl_int(p);
            }
            if (fx == 0 && fy < 0)
                tpl_fail(rt, at, "0.0 cannot be raised to a negative power");
            return tpl_float(pow(fx, fy));
        }
        if (ints) {
            if (__builtin_mul_overflow(x, y, &r))
                tpl_fail(rt, at, "integer overflow");
            return tpl_int(r);
        }
        return tpl_float(fx * fy);
    case '/':
        if (fy == 0)
            tpl_fail(rt, at, "division by zero");
        if (op[1] == '/') {
            if (ints) {
                if (x == INT64_MIN && y == -1)
                    tpl_fail(rt, at, "integer overflow");
                int64_t q = x / y;
                if ((x % y != 0) && ((x < 0) != (y < 0)))
                    q--;
                return tpl_int(q);
            }
            return tpl_float(floor(fx / fy));
        }
        return tpl_float(fx / fy);
    case '%':
        if (fy == 0)
            tpl_fail(rt, at, "modulo by zero");
        if (ints) {
            if (y == -1)
                return tpl_int(0);
            int64_t m = x % y;
            if (m != 0 && ((m < 0) != (y < 0)))
                m += y;
            return tpl_int(m);
        } else {
            double m = fmod(fx, fy);
            if (m != 0 && ((m < 0) != (fy < 0)))
                m += fy;
            return tpl_float(m);
        }
    }
    bad_operands(rt, at, op, a, b);
}

static int contains(tpl_rt *rt, const tpl_node *at, tpl_val needle, tpl_val hay)
{
    switch (hay.t) {
    case V_UNDEF: return 0;
    case V_STR:
        if (needle.t != V_STR)
            tpl_fail(rt, at, "'in <string>' requires a string as left operand, not %s",
                     tpl_type_name(needle));
        if (needle.u.s->n == 0)
            return 1;
        if (needle.u.s->n > hay.u.s->n)
            return 0;
        for (uint32_t i = 0; i + needle.u.s->n <= hay.u.s->n; i++)
            if (!memcmp(hay.u.s->s + i, needle.u.s->s, needle.u.s->n))
                return 1;
        return 0;
    case V_LIST:
        for (uint32_t i = 0; i < hay.u.l->n; i++)
            if (tpl_equal(needle, hay.u.l->v[i]))
                return 1;
        return 0;
    case V_DICT:
    case V_NS: {
        tpl_val o;
        return tpl_dict_get(hay.u.d, needle, &o);
    }
    default:
        tpl_fail(rt, at, "argument of type '%s' is not iterable", tpl_type_name(hay));
    }
}

static int compare_op(tpl_rt *rt, const tpl_node *at, const char *op, tpl_val a, tpl_val b)
{
    if (!strcmp(op, "=="))
        return tpl_equal(a, b);
    if (!strcmp(op, "!="))
        return !tpl_equal(a, b);
    if (!strcmp(op, "in"))
        return contains(rt, at, a, b);
    if (!strcmp(op, "ni"))
        return !contains(rt, at, a, b);
    if (a.t == V_UNDEF)
        undefined_error(rt, at, a);
    if (b.t == V_UNDEF)
        undefined_error(rt, at, b);
    int c = tpl_compare(rt, at, a, b);
    if (!strcmp(op, "<"))
        return c < 0;
    if (!strcmp(op, "<="))
        return c <= 0;
    if (!strcmp(op, ">"))
        return c > 0;
    return c >= 0;
}

tpl_val tpl_apply_filter(tpl_rt *rt, const tpl_node *f, tpl_val input)
{
    tpl_val in = f->a ? (f->a->kind == N_FILTER ? tpl_apply_filter(rt, f->a, input)
                                                : tpl_eval(rt, f->a))
                      : input;
    const tpl_builtin *b = tpl_find_filter(f->name);
    if (!b)
        tpl_fail(rt, f, "unknown filter '%s'", f->name);
    tpl_args a;
    tpl_eval_args(rt, f, &a);
    return b->fn(rt, f, in, &a);
}

tpl_val tpl_eval(tpl_rt *rt, const tpl_node *n)
{
    tpl_step(rt, n);
    enter(rt, n);
    tpl_val r;
    switch (n->kind) {
    case N_CONST: r = n->val; break;
    case N_NAME: r = lookup(rt, n->name); break;
    case N_LIST:
    case N_TUPLE: {
        tpl_list *l = tpl_list_new(rt, n->n + 1);
        for (uint32_t i = 0; i < n->n; i++)
            tpl_list_push(rt, l, tpl_eval(rt, n->list[i]));
        r = tpl_listv(l, n->kind == N_TUPLE);
        break;
    }
    case N_DICT: {
        tpl_dict *d = tpl_dict_new(rt, n->n / 2 + 1);
        for (uint32_t i = 0; i + 1 < n->n; i += 2) {
            tpl_val k = tpl_eval(rt, n->list[i]);
            if (k.t == V_LIST && !k.tuple)
                tpl_fail(rt, n->list[i], "unhashable type: 'list'");
            if (k.t == V_DICT)
                tpl_fail(rt, n->list[i], "unhashable type: 'dict'");
            tpl_dict_set(rt, d, k, tpl_eval(rt, n->list[i + 1]));
        }
        r = (tpl_val){.t = V_DICT};
        r.u.d = d;
        break;
    }
    case N_ATTR: r = tpl_getattr(rt, n, tpl_eval(rt, n->a), n->name); break;
    case N_ITEM: {
        tpl_val o = tpl_eval(rt, n->a);
        r = tpl_getitem(rt, n, o, tpl_eval(rt, n->b));
        break;
    }
    case N_SLICE: {
        tpl_val o = tpl_eval(rt, n->a);
        tpl_val sv[3] = {tpl_none(), tpl_none(), tpl_none()};
        if (n->b)
            sv[0] = tpl_eval(rt, n->b);
        if (n->c)
            sv[1] = tpl_eval(rt, n->c);
        if (n->d)
            sv[2] = tpl_eval(rt, n->d);
        r = do_slice(rt, n, o, sv);
        break;
    }
    case N_CALL: {
        tpl_val f = tpl_eval(rt, n->a);
        tpl_args a;
        tpl_eval_args(rt, n, &a);
        r = tpl_call(rt, n, f, &a);
        break;
    }
    case N_FILTER: r = tpl_apply_filter(rt, n, tpl_none()); break;
    case N_TEST: {
        tpl_val v = tpl_eval(rt, n->a);
        tpl_args a;
        tpl_eval_args(rt, n, &a);
        r = tpl_bool(tpl_run_test(rt, n, n->name, v, &a) ^ n->neg);
        break;
    }
    case N_NEG:
    case N_POS: {
        tpl_val v = tpl_eval(rt, n->a);
        if (v.t == V_UNDEF)
            undefined_error(rt, n, v);
        if (!is_num(v))
            tpl_fail(rt, n, "bad operand type for unary %c: '%s'", n->kind == N_NEG ? '-' : '+',
                     tpl_type_name(v));
        if (v.t == V_FLOAT)
            r = tpl_float(n->kind == N_NEG ? -v.u.f : v.u.f);
        else if (n->kind == N_NEG && inum(v) == INT64_MIN)
            tpl_fail(rt, n, "integer overflow");
        else
            r = tpl_int(n->kind == N_NEG ? -inum(v) : inum(v));
        break;
    }
    case N_NOT: r = tpl_bool(!tpl_truthy(tpl_eval(rt, n->a))); break;
    case N_AND: {
        tpl_val a = tpl_eval(rt, n->a);
        r = tpl_truthy(a) ? tpl_eval(rt, n->b) : a;
        break;
    }
    case N_OR: {
        tpl_val a = tpl_eval(rt, n->a);
        r = tpl_truthy(a) ? a : tpl_eval(rt, n->b);
        break;
    }
    case N_COND:
        if (tpl_truthy(tpl_eval(rt, n->b)))
            r = tpl_eval(rt, n->a);
        else
            r = n->c ? tpl_eval(rt, n->c) : tpl_undef(NULL);
        break;
    case N_BIN: {
        tpl_val a = tpl_eval(rt, n->a);
        tpl_val b = tpl_eval(rt, n->b);
        r = binop(rt, n, n->op, a, b);
        break;
    }
    case N_CONCAT: {
        tpl_sb b;
        tpl_sb_init(rt, &b, 64);
        for (uint32_t i = 0; i < n->n; i++) {
            const tpl_str *s = tpl_to_str(rt, n, tpl_eval(rt, n->list[i]));
            tpl_sb_add_str(rt, &b, s, 0, s->n, 0);
        }
        r = tpl_strv(tpl_sb_done(rt, &b));
        break;
    }
    case N_CMP: {
        tpl_val l = tpl_eval(rt, n->a);
        r = tpl_bool(1);
        for (uint32_t i = 0; i < n->n; i++) {
            tpl_val x = tpl_eval(rt, n->list[i]->a);
            if (!compare_op(rt, n->list[i], n->list[i]->op, l, x)) {
                r = tpl_bool(0);
                break;
            }
            l = x;
        }
        break;
    }
    default: tpl_fail(rt, n, "internal: not an expression");
    }
    rt->depth--;
    return r;
}

/* ---- statements ---- */

static void assign(tpl_rt *rt, const tpl_node *tgt, tpl_val v)
{
    if (tgt->kind == N_NAME) {
        scope_set(rt, rt->sc, tgt->name, v);
    } else if (tgt->kind == N_ATTR) {
        tpl_val ns = lookup(rt, tgt->a->name);
        if (ns.t != V_NS)
            tpl_fail(rt, tgt, "cannot set attribute '%s' of '%s': only namespace() objects "
                     "can be changed", tgt->name, tgt->a->name);
        tpl_dict_set(rt, ns.u.d, tpl_cstr(rt, tgt->name, strlen(tgt->name), 0), v);
    } else { /* tuple of names */
        const tpl_list *items = tpl_iter(rt, tgt, v);
        if (items->n != tgt->n)
            tpl_fail(rt, tgt, "cannot unpack %u values into %u names", items->n, tgt->n);
        for (uint32_t i = 0; i < tgt->n; i++)
            scope_set(rt, rt->sc, tgt->list[i]->name, items->v[i]);
    }
}

static void bind_targets(tpl_rt *rt, const tpl_node *n, tpl_val item)
{
    if (n->nnames == 1) {
        scope_set(rt, rt->sc, n->names[0], item);
        return;
    }
    const tpl_list *parts = tpl_iter(rt, n, item);
    if (parts->n != n->nnames)
        tpl_fail(rt, n, "cannot unpack %u values into %u loop variables", parts->n, n->nnames);
    for (uint32_t i = 0; i < n->nnames; i++)
        scope_set(rt, rt->sc, n->names[i], parts->v[i]);
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
            rt->sc = scope_new(rt, outer);
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
        rt->sc = scope_new(rt, outer);
        L->index0 = i;
        tpl_val lv = {.t = V_LOOP};
        lv.u.loop = L;
        scope_set(rt, rt->sc, "loop", lv);
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
    enter(rt, n);
    switch (n->kind) {
    case N_BLOCK:
        for (uint32_t i = 0; i < n->n && !rt->ctl; i++)
            tpl_exec(rt, n->list[i]);
        break;
    case N_TEXT: emit(rt, n, n->val.u.s); break;
    case N_OUT: emit(rt, n, tpl_to_str(rt, n, tpl_eval(rt, n->a))); break;
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
        const tpl_str *s = capture(rt, n->b);
        rt->gen = g;
        assign(rt, n->a, tpl_strv(s));
        break;
    }
    case N_MACRO: {
        tpl_val m = {.t = V_MACRO};
        m.u.macro = n;
        scope_set(rt, rt->sc, n->name, m);
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
        const tpl_str *s = capture(rt, n->b);
        rt->gen = g;
        emit(rt, n, tpl_to_str(rt, n, tpl_apply_filter(rt, n->a, tpl_strv(s))));
        break;
    }
    default: emit(rt, n, tpl_to_str(rt, n, tpl_eval(rt, n)));
    }
    rt->depth--;
}

/* ---- entry points ---- */

int yt_tpl_compile(yt_tpl **out, const char *src, size_t len, const char *name,
                   const yt_tpl_limits *lim, yt_err *e)
{
    *out = NULL;
    yt_tpl *t = calloc(1, sizeof *t);
    if (!t)
        return yt_errf(e, "%s: out of memory", name);
    t->name = strdup(name);
    if (!t->name) {
        free(t);
        return yt_errf(e, "%s: out of memory", name);
    }
    yt_tpl_limits d = {(size_t)64 << 20, (size_t)512 << 20, 50000000, 200};
    if (lim) {
        if (lim->max_output)
            d.max_output = lim->max_output;
        if (lim->max_memory)
            d.max_memory = lim->max_memory;
        if (lim->max_steps)
            d.max_steps = lim->max_steps;
        if (lim->max_depth)
            d.max_depth = lim->max_depth;
    }
    t->lim = d;
    if (len > ((size_t)16 << 20)) {
        yt_errf(e, "%s: template of %zu bytes is too large (16 MiB at most)", name, len);
        yt_tpl_free(t);
        return -1;
    }
    tpl_cc *c = calloc(1, sizeof *c);
    if (!c) {
        yt_tpl_free(t);
        return yt_errf(e, "%s: out of memory", name);
    }
    c->e = e;
    c->name = t->name;
    c->arena = &t->arena;
    c->max_depth = d.max_depth;
    if (setjmp(c->jb)) {
        free(c);
        yt_tpl_free(t);
        return -1;
    }
    tpl_lex(c, src, len);
    t->root = tpl_parse(c);
    t->has_generation = c->has_generation;
    free(c);
    *out = t;
    return 0;
}

void yt_tpl_free(yt_tpl *t)
{
    if (!t)
        return;
    tpl_arena_free(&t->arena);
    free(t->name);
    free(t);
}

const char *yt_tpl_name(const yt_tpl *t) { return t->name; }
int yt_tpl_has_generation(const yt_tpl *t) { return t->has_generation; }

void yt_tpl_out_free(yt_tpl_out *o)
{
    free(o->text);
    free(o->runs);
    memset(o, 0, sizeof *o);
}

static int copy_out(const tpl_sb *b, yt_tpl_out *o, const char *name, yt_err *e)
{
    if ((size_t)b->n + 1 > o->cap) {
        char *s = realloc(o->text, (size_t)b->n + 1);
        if (!s)
            return yt_errf(e, "%s: out of memory for %u bytes of output", name, b->n);
        o->text = s;
        o->cap = (size_t)b->n + 1;
    }
    memcpy(o->text, b->s, b->n);
    o->text[b->n] = 0;
    o->n = b->n;
    size_t nr = b->nruns ? b->nruns : (b->n ? 1 : 0);
    if (nr > o->rcap) {
        yt_tpl_run *r = realloc(o->runs, nr * sizeof *r);
        if (!r)
            return yt_errf(e, "%s: out of memory", name);
        o->runs = r;
        o->rcap = nr;
    }
    if (b->nruns)
        for (uint32_t i = 0; i < b->nruns; i++)
            o->runs[i] = (yt_tpl_run){b->runs[i].end, b->runs[i].tag};
    else if (b->n)
        o->runs[0] = (yt_tpl_run){b->n, 0};
    o->nruns = nr;
    return 0;
}

int yt_tpl_render(yt_tpl *t, json_t *vars, yt_tpl_out *out, yt_err *e)
{
    tpl_rt *rt = calloc(1, sizeof *rt);
    if (!rt)
        return yt_errf(e, "%s: out of memory", t->name);
    rt->e = e;
    rt->t = t;
    rt->arena.limit = t->lim.max_memory;
    if (setjmp(rt->jb)) {
        tpl_arena_free(&rt->arena);
        free(rt);
        return -1;
    }
    rt->top = scope_new(rt, NULL);
    rt->sc = rt->top;
    if (vars && json_is_object(vars)) {
        const char *k;
        json_t *v;
        json_object_foreach(vars, k, v)
        {
            tpl_val x;
            if (!strcmp(k, "messages") && json_is_array(v)) {
                tpl_list *l = tpl_list_new(rt, (uint32_t)json_array_size(v) + 1);
                size_t i;
                json_t *m;
                json_array_foreach(v, i, m)
                {
                    if (!json_is_object(m)) {
                        tpl_list_push(rt, l, tpl_from_json(rt, m, 0));
                        continue;
                    }
                    tpl_dict *d = tpl_dict_new(rt, (uint32_t)json_object_size(m) + 1);
                    const char *mk;
                    json_t *mv;
                    json_object_foreach(m, mk, mv)
                    {
                        uint32_t tag = !strcmp(mk, "content") ? (uint32_t)i + 1 : 0;
                        tpl_dict_set(rt, d, tpl_cstr(rt, mk, strlen(mk), 0),
                                     tpl_from_json(rt, mv, tag));
                    }
                    tpl_val dv = {.t = V_DICT};
                    dv.u.d = d;
                    tpl_list_push(rt, l, dv);
                }
                x = tpl_listv(l, 0);
            } else {
                x = tpl_from_json(rt, v, 0);
            }
            size_t kl = strlen(k);
            char *kc = tpl_alloc(rt, kl + 1);
            memcpy(kc, k, kl + 1);
            scope_set(rt, rt->top, kc, x);
        }
    }
    tpl_sb top;
    tpl_sb_init(rt, &top, 4096);
    rt->out = &top;
    tpl_exec(rt, t->root);
    int rc = copy_out(&top, out, t->name, e);
    tpl_arena_free(&rt->arena);
    free(rt);
    return rc;
}
