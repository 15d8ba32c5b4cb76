//! The one parser of zip.
//!
//! [`read`] parses a zip once, from the end: the end-of-central-directory
//! record (and the zip64 locator and end record), the central directory,
//! then each entry's local header and data descriptor. It yields every
//! entry as stored — central and local fields, names and extra fields raw,
//! byte ranges of header, data and descriptor — and the [`Conflict`]s it
//! found: the places where the archive's own structures disagree, so that
//! tools read it in different ways (the tricks malicious packages use to
//! show a scanner one thing and an installer another).
//!
//! Nothing is decompressed here: the decompressed data's CRC-32 and size
//! are checked by whoever reads the data ([`super::MemberData`]).
//!
//! No buffer is sized by a length the archive declares before it is checked
//! against the bytes present, except the variable fields of one header,
//! which a `u16` bounds; the central directory is streamed, and bytes no
//! entry accounts for are scanned in bounded chunks.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader, Read};
use std::ops::Range;

use crate::blob::Blob;
use crate::formats::{lossy, Kind};
use crate::limits::Budget;
use crate::timefmt;
use crate::{Error, Result};

/// Local file header signature.
pub(crate) const LOCAL_SIG: u32 = 0x0403_4b50;
/// Central directory record signature.
pub(crate) const CENTRAL_SIG: u32 = 0x0201_4b50;
/// End-of-central-directory record signature.
pub(crate) const EOCD_SIG: u32 = 0x0605_4b50;
/// Zip64 end-of-central-directory record signature.
pub(crate) const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
/// Zip64 end-of-central-directory locator signature.
pub(crate) const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
/// The optional signature in front of a data descriptor.
pub(crate) const DESCRIPTOR_SIG: u32 = 0x0807_4b50;
/// The zip64 extended information extra field.
pub(crate) const ZIP64_EXTRA: u16 = 0x0001;

/// General-purpose flag: the entry is encrypted.
pub(crate) const FLAG_ENCRYPTED: u16 = 0x0001;
/// General-purpose flag: CRC and sizes follow the data in a descriptor.
pub(crate) const FLAG_DESCRIPTOR: u16 = 0x0008;
/// General-purpose flag: the name (and comment) is UTF-8, else CP437.
const FLAG_UTF8: u16 = 0x0800;
/// The flags that change how an entry is read whatever its name
/// (encryption, strong encryption, masked headers): a local header and a
/// central record that disagree on one of them are read differently by
/// tools that trust one or the other. A differing descriptor flag needs no
/// check of its own: the local CRC and sizes, or the descriptor, are
/// compared with the central directory either way.
const READING_FLAGS: u16 = 0x0001 | 0x0040 | 0x2000;

/// Compression methods whose data is decompressed (and checked): stored,
/// deflate, deflate64, bzip2, zstd.
pub(crate) const KNOWN_METHODS: [u16; 5] = [0, 8, 9, 12, 93];

/// Most conflicts listed; one more line says how many were left out. A
/// crafted archive can have one per entry, and one is enough to refuse it.
const MAX_CONFLICTS: usize = 100;
/// Bytes of a gap scanned for hidden local headers at a time.
const SCAN_CHUNK: u64 = 1 << 20;

const EOCD_LEN: usize = 22;
const ZIP64_EOCD_LEN: u64 = 56;
const ZIP64_LOCATOR_LEN: u64 = 20;
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: usize = 30;

/// What kind of disagreement a [`Conflict`] is; it decides what the
/// normalizer does with the archive ([`ConflictKind::refusal`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConflictKind {
    /// A local header disagrees with its central record (name, method,
    /// flags, CRC, sizes).
    LocalHeader,
    /// Two entries of one name.
    DuplicateName,
    /// A file and a directory of one name.
    FileAndDirectory,
    /// End records that disagree: two of them end the file, the counts
    /// disagree, or the central directory holds more records than counted.
    EndRecords,
    /// A plausible local header in bytes no entry accounts for.
    HiddenHeader,
    /// Entries whose stored bytes overlap each other or the directory.
    Overlap,
    /// A data descriptor contradicts the central directory.
    Descriptor,
    /// A zip64 field contradicts its 32-bit counterpart, or is missing.
    Zip64,
    /// A compression method this reader does not decompress.
    UnknownMethod,
    /// A name that extracts differently by tool: absolute, with a `..`
    /// component, a backslash or a NUL byte.
    UnsafeName,
    /// A name with control characters (not NUL): every tool reads the
    /// same name, but it garbles listings and terminals.
    ControlCharacters,
    /// How many more conflicts were found than are listed.
    LeftOut,
}

/// What the normalizer and the normalized digest do with a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Refused even with `--allow-ambiguous`.
    Always,
    /// Refused unless `--allow-ambiguous`.
    UnlessAllowed,
    /// Reported by the differ only.
    Never,
}

impl ConflictKind {
    /// What the normalizer does with an archive that has this conflict.
    ///
    /// Overlapping entries are always refused: a rewrite writes the shared
    /// bytes once per entry, amplifying the overlapping-entry bomb. Unknown
    /// methods and control characters are not ambiguities: the canonical
    /// form copies the data and the name as they are, and every tool reads
    /// them alike. Unsafe names are: extractors disagree on where `../x`,
    /// `/x` or `a\b` end up, and C tools cut a name at NUL.
    pub(crate) fn refusal(self) -> Refusal {
        match self {
            ConflictKind::Overlap => Refusal::Always,
            ConflictKind::UnknownMethod
            | ConflictKind::ControlCharacters
            | ConflictKind::LeftOut => Refusal::Never,
            _ => Refusal::UnlessAllowed,
        }
    }
}

/// A place where the archive's structures disagree, or a name or method a
/// reader of the archive should know about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Conflict {
    /// What it is.
    pub(crate) kind: ConflictKind,
    /// In the words the differ reports and the normalizer refuses with,
    /// naming the entry.
    pub(crate) detail: String,
}

