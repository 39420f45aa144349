/* tests/unit/test_model_gpu.c: the GPU model (model/llama_gpu.c) against the
 * CPU model on `tiny` with BF16 weights (so both hold the same base weights),
 * random non-zero LoRA A and B, every combination of attention kernel
 * (gemm, flash), document masking, LoRA dropout and recomputation.
 *
 * The GPU rounds the activations entering each bf16 base-weight product to
 * bf16 (8-bit mantissa) and the attention GEMMs use TF32; the CPU is fp32
 * throughout.  Tolerances (norm-wise relative, max|gpu - cpu| / max|cpu|):
 * loss 5e-3, logits 2e-2, LoRA gradients 5e-2 (each measured value is
 * printed).  Dropout masks are the same on both (stateless hash), so dropout
 * cases use the same tolerances.  Also: gradients accumulate over two passes
 * (exactly 2x within 1e-5), eval loss, and a poll that abandons the pass.
 * NF4 cases (--base-dtype nf4): both engines hold the same NF4 base, the CPU
 * decoding each layer to fp32, the GPU (kernels/cuda/dequant.cu) to bf16 --
 * the same values rounded -- with the same tolerances.
 *
 * Without a CUDA device it says why and exits 77.  Plain C, not Check (a CUDA
 * context does not survive Check's fork). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "kernels/cuda/kernels_cuda.h"
#include "model/model.h"
#include "model/model_gpu.h"

#define TOL_LOSS 5e-3
#define TOL_LOGITS 2e-2
#define TOL_GRADS 5e-2

static int failures;
static yt_err err;

#define OK(call)                                                                                   \
    do {                                                                                           \
        if ((call) != 0) {                                                                         \
            fprintf(stderr, "test_model_gpu: %s:%d: %s\n", __FILE__, __LINE__, err.msg);          \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static double relerr(const float *a, const float *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)ref[i]);
        if (!(d <= num))
            num = isnan(d) ? INFINITY : d;
        if (fabs((double)ref[i]) > den)
            den = fabs((double)ref[i]);
    }
    return den > 0 ? num / den : num;
}

static void check(const char *what, double got, double tol)
{
    int bad = !(got <= tol);
    printf("  %-44s %.3e (tol %.0e)%s\n", what, got, tol, bad ? "  FAIL" : "");
    failures += bad;
}

static int stop_now(void *ctx)
{
    (void)ctx;
    return 1;
}

typedef struct tcase {
    int attention, doc, recompute;
    float dropout;
    int nf4;
} tcase;

static void run_case(const char *dir, const tcase *tc)
{
    const int B = 2, S = 37, T = B * S;
    printf("case: attention %s, doc mask %d, dropout %.2f, recompute %d, base %s\n",
           tc->attention == YT_GATT_GEMM ? "gemm" : "flash", tc->doc, (double)tc->dropout,
           tc->recompute, tc->nf4 ? "nf4" : "bf16");
    yt_lora_config lc = {.rank = 4, .alpha = 8, .dropout = tc->dropout};
    OK(yt_lora_parse_targets("all", &lc.targets, &err));
    yt_model *m;
    yt_model_base_opts bo = {.dtype = tc->nf4 ? YT_BASE_NF4 : YT_BASE_F32};
    OK(yt_model_open_base(&m, dir, &lc, B, S, NULL, &bo, &err));
    const yt_config *c = yt_model_config(m);
    size_t np = yt_model_n_params(m);
    float *p = yt_model_params(m);
    uint64_t s = 0x1234;
    for (size_t i = 0; i < np; i++) /* A and B both non-zero: every gradient is */
        p[i] = 0.05f * (2.0f * yt_u01(s = yt_mix64(s)) - 1.0f);
    int32_t *in = malloc(sizeof(int32_t) * T), *tg = malloc(sizeof(int32_t) * T);
    int32_t *doc = malloc(sizeof(int32_t) * T), *pos = malloc(sizeof(int32_t) * T);
    float *w = malloc(sizeof(float) * T);
    for (int t = 0; t < T; t++) {
        in[t] = (int32_t)(yt_mix64((uint64_t)t * 7 + 1) % (uint64_t)c->vocab_size);
        tg[t] = (int32_t)(yt_mix64((uint64_t)t * 13 + 5) % (uint64_t)c->vocab_size);
        w[t] = t % 5 == 0 ? 0.0f : 1.0f / (float)T;
        int st = t % S;
        doc[t] = (t / S) * 10 + (st < 15 ? 0 : st < 30 ? 1 : 2); /* three documents per row */
        pos[t] = st < 15 ? st : st < 30 ? st - 15 : st - 30;
    }
    if (tc->doc)
        yt_model_set_docs(m, doc, pos);
    uint64_t seed = 99;
    memset(yt_model_grads(m), 0, np * sizeof(float));
    double loss_cpu = yt_model_forward_backward(m, in, tg, w, seed, NULL, NULL);
    float *g_cpu = malloc(np * sizeof(float));
    memcpy(g_cpu, yt_model_grads(m), np * sizeof(float));
    double eval_cpu = yt_model_forward_loss(m, in, tg, w);
    float *lg_cpu = malloc(sizeof(float) * T * c->vocab_size);
    float *lg_gpu = malloc(sizeof(float) * T * c->vocab_size);
    yt_model_logits(m, in, lg_cpu);

    yt_gmodel_opts o = {.device = 0, .recompute = tc->recompute, .attention = tc->attention,
                        .base = tc->nf4 ? YT_GBASE_NF4 : YT_GBASE_BF16};
    yt_gmodel *g;
    OK(yt_gmodel_create(&g, m, B, S, &o, &err));
    OK(yt_gmodel_set_batch(g, in, tg, w, tc->doc ? doc : NULL, tc->doc ? pos : NULL, &err));
    double loss_gpu = 0;
    OK(yt_gmodel_forward_backward(g, seed, NULL, NULL, &loss_gpu, &err));
    OK(yt_gmodel_grads_to_host(g, &err));
    float *g_gpu = malloc(np * sizeof(float));
    memcpy(g_gpu, yt_model_grads(m), np * sizeof(float));
    printf("  loss cpu %.6f gpu %.6f\n", loss_cpu, loss_gpu);
    check("loss", fabs(loss_gpu - loss_cpu) / fabs(loss_cpu), TOL_LOSS);
    check("LoRA gradients (all)", relerr(g_gpu, g_cpu, np), TOL_GRADS);
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < yt_model_n_lora_tensors(m); i++) {
        const yt_lora_tensor *t = yt_model_lora_tensor(m, i);
        size_t n = (size_t)t->rows * t->cols;
        double r = relerr(g_gpu + t->offset, g_cpu + t->offset, n);
        if (!(r <= worst)) {
            worst = r;
            worst_name = t->name;
        }
    }
    char label[160];
    snprintf(label, sizeof label, "worst tensor %s", worst_name);
    check(label, worst, TOL_GRADS);
    double gmax = 0;
    for (size_t i = 0; i < np; i++)
        gmax = fmax(gmax, fabs(g_gpu[i]));
    if (!(gmax > 0)) {
        printf("  GPU gradients are all zero  FAIL\n");
        failures++;
    }
    /* A second pass adds the same gradients again. */
    OK(yt_gmodel_forward_backward(g, seed, NULL, NULL, &loss_gpu, &err));
    OK(yt_gmodel_grads_to_host(g, &err));
    float *g2 = yt_model_grads(m);
    for (size_t i = 0; i < np; i++)
        g2[i] *= 0.5f;
    check("accumulated twice / 2 vs once", relerr(g2, g_gpu, np), 1e-5);
    double eval_gpu = 0;
    OK(yt_gmodel_forward_loss(g, &eval_gpu, &err));
    check("eval loss", fabs(eval_gpu - eval_cpu) / fabs(eval_cpu), TOL_LOSS);
    OK(yt_gmodel_logits(g, lg_gpu, &err));
    check("logits", relerr(lg_gpu, lg_cpu, (size_t)T * c->vocab_size), TOL_LOGITS);
    /* A poll that says stop: the pass is abandoned, loss NAN, return 1. */
    yt_gmodel_set_poll(g, stop_now, NULL);
    double l = 0;
    int rc = yt_gmodel_forward_backward(g, seed, NULL, NULL, &l, &err);
    if (rc != 1 || !isnan(l)) {
        printf("  abandoned pass returned %d, loss %g  FAIL\n", rc, l);
        failures++;
    }
    yt_gmodel_free(g);
    yt_model_close(m);
    free(in), free(tg), free(doc), free(pos), free(w), free(g_cpu), free(g_gpu), free(lg_cpu),
        free(lg_gpu);
}

