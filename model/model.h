/* model/: the Llama architecture in Hugging Face conventions, LoRA adapters, and
 * forward/backward of one micro-batch.
 *
 * Contract: knows nothing of MPI, snapshots or signals.  Loading reads config.json
 * and safetensors (mmap; F32 tensors are used in place, BF16/F16 converted once),
 * or one GGUF file of the llama architecture (model/gguf.h: mmap; F32 tensors
 * used in place, the others dequantised to fp32 once, q/k rows put back into
 * Hugging Face order; the config from its llama.* keys).
 * All activations and workspaces are allocated by yt_model_open for one fixed
 * micro-batch shape; forward/backward allocates nothing.  Gradients exist only for
 * the LoRA parameters, which live in one contiguous buffer, layer after layer, so
 * a layer's gradients are one span (the all-reduce buckets by layer).
 *
 * Two engines compute the same layer: model/llama.c + lora.c on the CPU
 * (kernels/kernels.h) and model/llama_gpu.c on a GPU (kernels/cuda/
 * kernels_cuda.h, model_gpu.h); they repeat the buffer layout and the layer
 * sequence.  An op added to the layer touches both: the CPU kernel and its
 * finite-difference test, the CUDA kernel and its test against the CPU one,
 * the call in both engines' forward and backward (and the GPU's recompute
 * path), and the buffers each engine allocates.  tests/integration/
 * engine_ops.sh fails while one engine calls an op the other does not;
 * test_model_gpu compares the two engines' results. */
#ifndef YT_MODEL_H
#define YT_MODEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "kernels/kernels.h"
#include "model/quant.h"

/* The seven projections LoRA can target, in PEFT's module names. */
enum { YT_Q, YT_K, YT_V, YT_O, YT_GATE, YT_UP, YT_DOWN, YT_NPROJ };
extern const char *const yt_proj_names[YT_NPROJ];      /* "q_proj", ... */
extern const char *const yt_proj_short[YT_NPROJ];      /* "q", ... */

typedef struct yt_config {
    int vocab_size;
    int hidden_size;
    int intermediate_size;
    int n_layers;
    int n_heads;
    int n_kv_heads;
    int head_dim;
    int max_pos;
    float rms_eps;
    float rope_theta;
    yt_rope_scaling rope_scaling;
    int tie_embeddings;
    int bos_id, eos_id;
} yt_config;

/* Reads and validates DIR/config.json; errors name the file and the key.  eos_id is
 * yt_model_eos_id's (-1 when no file names one). */
int yt_config_load(yt_config *c, const char *model_dir, yt_err *e);
/* The model's EOS id, one precedence for train, prep and tokenize:
 * DIR/generation_config.json "eos_token_id" (what transformers' generate() stops on),
 * else DIR/config.json "eos_token_id"; the first id when either is a list.  -1 (and
 * src "") when neither names one: prep and tokenize then fall back to
 * tokenizer_config.json "eos_token", then the tokenizer file's own EOS.  src (may be
 * NULL) gets the file it came from. */
int yt_model_eos_id(const char *model_dir, int64_t *eos, char *src, size_t srclen, yt_err *e);
int yt_config_from_json(yt_config *c, json_t *root, const char *src, yt_err *e);
int yt_config_validate(const yt_config *c, const char *src, yt_err *e);
/* A Hugging Face config.json object (LlamaForCausalLM). */
json_t *yt_config_to_json(const yt_config *c, const char *torch_dtype);
/* Named presets: "tiny", "bench-small", and the shapes of "llama3-1b",
 * "llama3-8b", "llama3-70b". */
int yt_config_preset(yt_config *c, const char *name, yt_err *e);
/* Fingerprint of the architecture fields. */
uint64_t yt_config_hash(const yt_config *c);

typedef struct yt_lora_config {
    int rank;
    float alpha;
    float dropout;
    int rslora;         /* scale alpha/sqrt(r) instead of alpha/r */
    unsigned targets;   /* bit YT_Q.. YT_DOWN */
} yt_lora_config;

