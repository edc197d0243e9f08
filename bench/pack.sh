#!/usr/bin/env bash
# Packing benchmark: `sealbox build` of FROM scratch / COPY rootfs . against
# the tools a user would pick instead, timed in the same run, printed as a
# table with the ratios the project's goals are stated in.
#
# usage: bench/pack.sh [TREE_DIR]
#
# Without TREE_DIR, a tree is made with ../shared/bench/mktree.py (about
# 40,000 files, 470 MB) in a fresh scratch directory. Environment:
#   SEALBOX   the binary (default target/release/sealbox)
#   MKTREE    the tree generator (default ../shared/bench/mktree.py)
#   SCALE     mktree scale (default 1.0)
#   REPEAT    runs per measurement, the median is reported (default 1)
#   SCRATCH   where to work (default a new directory under ${TMPDIR:-/tmp})
#   KEEP=1    keep the scratch directory
#
# Pitfalls (../shared/reference/packing-baselines.md): creating many files
# right after deleting a big tree can be several times slower on these
# machines, so every output goes to a fresh directory and nothing is
# deleted between measurements; compare ratios from one run, not absolute
# figures across runs.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)
SEALBOX=${SEALBOX:-$repo/target/release/sealbox}
MKTREE=${MKTREE:-$repo/../shared/bench/mktree.py}
SCALE=${SCALE:-1.0}
REPEAT=${REPEAT:-1}
SCRATCH=${SCRATCH:-$(mktemp -d "${TMPDIR:-/tmp}/sealbox-bench.XXXXXX")}
mkdir -p "$SCRATCH"
if [ "${KEEP:-0}" != 1 ]; then
    trap 'rm -rf "$SCRATCH"' EXIT
fi

have() { command -v "$1" >/dev/null 2>&1; }
now() { date +%s.%N; }
calc() { awk "BEGIN { print $* }"; }
fresh() { mktemp -d "$SCRATCH/$1.XXXXXX"; }

