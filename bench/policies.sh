#!/usr/bin/env bash
# Pipeline policy benchmark: one `sealbox build` with 10 third-party policy
# modules (pipeline steps, after-render) over 1,000 manifests, against the
# same build without them, the same checks run natively, and 10 no-op
# modules (what a step costs before the module does any work). The policy
# build runs twice side by side: each module parsing the YAML itself, and
# the same modules granted the documents view (`documents: true`: the
# `documents` builtin decodes the tree once, every module reads its JSON).
#
# usage: bench/policies.sh
#
# Environment:
#   SEALBOX    the binary (default target/release/sealbox)
#   MANIFESTS  how many manifests (default 1000)
#   MODULES    how many policy steps (default 10)
#   REPEAT     runs per measurement, the best is reported (default 5): on a
#              machine shared with other work the fastest run is the one
#              least disturbed
#   SCRATCH    where to work (default a new directory under ${TMPDIR:-/tmp})
#   KEEP=1     keep the scratch directory
#
# Each module is the example policy examples/modules/rust-require-limits
# with a custom section of its own, so the 10 steps are 10 different
# modules (10 digests, 10 compiled artefacts), as 10 teams' policies would be.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)
SEALBOX=${SEALBOX:-$repo/target/release/sealbox}
MANIFESTS=${MANIFESTS:-1000}
MODULES=${MODULES:-10}
REPEAT=${REPEAT:-5}
SCRATCH=${SCRATCH:-$(mktemp -d "${TMPDIR:-/tmp}/sealbox-policies.XXXXXX")}
mkdir -p "$SCRATCH"
if [ "${KEEP:-0}" != 1 ]; then
    trap 'rm -rf "$SCRATCH"' EXIT
fi
export SEALBOX_CACHE="$SCRATCH/module-cache"
mkdir -p "$SEALBOX_CACHE" && chmod 700 "$SEALBOX_CACHE"

echo "building the modules..." >&2
cargo build --release --quiet --target wasm32-wasip1 -p rust-require-limits --target-dir "$repo/target/example-modules"
cargo build --release --quiet --target wasm32-wasip1 --manifest-path tests/modules/Cargo.toml \
    --target-dir "$repo/target/test-modules"
cargo build --release --quiet -p rust-require-limits --example evaluate
policy_wasm=$repo/target/example-modules/wasm32-wasip1/release/rust-require-limits.wasm
noop_wasm=$repo/target/test-modules/wasm32-wasip1/release/noop.wasm
native=$repo/target/release/examples/evaluate

