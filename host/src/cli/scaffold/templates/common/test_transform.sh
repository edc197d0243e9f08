#!/usr/bin/env bash
# Builds {{name}} and runs it as a build would, with `sealbox module run`:
# each YAML file of fixtures/in comes out under /out with its header.
set -euo pipefail
cd "$(dirname "$0")"
sealbox=${SEALBOX:-sealbox}
{{build}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "test.sh: FAILED: $*" >&2; exit 1; }

"$sealbox" module run "$module" --in fixtures/in --out "$work/out" >"$work/response.json" \
    || fail "the step failed: $(cat "$work/response.json")"
[ "$(head -n 1 "$work/out/manifests/app.yaml")" = "# processed by {{name}}" ] \
    || fail "manifests/app.yaml has no header"
cmp -s <(tail -n +2 "$work/out/manifests/app.yaml") fixtures/in/manifests/app.yaml \
    || fail "manifests/app.yaml changed beyond its header"
[ ! -e "$work/out/notes.txt" ] || fail "notes.txt is not YAML and must not be written"
echo "test.sh: 3 passed, 0 failed"
