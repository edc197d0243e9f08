#!/usr/bin/env bash
# Sets up a fresh machine, builds the bundled example cluster image, and
# shows it with skopeo: the newcomer's first command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked -p sealbox
export SEALBOX_ROOT="${SEALBOX_ROOT:-$PWD/target/demo-store}"
bin=target/release/sealbox
$bin build -t example/cluster-app:1.0.0 --policy examples/cluster-app/policies examples/cluster-app
echo
echo "== skopeo inspect oci:$SEALBOX_ROOT:example/cluster-app:1.0.0"
skopeo inspect "oci:$SEALBOX_ROOT:example/cluster-app:1.0.0" | head -30
echo
echo "== container images the install needs"
$bin inspect example/cluster-app:1.0.0 | python3 -c 'import json,sys; [print(" ", i["image"]) for i in json.load(sys.stdin)["containerImageList"]]'
