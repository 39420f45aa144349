/* PEFT adapter files: adapter_config.json and adapter_model.safetensors with
 * PEFT's key names ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"),
 * so that the adapter loads in PEFT and vLLM unchanged. */
#include "model/model_internal.h"

#include "common/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEFT_PREFIX "base_model.model.model."

/* A float setting as PEFT has it: the shortest decimal that reads back as
 * this float (0.05f -> 0.05, not 0.05000000074505806), printed with at most 9
 * significant digits, which is how Python's json writes that decimal. */
static json_t *json_float_setting(float f)
{
    char buf[40];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)f);
        if (strtof(buf, NULL) == f && (float)strtod(buf, NULL) == f)
            return json_real(strtod(buf, NULL));
    }
    return json_real((double)f);
}

/* adapter_config.json as PEFT 0.13 writes it for LoraConfig(r, lora_alpha,
 * lora_dropout, use_rslora, target_modules, task_type="CAUSAL_LM") after
 * save_pretrained: every field, keys sorted, indent 2. */
static char *peft_config_text(const yt_lora_config *lc, const char *base_model_path)
{
    json_t *targets = json_array();
    for (int p = 0; p < YT_NPROJ; p++)
        if ((lc->targets >> p) & 1)
            json_array_append_new(targets, json_string(yt_proj_names[p]));
    json_t *j = json_object();
    json_object_set_new(j, "alpha_pattern", json_object());
    json_object_set_new(j, "auto_mapping", json_null());
    json_object_set_new(j, "base_model_name_or_path",
                        base_model_path ? json_string(base_model_path) : json_null());
    json_object_set_new(j, "bias", json_string("none"));
    json_object_set_new(j, "fan_in_fan_out", json_false());
    json_object_set_new(j, "inference_mode", json_true());
    json_object_set_new(j, "init_lora_weights", json_true());
    json_object_set_new(j, "layer_replication", json_null());
    json_object_set_new(j, "layers_pattern", json_null());
    json_object_set_new(j, "layers_to_transform", json_null());
    json_object_set_new(j, "loftq_config", json_object());
    json_object_set_new(j, "lora_alpha", json_float_setting(lc->alpha));
    json_object_set_new(j, "lora_dropout", json_float_setting(lc->dropout));
    json_object_set_new(j, "megatron_config", json_null());
    json_object_set_new(j, "megatron_core", json_string("megatron.core"));
    json_object_set_new(j, "modules_to_save", json_null());
    json_object_set_new(j, "peft_type", json_string("LORA"));
    json_object_set_new(j, "r", json_integer(lc->rank));
    json_object_set_new(j, "rank_pattern", json_object());
    json_object_set_new(j, "revision", json_null());
    json_object_set_new(j, "target_modules", targets);
    json_object_set_new(j, "task_type", json_string("CAUSAL_LM"));
    json_object_set_new(j, "use_dora", json_false());
    json_object_set_new(j, "use_rslora", json_boolean(lc->rslora));
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(9));
    json_decref(j);
    return text;
}

int yt_peft_write(const char *dir, const yt_peft_tensor *t, int n, const yt_lora_config *lc,
                  const char *base_model_path, yt_err *e)
{
    char path[4200];
    if (snprintf(path, sizeof path, "%s/adapter_config.json", dir) >= (int)sizeof path)
        return yt_errf(e, "%s: path too long", dir);
    if (yt_mkdirs(dir, e))
        return yt_err_prefix(e, "writing adapter %s", dir);
    yt_st_writer *w = NULL;
    if (yt_st_writer_new(&w, e) || yt_st_writer_meta(w, "format", "pt", e))
        goto fail;
    for (int i = 0; i < n; i++) {
        char key[200];
        if (snprintf(key, sizeof key, PEFT_PREFIX "%s.weight", t[i].name) >= (int)sizeof key) {
            yt_errf(e, "tensor name '%s' too long", t[i].name);
            goto fail;
        }
        int64_t shape[2] = {t[i].rows, t[i].cols};
        if (yt_st_writer_add(w, key, YT_ST_F32, 2, shape, t[i].data, e))
            goto fail;
    }
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    if (yt_st_writer_write(w, path, e))
        goto fail;
    yt_st_writer_free(w);
    w = NULL;

    char *text = peft_config_text(lc, base_model_path);
    if (!text) {
        yt_err_oom(e, "adapter_config.json");
        return yt_err_prefix(e, "writing adapter %s", dir);
    }
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    int rc = yt_write_file_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
fail:
    yt_st_writer_free(w);
    return yt_err_prefix(e, "writing adapter %s", dir);
}

