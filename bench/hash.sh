#!/usr/bin/env bash
# Hashing throughput: `repro hash` against coreutils sha256sum and against
# the machine's real SHA-256 limit (openssl, one process per core), on the
# same files, side by side. Prints wall times and ratios.
#
#   bash bench/hash.sh            # fixture artifacts + a generated 1 GiB set
#   BENCH_MB=256 bash bench/hash.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repro=${REPRO:-./target/release/repro}
[ -x "$repro" ] || cargo build --release --quiet
work=${BENCH_DIR:-/tmp/repro-bench-hash}
mb=${BENCH_MB:-1024}
cores=$(nproc)
mkdir -p "$work"

best_of() { # best wall time of 3 runs of "$@", in seconds
    local best="" t0 t1 t
    for _ in 1 2 3; do
        t0=$(date +%s.%N)
        "$@" >/dev/null
        t1=$(date +%s.%N)
        t=$(echo "$t1 - $t0" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
    done
    printf '%.4f' "$best"
}

# 1. The fixtures' own artifacts (small: this measures start-up cost).
for p in hello-wheel hello-tarball; do
    "$repro" build "fixtures/projects/$p" --out "$work/fixtures/$p" --force \
        --source-date-epoch 1700000000 >/dev/null 2>&1
done
mapfile -t small < <(find "$work/fixtures" -path '*/artifacts/*' -type f)

# 2. A set of large files, one per core at least, so parallelism matters.
n=$(( cores * 2 ))
per=$(( mb / n ))
for i in $(seq 1 "$n"); do
    f="$work/big-$i.bin"
    if [ ! -f "$f" ] || [ "$(stat -c %s "$f")" -ne $(( per * 1048576 )) ]; then
        head -c $(( per * 1048576 )) /dev/urandom > "$f"
    fi
done
mapfile -t big < <(ls "$work"/big-*.bin)
cat "${big[@]}" > /dev/null  # warm the page cache: we measure hashing, not the disk

openssl_parallel() { printf '%s\n' "$@" | xargs -P "$cores" -n 1 openssl dgst -sha256; }

# The per-core SHA-256 limit (16 KiB blocks), times the cores: the real bar.
limit=$(openssl speed -evp sha256 -bytes 16384 -seconds 1 2>/dev/null | awk '/^sha256/ {v=$NF; sub(/k$/, "", v); print v * 1000}')
echo "openssl speed -evp sha256: $(echo "$limit / 1000000000" | bc -l | cut -c1-5) GB/s per core, $cores cores"
echo
printf '%-34s %10s %10s %12s %14s\n' "input (wall s, best of 3)" "repro" "sha256sum" "openssl xP$cores" "repro speedup"
for set in small big; do
    declare -n files=$set
    r=$(best_of "$repro" hash "${files[@]}")
    s=$(best_of sha256sum "${files[@]}")
    o=$(best_of openssl_parallel "${files[@]}")
    label="$set (${#files[@]} files, $(du -chs "${files[@]}" | tail -1 | cut -f1))"
    printf '%-34s %10s %10s %12s %13.2fx\n' "$label" "$r" "$s" "$o" "$(echo "$s / $r" | bc -l)"
    if [ "$set" = big ]; then
        total=$(du -cb "${files[@]}" | tail -1 | cut -f1)
        printf '  repro %.2f GB/s = %.1fx sha256sum (%.2f GB/s) = %.0f%% of the machine limit (%.2f GB/s = %d cores x openssl speed)\n' \
            "$(echo "$total / $r / 1000000000" | bc -l)" "$(echo "$s / $r" | bc -l)" "$(echo "$total / $s / 1000000000" | bc -l)" \
            "$(echo "100 * $total / $r / ($limit * $cores)" | bc -l)" "$(echo "$limit * $cores / 1000000000" | bc -l)" "$cores"
    fi
done
