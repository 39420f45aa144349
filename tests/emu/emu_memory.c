/* tests/emu/emu_memory.c: the emulator's "device" memory (see emu.h): one
 * guarded, poisoned, normally inaccessible mapping per allocation; the checks
 * of every emulated call's arguments; the ranges a collective holds; and the
 * memory verbs of kernels_cuda.h (malloc, free, upload, download). */
#define _DEFAULT_SOURCE
#include "tests/emu/emu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct emu_alloc {
    char *map, *p;     /* the mapping (guards included) and the caller's pointer */
    size_t map_len, bytes, data_len;
    char what[80];
    int live;
} emu_alloc;

typedef struct emu_held {
    const char *p;
    size_t bytes;
    char what[80];
} emu_held;

/* Process-wide, as the CUDA runtime's allocation table is (emu.h). */
static struct {
    emu_alloc *a;
    int n, cap;
    emu_held *h;
    int nh, caph;
    size_t page;
} M;

static size_t page(void)
{
    if (!M.page)
        M.page = (size_t)sysconf(_SC_PAGESIZE);
    return M.page;
}

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

static int overlaps(const char *a, size_t na, const char *b, size_t nb)
{
    return na && nb && a < b + nb && b < a + na;
}

/* The live allocation holding p (-1: none). */
static int find_live(const void *p)
{
    const char *q = p;
    for (int i = 0; i < M.n; i++)
        if (M.a[i].live && q >= M.a[i].p && q < M.a[i].p + M.a[i].bytes + (M.a[i].bytes == 0))
            return i;
    return -1;
}

/* The most recent freed allocation that held p (-1: none). */
static int find_freed(const void *p)
{
    const char *q = p;
    for (int i = M.n - 1; i >= 0; i--)
        if (!M.a[i].live && q >= M.a[i].p && q < M.a[i].p + (M.a[i].bytes ? M.a[i].bytes : 1))
            return i;
    return -1;
}

/* The live mapping (guard pages included) that [p, p+bytes) touches (-1: none). */
static int find_touching(const void *p, size_t bytes)
{
    for (int i = 0; i < M.n; i++)
        if (M.a[i].live && overlaps(p, bytes, M.a[i].map, M.a[i].map_len))
            return i;
    return -1;
}

/* The pages of [p, p+bytes) (inside one allocation's data pages).  Only the
 * pages a call names are opened: cheaper than a whole arena, and a call that
 * strays past what it named meets a closed page. */
static void prot_range(const void *p, size_t bytes, int prot)
{
    if (!bytes)
        return;
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(page() - 1);
    uintptr_t hi = round_up((uintptr_t)p + bytes, page());
    if (mprotect((void *)lo, hi - lo, prot) != 0) {
        fprintf(stderr, "yt-emu: mprotect(%p, %zu) failed: %s\n", (void *)lo, (size_t)(hi - lo),
                strerror(errno));
        abort();
    }
}

void emu_poison(void *p, size_t bytes)
{
    /* 0x7ff8 in every 16-bit half: a NaN read as bf16, fp32 or fp64 (the
     * byte at an even address is 0xf8, at an odd one 0x7f). */
    unsigned char *b = p, *end = b + bytes;
    while (b < end && ((uintptr_t)b & 7))
        *b = ((uintptr_t)b & 1) ? 0x7f : 0xf8, b++;
    for (; b + 8 <= end; b += 8)
        memcpy(b, &(uint64_t){0x7ff87ff87ff87ff8ull}, 8);
    for (; b < end; b++)
        *b = ((uintptr_t)b & 1) ? 0x7f : 0xf8;
}

/* ---- argument checks ---- */

void emu_begin(emu_call *k, const char *op)
{
    memset(k, 0, sizeof *k);
    k->op = op;
}

void emu_arg_add(emu_call *k, const char *name, const void *p, size_t count, size_t elem, int mode)
{
    if (k->n >= EMU_MAX_ARGS) {
        fprintf(stderr, "yt-emu: %s: more than %d arguments\n", k->op, EMU_MAX_ARGS);
        abort();
    }
    emu_arg *a = &k->a[k->n++];
    a->name = name;
    a->p = p;
    a->bytes = count * elem;
    a->align = elem;
    a->mode = mode;
}

void emu_arg_align(emu_call *k, size_t align) { k->a[k->n - 1].align = align; }

void emu_alias_ok(emu_call *k)
{
    k->a[k->n - 1].alias_ok = k->n - 1; /* index + 1 of the argument before it */
}

static int held_by(const void *p, size_t bytes)
{
    for (int i = 0; i < M.nh; i++)
        if (overlaps(p, bytes, M.h[i].p, M.h[i].bytes))
            return i;
    return -1;
}

