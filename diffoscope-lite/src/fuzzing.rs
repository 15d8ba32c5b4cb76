//! The promises the fuzz targets check (fuzz/fuzz_targets/), in one place:
//! the targets call these functions under libFuzzer on nightly features,
//! and `tests/fuzz_regressions.rs` calls them on stable Rust with the seed
//! corpus (fuzz/seeds/make_seeds.py) and the findings kept under
//! `tests/fuzz/<target>/`, so CI checks the same promises without a fuzzer.
//!
//! Each function takes a target's raw input and panics when a promise is
//! broken: that panic is the finding. Inputs that cannot even be set up
//! (no temporary directory) are skipped, never reported. Not a stable API.

use std::collections::BTreeMap;
use std::path::Path;

use crate::listing::Listing;
use crate::model::EntryKind;
use crate::normalize::{self, Fired};
use crate::stabilize::{self, Equivalence, Stabilizer};
use crate::{Limits, Options};

/// The limits every target runs under: small enough that one input never
/// takes long, large enough for every seed.
pub fn limits() -> Limits {
    Limits {
        max_depth: 4,
        max_entries: 10_000,
        max_decompressed: 64 << 20,
        ..Limits::default()
    }
}

/// Splits a two-artifact input: a two-byte little-endian length of the
/// first artifact, its bytes, then the second (all the rest). An exact
/// length (rather than a split at a proportion of the input) lets the seed
/// corpus hand over two real files, so the fuzzer starts from pairs that
/// both parse.
pub fn split_pair(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = data.split_first_chunk::<2>()?;
    let cut = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    Some(rest.split_at(cut))
}

/// Writes both artifacts of a pair under the same file name (names decide
/// what a compressed stream's inner entry is called) in two directories.
fn write_pair(dir: &Path, a: &[u8], b: &[u8]) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let (pa, pb) = (dir.join("a/artifact"), dir.join("b/artifact"));
    for (p, bytes) in [(&pa, a), (&pb, b)] {
        let parent = p.parent()?;
        std::fs::create_dir_all(parent).ok()?;
        std::fs::write(p, bytes).ok()?;
    }
    Some((pa, pb))
}

/// Runs `check` on the pair split from `data` (the two byte strings and
/// where they were written, under one file name in two directories) with
/// the targets' differ options; an input that is no pair checks nothing.
fn with_pair(data: &[u8], check: impl FnOnce(&[u8], &[u8], &Path, &Path, &Options)) {
    let Some((a, b)) = split_pair(data) else {
        return;
    };
    let Ok(dir) = tempfile::tempdir() else { return };
    let Some((pa, pb)) = write_pair(dir.path(), a, b) else {
        return;
    };
    let opts = Options {
        limits: limits(),
        ..Options::default()
    };
    check(a, b, &pa, &pb, &opts);
}

/// The normalizer options every target runs under: a fixed epoch, the
/// targets' limits, and malformed input an error (the promises are about
/// what normalizes).
pub fn normalize_options() -> normalize::Options {
    normalize::Options {
        source_date_epoch: Some(1_700_000_000),
        limits: limits(),
        allow_ambiguous: false,
        keep_malformed: false,
    }
}

/// The `compare` target: comparing two artifacts never panics, hangs or
/// exceeds the limits, and content that differs is never reported
/// identical ("identical" is a promise about bytes).
pub fn compare(data: &[u8]) {
    with_pair(data, |a, b, pa, pb, opts| {
        if let Ok(None) = crate::compare(pa, pb, opts) {
            assert_eq!(a, b, "different files compared identical");
        }
    });
}

fn ids(fired: &[Fired]) -> Vec<&'static str> {
    fired.iter().map(|f| f.rule.id()).collect()
}

