#!/usr/bin/env bash
# Fuzzes every target in host/fuzz with AFL++ (stable Rust, via cargo-afl)
# for SECONDS each (default 180), one or JOBS at a time, and prints
# executions, crashes and hangs per target from AFL++'s fuzzer_stats.
# Crashes are left in $OUT/TARGET/default/crashes: copy each into
# host/fuzz/regressions/TARGET/ once fixed, where `cargo test` replays it.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# EXECS=N stops each target after about N executions (AFL++'s -E) or
# SECONDS, whichever comes first; OUT sets the output dir (target/fuzz-out).
#
# Needs cargo-afl (`cargo install cargo-afl && cargo afl config --build`);
# scripts/setup.sh installs it on CI or when SEALBOX_FUZZ=1. Runs go through
# `cargo afl fuzz`: Debian's afl-fuzz does not match cargo-afl's runtime
# (its fork server dies on the first input). The AFL_* settings below need
# no root: no CPU governor change, no core_pattern change.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-180}"
shift || true
jobs="${JOBS:-1}"
out="${OUT:-target/fuzz-out}"
cargo afl --version >/dev/null 2>&1 || { echo "cargo-afl not found: SEALBOX_FUZZ=1 scripts/setup.sh"; exit 1; }
# The builtins are wasm built without instrumentation either way (host/build.rs
# drops RUSTFLAGS); share the normal build's wasm target dir to build them once.
export SEALBOX_WASM_TARGET_DIR="${SEALBOX_WASM_TARGET_DIR:-$PWD/target/wasm-builtins}"
# A separate target dir: instrumented objects must not mix with the normal build.
CARGO_TARGET_DIR=target/afl cargo afl build --release -p sealbox-fuzz --features afl --bin fuzz-afl
bin=target/afl/release/fuzz-afl
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(ls host/fuzz/seeds); fi
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
# The pipeline_file, oci_layout and tar_archive harnesses write a temp tree per
# input; on a RAM filesystem that costs no disk I/O (TMPDIR set by the caller wins).
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
run_one() {
    local t="$1"
    mkdir -p "$out/$t"
    # -t: a run over 2 s is a hang; -m: 512 MiB address space cap on top of
    # the harness's own limits, so an allocation bomb is a finding.
    local budget=(-V "$seconds")
    if [ -n "${EXECS:-}" ]; then budget+=(-E "$EXECS"); fi
    timeout --signal=INT "$((seconds + 30))" nice -n "${NICE:-0}" cargo afl fuzz "${budget[@]}" -t 2000 -m 512 \
        -i "host/fuzz/seeds/$t" -o "$out/$t" -- "$bin" "$t" >"$out/$t.log" 2>&1 || true
}
running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait
printf '%-20s %12s %8s %8s %10s\n' target executions crashes hangs seconds
status=0
for t in "${targets[@]}"; do
    stats="$out/$t/default/fuzzer_stats"
    if [ ! -f "$stats" ]; then echo "$t: no fuzzer_stats (see $out/$t.log)"; status=1; continue; fi
    get() { awk -F': *' -v k="$1" '$1 ~ "^"k" *$" { print $2 }' "$stats"; }
    crashes=$(get saved_crashes); hangs=$(get saved_hangs)
    printf '%-20s %12s %8s %8s %10s\n' "$t" "$(get execs_done)" "$crashes" "$hangs" "$(get run_time)"
    if [ "${crashes:-0}" != 0 ] || [ "${hangs:-0}" != 0 ]; then status=1; fi
done
exit $status
