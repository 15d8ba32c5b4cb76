#!/usr/bin/env bash
# Per-run cost of a run's tree on a large source: 50,000 files, 500 MB
# (BENCH_FILES / BENCH_KB change it). `repro build` with 2 and with 4 runs,
# once with --run-tree overlay and once with --run-tree copy: the
# difference divided by 2 is what one more run costs, everything else
# (source digest, the pristine copy, probes) being paid once. Disk per run
# is what a kept run's tree adds beyond the pristine copy (du counts a
# hard link once). The build itself writes one small file.
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
build() { # mode runs out keep
  sync
  "$repro" build "$src" --out "$3" --force --runs "$2" --run-tree "$1" \
    --source-date-epoch 1700000000 --vary=-all,+build_path --bisect-budget 0 --keep-runs "$4" \
    --artifacts 'dist/*' -- sh -c 'mkdir -p dist && echo built > dist/out.txt' >/dev/null 2>&1
}
# Setup: report.json's runs[].setup_ms, the time from a run's start to its
# build's start (a copy of the source, or an overlay's directories and
# mount options); the rest of a run (the build, hashing what it wrote) is
# the same either way. Disk: a kept run (--keep-runs all) is a complete
# tree; with the overlay, hard links to the pristine copy plus what the
# build wrote (du counts a link once). By default a run that reproduced is
# not kept and costs only what the build wrote.
for mode in overlay copy; do
  build "$mode" 4 "$work/out-$mode" all
  base=""; [ -d "$work/out-$mode/source" ] && base="$work/out-$mode/source"
  disk=$(du -sk $base "$work/out-$mode/runs/3" | tail -1 | cut -f1)
  python3 - "$mode" "$work/out-$mode/report.json" "$disk" <<'PY'
import json, statistics, sys
mode, report, disk = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = json.load(open(report))
setup = [x["setup_ms"] for x in r["runs"]]
print(f"{mode:8s} ({r['run_tree']['mode']}) setup per run: median {statistics.median(setup):6.0f} ms "
      f"(runs: {', '.join(map(str, setup))}); a kept run's tree: {disk} KiB of disk")
PY
done
