/* Fuzz target: the Jinja interpreter (datasets/template/): the input is a
 * template source, compiled and rendered twice (the output buffer reused) with
 * fixed variables shaped as a chat template's: messages with system, user,
 * assistant (tool calls, reasoning, content parts) and tool turns, tools,
 * special tokens, add_generation_prompt.  Limits are the library's except
 * steps, output and memory, lowered so that a run stays well inside the 10 s
 * timeout under ASan (values of 512 MiB take seconds to build there). */
#include <stdlib.h>

#include "datasets/template/template.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char VARS[] =
    "{\"messages\": ["
    "{\"role\": \"system\", \"content\": \"You are terse.\"},"
    "{\"role\": \"user\", \"content\": \"What is 2+2? \\u00e9\\ud83d\\ude00\"},"
    "{\"role\": \"assistant\", \"content\": \"\", \"reasoning_content\": \" add \","
    " \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"calc\","
    " \"arguments\": {\"expr\": \"2+2\", \"n\": [1, 2.5, null, true]}}}]},"
    "{\"role\": \"tool\", \"content\": \"4\", \"name\": \"calc\"},"
    "{\"role\": \"assistant\", \"content\": [{\"type\": \"text\", \"text\": \"It is 4.\"}]},"
    "{\"role\": \"user\", \"content\": \"  Thanks!\\n\"}],"
    "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"calc\", \"description\":"
    " \"evaluates\", \"parameters\": {\"type\": \"object\", \"properties\": {\"expr\":"
    " {\"type\": \"string\"}}, \"required\": [\"expr\"]}}}],"
    "\"documents\": null, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\","
    "\"add_generation_prompt\": true, \"date_string\": \"26 Jul 2024\"}";

static json_t *g_vars;

static void free_vars(void) { json_decref(g_vars); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    json_error_t je;
    g_vars = json_loads(VARS, 0, &je);
    if (!g_vars)
        abort();
    atexit(free_vars);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    yt_tpl_limits lim = {.max_output = 1 << 20, .max_memory = 64 << 20, .max_steps = 1 << 20};
    yt_tpl *t = NULL;
    yt_err e = {{0}};
    if (yt_tpl_compile(&t, (const char *)data, size, "fuzz.jinja", &lim, &e) != 0) {
        fuzz_note("compile", &e);
        return 0;
    }
    (void)yt_tpl_name(t);
    (void)yt_tpl_has_generation(t);
    yt_tpl_out out = {0};
    for (int i = 0; i < 2; i++) {
        int rc = yt_tpl_render(t, g_vars, &out, &e);
        if (i == 0)
            fuzz_note("render", rc ? &e : NULL);
        if (rc != 0)
            continue;
        /* maximal runs tile the text */
        size_t end = 0;
        for (size_t r = 0; r < out.nruns; r++) {
            if (out.runs[r].end <= end || out.runs[r].end > out.n ||
                (r > 0 && out.runs[r].tag == out.runs[r - 1].tag))
                abort();
            end = out.runs[r].end;
        }
        if (end != out.n || (out.text && out.text[out.n] != 0))
            abort();
    }
    yt_tpl_out_free(&out);
    yt_tpl_free(t);
    return 0;
}
