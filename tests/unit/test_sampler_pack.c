/* The sampler's windows in every mode (concatenated, joined with EOS, one document
 * per window; with and without document masking) against an independent reference
 * built from the contract in datasets.h: contents (EOS placement, padding, weights,
 * doc ids, positions restarting at documents), every stream token a target exactly
 * once per epoch across ranks, the same global order for 1, 2 and 4 ranks, and a
 * cursor restored at any step reproducing the rest exactly, over several epochs. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "datasets/datasets.h"

#define SQ 8
#define EOS 1000000u
#define MAXW 4096

/* ---- datasets ---- */

typedef struct dsfix {
    char dir[256], path[300];
    yt_ds *ds;
} dsfix;

/* Documents with the given lengths; token k of the file is k + 1 (unique), its mask
 * bit is masks ? masks[k] : 1. */
static void dsfix_open(dsfix *f, const size_t *lens, int n_docs, const uint8_t *masks)
{
    const char *base = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/yt-sp-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/d.h5", f->dir);
    yt_err e = {{0}};
    yt_ds_writer *w;
    yt_ds_writer_opts wo = {.chunk_elems = 7};
    ck_assert_msg(yt_ds_writer_open(&w, f->path, &wo, &e) == 0, "%s", e.msg);
    uint32_t ids[512];
    uint8_t m[512];
    size_t k = 0;
    for (int d = 0; d < n_docs; d++) {
        ck_assert(lens[d] <= 512);
        for (size_t i = 0; i < lens[d]; i++, k++) {
            ids[i] = (uint32_t)k + 1;
            m[i] = masks ? masks[k] : 1;
        }
        ck_assert_msg(yt_ds_writer_add_doc(w, ids, m, lens[d], &e) == 0, "%s", e.msg);
    }
    ck_assert_msg(yt_ds_writer_close(w, &e) == 0, "%s", e.msg);
    ck_assert_msg(yt_ds_open(&f->ds, f->path, &e) == 0, "%s", e.msg);
}

static void dsfix_close(dsfix *f)
{
    yt_ds_close(f->ds);
    unlink(f->path);
    rmdir(f->dir);
}

/* A random corpus: lengths 0..40 (some 0 and 1), random masks. */
static void dsfix_random(dsfix *f, int n_docs, uint64_t seed)
{
    size_t lens[256], total = 0;
    ck_assert(n_docs <= 256);
    for (int d = 0; d < n_docs; d++) {
        uint64_t r = yt_mix64(seed ^ yt_mix64((uint64_t)d));
        lens[d] = r % 7 == 0 ? r % 2 : (size_t)(r >> 8) % 41;
        total += lens[d];
    }
    uint8_t *masks = malloc(total + 1);
    for (size_t k = 0; k < total; k++)
        masks[k] = (yt_mix64(seed * 31 + k) % 4) != 0;
    dsfix_open(f, lens, n_docs, masks);
    free(masks);
}

/* ---- the reference: windows built straight from the contract ---- */

typedef struct mode {
    int eos, pad, doc_mask;
} mode;

typedef struct ref {
    size_t nw;
    int32_t in[MAXW][SQ], tg[MAXW][SQ], doc[MAXW][SQ], pos[MAXW][SQ];
    float wt[MAXW][SQ];
    long tid[MAXW][SQ]; /* identity of each target: token index, n_tokens + d for an EOS, -1 pad */
} ref;

typedef struct elem {
    int32_t tok, doc;
    int msk;
    long id;
} elem;

