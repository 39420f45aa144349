#!/bin/bash
# export, inspect and merge end to end on `tiny` (fp32 base, and bf16 base with
# rsLoRA): short training runs, `export` of the RUN and of a snapshot file
# (byte-identical to RUN/adapter), `inspect` of a good snapshot, of one with a
# flipped byte and of a RUN, `merge`, and tests/tools/peft_check.py comparing
# with PyPI peft + transformers (adapter_config.json, logits, merged weights).
set -euo pipefail
work=$(mktemp -d /tmp/yt-export-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

"$YT_BIN" init-model --preset tiny --seed 5 --out model > /dev/null
"$YT_BIN" init-model --preset tiny --seed 6 --dtype bf16 --out model16 > /dev/null
# tokenizer files for merge to copy (contents are not parsed)
echo '{"version": "1.0", "model": {"type": "BPE"}}' > model/tokenizer.json
echo '{"tokenizer_class": "PreTrainedTokenizerFast"}' > model/tokenizer_config.json
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 120 256
"$YT_BIN" prep --in data.jsonl --out data.h5 --model model > /dev/null

common=(--data data.h5 --max-steps 5 --seq-len 48 --micro-batch 4 --lr 1e-2 --seed 4 --threads 2
        --snapshot-every 3 --lora-targets q,k,v,o,gate,up,down)
"$YT_BIN" train "${common[@]}" --model model --out run32 --lora-rank 8 --lora-alpha 24 \
    --lora-dropout 0.05 > /dev/null
"$YT_BIN" train "${common[@]}" --model model16 --out run16 --lora-rank 4 --lora-alpha 12 \
    --rslora > /dev/null

# --help of each subcommand comes from its option table.
for c in export inspect merge; do
    "$YT_BIN" $c --help | grep -q -- "--help" || fail "$c --help"
done

# export: of the RUN (newest valid snapshot, step 5) and of a snapshot file.
"$YT_BIN" export run32 --out exp32
"$YT_BIN" export run16 --out exp16
"$YT_BIN" export run32/snapshots/step-00000005.h5 --out exp32-file > /dev/null
for f in adapter_model.safetensors adapter_config.json; do
    cmp run32/adapter/$f exp32/$f || fail "export of run32: $f differs from RUN/adapter"
    cmp run16/adapter/$f exp16/$f || fail "export of run16: $f differs from RUN/adapter"
    cmp exp32/$f exp32-file/$f || fail "export of the snapshot file: $f differs"
done
echo "exported adapters are byte-identical to RUN/adapter written by train"
"$YT_BIN" export run32/snapshots/step-00000003.h5 --out exp32-step3 > /dev/null
cmp -s exp32/adapter_model.safetensors exp32-step3/adapter_model.safetensors &&
    fail "the step-3 snapshot exported the same weights as step 5"

# export of a folder without a snapshot fails clearly.
mkdir -p norun
if out=$("$YT_BIN" export norun --out x 2>&1); then fail "export of an empty folder succeeded"; fi
grep -q "no snapshot" <<<"$out" || fail "export of an empty folder: unclear message: $out"
[ ! -e x ] || fail "failed export left $(ls x)"
echo "export of an empty folder: $out"

# inspect: a good snapshot exits 0, prints step and tensor names.
"$YT_BIN" inspect run32/snapshots/step-00000005.h5 > insp.txt || fail "inspect of a good snapshot failed"
grep -Eq '^ +step +5$' insp.txt || fail "inspect does not print step 5"
grep -q 'lora/layers.1.mlp.down_proj.lora_B .*\[64, 8\]' insp.txt || fail "inspect lacks a tensor"
grep -q 'optim/m/layers.0.self_attn.q_proj.lora_A' insp.txt || fail "inspect lacks an optimizer tensor"
grep -q '^verify: ok' insp.txt || fail "inspect does not say it verifies"
grep -E '^totals|^verify' insp.txt

# A flipped byte in the middle of the tensor data nearest the file's middle
# (the file's exact middle may be unused HDF5 slack, which holds nothing).
cp run32/snapshots/step-00000005.h5 bad.h5
victim=$("$PYTHON" - bad.h5 <<'PY'
import os, sys, h5py
path = sys.argv[1]
mid = os.path.getsize(path) // 2
spans = []
with h5py.File(path, "r") as f:
    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            for i in range(obj.id.get_num_chunks()):
                c = obj.id.get_chunk_info(i)
                spans.append((abs(c.byte_offset + c.size // 2 - mid), c.byte_offset + c.size // 2, name))
    f.visititems(visit)
_, at, name = min(spans)
with open(path, "r+b") as f:
    f.seek(at)
    b = f.read(1)
    f.seek(at)
    f.write(bytes([b[0] ^ 0x10]))
print(name)
PY
)
set +e
"$YT_BIN" inspect bad.h5 > bad.txt 2> bad.err
rc=$?
set -e
[ $rc = 1 ] || fail "inspect of a corrupted snapshot exited $rc, want 1"
# (format 2: the whole-file checksum catches it before any tensor is read)
grep -qF "bad.h5: whole-file checksum mismatch" bad.err ||
    fail "inspect does not report the damage in $victim: $(cat bad.err)"
echo "corrupted snapshot: exit $rc: $(cat bad.err)"

# inspect of a RUN lists its snapshots; a bad one makes it exit 1.
"$YT_BIN" inspect run32 > run.txt || fail "inspect of run32 failed"
grep -q 'step-00000003.h5 .*step 3 .*valid' run.txt || fail "inspect of a RUN lacks step 3"
grep -q 'step-00000005.h5 .*step 5 .*valid' run.txt || fail "inspect of a RUN lacks step 5"
cp bad.h5 run32/snapshots/step-00000007.h5
set +e
"$YT_BIN" inspect run32 > run.txt 2>&1
rc=$?
set -e
[ $rc = 1 ] || fail "inspect of a RUN with a bad snapshot exited $rc"
grep -q "step-00000007.h5 .*INVALID.*whole-file checksum mismatch" run.txt ||
    fail "inspect of a RUN: $(cat run.txt)"
cat run.txt
# ... and export skips it for the newest valid one.
"$YT_BIN" export run32 --out exp32-skip 2> skip.err > /dev/null
cmp exp32/adapter_model.safetensors exp32-skip/adapter_model.safetensors || fail "export did not skip the bad snapshot"
grep -q "step-00000007.h5" skip.err || fail "export did not report the skipped snapshot"
rm run32/snapshots/step-00000007.h5

# merge.
"$YT_BIN" merge --model model --adapter exp32 --out merged32 --threads 2
"$YT_BIN" merge --model model16 --adapter exp16 --out merged16 --threads 2
for f in config.json tokenizer.json tokenizer_config.json; do
    cmp model/$f merged32/$f || fail "merge did not copy $f"
done
cmp model16/config.json merged16/config.json || fail "merge did not copy config.json (bf16)"
# a mismatched adapter fails naming the tensor, writes nothing.
cp -r exp32 exp32-r4
sed -i 's/"r": 8,/"r": 4,/' exp32-r4/adapter_config.json
if out=$("$YT_BIN" merge --model model --adapter exp32-r4 --out merged-r4 2>&1); then fail "merge with a wrong r succeeded"; fi
grep -q "lora_A.weight' is not \[r=4" <<<"$out" || fail "merge with a wrong r: $out"
[ ! -e merged-r4/model.safetensors ] || fail "a failed merge left model.safetensors"
echo "merge with a wrong r: $out"

# base_model_name_or_path: the model folder's absolute path (model/model.h,
# yt_model_base_name: these folders' config.json names no hub model), which is
# also what peft records for a model loaded by its absolute path.
here=$(pwd -P)
cat > spec.json <<JSON
{"yt": "$YT_BIN", "yt_grads": "$YT_BUILDDIR/tests/tools/yt_grads", "work": "$work",
 "variants": [
  {"name": "f32", "model": "$here/model", "adapter": "exp32", "merged": "merged32", "r": 8, "alpha": 24.0,
   "dropout": 0.05, "rslora": false, "targets": "q,k,v,o,gate,up,down", "base_model": "$here/model", "dtype": "f32"},
  {"name": "bf16", "model": "$here/model16", "adapter": "exp16", "merged": "merged16", "r": 4, "alpha": 12.0,
   "dropout": 0.0, "rslora": true, "targets": "q,k,v,o,gate,up,down", "base_model": "$here/model16", "dtype": "bf16"}
 ]}
JSON
"$PYTHON" "$YT_SRCDIR/tests/tools/peft_check.py" spec.json
echo "export_merge: all checks passed"
