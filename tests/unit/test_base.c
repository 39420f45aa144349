/* Base weights held as units (model/quant.c, base.c, base_pass.c, memory.c):
 *  - the storage formats' layouts (sizes worked out by hand), exact round
 *    trips (NF4 level values, bf16 values), error bounds per block on random
 *    data (half the widest level gap times the block's absmax, plus the error
 *    of its double-quantised scale, itself within half the widest gap of the
 *    dynamic map times the second-level absmax);
 *  - shard ranges tile a unit in 64-byte pieces;
 *  - a model whose base is cut into 3 pieces, its units brought in by an
 *    in-process source that delivers the bytes only at the wait (and poisons
 *    the buffer at the start, so a read before the wait shows), gives
 *    forward_backward, forward_loss and logits bit for bit equal to the whole
 *    model, in f32 and in nf4 (against the nf4 model holding every unit), also
 *    after a pass abandoned by the poll; the next layer's gather starts before
 *    the current layer waits for its own; counts of gathers per pass;
 *  - the memory estimate against what the model allocates (arena, units,
 *    pieces, working buffers), and by hand for a GPU shape. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model_internal.h"

static char tmpdir[256];

/* ---- formats ---- */

START_TEST(test_layouts)
{
    yt_q_layout l;
    /* nf4, 4096: codes 2048, 64 first-level codes at 2048, one absmax2 at
     * 2112, offset at 2116, end 2120 -> 2176. */
    yt_q_layout_of(YT_BASE_NF4, 4096, &l);
    ck_assert_uint_eq(l.codes, 0);
    ck_assert_uint_eq(l.qabsmax, 2048);
    ck_assert_uint_eq(l.absmax2, 2112);
    ck_assert_uint_eq(l.offset, 2116);
    ck_assert_uint_eq(l.bytes, 2176);
    ck_assert_uint_eq(l.nb, 64);
    ck_assert_uint_eq(l.nb2, 1);
    /* int8, 4096: codes 4096, qabsmax 64 at 4096, absmax2 at 4160, offset 4164 -> 4224. */
    ck_assert_uint_eq(yt_q_bytes(YT_BASE_INT8, 4096), 4224);
    /* nf4, 64 * 257 + 5 = 16453: codes 8227 -> qabsmax at 8240 (258 of them), absmax2
     * at 8512 (2 floats), offset 8520, end 8524 -> 8576. */
    yt_q_layout_of(YT_BASE_NF4, 16453, &l);
    ck_assert_uint_eq(l.nb, 258);
    ck_assert_uint_eq(l.nb2, 2);
    ck_assert_uint_eq(l.qabsmax, 8240);
    ck_assert_uint_eq(l.absmax2, 8512);
    ck_assert_uint_eq(l.offset, 8520);
    ck_assert_uint_eq(l.bytes, 8576);
    ck_assert_uint_eq(yt_q_bytes(YT_BASE_BF16, 100), 256);
    ck_assert_uint_eq(yt_q_bytes(YT_BASE_F32, 100), 448);
}
END_TEST

START_TEST(test_dynamic_map)
{
    float map[256];
    yt_q_dynamic_map(map);
    int zeros = 0;
    for (int i = 0; i < 256; i++) {
        if (i)
            ck_assert_msg(map[i] > map[i - 1], "map not increasing at %d", i);
        zeros += map[i] == 0.0f;
    }
    ck_assert_int_eq(zeros, 1);
    ck_assert(map[255] == 1.0f);
    /* the smallest: -(mean of the last two of linspace(0.1, 1, 65)) */
    ck_assert(fabsf(map[0] + 0.99296875f) < 1e-6f);
    /* the smallest magnitude: 1e-6 * 0.55 */
    float small = 1.0f;
    for (int i = 0; i < 256; i++)
        if (map[i] != 0.0f && fabsf(map[i]) < small)
            small = fabsf(map[i]);
    ck_assert(fabsf(small - 0.55e-6f) < 1e-12f);
}
END_TEST

