#!/usr/bin/env bash
# Builds {{name}} and runs it as a build would, with `sealbox module run`:
# fixtures/pass must pass, fixtures/fail must fail with a located finding.
set -euo pipefail
cd "$(dirname "$0")"
sealbox=${SEALBOX:-sealbox}
{{build}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "test.sh: FAILED: $*" >&2; exit 1; }

"$sealbox" module run "$module" --in fixtures/pass --out "$work/pass" >"$work/pass.json" \
    || fail "fixtures/pass should pass: $(cat "$work/pass.json")"
if "$sealbox" module run "$module" --in fixtures/fail --out "$work/fail" >"$work/fail.json" 2>"$work/fail.err"; then
    fail "fixtures/fail should fail: $(cat "$work/fail.json")"
fi
grep -q '"file": "manifests/app.yaml"' "$work/fail.json" || fail "no finding for manifests/app.yaml: $(cat "$work/fail.json")"
grep -q '"line": ' "$work/fail.json" || fail "the finding has no line: $(cat "$work/fail.json")"
echo "test.sh: 2 passed, 0 failed"
