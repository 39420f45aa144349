/* Tagged strings: bytes plus runs of provenance tags, built in the render arena.
 * Every string operation goes through a builder so that tags follow the bytes. */
#include "datasets/template/tpl_internal.h"

#include <string.h>
#include <utf8proc.h>

void tpl_sb_init(tpl_rt *rt, tpl_sb *b, uint32_t cap)
{
    memset(b, 0, sizeof *b);
    b->cap = cap < 16 ? 16 : cap;
    b->s = tpl_alloc(rt, b->cap);
}

static void grow(tpl_rt *rt, tpl_sb *b, size_t need)
{
    if (need <= b->cap)
        return;
    if (need > 0xFFFFFFF0u)
        tpl_fail(rt, NULL, "a string grew beyond 4 GiB");
    size_t cap = b->cap ? b->cap : 16;
    while (cap < need)
        cap = cap * 2 > 0xFFFFFFF0u ? 0xFFFFFFF0u : cap * 2;
    char *s = tpl_alloc(rt, cap);
    if (b->n)
        memcpy(s, b->s, b->n);
    b->s = s;
    b->cap = (uint32_t)cap;
}

static void push_run(tpl_rt *rt, tpl_sb *b, uint32_t end, uint32_t tag)
{
    if (b->nruns && b->runs[b->nruns - 1].tag == tag) {
        b->runs[b->nruns - 1].end = end;
        return;
    }
    if (b->nruns == b->rcap) {
        uint32_t cap = b->rcap ? b->rcap * 2 : 8;
        tpl_run *r = tpl_alloc(rt, cap * sizeof *r);
        if (b->nruns)
            memcpy(r, b->runs, b->nruns * sizeof *r);
        b->runs = r;
        b->rcap = cap;
    }
    b->runs[b->nruns++] = (tpl_run){end, tag};
}

/* Runs: none while every byte has tag 0, else they cover [0, n). */
void tpl_sb_add(tpl_rt *rt, tpl_sb *b, const char *s, size_t n, uint32_t tag)
{
    if (!n)
        return;
    grow(rt, b, (size_t)b->n + n + 1);
    uint32_t start = b->n;
    memcpy(b->s + b->n, s, n);
    b->n += (uint32_t)n;
    if (!b->nruns && !tag)
        return;
    if (!b->nruns && start > 0)
        push_run(rt, b, start, 0);
    push_run(rt, b, b->n, tag);
}

uint32_t tpl_str_tag_at(const tpl_str *s, uint32_t byte)
{
    for (uint32_t i = 0; i < s->nruns; i++)
        if (byte < s->runs[i].end)
            return s->runs[i].tag;
    return 0;
}

void tpl_sb_add_str(tpl_rt *rt, tpl_sb *b, const tpl_str *s, uint32_t from, uint32_t to,
                    uint32_t extra)
{
    if (to <= from)
        return;
    if (!s->nruns) {
        tpl_sb_add(rt, b, s->s + from, to - from, extra);
        return;
    }
    uint32_t at = from;
    for (uint32_t i = 0; i < s->nruns && at < to; i++) {
        uint32_t end = s->runs[i].end;
        if (end > at) {
            uint32_t stop = end < to ? end : to;
            tpl_sb_add(rt, b, s->s + at, stop - at, s->runs[i].tag | extra);
            at = stop;
        }
    }
    if (at < to)
        tpl_sb_add(rt, b, s->s + at, to - at, extra);
}

const tpl_str *tpl_sb_done(tpl_rt *rt, tpl_sb *b)
{
    grow(rt, b, (size_t)b->n + 1);
    b->s[b->n] = 0;
    tpl_str *s = tpl_alloc(rt, sizeof *s);
    *s = (tpl_str){b->s, b->n, b->nruns, b->runs};
    return s;
}

const tpl_str *tpl_substr(tpl_rt *rt, const tpl_str *s, uint32_t from, uint32_t to)
{
    if (from == 0 && to >= s->n)
        return s;
    tpl_sb b;
    tpl_sb_init(rt, &b, to > from ? to - from + 1 : 1);
    tpl_sb_add_str(rt, &b, s, from, to, 0);
    return tpl_sb_done(rt, &b);
}

