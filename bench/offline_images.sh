#!/usr/bin/env bash
# Offline-images benchmark: `sealbox build --build-mode all` of a context
# listing N images (each FROM one shared base, so the base's layers are
# shared) against `skopeo copy` of the same images into `dir:` directories,
# from a distribution registry on 127.0.0.1, side by side in one run.
#
# usage: bench/offline_images.sh
#
# Environment:
#   SEALBOX   the binary (default target/release/sealbox)
#   IMAGES    images (default 8)
#   BASE_MB   the shared base layer, MiB (default 256)
#   OWN_MB    each image's own layer, MiB (default 96)
#   SCRATCH   where to work (default a new directory under ${TMPDIR:-/tmp})
#   KEEP=1    keep the scratch directory
#
# Layer bytes are random (they do not compress, like real compressed
# layers). Printed: fetch+pack wall time against skopeo's, the bytes each
# moved, the `registry/` packing step against reading the blobs once
# (sha256sum), and what gzip -1 would save on the registry layer.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)
SEALBOX=${SEALBOX:-$repo/target/release/sealbox}
IMAGES=${IMAGES:-8}
BASE_MB=${BASE_MB:-256}
OWN_MB=${OWN_MB:-96}
SCRATCH=${SCRATCH:-$(mktemp -d "${TMPDIR:-/tmp}/sealbox-offline-bench.XXXXXX")}
mkdir -p "$SCRATCH"
for tool in docker-registry skopeo python3 sha256sum gzip; do
    command -v "$tool" >/dev/null || { echo "$tool is needed (scripts/setup.sh)" >&2; exit 2; }
done
[ -x "$SEALBOX" ] || { echo "no sealbox binary at $SEALBOX (cargo build --release)" >&2; exit 2; }
now() { date +%s.%N; }
calc() { awk "BEGIN { print $* }"; }
cleanup() {
    for f in "$SCRATCH"/registry-*/pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" != 1 ]; then rm -rf "$SCRATCH"; fi
}
trap cleanup EXIT
source "$repo/scripts/lib/registry.sh"
start_registry() { start_registry_in "$SCRATCH/registry-$1"; }

reg=$(start_registry source)
seed=$SCRATCH/seed-store
sb() { SEALBOX_ROOT=$1 "$SEALBOX" "${@:2}"; }

# The shared base, then each image FROM it with a layer of its own.
mkdir -p "$SCRATCH/base/files"
head -c $((BASE_MB << 20)) /dev/urandom >"$SCRATCH/base/files/base.bin"
printf 'FROM scratch\nCOPY files /\n' >"$SCRATCH/base/Kubefile"
sb "$seed" build --build-mode lite --compression none -t bench/base:1 "$SCRATCH/base" >/dev/null 2>&1
list=$SCRATCH/images.txt
: >"$list"
for i in $(seq "$IMAGES"); do
    d=$SCRATCH/app$i
    mkdir -p "$d/files"
    head -c $((OWN_MB << 20)) /dev/urandom >"$d/files/own$i.bin"
    printf 'FROM bench/base:1\nCOPY files /\n' >"$d/Kubefile"
    sb "$seed" build --build-mode lite --compression none -t "bench/app$i:1" "$d" >/dev/null 2>&1
    sb "$seed" push "bench/app$i:1" "$reg/bench/app$i:1" --insecure >/dev/null 2>&1
    echo "$reg/bench/app$i:1" >>"$list"
done
total_mb=$((BASE_MB + IMAGES * OWN_MB))
echo "$IMAGES images, ${BASE_MB} MiB shared base + ${OWN_MB} MiB each: ${total_mb} MiB of distinct blobs"

# sealbox: fetch every image and write the registry/ layer, fresh store.
ctx=$SCRATCH/ctx
mkdir -p "$ctx"
echo "cluster" >"$ctx/README"
printf 'FROM scratch\nCOPY README .\n' >"$ctx/Kubefile"
store=$SCRATCH/store
# build_all NAME: the build into $store, its wall time in seconds; stderr
# in $SCRATCH/NAME.err.
build_all() {
    local t0 t1
    t0=$(now)
    sb "$store" build --build-mode all --insecure --image-list "$list" -t bench/cluster:1 "$ctx" \
        2>"$SCRATCH/$1.err" >/dev/null || { cat "$SCRATCH/$1.err" >&2; exit 1; }
    t1=$(now)
    calc "$t1 - $t0"
}
sealbox_s=$(build_all build)
fetch_line=$(grep '^fetch images' "$SCRATCH/build.err" || true)
pack_line=$(grep '^registry/' "$SCRATCH/build.err" || true)
pack_s=$(echo "$pack_line" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+s$/) { sub(/s$/, "", $i); print $i; exit } }')

# The same build again: nothing fetched, the layer from the step cache.
rebuild_s=$(build_all rebuild)
refetch_line=$(grep '^fetch images' "$SCRATCH/rebuild.err" || true)

# skopeo: the same images, one dir: each (it has no shared store).
mkdir -p "$SCRATCH/skopeo"
t0=$(now)
while read -r image; do
    name=$(basename "$image")
    skopeo copy -q --src-tls-verify=false "docker://$image" "dir:$SCRATCH/skopeo/${name/:/-}" >/dev/null
done <"$list"
t1=$(now)
skopeo_s=$(calc "$t1 - $t0")
skopeo_mb=$(du -sm --apparent-size "$SCRATCH/skopeo" | cut -f1)

# Reading the blobs once, for the packing step's floor.
t0=$(now)
find "$store/blobs/sha256" -type f -size +1M -print0 | xargs -0 cat | sha256sum >/dev/null
t1=$(now)
read_s=$(calc "$t1 - $t0")

# What compressing the registry layer would give.
layer=$(python3 -c "
import json, sys
m = json.load(open('$store/index.json'))['manifests'][0]['digest'].split(':')[1]
man = json.load(open('$store/blobs/sha256/' + m))
print(man['layers'][-1]['digest'].split(':')[1])")
layer_bytes=$(stat -c %s "$store/blobs/sha256/$layer")
t0=$(now)
gz_bytes=$(gzip -1 -c "$store/blobs/sha256/$layer" | wc -c)
t1=$(now)
gzip_s=$(calc "$t1 - $t0")

echo "sealbox build --build-mode all: ${sealbox_s}s  ($fetch_line)"
echo "unchanged rebuild:              ${rebuild_s}s  ($refetch_line)"
echo "skopeo copy of each image:      ${skopeo_s}s  (${skopeo_mb} MiB written)"
echo "  sealbox / skopeo time:        $(calc "$sealbox_s / $skopeo_s")  [goal <= 1]"
echo "registry/ packing step:         ${pack_s}s  vs reading the blobs once (cat | sha256sum): ${read_s}s"
echo "gzip -1 of the registry layer:  ${gzip_s}s, $(calc "$gz_bytes * 100 / $layer_bytes")% of its ${layer_bytes} bytes"
