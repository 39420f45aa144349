#!/bin/bash
# Packing options and validation in `train` on `tiny`: --doc-mask with
# --eval-every runs, writes val_loss on the evaluated steps' lines of
# metrics.jsonl (and in the progress output), is bitwise reproducible, and a
# run interrupted by SIGUSR1 at random moments resumes to the same adapter and
# the same losses and validation losses; --pad-per-doc and --pack-eos false run;
# a resume with another --doc-mask is refused; a dataset whose tokenizer
# fingerprint differs from the model's tokenizer.json is refused naming both,
# and a pre-tokenised one (fingerprint "none") is accepted.
set -euo pipefail
work=$(mktemp -d /tmp/yt-docs-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
RANDOM=${YT_TEST_SEED:-$$}
echo "random seed of the interruption times: $RANDOM"

"$YT_BIN" init-model --preset tiny --seed 5 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 300 256
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" val.jsonl 40 256
"$YT_BIN" prep --in data.jsonl --out data.h5 > /dev/null
"$YT_BIN" prep --in val.jsonl --out data.val.h5 > /dev/null
args=(--model model --data data.h5 --max-steps 24 --seq-len 64 --micro-batch 2 --grad-accum 2
      --lr 3e-3 --lora-rank 8 --lora-alpha 16 --lora-dropout 0.1 --seed 7 --threads 1
      --log-every 1000 --snapshot-every 4 --doc-mask --eval-every 6)

"$YT_BIN" train "${args[@]}" --out ref > ref.log
"$YT_BIN" train "${args[@]}" --out ref2 > /dev/null
grep -q "val_loss" ref.log || fail "progress output lacks val_loss"
"$PYTHON" - ref/metrics.jsonl <<'PY' || fail "val_loss not on exactly the evaluated steps"
import json, math, sys
m = [json.loads(l) for l in open(sys.argv[1])]
assert len(m) == 24, len(m)
for x in m:
    want = x["step"] % 6 == 0
    assert ("val_loss" in x) == want, x
    if want:
        assert math.isfinite(x["val_loss"]) and 0 < x["val_loss"] < 10, x
v = [x["val_loss"] for x in m if "val_loss" in x]
assert v[-1] < v[0], v  # the validation set is like the training set: it falls
print("val_loss:", " ".join("%.4f" % x for x in v))
PY
keys() { "$PYTHON" -c 'import json,sys
for l in open(sys.argv[1]):
    x = json.loads(l); print(x["step"], repr(x["loss"]), repr(x.get("val_loss")))' "$1"; }
cmp ref/adapter/adapter_model.safetensors ref2/adapter/adapter_model.safetensors ||
    fail "same seed, different adapters"
[ "$(keys ref/metrics.jsonl)" = "$(keys ref2/metrics.jsonl)" ] || fail "same seed, different losses"
echo "two runs with --doc-mask --eval-every: bitwise identical adapters, losses and val_loss"

# Two ranks, the same global batch: the validation set is sharded and summed; fp-close
# to one rank (compared at the first evaluation).
"$MPIRUN" -np 2 --oversubscribe "$YT_BIN" train "${args[@]}" --grad-accum 1 --out np2 > /dev/null
"$PYTHON" - ref/metrics.jsonl np2/metrics.jsonl <<'PY' || fail "val_loss on 2 ranks differs from 1 rank"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])][5]
b = [json.loads(l) for l in open(sys.argv[2])][5]
assert a["step"] == b["step"] == 6 and abs(a["val_loss"] - b["val_loss"]) <= 1e-4 * a["val_loss"], (a, b)
print("val_loss at step 6: 1 rank %.7f, 2 ranks %.7f" % (a["val_loss"], b["val_loss"]))
PY

# Interrupted by SIGUSR1 at random moments, resumed with the same command line.
steps_done() { [ -f "$1/metrics.jsonl" ] && wc -l < "$1/metrics.jsonl" || echo 0; }
yields=0
tenths=3  # the random wait after progress: up to 0.29 s, 0.09 s once a run outran it
for attempt in $(seq 40); do
    before=$(steps_done run)
    "$YT_BIN" train "${args[@]}" --out run > "run.$attempt.log" 2>&1 &
    pid=$!
    for _ in $(seq 1200); do
        [ "$(steps_done run)" -gt "$before" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    sleep "0.$((RANDOM % tenths))$((RANDOM % 10))"
    kill -0 "$pid" 2>/dev/null && kill -USR1 "$pid"
    set +e; wait "$pid"; rc=$?; set -e
    case $rc in
        0) if [ "$yields" = 0 ]; then  # finished before the signal: start over, quicker
               rm -rf run; tenths=1; continue
           fi
           break ;;
        75) yields=$((yields + 1)) ;;
        *) cat "run.$attempt.log"; fail "run: exit $rc" ;;
    esac
