//! Is a rebuilt wheel the upstream one up to noise? Each kind of noise a
//! comparison may look past is a named [`Stabilizer`]; what it looks past
//! is listed, so a verdict of "equivalent" always says how.
//!
//! Stabilizers are limited to packaging noise: member order, times,
//! compression, zip header flags and extra fields that hold times or
//! owners, file modes, the order of RECORD's lines and the hashes RECORD
//! recomputes for files that were themselves stabilized, and the one line
//! of `WHEEL` that names the build tool's version. The bytes of every
//! other member — every module, every data file — must be equal: a
//! one-byte change in any of them is [`Equivalence::Different`] whatever
//! stabilizers are allowed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::listing::Listing;
use crate::model::{Entry, EntryKind, MetaField, MetaValue};
use crate::{Options, Result};

/// One kind of noise a comparison may look past.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stabilizer {
    /// Members stored in another order.
    MemberOrder,
    /// Member times (DOS times and time extra fields).
    Timestamps,
    /// Compression method or level (compared decompressed).
    Compression,
    /// General-purpose flags (data descriptor, UTF-8 names) and the
    /// "version made by / needed" fields.
    HeaderFlags,
    /// Owner ids in extra fields.
    Owners,
    /// File permission bits.
    FileModes,
    /// RECORD's lines in another order.
    RecordOrder,
    /// RECORD hashes and sizes of members that differ only by another
    /// stabilizer.
    RecordHashes,
    /// `WHEEL`'s `Generator:` line (the build tool's own version).
    GeneratorVersion,
    /// gzip header fields: time, OS, extra flags, original file name.
    GzipHeader,
    /// What is left when every member, name and metadata field is equal:
    /// how the archive encodes them (compression level, header encoding,
    /// padding, unused bytes).
    ArchiveEncoding,
}

impl Stabilizer {
    /// Every stabilizer.
    pub const ALL: [Stabilizer; 11] = [
        Stabilizer::MemberOrder,
        Stabilizer::Timestamps,
        Stabilizer::Compression,
        Stabilizer::HeaderFlags,
        Stabilizer::Owners,
        Stabilizer::FileModes,
        Stabilizer::RecordOrder,
        Stabilizer::RecordHashes,
        Stabilizer::GeneratorVersion,
        Stabilizer::GzipHeader,
        Stabilizer::ArchiveEncoding,
    ];

    /// The stable id (`zip-order`), as in reports.
    pub fn id(self) -> &'static str {
        match self {
            Stabilizer::MemberOrder => "member-order",
            Stabilizer::Timestamps => "timestamps",
            Stabilizer::Compression => "compression",
            Stabilizer::HeaderFlags => "header-flags",
            Stabilizer::Owners => "owners",
            Stabilizer::FileModes => "file-modes",
            Stabilizer::RecordOrder => "record-order",
            Stabilizer::RecordHashes => "record-hashes",
            Stabilizer::GeneratorVersion => "generator-version",
            Stabilizer::GzipHeader => "gzip-header",
            Stabilizer::ArchiveEncoding => "archive-encoding",
        }
    }

    /// Parses an id.
    pub fn from_id(id: &str) -> Option<Stabilizer> {
        Stabilizer::ALL.into_iter().find(|s| s.id() == id)
    }
}

/// How two wheels relate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Equivalence {
    /// The same bytes.
    BitForBit,
    /// Equal once the listed stabilizers look past their noise.
    Equivalent {
        /// What was looked past, each once.
        stabilizers: Vec<Stabilizer>,
    },
    /// Not equal under the allowed stabilizers.
    Different {
        /// What differs, one line each (capped).
        reasons: Vec<String>,
        /// Stabilizers that applied to the rest.
        stabilizers: Vec<Stabilizer>,
    },
}

/// At most this many reasons are listed.
const MAX_REASONS: usize = 50;
/// RECORD and WHEEL are read whole up to this size.
const MAX_TEXT: u64 = 16 << 20;

