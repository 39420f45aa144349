/* Test tool: model/quant.c from the command line, for tests/tools/
 * nf4_reference.py.
 *   yt_quant map OUT.f32                      bitsandbytes' dynamic map (256 floats)
 *   yt_quant encode DTYPE IN.f32 OUT.bin      IN's floats stored as DTYPE (f32|bf16|nf4|int8)
 *   yt_quant decode DTYPE IN.bin N OUT.f32    the N floats of a stored tensor
 *   yt_quant layout DTYPE N                   "codes qabsmax absmax2 offset bytes" */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/quant.h"

static int fail(const char *msg)
{
    fprintf(stderr, "yt_quant: %s\n", msg);
    return 1;
}

static int dtype_of(const char *s)
{
    for (int d = 0; d < YT_BASE_NDTYPES; d++)
        if (strcmp(s, yt_base_dtype_name(d)) == 0)
            return d;
    return -1;
}

static void *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(len > 0 ? (size_t)len : 1);
    if (p && len > 0 && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return p;
}

static int write_all(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        return fail(path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "map") == 0) {
        float map[256];
        yt_q_dynamic_map(map);
        return write_all(argv[2], map, sizeof map);
    }
    if (argc < 4)
        return fail("usage: yt_quant map|encode|decode|layout ...");
    int dt = dtype_of(argv[2]);
    if (dt < 0)
        return fail("unknown dtype");
    if (strcmp(argv[1], "layout") == 0) {
        yt_q_layout l;
        yt_q_layout_of(dt, (size_t)strtoull(argv[3], NULL, 10), &l);
        printf("%zu %zu %zu %zu %zu\n", l.codes, l.qabsmax, l.absmax2, l.offset, l.bytes);
        return 0;
    }
    if (strcmp(argv[1], "encode") == 0 && argc == 5) {
        size_t bytes;
        float *x = read_all(argv[3], &bytes);
        if (!x)
            return fail(argv[3]);
        size_t n = bytes / sizeof(float), out_bytes = yt_q_bytes(dt, n);
        void *out = malloc(out_bytes);
        yt_err e;
        int rc = !out || yt_q_encode(dt, out, x, n, &e) ? fail("encode failed")
                                                        : write_all(argv[4], out, out_bytes);
        free(out);
        free(x);
        return rc;
    }
    if (strcmp(argv[1], "decode") == 0 && argc == 6) {
        size_t bytes, n = (size_t)strtoull(argv[4], NULL, 10);
        void *in = read_all(argv[3], &bytes);
        if (!in || bytes != yt_q_bytes(dt, n)) {
            free(in);
            return fail("input size does not match the dtype and count");
        }
        float *out = malloc(n * sizeof(float) + 1);
        if (!out) {
            free(in);
            return fail("out of memory");
        }
        yt_q_decode(dt, out, in, n);
        int rc = write_all(argv[5], out, n * sizeof(float));
        free(out);
        free(in);
        return rc;
    }
    return fail("usage: yt_quant map|encode|decode|layout ...");
}
