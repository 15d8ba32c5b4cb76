//! Golden pairs, idempotence, digests and hostile input for every normalizer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Read, Write};

use proptest::prelude::*;

use super::*;

const SDE: i64 = 1_600_000_000;

/// Normalizes `bytes`; `None` when nothing fired (the input is canonical).
fn norm(bytes: &[u8], sde: Option<i64>) -> (Option<Vec<u8>>, Vec<&'static str>) {
    let budget = Budget::new(Limits::default());
    let nx = Nx {
        budget: &budget,
        epoch: sde.unwrap_or(DEFAULT_EPOCH),
        allow_ambiguous: false,
    };
    let blob = Blob::mem(bytes.to_vec());
    let Some(n) = detect(&bytes[..bytes.len().min(formats::HEAD_LEN)]) else {
        return (None, Vec::new());
    };
    let mut out = Vec::new();
    let fired = n.normalize(&blob, "t", 1, &nx, &mut out).unwrap();
    let ids = fired.iter().map(|f| f.rule.id()).collect();
    if fired.is_empty() {
        assert!(
            out.is_empty(),
            "a normalizer that fires nothing writes nothing"
        );
        (None, ids)
    } else {
        (Some(out), ids)
    }
}

/// The canonical form: the output, or the input when nothing fired.
fn canon(bytes: &[u8]) -> Vec<u8> {
    norm(bytes, Some(SDE)).0.unwrap_or_else(|| bytes.to_vec())
}

fn try_both(bytes: &[u8]) -> (Result<Vec<Fired>>, Result<Digested>) {
    let (n, d, _) = try_all(bytes);
    (n, d)
}

/// Normalizes and digests `bytes`; the third value is what normalizing
/// wrote.
fn try_all(bytes: &[u8]) -> (Result<Vec<Fired>>, Result<Digested>, Vec<u8>) {
    let budget = Budget::new(Limits {
        max_decompressed: 64 << 20,
        ..Limits::default()
    });
    let nx = Nx {
        budget: &budget,
        epoch: SDE,
        allow_ambiguous: false,
    };
    let blob = Blob::mem(bytes.to_vec());
    let n = detect(&bytes[..bytes.len().min(formats::HEAD_LEN)]);
    let Some(n) = n else {
        return (Ok(Vec::new()), digest_blob(&blob, "t", 1, &nx), Vec::new());
    };
    let mut out = Vec::new();
    let normalized = n.normalize(&blob, "t", 1, &nx, &mut out);
    (normalized, n.digest(&blob, "t", 1, &nx), out)
}

/// Sorted, deduplicated rule ids.
fn rule_ids(fired: &[Fired]) -> Vec<&'static str> {
    let mut ids: Vec<_> = fired.iter().map(|f| f.rule.id()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// What the normalizer promises on any input, hostile or not:
/// - what the digest reads, normalizing reads too, and both fire the same
///   rules;
/// - a normalized output normalizes to itself and has the input's digest;
/// - normalizing never launders damage: normalizing reads no more than it
///   must (a gzip of unknown content is not inflated to the end), so it may
///   accept what the digest refuses, but then the output is refused too.
///
/// Returns whether the digest refused the input.
fn check_promises(bytes: &[u8], what: &str) -> bool {
    let (n, d, out) = try_all(bytes);
    let fired = match n {
        Ok(fired) => fired,
        Err(e) => {
            assert!(
                d.is_err(),
                "{what}: normalize refused ({e}) what the digest accepted"
            );
            return true;
        }
    };
    let once = if fired.is_empty() {
        bytes.to_vec()
    } else {
        out
    };
    let (n2, d2, _) = try_all(&once);
    let fired2 = n2.unwrap_or_else(|e| panic!("{what}: the output does not normalize: {e}"));
    assert!(
        fired2.is_empty(),
        "{what}: second pass fired {:?}",
        rule_ids(&fired2)
    );
    match (d, d2) {
        (Ok(d), Ok(d2)) => {
            assert_eq!(rule_ids(&fired), rule_ids(&d.fired), "{what}: fired rules");
            assert_eq!(
                hex::encode(d.sha256),
                hex::encode(d2.sha256),
                "{what}: the output's digest is not the input's"
            );
            false
        }
        (Err(_), Err(_)) => true,
        (Err(e), Ok(_)) => panic!("{what}: normalizing laundered an input the digest refused: {e}"),
        (Ok(_), Err(e)) => panic!("{what}: the output's digest fails: {e}"),
    }
}

fn digest(bytes: &[u8]) -> ([u8; 32], Vec<&'static str>) {
    let (_, d) = try_both(bytes);
    let d = d.unwrap();
    (d.sha256, d.fired.iter().map(|f| f.rule.id()).collect())
}

/// Normalizing the canonical form again fires nothing, and the digest of a
/// file equals the digest of its canonical form.
fn check_fixed_point(bytes: &[u8]) {
    let once = canon(bytes);
    let (twice, fired) = norm(&once, Some(SDE));
    assert!(twice.is_none(), "second pass fired {fired:?}");
    assert_eq!(digest(bytes).0, digest(&once).0);
    assert!(digest(&once).1.is_empty());
}

// ---------------------------------------------------------------- zip

struct ZEntry<'a> {
    name: &'a str,
    data: &'a [u8],
    mode: u32,
    year: u16,
    ut: bool,
}