START_TEST(test_exact_round_trips)
{
    /* Every block has the same absmax: the double quantisation keeps it
     * exactly (offset = it, second level all zero), so level * absmax comes back. */
    enum { N = 64 * 9 + 32 };
    float x[N], y[N];
    for (int i = 0; i < N; i++)
        x[i] = yt_nf4_levels[(i * 7 + i / 64) % 16] * 0.37f;
    for (int b = 0; b < (N + 63) / 64; b++)
        x[b * 64] = 0.37f; /* each block reaches the absmax */
    static unsigned char buf[8192];
    yt_err e;
    ck_assert_int_eq(yt_q_encode(YT_BASE_NF4, buf, x, N, &e), 0);
    yt_q_decode(YT_BASE_NF4, y, buf, N);
    ck_assert_msg(memcmp(x, y, sizeof x) == 0, "NF4 level values do not round-trip");
    /* the codes are the level indices, packed high nibble first */
    ck_assert_int_eq(buf[0] >> 4, 15);
    ck_assert_int_eq(buf[0] & 15, 7);
    /* bf16 of bf16 values, and of one that rounds (to even) */
    for (int i = 0; i < N; i++)
        x[i] = (float)(i % 64 - 32) * 0.125f * (float)(1 << (i % 5));
    ck_assert_int_eq(yt_q_encode(YT_BASE_BF16, buf, x, N, &e), 0);
    yt_q_decode(YT_BASE_BF16, y, buf, N);
    ck_assert(memcmp(x, y, sizeof x) == 0);
    x[0] = 1.0f + 1.0f / 256.0f; /* halfway between two bf16 values: to the even one, 1.0 */
    yt_q_encode(YT_BASE_BF16, buf, x, 1, &e);
    yt_q_decode(YT_BASE_BF16, y, buf, 1);
    ck_assert(y[0] == 1.0f);
    /* an all-zero tensor: absmax 0 everywhere, zeros back */
    memset(x, 0, sizeof x);
    for (int dt = YT_BASE_NF4; dt <= YT_BASE_INT8; dt++) {
        ck_assert_int_eq(yt_q_encode(dt, buf, x, N, &e), 0);
        yt_q_decode(dt, y, buf, N);
        for (int i = 0; i < N; i++)
            ck_assert(y[i] == 0.0f);
    }
}
END_TEST

static float max_gap(const float *lv, int n)
{
    float g = 0;
    for (int i = 1; i < n; i++)
        g = lv[i] - lv[i - 1] > g ? lv[i] - lv[i - 1] : g;
    return g;
}