/* Parses "q,k,v,o,gate,up,down" (also "all", and PEFT names like q_proj). */
int yt_lora_parse_targets(const char *s, unsigned *targets, yt_err *e);
float yt_lora_scale(const yt_lora_config *lc);

/* The input and output width of projection p (YT_Q..YT_DOWN) in this
 * architecture: its LoRA A is [rank, in], its B [out, rank]. */
void yt_lora_proj_dims(const yt_config *c, int p, int *in, int *out);
/* The name of a LoRA matrix, "layers.3.self_attn.q_proj.lora_A" (as in
 * yt_lora_tensor.name). */
void yt_lora_name(char name[96], int layer, int p, int is_b);

/* One LoRA matrix inside the parameter buffer. */
typedef struct yt_lora_tensor {
    char name[96];      /* "layers.3.self_attn.q_proj.lora_A" (PEFT's, minus prefix/suffix) */
    int layer, proj, is_b;
    int rows, cols;     /* A: [r, in]; B: [out, r] */
    size_t offset;      /* in floats, into params/grads */
} yt_lora_tensor;

typedef struct yt_model yt_model;

/* 1 when PATH is a GGUF file (by its magic, whatever its name). */
int yt_model_is_gguf(const char *path);

/* Opens the model (a Hugging Face folder or a .gguf file, told apart by the
 * GGUF magic) and allocates everything for micro-batches of
 * `micro_batch` sequences of `seq_len` tokens.  micro_batch 0: weights and
 * LoRA parameters only, no activations (the GPU model computes; forward and
 * backward must not be called). */
int yt_model_open(yt_model **out, const char *model_dir, const yt_lora_config *lc, int micro_batch,
                  int seq_len, yt_err *e);

/* Where base weights converted to fp32 (BF16/F16 on disk) live: by default
 * the model allocates and fills its own copy; a provider can hand out memory
 * that several processes share (one copy per node), filled by one of them.
 * yt_model_open_ex calls alloc exactly once when the folder's config and
 * tensor shapes are good (before that, errors return without calling it),
 * with the bytes needed (0 when every tensor is F32 and used in place).
 * alloc returns 0 with *mem (NULL for 0 bytes) and *fill (1: this process
 * converts into *mem; 0: another one does), or -1 with a message.  When alloc
 * returned 0, barrier is called exactly once, after this process converted
 * (ok = 0 if that failed) or right away when it does not fill: it returns when
 * every filler is done, 0 when all succeeded, else -1 with a message.  The
 * memory belongs to the provider: the model never frees it. */
typedef struct yt_model_alloc {
    int (*alloc)(size_t bytes, void **mem, int *fill, void *ctx, yt_err *e);
    int (*barrier)(int ok, void *ctx, yt_err *e);
    void *ctx;
} yt_model_alloc;

/* yt_model_open with a provider of the converted-weights memory (NULL = own copy). */
int yt_model_open_ex(yt_model **out, const char *model_dir, const yt_lora_config *lc, int micro_batch,
                     int seq_len, const yt_model_alloc *alloc, yt_err *e);
void yt_model_close(yt_model *m);
/* How the frozen base weights are held (train --base-dtype, --shard-base;
 * model/base.c).  By default (dtype f32, no shard) as described above: fp32
 * pointers into the mmap or the converted copy, nothing done per layer.
 * Otherwise the base is cut into units -- unit l < L is decoder layer l (its
 * two norms in fp32 and its seven projections in `dtype`), unit L the
 * embedding, unit L + 1 the lm_head when it is not tied -- each a run of bytes
 * (64-byte aligned parts).  The embedding and lm_head are kept in f32 for f32,
 * else in bf16 (QLoRA quantises only the decoder's projections); the final
 * norm stays fp32.  A layer whose projections are not f32 is decoded into an
 * fp32 scratch right before its products (forward, and again in backward), the
 * lm_head likewise before the loss; the embedding is looked up row by row.
 * With shard, this process keeps only piece shard_index of shard_count of every
 * unit (yt_model_shard_range) and each unit is gathered whole right before it
 * is used, the next one's gather started before the current one computes,
 * through a source the caller sets (yt_model_set_base_source; the model knows
 * no MPI).  shard with shard_count 1 keeps every unit and gathers nothing.
 * The units are this process's own memory (the yt_model_alloc provider serves
 * the default mode only) and the files are closed once they are loaded.  The
 * fingerprint is that of the fp32
 * weights loaded, followed by the dtype's name when it is not f32; it does not
 * depend on sharding. */
