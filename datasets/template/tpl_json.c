/* json.dumps of values, as transformers' tojson calls it (ensure_ascii, indent,
 * separators, sort_keys); string tags follow the escaped bytes. */
#include "datasets/template/tpl_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

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

typedef struct dumper {
    tpl_rt *rt;
    const tpl_node *at;
    int indent; /* < 0: all on one line */
    const char *item_sep, *key_sep;
    int sort_keys, ensure_ascii;
} dumper;

static void dump(const dumper *d, tpl_sb *b, tpl_val v, int level);

static void newline_indent(tpl_rt *rt, tpl_sb *b, int indent, int level)
{
    tpl_sb_add(rt, b, "\n", 1, 0);
    for (int i = 0; i < indent * level; i++)
        tpl_sb_add(rt, b, " ", 1, 0);
}

static void dump_list(const dumper *d, tpl_sb *b, const tpl_list *l, int level)
{
    tpl_rt *rt = d->rt;
    if (!l->n) {
        tpl_sb_add(rt, b, "[]", 2, 0);
        return;
    }
    tpl_sb_add(rt, b, "[", 1, 0);
    for (uint32_t i = 0; i < l->n; i++) {
        if (i)
            tpl_sb_add(rt, b, d->item_sep, strlen(d->item_sep), 0);
        if (d->indent >= 0)
            newline_indent(rt, b, d->indent, level + 1);
        dump(d, b, l->v[i], level + 1);
    }
    if (d->indent >= 0)
        newline_indent(rt, b, d->indent, level);
    tpl_sb_add(rt, b, "]", 1, 0);
}

/* Python writes keys that are numbers, booleans or None as their JSON text, quoted. */
static void dump_key(const dumper *d, tpl_sb *b, tpl_val key, int level)
{
    tpl_rt *rt = d->rt;
    if (key.t == V_STR) {
        json_str(rt, b, key.u.s, d->ensure_ascii);
    } else if (key.t == V_INT || key.t == V_FLOAT || key.t == V_BOOL || key.t == V_NONE) {
        dumper plain = {rt, d->at, -1, ", ", ": ", 0, d->ensure_ascii};
        tpl_sb kb;
        tpl_sb_init(rt, &kb, 16);
        dump(&plain, &kb, key, level);
        tpl_sb_add(rt, b, "\"", 1, 0);
        tpl_sb_add(rt, b, kb.s, kb.n, 0);
        tpl_sb_add(rt, b, "\"", 1, 0);
    } else {
        tpl_fail(rt, d->at, "tojson: keys must be str, int, float, bool or None, not %s",
                 tpl_type_name(key));
    }
}

static void dump_dict(const dumper *d, tpl_sb *b, const tpl_dict *m, int level)
{
    tpl_rt *rt = d->rt;
    if (!m->n) {
        tpl_sb_add(rt, b, "{}", 2, 0);
        return;
    }
    uint32_t *order = tpl_alloc(rt, m->n * sizeof *order);
    for (uint32_t i = 0; i < m->n; i++)
        order[i] = i;
    if (d->sort_keys) /* insertion sort: stable, dicts are small */
        for (uint32_t i = 1; i < m->n; i++)
            for (uint32_t j = i;
                 j > 0 && tpl_compare(rt, d->at, m->k[order[j - 1]], m->k[order[j]]) > 0; j--) {
                uint32_t t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
    tpl_sb_add(rt, b, "{", 1, 0);
    for (uint32_t k = 0; k < m->n; k++) {
        uint32_t i = order[k];
        if (k)
            tpl_sb_add(rt, b, d->item_sep, strlen(d->item_sep), 0);
        if (d->indent >= 0)
            newline_indent(rt, b, d->indent, level + 1);
        dump_key(d, b, m->k[i], level + 1);
        tpl_sb_add(rt, b, d->key_sep, strlen(d->key_sep), 0);
        dump(d, b, m->v[i], level + 1);
    }
    if (d->indent >= 0)
        newline_indent(rt, b, d->indent, level);
    tpl_sb_add(rt, b, "}", 1, 0);
}

static void dump(const dumper *d, tpl_sb *b, tpl_val v, int level)
{
    tpl_rt *rt = d->rt;
    char buf[64];
    tpl_step(rt, d->at);
    if (level > 200)
        tpl_fail(rt, d->at, "tojson: nested deeper than 200 levels");
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
    case V_STR: json_str(rt, b, v.u.s, d->ensure_ascii); return;
    case V_LIST: dump_list(d, b, v.u.l, level); return;
    case V_DICT: dump_dict(d, b, v.u.d, level); return;
    default:
        tpl_fail(rt, d->at, "tojson: object of type %s is not JSON serializable", tpl_type_name(v));
    }
    tpl_sb_add(rt, b, buf, strlen(buf), 0);
}

void tpl_json_dump(tpl_rt *rt, const tpl_node *at, tpl_sb *b, tpl_val v, int indent,
                   const char *item_sep, const char *key_sep, int sort_keys, int ensure_ascii)
{
    dumper d = {rt, at, indent, item_sep, key_sep, sort_keys, ensure_ascii};
    dump(&d, b, v, 0);
}
