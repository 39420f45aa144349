/* Parser of expressions, with jinja2's grammar and operator precedence (or < and <
 * not < comparisons < + - < ~ < * / // % < ** < unary < filters/tests < postfix),
 * and the token-cursor helpers the statement parser shares. */
#include "datasets/template/tpl_parser.h"

#include <stdio.h>
#include <string.h>

tpl_tok *tpl_p_cur(tpl_cc *c) { return &c->toks[c->pos]; }
tpl_tok *tpl_p_peek(tpl_cc *c, size_t k)
{
    return &c->toks[c->pos + k < c->ntoks ? c->pos + k : c->ntoks - 1];
}
void tpl_p_next(tpl_cc *c)
{
    if (c->pos + 1 < c->ntoks)
        c->pos++;
}

int tpl_p_is_op(const tpl_tok *t, const char *op)
{
    return t->type == T_OP && t->n == strlen(op) && !memcmp(t->s, op, t->n);
}
int tpl_p_is_name(const tpl_tok *t, const char *nm)
{
    return t->type == T_NAME && t->n == strlen(nm) && !memcmp(t->s, nm, t->n);
}

static const char *tpl_p_tok_desc(const tpl_tok *t, char buf[64])
{
    switch (t->type) {
    case T_EOF: return "end of template";
    case T_BLOCK_END: return "end of tag '%}'";
    case T_VAR_END: return "end of expression '}}'";
    case T_TEXT: return "text";
    default: snprintf(buf, 64, "'%.*s'", (int)(t->n > 40 ? 40 : t->n), t->s); return buf;
    }
}

_Noreturn void tpl_p_unexpected(tpl_cc *c, const char *want)
{
    char b[64];
    tpl_tok *t = tpl_p_cur(c);
    tpl_cc_fail(c, t->line, t->col, "expected %s, found %s", want, tpl_p_tok_desc(t, b));
}

void tpl_p_expect_op(tpl_cc *c, const char *op)
{
    if (!tpl_p_is_op(tpl_p_cur(c), op)) {
        char w[16];
        snprintf(w, sizeof w, "'%s'", op);
        tpl_p_unexpected(c, w);
    }
    tpl_p_next(c);
}

const char *tpl_p_name_str(tpl_cc *c, const tpl_tok *t)
{
    char *s = tpl_cc_alloc(c, t->n + 1);
    memcpy(s, t->s, t->n);
    s[t->n] = 0;
    return s;
}

const char *tpl_p_expect_name(tpl_cc *c, const char *what)
{
    if (tpl_p_cur(c)->type != T_NAME)
        tpl_p_unexpected(c, what);
    const char *s = tpl_p_name_str(c, tpl_p_cur(c));
    tpl_p_next(c);
    return s;
}

tpl_node *tpl_p_node(tpl_cc *c, int kind, const tpl_tok *at)
{
    tpl_node *n = tpl_cc_alloc(c, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->line = at->line;
    n->col = at->col;
    return n;
}

/* growable node list */
void tpl_p_nl_push(tpl_cc *c, nlist *l, tpl_node *x, const char *kw)
{
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 8;
        tpl_node **v = tpl_cc_alloc(c, cap * sizeof *v);
        const char **k = tpl_cc_alloc(c, cap * sizeof *k);
        if (l->n) {
            memcpy(v, l->v, l->n * sizeof *v);
            memcpy(k, l->kw, l->n * sizeof *k);
        }
        l->v = v;
        l->kw = k;
        l->cap = cap;
    }
    l->kw[l->n] = kw;
    l->v[l->n++] = x;
}

void tpl_p_enter(tpl_cc *c)
{
    if (++c->depth > c->max_depth)
        tpl_cc_fail(c, tpl_p_cur(c)->line, tpl_p_cur(c)->col, "nested deeper than %d levels", c->max_depth);
}

static tpl_node *parse_or(tpl_cc *c);
static tpl_node *parse_unary(tpl_cc *c, int with_filter);
static tpl_node *parse_primary(tpl_cc *c);
static tpl_node *parse_postfix(tpl_cc *c, tpl_node *n);