typedef struct yt_model_base_opts {
    int dtype;                    /* YT_BASE_F32, _BF16, _NF4, _INT8 (model/quant.h) */
    int shard;                    /* hold the base as units (also with shard_count 1) */
    int shard_index, shard_count; /* with shard: the piece this process keeps, of how many */
} yt_model_base_opts;
int yt_model_open_base(yt_model **out, const char *model_dir, const yt_lora_config *lc,
                       int micro_batch, int seq_len, const yt_model_alloc *alloc,
                       const yt_model_base_opts *bo, yt_err *e);
/* Piece `index` of `count` of a unit of `bytes` bytes: [*begin, *end), cut on
 * 64-byte boundaries (bytes is a multiple of 64), sizes differing by at most 64. */
void yt_model_shard_range(size_t bytes, int index, int count, size_t *begin, size_t *end);
/* Units of a model opened with shard (0 otherwise) and the bytes of each. */
int yt_model_base_units(const yt_model *m);
size_t yt_model_base_unit_bytes(const yt_model *m, int unit);
/* The transport of a sharded base: start begins filling all[bytes] with
 * every process's piece of `unit` (this one's is `mine`, at its place) and
 * returns a handle >= 0, or -1 with a message; wait(handle) completes it;
 * progress (may be NULL) lets started transfers move between products.  Every
 * process of the shard group makes the same calls in the same order. */
typedef struct yt_model_base_source {
    int (*start)(int unit, const void *mine, void *all, size_t bytes, void *ctx, yt_err *e);
    int (*wait)(int handle, void *ctx, yt_err *e);
    void (*progress)(void *ctx);
    void *ctx;
} yt_model_base_source;
/* Waits for what is in flight through the previous source first; NULL
 * unsets it (call that before the source's own state goes). */
void yt_model_set_base_source(yt_model *m, const yt_model_base_source *src);
/* After a pass returned NAN: -1 with the message when a gather failed, else 0. */
int yt_model_base_failed(const yt_model *m, yt_err *e);
/* Bytes of base weights this process keeps resident (its units or pieces of
 * them, or the converted fp32 copy; 0 when every tensor is used in place from
 * the mmap), and of the per-pass working memory (gather buffers, scratch). */
size_t yt_model_base_bytes(const yt_model *m);
size_t yt_model_base_work_bytes(const yt_model *m);
int yt_model_base_dtype(const yt_model *m);

/* A model of this shape without weights: LoRA layout and parameters only
 * (micro_batch 0 semantics; benchmarks make their base weights on the GPU).
 * Its fingerprint is the config's. */
int yt_model_open_config(yt_model **out, const yt_config *cfg, const yt_lora_config *lc, yt_err *e);

const yt_config *yt_model_config(const yt_model *m);
const yt_lora_config *yt_model_lora_config(const yt_model *m);
/* Fingerprint of the base model as trained on: yt_config_hash, then for each
 * weight in a fixed order (embedding, final norm, lm_head when untied, then per
 * layer the two norms and the seven projections) its Hugging Face name, its
 * element count and 4096 strided samples of its fp32 values as the model uses
 * them (after BF16/F16 conversion or GGUF dequantisation and q/k row order).
 * So it is the same for any two files that give the same fp32 model: a GGUF
 * and its exact F32 safetensors export (e.g. `merge` with a zero adapter)
 * agree, and a resume from either is accepted; a requantised GGUF (other
 * values) differs.  Cheap: it reads what the load converts anyway. */
uint64_t yt_model_fingerprint(const yt_model *m);
/* Bytes of base weights converted to fp32 and held in memory (0 when all mmapped F32). */
size_t yt_model_converted_bytes(const yt_model *m);
/* 1 when this process converted them itself (its own copy, or the filler of a
 * shared one); 0 when it uses a copy another process filled. */
