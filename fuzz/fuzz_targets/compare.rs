//! Two artifacts from one input: comparing them must never panic, hang or
//! exceed the limits, and content that differs is never reported identical.
//!
//! Input: a two-byte little-endian length of the first artifact, its
//! bytes, then the second artifact (all the rest). An exact length (rather
//! than a split at a proportion of the input) lets the seed corpus
//! (seeds/make_seeds.py) hand over two real files, so the fuzzer starts
//! from pairs that both parse.
#![no_main]

use diffoscope_lite::{compare, Limits, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let cut = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (a, b) = rest.split_at(cut);
    let Ok(dir) = tempfile::tempdir() else { return };
    let (pa, pb) = (dir.path().join("a"), dir.path().join("b"));
    if std::fs::write(&pa, a).is_err() || std::fs::write(&pb, b).is_err() {
        return;
    }
    let opts = Options {
        limits: Limits {
            max_depth: 4,
            max_entries: 10_000,
            max_decompressed: 64 << 20,
            ..Limits::default()
        },
        ..Options::default()
    };
    if let Ok(None) = compare(&pa, &pb, &opts) {
        // "Identical" is a promise about bytes: SHA-256 equal files only.
        assert_eq!(a, b, "different files compared identical");
    }
});