fn zip_of(entries: &[ZEntry<'_>]) -> Vec<u8> {
    let mut w = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
    for e in entries {
        let mut opts = ::zip::write::FullFileOptions::default()
            .last_modified_time(::zip::DateTime::from_date_and_time(e.year, 3, 4, 5, 6, 8).unwrap())
            .unix_permissions(e.mode)
            .compression_method(::zip::CompressionMethod::Deflated);
        if e.ut {
            opts.add_extra_data(0x5455, [1, 0x10, 0x20, 0x30, 0x40], false)
                .unwrap();
        }
        if e.name.ends_with('/') {
            w.add_directory(e.name, opts.clone()).unwrap();
        } else {
            w.start_file(e.name, opts).unwrap();
            w.write_all(e.data).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>, Option<u32>)> {
    let mut a = ::zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..a.len())
        .map(|i| {
            let mut f = a.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().to_owned(), data, f.unix_mode())
        })
        .collect()
}

fn wheel(order: &[usize], year: u16, mode: u32, ut: bool) -> Vec<u8> {
    let all = [
        ("pkg/", &b""[..]),
        ("pkg/__init__.py", b"x = 1\n"),
        ("pkg/bin.so", b"\x7fELF....."),
        ("pkg-1.0.dist-info/RECORD", b"pkg/__init__.py,,\n"),
        ("pkg-1.0.dist-info/METADATA", b"Name: pkg\n"),
    ];
    let entries: Vec<ZEntry<'_>> = order
        .iter()
        .map(|&i| ZEntry {
            name: all[i].0,
            data: all[i].1,
            mode: if i == 2 { mode | 0o111 } else { mode },
            year,
            ut,
        })
        .collect();
    zip_of(&entries)
}

#[test]
fn zip_noise_pair_becomes_identical() {
    let a = wheel(&[0, 1, 2, 3, 4], 2024, 0o644, true);
    let b = wheel(&[4, 3, 2, 1, 0], 2025, 0o664, false);
    assert_ne!(a, b);
    let (na, fired) = norm(&a, Some(SDE));
    assert_eq!(
        fired[..3],
        ["zip.sort", "zip.mtime-clamp", "zip.extra-strip"]
    );
    let (nb, _) = norm(&b, Some(SDE));
    let (na, nb) = (na.unwrap(), nb.unwrap());
    assert_eq!(na, nb);
    // Wheel metadata last, RECORD last of all; data and exec bits intact.
    let names: Vec<String> = unzip(&na).into_iter().map(|e| e.0).collect();
    assert_eq!(
        names,
        [
            "pkg/",
            "pkg/__init__.py",
            "pkg/bin.so",
            "pkg-1.0.dist-info/METADATA",
            "pkg-1.0.dist-info/RECORD"
        ]
    );
    let mut before = unzip(&a);
    before.sort();
    let mut after = unzip(&na);
    after.sort();
    for (x, y) in before.iter().zip(&after) {
        assert_eq!((&x.0, &x.1), (&y.0, &y.1));
    }
    assert_eq!(
        after.iter().find(|e| e.0 == "pkg/bin.so").unwrap().2,
        Some(0o100755)
    );
    assert_eq!(
        after.iter().find(|e| e.0 == "pkg/").unwrap().2,
        Some(0o40755)
    );
    check_fixed_point(&a);
    check_fixed_point(&b);
    assert_eq!(digest(&a).0, digest(&b).0);
}

#[test]
fn zip_content_change_changes_the_digest() {
    let a = wheel(&[0, 1, 2, 3, 4], 2024, 0o644, false);
    let mut entries = vec![("pkg/__init__.py", &b"x = 2\n"[..])];
    entries.push(("pkg/bin.so", b"\x7fELF....."));
    let b = zip_of(
        &entries
            .iter()
            .map(|(n, d)| ZEntry {
                name: n,
                data: d,
                mode: 0o644,
                year: 2024,
                ut: false,
            })
            .collect::<Vec<_>>(),
    );
    assert_ne!(digest(&a).0, digest(&b).0);
}

#[test]
fn zip_without_epoch_clamps_to_1980_and_keeps_older_times() {
    let a = wheel(&[0, 1], 2024, 0o644, false);
    let out = norm(&a, None).0.unwrap();
    let mut z = ::zip::ZipArchive::new(Cursor::new(out)).unwrap();
    let t = z.by_index(0).unwrap().last_modified().unwrap();
    assert_eq!((t.year(), t.month(), t.day(), t.hour()), (1980, 1, 1, 0));
    // Times before the epoch are kept.
    let old = wheel(&[1], 2000, 0o644, false);
    assert!(!norm(&old, Some(SDE)).1.contains(&"zip.mtime-clamp"));
}

#[test]
fn jar_manifest_comes_first() {
    let entries = [
        ("a/B.class", &b"\xca\xfe"[..]),
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
        ("META-INF/", b""),
        ("0.txt", b"0"),
    ];
    let jar = zip_of(
        &entries
            .iter()
            .map(|(n, d)| ZEntry {
                name: n,
                data: d,
                mode: 0o644,
                year: 2000,
                ut: false,
            })
            .collect::<Vec<_>>(),
    );
    let out = norm(&jar, Some(SDE)).0.unwrap();
    let names: Vec<String> = unzip(&out).into_iter().map(|e| e.0).collect();
    assert_eq!(
        names,
        ["META-INF/", "META-INF/MANIFEST.MF", "0.txt", "a/B.class"]
    );
}

// ---------------------------------------------------------------- gzip

fn gzip_of(data: &[u8], mtime: u32, fname: Option<&str>) -> Vec<u8> {
    let mut b = flate2::GzBuilder::new().mtime(mtime);
    if let Some(f) = fname {
        b = b.filename(f);
    }
    let mut w = b.write(Vec::new(), flate2::Compression::default());
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn gzip_header_is_cleared_and_deflate_kept() {
    let a = gzip_of(b"hello hello hello\n", 1_700_000_000, Some("x.txt"));
    let b = gzip_of(b"hello hello hello\n", 1_700_000_123, None);
    let (na, fired) = norm(&a, Some(SDE));
    assert_eq!(fired, ["gzip.mtime", "gzip.fname"]);
    let na = na.unwrap();
    assert_eq!(na, norm(&b, Some(SDE)).0.unwrap());
    assert_eq!(&na[4..8], &[0, 0, 0, 0]);
    // The deflate stream is the input's, byte for byte.
    assert!(a.ends_with(&na[10..]));
    assert_eq!(gunzip(&na), b"hello hello hello\n");
    check_fixed_point(&a);
    // Already canonical: nothing fires, nothing is written.
    let c = gzip_of(b"x", 0, None);
    assert_eq!(norm(&c, Some(SDE)), (None, Vec::new()));
}

#[test]
fn gzip_names_and_comments_of_any_length_are_cleared() {
    // RFC 1952 sets no length limit on FNAME and FCOMMENT; flate2's own
    // header reader stops at 64 KiB. Build the header by hand.
    let data = b"hello hello hello\n";
    let plain = gzip_of(data, 0, None);
    let mut long = vec![0x1f, 0x8b, 8, 0x08 | 0x10 | 0x04, 1, 2, 3, 4, 0, 0xff];
    long.extend_from_slice(&65_535u16.to_le_bytes());
    long.extend(vec![b'e'; 65_535]); // the longest extra field there is
    long.extend(vec![b'n'; 100_000]);
    long.push(0);
    long.extend(vec![b'c'; 70_000]);
    long.push(0);
    long.extend_from_slice(&plain[10..]);
    let (out, fired) = norm(&long, Some(SDE));
    assert_eq!(fired, ["gzip.mtime", "gzip.fname", "gzip.comment"]);
    let out = out.unwrap();
    // Header: fixed fields and the (kept) extra field, then the input's
    // deflate data byte for byte.
    assert_eq!(out.len(), 10 + 2 + 65_535 + plain.len() - 10);
    assert!(out.ends_with(&plain[10..]));
    assert_eq!(gunzip(&out), data);
    check_fixed_point(&long);
    // Cut inside the name: an error naming where, not a panic.
    let (r, _) = try_both(&long[..70_000]);
    let e = r.unwrap_err().to_string();
    assert!(e.contains("header cut off in the file name"), "{e}");
}

// ---------------------------------------------------------------- tar

struct TEntry<'a> {
    path: &'a str,
    data: &'a [u8],
    mode: u32,
    mtime: u64,
    uid: u64,
    user: &'a str,
    kind: ::tar::EntryType,
}

fn tar_of(entries: &[TEntry<'_>]) -> Vec<u8> {
    let mut b = ::tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = ::tar::Header::new_gnu();
        h.set_entry_type(e.kind);
        h.set_mode(e.mode);
        h.set_mtime(e.mtime);
        h.set_uid(e.uid);
        h.set_gid(e.uid);
        h.set_username(e.user).unwrap();
        h.set_groupname(e.user).unwrap();
        h.set_size(e.data.len() as u64);
        h.set_cksum();
        b.append_data(&mut h, e.path, e.data).unwrap();
    }
    b.into_inner().unwrap()
}

fn untar(bytes: &[u8]) -> Vec<(String, Vec<u8>, u32, u64, u64)> {
    let mut a = ::tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            let h = e.header();
            (
                e.path().unwrap().display().to_string(),
                data,
                h.mode().unwrap(),
                h.mtime().unwrap(),
                h.uid().unwrap_or(0),
            )
        })
        .collect()
}

