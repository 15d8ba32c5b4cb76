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
bench: build
    bash bench/hash.sh
    bash bench/sandbox.sh
    bash bench/diff.sh
    bash bench/normalize.sh
