#!/usr/bin/env bash
# Cold-start benchmark: what a fresh CI machine pays before the first step
# does any work. Side by side in one run:
#   - `sealbox build` of examples/cluster-app with its policies, with an
#     empty module cache (cold) and with a warm one;
#   - `sealbox policy test` over ../shared/kyverno/policies with an empty
#     module cache.
# The builtins ship precompiled in the binary, so cold should cost about
# what warm does (goal: cold <= 1.5x warm).
#
# usage: bench/coldstart.sh
#
# Environment:
#   SEALBOX   the binary (default target/release/sealbox)
#   REPEAT    runs per measurement, the median is reported (default 7)
#   SHARED    the shared reference data (default ../shared)
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)
SEALBOX=${SEALBOX:-$repo/target/release/sealbox}
REPEAT=${REPEAT:-7}
SHARED=${SHARED:-$repo/../shared}
[ -x "$SEALBOX" ] || { echo "no sealbox binary at $SEALBOX: cargo build --release first" >&2; exit 1; }
[ -d "$SHARED/kyverno/policies" ] || { echo "no $SHARED/kyverno/policies (the shared reference data)" >&2; exit 1; }
scratch=$(mktemp -d "${TMPDIR:-/tmp}/sealbox-cold.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export SEALBOX_CACHE_KEY="$scratch/cache.key"

# median of the wall seconds of REPEAT runs of "$@"; a run's set-up is
# the function `prepare`, run untimed before each.
median() {
    local times=() t0 t1
    for _ in $(seq "$REPEAT"); do
        prepare
        t0=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
        t1=$(date +%s.%N)
        times+=("$(echo "$t1 - $t0" | bc -l)")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

build() {
    "$SEALBOX" build --build-mode lite --root "$scratch/store" -t bench/cold:1 \
        --policy examples/cluster-app/policies examples/cluster-app
}

# Cold: an empty module cache and an empty store every run.
prepare() { rm -rf "$scratch/cache" "$scratch/store"; mkdir -m 700 "$scratch/cache"; }
export SEALBOX_CACHE="$scratch/cache"
cold=$(median build)
# Warm: the module cache kept from a first run; the store emptied, so the
# build does all its steps.
prepare
build >/dev/null 2>&1
prepare() { rm -rf "$scratch/store"; }
warm=$(median build)
prepare() { rm -rf "$scratch/cache"; mkdir -m 700 "$scratch/cache"; }
ptest=$(median "$SEALBOX" policy test "$SHARED/kyverno/policies")

printf 'cold-start benchmark (%s runs each, median wall seconds)\n' "$REPEAT"
printf '  build, empty module cache:      %.3f s\n' "$cold"
printf '  build, warm module cache:       %.3f s\n' "$warm"
printf '  cold / warm:                    %.2fx  [<= 1.5]\n' "$(echo "$cold / $warm" | bc -l)"
printf '  policy test, empty cache:       %.3f s  [< 0.5]\n' "$ptest"