struct Finding {
    used: BTreeSet<Stabilizer>,
    reasons: Vec<String>,
    allowed: BTreeSet<Stabilizer>,
}

impl Finding {
    /// Notes noise `s` at `what`: used if allowed, else a reason.
    fn noise(&mut self, s: Stabilizer, what: impl FnOnce() -> String) {
        if self.allowed.contains(&s) {
            self.used.insert(s);
        } else {
            self.differ(format!("{} (not stabilized: {})", what(), s.id()));
        }
    }

    fn differ(&mut self, reason: String) {
        if self.reasons.len() < MAX_REASONS {
            self.reasons.push(reason);
        }
    }
}

/// Compares `upstream` with `rebuilt` (two wheels or other zips) allowing
/// only the `allowed` stabilizers.
pub fn compare(
    upstream: &Path,
    rebuilt: &Path,
    allowed: &[Stabilizer],
    opts: &Options,
) -> Result<Equivalence> {
    if crate::sha256_file(upstream)? == crate::sha256_file(rebuilt)? {
        return Ok(Equivalence::BitForBit);
    }
    let (a, b) = (
        Listing::open(upstream, opts)?,
        Listing::open(rebuilt, opts)?,
    );
    let mut f = Finding {
        used: BTreeSet::new(),
        reasons: Vec::new(),
        allowed: allowed.iter().copied().collect(),
    };
    if a.format() != b.format() {
        f.differ(format!(
            "upstream is {}, the rebuild is {}",
            a.format(),
            b.format()
        ));
        return Ok(verdict(f));
    }
    for (side, l) in [("upstream", &a), ("rebuilt", &b)] {
        for c in l.comments() {
            f.differ(format!("{side}: {c}"));
        }
    }
    let (ma, mb) = (
        by_name(&a, "upstream", &mut f),
        by_name(&b, "rebuilt", &mut f),
    );
    for name in ma.keys().filter(|n| !mb.contains_key(*n)) {
        f.differ(format!("{name}: only upstream has it"));
    }
    for name in mb.keys().filter(|n| !ma.contains_key(*n)) {
        f.differ(format!("{name}: only the rebuild has it"));
    }
    // Order: the common members' sequence on each side.
    let order = |l: &Listing, other: &BTreeMap<&str, &Entry>| -> Vec<String> {
        l.entries()
            .iter()
            .filter(|e| other.contains_key(e.path.as_str()))
            .map(|e| e.path.clone())
            .collect()
    };
    if order(&a, &mb) != order(&b, &ma) {
        f.noise(Stabilizer::MemberOrder, || {
            "members are in another order".into()
        });
    }
    let mut stabilized_content = BTreeSet::new();
    let mut records = None;
    for (name, ea) in &ma {
        let Some(eb) = mb.get(name) else { continue };
        metadata(name, ea, eb, &mut f);
        if ea.kind != eb.kind {
            f.differ(format!(
                "{name}: {:?} upstream, {:?} rebuilt",
                ea.kind, eb.kind
            ));
            continue;
        }
        if ea.kind != EntryKind::File {
            continue;
        }
        if a.digest(ea)? == b.digest(eb)? {
            continue;
        }
        let text = |l: &Listing, e: &Entry| l.read(e, MAX_TEXT);
        if is_dist_info(name, "RECORD") {
            records = Some((name.to_string(), text(&a, ea)?, text(&b, eb)?));
        } else if is_dist_info(name, "WHEEL") && same_but_generator(&text(&a, ea)?, &text(&b, eb)?)
        {
            f.noise(Stabilizer::GeneratorVersion, || {
                format!("{name}: Generator line")
            });
            stabilized_content.insert(name.to_string());
        } else {
            let why = line_endings(&a, ea, &b, eb)?.unwrap_or("content differs");
            f.differ(format!("{name}: {why}"));
        }
    }
    if let Some((name, ra, rb)) = records {
        record(&name, &ra, &rb, &stabilized_content, &mut f);
    }
    headers(a.headers(), b.headers(), &mut f);
    if f.used.is_empty() && f.reasons.is_empty() {
        // Different bytes, yet every member, name and field agrees.
        f.noise(Stabilizer::ArchiveEncoding, || {
            "the archives encode equal members differently".into()
        });
    }
    Ok(verdict(f))
}

