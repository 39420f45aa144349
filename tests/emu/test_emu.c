/* tests/emu/test_emu.c: the host emulation of kernels/cuda (tests/emu/emu.h),
 * itself and with the GPU model on it.  EMULATED: nothing here runs on a GPU.
 *
 * 1. The emulator catches what it claims to: device memory poisoned with NaN
 *    at allocation; host code touching it dies with SIGSEGV; a buffer past its
 *    allocation, a freed one, a host pointer as device memory and a device
 *    pointer as host memory, a misaligned one, an output overlapping an input,
 *    a too small bf16 workspace, RoPE positions past the tables, a target out
 *    of the vocabulary are refused; a double free aborts; workspaces are
 *    poisoned after a call; bf16 rounding happens where the GPU rounds.
 * 2. The GPU model (model/llama_gpu.c) on the emulator against the CPU model
 *    (model/llama.c) on `tiny` with BF16 weights, every combination of
 *    attention kernel, document masks, dropout and recomputation: with the
 *    bf16 rounding of activations switched off, loss, eval loss, LoRA
 *    gradients and logits are BITWISE equal to the CPU's (the two models run
 *    the same ops in the same order on the same numbers, so any dropped,
 *    swapped or reordered kernel call shows); with rounding on, the
 *    differences are printed and must be non-zero and within bf16 bounds.
 *    Every device allocation is gone after yt_gmodel_free.
 * Plain C (it forks for the crash checks). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/model.h"
#include "model/model_gpu.h"
#include "tests/emu/emu.h"

static int failures;
static yt_err err;

#define OK(call)                                                                                   \
    do {                                                                                           \
        if ((call) != 0) {                                                                         \
            fprintf(stderr, "test_emu: %s:%d: %s\n", __FILE__, __LINE__, err.msg);                \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static void expect(int cond, const char *what)
{
    printf("  %-66s %s\n", what, cond ? "ok" : "FAIL");
    failures += !cond;
}

/* The call failed and its message names `word`. */
static void refused(int rc, const char *word, const char *what)
{
    int ok = rc == -1 && strstr(err.msg, word) != NULL;
    expect(ok, what);
    if (!ok)
        printf("    (rc %d, message: %s)\n", rc, err.msg);
    else
        printf("    -> %s\n", err.msg);
    err.msg[0] = '\0';
}

/* Runs fn in a child: 1 when it died of signal sig. */
static int dies_of(void (*fn)(void), int sig)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        /* the default action, not a sanitizer's handler that reports and exits */
        signal(sig, SIG_DFL);
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) && WTERMSIG(st) == sig;
}

static void host_reads_device(void)
{
    float *p;
    if (yt_kc_malloc((void **)&p, 64, "read by the host", &err))
        _exit(2);
    volatile float x = p[3];
    (void)x;
}

static void host_writes_device(void)
{
    float *p;
    if (yt_kc_malloc((void **)&p, 64, "written by the host", &err))
        _exit(2);
    p[3] = 1.0f;
}

static void double_free(void)
{
    void *p;
    if (yt_kc_malloc(&p, 64, "freed twice", &err))
        _exit(2);
    yt_kc_free(p);
    fclose(stderr); /* the emulator's abort message is expected */
    yt_kc_free(p);
}

