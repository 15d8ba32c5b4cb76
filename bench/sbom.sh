#!/usr/bin/env bash
# SBOM of numpy's 16 MB manylinux wheel (the benchmark corpus's big wheel,
# 947 files, 56 MB inflated): `repro sbom` against `cyclonedx-py environment`
# (CycloneDX's own Python tool, which lists an installed environment, so
# the wheel is installed in a venv first), median wall time of nine runs and peak RSS,
# and the fields each has that the other lacks.
# Goal: repro ≤ 0.1 s and ≤ 64 MB.
#
# Needs the network to PyPI once (the wheel and cyclonedx-bom are cached
# in $SBOM_BENCH, default /tmp/repro-sbom-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${SBOM_BENCH:-/tmp/repro-sbom-bench}
mkdir -p "$work"
repro=${REPRO:-target/release/repro}
[ -x "$repro" ] || cargo build --release -q
# The corpus's big wheel (bench/make_corpus.sh): 16 MB, 947 files.
NUMPY_VERSION=2.1.3

wheel=("$work"/numpy-$NUMPY_VERSION-cp311-cp311-manylinux*.whl)
if [ ! -f "${wheel[0]}" ]; then
    python3 -m pip download -q --no-deps --only-binary :all: -d "$work" \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --python-version 3.11 --implementation cp --abi cp311 "numpy==$NUMPY_VERSION"
    wheel=("$work"/numpy-$NUMPY_VERSION-cp311-cp311-manylinux*.whl)
fi
wheel=${wheel[0]}

venv=$work/venv
if [ ! -x "$venv/bin/cyclonedx-py" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q cyclonedx-bom
fi
# The wheel is cp311; a venv of another Python installs it without
# checking the tag (--no-deps --target would too), which is all the
# environment scan needs.
target=$work/site-$NUMPY_VERSION
if [ ! -d "$target/numpy" ]; then
    "$venv/bin/pip" install -q --no-deps --no-compile --target "$target" \
        --python-version 3.11 --only-binary :all: --platform manylinux2014_x86_64 "$wheel" \
        || "$venv/bin/pip" install -q --no-deps --no-compile --target "$target" "$wheel"
fi

files=$(python3 -c 'import sys,zipfile; print(sum(1 for i in zipfile.ZipFile(sys.argv[1]).infolist() if not i.is_dir()))' "$wheel")
echo "wheel: $(basename "$wheel") ($(du -m "$wheel" | cut -f1) MB, $files files)"

best() { # median of 9 runs, wall in ms resolution: "seconds maxrss_kb"
    python3 - "$@" <<'PY'
import resource, statistics, subprocess, sys, time
walls = []
for _ in range(9):
    t = time.perf_counter()
    r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    walls.append(time.perf_counter() - t)
    if r.returncode:
        sys.exit(f"failed: {sys.argv[1:]}")
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"{statistics.median(walls):.3f} {rss}")
PY
}

read -r rt rm < <(best "$repro" sbom "$wheel" -o "$work/repro.cdx.json" --force --source-date-epoch 0)
# cyclonedx-py reads the installed environment: point it at a python
# whose sys.path holds the install target.
cat > "$work/py" <<PY
#!/bin/sh
PYTHONPATH="$target" exec python3 "\$@"
PY
chmod +x "$work/py"
read -r ct cm < <(best "$venv/bin/cyclonedx-py" environment -S --sv 1.6 --output-reproducible \
    -o "$work/cdxpy.cdx.json" "$work/py")
printf '%-14s %8s s %8s MB\n' "repro sbom" "$rt" "$((rm / 1024))" "cyclonedx-py" "$ct" "$((cm / 1024))"
awk -v a="$rt" -v b="$ct" -v c="$rm" -v d="$cm" 'BEGIN{printf "repro/cyclonedx-py: time %.2fx, peak RSS %.2fx\n", a/b, c/d}'
awk -v t="$rt" -v m="$rm" 'BEGIN{printf "goal (<= 0.1 s, <= 64 MB): %s\n", (t <= 0.1 && m <= 65536) ? "met" : "NOT met"}'

# Fields each SBOM has that the other lacks (JSON paths, array indexes
# folded to []).
python3 - "$work/repro.cdx.json" "$work/cdxpy.cdx.json" <<'PY'
import json, sys
def paths(v, p=""):
    out = set()
    if isinstance(v, dict):
        for k, x in v.items():
            out |= {p + "." + k} | paths(x, p + "." + k)
    elif isinstance(v, list):
        for x in v:
            out |= paths(x, p + "[]")
    return out
def props(v):
    out = set()
    def walk(x):
        if isinstance(x, dict):
            for p in x.get("properties", []) or []:
                out.add(p.get("name"))
            for y in x.values(): walk(y)
        elif isinstance(x, list):
            for y in x: walk(y)
    walk(v)
    return out
a, b = (json.load(open(f)) for f in sys.argv[1:3])
pa, pb = paths(a), paths(b)
print("only in repro's:", *sorted(pa - pb), sep="\n  ")
print("only in cyclonedx-py's:", *sorted(pb - pa), sep="\n  ")
print("properties only in repro's:", sorted(props(a) - props(b)))
print("properties only in cyclonedx-py's:", sorted(props(b) - props(a)))
print("components: repro %d (nested files included), cyclonedx-py %d" % (
    sum(1 + len(c.get("components", [])) for c in a["components"]),
    sum(1 + len(c.get("components", [])) for c in b.get("components", []))))
PY