int yt_model_converted_filled(const yt_model *m);

float *yt_model_params(yt_model *m);    /* LoRA parameters, n_params floats */
float *yt_model_grads(yt_model *m);     /* their gradients, same layout */
size_t yt_model_n_params(const yt_model *m);
int yt_model_n_lora_tensors(const yt_model *m);
const yt_lora_tensor *yt_model_lora_tensor(const yt_model *m, int i);
/* Span [begin, end) in floats of layer l's parameters. */
void yt_model_layer_span(const yt_model *m, int l, size_t *begin, size_t *end);

/* PEFT initialisation: A kaiming-uniform (bound 1/sqrt(in)), B zero; deterministic in seed. */
void yt_model_lora_init(yt_model *m, uint64_t seed);

/* Called after layer l's LoRA gradients are final for this micro-batch.
 * Returning non-zero abandons the rest of the backward pass (the gradients
 * are then incomplete: the caller discards them). */
typedef int (*yt_layer_done_fn)(int layer, void *ctx);

/* A poll between layers, forward and backward: returning non-zero abandons
 * the micro-batch in progress (forward_backward then returns NAN).  The
 * training loop uses it to stop a step that would overrun a yield deadline. */
typedef int (*yt_poll_fn)(void *ctx);
void yt_model_set_poll(yt_model *m, yt_poll_fn poll, void *ctx);

/* Document masking for the next passes (sticky until the next call): doc[B*S]
 * document ids (attention of token i reaches j <= i of its row only when
 * doc[i] == doc[j]; NULL = plain causal attention) and pos[B*S] the RoPE
 * position of each token (NULL = t % S; a value outside [0, t % S] is replaced
 * by t % S).  Both are copied; allocates nothing.  The caller derives them (the
 * sampler's doc_ids and positions); the model knows nothing of documents. */
void yt_model_set_docs(yt_model *m, const int32_t *doc, const int32_t *pos);
/* The RoPE positions set_docs uses: out[t] = pos[t] when in [0, t % S], else
 * t % S (pos NULL: t % S), for T tokens in rows of S. */
void yt_model_positions(int32_t *out, const int32_t *pos, int T, int S);

/* One micro-batch: inputs/targets [B*S] token ids, weight[B*S] each target's
 * weight in the loss (0 = not counted).  Returns sum(weight * nll).  LoRA
 * gradients are ADDED to grads (zero them per optimizer step).  dropout_seed
 * makes the LoRA dropout masks deterministic.  Returns NAN when `done` asked
 * to abandon the pass. */
double yt_model_forward_backward(yt_model *m, const int32_t *inputs, const int32_t *targets,
                                 const float *weight, uint64_t dropout_seed, yt_layer_done_fn done,
                                 void *ctx);
/* Forward only (no dropout): returns sum(weight * nll). */
double yt_model_forward_loss(yt_model *m, const int32_t *inputs, const int32_t *targets,
                             const float *weight);
/* Forward only, full logits of the last micro-batch [B*S, V] into out (for tests). */
void yt_model_logits(yt_model *m, const int32_t *inputs, float *out);

/* Memory per rank from the config and the options alone (model/memory.c):
 * what the CPU model (and base units, gather buffers, decode scratch) or the
 * GPU model allocates for these options, without allocating anything.  The
 * CPU estimate is exact for the model's own buffers (an F32 base used in place
 * counts as resident); the GPU one ignores alignment padding. */
