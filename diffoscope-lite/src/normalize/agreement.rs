//! The differ and the normalizer read every format through one parser; these
//! tests hold them to it. For each format, crafted inputs (good ones and the
//! damaged ones that used to split the two) go through both: the differ's
//! reader ([`crate::formats`]) and the normalizer (normalize, digest). They
//! must fail alike (same message) or succeed alike, and what the normalizer
//! changes must be exactly the fields the differ shows, with everything
//! else it shows unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;

use super::*;
use crate::formats::zip::{ConflictKind, Refusal};
use crate::formats::Parsed;
use crate::model::{Container, Content, EntryKind, MetaField, MetaValue};

const EPOCH: i64 = 1_000_000_000;

/// What the differ's reader makes of `bytes`, named `name`.
fn differ_read(bytes: &[u8], name: &str) -> std::result::Result<Container, String> {
    let sides = crate::model::Sides::new();
    let cx = sides.cx(0);
    let kind = formats::detect(&bytes[..bytes.len().min(formats::HEAD_LEN)]);
    let content = Content::memory(bytes.to_vec());
    match formats::format_of(kind).read(&content, name, &cx) {
        Ok(Parsed::Container(c)) => Ok(c),
        Ok(other) => panic!("{name}: read as {kind}, not a container: {other:?}"),
        Err(e) => Err(e.to_string()),
    }
}

