#!/bin/bash
# `yieldtune prep` of text / Alpaca / chat / plain inputs against Hugging Face
# tokenizers and transformers' apply_chat_template (tests/tools/prep_check.py).
set -eu
: "${YT_BIN:?}" "${YT_SRCDIR:?}" "${PYTHON:?}"
work=$(mktemp -d "${TMPDIR:-/tmp}/yt-prep-text-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$PYTHON" "$YT_SRCDIR/tests/tools/prep_check.py" --bin "$YT_BIN" --work "$work"
