/* Values with Python's semantics: truth, equality, ordering, str() and repr(),
 * float formatting as repr(), iteration, and conversion from jansson. */
#include "datasets/template/tpl_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

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

/* repr(float) of Python: the shortest digits that read back, fixed notation for
 * decimal exponents in [-4, 16), else d.ddde+XX. */
void tpl_fmt_float(double f, char buf[40])
{
    if (isnan(f)) {
        strcpy(buf, "nan");
        return;
    }
    if (isinf(f)) {
        strcpy(buf, f < 0 ? "-inf" : "inf");
        return;
    }
    char e[40];
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, f);
        if (strtod(e, NULL) == f)
            break;
    }
    /* e = [-]d[.ddd]e[+-]XX */
    const char *q = e;
    int neg = *q == '-';
    if (neg)
        q++;
    char digits[24];
    int nd = 0;
    for (; *q && *q != 'e'; q++)
        if (*q != '.')
            digits[nd++] = *q;
    int exp = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    char *o = buf;
    if (neg)
        *o++ = '-';
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -exp - 1; i++)
                *o++ = '0';
            for (int i = 0; i < nd; i++)
                *o++ = digits[i];
        } else {
            for (int i = 0; i <= exp; i++)
                *o++ = i < nd ? digits[i] : '0';
            *o++ = '.';
            if (nd > exp + 1)
                for (int i = exp + 1; i < nd; i++)
                    *o++ = digits[i];
            else
                *o++ = '0';
        }
        *o = 0;
    } else {
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            for (int i = 1; i < nd; i++)
                *o++ = digits[i];
        }
        int ax = exp < 0 ? -exp : exp;
        *o++ = 'e';
        *o++ = exp < 0 ? '-' : '+';
        if (ax >= 100)
            *o++ = (char)('0' + ax / 100);
        *o++ = (char)('0' + ax / 10 % 10);
        *o++ = (char)('0' + ax % 10);
        *o = 0;
    }
}

static void repr_str(tpl_rt *rt, tpl_sb *b, const tpl_str *s)
{
    int has_sq = memchr(s->s, '\'', s->n) != NULL, has_dq = memchr(s->s, '"', s->n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    tpl_sb_add(rt, b, &q, 1, 0);
    for (uint32_t i = 0; i < s->n;) {
        unsigned char c = (unsigned char)s->s[i];
        uint32_t tag = tpl_str_tag_at(s, i);
        char esc[16];
        if (c == '\\' || c == (unsigned char)q) {
            esc[0] = '\\';
            esc[1] = (char)c;
            tpl_sb_add(rt, b, esc, 2, tag);
            i++;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            tpl_sb_add(rt, b, esc, 2, tag);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            tpl_sb_add(rt, b, esc, 4, tag);
            i++;
        } else if (c < 0x80) {
            tpl_sb_add(rt, b, s->s + i, 1, tag);
            i++;
        } else {
            utf8proc_int32_t cp;
            utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s->s + i, s->n - i, &cp);
            if (k <= 0) {
                tpl_sb_add(rt, b, s->s + i, 1, tag);
                i++;
                continue;
            }
            utf8proc_category_t cat = utf8proc_category(cp);
            int printable = !(cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
                              cat == UTF8PROC_CATEGORY_CS || cat == UTF8PROC_CATEGORY_CO ||
                              cat == UTF8PROC_CATEGORY_CN || cat == UTF8PROC_CATEGORY_ZL ||
                              cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_ZS);
            if (printable) {
                tpl_sb_add(rt, b, s->s + i, (size_t)k, tag);
            } else {
                int w = cp < 0x100 ? snprintf(esc, sizeof esc, "\\x%02x", cp)
                      : cp < 0x10000 ? snprintf(esc, sizeof esc, "\\u%04x", cp)
                                     : snprintf(esc, sizeof esc, "\\U%08x", cp);
                tpl_sb_add(rt, b, esc, (size_t)w, tag);
            }
            i += (uint32_t)k;
        }
    }
    tpl_sb_add(rt, b, &q, 1, 0);
}

void tpl_repr(tpl_rt *rt, const tpl_node *at, tpl_sb *b, tpl_val v)
{
    tpl_step(rt, at);
    switch (v.t) {
    case V_STR: repr_str(rt, b, v.u.s); return;
    case V_LIST: {
        tpl_sb_add(rt, b, v.tuple ? "(" : "[", 1, 0);
        for (uint32_t i = 0; i < v.u.l->n; i++) {
            if (i)
                tpl_sb_add(rt, b, ", ", 2, 0);
            tpl_repr(rt, at, b, v.u.l->v[i]);
        }
        if (v.tuple && v.u.l->n == 1)
            tpl_sb_add(rt, b, ",", 1, 0);
        tpl_sb_add(rt, b, v.tuple ? ")" : "]", 1, 0);
        return;
    }
    case V_DICT: {
        tpl_sb_add(rt, b, "{", 1, 0);
        for (uint32_t i = 0; i < v.u.d->n; i++) {
            if (i)
                tpl_sb_add(rt, b, ", ", 2, 0);
            tpl_repr(rt, at, b, v.u.d->k[i]);
            tpl_sb_add(rt, b, ": ", 2, 0);
            tpl_repr(rt, at, b, v.u.d->v[i]);
        }
        tpl_sb_add(rt, b, "}", 1, 0);
        return;
    }
    default: {
        const tpl_str *s = tpl_to_str(rt, at, v);
        tpl_sb_add_str(rt, b, s, 0, s->n, 0);
    }
    }
}

