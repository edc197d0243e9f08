# Shared by the reliability campaigns (crash.sh, concurrency.sh,
# diskfull.sh): the binary under test, a scratch directory, contexts of
# incompressible bytes, a local registry, and the checks every campaign
# ends a round with. Sourced, not run.
#
# SEALBOX_BIN  the binary (default target/debug/sealbox, built by cargo)
# KEEP=1       keep the scratch directory for a post-mortem

set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$repo/scripts/lib/registry.sh"
SB="${SEALBOX_BIN:-$repo/target/debug/sealbox}"
[ -x "$SB" ] || { echo "no sealbox binary at $SB: run cargo build --workspace --locked (or set SEALBOX_BIN)" >&2; exit 2; }
work="$(mktemp -d "${TMPDIR:-/tmp}/sealbox-campaign.XXXXXX")"
# The module cache is private to the campaign, its key outside it.
export SEALBOX_CACHE="$work/cache" SEALBOX_CACHE_KEY="$work/key/cache.key"
unset SOURCE_DATE_EPOCH SEALBOX_ROOT
registry_pid=""
cleanup() {
    if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
    if [ "${KEEP:-0}" = 1 ]; then echo "scratch kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

failures=0
# Records a failure (the campaign goes on, and exits 1 at the end).
fail() {
    failures=$((failures + 1))
    echo "FAIL: $*" >&2
}

# make_context DIR SEED MIB: a build context whose one layer holds MIB MiB
# of bytes that do not compress, different for each SEED.
make_context() {
    local dir="$1" seed="$2" mib="$3"
    mkdir -p "$dir/files"
    python3 -c 'import random, sys; sys.stdout.buffer.write(random.Random(sys.argv[1]).randbytes(int(sys.argv[2]) << 20))' \
        "$seed" "$mib" >"$dir/files/data"
    echo "$seed" >"$dir/files/seed"
    printf 'FROM scratch\nCOPY files /files\n' >"$dir/Kubefile"
}

# fsck_clean STORE WHAT: the store's blobs match their digests and every
# reference resolves; otherwise a failure naming WHAT.
fsck_clean() {
    local out
    if ! out="$("$SB" fsck --root "$1" 2>&1)"; then
        fail "$2: fsck of $1: $out"
        return 1
    fi
}

# digest_of STORE NAME: the manifest digest the store names NAME ("" if none).
digest_of() {
    "$SB" images --json --root "$1" | python3 -c '
import json, sys
name = sys.argv[1]
print(next((i["digest"] for i in json.load(sys.stdin) if i["name"] == name), ""))' "$2"
}

# start_registry: a local registry (scripts/lib/registry.sh); sets
# $registry (host:port). Killed by cleanup.
start_registry() {
    registry="$(start_registry_in "$work/registry")" || exit 2
    registry_pid="$(cat "$work/registry/pid")"
}

# no_panic FILE WHAT: a failing command still failed cleanly.
no_panic() {
    if grep -q "panicked\|RUST_BACKTRACE" "$1"; then fail "$2 panicked: $(head -c 2000 "$1")"; fi
}
