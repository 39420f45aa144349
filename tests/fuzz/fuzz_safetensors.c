/* Fuzz target: safetensors files (model/safetensors.c), as yt_model_open and
 * yt_model_load_peft open them: the header checks, then every tensor listed,
 * looked up and converted to float.  An input that starts with '{' is a sharded
 * folder's model.safetensors.index.json instead, next to two fixed shards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Two small shards that the index inputs can name. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char path[1024];
    fuzz_path(path, sizeof path, "idx");
    yt_err e = {{0}};
    if (yt_mkdirs(path, &e))
        abort();
    static const float a[6] = {1, 2, 3, 4, 5, 6}, b[2] = {-1, 0.5f};
    static const int64_t sa[2] = {2, 3}, sb[1] = {2};
    for (int i = 0; i < 2; i++) {
        yt_st_writer *w = NULL;
        char p[1100];
        snprintf(p, sizeof p, "%s/model-0000%d-of-00002.safetensors", path, i + 1);
        if (yt_st_writer_new(&w, &e) ||
            yt_st_writer_add(w, i ? "b" : "a", i ? YT_ST_BF16 : YT_ST_F32, i ? 1 : 2, i ? sb : sa,
                             i ? b : a, &e) ||
            yt_st_writer_meta(w, "format", "pt", &e) || yt_st_writer_write(w, p, &e))
            abort();
        yt_st_writer_free(w);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1024];
    if (size > 0 && data[0] == '{')
        fuzz_write("idx/model.safetensors.index.json", data, size, path, sizeof path);
    else
        fuzz_write("in.safetensors", data, size, path, sizeof path);
    if (size > 0 && data[0] == '{')
        fuzz_path(path, sizeof path, "idx");
    yt_st_set *s = NULL;
    yt_err e = {{0}};
    if (yt_st_open(&s, path, &e) != 0) {
        fuzz_note("open", &e);
        return 0;
    }
    fuzz_note("open", NULL);
    (void)yt_st_meta(s, "format");
    for (int i = 0; i < yt_st_file_count(s); i++)
        (void)yt_st_file_path(s, i);
    for (size_t i = 0; i < yt_st_count(s); i++) {
        const yt_st_tensor *t = yt_st_at(s, i);
        if (yt_st_find(s, t->name) != t)
            abort(); /* the index must find every tensor it lists */
        (void)yt_st_f32_view(s, t->name);
        (void)yt_st_expect_shape(s, t->name, t->ndim, t->shape, &e);
        /* every element of the file is at most one float: bounded by the input */
        size_t n = (size_t)t->numel;
        if (n > (1u << 22))
            continue;
        float *dst = malloc((n ? n : 1) * sizeof *dst);
        if (!dst)
            abort();
        (void)yt_st_read_f32(s, t->name, dst, n, &e);
        (void)yt_st_tensor_read_f32(t, dst, n ? n - 1 : 0, &e); /* a wrong count is an error */
        free(dst);
    }
    yt_st_close(s);
    return 0;
}