const tpl_str *tpl_to_str(tpl_rt *rt, const tpl_node *at, tpl_val v)
{
    char buf[64];
    const char *s = buf;
    switch (v.t) {
    case V_STR: return v.u.s;
    case V_UNDEF: s = ""; break;
    case V_NONE: s = "None"; break;
    case V_BOOL: s = v.u.b ? "True" : "False"; break;
    case V_INT: snprintf(buf, sizeof buf, "%lld", (long long)v.u.i); break;
    case V_FLOAT: tpl_fmt_float(v.u.f, buf); break;
    case V_LIST:
    case V_DICT: {
        tpl_sb b;
        tpl_sb_init(rt, &b, 64);
        tpl_repr(rt, at, &b, v);
        return tpl_sb_done(rt, &b);
    }
    case V_NS: s = "<Namespace>"; break;
    case V_LOOP: s = "<LoopContext>"; break;
    case V_MACRO: s = "<Macro>"; break;
    default: s = "<function>"; break;
    }
    return tpl_cstr(rt, s, strlen(s), 0).u.s;
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

tpl_val tpl_from_json(tpl_rt *rt, const void *json, uint32_t tag)
{
    const json_t *j = json;
    switch (json_typeof(j)) {
    case JSON_STRING: return tpl_cstr(rt, json_string_value(j), json_string_length(j), tag);
    case JSON_INTEGER: return tpl_int((int64_t)json_integer_value(j));
    case JSON_REAL: return tpl_float(json_real_value(j));
    case JSON_TRUE: return tpl_bool(1);
    case JSON_FALSE: return tpl_bool(0);
    case JSON_NULL: return tpl_none();
    case JSON_ARRAY: {
        tpl_list *l = tpl_list_new(rt, (uint32_t)json_array_size(j));
        size_t i;
        const json_t *x;
        json_array_foreach((json_t *)j, i, x) tpl_list_push(rt, l, tpl_from_json(rt, x, tag));
        return tpl_listv(l, 0);
    }
    default: {
        tpl_dict *d = tpl_dict_new(rt, (uint32_t)json_object_size(j));
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)j, k, x)
        {
            tpl_val kv = tpl_cstr(rt, k, strlen(k), 0);
            d->k[d->n] = kv; /* JSON keys are unique */
            d->v[d->n] = tpl_from_json(rt, x, tag);
            if (++d->n == d->cap) {
                uint32_t cap = d->cap * 2;
                tpl_val *nk = tpl_alloc(rt, cap * sizeof *nk), *nv = tpl_alloc(rt, cap * sizeof *nv);
                memcpy(nk, d->k, d->n * sizeof *nk);
                memcpy(nv, d->v, d->n * sizeof *nv);
                d->k = nk;
                d->v = nv;
                d->cap = cap;
            }
        }
        tpl_val v = {.t = V_DICT};
        v.u.d = d;
        return v;
    }
    }
}

/* ---- json.dumps ---- */

static void json_str(tpl_rt *rt, tpl_sb *b, const tpl_str *s, int ensure_ascii)
{
    tpl_sb_add(rt, b, "\"", 1, 0);
    for (uint32_t i = 0; i < s->n;) {
        unsigned char c = (unsigned char)s->s[i];
        uint32_t tag = tpl_str_tag_at(s, i);
        char esc[16];
        const char *e = NULL;
        switch (c) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        }
        if (e) {
            tpl_sb_add(rt, b, e, 2, tag);
            i++;
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            tpl_sb_add(rt, b, esc, 6, tag);
            i++;
        } else if (c < 0x80 || !ensure_ascii) {
            uint32_t k = 1;
            while (i + k < s->n && ((unsigned char)s->s[i + k] & 0xC0) == 0x80)
                k++;
            tpl_sb_add(rt, b, s->s + i, k, tag);
            i += k;
        } else {
            utf8proc_int32_t cp;
            utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s->s + i, s->n - i, &cp);
            if (k <= 0) {
                cp = 0xFFFD;
                k = 1;
            }
            if (cp >= 0x10000) {
                uint32_t v = (uint32_t)cp - 0x10000;
                snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
                tpl_sb_add(rt, b, esc, 12, tag);
            } else {
                snprintf(esc, sizeof esc, "\\u%04x", cp);
                tpl_sb_add(rt, b, esc, 6, tag);
            }
            i += (uint32_t)k;
        }
    }
    tpl_sb_add(rt, b, "\"", 1, 0);
}