/// A data descriptor as read after an entry's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Descriptor {
    /// Whether it starts with [`DESCRIPTOR_SIG`].
    pub(crate) signed: bool,
    /// CRC-32 of the decompressed data.
    pub(crate) crc: u32,
    /// Compressed size.
    pub(crate) csize: u64,
    /// Uncompressed size.
    pub(crate) usize: u64,
    /// Its length in bytes (12 to 24).
    pub(crate) len: u64,
}

/// One entry: its central record, its local header, and where its bytes are.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    /// "Version made by" (high byte: the host system, 3 = Unix).
    pub(crate) made_by: u16,
    /// "Version needed to extract".
    pub(crate) needed: u16,
    /// General-purpose flags of the central record.
    pub(crate) flags: u16,
    /// Compression method of the central record.
    pub(crate) method: u16,
    /// DOS time of the central record.
    pub(crate) time: u16,
    /// DOS date of the central record.
    pub(crate) date: u16,
    /// CRC-32 of the central record.
    pub(crate) crc: u32,
    /// The 32-bit compressed size field (`u32::MAX`: see zip64).
    pub(crate) csize32: u32,
    /// The 32-bit uncompressed size field (`u32::MAX`: see zip64).
    pub(crate) usize32: u32,
    /// The 32-bit local header offset field (`u32::MAX`: see zip64).
    pub(crate) offset32: u32,
    /// The 16-bit disk number field.
    pub(crate) disk16: u16,
    /// Internal attributes.
    pub(crate) internal: u16,
    /// External attributes (Unix mode in the high 16 bits).
    pub(crate) external: u32,
    /// Name, raw.
    pub(crate) name: Vec<u8>,
    /// Central extra field, raw.
    pub(crate) extra: Vec<u8>,
    /// Entry comment, raw.
    pub(crate) comment: Vec<u8>,
    /// Compressed size, zip64 resolved.
    pub(crate) csize: u64,
    /// Uncompressed size, zip64 resolved.
    pub(crate) usize: u64,
    /// Where the local header starts in the blob.
    pub(crate) local_at: u64,
    /// The fixed 30 bytes of the local header.
    pub(crate) local_fixed: [u8; LOCAL_LEN],
    /// Name in the local header, raw.
    pub(crate) local_name: Vec<u8>,
    /// Local extra field, raw.
    pub(crate) local_extra: Vec<u8>,
    /// The compressed data.
    pub(crate) data: Blob,
    /// The data descriptor, when the local header announces one.
    // Its bytes are part of `body`; the normalizer reads its fields to
    // decide whether it can be folded into the local header.
    pub(crate) descriptor: Option<Descriptor>,
    /// Compressed data and data descriptor, as stored.
    pub(crate) body: Blob,
}

/// A zip as [`read`] found it.
#[derive(Clone, Debug)]
pub(crate) struct Archive {
    /// Every central directory record, in order (duplicates included).
    pub(crate) members: Vec<Member>,
    /// Bytes before the first entry (a self-extractor stub), as stored.
    pub(crate) prefix: Blob,
    /// Offsets in the central directory are relative to this position.
    pub(crate) shift: u64,
    /// The archive comment, raw.
    pub(crate) comment: Vec<u8>,
    /// Whether the archive has a zip64 end record.
    pub(crate) zip64: bool,
    /// What disagrees, in the order found.
    pub(crate) conflicts: Vec<Conflict>,
}

pub(crate) fn u16le(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

pub(crate) fn u32le(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

pub(crate) fn u64le(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| {
        u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
    })
}

/// The records of an extra field, or `None` if it does not parse as such.
pub(crate) fn extra_records(extra: &[u8]) -> Option<Vec<(u16, &[u8])>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < extra.len() {
        let id = u16le(extra, pos);
        let len = usize::from(u16le(extra, pos + 2));
        let data = extra.get(pos + 4..pos + 4 + len)?;
        out.push((id, data));
        pos += 4 + len;
    }
    Some(out)
}

/// The data of the first zip64 record of an extra field.
fn zip64_record(extra: &[u8]) -> Option<&[u8]> {
    extra_records(extra)?
        .into_iter()
        .find(|(id, _)| *id == ZIP64_EXTRA)
        .map(|(_, d)| d)
}

