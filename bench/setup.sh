#!/usr/bin/env bash
# Installs what the benchmarks compare against, side by side:
#   - Debian's anchors: diffoscope 240 (diffoscope-minimal), strip-nondeterminism,
#     reprotest, disorderfs, faketime, umoci, hyperfine, and the decoders the
#     physical-floor lines use (zstd, pigz, isal's igzip);
#   - the newest diffoscope from PyPI, in a venv at $DIFFOSCOPE_VENV
#     (default /opt/diffoscope-venv), which bench/diff.sh runs as well;
#   - add-determinism (cargo install);
#   - the benchmark corpus (bench/make_corpus.sh) at $CORPUS
#     (default /tmp/repro-corpus, as for bench/normalize.sh).
# Needs root for apt-get; everything else goes through the registries'
# own clients. Safe to rerun: installed pieces are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${DIFFOSCOPE_VENV:-/opt/diffoscope-venv}

pkgs=(diffoscope-minimal strip-nondeterminism reprotest disorderfs faketime umoci hyperfine
      zstd pigz isal python3-venv bc time)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x "$venv/bin/diffoscope" ]; then
    python3 -m venv "$venv"
    # libarchive-c and python-magic: what diffoscope needs to open tars and
    # detect formats; the helper tools are Debian's, as for diffoscope 240.
    "$venv/bin/pip" install -q diffoscope libarchive-c python-magic
fi
echo "newest diffoscope: $("$venv/bin/diffoscope" --version)"

command -v add-det >/dev/null || cargo install -q add-determinism

corpus=${CORPUS:-/tmp/repro-corpus}
[ -f "$corpus/MANIFEST.tsv" ] || bash bench/make_corpus.sh "$corpus"