/// What the normalizer makes of `bytes` (named `name`, clamped to
/// [`EPOCH`]): the rewritten bytes (`None`: nothing fired) and the rule ids,
/// or the error of normalizing; and the error of digesting, if any.
type Normalized = std::result::Result<(Option<Vec<u8>>, Vec<&'static str>), String>;

fn normalizer_run(bytes: &[u8], name: &str) -> (Normalized, std::result::Result<(), String>) {
    let budget = Budget::new(Limits::default());
    let nx = Nx {
        budget: &budget,
        epoch: EPOCH,
        allow_ambiguous: false,
    };
    let blob = Blob::mem(bytes.to_vec());
    let n = detect(&bytes[..bytes.len().min(formats::HEAD_LEN)])
        .unwrap_or_else(|| panic!("{name}: the normalizer does not detect it"));
    let mut out = Vec::new();
    let normalized = n
        .normalize(&blob, name, 1, &nx, &mut out)
        .map(|fired| {
            let ids = fired.iter().map(|f| f.rule.id()).collect();
            ((!fired.is_empty()).then_some(out), ids)
        })
        .map_err(|e| e.to_string());
    let budget = Budget::new(Limits::default());
    let nx = Nx {
        budget: &budget,
        epoch: EPOCH,
        allow_ambiguous: false,
    };
    let digested = n
        .digest(&blob, name, 1, &nx)
        .map(drop)
        .map_err(|e| e.to_string());
    (normalized, digested)
}

/// Both sides fail with the same message, or both succeed; returns the
/// differ's container and the normalizer's output when they succeed.
/// The differ's container, and the normalizer's output and rule ids.
type Agreed = (Container, Option<Vec<u8>>, Vec<&'static str>);

fn agree(bytes: &[u8], name: &str) -> Option<Agreed> {
    let read = differ_read(bytes, name);
    let (normalized, digested) = normalizer_run(bytes, name);
    match (read, normalized) {
        (Err(d), Err(n)) => {
            assert_eq!(d, n, "{name}: the two sides fail differently");
            assert_eq!(Err(d), digested, "{name}: digesting fails differently");
            None
        }
        (Ok(c), Ok((out, fired))) => {
            assert_eq!(digested, Ok(()), "{name}: digesting fails alone");
            Some((c, out, fired))
        }
        (d, n) => panic!("{name}: the differ says {d:?}, the normalizer {n:?}"),
    }
}

fn header_field<'c>(c: &'c Container, name: &'static str) -> Option<&'c MetaValue> {
    c.meta
        .iter()
        .find(|(f, _)| *f == MetaField::Header(name))
        .map(|(_, v)| v)
}

/// Where `a` and `b` (of one length) differ, as a byte range.
fn changed_range(a: &[u8], b: &[u8]) -> std::ops::Range<usize> {
    assert_eq!(a.len(), b.len());
    let first = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len());
    let last = a
        .iter()
        .zip(b)
        .rposition(|(x, y)| x != y)
        .map_or(first, |l| l + 1);
    first..last
}

// ---------------------------------------------------------------- pyc

fn pyc(magic: u16, after_magic: &[u8], code: &[u8]) -> Vec<u8> {
    let mut out = magic.to_le_bytes().to_vec();
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(after_magic);
    out.extend_from_slice(code);
    out
}

#[test]
fn pyc_header_is_read_alike() {
    let late = 1_700_000_000u32.to_le_bytes();
    let early = 900_000_000u32.to_le_bytes();
    let mut inputs = Vec::new();
    for magic in [3150u16, 3379, 3390, 3391, 3392, 3495, 3531] {
        for flags in [0u32, 1, 2, 3, 5] {
            for t in [late, early] {
                let mut fields = flags.to_le_bytes().to_vec();
                fields.extend_from_slice(&t);
                fields.extend_from_slice(&42u32.to_le_bytes());
                // For magics without a flags word, the mtime comes first.
                let mut older = t.to_vec();
                older.extend_from_slice(&flags.to_le_bytes());
                older.extend_from_slice(&42u32.to_le_bytes());
                inputs.push(pyc(magic, &fields, b"\xe3code"));
                inputs.push(pyc(magic, &older, b"\xe3code"));
            }
        }
    }
    // Cut inside the header: an error on both sides, never "not a pyc".
    let whole = pyc(3495, &[0; 12], b"\xe3");
    inputs.extend((4..16).map(|n| whole[..n].to_vec()));
    let old = pyc(3391, &[0; 8], b"");
    inputs.extend((4..12).map(|n| old[..n].to_vec()));

    let mut clamped = 0;
    for (i, input) in inputs.iter().enumerate() {
        let name = format!("m{i}.pyc");
        let Some((before, out, fired)) = agree(input, &name) else {
            continue;
        };
        match header_field(&before, "pyc source mtime") {
            Some(MetaValue::Time(t)) if *t > EPOCH => {
                assert_eq!(fired, ["pyc.mtime"], "{name}");
                let out = out.unwrap();
                // Only the four bytes of one field changed…
                assert!(changed_range(input, &out).len() <= 4, "{name}");
                let after = differ_read(&out, &name).unwrap();
                // …and it is the mtime the differ showed is the one that changed, and
                // nothing else the differ shows did.
                let mut expected = before.meta.clone();
                for (f, v) in &mut expected {
                    if *f == MetaField::Header("pyc source mtime") {
                        *v = MetaValue::Time(EPOCH);
                    }
                }
                assert_eq!(after.meta, expected, "{name}");
                assert_eq!(after.entries[0].meta, before.entries[0].meta, "{name}");
                clamped += 1;
            }
            _ => assert!(fired.is_empty(), "{name}: fired {fired:?}"),
        }
    }
    assert!(clamped > 20, "the inputs must exercise clamping");
}

// ---------------------------------------------------------------- ar

/// One ar member: header fields as given, then the data and its pad byte.
fn ar_member(out: &mut Vec<u8>, name: &str, mtime: &str, mode: &str, data: &[u8], pad: bool) {
    out.extend_from_slice(
        format!(
            "{name:<16}{mtime:<12}{:<6}{:<6}{mode:<8}{:<10}`\n",
            1000,
            1000,
            data.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(data);
    if pad && data.len() % 2 == 1 {
        out.push(b'\n');
    }
}

fn ar_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let magic = || b"!<arch>\n".to_vec();
    let mut plain = magic();
    ar_member(
        &mut plain,
        "debian-binary",
        "1700000000",
        "100644",
        b"2.0\n",
        true,
    );
    ar_member(&mut plain, "odd", "900000000", "755", b"abc", true);
    ar_member(&mut plain, "data", "bogus", "", b"xyzw", true);
    // Symbol table, GNU long names, a BSD name.
    let mut gnu = magic();
    ar_member(&mut gnu, "/", "0", "0", b"\0\0\0\0", true);
    ar_member(
        &mut gnu,
        "//",
        "",
        "",
        b"a-rather-long-member-name.o/\n",
        true,
    );
    ar_member(&mut gnu, "/0", "1700000000", "644", b"obj", true);
    ar_member(
        &mut gnu,
        "#1/8",
        "1700000000",
        "644",
        b"bsd.o\0\0\0body",
        true,
    );
    let mut nopad = plain.clone();
    ar_member(&mut nopad, "last", "1700000000", "644", b"odd", false);
    let mut trailing = plain.clone();
    trailing.extend_from_slice(b"junk");
    let mut huge_table = magic();
    ar_member(
        &mut huge_table,
        "//",
        "",
        "",
        &vec![b'x'; (16 << 20) + 2],
        true,
    );
    ar_member(&mut huge_table, "/0", "1700000000", "644", b"obj", true);
    let mut bad_ref = magic();
    ar_member(&mut bad_ref, "/abc", "1700000000", "644", b"obj", true);
    let mut ref_beyond = magic();
    ar_member(&mut ref_beyond, "/99", "1700000000", "644", b"obj", true);
    let mut bsd_too_long = magic();
    ar_member(
        &mut bsd_too_long,
        "#1/9",
        "1700000000",
        "644",
        b"short",
        true,
    );
    let mut claims = plain.clone();
    let at = claims.len();
    ar_member(&mut claims, "cut", "1700000000", "644", b"0123456789", true);
    claims.truncate(at + 60 + 4);
    let mut bad_header = plain.clone();
    bad_header[8 + 58] = b'x';
    vec![
        ("plain.a", plain),
        ("gnu.a", gnu),
        ("nopad.a", nopad),
        ("trailing.a", trailing),
        ("huge-table.a", huge_table),
        ("bad-ref.a", bad_ref),
        ("ref-beyond.a", ref_beyond),
        ("bsd-too-long.a", bsd_too_long),
        ("claims.a", claims),
        ("bad-header.a", bad_header),
    ]
}

#[test]
fn ar_members_are_read_alike() {
    let mut outcomes = Vec::new();
    for (name, input) in ar_inputs() {
        let Some((before, out, fired)) = agree(&input, name) else {
            outcomes.push((name, "error"));
            continue;
        };
        outcomes.push((name, "read"));
        let Some(out) = out else {
            assert!(fired.is_empty());
            continue;
        };
        // What the normalizer wrote, the differ reads as the same members
        // with the canonical header fields, and no new oddity.
        let after = differ_read(&out, name).unwrap();
        let names = |c: &Container| c.entries.iter().map(|e| e.path.clone()).collect::<Vec<_>>();
        assert_eq!(names(&after), names(&before), "{name}");
        for (b, a) in before.entries.iter().zip(&after.entries) {
            // The symbol table's header is canonical too; its mode is `0`.
            let mut expected = b.meta.clone();
            expected.mtime = Some(b.meta.mtime.map_or(EPOCH, |t| t.min(EPOCH)));
            expected.uid = Some(0);
            expected.gid = Some(0);
            expected.mode = Some(if b.path.starts_with("(symbol table") {
                0
            } else {
                canonical_file_mode(b.meta.mode.unwrap_or(0))
            });
            assert_eq!(a.meta, expected, "{name}: {}", b.path);
        }
        let kept: Vec<&String> = before
            .comments
            .iter()
            .filter(|c| !c.contains("pad byte"))
            .collect();
        assert_eq!(after.comments.iter().collect::<Vec<_>>(), kept, "{name}");
    }
    assert_eq!(
        outcomes,
        [
            ("plain.a", "read"),
            ("gnu.a", "read"),
            ("nopad.a", "read"),
            ("trailing.a", "read"),
            ("huge-table.a", "error"),
            ("bad-ref.a", "error"),
            ("ref-beyond.a", "error"),
            ("bsd-too-long.a", "error"),
            ("claims.a", "error"),
            ("bad-header.a", "error"),
        ]
    );
}

#[test]
fn ar_oddities_are_reported_by_the_differ() {
    let inputs = ar_inputs();
    let comments = |name: &str| {
        let (_, bytes) = inputs.iter().find(|(n, _)| *n == name).unwrap();
        differ_read(bytes, name).unwrap().comments
    };
    assert_eq!(
        comments("nopad.a"),
        ["member last at offset 200 lacks its pad byte"]
    );
    assert_eq!(
        comments("trailing.a"),
        ["4 trailing bytes after the last member"]
    );
    assert!(comments("plain.a").is_empty());
}

// ---------------------------------------------------------------- gzip

/// One gzip member with every header field settable.
fn gzip_member(data: &[u8], flags: u8, mtime: u32, name: &[u8], comment: &[u8]) -> Vec<u8> {
    use formats::gzip::{FCOMMENT, FEXTRA, FHCRC, FNAME};
    let mut out = vec![0x1f, 0x8b, 8, flags];
    out.extend_from_slice(&mtime.to_le_bytes());
    out.extend_from_slice(&[2, 3]);
    if flags & FEXTRA != 0 {
        out.extend_from_slice(b"\x04\x00XY\x00\x00");
    }
    if flags & FNAME != 0 {
        out.extend_from_slice(name);
        out.push(0);
    }
    if flags & FCOMMENT != 0 {
        out.extend_from_slice(comment);
        out.push(0);
    }
    if flags & FHCRC != 0 {
        let mut crc = crate::hash::Crc32::new();
        crc.update(&out);
        out.extend_from_slice(&((crc.sum() & 0xffff) as u16).to_le_bytes());
    }
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    out.extend_from_slice(&enc.finish().unwrap());
    let mut crc = crate::hash::Crc32::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[test]
fn gzip_headers_are_read_alike() {
    let data = b"plain text inside\n".repeat(10);
    let all = 0x02 | 0x04 | 0x08 | 0x10;
    let full = gzip_member(&data, all, 1_700_000_000, b"x.txt", b"a comment");
    let mut inputs = vec![
        ("full.gz", full.clone()),
        ("bare.gz", gzip_member(&data, 0, 0, b"", b"")),
        (
            "long-name.gz",
            gzip_member(&data, 0x08, 5, &[b'n'; 9000], b""),
        ),
    ];
    let mut two = gzip_member(&data, 0x08, 7, b"one", b"");
    two.extend(gzip_member(b"second", 0x08, 9, b"two", b""));
    inputs.push(("two-members.gz", two));
    let mut reserved = full.clone();
    reserved[3] |= 0x20;
    inputs.push(("reserved.gz", reserved));
    let mut hcrc = full.clone();
    hcrc[18] ^= 1; // inside the file name
    inputs.push(("hcrc.gz", hcrc));
    // Cut inside the header: fixed fields, extra field, name, comment, CRC.
    for cut in [3, 9, 11, 15, 19, 27, 30] {
        inputs.push((
            Box::leak(format!("cut{cut}.gz").into_boxed_str()),
            full[..cut].to_vec(),
        ));
    }

    let mut outcomes = Vec::new();
    for (name, input) in &inputs {
        let Some((before, out, fired)) = agree(input, name) else {
            outcomes.push(*name);
            continue;
        };
        // The rules that fired are the header fields the differ shows.
        let shows = |field| header_field(&before, field).is_some();
        let mut expected = Vec::new();
        if header_field(&before, "gzip mtime") != Some(&MetaValue::Time(0)) {
            expected.push("gzip.mtime");
        }
        if shows("gzip file name") {
            expected.push("gzip.fname");
        }
        if shows("gzip comment") {
            expected.push("gzip.comment");
        }
        if input[3] & 0x02 != 0 {
            expected.push("gzip.hcrc");
        }
        assert_eq!(fired, expected, "{name}");
        let Some(out) = out else { continue };
        // What the normalizer wrote, the differ reads with those fields
        // cleared and the rest as they were.
        let after = differ_read(&out, name).unwrap();
        let kept: Vec<_> = before
            .meta
            .iter()
            .filter(|(f, _)| {
                ![
                    MetaField::Header("gzip file name"),
                    MetaField::Header("gzip comment"),
                ]
                .contains(f)
            })
            .map(|(f, v)| match f {
                MetaField::Header("gzip mtime") => (f.clone(), MetaValue::Time(0)),
                _ => (f.clone(), v.clone()),
            })
            .collect();
        assert_eq!(after.meta, kept, "{name}");
    }
    assert_eq!(
        outcomes,
        [
            "reserved.gz",
            "hcrc.gz",
            "cut3.gz",
            "cut9.gz",
            "cut11.gz",
            "cut15.gz",
            "cut19.gz",
            "cut27.gz",
            "cut30.gz"
        ]
    );
}

// ---------------------------------------------------------------- tar

/// One raw ustar header block (`magic` "ustar\0" "00") with its checksum.
fn tar_header(name: &[u8], flag: u8, size: usize, link: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    let octal = |h: &mut [u8; 512], at: usize, width: usize, v: u64| {
        let text = format!("{v:0w$o}", w = width - 1);
        h[at..at + width - 1].copy_from_slice(text.as_bytes());
    };
    octal(&mut h, 100, 8, if flag == b'5' { 0o775 } else { 0o664 });
    octal(&mut h, 108, 8, 1000);
    octal(&mut h, 116, 8, 1000);
    octal(&mut h, 124, 12, size as u64);
    octal(&mut h, 136, 12, 1_700_000_000);
    h[156] = flag;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..265].copy_from_slice(b"ustar\x0000");
    h[265..272].copy_from_slice(b"builder");
    h[297..304].copy_from_slice(b"builder");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A member: its header, then its data padded to a block.
fn tar_put(out: &mut Vec<u8>, name: &[u8], flag: u8, data: &[u8], link: &[u8]) {
    out.extend_from_slice(&tar_header(name, flag, data.len(), link));
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn pax(records: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let body = format!(" {k}={v}\n");
        let mut len = body.len() + 1;
        while format!("{len}{body}").len() != len {
            len = format!("{len}{body}").len();
        }
        out.extend_from_slice(format!("{len}{body}").as_bytes());
    }
    out
}

fn tar_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let end = |mut t: Vec<u8>| {
        t.extend_from_slice(&[0; 1024]);
        t
    };
    let mut plain = Vec::new();
    tar_put(&mut plain, b"pkg/b.txt", b'0', b"bee\n", b"");
    tar_put(&mut plain, b"pkg/", b'5', b"", b"");
    tar_put(&mut plain, b"pkg/link", b'2', b"", b"b.txt");
    tar_put(&mut plain, b"pkg/a.txt", b'0', b"ay\n", b"");
    let long_name = format!("pkg/{}/deep.txt", "d".repeat(110));
    let mut long = Vec::new();
    tar_put(&mut long, b"././@LongLink", b'L', long_name.as_bytes(), b"");
    tar_put(
        &mut long,
        &long_name.as_bytes()[..100],
        b'0',
        b"deep\n",
        b"",
    );
    let mut paxed = Vec::new();
    let records = pax(&[
        ("path", "pkg/pax.txt"),
        ("mtime", "1700000000.5"),
        ("uid", "7"),
    ]);
    tar_put(&mut paxed, b"PaxHeaders.42/x", b'x', &records, b"");
    tar_put(&mut paxed, b"x", b'0', b"pax\n", b"");
    let mut two_pax = Vec::new();
    tar_put(
        &mut two_pax,
        b"PaxHeaders/1",
        b'x',
        &pax(&[("path", "one")]),
        b"",
    );
    tar_put(
        &mut two_pax,
        b"PaxHeaders/2",
        b'x',
        &pax(&[("path", "two")]),
        b"",
    );
    tar_put(&mut two_pax, b"x", b'0', b"which?\n", b"");
    let mut two_long = Vec::new();
    tar_put(&mut two_long, b"././@LongLink", b'L', b"one", b"");
    tar_put(&mut two_long, b"././@LongLink", b'L', b"two", b"");
    tar_put(&mut two_long, b"x", b'0', b"which?\n", b"");
    let mut size_conflict = Vec::new();
    tar_put(
        &mut size_conflict,
        b"PaxHeaders/s",
        b'x',
        &pax(&[("size", "3")]),
        b"",
    );
    size_conflict.extend_from_slice(&tar_header(b"s.txt", b'0', 5, b""));
    size_conflict.extend_from_slice(b"abc");
    size_conflict.resize(size_conflict.len().div_ceil(512) * 512, 0);
    let mut bad_sum = end(plain.clone());
    bad_sum[0] = b'q';
    let plain = end(plain);
    let cut = plain[..512 + 2].to_vec();
    vec![
        ("plain.tar", plain),
        ("long.tar", end(long)),
        ("pax.tar", end(paxed)),
        ("size-conflict.tar", end(size_conflict)),
        ("two-pax.tar", end(two_pax)),
        ("two-long.tar", end(two_long)),
        ("bad-checksum.tar", bad_sum),
        ("cut.tar", cut),
    ]
}

#[test]
fn tar_members_are_read_alike() {
    let mut outcomes = Vec::new();
    for (name, input) in tar_inputs() {
        if tar_conflicts::refused_as_ambiguous(&input, name) {
            outcomes.push((name, "ambiguous"));
            continue;
        }
        let Some((before, out, fired)) = agree(&input, name) else {
            outcomes.push((name, "error"));
            continue;
        };
        outcomes.push((name, "read"));
        let out = out.unwrap_or_else(|| panic!("{name}: every input has noise, fired {fired:?}"));
        // What the normalizer wrote, the differ reads as the same members
        // (in canonical order) with canonical metadata, and the same
        // oddities.
        let after = differ_read(&out, name).unwrap();
        let mut names: Vec<_> = before.entries.iter().map(|e| e.path.clone()).collect();
        names.sort();
        let mut after_names: Vec<_> = after.entries.iter().map(|e| e.path.clone()).collect();
        after_names.sort();
        assert_eq!(after_names, names, "{name}");
        for a in &after.entries {
            let b = before.entries.iter().find(|b| b.path == a.path).unwrap();
            assert_eq!(a.kind, b.kind, "{name}: {}", a.path);
            assert_eq!(a.meta.size, b.meta.size, "{name}: {}", a.path);
            assert_eq!(a.meta.mtime, b.meta.mtime.map(|t| t.min(EPOCH)), "{name}");
            assert_eq!((a.meta.uid, a.meta.gid), (Some(0), Some(0)), "{name}");
            assert_eq!(a.meta.user.as_deref(), Some(""), "{name}");
            let expected = match a.kind {
                EntryKind::Dir => 0o755,
                EntryKind::Symlink { .. } => 0o777,
                _ => canonical_file_mode(b.meta.mode.unwrap_or(0)),
            };
            assert_eq!(a.meta.mode, Some(expected), "{name}: {}", a.path);
        }
        assert_eq!(after.comments, before.comments, "{name}");
    }
    assert_eq!(
        outcomes,
        [
            ("plain.tar", "read"),
            ("long.tar", "read"),
            ("pax.tar", "read"),
            ("size-conflict.tar", "ambiguous"),
            ("two-pax.tar", "error"),
            ("two-long.tar", "error"),
            ("bad-checksum.tar", "error"),
            ("cut.tar", "error"),
        ]
    );
}

#[test]
fn tar_oddities_are_reported_by_the_differ() {
    let inputs = tar_inputs();
    let read = |name: &str| {
        let (_, bytes) = inputs.iter().find(|(n, _)| *n == name).unwrap();
        differ_read(bytes, name)
    };
    assert_eq!(
        read("size-conflict.tar").unwrap().comments,
        ["s.txt: PAX size 3 conflicts with ustar header size 5"]
    );
    let long = read("long.tar").unwrap();
    assert_eq!(long.entries[0].path.len(), 4 + 110 + 9);
    let pax = read("pax.tar").unwrap();
    assert_eq!(pax.entries[0].path, "pkg/pax.txt");
    assert_eq!(
        read("two-pax.tar").unwrap_err(),
        "two-pax.tar: malformed tar: two PAX extended headers describe member 0 \
         (readers disagree on which applies)"
    );
}

// ---------------------------------------------------------------- oci

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Writes a blob into the layout `dir`; its descriptor.
fn oci_put(dir: &Path, media: &str, bytes: &[u8]) -> serde_json::Value {
    let hex = hex::encode(Sha256::digest(bytes));
    std::fs::write(dir.join("blobs/sha256").join(&hex), bytes).unwrap();
    serde_json::json!({"mediaType": media, "digest": format!("sha256:{hex}"), "size": bytes.len()})
}

fn oci_path(dir: &Path, desc: &serde_json::Value) -> std::path::PathBuf {
    dir.join("blobs/sha256")
        .join(&desc["digest"].as_str().unwrap()[7..])
}

fn oci_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn oci_index(dir: &Path, manifests: &[serde_json::Value]) {
    let index = serde_json::json!({"schemaVersion": 2, "manifests": manifests});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// A gzipped one-member tar layer.
fn oci_layer(text: &[u8]) -> Vec<u8> {
    let mut tar = Vec::new();
    tar_put(&mut tar, b"etc/motd", b'0', text, b"");
    tar.resize(tar.len() + 1024, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

/// An honest layout with one manifest, one config and one gzipped layer;
/// the manifest's descriptor.
fn oci_image(dir: &Path) -> serde_json::Value {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let layer = oci_put(
        dir,
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &oci_layer(b"hello\n"),
    );
    let config = oci_put(
        dir,
        "application/vnd.oci.image.config.v1+json",
        br#"{"architecture":"amd64","os":"linux","created":"1999-01-01T00:00:00Z"}"#,
    );
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer],
    });
    let manifest = oci_put(dir, OCI_MANIFEST, &serde_json::to_vec(&manifest).unwrap());
    oci_index(dir, std::slice::from_ref(&manifest));
    manifest
}

/// Rewrites the manifest of [`oci_image`] (honestly: the index gets its new
/// digest and size).
fn oci_edit_manifest(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let index = oci_json(&dir.join("index.json"));
    let mut m = oci_json(&oci_path(dir, &index["manifests"][0]));
    edit(&mut m);
    let desc = oci_put(dir, OCI_MANIFEST, &serde_json::to_vec(&m).unwrap());
    oci_index(dir, &[desc]);
}

fn oci_layer_path(dir: &Path) -> std::path::PathBuf {
    let index = oci_json(&dir.join("index.json"));
    let m = oci_json(&oci_path(dir, &index["manifests"][0]));
    oci_path(dir, &m["layers"][0])
}

/// Crafted layouts, built under `tmp`: (name, layout, what every side must
/// say: `None` for an honest image, else a piece of the problem or error).
fn oci_inputs(tmp: &Path) -> Vec<(&'static str, std::path::PathBuf, Option<&'static str>)> {
    let host = tmp.join("host-secret");
    std::fs::write(&host, "HOST SECRET\n").unwrap();
    let mut out = Vec::new();
    let mut case = |name: &'static str, expect: Option<&'static str>, f: &dyn Fn(&Path)| {
        let dir = tmp.join(name);
        oci_image(&dir);
        f(&dir);
        out.push((name, dir, expect));
    };
    case("honest", None, &|_| {});
    case(
        "layer is a link to a host file",
        Some("is a symbolic link"),
        &|d| {
            let p = oci_layer_path(d);
            std::fs::remove_file(&p).unwrap();
            std::os::unix::fs::symlink(&host, &p).unwrap();
        },
    );
    case(
        "blobs is a link out of the layout",
        Some("blobs is a symbolic link"),
        &|d| {
            let away = d.with_extension("away");
            std::fs::rename(d.join("blobs"), &away).unwrap();
            std::os::unix::fs::symlink(&away, d.join("blobs")).unwrap();
        },
    );
    case(
        "layer content does not match its digest",
        Some("its content has the digest"),
        &|d| {
            let p = oci_layer_path(d);
            let mut bytes = std::fs::read(&p).unwrap();
            let n = bytes.len();
            bytes[n - 5] ^= 1; // the gzip CRC: same size, other digest
            std::fs::write(&p, bytes).unwrap();
        },
    );
    case(
        "layer size is 2^63-1",
        Some("the descriptor says 9223372036854775807 bytes"),
        &|d| oci_edit_manifest(d, |m| m["layers"][0]["size"] = i64::MAX.into()),
    );
    case(
        "layer media type is not its content",
        Some("promises zstd, the blob is gzip"),
        &|d| {
            oci_edit_manifest(d, |m| {
                m["layers"][0]["mediaType"] = "application/vnd.oci.image.layer.v1.tar+zstd".into()
            })
        },
    );
    case(
        "manifest calls itself an index",
        Some("the document says"),
        &|d| oci_edit_manifest(d, |m| m["mediaType"] = OCI_INDEX.into()),
    );
    case("index lists itself", Some("lists itself"), &|d| {
        // A blob cannot hold its own digest, so this one lies about it.
        let hex = hex::encode(Sha256::digest(b"self"));
        let body = |size: usize| {
            serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2, "mediaType": OCI_INDEX,
                "manifests": [{"mediaType": OCI_INDEX, "digest": format!("sha256:{hex}"), "size": size}],
            }))
            .unwrap()
        };
        let bytes = body(body(0).len());
        std::fs::write(d.join("blobs/sha256").join(&hex), &bytes).unwrap();
        let desc = serde_json::json!({"mediaType": OCI_INDEX, "digest": format!("sha256:{hex}"), "size": bytes.len()});
        oci_index(d, &[desc]);
    });
    case("indexes nested too deep", Some("--max-depth"), &|d| {
        let mut desc = oci_json(&d.join("index.json"))["manifests"][0].clone();
        for _ in 0..10 {
            let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc]});
            desc = oci_put(d, OCI_INDEX, &serde_json::to_vec(&index).unwrap());
        }
        oci_index(d, &[desc]);
    });
    out
}

