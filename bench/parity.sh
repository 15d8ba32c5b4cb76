#!/usr/bin/env bash
# The parity yardstick (issue #15): repro against the test data that
# diffoscope, strip-nondeterminism and add-determinism wrote for their own
# tests, fetched by bench/parity_fetch.sh into PARITY (default target/parity-data).
#
#   1. every pair diffoscope's tests compare: same exit code and same
#      differing member paths as diffoscope (the venv's, 332), with the
#      speed-up and repro's peak RSS per pair;
#   2. every strip-nondeterminism fixture (.in/.out) and add-determinism
#      case (NAME/NAME.fixed): repro's canonical forms of both identical.
#
# Counts go to stdout; the disagreements, one per line, to
# $PARITY_REPORT_DIR (default target/parity)/{diff,normalize}.tsv.
#
#   bash bench/parity.sh [PARITY]
set -euo pipefail
cd "$(dirname "$0")/.."
parity=$(realpath -m "${1:-target/parity-data}")
[ -d "$parity/diffoscope/tests/data" ] || bash bench/parity_fetch.sh "$parity"
target=${CARGO_TARGET_DIR:-./target}
cargo build --release --quiet --bin repro
repro=$(realpath "${REPRO:-$target/release/repro}")
dscope=${DIFFOSCOPE:-${DIFFOSCOPE_VENV:-target/venv-diffoscope}/bin/diffoscope}
reports=$(realpath -m "${PARITY_REPORT_DIR:-$target/parity}")
mkdir -p "$reports"
echo "repro: $repro; diffoscope: $("$dscope" --version)"
python3 bench/parity.py diff --diffoscope-src "$parity/diffoscope" --diffoscope "$dscope" \
    --repro "$repro" --report "$reports/diff.tsv" >"$reports/diff.log"
tail -n 1 "$reports/diff.log"
python3 bench/parity.py normalize --sn "$parity/strip-nondeterminism" --ad "$parity/add-determinism" \
    --repro "$repro" --report "$reports/normalize.tsv" >"$reports/normalize.log"
tail -n 2 "$reports/normalize.log"
echo "disagreements: $reports/diff.tsv, $reports/normalize.tsv"