/// The date and time of a DOS timestamp, valid as the `zip` crate (and
/// the differ before it) takes them: a real calendar day, seconds up to
/// 60 read as 58.
pub(crate) fn dos_datetime(date: u16, time: u16) -> Option<(i64, u32, u32, u32, u32, u32)> {
    let year = 1980 + i64::from(date >> 9);
    let (month, day) = (u32::from((date >> 5) & 0xf), u32::from(date & 0x1f));
    let (hour, minute) = (u32::from(time >> 11), u32::from((time >> 5) & 0x3f));
    let second = u32::from(time & 0x1f) * 2;
    let leap = year % 4 == 0 && (year % 25 != 0 || year % 16 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some((year, month, day, hour, minute, second.min(58)))
}

/// Seconds since the epoch of a DOS timestamp read as UTC; `None` if invalid.
pub(crate) fn dos_epoch(date: u16, time: u16) -> Option<i64> {
    dos_datetime(date, time).map(|(y, mo, d, h, mi, s)| timefmt::epoch_of(y, mo, d, h, mi, s))
}

impl Member {
    /// The name as text (lossy UTF-8), as the differ shows it.
    pub(crate) fn path(&self) -> String {
        lossy(&self.name)
    }

    /// Whether the entry is encrypted.
    pub(crate) fn encrypted(&self) -> bool {
        self.flags & FLAG_ENCRYPTED != 0
    }

    /// Whether the offset was stored as a zip64 marker.
    pub(crate) fn offset_marker(&self) -> bool {
        self.offset32 == u32::MAX
    }

    /// The Unix mode of the external attributes, when made on Unix.
    pub(crate) fn unix_mode(&self) -> Option<u32> {
        (self.made_by >> 8 == 3 && self.external >> 16 != 0).then_some(self.external >> 16)
    }

    /// The mode the differ shows: the Unix mode when made on Unix, one
    /// derived from the DOS attributes when made on DOS (as the `zip` crate
    /// and unzip derive it), none otherwise.
    pub(crate) fn mode(&self) -> Option<u32> {
        if self.external == 0 {
            return None;
        }
        match self.made_by >> 8 {
            3 => Some(self.external >> 16),
            0 => {
                let mut mode = if self.external & 0x10 != 0 {
                    0o040775
                } else {
                    0o100664
                };
                if self.external & 0x01 != 0 {
                    mode &= 0o170555;
                }
                Some(mode)
            }
            _ => None,
        }
    }

    /// A directory: by its name (a trailing `/`, or `\` as Windows tools
    /// write), its Unix mode or its DOS attribute.
    pub(crate) fn is_dir(&self) -> bool {
        self.name.ends_with(b"/")
            || self.name.ends_with(b"\\")
            || self.unix_mode().is_some_and(|m| m & 0o170000 == 0o040000)
            || self.external & 0x10 != 0
    }

    /// A symbolic link (by its Unix mode), not a directory.
    pub(crate) fn is_symlink(&self) -> bool {
        !self.is_dir() && self.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000)
    }

    /// Modification time (the central record's), seconds since the epoch.
    pub(crate) fn mtime(&self) -> Option<i64> {
        dos_epoch(self.date, self.time)
    }

    /// The compression method by name, as the differ shows it.
    pub(crate) fn method_name(&self) -> String {
        match self.method {
            0 => "Stored".into(),
            8 => "Deflated".into(),
            9 => "Deflate64".into(),
            12 => "Bzip2".into(),
            93 => "Zstd".into(),
            n => format!("Unsupported({n})"),
        }
    }

    /// The central extra field without its zip64 record (whose values are
    /// the sizes and offset already shown); `None` when that record was
    /// all there was. An empty field stays `Some`: the differ shows it as
    /// "(empty)", which a timestamp field's removal is then compared to.
    pub(crate) fn shown_extra(&self) -> Option<Vec<u8>> {
        let Some(records) = extra_records(&self.extra) else {
            return Some(self.extra.clone());
        };
        let had_zip64 = records.iter().any(|(id, _)| *id == ZIP64_EXTRA);
        let mut out = Vec::with_capacity(self.extra.len());
        for (id, data) in records.into_iter().filter(|(id, _)| *id != ZIP64_EXTRA) {
            push_record(&mut out, id, data);
        }
        (!(had_zip64 && out.is_empty())).then_some(out)
    }

    /// Flags of the local header.
    pub(crate) fn local_flags(&self) -> u16 {
        u16le(&self.local_fixed, 6)
    }

    /// The bytes of the local header.
    pub(crate) fn header_range(&self) -> Range<u64> {
        self.local_at..self.data_at()
    }

    /// Where the compressed data starts.
    pub(crate) fn data_at(&self) -> u64 {
        self.local_at + (LOCAL_LEN + self.local_name.len() + self.local_extra.len()) as u64
    }

    /// The bytes of the compressed data (`data`, as a range; the tests
    /// check the two agree).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn data_range(&self) -> Range<u64> {
        self.data_at()..self.data_at() + self.csize
    }

    /// Where the entry's stored bytes (header, data, descriptor) end.
    pub(crate) fn end(&self) -> u64 {
        self.data_at() + self.body.len()
    }
}

/// Appends one extra-field record.
pub(crate) fn push_record(out: &mut Vec<u8>, id: u16, data: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(data.len() as u16).to_le_bytes());
    out.extend_from_slice(data);
}

/// Collects conflicts, at most [`MAX_CONFLICTS`] of them — but always the
/// first of each [`Refusal`], so that the normalizer refuses what it must
/// however many findings come first.
#[derive(Default)]
struct Conflicts {
    list: Vec<Conflict>,
    left_out: usize,
}

impl Conflicts {
    fn push(&mut self, kind: ConflictKind, detail: String) {
        let first_of_its_refusal = !self.list.iter().any(|c| c.kind.refusal() == kind.refusal());
        if self.list.len() < MAX_CONFLICTS || first_of_its_refusal {
            self.list.push(Conflict { kind, detail });
        } else {
            self.left_out += 1;
        }
    }

    fn finish(mut self) -> Vec<Conflict> {
        if self.left_out > 0 {
            self.list.push(Conflict {
                kind: ConflictKind::LeftOut,
                detail: format!("… and {} more conflicts", self.left_out),
            });
        }
        self.list
    }
}

/// The end of the archive: where the central directory is and what the
/// end records say.
struct End {
    count: u64,
    cd_size: u64,
    cd_off: u64,
    /// Where the central directory ends: the zip64 end record, or the
    /// classic one.
    cd_end: u64,
    comment: Vec<u8>,
    zip64: bool,
}