/* "a, b, c" -> N_TUPLE (or the one expression when there is no comma). */
tpl_node *tpl_p_tuple(tpl_cc *c, int with_cond, int explicit_parens)
{
    tpl_tok *start = tpl_p_cur(c);
    nlist l = {0};
    int comma = 0;
    for (;;) {
        if (l.n && !comma)
            break;
        tpl_tok *t = tpl_p_cur(c);
        if (t->type == T_VAR_END || t->type == T_BLOCK_END || t->type == T_EOF ||
            tpl_p_is_op(t, ")") || (l.n && (tpl_p_is_name(t, "in") || tpl_p_is_name(t, "if") || tpl_p_is_op(t, "="))))
            break;
        tpl_p_nl_push(c, &l, with_cond ? tpl_p_expr(c, 1) : parse_or(c), NULL);
        comma = tpl_p_is_op(tpl_p_cur(c), ",");
        if (comma)
            tpl_p_next(c);
        else
            break;
    }
    if (l.n == 1 && !comma)
        return l.v[0];
    if (l.n == 0 && !explicit_parens)
        tpl_p_unexpected(c, "an expression");
    tpl_node *n = tpl_p_node(c, N_TUPLE, start);
    n->list = l.v;
    n->n = l.n;
    return n;
}

static void parse_call_args(tpl_cc *c, tpl_node *n)
{
    tpl_p_expect_op(c, "(");
    nlist l = {0};
    while (!tpl_p_is_op(tpl_p_cur(c), ")")) {
        if (l.n)
            tpl_p_expect_op(c, ",");
        if (tpl_p_is_op(tpl_p_cur(c), ")"))
            break;
        const char *kw = NULL;
        if (tpl_p_is_op(tpl_p_cur(c), "*") || tpl_p_is_op(tpl_p_cur(c), "**")) { /* f(*list), f(**dict) */
            kw = tpl_p_is_op(tpl_p_cur(c), "*") ? "*" : "**";
            tpl_p_next(c);
        } else if (tpl_p_cur(c)->type == T_NAME && tpl_p_is_op(tpl_p_peek(c, 1), "=")) {
            kw = tpl_p_name_str(c, tpl_p_cur(c));
            tpl_p_next(c);
            tpl_p_next(c);
        } else {
            for (uint32_t i = 0; i < l.n; i++)
                if (l.kw[i] && strcmp(l.kw[i], "*"))
                    tpl_cc_fail(c, tpl_p_cur(c)->line, tpl_p_cur(c)->col,
                                "positional argument after a keyword argument");
        }
        tpl_p_nl_push(c, &l, tpl_p_expr(c, 1), kw);
    }
    tpl_p_next(c);
    n->list = l.v;
    n->kw = l.kw;
    n->n = l.n;
}

static const char *dotted_name(tpl_cc *c, const char *what)
{
    const char *nm = tpl_p_expect_name(c, what);
    while (tpl_p_is_op(tpl_p_cur(c), ".") && tpl_p_peek(c, 1)->type == T_NAME) {
        tpl_p_next(c);
        const char *more = tpl_p_expect_name(c, what);
        size_t a = strlen(nm), b = strlen(more);
        char *j = tpl_cc_alloc(c, a + b + 2);
        memcpy(j, nm, a);
        j[a] = '.';
        memcpy(j + a + 1, more, b + 1);
        nm = j;
    }
    return nm;
}

tpl_node *tpl_p_filter(tpl_cc *c, tpl_node *input)
{
    tpl_tok *at = tpl_p_cur(c);
    tpl_node *n = tpl_p_node(c, N_FILTER, at);
    n->a = input;
    n->name = dotted_name(c, "a filter name");
    if (!tpl_find_filter(n->name))
        tpl_cc_fail(c, at->line, at->col, "unknown filter '%s'", n->name);
    if (tpl_p_is_op(tpl_p_cur(c), "("))
        parse_call_args(c, n);
    return n;
}

static tpl_node *parse_test(tpl_cc *c, tpl_node *input)
{
    tpl_tok *at = tpl_p_cur(c);
    tpl_node *n = tpl_p_node(c, N_TEST, at);
    n->a = input;
    if (tpl_p_is_name(tpl_p_cur(c), "not")) {
        n->neg = 1;
        tpl_p_next(c);
    }
    tpl_tok *nt = tpl_p_cur(c);
    n->name = dotted_name(c, "a test name");
    if (!tpl_find_test(n->name))
        tpl_cc_fail(c, nt->line, nt->col, "unknown test '%s'", n->name);
    tpl_tok *t = tpl_p_cur(c);
    if (tpl_p_is_op(t, "(")) {
        parse_call_args(c, n);
    } else if ((t->type == T_NAME || t->type == T_STRING || t->type == T_INT ||
                t->type == T_FLOAT || tpl_p_is_op(t, "(") || tpl_p_is_op(t, "[") || tpl_p_is_op(t, "{")) &&
               !tpl_p_is_name(t, "else") && !tpl_p_is_name(t, "or") && !tpl_p_is_name(t, "and")) {
        if (tpl_p_is_name(t, "is"))
            tpl_cc_fail(c, t->line, t->col, "tests cannot be chained with 'is'");
        tpl_node *arg = parse_postfix(c, parse_primary(c));
        n->list = tpl_cc_alloc(c, sizeof *n->list);
        n->kw = tpl_cc_alloc(c, sizeof *n->kw);
        n->list[0] = arg;
        n->kw[0] = NULL;
        n->n = 1;
    }
    return n;
}

