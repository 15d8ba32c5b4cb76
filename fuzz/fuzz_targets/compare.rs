//! Two artifacts from one input (split at its first byte's position):
//! comparing them must never panic, hang or exceed the limits.
#![no_main]

use diffoscope_lite::{compare, Limits, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let cut = (data[0] as usize * data.len() / 256).min(data.len());
    let (a, b) = data[1..].split_at(cut.saturating_sub(1).min(data.len() - 1));
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
    let _ = compare(&pa, &pb, &opts);
});
