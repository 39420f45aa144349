/* bench/gpu_kernels: where a GPU training step's time goes, kernel by kernel,
 * at one model shape (default llama3-8b, 2048 tokens, LoRA rank 16): each op
 * of kernels/cuda is timed alone on random device data (median of --reps
 * calls, each synchronised), then multiplied by how often one step of
 * model/llama_gpu.c calls it.  The table ends with the sum, to set against
 * bench/gpu_step's measured step: the gap is launch overhead and what the
 * table leaves out.  Run by bench/gpu-check on the lent GPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/kernels_cuda.h"
#include "model/model.h"
#include "runner/options.h"

typedef struct kb_opts {
    char preset[32];
    int seq_len, rank, reps, device, flash;
} kb_opts;

#define O(f) offsetof(kb_opts, f)
#define SZ(f) sizeof(((kb_opts *)0)->f)
static const yt_opt table[] = {
    {"preset", YT_OPT_STR, O(preset), SZ(preset), "llama3-8b", 0, 0, NULL, 0, "NAME", "model shape"},
    {"seq-len", YT_OPT_INT, O(seq_len), 0, "2048", 2, 1 << 20, NULL, 0, NULL, "tokens (one sequence)"},
    {"lora-rank", YT_OPT_INT, O(rank), 0, "16", 1, 4096, NULL, 0, NULL, "LoRA rank"},
    {"reps", YT_OPT_INT, O(reps), 0, "7", 1, 1000, NULL, 0, NULL, "timed calls per op"},
    {"device", YT_OPT_INT, O(device), 0, "0", 0, 64, NULL, 0, NULL, "CUDA device"},
    {"flash", YT_OPT_BOOL, O(flash), 0, "true", 0, 0, NULL, 0, NULL,
     "also time the (slow, scalar) flash attention kernel"},
    YT_OPT_END,
};

static yt_kc_ctx *kc;
static yt_err err;
static double total_ms;

static void *dev(size_t bytes)
{
    void *p;
    if (yt_kc_malloc(&p, bytes, "benchmark buffer", &err) ||
        yt_kc_fill_uniform_bf16(kc, p, bytes / 2, 0.5f, bytes, &err)) {
        fprintf(stderr, "gpu_kernels: %s\n", err.msg);
        exit(1);
    }
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times op (a statement using kc/err returning 0) and prints one row. */
#define TIME(label, per_step, op)                                                                  \
    do {                                                                                           \
        double t_[1000];                                                                           \
        int n_ = reps;                                                                             \
        for (int r_ = -1; r_ < n_; r_++) {                                                         \
            if (yt_kc_sync(kc, &err))                                                              \
                goto fail;                                                                         \
            double t0_ = yt_now();                                                                 \
            if ((op) != 0 || yt_kc_sync(kc, &err))                                                 \
                goto fail;                                                                         \
            if (r_ >= 0)                                                                           \
                t_[r_] = (yt_now() - t0_) * 1e3;                                                   \
        }                                                                                          \
        qsort(t_, (size_t)n_, sizeof t_[0], cmp_double);                                           \
        double ms_ = t_[n_ / 2];                                                                   \
        total_ms += ms_ * (per_step);                                                              \
        printf("%-40s %9.3f ms x %5.0f = %9.2f ms\n", (label), ms_, (double)(per_step),            \
               ms_ * (per_step));                                                                  \
    } while (0)

