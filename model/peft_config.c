/* adapter_config.json as yieldtune reads it (for merge and --init-adapter):
 * a plain LoRA, the only kind the model implements.  Every PEFT setting that
 * would change what the adapter computes and that yieldtune does not do is
 * refused by name, so an adapter is never used as something it is not. */
#include "model/model.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"

static int key_is_empty(json_t *v)
{
    return !v || json_is_null(v) || (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

int yt_peft_read_config(yt_peft_config *c, json_t **root, const char *path, yt_err *e)
{
    memset(c, 0, sizeof *c);
    json_t *j = yt_json_load_file(path, 0, e);
    *root = j;
    if (!j)
        return -1;
    if (!json_is_object(j))
        return yt_errf(e, "%s: not a JSON object", path);
    json_t *v = json_object_get(j, "peft_type");
    if (v && !(json_is_string(v) && strcmp(json_string_value(v), "LORA") == 0))
        return yt_errf(e, "%s: key 'peft_type' is not \"LORA\" (yieldtune implements LoRA only)", path);
    v = json_object_get(j, "r");
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > INT_MAX)
        return yt_errf(e, "%s: key 'r' missing or not a positive integer", path);
    c->rank = (int)json_integer_value(v);
    v = json_object_get(j, "lora_alpha");
    if (!json_is_number(v))
        return yt_errf(e, "%s: key 'lora_alpha' missing or not a number", path);
    c->alpha = json_number_value(v);
    v = json_object_get(j, "use_rslora");
    if (v && !json_is_boolean(v))
        return yt_errf(e, "%s: key 'use_rslora' is not true/false", path);
    c->rslora = json_is_true(v);
    v = json_object_get(j, "lora_dropout");
    if (v && !json_is_number(v) && !json_is_null(v))
        return yt_errf(e, "%s: key 'lora_dropout' is not a number", path);
    v = json_object_get(j, "bias");
    if (v && !(json_is_string(v) && strcmp(json_string_value(v), "none") == 0))
        return yt_errf(e, "%s: key 'bias' is not \"none\" (adapter biases are not supported)", path);
    static const char *const must_be_false[] = {"use_dora", "fan_in_fan_out", "use_qalora"};
    for (size_t i = 0; i < sizeof must_be_false / sizeof must_be_false[0]; i++) {
        v = json_object_get(j, must_be_false[i]);
        if (v && !json_is_false(v) && !json_is_null(v))
            return yt_errf(e, "%s: key '%s' is set (not supported by yieldtune)", path, must_be_false[i]);
    }
    static const char *const must_be_empty[] = {
        "modules_to_save", "rank_pattern", "alpha_pattern", "layers_to_transform",
        "layers_pattern", "layer_replication", "megatron_config", "loftq_config",
        "eva_config", "corda_config", "trainable_token_indices", "target_parameters"};
    for (size_t i = 0; i < sizeof must_be_empty / sizeof must_be_empty[0]; i++) {
        v = json_object_get(j, must_be_empty[i]);
        /* loftq_config is {} when unused; the others null, [] or {} */
        if (!key_is_empty(v))
            return yt_errf(e, "%s: key '%s' is set (not supported by yieldtune)", path, must_be_empty[i]);
    }
    v = json_object_get(j, "init_lora_weights");
    if (v && !json_is_boolean(v) && !json_is_null(v))
        return yt_errf(e, "%s: key 'init_lora_weights' is '%s' (a special initialisation; "
                          "yieldtune reads trained weights only)",
                       path, json_is_string(v) ? json_string_value(v) : "not true/false");
    v = json_object_get(j, "target_modules");
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!json_is_string(json_array_get(v, i)))
                return yt_errf(e, "%s: key 'target_modules' holds a non-string", path);
        c->targets = v;
    } else if (json_is_string(v)) {
        c->targets = NULL; /* a regular expression or "all-linear": not checked here */
    } else {
        return yt_errf(e, "%s: key 'target_modules' missing or not a list", path);
    }
    return 0;
}

int yt_peft_lora_config(const char *dir, yt_lora_config *lc, yt_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    yt_peft_config c;
    json_t *j = NULL;
    memset(lc, 0, sizeof *lc);
    int rc = yt_peft_read_config(&c, &j, path, e);
    char list[512] = "";
    if (rc == 0 && (!c.targets || json_array_size(c.targets) == 0))
        rc = yt_errf(e, "%s: key 'target_modules' is not a list of projection names (a pattern "
                        "string is not supported)", path);
    for (size_t i = 0; rc == 0 && i < json_array_size(c.targets); i++) {
        const char *t = json_string_value(json_array_get(c.targets, i));
        if (strlen(list) + strlen(t) + 2 > sizeof list)
            rc = yt_errf(e, "%s: key 'target_modules': too many names", path);
        else
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "", t);
    }
    if (rc == 0 && yt_lora_parse_targets(list, &lc->targets, e))
        rc = yt_err_prefix(e, "%s: key 'target_modules'", path);
    if (rc == 0) {
        json_t *d = json_object_get(j, "lora_dropout");
        lc->rank = c.rank;
        lc->alpha = (float)c.alpha;
        lc->dropout = json_is_number(d) ? (float)json_number_value(d) : 0.0f;
        lc->rslora = c.rslora;
    }
    json_decref(j);
    return rc ? -1 : 0;
}