static tpl_node *parse_filter_expr(tpl_cc *c, tpl_node *n)
{
    for (;;) {
        if (tpl_p_is_op(tpl_p_cur(c), "|")) {
            tpl_p_next(c);
            n = tpl_p_filter(c, n);
        } else if (tpl_p_is_name(tpl_p_cur(c), "is")) {
            tpl_p_next(c);
            n = parse_test(c, n);
        } else if (tpl_p_is_op(tpl_p_cur(c), "(")) {
            tpl_node *call = tpl_p_node(c, N_CALL, tpl_p_cur(c));
            call->a = n;
            parse_call_args(c, call);
            n = call;
        } else {
            return n;
        }
    }
}

static tpl_node *parse_subscript(tpl_cc *c, tpl_node *obj)
{
    tpl_tok *at = tpl_p_cur(c);
    if (tpl_p_is_op(at, ".")) {
        tpl_p_next(c);
        tpl_tok *t = tpl_p_cur(c);
        if (t->type == T_NAME) {
            tpl_node *n = tpl_p_node(c, N_ATTR, at);
            n->a = obj;
            n->name = tpl_p_name_str(c, t);
            tpl_p_next(c);
            return n;
        }
        if (t->type == T_INT) {
            tpl_node *n = tpl_p_node(c, N_ITEM, at);
            n->a = obj;
            n->b = tpl_p_node(c, N_CONST, t);
            n->b->val = tpl_int(t->i);
            tpl_p_next(c);
            return n;
        }
        tpl_p_unexpected(c, "an attribute name");
    }
    tpl_p_next(c); /* [ */
    tpl_node *parts[3] = {NULL, NULL, NULL};
    int colons = 0;
    for (;;) {
        if (tpl_p_is_op(tpl_p_cur(c), "]"))
            break;
        if (tpl_p_is_op(tpl_p_cur(c), ":")) {
            if (++colons > 2)
                tpl_p_unexpected(c, "']'");
            tpl_p_next(c);
            continue;
        }
        if (parts[colons])
            tpl_p_unexpected(c, "':' or ']'");
        parts[colons] = colons ? tpl_p_expr(c, 1) : tpl_p_tuple(c, 1, 0);
    }
    tpl_p_next(c);
    tpl_node *n;
    if (colons) {
        n = tpl_p_node(c, N_SLICE, at);
        n->b = parts[0];
        n->c = parts[1];
        n->d = parts[2];
    } else {
        if (!parts[0])
            tpl_p_unexpected(c, "an index");
        n = tpl_p_node(c, N_ITEM, at);
        n->b = parts[0];
    }
    n->a = obj;
    return n;
}

static tpl_node *parse_postfix(tpl_cc *c, tpl_node *n)
{
    for (;;) {
        if (tpl_p_is_op(tpl_p_cur(c), ".") || tpl_p_is_op(tpl_p_cur(c), "[")) {
            n = parse_subscript(c, n);
        } else if (tpl_p_is_op(tpl_p_cur(c), "(")) {
            tpl_node *call = tpl_p_node(c, N_CALL, tpl_p_cur(c));
            call->a = n;
            parse_call_args(c, call);
            n = call;
        } else {
            return n;
        }
    }
}