enum { YT_MEM_CPU, YT_MEM_GPU };
typedef struct yt_mem_opts {
    int device;                 /* YT_MEM_CPU or YT_MEM_GPU */
    int micro_batch, seq_len;
    int base_dtype;             /* YT_BASE_* (GPU: f32 and bf16 both mean bf16) */
    int sharded;                /* --shard-base (CPU) */
    int shard_count;            /* ranks sharing one copy of the base (1: each holds it whole) */
    int threads;                /* CPU: the attention workspace is per thread */
    int recompute, flash;       /* GPU: --recompute, --attention flash */
} yt_mem_opts;
typedef struct yt_mem_estimate {
    double params;              /* base parameters (projections, embedding, lm_head, norms) */
    double base;                /* bytes of base weights resident per rank */
    double lora;                /* LoRA parameters, gradients and AdamW moments (fp32) */
    double activations;         /* one micro-batch's activations and their gradients */
    double workspace;           /* gather buffers, decode scratch, attention and loss workspaces */
    double total;
    double base_per_param;      /* base / params */
} yt_mem_estimate;
void yt_model_memory(const yt_config *c, const yt_lora_config *lc, const yt_mem_opts *o,
                     yt_mem_estimate *m);
/* Parameters of the largest model whose base fits next to this one's LoRA,
 * activations and workspace in `avail` bytes: (avail - those) / base_per_param
 * (0 when nothing fits).  A rough bound: a larger model's activations grow too. */
double yt_model_memory_fits(const yt_mem_estimate *m, double avail);
/* LoRA parameters of this config and adapter (what yt_model_n_params gives). */
size_t yt_lora_param_count(const yt_config *c, const yt_lora_config *lc);

/* Generation (model/generate.c): the forward of new tokens against a key/value
 * cache of `slots` sequences of up to max_len tokens each, allocated once by
 * yt_kv_open (for a model opened with any micro-batch, 0 included) together
 * with the buffers of up to max_tokens tokens per call.  use_lora: apply the
 * model's LoRA parameters (as forward does; 0 = the base model alone).
 * yt_kv_forward: T tokens ids[t] of sequences slot[t]; a slot's tokens are
 * consecutive and continue its cache (positions yt_kv_len(slot), +1, ...).
 * Writes one row of vocab_size logits per run of equal slots, in order, for
 * the run's last token (*n_rows rows), and advances the slots' lengths.  The
 * logits are those of the training forward (yt_model_logits) at the same
 * positions, up to float rounding.  Errors (an id outside the vocabulary, a
 * full cache) leave the cache as it was. */
typedef struct yt_kv yt_kv;
int yt_kv_open(yt_kv **out, yt_model *m, int slots, int max_len, int max_tokens, int use_lora,
               yt_err *e);
void yt_kv_close(yt_kv *kv);
void yt_kv_reset(yt_kv *kv, int slot);  /* forget slot's tokens */
int yt_kv_len(const yt_kv *kv, int slot);
int yt_kv_forward(yt_kv *kv, const int32_t *ids, const int32_t *slot, int T, float *logits,
                  int *n_rows, yt_err *e);

/* PEFT adapter files (adapter_config.json + adapter_model.safetensors). */
int yt_model_save_peft(const yt_model *m, const char *dir, const char *base_model_path, yt_err *e);
int yt_model_load_peft(yt_model *m, const char *dir, yt_err *e);
/* The LoRA settings of DIR/adapter_config.json (r, lora_alpha, lora_dropout,
 * use_rslora, target_modules as a list of projection names), to open a model
 * that the adapter then loads into. */
int yt_peft_lora_config(const char *dir, yt_lora_config *lc, yt_err *e);

/* base_model_name_or_path of MODEL's adapters (what PEFT's
 * AutoPeftModelForCausalLM and vLLM load the base from), by one rule:
 *  1. a hub-style name ("OWNER/NAME", yt_model_is_hub_name) that the model's
 *     own metadata gives: a folder's config.json "_name_or_path"; a GGUF's
 *     general.source.huggingface.repository, general.source.repo_url,
 *     general.source.url, general.repo_url, general.url (hub URLs
 *     https://huggingface.co/OWNER/NAME), then general.name and
 *     general.basename, the first that is one;
 *  2. else MODEL's absolute path (symbolic links resolved), which loads from
 *     any working directory on this machine (transformers reads a GGUF given
 *     as its folder plus gguf_file=the file name).
 * `train --base-model` and `export --base-model` replace it. */
int yt_model_base_name(const char *model, char *out, size_t cap, yt_err *e);
int yt_model_is_hub_name(const char *s, size_t n);

