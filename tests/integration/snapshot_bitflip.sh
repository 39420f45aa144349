#!/bin/bash
# Single-bit flips in a real snapshot of a `tiny` run (tests/tools/bitflip.py
# has the rules): inspect never crashes, hangs or runs out of memory and never
# calls a file valid whose content (as h5py reads it) changed; a resume either
# uses the flipped file unchanged in meaning or skips it, says so, and falls
# back to the older snapshot; every resumed run ends bitwise equal to the
# uninterrupted one.  YT_BITFLIP_SAMPLE (default 2000) sets the size of the
# seeded whole-file sample, YT_TEST_SEED its seed.
set -euo pipefail
work=$(mktemp -d /tmp/yt-bitflip-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
seed=${YT_TEST_SEED:-$$}
echo "seed of the sample: $seed"

"$YT_BIN" init-model --preset tiny --seed 2 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 200 256
"$YT_BIN" prep --in data.jsonl --out data.h5 > /dev/null
args=(--model model --data data.h5 --max-steps 6 --seq-len 64 --micro-batch 2 --lr 3e-3
      --lora-rank 8 --lora-dropout 0.1 --seed 3 --threads 1 --log-every 1000 --snapshot-every 2
      --keep 10 --resume auto)
"$YT_BIN" train "${args[@]}" --out ref > /dev/null
[ -f ref/snapshots/step-00000004.h5 ] && [ -f ref/snapshots/step-00000002.h5 ] ||
    fail "the reference run left no snapshots at steps 2 and 4"

"$PYTHON" "$YT_SRCDIR/tests/tools/bitflip.py" --bin "$YT_BIN" \
    --snapshot ref/snapshots/step-00000004.h5 --older ref/snapshots/step-00000002.h5 \
    --ref-adapter ref/adapter/adapter_model.safetensors --work flips \
    --random "${YT_BITFLIP_SAMPLE:-2000}" --seed "$seed" -- "${args[@]}"
