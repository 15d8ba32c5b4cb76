#!/usr/bin/env bash
# Per-run cost of a run's tree on a large source: 50,000 files, 500 MB
# (BENCH_FILES / BENCH_KB change it). `repro build` with 2 and with 4 runs,
# once with --run-tree overlay and once with --run-tree copy: the
# difference divided by 2 is what one more run costs, everything else
# (source digest, the pristine copy, probes) being paid once. Disk per run
# is what one run's tree adds beyond the pristine copy (du counts a hard
# link once). The build itself writes one small file.
#
#   bash bench/runtree.sh        goal: <= 50 ms and the build's writes per run
set -euo pipefail
cd "$(dirname "$0")/.."
repro=$(realpath "${REPRO:-./target/release/repro}")
[ -x "$repro" ] || cargo build --release --quiet
work=${BENCH_DIR:-/tmp/repro-bench-runtree}
files=${BENCH_FILES:-50000}
kb=${BENCH_KB:-10}
src="$work/src-$files-$kb"
if [ ! -f "$src/.complete" ]; then
  rm -rf "$src" && mkdir -p "$src"
  python3 - "$src" "$files" "$kb" <<'PY'
import os, sys
root, n, kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
block = os.urandom(kb * 1024)
for i in range(n):
    d = os.path.join(root, f"pkg{i // 500:03d}", f"mod{i // 50 % 10}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.c"), "wb") as f:
        f.write(block[i % 64:] + block[:i % 64])
PY
  touch "$src/.complete"
fi
echo "source: $files files, $(du -sh "$src" | cut -f1)"
build() { # mode runs out
  /usr/bin/time -f %e "$repro" build "$src" --out "$3" --force --runs "$2" --run-tree "$1" \
    --source-date-epoch 1700000000 --vary=-all,+build_path --bisect-budget 0 --keep-runs all \
    --artifacts 'dist/*' -- sh -c 'mkdir -p dist && echo built > dist/out.txt' 2>&1 >/dev/null | tail -1
}
for mode in overlay copy; do
  t2=$(build "$mode" 2 "$work/out-$mode-2")
  t4=$(build "$mode" 4 "$work/out-$mode-4")
  # What run 3's tree adds on disk beyond the pristine copy (or nothing).
  base=""; [ -d "$work/out-$mode-4/source" ] && base="$work/out-$mode-4/source"
  disk=$(du -sk $base "$work/out-$mode-4/runs/3" | tail -1 | cut -f1)
  python3 - "$mode" "$t2" "$t4" "$disk" <<'PY'
import sys
mode, t2, t4, disk = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
print(f"{mode:8s} 2 runs {t2:6.2f} s, 4 runs {t4:6.2f} s: {(t4 - t2) / 2 * 1000:7.0f} ms per extra run, {disk} KiB of disk per run")
PY
done
