#!/bin/bash
# safetensors reader/writer against the reference Python package: write
# fixtures with it, run the Check suite on them, then load the files the C
# writer produced with it and compare values bit for bit.
set -euo pipefail
: "${YT_SRCDIR:?set by AM_TESTS_ENVIRONMENT}"
: "${YT_BUILDDIR:?set by AM_TESTS_ENVIRONMENT}"
PYTHON=${PYTHON:-python3}
tool="$YT_SRCDIR/tests/tools/make_safetensors_fixtures.py"
bin="$YT_BUILDDIR/tests/unit/test_safetensors"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/yt_safetensors.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/out"

echo "== fixtures from the reference safetensors package"
"$PYTHON" "$tool" "$tmp/fixtures"
echo "== Check suite"
YT_ST_FIXTURES="$tmp/fixtures" YT_ST_OUT="$tmp/out" "$bin"
echo "== C-written files read by the reference package"
"$PYTHON" "$tool" --check-written "$tmp/out"