/* adapter_config.json as yieldtune can use it (merge, --init-adapter): a plain
 * LoRA; every PEFT setting that changes what the adapter computes and is not
 * implemented (DoRA, fan_in_fan_out, rank/alpha patterns, modules_to_save,
 * layers_to_transform, biases, ...) is refused naming the key.  *root holds
 * the parsed file (json_decref it, also after a failure). */
typedef struct yt_peft_config {
    int rank;
    double alpha;
    int rslora;
    json_t *targets; /* array of module names (in *root), or NULL for a pattern string */
} yt_peft_config;
int yt_peft_read_config(yt_peft_config *c, json_t **root, const char *path, yt_err *e);

/* One LoRA matrix for yt_peft_write (borrowed data, row-major float). */
typedef struct yt_peft_tensor {
    const char *name;   /* "layers.3.self_attn.q_proj.lora_A" (as yt_lora_tensor.name) */
    int rows, cols;     /* A: [r, in]; B: [out, r] */
    const float *data;
} yt_peft_tensor;

/* The one writer of PEFT adapters (the training loop's and `export`'s):
 * DIR/adapter_model.safetensors (F32, keys "base_model.model.model.<name>.weight"
 * in the order given, __metadata__ {"format": "pt"}) and DIR/adapter_config.json
 * holding what PEFT 0.13's save_pretrained writes for a LoraConfig with these
 * settings (lc: rank, alpha, dropout, rslora, targets; base_model_path as
 * base_model_name_or_path).  Each file is written atomically; DIR is created. */
int yt_peft_write(const char *dir, const yt_peft_tensor *t, int n, const yt_lora_config *lc,
                  const char *base_model_path, yt_err *e);

/* Merging a PEFT LoRA adapter into its base model (model/merge.c).
 * OUT_DIR gets model.safetensors with every base tensor (sharded bases are
 * written as one file): untouched tensors copied byte for byte, each adapted
 * projection W replaced by W + scale * B A computed in fp32 and stored in W's
 * dtype (F32, BF16 or F16, round to nearest even); scale = alpha/r, or
 * alpha/sqrt(r) with use_rslora.  Then config.json, and the tokenizer files and
 * generation_config.json that exist, are copied.  Every file is written
 * atomically (temp file, fsync, rename); a failure leaves no partial file.
 * Holds one tensor in fp32 at a time besides the mmapped inputs.  Adapters
 * with DoRA, biases, modules_to_save, rank/alpha patterns or fan_in_fan_out
 * are refused, naming the adapter_config.json key.
 * A GGUF base (MODEL_DIR a .gguf file) is written as F32 under Hugging Face
 * names and q/k row order (its tensors dequantised: exactly the fp32 model
 * training used, which BF16 would round), with a config.json made from its
 * metadata (tie_word_embeddings when it has no output.weight); there are no
 * tokenizer files to copy (the tokenizer is inside the GGUF). */
typedef struct yt_merge_stats {
    size_t tensors;        /* tensors written */
    int merged;            /* of which merged with an adapter */
    int rank;
    float scale;
    uint64_t bytes;        /* bytes of tensor data written */
    int copied_files;      /* config.json + tokenizer files copied */
} yt_merge_stats;
int yt_merge_peft(const char *model_dir, const char *adapter_dir, const char *out_dir,
                  yt_merge_stats *stats, yt_err *e);

/* A random-initialised model folder (config.json + model.safetensors); its
 * config.json holds YT_RANDOM_INIT_KEY ({"seed": N}). */
int yt_model_write_random(const yt_config *c, const char *dir, uint64_t seed, const char *dtype,
                          yt_err *e);
#define YT_RANDOM_INIT_KEY "yieldtune_random_init"
/* 1 when MODEL was written by yt_model_write_random (`init-model`): its
 * config.json holds YT_RANDOM_INIT_KEY (kept by `merge`, which copies
 * config.json); 0 for any other folder and for every GGUF (real weights);
 * -1 when config.json cannot be read. */
int yt_model_random_init(const char *model, yt_err *e);

#endif
