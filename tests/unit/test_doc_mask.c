/* Document masking through the real model on `tiny`: a row holding two documents,
 * with their document ids and positions restarting at the second (what the
 * sampler gives with doc_mask), has the loss and LoRA gradients of the two
 * documents run alone (positions from 0, plain causal attention), and without
 * the mask it does not. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"

#define B 2
#define S 32
#define T (B * S)
#define LA 13 /* document A: row 0 [0, LA); document B: row 0 [LA, S) */

static void rm_model(const char *dir)
{
    char p[600];
    snprintf(p, sizeof p, "%s/config.json", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    unlink(p);
    rmdir(dir);
}

START_TEST(test_two_documents_equal_each_alone)
{
    char dir[256];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/yt-dm-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    yt_config c;
    yt_err e = {{0}};
    ck_assert_int_eq(yt_config_preset(&c, "tiny", &e), 0);
    c.n_layers = 2;
    char mdir[300];
    snprintf(mdir, sizeof mdir, "%s/m", dir);
    ck_assert_msg(yt_model_write_random(&c, mdir, 3, "f32", &e) == 0, "%s", e.msg);
    yt_lora_config lc = {.rank = 4, .alpha = 8};
    ck_assert_int_eq(yt_lora_parse_targets("all", &lc.targets, &e), 0);
    yt_model *m = NULL;
    ck_assert_msg(yt_model_open(&m, mdir, &lc, B, S, &e) == 0, "%s", e.msg);
    size_t np = yt_model_n_params(m);
    float *p = yt_model_params(m);
    for (size_t i = 0; i < np; i++) /* non-zero B too, so the adapters matter */
        p[i] = (float)((double)(yt_mix64(i + 1) % 2001) / 1000.0 - 1.0) * 0.05f;

    int32_t tok[T + 1], in[T], tg[T], doc[T], pos[T];
    float w[T];
    for (int i = 0; i <= T; i++)
        tok[i] = (int32_t)(yt_mix64(77 + (uint64_t)i) % (uint64_t)c.vocab_size);
    /* together: row 0 = A ++ B, row 1 = C (one document) */
    for (int t = 0; t < T; t++) {
        int r = t / S, s = t % S;
        in[t] = tok[t];
        tg[t] = tok[t + 1];
        doc[t] = r == 0 ? (s < LA ? 0 : 1) : 2;
        pos[t] = r == 0 && s >= LA ? s - LA : s;
        w[t] = (r == 0 && (s == LA - 1 || s == S - 1)) ? 0.0f : 1.0f; /* no target across */
    }
    memset(yt_model_grads(m), 0, np * sizeof(float));
    yt_model_set_docs(m, doc, pos);
    double together = yt_model_forward_backward(m, in, tg, w, 0, NULL, NULL);
    double together_eval = yt_model_forward_loss(m, in, tg, w);
    float *g_together = malloc(np * sizeof(float));
    memcpy(g_together, yt_model_grads(m), np * sizeof(float));

    /* alone: run 1 = [A padded, C], run 2 = [B padded, C not counted]; no masking */
    yt_model_set_docs(m, NULL, NULL);
    memset(yt_model_grads(m), 0, np * sizeof(float));
    int32_t in1[T], tg1[T], in2[T], tg2[T];
    float w1[T], w2[T];
    for (int t = 0; t < T; t++) {
        int r = t / S, s = t % S;
        if (r == 1) {
            in1[t] = in2[t] = in[t];
            tg1[t] = tg2[t] = tg[t];
            w1[t] = 1.0f;
            w2[t] = 0.0f;
            continue;
        }
        int a_ok = s < LA, b_ok = s < S - LA;
        in1[t] = a_ok ? in[s] : 0;
        tg1[t] = a_ok ? tg[s] : 0;
        w1[t] = s < LA - 1 ? 1.0f : 0.0f;
        in2[t] = b_ok ? in[LA + s] : 0;
        tg2[t] = b_ok ? tg[LA + s] : 0;
        w2[t] = s < S - LA - 1 ? 1.0f : 0.0f;
    }
    double alone = yt_model_forward_backward(m, in1, tg1, w1, 0, NULL, NULL) +
                   yt_model_forward_backward(m, in2, tg2, w2, 0, NULL, NULL);
    const float *g_alone = yt_model_grads(m);
    ck_assert_msg(fabs(together - alone) <= 1e-5 * fabs(alone), "together %.9g alone %.9g", together,
                  alone);
    ck_assert_msg(fabs(together_eval - alone) <= 1e-5 * fabs(alone), "eval %.9g alone %.9g",
                  together_eval, alone);
    double gmax = 0, dmax = 0;
    for (size_t i = 0; i < np; i++) {
        gmax = fmax(gmax, fabs(g_alone[i]));
        dmax = fmax(dmax, fabs((double)g_alone[i] - g_together[i]));
    }
    ck_assert(gmax > 0);
    ck_assert_msg(dmax <= 1e-4 * gmax, "gradients differ by %.3g (max %.3g)", dmax, gmax);

    /* without the mask (plain positions) the packed row is another computation */
    double plain = yt_model_forward_loss(m, in, tg, w);
    ck_assert_msg(fabs(plain - alone) > 1e-4 * fabs(alone), "masking changed nothing");
    free(g_together);
    yt_model_close(m);
    rm_model(mdir);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("doc_mask");
    TCase *t = tcase_create("model");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_two_documents_equal_each_alone);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
