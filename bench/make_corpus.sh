#!/usr/bin/env bash
# Builds the benchmark corpus that bench/diff.sh and bench/normalize.sh run
# on: pairs of real upstream artifacts (fetched with pip, apt-get and npm,
# nothing else) that differ the way two builds of one thing differ, and
# OUT/MANIFEST.tsv, one line per pair:
#
#   pair <TAB> file_a <TAB> file_b <TAB> size_a <TAB> what differs
#
# (paths relative to OUT, size_a in bytes as `du -sb` counts it, a header
# line first). The pairs:
#
#   wheel-rebuild     requests' sdist built into a wheel twice, in two build
#                     directories under two SOURCE_DATE_EPOCH values
#   bigwheel-noise    numpy's manylinux wheel (16 MB) re-zipped twice: other
#                     member order and times, every member byte-identical
#   bigwheel-content  the same, with three members really changed
#   bigtar-gz/-zst    the files of three big Debian packages (~240 MB) packed
#                     twice: other mtimes, owners, order (and gzip header)
#   deb               Debian's hello unpacked and rebuilt twice with dpkg-deb
#   npm               lodash's tarball as published, and repacked
#   oci               an OCI image layout (requests' sources in /usr/share)
#                     built twice: other creation times, hence other digests
#
# The variants come from bench/make_variants.py, beside this script.
#
#   bash bench/make_corpus.sh [OUT]     (default /tmp/repro-corpus)
#
# Idempotent: downloads are kept in OUT/dl, finished pairs are kept and only
# missing ones are built (every output is renamed into place when complete,
# so an interrupted run leaves nothing that looks finished). Delete OUT, or
# one pair's directory, to rebuild. Missing tools are installed with apt-get
# when run as root.
set -Eeuo pipefail

REQUESTS_VERSION=2.32.3
NUMPY_VERSION=2.1.3
LODASH_VERSION=4.17.21
BIGTAR_DEBS=(libllvm14 libclang-cpp14 gcc-12)
EPOCH_A=1600000000
EPOCH_B=1700000000

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
variants=$here/make_variants.py
out=$(realpath -m "${1:-/tmp/repro-corpus}")
start=$SECONDS

say() { printf '[make_corpus %4ds] %s\n' $((SECONDS - start)) "$*" >&2; }
die() { printf 'make_corpus.sh: error: %s\n' "$*" >&2; exit 1; }
trap 'die "command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