fn sample_tar(reverse: bool, mtime: u64, uid: u64, mode: u32) -> Vec<u8> {
    use ::tar::EntryType as T;
    let mut e = vec![
        TEntry {
            path: "pkg/",
            data: b"",
            mode: 0o755,
            mtime,
            uid,
            user: "alice",
            kind: T::Directory,
        },
        TEntry {
            path: "pkg/a.txt",
            data: b"aaa\n",
            mode,
            mtime,
            uid,
            user: "alice",
            kind: T::Regular,
        },
        TEntry {
            path: "pkg/run.sh",
            data: b"#!/bin/sh\n",
            mode: mode | 0o111,
            mtime,
            uid,
            user: "alice",
            kind: T::Regular,
        },
        TEntry {
            path: "pkg.txt",
            data: b"top\n",
            mode,
            mtime,
            uid,
            user: "alice",
            kind: T::Regular,
        },
    ];
    if reverse {
        e.reverse();
    }
    tar_of(&e)
}

#[test]
fn tar_noise_pair_becomes_identical() {
    let a = sample_tar(false, 1_700_000_000, 1000, 0o644);
    let b = sample_tar(true, 1_700_000_500, 2345, 0o664);
    let (na, fired) = norm(&a, Some(SDE));
    assert_eq!(fired, ["tar.mtime-clamp", "tar.owner"]);
    let (nb, fired_b) = norm(&b, Some(SDE));
    assert_eq!(
        fired_b,
        ["tar.sort", "tar.mtime-clamp", "tar.owner", "tar.mode"]
    );
    let na = na.unwrap();
    assert_eq!(na, nb.unwrap());
    assert_eq!(na.len() % 10240, 0);
    let entries = untar(&na);
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    // Component order, as `tar --sort=name`: pkg/ and its contents before pkg.txt.
    assert_eq!(names, ["pkg/", "pkg/a.txt", "pkg/run.sh", "pkg.txt"]);
    let run = entries.iter().find(|e| e.0 == "pkg/run.sh").unwrap();
    assert_eq!(
        (run.1.as_slice(), run.2, run.3, run.4),
        (&b"#!/bin/sh\n"[..], 0o755, SDE as u64, 0)
    );
    check_fixed_point(&a);
    check_fixed_point(&b);
    assert_eq!(digest(&a).0, digest(&b).0);
    let c = sample_tar(false, 1_700_000_000, 1000, 0o755);
    assert_ne!(digest(&a).0, digest(&c).0, "a real mode change is content");
}

#[test]
fn pax_volatile_records_are_dropped() {
    let mut b = ::tar::Builder::new(Vec::new());
    b.append_pax_extensions([
        ("atime", &b"1700000001.5"[..]),
        ("ctime", b"1700000002"),
        ("mtime", b"1700000003.25"),
        ("SCHILY.xattr.user.k", b"v"),
    ])
    .unwrap();
    let mut h = ::tar::Header::new_ustar();
    h.set_mode(0o644);
    h.set_size(2);
    h.set_cksum();
    b.append_data(&mut h, "f", &b"hi"[..]).unwrap();
    let a = b.into_inner().unwrap();
    let (out, fired) = norm(&a, Some(SDE));
    assert!(
        fired.contains(&"tar.pax-volatile") && fired.contains(&"tar.mtime-clamp"),
        "{fired:?}"
    );
    let out = out.unwrap();
    let mut ar = ::tar::Archive::new(&out[..]);
    let mut e = ar.entries().unwrap().next().unwrap().unwrap();
    let keys: Vec<(String, String)> = e
        .pax_extensions()
        .unwrap()
        .unwrap()
        .map(|x| {
            let x = x.unwrap();
            (x.key().unwrap().to_owned(), x.value().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("mtime".to_owned(), SDE.to_string()),
            ("SCHILY.xattr.user.k".to_owned(), "v".to_owned())
        ]
    );
    let mut data = String::new();
    e.read_to_string(&mut data).unwrap();
    assert_eq!(data, "hi");
    check_fixed_point(&a);
}

pub(super) fn compressed(kind: Kind, data: &[u8]) -> Vec<u8> {
    match kind {
        Kind::Gzip => gzip_of(data, 1_700_000_000, Some("a.tar")),
        Kind::Xz => {
            let mut w = liblzma::write::XzEncoder::new(Vec::new(), 1);
            w.write_all(data).unwrap();
            w.finish().unwrap()
        }
        Kind::Zstd => ::zstd::encode_all(data, 5).unwrap(),
        _ => {
            let mut w = ::bzip2::write::BzEncoder::new(Vec::new(), ::bzip2::Compression::fast());
            w.write_all(data).unwrap();
            w.finish().unwrap()
        }
    }
}

#[test]
fn compressed_tars_are_normalized_inside() {
    for kind in [Kind::Gzip, Kind::Xz, Kind::Zstd, Kind::Bzip2] {
        let a = compressed(kind, &sample_tar(false, 1_700_000_000, 1000, 0o644));
        let b = compressed(kind, &sample_tar(true, 1_700_000_500, 2345, 0o664));
        let (na, fired) = norm(&a, Some(SDE));
        assert!(fired.contains(&"tar.owner"), "{kind}: {fired:?}");
        assert_eq!(na.unwrap(), norm(&b, Some(SDE)).0.unwrap(), "{kind}");
        check_fixed_point(&a);
        assert_eq!(digest(&a).0, digest(&b).0, "{kind}");
    }
}

#[test]
fn hardlinks_follow_their_target() {
    use ::tar::EntryType as T;
    let mut b = ::tar::Builder::new(Vec::new());
    let mut h = ::tar::Header::new_gnu();
    h.set_entry_type(T::Regular);
    h.set_mode(0o644);
    h.set_size(1);
    h.set_cksum();
    b.append_data(&mut h, "z", &b"z"[..]).unwrap();
    let mut l = ::tar::Header::new_gnu();
    l.set_entry_type(T::Link);
    l.set_mode(0o644);
    l.set_size(0);
    b.append_link(&mut l, "a", "z").unwrap();
    let t = b.into_inner().unwrap();
    // "a" sorts before "z", but a hard link must come after its target.
    let names: Vec<String> = untar(&canon(&t)).into_iter().map(|e| e.0).collect();
    assert_eq!(names, ["z", "a"]);
}

// ---------------------------------------------------------------- ar / deb

fn ar_of(members: &[(&str, &[u8], i64, &str)]) -> Vec<u8> {
    ar_owned(members, "1000")
}

/// An ar whose members' uid and gid fields are spelled `owner`.
fn ar_owned(members: &[(&str, &[u8], i64, &str)], owner: &str) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data, mtime, mode) in members {
        out.extend_from_slice(
            format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                name,
                mtime,
                owner,
                owner,
                mode,
                data.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

fn deb(mtime: i64, reverse: bool) -> Vec<u8> {
    let data = compressed(Kind::Xz, &sample_tar(reverse, mtime as u64, 0, 0o644));
    ar_of(&[
        ("debian-binary", b"2.0\n", mtime, "100644"),
        ("data.tar.xz", &data, mtime, "100644"),
    ])
}

#[test]
fn deb_members_and_nested_tarballs_are_normalized() {
    let a = deb(1_700_000_000, false);
    let b = deb(1_700_000_900, true);
    let budget = Budget::new(Limits::default());
    let nx = Nx {
        budget: &budget,
        epoch: SDE,
        allow_ambiguous: false,
    };
    let mut out = Vec::new();
    let fired = ar::Ar
        .normalize(&Blob::mem(a.clone()), "a.deb", 1, &nx, &mut out)
        .unwrap();
    let got: Vec<(String, &str)> = fired
        .iter()
        .map(|f| (f.path.clone(), f.rule.id()))
        .collect();
    assert_eq!(
        got,
        [
            ("a.deb".to_owned(), "ar.mtime"),
            ("a.deb".to_owned(), "ar.owner"),
            ("a.deb::data.tar.xz::data.tar".to_owned(), "tar.mtime-clamp"),
            ("a.deb::data.tar.xz::data.tar".to_owned(), "tar.owner"),
        ]
    );
    let na = canon(&a);
    assert_eq!(na, canon(&b));
    // Members keep their order; dpkg's file-type bits stay in the mode.
    assert!(na[8..].starts_with(b"debian-binary   1600000000  0     0     100644  4 "));
    check_fixed_point(&a);
    assert_eq!(digest(&a).0, digest(&b).0);
}

#[test]
fn ar_whose_odd_last_member_lacks_its_pad_byte_is_normalized() {
    let mut a = ar_of(&[("debian-binary", b"2.0\n", 1_700_000_000, "100644")]);
    a.extend_from_slice(b"last            1700000000  1000  1000  100644  3         `\nodd");
    let out = canon(&a);
    // The canonical form pads every member, the last one too.
    assert!(
        out.ends_with(b"`\nodd\n"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    check_fixed_point(&a);
}

#[test]
fn ar_long_name_table_too_large_to_read_is_an_error() {
    let table = vec![b'x'; (16 << 20) + 2];
    let a = ar_of(&[("//", &table, 0, ""), ("/0", b"obj", 1_700_000_000, "644")]);
    let (n, d) = try_both(&a);
    for e in [n.map(drop).unwrap_err(), d.map(drop).unwrap_err()] {
        let msg = e.to_string();
        assert!(
            msg.starts_with("t: malformed ar: long-name table of 16777218 bytes"),
            "{msg}"
        );
    }
}

// ---------------------------------------------------------------- pyc / png

#[test]
fn pyc_mtime_is_clamped_and_hash_based_pycs_untouched() {
    let mut pyc = vec![0xa7, 0x0d, b'\r', b'\n', 0, 0, 0, 0];
    pyc.extend_from_slice(&1_700_000_000u32.to_le_bytes());
    pyc.extend_from_slice(&42u32.to_le_bytes());
    pyc.extend_from_slice(b"\xe3code");
    let (out, fired) = norm(&pyc, Some(SDE));
    assert_eq!(fired, ["pyc.mtime"]);
    let out = out.unwrap();
    assert_eq!(&out[8..12], &(SDE as u32).to_le_bytes());
    assert_eq!(out[12..], pyc[12..]);
    check_fixed_point(&pyc);
    let mut hashed = pyc.clone();
    hashed[4] = 1;
    assert_eq!(norm(&hashed, Some(SDE)), (None, Vec::new()));
}

#[test]
fn pyc_of_a_3_7_alpha_has_no_flags_word() {
    // Magic 3390 and 3391 still wrote the 12-byte header: the mtime is at
    // offset 4, and it is clamped there (the bytes after it are the size).
    let mut pyc = 3391u16.to_le_bytes().to_vec();
    pyc.extend_from_slice(b"\r\n");
    pyc.extend_from_slice(&1_700_000_000u32.to_le_bytes());
    pyc.extend_from_slice(&42u32.to_le_bytes());
    pyc.extend_from_slice(b"\xe3code");
    let (out, fired) = norm(&pyc, Some(SDE));
    assert_eq!(fired, ["pyc.mtime"]);
    let out = out.unwrap();
    assert_eq!(&out[4..8], &(SDE as u32).to_le_bytes());
    assert_eq!(out[8..], pyc[8..]);
    check_fixed_point(&pyc);
}

fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crate::hash::Crc32::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
    out
}

fn png(time: &[u8], date: &[u8]) -> Vec<u8> {
    let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
    p.extend(chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]));
    p.extend(chunk(b"tIME", time));
    p.extend(chunk(
        b"tEXt",
        &[b"date:create\0".as_slice(), date].concat(),
    ));
    p.extend(chunk(b"tEXt", b"Comment\0kept"));
    p.extend(chunk(b"IDAT", b"\x78\x9c\x63\x00\x00\x00\x01\x00\x01"));
    p.extend(chunk(b"IEND", b""));
    p
}

#[test]
fn png_time_chunks_are_dropped() {
    let a = png(&[7, 230, 1, 2, 3, 4, 5], b"2024-01-01T00:00:00");
    let b = png(&[7, 231, 1, 2, 3, 4, 5], b"2025-05-05T00:00:00");
    let (na, fired) = norm(&a, Some(SDE));
    assert_eq!(fired, ["png.time-chunks"]);
    let na = na.unwrap();
    assert_eq!(na, canon(&b));
    let kept = [
        b"\x89PNG\r\n\x1a\n".to_vec(),
        chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]),
        chunk(b"tEXt", b"Comment\0kept"),
        chunk(b"IDAT", b"\x78\x9c\x63\x00\x00\x00\x01\x00\x01"),
        chunk(b"IEND", b""),
    ]
    .concat();
    assert_eq!(na, kept);
    check_fixed_point(&a);
}

