/* Lexer: template source -> tokens, as jinja2's lexer with trim_blocks and
 * lstrip_blocks (transformers' settings): newlines normalised to \n, one trailing
 * newline dropped, "{%-"/"-%}" strip white space, "+" keeps it, a block or comment
 * tag alone on its line takes its indentation, and the newline after "%}" or "#}"
 * goes.  Inside a tag, the end marker only counts outside brackets. */
#include "datasets/template/tpl_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void tpl_cc_fail(tpl_cc *c, uint32_t line, uint32_t col, const char *fmt, ...)
{
    char msg[YT_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    yt_errf(c->e, "%s:%u:%u: %s", c->name, line, col, msg);
    longjmp(c->jb, 1);
}

void *tpl_cc_alloc(tpl_cc *c, size_t n)
{
    void *p = tpl_arena_alloc(c->arena, n);
    if (!p)
        tpl_cc_fail(c, 0, 0, "out of memory compiling the template");
    return p;
}

typedef struct lexer {
    tpl_cc *c;
    const char *s; /* normalised source */
    size_t n, pos;
    uint32_t line, col; /* at pos */
} lexer;

static void advance(lexer *L, size_t k)
{
    for (size_t i = 0; i < k && L->pos < L->n; i++, L->pos++) {
        unsigned char ch = (unsigned char)L->s[L->pos];
        if (ch == '\n') {
            L->line++;
            L->col = 1;
        } else if ((ch & 0xC0) != 0x80) {
            L->col++;
        }
    }
}

static tpl_tok *push(lexer *L, int type, const char *s, size_t n, uint32_t line, uint32_t col)
{
    tpl_cc *c = L->c;
    if (c->ntoks == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        tpl_tok *t = tpl_cc_alloc(c, cap * sizeof *t);
        if (c->ntoks)
            memcpy(t, c->toks, c->ntoks * sizeof *t);
        c->toks = t;
        c->cap = cap;
    }
    tpl_tok *t = &c->toks[c->ntoks++];
    memset(t, 0, sizeof *t);
    t->type = (uint8_t)type;
    t->s = s;
    t->n = (uint32_t)n;
    t->line = line;
    t->col = col;
    return t;
}

static size_t rstrip_len(const char *s, size_t n)
{
    /* scan forward, remembering where the trailing white space starts */
    size_t keep = 0;
    uint32_t i = 0, k;
    while (i < n) {
        int sp = tpl_is_space_at(s, (uint32_t)n, i, &k);
        i += k;
        if (!sp)
            keep = i;
    }
    return keep;
}

static int all_space(const char *s, size_t n)
{
    uint32_t i = 0, k;
    if (n == 0)
        return 0; /* jinja's \s+ needs one */
    while (i < n) {
        if (!tpl_is_space_at(s, (uint32_t)n, i, &k))
            return 0;
        i += k;
    }
    return 1;
}

static size_t lstrip_len(const char *s, size_t n)
{
    uint32_t i = 0, k;
    while (i < n && tpl_is_space_at(s, (uint32_t)n, i, &k))
        i += k;
    return i;
}

static void hex_escape(lexer *L, const char *p, int digits, uint32_t *cp, uint32_t line,
                       uint32_t col)
{
    uint32_t v = 0;
    for (int i = 0; i < digits; i++) {
        char h = p[i];
        int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
              : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (d < 0)
            tpl_cc_fail(L->c, line, col, "bad \\x/\\u escape in a string literal");
        v = v * 16 + (uint32_t)d;
    }
    *cp = v;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A quoted string literal at L->pos, decoded as Python's unicode-escape does. */
static void lex_string(lexer *L)
{
    uint32_t line = L->line, col = L->col;
    char q = L->s[L->pos];
    size_t i = L->pos + 1;
    while (i < L->n && L->s[i] != q) {
        if (L->s[i] == '\\')
            i++;
        i++;
    }
    if (i >= L->n)
        tpl_cc_fail(L->c, line, col, "unterminated string literal");
    size_t raw = i - L->pos - 1;
    const char *p = L->s + L->pos + 1;
    char *o = tpl_cc_alloc(L->c, raw + 1);
    size_t k = 0;
    for (size_t j = 0; j < raw; j++) {
        if (p[j] != '\\') {
            o[k++] = p[j];
            continue;
        }
        char x = p[++j];
        uint32_t cp;
        switch (x) {
        case 'n': o[k++] = '\n'; break;
        case 't': o[k++] = '\t'; break;
        case 'r': o[k++] = '\r'; break;
        case '\\': o[k++] = '\\'; break;
        case '\'': o[k++] = '\''; break;
        case '"': o[k++] = '"'; break;
        case 'a': o[k++] = '\a'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'v': o[k++] = '\v'; break;
        case '\n': break; /* line continuation */
        case 'x':
        case 'u':
        case 'U': {
            int d = x == 'x' ? 2 : x == 'u' ? 4 : 8;
            if (j + (size_t)d >= raw)
                tpl_cc_fail(L->c, line, col, "truncated \\%c escape in a string literal", x);
            hex_escape(L, p + j + 1, d, &cp, line, col);
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                tpl_cc_fail(L->c, line, col, "escape \\%c%.*s is not a character", x, d, p + j + 1);
            j += (size_t)d;
            k += put_utf8(o + k, cp); /* at most 4 bytes for <= 10 source bytes */
            break;
        }
        default:
            if (x >= '0' && x <= '7') {
                cp = 0;
                int d = 0;
                while (d < 3 && j < raw && p[j] >= '0' && p[j] <= '7') {
                    cp = cp * 8 + (uint32_t)(p[j] - '0');
                    j++, d++;
                }
                j--;
                k += put_utf8(o + k, cp);
            } else {
                o[k++] = '\\'; /* unknown escapes stay */
                o[k++] = x;
            }
        }
    }
    o[k] = 0;
    tpl_tok *t = push(L, T_STRING, o, k, line, col);
    (void)t;
    advance(L, raw + 2);
}

static int is_name_start(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static void lex_number(lexer *L)
{
    uint32_t line = L->line, col = L->col;
    size_t i = L->pos;
    char buf[128];
    size_t k = 0;
    int real = 0;
    while (i < L->n && (is_digit(L->s[i]) || (L->s[i] == '_' && i + 1 < L->n && is_digit(L->s[i + 1])))) {
        if (L->s[i] != '_' && k < sizeof buf - 1)
            buf[k++] = L->s[i];
        i++;
    }
    if (i + 1 < L->n && L->s[i] == '.' && is_digit(L->s[i + 1])) {
        real = 1;
        buf[k < sizeof buf - 1 ? k++ : k] = '.';
        i++;
        while (i < L->n && (is_digit(L->s[i]) || L->s[i] == '_')) {
            if (L->s[i] != '_' && k < sizeof buf - 1)
                buf[k++] = L->s[i];
            i++;
        }
    }
    if (i < L->n && (L->s[i] == 'e' || L->s[i] == 'E')) {
        size_t j = i + 1;
        if (j < L->n && (L->s[j] == '+' || L->s[j] == '-'))
            j++;
        if (j < L->n && is_digit(L->s[j])) {
            real = 1;
            if (k < sizeof buf - 1)
                buf[k++] = 'e';
            for (size_t m = i + 1; m < j && k < sizeof buf - 1; m++)
                buf[k++] = L->s[m];
            i = j;
            while (i < L->n && is_digit(L->s[i])) {
                if (k < sizeof buf - 1)
                    buf[k++] = L->s[i];
                i++;
            }
        }
    }
    buf[k] = 0;
    tpl_tok *t = push(L, real ? T_FLOAT : T_INT, L->s + L->pos, i - L->pos, line, col);
    if (real) {
        t->f = strtod(buf, NULL);
    } else {
        if (k > 18 && (k > 19 || strcmp(buf, "9223372036854775807") > 0))
            tpl_cc_fail(L->c, line, col, "integer literal %s is too large", buf);
        t->i = strtoll(buf, NULL, 10);
    }
    advance(L, i - L->pos);
}

static const char *const ops[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "/", "*", "%",
                                  "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":",
                                  "|", ",", ";", NULL};

/* Tokens of one tag up to its end marker; returns the strip sign of the end
 * ('-', '+' or 0). */
static int lex_tag(lexer *L, int block, uint32_t tline, uint32_t tcol)
{
    const char *end = block ? "%}" : "}}";
    int depth = 0;
    for (;;) {
        while (L->pos < L->n && (L->s[L->pos] == ' ' || L->s[L->pos] == '\t' ||
                                 L->s[L->pos] == '\n' || L->s[L->pos] == '\r'))
            advance(L, 1);
        if (L->pos >= L->n)
            tpl_cc_fail(L->c, tline, tcol, "tag opened here is never closed with '%s'", end);
        const char *p = L->s + L->pos;
        size_t left = L->n - L->pos;
        if (depth == 0) {
            if ((p[0] == '-' || (block && p[0] == '+')) && left >= 3 && !memcmp(p + 1, end, 2)) {
                push(L, block ? T_BLOCK_END : T_VAR_END, p, 3, L->line, L->col);
                advance(L, 3);
                return p[0];
            }
            if (left >= 2 && !memcmp(p, end, 2)) {
                push(L, block ? T_BLOCK_END : T_VAR_END, p, 2, L->line, L->col);
                advance(L, 2);
                return 0;
            }
        }
        if (p[0] == '\'' || p[0] == '"') {
            lex_string(L);
            continue;
        }
        if (is_digit(p[0])) {
            lex_number(L);
            continue;
        }
        if (is_name_start(p[0])) {
            size_t k = 1;
            while (k < left && (is_name_start(p[k]) || is_digit(p[k])))
                k++;
            push(L, T_NAME, p, k, L->line, L->col);
            advance(L, k);
            continue;
        }
        int found = 0;
        for (int i = 0; ops[i]; i++) {
            size_t k = strlen(ops[i]);
            if (left >= k && !memcmp(p, ops[i], k)) {
                if (ops[i][0] == '(' || ops[i][0] == '[' || ops[i][0] == '{')
                    depth++;
                else if ((ops[i][0] == ')' || ops[i][0] == ']' || ops[i][0] == '}') && depth > 0)
                    depth--;
                push(L, T_OP, ops[i], k, L->line, L->col);
                advance(L, k);
                found = 1;
                break;
            }
        }
        if (!found)
            tpl_cc_fail(L->c, L->line, L->col, "unexpected character '%c' in a tag", p[0]);
    }
}

void tpl_lex(tpl_cc *c, const char *src, size_t len)
{
    /* newlines -> \n; one trailing newline dropped (keep_trailing_newline=False) */
    char *s = tpl_cc_alloc(c, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n')
                i++;
        } else {
            s[n++] = src[i];
        }
    }
    if (n && s[n - 1] == '\n')
        n--;
    s[n] = 0;
    lexer L = {c, s, n, 0, 1, 1};
    int line_starting = 1;
    int strip_next = 0; /* the previous tag ended with "-": drop leading white space */
    for (;;) {
        if (strip_next) {
            size_t k = lstrip_len(s + L.pos, n - L.pos);
            if (k && s[L.pos + k - 1] == '\n')
                line_starting = 1;
            else if (k)
                line_starting = 0;
            advance(&L, k);
            strip_next = 0;
        }
        /* next tag start */
        size_t at = L.pos;
        int kind = 0; /* 'v' {{, 'b' {%, 'c' {# */
        while (at + 1 < n) {
            if (s[at] == '{' && (s[at + 1] == '{' || s[at + 1] == '%' || s[at + 1] == '#')) {
                kind = s[at + 1] == '{' ? 'v' : s[at + 1] == '%' ? 'b' : 'c';
                break;
            }
            at++;
        }
        if (!kind) {
            if (L.pos < n)
                push(&L, T_TEXT, s + L.pos, n - L.pos, L.line, L.col);
            break;
        }
        char sign = at + 2 < n && (s[at + 2] == '-' || s[at + 2] == '+') ? s[at + 2] : 0;
        size_t tl = at - L.pos;
        const char *text = s + L.pos;
        if (sign == '-') {
            tl = rstrip_len(text, tl);
        } else if (sign != '+' && kind != 'v') {
            size_t lp = tl;
            while (lp > 0 && text[lp - 1] != '\n')
                lp--;
            if ((lp > 0 || line_starting) && all_space(text + lp, tl - lp))
                tl = lp;
        }
        if (tl)
            push(&L, T_TEXT, text, tl, L.line, L.col);
        advance(&L, at - L.pos);
        uint32_t tline = L.line, tcol = L.col;
        if (kind == 'c') {
            size_t e = L.pos + 2;
            while (e + 1 < n && !(s[e] == '#' && s[e + 1] == '}'))
                e++;
            if (e + 1 >= n)
                tpl_cc_fail(c, tline, tcol, "comment opened here is never closed with '#}'");
            char esign = e > L.pos + 2 && (s[e - 1] == '-' || s[e - 1] == '+') ? s[e - 1] : 0;
            advance(&L, e + 2 - L.pos);
            line_starting = 0;
            if (esign == '-') {
                strip_next = 1;
            } else if (esign != '+' && L.pos < n && s[L.pos] == '\n') {
                advance(&L, 1);
                line_starting = 1;
            }
            continue;
        }
        push(&L, kind == 'v' ? T_VAR_BEGIN : T_BLOCK_BEGIN, s + at, 2, tline, tcol);
        advance(&L, sign ? 3 : 2);
        int esign = lex_tag(&L, kind == 'b', tline, tcol);
        line_starting = 0;
        if (esign == '-') {
            strip_next = 1;
        } else if (kind == 'b' && esign != '+' && L.pos < n && s[L.pos] == '\n') {
            advance(&L, 1);
            line_starting = 1;
        }
    }
    push(&L, T_EOF, "", 0, L.line, L.col);
}