/// For small text members that differ only in line endings, says which
/// side has CRLF (a wheel built on Windows writes its metadata so).
fn line_endings(a: &Listing, ea: &Entry, b: &Listing, eb: &Entry) -> Result<Option<&'static str>> {
    let small = |e: &Entry| e.meta.size.is_some_and(|s| s <= MAX_TEXT);
    if !small(ea) || !small(eb) {
        return Ok(None);
    }
    let (ta, tb) = (a.read(ea, MAX_TEXT)?, b.read(eb, MAX_TEXT)?);
    let lf = |t: &[u8]| -> Vec<u8> {
        let mut out = Vec::with_capacity(t.len());
        for (i, &c) in t.iter().enumerate() {
            if !(c == b'\r' && t.get(i + 1) == Some(&b'\n')) {
                out.push(c);
            }
        }
        out
    };
    if lf(&ta) != lf(&tb) {
        return Ok(None);
    }
    let crlf = |t: &[u8]| t.windows(2).any(|w| w == b"\r\n");
    Ok(Some(match (crlf(&ta), crlf(&tb)) {
        (true, false) => {
            "differs only in line endings: CRLF upstream, LF rebuilt (built on Windows?)"
        }
        (false, true) => "differs only in line endings: LF upstream, CRLF rebuilt",
        _ => "differs only in line endings",
    }))
}

fn verdict(f: Finding) -> Equivalence {
    let stabilizers: Vec<Stabilizer> = f.used.into_iter().collect();
    if f.reasons.is_empty() {
        Equivalence::Equivalent { stabilizers }
    } else {
        Equivalence::Different {
            reasons: f.reasons,
            stabilizers,
        }
    }
}

/// Members by name; a name twice is a difference (which copy would an
/// installer take?).
fn by_name<'l>(l: &'l Listing, side: &str, f: &mut Finding) -> BTreeMap<&'l str, &'l Entry> {
    let mut m = BTreeMap::new();
    for e in l.entries() {
        if m.insert(e.path.as_str(), e).is_some() {
            f.differ(format!("{}: {side} holds it twice", e.path));
        }
    }
    m
}

fn is_dist_info(name: &str, file: &str) -> bool {
    name.split_once('/')
        .is_some_and(|(dir, rest)| dir.ends_with(".dist-info") && rest == file)
}

/// The same WHEEL text except for the value of `Generator:`.
fn same_but_generator(a: &[u8], b: &[u8]) -> bool {
    let strip = |t: &[u8]| -> Vec<Vec<u8>> {
        t.split(|&c| c == b'\n')
            .map(|l| {
                if l.len() >= 10 && l[..10].eq_ignore_ascii_case(b"generator:") {
                    b"Generator:".to_vec()
                } else {
                    l.to_vec()
                }
            })
            .collect()
    };
    strip(a) == strip(b)
}

