/* The option table of `yieldtune train`. */
#include "runner/train_options.h"

#include <stddef.h>

#define O(f) offsetof(yt_train_opts, f)
#define S(f) sizeof(((yt_train_opts *)0)->f)
const yt_opt yt_train_table[] = {
    {"config", YT_OPT_STR, O(config), S(config), NULL, 0, 0, NULL, YT_OPT_CONFIG, "FILE",
     "read options from FILE (key = value lines; the command line wins)"},
    {"model", YT_OPT_STR, O(model), S(model), NULL, 0, 0, NULL, YT_OPT_REQUIRED, "DIR|GGUF",
     "Hugging Face model folder (config.json + safetensors) or a llama GGUF file"},
    {"data", YT_OPT_STR, O(data), S(data), NULL, 0, 0, NULL, YT_OPT_REQUIRED, "FILE.h5",
     "token dataset made by 'yieldtune prep'"},
    {"out", YT_OPT_STR, O(out), S(out), NULL, 0, 0, NULL, YT_OPT_REQUIRED, "RUN",
     "run folder (config.json, metrics.jsonl, adapter/)"},
    {"max-steps", YT_OPT_LONG, O(max_steps), 0, "100", 1, 1e12, NULL, 0, NULL, "optimizer steps"},
    {"seq-len", YT_OPT_INT, O(seq_len), 0, "256", 2, 1 << 20, NULL, 0, NULL, "tokens per sequence"},
    {"micro-batch", YT_OPT_INT, O(micro_batch), 0, "4", 1, 1 << 16, NULL, 0, NULL,
     "sequences per forward/backward on each rank"},
    {"grad-accum", YT_OPT_INT, O(grad_accum), 0, "1", 1, 1 << 16, NULL, 0, NULL,
     "micro-batches per optimizer step on each rank"},
    {"pack-eos", YT_OPT_BOOL, O(pack_eos), 0, "true", 0, 0, NULL, 0, NULL,
     "put the model's EOS token after every document when packing (counted in the loss)"},
    {"doc-mask", YT_OPT_BOOL, O(doc_mask), 0, "false", 0, 0, NULL, 0, NULL,
     "attention does not cross documents in a packed window; positions restart at each document"},
    {"pad-per-doc", YT_OPT_BOOL, O(pad_per_doc), 0, "false", 0, 0, NULL, 0, NULL,
     "one document per window, padded (padding not counted) instead of packing"},
    {"val-data", YT_OPT_STR, O(val_data), S(val_data), NULL, 0, 0, NULL, YT_OPT_LIST, "FILE.h5[,...]",
     "validation datasets, comma-separated or the option repeated (default: DATA with .h5 "
     "replaced by .val.h5 when that file exists)"},
    {"eval-every", YT_OPT_LONG, O(eval_every), 0, "0", 0, 1e12, NULL, 0, NULL,
     "every N steps (and after the last) the mean loss over each whole validation set, as "
     "val_loss (the first set) and val_loss.NAME (the others, NAME = file name without .h5) on "
     "that step's line of metrics.jsonl (0 = off)"},
    {"lr", YT_OPT_FLOAT, O(lr), 0, "2e-4", 0, 10, NULL, 0, NULL, "peak learning rate"},
    {"warmup", YT_OPT_LONG, O(warmup), 0, "0", 0, 1e12, NULL, 0, NULL, "linear warmup steps"},
    {"schedule", YT_OPT_CHOICE, O(schedule), 0, "cosine", 0, 0, "cosine|constant", 0, NULL,
     "learning-rate schedule after warmup"},
    {"min-lr-ratio", YT_OPT_FLOAT, O(min_lr_ratio), 0, "0", 0, 1, NULL, 0, NULL,
     "cosine floor as a fraction of --lr"},
    {"weight-decay", YT_OPT_FLOAT, O(weight_decay), 0, "0", 0, 10, NULL, 0, NULL,
     "AdamW decoupled weight decay"},
    {"clip", YT_OPT_FLOAT, O(clip), 0, "1.0", 0, 1e9, NULL, 0, NULL,
     "clip the global gradient norm to X (0 = off)"},
    {"beta1", YT_OPT_FLOAT, O(beta1), 0, "0.9", 0, 0.999999, NULL, 0, NULL, "AdamW beta1"},
    {"beta2", YT_OPT_FLOAT, O(beta2), 0, "0.999", 0, 0.99999999, NULL, 0, NULL, "AdamW beta2"},
    {"eps", YT_OPT_FLOAT, O(eps), 0, "1e-8", 1e-30, 1, NULL, 0, NULL, "AdamW epsilon"},
    {"lora-rank", YT_OPT_INT, O(lora_rank), 0, "16", 1, 4096, NULL, 0, NULL, "LoRA rank r"},
    {"lora-alpha", YT_OPT_FLOAT, O(lora_alpha), 0, "32", 0, 1e6, NULL, 0, NULL, "LoRA alpha"},
    {"lora-dropout", YT_OPT_FLOAT, O(lora_dropout), 0, "0", 0, 0.99, NULL, 0, NULL,
     "dropout on the LoRA input"},
    {"lora-targets", YT_OPT_STR, O(lora_targets), S(lora_targets), "q,k,v,o,gate,up,down", 0, 0,
     NULL, 0, "LIST", "projections with adapters: q,k,v,o,gate,up,down or all"},
    {"rslora", YT_OPT_BOOL, O(rslora), 0, "false", 0, 0, NULL, 0, NULL,
     "rank-stabilised scale alpha/sqrt(r) instead of alpha/r"},
    {"base-model", YT_OPT_STR, O(base_model), S(base_model), NULL, 0, 0, NULL, 0, "NAME",
     "base_model_name_or_path for the adapter (default: a hub name OWNER/NAME from the model's "
     "config.json _name_or_path or GGUF metadata, else the model's absolute path)"},
    {"init-adapter", YT_OPT_STR, O(init_adapter), S(init_adapter), NULL, 0, 0, NULL, 0, "DIR",
     "start from this PEFT adapter instead of a fresh one"},
    {"seed", YT_OPT_LONG, O(seed), 0, "1", 0, 0, NULL, 0, NULL,
     "seed of LoRA init, data order and dropout"},
    {"resume", YT_OPT_STR, O(resume), S(resume), "auto", 0, 0, NULL, YT_OPT_NOSAVE, "auto|never|PATH",
     "auto: continue from the newest valid snapshot in RUN (or start fresh); never: refuse "
     "if RUN has snapshots; PATH: that snapshot file"},
    {"snapshot-every", YT_OPT_LONG, O(snapshot_every), 0, "100", 0, 1e12, NULL, YT_OPT_NOSAVE, NULL,
     "write a snapshot every N steps (0 = only on yield and at the end)"},
    {"snapshot-seconds", YT_OPT_FLOAT, O(snapshot_seconds), 0, "0", 0, 1e9, NULL, YT_OPT_NOSAVE, NULL,
     "also write one when this many seconds passed since the last (0 = off)"},
    {"background-snapshots", YT_OPT_BOOL, O(background_snapshots), 0, "true", 0, 0, NULL,
     YT_OPT_NOSAVE, NULL,
     "periodic snapshots are written by a background thread from a copy of the state taken "
     "between steps (the steps go on meanwhile; a yield or the last snapshot waits for it and "
     "is written at once); false: every snapshot stops the steps while it is written"},
    {"keep", YT_OPT_INT, O(keep), 0, "3", 1, 1000000, NULL, YT_OPT_NOSAVE, NULL,
     "snapshots kept in RUN/snapshots (older ones are deleted)"},
    {"yield-signals", YT_OPT_STR, O(yield_signals), S(yield_signals), "USR1,USR2,TERM", 0, 0, NULL,
     YT_OPT_NOSAVE, "LIST", "signals that make every rank snapshot and exit 75"},
    {"yield-deadline", YT_OPT_STR, O(yield_deadline), S(yield_deadline), "TERM=0.8", 0, 0, NULL,
     YT_OPT_NOSAVE, "SIG=S,...",
     "seconds from a signal to exit; a step that cannot finish in time is abandoned (0 = finish the step)"},
    {"zero", YT_OPT_INT, O(zero), 0, "0", 0, 1, NULL, 0, NULL,
     "optimizer-state sharding: 1 = each rank keeps the AdamW moments of its shard of the LoRA "
     "parameters only (reduce-scatter, update, all-gather); 0 = off"},
    {"device", YT_OPT_CHOICE, O(device), 0, "cpu", 0, 0, "cpu|cuda", 0, NULL,
     "where the model computes: cpu (OpenBLAS + OpenMP) or cuda (one GPU per rank, chosen by "
     "the rank's index on its node; needs a build configured --with-cuda)"},
    {"attention", YT_OPT_CHOICE, O(attention), 0, "gemm", 0, 0, "gemm|flash", 0, NULL,
     "GPU attention: gemm (cuBLAS tensor cores, [heads, S, S] workspace) or flash (tiled CUDA-core "
     "kernel, no [S, S] memory)"},
    {"gpu-comm", YT_OPT_CHOICE, O(gpu_comm), 0, "auto", 0, 0, "auto|nccl|mpi", 0, NULL,
     "GPU gradient sums: nccl (device buffers, overlapped with backward; with one rank a "
     "one-rank NCCL communicator, so one GPU runs the NCCL path), mpi (through host memory, "
     "after backward; ranks may share a GPU), auto = nccl with several ranks when built with it"},
    {"recompute", YT_OPT_BOOL, O(recompute), 0, "false", 0, 0, NULL, 0, NULL,
     "GPU activation recomputation: keep only each layer's input and redo the layer's forward "
     "in backward (activation memory / layers, about a third more compute)"},
    {"base-dtype", YT_OPT_CHOICE, O(base_dtype), 0, "f32", 0, 0, "f32|bf16|nf4|int8", 0, NULL,
     "how the frozen base projections are kept: f32 (as loaded), bf16, nf4 (QLoRA's 4-bit "
     "NormalFloat, blocks of 64, double-quantised scales) or int8 (blocks of 64); each layer "
     "is decoded to fp32 right before its products; embedding and lm_head bf16 unless f32 "
     "(cuda: f32 and bf16 both mean bf16 on the GPU, nf4 is decoded per layer to bf16, no int8)"},
    {"shard-base", YT_OPT_BOOL, O(shard_base), 0, "false", 0, 0, NULL, 0, NULL,
     "each rank keeps 1/N of every layer's frozen weights (and of the embedding and lm_head); "
     "a layer is all-gathered right before it is used, the next one's gather overlapping the "
     "current one's compute (CPU only; results bitwise equal to the unsharded run)"},
    {"shard-group", YT_OPT_INT, O(shard_group), 0, "0", 0, 1 << 20, NULL, 0, NULL,
     "with --shard-base: N = this many consecutive ranks share one copy of the base (e.g. the "
     "ranks of a node); must divide the number of ranks (0 = all ranks)"},
    {"threads", YT_OPT_INT, O(threads), 0, "0", 0, 4096, NULL, YT_OPT_NOSAVE, NULL,
     "threads per rank (0 = the node's cores / ranks on the node)"},
    {"tensorboard", YT_OPT_STR, O(tensorboard), S(tensorboard), NULL, 0, 0, NULL, YT_OPT_NOSAVE, "DIR",
     "also write TensorBoard event files to DIR (loss, lr, grad_norm, tokens/s, val loss, goodput "
     "so far; one file per attempt)"},
    {"progress", YT_OPT_CHOICE, O(progress), 0, "auto", 0, 0, "auto|tty|lines", YT_OPT_NOSAVE, NULL,
     "progress on stdout: tty = one line refreshed in place; lines = one line every --log-every "
     "steps; auto = tty on a terminal, lines when stdout is a file or pipe, under mpirun whose own "
     "stdout is not a terminal (mpirun gives ranks a pseudo-terminal), or in a Slurm job outside "
     "mpirun (srun --pty excepted)"},
    {"log-every", YT_OPT_INT, O(log_every), 0, "10", 1, 1 << 30, NULL, YT_OPT_NOSAVE, NULL,
     "steps between progress lines (--progress lines)"},
    YT_OPT_END,
};
