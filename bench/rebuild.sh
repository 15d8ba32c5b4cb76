#!/usr/bin/env bash
# Independent rebuilds of the PyPI releases in bench/rebuild-pypi.txt (or
# the list given): verdict, stabilizers and time per package, counts per
# verdict, and repro's own overhead per package (the build stage minus the
# backend's run, plus recipe, compare and attest; fetching is excluded).
# Needs the network to PyPI. OSS Rebuild's PyPI rate is about 75%.
set -euo pipefail
cd "$(dirname "$0")/.."
list=${1:-bench/rebuild-pypi.txt}
work=${REPRO_BENCH_WORK:-/tmp/repro-bench-rebuild}
repro=${REPRO:-target/release/repro}
[ -x "$repro" ] || cargo build --release -q
mkdir -p "$work"
results="$work/results.tsv"
: > "$results"
grep -v '^\s*#' "$list" | grep -v '^\s*$' | while read -r spec; do
    name=${spec#pypi:}
    out="$work/${name/==/-}"
    start=$(date +%s.%N)
    set +e
    "$repro" rebuild "$spec" --out "$out" --force --cache "$work/cache" >"$out.stdout" 2>"$out.stderr"
    code=$?
    set -e
    end=$(date +%s.%N)
    python3 - "$spec" "$out/rebuild.json" "$out/build/report.json" "$code" "$start" "$end" >>"$results" <<'PY'
import json, sys
spec, path, build, code, start, end = sys.argv[1:]
try:
    r = json.load(open(path))
except Exception as e:
    print(f"{spec}\tNO-REPORT\t-\t{float(end)-float(start):.1f}\t-\t-\texit {code}")
    sys.exit()
t = dict((k, v) for k, v in r.get("timings_ms", []))
run_ms = 0
try:
    b = json.load(open(build))
    run_ms = sum(x.get("duration_ms") or 0 for x in b.get("runs", []))
except Exception:
    pass
overhead = (t.get("build", 0) - run_ms) + t.get("recipe", 0) + t.get("compare", 0) + t.get("attest", 0)
backend = (r.get("recipe") or {}).get("generator", "-")
stab = ",".join(r.get("stabilizers", [])) or "-"
fail = r.get("failure") or {}
note = f"{fail.get('stage')}: {fail.get('message', '')[:90]}" if fail else ""
print(f"{spec}\t{r['verdict']}\t{backend}\t{float(end)-float(start):.1f}\t{overhead/1000:.2f}\t{stab}\t{note}")
PY
    tail -1 "$results" | cut -f1-6
done
echo
python3 - "$results" <<'PY'
import sys, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
n = len(rows)
c = collections.Counter(r[1] for r in rows)
print(f"{n} packages: " + ", ".join(f"{k} {v} ({100*v/n:.0f}%)" for k, v in c.most_common()))
ok = c["BIT_FOR_BIT"] + c["EQUIVALENT"]
print(f"BIT_FOR_BIT or EQUIVALENT: {ok}/{n} = {100*ok/n:.0f}% (OSS Rebuild PyPI: ~75%); BIT_FOR_BIT {c['BIT_FOR_BIT']}/{n}")
over = sorted(float(r[4]) for r in rows if r[4] != "-")
if over:
    print(f"repro overhead per package (s): median {over[len(over)//2]:.2f}, max {over[-1]:.2f}")
times = sorted(float(r[3]) for r in rows)
print(f"wall time per package (s): median {times[len(times)//2]:.1f}, max {times[-1]:.1f}")
stab = collections.Counter(s for r in rows for s in r[5].split(",") if s != "-")
print("stabilizers used: " + (", ".join(f"{k} ×{v}" for k, v in stab.most_common()) or "none"))
for r in rows:
    if r[1] not in ("BIT_FOR_BIT", "EQUIVALENT"):
        print(f"  {r[0]}: {r[1]} {r[6] if len(r) > 6 else ''}")
PY
