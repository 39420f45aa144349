/* Merging a PEFT LoRA adapter into its base model: W' = W + scale * B A in
 * fp32, stored in W's dtype, every other tensor copied byte for byte, one
 * output model.safetensors written tensor by tensor (the merged ones are
 * computed while the file is written, so one tensor's fp32 copy is the only
 * large allocation).  A GGUF base is read through its Hugging Face names and
 * every tensor written as F32 (dequantised, q/k in HF row order): the fp32
 * model training saw, plus the adapter. */
#define _POSIX_C_SOURCE 200809L
#include "model/model_internal.h"
#include "common/json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ADAPTER_PREFIX "base_model.model."

/* "model.layers.0.self_attn.q_proj": is its last component a target? */
static int module_targeted(const yt_peft_config *c, const char *module)
{
    if (!c->targets)
        return 1;
    const char *last = strrchr(module, '.');
    last = last ? last + 1 : module;
    for (size_t i = 0; i < json_array_size(c->targets); i++) {
        const char *t = json_string_value(json_array_get(c->targets, i));
        size_t lt = strlen(t), lm = strlen(module);
        if (strcmp(t, last) == 0 || strcmp(t, module) == 0 ||
            (lm > lt && strcmp(module + lm - lt, t) == 0 && module[lm - lt - 1] == '.'))
            return 1;
    }
    return 0;
}

/* The base model's tensors by Hugging Face name: those of a safetensors
 * folder as stored, or those of a GGUF file described as F32 (data NULL: read
 * through base_read). */
typedef struct base_model {
    yt_st_set *st;
    yt_gg *gg;
    yt_config cfg;          /* GGUF only */
    yt_st_tensor *t;        /* GGUF only: n descriptions */
    char (*names)[160];
    size_t n;
} base_model;

static int base_open(base_model *b, const char *path, yt_err *e)
{
    int gguf = yt_gg_llama_probe(path, e);
    if (gguf < 0)
        return -1;
    if (!gguf)
        return yt_st_open(&b->st, path, e);
    if (yt_gg_open(&b->gg, path, e) || yt_gg_llama_config(b->gg, &b->cfg, e))
        return -1;
    size_t n = yt_gg_n_tensors(b->gg);
    if (!(b->t = yt_calloc(n + 1, sizeof *b->t, "the base's tensor list", e)) ||
        !(b->names = yt_calloc(n + 1, sizeof *b->names, "the base's tensor names", e)))
        return yt_err_prefix(e, "%s", path);
    for (size_t i = 0; i < n; i++) {
        const yt_gg_tensor *g = yt_gg_tensor_at(b->gg, i);
        yt_st_tensor *t = &b->t[b->n];
        int layer;
        if (yt_gg_llama_hf_name(g->name, b->names[b->n], sizeof b->names[b->n], &layer))
            continue; /* rope_freqs: in config.json's rope_scaling (the config refused others) */
        t->name = b->names[b->n];
        t->dtype = YT_ST_F32;
        t->ndim = g->n_dims;
        for (int d = 0; d < g->n_dims; d++)
            t->shape[d] = g->ne[g->n_dims - 1 - d];
        t->numel = g->numel;
        t->nbytes = (size_t)g->numel * sizeof(float);
        t->file = g->file;
        b->n++;
    }
    return 0;
}

static void base_close(base_model *b)
{
    yt_st_close(b->st);
    yt_gg_close(b->gg);
    free(b->t);
    free(b->names);
}

static size_t base_count(const base_model *b) { return b->gg ? b->n : yt_st_count(b->st); }

static const yt_st_tensor *base_at(const base_model *b, size_t i)
{
    return b->gg ? &b->t[i] : yt_st_at(b->st, i);
}

static const yt_st_tensor *base_find(const base_model *b, const char *name)
{
    if (!b->gg)
        return yt_st_find(b->st, name);
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->t[i].name, name) == 0)
            return &b->t[i];
    return NULL;
}

static int base_read(const base_model *b, const yt_st_tensor *t, float *dst, size_t n, yt_err *e)
{
    return b->gg ? yt_gg_llama_read_f32(b->gg, &b->cfg, t->name, dst, n, e)
                 : yt_st_tensor_read_f32(t, dst, n, e);
}