int main(int argc, char **argv)
{
    kb_opts o;
    memset(&o, 0, sizeof o);
    int npos = 0;
    int rc = yt_opts_parse(table, &o, argc, argv, 1, NULL, 0, &npos, &err);
    if (rc == 1) {
        yt_opts_help(stdout, "gpu_kernels [--preset NAME] [options]",
                     "Times each GPU kernel of a training step at one model shape.", table);
        return 0;
    }
    if (rc) {
        fprintf(stderr, "gpu_kernels: %s\n", err.msg);
        return 2;
    }
    int reps = o.reps > 1000 ? 1000 : o.reps;
    yt_config c;
    if (yt_config_preset(&c, o.preset, &err))
        goto fail;
    int T = o.seq_len, C = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
    int nh = c.n_heads, nkv = c.n_kv_heads, hd = c.head_dim, r = o.rank, L = c.n_layers;
    int Q = nh * hd, KV = nkv * hd;
    int widest = F > C ? F : C;
    if (Q > widest)
        widest = Q;
    if (yt_kc_ctx_create(&kc, o.device, 2 * (size_t)T * widest, &err))
        goto fail;
    size_t f = sizeof(float);
    float *x = dev((size_t)T * widest * f), *y = dev((size_t)T * widest * f);
    float *y2 = dev((size_t)T * widest * f), *y3 = dev((size_t)T * widest * f);
    float *y4 = dev((size_t)T * widest * f);
    float *rstd = dev((size_t)T * f), *nw = dev((size_t)C * f);
    uint16_t *W = dev((size_t)widest * C * 2);
    float *A = dev((size_t)r * widest * f), *xa = dev((size_t)T * r * f);
    float *q = dev((size_t)T * Q * f), *k = dev((size_t)T * KV * f), *v = dev((size_t)T * KV * f);
    float *att = dev((size_t)T * Q * f), *lse = dev((size_t)nh * T * f);
    float *dq = dev((size_t)T * Q * f), *dk = dev((size_t)T * KV * f), *dv = dev((size_t)T * KV * f);
    void *aws = dev(yt_kc_attention_gemm_workspace(T, nh, nkv, hd));
    float *fws = dev(yt_kc_attention_workspace(1, T, nh) * f);
    uint16_t *head = dev((size_t)V * C * 2);
    int chunk = yt_kc_lmhead_xent_chunk(T, V);
    void *xws = dev(yt_kc_lmhead_xent_workspace(T, C, V, chunk));
    int32_t *ids = dev((size_t)T * 4), *pos = dev((size_t)T * 4);
    float *wt = dev((size_t)T * f), *cos_t = dev((size_t)T * hd / 2 * f), *sin_t = dev((size_t)T * hd / 2 * f);
    double *loss = dev(sizeof(double));
    /* token ids, targets and positions in range; weights 1/T */
    int32_t *hid = malloc((size_t)T * 4);
    float *hw = malloc((size_t)T * f);
    for (int t = 0; t < T; t++)
        hid[t] = t % V, hw[t] = 1.0f / (float)T;
    if (yt_kc_upload(kc, ids, hid, (size_t)T * 4, &err) ||
        yt_kc_upload(kc, pos, hid, (size_t)T * 4, &err) ||
        yt_kc_upload(kc, wt, hw, (size_t)T * f, &err))
        goto fail;

    printf("gpu_kernels: preset %s, %d tokens, LoRA rank %d, %d layers (per step = per layer x %d)\n",
           o.preset, T, r, L, L);
    /* Base-weight products per layer: forward y = x W^T and backward dx = dy W. */
    struct { const char *name; int in, out; } pr[] = {
        {"q", C, Q}, {"k", C, KV}, {"v", C, KV}, {"o", Q, C}, {"gate", C, F}, {"up", C, F}, {"down", F, C}};
    size_t n_lora = 0; /* LoRA parameters of every projection of every layer */
    for (int i = 0; i < 7; i++)
        n_lora += (size_t)L * r * (size_t)(pr[i].in + pr[i].out);
    float *p = dev(n_lora * f), *g = dev(n_lora * f), *m = dev(n_lora * f), *vv = dev(n_lora * f);
    if (yt_kc_fill_f32(kc, m, n_lora, 0, &err) || yt_kc_fill_f32(kc, vv, n_lora, 0, &err))
        goto fail;
    for (int i = 0; i < 7; i++) {
        char lab[64];
        snprintf(lab, sizeof lab, "bf16 x W^T %s [%d x %d]", pr[i].name, pr[i].out, pr[i].in);
        TIME(lab, L, yt_kc_matmul_xwT_bf16(kc, y, x, W, T, pr[i].in, pr[i].out, 0.0f, &err));
        snprintf(lab, sizeof lab, "bf16 dy W %s", pr[i].name);
        TIME(lab, L, yt_kc_matmul_dyW_bf16(kc, y, x, W, T, pr[i].in, pr[i].out, 0.0f, &err));
        /* LoRA: forward xa = x A^T and y += xa B^T; backward dB, dxa, dA, dx += dxa A */
        snprintf(lab, sizeof lab, "LoRA fp32 products %s (6)", pr[i].name);
        TIME(lab, L,
             yt_kc_matmul_xwT(kc, xa, x, A, T, pr[i].in, r, 0.0f, &err) ||
                 yt_kc_matmul_xwT(kc, y, xa, A, T, r, pr[i].out, 1.0f, &err) ||
                 yt_kc_matmul_dW(kc, A, y, xa, T, r, pr[i].out, 1.0f, 1.0f, &err) ||
                 yt_kc_matmul_dyW(kc, xa, y, A, T, r, pr[i].out, 0.0f, &err) ||
                 yt_kc_matmul_dW(kc, A, xa, x, T, pr[i].in, r, 1.0f, 1.0f, &err) ||
                 yt_kc_matmul_dyW(kc, y, xa, A, T, pr[i].in, r, 1.0f, &err));
    }
    double before_att = total_ms;
    TIME("attention gemm forward", L,
         yt_kc_attention_gemm_forward(kc, att, lse, q, k, v, NULL, 1, T, nh, nkv, hd, aws, &err));
    TIME("attention gemm backward", L,
         yt_kc_attention_gemm_backward(kc, dq, dk, dv, att, q, k, v, att, lse, NULL, 1, T, nh, nkv,
                                       hd, aws, &err));
    double att_ms = total_ms - before_att;
    if (o.flash) {
        TIME("(alt) attention flash forward", 0,
             yt_kc_attention_forward(kc, att, lse, q, k, v, NULL, 1, T, nh, nkv, hd, &err));
        TIME("(alt) attention flash backward", 0,
             yt_kc_attention_backward(kc, dq, dk, dv, att, q, k, v, att, lse, NULL, 1, T, nh, nkv,
                                      hd, fws, &err));
    }
    TIME("rmsnorm forward", 2 * L + 1, yt_kc_rmsnorm_forward(kc, y, rstd, x, nw, T, C, 1e-5f, &err));
    TIME("rmsnorm backward", 2 * L + 1, yt_kc_rmsnorm_backward(kc, y2, y, x, nw, rstd, T, C, &err));
    TIME("rope forward q+k", L,
         yt_kc_rope_forward(kc, q, cos_t, sin_t, pos, T, nh, hd, &err) ||
             yt_kc_rope_forward(kc, k, cos_t, sin_t, pos, T, nkv, hd, &err));
    TIME("rope backward q+k", L,
         yt_kc_rope_backward(kc, dq, cos_t, sin_t, pos, T, nh, hd, &err) ||
             yt_kc_rope_backward(kc, dk, cos_t, sin_t, pos, T, nkv, hd, &err));
    TIME("swiglu forward", L, yt_kc_swiglu_forward(kc, y, x, y2, (size_t)T * F, &err));
    TIME("swiglu backward", L, yt_kc_swiglu_backward(kc, y3, y4, y, x, y2, (size_t)T * F, &err));
    TIME("residual copies (2 x T x C)", L,
         yt_kc_copy(kc, y, x, (size_t)T * C * f, &err) || yt_kc_copy(kc, y2, x, (size_t)T * C * f, &err));
    TIME("lora scale (2 per projection)", 7 * L * 2, yt_kc_scale(kc, xa, 2.0f, (size_t)T * r, &err));
    TIME("embedding", 1, yt_kc_embed_bf16(kc, y, head, ids, T, C, &err));
    TIME("lm_head + cross-entropy (fwd+bwd)", 1,
         yt_kc_lmhead_xent(kc, loss, y2, x, head, ids, wt, T, C, V, chunk, xws, &err));
    TIME("grad norm (sumsq)", 1, yt_kc_sumsq(kc, loss, g, n_lora, &err));
    TIME("AdamW", 1,
         yt_kc_adamw(kc, p, g, m, vv, n_lora, 1e-4f, 0.9f, 0.999f, 1e-8f, 0, 0.1f, 0.001f, 1, &err));
    printf("%-40s %9s      %5s   %9.2f ms (gemm attention; flash rows not counted)\n",
           "sum", "", "", total_ms);
    printf("  of which attention (gemm): %.2f ms, %.1f%%\n", att_ms, 100.0 * att_ms / total_ms);
    free(hid);
    free(hw);
    yt_kc_ctx_destroy(kc);
    return 0;
fail:
    fprintf(stderr, "gpu_kernels: %s\n", err.msg);
    return 1;
}