#[test]
fn unknown_formats_are_left_alone_and_hashed_plainly() {
    let text = b"just text\n";
    assert_eq!(norm(text, Some(SDE)), (None, Vec::new()));
    let (d, fired) = digest(text);
    assert_eq!(d, <[u8; 32]>::from(Sha256::digest(text)));
    assert!(fired.is_empty());
}

// ---------------------------------------------------------------- hostile input

#[test]
fn truncated_and_mutated_archives_error_without_panicking() {
    let samples = [
        wheel(&[0, 1, 2, 3, 4], 2024, 0o644, true),
        gzip_of(&sample_tar(false, 1_700_000_000, 1, 0o644), 1, Some("x")),
        sample_tar(false, 1_700_000_000, 1, 0o644),
        deb(1_700_000_000, false),
        png(&[7, 230, 1, 2, 3, 4, 5], b"x"),
    ];
    for (i, s) in samples.iter().enumerate() {
        check_promises(s, &format!("sample {i}"));
        let mut errors = 0;
        for cut in (1..s.len()).step_by((s.len() / 97).max(1)) {
            errors += usize::from(check_promises(
                &s[..cut],
                &format!("sample {i} cut at {cut}"),
            ));
        }
        assert!(errors > 0, "some truncation must be reported");
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for round in 0..300 {
            let mut m = s.clone();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state % m.len() as u64) as usize;
                m[at] = (state >> 32) as u8;
            }
            check_promises(&m, &format!("sample {i} mutant {round}"));
        }
    }
    // Errors name the entry.
    let w = wheel(&[0, 1], 2024, 0o644, false);
    let (n, _) = try_both(&w[..w.len() - 10]);
    let msg = n.unwrap_err().to_string();
    assert!(msg.starts_with("t: malformed zip"), "{msg}");
}

#[test]
fn a_cut_gzip_around_a_tar_is_refused_by_the_digest_too() {
    // The tar inside ends (its end blocks are present) before the gzip
    // does: the digest used to stop at the tar's end and accept the file
    // that normalizing, which inflates it whole, refuses.
    let gz = gzip_of(&sample_tar(false, 1_700_000_000, 1, 0o644), 1, None);
    let cut = &gz[..gz.len() - 4];
    let (n, d) = try_both(cut);
    assert!(n.is_err());
    let e = d.map(drop).unwrap_err().to_string();
    assert!(e.starts_with("t::t-content"), "{e}");
}

