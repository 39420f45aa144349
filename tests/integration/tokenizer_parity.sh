#!/bin/bash
# Token-exact parity of `yieldtune tokenize` with Hugging Face tokenizers on real
# tokenizer files (SmolLM2 GGUF and its transformers-converted tokenizer.json, Llama 3.2
# tokenizer.json, Mistral 7B SentencePiece BPE as tokenizer.json and as GGUF; see
# tests/tools/tokenizer_parity.py for where each comes from) over a deterministic
# 1.2 MB corpus (tests/tools/make_tokenizer_corpus.py): encode with and without
# special tokens, decode, round trips, and a throughput table.
set -eu
: "${YT_BIN:?}" "${YT_SRCDIR:?}" "${PYTHON:?}"
work=$(mktemp -d "${TMPDIR:-/tmp}/yt-tokparity-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$PYTHON" "$YT_SRCDIR/tests/tools/make_tokenizer_corpus.py" "$work/corpus.jsonl" --mb 1.2
"$PYTHON" "$YT_SRCDIR/tests/tools/tokenizer_parity.py" --bin "$YT_BIN" \
    --corpus "$work/corpus.jsonl" --work "$work"
