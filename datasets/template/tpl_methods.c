/* Python methods of str and dict that chat templates call (.strip(), .split(),
 * .startswith(), .items(), .get(), .replace() ...) and loop.cycle.  Lists have no
 * methods: the sandbox transformers renders in forbids changing them. */
#include "datasets/template/tpl_internal.h"

#include <string.h>

#define M(name) static tpl_val m_##name(tpl_rt *rt, const tpl_node *at, tpl_val self, const tpl_args *a)

static const tpl_str *opt_chars(tpl_rt *rt, const tpl_node *at, const tpl_args *a)
{
    const tpl_val *c = tpl_arg(a, 0, "chars");
    return c && c->t != V_NONE ? tpl_want_str(rt, at, *c, "strip") : NULL;
}

M(strip) { return tpl_strv(tpl_str_strip(rt, self.u.s, opt_chars(rt, at, a), 'b')); }
M(lstrip) { return tpl_strv(tpl_str_strip(rt, self.u.s, opt_chars(rt, at, a), 'l')); }
M(rstrip) { return tpl_strv(tpl_str_strip(rt, self.u.s, opt_chars(rt, at, a), 'r')); }
M(upper) { (void)at; (void)a; return tpl_strv(tpl_str_case(rt, self.u.s, 'u')); }
M(lower) { (void)at; (void)a; return tpl_strv(tpl_str_case(rt, self.u.s, 'l')); }
M(title) { (void)at; (void)a; return tpl_strv(tpl_str_case(rt, self.u.s, 't')); }
M(capitalize) { (void)at; (void)a; return tpl_strv(tpl_str_case(rt, self.u.s, 'c')); }

static int match_affix(tpl_rt *rt, const tpl_node *at, const tpl_str *s, tpl_val x, int end)
{
    if (x.t == V_LIST && x.tuple) {
        for (uint32_t i = 0; i < x.u.l->n; i++)
            if (match_affix(rt, at, s, x.u.l->v[i], end))
                return 1;
        return 0;
    }
    const tpl_str *p = tpl_want_str(rt, at, x, end ? "endswith" : "startswith");
    if (p->n > s->n)
        return 0;
    return !memcmp(s->s + (end ? s->n - p->n : 0), p->s, p->n);
}

M(startswith)
{
    const tpl_val *p = tpl_arg(a, 0, "prefix");
    if (!p || a->npos > 1)
        tpl_fail(rt, at, "startswith takes one argument here");
    return tpl_bool(match_affix(rt, at, self.u.s, *p, 0));
}

M(endswith)
{
    const tpl_val *p = tpl_arg(a, 0, "suffix");
    if (!p || a->npos > 1)
        tpl_fail(rt, at, "endswith takes one argument here");
    return tpl_bool(match_affix(rt, at, self.u.s, *p, 1));
}