#[test]
fn zip_bombs_hit_the_entry_limit() {
    let w = wheel(&[0, 1, 2, 3, 4], 2024, 0o644, false);
    let budget = Budget::new(Limits {
        max_entries: 2,
        ..Limits::default()
    });
    let nx = Nx {
        budget: &budget,
        epoch: SDE,
        allow_ambiguous: false,
    };
    let err = zip::Zip
        .normalize(&Blob::mem(w), "w.whl", 1, &nx, &mut Vec::new())
        .unwrap_err();
    assert!(err.to_string().contains("--max-entries"), "{err}");
}

// ---------------------------------------------------------------- properties

fn arb_entries() -> impl Strategy<Value = Vec<(String, Vec<u8>, u32, u16, bool)>> {
    prop::collection::btree_map(
        "[a-c]{1,2}(/[a-c]{1,2}){0,2}",
        (
            prop::collection::vec(any::<u8>(), 0..40),
            prop::sample::select(vec![0o600u32, 0o644, 0o664, 0o755, 0o775]),
            1980u16..2100,
            any::<bool>(),
        ),
        1..8,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(k, (d, mo, y, ut))| (k, d, mo, y, ut))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn zip_normalization_is_idempotent_and_order_free(
        entries in arb_entries(),
        seed in any::<u64>(),
    ) {
        let make = |order: &[usize]| {
            zip_of(&order.iter().map(|&i| {
                let (n, d, mode, year, ut) = &entries[i];
                ZEntry { name: n, data: d, mode: *mode, year: *year, ut: *ut }
            }).collect::<Vec<_>>())
        };
        let forward: Vec<usize> = (0..entries.len()).collect();
        let mut shuffled = forward.clone();
        shuffled.rotate_left((seed as usize) % entries.len());
        let a = make(&forward);
        let b = make(&shuffled);
        check_fixed_point(&a);
        prop_assert_eq!(canon(&a), canon(&b));
        prop_assert_eq!(digest(&a).0, digest(&b).0);
    }

    #[test]
    fn tar_normalization_is_idempotent_and_order_free(
        entries in arb_entries(),
        seed in any::<u64>(),
        uid in 0u64..5000,
    ) {
        let make = |order: &[usize], uid: u64| {
            tar_of(&order.iter().map(|&i| {
                let (n, d, mode, year, _) = &entries[i];
                TEntry {
                    path: n, data: d, mode: *mode,
                    mtime: u64::from(*year) * 10_000_000,
                    uid, user: if uid == 0 { "" } else { "u" },
                    kind: ::tar::EntryType::Regular,
                }
            }).collect::<Vec<_>>())
        };
        let forward: Vec<usize> = (0..entries.len()).collect();
        let mut shuffled = forward.clone();
        shuffled.rotate_left((seed as usize) % entries.len());
        let a = make(&forward, uid);
        let b = make(&shuffled, 0);
        check_fixed_point(&a);
        prop_assert_eq!(canon(&a), canon(&b));
        prop_assert_eq!(digest(&a).0, digest(&b).0);
    }
}

// ---------------------------------------------------------------- oci

/// Writes a blob into an OCI layout; returns its descriptor.
fn put_blob(dir: &std::path::Path, media: &str, bytes: &[u8]) -> serde_json::Value {
    let hex = hex::encode(Sha256::digest(bytes));
    std::fs::write(dir.join("blobs/sha256").join(&hex), bytes).unwrap();
    serde_json::json!({"mediaType": media, "digest": format!("sha256:{hex}"), "size": bytes.len()})
}

fn oci_layout(dir: &std::path::Path, created: &str, mtime: u64, reverse: bool) {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let tar = sample_tar(reverse, mtime, 0, 0o644);
    let layer = put_blob(
        dir,
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &gzip_of(&tar, 0, None),
    );
    let config = serde_json::json!({
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", hex::encode(Sha256::digest(&tar)))]},
        "history": [{"created": created, "created_by": "test"}],
    });
    let config = put_blob(
        dir,
        "application/vnd.oci.image.config.v1+json",
        &serde_json::to_vec(&config).unwrap(),
    );
    let manifest = serde_json::json!({"schemaVersion": 2, "config": config, "layers": [layer]});
    let manifest = put_blob(
        dir,
        "application/vnd.oci.image.manifest.v1+json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    // A stale blob, reachable from nothing.
    put_blob(dir, "application/octet-stream", created.as_bytes());
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [manifest]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

fn tree(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walk_files(dir)
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(dir).unwrap().display().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn oci_layouts_differing_in_times_become_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    oci_layout(&a, "2025-01-02T03:04:05.123456789Z", 1_700_000_000, false);
    oci_layout(&b, "2025-06-07T08:09:10Z", 1_700_000_900, true);
    let opts = Options {
        source_date_epoch: Some(SDE),
        limits: Limits::default(),
        allow_ambiguous: false,
        keep_malformed: false,
    };
    let digest_a = normalized_digest(&a, &opts).unwrap();
    assert_eq!(digest_a.format, Some(Format::Oci));
    assert!(digest_a.fired.iter().any(|f| f.rule == Rule::OciCreated));
    assert_eq!(
        digest_a.sha256,
        normalized_digest(&b, &opts).unwrap().sha256
    );
    let ra = normalize_file(&a, &a, &opts).unwrap();
    assert_eq!(ra.format, Some(Format::Oci));
    let ids: Vec<&str> = ra.fired.iter().map(|f| f.rule.id()).collect();
    assert!(
        ids.contains(&"oci.created") && ids.contains(&"tar.mtime-clamp"),
        "{ids:?}"
    );
    // Into another directory: the input stays as it was.
    let before = tree(&b);
    let out = tmp.path().join("out");
    normalize_file(&b, &out, &opts).unwrap();
    assert_eq!(tree(&b), before);
    assert_eq!(tree(&a), tree(&out));
    // Stale blobs are gone; the diff id is the uncompressed layer's digest.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("index.json")).unwrap()).unwrap();
    let blob = |d: &serde_json::Value| {
        std::fs::read(a.join("blobs/sha256").join(&d.as_str().unwrap()[7..])).unwrap()
    };
    let manifest: serde_json::Value =
        serde_json::from_slice(&blob(&index["manifests"][0]["digest"])).unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&blob(&manifest["config"]["digest"])).unwrap();
    assert_eq!(config["created"], "2020-09-13T12:26:40Z");
    assert_eq!(config["history"][0]["created"], "2020-09-13T12:26:40Z");
    let layer = gunzip(&blob(&manifest["layers"][0]["digest"]));
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        format!("sha256:{}", hex::encode(Sha256::digest(&layer)))
    );
    assert_eq!(
        std::fs::read_dir(a.join("blobs/sha256")).unwrap().count(),
        3
    );
    // Idempotent, and the digest is the same after normalizing.
    let again = normalize_file(&a, &a, &opts).unwrap();
    assert!(again.fired.is_empty(), "{:?}", again.fired);
    let after = normalized_digest(&a, &opts).unwrap();
    assert_eq!(after.sha256, digest_a.sha256);
    assert!(after.fired.is_empty(), "{:?}", after.fired);
    // A real change in a layer is seen.
    let c = tmp.path().join("c");
    oci_layout(&c, "2025-01-02T03:04:05Z", 1_700_000_000, false);
    let tar = sample_tar(false, 1_700_000_000, 0, 0o755);
    let layer = put_blob(&c, "x", &gzip_of(&tar, 0, None));
    let mut idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(c.join("index.json")).unwrap()).unwrap();
    let mpath = c
        .join("blobs/sha256")
        .join(&idx["manifests"][0]["digest"].as_str().unwrap()[7..]);
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    m["layers"][0]["digest"] = layer["digest"].clone();
    m["layers"][0]["size"] = layer["size"].clone();
    let md = put_blob(
        &c,
        "application/vnd.oci.image.manifest.v1+json",
        &serde_json::to_vec(&m).unwrap(),
    );
    idx["manifests"][0] = md;
    std::fs::write(c.join("index.json"), serde_json::to_vec(&idx).unwrap()).unwrap();
    assert_ne!(
        normalized_digest(&c, &opts).unwrap().sha256,
        digest_a.sha256
    );
}

