/* tests/emu/test_emu_comm.c: the emulated device collectives
 * (tests/emu/emu_comm.c, collectives.h's yt_comm_dev_*) under mpirun, on the
 * emulated GPU.  EMULATED: no GPU and no NCCL take part.
 *
 * Checked exactly against sums computed here: all-reduce (several spans of
 * one buffer in flight at once, as the per-layer starts of runner/train_gpu.c),
 * reduce-scatter out of place and in place, all-gather in place.  Refused:
 * touching a buffer between its start and the join (a kernel, a download),
 * starting a collective on a range already in flight, on host memory.
 * `--same-device`: every rank is meant to share one emulated device, and
 * yt_comm_dev_init must refuse (as comm_nccl.c does for one GPU). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectives/collectives.h"
#include "tests/emu/emu.h"

static int failures, rank;
static yt_err err;

#define OK(call)                                                                                   \
    do {                                                                                           \
        if ((call) != 0) {                                                                         \
            fprintf(stderr, "test_emu_comm (rank %d): %s:%d: %s\n", rank, __FILE__, __LINE__,     \
                    err.msg);                                                                      \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static void expect(int cond, const char *what)
{
    if (rank == 0 || !cond)
        printf("  [rank %d] %-60s %s\n", rank, what, cond ? "ok" : "FAIL");
    failures += !cond;
}

static void refused(int rc, const char *word, const char *what)
{
    int ok = rc == -1 && strstr(err.msg, word) != NULL;
    expect(ok, what);
    if (!ok)
        printf("    (rc %d: %s)\n", rc, err.msg);
    err.msg[0] = '\0';
}

/* Value i of rank r's input: small integers, so every float sum is exact. */
static float val(int r, size_t i) { return (float)((int)((i * 7 + (size_t)r * 13) % 97) - 48); }

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    yt_comm *c;
    OK(yt_comm_init(&c, &argc, &argv, &err));
    rank = yt_comm_rank(c);
    int size = yt_comm_size(c);
    int same = argc > 1 && strcmp(argv[1], "--same-device") == 0;
    if (rank == 0)
        printf("EMULATED device collectives (tests/emu): %d rank%s, %d emulated device%s\n", size,
               size == 1 ? "" : "s", emu_devices(), emu_devices() == 1 ? "" : "s");
    yt_kc_ctx *kc;
    OK(yt_kc_ctx_create(&kc, yt_comm_local_rank(c) % emu_devices(), 0, &err));
    if (same) {
        int rc = yt_comm_dev_init(c, yt_kc_ctx_stream(kc), 0, &err);
        refused(rc, "both on emulated device", "two ranks on one device refused");
        yt_kc_ctx_destroy(kc);
        yt_comm_finalize(c);
        return failures ? 1 : 0;
    }
    OK(yt_comm_dev_init(c, yt_kc_ctx_stream(kc), 0, &err));

    /* all-reduce: three spans of one buffer in flight together */
    const size_t n = 1000, cut1 = 300, cut2 = 301;
    float *h = malloc(n * size * sizeof(float)), *d;
    OK(yt_kc_malloc((void **)&d, n * size * sizeof(float), "gradients", &err));
    for (size_t i = 0; i < n; i++)
        h[i] = val(rank, i);
    OK(yt_kc_upload(kc, d, h, n * sizeof(float), &err));
    OK(yt_comm_dev_allreduce_start(c, d + cut2, n - cut2, &err));
    OK(yt_comm_dev_allreduce_start(c, d + cut1, cut2 - cut1, &err));
    refused(yt_kc_scale(kc, d + 500, 2.0f, 10, &err), "in flight", "a kernel on a buffer in flight");
    refused(yt_kc_download(kc, h, d + cut1, 4, &err), "in flight", "a download of a buffer in flight");
    refused(yt_comm_dev_allreduce_start(c, d + 200, 200, &err), "in flight",
            "a second collective on a range in flight");
    refused(yt_comm_dev_allreduce_start(c, h, 10, &err), "not device memory",
            "a collective on host memory");
    OK(yt_kc_scale(kc, d, 1.0f, cut1, &err)); /* the part not in flight is free */
    OK(yt_comm_dev_allreduce_start(c, d, cut1, &err));
    OK(yt_comm_dev_join(c, &err));
    OK(yt_kc_download(kc, h, d, n * sizeof(float), &err));
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float want = 0;
        for (int r = 0; r < size; r++)
            want += val(r, i);
        bad += h[i] != want;
    }
    expect(bad == 0, "all-reduce of three spans, one join: exact sums");

    /* reduce-scatter, out of place then in place */
    const size_t cnt = 257;
    float *in, *out;
    OK(yt_kc_malloc((void **)&in, cnt * size * sizeof(float), "reduce-scatter in", &err));
    OK(yt_kc_malloc((void **)&out, cnt * sizeof(float), "reduce-scatter out", &err));
    for (size_t i = 0; i < cnt * size; i++)
        h[i] = val(rank, i + 5);
    for (int pass = 0; pass < 2; pass++) {
        OK(yt_kc_upload(kc, in, h, cnt * size * sizeof(float), &err));
        float *o = pass ? in + (size_t)rank * cnt : out;
        OK(yt_comm_dev_reduce_scatter_start(c, in, o, cnt, &err));
        refused(yt_kc_fill_f32(kc, o, cnt, 0.0f, &err), "in flight", "writing the output in flight");
        OK(yt_comm_dev_join(c, &err));
        float *got = malloc(cnt * sizeof(float));
        OK(yt_kc_download(kc, got, o, cnt * sizeof(float), &err));
        bad = 0;
        for (size_t i = 0; i < cnt; i++) {
            float want = 0;
            for (int r = 0; r < size; r++)
                want += val(r, (size_t)rank * cnt + i + 5);
            bad += got[i] != want;
        }
        free(got);
        expect(bad == 0, pass ? "reduce-scatter in place: exact" : "reduce-scatter out of place: exact");
    }

    /* all-gather in place */
    for (size_t i = 0; i < cnt; i++)
        h[i] = val(rank, i + 9) + 1000.0f * (float)rank;
    OK(yt_kc_fill_f32(kc, in, cnt * size, -1.0f, &err));
    OK(yt_kc_upload(kc, in + (size_t)rank * cnt, h, cnt * sizeof(float), &err));
    OK(yt_comm_dev_allgather_start(c, in, cnt, &err));
    OK(yt_comm_dev_join(c, &err));
    OK(yt_kc_download(kc, h, in, cnt * size * sizeof(float), &err));
    bad = 0;
    for (int r = 0; r < size; r++)
        for (size_t i = 0; i < cnt; i++)
            bad += h[(size_t)r * cnt + i] != val(r, i + 9) + 1000.0f * (float)r;
    expect(bad == 0, "all-gather in place: every rank's piece");

    yt_kc_free(d);
    yt_kc_free(in);
    yt_kc_free(out);
    free(h);
    yt_kc_ctx_destroy(kc);
    int total = failures;
    yt_comm_allreduce_f64(c, &(double){0}, 1, &err); /* every rank got here */
    yt_comm_finalize(c);
    if (rank == 0)
        printf("%s (rank 0: %d failure%s, EMULATED)\n", total ? "FAIL" : "PASS", total,
               total == 1 ? "" : "s");
    return failures ? 1 : 0;
}
