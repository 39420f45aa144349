/* Pre-tokenizers: building the chain, the split behaviours, running the chain, its
 * fingerprint (see pretokenizer.h). */
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer/maps.h"
#include "datasets/tokenizer/pretokenizer.h"

const char *const tok_gpt2_regex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const char *const tok_llama3_regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char *const tok_qwen2_regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* ---------------- building ---------------- */

static void pre_free(tok_pre *p)
{
    free(p->lit);
    tok_re_free(&p->re);
}

/* Takes P into the chain, or frees it. */
static int push(tok_pre_chain *c, tok_pre *p, const char *where, yt_err *e)
{
    tok_pre *v = yt_realloc_array(c->v, c->n + 1, sizeof *v, "the pre-tokenizer chain", e);
    if (!v) {
        pre_free(p);
        return yt_err_prefix(e, "%s", where);
    }
    c->v = v;
    v[c->n++] = *p;
    return 0;
}

static int compile(tok_pre *p, const char *pattern, const char *where, yt_err *e)
{
    if (tok_re_compile(&p->re, pattern, where, e)) {
        pre_free(p);
        return -1;
    }
    p->is_regex = 1;
    return 0;
}

int tok_pre_add_split(tok_pre_chain *c, const char *pat, size_t plen, int is_regex, int behavior,
                      int invert, const char *where, yt_err *e)
{
    tok_pre p = {.kind = TP_SPLIT, .behavior = behavior, .invert = invert};
    if (is_regex) {
        if (compile(&p, pat, where, e))
            return -1;
    } else {
        if (!(p.lit = tok_memdup(pat, plen, "a Split pattern", e)))
            return yt_err_prefix(e, "%s", where);
        p.litlen = plen;
    }
    return push(c, &p, where, e);
}

int tok_pre_add_bytelevel(tok_pre_chain *c, int add_prefix_space, int use_regex,
                          const char *where, yt_err *e)
{
    tok_pre p = {.kind = TP_BYTELEVEL, .add_prefix_space = add_prefix_space,
                 .use_regex = use_regex};
    if (use_regex && compile(&p, tok_gpt2_regex, where, e))
        return -1;
    return push(c, &p, where, e);
}

int tok_pre_add_digits(tok_pre_chain *c, int individual, const char *where, yt_err *e)
{
    tok_pre p = {.kind = TP_DIGITS, .individual = individual, .behavior = TB_ISOLATED};
    if (compile(&p, individual ? "\\p{N}" : "\\p{N}+", where, e))
        return -1;
    return push(c, &p, where, e);
}

int tok_pre_add_metaspace(tok_pre_chain *c, const char *repl, size_t rlen, int prepend_scheme,
                          int split, const char *where, yt_err *e)
{
    tok_pre p = {.kind = TP_METASPACE, .repl_len = rlen, .prepend_scheme = prepend_scheme,
                 .split = split};
    if (rlen == 0 || rlen > 4)
        return yt_errf(e, "%s: replacement must be one character", where);
    memcpy(p.repl, repl, rlen);
    return push(c, &p, where, e);
}

void tok_pre_chain_free(tok_pre_chain *c)
{
    for (size_t i = 0; i < c->n; i++)
        pre_free(&c->v[i]);
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

int tok_pre_chain_byte_level(const tok_pre_chain *c, int *byte_level, yt_err *e)
{
    *byte_level = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].kind == TP_BYTELEVEL) {
            if (i + 1 != c->n)
                return yt_errf(e, "pre_tokenizer: ByteLevel must be the last step "
                               "(a step after it would see mapped characters)");
            *byte_level = 1;
        }
    return 0;
}

/* ---------------- split behaviours (HF SplitDelimiterBehavior) ---------------- */

/* Applies the behaviour to the segments in g (found in src) and pushes the resulting
 * non-empty pieces. */
static int emit_segments(tok_segs *gs, int behavior, int invert, const tok_piece *src,
                         tok_pieces *dst, yt_err *e)
{
    size_t *g = gs->v, ns = gs->n;
    if (invert)
        for (size_t i = 0; i < ns; i++)
            g[3 * i + 2] = !g[3 * i + 2];
    size_t out = 0; /* result written in place as (start, end, removed) */
    switch (behavior) {
    case TB_ISOLATED:
        for (size_t i = 0; i < ns; i++)
            g[3 * i + 2] = 0;
        out = ns;
        break;
    case TB_REMOVED:
        out = ns;
        break;
    case TB_CONTIGUOUS:
    case TB_MERGED_PREV: {
        /* contiguous: a piece joins the previous one of the same kind;
         * merged-with-previous: a match joins the piece before it */
        int prevm = 0;
        for (size_t i = 0; i < ns; i++) {
            size_t a = g[3 * i], b = g[3 * i + 1];
            int m = (int)g[3 * i + 2];
            int join = behavior == TB_CONTIGUOUS ? m == prevm : m && !prevm;
            if (join && out > 0)
                g[3 * (out - 1) + 1] = b;
            else {
                g[3 * out] = a;
                g[3 * out + 1] = b;
                g[3 * out + 2] = 0;
                out++;
            }
            prevm = m;
        }
        break;
    }
    case TB_MERGED_NEXT: {
        /* fold from the end; results are written from the back of the array */
        int prevm = 0;
        size_t w = ns; /* next free slot going down; slots >= w hold results */
        for (size_t ii = ns; ii-- > 0;) {
            size_t a = g[3 * ii], b = g[3 * ii + 1];
            int m = (int)g[3 * ii + 2];
            if (m && !prevm && w < ns)
                g[3 * w] = a;
            else {
                w--;
                g[3 * w] = a;
                g[3 * w + 1] = b;
                g[3 * w + 2] = 0;
            }
            prevm = m;
        }
        /* w >= ii always holds, so the in-place fold never overwrites unread input */
        for (size_t i = w; i < ns; i++) {
            size_t a = g[3 * i], b = g[3 * i + 1];
            if (b > a && tok_pieces_push(dst, src->p + a, b - a, src->at_origin && a == 0, e))
                return -1;
        }
        return 0;
    }
    }
    for (size_t i = 0; i < out; i++) {
        size_t a = g[3 * i], b = g[3 * i + 1];
        if (!g[3 * i + 2] && b > a &&
            tok_pieces_push(dst, src->p + a, b - a, src->at_origin && a == 0, e))
            return -1;
    }
    return 0;
}

