#!/usr/bin/env bash
# Batch rebuilds at scale (`just bench-batch`):
#  1. wall time of `repro rebuild --list` with --jobs 2 versus --jobs 1 on
#     bench/rebuild-pypi.txt (or the list given), after a warm-up run that
#     fills the download caches, so downloads are mostly excluded (the
#     upstream sdist and wheel are still fetched; their time is printed);
#  2. the overhead of resuming a finished list (a rerun that skips all);
#  3. time and peak memory of `repro report` over 100,000 synthetic
#     records (/usr/bin/time -v), and the size of its HTML.
# Needs the network to PyPI for 1 and 2.
set -euo pipefail
cd "$(dirname "$0")/.."
list=${1:-bench/rebuild-pypi.txt}
work=${REPRO_BENCH_WORK:-/tmp/repro-bench-batch}
repro=${REPRO:-target/release/repro}
records=${REPRO_BENCH_RECORDS:-100000}
[ -x "$repro" ] || cargo build --release -q
repro=$(realpath "$repro")
rm -rf "$work/warm" "$work/j1" "$work/j2" "$work/synthetic"
mkdir -p "$work"
secs() { python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.1f}")' "$@"; }
fetch_s() {
    python3 - "$1/results.jsonl" <<'PY'
import json, sys
t = sum(json.loads(l).get("timings_ms", {}).get("fetch", 0) for l in open(sys.argv[1]) if l.strip())
print(f"{t/1000:.1f}")
PY
}

if [ -z "${REPRO_BENCH_SKIP_REBUILDS:-}" ]; then
    echo "== warm-up (fills $work/cache)"
    "$repro" rebuild --list "$list" --out "$work/warm" --jobs 2 --cache "$work/cache" 2>/dev/null | tail -1
    for jobs in 1 2; do
        start=$(date +%s.%N)
        "$repro" rebuild --list "$list" --out "$work/j$jobs" --jobs "$jobs" --cache "$work/cache" 2>/dev/null | tail -1
        end=$(date +%s.%N)
        wall=$(secs "$start" "$end")
        eval "wall$jobs=$wall"
        echo "--jobs $jobs: ${wall}s wall (upstream fetch stages: $(fetch_s "$work/j$jobs")s summed)"
    done
    python3 -c 'import sys; print(f"speed-up --jobs 2 / --jobs 1: {float(sys.argv[1]) / float(sys.argv[2]):.2f}x on $(nproc) cores")' "$wall1" "$wall2" | sed "s/\$(nproc)/$(nproc)/"
    start=$(date +%s.%N)
    "$repro" rebuild --list "$list" --out "$work/j2" --jobs 2 --cache "$work/cache" 2>/dev/null | tail -1
    end=$(date +%s.%N)
    echo "resume over the finished list: $(secs "$start" "$end")s"
fi

echo "== repro report over $records synthetic records"
mkdir -p "$work/synthetic"
python3 - "$work/synthetic/results.jsonl" "$records" <<'PY'
import json, random, sys
path, n = sys.argv[1], int(sys.argv[2])
random.seed(1)
verdicts = ["BIT_FOR_BIT"] * 5 + ["EQUIVALENT"] * 2 + ["DIFFERENT", "FAILED"]
backends = ["setuptools 69.0.3", "hatchling 1.21.1", "flit_core 3.9.0", "poetry-core 1.8.1", "pdm-backend 2.1.8"]
with open(path, "w") as f:
    for i in range(n):
        v = random.choice(verdicts)
        d = f"packages/project-{i}-1.{i % 10}.0"
        r = {
            "schema": "repro-batch-result-v1", "spec": f"pypi:project-{i}==1.{i % 10}.0",
            "verdict": v, "backend": random.choice(backends),
            "generator": "bdist_wheel (0.42.0)",
            "stabilizers": ["zip-order", "zip-mtime"] if v in ("EQUIVALENT", "DIFFERENT") else [],
            "timings_ms": {"fetch": 800, "recipe": 20, "dependencies": 1500, "build": 9000, "compare": 40, "attest": 5},
            "duration_ms": random.randint(3000, 60000),
            "upstream_sha256": "%064x" % random.getrandbits(256),
            "rebuilt_sha256": "%064x" % random.getrandbits(256),
            "dir": d, "rebuild_json": d + "/rebuild.json", "statement": d + "/statement.json",
            "log": d + "/rebuild.log",
            "started_at": "2025-01-01T00:00:00Z", "finished_at": "2025-01-01T00:01:00Z",
            "repro_version": "0.1.0", "machine": f"worker-{i % 8}",
        }
        if v == "FAILED":
            r["stage"] = random.choice(["build", "dependencies", "recipe", "timeout"])
            r["failure"] = "the build command exited with code 1"
        if v in ("EQUIVALENT", "DIFFERENT"):
            r["diff"] = d + "/diff.txt"
        f.write(json.dumps(r) + "\n")
PY
/usr/bin/time -v "$repro" report "$work/synthetic" --html "$work/synthetic/index.html" \
    --json "$work/synthetic/report.json" 2>"$work/time.txt" >/dev/null
grep -E "Elapsed \(wall|Maximum resident" "$work/time.txt"
echo "results.jsonl: $(du -h "$work/synthetic/results.jsonl" | cut -f1), index.html: $(du -h "$work/synthetic/index.html" | cut -f1) ($(stat -c %s "$work/synthetic/index.html") bytes), report.json: $(du -h "$work/synthetic/report.json" | cut -f1)"
