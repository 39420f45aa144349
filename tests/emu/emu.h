/* tests/emu/: a HOST EMULATION of the kernels/cuda contract (kernels_cuda.h)
 * and of the device collectives (collectives.h, yt_comm_dev_*), so that the GPU
 * engine (model/llama_gpu.c, runner/train_gpu.c) runs and is tested on machines
 * without a GPU.  What it checks: the order of the calls, the size of every
 * buffer a call touches, aliasing the contract forbids, host/device separation,
 * buffers in flight in a collective, and the engine's arithmetic, computed
 * with the CPU kernels (kernels/kernels.h) plus the bf16 rounding where the GPU
 * rounds.  What it can NOT check: a CUDA kernel's numerics (TF32 attention,
 * reduction orders, expf), its speed, or anything about real streams.  Its
 * tests are separate test entries (tests/emu.inc); the GPU tests still skip
 * without a GPU.
 *
 * "Device" memory: every yt_kc_malloc is its own mmap (a guard page before and
 * after, the data ending near the upper guard), filled with a NaN pattern
 * (0x7ff8 in every 16-bit half: NaN as bf16, fp32 and fp64, an id out of
 * range as int32), and PROT_NONE except while an emulated call runs: host
 * code that reads or writes device memory directly dies with SIGSEGV, as it
 * would on a GPU.  Each call names every buffer it touches with its size in
 * bytes; a buffer outside a live allocation (or freed, or a host pointer), a
 * misaligned one, an output that overlaps another argument (except where the
 * contract allows it), or one that a device collective still owns is refused
 * with -1 and a message naming the call, the argument and the allocation.
 *
 * Process-wide state (the allocation table, the device count, the current
 * device): the CUDA runtime it stands in for is process-wide too, and
 * yt_kc_malloc takes no context.  Single-threaded like the contract.
 *
 * Environment: YT_EMU_DEVICES (default 1) devices to report; YT_EMU_BF16=0
 * turns the bf16 rounding of activations off (then the emulated GPU model
 * equals the CPU model bitwise); YT_EMU_QUIET=1 drops the banner that
 * yt_kc_ctx_create prints once per process on stderr. */
#ifndef YT_EMU_H
#define YT_EMU_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "kernels/cuda/kernels_cuda.h"

#define YT_EMU_LABEL                                                                               \
    "kernels_cuda.h EMULATED on the host (tests/emu): checks call order, buffer sizes, aliasing, " \
    "host/device separation and the engine's arithmetic with the CPU kernels' numerics; not a "    \
    "GPU kernel's numerics or speed"

/* ---- one emulated call ---- */
enum {
    EMU_R = 1,         /* device buffer read */
    EMU_W = 2,         /* device buffer written (overwritten or accumulated) */
    EMU_RW = 3,
    EMU_HOST_R = 4,    /* host buffer read (must not be device memory) */
    EMU_HOST_W = 8,    /* host buffer written */
};
#define EMU_MAX_ARGS 14

typedef struct emu_arg {
    const char *name;
    const void *p;
    size_t bytes;
    size_t align;
    int mode;
    int alias_ok; /* index + 1 of an argument this one may equal exactly (0: none) */
} emu_arg;

typedef struct emu_call {
    const char *op;
    int n;
    emu_arg a[EMU_MAX_ARGS];
    int entered;
} emu_call;

void emu_begin(emu_call *k, const char *op);
/* Adds an argument of `count` elements of `elem` bytes (also its alignment). */
void emu_arg_add(emu_call *k, const char *name, const void *p, size_t count, size_t elem, int mode);
/* The last argument added (a byte buffer) must be aligned to `align` bytes. */
void emu_arg_align(emu_call *k, size_t align);
/* The last two arguments added may be the same buffer (exactly, not partly). */
void emu_alias_ok(emu_call *k);
/* Checks every argument, then makes their pages accessible (read-only where
 * only read).  -1 with a message (nothing opened) when an argument breaks the
 * contract. */
int emu_enter(emu_call *k, yt_err *e);
/* After emu_enter: argument i turns out to need `bytes` (a table indexed by
 * data read in the call): checked and made accessible, or -1. */
int emu_extend(emu_call *k, int i, size_t bytes, yt_err *e);
/* Makes them inaccessible again. */
void emu_leave(emu_call *k);
/* After emu_enter: fills a device range with the poison (a workspace the GPU
 * scribbles on: nothing may count on its contents after the call). */
void emu_poison(void *p, size_t bytes);

/* ---- memory (emu_memory.c) ---- */
/* Marks [p, p+bytes) as owned by a device collective until emu_release; every
 * emulated call touching it is refused until then. */
int emu_hold(const void *p, size_t bytes, const char *what, yt_err *e);
void emu_release(const void *p);
/* Copies between device memory and host memory outside any emulated call
 * (the collectives' staging); the range was checked. */
void emu_raw_read(void *host, const void *dev, size_t bytes);
void emu_raw_write(void *dev, const void *host, size_t bytes);
/* Number of live allocations and their bytes (tests). */
size_t emu_live(size_t *bytes);

/* ---- devices (emu_context.c) ---- */
int emu_devices(void);
int emu_current_device(void);       /* -1 before the first context */
int emu_stream_valid(const void *stream);
/* 1: round activations to bf16 where the GPU does (default); 0: not. */
void emu_set_bf16(int on);
int emu_bf16(void);
/* A host scratch buffer of the context (grown on demand, kept until destroy). */
float *emu_scratch(yt_kc_ctx *c, int slot, size_t floats, yt_err *e);
size_t emu_ctx_ws_bytes(const yt_kc_ctx *c);
void *emu_ctx_ws(const yt_kc_ctx *c);
static inline float emu_round_bf16(float x)
{
    return yt_kc_f32_from_bf16(yt_kc_bf16_from_f32(x));
}

#endif
