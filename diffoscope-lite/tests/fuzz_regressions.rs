//! Inputs the fuzz targets (fuzz/) once failed on, kept under
//! tests/fuzz/<target>/ and checked here with the same promises, so each
//! stays fixed without a fuzzer. A new finding is one more file there.

// Test helpers outside #[test] functions unwrap harness setup too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use diffoscope_lite::normalize::{normalize_file, normalized_digest, Fired, Options};
use diffoscope_lite::{compare, Limits};

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn limits() -> Limits {
    Limits {
        max_depth: 4,
        max_entries: 10_000,
        max_decompressed: 64 << 20,
        ..Limits::default()
    }
}

fn ids(fired: &[Fired]) -> Vec<&'static str> {
    fired.iter().map(|f| f.rule.id()).collect()
}

/// The normalize target's promises (fuzz/fuzz_targets/normalize.rs).
fn check_normalize(input: &Path) {
    let what = input.display();
    let dir = tempfile::tempdir().unwrap();
    let (once, twice) = (dir.path().join("once"), dir.path().join("twice"));
    let opts = Options {
        source_date_epoch: Some(1_700_000_000),
        limits: limits(),
        allow_ambiguous: false,
        // Malformed input is an error: the promises are about what
        // normalizes.
        keep_malformed: false,
    };
    let digest = normalized_digest(input, &opts);
    let report = match normalize_file(input, &once, &opts) {
        Ok(r) => r,
        Err(e) => {
            assert!(
                digest.is_err(),
                "{what}: normalize refused ({e}) what the digest accepted"
            );
            return;
        }
    };
    let report2 = normalize_file(&once, &twice, &opts).unwrap();
    assert!(
        report2.fired.is_empty(),
        "{what}: second pass fired {:?}",
        ids(&report2.fired)
    );
    assert_eq!(
        std::fs::read(&once).unwrap(),
        std::fs::read(&twice).unwrap(),
        "{what}"
    );
    match (digest, normalized_digest(&once, &opts)) {
        (Ok(a), Ok(b)) => {
            assert_eq!(ids(&report.fired), ids(&a.fired), "{what}: fired rules");
            assert_eq!(a.sha256, b.sha256, "{what}: normalizing changed the digest");
        }
        (Err(_), Err(_)) => {}
        (Err(e), Ok(_)) => panic!("{what}: normalizing laundered an input the digest refused: {e}"),
        (Ok(_), Err(e)) => panic!("{what}: the output's digest fails: {e}"),
    }
}

#[test]
fn normalize_findings_keep_the_promises() {
    let files = inputs("normalize");
    assert!(!files.is_empty(), "tests/fuzz/normalize holds the findings");
    for f in files {
        check_normalize(&f);
    }
}

/// The compare target's promises (fuzz/fuzz_targets/compare.rs): its input
/// is a 2-byte little-endian length of the first artifact, then both.
#[test]
fn compare_findings_keep_the_promises() {
    for f in inputs("compare") {
        let data = std::fs::read(&f).unwrap();
        let Some((len, rest)) = data.split_first_chunk::<2>() else {
            continue;
        };
        let cut = usize::from(u16::from_le_bytes(*len)).min(rest.len());
        let (a, b) = rest.split_at(cut);
        let dir = tempfile::tempdir().unwrap();
        let (pa, pb) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&pa, a).unwrap();
        std::fs::write(&pb, b).unwrap();
        let opts = diffoscope_lite::Options {
            limits: limits(),
            ..diffoscope_lite::Options::default()
        };
        if let Ok(None) = compare(&pa, &pb, &opts) {
            assert_eq!(a, b, "{}: different files compared identical", f.display());
        }
    }
}
