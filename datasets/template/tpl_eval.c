/* Expressions: Python's operators on template values, comparisons, the arguments
 * of calls, filters and tests applied, and the dispatch over expression nodes. */
#include "datasets/template/tpl_internal.h"

#include <math.h>
#include <string.h>

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
        tpl_undefined_error(rt, at, a);
    if (b.t == V_UNDEF)
        tpl_undefined_error(rt, at, b);
    tpl_fail(rt, at, "unsupported operand type(s) for %s: '%s' and '%s'", op, tpl_type_name(a),
             tpl_type_name(b));
}

static tpl_val repeat(tpl_rt *rt, const tpl_node *at, tpl_val seq, int64_t k)
{
    /* An empty sequence repeated stays empty: no loop of k rounds ('' * 10 ** 10). */
    if (k < 0 || (seq.t == V_STR ? seq.u.s->n : seq.u.l->n) == 0)
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

/* a ** b: exact for integers with b >= 0, else pow() as Python's float does. */
static tpl_val power(tpl_rt *rt, const tpl_node *at, tpl_val a, tpl_val b, int ints)
{
    int64_t x = inum(a), y = inum(b);
    double fx = fnum(a), fy = fnum(b);
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

/* / // %: floor division and a modulo with the divisor's sign, as in Python. */
static tpl_val divide(tpl_rt *rt, const tpl_node *at, const char *op, tpl_val a, tpl_val b,
                      int ints)
{
    int64_t x = inum(a), y = inum(b);
    double fx = fnum(a), fy = fnum(b);
    if (op[0] == '/') {
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
    }
    if (fy == 0)
        tpl_fail(rt, at, "modulo by zero");
    if (ints) {
        if (y == -1)
            return tpl_int(0);
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0)))
            m += y;
        return tpl_int(m);
    }
    double m = fmod(fx, fy);
    if (m != 0 && ((m < 0) != (fy < 0)))
        m += fy;
    return tpl_float(m);
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
        if (op[1] == '*')
            return power(rt, at, a, b, ints);
        if (ints) {
            if (__builtin_mul_overflow(x, y, &r))
                tpl_fail(rt, at, "integer overflow");
            return tpl_int(r);
        }
        return tpl_float(fx * fy);
    case '/':
    case '%': return divide(rt, at, op, a, b, ints);
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
        tpl_undefined_error(rt, at, a);
    if (b.t == V_UNDEF)
        tpl_undefined_error(rt, at, b);
    int c = tpl_compare(rt, at, a, b);
    if (!strcmp(op, "<"))
        return c < 0;
    if (!strcmp(op, "<="))
        return c <= 0;
    if (!strcmp(op, ">"))
        return c > 0;
    return c >= 0;
}

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

static tpl_val eval_dict(tpl_rt *rt, const tpl_node *n)
{
    tpl_dict *d = tpl_dict_new(rt, n->n / 2 + 1);
    for (uint32_t i = 0; i + 1 < n->n; i += 2) {
        tpl_val k = tpl_eval(rt, n->list[i]);
        if (k.t == V_LIST && !k.tuple)
            tpl_fail(rt, n->list[i], "unhashable type: 'list'");
        if (k.t == V_DICT)
            tpl_fail(rt, n->list[i], "unhashable type: 'dict'");
        tpl_dict_set(rt, d, k, tpl_eval(rt, n->list[i + 1]));
    }
    tpl_val r = {.t = V_DICT};
    r.u.d = d;
    return r;
}

static tpl_val eval_slice(tpl_rt *rt, const tpl_node *n)
{
    tpl_val o = tpl_eval(rt, n->a);
    tpl_val sv[3] = {tpl_none(), tpl_none(), tpl_none()};
    if (n->b)
        sv[0] = tpl_eval(rt, n->b);
    if (n->c)
        sv[1] = tpl_eval(rt, n->c);
    if (n->d)
        sv[2] = tpl_eval(rt, n->d);
    return tpl_do_slice(rt, n, o, sv);
}

