#!/usr/bin/env bash
# Packages a repro binary as the release asset action.yml's install step
# downloads: repro-<target>.tar.gz (the binary alone, at the archive root)
# and repro-<target>.tar.gz.sha256 (as `sha256sum` writes it, which is
# what install.sh checks with `sha256sum -c`).
#
#   scripts/release-asset.sh [--binary PATH] [--target TRIPLE] OUTDIR
#
# Without --binary it builds one: `cargo build --release --locked`. The
# archive is deterministic (fixed order, owner, mode; mtime and gzip
# header from SOURCE_DATE_EPOCH, default the last commit's time), so a
# rebuild of the same commit gives the same asset bytes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
binary='' target=x86_64-unknown-linux-gnu
while [ $# -gt 0 ]; do
    case $1 in
        --binary) binary=${2:?--binary needs a path}; shift 2 ;;
        --target) target=${2:?--target needs a triple}; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        -*) echo "release-asset.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
out=${1:?usage: release-asset.sh [--binary PATH] [--target TRIPLE] OUTDIR}

if [ -z "$binary" ]; then
    (cd "$root" && cargo build --release --locked --bin repro)
    binary=${CARGO_TARGET_DIR:-$root/target}/release/repro
fi
[ -f "$binary" ] && [ -x "$binary" ] || { echo "release-asset.sh: $binary is not an executable file" >&2; exit 2; }
"$binary" --version >/dev/null || { echo "release-asset.sh: $binary does not run" >&2; exit 2; }

epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}
asset=repro-$target.tar.gz
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -m 0755 "$binary" "$stage/repro"
# Written beside, renamed into place: a failed run leaves no half asset.
tar --format=ustar --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@$epoch" -C "$stage" -cf - repro | gzip -9 -n > "$stage/$asset"
(cd "$stage" && sha256sum "$asset" > "$asset.sha256")
mv -f "$stage/$asset" "$out/$asset"
mv -f "$stage/$asset.sha256" "$out/$asset.sha256"
echo "$out/$asset"