/// The `normalize` target, on one artifact (any format). Normalizing never
/// panics, and keeps the promises `src/normalize/tests.rs` checks on its
/// fixtures:
/// - what normalize refuses, the normalized digest refuses too;
/// - when it succeeds, normalizing the output again fires no rule and
///   changes nothing (a fixed point);
/// - the digest fires the rules normalize fired, and the output's digest
///   is the input's; an input the digest refuses never yields an output it
///   accepts (normalizing does not launder damage), and vice versa.
pub fn normalize(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let input = dir.path().join("in");
    let once = dir.path().join("once");
    let twice = dir.path().join("twice");
    if std::fs::write(&input, data).is_err() {
        return;
    }
    let opts = normalize_options();
    let digest = normalize::normalized_digest(&input, &opts);
    let report = match normalize::normalize_file(&input, &once, &opts) {
        Ok(r) => r,
        Err(e) => {
            assert!(
                digest.is_err(),
                "normalize refused ({e}) what the digest accepted"
            );
            return;
        }
    };
    let read = |p: &Path| match std::fs::read(p) {
        Ok(b) => b,
        Err(e) => panic!("normalized output {} unreadable: {e}", p.display()),
    };
    let first = read(&once);
    let report2 = match normalize::normalize_file(&once, &twice, &opts) {
        Ok(r) => r,
        Err(e) => panic!("normalized output does not normalize again: {e}"),
    };
    assert!(
        report2.fired.is_empty(),
        "second pass fired {:?}",
        ids(&report2.fired)
    );
    assert_eq!(first, read(&twice), "normalization is not idempotent");
    match (digest, normalize::normalized_digest(&once, &opts)) {
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
}

/// The `stabilize` target, on two artifacts split as [`split_pair`] does:
/// the rebuild comparison ([`stabilize::compare`], every stabilizer
/// allowed) never panics, and keeps its promise (as the unit test
/// `a_one_byte_module_change_is_different_under_every_stabilizer` does on
/// crafted wheels): "bit for bit" means equal bytes, and "equivalent"
/// means both archives hold the same members, of the same kinds, and every
/// regular file other than a `.dist-info/RECORD` or `.dist-info/WHEEL`
/// (whose noise the stabilizers name) has the same bytes on both sides.
pub fn stabilize(data: &[u8]) {
    with_pair(data, |a, b, pa, pb, opts| {
        match stabilize::compare(pa, pb, &Stabilizer::ALL, opts) {
            Ok(Equivalence::BitForBit) => assert_eq!(a, b, "different files called bit for bit"),
            Ok(Equivalence::Equivalent { stabilizers }) => {
                same_members(pa, pb, opts, &stabilizers);
            }
            Ok(Equivalence::Different { .. }) | Err(_) => {}
        }
    });
}

/// Panics unless the archives at `pa` and `pb` hold the same members with
/// the same bytes (RECORD and WHEEL of a `.dist-info` aside).
fn same_members(pa: &Path, pb: &Path, opts: &Options, used: &[Stabilizer]) {
    let open = |p: &Path| match Listing::open(p, opts) {
        Ok(l) => l,
        Err(e) => panic!("an archive called equivalent ({used:?}) does not list again: {e}"),
    };
    let (la, lb) = (open(pa), open(pb));
    let members = |l: &Listing| -> BTreeMap<String, EntryKind> {
        l.entries()
            .iter()
            .map(|e| (e.path.clone(), e.kind.clone()))
            .collect()
    };
    assert_eq!(
        members(&la),
        members(&lb),
        "equivalent ({used:?}) archives with other members"
    );
    for ea in la.entries().iter().filter(|e| e.kind == EntryKind::File) {
        if let Some((dir, file)) = ea.path.split_once('/') {
            if dir.ends_with(".dist-info") && matches!(file, "RECORD" | "WHEEL") {
                continue;
            }
        }
        let Some(eb) = lb.find(|p| p == ea.path) else {
            panic!("{}: only upstream has it, yet equivalent", ea.path);
        };
        let (da, db) = match (la.digest(ea), lb.digest(eb)) {
            (Ok(da), Ok(db)) => (da, db),
            // Unreadable content is a finding of its own, not this promise's.
            _ => continue,
        };
        assert_eq!(
            da, db,
            "{}: other bytes, yet equivalent under {used:?}",
            ea.path
        );
    }
}
