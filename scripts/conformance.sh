#!/usr/bin/env bash
# Conformance scoreboards over ../shared (Kyverno's test data, sealer build
# contexts). Prints the scores and fails only when one falls below its floor
# in conformance/floors.txt. Run from CI when ../shared exists.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${SEALBOX_SHARED:-$(cd .. && pwd)/shared}"
if [ ! -d "$shared" ]; then
    echo "conformance: $shared not found; nothing to score"
    exit 0
fi
export SEALBOX_SHARED="$shared"
floors=conformance/floors.txt
floor() { awk -v k="$1" '$1 == k { print $2 }' "$floors"; }
status=0
check_min() { # name value
    local f; f=$(floor "$1")
    if [ -n "$f" ] && [ "$2" -lt "$f" ]; then echo "FLOOR BROKEN: $1 = $2 < $f"; status=1; fi
}
check_max() { # name value
    local f; f=$(floor "$1")
    if [ -n "$f" ] && [ "$2" -gt "$f" ]; then echo "FLOOR BROKEN: $1 = $2 > $f"; status=1; fi
}

echo "== Kyverno: sealbox's engine over the policy library and Kyverno's CLI tests"
out=$(cargo run --release --locked -q -p sealbox-kyverno --example conformance 2>&1) || true
echo "$out"
for set in policies cli-tests; do
    line=$(echo "$out" | awk -v s="== $set:" 'index($0, s) == 1 { on = 1 } on && $1 == "total" { print; exit }')
    pass=$(echo "$line" | awk '{print $2}'); fail=$(echo "$line" | awk '{print $3}')
    if [ -z "$pass" ]; then echo "no score for $set"; status=1; continue; fi
    check_min "kyverno.$set.pass" "$pass"
    check_max "kyverno.$set.fail-max" "$fail"
done

echo
echo "== sealer: build contexts against the metadata sealer gives them"
cargo build --locked -q -p sealbox
bin=target/debug/sealbox
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
passed=0 total=0
for ctx in "$shared"/sealer/*/; do
    [ -f "$ctx/Kubefile" ] || continue
    name=$(basename "$ctx")
    total=$((total + 1))
    if ! $bin build --root "$store" -t "$name" "$ctx" >/dev/null 2>"$store/$name.err"; then
        echo "FAIL $name: build failed: $(tail -3 "$store/$name.err")"
        continue
    fi
    if $bin inspect --root "$store" "$name" | python3 -c '
import json, sys
got = json.load(sys.stdin)
ctx = sys.argv[1]
ext = dict(got["imageExtension"]); ext.pop("buildClient", None); ext.pop("labels", None)
want_ext = json.load(open(ctx + "/expected/sealer.image.extension.json"))
want_images = json.load(open(ctx + "/expected/sealer.image.container.images.json"))
ok = True
if ext != want_ext:
    print("  extension differs:\n    got  %s\n    want %s" % (json.dumps(ext, sort_keys=True), json.dumps(want_ext, sort_keys=True))); ok = False
if got["containerImageList"] != want_images:
    print("  images differ:\n    got  %s\n    want %s" % (json.dumps(got["containerImageList"]), json.dumps(want_images))); ok = False
sys.exit(0 if ok else 1)
' "$ctx"; then
        echo "pass $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
    fi
done
echo "sealer contexts: $passed/$total pass"
check_min sealer.contexts.pass "$passed"

echo
if [ $status -eq 0 ]; then echo "conformance: every score at or above its floor"; fi
exit $status
