#!/usr/bin/env bash
# Rebuild-loop overhead: `repro build --runs 2` of a trivial project (in the
# namespace sandbox with all variations, and with --sandbox none) against
# the same two builds run bare and against reprotest, side by side.
# Prints mean wall times (hyperfine) and the per-run overhead of repro.
#
#   bash bench/sandbox.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repro=$(realpath "${REPRO:-./target/release/repro}")
[ -x "$repro" ] || cargo build --release --quiet
work=${BENCH_DIR:-/tmp/repro-bench-sandbox}
rm -rf "$work" && mkdir -p "$work/proj"
cat > "$work/proj/build.sh" <<'SH'
#!/bin/sh
mkdir -p dist && echo hello > dist/out.txt
SH
chmod +x "$work/proj/build.sh"
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)"; exit 2; }

common="--source-date-epoch 1700000000 --artifacts dist/out.txt --bisect-budget 0 --force"
cmds=(
  "sh -c 'cd $work/proj && ./build.sh && ./build.sh'"
  "$repro build $work/proj --out $work/out-ns --runs 2 $common -- ./build.sh"
  "$repro build $work/proj --out $work/out-none --runs 2 --sandbox none $common -- ./build.sh"
)
names=("bare (2 builds)" "repro, sandbox + all variations" "repro --sandbox none")
if command -v reprotest >/dev/null; then
  cmds+=("sh -c 'cd $work/proj && reprotest --vary=-user_group,-fileordering,-domain_host --build-command ./build.sh . dist/out.txt >/dev/null 2>&1'")
  names+=("reprotest (null backend)")
fi
args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N --warmup 3 --runs 20 --export-json "$work/result.json" "${args[@]}" 2>/dev/null \
  | grep -E 'Benchmark|Time' || true
python3 - "$work/result.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
bare = r["bare (2 builds)"]
print()
for name, mean in r.items():
    extra = f"  overhead per run: {(mean - bare) / 2 * 1000:6.1f} ms" if name != "bare (2 builds)" else ""
    print(f"{name:34s} {mean * 1000:8.1f} ms{extra}")
if "reprotest (null backend)" in r:
    ns = r["repro, sandbox + all variations"]
    print(f"\nreprotest / repro (sandboxed): {r['reprotest (null backend)'] / ns:.1f}x")
PY
