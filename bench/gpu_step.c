/* bench/gpu_step: times one LoRA training step of the GPU model on a
 * random-weight model of a named shape (llama3-8b, llama3-1b, ...), made on
 * the device, so no multi-GB checkpoint is needed: forward, backward, the
 * gradient norm and AdamW, as `yieldtune train --device cuda` runs them on
 * one rank.  Prints one line per run:
 *   preset seq mb attention recompute s/step tokens/s TFLOP/s MFU GiB
 * FLOPs on the 4N-per-token basis of LoRA fine-tuning (forward 2N, backward
 * through the frozen weights 2N), N = the parameters of every product (the
 * seven projections of every layer plus lm_head; the embedding lookup is not
 * a product); MFU against --peak-tflops (default 989: H100/H200 SXM dense
 * bf16).  The median over --steps timed steps after one warm-up step.
 * --base-dtype nf4 keeps the projections as QLoRA's NF4 (random weights
 * encoded on the host, one layer copied into every layer) and decodes each
 * layer to bf16 right before its products (UNTESTED on a GPU so far); the line
 * then also gives the device memory model/memory.c estimates for the options
 * next to what the model allocated. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/kernels_cuda.h"
#include "model/model.h"
#include "model/model_gpu.h"
#include "runner/options.h"

typedef struct bench_opts {
    char preset[32], targets[64];
    int attention, base; /* CHOICE indices: gemm|flash, bf16|nf4 */
    int seq_len, micro_batch, steps, rank, recompute, device;
    float peak;
} bench_opts;