/* ---------------- running ---------------- */

/* Metaspace: spaces become the replacement (prepended as the scheme says), then the
 * piece splits before each replacement. */
static int metaspace(const tok_pre *p, const tok_piece *src, tok_pieces *dst, tok_scratch *w,
                     yt_err *e)
{
    tok_piece cur = *src;
    size_t nsp = 0;
    for (size_t i = 0; i < cur.n; i++)
        nsp += cur.p[i] == ' ';
    int starts = cur.n >= p->repl_len && memcmp(cur.p, p->repl, p->repl_len) == 0;
    int pre = 0;
    if (p->prepend_scheme == TM_ALWAYS)
        pre = 1;
    else if (p->prepend_scheme == TM_FIRST)
        pre = cur.at_origin;
    /* after the space replacement the piece starts with the replacement when it
     * started with a space */
    if (cur.n && cur.p[0] == ' ')
        starts = 1;
    if (starts)
        pre = 0;
    if (nsp || pre) {
        size_t nn = cur.n + nsp * (p->repl_len - 1) + (pre ? p->repl_len : 0);
        char *d = tok_arena_alloc(&w->arena, nn + 1, e);
        if (!d)
            return -1;
        size_t o = 0;
        if (pre) {
            memcpy(d, p->repl, p->repl_len);
            o = p->repl_len;
        }
        for (size_t i = 0; i < cur.n; i++) {
            if (cur.p[i] == ' ') {
                memcpy(d + o, p->repl, p->repl_len);
                o += p->repl_len;
            } else {
                d[o++] = cur.p[i];
            }
        }
        cur.p = d;
        cur.n = o;
    }
    if (!p->split)
        return cur.n ? tok_pieces_push(dst, cur.p, cur.n, cur.at_origin, e) : 0;
    if (tok_find_segments(NULL, p->repl, p->repl_len, cur.p, cur.n, &w->seg, e))
        return -1;
    return emit_segments(&w->seg, TB_MERGED_NEXT, 0, &cur, dst, e);
}

static int apply_step(tok_pre *p, const tok_piece *src, tok_pieces *dst, tok_scratch *w,
                      yt_err *e)
{
    switch (p->kind) {
    case TP_SPLIT:
    case TP_DIGITS:
        if (tok_find_segments(p->is_regex ? &p->re : NULL, p->lit, p->litlen, src->p, src->n,
                              &w->seg, e))
            return -1;
        return emit_segments(&w->seg, p->behavior, p->invert, src, dst, e);
    case TP_BYTELEVEL: {
        tok_piece cur = *src;
        if (p->add_prefix_space && (cur.n == 0 || cur.p[0] != ' ')) {
            char *d = tok_arena_alloc(&w->arena, cur.n + 2, e);
            if (!d)
                return -1;
            d[0] = ' ';
            memcpy(d + 1, cur.p, cur.n);
            cur.p = d;
            cur.n++;
        }
        if (!p->use_regex)
            return cur.n ? tok_pieces_push(dst, cur.p, cur.n, cur.at_origin, e) : 0;
        if (tok_find_segments(&p->re, NULL, 0, cur.p, cur.n, &w->seg, e))
            return -1;
        return emit_segments(&w->seg, TB_ISOLATED, 0, &cur, dst, e);
    }
    case TP_METASPACE:
        return metaspace(p, src, dst, w, e);
    }
    return yt_errf(e, "pre-tokenizer step of unknown kind %d", p->kind);
}

int tok_pre_chain_run(tok_pre_chain *c, const char *s, size_t n, int at_origin, tok_scratch *w,
                      yt_err *e)
{
    w->pa.n = 0;
    if (tok_pieces_push(&w->pa, s, n, at_origin, e))
        return -1;
    for (size_t k = 0; k < c->n; k++) {
        w->pb.n = 0;
        for (size_t i = 0; i < w->pa.n; i++) {
            tok_piece src = w->pa.v[i];
            if (apply_step(&c->v[k], &src, &w->pb, w, e))
                return -1;
        }
        tok_pieces tmp = w->pa;
        w->pa = w->pb;
        w->pb = tmp;
    }
    return 0;
}

uint64_t tok_pre_chain_hash(uint64_t h, const tok_pre_chain *c)
{
    h = tok_fp_u64(h, c->n);
    for (size_t i = 0; i < c->n; i++) {
        const tok_pre *p = &c->v[i];
        h = tok_fp_u64(h, (uint64_t)p->kind);
        h = tok_fp_u64(h, (uint64_t)(p->is_regex | p->invert << 1 | p->add_prefix_space << 2 |
                                     p->use_regex << 3 | p->individual << 4 | p->split << 5));
        h = tok_fp_u64(h, (uint64_t)p->behavior);
        h = tok_fp_u64(h, (uint64_t)p->prepend_scheme);
        h = tok_fp_bytes(h, p->lit ? p->lit : "", p->litlen);
        h = tok_fp_str(h, p->re.src);
        h = tok_fp_bytes(h, p->repl, p->repl_len);
    }
    return h;
}
