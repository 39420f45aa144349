/* Fuzz target: chat records' "messages" rendered through a chat template and
 * tokenized with their loss mask (datasets/chat_template.c), as prep does it.
 * The first byte of the input picks the template (bits 0-1: the built-in ChatML,
 * the built-in Llama 3, a model folder's tokenizer_config.json template with
 * {% generation %} blocks, a .jinja file with tool calls and reasoning, whose
 * mask comes from the prefix diffs), add_generation_prompt (bit 2) and
 * --train-on-inputs (bit 3); the rest is the JSON messages array. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "datasets/datasets.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Llama 3 style, the assistant turns inside {% generation %}. */
static const char GEN_TEMPLATE[] =
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set system = messages[0]['content'] -%}{%- set rest = messages[1:] -%}"
    "{%- else -%}{%- set system = 'You are a helpful assistant.' -%}"
    "{%- set rest = messages -%}{%- endif -%}"
    "{{- bos_token -}}<|start_header_id|>system<|end_header_id|>\n\n{{ system | trim }}<|eot_id|>"
    "{%- for m in rest -%}"
    "{%- if m['role'] == 'assistant' -%}<|start_header_id|>assistant<|end_header_id|>\n\n"
    "{% generation %}{{ m['content'] | trim }}<|eot_id|>{% endgeneration %}"
    "{%- elif m['role'] in ['user', 'tool'] -%}"
    "<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] }}<|eot_id|>"
    "{%- else -%}{{ raise_exception('unknown role ' ~ m['role']) }}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|start_header_id|>assistant<|end_header_id|>\n\n"
    "{%- endif -%}";

/* ChatML with content parts, tool calls and reasoning of the last turn. */
static const char TOOL_TEMPLATE[] =
    "{%- set ns = namespace(last_user=-1) -%}"
    "{%- for m in messages -%}{%- if m.role == 'user' -%}{%- set ns.last_user = loop.index0 -%}"
    "{%- endif -%}{%- endfor -%}"
    "{%- for m in messages -%}<|im_start|>{{ m.role }}\n"
    "{%- if m.role == 'assistant' and loop.index0 > ns.last_user and m.reasoning_content is "
    "defined -%}<think>\n{{ m.reasoning_content | trim }}\n</think>\n\n{%- endif -%}"
    "{%- if m.content is string -%}{{ m.content }}"
    "{%- elif m.content is iterable and m.content is not mapping -%}"
    "{%- for c in m.content -%}{%- if c.type == 'text' -%}{{ c.text }}{%- else -%}[{{ c.type }}]"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{%- if m.tool_calls is defined and m.tool_calls -%}"
    "{%- for t in m.tool_calls -%}\n<tool_call>\n"
    "{{ (t.function if t.function is defined else t) | tojson }}\n</tool_call>"
    "{%- endfor -%}{%- endif -%}<|im_end|>\n"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|im_start|>assistant\n{%- endif -%}";

static yt_chat *g_chat[4];

static void free_chats(void)
{
    for (int i = 0; i < 4; i++)
        yt_chat_free(g_chat[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    yt_err e = {{0}};
    yt_tok *t = fuzz_tokenizer();
    char dir[1024], path[1024];
    fuzz_path(dir, sizeof dir, "model");
    if (yt_mkdirs(dir, &e))
        abort();
    json_t *cfg = json_pack("{s:s, s:s, s:s, s:[s]}", "bos_token", "<s>", "eos_token", "</s>",
                            "chat_template", GEN_TEMPLATE, "additional_special_tokens",
                            "<|eot_id|>");
    char *text = json_dumps(cfg, JSON_INDENT(2));
    json_decref(cfg);
    fuzz_write("model/tokenizer_config.json", text, strlen(text), path, sizeof path);
    free(text);
    fuzz_write("tools.jinja", TOOL_TEMPLATE, sizeof TOOL_TEMPLATE - 1, path, sizeof path);
    int64_t eos = yt_tok_eos_id(t);
    if (yt_chat_open(&g_chat[0], "chatml", dir, t, eos, &e) ||
        yt_chat_open(&g_chat[1], "llama3", dir, t, eos, &e) ||
        yt_chat_open(&g_chat[2], "auto", dir, t, eos, &e) ||
        yt_chat_open(&g_chat[3], path, NULL, t, eos, &e)) {
        fprintf(stderr, "fuzz_chat: %s\n", e.msg);
        abort();
    }
    atexit(free_chats);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    yt_chat *c = g_chat[data[0] & 3];
    int agp = (data[0] >> 2) & 1, train_inputs = (data[0] >> 3) & 1;
    yt_err e = {{0}};
    json_t *msgs = yt_json_loadb((const char *)data + 1, size - 1, "messages", &e);
    if (!msgs) {
        fuzz_note("messages", &e);
        return 0;
    }
    yt_ds_doc d = {0};
    int rc = yt_chat_encode(c, msgs, agp, train_inputs, &d, &e);
    fuzz_note("encode", rc ? &e : NULL);
    if (rc == 0) {
        size_t n;
        const char *text = yt_chat_text(c, &n);
        /* the ids are the rendered text's, and each has its mask bit */
        yt_tok_ids ids = {0};
        if (yt_tok_encode(fuzz_tokenizer(), text, n, 0, &ids, &e) != 0 || ids.n != d.ids.n ||
            (ids.n && memcmp(ids.v, d.ids.v, ids.n * sizeof *ids.v) != 0) ||
            (d.ids.n && (!d.mask || d.mask_cap < d.ids.n)))
            abort();
        for (size_t i = 0; i < d.ids.n; i++)
            if (d.mask[i] > 1)
                abort();
        free(ids.v);
    }
    yt_ds_doc_free(&d);
    json_decref(msgs);
    return 0;
}
