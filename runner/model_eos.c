/* The model's EOS id for prep and tokenize, by the one precedence train uses too
 * (yt_model_eos_id: generation_config.json, then config.json), then
 * tokenizer_config.json "eos_token", then the tokenizer file's own EOS. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/json.h"
#include "datasets/tokenizer/tokenizer.h"
#include "model/model.h"
#include "runner/runner.h"

int yt_runner_eos(const char *model, yt_tok *tok, int64_t *eos, char *src, size_t srclen,
                  yt_err *e)
{
    *eos = -1;
    snprintf(src, srclen, "none");
    struct stat st;
    int dir = model && stat(model, &st) == 0 && S_ISDIR(st.st_mode);
    int gguf = tok && !strcmp(yt_tok_source_kind(tok), "gguf");
    if (model && model[0] && !gguf) {
        char d[4096];
        snprintf(d, sizeof d, "%s", model);
        if (!dir) {
            char *slash = strrchr(d, '/');
            if (slash)
                *slash = 0;
            else
                snprintf(d, sizeof d, ".");
        }
        if (yt_model_eos_id(d, eos, src, srclen, e) != 0)
            return -1;
        if (*eos >= 0)
            return 0;
        char p[4200];
        snprintf(p, sizeof p, "%s/tokenizer_config.json", d);
        if (tok && yt_json_file_exists(p)) {
            json_t *root = yt_json_load_file(p, 0, e);
            if (!root)
                return -1;
            json_t *v = json_object_get(root, "eos_token");
            if (json_is_object(v))
                v = json_object_get(v, "content");
            int64_t id = json_is_string(v) ? yt_tok_piece_id(tok, json_string_value(v)) : -1;
            json_decref(root);
            if (id >= 0) {
                *eos = id;
                snprintf(src, srclen, "%s", p);
                return 0;
            }
        }
    }
    if (tok && yt_tok_eos_id(tok) >= 0) {
        *eos = yt_tok_eos_id(tok);
        snprintf(src, srclen, "%s", gguf ? "tokenizer.ggml.eos_token_id" : "tokenizer file");
    }
    return 0;
}