# The build context: a Kubefile and the tree as rootfs/.
ctx=$SCRATCH/ctx
mkdir -p "$ctx"
if [ $# -ge 1 ]; then
    src=$(cd "$1" && pwd)
    # Hard links when possible: no copy of the data, same file names.
    cp -al "$src" "$ctx/rootfs" 2>/dev/null || cp -a "$src" "$ctx/rootfs"
else
    [ -f "$MKTREE" ] || { echo "no tree generator at $MKTREE; pass a TREE_DIR" >&2; exit 2; }
    echo "making the tree (scale $SCALE) in $ctx/rootfs" >&2
    python3 "$MKTREE" "$ctx/rootfs" --scale "$SCALE" >/dev/null
fi
printf 'FROM scratch\nCOPY rootfs .\n' >"$ctx/Kubefile"
tree=$ctx/rootfs

TAR=(tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - -C "$tree" .)
# Warm the page cache so the first measurement is not penalised.
tar_bytes=$("${TAR[@]}" | wc -c)
files=$(find "$tree" -type f | wc -l)
echo "tree: $files files, $tar_bytes bytes as tar; $(nproc) cores; $(date -u +%FT%TZ)" >&2

# measure NAME CMD...: runs CMD REPEAT times, records the median seconds.
declare -A secs size
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() {
    local name=$1; shift
    local runs=()
    for _ in $(seq "$REPEAT"); do
        local t0 t1
        # Earlier routes leave gigabytes of dirty pages; their writeback
        # must not land in this route's time (fsync, disk bandwidth).
        sync
        t0=$(now)
        if ! "$@" >/dev/null 2>"$SCRATCH/stderr"; then
            printf '  %-28s FAILED:\n' "$name" >&2
            sed 's/^/    /' "$SCRATCH/stderr" | tail -5 >&2
            return 0
        fi
        t1=$(now)
        runs+=("$(calc "$t1 - $t0")")
    done
    secs[$name]=$(printf '%s\n' "${runs[@]}" | median)
    printf '  %-28s %8.2f s\n' "$name" "${secs[$name]}" >&2
}

pipe_gzip() { "${TAR[@]}" | gzip -n -6 | sha256sum; }
pipe_zstd() { "${TAR[@]}" | zstd -q -3 -T0 | sha256sum; }
pipe_none() { "${TAR[@]}" | sha256sum; }
# What an OCI zstd layer requires beyond compressing: the diff ID (SHA-256
# of the tar stream) and the blob digest, with the blob written to a new
# file. The goal is stated against pipe_zstd; this route shows how much of
# the difference is that required work rather than sealbox's own. Its
# digests are OpenSSL's, which use the CPU's SHA instructions as sealbox
# does (coreutils' sha256sum 9.1 does not: 4x slower here).
fast_sha256() { if have openssl; then openssl dgst -sha256; else sha256sum; fi; }
pipe_zstd_same_work() {
    local d
    d=$(fresh zstd-same-work)
    mkfifo "$d/tar"
    fast_sha256 <"$d/tar" >"$d/diff_id" &
    local diff_id=$!
    "${TAR[@]}" | tee "$d/tar" | zstd -q -3 -T0 | tee "$d/blob" | fast_sha256
    wait "$diff_id"
}

echo "measuring (median of $REPEAT):" >&2
measure "tar | gzip -n -6" pipe_gzip
measure "tar | zstd -3 -T0" pipe_zstd
measure "tar | sha256sum" pipe_none
measure "tar | zstd, same work" pipe_zstd_same_work

if have umoci; then
    umoci_run() {
        local d
        d=$(fresh umoci)
        umoci init --layout "$d/layout"
        umoci new --image "$d/layout:bench"
        "${TAR[@]}" >"$d/layer.tar"
        umoci raw add-layer --image "$d/layout:bench" "$d/layer.tar"
        # The layer is the largest blob.
        find "$d/layout/blobs" -type f -printf '%s\n' | sort -n | tail -1 >"$SCRATCH/umoci.size"
    }
    measure "tar + umoci raw add-layer" umoci_run
    if [ -f "$SCRATCH/umoci.size" ]; then size[tar + umoci raw add-layer]=$(cat "$SCRATCH/umoci.size"); fi
fi

if [ -x "$SEALBOX" ]; then
    for c in gzip zstd none; do
        sealbox_run() {
            local d
            d=$(fresh "store-$c")
            echo "$d" >"$SCRATCH/last-store"
            "$SEALBOX" build --build-mode lite -f "$ctx/Kubefile" --compression "$c" --root "$d" --no-cache -t "bench:$c" "$ctx"
        }
        measure "sealbox build --compression $c" sealbox_run
        store=$(cat "$SCRATCH/last-store")
        if [ -n "${secs[sealbox build --compression $c]:-}" ]; then
            size[sealbox build --compression $c]=$(find "$store/blobs" -type f -printf '%s\n' | sort -n | tail -1)
        fi
    done
    # An unchanged rebuild, with the cache.
    cached=$(fresh store-cached)
    "$SEALBOX" build --build-mode lite -f "$ctx/Kubefile" --root "$cached" -t bench:cached "$ctx" >/dev/null 2>&1 || true
    measure "sealbox rebuild (cached)" "$SEALBOX" build --build-mode lite -f "$ctx/Kubefile" --root "$cached" -t bench:cached "$ctx"
else
    echo "  (no sealbox binary at $SEALBOX: cargo build --release first)" >&2
fi

# buildah last: it writes gigabytes into its storage (vfs copies).
if have buildah; then
    printf 'FROM scratch\nCOPY rootfs /\n' >"$ctx/Containerfile"
    # buildah commits uncompressed into its storage; the gzip layer is made
    # when the image leaves it, so the route ends with a push to an OCI
    # layout (gzip, buildah's default), as sealer's own push would.
    buildah_run() {
        local d
        d=$(fresh buildah)
        local b=(buildah --root "$d/root" --runroot "$d/run" --storage-driver vfs)
        "${b[@]}" build --timestamp 0 --layers=false --isolation chroot \
            -f "$ctx/Containerfile" -t bench "$ctx" >/dev/null 2>&1
        "${b[@]}" push --quiet bench "oci:$d/out:bench" >/dev/null 2>&1
        find "$d/out/blobs" -type f -printf '%s\n' | sort -n | tail -1 >"$SCRATCH/buildah.size"
    }
    measure "buildah build (gzip)" buildah_run
    if [ -f "$SCRATCH/buildah.size" ]; then size[buildah build (gzip)]=$(cat "$SCRATCH/buildah.size"); fi
fi


mb() { calc "$tar_bytes / ${secs[$1]} / 1000000"; }
echo
echo "| route | seconds | MB/s | layer bytes |"
echo "|---|---|---|---|"
for name in "tar | gzip -n -6" "tar | zstd -3 -T0" "tar | zstd, same work" "tar | sha256sum" "tar + umoci raw add-layer" \
    "buildah build (gzip)" "sealbox build --compression gzip" "sealbox build --compression zstd" \
    "sealbox build --compression none" "sealbox rebuild (cached)"; do
    [ -n "${secs[$name]:-}" ] || continue
    printf '| %s | %.2f | %.0f | %s |\n' "${name//|/\\|}" "${secs[$name]}" "$(mb "$name")" "${size[$name]:--}"
done

ratio() { # NAME_A NAME_B: how many times faster A is than B
    [ -n "${secs[$1]:-}" ] && [ -n "${secs[$2]:-}" ] || return 0
    printf '%.2f' "$(calc "${secs[$2]} / ${secs[$1]}")"
}
echo
echo "ratios (speed, higher is faster; goals in brackets):"
g="sealbox build --compression gzip"
r=$(ratio "$g" "tar | gzip -n -6"); [ -n "$r" ] && echo "  gzip vs tar | gzip -n -6:        ${r}x  [>= 2]"
r=$(ratio "$g" "tar + umoci raw add-layer"); [ -n "$r" ] && echo "  gzip vs tar + umoci:             ${r}x  [>= 1.2]"
r=$(ratio "$g" "buildah build (gzip)"); [ -n "$r" ] && echo "  gzip vs buildah:                 ${r}x"
if [ -n "${size[$g]:-}" ] && [ -n "${size[tar + umoci raw add-layer]:-}" ]; then
    printf '  gzip layer size vs umoci:        %.3f  [<= 1.05]\n' \
        "$(calc "${size[$g]} / ${size[tar + umoci raw add-layer]}")"
fi
r=$(ratio "sealbox build --compression zstd" "tar | zstd -3 -T0"); [ -n "$r" ] && echo "  zstd vs tar | zstd -3 -T0:       ${r}x  [>= 1.0]"
r=$(ratio "sealbox build --compression zstd" "tar | zstd, same work"); [ -n "$r" ] && echo "  zstd vs the same work piped:     ${r}x  (both digests, blob written)"
r=$(ratio "sealbox build --compression none" "tar | sha256sum"); [ -n "$r" ] && echo "  none vs tar | sha256sum:         ${r}x  [>= 0.8]"
if [ -n "${secs[sealbox rebuild (cached)]:-}" ]; then
    printf '  cached rebuild / first build:    %.3f  [<= 0.05]\n' \
        "$(calc "${secs[sealbox rebuild (cached)]} / ${secs[$g]}")"
fi
