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
use crate::formats::Parsed;
use crate::model::{Container, Content, EntryKind, MetaField, MetaValue};

const EPOCH: i64 = 1_000_000_000;

/// What the differ's reader makes of `bytes`, named `name`.
fn differ_read(bytes: &[u8], name: &str) -> std::result::Result<Container, String> {
    let sides = crate::limits::Sides::new();
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
            let mut expected = b.meta.clone();
            if !b.path.starts_with("(symbol table") {
                expected.mtime = Some(b.meta.mtime.map_or(EPOCH, |t| t.min(EPOCH)));
                expected.uid = Some(0);
                expected.gid = Some(0);
                expected.mode = Some(canonical_file_mode(b.meta.mode.unwrap_or(0)));
            }
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
        let mut crc = flate2::Crc::new();
        crc.update(&out);
        out.extend_from_slice(&((crc.sum() & 0xffff) as u16).to_le_bytes());
    }
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    out.extend_from_slice(&enc.finish().unwrap());
    let mut crc = flate2::Crc::new();
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
    let sides = crate::limits::Sides::new();
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
    };
    let digest = normalized_digest(&dir, &opts).unwrap_err().to_string();
    let normalized = normalize_file(&dir, &dir, &opts).unwrap_err().to_string();
    assert_eq!(digest, compared);
    assert_eq!(normalized, compared);
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
        let sides = crate::limits::Sides::new();
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
            for r in [
                normalized_digest(&path, &opts).map(drop),
                normalize_file(&path, &out, &opts).map(drop),
            ] {
                if let Err(e) = r {
                    assert!(!matches!(e, Error::Ambiguous { .. }), "{name}: {e}");
                }
            }
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