static tpl_val split_impl(tpl_rt *rt, const tpl_node *at, const tpl_str *s, const tpl_args *a,
                          int from_right)
{
    const tpl_val *sepv = tpl_arg(a, 0, "sep"), *maxv = tpl_arg(a, 1, "maxsplit");
    int64_t max = maxv ? tpl_want_int(rt, at, *maxv, "split") : -1;
    tpl_list *l = tpl_list_new(rt, 8);
    if (!sepv || sepv->t == V_NONE) { /* runs of white space, ends ignored */
        /* collect words left to right, then honour maxsplit from the chosen side */
        tpl_list *words = tpl_list_new(rt, 8);
        tpl_list *starts = tpl_list_new(rt, 8);
        uint32_t i = 0, k;
        while (i < s->n) {
            while (i < s->n && tpl_is_space_at(s->s, s->n, i, &k))
                i += k;
            if (i >= s->n)
                break;
            uint32_t w = i;
            while (i < s->n && !tpl_is_space_at(s->s, s->n, i, &k))
                i += k;
            tpl_list_push(rt, words, tpl_strv(tpl_substr(rt, s, w, i)));
            tpl_list_push(rt, starts, tpl_int(w));
        }
        if (max < 0 || (int64_t)words->n <= max + 1)
            return tpl_listv(words, 0);
        /* maxsplit: max splits, the rest (as it is) is one item */
        if (!from_right) {
            for (int64_t j = 0; j < max; j++)
                tpl_list_push(rt, l, words->v[j]);
            uint32_t rest = (uint32_t)starts->v[max].u.i;
            tpl_list_push(rt, l, tpl_strv(tpl_substr(rt, s, rest, s->n)));
            return tpl_listv(l, 0);
        }
        uint32_t cut = words->n - (uint32_t)max;
        const tpl_str *last = words->v[cut - 1].u.s;
        uint32_t end = (uint32_t)starts->v[cut - 1].u.i + last->n;
        tpl_list_push(rt, l, tpl_strv(tpl_substr(rt, s, 0, end)));
        for (uint32_t j = cut; j < words->n; j++)
            tpl_list_push(rt, l, words->v[j]);
        return tpl_listv(l, 0);
    }
    const tpl_str *sep = tpl_want_str(rt, at, *sepv, "split");
    if (!sep->n)
        tpl_fail(rt, at, "empty separator");
    /* positions of every separator (non-overlapping, left to right) */
    tpl_list *pos = tpl_list_new(rt, 8);
    for (uint32_t i = 0; i + sep->n <= s->n;) {
        if (!memcmp(s->s + i, sep->s, sep->n)) {
            tpl_list_push(rt, pos, tpl_int(i));
            i += sep->n;
        } else {
            i++;
        }
    }
    uint32_t use_from = 0, use_to = pos->n;
    if (max >= 0 && (int64_t)pos->n > max) {
        if (from_right)
            use_from = pos->n - (uint32_t)max;
        else
            use_to = (uint32_t)max;
    }
    uint32_t start = 0;
    for (uint32_t j = use_from; j < use_to; j++) {
        uint32_t p = (uint32_t)pos->v[j].u.i;
        tpl_list_push(rt, l, tpl_strv(tpl_substr(rt, s, start, p)));
        start = p + sep->n;
    }
    tpl_list_push(rt, l, tpl_strv(tpl_substr(rt, s, start, s->n)));
    return tpl_listv(l, 0);
}

M(split) { return split_impl(rt, at, self.u.s, a, 0); }
M(rsplit) { return split_impl(rt, at, self.u.s, a, 1); }

M(splitlines)
{
    (void)a;
    (void)at;
    tpl_list *l = tpl_list_new(rt, 8);
    const tpl_str *s = self.u.s;
    uint32_t i = 0, start = 0;
    while (i < s->n) {
        if (s->s[i] == '\n' || s->s[i] == '\r') {
            tpl_list_push(rt, l, tpl_strv(tpl_substr(rt, s, start, i)));
            if (s->s[i] == '\r' && i + 1 < s->n && s->s[i + 1] == '\n')
                i++;
            start = ++i;
        } else {
            i++;
        }
    }
    if (start < s->n)
        tpl_list_push(rt, l, tpl_strv(tpl_substr(rt, s, start, s->n)));
    return tpl_listv(l, 0);
}

static int64_t find_impl(const tpl_str *s, const tpl_str *p, int last)
{
    int64_t r = -1;
    for (uint32_t i = 0; i + p->n <= s->n; i++)
        if (!memcmp(s->s + i, p->s, p->n)) {
            r = i;
            if (!last)
                break;
        }
    if (r < 0)
        return -1;
    /* byte offset -> code point index */
    int64_t k = 0;
    for (int64_t i = 0; i < r; i++)
        if (((unsigned char)s->s[i] & 0xC0) != 0x80)
            k++;
    return k;
}

M(find)
{
    const tpl_val *p = tpl_arg(a, 0, "sub");
    if (!p)
        tpl_fail(rt, at, "find needs an argument");
    return tpl_int(find_impl(self.u.s, tpl_want_str(rt, at, *p, "find"), 0));
}