static void ref_window(ref *r, const elem *el, size_t n, const mode *md)
{
    ck_assert(r->nw < MAXW);
    size_t w = r->nw++;
    elem e[SQ + 1];
    for (size_t t = 0; t <= SQ; t++)
        e[t] = t < n ? el[t] : (elem){(int32_t)(md->eos ? EOS : 0), -1, 0, -1};
    int32_t pos = 0;
    for (size_t t = 0; t < SQ; t++) {
        r->in[w][t] = e[t].tok;
        r->doc[w][t] = e[t].doc;
        r->tg[w][t] = e[t + 1].tok;
        r->tid[w][t] = e[t + 1].id;
        int cross = md->doc_mask && e[t + 1].doc != e[t].doc;
        r->wt[w][t] = e[t + 1].msk && !cross ? 1.0f : 0.0f;
        if (md->doc_mask)
            pos = t > 0 && e[t].doc == e[t - 1].doc ? pos + 1 : 0;
        else
            pos = (int32_t)t;
        r->pos[w][t] = pos;
    }
}

static ref *ref_build(const yt_ds *ds, const mode *md)
{
    ref *r = calloc(1, sizeof *r);
    size_t cap = ds->n_tokens + ds->n_docs + 1, n = 0;
    elem *st = malloc(cap * sizeof *st);
    for (uint64_t d = 0; d < ds->n_docs; d++) {
        size_t d0 = n;
        for (uint64_t k = ds->doc_offsets[d]; k < ds->doc_offsets[d + 1]; k++)
            st[n++] = (elem){(int32_t)ds->tokens[k], (int32_t)d, ds->loss_mask[k], (long)k};
        if (md->eos)
            st[n++] = (elem){(int32_t)EOS, (int32_t)d, 1, (long)(ds->n_tokens + d)};
        if (md->pad) { /* this document alone, in windows of S + 1 overlapping by one */
            size_t len = n - d0;
            for (size_t j = 0; len >= 2 && j * SQ < len - 1; j++) {
                size_t rest = len - j * SQ;
                ref_window(r, st + d0 + j * SQ, rest < SQ + 1 ? rest : SQ + 1, md);
            }
        }
    }
    if (!md->pad)
        for (size_t w = 0; n > 0 && w < (n - 1) / SQ; w++)
            ref_window(r, st + w * SQ, SQ + 1, md);
    free(st);
    return r;
}

/* ---- sampler helpers ---- */

static yt_ds_sampler *mk(const yt_ds *ds, const mode *md, int rank, int world, uint32_t B,
                         uint32_t G, uint64_t seed)
{
    yt_err e = {{0}};
    yt_ds_sampler_opts o = {.seq_len = SQ, .micro_batch = B, .global_batch = G, .rank = rank,
                            .world = world, .seed = seed, .pack_eos = md->eos, .eos_id = EOS,
                            .pad_per_doc = md->pad, .doc_mask = md->doc_mask};
    yt_ds_sampler *s;
    ck_assert_msg(yt_ds_sampler_create(&s, ds, &o, &e) == 0, "%s", e.msg);
    return s;
}

static void check_row(const ref *r, uint64_t w, const int32_t *in, const int32_t *tg,
                      const float *wt, const int32_t *doc, const int32_t *pos)
{
    ck_assert_uint_lt(w, r->nw);
    for (int t = 0; t < SQ; t++) {
        ck_assert_int_eq(in[t], r->in[w][t]);
        ck_assert_int_eq(tg[t], r->tg[w][t]);
        ck_assert(wt[t] == r->wt[w][t]);
        ck_assert_int_eq(doc[t], r->doc[w][t]);
        ck_assert_int_eq(pos[t], r->pos[w][t]);
        ck_assert_int_ge(pos[t], 0);
        ck_assert_int_lt(pos[t], SQ);
    }
}

/* One next_batch; checks each row against the reference; writes the windows. */
static void draw(yt_ds_sampler *s, const ref *r, uint32_t B, uint64_t *win)
{
    int32_t in[8 * SQ], tg[8 * SQ], doc[8 * SQ], pos[8 * SQ];
    float wt[8 * SQ];
    uint64_t peek[8];
    for (uint32_t b = 0; b < B; b++)
        peek[b] = yt_ds_sampler_peek_window(s, b);
    yt_err e = {{0}};
    yt_ds_batch bt = {in, tg, wt, doc, pos};
    ck_assert(yt_ds_sampler_next_batch(s, &bt, &e) == 0);
    for (uint32_t b = 0; b < B; b++) {
        check_row(r, peek[b], in + b * SQ, tg + b * SQ, wt + b * SQ, doc + b * SQ, pos + b * SQ);
        win[b] = peek[b];
    }
}