#[test]
fn zip64_and_prefixed_zips_round_trip() {
    let mut w = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
    for name in ["b.txt", "a.txt"] {
        let opts = ::zip::write::SimpleFileOptions::default()
            .large_file(true)
            .last_modified_time(::zip::DateTime::from_date_and_time(2030, 1, 1, 0, 0, 0).unwrap());
        w.start_file(name, opts).unwrap();
        w.write_all(name.as_bytes()).unwrap();
    }
    let z64 = w.finish().unwrap().into_inner();
    // A self-extracting script in front (offsets left relative to the
    // archive): content detection sees a zip behind a shebang stub.
    let mut prefixed = b"#!/bin/sh\nexit 0\n".to_vec();
    prefixed.extend_from_slice(&z64);
    assert_eq!(
        norm(&prefixed, Some(SDE)).1,
        ["zip.sort", "zip.mtime-clamp"]
    );
    let budget = Budget::new(Limits::default());
    let nx = Nx {
        budget: &budget,
        epoch: SDE,
        allow_ambiguous: false,
    };
    for input in [z64, prefixed] {
        let mut out = Vec::new();
        let fired = zip::Zip
            .normalize(&Blob::mem(input.clone()), "t", 1, &nx, &mut out)
            .unwrap();
        assert!(fired.iter().any(|f| f.rule == Rule::ZipSort), "{fired:?}");
        let got: Vec<(String, Vec<u8>)> = unzip(&out).into_iter().map(|e| (e.0, e.1)).collect();
        assert_eq!(
            got,
            [
                ("a.txt".to_owned(), b"a.txt".to_vec()),
                ("b.txt".to_owned(), b"b.txt".to_vec())
            ]
        );
        assert_eq!(&out[..2], &input[..2]);
        let mut again = Vec::new();
        let fired = zip::Zip
            .normalize(&Blob::mem(out), "t", 1, &nx, &mut again)
            .unwrap();
        assert!(fired.is_empty(), "{fired:?}");
    }
}

/// Many central entries over one local header and its data (the
/// overlapping-entry zip bomb): normalizing would write the data once per
/// entry, amplifying the input; it is refused, by the digest too.
#[test]
fn overlapping_zip_entries_are_refused_not_amplified() {
    let data = vec![b'a'; 4096];
    let one = zip_of(&[ZEntry {
        name: "a.txt",
        data: &data,
        mode: 0o644,
        year: 2020,
        ut: false,
    }]);
    let eocd = one.len() - 22;
    assert_eq!(&one[eocd..eocd + 4], b"PK\x05\x06");
    let le32 = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let (cd_size, cd_off) = (
        le32(&one, eocd + 12) as usize,
        le32(&one, eocd + 16) as usize,
    );
    let record = &one[cd_off..cd_off + cd_size];
    let copies = 50u16;
    let mut bomb = one[..cd_off].to_vec();
    for i in 0..copies {
        let mut r = record.to_vec();
        // Same length, another name: a.txt, b.txt, …
        let n = 46;
        r[n] = b'a' + (i % 26) as u8;
        r[n + 1] = b'0' + (i / 26) as u8;
        bomb.extend_from_slice(&r);
    }
    let mut end = one[eocd..].to_vec();
    end[8..10].copy_from_slice(&copies.to_le_bytes());
    end[10..12].copy_from_slice(&copies.to_le_bytes());
    end[12..16]
        .copy_from_slice(&(u32::try_from(cd_size).unwrap() * u32::from(copies)).to_le_bytes());
    bomb.extend_from_slice(&end);
    let (n, d) = try_both(&bomb);
    let err = n
        .expect_err("normalizing an overlapping-entry zip")
        .to_string();
    assert!(err.contains("overlap"), "{err}");
    assert!(d.is_err(), "the digest of an overlapping-entry zip");
    // The well-formed archive it was made from is fine.
    let (n, d) = try_both(&one);
    assert!(n.is_ok() && d.is_ok());
}

/// Normalizes and digests `bytes` with ambiguous archives allowed or not.
fn try_with_ambiguity(bytes: &[u8], allow: bool) -> (Result<Vec<Fired>>, Result<Digested>) {
    let budget = Budget::new(Limits::default());
    let nx = Nx {
        budget: &budget,
        epoch: SDE,
        allow_ambiguous: allow,
    };
    let blob = Blob::mem(bytes.to_vec());
    let n = detect(&bytes[..bytes.len().min(formats::HEAD_LEN)]).unwrap();
    let mut out = Vec::new();
    (
        n.normalize(&blob, "t.zip", 1, &nx, &mut out),
        n.digest(&blob, "t.zip", 1, &nx),
    )
}

/// A zip of "a.txt" ("one\n") and "b.txt" ("two\n"), deflated.
fn two_member_zip() -> Vec<u8> {
    let entry = |name: &'static str, data: &'static [u8]| ZEntry {
        name,
        data,
        mode: 0o644,
        year: 2020,
        ut: false,
    };
    zip_of(&[entry("a.txt", b"one\n"), entry("b.txt", b"two\n")])
}

/// Asserts that normalize and the digest refuse `bytes` alike, for
/// `reason`, unless ambiguity is allowed; returns the error.
fn refused_unless_allowed(what: &str, bytes: &[u8], reason: &str) -> String {
    let (n, d) = try_with_ambiguity(bytes, false);
    let err = n.expect_err(what).to_string();
    assert!(
        err.contains(reason) && err.contains("--allow-ambiguous"),
        "{what}: {err}"
    );
    assert_eq!(
        d.err().map(|e| e.to_string()),
        Some(err.clone()),
        "{what}: digest"
    );
    let (n, d) = try_with_ambiguity(bytes, true);
    assert!(
        n.is_ok() && d.is_ok(),
        "{what}: refused although allowed: {n:?}"
    );
    err
}

