#!/usr/bin/env bash
# `sealbox policy apply` over many resources: wall time, evaluations per
# second and peak resident memory, for two input sizes side by side, so the
# memory growth between them is measured in one run.
#
# usage: bench/policy_apply.sh [N1 N2]       (default 10000 100000 Pods)
#
# The policies are the pod-security ClusterPolicies of Kyverno's library
# (../shared/kyverno/policies/pod-security, one file per policy, no tests or
# kustomizations). The Pods are bench/pods.py's: one file of N documents,
# every fourth Pod privileged, so the run has failures to report.
# Environment: SEALBOX (default target/release/sealbox), SHARED (../shared),
# OUTPUT (table, json, sarif, junit or policy-report; default table),
# SCRATCH, KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
SEALBOX=${SEALBOX:-$repo/target/release/sealbox}
SHARED=${SHARED:-$repo/../shared}
OUTPUT=${OUTPUT:-table}
sizes=("${1:-10000}" "${2:-100000}")
SCRATCH=${SCRATCH:-$(mktemp -d "${TMPDIR:-/tmp}/sealbox-apply.XXXXXX")}
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$SCRATCH"' EXIT
[ -x "$SEALBOX" ] || { echo "no sealbox binary at $SEALBOX: cargo build --release -p sealbox --locked" >&2; exit 1; }
[ -d "$SHARED/kyverno/policies/pod-security" ] || { echo "$SHARED/kyverno/policies/pod-security not found" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found: apt-get install time" >&2; exit 1; }
export SEALBOX_CACHE="$SCRATCH/cache"

mkdir -p "$SCRATCH/policies"
python3 - "$SHARED/kyverno/policies/pod-security" "$SCRATCH/policies" <<'PY'
import os, shutil, sys
src, dst = sys.argv[1:]
for root, _, files in os.walk(src):
    for f in files:
        if f.endswith(".yaml") and f not in ("kustomization.yaml", "kyverno-test.yaml", "resource.yaml") \
                and "/.chainsaw-test" not in root and "/.kyverno-test" not in root:
            text = open(os.path.join(root, f)).read()
            if "kind: ClusterPolicy" in text:
                shutil.copy(os.path.join(root, f), os.path.join(dst, os.path.basename(root) + ".yaml"))
PY
policies=$(ls "$SCRATCH/policies" | wc -l)

for n in "${sizes[@]}"; do
    python3 bench/pods.py "$n" "$SCRATCH/pods-$n.yaml"
done

# Warm the module cache so neither size pays the compile.
"$SEALBOX" policy apply -p "$SCRATCH/policies" -r "$SCRATCH/pods-${sizes[0]}.yaml" >/dev/null 2>&1 || true
printf '%-8s %8s %10s %12s %10s\n' pods seconds evals evals/s peak_MiB
declare -A rss
for n in "${sizes[@]}"; do
    start=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$SCRATCH/time-$n" "$SEALBOX" policy apply -p "$SCRATCH/policies" \
        -r "$SCRATCH/pods-$n.yaml" -o "$OUTPUT" >"$SCRATCH/out-$n" 2>"$SCRATCH/err-$n" || true
    end=$(date +%s.%N)
    kib=$(tail -1 "$SCRATCH/time-$n")
    rss[$n]=$kib
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    evals=$((n * policies))
    printf '%-8s %8s %10s %12.0f %10.0f\n' "$n" "$secs" "$evals" "$(awk -v e="$evals" -v s="$secs" 'BEGIN { print e / s }')" \
        "$(awk -v k="$kib" 'BEGIN { print k / 1024 }')"
    if ! grep -q . "$SCRATCH/out-$n"; then echo "no output for $n pods: $(tail -3 "$SCRATCH/err-$n")" >&2; exit 1; fi
done
awk -v a="${rss[${sizes[0]}]}" -v b="${rss[${sizes[1]}]}" -v n1="${sizes[0]}" -v n2="${sizes[1]}" \
    'BEGIN { printf "peak memory %s vs %s Pods: %.2fx [goal <= 1.2x, both < 150 MiB]\n", n2, n1, b / a }'
