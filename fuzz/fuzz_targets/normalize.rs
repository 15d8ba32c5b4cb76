//! Normalizing any input must never panic, and keeps the promises
//! diffoscope-lite/src/normalize/tests.rs checks on its fixtures:
//! - what normalize refuses, the normalized digest refuses too;
//! - when it succeeds, normalizing the output again fires no rule and
//!   changes nothing (a fixed point);
//! - the digest fires the rules normalize fired, and the output's digest
//!   is the input's; an input the digest refuses never yields an output it
//!   accepts (normalizing does not launder damage), and vice versa.
#![no_main]

use diffoscope_lite::normalize::{normalize_file, normalized_digest, Fired, Options};
use diffoscope_lite::Limits;
use libfuzzer_sys::fuzz_target;

fn ids(fired: &[Fired]) -> Vec<&'static str> {
    fired.iter().map(|f| f.rule.id()).collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let input = dir.path().join("in");
    let once = dir.path().join("once");
    let twice = dir.path().join("twice");
    if std::fs::write(&input, data).is_err() {
        return;
    }
    let opts = Options {
        source_date_epoch: Some(1_700_000_000),
        limits: Limits {
            max_depth: 4,
            max_entries: 10_000,
            max_decompressed: 64 << 20,
            ..Limits::default()
        },
        allow_ambiguous: false,
        // Malformed input is an error: the promises are about what
        // normalizes.
        keep_malformed: false,
    };
    let digest = normalized_digest(&input, &opts);
    let report = match normalize_file(&input, &once, &opts) {
        Ok(r) => r,
        Err(e) => {
            assert!(
                digest.is_err(),
                "normalize refused ({e}) what the digest accepted"
            );
            return;
        }
    };
    let first = std::fs::read(&once).expect("normalized output exists");
    let report2 = normalize_file(&once, &twice, &opts).expect("normalized output normalizes again");
    assert!(
        report2.fired.is_empty(),
        "second pass fired {:?}",
        ids(&report2.fired)
    );
    let second = std::fs::read(&twice).expect("second output exists");
    assert_eq!(first, second, "normalization is not idempotent");
    match (digest, normalized_digest(&once, &opts)) {
        (Ok(a), Ok(b)) => {
            assert_eq!(ids(&report.fired), ids(&a.fired), "fired rules");
            assert_eq!(
                a.sha256, b.sha256,
                "normalizing changed the normalized digest"
            );
        }
        (Err(_), Err(_)) => {}
        (Err(e), Ok(_)) => panic!("normalizing laundered an input the digest refused: {e}"),
        (Ok(_), Err(e)) => panic!("the output's digest fails: {e}"),
    }
});