/* The global order of `steps` steps with world W, from cursor c, in (step, rank,
 * micro-batch, row) order. */
static void global_order(const yt_ds *ds, const ref *r, const mode *md, int W, uint32_t B,
                         uint32_t G, yt_ds_cursor c, int steps, uint64_t *out)
{
    yt_ds_sampler *s[4] = {NULL, NULL, NULL, NULL};
    yt_err e = {{0}};
    ck_assert(W >= 1 && W <= 4);
    for (int k = 0; k < W; k++) {
        s[k] = mk(ds, md, k, W, B, G, 42);
        ck_assert_msg(yt_ds_sampler_set_cursor(s[k], c, &e) == 0, "%s", e.msg);
    }
    uint32_t A = yt_ds_sampler_accum(s[0]);
    size_t n = 0;
    for (int st = 0; st < steps; st++)
        for (int k = 0; k < W; k++)
            for (uint32_t m = 0; m < A; m++, n += B)
                draw(s[k], r, B, out + n);
    for (int k = 0; k < W; k++)
        yt_ds_sampler_free(s[k]);
}

static const mode MODES[] = {
    {0, 0, 0}, {1, 0, 0}, {0, 0, 1}, {1, 0, 1}, {0, 1, 0}, {1, 1, 0}, {1, 1, 1}, {0, 1, 1},
};
#define NMODES ((int)(sizeof MODES / sizeof MODES[0]))

/* ---- tests ---- */

/* Every window of every mode equals the reference (random corpus, masks). */
START_TEST(test_windows_match_contract)
{
    const mode *md = &MODES[_i];
    dsfix f;
    dsfix_random(&f, 60, 11 + (uint64_t)_i);
    ref *r = ref_build(f.ds, md);
    yt_ds_sampler *s = mk(f.ds, md, 0, 1, 1, 1, 3);
    ck_assert_uint_eq(yt_ds_sampler_n_windows(s), r->nw);
    int32_t in[SQ], tg[SQ], doc[SQ], pos[SQ];
    float wt[SQ];
    yt_ds_batch bt = {in, tg, wt, doc, pos};
    for (uint64_t w = 0; w < r->nw; w++) {
        yt_ds_sampler_window(s, w, 0, &bt);
        check_row(r, w, in, tg, wt, doc, pos);
    }
    yt_ds_sampler_free(s);
    free(r);
    dsfix_close(&f);
}
END_TEST

/* One epoch over all ranks: no window twice, steps*G windows; with G = 1 nothing is
 * dropped and every stream token (EOS included) that can be a target is one exactly
 * once. */
