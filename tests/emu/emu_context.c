/* tests/emu/emu_context.c: the emulated devices and contexts (kernels_cuda.h:
 * device count, context, stream, sync), the emulator's switches, and the
 * bf16 conversion op. */
#define _DEFAULT_SOURCE
#include "tests/emu/emu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMU_SLOTS 4
#define EMU_MAX_CTX 16

struct yt_kc_ctx {
    int device;
    void *ws;          /* the workspace the contract sizes (device memory) */
    size_t ws_bytes;
    float *scratch[EMU_SLOTS]; /* host buffers for the CPU kernels */
    size_t cap[EMU_SLOTS];
};

/* Process-wide, like the CUDA runtime's (emu.h). */
static struct {
    int devices;       /* -1: not read yet */
    int current;
    int bf16;          /* -1: not read yet */
    int banner;
    yt_kc_ctx *live[EMU_MAX_CTX];
} D = {-1, -1, -1, 0, {0}};

int emu_devices(void)
{
    if (D.devices < 0) {
        const char *v = getenv("YT_EMU_DEVICES");
        D.devices = v && *v ? atoi(v) : 1;
        if (D.devices < 0)
            D.devices = 0;
    }
    return D.devices;
}

int emu_current_device(void) { return D.current; }

void emu_set_bf16(int on) { D.bf16 = on != 0; }

int emu_bf16(void)
{
    if (D.bf16 < 0) {
        const char *v = getenv("YT_EMU_BF16");
        D.bf16 = !(v && strcmp(v, "0") == 0);
    }
    return D.bf16;
}

int emu_stream_valid(const void *stream)
{
    for (int i = 0; i < EMU_MAX_CTX; i++)
        if (stream && D.live[i] == stream)
            return 1;
    return 0;
}

int yt_kc_device_count(int *n, yt_err *e)
{
    (void)e;
    *n = emu_devices();
    return 0;
}

void yt_kc_ctx_destroy(yt_kc_ctx *c)
{
    if (!c)
        return;
    for (int i = 0; i < EMU_MAX_CTX; i++)
        if (D.live[i] == c)
            D.live[i] = NULL;
    yt_kc_free(c->ws);
    for (int i = 0; i < EMU_SLOTS; i++)
        free(c->scratch[i]);
    free(c);
}

int yt_kc_ctx_create(yt_kc_ctx **out, int device, size_t ws_bytes, yt_err *e)
{
    *out = NULL;
    if (device < 0 || device >= emu_devices())
        return yt_errf(e, "yt_kc_ctx_create: cudaSetDevice: cudaErrorInvalidDevice: invalid device "
                          "ordinal (device %d of %d emulated)", device, emu_devices());
    if (!D.banner && !(getenv("YT_EMU_QUIET") && strcmp(getenv("YT_EMU_QUIET"), "1") == 0))
        fprintf(stderr, "yt-emu: %s [%d device%s, bf16 rounding of activations %s]\n",
                YT_EMU_LABEL, emu_devices(), emu_devices() == 1 ? "" : "s", emu_bf16() ? "on" : "off");
    D.banner = 1;
    yt_kc_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return yt_errf(e, "yt_kc_ctx_create: out of host memory");
    int slot = 0;
    while (slot < EMU_MAX_CTX && D.live[slot])
        slot++;
    if (slot == EMU_MAX_CTX) {
        free(c);
        return yt_errf(e, "yt_kc_ctx_create: more than %d contexts (emulator)", EMU_MAX_CTX);
    }
    c->device = device;
    c->ws_bytes = ws_bytes;
    if (ws_bytes && yt_kc_malloc(&c->ws, ws_bytes, "context workspace", e)) {
        free(c);
        return yt_err_prefix(e, "yt_kc_ctx_create");
    }
    D.live[slot] = c;
    D.current = device;
    *out = c;
    return 0;
}

/* The stream is the context itself: yt_comm_dev_init checks it is a live one. */
void *yt_kc_ctx_stream(yt_kc_ctx *c) { return c; }

int yt_kc_sync(yt_kc_ctx *c, yt_err *e)
{
    if (!emu_stream_valid(c))
        return yt_errf(e, "yt_kc_sync: not a live context");
    return 0;
}

size_t emu_ctx_ws_bytes(const yt_kc_ctx *c) { return c->ws_bytes; }
void *emu_ctx_ws(const yt_kc_ctx *c) { return c->ws; }

float *emu_scratch(yt_kc_ctx *c, int slot, size_t floats, yt_err *e)
{
    if (floats == 0)
        floats = 1;
    if (c->cap[slot] < floats) {
        float *p = realloc(c->scratch[slot], floats * sizeof(float));
        if (!p) {
            yt_errf(e, "emulator: out of host memory for %zu floats of scratch", floats);
            return NULL;
        }
        c->scratch[slot] = p;
        c->cap[slot] = floats;
    }
    return c->scratch[slot];
}

int yt_kc_to_bf16(yt_kc_ctx *c, uint16_t *dst, const float *src, size_t n, yt_err *e)
{
    (void)c;
    if (n == 0)
        return 0;
    emu_call k;
    emu_begin(&k, "yt_kc_to_bf16");
    emu_arg_add(&k, "dst", dst, n, sizeof(uint16_t), EMU_W);
    emu_arg_add(&k, "src", src, n, sizeof(float), EMU_R);
    if (emu_enter(&k, e))
        return -1;
    for (size_t i = 0; i < n; i++)
        dst[i] = yt_kc_bf16_from_f32(src[i]);
    emu_leave(&k);
    return 0;
}
