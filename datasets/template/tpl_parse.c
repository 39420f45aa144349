/* Parser of statements: text, {{ }} output, if/elif/else, for (unpacking, loop
 * filter, else), set (names, tuples, ns.attr, blocks), macro, filter blocks,
 * generation, break/continue; unsupported tags are refused by name. */
#include "datasets/template/tpl_parser.h"

#include <string.h>

static void expect_block_end(tpl_cc *c)
{
    if (tpl_p_cur(c)->type != T_BLOCK_END)
        tpl_p_unexpected(c, "'%}'");
    tpl_p_next(c);
}

/* Parses statements until a block tag whose name is one of ENDS (NULL-terminated);
 * leaves the position on that name.  ENDS NULL: until the end of the template. */
static tpl_node *subparse(tpl_cc *c, const char *const *ends, const tpl_tok *opened,
                          const char *what);

static int ends_match(const tpl_tok *t, const char *const *ends)
{
    for (int i = 0; ends && ends[i]; i++)
        if (tpl_p_is_name(t, ends[i]))
            return 1;
    return 0;
}

static tpl_node *assign_target(tpl_cc *c, int allow_attr)
{
    tpl_tok *t = tpl_p_cur(c);
    if (allow_attr && t->type == T_NAME && tpl_p_is_op(tpl_p_peek(c, 1), ".") && tpl_p_peek(c, 2)->type == T_NAME) {
        tpl_node *n = tpl_p_node(c, N_ATTR, t);
        n->a = tpl_p_node(c, N_NAME, t);
        n->a->name = tpl_p_expect_name(c, "a name");
        tpl_p_next(c);
        n->name = tpl_p_expect_name(c, "an attribute name");
        return n;
    }
    int paren = tpl_p_is_op(t, "(");
    if (paren)
        tpl_p_next(c);
    nlist l = {0};
    for (;;) {
        tpl_node *x = tpl_p_node(c, N_NAME, tpl_p_cur(c));
        x->name = tpl_p_expect_name(c, "a variable name");
        tpl_p_nl_push(c, &l, x, NULL);
        if (!tpl_p_is_op(tpl_p_cur(c), ","))
            break;
        tpl_p_next(c);
        if (paren && tpl_p_is_op(tpl_p_cur(c), ")"))
            break;
    }
    if (paren)
        tpl_p_expect_op(c, ")");
    if (l.n == 1 && !paren)
        return l.v[0];
    tpl_node *n = tpl_p_node(c, N_TUPLE, t);
    n->list = l.v;
    n->n = l.n;
    return n;
}

static tpl_node *parse_for(tpl_cc *c, const tpl_tok *at)
{
    tpl_node *n = tpl_p_node(c, N_FOR, at);
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
    if (!tpl_p_is_name(tpl_p_cur(c), "in"))
        tpl_p_unexpected(c, "'in'");
    tpl_p_next(c);
    n->a = tpl_p_tuple(c, 0, 0);
    if (tpl_p_is_name(tpl_p_cur(c), "if")) {
        tpl_p_next(c);
        n->d = tpl_p_expr(c, 1);
    }
    if (tpl_p_is_name(tpl_p_cur(c), "recursive"))
        tpl_cc_fail(c, tpl_p_cur(c)->line, tpl_p_cur(c)->col, "recursive for loops are not supported");
    expect_block_end(c);
    c->loop_depth++;
    static const char *const ends[] = {"endfor", "else", NULL};
    n->b = subparse(c, ends, at, "for");
    c->loop_depth--;
    if (tpl_p_is_name(tpl_p_cur(c), "else")) {
        tpl_p_next(c);
        expect_block_end(c);
        static const char *const ends2[] = {"endfor", NULL};
        n->c = subparse(c, ends2, at, "for");
    }
    tpl_p_next(c);
    expect_block_end(c);
    return n;
}

static tpl_node *parse_if(tpl_cc *c, const tpl_tok *at)
{
    tpl_node *n = tpl_p_node(c, N_IF, at);
    n->a = tpl_p_tuple(c, 0, 0);
    expect_block_end(c);
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    n->b = subparse(c, ends, at, "if");
    tpl_tok *t = tpl_p_cur(c);
    if (tpl_p_is_name(t, "elif")) {
        tpl_p_next(c);
        n->c = parse_if(c, t); /* consumes through endif */
        return n;
    }
    if (tpl_p_is_name(t, "else")) {
        tpl_p_next(c);
        expect_block_end(c);
        static const char *const ends2[] = {"endif", NULL};
        n->c = subparse(c, ends2, at, "if");
    }
    tpl_p_next(c);
    expect_block_end(c);
    return n;
}

static tpl_node *parse_block_stmt(tpl_cc *c, const tpl_tok *at, int kind, const char *end,
                                  const char *what)
{
    tpl_node *n = tpl_p_node(c, kind, at);
    expect_block_end(c);
    const char *ends[] = {end, NULL};
    n->b = subparse(c, ends, at, what);
    tpl_p_next(c);
    expect_block_end(c);
    return n;
}

