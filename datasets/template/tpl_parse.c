/* Parser: tokens -> syntax tree, with jinja2's grammar and operator precedence
 * (or < and < not < comparisons < + - < ~ < * / // % < ** < unary < filters/tests
 * < postfix), statements if/for/set/macro/filter/generation/break/continue. */
#include "datasets/template/tpl_internal.h"

#include <string.h>

static tpl_tok *cur(tpl_cc *c) { return &c->toks[c->pos]; }
static tpl_tok *peek(tpl_cc *c, size_t k)
{
    return &c->toks[c->pos + k < c->ntoks ? c->pos + k : c->ntoks - 1];
}
static void next(tpl_cc *c)
{
    if (c->pos + 1 < c->ntoks)
        c->pos++;
}

static int is_op(const tpl_tok *t, const char *op)
{
    return t->type == T_OP && t->n == strlen(op) && !memcmp(t->s, op, t->n);
}
static int is_name(const tpl_tok *t, const char *nm)
{
    return t->type == T_NAME && t->n == strlen(nm) && !memcmp(t->s, nm, t->n);
}

static const char *tok_desc(const tpl_tok *t, char buf[64])
{
    switch (t->type) {
    case T_EOF: return "end of template";
    case T_BLOCK_END: return "end of tag '%}'";
    case T_VAR_END: return "end of expression '}}'";
    case T_TEXT: return "text";
    default: snprintf(buf, 64, "'%.*s'", (int)(t->n > 40 ? 40 : t->n), t->s); return buf;
    }
}

_Noreturn static void unexpected(tpl_cc *c, const char *want)
{
    char b[64];
    tpl_tok *t = cur(c);
    tpl_cc_fail(c, t->line, t->col, "expected %s, found %s", want, tok_desc(t, b));
}

static void expect_op(tpl_cc *c, const char *op)
{
    if (!is_op(cur(c), op)) {
        char w[16];
        snprintf(w, sizeof w, "'%s'", op);
        unexpected(c, w);
    }
    next(c);
}

static const char *name_str(tpl_cc *c, const tpl_tok *t)
{
    char *s = tpl_cc_alloc(c, t->n + 1);
    memcpy(s, t->s, t->n);
    s[t->n] = 0;
    return s;
}

static const char *expect_name(tpl_cc *c, const char *what)
{
    if (cur(c)->type != T_NAME)
        unexpected(c, what);
    const char *s = name_str(c, cur(c));
    next(c);
    return s;
}

