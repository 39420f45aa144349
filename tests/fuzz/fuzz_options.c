/* Fuzz target: `yieldtune train --config FILE` (runner/options.c: the key = value
 * file on the train table, defaults first, then the command line over it), and
 * the values train parses further: --lora-targets (model/lora.c) and
 * --yield-signals / --yield-deadline (runner/yield.c).  The resolved options
 * must serialise (the run folder's config.json). */
#include <stdlib.h>

#include "model/model.h"
#include "runner/train_options.h"
#include "runner/yield.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1024];
    fuzz_write("train.conf", data, size, path, sizeof path);
    static yt_train_opts o; /* 40 KB: not on the stack */
    char *argv[] = {"--config", path, "--max-steps", "3", "extra"};
    const char *pos[1];
    int n_pos;
    yt_err e = {{0}};
    int rc = yt_opts_parse(yt_train_table, &o, 5, argv, 0, pos, 1, &n_pos, &e);
    fuzz_note("parse", rc ? &e : NULL);
    if (rc != 0)
        return 0;
    if (o.max_steps != 3 || n_pos != 1)
        abort(); /* the command line wins over the file */
    json_t *j = yt_opts_to_json(yt_train_table, &o);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (!text)
        abort();
    free(text);
    json_decref(j);
    unsigned targets;
    (void)yt_lora_parse_targets(o.lora_targets, &targets, &e);
    yt_yield_config yc;
    (void)yt_yield_parse(&yc, o.yield_signals, o.yield_deadline, &e);
    return 0;
}