/// Zips that read two ways are refused by normalize and the digest, with
/// the reason, and accepted with --allow-ambiguous.
#[test]
fn zips_that_read_two_ways_are_refused_unless_allowed() {
    let two = two_member_zip();
    let le32 =
        |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
    let eocd = two.len() - 22;
    let cd = le32(&two, eocd + 16);
    let second_cd = cd
        + 46
        + 5
        + usize::from(u16::from_le_bytes([two[cd + 30], two[cd + 31]]))
        + usize::from(u16::from_le_bytes([two[cd + 32], two[cd + 33]]));

    let mut renamed_local = two.clone();
    renamed_local[30] = b'x'; // "a.txt" → "x.txt" in the local header only
    let mut duplicate = two.clone();
    duplicate[second_cd + 46] = b'a'; // the second entry "b.txt" → "a.txt",
    let second_local = le32(&two, second_cd + 42); // in both of its headers
    duplicate[second_local + 30] = b'a';
    // Another archive in front: readers that take the last end record see
    // one archive (its offsets shifted), readers that scan see two.
    let mut concatenated = zip_of(&[ZEntry {
        name: "hidden.sh",
        data: b"rm -rf /\n",
        mode: 0o644,
        year: 2020,
        ut: false,
    }]);
    concatenated.extend_from_slice(&two);
    let mut fake_end = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
    fake_end
        .start_file("a.txt", ::zip::write::SimpleFileOptions::default())
        .unwrap();
    fake_end.write_all(b"one\n").unwrap();
    let mut fake = b"PK\x05\x06".to_vec();
    fake.extend_from_slice(&[0; 18]);
    fake_end.set_raw_comment(fake.into());
    let fake_end = fake_end.finish().unwrap().into_inner();

    for (what, bytes, reason) in [
        (
            "local name",
            &renamed_local,
            "is named \"x.txt\" in its local header",
        ),
        ("duplicate", &duplicate, "two entries are named \"a.txt\""),
        (
            "concatenated",
            &concatenated,
            "belongs to no entry of the central directory",
        ),
        (
            "fake end record",
            &fake_end,
            "end-of-central-directory records end the file",
        ),
    ] {
        refused_unless_allowed(what, bytes, reason);
    }
    // The archive they were made from reads one way.
    let (n, d) = try_with_ambiguity(&two, false);
    assert!(n.is_ok() && d.is_ok());
}

// ---------------------------------------------------------------- parity items (issue #15)

/// An ar with a symbol table, as GNU `ar` without `D` writes it (the
/// table stamped with the time of the run), its members' modes spelled
/// `mode`.
fn ar_with_symbols(mtime: i64, mode: &str, owner: &str) -> Vec<u8> {
    ar_owned(
        &[
            ("/", b"\0\0\0\x01\0\0\0\x50main\0\0", mtime, "0"),
            ("a.o/", b"object a\n", mtime, mode),
            ("b.o/", b"object b", mtime, mode),
        ],
        owner,
    )
}

#[test]
fn ar_modes_owners_and_the_symbol_table_have_one_canonical_form() {
    // dpkg's `100644` and GNU ar's `644`, owners spelled `0` or `1000`,
    // the symbol table stamped late or at the epoch: one canonical form.
    let variants = [
        ar_with_symbols(1_700_000_000, "100644", "1000"),
        ar_with_symbols(1_700_000_900, "644", "0"),
        ar_with_symbols(SDE, "644", "0"),
    ];
    let canonical = canon(&variants[0]);
    for v in &variants {
        assert_eq!(canon(v), canonical, "{:?}", String::from_utf8_lossy(v));
        check_fixed_point(v);
    }
    let header = |at: usize| String::from_utf8_lossy(&canonical[at..at + 60]).into_owned();
    assert_eq!(
        header(8),
        format!("/               {SDE:<12}0     0     0       14        `\n")
    );
    assert_eq!(
        header(8 + 60 + 14),
        format!("a.o/            {SDE:<12}0     0     100644  9         `\n")
    );
    let (_, fired) = norm(&variants[1], Some(SDE));
    assert_eq!(fired, ["ar.mtime", "ar.mode"]);
    // Already canonical: nothing fires, nothing is written.
    assert_eq!(norm(&canonical, Some(SDE)), (None, Vec::new()));
}

#[test]
fn ar_times_before_the_epoch_are_kept_in_one_spelling() {
    let a = ar_with_symbols(1_000_000_000, "100755", "0");
    // Earlier than the epoch: kept, so nothing fires.
    assert_eq!(norm(&a, Some(SDE)), (None, Vec::new()));
    // Zero-padded: the same number, one spelling.
    let padded = String::from_utf8_lossy(&a)
        .replace("1000000000  ", "001000000000")
        .into_bytes();
    assert_eq!(canon(&padded), a);
    check_fixed_point(&padded);
}

/// The NTFS extra field: tag 1, 24 bytes of mtime, atime, ctime.
fn ntfs_extra(ticks: u64) -> Vec<u8> {
    let mut d = vec![0, 0, 0, 0, 1, 0, 24, 0];
    for t in [ticks, ticks + 1, ticks + 2] {
        d.extend_from_slice(&t.to_le_bytes());
    }
    d
}

#[test]
fn zip_ntfs_time_fields_are_stripped_like_the_others() {
    let make = |ticks: Option<u64>| {
        let mut w = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
        let mut opts = ::zip::write::FullFileOptions::default()
            .last_modified_time(::zip::DateTime::from_date_and_time(2024, 1, 2, 3, 4, 6).unwrap())
            .unix_permissions(0o644);
        // The zip crate writes no reserved extra-field id: the record is
        // written under a free one and renamed to NTFS's in the bytes.
        if let Some(t) = ticks {
            opts.add_extra_data(0xcafe, ntfs_extra(t), false).unwrap();
        }
        w.start_file("a.txt", opts).unwrap();
        w.write_all(b"a").unwrap();
        let mut z = w.finish().unwrap().into_inner();
        let record = b"\xfe\xca\x20\x00";
        let mut renamed = 0;
        for at in 0..z.len() - 4 {
            if &z[at..at + 4] == record {
                z[at..at + 2].copy_from_slice(&0x000au16.to_le_bytes());
                renamed += 1;
            }
        }
        assert_eq!(renamed, if ticks.is_some() { 2 } else { 0 });
        z
    };
    let with = make(Some(133_000_000_000_000_000));
    let other = make(Some(134_000_000_000_000_000));
    let without = make(None);
    assert_eq!(canon(&with), canon(&other));
    assert_eq!(canon(&with), canon(&without));
    let (_, fired) = norm(&with, Some(SDE));
    assert!(fired.contains(&"zip.extra-strip"), "{fired:?}");
    check_fixed_point(&with);
}

