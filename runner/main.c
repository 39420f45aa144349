/* yieldtune: one binary, one subcommand per job. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "runner/runner.h"
#include "runner/step.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *about;
} commands[] = {
    {"init-model", yt_cmd_init_model, "write a random-initialised Llama model folder (presets)"},
    {"prep", yt_cmd_prep, "text, instruction, chat or token-id data into an HDF5 token dataset"},
    {"tokenize", yt_cmd_tokenize, "JSONL text -> token ids (or --decode) with a tokenizer.json or GGUF"},
    {"train", yt_cmd_train, "LoRA fine-tune a model on a dataset (under mpirun or alone)"},
    {"export", yt_cmd_export, "write a snapshot's LoRA weights as a PEFT adapter"},
    {"inspect", yt_cmd_inspect, "show what a snapshot holds and whether it verifies"},
    {"generate", yt_cmd_generate, "text from a model and a LoRA adapter (greedy or sampled, batched)"},
    {"eval", yt_cmd_eval, "mean loss and perplexity over datasets (with an adapter or a run)"},
    {"merge", yt_cmd_merge, "merge a PEFT adapter into its base model (Hugging Face folder)"},
    {"report", yt_cmd_report, "goodput of a run: where its rented time went (text, JSON, plot)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: yieldtune <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].about);
    fprintf(f, "  %-12s %s\n", "version", "print the version and the libraries built in");
    fprintf(f, "\n'yieldtune <command> --help' describes each command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return YT_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return YT_EXIT_OK;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        char gpu[512];
        yt_step_describe_gpu(gpu, sizeof gpu);
        printf("yieldtune %s (OpenBLAS %s build, HDF5 serial, MPI; %s)\n", PACKAGE_VERSION,
               YT_OPENBLAS_VARIANT, gpu);
        return YT_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc, argv);
    yt_report("unknown command '%s'", cmd);
    usage(stderr);
    return YT_EXIT_USAGE;
}