START_TEST(test_error_bounds)
{
    int dt = _i ? YT_BASE_INT8 : YT_BASE_NF4;
    enum { NB = 700, N = NB * 64 - 13 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *scale = malloc(NB * sizeof *scale);
    unsigned char *buf = malloc(yt_q_bytes(dt, N));
    /* normal-ish values with a scale that varies by block (1e-3 .. 1) */
    for (int i = 0; i < N; i++) {
        float u1 = yt_u01(yt_mix64((uint64_t)i * 2 + 1)) + 1e-7f, u2 = yt_u01(yt_mix64((uint64_t)i * 2 + 2));
        float s = powf(10.0f, -3.0f * yt_u01(yt_mix64(9000 + (uint64_t)(i / 64))));
        x[i] = s * sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
    }
    yt_err e;
    ck_assert_int_eq(yt_q_encode(dt, buf, x, N, &e), 0);
    yt_q_decode(dt, y, buf, N);
    yt_q_scales(dt, scale, buf, N);
    float lv8[255], map[256];
    for (int q = -127; q <= 127; q++)
        lv8[q + 127] = (float)q / 127.0f;
    yt_q_dynamic_map(map);
    float half = (dt == YT_BASE_NF4 ? max_gap(yt_nf4_levels, 16) : max_gap(lv8, 255)) / 2;
    float half_map = max_gap(map, 256) / 2;
    double am[NB], mean = 0;
    for (int b = 0; b < NB; b++) {
        float m = 0;
        for (int i = b * 64; i < N && i < b * 64 + 64; i++)
            m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
        am[b] = m;
        mean += m;
    }
    mean /= NB;
    float absmax2[3] = {0, 0, 0};
    for (int b = 0; b < NB; b++) {
        float a = fabsf((float)am[b] - (float)mean);
        absmax2[b / 256] = a > absmax2[b / 256] ? a : absmax2[b / 256];
    }
    double sq = 0, sx = 0;
    for (int b = 0; b < NB; b++) {
        double serr = fabs(scale[b] - am[b]);
        ck_assert_msg(serr <= half_map * absmax2[b / 256] * 1.0001 + 1e-7 * am[b],
                      "block %d: scale %g for absmax %g", b, scale[b], am[b]);
        for (int i = b * 64; i < N && i < b * 64 + 64; i++) {
            double err = fabs((double)x[i] - y[i]);
            ck_assert_msg(err <= half * am[b] + serr + 1e-6 * am[b], "element %d: %g -> %g (block absmax %g)",
                          i, x[i], y[i], am[b]);
            sq += err * err;
            sx += (double)x[i] * x[i];
        }
    }
    /* NF4 on normal data: about 0.1 relative RMS error (QLoRA-typical); int8 ~0.01. */
    double rms = sqrt(sq / sx);
    ck_assert_msg(dt == YT_BASE_NF4 ? rms > 0.05 && rms < 0.15 : rms < 0.02, "relative RMS error %g", rms);
    free(x), free(y), free(scale), free(buf);
}
END_TEST

START_TEST(test_shard_ranges)
{
    size_t sizes[] = {64, 128, 640, 64 * 1001, 64 * 7};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int n = 1; n <= 8; n++) {
            size_t next = 0, lo = (size_t)-1, hi = 0;
            for (int r = 0; r < n; r++) {
                size_t b, e;
                yt_model_shard_range(sizes[k], r, n, &b, &e);
                ck_assert_uint_eq(b, next);
                ck_assert_uint_eq(b % 64, 0);
                ck_assert_uint_eq(e % 64, 0);
                lo = e - b < lo ? e - b : lo;
                hi = e - b > hi ? e - b : hi;
                next = e;
            }
            ck_assert_uint_eq(next, sizes[k]);
            ck_assert_uint_le(hi - lo, 64);
        }
}
END_TEST

/* ---- a sharded model through an in-process source ---- */

#define NSH 3
typedef struct fake_src {
    yt_model *piece[NSH];          /* the models holding each piece */
    int self;                      /* which of them this source serves */
    struct { int unit; unsigned char *dst; size_t bytes; int live; } h[8];
    int starts, waits;
    int order_ok;                  /* every layer's next gather started before its own wait */
    int last_started;
} fake_src;

static int f_start(int unit, const void *mine, void *all, size_t bytes, void *ctx, yt_err *e)
{
    fake_src *f = ctx;
    (void)mine;
    int h = 0;
    while (h < 8 && f->h[h].live)
        h++;
    if (h == 8)
        return yt_errf(e, "too many in flight");
    memset(all, 0xff, bytes); /* NaNs until the wait delivers */
    f->h[h].unit = unit;
    f->h[h].dst = all;
    f->h[h].bytes = bytes;
    f->h[h].live = 1;
    f->starts++;
    f->last_started = unit;
    return h;
}

static int f_wait(int h, void *ctx, yt_err *e)
{
    fake_src *f = ctx;
    (void)e;
    int u = f->h[h].unit;
    for (int k = 0; k < NSH; k++) {
        yt_base *b = &f->piece[k]->base;
        memcpy(f->h[h].dst + b->keep_begin[u], b->store + b->store_off[u], b->keep_end[u] - b->keep_begin[u]);
    }
    f->h[h].live = 0;
    f->waits++;
    return 0;
}

