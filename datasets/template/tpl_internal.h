/* datasets/template internals (not a contract; see template.h): arena, tagged
 * strings, values, tokens, syntax tree and the render state shared by the tpl_*.c
 * files.  Errors unwind with longjmp to the compile or render entry point. */
#ifndef YT_TPL_INTERNAL_H
#define YT_TPL_INTERNAL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "datasets/template/template.h"

/* ---- arena: every allocation of a compile or a render; freed at once ---- */
typedef struct tpl_chunk tpl_chunk;
typedef struct tpl_arena {
    tpl_chunk *head;
    size_t total, limit; /* bytes obtained from malloc; limit 0 = none */
} tpl_arena;

/* NULL when out of memory or over the limit. */
void *tpl_arena_alloc(tpl_arena *a, size_t n);
void tpl_arena_free(tpl_arena *a);

/* ---- tagged strings: runs[i] covers bytes [runs[i-1].end, runs[i].end) ---- */
typedef struct tpl_run {
    uint32_t end;
    uint32_t tag;
} tpl_run;

typedef struct tpl_str {
    const char *s;       /* NUL-terminated */
    uint32_t n;
    uint32_t nruns;      /* 0: every byte has tag 0 */
    const tpl_run *runs;
} tpl_str;

/* ---- values (passed by value; what they point to lives in the render arena) ---- */
typedef enum tpl_type {
    V_UNDEF, V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_LIST, V_DICT, V_NS, V_LOOP, V_FUNC,
    V_MACRO, V_METHOD
} tpl_type;

typedef struct tpl_list tpl_list;
typedef struct tpl_dict tpl_dict;
typedef struct tpl_loop tpl_loop;
typedef struct tpl_bound tpl_bound;
typedef struct tpl_node tpl_node;
typedef struct tpl_rt tpl_rt;
typedef struct tpl_val tpl_val;

typedef struct tpl_args {
    const tpl_val *pos;
    uint32_t npos;
    const char *const *kwn; /* keyword names */
    const tpl_val *kwv;
    uint32_t nkw;
} tpl_args;

typedef tpl_val (*tpl_fn)(tpl_rt *rt, const tpl_node *at, tpl_val self, const tpl_args *a);

typedef struct tpl_builtin {
    const char *name;
    tpl_fn fn;
} tpl_builtin;

struct tpl_val {
    uint8_t t;
    uint8_t tuple; /* V_LIST written as a tuple */
    union {
        int b;
        int64_t i;
        double f;
        const tpl_str *s;
        tpl_list *l;
        tpl_dict *d;     /* V_DICT, V_NS */
        tpl_loop *loop;
        const tpl_builtin *fn;
        const tpl_node *macro;
        tpl_bound *m;
        const char *undef; /* V_UNDEF: what was missing, for messages (may be NULL) */
    } u;
};

struct tpl_list {
    uint32_t n, cap;
    tpl_val *v;
};

struct tpl_dict {
    uint32_t n, cap;
    tpl_val *k, *v;
};

struct tpl_loop {
    const tpl_list *items;
    int64_t index0;
    uint32_t depth0;
};

struct tpl_bound {
    tpl_val self;
    const tpl_builtin *m;
};

/* ---- tokens ---- */
typedef enum tpl_tok_type {
    T_TEXT, T_VAR_BEGIN, T_VAR_END, T_BLOCK_BEGIN, T_BLOCK_END, T_NAME, T_INT, T_FLOAT,
    T_STRING, T_OP, T_EOF
} tpl_tok_type;

typedef struct tpl_tok {
    uint8_t type;
    const char *s; /* name / op / text / decoded string (NUL-terminated) */
    uint32_t n;
    uint32_t line, col;
    int64_t i;
    double f;
} tpl_tok;

