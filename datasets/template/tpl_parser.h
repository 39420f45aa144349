/* datasets/template parser internals shared by tpl_parse_expr.c (expressions) and
 * tpl_parse.c (statements): token cursor, node construction, growable node lists. */
#ifndef YT_TPL_PARSER_H
#define YT_TPL_PARSER_H

#include "datasets/template/tpl_internal.h"

typedef struct nlist {
    tpl_node **v;
    const char **kw;
    uint32_t n, cap;
} nlist;

tpl_tok *tpl_p_cur(tpl_cc *c);
tpl_tok *tpl_p_peek(tpl_cc *c, size_t k);
void tpl_p_next(tpl_cc *c);
int tpl_p_is_op(const tpl_tok *t, const char *op);
int tpl_p_is_name(const tpl_tok *t, const char *nm);
_Noreturn void tpl_p_unexpected(tpl_cc *c, const char *want);
void tpl_p_expect_op(tpl_cc *c, const char *op);
const char *tpl_p_name_str(tpl_cc *c, const tpl_tok *t);
const char *tpl_p_expect_name(tpl_cc *c, const char *what);
tpl_node *tpl_p_node(tpl_cc *c, int kind, const tpl_tok *at);
void tpl_p_nl_push(tpl_cc *c, nlist *l, tpl_node *x, const char *kw);
/* nesting depth + 1 (checked against the limit); callers do c->depth-- */
void tpl_p_enter(tpl_cc *c);
/* expressions: with_cond allows "a if b else c" */
tpl_node *tpl_p_expr(tpl_cc *c, int with_cond);
/* "a, b" -> N_TUPLE (or the one expression without a comma) */
tpl_node *tpl_p_tuple(tpl_cc *c, int with_cond, int explicit_parens);
/* one filter "name(args)" applied to input (NULL in {% filter %} blocks) */
tpl_node *tpl_p_filter(tpl_cc *c, tpl_node *input);

#endif
