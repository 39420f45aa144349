/* Fuzz target: the GGUF container (model/gguf.c, gguf_quant.c): open, every
 * key/value read back through the typed getters and the array accessors, every
 * tensor looked up and, when small, dequantised to fp32 and bf16 (rows in file
 * order and reversed). */
#include <stdlib.h>
#include <string.h>

#include "model/gguf.h"
#include "tests/fuzz/fuzz_util.h"

/* Arrays are walked to this many elements (a count is bounded by the file, but
 * nested arrays multiply). */
#define MAX_ELEMS 4096

static uint64_t walk(const yt_gg_value *v, int depth, uint64_t budget)
{
    uint64_t h = (uint64_t)v->type;
    switch (v->type) {
    case YT_GG_STRING:
        for (uint64_t i = 0; i < v->str.len; i++)
            h = h * 31 + (unsigned char)v->str.p[i];
        return h;
    case YT_GG_ARRAY:
        (void)yt_gg_vtype_name(v->elem);
        for (uint64_t i = 0; i < v->n && i < budget; i++) {
            if (v->elem == YT_GG_STRING)
                h += v->strs[i].len ? (unsigned char)v->strs[i].p[v->strs[i].len - 1] : 0;
            else if (v->elem == YT_GG_ARRAY)
                h += depth < YT_GG_MAX_DEPTH + 1 ? walk(&v->items[i], depth + 1, budget / 2) : 0;
            else if (v->elem == YT_GG_F32 || v->elem == YT_GG_F64)
                h += (uint64_t)(yt_gg_arr_float(v, i) == 0.0);
            else
                h += (uint64_t)yt_gg_arr_int(v, i) + (uint64_t)(yt_gg_arr_float(v, i) > 0);
        }
        return h;
    default:
        return h + v->u + (uint64_t)v->i + (uint64_t)(v->f > 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1024];
    fuzz_write("in.gguf", data, size, path, sizeof path);
    (void)yt_gg_probe(path);
    yt_gg *g = NULL;
    yt_err e = {{0}};
    if (yt_gg_open(&g, path, &e) != 0) {
        fuzz_note("open", &e);
        return 0;
    }
    fuzz_note("open", NULL);
    volatile uint64_t sink = yt_gg_version(g) + yt_gg_alignment(g) + yt_gg_data_offset(g);
    for (size_t i = 0; i < yt_gg_n_kv(g); i++) {
        const char *key = yt_gg_kv_key(g, i);
        const yt_gg_value *v = yt_gg_kv_value(g, i);
        if (yt_gg_find(g, key) != v)
            abort(); /* keys are unique: the lookup finds this one */
        sink += walk(v, 0, MAX_ELEMS);
        int64_t iv;
        double fv;
        int bv;
        yt_gg_str sv;
        const yt_gg_value *av;
        sink += (uint64_t)yt_gg_get_int(g, key, INT64_MIN, INT64_MAX, &iv, 1, &e);
        sink += (uint64_t)yt_gg_get_int(g, key, 0, 1000, &iv, 1, &e);
        sink += (uint64_t)yt_gg_get_float(g, key, &fv, 1, &e);
        sink += (uint64_t)yt_gg_get_bool(g, key, &bv, 1, &e);
        if (yt_gg_get_str(g, key, &sv, 1, &e) == 0)
            sink += (uint64_t)yt_gg_str_eq(sv, "llama");
        sink += (uint64_t)yt_gg_get_array(g, key, YT_GG_NVTYPES, &av, 1, &e);
        sink += (uint64_t)yt_gg_get_array(g, key, YT_GG_STRING, &av, 1, &e);
    }
    int64_t iv;
    sink += (uint64_t)yt_gg_get_int(g, "no.such.key", 0, 1, &iv, 0, &e);
    sink += (uint64_t)yt_gg_get_int(g, "no.such.key", 0, 1, &iv, 1, &e);
    for (size_t i = 0; i < yt_gg_n_tensors(g); i++) {
        const yt_gg_tensor *t = yt_gg_tensor_at(g, i);
        if (yt_gg_tensor_find(g, t->name) != t)
            abort();
        int block, bytes;
        sink += (uint64_t)yt_gg_type_size(t->type, &block, &bytes) + strlen(yt_gg_type_name(t->type));
        if (!yt_gg_type_supported(t->type) || t->numel > (1 << 20) || t->rows < 1)
            continue;
        size_t n = (size_t)t->numel;
        float *f = malloc(n * sizeof *f + 1);
        uint16_t *b = malloc(n * sizeof *b + 1);
        int64_t *map = malloc((size_t)t->rows * sizeof *map);
        if (!f || !b || !map)
            abort();
        for (int64_t r = 0; r < t->rows; r++)
            map[r] = t->rows - 1 - r;
        sink += (uint64_t)yt_gg_tensor_f32(t, f, n, NULL, &e);
        sink += (uint64_t)yt_gg_tensor_f32(t, f, n, map, &e);
        sink += (uint64_t)yt_gg_tensor_bf16(t, b, n, map, &e);
        map[0] = t->rows; /* out of range: an error, not a read past the tensor */
        if (yt_gg_tensor_f32(t, f, n, map, &e) == 0)
            abort();
        free(f);
        free(b);
        free(map);
    }
    (void)sink;
    yt_gg_close(g);
    return 0;
}