static tpl_node *node(tpl_cc *c, int kind, const tpl_tok *at)
{
    tpl_node *n = tpl_cc_alloc(c, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->line = at->line;
    n->col = at->col;
    return n;
}

/* growable node list */
typedef struct nlist {
    tpl_node **v;
    const char **kw;
    uint32_t n, cap;
} nlist;

static void nl_push(tpl_cc *c, nlist *l, tpl_node *x, const char *kw)
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

static void enter(tpl_cc *c)
{
    if (++c->depth > c->max_depth)
        tpl_cc_fail(c, cur(c)->line, cur(c)->col, "nested deeper than %d levels", c->max_depth);
}

static tpl_node *parse_expr(tpl_cc *c, int with_cond);
static tpl_node *parse_or(tpl_cc *c);
static tpl_node *parse_unary(tpl_cc *c, int with_filter);
static tpl_node *parse_primary(tpl_cc *c);
static tpl_node *parse_postfix(tpl_cc *c, tpl_node *n);

/* "a, b, c" -> N_TUPLE (or the one expression when there is no comma). */
static tpl_node *parse_tuple(tpl_cc *c, int with_cond, int explicit_parens)
{
    tpl_tok *start = cur(c);
    nlist l = {0};
    int comma = 0;
    for (;;) {
        if (l.n && !comma)
            break;
        tpl_tok *t = cur(c);
        if (t->type == T_VAR_END || t->type == T_BLOCK_END || t->type == T_EOF ||
            is_op(t, ")") || (l.n && (is_name(t, "in") || is_name(t, "if") || is_op(t, "="))))
            break;
        nl_push(c, &l, with_cond ? parse_expr(c, 1) : parse_or(c), NULL);
        comma = is_op(cur(c), ",");
        if (comma)
            next(c);
        else
            break;
    }
    if (l.n == 1 && !comma)
        return l.v[0];
    if (l.n == 0 && !explicit_parens)
        unexpected(c, "an expression");
    tpl_node *n = node(c, N_TUPLE, start);
    n->list = l.v;
    n->n = l.n;
    return n;
}

static void parse_call_args(tpl_cc *c, tpl_node *n)
{
    expect_op(c, "(");
    nlist l = {0};
    while (!is_op(cur(c), ")")) {
        if (l.n)
            expect_op(c, ",");
        if (is_op(cur(c), ")"))
            break;
        const char *kw = NULL;
        if (is_op(cur(c), "*") || is_op(cur(c), "**")) { /* f(*list), f(**dict) */
            kw = is_op(cur(c), "*") ? "*" : "**";
            next(c);
        } else if (cur(c)->type == T_NAME && is_op(peek(c, 1), "=")) {
            kw = name_str(c, cur(c));
            next(c);
            next(c);
        } else {
            for (uint32_t i = 0; i < l.n; i++)
                if (l.kw[i] && strcmp(l.kw[i], "*"))
                    tpl_cc_fail(c, cur(c)->line, cur(c)->col,
                                "positional argument after a keyword argument");
        }
        nl_push(c, &l, parse_expr(c, 1), kw);
    }
    next(c);
    n->list = l.v;
    n->kw = l.kw;
    n->n = l.n;
}

static const char *dotted_name(tpl_cc *c, const char *what)
{
    const char *nm = expect_name(c, what);
    while (is_op(cur(c), ".") && peek(c, 1)->type == T_NAME) {
        next(c);
        const char *more = expect_name(c, what);
        size_t a = strlen(nm), b = strlen(more);
        char *j = tpl_cc_alloc(c, a + b + 2);
        memcpy(j, nm, a);
        j[a] = '.';
        memcpy(j + a + 1, more, b + 1);
        nm = j;
    }
    return nm;
}

static tpl_node *parse_filter(tpl_cc *c, tpl_node *input)
{
    tpl_tok *at = cur(c);
    tpl_node *n = node(c, N_FILTER, at);
    n->a = input;
    n->name = dotted_name(c, "a filter name");
    if (!tpl_find_filter(n->name))
        tpl_cc_fail(c, at->line, at->col, "unknown filter '%s'", n->name);
    if (is_op(cur(c), "("))
        parse_call_args(c, n);
    return n;
}

static tpl_node *parse_test(tpl_cc *c, tpl_node *input)
{
    tpl_tok *at = cur(c);
    tpl_node *n = node(c, N_TEST, at);
    n->a = input;
    if (is_name(cur(c), "not")) {
        n->neg = 1;
        next(c);
    }
    tpl_tok *nt = cur(c);
    n->name = dotted_name(c, "a test name");
    if (!tpl_find_test(n->name))
        tpl_cc_fail(c, nt->line, nt->col, "unknown test '%s'", n->name);
    tpl_tok *t = cur(c);
    if (is_op(t, "(")) {
        parse_call_args(c, n);
    } else if ((t->type == T_NAME || t->type == T_STRING || t->type == T_INT ||
                t->type == T_FLOAT || is_op(t, "(") || is_op(t, "[") || is_op(t, "{")) &&
               !is_name(t, "else") && !is_name(t, "or") && !is_name(t, "and")) {
        if (is_name(t, "is"))
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
        if (is_op(cur(c), "|")) {
            next(c);
            n = parse_filter(c, n);
        } else if (is_name(cur(c), "is")) {
            next(c);
            n = parse_test(c, n);
        } else if (is_op(cur(c), "(")) {
            tpl_node *call = node(c, N_CALL, cur(c));
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
    tpl_tok *at = cur(c);
    if (is_op(at, ".")) {
        next(c);
        tpl_tok *t = cur(c);
        if (t->type == T_NAME) {
            tpl_node *n = node(c, N_ATTR, at);
            n->a = obj;
            n->name = name_str(c, t);
            next(c);
            return n;
        }
        if (t->type == T_INT) {
            tpl_node *n = node(c, N_ITEM, at);
            n->a = obj;
            n->b = node(c, N_CONST, t);
            n->b->val = tpl_int(t->i);
            next(c);
            return n;
        }
        unexpected(c, "an attribute name");
    }
    next(c); /* [ */
    tpl_node *parts[3] = {NULL, NULL, NULL};
    int colons = 0;
    for (;;) {
        if (is_op(cur(c), "]"))
            break;
        if (is_op(cur(c), ":")) {
            if (++colons > 2)
                unexpected(c, "']'");
            next(c);
            continue;
        }
        if (parts[colons])
            unexpected(c, "':' or ']'");
        parts[colons] = colons ? parse_expr(c, 1) : parse_tuple(c, 1, 0);
    }
    next(c);
    tpl_node *n;
    if (colons) {
        n = node(c, N_SLICE, at);
        n->b = parts[0];
        n->c = parts[1];
        n->d = parts[2];
    } else {
        if (!parts[0])
            unexpected(c, "an index");
        n = node(c, N_ITEM, at);
        n->b = parts[0];
    }
    n->a = obj;
    return n;
}

static tpl_node *parse_postfix(tpl_cc *c, tpl_node *n)
{
    for (;;) {
        if (is_op(cur(c), ".") || is_op(cur(c), "[")) {
            n = parse_subscript(c, n);
        } else if (is_op(cur(c), "(")) {
            tpl_node *call = node(c, N_CALL, cur(c));
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
    tpl_tok *t = cur(c);
    tpl_node *n;
    enter(c);
    switch (t->type) {
    case T_NAME:
        n = node(c, N_CONST, t);
        if (is_name(t, "true") || is_name(t, "True"))
            n->val = tpl_bool(1);
        else if (is_name(t, "false") || is_name(t, "False"))
            n->val = tpl_bool(0);
        else if (is_name(t, "none") || is_name(t, "None"))
            n->val = tpl_none();
        else {
            n->kind = N_NAME;
            n->name = name_str(c, t);
        }
        next(c);
        break;
    case T_STRING: {
        /* adjacent literals concatenate */
        size_t len = 0, k = c->pos;
        while (c->toks[k].type == T_STRING)
            len += c->toks[k++].n;
        char *s = tpl_cc_alloc(c, len + 1);
        len = 0;
        while (cur(c)->type == T_STRING) {
            memcpy(s + len, cur(c)->s, cur(c)->n);
            len += cur(c)->n;
            next(c);
        }
        s[len] = 0;
        tpl_str *str = tpl_cc_alloc(c, sizeof *str);
        *str = (tpl_str){s, (uint32_t)len, 0, NULL};
        n = node(c, N_CONST, t);
        n->val = tpl_strv(str);
        break;
    }
    case T_INT:
        n = node(c, N_CONST, t);
        n->val = tpl_int(t->i);
        next(c);
        break;
    case T_FLOAT:
        n = node(c, N_CONST, t);
        n->val = tpl_float(t->f);
        next(c);
        break;
    default:
        if (is_op(t, "(")) {
            next(c);
            n = parse_tuple(c, 1, 1);
            expect_op(c, ")");
        } else if (is_op(t, "[")) {
            next(c);
            nlist l = {0};
            while (!is_op(cur(c), "]")) {
                if (l.n)
                    expect_op(c, ",");
                if (is_op(cur(c), "]"))
                    break;
                nl_push(c, &l, parse_expr(c, 1), NULL);
            }
            next(c);
            n = node(c, N_LIST, t);
            n->list = l.v;
            n->n = l.n;
        } else if (is_op(t, "{")) {
            next(c);
            nlist l = {0};
            while (!is_op(cur(c), "}")) {
                if (l.n)
                    expect_op(c, ",");
                if (is_op(cur(c), "}"))
                    break;
                nl_push(c, &l, parse_expr(c, 1), NULL);
                expect_op(c, ":");
                nl_push(c, &l, parse_expr(c, 1), NULL);
            }
            next(c);
            n = node(c, N_DICT, t);
            n->list = l.v;
            n->n = l.n;
        } else {
            unexpected(c, "an expression");
        }
    }
    c->depth--;
    return n;
}

static tpl_node *parse_unary(tpl_cc *c, int with_filter)
{
    tpl_tok *t = cur(c);
    tpl_node *n;
    enter(c);
    if (is_op(t, "-") || is_op(t, "+")) {
        next(c);
        n = node(c, is_op(t, "-") ? N_NEG : N_POS, t);
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
    tpl_node *n = node(c, N_BIN, at);
    snprintf(n->op, sizeof n->op, "%s", op);
    n->a = l;
    n->b = r;
    return n;
}

static tpl_node *parse_pow(tpl_cc *c)
{
    tpl_node *l = parse_unary(c, 1);
    while (is_op(cur(c), "**")) {
        tpl_tok *t = cur(c);
        next(c);
        l = binary(c, t, "**", l, parse_unary(c, 1));
    }
    return l;
}

static tpl_node *parse_math2(tpl_cc *c)
{
    tpl_node *l = parse_pow(c);
    for (;;) {
        tpl_tok *t = cur(c);
        const char *op = is_op(t, "*") ? "*" : is_op(t, "/") ? "/" : is_op(t, "//") ? "//"
                       : is_op(t, "%") ? "%" : NULL;
        if (!op)
            return l;
        next(c);
        l = binary(c, t, op, l, parse_pow(c));
    }
}

static tpl_node *parse_concat(tpl_cc *c)
{
    tpl_node *l = parse_math2(c);
    if (!is_op(cur(c), "~"))
        return l;
    nlist args = {0};
    tpl_tok *at = cur(c);
    nl_push(c, &args, l, NULL);
    while (is_op(cur(c), "~")) {
        next(c);
        nl_push(c, &args, parse_math2(c), NULL);
    }
    tpl_node *n = node(c, N_CONCAT, at);
    n->list = args.v;
    n->n = args.n;
    return n;
}

static tpl_node *parse_math1(tpl_cc *c)
{
    tpl_node *l = parse_concat(c);
    for (;;) {
        tpl_tok *t = cur(c);
        const char *op = is_op(t, "+") ? "+" : is_op(t, "-") ? "-" : NULL;
        if (!op)
            return l;
        next(c);
        l = binary(c, t, op, l, parse_concat(c));
    }
}

static tpl_node *parse_compare(tpl_cc *c)
{
    tpl_node *l = parse_math1(c);
    nlist ops = {0};
    tpl_tok *at = cur(c);
    for (;;) {
        tpl_tok *t = cur(c);
        const char *op = NULL;
        static const char *const cmp[] = {"==", "!=", "<", "<=", ">", ">=", NULL};
        for (int i = 0; cmp[i]; i++)
            if (is_op(t, cmp[i]))
                op = cmp[i];
        if (op) {
            next(c);
        } else if (is_name(t, "in")) {
            op = "in";
            next(c);
        } else if (is_name(t, "not") && is_name(peek(c, 1), "in")) {
            op = "ni";
            next(c);
            next(c);
        } else {
            break;
        }
        tpl_node *o = node(c, N_CONST, t);
        snprintf(o->op, sizeof o->op, "%s", op);
        o->a = parse_math1(c);
        nl_push(c, &ops, o, NULL);
    }
    if (!ops.n)
        return l;
    tpl_node *n = node(c, N_CMP, at);
    n->a = l;
    n->list = ops.v;
    n->n = ops.n;
    return n;
}

static tpl_node *parse_not(tpl_cc *c)
{
    if (is_name(cur(c), "not")) {
        tpl_tok *t = cur(c);
        next(c);
        enter(c);
        tpl_node *n = node(c, N_NOT, t);
        n->a = parse_not(c);
        c->depth--;
        return n;
    }
    return parse_compare(c);
}

static tpl_node *parse_and(tpl_cc *c)
{
    tpl_node *l = parse_not(c);
    while (is_name(cur(c), "and")) {
        tpl_tok *t = cur(c);
        next(c);
        tpl_node *n = node(c, N_AND, t);
        n->a = l;
        n->b = parse_not(c);
        l = n;
    }
    return l;
}

static tpl_node *parse_or(tpl_cc *c)
{
    tpl_node *l = parse_and(c);
    while (is_name(cur(c), "or")) {
        tpl_tok *t = cur(c);
        next(c);
        tpl_node *n = node(c, N_OR, t);
        n->a = l;
        n->b = parse_and(c);
        l = n;
    }
    return l;
}

static tpl_node *parse_expr(tpl_cc *c, int with_cond)
{
    enter(c);
    tpl_node *e = parse_or(c);
    while (with_cond && is_name(cur(c), "if")) {
        tpl_tok *t = cur(c);
        next(c);
        tpl_node *n = node(c, N_COND, t);
        n->a = e;
        n->b = parse_or(c);
        if (is_name(cur(c), "else")) {
            next(c);
            n->c = parse_expr(c, 1);
        }
        e = n;
    }
    c->depth--;
    return e;
}

/* ---- statements ---- */

static void expect_block_end(tpl_cc *c)
{
    if (cur(c)->type != T_BLOCK_END)
        unexpected(c, "'%}'");
    next(c);
}

/* Parses statements until a block tag whose name is one of ENDS (NULL-terminated);
 * leaves the position on that name.  ENDS NULL: until the end of the template. */
static tpl_node *subparse(tpl_cc *c, const char *const *ends, const tpl_tok *opened,
                          const char *what);

static int ends_match(const tpl_tok *t, const char *const *ends)
{
    for (int i = 0; ends && ends[i]; i++)
        if (is_name(t, ends[i]))
            return 1;
    return 0;
}

static tpl_node *assign_target(tpl_cc *c, int allow_attr)
{
    tpl_tok *t = cur(c);
    if (allow_attr && t->type == T_NAME && is_op(peek(c, 1), ".") && peek(c, 2)->type == T_NAME) {
        tpl_node *n = node(c, N_ATTR, t);
        n->a = node(c, N_NAME, t);
        n->a->name = expect_name(c, "a name");
        next(c);
        n->name = expect_name(c, "an attribute name");
        return n;
    }
    int paren = is_op(t, "(");
    if (paren)
        next(c);
    nlist l = {0};
    for (;;) {
        tpl_node *x = node(c, N_NAME, cur(c));
        x->name = expect_name(c, "a variable name");
        nl_push(c, &l, x, NULL);
        if (!is_op(cur(c), ","))
            break;
        next(c);
        if (paren && is_op(cur(c), ")"))
            break;
    }
    if (paren)
        expect_op(c, ")");
    if (l.n == 1 && !paren)
        return l.v[0];
    tpl_node *n = node(c, N_TUPLE, t);
    n->list = l.v;
    n->n = l.n;
    return n;
}

static tpl_node *parse_for(tpl_cc *c, const tpl_tok *at)
{
    tpl_node *n = node(c, N_FOR, at);
    tpl_node *tgt = assign_target(c, 0);
    if (tgt->kind == N_NAME) {
        n->names = tpl_cc_alloc(c, sizeof *n->names);
        n->names[0] = tgt->name;
        n->nnames = 1;
    } else {
        n->names = tpl_cc_alloc(c, tgt->n * sizeof *n->names);
        for (uint32_t i = 0; i < tgt->n; i++)
            n->names[i] = tgt->list[i]->name;
        n->nnames = tgt->n;
    }
    if (!is_name(cur(c), "in"))
        unexpected(c, "'in'");
    next(c);
    n->a = parse_tuple(c, 0, 0);
    if (is_name(cur(c), "if")) {
        next(c);
        n->d = parse_expr(c, 1);
    }
    if (is_name(cur(c), "recursive"))
        tpl_cc_fail(c, cur(c)->line, cur(c)->col, "recursive for loops are not supported");
    expect_block_end(c);
    c->loop_depth++;
    static const char *const ends[] = {"endfor", "else", NULL};
    n->b = subparse(c, ends, at, "for");
    c->loop_depth--;
    if (is_name(cur(c), "else")) {
        next(c);
        expect_block_end(c);
        static const char *const ends2[] = {"endfor", NULL};
        n->c = subparse(c, ends2, at, "for");
    }
    next(c);
    expect_block_end(c);
    return n;
}

static tpl_node *parse_if(tpl_cc *c, const tpl_tok *at)
{
    tpl_node *n = node(c, N_IF, at);
    n->a = parse_tuple(c, 0, 0);
    expect_block_end(c);
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    n->b = subparse(c, ends, at, "if");
    tpl_tok *t = cur(c);
    if (is_name(t, "elif")) {
        next(c);
        n->c = parse_if(c, t); /* consumes through endif */
        return n;
    }
    if (is_name(t, "else")) {
        next(c);
        expect_block_end(c);
        static const char *const ends2[] = {"endif", NULL};
        n->c = subparse(c, ends2, at, "if");
    }
    next(c);
    expect_block_end(c);
    return n;
}

static tpl_node *parse_block_stmt(tpl_cc *c, const tpl_tok *at, int kind, const char *end,
                                  const char *what)
{
    tpl_node *n = node(c, kind, at);
    expect_block_end(c);
    const char *ends[] = {end, NULL};
    n->b = subparse(c, ends, at, what);
    next(c);
    expect_block_end(c);
    return n;
}

static tpl_node *parse_stmt(tpl_cc *c)
{
    tpl_tok *at = cur(c); /* the name after {% */
    if (at->type != T_NAME)
        unexpected(c, "a statement name");
    next(c);
    if (is_name(at, "if"))
        return parse_if(c, at);
    if (is_name(at, "for"))
        return parse_for(c, at);
    if (is_name(at, "set")) {
        tpl_node *tgt = assign_target(c, 1);
        if (is_op(cur(c), "=")) {
            next(c);
            tpl_node *n = node(c, N_SET, at);
            n->a = tgt;
            n->b = parse_tuple(c, 1, 0);
            expect_block_end(c);
            return n;
        }
        if (tgt->kind != N_NAME)
            unexpected(c, "'='");
        tpl_node *n = parse_block_stmt(c, at, N_SETBLOCK, "endset", "set");
        n->a = tgt;
        return n;
    }
    if (is_name(at, "macro")) {
        tpl_node *n = node(c, N_MACRO, at);
        n->name = expect_name(c, "a macro name");
        expect_op(c, "(");
        nlist defs = {0};
        const char **names = NULL;
        uint32_t nn = 0, cap = 0;
        while (!is_op(cur(c), ")")) {
            if (nn)
                expect_op(c, ",");
            if (is_op(cur(c), ")"))
                break;
            if (nn == cap) {
                cap = cap ? cap * 2 : 8;
                const char **v = tpl_cc_alloc(c, cap * sizeof *v);
                if (nn)
                    memcpy(v, names, nn * sizeof *v);
                names = v;
            }
            names[nn++] = expect_name(c, "a parameter name");
            tpl_node *d = NULL;
            if (is_op(cur(c), "=")) {
                next(c);
                d = parse_expr(c, 1);
            }
            nl_push(c, &defs, d, NULL);
        }
        next(c);
        n->names = names;
        n->nnames = nn;
        n->list = defs.v;
        n->n = defs.n;
        expect_block_end(c);
        int saved = c->loop_depth;
        c->loop_depth = 0;
        static const char *const ends[] = {"endmacro", NULL};
        n->b = subparse(c, ends, at, "macro");
        c->loop_depth = saved;
        next(c);
        expect_block_end(c);
        return n;
    }
    if (is_name(at, "generation")) {
        c->has_generation = 1;
        return parse_block_stmt(c, at, N_GEN, "endgeneration", "generation");
    }
    if (is_name(at, "filter")) {
        tpl_node *f = parse_filter(c, NULL);
        while (is_op(cur(c), "|")) {
            next(c);
            f = parse_filter(c, f);
        }
        tpl_node *n = parse_block_stmt(c, at, N_FILTERBLOCK, "endfilter", "filter");
        n->a = f;
        return n;
    }
    if (is_name(at, "break") || is_name(at, "continue")) {
        if (!c->loop_depth)
            tpl_cc_fail(c, at->line, at->col, "'%.*s' outside a for loop", (int)at->n, at->s);
        tpl_node *n = node(c, is_name(at, "break") ? N_BREAK : N_CONTINUE, at);
        expect_block_end(c);
        return n;
    }
    if (is_name(at, "include") || is_name(at, "extends") || is_name(at, "import") ||
        is_name(at, "from") || is_name(at, "raw") || is_name(at, "call") || is_name(at, "block") ||
        is_name(at, "do") || is_name(at, "with") || is_name(at, "autoescape") || is_name(at, "trans"))
        tpl_cc_fail(c, at->line, at->col, "'{%% %.*s %%}' is not supported by yieldtune's chat "
                    "template interpreter", (int)at->n, at->s);
    tpl_cc_fail(c, at->line, at->col, "unknown statement '%.*s'", (int)at->n, at->s);
}

static tpl_node *subparse(tpl_cc *c, const char *const *ends, const tpl_tok *opened,
                          const char *what)
{
    tpl_node *blk = node(c, N_BLOCK, cur(c));
    nlist l = {0};
    enter(c);
    for (;;) {
        tpl_tok *t = cur(c);
        if (t->type == T_EOF) {
            if (ends)
                tpl_cc_fail(c, opened->line, opened->col,
                            "'%s' block opened here is never closed (expected '{%% %s %%}')",
                            what, ends[0]);
            break;
        }
        if (t->type == T_TEXT) {
            tpl_node *x = node(c, N_TEXT, t);
            tpl_str *s = tpl_cc_alloc(c, sizeof *s);
            *s = (tpl_str){t->s, t->n, 0, NULL};
            x->val = tpl_strv(s);
            nl_push(c, &l, x, NULL);
            next(c);
        } else if (t->type == T_VAR_BEGIN) {
            next(c);
            tpl_node *x = node(c, N_OUT, t);
            x->a = parse_tuple(c, 1, 0);
            if (cur(c)->type != T_VAR_END)
                unexpected(c, "'}}'");
            next(c);
            nl_push(c, &l, x, NULL);
        } else if (t->type == T_BLOCK_BEGIN) {
            tpl_tok *nm = peek(c, 1);
            if (ends_match(nm, ends)) {
                next(c); /* leave the position on the end name */
                break;
            }
            static const char *const stray[] = {"endif", "endfor", "endset", "endmacro",
                                                "endgeneration", "endfilter", "elif", "else",
                                                NULL};
            if (ends_match(nm, stray))
                tpl_cc_fail(c, nm->line, nm->col, "unexpected '%.*s'%s%s%s", (int)nm->n, nm->s,
                            ends ? " inside a '" : "", ends ? what : "", ends ? "' block" : "");
            next(c);
            nl_push(c, &l, parse_stmt(c), NULL);
        } else {
            unexpected(c, "text or a tag");
        }
    }
    c->depth--;
    blk->list = l.v;
    blk->n = l.n;
    return blk;
}

tpl_node *tpl_parse(tpl_cc *c)
{
    c->pos = 0;
    return subparse(c, NULL, cur(c), "template");
}
