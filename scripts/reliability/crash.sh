#!/usr/bin/env bash
# kill -9 campaign: starts `sealbox build`, `push`, `pull` or `rmi` (which
# collects the blobs nothing uses any more: the store's gc) and kills it
# with SIGKILL at a random moment, KILLS times in all, the operations in
# turn. After every kill: `fsck` of the store must be clean, the operation
# run again must succeed, and a rebuild of the reference context must give
# the digest a clean store gave. Prints one line per kill and a summary;
# exits 1 if anything failed.
#
#   scripts/reliability/crash.sh [KILLS] [MIB]
#
# MIB is the size of the context's layer (default 16): larger widens the
# window in which a kill lands mid-write.
source "$(dirname "$0")/common.sh"
kills="${1:-200}"
mib="${2:-16}"
start_registry

make_context "$work/ctx" reference "$mib"
# The digest a clean store gives: what every rebuild must give again.
expected="$("$SB" build "$work/ctx" --root "$work/clean" -t ref:v1 2>/dev/null | tail -n 1)"
[ -n "$expected" ] || { echo "the reference build failed" >&2; exit 2; }
A="$work/store"   # builds, pushes, rmi
B="$work/pulled"  # pulls, emptied before each
"$SB" build "$work/ctx" --root "$A" -t ref:v1 >/dev/null 2>&1
"$SB" push ref:v1 "$registry/camp/ref:v1" --insecure --root "$A" >/dev/null 2>&1 || { echo "the first push failed" >&2; exit 2; }

# A build whose step is cached takes a fraction of one that runs it: each
# variant is timed on its own (`variant OP I` names it).
variant() { if [ "$1" = build ] && [ $((($2 + 3) / 4 % 2)) = 1 ]; then echo build-cached; else echo "$1"; fi; }

# prepare OP I: puts the store in the state OP starts from (not killed).
# Prints the command to kill.
prepare() {
    local op="$1" i="$2"
    case "$op" in
        build)
            # Every other build (of the builds, which come every 4th run)
            # runs its step again; the others find it cached.
            if [ "$(variant build "$i")" = build ]; then
                echo "$SB build $work/ctx --root $A -t ref:v1 --no-cache"
            else
                echo "$SB build $work/ctx --root $A -t ref:v1"
            fi ;;
        push)
            # A new image each time, so its blobs really travel.
            make_context "$work/p$i" "push-$i" "$mib"
            "$SB" build "$work/p$i" --root "$A" -t "push:$i" >/dev/null 2>&1 || fail "push $i: building what to push"
            rm -rf "$work/p$i"
            echo "$SB push push:$i $registry/camp/p$i:v1 --insecure --root $A" ;;
        pull)
            "$SB" rmi "$registry/camp/ref:v1" --root "$B" >/dev/null 2>&1 || true
            echo "$SB pull $registry/camp/ref:v1 --insecure --root $B" ;;
        rmi)
            make_context "$work/r$i" "rmi-$i" "$mib"
            "$SB" build "$work/r$i" --root "$A" -t "gone:$i" >/dev/null 2>&1 || fail "rmi $i: building what to remove"
            rm -rf "$work/r$i"
            echo "$SB rmi gone:$i --root $A" ;;
    esac
}

# finish OP I: runs OP to completion after the kill and checks its result.
finish() {
    local op="$1" i="$2" cmd="$3" out
    case "$op" in
        build) ;; # the rebuild below is the check
        push)
            out="$($cmd 2>"$work/err" | tail -n 1)" || { no_panic "$work/err" "push $i"; fail "push $i again: $(cat "$work/err")"; return; }
            [ "$out" = "$(digest_of "$A" "push:$i")" ] || fail "push $i again reported $out, not the local digest"
            # Free the pushed image so the store stays small; gc runs here.
            "$SB" rmi "push:$i" --root "$A" >/dev/null 2>&1 || fail "rmi push:$i after the push" ;;
        pull)
            out="$($cmd 2>"$work/err" | tail -n 1)" || { no_panic "$work/err" "pull $i"; fail "pull $i again: $(cat "$work/err")"; return; }
            [ "$out" = "$expected" ] || fail "pull $i again gave $out, not $expected"
            fsck_clean "$B" "pull $i after the retry" || true ;;
        rmi)
            # The kill may have come after the removal: then the name is gone.
            if [ -n "$(digest_of "$A" "gone:$i")" ]; then
                $cmd >/dev/null 2>"$work/err" || fail "rmi $i again: $(cat "$work/err")"
            fi
            [ -z "$(digest_of "$A" "gone:$i")" ] || fail "rmi $i: gone:$i is still listed" ;;
    esac
}

ops=(build push pull rmi)
# How long each operation takes uninterrupted, so kills land inside it.
declare -A took
for probe in "build 0" "build 1" "push 0" "pull 0" "rmi 0"; do
    read -r op i <<<"$probe"
    cmd="$(prepare "$op" "$i")"
    t0="$(date +%s.%N)"
    $cmd >/dev/null 2>"$work/err" || { echo "$op (calibration) failed: $(cat "$work/err")" >&2; exit 2; }
    v="$(variant "$op" "$i")"
    took[$v]="$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$t0" "$(date +%s.%N)")"
    finish "$op" "$i" "$cmd" >/dev/null 2>&1 || true
    echo "calibration: $v takes ${took[$v]}s"
done
landed=0
for i in $(seq 1 "$kills"); do
    op="${ops[$(((i - 1) % 4))]}"
    cmd="$(prepare "$op" "$i")"
    # A random moment of the operation's run (a little past its end, so
    # the moment of committing is covered too).
    delay="$(python3 -c 'import random, sys; print(f"{random.uniform(0, 1.05 * float(sys.argv[1])):.3f}")' "${took[$(variant "$op" "$i")]}")"
    $cmd >/dev/null 2>"$work/err" &
    pid=$!
    sleep "$delay"
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        landed=$((landed + 1))
        state=killed
    else
        wait "$pid" 2>/dev/null && state=finished || { state=failed; no_panic "$work/err" "$op $i"; fail "$op $i failed before the kill: $(cat "$work/err")"; }
    fi
    store="$A"; [ "$op" = pull ] && store="$B"
    fsck_clean "$store" "$op $i ($state at ${delay}s)" || true
    finish "$op" "$i" "$cmd"
    got="$("$SB" build "$work/ctx" --root "$A" -t ref:v1 2>"$work/err" | tail -n 1)" || true
    [ "$got" = "$expected" ] || fail "$op $i: the rebuild gave '$got', not $expected: $(cat "$work/err")"
    fsck_clean "$A" "$op $i after the rebuild" || true
    echo "kill $i/$kills: $(variant "$op" "$i") $state at ${delay}s"
done
echo "RESULT crash: $kills runs, $landed killed mid-operation, $failures failures"
[ "$failures" = 0 ]