static void make_tiny(const char *name, int tie, char *dir, size_t n)
{
    yt_config c;
    yt_err e;
    ck_assert_int_eq(yt_config_preset(&c, "tiny", &e), 0);
    c.n_layers = 4;
    c.tie_embeddings = tie;
    snprintf(dir, n, "%s/%s", tmpdir, name);
    if (access(dir, F_OK) != 0)
        ck_assert_int_eq(yt_model_write_random(&c, dir, 11, "f32", &e), 0);
}

static int abandon_at;
static int polls;
static int poll_fn(void *ctx)
{
    (void)ctx;
    return ++polls == abandon_at;
}

static void run_pass(yt_model *m, const int32_t *in, const int32_t *tg, const float *w, double *loss,
                     float *grads, double *eval, float *logits)
{
    size_t np = yt_model_n_params(m);
    memset(yt_model_grads(m), 0, np * sizeof(float));
    *loss = yt_model_forward_backward(m, in, tg, w, 99, NULL, NULL);
    memcpy(grads, yt_model_grads(m), np * sizeof(float));
    *eval = yt_model_forward_loss(m, in, tg, w);
    yt_model_logits(m, in, logits);
}

START_TEST(test_sharded_model)
{
    int tie = _i & 1, dtype = _i & 2 ? YT_BASE_NF4 : YT_BASE_F32;
    char dir[512];
    make_tiny(tie ? "tied" : "untied", tie, dir, sizeof dir);
    yt_lora_config lc = {.rank = 4, .alpha = 8, .dropout = 0.1f};
    yt_err e;
    ck_assert_int_eq(yt_lora_parse_targets("all", &lc.targets, &e), 0);
    const int B = 2, S = 16, T = B * S;
    int32_t in[32], tg[32];
    float w[32];
    for (int t = 0; t < T; t++) {
        in[t] = (int32_t)(yt_mix64((uint64_t)t) % 256);
        tg[t] = (int32_t)(yt_mix64((uint64_t)t + 100) % 256);
        w[t] = 1.0f / T;
    }
    /* the whole model: direct f32, or every nf4 unit held */
    yt_model *whole;
    yt_model_base_opts wo = {.dtype = dtype};
    ck_assert_int_eq(yt_model_open_base(&whole, dir, &lc, B, S, NULL, &wo, &e), 0);
    yt_model_lora_init(whole, 5);
    size_t np = yt_model_n_params(whole);
    int V = 256;
    float *g0 = malloc(np * sizeof(float)), *g1 = malloc(np * sizeof(float));
    float *lg0 = malloc((size_t)T * V * sizeof(float)), *lg1 = malloc((size_t)T * V * sizeof(float));
    double l0, l1, ev0, ev1;
    run_pass(whole, in, tg, w, &l0, g0, &ev0, lg0);
    ck_assert(isfinite(l0));
    /* three pieces */
    fake_src src[NSH];
    yt_model *pm[NSH];
    memset(src, 0, sizeof src);
    for (int k = 0; k < NSH; k++) {
        yt_model_base_opts so = {.dtype = dtype, .shard = 1, .shard_index = k, .shard_count = NSH};
        ck_assert_int_eq(yt_model_open_base(&pm[k], dir, &lc, B, S, NULL, &so, &e), 0);
        ck_assert_uint_eq(yt_model_fingerprint(pm[k]), yt_model_fingerprint(whole));
        ck_assert_int_eq(yt_model_base_units(pm[k]), 4 + (tie ? 1 : 2));
        yt_model_lora_init(pm[k], 5);
    }
    size_t total = 0;
    for (int k = 0; k < NSH; k++)
        total += yt_model_base_bytes(pm[k]);
    /* every piece once, plus each copy of the final norm */
    size_t units = 0;
    for (int u = 0; u < yt_model_base_units(pm[0]); u++)
        units += yt_model_base_unit_bytes(pm[0], u);
    ck_assert_uint_eq(total, units + NSH * 64 * sizeof(float));
    for (int k = 0; k < NSH; k++) {
        for (int j = 0; j < NSH; j++)
            src[k].piece[j] = pm[j];
        src[k].self = k;
        yt_model_base_source s = {.start = f_start, .wait = f_wait, .ctx = &src[k]};
        yt_model_set_base_source(pm[k], &s);
        run_pass(pm[k], in, tg, w, &l1, g1, &ev1, lg1);
        ck_assert_msg(l1 == l0, "piece %d: loss %.9g vs %.9g", k, l1, l0);
        ck_assert_msg(memcmp(g0, g1, np * sizeof(float)) == 0, "piece %d: gradients differ", k);
        ck_assert_msg(ev1 == ev0, "piece %d: eval loss differs", k);
        ck_assert_msg(memcmp(lg0, lg1, (size_t)T * V * sizeof(float)) == 0, "piece %d: logits differ", k);
    }
    /* Gathers of one training pass of 4 layers after an evaluation pass
     * (which leaves layers 2 and 3 in the slots, the lm_head in the other
     * buffer): forward 4 layers, the embedding and the lm_head (tied: the
     * embedding, which stays), backward 2 layers (3 and 2 are still held),
     * the next pass's embedding (untied): 9, tied 6. */
    fake_src *f = &src[0];
    f->starts = f->waits = 0;
    memset(yt_model_grads(pm[0]), 0, np * sizeof(float));
    l1 = yt_model_forward_backward(pm[0], in, tg, w, 99, NULL, NULL);
    ck_assert(l1 == l0);
    ck_assert_msg(f->starts == (tie ? 6 : 9), "%d gathers in a pass", f->starts);
    /* abandon in the middle of the forward pass, then a whole pass again */
    polls = 0;
    abandon_at = 2;
    yt_model_set_poll(pm[0], poll_fn, NULL);
    double la = yt_model_forward_backward(pm[0], in, tg, w, 99, NULL, NULL);
    ck_assert(isnan(la));
    for (int h = 0; h < 8; h++)
        ck_assert_msg(!f->h[h].live, "a gather left in flight after an abandoned pass");
    yt_model_set_poll(pm[0], NULL, NULL);
    memset(yt_model_grads(pm[0]), 0, np * sizeof(float));
    l1 = yt_model_forward_backward(pm[0], in, tg, w, 99, NULL, NULL);
    ck_assert(l1 == l0);
    ck_assert(memcmp(g0, yt_model_grads(pm[0]), np * sizeof(float)) == 0);
    for (int k = 0; k < NSH; k++) {
        yt_model_set_base_source(pm[k], NULL);
        yt_model_close(pm[k]);
    }
    yt_model_close(whole);
    free(g0), free(g1), free(lg0), free(lg1);
}
END_TEST

