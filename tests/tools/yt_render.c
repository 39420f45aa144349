/* Test driver of the template interpreter (datasets/template): each stdin line is
 * {"template": S, "vars": {...}, "name": optional}; each stdout line is
 * {"text": S, "runs": [[end, tag], ...]} or {"error": S}.  tests/tools/template_check.py
 * compares it with jinja2 as transformers configures it. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/template/template.h"

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    yt_tpl_out out = {0};
    while (getline(&line, &cap, stdin) > 0) {
        json_error_t je;
        json_t *rec = json_loads(line, 0, &je);
        if (!rec) {
            fprintf(stderr, "yt_render: bad input line: %s\n", je.text);
            return 2;
        }
        json_t *t = json_object_get(rec, "template");
        const char *name = json_string_value(json_object_get(rec, "name"));
        yt_err e = {{0}};
        yt_tpl *tpl = NULL;
        json_t *res = json_object();
        yt_tpl_limits lim = {0};
        json_t *l = json_object_get(rec, "limits");
        if (l) {
            lim.max_output = (size_t)json_integer_value(json_object_get(l, "output"));
            lim.max_steps = (uint64_t)json_integer_value(json_object_get(l, "steps"));
            lim.max_depth = (int)json_integer_value(json_object_get(l, "depth"));
            lim.max_memory = (size_t)json_integer_value(json_object_get(l, "memory"));
        }
        if (yt_tpl_compile(&tpl, json_string_value(t), json_string_length(t), name ? name : "t",
                           &lim, &e) != 0 ||
            yt_tpl_render(tpl, json_object_get(rec, "vars"), &out, &e) != 0) {
            json_object_set_new(res, "error", json_string(e.msg));
        } else {
            json_object_set_new(res, "text", json_stringn(out.text, out.n));
            json_t *runs = json_array();
            for (size_t i = 0; i < out.nruns; i++)
                json_array_append_new(runs, json_pack("[I, I]", (json_int_t)out.runs[i].end,
                                                      (json_int_t)out.runs[i].tag));
            json_object_set_new(res, "runs", runs);
        }
        yt_tpl_free(tpl);
        char *s = json_dumps(res, JSON_COMPACT | JSON_ENSURE_ASCII);
        puts(s);
        free(s);
        json_decref(res);
        json_decref(rec);
    }
    fflush(stdout);
    yt_tpl_out_free(&out);
    free(line);
    return 0;
}
