/* Fuzz target: a Hugging Face tokenizer.json (datasets/tokenizer/load_json.c and
 * every part it builds: vocabulary, merges, added tokens, normalizers,
 * pre-tokenizers with their regexes, post-processors, decoders), loaded from
 * memory and then used: fixed strings and the start of the input encoded and
 * decoded (tok_exercise.c). */
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/tok_exercise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    yt_tok *t = NULL;
    yt_err e = {{0}};
    if (yt_tok_load_json_text(&t, (const char *)data, size, "tokenizer.json", &e) != 0) {
        fuzz_note("load", &e);
        return 0;
    }
    fuzz_note("load", NULL);
    fuzz_tok_exercise(t, data, size);
    yt_tok_free(t);
    return 0;
}