/* A GGUF tensor written unchanged: dequantised while the file is written. */
typedef struct copy_item {
    const base_model *base;
    const yt_st_tensor *t;
} copy_item;

static int copy_fill(void *ctx, float *dst, size_t numel, yt_err *e)
{
    const copy_item *c = ctx;
    return base_read(c->base, c->t, dst, numel, e);
}

/* One adapted base weight. */
typedef struct merge_item {
    const base_model *base;
    const yt_st_tensor *w, *a, *b;
    float scale;
    int rank;
} merge_item;

static int merge_fill(void *ctx, float *dst, size_t numel, yt_err *e)
{
    const merge_item *it = ctx;
    int out = (int)it->w->shape[0], in = (int)it->w->shape[1], r = it->rank;
    if (base_read(it->base, it->w, dst, numel, e))
        return -1;
    float *bs = yt_alloc_array((size_t)out * r + (size_t)r * in, sizeof(float), "B and A", e);
    if (!bs)
        return yt_err_prefix(e, "merging '%s'", it->w->name);
    float *a = bs + (size_t)out * r;
    if (yt_st_tensor_read_f32(it->b, bs, (size_t)out * r, e) ||
        yt_st_tensor_read_f32(it->a, a, (size_t)r * in, e)) {
        free(bs);
        return -1;
    }
    for (size_t i = 0; i < (size_t)out * r; i++)
        bs[i] *= it->scale;
    /* W[out,in] += (scale B)[out,r] A[r,in], in fp32 */
    yt_k_matmul_dyW(dst, bs, a, out, in, r, 1.0f);
    free(bs);
    for (size_t i = 0; i < numel; i++)
        if (!isfinite(dst[i]))
            return yt_errf(e, "W + scale*B*A is not finite at element %zu (adapter '%s' or '%s' "
                              "holds inf/nan or huge values)", i, it->b->name, it->a->name);
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* Pairs the adapter's lora_A/lora_B tensors with base weights; by_base[i] is
 * the item of base tensor i (NULL when it is copied unchanged). */
static int match_adapter(const yt_st_set *ad, const base_model *base, const yt_peft_config *c,
                         const char *apath, merge_item *items, merge_item **by_base, int *n_items,
                         yt_err *e)
{
    static const char sa[] = ".lora_A.weight", sb[] = ".lora_B.weight";
    const size_t lp = strlen(ADAPTER_PREFIX), ls = sizeof sa - 1;
    float scale = c->rslora ? (float)(c->alpha / sqrt((double)c->rank)) : (float)(c->alpha / c->rank);
    size_t na = yt_st_count(ad), nb = base_count(base);
    int n = 0;
    for (size_t i = 0; i < nb; i++)
        by_base[i] = NULL;
    for (size_t i = 0; i < na; i++) {
        const yt_st_tensor *a = yt_st_at(ad, i);
        const char *nm = a->name;
        size_t len = strlen(nm);
        int is_a = ends_with(nm, sa), is_b = ends_with(nm, sb);
        if (strncmp(nm, ADAPTER_PREFIX, lp) != 0 || len <= lp + ls || (!is_a && !is_b))
            return yt_errf(e, "%s: tensor '%s' is not a LoRA weight "
                              "(base_model.model.<module>.lora_A/lora_B.weight); merge handles only those",
                           apath, nm);
        if (is_b)
            continue; /* paired through its lora_A */
        char module[1024], bname[1100], wname[1100];
        size_t lm = len - lp - ls;
        if (lm >= sizeof module)
            return yt_errf(e, "%s: tensor name '%s' too long", apath, nm);
        memcpy(module, nm + lp, lm);
        module[lm] = '\0';
        snprintf(bname, sizeof bname, ADAPTER_PREFIX "%s%s", module, sb);
        snprintf(wname, sizeof wname, "%s.weight", module);
        const yt_st_tensor *b = yt_st_find(ad, bname), *w = base_find(base, wname);
        if (!b)
            return yt_errf(e, "%s: tensor '%s' has no '%s'", apath, nm, bname);
        if (!module_targeted(c, module))
            return yt_errf(e, "%s: tensor '%s' adapts '%s', which is not in target_modules", apath,
                           nm, module);
        if (!w)
            return yt_errf(e, "%s: tensor '%s': the base model has no tensor '%s'", apath, nm, wname);
        if (w->dtype != YT_ST_F32 && w->dtype != YT_ST_BF16 && w->dtype != YT_ST_F16)
            return yt_errf(e, "%s: tensor '%s' is %s; merge handles F32, BF16 and F16", w->file,
                           wname, yt_st_dtype_name(w->dtype));
        if (w->ndim != 2 || w->shape[0] > INT_MAX || w->shape[1] > INT_MAX)
            return yt_errf(e, "%s: tensor '%s' is not a 2-D [out, in] weight", w->file, wname);
        int64_t out = w->shape[0], in = w->shape[1], r = c->rank;
        if (a->ndim != 2 || a->shape[0] != r || a->shape[1] != in)
            return yt_errf(e, "%s: tensor '%s' is not [r=%lld, in=%lld] (base '%s' is [%lld, %lld])",
                           apath, nm, (long long)r, (long long)in, wname, (long long)out, (long long)in);
        if (b->ndim != 2 || b->shape[0] != out || b->shape[1] != r)
            return yt_errf(e, "%s: tensor '%s' is not [out=%lld, r=%lld] (base '%s' is [%lld, %lld])",
                           apath, bname, (long long)out, (long long)r, wname, (long long)out,
                           (long long)in);
        size_t wi = 0;
        while (wi < nb && base_at(base, wi) != w)
            wi++;
        if (wi == nb || by_base[wi])
            return yt_errf(e, "%s: base tensor '%s' is adapted twice", apath, wname);
        items[n] = (merge_item){base, w, a, b, scale, c->rank};
        by_base[wi] = &items[n];
        n++;
    }
    /* Every lora_B was paired with a lora_A. */
    for (size_t i = 0; i < na; i++) {
        const yt_st_tensor *t = yt_st_at(ad, i);
        int used = 0;
        for (int k = 0; k < n && !used; k++)
            used = items[k].a == t || items[k].b == t;
        if (!used)
            return yt_errf(e, "%s: tensor '%s' has no matching lora_A", apath, t->name);
    }
    *n_items = n;
    return 0;
}

/* Copies SRC_DIR/NAME to DST_DIR/NAME atomically; a missing optional file is
 * skipped (*copied = 0). */
static int copy_file(const char *src_dir, const char *dst_dir, const char *name, int required,
                     int *copied, yt_err *e)
{
    char src[4200], dst[4200];
    snprintf(src, sizeof src, "%s/%s", src_dir, name);
    snprintf(dst, sizeof dst, "%s/%s", dst_dir, name);
    *copied = 0;
    struct stat st;
    if (stat(src, &st) != 0) {
        if (errno == ENOENT && !required)
            return 0;
        return yt_errno(e, errno, "%s", src);
    }
    char *data = NULL;
    size_t len = 0;
    if (yt_read_file(src, &data, &len, e))
        return -1;
    int rc = yt_write_file_atomic(dst, data, len, e);
    free(data);
    *copied = rc == 0;
    return rc;
}

/* OUT_DIR/config.json for a GGUF base (F32 weights). */
static int write_config(const yt_config *c, const char *out_dir, yt_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", out_dir);
    json_t *j = yt_config_to_json(c, "float32");
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!text) {
        yt_err_oom(e, "the JSON text");
        return yt_err_prefix(e, "%s", path);
    }
    size_t n = strlen(text);
    int rc = yt_write_file_atomic(path, text, n, e);
    free(text);
    return rc;
}

