# Everyday commands. Install just with `cargo install just`.

# Build the release binary.
build:
    cargo build --release

# Run every test (the same command as the README and CI).
test:
    cargo test --workspace

# Formatting, clippy and rustdoc, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps

# Build every fixture project and show the verdicts.
demo: build
    #!/usr/bin/env bash
    set -u
    for p in fixtures/projects/*/; do
        name=$(basename "$p")
        echo "== $name"
        ./target/release/repro build "$p" --out "target/demo/$name" --force
        echo "exit code: $?"
    done

# Measurements against the anchor tools, printed as ratios.
# Installs the anchor tools (apt, the newest diffoscope from PyPI,
# add-determinism) and builds the corpus the benchmarks compare on.
bench-setup:
    bash bench/setup.sh

# Build (or complete) only the corpus that bench/diff.sh and
# bench/normalize.sh compare on: real artifacts fetched with pip, apt-get
# and npm, in pairs listed in OUT/MANIFEST.tsv.
bench-corpus out="/tmp/repro-corpus":
    bash bench/make_corpus.sh {{out}}

bench: build
    bash bench/hash.sh
    bash bench/sandbox.sh
    bash bench/runtree.sh
    bash bench/diff.sh
    bash bench/normalize.sh

# Independent rebuilds of PyPI releases (needs the network to PyPI):
# verdicts, stabilizers, time and repro's overhead per package.
bench-rebuild list="bench/rebuild-pypi.txt": build
    bash bench/rebuild.sh {{list}}

# Coverage-guided fuzzing of the differ and the normalizers (needs cargo-fuzz;
# the stable toolchain allows its nightly features with RUSTC_BOOTSTRAP=1).
fuzz target="compare" seconds="300":
    cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O {{target}} -- -max_total_time={{seconds}} -rss_limit_mb=2048 -timeout=20

# Batch rebuilds (needs the network to PyPI): --jobs 2 versus --jobs 1,
# resume overhead, and `repro report` over 100,000 synthetic records.
bench-batch list="bench/rebuild-pypi.txt": build
    bash bench/batch.sh {{list}}

# SBOM of numpy's 16 MB wheel: repro sbom against cyclonedx-py (needs the
# network to PyPI once), time, peak RSS and the fields each lacks.
bench-sbom: build
    bash bench/sbom.sh

# The parity yardstick: diffoscope's test-data pairs and the normalizer
# fixtures of strip-nondeterminism and add-determinism (fetched into
# DIR (default target/parity-data) by bench/parity_fetch.sh on first use).
bench-parity parity="target/parity-data":
    bash bench/parity.sh {{parity}}
