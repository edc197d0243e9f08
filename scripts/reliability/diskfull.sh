#!/usr/bin/env bash
# Disk-full campaign: a store on a small tmpfs (size-limited, mounted in a
# private mount namespace made by `unshare`, so no root is needed where
# user namespaces are allowed and nothing outside sees the mount). A build
# that does not fit must fail naming the cause ("No space left on
# device"), leave no image and an fsck-clean store; once space is freed
# the same build must succeed with the digest a clean store gives.
#
#   scripts/reliability/diskfull.sh [ROUNDS]
#
# Each round fills the filesystem to a different level first, so the
# write that fails is a different one (layer, config, manifest, index).
if [ "${SEALBOX_DISKFULL_INNER:-}" != 1 ]; then
    command -v unshare >/dev/null || { echo "unshare not found (util-linux)" >&2; exit 2; }
    flags=(--mount)
    [ "$(id -u)" = 0 ] || flags=(--map-root-user --mount)
    export SEALBOX_DISKFULL_INNER=1
    exec unshare "${flags[@]}" bash "$0" "$@" || {
        echo "unshare ${flags[*]} failed: this campaign needs a private mount namespace (root, or unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1)" >&2
        exit 2
    }
fi
source "$(dirname "$0")/common.sh"
rounds="${1:-4}"
size_mib=24
mkdir -p "$work/small"
mount -t tmpfs -o "size=${size_mib}m" sealbox-diskfull "$work/small" ||
    { echo "mounting a ${size_mib} MiB tmpfs failed" >&2; exit 2; }
make_context "$work/ctx" diskfull 8
expected="$("$SB" build "$work/ctx" --root "$work/clean" -t full:v1 2>/dev/null | tail -n 1)"
[ -n "$expected" ] || { echo "the reference build failed" >&2; exit 2; }

for r in $(seq 1 "$rounds"); do
    S="$work/small/store$r"
    # Leave between 0 and ~7 MiB free: the 8 MiB layer never fits.
    free_kib=$(( (r - 1) * 7168 / (rounds > 1 ? rounds - 1 : 1) ))
    avail_kib="$(df -k --output=avail "$work/small" | tail -n 1)"
    head -c "$(( (avail_kib - free_kib) * 1024 ))" /dev/zero >"$work/small/filler" 2>/dev/null || true
    if "$SB" build "$work/ctx" --root "$S" -t full:v1 >"$work/out" 2>"$work/err"; then
        fail "round $r: the build succeeded with ${free_kib} KiB free"
    else
        no_panic "$work/err" "round $r: build on a full disk"
        grep -qi "no space left on device" "$work/err" || fail "round $r: the error does not name the cause: $(cat "$work/err")"
        echo "round $r (${free_kib} KiB free): $(tail -n 1 "$work/err")"
    fi
    if [ -f "$S/index.json" ]; then
        [ -z "$(digest_of "$S" full:v1)" ] || fail "round $r: a failed build left an image"
        fsck_clean "$S" "round $r after the failed build" || true
    fi
    rm -f "$work/small/filler"
    got="$("$SB" build "$work/ctx" --root "$S" -t full:v1 2>"$work/err" | tail -n 1)" || true
    [ "$got" = "$expected" ] || fail "round $r: after freeing space the build gave '$got', not $expected: $(cat "$work/err")"
    fsck_clean "$S" "round $r after the rebuild" || true
    rm -rf "$S"
done
umount "$work/small"
echo "RESULT diskfull: $rounds rounds, $failures failures"
[ "$failures" = 0 ]