/// Reads the zip in `blob`, named `name` in errors; every central record
/// counts against the entry limit in `budget`.
pub(crate) fn read(blob: &Blob, name: &str, budget: &Budget) -> Result<Archive> {
    let bad = |detail: String| {
        budget.tripped().unwrap_or_else(|| Error::Malformed {
            entry: name.to_owned(),
            format: Kind::Zip,
            detail,
        })
    };
    let io = |e: io::Error| budget.io_error(e, name, "reading zip");
    let mut conflicts = Conflicts::default();
    let end = read_end(blob, &mut conflicts, &bad, &io)?;
    let (cd_start, shift) = locate_directory(blob, &end, &bad, &io)?;
    let count = end.count;
    if count > budget.max_entries() {
        return Err(budget.exceed_entries(count, name));
    }
    let room = end.cd_size / CENTRAL_LEN as u64;
    if count > room {
        return Err(bad(format!(
            "the central directory declares {count} entries; its {} bytes have room for at most {room}",
            end.cd_size
        )));
    }
    let cd = blob
        .slice(cd_start, end.cd_size)
        .ok_or_else(|| bad("central directory out of bounds".into()))?;
    // Streamed: a central directory can be large, and every record is
    // copied into its member anyway.
    let mut records = BufReader::with_capacity(64 << 10, cd.reader());
    let mut members = Vec::new();
    let mut pos = 0u64;
    for _ in 0..count {
        let mut f = [0u8; CENTRAL_LEN];
        records
            .read_exact(&mut f)
            .map_err(|_| bad(format!("central directory record at offset {pos} overruns")))?;
        if u32le(&f, 0) != CENTRAL_SIG {
            return Err(bad(format!("bad central directory record at offset {pos}")));
        }
        let (n, e, c) = (
            usize::from(u16le(&f, 28)),
            usize::from(u16le(&f, 30)),
            usize::from(u16le(&f, 32)),
        );
        // At most 3 × 64 KiB, bounded by the field widths.
        let mut var = vec![0u8; n + e + c];
        records
            .read_exact(&mut var)
            .map_err(|_| bad(format!("central directory record at {pos} overruns")))?;
        let member = member(blob, &f, var, shift, name, budget, &mut conflicts, &bad)?;
        members.push(member);
        pos += (CENTRAL_LEN + n + e + c) as u64;
    }
    // Readers that go by the directory's size (Python's zipfile) rather
    // than by the count see the records that follow.
    let mut next = [0u8; 4];
    if pos + 4 <= end.cd_size
        && records.read_exact(&mut next).is_ok()
        && u32le(&next, 0) == CENTRAL_SIG
    {
        conflicts.push(
            ConflictKind::EndRecords,
            format!(
                "the central directory holds more records than the {count} the end record counts \
                 (tools that read it to its end see more entries)"
            ),
        );
    }
    check_names(&members, &mut conflicts);
    let directory = cd_start..cd_start + end.cd_size;
    check_overlaps(&members, &directory, &mut conflicts);
    check_gaps(blob, &members, &directory, end.cd_end, &mut conflicts).map_err(io)?;
    // A layout with its directory first has no prefix to keep: what
    // precedes its directory (Mozilla's read-ahead length) describes that
    // layout, which a rewrite does not keep.
    let first = if cd_start < members.iter().map(|m| m.local_at).min().unwrap_or(cd_start) {
        0
    } else {
        members
            .iter()
            .map(|m| m.local_at)
            .min()
            .unwrap_or(cd_start)
            .min(cd_start)
    };
    let prefix = blob
        .slice(0, first)
        .ok_or_else(|| bad("prefix out of bounds".into()))?;
    Ok(Archive {
        members,
        prefix,
        shift,
        comment: end.comment,
        zip64: end.zip64,
        conflicts: conflicts.finish(),
    })
}

/// The jmod header: `JM`, major version 1, minor 0, then a zip.
const JMOD_MAGIC: &[u8] = b"JM\x01\x00";
/// Split-archive markers some writers put in front of a single-part zip
/// (`PK\x07\x08`, or `PK00` when the archive turned out to need one part).
const SPAN_MARKERS: [&[u8]; 2] = [b"PK\x07\x08", b"PK00"];

/// How many bytes precede the zip in `head` (the first bytes of a file),
/// when it starts like a zip: a local header, an end record (the empty
/// zip), a central directory record (layouts that write the directory
/// first), or a known prefix and then a local header. The known prefixes
/// are what zip tools are asked to look past and nothing can be mistaken
/// for: a split-archive marker, a jmod's `JM` header, the 4-byte header of
/// a Mozilla optimized jar (before its central directory), and a shebang line
/// (and more lines of text, as a shell stub has) of a Python zipapp or a
/// self-extracting script. Anything else in front of a zip — arbitrary
/// bytes, a tar header — makes the file another format's, and a zip at its
/// end is a polyglot finding ([`crate::formats::also_reads_as`]), not a zip.
///
/// Executable stubs (ELF, PE) of self-extractors are longer than a head;
/// the normalizer finds those from the end ([`self_extractor`]).
pub(crate) fn zip_start(head: &[u8]) -> Option<usize> {
    let sig = |at: usize| head.get(at..at + 4).map(|b| u32le(b, 0));
    let starts_entry = |at: usize| sig(at) == Some(LOCAL_SIG);
    if matches!(sig(0), Some(LOCAL_SIG | EOCD_SIG | CENTRAL_SIG)) {
        return Some(0);
    }
    if SPAN_MARKERS.iter().any(|m| head.starts_with(m)) && starts_entry(4) {
        return Some(4);
    }
    if head.starts_with(JMOD_MAGIC) && starts_entry(JMOD_MAGIC.len()) {
        return Some(JMOD_MAGIC.len());
    }
    // Mozilla's optimized jars (omni.ja): a 4-byte read-ahead length, then
    // the central directory, the entries, the end record.
    if sig(4) == Some(CENTRAL_SIG) {
        return Some(4);
    }
    if head.starts_with(b"#!") {
        // The first local header that starts a line, behind text only.
        let at = head
            .windows(5)
            .position(|w| w[0] == b'\n' && u32le(w, 1) == LOCAL_SIG)?
            + 1;
        let text = std::str::from_utf8(&head[..at]).ok()?;
        return (!text.contains('\0')).then_some(at);
    }
    None
}

/// The length of an executable stub (ELF or PE, as self-extractors have)
/// in front of a zip that ends `blob`: found from the end, as zip tools
/// find it, and only when the end record's central directory is where the
/// record says and the first entry's local header where the directory
/// says. `None` for anything else.
pub(crate) fn self_extractor(head: &[u8], blob: &Blob, budget: &Budget) -> Option<u64> {
    if !(head.starts_with(b"\x7fELF") || head.starts_with(b"MZ")) {
        return None;
    }
    let archive = read(blob, "", budget).ok()?;
    let first = archive.members.iter().map(|m| m.local_at).min()?;
    (first > 0 && archive.prefix.len() == first).then_some(first)
}

