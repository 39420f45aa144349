#!/bin/bash
# The content rule of snapshots (runner/snapshot_check.h): a well-formed
# snapshot (whole-file checksum good: tests/tools/snapshot_edit.py edits it with
# h5py and seals it again) whose values do not fit together is invalid for
# inspect, export and resume alike.  For each edit of the step-4 snapshot of a
# `tiny` run: inspect exits 1 naming what is wrong; export of the run folder
# skips it and exports step 2; `train --resume auto` skips it saying why,
# resumes from step 2 and ends bitwise equal to the uninterrupted run; an
# explicit --resume of the file is refused.  The resealed but unedited file
# (control) is valid and resumed from.  A format-1 file is refused with a
# message saying so, and --resume auto does not fall back past it.
set -euo pipefail
work=$(mktemp -d /tmp/yt-snapcontent-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
edit() { "$PYTHON" "$YT_SRCDIR/tests/tools/snapshot_edit.py" "$@"; }

"$YT_BIN" init-model --preset tiny --seed 2 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 200 256
"$YT_BIN" prep --in data.jsonl --out data.h5 > /dev/null
args=(--model model --data data.h5 --max-steps 6 --seq-len 64 --micro-batch 2 --lr 3e-3
      --lora-rank 8 --seed 3 --threads 1 --log-every 1000 --snapshot-every 2 --keep 10)
"$YT_BIN" train "${args[@]}" --out ref > /dev/null
s2=ref/snapshots/step-00000002.h5
s4=ref/snapshots/step-00000004.h5
ref=ref/adapter/adapter_model.safetensors
mkdir e

setup_run() {  # run folder with the intact step 2 and file $1 as step 4
    rm -rf run
    mkdir -p run/snapshots
    cp "$s2" run/snapshots/
    cp "$1" run/snapshots/step-00000004.h5
}

# Control: sealing again changes nothing that matters.
edit "$s4" e.h5 reseal
"$YT_BIN" inspect --quiet e.h5 > /dev/null || fail "control: the resealed snapshot is invalid"
setup_run e.h5
out=$("$YT_BIN" train "${args[@]}" --out run 2>&1) || fail "control: resume failed: $out"
grep -q "resumed from run/snapshots/step-00000004.h5" <<<"$out" || fail "control: $out"
cmp -s run/adapter/adapter_model.safetensors "$ref" || fail "control: ends differently"

n=0
# case EDIT PATTERN: the edited step 4 is invalid everywhere, for the reason PATTERN
case_() {
    local ed=$1 pat=$2 out rc
    edit "$s4" e/step-00000004.h5 "$ed"  # named as a step-4 snapshot
    set +e; out=$("$YT_BIN" inspect --quiet e/step-00000004.h5 2>&1); rc=$?; set -e
    [ $rc = 1 ] || fail "$ed: inspect exit $rc: $out"
    grep -qE -- "$pat" <<<"$out" || fail "$ed: inspect does not say '$pat': $out"
    setup_run e/step-00000004.h5
    set +e; out=$("$YT_BIN" inspect run 2>&1); rc=$?; set -e
    [ $rc = 1 ] && grep -qE "step-00000004.h5 .*INVALID.*$pat" <<<"$out" ||
        fail "$ed: inspect RUN: exit $rc: $out"
    out=$("$YT_BIN" export run --out exp 2>&1) || fail "$ed: export failed: $out"
    grep -q "exported step 2 " <<<"$out" && grep -qE "skipped.*step-00000004.h5: .*$pat" <<<"$out" ||
        fail "$ed: export did not fall back to step 2 saying why: $out"
    set +e; out=$("$YT_BIN" train "${args[@]}" --resume run/snapshots/step-00000004.h5 --out run 2>&1)
    rc=$?; set -e
    [ $rc = 1 ] && grep -qE -- "$pat" <<<"$out" || fail "$ed: --resume FILE: exit $rc: $out"
    out=$("$YT_BIN" train "${args[@]}" --out run 2>&1) || fail "$ed: resume failed: $out"
    grep -qE "skipped snapshots that do not verify: step-00000004.h5: .*$pat" <<<"$out" &&
        grep -q "resumed from run/snapshots/step-00000002.h5" <<<"$out" ||
        fail "$ed: resume did not fall back to step 2 saying why: $out"
    cmp -s run/adapter/adapter_model.safetensors "$ref" || fail "$ed: the resumed run ends differently"
    n=$((n + 1))
}

case_ int:step=-1                          "attribute 'step' is -1"
case_ int:step=5                           "'step' is 5 but the file name says 4"
case_ int:step=4611686018427387908         "'step' is 4611686018427387908 but the file name says 4"
case_ int:adamw_t=5                        "'adamw_t' is 5, not the step 4"
case_ int:tokens_seen=513                  "'tokens_seen' is 513"
case_ int:sampler_position=10              "sampler cursor \(epoch 0, position 10\)"
case_ int:sampler_epoch=1                  "sampler cursor \(epoch 1, position 8\)"
case_ int:sampler_steps_per_epoch=0        "sampler_steps_per_epoch 0"
case_ int:world_size=3                     "world_size 3 do not fit"
case_ int:lora_rank=4                      "lora_rank.* differ from attribute 'identity'"
case_ float:lora_alpha=inf                 "LoRA settings out of range"
case_ float:lora_dropout=1.5               "LoRA settings out of range"
case_ "json:identity:lora_alpha=8.0"       "'lora_alpha' differs"
case_ "json:identity:lora_targets=[\"q\"]" "not a LoRA matrix of this model and targets"
case_ "json:identity:global_batch=4"       "'tokens_seen' is 512"
case_ "str:identity={\"seq_len\": 64"      "attribute 'identity' is not a JSON object"
case_ "json:model_config:hidden_size=32"   "is not float32 \[32, 8\]"
case_ "json:model_config:num_hidden_layers=3" "28 tensors under lora/, the model and targets make 42"
case_ vlen:config                          "'config' is a variable-length string"
case_ "elem:lora/layers.0.self_attn.q_proj.lora_A=nan" "element 0 is nan"
case_ "elem:optim/m/layers.1.mlp.up_proj.lora_B=inf"  "element 0 is inf"
case_ "elem:optim/v/layers.0.self_attn.k_proj.lora_A=-1" "element 0 is -1"
case_ extra:lora/extra                     "'lora/extra' is not a LoRA matrix"
case_ drop:optim/m/layers.1.mlp.down_proj.lora_B "27 tensors under optim/m/"
echo "ok: $n edits of a well-formed snapshot are invalid for inspect, export and resume"

# A format-1 snapshot: named as such, and never fallen back past.
edit "$s4" old.h5 format1
set +e; out=$("$YT_BIN" inspect old.h5 2>&1); rc=$?; set -e
[ $rc = 1 ] && grep -q "a format 1 snapshot" <<<"$out" || fail "format 1: inspect exit $rc: $out"
setup_run old.h5
set +e; out=$("$YT_BIN" train "${args[@]}" --out run 2>&1); rc=$?; set -e
[ $rc = 1 ] && grep -q "format 1 snapshot.*finish this run with the yieldtune that wrote it" <<<"$out" ||
    fail "format 1: resume exit $rc: $out"
[ ! -e run/adapter ] || fail "format 1: the run went on"
echo "snapshot_content: all checks passed"