done
[ "$rc" = 0 ] || fail "run did not finish in 40 attempts"
[ "$yields" -ge 1 ] || fail "run was never interrupted"
cmp ref/adapter/adapter_model.safetensors run/adapter/adapter_model.safetensors ||
    fail "resumed run differs from the uninterrupted one"
# a yielded step is redone after the resume: keep the last line of each step
"$PYTHON" - ref/metrics.jsonl run/metrics.jsonl <<'PY' || fail "resumed losses differ"
import json, sys
def load(p):
    d = {}
    for l in open(p):
        x = json.loads(l); d[x["step"]] = (x["loss"], x.get("val_loss"))
    return d
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a == b, [(k, a[k], b.get(k)) for k in a if a[k] != b.get(k)][:3]
PY
echo "resumed after $yields yield(s): bitwise identical adapter, losses and val_loss"

# Changing a window option is refused on resume.
set +e
"$YT_BIN" train "${args[@]}" --max-steps 30 --doc-mask false --out run > other.log 2>&1
rc=$?
set -e
[ "$rc" != 0 ] && grep -q "doc_mask" other.log || { cat other.log; fail "resume with another --doc-mask was not refused"; }

# The other window modes run.
"$YT_BIN" train "${args[@]}" --max-steps 3 --doc-mask false --pad-per-doc --out pad > /dev/null
"$YT_BIN" train "${args[@]}" --max-steps 3 --pack-eos false --out noeos > /dev/null
grep -q '"pad_per_doc": true' pad/config.json || fail "config.json lacks pad_per_doc"

# --eval-every without a validation set is refused.
cp data.h5 solo.h5
set +e
"$YT_BIN" train "${args[@]}" --data solo.h5 --out solo > solo.log 2>&1
rc=$?
set -e
[ "$rc" != 0 ] && grep -q "validation" solo.log || { cat solo.log; fail "--eval-every without validation data"; }

# Tokenizer fingerprints: the model gets a tokenizer.json, a dataset claims another tokenizer.
cp -r model tokmodel
cat > tokmodel/tokenizer.json <<'JSON'
{"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}
JSON
cp data.h5 other.h5
"$PYTHON" - other.h5 <<'PY'
import sys, h5py, numpy as np
# as the C writer stores strings: fixed length, NUL-terminated (one byte for the NUL)
fp = b"0123456789abcdef"
with h5py.File(sys.argv[1], "r+") as f:
    del f.attrs["tokenizer_fingerprint"]
    t = h5py.h5t.C_S1.copy(); t.set_size(len(fp) + 1); t.set_strpad(h5py.h5t.STR_NULLTERM)
    a = h5py.h5a.create(f.id, b"tokenizer_fingerprint", t, h5py.h5s.create(h5py.h5s.SCALAR))
    a.write(np.array(fp, dtype="S%d" % (len(fp) + 1)))
PY
"$PYTHON" "$YT_SRCDIR/tests/tools/seal.py" other.h5   # well formed, only its meaning is wrong
set +e
"$YT_BIN" train "${args[@]}" --eval-every 0 --model tokmodel --data other.h5 --out bad > bad.log 2>&1
rc=$?
set -e
cat bad.log
[ "$rc" != 0 ] || fail "a dataset of another tokenizer was accepted"
grep -q "0123456789abcdef" bad.log || fail "the refusal does not name the dataset's fingerprint"
grep -Eq "has tokenizer fingerprint [0-9a-f]{16}" bad.log || fail "the refusal does not name the model's fingerprint"
"$YT_BIN" train "${args[@]}" --eval-every 0 --max-steps 2 --model tokmodel --out good > /dev/null ||
    fail "a pre-tokenised dataset (fingerprint none) was refused"
echo "train_docs: all checks passed"