int yt_model_save_peft(const yt_model *m, const char *dir, const char *base_model_path, yt_err *e)
{
    yt_peft_tensor *t = yt_alloc(sizeof *t * (size_t)(m->n_lt ? m->n_lt : 1), "adapter table", e);
    if (!t)
        return -1;
    for (int i = 0; i < m->n_lt; i++) {
        const yt_lora_tensor *lt = &m->lt[i];
        t[i] = (yt_peft_tensor){lt->name, lt->rows, lt->cols, m->params + lt->offset};
    }
    int rc = yt_peft_write(dir, t, m->n_lt, &m->lora, base_model_path, e);
    yt_free(t);
    return rc;
}

/* Checks the adapter's settings against this model's LoRA configuration: an
 * adapter of another rank, scale or target set is not this run's. */
static int check_adapter_config(const yt_model *m, const char *dir, yt_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    yt_peft_config c;
    json_t *j = NULL;
    int rc = yt_peft_read_config(&c, &j, path, e);
    if (rc == 0 && c.rank != m->lora.rank)
        rc = yt_errf(e, "%s: key 'r' is %d, not %d (the --lora-rank of this run)", path, c.rank,
                     m->lora.rank);
    else if (rc == 0 && (float)c.alpha != m->lora.alpha)
        rc = yt_errf(e, "%s: key 'lora_alpha' is %g, not %g (the --lora-alpha of this run)", path,
                     c.alpha, (double)m->lora.alpha);
    else if (rc == 0 && c.rslora != (m->lora.rslora != 0))
        rc = yt_errf(e, "%s: key 'use_rslora' differs from --rslora of this run", path);
    json_decref(j);
    return rc;
}

int yt_model_load_peft(yt_model *m, const char *dir, yt_err *e)
{
    if (check_adapter_config(m, dir, e))
        return -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    yt_st_set *s = NULL;
    if (yt_st_open(&s, path, e))
        return -1;
    int rc = 0;
    for (int i = 0; i < m->n_lt && !rc; i++) {
        const yt_lora_tensor *t = &m->lt[i];
        char key[160];
        snprintf(key, sizeof key, PEFT_PREFIX "%s.weight", t->name);
        int64_t shape[2] = {t->rows, t->cols};
        size_t n = (size_t)t->rows * t->cols;
        rc = yt_st_expect_shape(s, key, 2, shape, e) ||
             yt_st_read_f32(s, key, m->params + t->offset, n, e);
        /* a NaN here would surface steps later as "loss is nan" naming nothing */
        for (size_t k = 0; !rc && k < n; k++)
            if (!isfinite(m->params[t->offset + k]))
                rc = yt_errf(e, "%s: tensor '%s' holds %g at element %zu", path, key,
                             (double)m->params[t->offset + k], k);
    }
    /* Tensors this model has no place for would be silently dropped: refuse. */
    if (!rc && yt_st_count(s) != (size_t)m->n_lt)
        rc = yt_errf(e, "%s: holds %zu LoRA tensors but this run's --lora-targets make %d", path,
                     yt_st_count(s), m->n_lt);
    yt_st_close(s);
    return rc ? -1 : 0;
}