/* N_CALL and N_TEST: the callee or tested value first, then the arguments. */
static tpl_val eval_call(tpl_rt *rt, const tpl_node *n)
{
    tpl_val v = tpl_eval(rt, n->a);
    tpl_args a;
    tpl_eval_args(rt, n, &a);
    if (n->kind == N_CALL)
        return tpl_call(rt, n, v, &a);
    return tpl_bool(tpl_run_test(rt, n, n->name, v, &a) ^ n->neg);
}

static tpl_val eval_sign(tpl_rt *rt, const tpl_node *n)
{
    tpl_val v = tpl_eval(rt, n->a);
    if (v.t == V_UNDEF)
        tpl_undefined_error(rt, n, v);
    if (!is_num(v))
        tpl_fail(rt, n, "bad operand type for unary %c: '%s'", n->kind == N_NEG ? '-' : '+',
                 tpl_type_name(v));
    if (v.t == V_FLOAT)
        return tpl_float(n->kind == N_NEG ? -v.u.f : v.u.f);
    if (n->kind == N_NEG && inum(v) == INT64_MIN)
        tpl_fail(rt, n, "integer overflow");
    return tpl_int(n->kind == N_NEG ? -inum(v) : inum(v));
}

static tpl_val eval_concat(tpl_rt *rt, const tpl_node *n)
{
    tpl_sb b;
    tpl_sb_init(rt, &b, 64);
    for (uint32_t i = 0; i < n->n; i++) {
        const tpl_str *s = tpl_to_str(rt, n, tpl_eval(rt, n->list[i]));
        tpl_sb_add_str(rt, &b, s, 0, s->n, 0);
    }
    return tpl_strv(tpl_sb_done(rt, &b));
}

/* a < b <= c: each operand evaluated once, stopping at the first false link. */
static tpl_val eval_chain(tpl_rt *rt, const tpl_node *n)
{
    tpl_val l = tpl_eval(rt, n->a);
    for (uint32_t i = 0; i < n->n; i++) {
        tpl_val x = tpl_eval(rt, n->list[i]->a);
        if (!compare_op(rt, n->list[i], n->list[i]->op, l, x))
            return tpl_bool(0);
        l = x;
    }
    return tpl_bool(1);
}

tpl_val tpl_eval(tpl_rt *rt, const tpl_node *n)
{
    tpl_step(rt, n);
    tpl_enter(rt, n);
    tpl_val r;
    switch (n->kind) {
    case N_CONST: r = n->val; break;
    case N_NAME: r = tpl_lookup(rt, n->name); break;
    case N_LIST:
    case N_TUPLE: {
        tpl_list *l = tpl_list_new(rt, n->n + 1);
        for (uint32_t i = 0; i < n->n; i++)
            tpl_list_push(rt, l, tpl_eval(rt, n->list[i]));
        r = tpl_listv(l, n->kind == N_TUPLE);
        break;
    }
    case N_DICT: r = eval_dict(rt, n); break;
    case N_ATTR: r = tpl_getattr(rt, n, tpl_eval(rt, n->a), n->name); break;
    case N_ITEM: {
        tpl_val o = tpl_eval(rt, n->a);
        r = tpl_getitem(rt, n, o, tpl_eval(rt, n->b));
        break;
    }
    case N_SLICE: r = eval_slice(rt, n); break;
    case N_CALL:
    case N_TEST: r = eval_call(rt, n); break;
    case N_FILTER: r = tpl_apply_filter(rt, n, tpl_none()); break;
    case N_NEG:
    case N_POS: r = eval_sign(rt, n); break;
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
    case N_CONCAT: r = eval_concat(rt, n); break;
    case N_CMP: r = eval_chain(rt, n); break;
    default: tpl_fail(rt, n, "internal: not an expression");
    }
    rt->depth--;
    return r;
}