[ -f "$variants" ] || die "$variants is missing (run this script from a checkout of repro)"
[ $# -le 1 ] || die "usage: bash bench/make_corpus.sh [OUT]"

# --- tools -----------------------------------------------------------------
apt_updated=
apt_update() {
    [ -n "$apt_updated" ] && return
    say "apt-get update"
    apt-get update -qq || die "apt-get update failed: Debian's package lists are needed"
    apt_updated=1
}
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need python3 python3
need apt-get apt
need dpkg-deb dpkg
need zstd zstd
need npm npm
need flock util-linux
need realpath coreutils
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null \
        || die "missing tools; install the Debian packages: ${missing[*]}"
    apt_update
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
fi
python3 -m pip --version >/dev/null 2>&1 \
    || die "python3 has no pip (Debian: apt-get install python3-pip)"
pip=(python3 -m pip --disable-pip-version-check --no-input)
export PIP_ROOT_USER_ACTION=ignore  # pip's warning about running as root

mkdir -p "$out/dl" || die "cannot create $out"
cd "$out"
exec 9>"$out/.lock"
flock -n 9 || die "another make_corpus.sh is building $out right now"
rm -rf work
mkdir -p work

# apt_fetch DIR PKG...: the packages' .deb files into DIR (once).
apt_fetch() {
    local dir=$1; shift
    mkdir -p "$dir"
    local p todo=()
    for p in "$@"; do compgen -G "$dir/${p}_*.deb" >/dev/null || todo+=("$p"); done
    [ ${#todo[@]} -eq 0 ] && return
    say "apt-get download ${todo[*]}"
    if ! (cd "$dir" && apt-get download -qq "${todo[@]}" 2>/dev/null); then
        apt_update
        (cd "$dir" && apt-get download -qq "${todo[@]}") \
            || die "apt-get download ${todo[*]} failed (are Debian's package lists reachable?)"
    fi
}

# The requests sdist: built into wheels, and the content of the OCI image.
sdist=dl/requests-$REQUESTS_VERSION.tar.gz
fetch_sdist() {
    [ -f "$sdist" ] && return
    say "pip download requests==$REQUESTS_VERSION (sdist)"
    "${pip[@]}" download -q --no-deps --no-binary :all: -d dl "requests==$REQUESTS_VERSION" \
        || die "pip download of the requests $REQUESTS_VERSION sdist failed"
    [ -f "$sdist" ] || die "pip download gave no $sdist"
}

# --- wheel-rebuild -----------------------------------------------------------
whl=requests-$REQUESTS_VERSION-py3-none-any.whl
if [ -f "wheel-rebuild/a/$whl" ] && [ -f "wheel-rebuild/b/$whl" ]; then
    say "wheel-rebuild: present"
else
    fetch_sdist
    for side in a b; do
        # Two build directories of different depth, two epochs.
        if [ $side = a ]; then build=work/wheel-a epoch=$EPOCH_A
        else build=work/elsewhere/builder-b/wheel-b epoch=$EPOCH_B; fi
        say "wheel-rebuild: building $whl (side $side, SOURCE_DATE_EPOCH=$epoch)"
        mkdir -p "$build/dist" "wheel-rebuild/$side"
        tar -xzf "$sdist" -C "$build"
        (cd "$build/requests-$REQUESTS_VERSION" &&
            SOURCE_DATE_EPOCH=$epoch "${pip[@]}" wheel -q --no-deps --no-cache-dir -w "$out/$build/dist" .) \
            || die "pip wheel of requests $REQUESTS_VERSION failed (side $side)"
        [ -f "$build/dist/$whl" ] || die "pip wheel did not produce $whl (side $side)"
        mv "$build/dist/$whl" "wheel-rebuild/$side/$whl"
    done
fi

# --- bigwheel-noise, bigwheel-content ---------------------------------------
if [ -f bigwheel/noise_a.whl ] && [ -f bigwheel/noise_b.whl ] && [ -f bigwheel/content_b.whl ]; then
    say "bigwheel: present"
else
    numpy=(dl/numpy-$NUMPY_VERSION-cp311-cp311-manylinux*.whl)
    if [ ! -f "${numpy[0]}" ]; then
        say "pip download numpy==$NUMPY_VERSION (cp311 manylinux x86_64 wheel)"
        "${pip[@]}" download -q --no-deps --only-binary :all: -d dl \
            --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            --python-version 3.11 --implementation cp --abi cp311 "numpy==$NUMPY_VERSION" \
            || die "pip download of the numpy $NUMPY_VERSION wheel failed"
        numpy=(dl/numpy-$NUMPY_VERSION-cp311-cp311-manylinux*.whl)
        [ -f "${numpy[0]}" ] || die "pip download gave no numpy manylinux wheel in dl/"
    fi
    say "bigwheel: noise and content variants of ${numpy[0]#dl/}"
    mkdir -p bigwheel
    python3 "$variants" wheel "${numpy[0]}" bigwheel
fi

# --- bigtar-gz, bigtar-zst ---------------------------------------------------
if [ -f bigtar/a.tar.gz ] && [ -f bigtar/b.tar.gz ] && [ -f bigtar/a.tar.zst ] && [ -f bigtar/b.tar.zst ]; then
    say "bigtar: present"
else
    apt_fetch dl/debs "${BIGTAR_DEBS[@]}"
    mkdir -p work/bigtar-tree bigtar
    for p in "${BIGTAR_DEBS[@]}"; do
        deb=(dl/debs/"${p}"_*.deb)
        say "bigtar: unpacking ${deb[0]#dl/debs/}"
        dpkg-deb -x "${deb[0]}" work/bigtar-tree
    done
    say "bigtar: packing $(du -sh work/bigtar-tree | cut -f1) twice (gzip and zstd)"
    python3 "$variants" tar work/bigtar-tree bigtar
    rm -rf work/bigtar-tree
fi

# --- deb ---------------------------------------------------------------------
if [ -f deb/a.deb ] && [ -f deb/b.deb ]; then
    say "deb: present"
else
    apt_fetch dl/hello hello
    hello=(dl/hello/hello_*.deb)
    mkdir -p deb
    for side in a b; do
        epoch=$EPOCH_A; [ $side = b ] && epoch=$EPOCH_B
        say "deb: rebuilding ${hello[0]#dl/hello/} (side $side, SOURCE_DATE_EPOCH=$epoch)"
        tree=work/deb-$side
        dpkg-deb -R "${hello[0]}" "$tree"
        # As if the tree had been installed by a build on that day.
        find "$tree" -exec touch -h -d "@$epoch" {} +
        SOURCE_DATE_EPOCH=$epoch dpkg-deb --root-owner-group -Zxz --build "$tree" "deb/$side.deb.part" >/dev/null
        mv "deb/$side.deb.part" "deb/$side.deb"
    done
fi

# --- npm ---------------------------------------------------------------------
if [ -f npm/a.tgz ] && [ -f npm/b.tgz ]; then
    say "npm: present"
else
    tgz=dl/lodash-$LODASH_VERSION.tgz
    if [ ! -f "$tgz" ]; then
        say "npm pack lodash@$LODASH_VERSION"
        (cd dl && npm pack --silent "lodash@$LODASH_VERSION" >/dev/null) \
            || die "npm pack lodash@$LODASH_VERSION failed"
        [ -f "$tgz" ] || die "npm pack gave no $tgz"
    fi
    say "npm: published tarball and a repacked copy"
    mkdir -p npm
    cp "$tgz" npm/a.tgz.part && mv npm/a.tgz.part npm/a.tgz
    python3 "$variants" repack npm/a.tgz npm/b.tgz
fi

# --- oci ---------------------------------------------------------------------
if [ -f oci/a/index.json ] && [ -f oci/b/index.json ]; then
    say "oci: present"
else
    fetch_sdist
    mkdir -p oci
    say "oci: image layout built twice (created $EPOCH_A and $EPOCH_B)"
    python3 "$variants" oci "$sdist" oci/a "$EPOCH_A"
    python3 "$variants" oci "$sdist" oci/b "$EPOCH_B"
fi

rm -rf work

# --- MANIFEST.tsv ------------------------------------------------------------
say "writing $out/MANIFEST.tsv"
row() { # row PAIR A B WHAT
    [ -e "$2" ] && [ -e "$3" ] || die "pair $1: $2 or $3 is missing"
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(du -sb "$2" | cut -f1)" "$4"
}
{
    printf 'pair\tfile_a\tfile_b\tsize_a\twhat differs\n'
    row wheel-rebuild "wheel-rebuild/a/$whl" "wheel-rebuild/b/$whl" \
        "two real builds (pip wheel) in other directories under two SOURCE_DATE_EPOCH values: zip times, anything the backend embeds"
    row bigwheel-noise bigwheel/noise_a.whl bigwheel/noise_b.whl \
        "zip member order and timestamps only; every member byte-identical"
    row bigwheel-content bigwheel/noise_a.whl bigwheel/content_b.whl \
        "three members changed (a .py line, a .rodata byte of a .so, the METADATA Summary line) plus order and times"
    row bigtar-gz bigtar/a.tar.gz bigtar/b.tar.gz \
        "tar mtimes, owners, member order; gzip header time and name; same file bytes"
    row bigtar-zst bigtar/a.tar.zst bigtar/b.tar.zst \
        "tar mtimes, owners, member order; same file bytes"
    row deb deb/a.deb deb/b.deb \
        "dpkg-deb under two SOURCE_DATE_EPOCH values: ar member times and tar mtimes"
    row npm npm/a.tgz npm/b.tgz \
        "as published vs repacked with Python's tarfile: tar mtimes, member order, header field formatting, gzip header"
    row oci oci/a oci/b \
        "image layout built twice: config created time and history, hence config, manifest and index digests; same layer"
} >MANIFEST.tsv.part
mv MANIFEST.tsv.part MANIFEST.tsv
column -t -s $'\t' MANIFEST.tsv >&2 2>/dev/null || cat MANIFEST.tsv >&2
say "corpus ready in $out ($((SECONDS - start)) s)"
