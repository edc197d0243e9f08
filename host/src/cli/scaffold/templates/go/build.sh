#!/usr/bin/env bash
# Builds {{name}} for GOOS=wasip1 GOARCH=wasm (standard library and the SDK
# in sdk/go only; no module proxy), then adds its `sealbox.module` metadata.
# Prints the module's path (build/{{name}}.wasm).
set -euo pipefail
cd "$(dirname "$0")"
sealbox=${SEALBOX:-sealbox}
go=$(command -v go || echo "$(python3 -m site --user-base)/bin/go")
mkdir -p build
GOOS=wasip1 GOARCH=wasm GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local "$go" build -trimpath -o build/raw.wasm .
"$sealbox" module annotate build/raw.wasm -o build/{{name}}.wasm \
    --name {{name}} --module-version 0.1.0 --kind {{kind}} {{annotate_flags}} >/dev/null
rm build/raw.wasm
echo build/{{name}}.wasm
