#!/bin/bash
# yieldtune's loss, logits and LoRA gradients against transformers + peft.
set -euo pipefail
work=$(mktemp -d /tmp/yt-hfref-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$PYTHON" "$YT_SRCDIR/tests/tools/hf_reference.py" "$YT_BIN" "$YT_BUILDDIR/tests/tools/yt_grads" "$work"