const tpl_str *tpl_concat(tpl_rt *rt, const tpl_str *a, const tpl_str *b2)
{
    tpl_sb b;
    tpl_sb_init(rt, &b, a->n + b2->n + 1);
    tpl_sb_add_str(rt, &b, a, 0, a->n, 0);
    tpl_sb_add_str(rt, &b, b2, 0, b2->n, 0);
    return tpl_sb_done(rt, &b);
}

uint32_t tpl_str_len(const tpl_str *s)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->n; i++)
        if (((unsigned char)s->s[i] & 0xC0) != 0x80)
            k++;
    return k;
}

uint32_t tpl_str_offset(const tpl_str *s, int64_t k)
{
    uint32_t i = 0;
    int64_t seen = 0;
    for (; i < s->n; i++) {
        if (((unsigned char)s->s[i] & 0xC0) != 0x80) {
            if (seen == k)
                return i;
            seen++;
        }
    }
    return s->n;
}

static uint32_t next_cp(const tpl_str *s, uint32_t i, int32_t *cp)
{
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s->s + i, s->n - i, &c);
    if (k <= 0) {
        *cp = (unsigned char)s->s[i];
        return 1;
    }
    *cp = c;
    return (uint32_t)k;
}

const tpl_str *tpl_str_case(tpl_rt *rt, const tpl_str *s, char mode)
{
    tpl_sb b;
    tpl_sb_init(rt, &b, s->n + 8);
    int word_start = 1, first = 1;
    for (uint32_t i = 0; i < s->n;) {
        int32_t cp;
        uint32_t k = next_cp(s, i, &cp);
        int32_t o;
        int letter = utf8proc_category(cp) <= UTF8PROC_CATEGORY_LO && cp > 0x40;
        switch (mode) {
        case 'u': o = utf8proc_toupper(cp); break;
        case 'l': o = utf8proc_tolower(cp); break;
        case 'c': o = first ? utf8proc_totitle(cp) : utf8proc_tolower(cp); break;
        default: /* title: a letter after a non-letter starts a word */
            o = word_start && letter ? utf8proc_totitle(cp) : utf8proc_tolower(cp);
            word_start = !letter;
        }
        first = 0;
        char buf[8];
        utf8proc_ssize_t w = utf8proc_encode_char(o, (utf8proc_uint8_t *)buf);
        tpl_sb_add(rt, &b, buf, (size_t)(w > 0 ? w : 0), tpl_str_tag_at(s, i));
        i += k;
    }
    return tpl_sb_done(rt, &b);
}

static int in_chars(const tpl_str *chars, const char *p, uint32_t k)
{
    for (uint32_t i = 0; i + k <= chars->n;) {
        uint32_t cl = 1;
        unsigned char c0 = (unsigned char)chars->s[i];
        cl = c0 < 0x80 ? 1 : c0 < 0xE0 ? 2 : c0 < 0xF0 ? 3 : 4;
        if (cl == k && !memcmp(chars->s + i, p, k))
            return 1;
        i += cl;
    }
    return 0;
}

static uint32_t cp_len_at(const tpl_str *s, uint32_t i)
{
    unsigned char c0 = (unsigned char)s->s[i];
    uint32_t k = c0 < 0x80 ? 1 : c0 < 0xE0 ? 2 : c0 < 0xF0 ? 3 : 4;
    return i + k > s->n ? s->n - i : k;
}

const tpl_str *tpl_str_strip(tpl_rt *rt, const tpl_str *s, const tpl_str *chars, char which)
{
    uint32_t from = 0, to = s->n, k;
    if (which != 'r') {
        while (from < to) {
            int hit = chars ? in_chars(chars, s->s + from, (k = cp_len_at(s, from)))
                            : tpl_is_space_at(s->s, s->n, from, &k);
            if (!hit)
                break;
            from += k;
        }
    }
    if (which != 'l') {
        /* find the last code point that is kept */
        uint32_t i = from, keep = from;
        while (i < to) {
            int hit = chars ? in_chars(chars, s->s + i, (k = cp_len_at(s, i)))
                            : tpl_is_space_at(s->s, s->n, i, &k);
            i += k;
            if (!hit)
                keep = i;
        }
        to = keep;
    }
    return tpl_substr(rt, s, from, to);
}
