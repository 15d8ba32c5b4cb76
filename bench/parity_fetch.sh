#!/usr/bin/env bash
# Fetches the test data of the tools repro measures itself against, into
# OUTDIR (default target/parity-data), using only the registries' own clients:
#   OUTDIR/diffoscope/             diffoscope's sdist (pip download):
#                                  tests/data and tests/comparators/*.py
#   OUTDIR/strip-nondeterminism/   Debian's source package (apt-get source):
#                                  t/fixtures/<handler>/<name>.in / .out, or,
#                                  where the source is not served, fixtures
#                                  made with Debian's strip-nondeterminism
#                                  binary on diffoscope's test data
#   OUTDIR/add-determinism/        the add-determinism crate (cargo fetch in
#                                  a throwaway project) and whatever test
#                                  inputs the published crate carries
# It also installs the newest diffoscope (332 if PyPI has it) into a venv
# at $DIFFOSCOPE_VENV (default target/venv-diffoscope) and the Debian helper
# tools diffoscope calls for these formats. Needs root for apt-get.
# Safe to rerun: what is already there is kept.
#
#   bash bench/parity_fetch.sh [OUTDIR]
set -euo pipefail
out=$(realpath -m "${1:-target/parity-data}")
venv=${DIFFOSCOPE_VENV:-target/venv-diffoscope}
dversion=${DIFFOSCOPE_VERSION:-332}
mkdir -p "$out"

# --- diffoscope: the sdist carries tests/ (the wheel does not).
if [ ! -d "$out/diffoscope/tests/data" ]; then
    tmp=$(mktemp -d)
    pip download -q --no-binary :all: --no-deps -d "$tmp" "diffoscope==$dversion" \
        || pip download -q --no-binary :all: --no-deps -d "$tmp" diffoscope
    tar -xzf "$tmp"/diffoscope-*.tar.gz -C "$tmp"
    rm -rf "$out/diffoscope"
    mv "$tmp"/diffoscope-*/ "$out/diffoscope"
    rm -rf "$tmp"
fi
echo "diffoscope sdist: $(basename "$(readlink -f "$out/diffoscope")") ($(ls "$out/diffoscope/tests/data" | wc -l) files in tests/data)"

# --- Debian helper tools diffoscope shells out to for these formats.
pkgs=(diffoscope-minimal strip-nondeterminism binutils xz-utils zstd lz4 bzip2 unzip
      zip cpio libarchive-tools python3-venv time dpkg-dev e2fsprogs squashfs-tools
      gettext sng openjdk-17-jdk-headless)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    # A helper that is not in the archive must not stop the fetch.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || echo "warning: some helper packages did not install: ${missing[*]}" >&2
fi

# --- the newest diffoscope in a venv, with the Python libraries it uses
# for archives and file-type detection.
if [ ! -x "$venv/bin/diffoscope" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "diffoscope==$dversion" libarchive-c python-magic \
        || "$venv/bin/pip" install -q diffoscope libarchive-c python-magic
fi
echo "venv diffoscope: $("$venv/bin/diffoscope" --version)"

# --- strip-nondeterminism: Debian's source package holds t/fixtures.
# Where the archive serves only binary packages (apt-get source fails on
# the .orig tarball), the fixtures are made here instead: Debian's
# strip-nondeterminism binary is run on the files of diffoscope's test data
# in the formats it handles, each copy kept as NAME.in and its output as
# NAME.out (t/fixtures' layout), so that the yardstick asks the same
# question of them: do repro's canonical forms of .in and .out agree?
sn=$out/strip-nondeterminism
if [ ! -d "$sn/t/fixtures" ]; then
    src=/etc/apt/sources.list.d/repro-parity-src.sources
    if [ ! -f "$src" ]; then
        cat >"$src" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
        apt-get update -qq 2>/dev/null
    fi
    tmp=$(mktemp -d)
    if (cd "$tmp" && apt-get source -qq --download-only strip-nondeterminism >/dev/null 2>&1 \
        && dpkg-source -x --no-check ./strip-nondeterminism_*.dsc sn >/dev/null 2>&1); then
        rm -rf "$sn"
        mv "$tmp/sn" "$sn"
    else
        echo "strip-nondeterminism: its source package is not served here; making fixtures with the binary"
        gen=$sn/t/fixtures-generated
        rm -rf "$gen"
        # strip-nondeterminism picks its handler by file name, so each file
        # keeps its suffix before .in/.out.
        find "$out/diffoscope/tests/data" -maxdepth 1 -type f \
            \( -name '*.zip' -o -name '*.jar' -o -name '*.apk' -o -name '*.whl' -o -name '*.epub' \
               -o -name '*.jmod' -o -name '*.nupkg' -o -name '*.mozzip' -o -name '*.a' -o -name '*.gz' \
               -o -name '*.png' -o -name '*.mo' -o -name '*.cpio' -o -name '*.docx' -o -name '*.odt' \) \
            -print0 | sort -z | while IFS= read -r -d '' f; do
            base=$(basename "$f")
            handler=${base##*.}
            mkdir -p "$gen/$handler"
            # Named as t/fixtures does: NAME.SUFFIX.in, run as NAME.SUFFIX.
            cp "$f" "$gen/$handler/$base.in"
            cp "$f" "$tmp/$base"
            if strip-nondeterminism -T 1423159771 "$tmp/$base" >/dev/null 2>"$tmp/err"; then
                cp "$tmp/$base" "$gen/$handler/$base.out"
            else
                # What strip-nondeterminism refuses is not a fixture.
                rm "$gen/$handler/$base.in"
            fi
            rm -f "$tmp/$base"
        done
        mkdir -p "$sn/t"
        mv "$gen" "$sn/t/fixtures"
    fi
    rm -rf "$tmp"
fi
echo "strip-nondeterminism: $(find "$sn/t/fixtures" -name '*.in' | wc -l) .in fixtures"

# --- add-determinism: the crate as published, fetched by cargo into a
# throwaway project's vendor directory. Its tests/cases hold inputs and
# their expected outputs (NAME and NAME.fixed).
if [ ! -d "$out/add-determinism/crate" ]; then
    tmp=$(mktemp -d)
    mkdir -p "$tmp/p/src"
    printf '[package]\nname = "parity-fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nadd-determinism = "*"\n' >"$tmp/p/Cargo.toml"
    : >"$tmp/p/src/lib.rs"
    (cd "$tmp/p" && cargo vendor -q "$tmp/vendor" >/dev/null)
    mkdir -p "$out/add-determinism"
    mv "$tmp"/vendor/add-determinism* "$out/add-determinism/crate"
    rm -rf "$tmp"
fi
# The published crate may or may not carry tests/; say which.
if [ -d "$out/add-determinism/crate/tests" ]; then
    echo "add-determinism: crate carries tests/ ($(find "$out/add-determinism/crate/tests" -type f | wc -l) files)"
else
    echo "add-determinism: the published crate carries no tests/ directory"
fi
command -v add-det >/dev/null || cargo install -q add-determinism || echo "warning: add-det not installed" >&2
