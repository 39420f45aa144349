/* tests/unit/test_nccl.c: the NCCL backend of collectives/ (yt_comm_dev_*)
 * under mpirun, run by tests/integration/nccl.sh.
 *
 *   test_nccl --devices   prints the number of CUDA devices; exits 77 (skip)
 *                         saying why when there is none.  No MPI.
 *   test_nccl             every rank takes device local_rank % count, then
 *                         for a few rounds: queues (on its compute stream) a
 *                         long memset and the upload of rank- and
 *                         round-dependent values, starts an all-reduce, a
 *                         reduce-scatter (out of place, and in place in the
 *                         last round) and an all-gather, queues more compute
 *                         (memsets of another buffer) to overlap with them,
 *                         joins, downloads on the compute stream and checks
 *                         every value exactly.
 * The values are integers below 2^24, so every sum is exact in any order.  A
 * collective that ran before the upload (start not ordered after compute)
 * sees the previous round's values; a download that ran before the
 * collective finished (join not ordered) sees the inputs or the NaN poison.
 * Also: the calls fail before yt_comm_dev_init, a join with nothing started
 * waits for nothing, a second init fails.
 * Plain C rather than Check: Check forks each test, and a CUDA context does
 * not survive a fork. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectives/collectives.h"
#include "common/common.h"

static int rank, size;
static long failures;
static yt_err err;

#define CU(call)                                                                                   \
    do {                                                                                           \
        cudaError_t ce_ = (call);                                                                  \
        if (ce_ != cudaSuccess) {                                                                  \
            fprintf(stderr, "test_nccl rank %d: %s:%d: %s: %s\n", rank, __FILE__, __LINE__, #call, \
                    cudaGetErrorString(ce_));                                                      \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define YT(call)                                                                                   \
    do {                                                                                           \
        if ((call) != 0) {                                                                         \
            fprintf(stderr, "test_nccl rank %d: %s:%d: %s\n", rank, __FILE__, __LINE__, err.msg);  \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "test_nccl rank %d: FAIL %s:%d: ", rank, __FILE__, __LINE__);          \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* Rank r's value at index i in round k: an integer in [1024, 1024 * 17). */
static float val(int r, int k, size_t i) { return (float)((i * 7 + (size_t)k * 131) % 1024 + 1024 * (size_t)(r + 1)); }

/* The sum of val over all ranks. */
static float sum(int k, size_t i)
{
    double s = 0;
    for (int r = 0; r < size; r++)
        s += val(r, k, i);
    return (float)s;
}

/* Compares got[0..n) with want(i); reports the first few differences. */
static void check(const char *what, int k, const float *got, size_t n, float (*want)(int, int, size_t), int arg)
{
    long bad = 0;
    for (size_t i = 0; i < n; i++) {
        float w = want(arg, k, i);
        if (!(got[i] == w)) {
            if (bad < 3)
                fprintf(stderr, "test_nccl rank %d: FAIL %s, round %d: [%zu] = %g, want %g\n", rank, what, k, i,
                        (double)got[i], (double)w);
            bad++;
        }
    }
    if (bad) {
        fprintf(stderr, "test_nccl rank %d: FAIL %s, round %d: %ld of %zu values wrong\n", rank, what, k, bad, n);
        failures++;
    }
}

/* want() shapes for check(): the sum at i, the sum at rank * count + i, rank arg's value. */
static size_t rs_count, ag_count;
static float want_sum(int unused, int k, size_t i) { return (void)unused, sum(k, i); }
static float want_rs(int r, int k, size_t i) { return sum(k, (size_t)r * rs_count + i); }
static float want_ag(int r, int k, size_t i) { return val(r, k, i); }

static void *dev(size_t bytes)
{
    void *p = NULL;
    CU(cudaMalloc(&p, bytes));
    return p;
}

static void *pinned(size_t bytes)
{
    void *p = NULL;
    CU(cudaMallocHost(&p, bytes));
    return p;
}

