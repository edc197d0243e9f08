#!/usr/bin/env bash
# Sets up a fresh machine, builds the bundled example cluster image with the
# container images its install needs inside (`registry/`, as sealer's default
# build mode has them), and shows it with skopeo: the newcomer's first command.
#
# It needs no internet: a local docker-registry on 127.0.0.1 stands in for
# docker.io, quay.io and registry.k8s.io (`--registry-mirror`), holding
# stand-in images that sealbox builds and pushes itself. With real
# registries, drop the --registry-mirror flags (and log in with
# `sealbox login` where they need it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked -p sealbox
export SEALBOX_ROOT="${SEALBOX_ROOT:-$PWD/target/demo-store}"
bin=$PWD/target/release/sealbox

# The local registry, on a free port, gone when the script ends.
work=$(mktemp -d)
trap 'kill "$(cat "$work/registry/pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$work"' EXIT
source scripts/lib/registry.sh
mirror=$(start_registry_in "$work/registry")

# Stand-ins for the images the example names (its manifests, its app and
# its imageList), under the repository paths their registries use.
mkdir -p "$work/standin"
echo "a stand-in image made by scripts/demo.sh" >"$work/standin/README"
printf 'FROM scratch\nCOPY README /\n' >"$work/standin/Kubefile"
$bin build --build-mode lite -t demo/standin:1 "$work/standin" >/dev/null
for image in prometheus/node-exporter:v1.6.1 library/busybox:1.36 library/nginx:1.25-alpine \
    coreos/etcd:v3.5.9 pause:3.9; do
    $bin push demo/standin:1 "$mirror/$image" --insecure >/dev/null 2>&1
done

$bin build -t example/cluster-app:1.0.0 --policy examples/cluster-app/policies \
    --registry-mirror "docker.io=http://$mirror" --registry-mirror "quay.io=http://$mirror" \
    --registry-mirror "registry.k8s.io=http://$mirror" examples/cluster-app
echo
echo "== skopeo inspect oci:$SEALBOX_ROOT:example/cluster-app:1.0.0"
skopeo inspect "oci:$SEALBOX_ROOT:example/cluster-app:1.0.0" | head -30
echo
echo "== container images the install needs, inside the image's registry/"
$bin inspect example/cluster-app:1.0.0 | python3 -c '
import json, sys
o = json.load(sys.stdin)["offlineImages"]
for i in o["images"]:
    print(" ", i["image"], i["digest"][:19])
print("  total", o["humanSize"])'