/// The differ's reader, the normalized digest and normalizing into a new
/// directory, on one layout.
type OciSides = (
    std::result::Result<Container, String>,
    std::result::Result<NormalizedDigest, String>,
    std::result::Result<Report, String>,
);

fn oci_sides(dir: &Path) -> OciSides {
    let name = dir.display().to_string();
    let sides = crate::model::Sides::new();
    let cx = sides.cx(0);
    let read = match formats::format_of(Kind::OciLayout).read(
        &Content::path(dir.to_owned()),
        &name,
        &cx,
    ) {
        Ok(Parsed::Container(c)) => Ok(c),
        Ok(other) => panic!("{name}: not a container: {other:?}"),
        Err(e) => Err(e.to_string()),
    };
    let opts = Options {
        source_date_epoch: Some(EPOCH),
        limits: Limits::default(),
        allow_ambiguous: false,
        keep_malformed: false,
    };
    let digest = normalized_digest(dir, &opts).map_err(|e| e.to_string());
    let out = dir.with_extension("normalized");
    let normalized = normalize_file(dir, &out, &opts).map_err(|e| e.to_string());
    if normalized.is_err() {
        assert!(!out.exists(), "{name}: a refused image was still copied");
    }
    (read, digest, normalized)
}

#[test]
fn oci_layouts_are_read_alike() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, dir, expect) in oci_inputs(tmp.path()) {
        let (read, digest, normalized) = oci_sides(&dir);
        match (read, expect) {
            (Err(e), Some(want)) => {
                assert!(e.contains(want), "{name}: {e}");
                assert_eq!(digest.map(drop), Err(e.clone()), "{name}: digest");
                assert_eq!(normalized.map(drop), Err(e), "{name}: normalize");
            }
            (Ok(c), Some(want)) => {
                // The differ reports the problem and reads on; the others
                // refuse the image, naming the same blob and problem.
                assert!(
                    c.comments.iter().any(|p| p.contains(want)),
                    "{name}: not reported: {:?}",
                    c.comments
                );
                let first = c.comments[0].split_once(": ").unwrap();
                for (side, got) in [
                    ("digest", digest.map(drop)),
                    ("normalize", normalized.map(drop)),
                ] {
                    let e = got.expect_err(&format!("{name}: {side} accepted a lying image"));
                    assert!(
                        e.contains(first.0) && e.contains(first.1),
                        "{name}: {side}: {e}"
                    );
                }
            }
            (Ok(c), None) => {
                assert!(c.comments.is_empty(), "{name}: {:?}", c.comments);
                digest.unwrap_or_else(|e| panic!("{name}: digest: {e}"));
                normalized.unwrap_or_else(|e| panic!("{name}: normalize: {e}"));
            }
            (Err(e), None) => panic!("{name}: {e}"),
        }
    }
}

#[test]
fn oci_links_are_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = oci_inputs(tmp.path());
    let honest = &inputs[0].1;
    for (name, dir, _) in inputs.iter().filter(|i| i.0.contains("link")) {
        let (read, _, _) = oci_sides(dir);
        let c = read.unwrap();
        let links: Vec<&str> = c
            .entries
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::Symlink { .. }))
            .map(|e| e.path.as_str())
            .collect();
        assert_eq!(links.len(), 1, "{name}: {:?}", c.entries);
        for (a, b) in [(honest, dir), (dir, dir)] {
            let d = crate::compare(a, b, &crate::Options::default())
                .unwrap()
                .expect("a link where a blob should be is a difference");
            let shown = format!("{d:?}");
            assert!(!shown.contains("HOST SECRET"), "{name}: {shown}");
            assert!(shown.contains("symbolic link"), "{name}: {shown}");
        }
    }
}

#[test]
fn oci_blobs_that_lie_are_differences() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = oci_inputs(tmp.path());
    let honest = &inputs[0].1;
    for (name, dir, expect) in &inputs {
        let Some(want) = expect else { continue };
        if name.contains("lists itself") || name.contains("deep") {
            continue;
        }
        // Against the honest image, and against a copy of itself: a lying
        // image is never reported identical.
        for other in [honest, dir] {
            let d = crate::compare(other, dir, &crate::Options::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .unwrap_or_else(|| panic!("{name}: reported identical"));
            assert!(format!("{d:?}").contains(want), "{name}: {d:#?}");
        }
    }
}

