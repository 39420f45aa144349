/* runner/gen_sample: the next-token choice of `generate`.  Each case draws
 * 200000 tokens (prompt index varying) from fixed logits and compares the
 * frequencies with the distribution worked out here in double precision
 * (transformers' order: temperature, top-k keeping ties, softmax, top-p = the
 * smallest most-probable set reaching p): every token within 5 standard errors,
 * and tokens outside the kept set never drawn.  Greedy takes the first largest
 * logit; a draw depends only on (seed, prompt, step). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/gen_sample.h"

enum { V = 10, N = 200000 };
static const float logits[V] = {1.0f, 3.0f, 2.5f, -1.0f, 3.0f, 0.0f, 2.0f, -4.0f, 0.5f, 1.5f};

/* The expected distribution, independently of the sampler's code path. */
static void expected(double *p, float temp, int top_k, float top_p)
{
    int order[V];
    for (int i = 0; i < V; i++)
        order[i] = i;
    for (int i = 0; i < V; i++) /* by logit, descending; lower id first on ties */
        for (int j = i + 1; j < V; j++)
            if (logits[order[j]] > logits[order[i]] ||
                (logits[order[j]] == logits[order[i]] && order[j] < order[i])) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    double kth = top_k > 0 ? logits[order[top_k - 1]] : -INFINITY, z = 0;
    for (int i = 0; i < V; i++) {
        p[i] = logits[i] >= kth ? exp(logits[i] / temp) : 0;
        z += p[i];
    }
    for (int i = 0; i < V; i++)
        p[i] /= z;
    if (top_p < 1) {
        double acc = 0, mass = 0;
        int keep[V] = {0};
        for (int r = 0; r < V && acc < top_p; r++) {
            acc += p[order[r]];
            keep[order[r]] = 1;
        }
        for (int i = 0; i < V; i++)
            mass += keep[i] ? p[i] : 0;
        for (int i = 0; i < V; i++)
            p[i] = keep[i] ? p[i] / mass : 0;
    }
}

static void check_case(float temp, int top_k, float top_p)
{
    yt_err e;
    yt_gen_sampler s;
    yt_sampler_cfg c = {.temperature = temp, .top_k = top_k, .top_p = top_p, .seed = 99};
    ck_assert_int_eq(yt_gen_sampler_init(&s, &c, V, &e), 0);
    double p[V];
    long n[V] = {0};
    expected(p, temp, top_k, top_p);
    for (long i = 0; i < N; i++) {
        int32_t t = yt_gen_sample(&s, logits, (uint64_t)i, 3);
        ck_assert(t >= 0 && t < V);
        n[t]++;
    }
    for (int i = 0; i < V; i++) {
        double f = (double)n[i] / N, se = sqrt(p[i] * (1 - p[i]) / N);
        if (p[i] == 0)
            ck_assert_msg(n[i] == 0, "T %g k %d p %g: token %d drawn %ld times, outside the kept set",
                          temp, top_k, top_p, i, n[i]);
        else
            ck_assert_msg(fabs(f - p[i]) <= 5 * se + 1e-12,
                          "T %g k %d p %g: token %d frequency %.5f, expected %.5f", temp, top_k, top_p,
                          i, f, p[i]);
    }
    /* the same (seed, prompt, step) gives the same token */
    ck_assert_int_eq(yt_gen_sample(&s, logits, 12345, 7), yt_gen_sample(&s, logits, 12345, 7));
    yt_gen_sampler_free(&s);
}

START_TEST(test_distributions)
{
    check_case(1.0f, 0, 1.0f);
    check_case(0.7f, 0, 1.0f);
    check_case(1.3f, 3, 1.0f);   /* 3 largest: ids 1 and 4 tie at 3.0, then 2 */
    check_case(1.0f, 2, 1.0f);   /* ties: exactly ids 1 and 4 */
    check_case(1.0f, 0, 0.6f);
    check_case(0.8f, 6, 0.9f);
}
END_TEST

START_TEST(test_greedy)
{
    yt_err e;
    yt_gen_sampler s;
    yt_sampler_cfg c = {.temperature = 0, .top_p = 1, .seed = 1};
    ck_assert_int_eq(yt_gen_sampler_init(&s, &c, V, &e), 0);
    for (uint64_t i = 0; i < 100; i++)
        ck_assert_int_eq(yt_gen_sample(&s, logits, i, i), 1); /* first of the tied 3.0s */
    yt_gen_sampler_free(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gen_sample");
    TCase *tc = tcase_create("sampling");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_distributions);
    tcase_add_test(tc, test_greedy);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