int main(void)
{
    int n = 0;
    if (yt_kc_device_count(&n, &err) != 0 || n < 1) {
        printf("SKIP: no CUDA device (%s)\n", n < 1 && err.msg[0] ? err.msg : "0 devices");
        return 77;
    }
    char dir[] = "/tmp/yt-model-gpu-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    yt_config c;
    OK(yt_config_preset(&c, "tiny", &err));
    OK(yt_model_write_random(&c, dir, 5, "bf16", &err));
    yt_k_set_threads(2);
    tcase cases[] = {
        {YT_GATT_GEMM, 0, 0, 0.0f, 0}, {YT_GATT_FLASH, 0, 0, 0.0f, 0}, {YT_GATT_GEMM, 1, 0, 0.0f, 0},
        {YT_GATT_FLASH, 1, 0, 0.0f, 0}, {YT_GATT_GEMM, 0, 0, 0.1f, 0}, {YT_GATT_GEMM, 1, 1, 0.1f, 0},
        {YT_GATT_FLASH, 0, 1, 0.0f, 0}, {YT_GATT_GEMM, 0, 0, 0.0f, 1}, {YT_GATT_FLASH, 1, 1, 0.1f, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(dir, &cases[i]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_model_gpu: could not remove %s\n", dir);
    printf("%s: %d failure%s\n", failures ? "FAIL" : "PASS", failures, failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}