/// Where the central directory starts and the shift of the offsets in it
/// (the length of a prefix the offsets do not count).
///
/// As Info-ZIP's unzip finds it: first right before the end records, with
/// the declared offset then telling how long a prefix in front of the zip
/// is (a self-extractor stub, a shebang line, a jmod's `JM` header, none);
/// failing that, at the declared offset itself, for the layouts that write
/// the central directory first and the entries after it. Python's zipfile
/// tries only the first, so reads no such layout: one reading or none, not
/// two, so it is not a conflict.
fn locate_directory(
    blob: &Blob,
    end: &End,
    bad: &dyn Fn(String) -> Error,
    io: &dyn Fn(io::Error) -> Error,
) -> Result<(u64, u64)> {
    let central_at = |at: u64| -> Result<bool> {
        if at.checked_add(4).is_none_or(|e| e > blob.len()) {
            return Ok(false);
        }
        Ok(u32le(&blob.read_vec(at, 4).map_err(io)?, 0) == CENTRAL_SIG)
    };
    let before_end = end.cd_end.checked_sub(end.cd_size);
    if let Some(start) = before_end {
        if let Some(shift) = start.checked_sub(end.cd_off) {
            if end.count == 0 || central_at(start)? {
                return Ok((start, shift));
            }
        }
    }
    // Entirely before the end records, where the offset says.
    if end.count > 0
        && end
            .cd_off
            .checked_add(end.cd_size)
            .is_some_and(|e| e <= end.cd_end)
        && central_at(end.cd_off)?
    {
        return Ok((end.cd_off, 0));
    }
    Err(match before_end {
        None => bad(format!(
            "central directory of {} bytes does not fit",
            end.cd_size
        )),
        Some(start) if start < end.cd_off => bad(format!(
            "central directory offset {} beyond its position",
            end.cd_off
        )),
        // Left for the record loop to report where the directory goes bad.
        Some(start) => return Ok((start, start - end.cd_off)),
    })
}

/// Finds and reads the end records.
fn read_end(
    blob: &Blob,
    conflicts: &mut Conflicts,
    bad: &dyn Fn(String) -> Error,
    io: &dyn Fn(io::Error) -> Error,
) -> Result<End> {
    let len = blob.len();
    let tail_len = len.min(EOCD_LEN as u64 + 0xffff);
    let tail_start = len - tail_len;
    let tail = blob.read_vec(tail_start, tail_len).map_err(io)?;
    let eocd_at = |i: usize| u32le(&tail, i) == EOCD_SIG;
    let comment_end = |i: usize| i + EOCD_LEN + usize::from(u16le(&tail, i + 20));
    // The last end record whose comment ends within the file.
    let at = (0..tail.len().saturating_sub(EOCD_LEN - 1))
        .rev()
        .find(|&i| eocd_at(i) && comment_end(i) <= tail.len())
        .ok_or_else(|| bad("no end-of-central-directory record".into()))?;
    let ends = (0..tail.len().saturating_sub(EOCD_LEN - 1))
        .filter(|&i| eocd_at(i) && comment_end(i) == tail.len())
        .count();
    if ends > 1 {
        conflicts.push(
            ConflictKind::EndRecords,
            format!(
                "{ends} end-of-central-directory records end the file (one hides in another's comment)"
            ),
        );
    }
    let eocd = &tail[at..];
    let eocd_pos = tail_start + at as u64;
    let (disk, cd_disk) = (u16le(eocd, 4), u16le(eocd, 6));
    let (on_disk, total) = (u16le(eocd, 8), u16le(eocd, 10));
    let (size32, off32) = (u32le(eocd, 12), u32le(eocd, 16));
    let comment = tail[at + EOCD_LEN..comment_end(at)].to_vec();
    if on_disk != total && on_disk != u16::MAX && total != u16::MAX {
        conflicts.push(
            ConflictKind::EndRecords,
            format!("the end record counts {on_disk} entries on this disk and {total} in all"),
        );
    }
    let mut end = End {
        count: u64::from(total),
        cd_size: u64::from(size32),
        cd_off: u64::from(off32),
        cd_end: eocd_pos,
        comment,
        zip64: false,
    };
    let mut disks = vec![u32::from(disk), u32::from(cd_disk)];
    if eocd_pos >= ZIP64_LOCATOR_LEN {
        let loc = blob
            .read_vec(eocd_pos - ZIP64_LOCATOR_LEN, ZIP64_LOCATOR_LEN)
            .map_err(io)?;
        if u32le(&loc, 0) == ZIP64_LOCATOR_SIG {
            let declared = u64le(&loc, 8);
            // Right before the locator, or where it says (offsets may be
            // relative to a stub in front).
            let z64_pos = [
                eocd_pos.saturating_sub(ZIP64_LOCATOR_LEN + ZIP64_EOCD_LEN),
                declared,
            ]
            .into_iter()
            .find(|&p| {
                blob.read_vec(p, ZIP64_EOCD_LEN)
                    .is_ok_and(|r| u32le(&r, 0) == ZIP64_EOCD_SIG)
            })
            .ok_or_else(|| bad("zip64 end record not found".into()))?;
            let r = blob.read_vec(z64_pos, ZIP64_EOCD_LEN).map_err(io)?;
            disks.extend([u32le(&r, 16), u32le(&r, 20)]);
            let (count, cd_size, cd_off) = (u64le(&r, 32), u64le(&r, 40), u64le(&r, 48));
            // A reader that takes the zip64 values only where the classic
            // field holds its marker reads another archive than one that
            // always takes them (as this one does).
            for (what, classic, marker, wide) in [
                ("entry count", u64::from(total), u64::from(u16::MAX), count),
                (
                    "central directory size",
                    u64::from(size32),
                    u64::from(u32::MAX),
                    cd_size,
                ),
                (
                    "central directory offset",
                    u64::from(off32),
                    u64::from(u32::MAX),
                    cd_off,
                ),
            ] {
                if classic != marker && classic != wide {
                    conflicts.push(
                        ConflictKind::Zip64,
                        format!(
                            "the zip64 end record says {what} {wide}, the end record {classic}"
                        ),
                    );
                }
            }
            end.count = count;
            end.cd_size = cd_size;
            end.cd_off = cd_off;
            end.cd_end = z64_pos;
            end.zip64 = true;
        }
    }
    if let Some(d) = disks
        .iter()
        .find(|&&d| d != 0 && d != u32::from(u16::MAX) && d != u32::MAX)
    {
        return Err(bad(format!("multi-disk archive (disk {d})")));
    }
    Ok(end)
}

