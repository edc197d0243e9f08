#!/usr/bin/env bash
# Concurrency campaign: ROUNDS times, 8 builds at once on one store (four
# of one context under four names, four of their own contexts), with
# `rmi` of earlier images (and so the store's gc) and `fsck` running
# beside them. Every build must either succeed with the digest a clean
# store gives its context or fail cleanly (no panic); afterwards `fsck` is
# clean and every name a build reported is listed with its digest.
#
#   scripts/reliability/concurrency.sh [ROUNDS] [MIB]
source "$(dirname "$0")/common.sh"
rounds="${1:-3}"
mib="${2:-8}"
S="$work/store"

# Contexts and the digests a clean store gives them.
declare -A expected
for c in same d1 d2 d3 d4; do
    make_context "$work/$c" "ctx-$c" "$mib"
    expected[$c]="$("$SB" build "$work/$c" --root "$work/clean-$c" 2>/dev/null | tail -n 1)"
    [ -n "${expected[$c]}" ] || { echo "the reference build of $c failed" >&2; exit 2; }
    rm -rf "$work/clean-$c"
done

builds=0 ok=0 refused=0
for r in $(seq 1 "$rounds"); do
    # Images for the removers to take away while the builds run: some of
    # them share the contexts' layers, so gc must not take those.
    for c in same d1 d2 d3 d4; do
        "$SB" build "$work/$c" --root "$S" -t "old-$c:$r" >/dev/null 2>&1 || fail "round $r: building old-$c"
    done
    pids=()
    for k in 1 2 3 4; do
        "$SB" build "$work/same" --root "$S" -t "same$k:$r" >"$work/out.same$k" 2>"$work/err.same$k" &
        pids+=($!)
        "$SB" build "$work/d$k" --root "$S" -t "d$k:$r" --no-cache >"$work/out.d$k" 2>"$work/err.d$k" &
        pids+=($!)
    done
    (for c in same d1 d2 d3 d4; do "$SB" rmi "old-$c:$r" --root "$S" >/dev/null 2>"$work/log.rmi" || echo "rmi old-$c:$r failed: $(cat "$work/log.rmi")" >>"$work/err.rmi"; done) &
    rmi_pid=$!
    (for _ in 1 2 3; do "$SB" fsck --root "$S" >"$work/log.fsck" 2>&1 || echo "fsck during the builds: $(cat "$work/log.fsck")" >>"$work/err.fsck"; done) &
    fsck_pid=$!
    for p in "${pids[@]}"; do wait "$p" || true; done
    wait "$rmi_pid"; wait "$fsck_pid"
    for f in rmi fsck; do
        if [ -s "$work/err.$f" ]; then fail "round $r: $f beside the builds: $(cat "$work/err.$f")"; rm -f "$work/err.$f"; fi
    done
    for k in 1 2 3 4; do
        for name in "same$k" "d$k"; do
            builds=$((builds + 1))
            ctx="${name%[0-9]}"; [ "$ctx" = same ] || ctx="$name"
            got="$(tail -n 1 "$work/out.$name")"
            if [ "$got" = "${expected[$ctx]}" ]; then
                ok=$((ok + 1))
                listed="$(digest_of "$S" "$name:$r")"
                [ "$listed" = "$got" ] || fail "round $r: $name:$r is listed as '$listed', the build said $got"
            elif [ -z "$got" ] && [ -s "$work/err.$name" ]; then
                # Failing is allowed if it is clean; say why it failed.
                refused=$((refused + 1))
                no_panic "$work/err.$name" "round $r: build $name"
                echo "round $r: build $name failed: $(tail -n 1 "$work/err.$name")"
            else
                fail "round $r: build $name gave '$got', not ${expected[$ctx]}: $(cat "$work/err.$name")"
            fi
        done
    done
    for c in same d1 d2 d3 d4; do
        [ -z "$(digest_of "$S" "old-$c:$r")" ] || fail "round $r: old-$c:$r survived its rmi"
    done
    fsck_clean "$S" "round $r" || true
    # The gc beside the builds gives way while they hold the store; alone,
    # it must free what nothing uses and keep what the names still need.
    "$SB" rmi "same1:$r" --root "$S" >/dev/null 2>"$work/log.rmi" || fail "round $r: rmi after the builds: $(cat "$work/log.rmi")"
    for k in 2 3 4; do
        [ "$(digest_of "$S" "same$k:$r")" = "${expected[same]}" ] || fail "round $r: same$k:$r lost after the gc"
    done
    fsck_clean "$S" "round $r after the gc" || true
    echo "round $r/$rounds: $ok of $builds builds right so far, $refused failed cleanly"
done
echo "RESULT concurrency: $rounds rounds, $builds builds, $ok right, $refused failed cleanly, $failures failures"
[ "$failures" = 0 ]
