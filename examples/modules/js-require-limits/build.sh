#!/usr/bin/env bash
# Builds the require-limits policy into a WebAssembly command component with
# componentize-js and adds its `sealbox.module` metadata.
#
#   build.sh [OUTPUT.wasm]      (default: build/require-limits.wasm)
#
# Needs node and the pinned packages of package-lock.json (`npm ci` here;
# scripts/setup.sh does it), and a `sealbox` binary ($SEALBOX, or `sealbox`
# on PATH).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/build/require-limits.wasm}
sealbox=${SEALBOX:-sealbox}
bin=$here/node_modules/.bin
wasi_wit=$here/node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12

if [ ! -x "$bin/componentize-js" ] || [ ! -x "$bin/esbuild" ] || [ ! -d "$wasi_wit" ]; then
    echo "build.sh: the JavaScript toolchain is not installed here; run: npm ci --prefix $here" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# componentize-js takes one ES module: bundle the sources and the `yaml`
# package, leaving the `wasi:` imports for componentize-js to bind.
"$bin/esbuild" "$here/src/main.js" --bundle --format=esm --platform=neutral --log-level=warning \
    --external:'wasi:*' --outfile="$work/bundle.js"

# The world, with the WASI packages it names taken from the pinned jco.
mkdir -p "$work/wit/deps"
cp "$here/wit/world.wit" "$work/wit/"
for pkg in cli clocks filesystem io random sockets; do
    mkdir -p "$work/wit/deps/$pkg"
    cp "$wasi_wit/wasi-$pkg/package.wit" "$work/wit/deps/$pkg/"
done

# No HTTP: a step has no network, and the host links no wasi:http.
(cd "$work" && "$bin/componentize-js" bundle.js --wit wit --world-name module \
    --disable http fetch-event --out raw.wasm >/dev/null)

mkdir -p "$(dirname "$out")"
"$sealbox" module annotate "$work/raw.wasm" -o "$out" \
    --name require-limits --module-version 0.1.0 --kind policy --memory-mib 128 >/dev/null
echo "$out"
