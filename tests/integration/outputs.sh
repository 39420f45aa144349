#!/bin/bash
# Outputs never destroy inputs or replace what is not a regular file.  For each
# command that writes (prep, export, merge, train), an --out that is one of the
# command's inputs (however spelled: another path, a hard link), a symbolic
# link, a FIFO, a device node or a folder is refused with exit 1 and a message
# naming it, and afterwards it and every input are byte for byte (or node for
# node) what they were.  An --out that already holds a file of the kind the
# command writes is replaced as before.
set -euo pipefail
work=$(mktemp -d /tmp/yt-outputs-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

"$YT_BIN" init-model --preset tiny --seed 2 --out model > /dev/null
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" data.jsonl 60 128
"$PYTHON" "$YT_SRCDIR/tests/tools/make_repeated_jsonl.py" more.jsonl 20 128
cp data.jsonl data.orig
cp model/model.safetensors model.orig
cp model/config.json config.orig

# A device node: mknod as root, else /dev/null bound onto a file in a private
# mount namespace (the run below then happens inside that namespace).
nodecmd=()
if mknod node c 1 3 2>/dev/null; then
    :
elif command -v unshare > /dev/null && unshare -rm true 2>/dev/null; then
    : > node
    nodecmd=(unshare -rm bash -c 'mount --bind /dev/null node && exec "$@"' _)
else
    fail "cannot make a device node (not root, no user namespaces)"
fi
mkfifo fifo
mkdir folder
echo "my notes" > notes.txt
cp notes.txt notes.orig
ln -s data.jsonl link.jsonl
ln data.jsonl hard.jsonl

checked=0
# refused WHAT PATTERN CMD...: CMD exits 1, its message matches PATTERN
refused() {
    local what=$1 pat=$2; shift 2
    local out rc
    set +e; out=$("$@" 2>&1); rc=$?; set -e
    [ $rc = 1 ] || fail "$what: exit $rc, want 1 (refused): $out"
    grep -qE -- "$pat" <<<"$out" || fail "$what: message does not match '$pat': $out"
    ls ./*.tmp.* > /dev/null 2>&1 && fail "$what: temp file left: $(ls ./*.tmp.*)"
    checked=$((checked + 1))
    return 0
}
intact() {  # every input and special path is still what it was
    cmp -s data.jsonl data.orig || fail "$1: data.jsonl changed"
    [ -L link.jsonl ] || fail "$1: link.jsonl is no longer a symbolic link"
    [ -p fifo ] || fail "$1: fifo is no longer a FIFO"
    [ -d folder ] || fail "$1: folder is no longer a folder"
    cmp -s notes.txt notes.orig || fail "$1: notes.txt changed"
    cmp -s model/model.safetensors model.orig || fail "$1: the model's weights changed"
    cmp -s model/config.json config.orig || fail "$1: the model's config.json changed"
}

prep=("$YT_BIN" prep --model model)
refused "prep --out = --in" "data.jsonl.*input" "${prep[@]}" --in data.jsonl --out data.jsonl
intact "prep --out = --in"
refused "prep --out = --in spelled differently" "input" \
    "${prep[@]}" --in data.jsonl --out ./folder/../data.jsonl
intact "prep --out = ./folder/../--in"
refused "prep --out = a positional input" "input" \
    "${prep[@]}" --in more.jsonl data.jsonl --out data.jsonl
intact "prep --out = a positional input"
refused "prep --out = a hard link of the input" "hard.jsonl.*input" \
    "${prep[@]}" --in data.jsonl --out hard.jsonl
intact "prep --out = a hard link of --in"
refused "prep --out symlink" "link.jsonl.*symbolic link" \
    "${prep[@]}" --in more.jsonl --out link.jsonl
intact "prep --out symlink"
refused "prep --out FIFO" "fifo.*FIFO" "${prep[@]}" --in more.jsonl --out fifo
intact "prep --out FIFO"
refused "prep --out folder" "folder.*folder" "${prep[@]}" --in more.jsonl --out folder
intact "prep --out folder"
refused "prep --out device node" "node.*device" \
    "${nodecmd[@]}" "${prep[@]}" --in more.jsonl --out node
[ -c node ] || [ ${#nodecmd[@]} -gt 0 ] || fail "prep --out device node: node is no longer a device"
refused "prep --out an existing file that is not a dataset" "notes.txt.*not an HDF5 file" \
    "${prep[@]}" --in more.jsonl --out notes.txt
intact "prep --out notes.txt"
"${prep[@]}" --in data.jsonl --out data.h5 > /dev/null
"${prep[@]}" --in more.jsonl --out data.h5 > /dev/null || fail "prep does not replace its own dataset"
intact "prep --out data.h5 (twice)"

# A short run for export and train.
"$YT_BIN" prep --model model --in data.jsonl --out train.h5 > /dev/null
targs=(--model model --data train.h5 --max-steps 2 --seq-len 32 --micro-batch 2 --lora-rank 4
       --threads 1 --log-every 1000)
"$YT_BIN" train "${targs[@]}" --out run > /dev/null
snap=run/snapshots/step-00000002.h5
cp "$snap" snap.orig

mkdir exp
ln -s ../notes.txt exp/adapter_model.safetensors
refused "export onto a symlink" "adapter_model.safetensors.*symbolic link" \
    "$YT_BIN" export "$snap" --out exp
intact "export onto a symlink"
rm exp/adapter_model.safetensors
mkfifo exp/adapter_config.json
refused "export onto a FIFO" "adapter_config.json.*FIFO" "$YT_BIN" export "$snap" --out exp
rm -f exp/adapter_config.json exp/adapter_model.safetensors
ln "$snap" exp/adapter_model.safetensors
refused "export onto its input snapshot" "input" "$YT_BIN" export "$snap" --out exp
cmp -s "$snap" snap.orig || fail "export onto its input: the snapshot changed"
rm exp/adapter_model.safetensors
"$YT_BIN" export "$snap" --out exp > /dev/null
"$YT_BIN" export "$snap" --out exp > /dev/null || fail "export does not replace its own adapter"

refused "merge --out = --model" "model.*must differ" \
    "$YT_BIN" merge --model model --adapter exp --out model
intact "merge --out = --model"
refused "merge --out = --adapter" "exp.*must differ" "$YT_BIN" merge --model model --adapter exp --out ./exp
"$YT_BIN" merge --model model --adapter exp --out merged > /dev/null
"$YT_BIN" merge --model model --adapter exp --out merged > /dev/null ||
    fail "merge does not replace its own output"

refused "train --out = --model" "--out: model is the same folder as the input model" \
    "$YT_BIN" train "${targs[@]}" --out model
intact "train --out = --model"
[ ! -e model/lock ] && [ ! -e model/events.jsonl ] || fail "train --out = --model wrote into model"

mkdir run2
ln -s ../notes.txt run2/config.json
refused "train: RUN/config.json is a symlink" "config.json.*symbolic link" \
    "$YT_BIN" train "${targs[@]}" --out run2
intact "train: RUN/config.json is a symlink"
[ -L run2/config.json ] || fail "train replaced the symlink RUN/config.json"
intact "end"
echo "outputs: $checked refusals checked, inputs and special files intact"