/// Parses one central record (fixed part `f`, then name, extra, comment in
/// `var`) and reads its local header and descriptor.
#[allow(clippy::too_many_arguments)]
fn member(
    blob: &Blob,
    f: &[u8; CENTRAL_LEN],
    mut var: Vec<u8>,
    shift: u64,
    name: &str,
    budget: &Budget,
    conflicts: &mut Conflicts,
    bad: &dyn Fn(String) -> Error,
) -> Result<Member> {
    let (n, e) = (usize::from(u16le(f, 28)), usize::from(u16le(f, 30)));
    let comment = var.split_off(n + e);
    let extra = var.split_off(n);
    let mname = var;
    let shown = lossy(&mname);
    budget.add_entry(&format!("{name}::{shown}"))?;
    let (csize32, usize32, off32, disk16) =
        (u32le(f, 20), u32le(f, 24), u32le(f, 42), u16le(f, 34));
    let (mut usize, mut csize, mut offset) =
        (u64::from(usize32), u64::from(csize32), u64::from(off32));
    let z64 = zip64_record(&extra);
    let markers = [usize32 == u32::MAX, csize32 == u32::MAX, off32 == u32::MAX];
    match z64 {
        Some(z) => {
            // By the spec, only the fields whose 32-bit value is the
            // marker are in the record, in this order.
            let mut zp = 0usize;
            for (marker, field) in markers
                .into_iter()
                .zip([&mut usize, &mut csize, &mut offset])
            {
                if marker {
                    *field = z.get(zp..zp + 8).map(|b| u64le(b, 0)).ok_or_else(|| {
                        bad(format!(
                            "entry {shown:?}: its zip64 extra field of {} bytes is too short for its markers",
                            z.len()
                        ))
                    })?;
                    zp += 8;
                }
            }
            // Readers that take a record of 24 bytes or more as holding
            // all three values (the `zip` crate does) must read the same.
            if z.len() >= 24 {
                for (what, positional, resolved) in [
                    ("size", u64le(z, 0), usize),
                    ("compressed size", u64le(z, 8), csize),
                    ("local header offset", u64le(z, 16), offset),
                ] {
                    if positional != resolved {
                        conflicts.push(
                            ConflictKind::Zip64,
                            format!(
                                "entry {shown:?}: its zip64 extra field read in full says {what} \
                                 {positional}, read by its 32-bit fields' markers {resolved}"
                            ),
                        );
                    }
                }
            }
        }
        None if markers.iter().any(|&m| m) => conflicts.push(
            ConflictKind::Zip64,
            format!(
                "entry {shown:?}: a 32-bit field holds the zip64 marker 0xffffffff but the entry \
                 has no zip64 extra field"
            ),
        ),
        None => {}
    }
    let local_at = shift
        .checked_add(offset)
        .ok_or_else(|| bad(format!("{shown}: local header offset overflows")))?;
    let local = read_local(blob, local_at, n + e)
        .map_err(|_| bad(format!("{shown}: local header lies outside the archive")))?;
    let Some(local) = local else {
        return Err(bad(format!(
            "{shown}: local header lies outside the archive"
        )));
    };
    if u32le(&local, 0) != LOCAL_SIG {
        return Err(bad(format!("{shown}: local header signature missing")));
    }
    let (ln, le) = (
        usize::from(u16le(&local, 26)),
        usize::from(u16le(&local, 28)),
    );
    if local.len() < LOCAL_LEN + ln + le {
        return Err(bad(format!("{shown}: local header overruns the archive")));
    }
    let mut local_fixed = [0u8; LOCAL_LEN];
    local_fixed.copy_from_slice(&local[..LOCAL_LEN]);
    let local_name = local[LOCAL_LEN..LOCAL_LEN + ln].to_vec();
    let local_extra = local[LOCAL_LEN + ln..LOCAL_LEN + ln + le].to_vec();
    let data_at = local_at + (LOCAL_LEN + ln + le) as u64;
    let data = blob.slice(data_at, csize).ok_or_else(|| {
        bad(format!(
            "{shown}: {csize} bytes of data overrun the archive"
        ))
    })?;
    let local_flags = u16le(&local_fixed, 6);
    let descriptor = if local_flags & FLAG_DESCRIPTOR != 0 {
        let wide = zip64_record(&local_extra).is_some()
            || csize32 == u32::MAX
            || usize32 == u32::MAX
            || u32le(&local_fixed, 18) == u32::MAX;
        let d = read_descriptor(blob, data_at + csize, wide, (f, csize, usize))
            .ok_or_else(|| bad(format!("{shown}: data descriptor overruns the archive")))?;
        if (d.crc, d.csize, d.usize) != (u32le(f, 16), csize, usize) {
            conflicts.push(
                ConflictKind::Descriptor,
                format!(
                    "entry {shown:?}: its data descriptor says CRC {:#010x}, sizes {}/{}; the \
                     central directory CRC {:#010x}, sizes {csize}/{usize}",
                    d.crc,
                    d.csize,
                    d.usize,
                    u32le(f, 16)
                ),
            );
        }
        Some(d)
    } else {
        None
    };
    let body_len = csize + descriptor.map_or(0, |d| d.len);
    let body = blob
        .slice(data_at, body_len)
        .ok_or_else(|| bad(format!("{shown}: data descriptor overruns the archive")))?;
    let m = Member {
        made_by: u16le(f, 4),
        needed: u16le(f, 6),
        flags: u16le(f, 8),
        method: u16le(f, 10),
        time: u16le(f, 12),
        date: u16le(f, 14),
        crc: u32le(f, 16),
        csize32,
        usize32,
        offset32: off32,
        disk16,
        internal: u16le(f, 36),
        external: u32le(f, 38),
        name: mname,
        extra,
        comment,
        csize,
        usize,
        local_at,
        local_fixed,
        local_name,
        local_extra,
        data,
        descriptor,
        body,
    };
    check_local(&m, conflicts);
    if !KNOWN_METHODS.contains(&m.method) && !m.encrypted() {
        conflicts.push(
            ConflictKind::UnknownMethod,
            format!(
                "entry {shown:?}: unknown compression method {}; its content is compared as stored",
                m.method
            ),
        );
    }
    Ok(m)
}

