#!/usr/bin/env bash
# repro's differ against diffoscope, side by side on the benchmark corpus
# (built by bench/make_corpus.sh). For every pair: wall time and peak RSS
# of both (/usr/bin/time), the speed-up, and whether both report the same
# set of members whose *content* differs (diffoscope's pseudo-nodes such as
# "zipinfo {}" or "file list" are left out of its set). For the big
# tarballs it also prints the physical floor: decompressing and SHA-256
# hashing both sides in parallel.
#
#   BENCH_RUNS=N   runs per command (median wall, max RSS); default 3
#
#   bash bench/diff.sh [CORPUS]        (default /tmp/repro-corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-/tmp/repro-corpus}
[ -f "$corpus/MANIFEST.tsv" ] || { echo "no corpus at $corpus: run bash bench/make_corpus.sh $corpus"; exit 2; }
dl=$(realpath "${DIFFOSCOPE_LITE:-./target/release/diffoscope-lite}")
[ -x "$dl" ] || cargo build --release --quiet -p diffoscope-lite
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
have_diffoscope=$(command -v diffoscope || true)
# The newest diffoscope (bench/setup.sh puts it in a venv), run beside
# Debian's: ANCHORS.md asks for both.
newest=${DIFFOSCOPE_NEWEST:-/opt/diffoscope-venv/bin/diffoscope}
[ -x "$newest" ] || newest=

# Every command runs BENCH_RUNS times (default 3); the median wall time
# and the largest peak RSS are reported, so one noisy run cannot make or
# break a ratio.
runs=${BENCH_RUNS:-3}
timed() { # timed OUTFILE CMD... → "median_wall_s max_peak_mb"
    local out=$1 t0 t1 i; shift
    : >"$work/samples"
    for ((i = 0; i < runs; i++)); do
        t0=$(date +%s.%N)
        /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$out" 2>"$work/stderr" || true
        t1=$(date +%s.%N)
        # time(1) prepends "Command exited with non-zero status N" on exit 1.
        tail -n 1 "$work/time" | awk -v w="$(echo "$t1 - $t0" | bc -l)" '{printf "%.3f %.0f\n", w, $2/1024}' >>"$work/samples"
    done
    sort -n "$work/samples" | awk '{w[NR] = $1; if ($2 > m) m = $2} END {printf "%.3f %.0f\n", w[int((NR + 1) / 2)], m}'
}

[ -n "$newest" ] && echo "diffo = $(diffoscope --version 2>/dev/null || echo 'Debian diffoscope: not installed'), newest = $("$newest" --version)"
printf '%-18s %9s %9s %8s %8s %8s %9s %8s %8s %s\n' pair repro_s diffo_s speedup repro_MB diffo_MB newest_s speedup newest_MB "same content-differing members?"
tail -n +2 "$corpus/MANIFEST.tsv" | while IFS=$'\t' read -r pair a b size what; do
    read -r rs rm < <(timed "$work/repro.out" "$dl" --json "$work/repro.json" "$corpus/$a" "$corpus/$b")
    if [ -n "$have_diffoscope" ]; then
        read -r ds dm < <(timed "$work/diffo.out" diffoscope --no-progress --json "$work/diffo.json" "$corpus/$a" "$corpus/$b")
        same=$(python3 - "$work/repro.json" "$work/diffo.json" <<'PY'
import json, re, sys
LISTINGS = ("file list", "metadata", "filetype from file(1)")
def listing(name):
    # diffoscope's archive listings: metadata, not member content.
    return name in LISTINGS or name.split(" ")[0] in ("zipinfo", "zipnote", "zipdetails", "stat", "getfacl", "lsattr")
def wrapper(name):
    # decompressed wrappers: "a.tar" inside "a.tar.gz", "a.tgz-content".
    return name.endswith("-content") or re.fullmatch(r"[ab]\.tar", name) is not None
def view(name):
    # Views of one member: diffoscope's ("readelf --wide ... {}",
    # "Pretty-printed") and repro's ELF sections (".rodata", ".dynstr")
    # and pyc code object.
    return not listing(name) and (" " in name or "{}" in name or name == "Pretty-printed"
                                  or re.fullmatch(r"\.[A-Za-z_][\w.]*", name) is not None)
def leaves(path):
    try:
        root = json.load(open(path))
    except Exception:
        return None
    out = set()
    top = root.get("source1", "").lstrip("/") + "/"
    def walk(n, chain):
        name = n.get("source1", "")
        if n.get("unified_diff") and not listing(name):
            member = chain if (view(name) or wrapper(name)) else chain + [name]
            if len(member) > 1:
                # diffoscope names directory members by their full path.
                out.add("::".join(c.lstrip("/").removeprefix(top).removeprefix("./") for c in member[1:]))
        keep = not (listing(name) or view(name) or wrapper(name))
        for c in n.get("details", []):
            walk(c, chain + ([name] if keep else []))
    walk(root, [])
    return out
r = leaves(sys.argv[1])
d = leaves(sys.argv[2])
if r is None or d is None:
    print("n/a (no JSON)"); sys.exit()
if r == d:
    print(f"yes ({len(r)})")
else:
    print(f"NO: only repro {sorted(r - d)[:3]}, only diffoscope {sorted(d - r)[:3]}")
PY
)
        speed=$(echo "$ds / $rs" | bc -l 2>/dev/null | xargs printf '%.1fx' 2>/dev/null || echo -)
    else
        ds=-; dm=-; speed=-; same="(diffoscope not installed)"
    fi
    if [ -n "$newest" ]; then
        read -r ns nm < <(timed "$work/newest.out" "$newest" --no-progress --json "$work/newest.json" "$corpus/$a" "$corpus/$b")
        nspeed=$(echo "$ns / $rs" | bc -l | xargs printf '%.1fx')
    else
        ns=-; nm=-; nspeed=-
    fi
    printf '%-18s %9s %9s %8s %8s %8s %9s %8s %8s %s\n' "$pair" "$rs" "$ds" "$speed" "$rm" "$dm" "$ns" "$nspeed" "$nm" "$same"
