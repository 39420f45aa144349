/* The whole model's LoRA gradients against finite differences on `tiny`:
 * for every LoRA tensor, the directional derivative of the loss along a random
 * direction inside that tensor, (L(p+hd) - L(p-hd)) / 2h, must match g.d.
 * Variants: untied and tied embeddings, llama3 rope scaling, GQA ratio 2 and 1,
 * rsLoRA, a subset of targets, and dropout (same mask on both sides). */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"

typedef struct variant {
    const char *name;
    int tie, llama3, kv_heads, rslora;
    const char *targets;
    float dropout;
} variant;

static char tmpdir[256];

static void make_model(const variant *v, char *dir, size_t n)
{
    yt_config c;
    yt_err e;
    ck_assert_int_eq(yt_config_preset(&c, "tiny", &e), 0);
    c.tie_embeddings = v->tie;
    c.n_kv_heads = v->kv_heads;
    c.n_layers = 2;
    if (v->llama3) {
        c.rope_scaling = (yt_rope_scaling){1, 8.0f, 1.0f, 4.0f, 32};
        c.rope_theta = 500000.0f;
    }
    snprintf(dir, n, "%s/%s", tmpdir, v->name);
    int rc = yt_model_write_random(&c, dir, 7, "f32", &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
}

static double loss_at(yt_model *m, const int32_t *in, const int32_t *tg, const float *w, uint64_t seed)
{
    /* forward_backward with dropout keyed by seed: the same masks every call */
    size_t np = yt_model_n_params(m);
    double l = yt_model_forward_backward(m, in, tg, w, seed, NULL, NULL);
    memset(yt_model_grads(m), 0, np * sizeof(float));
    return l;
}

static void check_variant(const variant *v)
{
    char dir[512];
    make_model(v, dir, sizeof dir);
    yt_lora_config lc = {.rank = 4, .alpha = 8, .dropout = v->dropout, .rslora = v->rslora};
    yt_err e;
    ck_assert_int_eq(yt_lora_parse_targets(v->targets, &lc.targets, &e), 0);
    const int B = 2, S = 12, T = B * S;
    yt_model *m = NULL;
    int rc = yt_model_open(&m, dir, &lc, B, S, &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
    size_t np = yt_model_n_params(m);
    float *p = yt_model_params(m);
    /* Non-zero B so that every gradient is non-trivial. */
    for (size_t i = 0; i < np; i++)
        p[i] = (2.0f * yt_u01(yt_mix64(i + 99)) - 1.0f) * 0.2f;
    int32_t in[24], tg[24];
    float w[24];
    for (int t = 0; t < T; t++) {
        in[t] = (int32_t)(yt_mix64((uint64_t)t * 3 + 1) % 256);
        tg[t] = (int32_t)(yt_mix64((uint64_t)t * 5 + 2) % 256);
        w[t] = (t % 5 == 3) ? 0.0f : 1.0f; /* some targets not counted */
    }
    const uint64_t seed = 1234;
    float *g = malloc(np * sizeof(float)), *d = malloc(np * sizeof(float));
    memset(yt_model_grads(m), 0, np * sizeof(float));
    yt_model_forward_backward(m, in, tg, w, seed, NULL, NULL);
    memcpy(g, yt_model_grads(m), np * sizeof(float));
    memset(yt_model_grads(m), 0, np * sizeof(float));
    int n_lt = yt_model_n_lora_tensors(m);
    ck_assert_int_gt(n_lt, 0);
    double worst = 0;
    for (int i = 0; i < n_lt; i++) {
        const yt_lora_tensor *lt = yt_model_lora_tensor(m, i);
        size_t n = (size_t)lt->rows * lt->cols;
        memset(d, 0, np * sizeof(float));
        double gd = 0, dn = 0;
        for (size_t j = 0; j < n; j++) {
            /* the gradient's direction perturbed by 30% noise: the largest
             * signal g.d for a step of given size, far above float rounding,
             * while a wrong gradient still disagrees with the loss change */
            float r = 2.0f * yt_u01(yt_mix64(j * 7 + (uint64_t)i * 1000003)) - 1.0f;
            r = g[lt->offset + j] * 1e3f + 0.3f * r * (float)fabs(g[lt->offset + j] * 1e3f);
            d[lt->offset + j] = r;
            gd += (double)g[lt->offset + j] * r;
            dn += (double)r * r;
        }
        double h = 1e-2 / sqrt(dn);
        for (size_t j = 0; j < n; j++)
            p[lt->offset + j] += (float)h * d[lt->offset + j];
        double lp = loss_at(m, in, tg, w, seed);
        for (size_t j = 0; j < n; j++)
            p[lt->offset + j] -= 2.0f * (float)h * d[lt->offset + j];
        double lm = loss_at(m, in, tg, w, seed);
        for (size_t j = 0; j < n; j++)
            p[lt->offset + j] += (float)h * d[lt->offset + j];
        double fd = (lp - lm) / (2 * h);
        double err = fabs(fd - gd) / fmax(fabs(gd), 1e-3);
        if (err > worst)
            worst = err;
        ck_assert_msg(err < 2e-2, "%s: %s: analytic %.6g, finite difference %.6g (rel err %.3g)",
                      v->name, lt->name, gd, fd, err);
        ck_assert_msg(fabs(gd) > 1e-4, "%s: %s: gradient vanishes (%.3g)", v->name, lt->name, gd);
    }
    printf("model FD %-14s %2d tensors, worst relative error %.2e\n", v->name, n_lt, worst);
    free(g);
    free(d);
    yt_model_close(m);
}

static const variant variants[] = {
    {"untied", 0, 0, 2, 0, "all", 0.0f},
    {"tied", 1, 0, 2, 0, "all", 0.0f},
    {"llama3", 0, 1, 2, 0, "all", 0.0f},
    {"mha-rslora", 0, 0, 4, 1, "q,v,down", 0.0f},
    {"dropout", 0, 0, 2, 0, "all", 0.1f},
};

START_TEST(test_fd_variant)
{
    check_variant(&variants[_i]);
}
END_TEST

START_TEST(test_forward_loss_matches_fb)
{
    /* forward_loss (no dropout, no backward) must give the same loss as the
     * training pass, and the mean of a uniform-logits model is log(V). */
    variant v = {"fwd", 0, 0, 2, 0, "all", 0.0f};
    char dir[512];
    make_model(&v, dir, sizeof dir);
    yt_lora_config lc = {.rank = 2, .alpha = 4, .targets = 1u << YT_Q};
    yt_err e;
    yt_model *m;
    ck_assert_int_eq(yt_model_open(&m, dir, &lc, 1, 8, &e), 0);
    int32_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, tg[8] = {2, 3, 4, 5, 6, 7, 8, 9};
    float w[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    double a = yt_model_forward_loss(m, in, tg, w);
    double b = yt_model_forward_backward(m, in, tg, w, 5, NULL, NULL);
    ck_assert_msg(fabs(a - b) < 1e-6 * fabs(a), "%g vs %g", a, b);
    /* random small weights: logits near zero, loss near log(256) per token */
    ck_assert_msg(fabs(a / 8 - log(256.0)) < 0.1, "mean loss %g, log V %g", a / 8, log(256.0));
    yt_model_close(m);
}
END_TEST

START_TEST(test_bad_model_inputs)
{
    yt_err e;
    yt_model *m = NULL;
    yt_lora_config lc = {.rank = 2, .alpha = 4, .targets = 1};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/nonexistent", tmpdir);
    ck_assert_int_ne(yt_model_open(&m, dir, &lc, 1, 8, &e), 0);
    ck_assert_msg(strstr(e.msg, "config.json") != NULL, "%s", e.msg);
    /* a config.json missing a key names the key */
    snprintf(dir, sizeof dir, "%s/badcfg", tmpdir);
    yt_mkdirs(dir, &e);
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"vocab_size\": 10, \"hidden_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2}", f);
    fclose(f);
    ck_assert_int_ne(yt_model_open(&m, dir, &lc, 1, 8, &e), 0);
    ck_assert_msg(strstr(e.msg, "intermediate_size") != NULL, "%s", e.msg);
}
END_TEST

/* The key/value-cache forward (generation) against the training forward's
 * logits at every position: two sequences read in as one call's chunks of
 * different lengths, then one token each per call, and with an error (a full
 * cache) in between that must change nothing; with the adapter on, and with it
 * off against a model whose adapter is zero. */
static double kv_case(yt_model *m, const int32_t *in, const float *full, int B, int S, int use_lora)
{
    const yt_config *c = yt_model_config(m);
    const int V = c->vocab_size;
    yt_err e;
    yt_kv *kv = NULL;
    int rc = yt_kv_open(&kv, m, B, S, S + B, use_lora, &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
    float *lg = malloc(sizeof(float) * (size_t)B * V);
    int32_t ids[64], slot[64];
    int done[2] = {0, 0}, first[2] = {5, 3};
    double worst = 0, scale = 0;
    for (size_t i = 0; i < (size_t)B * S * V; i++)
        scale = fmax(scale, fabs(full[i]));
    while (done[0] < S || done[1] < S) {
        int T = 0, last[2] = {-1, -1};
        for (int b = 0; b < B; b++) {
            int n = done[b] == 0 ? first[b] : 1;
            for (int i = 0; i < n && done[b] < S; i++, T++) {
                ids[T] = in[b * S + done[b]];
                slot[T] = b;
                last[b] = done[b]++;
            }
        }
        int rows = 0;
        rc = yt_kv_forward(kv, ids, slot, T, lg, &rows, &e);
        ck_assert_msg(rc == 0, "%s", e.msg);
        for (int b = 0, r = 0; b < B; b++) {
            if (last[b] < 0)
                continue;
            const float *want = full + ((size_t)b * S + last[b]) * V;
            for (int v = 0; v < V; v++)
                worst = fmax(worst, fabs(lg[(size_t)r * V + v] - want[v]));
            r++;
        }
        ck_assert_int_eq(rows, (last[0] >= 0) + (last[1] >= 0));
    }
    /* both caches are full now: one more token is refused */
    ids[0] = 1;
    slot[0] = 0;
    int rows = 0;
    ck_assert_int_ne(yt_kv_forward(kv, ids, slot, 1, lg, &rows, &e), 0);
    ck_assert_msg(strstr(e.msg, "longer than the cache") != NULL, "%s", e.msg);
    ck_assert_int_eq(yt_kv_len(kv, 0), S);
    /* an id outside the vocabulary is refused */
    yt_kv_reset(kv, 1);
    ids[0] = V;
    slot[0] = 1;
    ck_assert_int_ne(yt_kv_forward(kv, ids, slot, 1, lg, &rows, &e), 0);
    ck_assert_int_eq(yt_kv_len(kv, 1), 0);
    free(lg);
    yt_kv_close(kv);
    return worst / scale;
}

START_TEST(test_kv_cache_forward)
{
    variant v = {"kv", 0, 1, 2, 0, "all", 0.0f};
    char dir[512];
    make_model(&v, dir, sizeof dir);
    yt_lora_config lc = {.rank = 4, .alpha = 8};
    yt_err e;
    ck_assert_int_eq(yt_lora_parse_targets("all", &lc.targets, &e), 0);
    enum { B = 2, S = 14 };
    yt_model *m = NULL;
    int rc = yt_model_open(&m, dir, &lc, B, S, &e);
    ck_assert_msg(rc == 0, "%s", e.msg);
    size_t np = yt_model_n_params(m);
    float *p = yt_model_params(m);
    for (size_t i = 0; i < np; i++)
        p[i] = (2.0f * yt_u01(yt_mix64(i + 7)) - 1.0f) * 0.3f;
    const int V = yt_model_config(m)->vocab_size;
    int32_t in[B * S];
    for (int t = 0; t < B * S; t++)
        in[t] = (int32_t)(yt_mix64((uint64_t)t * 11 + 3) % (uint64_t)V);
    float *full = malloc(sizeof(float) * B * S * V), *base = malloc(sizeof(float) * B * S * V);
    yt_model_logits(m, in, full);
    double on = kv_case(m, in, full, B, S, 1);
    memset(p, 0, np * sizeof(float));
    yt_model_logits(m, in, base);
    double off = kv_case(m, in, base, B, S, 0);
    /* the adapter changes the logits: the comparison above can see it */
    double diff = 0;
    for (size_t i = 0; i < (size_t)B * S * V; i++)
        diff = fmax(diff, fabs(full[i] - base[i]));
    printf("kv cache forward vs training forward: relative error %.2e with the adapter, %.2e "
           "without (the adapter moves logits by %.3g)\n", on, off, diff);
    ck_assert_msg(on < 1e-5 && off < 1e-5, "kv forward: %g / %g", on, off);
    ck_assert_msg(diff > 1e-2, "the adapter does not change the logits (%g)", diff);
    free(full);
    free(base);
    yt_model_close(m);
}
END_TEST

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/yt-test-model-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("gradients");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_fd_variant, 0, (int)(sizeof variants / sizeof variants[0]));
    tcase_add_test(tc, test_forward_loss_matches_fb);
    tcase_add_test(tc, test_bad_model_inputs);
    tcase_add_test(tc, test_kv_cache_forward);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return failed ? 1 : 0;
}