static tpl_node *parse_primary(tpl_cc *c)
{
    tpl_tok *t = tpl_p_cur(c);
    tpl_node *n;
    tpl_p_enter(c);
    switch (t->type) {
    case T_NAME:
        n = tpl_p_node(c, N_CONST, t);
        if (tpl_p_is_name(t, "true") || tpl_p_is_name(t, "True"))
            n->val = tpl_bool(1);
        else if (tpl_p_is_name(t, "false") || tpl_p_is_name(t, "False"))
            n->val = tpl_bool(0);
        else if (tpl_p_is_name(t, "none") || tpl_p_is_name(t, "None"))
            n->val = tpl_none();
        else {
            n->kind = N_NAME;
            n->name = tpl_p_name_str(c, t);
        }
        tpl_p_next(c);
        break;
    case T_STRING: {
        /* adjacent literals concatenate */
        size_t len = 0, k = c->pos;
        while (c->toks[k].type == T_STRING)
            len += c->toks[k++].n;
        char *s = tpl_cc_alloc(c, len + 1);
        len = 0;
        while (tpl_p_cur(c)->type == T_STRING) {
            memcpy(s + len, tpl_p_cur(c)->s, tpl_p_cur(c)->n);
            len += tpl_p_cur(c)->n;
            tpl_p_next(c);
        }
        s[len] = 0;
        tpl_str *str = tpl_cc_alloc(c, sizeof *str);
        *str = (tpl_str){s, (uint32_t)len, 0, NULL};
        n = tpl_p_node(c, N_CONST, t);
        n->val = tpl_strv(str);
        break;
    }
    case T_INT:
        n = tpl_p_node(c, N_CONST, t);
        n->val = tpl_int(t->i);
        tpl_p_next(c);
        break;
    case T_FLOAT:
        n = tpl_p_node(c, N_CONST, t);
        n->val = tpl_float(t->f);
        tpl_p_next(c);
        break;
    default:
        if (tpl_p_is_op(t, "(")) {
            tpl_p_next(c);
            n = tpl_p_tuple(c, 1, 1);
            tpl_p_expect_op(c, ")");
        } else if (tpl_p_is_op(t, "[")) {
            tpl_p_next(c);
            nlist l = {0};
            while (!tpl_p_is_op(tpl_p_cur(c), "]")) {
                if (l.n)
                    tpl_p_expect_op(c, ",");
                if (tpl_p_is_op(tpl_p_cur(c), "]"))
                    break;
                tpl_p_nl_push(c, &l, tpl_p_expr(c, 1), NULL);
            }
            tpl_p_next(c);
            n = tpl_p_node(c, N_LIST, t);
            n->list = l.v;
            n->n = l.n;
        } else if (tpl_p_is_op(t, "{")) {
            tpl_p_next(c);
            nlist l = {0};
            while (!tpl_p_is_op(tpl_p_cur(c), "}")) {
                if (l.n)
                    tpl_p_expect_op(c, ",");
                if (tpl_p_is_op(tpl_p_cur(c), "}"))
                    break;
                tpl_p_nl_push(c, &l, tpl_p_expr(c, 1), NULL);
                tpl_p_expect_op(c, ":");
                tpl_p_nl_push(c, &l, tpl_p_expr(c, 1), NULL);
            }
            tpl_p_next(c);
            n = tpl_p_node(c, N_DICT, t);
            n->list = l.v;
            n->n = l.n;
        } else {
            tpl_p_unexpected(c, "an expression");
        }
    }
    c->depth--;
    return n;
}

static tpl_node *parse_unary(tpl_cc *c, int with_filter)
{
    tpl_tok *t = tpl_p_cur(c);
    tpl_node *n;
    tpl_p_enter(c);
    if (tpl_p_is_op(t, "-") || tpl_p_is_op(t, "+")) {
        tpl_p_next(c);
        n = tpl_p_node(c, tpl_p_is_op(t, "-") ? N_NEG : N_POS, t);
        n->a = parse_unary(c, 0);
    } else {
        n = parse_primary(c);
    }
    n = parse_postfix(c, n);
    if (with_filter)
        n = parse_filter_expr(c, n);
    c->depth--;
    return n;
}

static tpl_node *binary(tpl_cc *c, const tpl_tok *at, const char *op, tpl_node *l, tpl_node *r)
{
    tpl_node *n = tpl_p_node(c, N_BIN, at);
    snprintf(n->op, sizeof n->op, "%s", op);
    n->a = l;
    n->b = r;
    return n;
}

static tpl_node *parse_pow(tpl_cc *c)
{
    tpl_node *l = parse_unary(c, 1);
    while (tpl_p_is_op(tpl_p_cur(c), "**")) {
        tpl_tok *t = tpl_p_cur(c);
        tpl_p_next(c);
        l = binary(c, t, "**", l, parse_unary(c, 1));
    }
    return l;
}

static tpl_node *parse_math2(tpl_cc *c)
{
    tpl_node *l = parse_pow(c);
    for (;;) {
        tpl_tok *t = tpl_p_cur(c);
        const char *op = tpl_p_is_op(t, "*") ? "*" : tpl_p_is_op(t, "/") ? "/" : tpl_p_is_op(t, "//") ? "//"
                       : tpl_p_is_op(t, "%") ? "%" : NULL;
        if (!op)
            return l;
        tpl_p_next(c);
        l = binary(c, t, op, l, parse_pow(c));
    }
}