/// The local header at `at`, its variable fields included: one read of the
/// size the central record suggests, a second only if the local fields are
/// longer. `None` if not even the fixed part is present.
fn read_local(blob: &Blob, at: u64, guess: usize) -> io::Result<Option<Vec<u8>>> {
    let left = blob.len().saturating_sub(at);
    if left < LOCAL_LEN as u64 {
        return Ok(None);
    }
    let mut buf = blob.read_vec(at, left.min((LOCAL_LEN + guess) as u64))?;
    let need = (LOCAL_LEN + usize::from(u16le(&buf, 26)) + usize::from(u16le(&buf, 28))) as u64;
    let have = buf.len() as u64;
    if need > have {
        // Short when the archive ends first; the caller reports it.
        buf.extend(blob.read_vec(at + have, (need - have).min(left - have))?);
    }
    Ok(Some(buf))
}

/// The data descriptor at `at`: with 64-bit sizes if `wide`, unless the
/// other layout is the one that agrees with the central record
/// (`central`: its fixed part, and the resolved sizes) — writers disagree
/// on when to write 64-bit sizes. `None` if it overruns the archive.
fn read_descriptor(
    blob: &Blob,
    at: u64,
    wide: bool,
    central: (&[u8; CENTRAL_LEN], u64, u64),
) -> Option<Descriptor> {
    let left = blob.len().saturating_sub(at).min(24);
    let b = blob.read_vec(at, left).ok()?;
    let signed = u32le(&b, 0) == DESCRIPTOR_SIG;
    let o = if signed { 4 } else { 0 };
    let parse = |wide: bool| {
        let len = o + if wide { 20 } else { 12 };
        (b.len() >= len).then(|| Descriptor {
            signed,
            crc: u32le(&b, o),
            csize: if wide {
                u64le(&b, o + 4)
            } else {
                u64::from(u32le(&b, o + 4))
            },
            usize: if wide {
                u64le(&b, o + 12)
            } else {
                u64::from(u32le(&b, o + 8))
            },
            len: len as u64,
        })
    };
    let (f, csize, usize) = central;
    let agrees = |d: &Descriptor| (d.crc, d.csize, d.usize) == (u32le(f, 16), csize, usize);
    let first = parse(wide);
    if first.as_ref().is_some_and(agrees) {
        return first;
    }
    parse(!wide).filter(agrees).or(first)
}

/// Compares a local header with its central record.
fn check_local(m: &Member, conflicts: &mut Conflicts) {
    let shown = m.path();
    let local_z64 = zip64_record(&m.local_extra);
    let mut local = |detail: String| conflicts.push(ConflictKind::LocalHeader, detail);
    if m.local_name != m.name {
        local(format!(
            "entry {shown:?} is named {:?} in its local header",
            lossy(&m.local_name)
        ));
    }
    let local_method = u16le(&m.local_fixed, 8);
    if local_method != m.method {
        local(format!(
            "entry {shown:?}: compression method {} in the central directory, {local_method} in its local header",
            m.method
        ));
    }
    let lflags = m.local_flags();
    // The UTF-8 flag changes only how a name beyond ASCII reads.
    let mask = if m.name.is_ascii() && m.local_name.is_ascii() {
        READING_FLAGS
    } else {
        READING_FLAGS | FLAG_UTF8
    };
    if lflags & mask != m.flags & mask {
        local(format!(
            "entry {shown:?}: flags {:#06x} in the central directory, {lflags:#06x} in its local header",
            m.flags
        ));
    }
    if lflags & FLAG_DESCRIPTOR != 0 {
        // CRC and sizes are in the descriptor, checked on reading it.
        return;
    }
    let crc = u32le(&m.local_fixed, 14);
    if crc != m.crc {
        local(format!(
            "entry {shown:?}: CRC {:#010x} in the central directory, {crc:#010x} in its local header",
            m.crc
        ));
    }
    // The local zip64 record holds both sizes when either is marked.
    let (lcsize32, lusize32) = (u32le(&m.local_fixed, 18), u32le(&m.local_fixed, 22));
    let marked = lcsize32 == u32::MAX || lusize32 == u32::MAX;
    let wide = local_z64.filter(|z| marked && z.len() >= 16);
    for (what, local32, at, central) in [
        ("size", lusize32, 0, m.usize),
        ("compressed size", lcsize32, 8, m.csize),
    ] {
        let value = match wide {
            Some(z) => u64le(z, at),
            None => u64::from(local32),
        };
        if value != central {
            local(format!(
                "entry {shown:?}: {what} {central} in the central directory, {value} in its local header"
            ));
        }
    }
}

