/* Fuzz target: the JSONL records of `yieldtune prep` (datasets/prep_text.c,
 * prep_jsonl.c, prep_doc.c): the input is one JSONL file, its format told by its
 * first record (text, alpaca, chat through the built-in ChatML template, ids), or,
 * when it starts with '#', a plain text file.  It is prepped with the small
 * tokenizer (documents cut at 48 tokens, some to a validation set, tiny HDF5
 * chunks), then as pre-tokenised JSONL; what prep writes must open again with the
 * counts its summary gives. */
#include <stdlib.h>

#include "datasets/datasets.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static yt_chat *g_chat;

static void free_chat(void) { yt_chat_free(g_chat); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    yt_err e = {{0}};
    yt_tok *t = fuzz_tokenizer();
    if (yt_chat_open(&g_chat, "chatml", NULL, t, yt_tok_eos_id(t), &e) != 0)
        abort();
    atexit(free_chat);
    return 0;
}

/* OUT must open and hold what the summary says was written. */
static void check_output(const char *out, const yt_ds_prep_summary *s)
{
    yt_ds *ds = NULL;
    yt_err e = {{0}};
    if (yt_ds_open(&ds, out, &e) != 0 || ds->n_docs != s->documents || ds->n_tokens != s->tokens ||
        ds->n_counted != s->counted)
        abort();
    yt_ds_close(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[1024], out[1024], val[1024];
    int plain = size > 0 && data[0] == '#';
    fuzz_write(plain ? "in.txt" : "in.jsonl", data, size, in, sizeof in);
    fuzz_path(out, sizeof out, "out.h5");
    fuzz_path(val, sizeof val, "out.val.h5");
    yt_tok *t = fuzz_tokenizer();
    yt_ds_prep_text_opts o = {
        .format = YT_PREP_AUTO, .tok = t, .chat = g_chat, .eos_id = -1,
        .train_on_inputs = size % 2, .max_doc_tokens = 48, .split_long = (size / 2) % 2,
        .val_fraction = 0.3, .seed = 7, .chunk_elems = 16,
    };
    const char *ins[1] = {in};
    yt_ds_prep_text_summary s;
    yt_err e = {{0}};
    long ids = fuzz_h5_ids();
    int rc = yt_ds_prep_text(ins, 1, out, val, &o, &s, &e);
    fuzz_note("prep", rc ? &e : NULL);
    if (rc == 0) {
        check_output(out, &s.out[0]);
        if (s.out[1].documents)
            check_output(val, &s.out[1]);
    }
    fuzz_remove("out.h5");
    fuzz_remove("out.val.h5");
    fuzz_h5_check(ids, "prep");
    if (!plain) {
        yt_ds_prep_opts po = {.vocab_size = 1000, .chunk_elems = 16};
        yt_ds_prep_summary ps;
        rc = yt_ds_prep_jsonl(in, out, &po, &ps, &e);
        fuzz_note("prep ids", rc ? &e : NULL);
        if (rc == 0)
            check_output(out, &ps);
        fuzz_remove("out.h5");
        fuzz_h5_check(ids, "prep of ids");
    }
    return 0;
}
