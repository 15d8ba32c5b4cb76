#!/usr/bin/env bash
# Runs `repro build` for action.yml on the caller's tree (its repro.toml
# gives the command and artifacts), with the SBOM, signed when a key is
# given. Never fails on the verdict itself: the upload step runs first and
# policy.sh decides. Writes `verdict`, `out` and `exit-code` to
# GITHUB_OUTPUT.
#
# Inputs (environment): INPUT_SOURCE, INPUT_OUT, INPUT_ARGS (extra flags,
# split on whitespace), SIGNING_KEY (the PEM text, from a secret; never
# echoed, written 0600 and removed on exit).
set -euo pipefail

repro=${REPRO:-repro}
source_dir=${INPUT_SOURCE:-.}
out=${INPUT_OUT:-repro-out}
flags=(--out "$out" --sbom)
if [ -n "${SIGNING_KEY:-}" ]; then
    key_dir=$(mktemp -d)
    trap 'rm -rf "$key_dir"' EXIT
    (umask 077 && printf '%s\n' "$SIGNING_KEY" > "$key_dir/release.key")
    flags+=(--sign "$key_dir/release.key")
fi
# shellcheck disable=SC2206 # word splitting of the extra flags is the point
extra=(${INPUT_ARGS:-})

set +e
"$repro" build "$source_dir" "${flags[@]}" "${extra[@]}"
code=$?
set -e
verdict=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"])' \
    "$out/report.json" 2>/dev/null || echo ERROR)
{
    echo "verdict=$verdict"
    echo "out=$out"
    echo "exit-code=$code"
} >> "${GITHUB_OUTPUT:-/dev/null}"
echo "repro build exited $code; verdict $verdict"
if [ ! -f "$out/report.json" ]; then
    echo "::error::repro build wrote no report ($out/report.json)"
    exit 2
fi