/// Names that occur twice, files that are directories too, unsafe names.
fn check_names(members: &[Member], conflicts: &mut Conflicts) {
    let mut counts: HashMap<&[u8], usize> = HashMap::new();
    for m in members {
        *counts.entry(m.name.as_slice()).or_default() += 1;
    }
    let mut reported = HashSet::new();
    for m in members {
        let n = counts.get(m.name.as_slice()).copied().unwrap_or(0);
        if n > 1 && reported.insert(m.name.as_slice()) {
            let times = if n == 2 { "two".into() } else { n.to_string() };
            conflicts.push(
                ConflictKind::DuplicateName,
                format!("{times} entries are named {:?}", m.path()),
            );
        }
    }
    for m in members {
        if let Some(dir) = m.name.strip_suffix(b"/") {
            if counts.contains_key(dir) {
                conflicts.push(
                    ConflictKind::FileAndDirectory,
                    format!("{:?} is both a file and a directory", lossy(dir)),
                );
            }
        }
    }
    for m in members {
        if let Some((kind, why)) = unsafe_name(&m.name) {
            conflicts.push(kind, format!("entry {:?}: unsafe name ({why})", m.path()));
        }
    }
}

/// Why a name is unsafe to extract or show, if it is.
fn unsafe_name(name: &[u8]) -> Option<(ConflictKind, String)> {
    let mut why = Vec::new();
    if name.contains(&0) {
        why.push("a NUL byte, where C tools cut the name");
    }
    let drive = name.len() >= 2 && name[0].is_ascii_alphabetic() && name[1] == b':';
    if name.starts_with(b"/") || name.starts_with(b"\\") || drive {
        why.push("an absolute path");
    }
    if name.split(|&b| b == b'/' || b == b'\\').any(|c| c == b"..") {
        why.push("a \"..\" component, which leads out of the directory extracted into");
    }
    if name.contains(&b'\\') {
        why.push("a backslash, a directory separator to Windows tools only");
    }
    let kind = if why.is_empty() {
        ConflictKind::ControlCharacters
    } else {
        ConflictKind::UnsafeName
    };
    if name.iter().any(|&b| (b < 0x20 && b != 0) || b == 0x7f) {
        why.push("control characters");
    }
    (!why.is_empty()).then(|| (kind, why.join("; ")))
}

/// Entries whose stored bytes overlap another's or the central directory.
fn check_overlaps(members: &[Member], directory: &Range<u64>, conflicts: &mut Conflicts) {
    let mut spans: Vec<(u64, u64, usize)> = members
        .iter()
        .enumerate()
        .map(|(i, m)| (m.header_range().start, m.end(), i))
        .collect();
    spans.sort_unstable();
    // Against the furthest end so far, so a long entry that spans several
    // later ones is caught for each.
    let mut furthest: Option<(u64, u64, usize)> = None;
    for &(start, end, i) in &spans {
        if let Some((a_start, a_end, a)) = furthest {
            if start < a_end {
                conflicts.push(
                    ConflictKind::Overlap,
                    format!(
                        "entries {:?} and {:?} overlap (bytes {a_start}..{a_end} and from {start}): \
                         an overlapping-entry archive (a zip bomb, or one that reads two ways)",
                        members[a].path(),
                        members[i].path()
                    ),
                );
            }
        }
        if furthest.is_none_or(|(_, e, _)| end > e) {
            furthest = Some((start, end, i));
        }
    }
    // The directory is usually last, but may come first.
    if let Some(&(start, end, i)) = spans
        .iter()
        .find(|(start, end, _)| *start < directory.end && *end > directory.start)
    {
        conflicts.push(
            ConflictKind::Overlap,
            format!(
                "entry {:?} overlaps the central directory (its bytes are {start}..{end}, the \
                 directory's {}..{})",
                members[i].path(),
                directory.start,
                directory.end
            ),
        );
    }
}

/// Local headers in bytes no entry accounts for: before the first entry,
/// between entries and the central directory, up to the end records at
/// `records_at`.
fn check_gaps(
    blob: &Blob,
    members: &[Member],
    directory: &Range<u64>,
    records_at: u64,
    conflicts: &mut Conflicts,
) -> io::Result<()> {
    let mut spans: Vec<(u64, u64)> = members
        .iter()
        .map(|m| (m.header_range().start, m.end()))
        .chain([(directory.start, directory.end)])
        .collect();
    spans.sort_unstable();
    let mut at = 0u64;
    for (start, end) in spans.into_iter().chain([(records_at, records_at)]) {
        if start > at {
            if let Some(found) = find_local_header(blob, at, start)? {
                conflicts.push(
                    ConflictKind::HiddenHeader,
                    format!(
                        "a local header at offset {found} belongs to no entry of the central \
                         directory (a hidden entry, or another archive concatenated)"
                    ),
                );
            }
        }
        at = at.max(end);
    }
    Ok(())
}

/// The first plausible local header in `from..to`, read in chunks of
/// [`SCAN_CHUNK`] (plus what a header found at a chunk's end needs).
fn find_local_header(blob: &Blob, from: u64, to: u64) -> io::Result<Option<u64>> {
    let mut chunk_at = from;
    while chunk_at < to {
        let scan = (to - chunk_at).min(SCAN_CHUNK);
        // A header must lie within the gap: its fixed part and name.
        let len = (to - chunk_at).min(scan + (LOCAL_LEN + 0xffff) as u64);
        let bytes = blob.read_vec(chunk_at, len)?;
        let found = (0..scan as usize)
            .filter(|&i| bytes[i] == b'P')
            .find(|&i| plausible_local_header(&bytes[i..]));
        if let Some(i) = found {
            return Ok(Some(chunk_at + i as u64));
        }
        chunk_at += scan;
    }
    Ok(None)
}

/// A real header, not the four bytes alone: a self-extractor's stub may
/// hold the signature as a constant it searches for.
fn plausible_local_header(h: &[u8]) -> bool {
    h.len() >= LOCAL_LEN
        && u32le(h, 0) == LOCAL_SIG
        && u16le(h, 4) <= 100
        && [0, 8, 9, 12, 14, 93, 95, 98].contains(&u16le(h, 8))
        && u16le(h, 26) > 0
        && LOCAL_LEN + usize::from(u16le(h, 26)) <= h.len()
}