static void emulator_checks(void)
{
    printf("the emulator's own checks\n");
    yt_kc_ctx *c;
    OK(yt_kc_ctx_create(&c, 0, 64, &err)); /* 64 bytes of bf16 workspace */
    float *a, *b;
    OK(yt_kc_malloc((void **)&a, 64 * sizeof(float), "buffer a", &err));
    OK(yt_kc_malloc((void **)&b, 64 * sizeof(float), "buffer b", &err));
    float host[64];
    OK(yt_kc_download(c, host, a, sizeof host, &err));
    uint32_t bits;
    memcpy(&bits, &host[5], 4);
    expect(isnan(host[5]) && bits == 0x7ff87ff8u, "fresh device memory reads as the NaN poison");
    expect(dies_of(host_reads_device, SIGSEGV), "host read of device memory: SIGSEGV");
    expect(dies_of(host_writes_device, SIGSEGV), "host write of device memory: SIGSEGV");
    expect(dies_of(double_free, SIGABRT), "double yt_kc_free: abort");

    for (int i = 0; i < 64; i++)
        host[i] = (float)i;
    OK(yt_kc_upload(c, a, host, sizeof host, &err));
    OK(yt_kc_upload(c, b, host, sizeof host, &err));
    refused(yt_kc_add(c, a, b, 65, &err), "past its end", "a buffer one float past its allocation");
    refused(yt_kc_scale(c, host, 2.0f, 64, &err), "not device memory", "a host pointer as device memory");
    refused(yt_kc_upload(c, a, b, 16, &err), "points into device allocation",
            "a device pointer as a host buffer");
    refused(yt_kc_copy(c, a + 1, a, 32, &err), "overlaps", "an overlapping copy");
    OK(yt_kc_copy(c, a, a, 32, &err));
    expect(1, "a copy onto itself (allowed: a no-op)");
    refused(yt_kc_matmul_xwT(c, a, a + 8, b, 2, 8, 8, 0.0f, &err), "overlaps",
            "a product whose output overlaps its input");
    refused(yt_kc_add(c, (float *)((char *)a + 2), b, 4, &err), "aligned", "a misaligned float buffer");
    uint16_t *w16;
    OK(yt_kc_malloc((void **)&w16, 64 * sizeof(uint16_t), "bf16 weights", &err));
    refused(yt_kc_matmul_xwT_bf16(c, b, a, w16, 8, 8, 4, 0.0f, &err), "workspace",
            "a bf16 product larger than the context's workspace");

    /* RoPE: tables of 4 positions, a position 4 */
    int32_t pos[2] = {1, 4}, *dpos;
    OK(yt_kc_malloc((void **)&dpos, sizeof pos, "positions", &err));
    OK(yt_kc_upload(c, dpos, pos, sizeof pos, &err));
    float *tab;
    OK(yt_kc_malloc((void **)&tab, 2 * 4 * 2 * sizeof(float), "rope tables", &err)); /* hd 4 */
    refused(yt_kc_rope_forward(c, a, tab, tab + 8, dpos, 2, 1, 4, &err), "max(pos)",
            "a RoPE position past the tables");

    /* lm_head: a counted target outside the vocabulary */
    int T = 2, C = 4, V = 8;
    int32_t tg[2] = {3, 8}, *dtg;
    float wt[2] = {0.5f, 0.5f}, *dwt;
    double *dloss;
    void *xws;
    OK(yt_kc_malloc((void **)&dtg, sizeof tg, "targets", &err));
    OK(yt_kc_malloc((void **)&dwt, sizeof wt, "weights", &err));
    OK(yt_kc_malloc((void **)&dloss, sizeof(double), "loss", &err));
    OK(yt_kc_malloc(&xws, yt_kc_lmhead_xent_workspace(T, C, V, T), "xent workspace", &err));
    OK(yt_kc_upload(c, dtg, tg, sizeof tg, &err));
    OK(yt_kc_upload(c, dwt, wt, sizeof wt, &err));
    OK(yt_kc_fill_bf16(c, w16, (size_t)V * C, 0.5f, &err));
    refused(yt_kc_lmhead_xent(c, dloss, NULL, a, w16, dtg, dwt, T, C, V, T, xws, &err), "outside",
            "a counted target outside the vocabulary");

    /* attention workspace poisoned after the call */
    int B = 1, S = 4, nh = 2, nkv = 1, hd = 4;
    void *aws;
    size_t awb = yt_kc_attention_gemm_workspace(S, nh, nkv, hd);
    float *lse;
    OK(yt_kc_malloc(&aws, awb, "attention workspace", &err));
    OK(yt_kc_malloc((void **)&lse, sizeof(float) * B * nh * S, "lse", &err));
    OK(yt_kc_memset(c, aws, 0, awb, &err));
    /* q = a[0..32), k = v = b[0..16), out = b[32..64) */
    OK(yt_kc_attention_gemm_forward(c, b + 32, lse, a, b, b, NULL, B, S, nh, nkv, hd, aws, &err));
    float w0;
    OK(yt_kc_download(c, &w0, aws, sizeof w0, &err));
    expect(isnan(w0), "an attention workspace is poisoned after the call");

    /* bf16 rounding of the activation entering a bf16 product */
    yt_kc_ctx *c2;
    OK(yt_kc_ctx_create(&c2, 0, 1024, &err));
    float x1[4] = {1.0f + 1.0f / 1024, 0, 0, 0}, y1 = 0;
    OK(yt_kc_upload(c2, a, x1, sizeof x1, &err));
    OK(yt_kc_fill_bf16(c2, w16, 4, 1.0f, &err));
    OK(yt_kc_memset(c2, w16 + 1, 0, 3 * sizeof(uint16_t), &err));
    OK(yt_kc_matmul_xwT_bf16(c2, b, a, w16, 1, 4, 1, 0.0f, &err));
    OK(yt_kc_download(c2, &y1, b, sizeof y1, &err));
    expect(y1 == 1.0f, "bf16 product: the activation 1+2^-10 is rounded to 1");
    emu_set_bf16(0);
    OK(yt_kc_matmul_xwT_bf16(c2, b, a, w16, 1, 4, 1, 0.0f, &err));
    OK(yt_kc_download(c2, &y1, b, sizeof y1, &err));
    emu_set_bf16(1);
    expect(y1 == x1[0], "bf16 product with rounding off: 1+2^-10 stays");

    yt_kc_free(b);
    refused(yt_kc_add(c, a, b, 4, &err), "freed", "a freed buffer");
    void *all[] = {a, w16, dpos, tab, dtg, dwt, dloss, xws, aws, lse};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        yt_kc_free(all[i]);
    yt_kc_ctx_destroy(c);
    yt_kc_ctx_destroy(c2);
    expect(emu_live(NULL) == 0, "no device allocation left");
}

