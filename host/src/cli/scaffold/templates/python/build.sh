#!/usr/bin/env bash
# Builds {{name}} into a WebAssembly command component with componentize-py
# and adds its `sealbox.module` metadata. Prints the module's path.
#
#   build.sh [OUTPUT.wasm]      (default: build/{{name}}.wasm)
#
# Needs python3, componentize-py
# (`python3 -m pip install --user componentize-py==0.25.1`) and `sealbox`
# ($SEALBOX, or on PATH). No other package: a policy reads the manifests
# from sealbox's documents view (sealbox_view.py), so the build is offline.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/build/{{name}}.wasm}
sealbox=${SEALBOX:-sealbox}

componentize_py=$(command -v componentize-py || echo "$(python3 -m site --user-base)/bin/componentize-py")
if ! have=$("$componentize_py" --version 2>/dev/null) || [ "$have" != "componentize-py $COMPONENTIZE_PY_VERSION" ]; then
    echo "build.sh: componentize-py $COMPONENTIZE_PY_VERSION is needed (found: ${have:-none});" \
        "install it with: python3 -m pip install --user componentize-py==$COMPONENTIZE_PY_VERSION" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/app"
cp "$here/app.py" "$here/step.py" "$here/sealbox_view.py" "$work/app/"

cd "$work/app"
"$componentize_py" -q -d "$here/wit" -w module componentize app -p "$work/app" -o "$work/raw.wasm"
mkdir -p "$(dirname "$out")"
"$sealbox" module annotate "$work/raw.wasm" -o "$out" --name {{name}} --kind {{kind}} {{annotate_flags}} >/dev/null
echo "$out"
