/* optim/: schedules against their formulas, clipping, and AdamW over several
 * steps against an independent double-precision implementation. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "optim/optim.h"

START_TEST(test_warmup_cosine)
{
    yt_optim_config c = {.lr = 1e-3f, .schedule = YT_SCHED_COSINE, .warmup = 10, .total_steps = 110,
                         .min_lr_ratio = 0.1f};
    ck_assert_float_eq_tol(yt_lr_at(&c, 0), 1e-4f, 1e-9f);
    ck_assert_float_eq_tol(yt_lr_at(&c, 9), 1e-3f, 1e-9f);
    ck_assert_float_eq_tol(yt_lr_at(&c, 10), 1e-3f, 1e-9f);
    /* halfway through the decay: floor + (1-floor)/2 */
    ck_assert_float_eq_tol(yt_lr_at(&c, 60), 1e-3f * (0.1f + 0.45f), 1e-8f);
    ck_assert_float_eq_tol(yt_lr_at(&c, 110), 1e-4f, 1e-9f);
    ck_assert_float_eq_tol(yt_lr_at(&c, 500), 1e-4f, 1e-9f);
    for (long s = 10; s < 110; s++)
        ck_assert(yt_lr_at(&c, s + 1) <= yt_lr_at(&c, s));
    c.schedule = YT_SCHED_CONSTANT;
    ck_assert_float_eq(yt_lr_at(&c, 50), 1e-3f);
    ck_assert_float_eq_tol(yt_lr_at(&c, 4), 5e-4f, 1e-9f);
}
END_TEST

START_TEST(test_clip)
{
    ck_assert_float_eq(yt_clip_factor(0.5, 1.0f), 1.0f);
    ck_assert_float_eq_tol(yt_clip_factor(4.0, 1.0f), 0.25f, 1e-6f);
    ck_assert_float_eq(yt_clip_factor(1e9, 0.0f), 1.0f);
    ck_assert_float_eq(yt_clip_factor(NAN, 1.0f), 1.0f);
}
END_TEST

START_TEST(test_adamw_reference)
{
    enum { N = 37 };
    yt_optim_config c = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
    yt_adamw a;
    yt_err e;
    ck_assert_int_eq(yt_adamw_init(&a, N, &e), 0);
    float p[N], g[N];
    double rp[N], rm[N] = {0}, rv[N] = {0};
    for (int i = 0; i < N; i++)
        rp[i] = p[i] = (float)sin(i + 1.0);
    for (int step = 1; step <= 5; step++) {
        float scale = step == 3 ? 0.5f : 1.0f;
        for (int i = 0; i < N; i++)
            g[i] = (float)cos(i * 0.3 + step);
        yt_adamw_step(&a, &c, p, g, c.lr, scale);
        for (int i = 0; i < N; i++) {
            double gi = (double)g[i] * scale;
            rm[i] = 0.9 * rm[i] + 0.1 * gi;
            rv[i] = 0.95 * rv[i] + 0.05 * gi * gi;
            double mh = rm[i] / (1 - pow(0.9, step)), vh = rv[i] / (1 - pow(0.95, step));
            rp[i] -= 1e-2 * (mh / (sqrt(vh) + 1e-8) + 0.1 * rp[i]);
        }
    }
    for (int i = 0; i < N; i++)
        ck_assert_msg(fabs(p[i] - rp[i]) < 1e-5, "p[%d] %g vs %g", i, p[i], rp[i]);
    ck_assert_int_eq(a.t, 5);
    yt_adamw_free(&a);
}
END_TEST

/* Optimizer-state shards tile the buffer, differ in size by at most one, and
 * AdamW run shard by shard with per-shard moments equals AdamW on the whole. */
START_TEST(test_zero_shards)
{
    for (size_t n = 0; n < 40; n++)
        for (int w = 1; w <= 7; w++) {
            size_t next = 0, lo = (size_t)-1, hi = 0;
            for (int r = 0; r < w; r++) {
                size_t b, c;
                yt_zero_shard(n, w, r, &b, &c);
                ck_assert_msg(b == next, "n=%zu w=%d rank %d begins at %zu, want %zu", n, w, r, b, next);
                next = b + c;
                lo = c < lo ? c : lo;
                hi = c > hi ? c : hi;
            }
            ck_assert_msg(next == n && hi - lo <= 1, "n=%zu w=%d: end %zu, sizes %zu..%zu", n, w, next, lo, hi);
        }
    enum { N = 3177, W = 4 };
    static float p[N], ps[N], g[N];
    for (int i = 0; i < N; i++) {
        p[i] = ps[i] = 0.01f * (float)((i * 37) % 101 - 50);
        g[i] = 0.003f * (float)((i * 53) % 97 - 48);
    }
    yt_optim_config c = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f};
    yt_err e;
    yt_adamw full, shard[W];
    ck_assert_int_eq(yt_adamw_init(&full, N, &e), 0);
    for (int r = 0; r < W; r++) {
        size_t b, n;
        yt_zero_shard(N, W, r, &b, &n);
        ck_assert_int_eq(yt_adamw_init(&shard[r], n, &e), 0);
    }
    for (int step = 0; step < 3; step++) {
        yt_adamw_step(&full, &c, p, g, c.lr, 0.5f);
        for (int r = 0; r < W; r++) {
            size_t b, n;
            yt_zero_shard(N, W, r, &b, &n);
            yt_adamw_step(&shard[r], &c, ps + b, g + b, c.lr, 0.5f);
        }
    }
    for (int i = 0; i < N; i++)
        ck_assert_msg(p[i] == ps[i], "p[%d]: whole %g, sharded %g", i, p[i], ps[i]);
    yt_adamw_free(&full);
    for (int r = 0; r < W; r++)
        yt_adamw_free(&shard[r]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, test_warmup_cosine);
    tcase_add_test(tc, test_clip);
    tcase_add_test(tc, test_adamw_reference);
    tcase_add_test(tc, test_zero_shards);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