static int check_device(const char *op, const char *name, const void *p, size_t bytes, size_t align,
                        yt_err *e)
{
    if (!p)
        return yt_errf(e, "%s: %s is NULL (%zu bytes expected)", op, name, bytes);
    int i = find_live(p);
    if (i < 0) {
        int f = find_freed(p);
        if (f >= 0)
            return yt_errf(e, "%s: %s points into '%s' (%zu bytes), which was freed", op, name,
                           M.a[f].what, M.a[f].bytes);
        return yt_errf(e, "%s: %s (%p) is not device memory (a host pointer?)", op, name, p);
    }
    const emu_alloc *a = &M.a[i];
    size_t off = (size_t)((const char *)p - a->p);
    if (bytes > a->bytes - off)
        return yt_errf(e,
                       "%s: %s needs %zu bytes at offset %zu of '%s' (%zu bytes): %zu bytes past "
                       "its end",
                       op, name, bytes, off, a->what, a->bytes, bytes - (a->bytes - off));
    if (align > 1 && (uintptr_t)p % align)
        return yt_errf(e, "%s: %s (offset %zu of '%s') is not aligned to %zu bytes", op, name, off,
                       a->what, align);
    return 0;
}

int emu_enter(emu_call *k, yt_err *e)
{
    k->entered = 0;
    for (int i = 0; i < k->n; i++) {
        const emu_arg *a = &k->a[i];
        if (a->bytes == 0)
            continue;
        if (a->mode & (EMU_HOST_R | EMU_HOST_W)) {
            if (!a->p)
                return yt_errf(e, "%s: host buffer %s is NULL (%zu bytes)", k->op, a->name, a->bytes);
            int d = find_touching(a->p, a->bytes);
            if (d >= 0)
                return yt_errf(e, "%s: host buffer %s points into device allocation '%s'", k->op,
                               a->name, M.a[d].what);
            continue;
        }
        if (check_device(k->op, a->name, a->p, a->bytes, a->align, e))
            return -1;
        int h = held_by(a->p, a->bytes);
        if (h >= 0)
            return yt_errf(e,
                           "%s: %s overlaps a buffer in flight in %s: it belongs to the collective "
                           "until yt_comm_dev_join",
                           k->op, a->name, M.h[h].what);
    }
    /* An output may not overlap any other argument (cuBLAS, cudaMemcpy and the
     * kernels assume it), except one it may equal exactly. */
    for (int i = 0; i < k->n; i++) {
        const emu_arg *w = &k->a[i];
        if (!(w->mode & EMU_W))
            continue;
        for (int j = 0; j < k->n; j++) {
            const emu_arg *o = &k->a[j];
            if (j == i || !(o->mode & EMU_RW) || !overlaps(w->p, w->bytes, o->p, o->bytes))
                continue;
            int pair = w->alias_ok == j + 1 || o->alias_ok == i + 1;
            if (pair && w->p == o->p && w->bytes == o->bytes)
                continue;
            return yt_errf(e, "%s: %s [%zu bytes] overlaps %s [%zu bytes]%s", k->op, w->name,
                           w->bytes, o->name, o->bytes,
                           pair ? " (only the very same buffer is allowed)" : "");
        }
    }
    /* Open what is read, then what is written (a page holding both ends up
     * writable). */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < k->n; i++) {
            const emu_arg *a = &k->a[i];
            if ((a->mode & EMU_RW) && !!(a->mode & EMU_W) == pass)
                prot_range(a->p, a->bytes, pass ? PROT_READ | PROT_WRITE : PROT_READ);
        }
    k->entered = 1;
    return 0;
}

int emu_extend(emu_call *k, int i, size_t bytes, yt_err *e)
{
    emu_arg *a = &k->a[i];
    if (bytes <= a->bytes)
        return 0;
    if (check_device(k->op, a->name, a->p, bytes, 1, e))
        return -1;
    a->bytes = bytes;
    prot_range(a->p, bytes, (a->mode & EMU_W) ? PROT_READ | PROT_WRITE : PROT_READ);
    /* a page shared with a written argument must stay writable */
    for (int j = 0; j < k->n; j++)
        if ((k->a[j].mode & EMU_W) && !(k->a[j].mode & (EMU_HOST_R | EMU_HOST_W)))
            prot_range(k->a[j].p, k->a[j].bytes, PROT_READ | PROT_WRITE);
    return 0;
}

void emu_leave(emu_call *k)
{
    if (!k->entered)
        return;
    for (int i = 0; i < k->n; i++)
        if (k->a[i].mode & EMU_RW)
            prot_range(k->a[i].p, k->a[i].bytes, PROT_NONE);
    k->entered = 0;
}

/* ---- collectives' holds ---- */

int emu_hold(const void *p, size_t bytes, const char *what, yt_err *e)
{
    if (bytes == 0)
        return 0;
    if (M.nh == M.caph) {
        int cap = M.caph ? 2 * M.caph : 16;
        emu_held *h = realloc(M.h, (size_t)cap * sizeof *h);
        if (!h)
            return yt_errf(e, "%s: out of host memory", what);
        M.h = h;
        M.caph = cap;
    }
    emu_held *h = &M.h[M.nh++];
    h->p = p;
    h->bytes = bytes;
    snprintf(h->what, sizeof h->what, "%s", what);
    return 0;
}