M(rfind)
{
    const tpl_val *p = tpl_arg(a, 0, "sub");
    if (!p)
        tpl_fail(rt, at, "rfind needs an argument");
    return tpl_int(find_impl(self.u.s, tpl_want_str(rt, at, *p, "rfind"), 1));
}

M(count)
{
    const tpl_val *pv = tpl_arg(a, 0, "sub");
    if (!pv)
        tpl_fail(rt, at, "count needs an argument");
    const tpl_str *p = tpl_want_str(rt, at, *pv, "count"), *s = self.u.s;
    if (!p->n)
        return tpl_int((int64_t)tpl_str_len(s) + 1);
    int64_t n = 0;
    for (uint32_t i = 0; i + p->n <= s->n;)
        if (!memcmp(s->s + i, p->s, p->n)) {
            n++;
            i += p->n;
        } else {
            i++;
        }
    return tpl_int(n);
}

M(join)
{
    const tpl_val *it = tpl_arg(a, 0, "iterable");
    if (!it)
        tpl_fail(rt, at, "join needs an argument");
    const tpl_list *l = tpl_iter(rt, at, *it);
    tpl_sb b;
    tpl_sb_init(rt, &b, 64);
    for (uint32_t i = 0; i < l->n; i++) {
        if (i)
            tpl_sb_add_str(rt, &b, self.u.s, 0, self.u.s->n, 0);
        const tpl_str *x = tpl_want_str(rt, at, l->v[i], "str.join item");
        tpl_sb_add_str(rt, &b, x, 0, x->n, 0);
    }
    return tpl_strv(tpl_sb_done(rt, &b));
}

/* The replace filter is str.replace of str(v), tags of the replaced text kept. */
tpl_val tpl_replace(tpl_rt *rt, const tpl_node *at, tpl_val v, const tpl_args *a)
{
    tpl_args_max(rt, at, a, 3, "replace");
    const tpl_val *o = tpl_arg(a, 0, "old"), *nw = tpl_arg(a, 1, "new"), *cnt = tpl_arg(a, 2, "count");
    if (!o || !nw)
        tpl_fail(rt, at, "replace needs old and new");
    const tpl_str *s = tpl_to_str(rt, at, v);
    const tpl_str *old = tpl_to_str(rt, at, *o), *rep = tpl_to_str(rt, at, *nw);
    int64_t max = cnt && cnt->t != V_NONE ? tpl_want_int(rt, at, *cnt, "replace") : -1;
    tpl_sb b;
    tpl_sb_init(rt, &b, s->n + 16);
    uint32_t i = 0;
    int64_t done = 0;
    if (old->n == 0) { /* Python inserts between every character */
        for (; i <= s->n && (max < 0 || done < max);) {
            tpl_sb_add_str(rt, &b, rep, 0, rep->n, 0);
            done++;
            if (i == s->n)
                break;
            uint32_t k = 1;
            while (i + k < s->n && ((unsigned char)s->s[i + k] & 0xC0) == 0x80)
                k++;
            tpl_sb_add_str(rt, &b, s, i, i + k, 0);
            i += k;
        }
        tpl_sb_add_str(rt, &b, s, i, s->n, 0);
        return tpl_strv(tpl_sb_done(rt, &b));
    }
    uint32_t from = 0;
    while (i + old->n <= s->n && (max < 0 || done < max)) {
        if (!memcmp(s->s + i, old->s, old->n)) {
            tpl_sb_add_str(rt, &b, s, from, i, 0);
            /* the replacement inherits the tag of the text it replaces */
            tpl_sb_add_str(rt, &b, rep, 0, rep->n, tpl_str_tag_at(s, i));
            i += old->n;
            from = i;
            done++;
        } else {
            i++;
        }
    }
    tpl_sb_add_str(rt, &b, s, from, s->n, 0);
    return tpl_strv(tpl_sb_done(rt, &b));
}

