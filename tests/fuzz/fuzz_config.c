/* Fuzz target: a model folder's config.json (model/config.c, through
 * common/json.c), as yt_model_open reads it, with an optional
 * generation_config.json (the EOS precedence of yt_model_eos_id): the input is
 * config.json, then FUZZ_SEP and generation_config.json.  The same text parsed
 * from memory must give the same config, and a valid config must survive
 * yt_config_to_json unchanged. */
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "model/model.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *part[2];
    size_t len[2];
    size_t n = fuzz_split(data, size, part, len, 2);
    char path[1024], dir[1024];
    fuzz_remove("model");
    fuzz_path(dir, sizeof dir, "model");
    yt_err e = {{0}};
    if (yt_mkdirs(dir, &e))
        abort();
    fuzz_write("model/config.json", part[0], len[0], path, sizeof path);
    if (n > 1)
        fuzz_write("model/generation_config.json", part[1], len[1], path, sizeof path);

    yt_config c, m;
    int rc = yt_config_load(&c, dir, &e);
    fuzz_note("config", rc ? &e : NULL);
    int64_t eos;
    char src[4200];
    (void)yt_model_eos_id(dir, &eos, src, sizeof src, &e);

    json_t *root = yt_json_loadb((const char *)part[0], len[0], "config.json", &e);
    int rm = root ? yt_config_from_json(&m, root, "config.json", &e) : -1;
    json_decref(root);
    if (rc == 0 && (rm != 0 || yt_config_hash(&c) != yt_config_hash(&m)))
        abort(); /* the file and the same text in memory disagree */
    if (rc != 0)
        return 0;
    json_t *j = yt_config_to_json(&c, "float32");
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        abort();
    root = yt_json_loadb(text, strlen(text), "round trip", &e);
    if (!root || yt_config_from_json(&m, root, "round trip", &e) != 0 ||
        yt_config_hash(&c) != yt_config_hash(&m))
        abort(); /* what we write for a valid config must read back the same */
    json_decref(root);
    free(text);
    return 0;
}
