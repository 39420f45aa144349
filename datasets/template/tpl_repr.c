/* str() and repr() of values as Python prints them (tags kept for strings), and
 * repr() of floats: the shortest digits that read back. */
#include "datasets/template/tpl_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

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