ctx=$SCRATCH/ctx
mkdir -p "$ctx/rootfs/manifests" "$ctx/modules"
printf 'FROM scratch\nCOPY rootfs .\n' >"$ctx/Kubefile"
python3 - "$ctx" "$MANIFESTS" "$MODULES" "$policy_wasm" "$noop_wasm" <<'EOF'
import hashlib, os, sys
ctx, n, m, policy, noop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
for i in range(n):
    with open(f"{ctx}/rootfs/manifests/app-{i:04d}.yaml", "w") as f:
        f.write(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  labels: {{app: app-{i}, team: t{i % 7}}}
spec:
  replicas: {1 + i % 3}
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels: {{app: app-{i}}}
    spec:
      containers:
        - name: app
          image: registry.example.com/app-{i}:1.{i % 10}
          ports: [{{containerPort: 8080}}]
          resources:
            requests: {{cpu: 100m, memory: 64Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
        - name: sidecar
          image: registry.example.com/proxy:2.1
          resources:
            limits: {{cpu: 100m, memory: 64Mi}}
""")

def leb(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)

def variant(src, dst, tag):
    # A custom section of its own makes a different module (digest) with
    # the same code.
    name = b"bench"
    payload = leb(len(name)) + name + tag.encode()
    data = open(src, "rb").read() + b"\x00" + leb(len(payload)) + payload
    open(dst, "wb").write(data)
    return "sha256:" + hashlib.sha256(data).hexdigest()

for kind, src, grant in (("policy", policy, ""), ("view", policy, ", documents: true"), ("noop", noop, "")):
    steps = []
    module = "policy" if kind == "view" else kind
    for j in range(m):
        digest = variant(src, f"{ctx}/modules/{module}-{j}.wasm", f"{module}-{j}")
        steps.append(f"""  - name: {kind}-{j}
    stage: after-render
    module: modules/{module}-{j}.wasm
    digest: {digest}
    kind: policy
    grants: {{tree: manifests{grant}}}
""")
    with open(f"{ctx}/{kind}.yaml", "w") as f:
        f.write("apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps:\n" + "".join(steps))
with open(f"{ctx}/none.yaml", "w") as f:
    f.write("apiVersion: sealbox.io/v1\nkind: Pipeline\nsteps: []\n")
EOF

now() { date +%s.%N; }
best() { sort -g | head -1; }

# One build with pipeline FILE into a fresh store; prints its wall time and
# leaves its JSON outcome in $SCRATCH/last.json.
build() {
    local store
    store=$(mktemp -d "$SCRATCH/store.XXXXXX")
    local t0 t1
    t0=$(now)
    "$SEALBOX" build --build-mode lite "$ctx" --root "$store" --no-cache --pipeline "$ctx/$1.yaml" --format json -t b \
        >"$SCRATCH/last.json" 2>"$SCRATCH/last.err" || { cat "$SCRATCH/last.err" >&2; exit 1; }
    t1=$(now)
    awk "BEGIN { print $t1 - $t0 }"
}

# The mean duration of the pipeline steps of the last build, in seconds.
step_mean() {
    python3 -c '
import json, sys
steps = [s for s in json.load(open(sys.argv[1]))["steps"] if s["name"].startswith("after-render ")]
print(sum(s["duration"] for s in steps) / len(steps))' "$SCRATCH/last.json"
}

# The same findings either way: the view changes how the modules read,
# not what they find.
verdicts() {
    python3 -c '
import json, sys
print(json.dumps(sorted((v["file"], v["line"], v["message"]) for v in json.load(open(sys.argv[1])).get("verdicts", []))))' "$SCRATCH/last.json"
}

echo "warming the module cache..." >&2
# Compiled ahead, so no build compiles a module: a build that compiles
# pipeline modules can hang on this 2-core machine (the compile-ahead
# thread waits for rayon workers that wait for its result).
"$SEALBOX" module compile --root "$SCRATCH/compile-store" "$ctx"/modules/*.wasm >/dev/null
build policy >/dev/null
verdicts >"$SCRATCH/policy.verdicts"
build view >/dev/null
verdicts >"$SCRATCH/view.verdicts"
cmp -s "$SCRATCH/policy.verdicts" "$SCRATCH/view.verdicts" || {
    echo "the modules found different things with the documents view" >&2
    exit 1
}
build noop >/dev/null

# Rounds interleave the kinds, so a slower or busier moment of a shared
# machine falls on all of them alike (the view and parsing side by side).
declare -A wall steps times means
for _ in $(seq "$REPEAT"); do
    for kind in none policy view noop; do
        times[$kind]+="$(build "$kind") "
        if [ "$kind" != none ]; then means[$kind]+="$(step_mean) "; fi
    done
done
for kind in none policy view noop; do
    wall[$kind]=$(tr ' ' '\n' <<<"${times[$kind]}" | grep . | best)
    if [ "$kind" != none ]; then steps[$kind]=$(tr ' ' '\n' <<<"${means[$kind]}" | grep . | best); fi
done
native_line=$("$native" "$ctx/rootfs/manifests" 10)
native_ms=$(sed 's/.*best_ms=\([0-9.]*\).*/\1/' <<<"$native_line")

awk -v n="$MANIFESTS" -v m="$MODULES" -v base="${wall[none]}" -v pol="${wall[policy]}" -v noop="${wall[noop]}" \
    -v view="${wall[view]}" -v vs="${steps[view]}" \
    -v ps="${steps[policy]}" -v ns="${steps[noop]}" -v nat="$native_ms" 'BEGIN {
    added = (pol - base) / m / n * 1e6
    printf "%d policy modules x %d manifests, best of runs, --no-cache builds\n", m, n
    printf "%-52s %10.3f s\n", "build without pipeline steps", base
    printf "%-52s %10.3f s\n", "build with the policy steps", pol
    printf "%-52s %10.3f s\n", "build with the policy steps on the documents view", view
    printf "%-52s %10.3f s\n", "build with as many no-op steps", noop
    printf "%-52s %10.2f us\n", "added time per module per manifest", added
    printf "%-52s %10.2f us\n", "  the same on the documents view (view included)", (view - base) / m / n * 1e6
    printf "%-52s %10.2f us\n", "  of which step start-up etc. (no-op steps)", (noop - base) / m / n * 1e6
    printf "%-52s %10.2f ms\n", "one policy step in the sandbox, whole tree", ps * 1e3
    printf "%-52s %10.2f ms\n", "one no-op step in the sandbox, whole tree", ns * 1e3
    printf "%-52s %10.2f us\n", "one policy step in the sandbox, per manifest", ps / n * 1e6
    printf "%-52s %10.2f us\n", "  the same step on the documents view", vs / n * 1e6
    printf "%-52s %10.2f us\n", "one no-op step (start-up, request, /in), per manifest", ns / n * 1e6
    printf "%-52s %10.2f us\n", "the same checks natively, per manifest", nat / n * 1e3
    printf "%-52s %10.2f\n", "policy step in the sandbox / native", (ps * 1e3) / nat
    printf "%-52s %10.1f %%\n", "no-op step time / policy step time", ns / ps * 100
}'