/* The order of the gathers: a fresh sharded model, one pass, every start
 * and wait logged. */
typedef struct log_src {
    fake_src f;
    char ev[256][8];
    int n;
} log_src;

static int l_start(int unit, const void *mine, void *all, size_t bytes, void *ctx, yt_err *e)
{
    log_src *l = ctx;
    int h = f_start(unit, mine, all, bytes, &l->f, e);
    if (l->n < 256)
        snprintf(l->ev[l->n++], 8, "s%d", unit);
    return h;
}

static int l_wait(int h, void *ctx, yt_err *e)
{
    log_src *l = ctx;
    int u = l->f.h[h].unit;
    if (l->n < 256)
        snprintf(l->ev[l->n++], 8, "w%d", u);
    return f_wait(h, &l->f, e);
}

START_TEST(test_gather_order)
{
    char dir[512];
    make_tiny("untied", 0, dir, sizeof dir);
    yt_lora_config lc = {.rank = 4, .alpha = 8};
    yt_err e;
    ck_assert_int_eq(yt_lora_parse_targets("all", &lc.targets, &e), 0);
    yt_model *pm[NSH];
    for (int k = 0; k < NSH; k++) {
        yt_model_base_opts so = {.dtype = YT_BASE_F32, .shard = 1, .shard_index = k, .shard_count = NSH};
        ck_assert_int_eq(yt_model_open_base(&pm[k], dir, &lc, 1, 8, NULL, &so, &e), 0);
    }
    static log_src l;
    memset(&l, 0, sizeof l);
    for (int j = 0; j < NSH; j++)
        l.f.piece[j] = pm[j];
    yt_model_base_source s = {.start = l_start, .wait = l_wait, .ctx = &l};
    yt_model_set_base_source(pm[0], &s);
    int32_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    float w[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    yt_model_forward_backward(pm[0], in, in, w, 1, NULL, NULL);
    char seq[2048] = "";
    for (int i = 0; i < l.n; i++)
        snprintf(seq + strlen(seq), sizeof seq - strlen(seq), "%s%s", i ? " " : "", l.ev[i]);
    /* units: layers 0-3, embedding 4, lm_head 5.  Forward: layer 0 and the
     * embedding start first, the embedding is waited for; then each layer's
     * wait comes after the next one's start (the lm_head's during layer 3);
     * backward reuses layers 3 and 2 and starts 1 before layer 2 computes, 0
     * before 1; the next pass's embedding starts after the loss. */
    ck_assert_str_eq(seq, "s0 s4 w4 s1 w0 s2 w1 s3 w2 s5 w3 w5 s4 s1 s0 w1 w0");
    yt_model_set_base_source(pm[0], NULL);
    for (int k = 0; k < NSH; k++)
        yt_model_close(pm[k]);
}
END_TEST

/* ---- the memory estimate ---- */

START_TEST(test_memory_cpu)
{
    char dir[512];
    make_tiny("untied", 0, dir, sizeof dir);
    yt_config c;
    yt_err e;
    yt_lora_config lc = {.rank = 4, .alpha = 8, .dropout = _i == 1 ? 0.1f : 0.0f};
    ck_assert_int_eq(yt_lora_parse_targets(_i == 2 ? "q,v" : "all", &lc.targets, &e), 0);
    const int B = 2, S = 16;
    struct { int dtype, shard, count; } cases[] = {
        {YT_BASE_F32, 0, 1}, {YT_BASE_NF4, 0, 1}, {YT_BASE_INT8, 1, 3}, {YT_BASE_F32, 1, 3}, {YT_BASE_BF16, 1, 2}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        yt_model *m;
        yt_model_base_opts bo = {.dtype = cases[k].dtype, .shard = cases[k].shard, .shard_index = 0,
                                 .shard_count = cases[k].count};
        ck_assert_int_eq(yt_model_open_base(&m, dir, &lc, B, S, NULL, &bo, &e), 0);
        c = *yt_model_config(m);
        yt_mem_opts mo = {.device = YT_MEM_CPU, .micro_batch = B, .seq_len = S, .base_dtype = cases[k].dtype,
                          .sharded = cases[k].shard, .shard_count = cases[k].count,
                          .threads = yt_k_get_threads()};
        yt_mem_estimate est;
        yt_model_memory(&c, &lc, &mo, &est);
        size_t np = yt_model_n_params(m);
        ck_assert_uint_eq(yt_lora_param_count(&c, &lc), np);
        double arena = est.activations + est.workspace - (double)yt_model_base_work_bytes(m) +
                       2.0 * (double)((np + 15) & ~(size_t)15) * 4;
        ck_assert_msg(arena == (double)m->arena_bytes, "case %zu: arena %.0f estimated, %zu allocated", k, arena,
                      m->arena_bytes);
        ck_assert_msg(est.lora == 16.0 * (double)np, "case %zu", k);
        if (cases[k].dtype == YT_BASE_F32 && !cases[k].shard) {
            /* in place in the mmap: every weight's fp32 bytes */
            ck_assert(est.base == est.params * 4);
        } else {
            ck_assert_msg(est.base == (double)yt_model_base_bytes(m), "case %zu: base %.0f vs %zu", k, est.base,
                          yt_model_base_bytes(m));
        }
        /* params of tiny with 4 layers, untied: 4 * (64*64*2 + 64*32*2 + 3*64*160 + 2*64) + 2*256*64 + 64 */
        ck_assert(est.params == 4.0 * (8192 + 4096 + 30720 + 128) + 32768 + 64);
        ck_assert(est.total == est.base + est.lora + est.activations + est.workspace);
        double fits = yt_model_memory_fits(&est, est.total + 1e6);
        ck_assert(fabs(fits - (est.base + 1e6) / est.base_per_param) < 1e-3 * fits);
        ck_assert(yt_model_memory_fits(&est, est.lora) == 0);
        yt_model_close(m);
    }
}
END_TEST

START_TEST(test_memory_gpu)
{
    /* llama3-8b at 2048 x 1, rank 16 on everything: the base by hand. */
    yt_config c;
    yt_err e;
    ck_assert_int_eq(yt_config_preset(&c, "llama3-8b", &e), 0);
    yt_lora_config lc = {.rank = 16, .alpha = 32};
    yt_lora_parse_targets("all", &lc.targets, &e);
    yt_mem_opts mo = {.device = YT_MEM_GPU, .micro_batch = 1, .seq_len = 2048, .base_dtype = YT_BASE_BF16};
    yt_mem_estimate bf, nf;
    yt_model_memory(&c, &lc, &mo, &bf);
    double proj = 4096.0 * 4096 * 2 + 4096.0 * 1024 * 2 + 3 * 4096.0 * 14336; /* per layer */
    double V = 128256, C = 4096;
    ck_assert(bf.params == 32 * (proj + 2 * C) + 2 * V * C + C);
    ck_assert(fabs(bf.base - (32 * proj * 2 + 2 * V * C * 2 + 65 * C * 4)) < 1);
    mo.base_dtype = YT_BASE_NF4;
    yt_model_memory(&c, &lc, &mo, &nf);
    /* nf4: 4 bits + one byte per 64 + 4 bytes per 16384 (+ padding) per projection */
    double bits = 8.0 * (nf.base - 2 * V * C * 2 - 65 * C * 4) / (32 * proj);
    ck_assert_msg(bits > 4.125 && bits < 4.13, "nf4 %.4f bits per weight", bits);
    /* the decoded layer: one layer's projections in bf16 */
    ck_assert(fabs(nf.workspace - bf.workspace - proj * 2) < 1);
    ck_assert(nf.activations == bf.activations);
    /* 8B: LoRA r16 on all = 32 * 16 * (8192 + 5120*2 + 8192 + 3*(4096+14336)) params */
    ck_assert(bf.lora == 16.0 * 32 * 16 * (8192 + 2 * 5120 + 8192 + 3 * (4096 + 14336)));
}
END_TEST

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/yt-test-base-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir))
        return 1;
    yt_k_set_threads(1);
    Suite *s = suite_create("base");
    TCase *tc = tcase_create("base");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_layouts);
    tcase_add_test(tc, test_dynamic_map);
    tcase_add_test(tc, test_exact_round_trips);
    tcase_add_loop_test(tc, test_error_bounds, 0, 2);
    tcase_add_test(tc, test_shard_ranges);
    tcase_add_loop_test(tc, test_sharded_model, 0, 4);
    tcase_add_test(tc, test_gather_order);
    tcase_add_loop_test(tc, test_memory_cpu, 0, 3);
    tcase_add_test(tc, test_memory_gpu);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return failed ? 1 : 0;
}
