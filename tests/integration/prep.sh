#!/bin/bash
# The token-dataset file format seen from outside: the Check suite's fixture case
# writes writer.h5 (dataset writer) and prep.h5 (prep from JSONL) into YT_DS_OUT, and
# tests/tools/check_dataset.py opens them with h5py and checks names, dtypes,
# chunking, the Fletcher32 filter, attributes, values and the content fingerprint.
set -eu
: "${YT_BUILDDIR:?}" "${YT_SRCDIR:?}" "${PYTHON:?}"
out=$(mktemp -d "${TMPDIR:-/tmp}/yt-prep-XXXXXX")
trap 'rm -rf "$out"' EXIT
YT_DS_OUT="$out" CK_RUN_CASE=fixture CK_FORK=yes "$YT_BUILDDIR/tests/unit/test_datasets"
for f in writer.h5 prep.h5 prep.jsonl; do
    [ -f "$out/$f" ] || { echo "prep.sh: fixture did not write $out/$f" >&2; exit 1; }
done
"$PYTHON" "$YT_SRCDIR/tests/tools/check_dataset.py" "$out"