START_TEST(test_each_token_once)
{
    const mode *md = &MODES[_i];
    dsfix f;
    dsfix_random(&f, 60, 21 + (uint64_t)_i);
    ref *r = ref_build(f.ds, md);
    long n_ids = (long)(f.ds->n_tokens + f.ds->n_docs);
    int *seen = calloc((size_t)n_ids, sizeof *seen), *expect = calloc((size_t)n_ids, sizeof *expect);
    for (size_t w = 0; w < r->nw; w++)
        for (int t = 0; t < SQ; t++)
            if (r->tid[w][t] >= 0)
                expect[r->tid[w][t]]++;
    for (long i = 0; i < n_ids; i++)
        ck_assert_int_le(expect[i], 1); /* windows never share a target */
    const struct { int W; uint32_t B, G; } cfg[] = {{1, 1, 1}, {2, 2, 8}, {4, 1, 4}, {4, 2, 16}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        uint64_t *order = malloc(r->nw * sizeof *order);
        yt_ds_sampler *s0 = mk(f.ds, md, 0, cfg[c].W, cfg[c].B, cfg[c].G, 9);
        uint64_t steps = yt_ds_sampler_steps_per_epoch(s0);
        yt_ds_sampler_free(s0);
        ck_assert_uint_eq(steps, r->nw / cfg[c].G);
        global_order(f.ds, r, md, cfg[c].W, cfg[c].B, cfg[c].G, (yt_ds_cursor){1, 0}, (int)steps,
                     order);
        memset(seen, 0, (size_t)n_ids * sizeof *seen);
        char *used = calloc(r->nw, 1);
        for (uint64_t k = 0; k < steps * cfg[c].G; k++) {
            ck_assert_msg(!used[order[k]], "window %llu twice", (unsigned long long)order[k]);
            used[order[k]] = 1;
            for (int t = 0; t < SQ; t++)
                if (r->tid[order[k]][t] >= 0)
                    seen[r->tid[order[k]][t]]++;
        }
        for (long i = 0; i < n_ids; i++) {
            ck_assert_int_le(seen[i], 1);
            if (cfg[c].G == 1)
                ck_assert_int_eq(seen[i], expect[i]);
        }
        free(used);
        free(order);
    }
    free(seen);
    free(expect);
    free(r);
    dsfix_close(&f);
}
END_TEST

/* The same global batch gives the same global order on 1, 2 and 4 ranks (and
 * another micro-batch split), across three epochs. */
START_TEST(test_world_invariance)
{
    const mode *md = &MODES[_i];
    dsfix f;
    dsfix_random(&f, 40, 31 + (uint64_t)_i);
    ref *r = ref_build(f.ds, md);
    const uint32_t G = 8;
    yt_ds_sampler *s0 = mk(f.ds, md, 0, 1, 1, G, 42);
    int steps = (int)yt_ds_sampler_steps_per_epoch(s0) * 3 + 1;
    yt_ds_sampler_free(s0);
    uint64_t *ref1 = malloc((size_t)steps * G * sizeof *ref1), *got = malloc((size_t)steps * G * sizeof *got);
    global_order(f.ds, r, md, 1, 1, G, (yt_ds_cursor){0, 0}, steps, ref1);
    const struct { int W; uint32_t B; } cfg[] = {{1, 4}, {2, 1}, {2, 4}, {4, 1}, {4, 2}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        global_order(f.ds, r, md, cfg[c].W, cfg[c].B, G, (yt_ds_cursor){0, 0}, steps, got);
        ck_assert_msg(memcmp(ref1, got, (size_t)steps * G * sizeof *got) == 0,
                      "order differs with world %d micro-batch %u", cfg[c].W, cfg[c].B);
    }
    free(ref1);
    free(got);
    free(r);
    dsfix_close(&f);
}
END_TEST

/* Stopping after any step and restoring the cursor into fresh samplers (same or
 * another world) gives exactly the rest of the uninterrupted sequence. */
START_TEST(test_cursor_restore)
{
    const mode *md = &MODES[_i];
    dsfix f;
    dsfix_random(&f, 30, 41 + (uint64_t)_i);
    ref *r = ref_build(f.ds, md);
    const uint32_t G = 4, B = 1;
    const int W = 2;
    yt_ds_sampler *s[2] = {mk(f.ds, md, 0, W, B, G, 42), mk(f.ds, md, 1, W, B, G, 42)};
    int spe = (int)yt_ds_sampler_steps_per_epoch(s[0]);
    int steps = spe * 2 + 2;
    uint64_t *all = malloc((size_t)steps * G * sizeof *all), *rest = malloc((size_t)steps * G * sizeof *rest);
    yt_ds_cursor *cur = malloc((size_t)(steps + 1) * sizeof *cur);
    size_t n = 0;
    uint32_t A = yt_ds_sampler_accum(s[0]);
    for (int st = 0; st < steps; st++) {
        cur[st] = yt_ds_sampler_cursor(s[0]);
        ck_assert(cur[st].epoch == (uint64_t)(st / spe));
        ck_assert(cur[st].position == (uint64_t)(st % spe) * G);
        for (int k = 0; k < W; k++)
            for (uint32_t m = 0; m < A; m++, n += B)
                draw(s[k], r, B, all + n);
    }
    for (int k = 0; k < W; k++)
        yt_ds_sampler_free(s[k]);
    for (int st = 0; st < steps; st++) {
        for (int w2 = 1; w2 <= 4; w2 *= 2) {
            global_order(f.ds, r, md, w2, 1, G, cur[st], steps - st, rest);
            ck_assert_msg(memcmp(rest, all + (size_t)st * G, (size_t)(steps - st) * G * sizeof *rest) == 0,
                          "resume at step %d with world %d differs", st, w2);
        }
    }
    free(all);
    free(rest);
    free(cur);
    free(r);
    dsfix_close(&f);
}
END_TEST

