#!/usr/bin/env bash
# Chart rendering benchmark: the chart corpus (tests/charts) rendered with
# `sealbox chart template` (in the sandbox, the build's engine) against
# `helm template` (helm v3.17.1 from scripts/setup.sh), side by side in one
# run: each round renders every chart with both, alternating, and the best
# round of each is reported with their ratio.
#
# usage: bench/charts.sh
#
# Environment:
#   SEALBOX  the binary (default target/release/sealbox)
#   HELM     helm (default target/tools/helm-v3.17.1/helm)
#   REPEAT   rounds (default 5)
set -euo pipefail

cd "$(dirname "$0")/.."
SEALBOX=${SEALBOX:-target/release/sealbox}
HELM=${HELM:-target/tools/helm-v3.17.1/helm}
REPEAT=${REPEAT:-5}
[ -x "$SEALBOX" ] || { echo "no $SEALBOX: cargo build --release -p sealbox" >&2; exit 1; }
[ -x "$HELM" ] || { echo "no $HELM: run scripts/setup.sh" >&2; exit 1; }

charts=()
for c in tests/charts/*/; do charts+=("${c%/}"); done

# One pass over the corpus with a renderer ($1: sealbox|helm); prints seconds.
pass() {
    local start end c flags
    start=$(date +%s.%N)
    for c in "${charts[@]}"; do
        flags=()
        [ -f "$c/ci/test-values.yaml" ] && flags=(-f "$c/ci/test-values.yaml")
        # The e2e test's extra arguments, one a line, {chart} for the chart.
        if [ -f "$c/ci/template-args" ]; then
            while IFS= read -r a; do [ -n "$a" ] && flags+=("${a//\{chart\}/$c}"); done <"$c/ci/template-args"
        fi
        # Charts whose values helm refuses (ci/expect-error) fail in both.
        if [ "$1" = sealbox ]; then
            "$SEALBOX" chart template "$c" "${flags[@]}" >/dev/null 2>&1 || [ -f "$c/ci/expect-error" ]
        else
            "$HELM" template "$c" "${flags[@]}" >/dev/null 2>&1 || [ -f "$c/ci/expect-error" ]
        fi
    done
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

# Warm the module cache once, as any second use finds it.
pass sealbox >/dev/null
best_s=999999 best_h=999999
for _ in $(seq "$REPEAT"); do
    s=$(pass sealbox)
    h=$(pass helm)
    best_s=$(echo "if ($s < $best_s) $s else $best_s" | bc)
    best_h=$(echo "if ($h < $best_h) $h else $best_h" | bc)
done
echo "charts: ${#charts[@]}; sealbox chart template: ${best_s}s; helm template: ${best_h}s;" \
    "ratio $(echo "scale=2; $best_s / $best_h" | bc) (best of $REPEAT rounds each)"
