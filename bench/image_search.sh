#!/usr/bin/env bash
# The image search over a large manifest tree: wall time and peak resident
# memory of `sealbox build` (FROM scratch / COPY manifests manifests, whose
# image search reads every manifest) and of `sealbox imagelist` (the same
# search, naming every place each image was found), for two input sizes
# side by side, so the memory growth between them is measured in one run.
# A control builds the same file copied where the search does not look
# (`COPY data data`): what the layer packer's in-flight chunks cost, which
# grows with the file until its queue is full (about 16 MB of tar).
#
# usage: bench/image_search.sh [N1 N2]       (default 10000 100000 Pods)
#
# The Pods are those bench/pods.py makes (as for bench/policy_apply.sh): one file of N documents,
# 7 distinct images, every fourth Pod privileged.
# Environment: SEALBOX (default target/release/sealbox), SCRATCH, KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
SEALBOX=${SEALBOX:-$repo/target/release/sealbox}
sizes=("${1:-10000}" "${2:-100000}")
SCRATCH=${SCRATCH:-$(mktemp -d "${TMPDIR:-/tmp}/sealbox-search.XXXXXX")}
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$SCRATCH"' EXIT
[ -x "$SEALBOX" ] || { echo "no sealbox binary at $SEALBOX: cargo build --release -p sealbox --locked" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found: apt-get install time" >&2; exit 1; }
export SEALBOX_CACHE="$SCRATCH/cache"

for n in "${sizes[@]}"; do
    mkdir -p "$SCRATCH/ctx-$n/manifests"
    printf 'FROM scratch\nCOPY manifests manifests\n' >"$SCRATCH/ctx-$n/Kubefile"
    mkdir -p "$SCRATCH/control-$n"
    printf 'FROM scratch\nCOPY data data\n' >"$SCRATCH/control-$n/Kubefile"
    python3 bench/pods.py "$n" "$SCRATCH/ctx-$n/manifests/pods.yaml"
    cp -r "$SCRATCH/ctx-$n/manifests" "$SCRATCH/control-$n/data"
done

# Warm the module cache so neither size pays the compile.
"$SEALBOX" imagelist "$SCRATCH/ctx-${sizes[0]}" >/dev/null 2>&1 || true

# run LABEL N CMD...: one timed run, its wall seconds and peak RSS.
run() {
    local label=$1 n=$2 start end kib
    shift 2
    start=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$SCRATCH/time" "$@" >"$SCRATCH/out" 2>"$SCRATCH/err" ||
        { echo "$label failed for $n pods: $(tail -3 "$SCRATCH/err")" >&2; exit 1; }
    end=$(date +%s.%N)
    kib=$(tail -1 "$SCRATCH/time")
    rss[$label-$n]=$kib
    printf '%-10s %-8s %8.2f %10.0f\n' "$label" "$n" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" \
        "$(awk -v k="$kib" 'BEGIN { print k / 1024 }')"
}

printf '%-10s %-8s %8s %10s\n' command pods seconds peak_MiB
declare -A rss
for n in "${sizes[@]}"; do
    run build "$n" "$SEALBOX" build --build-mode lite --no-cache --root "$SCRATCH/store-$n" -t "bench:$n" \
        "$SCRATCH/ctx-$n"
    "$SEALBOX" images --root "$SCRATCH/store-$n" | grep -q "bench:$n" ||
        { echo "build for $n pods left no image" >&2; exit 1; }
    run control "$n" "$SEALBOX" build --build-mode lite --no-cache --root "$SCRATCH/store-control-$n" \
        -t "control:$n" "$SCRATCH/control-$n"
    run imagelist "$n" "$SEALBOX" imagelist --format json "$SCRATCH/ctx-$n"
    found=$(grep -c '"image": "registry.example.com/app:' "$SCRATCH/out" || true)
    # 7 images in the list, and n origins (one per Pod).
    [ "$found" -ge $((n + 7)) ] || { echo "imagelist for $n pods found $found occurrences" >&2; exit 1; }
done
for label in build control imagelist; do
    echo "$label: peak RSS ${sizes[1]} vs ${sizes[0]} Pods: $(awk -v a="${rss[$label-${sizes[1]}]}" \
        -v b="${rss[$label-${sizes[0]}]}" 'BEGIN { printf "%.2f", a / b }')x"
done
