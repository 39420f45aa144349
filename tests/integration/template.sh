#!/bin/bash
# The chat-template interpreter against jinja2 as transformers configures it: small
# templates, refusals, limits, and 38 real templates from PyPI packages
# (tests/tools/template_check.py).
set -eu
: "${YT_BUILDDIR:?}" "${YT_SRCDIR:?}" "${PYTHON:?}"
exec "$PYTHON" "$YT_SRCDIR/tests/tools/template_check.py" --render "$YT_BUILDDIR/tests/tools/yt_render"