#[test]
fn oci_json_limit_is_one_limit_on_every_side() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("image");
    oci_image(&dir);
    // Smaller than index.json (186 bytes).
    let limits = Limits {
        max_json: 100,
        ..Limits::default()
    };
    let compared = crate::compare(
        &dir,
        &dir,
        &crate::Options {
            limits: limits.clone(),
            ..crate::Options::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(compared.contains("raise it with --max-json"), "{compared}");
    assert!(compared.contains("index.json"), "{compared}");
    let opts = Options {
        source_date_epoch: Some(EPOCH),
        limits,
        allow_ambiguous: false,
        keep_malformed: false,
    };
    let digest = normalized_digest(&dir, &opts).unwrap_err().to_string();
    let normalized = normalize_file(&dir, &dir, &opts).unwrap_err().to_string();
    assert_eq!(digest, compared);
    assert_eq!(normalized, compared);
}

// ---------------------------------------------------------------- zip

/// One entry of a zip built byte by byte.
#[derive(Clone)]
struct Ze {
    name: &'static [u8],
    data: &'static [u8],
    /// Compression method: 0 stored, 8 deflate; others are stored as given.
    method: u16,
    /// CRC and sizes in a data descriptor after the data.
    descriptor: bool,
    /// Sizes in zip64 extra fields (and a zip64 end record).
    zip64: bool,
    /// Unix mode.
    mode: u32,
    /// DOS date.
    date: u16,
}

fn ze(name: &'static [u8], data: &'static [u8]) -> Ze {
    Ze {
        name,
        data,
        method: 8,
        descriptor: false,
        zip64: false,
        mode: 0o100664,
        // 2020-03-04, later than EPOCH (2001).
        date: (40 << 9) | (3 << 5) | 4,
    }
}

/// A zip and where its structures are, for patching.
struct Built {
    bytes: Vec<u8>,
    /// Offset of each local header.
    local: Vec<usize>,
    /// Offset of each central record.
    central: Vec<usize>,
    /// Offset of the classic end record.
    eocd: usize,
}

fn le16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn le32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn le64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn zip_build(entries: &[Ze], comment: &[u8]) -> Built {
    let mut out = Vec::new();
    let mut local = Vec::new();
    let mut records = Vec::new();
    let time = (5 << 11) | (6 << 5) | 4;
    for e in entries {
        let stored = if e.method == 8 {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(e.data).unwrap();
            enc.finish().unwrap()
        } else {
            e.data.to_vec()
        };
        let mut crc = crate::hash::Crc32::new();
        crc.update(e.data);
        let (crc, csize, usize) = (crc.sum(), stored.len() as u64, e.data.len() as u64);
        let flags = if e.descriptor { 0x0808 } else { 0x0800 };
        let needed = if e.zip64 { 45 } else { 20 };
        let mut z64 = Vec::new();
        if e.zip64 {
            le16(&mut z64, 1);
            le16(&mut z64, 16);
            le64(&mut z64, usize);
            le64(&mut z64, csize);
        }
        local.push(out.len());
        let offset = out.len() as u32;
        le32(&mut out, 0x0403_4b50);
        le16(&mut out, needed);
        le16(&mut out, flags);
        le16(&mut out, e.method);
        le16(&mut out, time);
        le16(&mut out, e.date);
        let (lcrc, lc, lu) = match (e.descriptor, e.zip64) {
            (true, false) => (0, 0, 0),
            (true, true) => (0, u32::MAX, u32::MAX),
            (false, true) => (crc, u32::MAX, u32::MAX),
            (false, false) => (crc, csize as u32, usize as u32),
        };
        le32(&mut out, lcrc);
        le32(&mut out, lc);
        le32(&mut out, lu);
        le16(&mut out, e.name.len() as u16);
        le16(&mut out, z64.len() as u16);
        out.extend_from_slice(e.name);
        if e.zip64 && e.descriptor {
            // Sizes in the descriptor; zeros here, as Python writes them.
            out.extend_from_slice(&[1, 0, 16, 0]);
            out.extend_from_slice(&[0; 16]);
        } else {
            out.extend_from_slice(&z64);
        }
        out.extend_from_slice(&stored);
        if e.descriptor {
            le32(&mut out, 0x0807_4b50);
            le32(&mut out, crc);
            if e.zip64 {
                le64(&mut out, csize);
                le64(&mut out, usize);
            } else {
                le32(&mut out, csize as u32);
                le32(&mut out, usize as u32);
            }
        }
        let mut r = Vec::new();
        le32(&mut r, 0x0201_4b50);
        le16(&mut r, 0x0300 | needed);
        le16(&mut r, needed);
        le16(&mut r, flags);
        le16(&mut r, e.method);
        le16(&mut r, time);
        le16(&mut r, e.date);
        le32(&mut r, crc);
        let (c32, u32_) = if e.zip64 {
            (u32::MAX, u32::MAX)
        } else {
            (csize as u32, usize as u32)
        };
        le32(&mut r, c32);
        le32(&mut r, u32_);
        le16(&mut r, e.name.len() as u16);
        le16(&mut r, z64.len() as u16);
        le16(&mut r, 0);
        le16(&mut r, 0);
        le16(&mut r, 0);
        le32(
            &mut r,
            e.mode << 16 | if e.name.ends_with(b"/") { 0x10 } else { 0 },
        );
        le32(&mut r, offset);
        r.extend_from_slice(e.name);
        r.extend_from_slice(&z64);
        records.push(r);
    }
    let cd_off = out.len();
    let mut central = Vec::new();
    for r in &records {
        central.push(out.len());
        out.extend_from_slice(r);
    }
    let cd_size = out.len() - cd_off;
    let n = entries.len() as u64;
    if entries.iter().any(|e| e.zip64) {
        let at = out.len() as u64;
        le32(&mut out, 0x0606_4b50);
        le64(&mut out, 44);
        le16(&mut out, 0x032d);
        le16(&mut out, 45);
        le32(&mut out, 0);
        le32(&mut out, 0);
        le64(&mut out, n);
        le64(&mut out, n);
        le64(&mut out, cd_size as u64);
        le64(&mut out, cd_off as u64);
        le32(&mut out, 0x0706_4b50);
        le32(&mut out, 0);
        le64(&mut out, at);
        le32(&mut out, 1);
    }
    let eocd = out.len();
    le32(&mut out, 0x0605_4b50);
    le32(&mut out, 0);
    le16(&mut out, n as u16);
    le16(&mut out, n as u16);
    le32(&mut out, cd_size as u32);
    le32(&mut out, cd_off as u32);
    le16(&mut out, comment.len() as u16);
    out.extend_from_slice(comment);
    Built {
        bytes: out,
        local,
        central,
        eocd,
    }
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A typical wheel-like zip: a directory, stored and deflated files, an
/// executable, a file older than the epoch.
fn zip_plain() -> Vec<Ze> {
    vec![
        Ze {
            mode: 0o40775,
            ..ze(b"pkg/", b"")
        },
        ze(b"pkg/b.py", b"print('b')\n"),
        Ze {
            method: 0,
            ..ze(b"pkg/a.txt", b"stored text\n")
        },
        Ze {
            mode: 0o100775,
            ..ze(b"pkg/run.sh", b"#!/bin/sh\nexit 0\n")
        },
        Ze {
            date: (10 << 9) | (1 << 5) | 1,
            ..ze(b"pkg/old.txt", b"from 1990\n")
        },
    ]
}

/// What an input must make of each side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ZipExpect {
    /// Read alike; no conflict.
    Clean,
    /// The differ reports the conflict; normalize and digest refuse it,
    /// unless ambiguity is allowed.
    Ambiguous(ConflictKind),
    /// The differ reports it; normalize and digest refuse it always.
    Refused(ConflictKind),
    /// The differ reports it; normalize and digest accept it.
    Finding(ConflictKind),
    /// Every side fails with the same message.
    Error,
}

fn zip_inputs() -> Vec<(&'static str, Vec<u8>, ZipExpect, &'static str)> {
    use ConflictKind as K;
    use ZipExpect::*;
    let plain = zip_build(&zip_plain(), b"");
    let two = zip_build(&[ze(b"a.txt", b"one\n"), ze(b"b.txt", b"two\n")], b"");
    let mut out = vec![
        ("plain.zip", plain.bytes.clone(), Clean, ""),
        (
            "comment.zip",
            zip_build(&zip_plain(), b"an archive comment").bytes,
            Clean,
            "",
        ),
        ("empty.zip", zip_build(&[], b"").bytes, Clean, ""),
        (
            "descriptors.zip",
            zip_build(
                &zip_plain()
                    .into_iter()
                    .map(|e| Ze {
                        descriptor: e.method == 8,
                        ..e
                    })
                    .collect::<Vec<_>>(),
                b"",
            )
            .bytes,
            Clean,
            "",
        ),
        (
            "zip64.zip",
            zip_build(
                &zip_plain()
                    .into_iter()
                    .map(|e| Ze { zip64: true, ..e })
                    .collect::<Vec<_>>(),
                b"",
            )
            .bytes,
            Clean,
            "",
        ),
        (
            "zip64-descriptors.zip",
            zip_build(
                &zip_plain()
                    .into_iter()
                    .map(|e| Ze {
                        zip64: true,
                        descriptor: true,
                        ..e
                    })
                    .collect::<Vec<_>>(),
                b"",
            )
            .bytes,
            Clean,
            "",
        ),
    ];
    let mut case = |name: &'static str, expect, what: &'static str, f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = two.bytes.clone();
        f(&mut b);
        out.push((name, b, expect, what));
    };
    let (l0, l1, c0, c1, eocd) = (
        two.local[0],
        two.local[1],
        two.central[0],
        two.central[1],
        two.eocd,
    );
    // Local header against the central directory.
    case(
        "local-name.zip",
        Ambiguous(K::LocalHeader),
        "entry \"a.txt\" is named \"x.txt\" in its local header",
        &|b| b[l0 + 30] = b'x',
    );
    case(
        "local-method.zip",
        Ambiguous(K::LocalHeader),
        "entry \"a.txt\": compression method 8 in the central directory, 0 in its local header",
        &|b| put16(b, l0 + 8, 0),
    );
    case(
        "local-crc.zip",
        Ambiguous(K::LocalHeader),
        "entry \"a.txt\": CRC",
        &|b| b[l0 + 14] ^= 1,
    );
    case(
        "local-size.zip",
        Ambiguous(K::LocalHeader),
        "entry \"a.txt\": size 4 in the central directory, 5 in its local header",
        &|b| put32(b, l0 + 22, 5),
    );
    case(
        "local-flags.zip",
        Ambiguous(K::LocalHeader),
        "entry \"a.txt\": flags 0x0800 in the central directory, 0x0801 in its local header",
        &|b| put16(b, l0 + 6, 0x0801),
    );
    // Names.
    case(
        "duplicate.zip",
        Ambiguous(K::DuplicateName),
        "two entries are named \"a.txt\"",
        &|b| {
            b[c1 + 46] = b'a';
            b[l1 + 30] = b'a';
        },
    );
    // End records.
    case(
        "cd-longer-than-counted.zip",
        Ambiguous(K::EndRecords),
        "the central directory holds more records than the 1 the end record counts",
        &|b| {
            put16(b, eocd + 8, 1);
            put16(b, eocd + 10, 1);
        },
    );
    case(
        "counts-disagree.zip",
        Ambiguous(K::EndRecords),
        "the end record counts 1 entries on this disk and 2 in all",
        &|b| put16(b, eocd + 8, 1),
    );
    // Errors, alike on every side.
    case(
        "no-end.zip",
        Error,
        "no end-of-central-directory record",
        &|b| b[eocd] = b'X',
    );
    case(
        "bad-local-sig.zip",
        Error,
        "b.txt: local header signature missing",
        &|b| b[l1] = b'X',
    );
    case(
        "bad-central-sig.zip",
        Error,
        "bad central directory record at offset 0",
        &|b| b[c0] = b'X',
    );
    case(
        "data-overruns.zip",
        Error,
        "b.txt: 4294967294 bytes of data overrun the archive",
        &|b| put32(b, c1 + 20, u32::MAX - 1),
    );
    case(
        "too-many-entries.zip",
        Error,
        "the central directory declares 65534 entries",
        &|b| {
            put16(b, eocd + 8, 0xfffe);
            put16(b, eocd + 10, 0xfffe);
        },
    );
    case(
        "cd-offset-beyond.zip",
        Error,
        "central directory offset",
        &|b| put32(b, eocd + 16, 0x7fff_ffff),
    );
    case(
        "marker-without-zip64.zip",
        Ambiguous(K::Zip64),
        "a 32-bit field holds the zip64 marker",
        &|b| put32(b, c0 + 24, u32::MAX),
    );
    // Truncations: every one an error, the same on every side.
    for cut in [10, 30, l1 + 20, c0 + 10, c1 + 50, eocd + 10] {
        out.push((
            Box::leak(format!("cut{cut}.zip").into_boxed_str()),
            two.bytes[..cut].to_vec(),
            Error,
            "",
        ));
    }
    // A descriptor that contradicts the central directory.
    let desc = zip_build(
        &[
            Ze {
                descriptor: true,
                ..ze(b"a.txt", b"one\n")
            },
            ze(b"b.txt", b"two\n"),
        ],
        b"",
    );
    let mut bad_desc = desc.bytes.clone();
    let at = desc.local[1] - 12; // its CRC
    bad_desc[at] ^= 1;
    out.push((
        "descriptor-crc.zip",
        bad_desc,
        Ambiguous(K::Descriptor),
        "entry \"a.txt\": its data descriptor says CRC",
    ));
    // A zip64 extra field read in full says another offset than the
    // 32-bit field (the `zip` crate reads it in full).
    let z = zip_build(
        &[
            Ze {
                zip64: true,
                ..ze(b"a.txt", b"one\n")
            },
            ze(b"b.txt", b"two\n"),
        ],
        b"",
    );
    let mut z64_extra = z.bytes.clone();
    {
        // Grow the central zip64 record from 16 to 24 bytes, the offset
        // in it pointing at the second entry's header.
        let c = z.central[0];
        let rec_end = c + 46 + 5 + 20;
        let mut b = z64_extra[..rec_end].to_vec();
        b.extend_from_slice(&(z.local[1] as u64).to_le_bytes());
        b.extend_from_slice(&z64_extra[rec_end..]);
        put16(&mut b, c + 30, 28);
        put16(&mut b, c + 46 + 5 + 2, 24);
        // The directory grew by 8: the end records say so.
        let eocd = z.eocd + 8;
        let size = get32(&b, eocd + 12) + 8;
        put32(&mut b, eocd + 12, size);
        let z64 = eocd - 76;
        b[z64 + 40..z64 + 48].copy_from_slice(&u64::from(size).to_le_bytes());
        let loc = eocd - 20;
        let at = u64::from_le_bytes(b[loc + 8..loc + 16].try_into().unwrap()) + 8;
        b[loc + 8..loc + 16].copy_from_slice(&at.to_le_bytes());
        z64_extra = b;
    }
    out.push((
        "zip64-extra-in-full.zip",
        z64_extra,
        Ambiguous(K::Zip64),
        "entry \"a.txt\": its zip64 extra field read in full says local header offset",
    ));
    let mut z64_end = z.bytes.clone();
    put16(&mut z64_end, z.eocd + 8, 1);
    put16(&mut z64_end, z.eocd + 10, 1);
    out.push((
        "zip64-end-disagrees.zip",
        z64_end,
        Ambiguous(K::Zip64),
        "the zip64 end record says entry count 2, the end record 1",
    ));
    // A file and a directory of one name.
    out.push((
        "file-and-dir.zip",
        zip_build(&[ze(b"a", b"file\n"), ze(b"a/", b"")], b"").bytes,
        Ambiguous(K::FileAndDirectory),
        "\"a\" is both a file and a directory",
    ));
    // Another archive in front: readers that take the last end record see
    // one archive (offsets shifted), readers that scan see two.
    let mut concatenated = zip_build(&[ze(b"hidden.sh", b"rm -rf /\n")], b"").bytes;
    concatenated.extend_from_slice(&two.bytes);
    out.push((
        "concatenated.zip",
        concatenated,
        Ambiguous(K::HiddenHeader),
        "a local header at offset 0 belongs to no entry of the central directory",
    ));
    // A second end record ends the file, hidden in the first's comment.
    let mut fake = b"PK\x05\x06".to_vec();
    fake.extend_from_slice(&[0; 18]);
    out.push((
        "two-ends.zip",
        zip_build(&[ze(b"a.txt", b"one\n")], &fake).bytes,
        Ambiguous(K::EndRecords),
        "2 end-of-central-directory records end the file",
    ));
    // Two central records over one local header: the overlapping-entry bomb.
    let mut bomb = two.bytes.clone();
    put32(&mut bomb, c1 + 42, 0);
    let crc0 = get32(&bomb, c0 + 16);
    put32(&mut bomb, c1 + 16, crc0);
    bomb[c1 + 46] = b'c';
    out.push((
        "overlap.zip",
        bomb,
        Refused(K::Overlap),
        "entries \"a.txt\" and \"c.txt\" overlap",
    ));
    // Names.
    for (file, name, expect, what) in [
        (
            "dotdot.zip",
            &b"../evil.sh"[..],
            Ambiguous(K::UnsafeName),
            "a \"..\" component",
        ),
        (
            "absolute.zip",
            b"/etc/evil",
            Ambiguous(K::UnsafeName),
            "an absolute path",
        ),
        (
            "backslash.zip",
            b"dir\\x.txt",
            Ambiguous(K::UnsafeName),
            "a backslash",
        ),
        (
            "nul.zip",
            b"ok.txt\0.sh",
            Ambiguous(K::UnsafeName),
            "a NUL byte",
        ),
        (
            "control.zip",
            b"bell\x07.txt",
            Finding(K::ControlCharacters),
            "unsafe name (control characters)",
        ),
    ] {
        out.push((
            file,
            zip_build(&[ze(name, b"x\n"), ze(b"b.txt", b"two\n")], b"").bytes,
            expect,
            what,
        ));
    }
    out.push((
        "unknown-method.zip",
        zip_build(
            &[
                Ze {
                    method: 77,
                    ..ze(b"a.bin", b"opaque")
                },
                ze(b"b.txt", b"two\n"),
            ],
            b"",
        )
        .bytes,
        Finding(K::UnknownMethod),
        "entry \"a.bin\": unknown compression method 77; its content is compared as stored",
    ));
    out
}