static int all_chars(const tpl_str *s, int kind)
{
    if (!s->n)
        return 0;
    for (uint32_t i = 0; i < s->n; i++) {
        unsigned char c = (unsigned char)s->s[i];
        int ok = kind == 'd' ? (c >= '0' && c <= '9')
               : kind == 'a' ? ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c >= 0x80
                             : (c == ' ' || (c >= 9 && c <= 13));
        if (!ok)
            return 0;
    }
    return 1;
}

M(isdigit) { (void)rt; (void)at; (void)a; return tpl_bool(all_chars(self.u.s, 'd')); }
M(isalpha) { (void)rt; (void)at; (void)a; return tpl_bool(all_chars(self.u.s, 'a')); }
M(isspace) { (void)rt; (void)at; (void)a; return tpl_bool(all_chars(self.u.s, 's')); }

tpl_val tpl_dict_items(tpl_rt *rt, const tpl_dict *d)
{
    tpl_list *l = tpl_list_new(rt, d->n + 1);
    for (uint32_t i = 0; i < d->n; i++) {
        tpl_list *p = tpl_list_new(rt, 2);
        tpl_list_push(rt, p, d->k[i]);
        tpl_list_push(rt, p, d->v[i]);
        tpl_list_push(rt, l, tpl_listv(p, 1));
    }
    return tpl_listv(l, 0);
}

M(items)
{
    (void)a;
    (void)at;
    return tpl_dict_items(rt, self.u.d);
}

M(keys)
{
    (void)a;
    (void)at;
    tpl_list *l = tpl_list_new(rt, self.u.d->n + 1);
    for (uint32_t i = 0; i < self.u.d->n; i++)
        tpl_list_push(rt, l, self.u.d->k[i]);
    return tpl_listv(l, 0);
}

M(values)
{
    (void)a;
    (void)at;
    tpl_list *l = tpl_list_new(rt, self.u.d->n + 1);
    for (uint32_t i = 0; i < self.u.d->n; i++)
        tpl_list_push(rt, l, self.u.d->v[i]);
    return tpl_listv(l, 0);
}

M(get)
{
    const tpl_val *k = tpl_arg(a, 0, "key"), *d = tpl_arg(a, 1, "default");
    if (!k)
        tpl_fail(rt, at, "get needs a key");
    tpl_val r;
    return tpl_dict_get(self.u.d, *k, &r) ? r : d ? *d : tpl_none();
}

M(cycle)
{
    if (!a->npos)
        tpl_fail(rt, at, "loop.cycle needs at least one value");
    (void)rt;
    return a->pos[self.u.loop->index0 % a->npos];
}

static const tpl_builtin str_methods[] = {
    {"strip", m_strip}, {"lstrip", m_lstrip}, {"rstrip", m_rstrip}, {"upper", m_upper},
    {"lower", m_lower}, {"title", m_title}, {"capitalize", m_capitalize},
    {"startswith", m_startswith}, {"endswith", m_endswith}, {"split", m_split},
    {"rsplit", m_rsplit}, {"splitlines", m_splitlines}, {"find", m_find}, {"rfind", m_rfind},
    {"count", m_count}, {"join", m_join}, {"replace", tpl_replace}, {"isdigit", m_isdigit},
    {"isalpha", m_isalpha}, {"isspace", m_isspace}, {NULL, NULL},
};
static const tpl_builtin dict_methods[] = {
    {"items", m_items}, {"keys", m_keys}, {"values", m_values}, {"get", m_get}, {NULL, NULL},
};
static const tpl_builtin loop_methods[] = {{"cycle", m_cycle}, {NULL, NULL}};

const tpl_builtin *tpl_find_method(tpl_val v, const char *name)
{
    const tpl_builtin *t = v.t == V_STR ? str_methods : v.t == V_DICT ? dict_methods
                         : v.t == V_LOOP ? loop_methods : NULL;
    for (int i = 0; t && t[i].name; i++)
        if (!strcmp(t[i].name, name))
            return &t[i];
    return NULL;
}