done

# Many small members: memory grows with the entry count (both sides'
# entry lists), so measure it at a size real source tarballs reach.
python3 - "$work" <<'PY'
import io, sys, tarfile
for side, order in (("a", 1), ("b", -1)):
    with tarfile.open(f"{sys.argv[1]}/many-{side}.tar.gz", "w:gz", compresslevel=1) as t:
        for i in list(range(100_000))[::order]:
            data = str(i).encode()
            info = tarfile.TarInfo(f"d{i % 500:03d}/f{i}.txt")
            info.size, info.mtime = len(data), 1_700_000_000
            t.addfile(info, io.BytesIO(data))
PY
read -r ms mm < <(timed "$work/many.out" "$dl" --summary "$work/many-a.tar.gz" "$work/many-b.tar.gz")
echo
echo "100,000-member tar.gz pair (synthetic, opposite order): repro ${ms}s, ${mm} MB"

if [ -f "$corpus/bigtar/a.tar.gz" ]; then
    floor() { /usr/bin/time -f '%e' -o "$work/t" bash -c "$1" >/dev/null 2>&1; tail -n 1 "$work/t"; }
    # Two floors: the ANCHORS one (gzip/zstd | coreutils sha256sum) and a
    # faster one with openssl's SHA-NI hashing.
    gz=$(floor "(gzip -dc $corpus/bigtar/a.tar.gz | sha256sum) & (gzip -dc $corpus/bigtar/b.tar.gz | sha256sum) & wait")
    zs=$(floor "(zstd -qdc $corpus/bigtar/a.tar.zst | sha256sum) & (zstd -qdc $corpus/bigtar/b.tar.zst | sha256sum) & wait")
    gzo=$(floor "(gzip -dc $corpus/bigtar/a.tar.gz | openssl dgst -sha256) & (gzip -dc $corpus/bigtar/b.tar.gz | openssl dgst -sha256) & wait")
    zso=$(floor "(zstd -qdc $corpus/bigtar/a.tar.zst | openssl dgst -sha256) & (zstd -qdc $corpus/bigtar/b.tar.zst | openssl dgst -sha256) & wait")
    # What no differ can go below on two cores: each side's stream has to
    # be decompressed whole, one core per side. Measured for one side with
    # the fastest decoders at hand (repro uses zlib-rs and libzstd).
    one_gz=$(floor "gzip -dc $corpus/bigtar/a.tar.gz")
    one_zs=$(floor "zstd -qdc $corpus/bigtar/a.tar.zst")
    one_ig=$(command -v igzip >/dev/null && floor "igzip -dc $corpus/bigtar/a.tar.gz" || echo -)
    one_pz=$(command -v pigz >/dev/null && floor "pigz -dc $corpus/bigtar/a.tar.gz" || echo -)
    echo
    echo "physical floor, both sides in parallel: decompress | sha256sum: gz ${gz}s, zst ${zs}s;"
    echo "                                        decompress | openssl dgst: gz ${gzo}s, zst ${zso}s"
    echo "decompressing one side only, no hashing: gzip ${one_gz}s, pigz ${one_pz}s, igzip (ISA-L) ${one_ig}s; zstd ${one_zs}s"
fi
