/* Fuzz target: the tokenizer a GGUF file's tokenizer.ggml.* keys describe
 * (datasets/tokenizer/load_gguf.c, reading the metadata as a stream through
 * model/gguf.c's yt_gg_read_meta: "gpt2" and "llama" vocabularies, scores,
 * token types, merges, pre), loaded as `prep --tokenizer FILE.gguf` does and
 * then used (tok_exercise.c). */
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/tok_exercise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1024];
    fuzz_write("in.gguf", data, size, path, sizeof path);
    yt_tok *t = NULL;
    yt_err e = {{0}};
    if (yt_tok_load_gguf(&t, path, &e) != 0) {
        fuzz_note("load", &e);
        return 0;
    }
    fuzz_note("load", NULL);
    fuzz_tok_exercise(t, (const uint8_t *)"Hello <s> world", 15);
    yt_tok_free(t);
    return 0;
}