#define O(f) offsetof(bench_opts, f)
#define SZ(f) sizeof(((bench_opts *)0)->f)
static const yt_opt table[] = {
    {"preset", YT_OPT_STR, O(preset), SZ(preset), "llama3-8b", 0, 0, NULL, 0, "NAME",
     "model shape (model/config.c presets: tiny, bench-small, llama3-1b, llama3-8b, llama3-70b)"},
    {"base-dtype", YT_OPT_CHOICE, O(base), 0, "bf16", 0, 0, "bf16|nf4", 0, NULL,
     "frozen projections in bf16, or NF4 decoded per layer"},
    {"seq-len", YT_OPT_INT, O(seq_len), 0, "2048", 2, 1 << 20, NULL, 0, NULL, "tokens per sequence"},
    {"micro-batch", YT_OPT_INT, O(micro_batch), 0, "1", 1, 1 << 16, NULL, 0, NULL, "sequences per pass"},
    {"steps", YT_OPT_INT, O(steps), 0, "5", 1, 1000, NULL, 0, NULL, "timed steps (after one warm-up)"},
    {"attention", YT_OPT_CHOICE, O(attention), 0, "gemm", 0, 0, "gemm|flash", 0, NULL,
     "attention kernel"},
    {"recompute", YT_OPT_BOOL, O(recompute), 0, "false", 0, 0, NULL, 0, NULL, "activation recomputation"},
    {"lora-rank", YT_OPT_INT, O(rank), 0, "16", 1, 4096, NULL, 0, NULL, "LoRA rank"},
    {"lora-targets", YT_OPT_STR, O(targets), SZ(targets), "all", 0, 0, NULL, 0, "LIST", "LoRA targets"},
    {"device", YT_OPT_INT, O(device), 0, "0", 0, 64, NULL, 0, NULL, "CUDA device"},
    {"peak-tflops", YT_OPT_FLOAT, O(peak), 0, "989", 1, 1e6, NULL, 0, NULL,
     "the GPU's dense bf16 peak for MFU"},
    YT_OPT_END,
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    bench_opts o;
    memset(&o, 0, sizeof o);
    yt_err e = {{0}};
    int npos = 0;
    int rc = yt_opts_parse(table, &o, argc, argv, 1, NULL, 0, &npos, &e);
    if (rc == 1) {
        yt_opts_help(stdout, "gpu_step [--preset NAME] [options]",
                     "Times a LoRA training step of the GPU model on random weights.", table);
        return 0;
    }
    if (rc) {
        fprintf(stderr, "gpu_step: %s\n", e.msg);
        return 2;
    }
    yt_config c;
    yt_lora_config lc = {.rank = o.rank, .alpha = 2.0f * (float)o.rank};
    yt_model *m = NULL;
    yt_gmodel *g = NULL;
    if (yt_config_preset(&c, o.preset, &e) || yt_lora_parse_targets(o.targets, &lc.targets, &e) ||
        yt_model_open_config(&m, &c, &lc, &e))
        goto fail;
    yt_model_lora_init(m, 1);
    int nf4 = o.base == 1;
    yt_gmodel_opts go = {.device = o.device, .recompute = o.recompute, .random_seed = 7,
                         .attention = o.attention == 1 ? YT_GATT_FLASH : YT_GATT_GEMM,
                         .base = nf4 ? YT_GBASE_NF4 : YT_GBASE_BF16};
    yt_mem_opts mo = {.device = YT_MEM_GPU, .micro_batch = o.micro_batch, .seq_len = o.seq_len,
                      .base_dtype = nf4 ? YT_BASE_NF4 : YT_BASE_BF16, .recompute = o.recompute,
                      .flash = go.attention == YT_GATT_FLASH};
    yt_mem_estimate est;
    yt_model_memory(&c, &lc, &mo, &est);
    if (yt_gmodel_create(&g, m, o.micro_batch, o.seq_len, &go, &e))
        goto fail;
    yt_kc_ctx *kc = yt_gmodel_ctx(g);
    int T = o.micro_batch * o.seq_len;
    size_t np = yt_model_n_params(m);
    int32_t *in = malloc(sizeof(int32_t) * (size_t)T), *tg = malloc(sizeof(int32_t) * (size_t)T);
    float *w = malloc(sizeof(float) * (size_t)T);
    double *times = malloc(sizeof(double) * (size_t)o.steps);
    float *mom = NULL;
    double *sumsq = NULL;
    if (!in || !tg || !w || !times) {
        yt_errf(&e, "out of host memory");
        goto fail;
    }
    for (int t = 0; t < T; t++) {
        in[t] = (int32_t)(yt_mix64((uint64_t)t) % (uint64_t)c.vocab_size);
        tg[t] = (int32_t)(yt_mix64((uint64_t)t + 977) % (uint64_t)c.vocab_size);
        w[t] = 1.0f / (float)T;
    }
    if (yt_kc_malloc((void **)&mom, 2 * np * sizeof(float), "AdamW moments", &e) ||
        yt_kc_memset(kc, mom, 0, 2 * np * sizeof(float), &e) ||
        yt_kc_malloc((void **)&sumsq, sizeof(double), "norm", &e) ||
        yt_gmodel_set_batch(g, in, tg, w, NULL, NULL, &e))
        goto fail;
    double loss = 0, first_loss = 0;
    for (int s = -1; s < o.steps; s++) {
        double t0 = yt_now(), norm2 = 0;
        if (yt_gmodel_zero_grads(g, &e) ||
            yt_gmodel_forward_backward(g, (uint64_t)s + 2, NULL, NULL, &loss, &e) ||
            yt_kc_sumsq(kc, sumsq, yt_gmodel_grads(g), np, &e) ||
            yt_kc_download(kc, &norm2, sumsq, sizeof norm2, &e) ||
            yt_kc_adamw(kc, yt_gmodel_params(g), yt_gmodel_grads(g), mom, mom + np, np, 1e-4f, 0.9f,
                        0.999f, 1e-8f, 0.0f, 0.1f, 0.001f, 1.0f, &e) ||
            yt_kc_sync(kc, &e))
            goto fail;
        if (s < 0)
            first_loss = loss;
        else
            times[s] = yt_now() - t0;
        if (!isfinite(loss) || !isfinite(norm2)) {
            yt_errf(&e, "step %d: loss %g, grad norm^2 %g", s, loss, norm2);
            goto fail;
        }
    }
    qsort(times, (size_t)o.steps, sizeof *times, cmp_double);
    double med = times[o.steps / 2];
    double N = (double)c.vocab_size * c.hidden_size; /* lm_head */
    double C = c.hidden_size, F = c.intermediate_size, Q = (double)c.n_heads * c.head_dim,
           KV = (double)c.n_kv_heads * c.head_dim;
    N += (double)c.n_layers * (C * Q + 2 * C * KV + Q * C + 3 * C * F);
    double tps = (double)T / med, tflops = 4.0 * N * tps / 1e12;
    printf("preset %s base %s seq %d mb %d attention %s recompute %d: %.4f s/step, %.0f tokens/s, "
           "%.1f TFLOP/s (4N, N = %.3fB), MFU %.1f%%, %.2f GiB model (estimated %.2f GiB + %.2f GiB "
           "moments), loss %.4f -> %.4f\n",
           o.preset, nf4 ? "nf4" : "bf16", o.seq_len, o.micro_batch, o.attention ? "flash" : "gemm", o.recompute, med, tps, tflops, N / 1e9,
           100.0 * tflops / o.peak, (double)yt_gmodel_device_bytes(g) / (1u << 30),
           (est.total - est.lora / 2) / (1u << 30), est.lora / 2 / (1u << 30), first_loss, loss);
    yt_kc_free(mom);
    yt_kc_free(sumsq);
    yt_gmodel_free(g);
    yt_model_close(m);
    free(in), free(tg), free(w), free(times);
    return 0;
fail:
    fprintf(stderr, "gpu_step: %s\n", e.msg);
    return 1;
}