/// RECORD: the same set of lines, except the hash and size of members
/// whose own difference was stabilized.
fn record(name: &str, a: &[u8], b: &[u8], stabilized: &BTreeSet<String>, f: &mut Finding) {
    let lines = |t: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(t)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (la, lb) = (lines(a), lines(b));
    let key = |l: &String| -> (String, String) {
        // `path,hash,size`; the path may itself be quoted CSV.
        let (path, rest) = match l.rsplitn(3, ',').collect::<Vec<_>>().as_slice() {
            [size, hash, path] => (path.to_string(), format!("{hash},{size}")),
            _ => (l.clone(), String::new()),
        };
        (path, rest)
    };
    let (ka, kb): (BTreeMap<_, _>, BTreeMap<_, _>) =
        (la.iter().map(key).collect(), lb.iter().map(key).collect());
    if ka.len() != la.len() || kb.len() != lb.len() {
        f.differ(format!("{name}: a path is listed twice"));
        return;
    }
    let mut sorted_a = la.clone();
    let mut sorted_b = lb.clone();
    sorted_a.sort();
    sorted_b.sort();
    if la != lb && sorted_a == sorted_b {
        f.noise(Stabilizer::RecordOrder, || {
            format!("{name}: lines in another order")
        });
        return;
    }
    if ka.keys().ne(kb.keys()) {
        f.differ(format!("{name}: lists other files"));
        return;
    }
    if la
        .iter()
        .map(key)
        .map(|k| k.0)
        .ne(lb.iter().map(key).map(|k| k.0))
    {
        f.noise(Stabilizer::RecordOrder, || {
            format!("{name}: lines in another order")
        });
    }
    for (path, ha) in &ka {
        let hb = &kb[path];
        if ha == hb {
            continue;
        }
        if stabilized.contains(path) {
            f.noise(Stabilizer::RecordHashes, || {
                format!("{name}: hash of {path}")
            });
        } else {
            f.differ(format!("{name}: the hash of {path} differs"));
        }
    }
}

fn metadata(name: &str, a: &Entry, b: &Entry, f: &mut Finding) {
    if a.meta.mtime != b.meta.mtime {
        f.noise(Stabilizer::Timestamps, || {
            format!("{name}: modification time")
        });
    }
    if a.meta.mode != b.meta.mode {
        f.noise(Stabilizer::FileModes, || format!("{name}: mode"));
    }
    if (a.meta.uid, a.meta.gid, &a.meta.user, &a.meta.group)
        != (b.meta.uid, b.meta.gid, &b.meta.user, &b.meta.group)
    {
        f.noise(Stabilizer::Owners, || format!("{name}: owner"));
    }
    let (fa, fb) = (a.meta.format.as_deref(), b.meta.format.as_deref());
    let default = Default::default();
    let (fa, fb) = (fa.unwrap_or(&default), fb.unwrap_or(&default));
    if fa.compression != fb.compression {
        f.noise(Stabilizer::Compression, || {
            format!("{name}: compression method")
        });
    }
    if fa.comment != fb.comment {
        f.differ(format!("{name}: member comment differs"));
    }
    if fa.pax != fb.pax {
        pax(name, &fa.pax, &fb.pax, f);
    }
    if fa.extra != fb.extra {
        extra_fields(
            name,
            fa.extra.as_deref().unwrap_or_default(),
            fb.extra.as_deref().unwrap_or_default(),
            f,
        );
    }
    let attrs = |m: &crate::model::FormatMetadata| -> BTreeMap<&'static str, MetaValue> {
        m.attributes.iter().cloned().collect()
    };
    let (aa, ab) = (attrs(fa), attrs(fb));
    for k in aa.keys().chain(ab.keys()).collect::<BTreeSet<_>>() {
        if aa.get(k) == ab.get(k) {
            continue;
        }
        match attribute_noise(k) {
            Some(s) => f.noise(s, || format!("{name}: {k}")),
            None => f.differ(format!("{name}: {k} differs")),
        }
    }
}

/// The containers' own header fields (gzip time and name, zip comment).
fn headers(a: &[(MetaField, MetaValue)], b: &[(MetaField, MetaValue)], f: &mut Finding) {
    let (ma, mb): (BTreeMap<_, _>, BTreeMap<_, _>) = (
        a.iter().map(|(k, v)| (k.to_string(), v)).collect(),
        b.iter().map(|(k, v)| (k.to_string(), v)).collect(),
    );
    for k in ma.keys().chain(mb.keys()).collect::<BTreeSet<_>>() {
        if ma.get(k) == mb.get(k) {
            continue;
        }
        match k.as_str() {
            "gzip mtime" | "gzip OS" | "gzip extra flags" | "gzip file name" => {
                f.noise(Stabilizer::GzipHeader, || k.clone())
            }
            _ => f.differ(format!("{k} differs")),
        }
    }
}

