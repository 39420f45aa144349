/* Fuzz target: the token dataset reader (datasets/token_file.c: yt_ds_open and
 * its checks of format, shapes, offsets, mask, ids, fingerprint) and the sampler
 * on what it accepts (datasets/sampler.c), as `train --data` reads them.  The
 * input is one mode byte and a dataset file (raw or sealed: fuzz_util.h's
 * fuzz_write_sealed); the sampler's settings come from a hash of the input.
 * HDF5's own parsing is not our code, but a crash reached through these reads
 * counts: the report says whose it is.  No HDF5 identifier may stay open
 * (fuzz_h5_check). */
#include <stdlib.h>

#include "datasets/datasets.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const yt_seal_kind kind = YT_DS_SEAL_KIND;
    char path[1024];
    if (!fuzz_write_sealed("in.h5", data, size, &kind, path, sizeof path))
        return 0;
    yt_ds *ds = NULL;
    yt_err e = {{0}};
    long ids = fuzz_h5_ids();
    if (yt_ds_open(&ds, path, &e) != 0) {
        fuzz_note("open", &e);
        fuzz_h5_check(ids, "yt_ds_open");
        return 0;
    }
    fuzz_h5_check(ids, "yt_ds_open");
    uint64_t h = yt_hash64(data, size, YT_HASH_SEED);
    yt_ds_sampler_opts o = {
        .seq_len = 1 + (uint32_t)(h % 7), .micro_batch = 1 + (uint32_t)((h >> 3) & 1),
        .rank = (int)((h >> 4) & 1), .world = 2, .seed = h >> 8, .pack_eos = (int)((h >> 5) & 1),
        .eos_id = 3, .pad_per_doc = (int)((h >> 6) & 1), .doc_mask = (int)((h >> 7) & 1),
    };
    o.global_batch = o.micro_batch * 2;
    yt_ds_sampler *s = NULL;
    int rc = yt_ds_sampler_create(&s, ds, &o, &e);
    fuzz_note("sampler", rc ? &e : NULL);
    if (rc == 0) {
        size_t n = (size_t)o.seq_len * o.micro_batch;
        int32_t in[16], tg[16], doc[16], pos[16];
        float w[16];
        yt_ds_batch b = {in, tg, w, doc, pos};
        for (int i = 0; i < 8 && n <= 16; i++)
            if (yt_ds_sampler_next_batch(s, &b, &e) != 0)
                break;
        uint64_t nw = yt_ds_sampler_n_windows(s);
        if (nw)
            yt_ds_sampler_window(s, nw - 1, 0, &b);
        yt_ds_cursor c = yt_ds_sampler_cursor(s);
        (void)yt_ds_sampler_set_cursor(s, c, &e);
        (void)yt_ds_sampler_peek_window(s, 0);
        yt_ds_sampler_free(s);
    }
    yt_ds_close(ds);
    return 0;
}