static void newline_indent(tpl_rt *rt, tpl_sb *b, int indent, int level)
{
    tpl_sb_add(rt, b, "\n", 1, 0);
    for (int i = 0; i < indent * level; i++)
        tpl_sb_add(rt, b, " ", 1, 0);
}

static int key_order(tpl_rt *rt, const tpl_node *at, const tpl_dict *d, uint32_t a, uint32_t b)
{
    return tpl_compare(rt, at, d->k[a], d->k[b]);
}

void tpl_json_dump(tpl_rt *rt, const tpl_node *at, tpl_sb *b, tpl_val v, int indent,
                   const char *item_sep, const char *key_sep, int sort_keys, int ensure_ascii,
                   int level)
{
    char buf[64];
    tpl_step(rt, at);
    if (level > 200)
        tpl_fail(rt, at, "tojson: nested deeper than 200 levels");
    switch (v.t) {
    case V_NONE: tpl_sb_add(rt, b, "null", 4, 0); return;
    case V_BOOL: tpl_sb_add(rt, b, v.u.b ? "true" : "false", v.u.b ? 4 : 5, 0); return;
    case V_INT: snprintf(buf, sizeof buf, "%lld", (long long)v.u.i); break;
    case V_FLOAT:
        if (isnan(v.u.f))
            strcpy(buf, "NaN");
        else if (isinf(v.u.f))
            strcpy(buf, v.u.f < 0 ? "-Infinity" : "Infinity");
        else
            tpl_fmt_float(v.u.f, buf);
        break;
    case V_STR: json_str(rt, b, v.u.s, ensure_ascii); return;
    case V_LIST: {
        const tpl_list *l = v.u.l;
        if (!l->n) {
            tpl_sb_add(rt, b, "[]", 2, 0);
            return;
        }
        tpl_sb_add(rt, b, "[", 1, 0);
        for (uint32_t i = 0; i < l->n; i++) {
            if (i)
                tpl_sb_add(rt, b, item_sep, strlen(item_sep), 0);
            if (indent >= 0)
                newline_indent(rt, b, indent, level + 1);
            tpl_json_dump(rt, at, b, l->v[i], indent, item_sep, key_sep, sort_keys, ensure_ascii,
                          level + 1);
        }
        if (indent >= 0)
            newline_indent(rt, b, indent, level);
        tpl_sb_add(rt, b, "]", 1, 0);
        return;
    }
    case V_DICT: {
        const tpl_dict *d = v.u.d;
        if (!d->n) {
            tpl_sb_add(rt, b, "{}", 2, 0);
            return;
        }
        uint32_t *order = tpl_alloc(rt, d->n * sizeof *order);
        for (uint32_t i = 0; i < d->n; i++)
            order[i] = i;
        if (sort_keys) /* insertion sort: stable, dicts are small */
            for (uint32_t i = 1; i < d->n; i++)
                for (uint32_t j = i; j > 0 && key_order(rt, at, d, order[j - 1], order[j]) > 0; j--) {
                    uint32_t t = order[j];
                    order[j] = order[j - 1];
                    order[j - 1] = t;
                }
        tpl_sb_add(rt, b, "{", 1, 0);
        for (uint32_t k = 0; k < d->n; k++) {
            uint32_t i = order[k];
            if (k)
                tpl_sb_add(rt, b, item_sep, strlen(item_sep), 0);
            if (indent >= 0)
                newline_indent(rt, b, indent, level + 1);
            tpl_val key = d->k[i];
            if (key.t == V_STR) {
                json_str(rt, b, key.u.s, ensure_ascii);
            } else if (key.t == V_INT || key.t == V_FLOAT || key.t == V_BOOL || key.t == V_NONE) {
                tpl_sb kb;
                tpl_sb_init(rt, &kb, 16);
                tpl_json_dump(rt, at, &kb, key, -1, ", ", ": ", 0, ensure_ascii, level + 1);
                tpl_sb_add(rt, b, "\"", 1, 0);
                tpl_sb_add(rt, b, kb.s, kb.n, 0);
                tpl_sb_add(rt, b, "\"", 1, 0);
            } else {
                tpl_fail(rt, at, "tojson: keys must be str, int, float, bool or None, not %s",
                         tpl_type_name(key));
            }
            tpl_sb_add(rt, b, key_sep, strlen(key_sep), 0);
            tpl_json_dump(rt, at, b, d->v[i], indent, item_sep, key_sep, sort_keys, ensure_ascii,
                          level + 1);
        }
        if (indent >= 0)
            newline_indent(rt, b, indent, level);
        tpl_sb_add(rt, b, "}", 1, 0);
        return;
    }
    default: tpl_fail(rt, at, "tojson: object of type %s is not JSON serializable", tpl_type_name(v));
    }
    tpl_sb_add(rt, b, buf, strlen(buf), 0);
}
