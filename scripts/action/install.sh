#!/usr/bin/env bash
# Installs repro for action.yml's later steps and puts it on GITHUB_PATH.
#
# Order: INPUT_REPRO_BINARY (a binary already on the runner: self-hosted
# runners, and the local test of these scripts); else the release asset
# `repro-x86_64-unknown-linux-gnu.tar.gz` of the action's tag, checked
# against its `.sha256` asset; else `cargo install --locked` from the
# action's own checkout (GITHUB_ACTION_PATH), which is the tagged source.
set -euo pipefail

bin_dir=${RUNNER_TEMP:-/tmp}/repro-bin
mkdir -p "$bin_dir"
add_path() { echo "$bin_dir" >> "${GITHUB_PATH:-/dev/null}"; }

if [ -n "${INPUT_REPRO_BINARY:-}" ]; then
    [ -x "$INPUT_REPRO_BINARY" ] || { echo "::error::repro-binary $INPUT_REPRO_BINARY is not an executable file"; exit 2; }
    ln -sf "$(realpath "$INPUT_REPRO_BINARY")" "$bin_dir/repro"
    add_path
    "$bin_dir/repro" --version
    exit 0
fi

ref=${INPUT_VERSION:-${ACTION_REF:-}}
repo=${ACTION_REPOSITORY:-}
asset=repro-x86_64-unknown-linux-gnu.tar.gz
if [ -n "$ref" ] && [ -n "$repo" ] && [ "$(uname -m)" = x86_64 ]; then
    url="${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download/$ref/$asset"
    tmp=$(mktemp -d)
    if curl -fsSL -o "$tmp/$asset" "$url" && curl -fsSL -o "$tmp/$asset.sha256" "$url.sha256"; then
        # The checksum file names the asset as `sha256sum` writes it.
        (cd "$tmp" && sha256sum -c "$asset.sha256")
        tar -xzf "$tmp/$asset" -C "$bin_dir" repro
        add_path
        "$bin_dir/repro" --version
        exit 0
    fi
    echo "no release asset $asset for $repo@$ref; building from the tagged source"
fi

src=${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is unset: not running as an action}
cargo install --locked --root "${RUNNER_TEMP:-/tmp}/repro-cargo" --path "$src/builder"
ln -sf "${RUNNER_TEMP:-/tmp}/repro-cargo/bin/repro" "$bin_dir/repro"
add_path
"$bin_dir/repro" --version