/* ---- syntax tree ---- */
typedef enum tpl_kind {
    /* statements */
    N_BLOCK, N_TEXT, N_OUT, N_IF, N_FOR, N_SET, N_SETBLOCK, N_MACRO, N_BREAK, N_CONTINUE,
    N_GEN, N_FILTERBLOCK,
    /* expressions */
    N_CONST, N_NAME, N_LIST, N_TUPLE, N_DICT, N_ATTR, N_ITEM, N_SLICE, N_CALL, N_FILTER,
    N_TEST, N_NEG, N_POS, N_NOT, N_BIN, N_CMP, N_AND, N_OR, N_COND, N_CONCAT
} tpl_kind;

struct tpl_node {
    uint8_t kind;
    uint8_t neg;        /* N_TEST: "is not" */
    char op[4];         /* N_BIN: + - * / // % **; N_CMP operands: == != < <= > >= in ni */
    uint32_t line, col;
    tpl_node *a, *b, *c, *d;
    tpl_node **list;    /* statements, items, arguments, comparison operands */
    const char **kw;    /* N_CALL/N_FILTER/N_TEST: keyword name per argument (NULL = positional) */
    uint32_t n;
    const char **names; /* N_FOR targets, N_MACRO parameters */
    uint32_t nnames;
    const char *name;   /* N_NAME, N_ATTR, N_FILTER, N_TEST, N_MACRO */
    tpl_val val;        /* N_CONST, N_TEXT (a V_STR) */
};

struct yt_tpl {
    char *name;
    tpl_arena arena; /* the tree */
    tpl_node *root;
    int has_generation;
    yt_tpl_limits lim;
};

/* ---- lexer and parser (compile time) ---- */
typedef struct tpl_cc {
    jmp_buf jb;
    yt_err *e;
    const char *name;
    tpl_arena *arena;
    tpl_tok *toks;
    size_t ntoks, cap, pos;
    int loop_depth, depth, max_depth, has_generation;
} tpl_cc;

