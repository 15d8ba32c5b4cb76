//! Normalizing any input must never panic; when it succeeds, normalizing
//! the output again must change nothing (idempotence) and the normalized
//! digests of input and output must agree.
#![no_main]

use diffoscope_lite::normalize::{normalize_file, normalized_digest, Options};
use diffoscope_lite::Limits;
use libfuzzer_sys::fuzz_target;

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
    };
    if normalize_file(&input, &once, &opts).is_err() {
        return;
    }
    let first = std::fs::read(&once).expect("normalized output exists");
    normalize_file(&once, &twice, &opts).expect("normalized output normalizes again");
    let second = std::fs::read(&twice).expect("second output exists");
    assert_eq!(first, second, "normalization is not idempotent");
    if let (Ok(a), Ok(b)) = (
        normalized_digest(&input, &opts),
        normalized_digest(&once, &opts),
    ) {
        assert_eq!(
            a.sha256, b.sha256,
            "normalizing changed the normalized digest"
        );
    }
});
