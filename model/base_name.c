/* The base model's name for an adapter's adapter_config.json
 * (base_model_name_or_path): what PEFT, transformers and vLLM load the base
 * from.  The rule (yt_model_base_name in model.h): a hub-style name the model's
 * own metadata gives, else the model's absolute path. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "model/model_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/json.h"

/* "OWNER/NAME": exactly one '/', both parts of letters, digits, '-', '_', '.',
 * neither starting with '.' nor '-' ("../x" and "./x" are paths), 96 bytes at most. */
int yt_model_is_hub_name(const char *s, size_t n)
{
    if (n == 0 || n > 96)
        return 0;
    int slash = -1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '/') {
            if (slash >= 0)
                return 0;
            slash = (int)i;
            continue;
        }
        int word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!word && c != '-' && c != '_' && c != '.')
            return 0;
        if (!word && (i == 0 || s[i - 1] == '/'))
            return 0;
    }
    return slash > 0 && (size_t)slash + 1 < n;
}

/* A hub URL ("https://huggingface.co/OWNER/NAME[/...]") or a hub name. */
static int hub_from(const char *s, size_t n, char *out, size_t cap)
{
    static const char *const prefixes[] = {"https://huggingface.co/", "http://huggingface.co/",
                                           "hf://", "huggingface.co/"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t k = strlen(prefixes[i]);
        if (n > k && strncmp(s, prefixes[i], k) == 0) {
            s += k;
            n -= k;
            const char *a = memchr(s, '/', n);
            const char *b = a ? memchr(a + 1, '/', n - (size_t)(a + 1 - s)) : NULL;
            if (b)
                n = (size_t)(b - s);
            break;
        }
    }
    if (!yt_model_is_hub_name(s, n) || n >= cap)
        return 0;
    memcpy(out, s, n);
    out[n] = '\0';
    return 1;
}

static int gguf_name(const char *path, char *out, size_t cap, yt_err *e)
{
    static const char *const keys[] = {"general.source.huggingface.repository", "general.source.repo_url",
                                       "general.source.url", "general.repo_url", "general.url",
                                       "general.name", "general.basename"};
    yt_gg *g = NULL;
    if (yt_gg_open(&g, path, e))
        return -1;
    int found = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !found; i++) {
        const yt_gg_value *v = yt_gg_find(g, keys[i]);
        if (v && v->type == YT_GG_STRING)
            found = hub_from(v->str.p, (size_t)v->str.len, out, cap);
    }
    yt_gg_close(g);
    return found;
}

static int config_name(const char *dir, char *out, size_t cap, yt_err *e)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_t *j = yt_json_load_file(path, 0, e);
    if (!j)
        return -1;
    json_t *v = json_object_get(j, "_name_or_path");
    int found = json_is_string(v) && hub_from(json_string_value(v), json_string_length(v), out, cap);
    json_decref(j);
    return found;
}

int yt_model_base_name(const char *model, char *out, size_t cap, yt_err *e)
{
    struct stat st;
    if (stat(model, &st) != 0)
        return yt_errf(e, "%s: no such model file or folder", model);
    int found = S_ISDIR(st.st_mode) ? config_name(model, out, cap, e) : gguf_name(model, out, cap, e);
    if (found < 0)
        return -1;
    if (found)
        return 0;
    char abs[PATH_MAX];
    if (!realpath(model, abs))
        return yt_errf(e, "%s: cannot resolve its absolute path", model);
    if (strlen(abs) >= cap)
        return yt_errf(e, "%s: path too long", abs);
    strcpy(out, abs);
    return 0;
}
