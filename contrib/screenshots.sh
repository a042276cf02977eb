#!/bin/sh
# screenshots.sh [BUILD_DIR]: retake the README's pictures of the bundled
# modules in the real Scope UI (docs/images/scope-host.png, the host
# node's details panel, and docs/images/scope-process.png, the panel of the
# host's own process).  Runs test/interop.py, which starts this build's
# host with every bundled module under Scope's app and probe from
# $SCOPE_HARNESS (or ../shared/scope beside the tree) and checks what the
# UI receives before it takes the pictures.  Needs chromium.
# BUILD_DIR: a configured and built tree (default _build/plain).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/_build/plain}" && pwd)
exec python3 "$top/test/interop.py" --builddir "$build" --srcdir "$top" \
    --shots "$top/docs/images"
