#!/usr/bin/env bash
# Registry benchmark: `sealbox push` and `sealbox pull` of the benchmark
# image against `skopeo copy` of the same OCI layout, to and from a
# distribution registry on 127.0.0.1, timed in the same run.
#
# usage: bench/registry.sh [TREE_DIR]
#
# Without TREE_DIR, a tree is made with ../shared/bench/mktree.py (about
# 40,000 files, 470 MB) and built into an image with `sealbox build`
# (FROM scratch / COPY rootfs .). Each tool pushes to a registry of its own
# (a fresh storage directory and port for every run), so no push finds the
# blobs already there; each pull goes to an empty directory. Environment:
#   SEALBOX      the binary (default target/release/sealbox)
#   MKTREE       the tree generator (default ../shared/bench/mktree.py)
#   SCALE        mktree scale (default 1.0)
#   COMPRESSION  layer compression of the built image (default gzip)
#   REPEAT       runs per measurement, the median is reported (default 1)
#   SCRATCH      where to work (default a new directory under ${TMPDIR:-/tmp})
#   KEEP=1       keep the scratch directory
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)
SEALBOX=${SEALBOX:-$repo/target/release/sealbox}
MKTREE=${MKTREE:-$repo/../shared/bench/mktree.py}
SCALE=${SCALE:-1.0}
COMPRESSION=${COMPRESSION:-gzip}
REPEAT=${REPEAT:-1}
SCRATCH=${SCRATCH:-$(mktemp -d "${TMPDIR:-/tmp}/sealbox-registry-bench.XXXXXX")}
mkdir -p "$SCRATCH"

have() { command -v "$1" >/dev/null 2>&1; }
for tool in docker-registry skopeo python3; do
    have "$tool" || { echo "$tool is needed (scripts/setup.sh installs docker-registry and skopeo)" >&2; exit 2; }
done
[ -x "$SEALBOX" ] || { echo "no sealbox binary at $SEALBOX (cargo build --release)" >&2; exit 2; }
now() { date +%s.%N; }
calc() { awk "BEGIN { print $* }"; }
fresh() { mktemp -d "$SCRATCH/$1.XXXXXX"; }

# start_registry NAME: a registry on a free loopback port, storing in the
# scratch directory; prints HOST:PORT. It runs in a command substitution,
# so its pid goes to a file for cleanup to find.
cleanup() {
    for f in "$SCRATCH"/registry-*/pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" != 1 ]; then rm -rf "$SCRATCH"; fi
}
trap cleanup EXIT
source "$repo/scripts/lib/registry.sh"
start_registry() { start_registry_in "$SCRATCH/registry-$1"; }

# The image: built once into a store that is also a plain OCI layout.
ctx=$SCRATCH/ctx
store=$SCRATCH/store
mkdir -p "$ctx"
if [ $# -ge 1 ]; then
    src=$(cd "$1" && pwd)
    cp -al "$src" "$ctx/rootfs" 2>/dev/null || cp -a "$src" "$ctx/rootfs"
else
    [ -f "$MKTREE" ] || { echo "no tree generator at $MKTREE; pass a TREE_DIR" >&2; exit 2; }
    echo "making the tree (scale $SCALE) in $ctx/rootfs" >&2
    python3 "$MKTREE" "$ctx/rootfs" --scale "$SCALE" >/dev/null
fi
printf 'FROM scratch\nCOPY rootfs .\n' >"$ctx/Kubefile"
echo "building the image ($COMPRESSION)" >&2
SEALBOX_ROOT=$store "$SEALBOX" build --build-mode lite "$ctx" -t bench --compression "$COMPRESSION" >/dev/null 2>"$SCRATCH/build.err" ||
    { cat "$SCRATCH/build.err" >&2; exit 1; }
image_bytes=$(find "$store/blobs" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
echo "image: $image_bytes bytes of blobs; $(nproc) cores; $(date -u +%FT%TZ)" >&2

# A fresh pair of registries for every run: a registry (or a port) that
# has seen the blobs lets either tool mount them instead of uploading.
declare -A reg_sb reg_sk
for i in $(seq "$REPEAT"); do
    reg_sb[$i]=$(start_registry "sealbox-$i")
    reg_sk[$i]=$(start_registry "skopeo-$i")
done

declare -A secs
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# measure NAME CMD...: CMD gets the run number as its last argument, so
# each run can use a fresh repository or directory.
measure() {
    local name=$1; shift
    local runs=() i
    for i in $(seq "$REPEAT"); do
        local t0 t1
        t0=$(now)
        if ! "$@" "$i" >/dev/null 2>"$SCRATCH/stderr"; then
            printf '  %-34s FAILED:\n' "$name" >&2
            sed 's/^/    /' "$SCRATCH/stderr" | tail -5 >&2
            return 0
        fi
        t1=$(now)
        runs+=("$(calc "$t1 - $t0")")
    done
    secs[$name]=$(printf '%s\n' "${runs[@]}" | median)
    printf '  %-34s %8.2f s\n' "$name" "${secs[$name]}" >&2
}

sb_push() { SEALBOX_ROOT=$store "$SEALBOX" push bench "${reg_sb[$1]}/bench/img:v1" --insecure; }
sk_push() { skopeo copy -q --dest-tls-verify=false "oci:$store:bench" "docker://${reg_sk[$1]}/bench/img:v1"; }
sb_pull() { SEALBOX_ROOT=$(fresh sb-pull) "$SEALBOX" pull "${reg_sb[$1]}/bench/img:v1" --insecure; }
sk_pull() { skopeo copy -q --src-tls-verify=false "docker://${reg_sk[$1]}/bench/img:v1" "oci:$(fresh sk-pull):bench"; }

echo "measuring (median of $REPEAT):" >&2
measure "sealbox push" sb_push
measure "skopeo copy oci: -> docker://" sk_push
measure "sealbox pull" sb_pull
measure "skopeo copy docker:// -> oci:" sk_pull

# The pushed image is the local one, digest for digest.
local_digest=$(python3 -c "import json,sys; i=json.load(open('$store/index.json')); print([m['digest'] for m in i['manifests'] if m.get('annotations',{}).get('org.opencontainers.image.ref.name')=='bench'][0])")
remote_digest=$(skopeo inspect --raw --tls-verify=false "docker://${reg_sb[1]}/bench/img:v1" | sha256sum | awk '{print "sha256:"$1}')
echo "digest: local $local_digest, pushed $remote_digest" >&2
[ "$local_digest" = "$remote_digest" ] || { echo "the pushed manifest differs from the local one" >&2; exit 1; }

ratio() { [ -n "${secs[$1]:-}" ] && [ -n "${secs[$2]:-}" ] && calc "${secs[$1]} / ${secs[$2]}" || echo "n/a"; }
echo
echo "| operation | sealbox | skopeo copy | sealbox / skopeo |"
echo "|---|---:|---:|---:|"
printf '| push (%s MB) | %.2f s | %.2f s | %.2f |\n' "$((image_bytes / 1000000))" \
    "${secs[sealbox push]:-0}" "${secs[skopeo copy oci: -> docker://]:-0}" \
    "$(ratio "sealbox push" "skopeo copy oci: -> docker://")"
printf '| pull (%s MB) | %.2f s | %.2f s | %.2f |\n' "$((image_bytes / 1000000))" \
    "${secs[sealbox pull]:-0}" "${secs[skopeo copy docker:// -> oci:]:-0}" \
    "$(ratio "sealbox pull" "skopeo copy docker:// -> oci:")"