/// Normalizes and digests `bytes` with ambiguity allowed or not.
fn zip_normalize(bytes: &[u8], name: &str, allow: bool) -> (Normalized, Result<Digested>) {
    let budget = Budget::new(Limits::default());
    let nx = Nx {
        budget: &budget,
        epoch: EPOCH,
        allow_ambiguous: allow,
    };
    let blob = Blob::mem(bytes.to_vec());
    let mut out = Vec::new();
    let normalized = zip::Zip
        .normalize(&blob, name, 1, &nx, &mut out)
        .map(|fired| {
            let ids = fired.iter().map(|f| f.rule.id()).collect();
            ((!fired.is_empty()).then_some(out), ids)
        })
        .map_err(|e| e.to_string());
    let budget = Budget::new(Limits::default());
    let nx = Nx {
        budget: &budget,
        epoch: EPOCH,
        allow_ambiguous: allow,
    };
    (normalized, zip::Zip.digest(&blob, name, 1, &nx))
}

/// Reads every file entry's content through the differ (decompressing and
/// checking it).
fn zip_contents(c: &Container) -> std::result::Result<Vec<(String, Vec<u8>)>, String> {
    let sides = crate::model::Sides::new();
    let cx = sides.cx(0);
    c.entries
        .iter()
        .map(|e| {
            let bytes = e
                .content
                .with_reader(&cx, &e.path, |r| {
                    let mut v = Vec::new();
                    r.read_to_end(&mut v)
                        .map_err(|e| cx.io(e, "x", "reading"))?;
                    Ok(v)
                })
                .map_err(|e| e.to_string())?;
            Ok((e.path.clone(), bytes))
        })
        .collect()
}

/// What the normalizer wrote, the differ reads as the same entries (in
/// canonical order) with canonical metadata, the same content and no
/// conflict; the digest of input and output are one; the rules that fired
/// are the differences the differ shows.
fn zip_check_output(
    name: &str,
    before: &Container,
    out: Option<Vec<u8>>,
    fired: &[&str],
    input: &[u8],
) {
    let Some(out) = out else {
        assert!(fired.is_empty(), "{name}");
        return;
    };
    let after = differ_read(&out, name).unwrap();
    let mut names: Vec<&str> = before.entries.iter().map(|e| e.path.as_str()).collect();
    names.sort_unstable();
    let after_names: Vec<&str> = after.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(after_names, names, "{name}: canonical order");
    let mut clamped = false;
    let mut moded = false;
    for a in &after.entries {
        let b = before.entries.iter().find(|b| b.path == a.path).unwrap();
        assert_eq!(a.kind, b.kind, "{name}: {}", a.path);
        assert_eq!(a.meta.size, b.meta.size, "{name}: {}", a.path);
        let (fa, fb) = (
            a.meta.format.as_ref().unwrap(),
            b.meta.format.as_ref().unwrap(),
        );
        assert_eq!(fa.compression, fb.compression, "{name}: {}", a.path);
        assert_eq!(a.meta.mtime, b.meta.mtime.map(|t| t.min(EPOCH)), "{name}");
        clamped |= a.meta.mtime != b.meta.mtime;
        let expected = match a.kind {
            EntryKind::Dir => 0o755,
            EntryKind::Symlink { .. } => 0o777,
            _ => canonical_file_mode(b.meta.mode.unwrap_or(0)),
        };
        assert_eq!(a.meta.mode, Some(expected), "{name}: {}", a.path);
        moded |= a.meta.mode != b.meta.mode;
    }
    assert_eq!(
        zip_contents(&after),
        zip_contents(before).map(|mut v| {
            v.sort();
            v
        }),
        "{name}: content"
    );
    assert!(after.comments.is_empty(), "{name}: {:?}", after.comments);
    assert_eq!(after.meta, before.meta, "{name}: archive comment");
    let order_changed = before.entries.windows(2).any(|w| w[0].path > w[1].path);
    assert_eq!(
        fired.contains(&"zip.sort"),
        order_changed,
        "{name}: {fired:?}"
    );
    assert_eq!(
        fired.contains(&"zip.mtime-clamp"),
        clamped,
        "{name}: {fired:?}"
    );
    assert_eq!(
        fired.contains(&"zip.attr-normalize"),
        moded,
        "{name}: {fired:?}"
    );
    let (_, d_in) = zip_normalize(input, name, false);
    let (n_out, d_out) = zip_normalize(&out, name, false);
    assert_eq!(n_out, Ok((None, Vec::new())), "{name}: normalizing twice");
    assert_eq!(
        d_in.unwrap().sha256,
        d_out.unwrap().sha256,
        "{name}: digest"
    );
}