/// Which stabilizer covers a differing per-member header attribute.
fn attribute_noise(attribute: &str) -> Option<Stabilizer> {
    let a = attribute.to_ascii_lowercase();
    if a.contains("flag")
        || a.contains("descriptor")
        || a.contains("version")
        || a.contains("utf-8")
    {
        Some(Stabilizer::HeaderFlags)
    } else if a.contains("compress") {
        Some(Stabilizer::Compression)
    } else if a.contains("time") {
        Some(Stabilizer::Timestamps)
    } else {
        None
    }
}

/// PAX records: times and owners are noise; path records are covered by
/// the names being equal; anything else must be equal.
fn pax(name: &str, a: &[(String, String)], b: &[(String, String)], f: &mut Finding) {
    let (ma, mb): (BTreeMap<_, _>, BTreeMap<_, _>) =
        (a.iter().cloned().collect(), b.iter().cloned().collect());
    for k in ma.keys().chain(mb.keys()).collect::<BTreeSet<_>>() {
        if ma.get(k) == mb.get(k) {
            continue;
        }
        match k.as_str() {
            "mtime" | "atime" | "ctime" | "LIBARCHIVE.creationtime" => {
                f.noise(Stabilizer::Timestamps, || format!("{name}: PAX {k}"))
            }
            "uid" | "gid" | "uname" | "gname" => {
                f.noise(Stabilizer::Owners, || format!("{name}: PAX {k}"))
            }
            "path" | "linkpath" | "size" => {
                f.noise(Stabilizer::ArchiveEncoding, || format!("{name}: PAX {k}"))
            }
            _ => f.differ(format!("{name}: PAX record {k} differs")),
        }
    }
}

