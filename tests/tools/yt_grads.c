/* Test tool: one forward/backward of yieldtune's model on a batch described in
 * a JSON case file (B, S, r, alpha, rslora, targets = LoRA target list,
 * inputs, target_ids, weights, threads), with a LoRA adapter loaded from PEFT files; writes the loss,
 * the logits and every LoRA gradient (PEFT key names) to a safetensors file so
 * that tests/tools/hf_reference.py can compare them with transformers + peft.
 * usage: yt_grads MODEL_DIR ADAPTER_DIR CASE.json OUT.safetensors
 * YT_GRADS_BASE_DTYPE=bf16|nf4|int8 opens the base in that dtype (model.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/safetensors.h"

static int fail(const char *msg)
{
    fprintf(stderr, "yt_grads: %s\n", msg);
    return 1;
}

static int read_ints(json_t *c, const char *key, int32_t *dst, int n)
{
    json_t *a = json_object_get(c, key);
    if (!json_is_array(a) || (int)json_array_size(a) != n)
        return -1;
    for (int i = 0; i < n; i++)
        dst[i] = (int32_t)json_integer_value(json_array_get(a, (size_t)i));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return fail("usage: yt_grads MODEL_DIR ADAPTER_DIR CASE.json OUT.safetensors");
    json_error_t je;
    json_t *c = json_load_file(argv[3], 0, &je);
    if (!c)
        return fail(je.text);
    int B = (int)json_integer_value(json_object_get(c, "B"));
    int S = (int)json_integer_value(json_object_get(c, "S"));
    int T = B * S;
    yt_err e;
    yt_lora_config lc = {.rank = (int)json_integer_value(json_object_get(c, "r")),
                         .alpha = (float)json_number_value(json_object_get(c, "alpha")),
                         .rslora = json_is_true(json_object_get(c, "rslora"))};
    if (yt_lora_parse_targets(json_string_value(json_object_get(c, "targets")), &lc.targets, &e))
        return fail(e.msg);
    int32_t *in = malloc(sizeof(int32_t) * (size_t)T), *tg = malloc(sizeof(int32_t) * (size_t)T);
    float *w = malloc(sizeof(float) * (size_t)T);
    json_t *wa = json_object_get(c, "weights");
    if (read_ints(c, "inputs", in, T) || read_ints(c, "target_ids", tg, T) || !json_is_array(wa))
        return fail("bad case file");
    for (int i = 0; i < T; i++)
        w[i] = (float)json_number_value(json_array_get(wa, (size_t)i));
    int threads = (int)json_integer_value(json_object_get(c, "threads"));
    yt_k_set_threads(threads > 0 ? threads : 1);
    yt_model *m;
    yt_model_base_opts bo = {.dtype = YT_BASE_F32};
    const char *dt = getenv("YT_GRADS_BASE_DTYPE");
    for (int d = 0; dt && d < YT_BASE_NDTYPES; d++)
        if (strcmp(dt, yt_base_dtype_name(d)) == 0)
            bo.dtype = d;
    if (yt_model_open_base(&m, argv[1], &lc, B, S, NULL, &bo, &e) || yt_model_load_peft(m, argv[2], &e))
        return fail(e.msg);
    size_t np = yt_model_n_params(m);
    memset(yt_model_grads(m), 0, np * sizeof(float));
    float loss = (float)yt_model_forward_backward(m, in, tg, w, 0, NULL, NULL);
    int V = yt_model_config(m)->vocab_size;
    float *logits = malloc(sizeof(float) * (size_t)T * V);
    yt_model_logits(m, in, logits);
    yt_st_writer *wr;
    if (yt_st_writer_new(&wr, &e))
        return fail(e.msg);
    int64_t one = 1, ls[2] = {T, V};
    yt_st_writer_add(wr, "loss", YT_ST_F32, 1, &one, &loss, &e);
    yt_st_writer_add(wr, "logits", YT_ST_F32, 2, ls, logits, &e);
    char (*names)[160] = malloc(sizeof *names * (size_t)yt_model_n_lora_tensors(m));
    for (int i = 0; i < yt_model_n_lora_tensors(m); i++) {
        const yt_lora_tensor *t = yt_model_lora_tensor(m, i);
        snprintf(names[i], sizeof names[i], "base_model.model.model.%s.weight", t->name);
        int64_t shape[2] = {t->rows, t->cols};
        if (yt_st_writer_add(wr, names[i], YT_ST_F32, 2, shape, yt_model_grads(m) + t->offset, &e))
            return fail(e.msg);
    }
    if (yt_st_writer_write(wr, argv[4], &e))
        return fail(e.msg);
    yt_st_writer_free(wr);
    free(names);
    free(logits);
    free(in);
    free(tg);
    free(w);
    yt_model_close(m);
    json_decref(c);
    return 0;
}