#[test]
fn zip_entries_are_read_alike() {
    for (name, input, expect, what) in zip_inputs() {
        let read = differ_read(&input, name);
        let (normalized, digested) = zip_normalize(&input, name, false);
        let digested = digested.map(drop).map_err(|e| e.to_string());
        let archive = formats::zip::read(
            &Blob::mem(input.clone()),
            name,
            &Budget::new(Limits::default()),
        );
        match expect {
            ZipExpect::Error => {
                let e = read.expect_err(name);
                assert!(e.contains(what), "{name}: {e}");
                assert_eq!(normalized.map(drop), Err(e.clone()), "{name}: normalize");
                assert_eq!(digested, Err(e), "{name}: digest");
            }
            ZipExpect::Clean => {
                let c = read.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(c.comments.is_empty(), "{name}: {:?}", c.comments);
                assert_eq!(digested, Ok(()), "{name}: digest");
                zip_contents(&c).unwrap_or_else(|e| panic!("{name}: {e}"));
                // The reader's ranges are the blobs it hands out.
                for m in archive.unwrap().members {
                    assert_eq!(m.data_range().end - m.data_range().start, m.data.len());
                    assert_eq!(m.descriptor.is_some(), m.local_flags() & 8 != 0, "{name}");
                    if let Some(d) = m.descriptor {
                        assert_eq!((d.crc, d.csize, d.usize), (m.crc, m.csize, m.usize));
                    }
                }
                let (out, fired) = normalized.unwrap_or_else(|e| panic!("{name}: {e}"));
                zip_check_output(name, &c, out, &fired, &input);
            }
            ZipExpect::Ambiguous(kind) | ZipExpect::Refused(kind) | ZipExpect::Finding(kind) => {
                let c = read.unwrap_or_else(|e| panic!("{name}: {e}"));
                let conflicts = archive.unwrap().conflicts;
                let found = conflicts.iter().find(|c| c.kind == kind);
                assert!(
                    found.is_some_and(|c| c.detail.contains(what)),
                    "{name}: {conflicts:?}"
                );
                // The normalizer names the first conflict of the strongest
                // refusal.
                let refused = [Refusal::Always, Refusal::UnlessAllowed]
                    .into_iter()
                    .find_map(|r| conflicts.iter().find(|c| c.kind.refusal() == r));
                // The differ reports exactly what the reader found.
                let details: Vec<&String> = conflicts.iter().map(|c| &c.detail).collect();
                assert_eq!(c.comments.iter().collect::<Vec<_>>(), details, "{name}");
                let (allowed, allowed_digest) = zip_normalize(&input, name, true);
                match expect {
                    ZipExpect::Finding(_) => {
                        assert_eq!(digested, Ok(()), "{name}: digest");
                        let (out, fired) = normalized.unwrap_or_else(|e| panic!("{name}: {e}"));
                        assert_eq!(Ok((out, fired)), allowed, "{name}");
                    }
                    _ => {
                        // Refused, naming the archive and the conflict.
                        let e = normalized.expect_err(name);
                        assert!(e.starts_with(&format!("{name}: ")), "{name}: {e}");
                        assert!(e.contains(&refused.unwrap().detail), "{name}: {e}");
                        assert_eq!(digested, Err(e.clone()), "{name}: digest");
                        if matches!(expect, ZipExpect::Refused(_)) {
                            assert!(e.contains("malformed zip"), "{name}: {e}");
                            assert_eq!(allowed.map(drop), Err(e), "{name}: allowed");
                        } else {
                            assert!(e.contains("--allow-ambiguous"), "{name}: {e}");
                            allowed.unwrap_or_else(|e| {
                                panic!("{name}: refused although allowed: {e}")
                            });
                            allowed_digest.unwrap_or_else(|e| {
                                panic!("{name}: digest refused although allowed: {e}")
                            });
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn zip_plain_normalization_fires_what_the_differ_shows() {
    let input = zip_build(&zip_plain(), b"").bytes;
    let (before, out, fired) = agree(&input, "plain.zip").unwrap();
    // The builder writes the UTF-8 flag on ASCII names, as the jar tool
    // does.
    assert_eq!(
        fired,
        [
            "zip.sort",
            "zip.mtime-clamp",
            "zip.attr-normalize",
            "zip.flags"
        ]
    );
    zip_check_output("plain.zip", &before, out, &fired, &input);
}

#[test]
fn zips_that_differ_only_in_how_the_writer_framed_them_are_canonically_equal() {
    // One set of entries written with data descriptors (the jar tool,
    // streaming writers) and without (add-determinism, Python): the same
    // compressed bytes, so one canonical form.
    let entries = |descriptor: bool| -> Vec<Ze> {
        zip_plain()
            .into_iter()
            .map(|e| Ze { descriptor, ..e })
            .collect()
    };
    let with = zip_build(&entries(true), b"").bytes;
    let without = zip_build(&entries(false), b"").bytes;
    let (before, out_with, fired) = agree(&with, "streamed.zip").unwrap();
    assert!(fired.contains(&"zip.descriptor"), "{fired:?}");
    zip_check_output("streamed.zip", &before, out_with.clone(), &fired, &with);
    let (_, out_without, fired) = agree(&without, "plain.zip").unwrap();
    assert!(!fired.contains(&"zip.descriptor"), "{fired:?}");
    let (out_with, out_without) = (out_with.unwrap(), out_without.unwrap());
    assert_eq!(out_with, out_without);
    // The canonical form is a zip every reader reads: the zip crate too.
    let mut z = ::zip::ZipArchive::new(std::io::Cursor::new(out_with)).unwrap();
    for (i, e) in zip_plain().iter().enumerate() {
        let mut f = z.by_name(std::str::from_utf8(e.name).unwrap()).unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut data).unwrap();
        assert_eq!(data, e.data, "entry {i}");
    }
}

/// Member data is checked as it is decompressed: a CRC-32 or a size that
/// does not match what the central directory declares is reported on the
/// entry, never taken for its content.
#[test]
fn zip_data_that_does_not_match_its_crc_or_size_is_reported() {
    let two = zip_build(&[ze(b"a.txt", b"one\n"), ze(b"b.txt", b"two\n")], b"");
    let mut crc = two.bytes.clone();
    for at in [two.local[0] + 14, two.central[0] + 16] {
        crc[at] ^= 1;
    }
    let mut size = two.bytes.clone();
    for at in [two.local[0] + 22, two.central[0] + 24] {
        put32(&mut size, at, 3);
    }
    // Deflate's CRC is checked, and so is stored data's.
    let plain = zip_build(
        &[Ze {
            method: 0,
            ..ze(b"a.txt", b"one\n")
        }],
        b"",
    );
    let mut stored_crc = plain.bytes.clone();
    for at in [plain.local[0] + 14, plain.central[0] + 16] {
        stored_crc[at] ^= 1;
    }
    for (name, bad, want) in [
        ("crc.zip", &crc, "the data has CRC-32"),
        (
            "size.zip",
            &size,
            "the data decompresses to more than the 3 bytes",
        ),
        ("stored-crc.zip", &stored_crc, "the data has CRC-32"),
    ] {
        // The archive itself reads; the entry's data does not.
        let c = differ_read(bad, name).unwrap();
        assert!(c.comments.is_empty(), "{name}: {:?}", c.comments);
        let e = zip_contents(&c).unwrap_err();
        assert!(
            e.contains(want) && e.contains("malformed zip"),
            "{name}: {e}"
        );
        // In a comparison, against the honest archive: a finding on the entry.
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.zip"), dir.path().join("b.zip"));
        let good = if name == "stored-crc.zip" {
            &plain.bytes
        } else {
            &two.bytes
        };
        std::fs::write(&a, good).unwrap();
        std::fs::write(&b, bad).unwrap();
        let d = crate::compare(&a, &b, &crate::Options::default())
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: reported identical"));
        let shown = format!("{d:?}");
        assert!(
            shown.contains("could not be compared") && shown.contains(want),
            "{name}: {shown}"
        );
    }
}

/// The UTF-8 flag changes how a name beyond ASCII reads, and only that: a
/// local header that drops it is a conflict for such a name alone.
#[test]
fn zip_utf8_flag_matters_for_names_beyond_ascii_only() {
    for (name, conflict) in [
        (&b"plain.txt"[..], false),
        ("caf\u{e9}.txt".as_bytes(), true),
    ] {
        let z = zip_build(
            &[Ze {
                name,
                ..ze(b"", b"x\n")
            }],
            b"",
        );
        let mut b = z.bytes.clone();
        put16(&mut b, z.local[0] + 6, 0);
        let c = differ_read(&b, "u.zip").unwrap();
        assert_eq!(
            c.comments.iter().any(|c| c.contains("in its local header")),
            conflict,
            "{}: {:?}",
            String::from_utf8_lossy(name),
            c.comments
        );
    }
}

/// Conflicts are listed up to a bound, but however many findings come
/// first, the conflict that makes the normalizer refuse is kept.
#[test]
fn zip_findings_do_not_crowd_out_a_refusal() {
    let mut entries: Vec<Ze> = (0..150)
        .map(|i| {
            let name: &'static [u8] = format!("bell\x07{i}.txt").into_bytes().leak();
            ze(name, b"x\n")
        })
        .collect();
    entries.push(ze(b"../evil.sh", b"x\n"));
    let bytes = zip_build(&entries, b"").bytes;
    let c = differ_read(&bytes, "many.zip").unwrap();
    assert!(c.comments.len() <= 102, "{}", c.comments.len());
    assert!(
        c.comments.iter().any(|c| c.contains("more conflicts")),
        "{:?}",
        c.comments.last()
    );
    let (n, d) = zip_normalize(&bytes, "many.zip", false);
    let e = n.map(|(_, fired)| fired).unwrap_err();
    assert!(e.contains("\"../evil.sh\": unsafe name"), "{e}");
    assert!(d.is_err());
}
// ---------------------------------------------------------------- tar conflicts

/// Sparse members, tars that read two ways and unsafe names: what the
/// differ reports, what the normalizer and the digest refuse or keep.
mod tar_conflicts {
    use super::*;

    /// Writes `v` as octal text filling `field` but its last byte, or
    /// base-256 when it does not fit.
    fn octal(field: &mut [u8], v: u64) {
        let w = field.len() - 1;
        let text = format!("{v:0w$o}");
        if text.len() > w {
            field.fill(0);
            let at = field.len() - 8;
            field[at..].copy_from_slice(&v.to_be_bytes());
            field[0] |= 0x80;
            return;
        }
        field[..w].copy_from_slice(text.as_bytes());
        field[w] = 0;
    }

    /// Recomputes a header's (unsigned) checksum.
    pub(super) fn resum(h: &mut [u8; 512]) {
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    }

    fn end(mut t: Vec<u8>) -> Vec<u8> {
        t.extend_from_slice(&[0; 1024]);
        t
    }

    fn pad(t: &mut Vec<u8>) {
        t.resize(t.len().div_ceil(512) * 512, 0);
    }

    /// The file the sparse members below stand for: 10000 bytes, "A"s at
    /// 1000..1512 and "B"s at 8192..8292, zeros elsewhere.
    const REAL: u64 = 10_000;
    const REGIONS: [(u64, u64, u8); 2] = [(1000, 512, b'A'), (8192, 100, b'B')];

    fn expanded() -> Vec<u8> {
        let mut f = vec![0u8; REAL as usize];
        for (off, len, b) in REGIONS {
            f[off as usize..(off + len) as usize].fill(b);
        }
        f
    }

    fn stored() -> Vec<u8> {
        REGIONS
            .iter()
            .flat_map(|&(_, len, b)| std::iter::repeat_n(b, len as usize))
            .collect()
    }

    /// An old GNU sparse member ('S') with `map` and the real size
    /// `real`; entries past four go to extension blocks.
    fn old_gnu(name: &[u8], map: &[(u64, u64)], real: u64, data: &[u8]) -> Vec<u8> {
        let mut h = tar_header(name, b'S', data.len(), b"");
        h[257..265].copy_from_slice(b"ustar  \0");
        h[265..329].fill(0);
        for (i, &(off, len)) in map.iter().take(4).enumerate() {
            let at = 386 + 24 * i;
            octal(&mut h[at..at + 12], off);
            octal(&mut h[at + 12..at + 24], len);
        }
        octal(&mut h[483..495], real);
        let rest: Vec<_> = map.iter().skip(4).collect();
        h[482] = u8::from(!rest.is_empty());
        resum(&mut h);
        let mut out = h.to_vec();
        let chunks: Vec<_> = rest.chunks(21).collect();
        for (c, chunk) in chunks.iter().enumerate() {
            let mut e = [0u8; 512];
            for (i, &&(off, len)) in chunk.iter().enumerate() {
                octal(&mut e[24 * i..24 * i + 12], off);
                octal(&mut e[24 * i + 12..24 * i + 24], len);
            }
            e[504] = u8::from(c + 1 < chunks.len());
            out.extend_from_slice(&e);
        }
        out.extend_from_slice(data);
        pad(&mut out);
        out
    }

    /// A PAX header with `records`, then a regular member header for
    /// `data`.
    fn pax_member(records: &[(&str, &str)], name: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        tar_put(&mut out, b"PaxHeaders/x", b'x', &pax(records), b"");
        tar_put(&mut out, name, b'0', data, b"");
        out
    }

    fn map_text(map: &[(u64, u64)]) -> String {
        map.iter()
            .flat_map(|(o, l)| [o.to_string(), l.to_string()])
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every way GNU tar writes the sparse file: old GNU, PAX 0.0, 0.1, 1.0.
    fn sparse_inputs() -> Vec<(&'static str, Vec<u8>)> {
        let map: Vec<(u64, u64)> = REGIONS.iter().map(|&(o, l, _)| (o, l)).collect();
        let real = REAL.to_string();
        let n = map.len().to_string();
        let v00 = {
            let mut records = vec![
                ("GNU.sparse.size", real.as_str()),
                ("GNU.sparse.numblocks", n.as_str()),
            ];
            let texts: Vec<_> = map
                .iter()
                .map(|(o, l)| (o.to_string(), l.to_string()))
                .collect();
            for (o, l) in &texts {
                records.push(("GNU.sparse.offset", o));
                records.push(("GNU.sparse.numbytes", l));
            }
            records.push(("GNU.sparse.name", "data/sparse.img"));
            pax_member(&records, b"./GNUSparseFile.1/sparse.img", &stored())
        };
        let mt = map_text(&map);
        let v01 = pax_member(
            &[
                ("GNU.sparse.size", &real),
                ("GNU.sparse.numblocks", &n),
                ("GNU.sparse.map", &mt),
                ("GNU.sparse.name", "data/sparse.img"),
            ],
            b"./GNUSparseFile.1/sparse.img",
            &stored(),
        );
        let v10 = {
            let mut data = format!("{n}\n");
            for (o, l) in &map {
                data.push_str(&format!("{o}\n{l}\n"));
            }
            let mut data = data.into_bytes();
            pad(&mut data);
            data.extend_from_slice(&stored());
            pax_member(
                &[
                    ("GNU.sparse.major", "1"),
                    ("GNU.sparse.minor", "0"),
                    ("GNU.sparse.name", "data/sparse.img"),
                    ("GNU.sparse.realsize", &real),
                ],
                b"./GNUSparseFile.1/sparse.img",
                &data,
            )
        };
        // Old GNU with extension blocks: the same file cut into 30 regions
        // (a zero-length one at the end, as GNU tar writes it).
        let mut many = Vec::new();
        for i in 0..29u64 {
            many.push((i * 300, 10));
        }
        many.push((REAL, 0));
        let many_data: Vec<u8> = (0..290).map(|i| (i % 7) as u8 + b'a').collect();
        vec![
            (
                "old-gnu.tar",
                end(old_gnu(b"data/sparse.img", &map, REAL, &stored())),
            ),
            (
                "old-gnu-ext.tar",
                end(old_gnu(b"data/many.img", &many, REAL, &many_data)),
            ),
            ("pax-0.0.tar", end(v00)),
            ("pax-0.1.tar", end(v01)),
            ("pax-1.0.tar", end(v10)),
        ]
    }

    fn many_expanded() -> Vec<u8> {
        let mut f = vec![0u8; REAL as usize];
        let mut k = 0;
        for i in 0..29usize {
            for j in 0..10 {
                f[i * 300 + j] = (k % 7) as u8 + b'a';
                k += 1;
            }
        }
        f
    }

    /// The differ's container and the bytes of each entry.
    fn read_all(bytes: &[u8], name: &str) -> (Container, Vec<Vec<u8>>) {
        let c = differ_read(bytes, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let sides = crate::model::Sides::new();
        let cx = sides.cx(0);
        let data = c
            .entries
            .iter()
            .map(|e| {
                e.content
                    .with_reader(&cx, name, |r| {
                        let mut v = Vec::new();
                        r.read_to_end(&mut v).unwrap();
                        Ok(v)
                    })
                    .unwrap()
            })
            .collect();
        (c, data)
    }

    fn digest_of(bytes: &[u8], name: &str, limits: Limits) -> Result<[u8; 32]> {
        let budget = Budget::new(limits);
        let nx = Nx {
            budget: &budget,
            epoch: EPOCH,
            allow_ambiguous: false,
        };
        let blob = Blob::mem(bytes.to_vec());
        detect(&bytes[..512])
            .unwrap()
            .digest(&blob, name, 1, &nx)
            .map(|d| d.sha256)
    }

    fn normalize_with(bytes: &[u8], name: &str, limits: Limits, allow: bool) -> Result<Vec<u8>> {
        let budget = Budget::new(limits);
        let nx = Nx {
            budget: &budget,
            epoch: EPOCH,
            allow_ambiguous: allow,
        };
        let blob = Blob::mem(bytes.to_vec());
        let mut out = Vec::new();
        let fired = detect(&bytes[..512])
            .unwrap()
            .normalize(&blob, name, 1, &nx, &mut out)?;
        Ok(if fired.is_empty() {
            bytes.to_vec()
        } else {
            out
        })
    }

    #[test]
    fn sparse_members_are_compared_expanded() {
        for (name, input) in sparse_inputs() {
            let (c, data) = read_all(&input, name);
            assert_eq!(c.entries.len(), 1, "{name}");
            let e = &c.entries[0];
            let want = if name == "old-gnu-ext.tar" {
                assert_eq!(e.path, "data/many.img");
                many_expanded()
            } else {
                assert_eq!(e.path, "data/sparse.img", "{name}");
                expanded()
            };
            assert_eq!(e.meta.size, Some(REAL), "{name}");
            assert!(data[0] == want, "{name}: content is not the expanded file");
            assert!(c.comments.is_empty(), "{name}: {:?}", c.comments);
        }
    }

    /// The normalizer keeps sparse members byte for byte (it never
    /// rewrites or recurses into the compacted data), and the digest is
    /// of the expanded content: a sparse tar and a plain tar of the same
    /// file digest alike, and normalizing changes no digest.
    #[test]
    fn sparse_members_are_kept_and_digested_expanded() {
        let mut plain = Vec::new();
        tar_put(&mut plain, b"data/sparse.img", b'0', &expanded(), b"");
        let plain_digest = digest_of(&end(plain), "plain.tar", Limits::default()).unwrap();
        for (name, input) in sparse_inputs() {
            let d = digest_of(&input, name, Limits::default()).unwrap();
            if name != "old-gnu-ext.tar" {
                assert_eq!(
                    d, plain_digest,
                    "{name}: digest is not of the expanded file"
                );
            }
            let out = normalize_with(&input, name, Limits::default(), false).unwrap();
            assert_ne!(out, input, "{name}: noise was left");
            assert_eq!(
                digest_of(&out, name, Limits::default()).unwrap(),
                d,
                "{name}"
            );
            // The stored data and the sparse map survive as they were.
            let (_, before) = read_all(&input, name);
            let (after_c, after) = read_all(&out, name);
            assert_eq!(after, before, "{name}");
            assert_eq!(after_c.entries[0].meta.size, Some(REAL), "{name}");
            let needle = &input[input.len() - 1024 - 512..input.len() - 1024];
            assert!(
                out.windows(512).any(|w| w == needle),
                "{name}: the last data block changed"
            );
        }
    }

    #[test]
    fn sparse_size_counts_against_the_decompressed_limit() {
        let huge = 1u64 << 62;
        let input = end(old_gnu(b"bomb.img", &[(huge - 4, 4)], huge, b"boom"));
        let want = "total decompressed bytes limit exceeded";
        let read = differ_read(&input, "bomb.tar").unwrap_err();
        assert!(
            read.contains(want) && read.contains("bomb.tar::bomb.img"),
            "{read}"
        );
        assert!(read.contains("--max-decompressed"), "{read}");
        let n = normalize_with(&input, "bomb.tar", Limits::default(), false).unwrap_err();
        assert!(n.to_string().contains(want), "{n}");
        let d = digest_of(&input, "bomb.tar", Limits::default()).unwrap_err();
        assert!(d.to_string().contains(want), "{d}");
        // Within a lower limit, the sparse file of the tests fits or not.
        let (_, input) = sparse_inputs().swap_remove(0);
        let small = Limits {
            max_decompressed: 1000,
            ..Limits::default()
        };
        assert!(digest_of(&input, "s.tar", small).is_err());
    }

    #[test]
    fn malformed_sparse_maps_name_the_member() {
        let data = stored();
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "overlap",
                old_gnu(b"o.img", &[(1000, 512), (1400, 100)], REAL, &data),
                "overlaps or precedes",
            ),
            (
                "unsorted",
                old_gnu(b"o.img", &[(8192, 100), (1000, 512)], REAL, &data),
                "overlaps or precedes",
            ),
            (
                "past the end",
                old_gnu(b"o.img", &[(1000, 512), (9950, 100)], REAL, &data),
                "runs past the real size",
            ),
            (
                "short data",
                old_gnu(b"o.img", &[(1000, 512), (8192, 200)], REAL, &data),
                "the map holds 712 bytes of data, the member stores 612",
            ),
            (
                "numblocks",
                pax_member(
                    &[
                        ("GNU.sparse.size", "10000"),
                        ("GNU.sparse.numblocks", "3"),
                        ("GNU.sparse.map", "1000,512,8192,100"),
                    ],
                    b"o.img",
                    &data,
                ),
                "GNU.sparse.numblocks says 3, the map has 2 regions",
            ),
            (
                "count that does not fit",
                {
                    let mut d = b"99999999999\n".to_vec();
                    pad(&mut d);
                    pax_member(
                        &[
                            ("GNU.sparse.major", "1"),
                            ("GNU.sparse.minor", "0"),
                            ("GNU.sparse.realsize", "10000"),
                        ],
                        b"o.img",
                        &d,
                    )
                },
                "the map declares 99999999999 regions",
            ),
            (
                "odd map",
                pax_member(
                    &[
                        ("GNU.sparse.size", "10000"),
                        ("GNU.sparse.map", "1000,512,8192"),
                    ],
                    b"o.img",
                    &data,
                ),
                "odd count",
            ),
        ];
        for (what, input, want) in cases {
            let input = end(input);
            let read = differ_read(&input, "m.tar").unwrap_err();
            assert!(
                read.contains("sparse member o.img") && read.contains(want),
                "{what}: {read}"
            );
            // The same error from the normalizer and the digest.
            let (n, d) = normalizer_run(&input, "m.tar");
            assert_eq!(n.map(drop), Err(read.clone()), "{what}");
            assert_eq!(d, Err(read), "{what}");
        }
    }

    /// Whether the normalizer and the digest refuse `bytes` as ambiguous;
    /// if so, the differ reads it and reports the same conflict, and both
    /// proceed with --allow-ambiguous.
    pub(super) fn refused_as_ambiguous(bytes: &[u8], name: &str) -> bool {
        let Err(e) = normalize_with(bytes, name, Limits::default(), false) else {
            return false;
        };
        let Error::Ambiguous { detail, .. } = &e else {
            return false;
        };
        let c = differ_read(bytes, name).unwrap_or_else(|e| panic!("{name}: differ: {e}"));
        assert!(
            c.comments.iter().any(|x| x == detail),
            "{name}: the differ does not report {detail:?}: {:?}",
            c.comments
        );
        let digest = digest_of(bytes, name, Limits::default()).unwrap_err();
        assert_eq!(digest.to_string(), e.to_string(), "{name}: digest");
        assert!(e.to_string().contains("--allow-ambiguous"), "{e}");
        normalize_with(bytes, name, Limits::default(), true)
            .unwrap_or_else(|e| panic!("{name}: refused although allowed: {e}"));
        let budget = Budget::new(Limits::default());
        let nx = Nx {
            budget: &budget,
            epoch: EPOCH,
            allow_ambiguous: true,
        };
        detect(&bytes[..512])
            .unwrap()
            .digest(&Blob::mem(bytes.to_vec()), name, 1, &nx)
            .unwrap_or_else(|e| panic!("{name}: digest refused although allowed: {e}"));
        true
    }

    fn plain_member(out: &mut Vec<u8>, name: &[u8]) {
        tar_put(out, name, b'0', b"data\n", b"");
    }

    /// Tars that read two ways, and the conflict each is refused for.
    fn ambiguous_inputs() -> Vec<(&'static str, Vec<u8>, &'static str)> {
        let raw_pax = |records: &[u8], name: &[u8]| {
            let mut t = Vec::new();
            tar_put(&mut t, b"PaxHeaders/x", b'x', records, b"");
            plain_member(&mut t, name);
            end(t)
        };
        let mut size = Vec::new();
        tar_put(
            &mut size,
            b"PaxHeaders/s",
            b'x',
            &pax(&[("size", "3")]),
            b"",
        );
        size.extend_from_slice(&tar_header(b"s.txt", b'0', 5, b""));
        size.extend_from_slice(b"abc");
        pad(&mut size);
        let mut dangling = Vec::new();
        plain_member(&mut dangling, b"a.txt");
        tar_put(
            &mut dangling,
            b"PaxHeaders/z",
            b'x',
            &pax(&[("path", "z")]),
            b"",
        );
        let mut long_and_pax = Vec::new();
        tar_put(
            &mut long_and_pax,
            b"././@LongLink",
            b'L',
            b"gnu-name.txt",
            b"",
        );
        tar_put(
            &mut long_and_pax,
            b"PaxHeaders/p",
            b'x',
            &pax(&[("path", "pax-name.txt")]),
            b"",
        );
        plain_member(&mut long_and_pax, b"short.txt");
        let mut file_dir = Vec::new();
        plain_member(&mut file_dir, b"pkg/a");
        tar_put(&mut file_dir, b"pkg/a/", b'5', b"", b"");
        let mut dup = Vec::new();
        plain_member(&mut dup, b"pkg/a.txt");
        plain_member(&mut dup, b"pkg/b.txt");
        plain_member(&mut dup, b"pkg/a.txt");
        let mut respelled = Vec::new();
        plain_member(&mut respelled, b"./pkg/a.txt");
        plain_member(&mut respelled, b"pkg/a.txt");
        let mut base256 = Vec::new();
        let mut h = tar_header(b"t.txt", b'0', 5, b"");
        h[136] = 0x80;
        h[137..148].fill(0xff);
        resum(&mut h);
        base256.extend_from_slice(&h);
        base256.extend_from_slice(b"data\n");
        pad(&mut base256);
        // One zero block, then another member: GNU tar reads it, Python
        // and Go stop at the zero block.
        let mut hidden = Vec::new();
        plain_member(&mut hidden, b"shown.txt");
        hidden.extend_from_slice(&[0; 512]);
        plain_member(&mut hidden, b"hidden.sh");
        vec![
            (
                "size.tar",
                end(size),
                "s.txt: PAX size 3 conflicts with ustar header size 5",
            ),
            (
                "zero-length-record.tar",
                raw_pax(b"0 path=x\n", b"a.txt"),
                "a.txt: malformed PAX header (record at byte 0 has a length of 0)",
            ),
            (
                "record-past-block.tar",
                raw_pax(b"99 path=x\n", b"a.txt"),
                "a.txt: malformed PAX header (record at byte 0 has a length of 99, past the end",
            ),
            (
                "record-without-equals.tar",
                raw_pax(b"10 pathxy\n", b"a.txt"),
                "a.txt: malformed PAX header (record at byte 0 has no key=value)",
            ),
            (
                "record-without-newline.tar",
                raw_pax(b"10 path=xyz", b"a.txt"),
                "a.txt: malformed PAX header (record at byte 0 does not end in a newline)",
            ),
            (
                "empty-path.tar",
                raw_pax(b"8 path=\n", b"a.txt"),
                "a.txt: empty PAX path record",
            ),
            (
                "pax-at-end.tar",
                end(dangling),
                "1 metadata header(s) at the end of the archive apply to no member",
            ),
            (
                "long-name-and-pax-path.tar",
                end(long_and_pax),
                "pax-name.txt: GNU long name \"gnu-name.txt\" and PAX path \"pax-name.txt\" disagree",
            ),
            (
                "file-and-dir.tar",
                end(file_dir),
                "pkg/a is both a directory and a file",
            ),
            (
                "duplicate.tar",
                end(dup),
                "duplicate entry name pkg/a.txt (2 times)",
            ),
            ("respelled.tar", end(respelled), "2 members extract to pkg/a.txt"),
            (
                "base-256.tar",
                end(base256),
                "t.txt: base-256 mtime overflows 64 bits",
            ),
            (
                "hidden.tar",
                end(hidden),
                "a member header follows the end-of-archive block, at offset 1536",
            ),
        ]
    }

    #[test]
    fn tars_that_read_two_ways_are_refused_and_reported() {
        for (name, input, want) in ambiguous_inputs() {
            let c = differ_read(&input, name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                c.comments.iter().any(|x| x.starts_with(want)),
                "{name}: {:?}",
                c.comments
            );
            let e = normalize_with(&input, name, Limits::default(), false).unwrap_err();
            assert!(
                matches!(e, Error::Ambiguous { .. }) && e.to_string().contains(want),
                "{name}: {e}"
            );
            assert!(refused_as_ambiguous(&input, name), "{name}");
        }
    }

    /// What follows the end of the archive is only a hidden member when it
    /// is a plausible header: a long zero tail, record padding, a short
    /// tail or garbage are not.
    #[test]
    fn a_zero_tail_or_garbage_is_no_hidden_member() {
        let mut t = Vec::new();
        plain_member(&mut t, b"a.txt");
        let mut long_tail = t.clone();
        long_tail.extend_from_slice(&[0; 20480]);
        let mut garbage = end(t.clone());
        garbage.extend_from_slice(&[0x55; 512]);
        let mut short = end(t.clone());
        short.extend_from_slice(&tar_header(b"cut", b'0', 0, b"")[..300]);
        for (what, input) in [("long", long_tail), ("garbage", garbage), ("short", short)] {
            let c = differ_read(&input, what).unwrap();
            assert!(c.comments.is_empty(), "{what}: {:?}", c.comments);
            normalize_with(&input, what, Limits::default(), false).unwrap();
            digest_of(&input, what, Limits::default()).unwrap();
        }
    }

    /// A header whose checksum only matches as a signed sum (old Sun tar
    /// with a non-ASCII name) reads, with a note, and is not refused.
    #[test]
    fn signed_checksums_are_accepted_and_noted() {
        let mut h = tar_header("caf\u{e9}.txt".as_bytes(), b'0', 5, b"");
        h[148..156].fill(b' ');
        let signed: i64 = h.iter().map(|&b| i64::from(b as i8)).sum();
        h[148..156].copy_from_slice(format!("{signed:06o}\0 ").as_bytes());
        let mut t = h.to_vec();
        t.extend_from_slice(b"data\n");
        pad(&mut t);
        let t = end(t);
        let c = differ_read(&t, "sun.tar").unwrap();
        assert_eq!(
            c.comments,
            [
                "caf\u{e9}.txt: header checksum matches only as a signed sum (old Sun tar); \
              GNU tar, Python and Go accept it"
            ]
        );
        let out = normalize_with(&t, "sun.tar", Limits::default(), false).unwrap();
        // The rewritten header has a POSIX checksum, and nothing to note.
        assert!(differ_read(&out, "sun.tar").unwrap().comments.is_empty());
        assert_eq!(
            digest_of(&t, "sun.tar", Limits::default()).unwrap(),
            digest_of(&out, "sun.tar", Limits::default()).unwrap()
        );
    }

    /// Unsafe names are findings in the differ; the normalizer neither
    /// refuses nor "fixes" them: they come out byte for byte.
    #[test]
    fn unsafe_names_are_reported_and_kept() {
        let mut t = Vec::new();
        plain_member(&mut t, b"/etc/passwd");
        plain_member(&mut t, b"pkg/../../escape.txt");
        plain_member(&mut t, b"pkg\\win.txt");
        plain_member(&mut t, b"pkg/bell\x07.txt");
        tar_put(&mut t, b"pkg/up", b'2', b"", b"../../etc");
        tar_put(&mut t, b"pkg/ok", b'2', b"", b"../pkg/x");
        tar_put(&mut t, b"pkg/abs", b'2', b"", b"/usr/bin/x");
        tar_put(&mut t, b"pkg/hard", b'1', b"", b"../outside");
        let t = end(t);
        let c = differ_read(&t, "unsafe.tar").unwrap();
        assert_eq!(
            c.comments,
            [
                "/etc/passwd: unsafe name: absolute path",
                "pkg/../../escape.txt: unsafe name: `..` component",
                "pkg\\win.txt: unsafe name: backslash (a separator on Windows)",
                "pkg/bell\x07.txt: unsafe name: NUL or control character",
                "pkg/up: unsafe symlink: its target escapes the archive root",
                "pkg/hard: unsafe hard link target: `..` component",
            ]
        );
        let out = normalize_with(&t, "unsafe.tar", Limits::default(), false).unwrap();
        let after = differ_read(&out, "unsafe.tar").unwrap();
        let mut names: Vec<_> = c.entries.iter().map(|e| e.path.clone()).collect();
        let mut after_names: Vec<_> = after.entries.iter().map(|e| e.path.clone()).collect();
        names.sort();
        after_names.sort();
        assert_eq!(after_names, names);
        digest_of(&t, "unsafe.tar", Limits::default()).unwrap();
    }

    fn sha_hex(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    /// A `docker save` tarball: `manifest` (with `{config}` and `{layer}`
    /// replaced by the names given), then the members.
    fn docker_save(config_name: &str, config: &[u8], layer_name: &str, layer: &[u8]) -> Vec<u8> {
        let manifest = format!(
            r#"[{{"Config":"{config_name}","RepoTags":["demo:1"],"Layers":["{layer_name}"]}}]"#
        );
        let mut t = Vec::new();
        tar_put(&mut t, layer_name.as_bytes(), b'0', layer, b"");
        tar_put(&mut t, config_name.as_bytes(), b'0', config, b"");
        tar_put(&mut t, b"manifest.json", b'0', manifest.as_bytes(), b"");
        end(t)
    }

    fn docker_inputs() -> Vec<(&'static str, Vec<u8>, Option<&'static str>)> {
        let mut layer = Vec::new();
        plain_member(&mut layer, b"etc/motd");
        let layer = end(layer);
        let config = |diff_id: &str| {
            format!(r#"{{"rootfs":{{"type":"layers","diff_ids":["sha256:{diff_id}"]}}}}"#)
                .into_bytes()
        };
        let good_config = config(&sha_hex(&layer));
        let good_name = format!("{}.json", sha_hex(&good_config));
        let legacy_layer = "0123456789abcdef/layer.tar";
        let lying_config = config(&sha_hex(b"another layer"));
        let lying_config_name = format!("{}.json", sha_hex(&lying_config));
        let oci_layer = format!("blobs/sha256/{}", sha_hex(&layer));
        let oci_config = format!("blobs/sha256/{}", sha_hex(&good_config));
        let mut missing = docker_save(&good_name, &good_config, legacy_layer, &layer);
        // Drop the layer (the first member: header and its data blocks).
        missing.drain(..512 + layer.len());
        vec![
            (
                "legacy.tar",
                docker_save(&good_name, &good_config, legacy_layer, &layer),
                None,
            ),
            (
                "oci-style.tar",
                docker_save(&oci_config, &good_config, &oci_layer, &layer),
                None,
            ),
            (
                "config-renamed.tar",
                docker_save(&format!("{}.json", "ab".repeat(32)), &good_config, legacy_layer, &layer),
                Some("its name says abab"),
            ),
            (
                "layer-vs-diff-ids.tar",
                docker_save(&lying_config_name, &lying_config, legacy_layer, &layer),
                Some("0123456789abcdef/layer.tar: SHA-256 is"),
            ),
            (
                "oci-style-layer.tar",
                docker_save(&oci_config, &good_config, &format!("blobs/sha256/{}", "cd".repeat(32)), &layer),
                Some("its name says cdcd"),
            ),
            (
                "missing-layer.tar",
                missing,
                Some("manifest.json lists 0123456789abcdef/layer.tar, which the tarball does not have"),
            ),
        ]
    }

    /// Docker-save members are checked against the digests the tarball
    /// records: a mismatch or a missing member is a finding of the differ
    /// and an error of the normalizer and the digest, in the same words.
    #[test]
    fn docker_save_digests_are_checked() {
        for (name, input, want) in docker_inputs() {
            let c = differ_read(&input, name).unwrap_or_else(|e| panic!("{name}: {e}"));
            let (n, d) = normalizer_run(&input, name);
            match want {
                None => {
                    assert!(c.comments.is_empty(), "{name}: {:?}", c.comments);
                    assert!(
                        c.entries
                            .iter()
                            .any(|e| e.path == "image 1 [demo:1]/layer 1 of 1"),
                        "{name}"
                    );
                    n.unwrap_or_else(|e| panic!("{name}: {e}"));
                    d.unwrap_or_else(|e| panic!("{name}: {e}"));
                }
                Some(want) => {
                    let found = c
                        .comments
                        .iter()
                        .find(|x| x.contains(want))
                        .unwrap_or_else(|| panic!("{name}: {:?}", c.comments));
                    let err = format!("{name}: malformed tar: {found}");
                    assert_eq!(n.map(drop), Err(err.clone()), "{name}: normalize");
                    assert_eq!(d, Err(err), "{name}: digest");
                }
            }
        }
    }

    /// The manifest is read within the crate's one JSON limit, --max-json.
    #[test]
    fn docker_manifest_is_read_within_max_json() {
        let (_, input, _) = docker_inputs().swap_remove(0);
        let limits = Limits {
            max_json: 16,
            ..Limits::default()
        };
        let opts = crate::Options {
            limits: limits.clone(),
            ..crate::Options::default()
        };
        let budget = Budget::new(limits.clone());
        let cx = crate::model::Cx {
            budget: &budget,
            opts: &opts,
        };
        let read = formats::format_of(Kind::Tar)
            .read(&Content::memory(input.clone()), "big.tar", &cx)
            .unwrap_err()
            .to_string();
        assert!(
            read.contains("--max-json") && read.contains("big.tar::manifest.json"),
            "{read}"
        );
        let d = digest_of(&input, "big.tar", limits.clone())
            .unwrap_err()
            .to_string();
        assert_eq!(d, read);
        let n = normalize_with(&input, "big.tar", limits, false)
            .unwrap_err()
            .to_string();
        assert_eq!(n, read);
    }

    /// A small zip, stored.
    fn small_zip() -> Vec<u8> {
        let mut w = ::zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = ::zip::write::SimpleFileOptions::default()
            .compression_method(::zip::CompressionMethod::Stored);
        w.start_file("inner.txt", opts).unwrap();
        w.write_all(b"zip side\n").unwrap();
        w.finish().unwrap().into_inner()
    }

    /// Tar and zip at once: a tar whose member ends in a zip's end record
    /// whose comment length covers the tar's padding and end blocks; and a
    /// zip behind a tar header.
    fn polyglots() -> Vec<(&'static str, Vec<u8>)> {
        let mut z = b"not a zip at the start\n".to_vec();
        z.extend_from_slice(&small_zip());
        let mut t = Vec::new();
        tar_put(&mut t, b"a.txt", b'0', b"tar side\n", b"");
        let data_at = t.len() + 512;
        tar_put(&mut t, b"payload.bin", b'0', &z, b"");
        let t = end(t);
        let after = t.len() - (data_at + z.len());
        let mut tar_zip = t;
        let eocd = data_at + z.len() - 22;
        tar_zip[eocd + 20..eocd + 22].copy_from_slice(&(after as u16).to_le_bytes());
        let zip = small_zip();
        let mut prefixed = tar_header(b"z.zip", b'0', zip.len(), b"").to_vec();
        prefixed.extend_from_slice(&zip);
        let eocd = prefixed.len() - 22;
        let mut prefixed = end(prefixed);
        pad(&mut prefixed);
        let after = (prefixed.len() - eocd - 22) as u16;
        prefixed[eocd + 20..eocd + 22].copy_from_slice(&after.to_le_bytes());
        vec![("tar-zip.tar", tar_zip), ("prefixed.tar", prefixed)]
    }

    /// Normalizes and digests `path` (named `name`), which may fail but
    /// not as ambiguous: `opts` allows it.
    fn assert_not_ambiguous(path: &Path, out: &Path, opts: &Options, name: &str) {
        for r in [
            normalized_digest(path, opts).map(drop),
            normalize_file(path, out, opts).map(drop),
        ] {
            if let Err(e) = r {
                assert!(!matches!(e, Error::Ambiguous { .. }), "{name}: {e}");
            }
        }
    }

    #[test]
    fn polyglots_are_reported_and_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let mut plain = Vec::new();
        tar_put(&mut plain, b"a.txt", b'0', b"tar side\n", b"");
        let plain_path = tmp.path().join("plain.tar");
        std::fs::write(&plain_path, end(plain)).unwrap();
        for (name, bytes) in polyglots() {
            assert_eq!(formats::detect(&bytes[..512]), Kind::Tar, "{name}");
            let path = tmp.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            let d = crate::compare(&plain_path, &path, &crate::Options::default())
                .unwrap()
                .unwrap();
            let want = format!("{}: also reads as zip: 1 entries", path.display());
            assert!(d.comments.contains(&want), "{name}: {:?}", d.comments);
            let mut opts = Options {
                source_date_epoch: Some(EPOCH),
                ..Options::default()
            };
            let e = normalized_digest(&path, &opts).unwrap_err().to_string();
            assert!(
                e.contains("ambiguous tar: also reads as zip: 1 entries"),
                "{name}: {e}"
            );
            let out = tmp.path().join(format!("{name}.out"));
            let n = normalize_file(&path, &out, &opts).unwrap_err().to_string();
            assert_eq!(n, e, "{name}");
            // Allowed, it is read as the tar it was detected as (the zip
            // behind the header is then a member whose end record runs
            // past its data: malformed, but not refused as ambiguous).
            opts.allow_ambiguous = true;
            assert_not_ambiguous(&path, &out, &opts, name);
        }
        // Nested in another tar, the polyglot is refused too.
        let (_, inner) = polyglots().swap_remove(0);
        let mut outer = Vec::new();
        tar_put(&mut outer, b"inner.tar", b'0', &inner, b"");
        let outer_path = tmp.path().join("outer.tar");
        std::fs::write(&outer_path, end(outer)).unwrap();
        let e = normalize_file(&outer_path, &tmp.path().join("o.out"), &Options::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("outer.tar::inner.tar: ambiguous tar"), "{e}");
    }

    /// Polyglots inside a compressed stream (a tar.gz/.xz/.zst/.bz2 whose
    /// tar also reads as a zip, a gzip whose payload is a zip behind other
    /// bytes) are reported by the differ and refused by normalize and the
    /// digest like polyglot files, and proceed with --allow-ambiguous.
    #[test]
    fn polyglots_inside_compressed_streams_are_reported_and_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = tmp.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let mut plain = Vec::new();
        tar_put(&mut plain, b"a.txt", b'0', b"tar side\n", b"");
        let plain = end(plain);
        let mut junk_zip = b"not a zip at the start\n".to_vec();
        junk_zip.extend_from_slice(&small_zip());
        // A central directory far longer than the 64 KiB kept of a stream's
        // end: checking where it starts reads the stream once more.
        let mut many = ::zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for i in 0..2000 {
            let opts = ::zip::write::SimpleFileOptions::default()
                .compression_method(::zip::CompressionMethod::Stored);
            many.start_file(format!("a-rather-long-member-name-{i:05}"), opts)
                .unwrap();
        }
        let mut junk_many = b"not a zip at the start\n".to_vec();
        junk_many.extend_from_slice(&many.finish().unwrap().into_inner());
        // Name, compressor, the clean payload, the polyglot one, the finding.
        type Case = (String, Kind, Vec<u8>, Vec<u8>, &'static str);
        let mut cases: Vec<Case> = Vec::new();
        for kind in [Kind::Gzip, Kind::Xz, Kind::Zstd, Kind::Bzip2] {
            for (name, bytes) in polyglots() {
                let found = "also reads as zip: 1 entries";
                cases.push((format!("{name}.{kind}"), kind, plain.clone(), bytes, found));
            }
        }
        let text = b"plain text\n".to_vec();
        cases.push((
            "zip.gz".into(),
            Kind::Gzip,
            text.clone(),
            junk_zip,
            "also reads as zip: 1 entries",
        ));
        cases.push((
            "many.gz".into(),
            Kind::Gzip,
            text,
            junk_many,
            "also reads as zip: 2000 entries",
        ));
        for (name, kind, plain, polyglot, found) in cases {
            let clean = write(
                &format!("clean-{name}"),
                &super::super::tests::compressed(kind, &plain),
            );
            let path = write(&name, &super::super::tests::compressed(kind, &polyglot));
            let d = crate::compare(&clean, &path, &crate::Options::default())
                .unwrap()
                .unwrap();
            assert!(
                d.comments
                    .iter()
                    .any(|c| c.starts_with(&path.display().to_string()) && c.ends_with(found)),
                "{name}: {:?}",
                d.comments
            );
            let mut opts = Options {
                source_date_epoch: Some(EPOCH),
                ..Options::default()
            };
            let out = tmp.path().join(format!("{name}.out"));
            let n = normalize_file(&path, &out, &opts).unwrap_err().to_string();
            assert!(
                n.contains(found) && n.contains("--allow-ambiguous"),
                "{name}: {n}"
            );
            assert!(!out.exists(), "{name}: half-written output");
            // The digest streams a tar, so a tar's own damage may be what
            // it reports first; the polyglot that is a valid tar it
            // refuses alike.
            let e = normalized_digest(&path, &opts).unwrap_err().to_string();
            if !name.starts_with("prefixed") {
                assert_eq!(e, n, "{name}");
            }
            for clean_too in [
                normalized_digest(&clean, &opts).map(drop),
                normalize_file(&clean, &out, &opts).map(drop),
            ] {
                assert!(
                    clean_too.is_ok(),
                    "{name}: the clean one is refused: {clean_too:?}"
                );
            }
            opts.allow_ambiguous = true;
            assert_not_ambiguous(&path, &out, &opts, &name);
        }
    }

    /// The other way round: content detected as a zip that starts with a
    /// valid tar header.
    #[test]
    fn a_zip_with_a_tar_header_also_reads_as_tar() {
        let mut h = tar_header(b"PK\x03\x04", b'0', 0, b"");
        resum(&mut h);
        assert_eq!(formats::detect(&h), Kind::Zip);
        let got = formats::also_reads_as(Kind::Zip, &Blob::mem(h.to_vec())).unwrap();
        assert_eq!(
            got.as_deref(),
            Some("also reads as tar: a tar header starts the file")
        );
        // A plain zip does not.
        let z = small_zip();
        assert_eq!(
            formats::also_reads_as(Kind::Zip, &Blob::mem(z)).unwrap(),
            None
        );
    }
}