/* 1 when A and B name the same existing folder. */
static int same_dir(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int yt_merge_peft(const char *model_dir, const char *adapter_dir, const char *out_dir,
                  yt_merge_stats *stats, yt_err *e)
{
    static const char *const extra_files[] = {"generation_config.json", "tokenizer.json",
                                              "tokenizer_config.json", "special_tokens_map.json",
                                              "tokenizer.model"};
    memset(stats, 0, sizeof *stats);
    char cpath[4200], apath[4200], opath[4200];
    if (snprintf(cpath, sizeof cpath, "%s/adapter_config.json", adapter_dir) >= (int)sizeof cpath ||
        snprintf(apath, sizeof apath, "%s/adapter_model.safetensors", adapter_dir) >= (int)sizeof apath ||
        snprintf(opath, sizeof opath, "%s/model.safetensors", out_dir) >= (int)sizeof opath)
        return yt_errf(e, "path too long");
    struct stat st;
    if (stat(apath, &st) != 0) {
        char bin[4200];
        snprintf(bin, sizeof bin, "%s/adapter_model.bin", adapter_dir);
        if (stat(bin, &st) == 0)
            return yt_errf(e, "%s: PyTorch pickle adapters are not supported; save it with "
                              "safe_serialization=True", bin);
        return yt_errno(e, errno, "%s", apath);
    }
    yt_peft_config ac = {0};
    json_t *acj = NULL;
    yt_st_set *ad = NULL;
    base_model base = {0};
    yt_st_writer *w = NULL;
    copy_item *copies = NULL;
    merge_item *items = NULL;
    merge_item **by_base = NULL;
    int rc = -1, n_items = 0;
    if (yt_peft_read_config(&ac, &acj, cpath, e) || yt_st_open(&ad, apath, e) ||
        base_open(&base, model_dir, e))
        goto out;
    size_t nb = base_count(&base);
    if (!(items = yt_calloc(yt_st_count(ad) + 1, sizeof *items, "the merge list", e)) ||
        !(by_base = yt_calloc(nb + 1, sizeof *by_base, "the merge index", e)) ||
        !(copies = yt_calloc(nb + 1, sizeof *copies, "the copy list", e)))
        goto out;
    if (match_adapter(ad, &base, &ac, apath, items, by_base, &n_items, e))
        goto out;
    if (n_items == 0) {
        yt_errf(e, "%s: holds no LoRA tensors", apath);
        goto out;
    }
    if (yt_mkdirs(out_dir, e))
        goto out;
    if (same_dir(out_dir, model_dir) || same_dir(out_dir, adapter_dir)) {
        yt_errf(e, "%s: the output folder must differ from the model and adapter folders", out_dir);
        goto out;
    }
    char idx[4200];
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", out_dir);
    if (stat(idx, &st) == 0) {
        yt_errf(e, "%s exists: a sharded model's index would hide the merged model.safetensors; "
                   "use an empty --out folder", idx);
        goto out;
    }
    if (yt_st_writer_new(&w, e) || yt_st_writer_meta(w, "format", "pt", e))
        goto out;
    for (size_t i = 0; i < nb; i++) {
        const yt_st_tensor *t = base_at(&base, i);
        copies[i] = (copy_item){&base, t};
        int r = by_base[i]
                    ? yt_st_writer_add_fill(w, t->name, t->dtype, t->ndim, t->shape, merge_fill,
                                            by_base[i], e)
                : base.gg ? yt_st_writer_add_fill(w, t->name, t->dtype, t->ndim, t->shape,
                                                  copy_fill, &copies[i], e)
                          : yt_st_writer_add_raw(w, t->name, t->dtype, t->ndim, t->shape, t->data,
                                                 t->nbytes, e);
        if (r)
            goto out;
        stats->bytes += t->nbytes;
    }
    if (yt_st_writer_write(w, opath, e)) {
        yt_err_prefix(e, "%s", opath);
        goto out;
    }
    int copied = 0;
    if (base.gg) {
        /* No tokenizer files to copy: the tokenizer is inside the GGUF. */
        if (write_config(&base.cfg, out_dir, e))
            goto out;
        stats->copied_files = 1;
    } else if (copy_file(model_dir, out_dir, "config.json", 1, &copied, e)) {
        goto out;
    }
    stats->copied_files += copied;
    for (size_t i = 0; !base.gg && i < sizeof extra_files / sizeof extra_files[0]; i++) {
        if (copy_file(model_dir, out_dir, extra_files[i], 0, &copied, e))
            goto out;
        stats->copied_files += copied;
    }
    stats->tensors = nb;
    stats->merged = n_items;
    stats->rank = ac.rank;
    stats->scale = items[0].scale;
    rc = 0;
out:
    yt_st_writer_free(w);
    free(items);
    free(by_base);
    free(copies);
    base_close(&base);
    yt_st_close(ad);
    json_decref(acj);
    return rc;
}
