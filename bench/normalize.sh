#!/usr/bin/env bash
# Normalization side by side: `repro normalize`, strip-nondeterminism and
# add-determinism on copies of the benchmark corpus (/tmp/repro-corpus,
# see its MANIFEST.tsv), each run once per file with /usr/bin/time; then,
# per pair, whether each tool made the two files identical (SHA-256 after
# normalizing). Then `repro hash --normalized` on the big files against
# `openssl dgst -sha256` run once per core (the machine's SHA-256 limit).
#
#   bash bench/normalize.sh
#   CORPUS=/path/to/corpus SDE=1500000000 bash bench/normalize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-./target}
repro=${REPRO:-$target/release/repro}
[ -x "$repro" ] || cargo build --release --quiet -p repro
corpus=${CORPUS:-/tmp/repro-corpus}
work=${BENCH_DIR:-/tmp/repro-bench-normalize}
sde=${SDE:-1500000000}
cores=$(nproc)
export SOURCE_DATE_EPOCH=$sde
rm -rf "$work"
mkdir -p "$work"

have() { command -v "$1" >/dev/null 2>&1; }

# run TOOL FILE: normalizes FILE in place with TOOL; prints "wall_s rss_mb".
run() {
    local tool=$1 file=$2 cmd
    case $tool in
        repro) cmd=("$repro" normalize --in-place --source-date-epoch "$sde" "$file") ;;
        strip-nondeterminism)
            if [ -d "$file" ]; then
                cmd=(find "$file" -type f -exec strip-nondeterminism -T "$sde" {} +)
            else
                cmd=(strip-nondeterminism -T "$sde" "$file")
            fi ;;
        add-det) cmd=(add-det "$file") ;;
    esac
    if ! /usr/bin/time -o "$work/time" -f '%e %M' "${cmd[@]}" >/dev/null 2>"$work/err"; then
        echo "  ($tool failed on $file: $(tail -1 "$work/err"))" >&2
    fi
    tail -1 "$work/time" | awk '{printf "%.3f %.0f", $1, $2 / 1024}'
}

# add-determinism picks handlers by file name: a wheel is handed over as .jar.
stage() {
    local tool=$1 src=$2 dst=$3
    case $tool:$src in
        add-det:*.whl) dst=${dst%.whl}.jar ;;
    esac
    cp -r "$src" "$dst"
    echo "$dst"
}

# same A B: "yes" if the two files (or directory trees) are byte-identical.
same() {
    if [ -d "$1" ]; then
        diff -r -q "$1" "$2" >/dev/null && echo yes || echo no
    else
        [ "$(sha256sum <"$1")" = "$(sha256sum <"$2")" ] && echo yes || echo no
    fi
}

tools=(repro)
have strip-nondeterminism && tools+=(strip-nondeterminism)
have add-det && tools+=(add-det)

printf '%-18s %-22s %12s %12s %10s\n' pair tool "wall s a/b" "RSS MB a/b" identical
tail -n +2 "$corpus/MANIFEST.tsv" | while IFS=$'\t' read -r pair a b _size _what; do
    before=$(same "$corpus/$a" "$corpus/$b")
    for tool in "${tools[@]}"; do
        dir="$work/$pair/$tool"
        mkdir -p "$dir/a" "$dir/b"
        fa=$(stage "$tool" "$corpus/$a" "$dir/a/$(basename "$a")")
        fb=$(stage "$tool" "$corpus/$b" "$dir/b/$(basename "$b")")
        read -r ta ma <<<"$(run "$tool" "$fa")"
        read -r tb mb <<<"$(run "$tool" "$fb")"
        printf '%-18s %-22s %12s %12s %10s\n' "$pair" "$tool" "$ta/$tb" "$ma/$mb" "$(same "$fa" "$fb") (was $before)"
    done
done

echo
echo "The bigwheel noise pair in one repro invocation (wall s, peak RSS MB):"
mkdir -p "$work/pair"
cp "$corpus/bigwheel/noise_a.whl" "$corpus/bigwheel/noise_b.whl" "$work/pair/"
/usr/bin/time -o "$work/time" -f '%e %M' "$repro" normalize --in-place --source-date-epoch "$sde" \
    "$work/pair/noise_a.whl" "$work/pair/noise_b.whl" >/dev/null
tail -1 "$work/time" | awk '{printf "  %.3f s, %.0f MB", $1, $2 / 1024}'
echo ", identical: $(same "$work/pair/noise_a.whl" "$work/pair/noise_b.whl")"

echo
echo "repro hash --normalized against openssl dgst -sha256 x$cores (wall s, best of 3; page cache warm)"
best_of() {
    local best="" t0 t1 t
    for _ in 1 2 3; do
        t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N)
        t=$(echo "$t1 - $t0" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
    done
    printf '%.3f' "$best"
}
openssl_parallel() { printf '%s\n' "$@" | xargs -P "$cores" -n 1 openssl dgst -sha256; }
printf '%-34s %10s %12s %14s %10s\n' file MB "repro -n" "openssl x$cores" "repro MB/s"
# MB/s is of the file as stored; a compressed tar is also decompressed.
for f in bigwheel/noise_a.whl bigtar/a.tar.gz bigtar/a.tar.zst deb/a.deb npm/a.tgz; do
    p="$corpus/$f"
    [ -f "$p" ] || continue
    cat "$p" >/dev/null
    mb=$(echo "$(stat -c %s "$p") / 1048576" | bc -l)
    r=$(best_of "$repro" hash --normalized "$p")
    o=$(best_of openssl_parallel "$p")
    printf '%-34s %10.1f %12s %14s %10.0f\n' "$f" "$mb" "$r" "$o" "$(echo "$mb / $r" | bc -l)"
done