_Noreturn void tpl_cc_fail(tpl_cc *c, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void *tpl_cc_alloc(tpl_cc *c, size_t n);
/* Splits SRC into tokens (c->toks), text already whitespace-controlled. */
void tpl_lex(tpl_cc *c, const char *src, size_t len);
tpl_node *tpl_parse(tpl_cc *c);

/* ---- render state ---- */
typedef struct tpl_scope {
    struct tpl_scope *parent;
    uint32_t n, cap;
    const char **k;
    tpl_val *v;
} tpl_scope;

/* A growing tagged string in the arena. */
typedef struct tpl_sb {
    char *s;
    uint32_t n, cap;
    tpl_run *runs;
    uint32_t nruns, rcap;
} tpl_sb;

struct tpl_rt {
    jmp_buf jb;
    yt_err *e;
    const yt_tpl *t;
    tpl_arena arena;
    tpl_scope *top;     /* the template's variables */
    tpl_scope *sc;      /* innermost scope */
    tpl_sb *out;        /* where output goes now */
    uint32_t gen;       /* YT_TPL_GEN inside {% generation %} */
    uint64_t steps;
    int depth;
    int ctl;            /* 1 break, 2 continue */
    /* tpl_call_macro.  A macro called in an expression runs statements, which
     * evaluate expressions: the one recursion between the expression and statement
     * layers goes through this pointer, so that tpl_access.c and tpl_eval.c do not
     * call tpl_exec.c, which calls them. */
    tpl_val (*call_macro)(tpl_rt *rt, const tpl_node *at, const tpl_node *m, const tpl_args *a);
};

/* The declarations below go by layer, lowest first; a file calls only the files
 * of the layers above its own in this list (template.h has the map). */

/* UTF-8 (tpl_utf8.c): Python's str.isspace for the code point at s[i], its byte
 * length in *len. */
int tpl_is_space_at(const char *s, uint32_t n, uint32_t i, uint32_t *len);

/* render state (tpl_rt.c) */
_Noreturn void tpl_fail(tpl_rt *rt, const tpl_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void *tpl_alloc(tpl_rt *rt, size_t n);
void tpl_step(tpl_rt *rt, const tpl_node *at);
void tpl_enter(tpl_rt *rt, const tpl_node *at); /* depth + 1 (checked); callers do depth - 1 */
_Noreturn void tpl_undefined_error(tpl_rt *rt, const tpl_node *at, tpl_val v);

/* tagged strings (tpl_str.c) */
void tpl_sb_init(tpl_rt *rt, tpl_sb *b, uint32_t cap);
void tpl_sb_add(tpl_rt *rt, tpl_sb *b, const char *s, size_t n, uint32_t tag);
/* Appends bytes [from, to) of s with their tags, or'ed with extra. */
void tpl_sb_add_str(tpl_rt *rt, tpl_sb *b, const tpl_str *s, uint32_t from, uint32_t to,
                    uint32_t extra);
const tpl_str *tpl_sb_done(tpl_rt *rt, tpl_sb *b);
uint32_t tpl_str_tag_at(const tpl_str *s, uint32_t byte);
const tpl_str *tpl_substr(tpl_rt *rt, const tpl_str *s, uint32_t from, uint32_t to);
const tpl_str *tpl_concat(tpl_rt *rt, const tpl_str *a, const tpl_str *b);
/* Code points of s; byte offset of code point k (k may be the count). */
uint32_t tpl_str_len(const tpl_str *s);
uint32_t tpl_str_offset(const tpl_str *s, int64_t k);
/* Case mapping through utf8proc: mode 'u' upper, 'l' lower, 'c' capitalize, 't' title. */
const tpl_str *tpl_str_case(tpl_rt *rt, const tpl_str *s, char mode);
/* Python's str.strip family: which = 'b' both, 'l' left, 'r' right; chars NULL = white space. */
const tpl_str *tpl_str_strip(tpl_rt *rt, const tpl_str *s, const tpl_str *chars, char which);

/* values (tpl_value.c) */
tpl_val tpl_undef(const char *what);
tpl_val tpl_none(void);
tpl_val tpl_bool(int b);
tpl_val tpl_int(int64_t i);
tpl_val tpl_float(double f);
tpl_val tpl_strv(const tpl_str *s);
tpl_val tpl_cstr(tpl_rt *rt, const char *s, size_t n, uint32_t tag);
tpl_list *tpl_list_new(tpl_rt *rt, uint32_t cap);
void tpl_list_push(tpl_rt *rt, tpl_list *l, tpl_val v);
tpl_val tpl_listv(tpl_list *l, int tuple);
tpl_dict *tpl_dict_new(tpl_rt *rt, uint32_t cap);
void tpl_dict_set(tpl_rt *rt, tpl_dict *d, tpl_val k, tpl_val v);
/* 1 and *out set when found. */
int tpl_dict_get(const tpl_dict *d, tpl_val k, tpl_val *out);
int tpl_dict_gets(const tpl_dict *d, const char *k, tpl_val *out);
int tpl_truthy(tpl_val v);
int tpl_equal(tpl_val a, tpl_val b);
/* <0, 0, >0; fails on types Python cannot order. */
int tpl_compare(tpl_rt *rt, const tpl_node *at, tpl_val a, tpl_val b);
const char *tpl_type_name(tpl_val v);
/* The items of an iterable (list, tuple, dict keys, string characters); undefined
 * gives none; other types fail. */
const tpl_list *tpl_iter(tpl_rt *rt, const tpl_node *at, tpl_val v);

/* str() and repr() (tpl_repr.c) */
/* str(v) as Python prints it, tags kept for strings. */
const tpl_str *tpl_to_str(tpl_rt *rt, const tpl_node *at, tpl_val v);
/* repr(v) appended (lists and dicts print their items with repr). */
void tpl_repr(tpl_rt *rt, const tpl_node *at, tpl_sb *b, tpl_val v);
void tpl_fmt_float(double f, char buf[40]);

/* json.dumps (tpl_json.c): JSON text of v as Python's json.dumps(v, ensure_ascii,
 * indent (<0 none), separators, sort_keys) writes it. */
void tpl_json_dump(tpl_rt *rt, const tpl_node *at, tpl_sb *b, tpl_val v, int indent,
                   const char *item_sep, const char *key_sep, int sort_keys, int ensure_ascii);

/* arguments of builtins (tpl_args.c): positional i or keyword name, else NULL. */
const tpl_val *tpl_arg(const tpl_args *a, uint32_t i, const char *name);
void tpl_args_max(tpl_rt *rt, const tpl_node *at, const tpl_args *a, uint32_t max_pos,
                  const char *fn);
const tpl_str *tpl_want_str(tpl_rt *rt, const tpl_node *at, tpl_val v, const char *what);
int64_t tpl_want_int(tpl_rt *rt, const tpl_node *at, tpl_val v, const char *what);

/* methods (tpl_methods.c) and globals (tpl_globals.c) */
/* A method of v's type (str, dict, loop) or NULL. */
const tpl_builtin *tpl_find_method(tpl_val v, const char *name);
/* str.replace, which the replace filter also is. */
tpl_val tpl_replace(tpl_rt *rt, const tpl_node *at, tpl_val v, const tpl_args *a);
/* [[key, value], ...] of d in order: dict.items() and the items filter. */
tpl_val tpl_dict_items(tpl_rt *rt, const tpl_dict *d);
const tpl_builtin *tpl_find_global(const char *name);

/* scopes (tpl_scope.c) and the render's variables (tpl_vars.c) */
tpl_scope *tpl_scope_new(tpl_rt *rt, tpl_scope *parent);
void tpl_scope_set(tpl_rt *rt, tpl_scope *s, const char *k, tpl_val v);
/* A variable of the innermost scope outward, else a global, else undefined. */
tpl_val tpl_lookup(tpl_rt *rt, const char *name);
/* The variables of VARS (a JSON object) into the top scope. */
void tpl_bind_vars(tpl_rt *rt, json_t *vars);

/* access (tpl_access.c) */
tpl_val tpl_getattr(tpl_rt *rt, const tpl_node *at, tpl_val obj, const char *name);
tpl_val tpl_getitem(tpl_rt *rt, const tpl_node *at, tpl_val obj, tpl_val key);
/* obj[sv[0]:sv[1]:sv[2]] of a list, tuple or string (none = default bound). */
tpl_val tpl_do_slice(tpl_rt *rt, const tpl_node *at, tpl_val obj, const tpl_val *sv);
/* Calls a builtin, a bound method or (through rt->call_macro) a macro. */
tpl_val tpl_call(tpl_rt *rt, const tpl_node *at, tpl_val f, const tpl_args *a);

/* tests (tpl_tests.c) */
const tpl_builtin *tpl_find_test(const char *name);
/* Runs test NAME on v (for select/reject filters and "is"). */
int tpl_run_test(tpl_rt *rt, const tpl_node *at, const char *name, tpl_val v, const tpl_args *a);

/* filters of lists and dicts (tpl_filters_seq.c), then the others and the lookup
 * (tpl_filters.c) */
extern const tpl_builtin tpl_seq_filters[]; /* ends with {NULL, NULL} */
/* The value of attribute path "a.b" (or an integer index) of item x. */
tpl_val tpl_attr_path(tpl_rt *rt, const tpl_node *at, tpl_val x, tpl_val attr);
const tpl_builtin *tpl_find_filter(const char *name);

/* expressions (tpl_eval.c) */
tpl_val tpl_eval(tpl_rt *rt, const tpl_node *n);
/* Evaluates the arguments of a call/filter/test node into A (arena). */
void tpl_eval_args(tpl_rt *rt, const tpl_node *n, tpl_args *a);
/* Applies filter node F (whose input chain may start at NULL = INPUT) to INPUT. */
tpl_val tpl_apply_filter(tpl_rt *rt, const tpl_node *f, tpl_val input);

/* statements (tpl_exec.c) */
void tpl_exec(tpl_rt *rt, const tpl_node *n);
void tpl_emit(tpl_rt *rt, const tpl_node *at, const tpl_str *s);
/* Renders block N into a new string (set blocks, filter blocks, macro calls). */
const tpl_str *tpl_capture(tpl_rt *rt, const tpl_node *n);
/* Runs macro M with arguments A; what yt_tpl_render puts in rt->call_macro. */
tpl_val tpl_call_macro(tpl_rt *rt, const tpl_node *at, const tpl_node *m, const tpl_args *a);

#endif