/// `zip` laid out with its central directory first, behind `lead`: the
/// lead, the directory, then the entries, then the end record, every
/// offset counted from the start of the file.
fn directory_first(z: &[u8], lead: &[u8]) -> Vec<u8> {
    let eocd = z.len() - 22;
    assert_eq!(&z[eocd..eocd + 4], b"PK\x05\x06");
    let size = u32::from_le_bytes(z[eocd + 12..eocd + 16].try_into().unwrap()) as usize;
    let off = u32::from_le_bytes(z[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
    let shift = (lead.len() + size) as u32;
    let mut cd = z[off..off + size].to_vec();
    let mut at = 0;
    while at < cd.len() {
        let local = u32::from_le_bytes(cd[at + 42..at + 46].try_into().unwrap());
        cd[at + 42..at + 46].copy_from_slice(&(local + shift).to_le_bytes());
        let var: usize = [28, 30, 32]
            .iter()
            .map(|&i| usize::from(u16::from_le_bytes([cd[at + i], cd[at + i + 1]])))
            .sum();
        at += 46 + var;
    }
    let mut end = z[eocd..].to_vec();
    end[16..20].copy_from_slice(&(lead.len() as u32).to_le_bytes());
    [lead.to_vec(), cd, z[..off].to_vec(), end].concat()
}

#[test]
fn zips_behind_known_prefixes_and_directory_first_are_zips() {
    let z = wheel(&[4, 3, 1, 0], 2024, 0o644, true);
    let canonical = canon(&z);
    let mut jmod = b"JM\x01\x00".to_vec();
    jmod.extend_from_slice(&z);
    let mut zipapp = b"#!/usr/bin/env python3\n".to_vec();
    zipapp.extend_from_slice(&z);
    let first = directory_first(&z, b"");
    // Mozilla's optimized jar: a 4-byte read-ahead length, then the
    // directory first.
    let mozzip = directory_first(&z, &300u32.to_le_bytes());
    for (what, input, prefix) in [
        ("jmod", &jmod, &b"JM\x01\x00"[..]),
        ("zipapp", &zipapp, &b"#!/usr/bin/env python3\n"[..]),
        ("directory first", &first, &b""[..]),
        // Its header describes the directory-first layout: not kept.
        ("mozilla", &mozzip, &b""[..]),
    ] {
        let head = &input[..input.len().min(formats::HEAD_LEN)];
        assert_eq!(formats::detect(head), Kind::Zip, "{what}");
        let out = canon(input);
        // The prefix is kept; behind it, the canonical form of the zip.
        assert_eq!(&out[..prefix.len()], prefix, "{what}");
        let names = |b: &[u8]| -> Vec<String> {
            let budget = Budget::new(Limits::default());
            let a = formats::zip::read(&Blob::mem(b.to_vec()), "t", &budget).unwrap();
            a.members.iter().map(|m| m.path()).collect()
        };
        assert_eq!(names(&out), names(&canonical), "{what}");
        check_fixed_point(input);
        assert_eq!(digest(input).0, digest(&z).0, "{what}");
    }
    // Arbitrary bytes in front are not a known prefix: not a zip (a zip
    // at the end is then a polyglot finding), nor is a shebang whose
    // "line" holds a NUL.
    for junk in [&b"GARBAGE\n"[..], b"#!/bin/sh\0\n"] {
        let mut x = junk.to_vec();
        x.extend_from_slice(&z);
        assert_ne!(
            formats::detect(&x[..x.len().min(formats::HEAD_LEN)]),
            Kind::Zip
        );
    }
}

#[test]
fn self_extractors_are_normalized_as_zips_with_their_stub_kept() {
    let dir = tempfile::tempdir().unwrap();
    let z = wheel(&[4, 3, 1, 0], 2024, 0o644, true);
    let mut stub = b"\x7fELF\x02\x01\x01\0".to_vec();
    stub.resize(9000, 0xcc);
    let sfx = [stub.clone(), z.clone()].concat();
    let input = dir.path().join("setup.bin");
    std::fs::write(&input, &sfx).unwrap();
    let output = dir.path().join("out.bin");
    let opts = Options {
        source_date_epoch: Some(SDE),
        ..Options::default()
    };
    let report = normalize_file(&input, &output, &opts).unwrap();
    assert_eq!(report.format, Some(Format::Zip));
    assert!(report.changed());
    let out = std::fs::read(&output).unwrap();
    assert_eq!(&out[..stub.len()], &stub[..]);
    assert_eq!(&out[stub.len()..], &canon(&z)[..]);
    let again = normalize_file(&output, &output, &opts).unwrap();
    assert!(!again.changed(), "{:?}", again.fired);
    assert_eq!(
        normalized_digest(&input, &opts).unwrap().sha256,
        normalized_digest(&output, &opts).unwrap().sha256
    );
    // An executable alone is not one.
    std::fs::write(&input, &stub).unwrap();
    assert_eq!(normalize_file(&input, &output, &opts).unwrap().format, None);
}

#[test]
fn a_malformed_file_is_left_alone_with_a_warning_unless_strict() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = b"\x89PNG\r\n\x1a\n".to_vec();
    bad.extend(chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]));
    // A chunk whose length runs past the end of the file.
    bad.extend_from_slice(b"\x00\x01\x00\x00tIME\x07\xe6");
    let input = dir.path().join("bad.png");
    std::fs::write(&input, &bad).unwrap();
    let output = dir.path().join("out.png");
    let lenient = Options {
        keep_malformed: true,
        ..Options::default()
    };
    let report = normalize_file(&input, &output, &lenient).unwrap();
    let warning = report.warning.unwrap();
    assert!(
        warning.contains("bad.png") && warning.contains("overruns the file"),
        "{warning}"
    );
    assert_eq!(std::fs::read(&output).unwrap(), bad);
    let d = normalized_digest(&input, &lenient).unwrap();
    assert_eq!(d.sha256, <[u8; 32]>::from(Sha256::digest(&bad)));
    assert!(d.warning.is_some());
    // Strict (the library's default): an error, and nothing written.
    let strict_out = dir.path().join("strict.png");
    let err = normalize_file(&input, &strict_out, &Options::default()).unwrap_err();
    assert!(err.is_malformed_input(), "{err}");
    assert!(!strict_out.exists());
    assert!(normalized_digest(&input, &Options::default()).is_err());
}

/// A member whose data contradicts the CRC-32 or size its headers declare
/// (both headers agreeing, so only decompressing shows it) is refused by
/// normalize and the digest, naming the member and both values, unless
/// ambiguity is allowed; so is data that does not decompress.
#[test]
fn zip_data_that_contradicts_its_crc_is_refused_unless_allowed() {
    let two = two_member_zip();
    let le32 = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let cd = le32(&two, two.len() - 22 + 16) as usize;
    let mut crc = crate::hash::Crc32::new();
    crc.update(b"one\n");
    assert_eq!(le32(&two, cd + 16), crc.sum(), "the first central record");
    // The same lie in both headers: the reader sees no conflict.
    let patch = |field_local: usize, field_central: usize, value: u32| {
        let mut z = two.clone();
        z[field_local..field_local + 4].copy_from_slice(&value.to_le_bytes());
        z[field_central..field_central + 4].copy_from_slice(&value.to_le_bytes());
        z
    };
    let bad_crc = patch(14, cd + 16, crc.sum() ^ 0x0101_0101);
    let bad_size = patch(22, cd + 24, 5);
    let mut corrupt = two.clone();
    let data_at = 30 + 5 + usize::from(u16::from_le_bytes([two[28], two[29]]));
    corrupt[data_at] = 0xff; // a reserved deflate block type
    let crc_reason = format!(
        "entry \"a.txt\": the data has CRC-32 {:#010x}; the central directory declares {:#010x}",
        crc.sum(),
        crc.sum() ^ 0x0101_0101
    );
    for (what, bytes, reason) in [
        ("CRC-32", &bad_crc, crc_reason.as_str()),
        (
            "size",
            &bad_size,
            "entry \"a.txt\": the data decompresses to 4 bytes; the central directory declares 5",
        ),
        (
            "corrupt",
            &corrupt,
            "entry \"a.txt\": its data does not decompress",
        ),
    ] {
        let err = refused_unless_allowed(what, bytes, reason);
        assert!(err.starts_with("t.zip: ambiguous zip: "), "{what}: {err}");
    }
    let (n, d) = try_with_ambiguity(&two, false);
    assert!(n.is_ok() && d.is_ok());
}

/// The decompressed-bytes limit holds while the data is checked.
#[test]
fn checking_zip_data_is_bounded_by_the_limits() {
    let big = vec![b'x'; 1 << 20];
    let z = {
        let mut w = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file("big", ::zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&big).unwrap();
        w.finish().unwrap().into_inner()
    };
    let budget = Budget::new(Limits {
        max_decompressed: 1 << 19,
        ..Limits::default()
    });
    let nx = Nx {
        budget: &budget,
        epoch: SDE,
        allow_ambiguous: false,
    };
    let got = zip::Zip.digest(&Blob::mem(z), "t.zip", 1, &nx);
    assert!(
        matches!(got, Err(Error::LimitExceeded { .. })),
        "{:?}",
        got.err()
    );
}