/* Spelled out: EOS after every document (empty ones too), counted; with doc-mask
 * the first token of the next document is not a target and positions restart. */
START_TEST(test_eos_placement)
{
    const size_t lens[3] = {3, 0, 2}; /* tokens 1 2 3 | | 4 5 */
    dsfix f;
    dsfix_open(&f, lens, 3, NULL);
    /* stream: 1 2 3 E | E | 4 5 E (docs 0 0 0 0 1 2 2 2), L = 8, S = 3 -> 2 windows */
    yt_err e = {{0}};
    yt_ds_sampler_opts o = {.seq_len = 3, .micro_batch = 1, .global_batch = 1, .world = 1,
                            .pack_eos = 1, .eos_id = EOS};
    int32_t in[3], tg[3], doc[3], pos[3];
    float wt[3];
    yt_ds_batch bt = {in, tg, wt, doc, pos};
    for (int dm = 0; dm < 2; dm++) {
        o.doc_mask = dm;
        yt_ds_sampler *s;
        ck_assert_msg(yt_ds_sampler_create(&s, f.ds, &o, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(yt_ds_sampler_n_windows(s), 2);
        yt_ds_sampler_window(s, 0, 0, &bt);
        const int32_t in0[3] = {1, 2, 3}, tg0[3] = {2, 3, EOS}, doc0[3] = {0, 0, 0}, pos0[3] = {0, 1, 2};
        ck_assert(memcmp(in, in0, sizeof in) == 0 && memcmp(tg, tg0, sizeof tg) == 0);
        ck_assert(memcmp(doc, doc0, sizeof doc) == 0 && memcmp(pos, pos0, sizeof pos) == 0);
        ck_assert(wt[0] == 1 && wt[1] == 1 && wt[2] == 1); /* predicting EOS counts */
        yt_ds_sampler_window(s, 1, 0, &bt);
        const int32_t in1[3] = {EOS, EOS, 4}, tg1[3] = {EOS, 4, 5}, doc1[3] = {0, 1, 2};
        ck_assert(memcmp(in, in1, sizeof in) == 0 && memcmp(tg, tg1, sizeof tg) == 0);
        ck_assert(memcmp(doc, doc1, sizeof doc) == 0);
        if (dm) {
            const int32_t pos1[3] = {0, 0, 0};
            ck_assert(memcmp(pos, pos1, sizeof pos) == 0);
            ck_assert(wt[0] == 0 && wt[1] == 0 && wt[2] == 1); /* no target across documents */
        } else {
            const int32_t pos1[3] = {0, 1, 2};
            ck_assert(memcmp(pos, pos1, sizeof pos) == 0);
            ck_assert(wt[0] == 1 && wt[1] == 1 && wt[2] == 1);
        }
        yt_ds_sampler_free(s);
    }
    /* without EOS: 1 2 3 4 5, the document boundary 3 -> 4 */
    o.pack_eos = 0;
    o.doc_mask = 1;
    yt_ds_sampler *s;
    ck_assert_msg(yt_ds_sampler_create(&s, f.ds, &o, &e) == 0, "%s", e.msg);
    ck_assert_uint_eq(yt_ds_sampler_n_windows(s), 1);
    yt_ds_sampler_window(s, 0, 0, &bt);
    ck_assert(in[0] == 1 && in[2] == 3 && tg[2] == 4 && wt[2] == 0 && wt[1] == 1);
    yt_ds_sampler_free(s);
    dsfix_close(&f);
}
END_TEST

/* Spelled out: one document per window, padded with weight 0 and doc id -1; a long
 * document is cut into windows overlapping by one token; documents too short to give
 * a target give no window. */
START_TEST(test_pad_per_doc)
{
    const size_t lens[4] = {3, 1, 10, 0}; /* 1 2 3 | 4 | 5..14 | */
    dsfix f;
    dsfix_open(&f, lens, 4, NULL);
    yt_err e = {{0}};
    yt_ds_sampler_opts o = {.seq_len = 4, .micro_batch = 1, .global_batch = 1, .world = 1,
                            .pack_eos = 1, .eos_id = EOS, .pad_per_doc = 1};
    yt_ds_sampler *s;
    ck_assert_msg(yt_ds_sampler_create(&s, f.ds, &o, &e) == 0, "%s", e.msg);
    /* doc0: 1 2 3 E -> 1 window; doc1: 4 E -> 1; doc2: 11 tokens -> 3; doc3: E -> 0 */
    ck_assert_uint_eq(yt_ds_sampler_n_windows(s), 5);
    int32_t in[4], tg[4], doc[4], pos[4];
    float wt[4];
    yt_ds_batch bt = {in, tg, wt, doc, pos};
    yt_ds_sampler_window(s, 0, 0, &bt);
    const int32_t in0[4] = {1, 2, 3, EOS}, tg0[4] = {2, 3, EOS, EOS}, doc0[4] = {0, 0, 0, 0};
    ck_assert(memcmp(in, in0, sizeof in) == 0 && memcmp(tg, tg0, sizeof tg) == 0);
    ck_assert(memcmp(doc, doc0, sizeof doc) == 0);
    ck_assert(wt[0] == 1 && wt[1] == 1 && wt[2] == 1 && wt[3] == 0); /* padding not counted */
    yt_ds_sampler_window(s, 1, 0, &bt);
    ck_assert(in[0] == 4 && tg[0] == (int32_t)EOS && wt[0] == 1 && doc[0] == 1);
    ck_assert(in[1] == (int32_t)EOS && doc[1] == 1 && doc[2] == -1 && doc[3] == -1);
    ck_assert(wt[1] == 0 && wt[2] == 0 && wt[3] == 0);
    yt_ds_sampler_window(s, 2, 0, &bt); /* doc2 [0..4] */
    ck_assert(in[0] == 5 && tg[3] == 9 && wt[3] == 1);
    yt_ds_sampler_window(s, 3, 0, &bt); /* doc2 [4..8] */
    ck_assert(in[0] == 9 && tg[3] == 13 && doc[0] == 2);
    yt_ds_sampler_window(s, 4, 0, &bt); /* doc2 [8..10]: 13 14 E + padding */
    ck_assert(in[0] == 13 && in[1] == 14 && tg[1] == (int32_t)EOS && wt[1] == 1 && wt[2] == 0 &&
              doc[2] == 2 && doc[3] == -1);
    yt_ds_sampler_free(s);
    /* too few windows for a global batch: refused, naming the mode */
    o.global_batch = 8;
    ck_assert_int_eq(yt_ds_sampler_create(&s, f.ds, &o, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "one document per window"));
    dsfix_close(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sampler_pack");
    TCase *t = tcase_create("sampler");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, test_windows_match_contract, 0, NMODES);
    tcase_add_loop_test(t, test_each_token_once, 0, NMODES);
    tcase_add_loop_test(t, test_world_invariance, 0, NMODES);
    tcase_add_loop_test(t, test_cursor_restore, 0, NMODES);
    tcase_add_test(t, test_eos_placement);
    tcase_add_test(t, test_pad_per_doc);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