static tpl_node *parse_concat(tpl_cc *c)
{
    tpl_node *l = parse_math2(c);
    if (!tpl_p_is_op(tpl_p_cur(c), "~"))
        return l;
    nlist args = {0};
    tpl_tok *at = tpl_p_cur(c);
    tpl_p_nl_push(c, &args, l, NULL);
    while (tpl_p_is_op(tpl_p_cur(c), "~")) {
        tpl_p_next(c);
        tpl_p_nl_push(c, &args, parse_math2(c), NULL);
    }
    tpl_node *n = tpl_p_node(c, N_CONCAT, at);
    n->list = args.v;
    n->n = args.n;
    return n;
}

static tpl_node *parse_math1(tpl_cc *c)
{
    tpl_node *l = parse_concat(c);
    for (;;) {
        tpl_tok *t = tpl_p_cur(c);
        const char *op = tpl_p_is_op(t, "+") ? "+" : tpl_p_is_op(t, "-") ? "-" : NULL;
        if (!op)
            return l;
        tpl_p_next(c);
        l = binary(c, t, op, l, parse_concat(c));
    }
}

static tpl_node *parse_compare(tpl_cc *c)
{
    tpl_node *l = parse_math1(c);
    nlist ops = {0};
    tpl_tok *at = tpl_p_cur(c);
    for (;;) {
        tpl_tok *t = tpl_p_cur(c);
        const char *op = NULL;
        static const char *const cmp[] = {"==", "!=", "<", "<=", ">", ">=", NULL};
        for (int i = 0; cmp[i]; i++)
            if (tpl_p_is_op(t, cmp[i]))
                op = cmp[i];
        if (op) {
            tpl_p_next(c);
        } else if (tpl_p_is_name(t, "in")) {
            op = "in";
            tpl_p_next(c);
        } else if (tpl_p_is_name(t, "not") && tpl_p_is_name(tpl_p_peek(c, 1), "in")) {
            op = "ni";
            tpl_p_next(c);
            tpl_p_next(c);
        } else {
            break;
        }
        tpl_node *o = tpl_p_node(c, N_CONST, t);
        snprintf(o->op, sizeof o->op, "%s", op);
        o->a = parse_math1(c);
        tpl_p_nl_push(c, &ops, o, NULL);
    }
    if (!ops.n)
        return l;
    tpl_node *n = tpl_p_node(c, N_CMP, at);
    n->a = l;
    n->list = ops.v;
    n->n = ops.n;
    return n;
}

static tpl_node *parse_not(tpl_cc *c)
{
    if (tpl_p_is_name(tpl_p_cur(c), "not")) {
        tpl_tok *t = tpl_p_cur(c);
        tpl_p_next(c);
        tpl_p_enter(c);
        tpl_node *n = tpl_p_node(c, N_NOT, t);
        n->a = parse_not(c);
        c->depth--;
        return n;
    }
    return parse_compare(c);
}

static tpl_node *parse_and(tpl_cc *c)
{
    tpl_node *l = parse_not(c);
    while (tpl_p_is_name(tpl_p_cur(c), "and")) {
        tpl_tok *t = tpl_p_cur(c);
        tpl_p_next(c);
        tpl_node *n = tpl_p_node(c, N_AND, t);
        n->a = l;
        n->b = parse_not(c);
        l = n;
    }
    return l;
}

static tpl_node *parse_or(tpl_cc *c)
{
    tpl_node *l = parse_and(c);
    while (tpl_p_is_name(tpl_p_cur(c), "or")) {
        tpl_tok *t = tpl_p_cur(c);
        tpl_p_next(c);
        tpl_node *n = tpl_p_node(c, N_OR, t);
        n->a = l;
        n->b = parse_and(c);
        l = n;
    }
    return l;
}

tpl_node *tpl_p_expr(tpl_cc *c, int with_cond)
{
    tpl_p_enter(c);
    tpl_node *e = parse_or(c);
    while (with_cond && tpl_p_is_name(tpl_p_cur(c), "if")) {
        tpl_tok *t = tpl_p_cur(c);
        tpl_p_next(c);
        tpl_node *n = tpl_p_node(c, N_COND, t);
        n->a = e;
        n->b = parse_or(c);
        if (tpl_p_is_name(tpl_p_cur(c), "else")) {
            tpl_p_next(c);
            n->c = tpl_p_expr(c, 1);
        }
        e = n;
    }
    c->depth--;
    return e;
}
