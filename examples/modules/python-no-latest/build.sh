#!/usr/bin/env bash
# Builds the no-latest policy into a WebAssembly command component with
# componentize-py and adds its `sealbox.module` metadata.
#
#   build.sh [OUTPUT.wasm]      (default: build/no-latest.wasm)
#
# Needs python3 and componentize-py (scripts/setup.sh installs it:
# `python3 -m pip install --user componentize-py==0.25.1`) and a `sealbox`
# binary ($SEALBOX, or `sealbox` on PATH). PyYAML is taken from PyPI at the
# pinned version; only its pure-Python sources go into the component.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1
PYYAML_VERSION=6.0.3

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/build/no-latest.wasm}
sealbox=${SEALBOX:-sealbox}

componentize_py=$(command -v componentize-py || echo "$(python3 -m site --user-base)/bin/componentize-py")
if ! have=$("$componentize_py" --version 2>/dev/null) || [ "$have" != "componentize-py $COMPONENTIZE_PY_VERSION" ]; then
    echo "build.sh: componentize-py $COMPONENTIZE_PY_VERSION is needed (found: ${have:-none});" \
        "install it with: python3 -m pip install --user componentize-py==$COMPONENTIZE_PY_VERSION" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The app and its dependencies in a directory of their own, so nothing else
# lying beside the sources (an earlier build, test data) ends up inside.
mkdir -p "$work/app" "$work/wheels"
cp "$here/app.py" "$here/no_latest.py" "$here/../../../guest-sdk/python/sealbox_view.py" "$work/app/"
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
    -d "$work/wheels" "pyyaml==$PYYAML_VERSION"
# The wheel's C extension is for this machine, not for wasm; PyYAML falls back
# to its pure-Python parser without it.
python3 - "$work/wheels" "$work/app" <<'EOF'
import pathlib, sys, zipfile
wheels, dest = map(pathlib.Path, sys.argv[1:])
(wheel,) = wheels.glob("*.whl")
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith("yaml/") and name.endswith(".py"):
            z.extract(name, dest)
EOF

cd "$work/app"
"$componentize_py" -q -d "$here/wit" -w module componentize app -p "$work/app" -o "$work/raw.wasm"

mkdir -p "$(dirname "$out")"
"$sealbox" module annotate "$work/raw.wasm" -o "$out" \
    --name no-latest --module-version 0.1.0 --kind policy --memory-mib 128 >/dev/null
echo "$out"
