#!/usr/bin/env bash
# Conformance scoreboards over ../shared (Kyverno's test data, sealer build
# contexts). Prints the scores and fails when one breaks its floor or
# ceiling in conformance/floors.txt, when a score is not a number, when a
# Kyverno score has no floor, or when any sealer context fails. CI sets
# SEALBOX_REQUIRE_SHARED=1: then missing ../shared is a failure too.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${SEALBOX_SHARED:-$(cd .. && pwd)/shared}"
if [ ! -d "$shared" ]; then
    if [ -n "${SEALBOX_REQUIRE_SHARED:-}" ]; then
        echo "conformance: $shared not found and SEALBOX_REQUIRE_SHARED is set: put the shared data there or set SEALBOX_SHARED"
        exit 1
    fi
    echo "conformance: SKIPPED (not passed): $shared not found; nothing to score"
    exit 0
fi
export SEALBOX_SHARED="$shared"
floors=conformance/floors.txt
floor() { awk -v k="$1" '$1 == k { print $2 }' "$floors"; }
status=0
is_number() { [[ "$1" =~ ^[0-9]+$ ]]; }
check() { # name value: a `-max` key is a ceiling, any other a floor
    local f; f=$(floor "$1")
    if ! is_number "$2"; then echo "FLOOR BROKEN: $1 = '$2' is not a number"; status=1; return; fi
    if ! is_number "$f"; then echo "FLOOR BROKEN: $1 has no numeric floor in $floors"; status=1; return; fi
    case "$1" in
        *-max) if [ "$2" -gt "$f" ]; then echo "FLOOR BROKEN: $1 = $2 > $f"; status=1; fi ;;
        *) if [ "$2" -lt "$f" ]; then echo "FLOOR BROKEN: $1 = $2 < $f"; status=1; fi ;;
    esac
}

echo "== Kyverno: sealbox's engine over the policy library and Kyverno's CLI tests"
# The example holds every per-class score to its floor itself (the same
# parser the conformance tests use) and exits 1 when one breaks.
if ! cargo run --release --locked -q -p sealbox-kyverno --example conformance -- --floors "$floors"; then
    echo "FLOOR BROKEN: the Kyverno scoreboard failed or broke a floor (see above)"
    status=1
fi

echo
echo "== cel-spec: the kyverno builtin's CEL engine over cel-spec's simple tests"
if ! cargo run --release --locked -q -p sealbox-kyverno --example cel_spec -- --floors "$floors"; then
    echo "FLOOR BROKEN: the cel-spec scoreboard failed or broke a floor (see above)"
    status=1
fi

echo
echo "== sealer: build contexts against the metadata sealer gives them"
cargo build --locked -q -p sealbox
bin=target/debug/sealbox
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
passed=0 failed=0 total=0
for ctx in "$shared"/sealer/*/; do
    [ -f "$ctx/Kubefile" ] || continue
    name=$(basename "$ctx")
    total=$((total + 1))
    # The metadata is compared, not the images: sealer's contexts name
    # public registries, which CI machines do not reach.
    if ! $bin build --build-mode lite --root "$store" -t "$name" "$ctx" >/dev/null 2>"$store/$name.err"; then
        echo "FAIL $name: build failed: $(tail -3 "$store/$name.err")"
        failed=$((failed + 1))
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
        failed=$((failed + 1))
    fi
done
echo "sealer contexts: $passed/$total pass"
check sealer.contexts.pass "$passed"
# A failing context fails the run whatever the pass floor says.
check sealer.contexts.fail-max "$failed"

echo
if [ $status -eq 0 ]; then echo "conformance: every score at or above its floor"; fi
exit $status