/* ---- the GPU model against the CPU model ---- */

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

typedef struct tcase {
    int attention, doc, recompute;
    float dropout;
} tcase;

/* Worst differences with rounding on, over the cases. */
static double worst_loss, worst_grad, worst_logit;

static void model_case(const char *dir, const tcase *tc, int rounding)
{
    const int B = 2, S = 37, T = B * S;
    char label[160];
    snprintf(label, sizeof label, "%s attention, doc mask %d, dropout %.2f, recompute %d",
             tc->attention == YT_GATT_GEMM ? "gemm" : "flash", tc->doc, (double)tc->dropout,
             tc->recompute);
    yt_lora_config lc = {.rank = 4, .alpha = 8, .dropout = tc->dropout};
    OK(yt_lora_parse_targets("all", &lc.targets, &err));
    yt_model *m;
    OK(yt_model_open(&m, dir, &lc, B, S, &err));
    const yt_config *c = yt_model_config(m);
    size_t np = yt_model_n_params(m), V = (size_t)c->vocab_size;
    float *p = yt_model_params(m);
    uint64_t s = 0x5eed;
    for (size_t i = 0; i < np; i++)
        p[i] = 0.05f * (2.0f * yt_u01(s = yt_mix64(s)) - 1.0f);
    int32_t *in = malloc(sizeof(int32_t) * T), *tg = malloc(sizeof(int32_t) * T);
    int32_t *doc = malloc(sizeof(int32_t) * T), *pos = malloc(sizeof(int32_t) * T);
    float *w = malloc(sizeof(float) * T);
    for (int t = 0; t < T; t++) {
        in[t] = (int32_t)(yt_mix64((uint64_t)t * 3 + 2) % V);
        tg[t] = (int32_t)(yt_mix64((uint64_t)t * 11 + 7) % V);
        w[t] = t % 7 == 3 ? 0.0f : 1.0f / (float)T;
        int st = t % S;
        doc[t] = (t / S) * 10 + (st < 12 ? 0 : st < 29 ? 1 : 2);
        pos[t] = st < 12 ? st : st < 29 ? st - 12 : st - 29;
    }
    if (tc->doc)
        yt_model_set_docs(m, doc, pos);
    uint64_t seed = 4242;
    memset(yt_model_grads(m), 0, np * sizeof(float));
    double loss_cpu = yt_model_forward_backward(m, in, tg, w, seed, NULL, NULL);
    float *g_cpu = malloc(np * sizeof(float)), *g_gpu = malloc(np * sizeof(float));
    memcpy(g_cpu, yt_model_grads(m), np * sizeof(float));
    double eval_cpu = yt_model_forward_loss(m, in, tg, w);
    float *lg_cpu = malloc(sizeof(float) * T * V), *lg_gpu = malloc(sizeof(float) * T * V);
    yt_model_logits(m, in, lg_cpu);

    emu_set_bf16(rounding);
    yt_gmodel_opts o = {.device = 0, .recompute = tc->recompute, .attention = tc->attention};
    yt_gmodel *g;
    OK(yt_gmodel_create(&g, m, B, S, &o, &err));
    OK(yt_gmodel_set_batch(g, in, tg, w, tc->doc ? doc : NULL, tc->doc ? pos : NULL, &err));
    double loss_gpu = 0, eval_gpu = 0;
    OK(yt_gmodel_forward_backward(g, seed, NULL, NULL, &loss_gpu, &err));
    OK(yt_gmodel_grads_to_host(g, &err));
    memcpy(g_gpu, yt_model_grads(m), np * sizeof(float));
    OK(yt_gmodel_forward_loss(g, &eval_gpu, &err));
    OK(yt_gmodel_logits(g, lg_gpu, &err));
    yt_gmodel_free(g);
    emu_set_bf16(1);

    if (!rounding) {
        int same = loss_gpu == loss_cpu && eval_gpu == eval_cpu &&
                   memcmp(g_gpu, g_cpu, np * sizeof(float)) == 0 &&
                   memcmp(lg_gpu, lg_cpu, sizeof(float) * T * V) == 0;
        char what[200];
        snprintf(what, sizeof what, "bitwise: %s", label);
        expect(same, what);
        if (!same)
            printf("    loss %.9g vs %.9g, eval %.9g vs %.9g, grads %.3e, logits %.3e\n", loss_gpu,
                   loss_cpu, eval_gpu, eval_cpu, relerr(g_gpu, g_cpu, np),
                   relerr(lg_gpu, lg_cpu, (size_t)T * V));
    } else {
        double dl = fabs(loss_gpu - loss_cpu) / fabs(loss_cpu);
        double dg = relerr(g_gpu, g_cpu, np), dlg = relerr(lg_gpu, lg_cpu, (size_t)T * V);
        printf("  bf16 on: %-52s loss %.1e grads %.1e logits %.1e\n", label, dl, dg, dlg);
        worst_loss = fmax(worst_loss, dl);
        worst_grad = fmax(worst_grad, dg);
        worst_logit = fmax(worst_logit, dlg);
        /* bf16 keeps 8 bits: relative rounding 2^-9 per value, a few per value here */
        if (!(dl > 0 && dg > 0 && dlg > 0 && dl < 1e-3 && dg < 2e-2 && dlg < 2e-2)) {
            printf("    FAIL: want non-zero differences under 1e-3 / 2e-2 / 2e-2\n");
            failures++;
        }
    }
    size_t live = emu_live(NULL);
    if (live) {
        printf("    FAIL: %zu device allocations left after yt_gmodel_free\n", live);
        failures++;
    }
    yt_model_close(m);
    free(in), free(tg), free(doc), free(pos), free(w), free(g_cpu), free(g_gpu), free(lg_cpu),
        free(lg_gpu);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("EMULATED GPU (tests/emu): %s\n", YT_EMU_LABEL);
    emulator_checks();

    char dir[] = "/tmp/yt-emu-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    yt_config c;
    OK(yt_config_preset(&c, "tiny", &err));
    OK(yt_model_write_random(&c, dir, 9, "bf16", &err));
    yt_k_set_threads(1);
    tcase cases[] = {
        {YT_GATT_GEMM, 0, 0, 0.0f}, {YT_GATT_FLASH, 0, 0, 0.0f}, {YT_GATT_GEMM, 1, 0, 0.0f},
        {YT_GATT_FLASH, 1, 1, 0.0f}, {YT_GATT_GEMM, 0, 0, 0.1f}, {YT_GATT_GEMM, 1, 1, 0.1f},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    printf("the GPU model on the emulator vs the CPU model, bf16 rounding of activations off\n");
    for (int i = 0; i < n; i++)
        model_case(dir, &cases[i], 0);
    printf("the same with rounding on (relative differences: loss, max-norm grads and logits)\n");
    for (int i = 0; i < n; i++)
        model_case(dir, &cases[i], 1);
    printf("  worst with rounding on: loss %.2e, LoRA gradients %.2e, logits %.2e\n", worst_loss,
           worst_grad, worst_logit);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_emu: could not remove %s\n", dir);
    printf("%s: %d failure%s (EMULATED GPU)\n", failures ? "FAIL" : "PASS", failures,
           failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}