static tpl_node *parse_stmt(tpl_cc *c)
{
    tpl_tok *at = tpl_p_cur(c); /* the name after {% */
    if (at->type != T_NAME)
        tpl_p_unexpected(c, "a statement name");
    tpl_p_next(c);
    if (tpl_p_is_name(at, "if"))
        return parse_if(c, at);
    if (tpl_p_is_name(at, "for"))
        return parse_for(c, at);
    if (tpl_p_is_name(at, "set")) {
        tpl_node *tgt = assign_target(c, 1);
        if (tpl_p_is_op(tpl_p_cur(c), "=")) {
            tpl_p_next(c);
            tpl_node *n = tpl_p_node(c, N_SET, at);
            n->a = tgt;
            n->b = tpl_p_tuple(c, 1, 0);
            expect_block_end(c);
            return n;
        }
        if (tgt->kind != N_NAME)
            tpl_p_unexpected(c, "'='");
        tpl_node *n = parse_block_stmt(c, at, N_SETBLOCK, "endset", "set");
        n->a = tgt;
        return n;
    }
    if (tpl_p_is_name(at, "macro")) {
        tpl_node *n = tpl_p_node(c, N_MACRO, at);
        n->name = tpl_p_expect_name(c, "a macro name");
        tpl_p_expect_op(c, "(");
        nlist defs = {0};
        const char **names = NULL;
        uint32_t nn = 0, cap = 0;
        while (!tpl_p_is_op(tpl_p_cur(c), ")")) {
            if (nn)
                tpl_p_expect_op(c, ",");
            if (tpl_p_is_op(tpl_p_cur(c), ")"))
                break;
            if (nn == cap) {
                cap = cap ? cap * 2 : 8;
                const char **v = tpl_cc_alloc(c, cap * sizeof *v);
                if (nn)
                    memcpy(v, names, nn * sizeof *v);
                names = v;
            }
            names[nn++] = tpl_p_expect_name(c, "a parameter name");
            tpl_node *d = NULL;
            if (tpl_p_is_op(tpl_p_cur(c), "=")) {
                tpl_p_next(c);
                d = tpl_p_expr(c, 1);
            }
            tpl_p_nl_push(c, &defs, d, NULL);
        }
        tpl_p_next(c);
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
        tpl_p_next(c);
        expect_block_end(c);
        return n;
    }
    if (tpl_p_is_name(at, "generation")) {
        c->has_generation = 1;
        return parse_block_stmt(c, at, N_GEN, "endgeneration", "generation");
    }
    if (tpl_p_is_name(at, "filter")) {
        tpl_node *f = tpl_p_filter(c, NULL);
        while (tpl_p_is_op(tpl_p_cur(c), "|")) {
            tpl_p_next(c);
            f = tpl_p_filter(c, f);
        }
        tpl_node *n = parse_block_stmt(c, at, N_FILTERBLOCK, "endfilter", "filter");
        n->a = f;
        return n;
    }
    if (tpl_p_is_name(at, "break") || tpl_p_is_name(at, "continue")) {
        if (!c->loop_depth)
            tpl_cc_fail(c, at->line, at->col, "'%.*s' outside a for loop", (int)at->n, at->s);
        tpl_node *n = tpl_p_node(c, tpl_p_is_name(at, "break") ? N_BREAK : N_CONTINUE, at);
        expect_block_end(c);
        return n;
    }
    if (tpl_p_is_name(at, "include") || tpl_p_is_name(at, "extends") || tpl_p_is_name(at, "import") ||
        tpl_p_is_name(at, "from") || tpl_p_is_name(at, "raw") || tpl_p_is_name(at, "call") || tpl_p_is_name(at, "block") ||
        tpl_p_is_name(at, "do") || tpl_p_is_name(at, "with") || tpl_p_is_name(at, "autoescape") || tpl_p_is_name(at, "trans"))
        tpl_cc_fail(c, at->line, at->col, "'{%% %.*s %%}' is not supported by yieldtune's chat "
                    "template interpreter", (int)at->n, at->s);
    tpl_cc_fail(c, at->line, at->col, "unknown statement '%.*s'", (int)at->n, at->s);
}

static tpl_node *subparse(tpl_cc *c, const char *const *ends, const tpl_tok *opened,
                          const char *what)
{
    tpl_node *blk = tpl_p_node(c, N_BLOCK, tpl_p_cur(c));
    nlist l = {0};
    tpl_p_enter(c);
    for (;;) {
        tpl_tok *t = tpl_p_cur(c);
        if (t->type == T_EOF) {
            if (ends)
                tpl_cc_fail(c, opened->line, opened->col,
                            "'%s' block opened here is never closed (expected '{%% %s %%}')",
                            what, ends[0]);
            break;
        }
        if (t->type == T_TEXT) {
            tpl_node *x = tpl_p_node(c, N_TEXT, t);
            tpl_str *s = tpl_cc_alloc(c, sizeof *s);
            *s = (tpl_str){t->s, t->n, 0, NULL};
            x->val = tpl_strv(s);
            tpl_p_nl_push(c, &l, x, NULL);
            tpl_p_next(c);
        } else if (t->type == T_VAR_BEGIN) {
            tpl_p_next(c);
            tpl_node *x = tpl_p_node(c, N_OUT, t);
            x->a = tpl_p_tuple(c, 1, 0);
            if (tpl_p_cur(c)->type != T_VAR_END)
                tpl_p_unexpected(c, "'}}'");
            tpl_p_next(c);
            tpl_p_nl_push(c, &l, x, NULL);
        } else if (t->type == T_BLOCK_BEGIN) {
            tpl_tok *nm = tpl_p_peek(c, 1);
            if (ends_match(nm, ends)) {
                tpl_p_next(c); /* leave the position on the end name */
                break;
            }
            static const char *const stray[] = {"endif", "endfor", "endset", "endmacro",
                                                "endgeneration", "endfilter", "elif", "else",
                                                NULL};
            if (ends_match(nm, stray))
                tpl_cc_fail(c, nm->line, nm->col, "unexpected '%.*s'%s%s%s", (int)nm->n, nm->s,
                            ends ? " inside a '" : "", ends ? what : "", ends ? "' block" : "");
            tpl_p_next(c);
            tpl_p_nl_push(c, &l, parse_stmt(c), NULL);
        } else {
            tpl_p_unexpected(c, "text or a tag");
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
    return subparse(c, NULL, tpl_p_cur(c), "template");
}