void emu_release(const void *p)
{
    for (int i = 0; i < M.nh; i++)
        if (M.h[i].p == p) {
            M.h[i] = M.h[--M.nh];
            return;
        }
}

void emu_raw_read(void *host, const void *dev, size_t bytes)
{
    prot_range(dev, bytes, PROT_READ);
    memcpy(host, dev, bytes);
    prot_range(dev, bytes, PROT_NONE);
}

void emu_raw_write(void *dev, const void *host, size_t bytes)
{
    prot_range(dev, bytes, PROT_READ | PROT_WRITE);
    memcpy(dev, host, bytes);
    prot_range(dev, bytes, PROT_NONE);
}

size_t emu_live(size_t *bytes)
{
    size_t n = 0, b = 0;
    for (int i = 0; i < M.n; i++)
        if (M.a[i].live) {
            n++;
            b += M.a[i].bytes;
        }
    if (bytes)
        *bytes = b;
    return n;
}

/* ---- kernels_cuda.h: memory ---- */

int yt_kc_malloc(void **p, size_t bytes, const char *what, yt_err *e)
{
    *p = NULL;
    size_t data_len = round_up(bytes ? bytes : 1, page());
    size_t map_len = data_len + 2 * page();
    if (M.n == M.cap) {
        int cap = M.cap ? 2 * M.cap : 64;
        emu_alloc *a = realloc(M.a, (size_t)cap * sizeof *a);
        if (!a)
            return yt_errf(e, "cudaMalloc %zu bytes for %s: out of host memory (emulator)", bytes, what);
        M.a = a;
        M.cap = cap;
    }
    char *map = mmap(NULL, map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED)
        return yt_errf(e, "cudaMalloc %zu bytes for %s: out of memory (emulator: mmap: %s)", bytes,
                       what, strerror(errno));
    emu_alloc *a = &M.a[M.n++];
    memset(a, 0, sizeof *a);
    a->map = map;
    a->map_len = map_len;
    a->data_len = data_len;
    a->bytes = bytes;
    /* The data ends at most 255 bytes below the upper guard page (cudaMalloc
     * aligns to 256): an overrun meets the guard, not a neighbour. */
    a->p = map + page() + data_len - round_up(bytes ? bytes : 1, 256);
    snprintf(a->what, sizeof a->what, "%s", what ? what : "?");
    a->live = 1;
    prot_range(map + page(), data_len, PROT_READ | PROT_WRITE);
    emu_poison(map + page(), data_len);
    prot_range(map + page(), data_len, PROT_NONE);
    *p = a->p;
    return 0;
}

void yt_kc_free(void *p)
{
    if (!p)
        return;
    int i = find_live(p);
    if (i < 0 || M.a[i].p != (char *)p) {
        int f = find_freed(p);
        fprintf(stderr, "yt-emu: yt_kc_free(%p): %s\n", p,
                i >= 0  ? "not the start of its allocation"
                : f >= 0 ? "already freed"
                         : "not a device allocation");
        abort();
    }
    if (held_by(M.a[i].p, M.a[i].bytes ? M.a[i].bytes : 1) >= 0) {
        fprintf(stderr, "yt-emu: yt_kc_free of '%s' while a collective holds it\n", M.a[i].what);
        abort();
    }
    munmap(M.a[i].map, M.a[i].map_len);
    M.a[i].live = 0;
    /* Keep the record (for "was freed" messages), but not forever. */
    if (M.n > 4096) {
        int w = 0;
        for (int r = 0; r < M.n; r++)
            if (M.a[r].live || r >= M.n - 256)
                M.a[w++] = M.a[r];
        M.n = w;
    }
}

int yt_kc_upload(yt_kc_ctx *c, void *dst, const void *host_src, size_t bytes, yt_err *e)
{
    (void)c;
    emu_call k;
    emu_begin(&k, "yt_kc_upload");
    emu_arg_add(&k, "dst", dst, bytes, 1, EMU_W);
    emu_arg_add(&k, "host_src", host_src, bytes, 1, EMU_HOST_R);
    if (emu_enter(&k, e))
        return -1;
    if (bytes)
        memcpy(dst, host_src, bytes);
    emu_leave(&k);
    return 0;
}

int yt_kc_download(yt_kc_ctx *c, void *host_dst, const void *src, size_t bytes, yt_err *e)
{
    (void)c;
    emu_call k;
    emu_begin(&k, "yt_kc_download");
    emu_arg_add(&k, "host_dst", host_dst, bytes, 1, EMU_HOST_W);
    emu_arg_add(&k, "src", src, bytes, 1, EMU_R);
    if (emu_enter(&k, e))
        return -1;
    if (bytes)
        memcpy(host_dst, src, bytes);
    emu_leave(&k);
    return 0;
}