static int count_devices(void)
{
    int n = 0;
    cudaError_t ce = cudaGetDeviceCount(&n);
    if (ce == cudaErrorNoDevice || ce == cudaErrorInsufficientDriver || (ce == cudaSuccess && n == 0)) {
        printf("no CUDA device: %s\n", ce == cudaSuccess ? "none found" : cudaGetErrorString(ce));
        return 0;
    }
    if (ce != cudaSuccess) {
        fprintf(stderr, "test_nccl: cudaGetDeviceCount: %s\n", cudaGetErrorString(ce));
        exit(1);
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--devices") == 0) {
        int n = count_devices();
        if (n == 0)
            return 77;
        printf("%d\n", n);
        return 0;
    }

    /* --one-rank-nccl: a one-rank NCCL communicator, so that one GPU runs the NCCL calls too. */
    int one_rank = argc > 1 && strcmp(argv[1], "--one-rank-nccl") == 0;
    yt_comm *c = NULL;
    if (yt_comm_init(&c, &argc, &argv, &err)) {
        fprintf(stderr, "test_nccl: %s\n", err.msg);
        return 1;
    }
    rank = yt_comm_rank(c);
    size = yt_comm_size(c);
    int ndev = count_devices();
    if (ndev == 0) {
        yt_comm_finalize(c);
        return 77;
    }
    int device = yt_comm_local_rank(c) % ndev;
    CU(cudaSetDevice(device));
    EXPECT(yt_comm_has_nccl() == 1, "yt_comm_has_nccl() = %d in an NCCL build", yt_comm_has_nccl());

    /* Before init: every call fails (locally, no hang), saying so. */
    float *probe = dev(sizeof(float));
    EXPECT(yt_comm_dev_allreduce_start(c, probe, 1, &err) == -1 && strstr(err.msg, "yt_comm_dev_init"),
           "all-reduce before init: '%s'", err.msg);
    EXPECT(yt_comm_dev_join(c, &err) == -1, "join before init succeeded");
    EXPECT(yt_comm_dev_last_wait_ms(c) == 0.0, "last wait before init is not 0");

    cudaStream_t compute;
    CU(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking));
    YT(yt_comm_dev_init(c, compute, one_rank, &err));
    EXPECT(yt_comm_dev_init(c, compute, one_rank, &err) == -1, "a second yt_comm_dev_init succeeded");

    /* Nothing started: the join waits for nothing and measures nothing. */
    YT(yt_comm_dev_join(c, &err));
    EXPECT(yt_comm_dev_last_wait_ms(c) == 0.0, "last wait after an empty join: %g", yt_comm_dev_last_wait_ms(c));
    /* Count 0 is a no-op. */
    YT(yt_comm_dev_allreduce_start(c, probe, 0, &err));
    YT(yt_comm_dev_reduce_scatter_start(c, probe, probe, 0, &err));
    YT(yt_comm_dev_allgather_start(c, probe, 0, &err));

    /* Odd sizes, a few MB each; the scratch buffer keeps the compute stream busy. */
    const size_t n_ar = 1000003;
    rs_count = 250001;
    ag_count = 123457;
    const size_t n_rs = (size_t)size * rs_count, n_ag = (size_t)size * ag_count;
    const size_t scratch_bytes = (size_t)256 << 20;
    float *d_ar = dev(n_ar * sizeof(float)), *d_rs = dev(n_rs * sizeof(float));
    float *d_out = dev(rs_count * sizeof(float)), *d_ag = dev(n_ag * sizeof(float));
    void *d_scratch = dev(scratch_bytes);
    float *h_ar = pinned(n_ar * sizeof(float)), *h_rs = pinned(n_rs * sizeof(float));
    float *h_out = pinned(rs_count * sizeof(float)), *h_ag = pinned(n_ag * sizeof(float));

    const int rounds = 3;
    double waits = 0;
    for (int k = 0; k < rounds; k++) {
        int in_place = k == rounds - 1;
        for (size_t i = 0; i < n_ar; i++)
            h_ar[i] = val(rank, k, i);
        for (size_t i = 0; i < n_rs; i++)
            h_rs[i] = val(rank, k, i);
        for (size_t i = 0; i < n_ag; i++)
            h_ag[i] = NAN; /* the other ranks' pieces: poison */
        for (size_t i = 0; i < ag_count; i++)
            h_ag[(size_t)rank * ag_count + i] = val(rank, k, i);

        /* Delay the uploads behind a long memset so that a collective not
         * ordered after them would read last round's data. */
        for (int j = 0; j < 4; j++)
            CU(cudaMemsetAsync(d_scratch, j, scratch_bytes, compute));
        CU(cudaMemcpyAsync(d_ar, h_ar, n_ar * sizeof(float), cudaMemcpyHostToDevice, compute));
        CU(cudaMemcpyAsync(d_rs, h_rs, n_rs * sizeof(float), cudaMemcpyHostToDevice, compute));
        CU(cudaMemcpyAsync(d_ag, h_ag, n_ag * sizeof(float), cudaMemcpyHostToDevice, compute));
        CU(cudaMemsetAsync(d_out, 0xff, rs_count * sizeof(float), compute)); /* NaN */

        float *rs_out = in_place ? d_rs + (size_t)rank * rs_count : d_out;
        YT(yt_comm_dev_allreduce_start(c, d_ar, n_ar, &err));
        YT(yt_comm_dev_reduce_scatter_start(c, d_rs, rs_out, rs_count, &err));
        YT(yt_comm_dev_allgather_start(c, d_ag, ag_count, &err));

        /* Compute that overlaps with the collectives (touches none of their buffers). */
        for (int j = 0; j < 4; j++)
            CU(cudaMemsetAsync(d_scratch, 0x40 + j, scratch_bytes, compute));
        YT(yt_comm_dev_join(c, &err));

        /* Downloads on the compute stream: ordered after the collectives by the join only. */
        CU(cudaMemcpyAsync(h_ar, d_ar, n_ar * sizeof(float), cudaMemcpyDeviceToHost, compute));
        CU(cudaMemcpyAsync(h_out, rs_out, rs_count * sizeof(float), cudaMemcpyDeviceToHost, compute));
        CU(cudaMemcpyAsync(h_ag, d_ag, n_ag * sizeof(float), cudaMemcpyDeviceToHost, compute));
        CU(cudaStreamSynchronize(compute));

        check("all-reduce", k, h_ar, n_ar, want_sum, 0);
        check(in_place ? "reduce-scatter (in place)" : "reduce-scatter", k, h_out, rs_count, want_rs, rank);
        for (int r = 0; r < size; r++) {
            char what[64];
            snprintf(what, sizeof what, "all-gather, piece of rank %d", r);
            check(what, k, h_ag + (size_t)r * ag_count, ag_count, want_ag, r);
        }
        double w = yt_comm_dev_last_wait_ms(c);
        EXPECT(w >= 0.0 && isfinite(w), "last wait %g ms", w);
        waits += w;
    }
    if (rank == 0)
        printf("test_nccl: %d rank%s, device %d of %d on rank 0: %d rounds; exposed communication at the "
               "joins %.3f ms in all; communicator seconds %.3f\n",
               size, size == 1 ? "" : "s", device, ndev, rounds, waits, yt_comm_seconds(c));

    int failed = yt_comm_failed_ranks(c, failures == 0);
    CU(cudaFree(probe));
    CU(cudaFree(d_ar));
    CU(cudaFree(d_rs));
    CU(cudaFree(d_out));
    CU(cudaFree(d_ag));
    CU(cudaFree(d_scratch));
    CU(cudaFreeHost(h_ar));
    CU(cudaFreeHost(h_rs));
    CU(cudaFreeHost(h_out));
    CU(cudaFreeHost(h_ag));
    yt_comm_finalize(c); /* destroys the NCCL communicator: before the stream and the context go */
    CU(cudaStreamDestroy(compute));
    if (rank == 0)
        printf("test_nccl: %s\n", failed ? "FAIL" : "PASS");
    return failed ? 1 : 0;
}
