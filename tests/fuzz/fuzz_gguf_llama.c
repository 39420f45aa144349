/* Fuzz target: a GGUF file read as a Llama model (model/gguf_llama.c on top of
 * model/gguf.c): yt_model_open as `train` opens it (config from the llama.* keys,
 * every tensor mapped to its Hugging Face name and shape, dequantised, q/k rows
 * reordered, the fingerprint), without activations. */
#include <stdlib.h>

#include "model/model_internal.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1024];
    fuzz_write("in.gguf", data, size, path, sizeof path);
    yt_err e = {{0}};
    /* The mapping alone, for every tensor name the file has. */
    yt_gg *g = NULL;
    if (yt_gg_open(&g, path, &e) == 0) {
        yt_config c;
        fuzz_note("config", yt_gg_llama_config(g, &c, &e) ? &e : NULL);
        for (size_t i = 0; i < yt_gg_n_tensors(g); i++) {
            char hf[160];
            int layer;
            if (yt_gg_llama_hf_name(yt_gg_tensor_at(g, i)->name, hf, sizeof hf, &layer) == 0 &&
                !yt_gg_llama_find(g, hf))
                abort(); /* a name that maps must map back */
        }
        yt_gg_close(g);
    }
    yt_lora_config lc = {.rank = 2, .alpha = 4, .targets = (1u << YT_NPROJ) - 1};
    yt_model *m = NULL;
    int rc = yt_model_open(&m, path, &lc, 0, 1, &e);
    fuzz_note("model", rc ? &e : NULL);
    if (rc == 0) {
        volatile uint64_t fp = yt_model_fingerprint(m) + yt_model_n_params(m);
        (void)fp;
        yt_model_close(m);
    }
    return 0;
}