/// Zip extra fields: times (UT 0x5455, NTFS 0x000a, old Unix 0x5855) and
/// owners (0x7875, 0x7855) are noise; any other field must be equal.
fn extra_fields(name: &str, a: &[u8], b: &[u8], f: &mut Finding) {
    let parse = |x: &[u8]| -> Option<BTreeMap<u16, Vec<u8>>> {
        let mut m = BTreeMap::new();
        let mut at = 0;
        while at < x.len() {
            let head = x.get(at..at + 4)?;
            let id = u16::from_le_bytes([head[0], head[1]]);
            let len = usize::from(u16::from_le_bytes([head[2], head[3]]));
            let data = x.get(at + 4..at + 4 + len)?;
            m.insert(id, data.to_vec());
            at += 4 + len;
        }
        Some(m)
    };
    let (Some(ma), Some(mb)) = (parse(a), parse(b)) else {
        f.differ(format!("{name}: extra field differs (malformed)"));
        return;
    };
    for id in ma.keys().chain(mb.keys()).collect::<BTreeSet<_>>() {
        if ma.get(id) == mb.get(id) {
            continue;
        }
        match id {
            0x5455 | 0x000a | 0x5855 => f.noise(Stabilizer::Timestamps, || {
                format!("{name}: extra field {id:#06x}")
            }),
            0x7875 | 0x7855 => f.noise(Stabilizer::Owners, || {
                format!("{name}: extra field {id:#06x}")
            }),
            _ => f.differ(format!("{name}: extra field {id:#06x} differs")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write as _};

    use ::zip::write::SimpleFileOptions;
    use ::zip::{CompressionMethod, DateTime, ZipWriter};

    use super::*;

    /// A member: name, bytes.
    type M<'a> = (&'a str, &'a [u8]);

    #[derive(Clone, Copy, Default)]
    struct Noise {
        reorder: bool,
        time: bool,
        stored: bool,
        mode: bool,
        record_order: bool,
        generator: bool,
    }

    const MODULE: &[u8] = b"def f():\n    return 1\n";

    fn wheel(dir: &Path, name: &str, noise: Noise, module: &[u8]) -> std::path::PathBuf {
        let wheel_txt: &[u8] = if noise.generator {
            b"Wheel-Version: 1.0\nGenerator: hatchling 1.26.0\nTag: py3-none-any\n"
        } else {
            b"Wheel-Version: 1.0\nGenerator: hatchling 1.25.0\nTag: py3-none-any\n"
        };
        let sha = |b: &[u8]| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b));
        let mut record = [
            format!("pkg/__init__.py,sha256={},{}", sha(module), module.len()),
            format!(
                "pkg-1.0.dist-info/WHEEL,sha256={},{}",
                sha(wheel_txt),
                wheel_txt.len()
            ),
            "pkg-1.0.dist-info/RECORD,,".to_owned(),
        ];
        if noise.record_order {
            record.swap(0, 1);
        }
        let record = record.join("\n") + "\n";
        let mut members: Vec<M<'_>> = vec![
            ("pkg/__init__.py", module),
            ("pkg-1.0.dist-info/WHEEL", wheel_txt),
            ("pkg-1.0.dist-info/RECORD", record.as_bytes()),
        ];
        if noise.reorder {
            members.swap(0, 1);
        }
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        for (n, b) in members {
            let t = if noise.time {
                DateTime::from_date_and_time(2021, 1, 1, 0, 0, 0)
            } else {
                DateTime::from_date_and_time(2020, 2, 2, 0, 0, 0)
            };
            let o = SimpleFileOptions::default()
                .last_modified_time(t.unwrap())
                .compression_method(if noise.stored {
                    CompressionMethod::Stored
                } else {
                    CompressionMethod::Deflated
                })
                .unix_permissions(if noise.mode { 0o755 } else { 0o644 });
            w.start_file(n, o).unwrap();
            w.write_all(b).unwrap();
        }
        let bytes = w.finish().unwrap().into_inner();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn every_noise() -> Vec<Noise> {
        let one = Noise::default();
        vec![
            Noise {
                reorder: true,
                ..one
            },
            Noise { time: true, ..one },
            Noise {
                stored: true,
                ..one
            },
            Noise { mode: true, ..one },
            Noise {
                record_order: true,
                ..one
            },
            Noise {
                generator: true,
                ..one
            },
            Noise {
                reorder: true,
                time: true,
                stored: true,
                mode: true,
                record_order: true,
                generator: true,
            },
        ]
    }

    #[test]
    fn equal_bytes_are_bit_for_bit() {
        let d = tempfile::tempdir().unwrap();
        let a = wheel(d.path(), "a.whl", Noise::default(), MODULE);
        let b = wheel(d.path(), "b.whl", Noise::default(), MODULE);
        assert_eq!(
            compare(&a, &b, &Stabilizer::ALL, &Options::default()).unwrap(),
            Equivalence::BitForBit
        );
    }

    #[test]
    fn each_noise_is_equivalent_naming_its_stabilizer() {
        let d = tempfile::tempdir().unwrap();
        let a = wheel(d.path(), "a.whl", Noise::default(), MODULE);
        for (i, n) in every_noise().into_iter().enumerate() {
            let b = wheel(d.path(), &format!("b{i}.whl"), n, MODULE);
            match compare(&a, &b, &Stabilizer::ALL, &Options::default()).unwrap() {
                Equivalence::Equivalent { stabilizers } => {
                    assert!(!stabilizers.is_empty(), "noise {i}")
                }
                other => panic!("noise {i}: {other:?}"),
            }
            // Without stabilizers the same pair is different.
            assert!(
                matches!(
                    compare(&a, &b, &[], &Options::default()).unwrap(),
                    Equivalence::Different { .. }
                ),
                "noise {i}"
            );
        }
        let b = wheel(
            d.path(),
            "g.whl",
            Noise {
                generator: true,
                ..Noise::default()
            },
            MODULE,
        );
        assert_eq!(
            compare(&a, &b, &Stabilizer::ALL, &Options::default()).unwrap(),
            Equivalence::Equivalent {
                stabilizers: vec![Stabilizer::RecordHashes, Stabilizer::GeneratorVersion]
            }
        );
    }

    #[test]
    fn a_one_byte_module_change_is_different_under_every_stabilizer() {
        let d = tempfile::tempdir().unwrap();
        let a = wheel(d.path(), "a.whl", Noise::default(), MODULE);
        for at in 0..MODULE.len() {
            let mut m = MODULE.to_vec();
            m[at] ^= 1;
            for (i, n) in every_noise()
                .into_iter()
                .chain([Noise::default()])
                .enumerate()
            {
                let b = wheel(d.path(), "b.whl", n, &m);
                match compare(&a, &b, &Stabilizer::ALL, &Options::default()).unwrap() {
                    Equivalence::Different { reasons, .. } => {
                        assert!(
                            reasons.iter().any(|r| r.contains("pkg/__init__.py")),
                            "byte {at}, noise {i}: {reasons:?}"
                        )
                    }
                    other => panic!("byte {at}, noise {i}: {other:?}"),
                }
            }
        }
    }

    fn tgz(
        dir: &Path,
        name: &str,
        mtime: u64,
        gzip_time: u32,
        level: u32,
        body: &[u8],
    ) -> std::path::PathBuf {
        let mut t = tar::Builder::new(Vec::new());
        for (n, b) in [
            ("package/package.json", &b"{}"[..]),
            ("package/index.js", body),
        ] {
            let mut h = tar::Header::new_ustar();
            h.set_size(b.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(mtime);
            h.set_cksum();
            t.append_data(&mut h, n, b).unwrap();
        }
        let tar = t.into_inner().unwrap();
        let mut gz = flate2::GzBuilder::new()
            .mtime(gzip_time)
            .write(Vec::new(), flate2::Compression::new(level));
        gz.write_all(&tar).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, gz.finish().unwrap()).unwrap();
        p
    }

    #[test]
    fn tarballs_get_their_own_stabilizers() {
        let d = tempfile::tempdir().unwrap();
        let body = b"module.exports = 1;\n".repeat(50);
        let a = tgz(d.path(), "a.tgz", 499162500, 0, 6, &body);
        let o = Options::default();
        let b = tgz(d.path(), "b.tgz", 499162500, 0, 7, &body);
        assert_eq!(
            compare(&a, &b, &Stabilizer::ALL, &o).unwrap(),
            Equivalence::Equivalent {
                stabilizers: vec![Stabilizer::ArchiveEncoding]
            }
        );
        let b = tgz(d.path(), "b.tgz", 1, 77, 6, &body);
        assert_eq!(
            compare(&a, &b, &Stabilizer::ALL, &o).unwrap(),
            Equivalence::Equivalent {
                stabilizers: vec![Stabilizer::Timestamps, Stabilizer::GzipHeader]
            }
        );
        let mut changed = body.clone();
        changed[3] ^= 1;
        let b = tgz(d.path(), "b.tgz", 1, 77, 1, &changed);
        assert!(matches!(
            compare(&a, &b, &Stabilizer::ALL, &o).unwrap(),
            Equivalence::Different { .. }
        ));
    }

    #[test]
    fn line_endings_are_named_but_never_stabilized() {
        let d = tempfile::tempdir().unwrap();
        let a = wheel(d.path(), "a.whl", Noise::default(), b"x = 1\r\ny = 2\r\n");
        let b = wheel(d.path(), "b.whl", Noise::default(), b"x = 1\ny = 2\n");
        match compare(&a, &b, &Stabilizer::ALL, &Options::default()).unwrap() {
            Equivalence::Different { reasons, .. } => {
                assert!(
                    reasons.iter().any(|r| r
                        .contains("pkg/__init__.py: differs only in line endings: CRLF upstream")),
                    "{reasons:?}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ids_round_trip() {
        for s in Stabilizer::ALL {
            assert_eq!(Stabilizer::from_id(s.id()), Some(s));
        }
    }
}
