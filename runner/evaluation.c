/* Evaluation over whole datasets (see evaluation.h), shared by train and eval. */
#define _POSIX_C_SOURCE 200809L
#include "runner/evaluation.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "datasets/tokenizer/tokenizer.h"

/* The fingerprint of DIR/tokenizer.json (of the file itself for a GGUF model)
 * into fp (16 hex digits), or "" when the model folder has none.  Only read
 * when a dataset names a tokenizer. */
static int model_tokenizer_fp(const char *dir, char fp[17], yt_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, yt_model_is_gguf(dir) ? "%s" : "%s/tokenizer.json", dir);
    fp[0] = '\0';
    if (access(path, F_OK) != 0)
        return 0;
    yt_tok *tok = NULL;
    if (yt_tok_load(&tok, path, e))
        return yt_err_prefix(e, "the model's tokenizer");
    yt_tok_fingerprint_hex(tok, fp);
    yt_tok_free(tok);
    return 0;
}

int yt_eval_check_dataset(const yt_ds *ds, const char *path, const char *model, const yt_config *c,
                          char tokfp[17], int *tok_read, yt_err *e)
{
    if (ds->n_counted == 0)
        return yt_errf(e, "%s: no token counts toward the loss (every loss_mask is 0: a chat set "
                          "without assistant turns?); nothing to learn or measure",
                       path);
    if (ds->max_token_id_plus_one > (uint64_t)c->vocab_size)
        return yt_errf(e, "%s: holds token id %llu but the model %s has vocab_size %d", path,
                       (unsigned long long)(ds->max_token_id_plus_one - 1), model, c->vocab_size);
    if (ds->vocab_size && ds->vocab_size != (uint64_t)c->vocab_size)
        return yt_errf(e, "%s: made for vocab size %llu but the model %s has vocab_size %d", path,
                       (unsigned long long)ds->vocab_size, model, c->vocab_size);
    const char *dfp = ds->tokenizer_fingerprint ? ds->tokenizer_fingerprint : "none";
    if (strcmp(dfp, "none") == 0)
        return 0;
    if (!*tok_read) {
        if (model_tokenizer_fp(model, tokfp, e))
            return -1;
        *tok_read = 1;
    }
    if (tokfp[0] && strcmp(dfp, tokfp) != 0)
        return yt_errf(e, "%s: made with tokenizer fingerprint %s but the model %s has tokenizer "
                          "fingerprint %s (%s%s); tokenize the data with the model's tokenizer",
                       path, dfp, model, tokfp, model, yt_model_is_gguf(model) ? "" : "/tokenizer.json");
    return 0;
}

static void set_name(const char *path, char *name, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 3 && strcmp(b + n - 3, ".h5") == 0)
        n -= 3;
    snprintf(name, cap, "%.*s", (int)n, b);
}

int yt_eval_split(const char *list, char (*paths)[4200], int *n, yt_err *e)
{
    *n = 0;
    for (const char *p = list; *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == 0)
            return yt_errf(e, "'%s': an empty name in the list", list);
        if (*n == YT_EVAL_MAX_SETS)
            return yt_errf(e, "'%s': more than %d datasets", list, YT_EVAL_MAX_SETS);
        if (len >= sizeof paths[0])
            return yt_errf(e, "'%.60s...': path too long", p);
        snprintf(paths[*n], sizeof paths[0], "%.*s", (int)len, p);
        char a[256], b[256];
        set_name(paths[*n], a, sizeof a);
        for (int i = 0; i < *n; i++) {
            set_name(paths[i], b, sizeof b);
            if (strcmp(a, b) == 0)
                return yt_errf(e, "%s and %s have the same name '%s' (the metrics key val_loss.NAME)",
                               paths[i], paths[*n], a);
        }
        ++*n;
        p = c ? c + 1 : p + len;
    }
    return 0;
}

int yt_eval_set_open(yt_eval_set *s, const char *path, const yt_ds_sampler_opts *so,
                     const char *model, const yt_config *c, char tokfp[17], int *tok_read, yt_err *e)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    set_name(path, s->name, sizeof s->name);
    if (yt_ds_open(&s->ds, path, e) || yt_eval_check_dataset(s->ds, path, model, c, tokfp, tok_read, e))
        return -1;
    /* Every window in order: one window per "step" of a one-rank sampler. */
    yt_ds_sampler_opts vo = *so;
    vo.micro_batch = vo.global_batch = 1;
    vo.rank = 0;
    vo.world = 1;
    if (yt_ds_sampler_create(&s->sampler, s->ds, &vo, e))
        return yt_err_prefix(e, "%s", path);
    return 0;
}

void yt_eval_set_close(yt_eval_set *s)
{
    yt_ds_sampler_free(s->sampler);
    yt_ds_close(s->ds);
    s->sampler = NULL;
    s->ds = NULL;
}

int yt_eval_run(const yt_eval_set *s, yt_comm *comm, int B, int S, const yt_ds_batch *bt,
                yt_eval_fn fn, void *ctx, double *loss, double *counted, uint64_t *windows, yt_err *e)
{
    const uint64_t nw = yt_ds_sampler_n_windows(s->sampler);
    const uint64_t n_mb = (nw + (uint64_t)B - 1) / (uint64_t)B;
    const int rank = yt_comm_rank(comm), world = yt_comm_size(comm);
    double v[2] = {0, 0}; /* loss sum, counted tokens */
    /* Every rank runs the same number of passes (a sharded base gathers in
     * each, collectively); the passes past the last micro-batch weigh nothing. */
    const uint64_t W = (uint64_t)world, rounds = (n_mb + W - 1) / W;
    for (uint64_t i = (uint64_t)rank; i < rounds * W; i += W) {
        for (uint64_t b = 0; b < (uint64_t)B; b++) {
            uint64_t w = i * (uint64_t)B + b;
            yt_ds_sampler_window(s->sampler, w < nw ? w : 0, (uint32_t)b, bt);
            if (w >= nw)
                memset(bt->weights + b * (uint64_t)S, 0, (size_t)S * sizeof(float));
        }
        for (size_t j = 0; j < (size_t)B * (size_t)S; j++)
            v[1] += bt->weights[j];
        double l = 0;
        if (fn(ctx, bt, &l, e))
            return -1;
        v[0] += l;
    }
    if (yt_comm_allreduce_f64(comm, v, 2, e))
        return -1;
    *loss = v[1] > 0 ? v[0] / v[1] : NAN;
    *counted = v[1];
    *windows = nw;
    return 0;
}
