//! The fuzz targets' promises (`diffoscope_lite::fuzzing`, the functions
//! fuzz/fuzz_targets/ call) on stable Rust, without a fuzzer:
//! - every input a target once failed on, kept under
//!   `tests/fuzz/<target>/` (a new finding is one more file there);
//! - every seed of the corpus `fuzz/seeds/make_seeds.py` writes, generated
//!   into a temporary directory by the test (python3 and its standard
//!   library only), so a change that breaks a promise on a plain, valid
//!   input of some format fails CI, not only a fuzzing run.

// Test helpers outside #[test] functions unwrap harness setup too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use diffoscope_lite::fuzzing;

/// The files of `dir`, sorted; none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn findings(target: &str) -> Vec<PathBuf> {
    files(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fuzz")
            .join(target),
    )
}

/// The seed corpus, written by make_seeds.py into a temporary directory.
fn seeds() -> &'static Path {
    static SEEDS: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    SEEDS
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/make_seeds.py");
            let status = std::process::Command::new("python3")
                .arg(&script)
                .arg(dir.path())
                .stdout(std::process::Stdio::null())
                .status()
                .expect("python3 runs (it writes the seed corpus)");
            assert!(status.success(), "{} failed: {status}", script.display());
            dir
        })
        .path()
}

/// Runs `check` on every file, naming the file when a promise breaks.
fn run(what: &str, inputs: &[PathBuf], check: fn(&[u8])) {
    for f in inputs {
        let data = std::fs::read(f).unwrap();
        if let Err(panic) = std::panic::catch_unwind(|| check(&data)) {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{what} {}: {msg}", f.display());
        }
    }
}

#[test]
fn normalize_findings_keep_the_promises() {
    let inputs = findings("normalize");
    assert!(
        !inputs.is_empty(),
        "tests/fuzz/normalize holds the findings"
    );
    run("finding", &inputs, fuzzing::normalize);
}

#[test]
fn compare_findings_keep_the_promises() {
    run("finding", &findings("compare"), fuzzing::compare);
}

#[test]
fn stabilize_findings_keep_the_promises() {
    run("finding", &findings("stabilize"), fuzzing::stabilize);
}

#[test]
fn normalize_seeds_keep_the_promises() {
    let inputs = files(&seeds().join("normalize"));
    assert!(inputs.len() > 50, "make_seeds.py wrote normalize seeds");
    run("seed", &inputs, fuzzing::normalize);
}

#[test]
fn compare_seeds_keep_the_promises() {
    let inputs = files(&seeds().join("compare"));
    assert!(inputs.len() > 50, "make_seeds.py wrote compare seeds");
    run("seed", &inputs, fuzzing::compare);
}

#[test]
fn stabilize_seeds_keep_the_promises() {
    let inputs = files(&seeds().join("stabilize"));
    assert!(inputs.len() > 10, "make_seeds.py wrote stabilize seeds");
    run("seed", &inputs, fuzzing::stabilize);
}
