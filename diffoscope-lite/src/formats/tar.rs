//! Tar (v7, ustar, GNU, PAX).
//!
//! [`walk`] is the one parser of tar: it reads the 512-byte header blocks
//! of a stream (or of a [`Blob`], with positions) and yields every member
//! with its raw header, the PAX and GNU long-name blocks in front of it, its
//! GNU sparse extension blocks, its resolved path and link target, its data
//! size, and what it found odd (a PAX size that contradicts the header).
//! Member data is handed to the caller as it passes, once. The differ lists
//! the members from it ([`Tar`]); the normalizer (`normalize/tar.rs`)
//! patches the raw headers it yields and writes them back; the normalized
//! digest hashes the members as they stream by. None parses a header on its
//! own.
//!
//! The differ reads a tar as one stream, once per side. Each regular member
//! is copied while the stream passes into one anonymous spool file per
//! archive, so members can later be compared (and recursed into) in any
//! order without reading the stream again and without holding large members
//! in memory.
//!
//! Two tars being compared are read at the same time, one thread per side,
//! meeting at a [`Rendezvous`]: the side that reaches a member first spools
//! it; the other side compares its own copy against that spool while it
//! streams and, when every byte is equal, spools nothing and shares the
//! first copy. Equal members (most of them, in a rebuild) are thus written
//! once and read back once, instead of written twice and read twice.
//!
//! PAX and GNU long-name records are read into memory, each at most
//! [`MAX_META`] bytes, and at most one of each kind before a member (two are
//! an error: readers disagree on which one wins), so a forged record is an
//! error, not an allocation.

use std::io::{self, Read};

use super::{lossy, Format, Kind, Parsed};
use crate::blob::BlobReader;
use crate::limits::Budget;
use crate::meet::Rendezvous;
use crate::model::{Container, Content, Cx, Entry, EntryKind, FormatMetadata, Metadata, Spool};
use crate::{Error, Result};

/// Tar archives.
pub struct Tar;

/// The size of a header block, and the unit data is padded to.
pub(crate) const BLOCK: usize = 512;
/// Largest PAX or GNU long-name record read into memory (the differ's
/// bound; real archives need a few KiB).
pub(crate) const MAX_META: u64 = 16 << 20;

/// A raw header block.
pub(crate) type Header = [u8; BLOCK];

/// A metadata block that precedes a member: a PAX extended header ('x'),
/// or a GNU long name ('L') or long link ('K').
#[derive(Clone, Debug)]
pub(crate) struct Meta {
    /// The raw header block.
    pub(crate) header: Header,
    /// The record, unpadded.
    pub(crate) data: Vec<u8>,
}

/// Where the data regions of a sparse member sit in the file it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sparse {
    /// `(offset, length)` of each stored region in the expanded file,
    /// sorted and disjoint (checked); everything between is a hole.
    pub(crate) map: Vec<(u64, u64)>,
    /// The size of the expanded file.
    pub(crate) real: u64,
    /// Bytes at the start of the member's data taken by a PAX 1.0 map
    /// (whole blocks); 0 for the other sparse formats.
    pub(crate) map_len: u64,
}

/// One member with the metadata blocks in front of it, and `D`, what the
/// caller made of its data.
#[derive(Debug)]
pub(crate) struct Member<D> {
    /// PAX and long-name blocks, in archive order.
    pub(crate) metas: Vec<Meta>,
    /// The raw header block.
    pub(crate) header: Header,
    /// GNU sparse extension blocks.
    pub(crate) ext: Vec<Header>,
    /// The path: `GNU.sparse.name`, else PAX `path`, else the GNU long
    /// name, else the header's (with the ustar prefix).
    pub(crate) path: Vec<u8>,
    /// The link target, resolved the same way.
    pub(crate) link: Vec<u8>,
    /// Bytes of data that follow the header as stored (PAX `size` over
    /// the header's; for a PAX 1.0 sparse member, its map included).
    pub(crate) size: u64,
    /// The sparse map of a GNU sparse member (old GNU or PAX 0.0/0.1/1.0).
    pub(crate) sparse: Option<Sparse>,
    /// What the caller made of the data; `None` for members without data.
    pub(crate) data: Option<D>,
}

impl<D> Member<D> {
    /// The type flag.
    pub(crate) fn typeflag(&self) -> u8 {
        self.header[156]
    }

    /// A global PAX header.
    pub(crate) fn is_global(&self) -> bool {
        self.typeflag() == b'g'
    }

    /// A regular file whose stored data is its content, byte for byte (a
    /// sparse member stores a compacted form, which the normalizer keeps
    /// as it is and never recurses into).
    pub(crate) fn is_regular(&self) -> bool {
        matches!(self.typeflag(), b'0' | 0 | b'7') && self.sparse.is_none()
    }

    /// Bytes of data handed to `on_data`: the stored size less a PAX 1.0
    /// sparse map, which [`walk`] has read already.
    pub(crate) fn data_len(&self) -> u64 {
        self.size - self.sparse.as_ref().map_or(0, |s| s.map_len)
    }

    /// The size of the content: the expanded size of a sparse member.
    pub(crate) fn content_size(&self) -> u64 {
        self.sparse.as_ref().map_or(self.size, |s| s.real)
    }

    /// The whole mode field.
    pub(crate) fn mode(&self) -> Option<u32> {
        number(&self.header[100..108]).and_then(|m| u32::try_from(m).ok())
    }

    /// The header's uid (not PAX's).
    pub(crate) fn uid(&self) -> Option<u64> {
        number(&self.header[108..116])
    }

    /// The header's gid (not PAX's).
    pub(crate) fn gid(&self) -> Option<u64> {
        number(&self.header[116..124])
    }

    /// The header's mtime (not PAX's).
    pub(crate) fn mtime(&self) -> Option<u64> {
        number(&self.header[136..148])
    }

    /// Owner and group names, in headers that have them (ustar and GNU).
    pub(crate) fn owner_names(&self) -> Option<(&[u8], &[u8])> {
        has_owner_names(&self.header)
            .then(|| (cstr(&self.header[265..297]), cstr(&self.header[297..329])))
    }

    /// Device major and minor numbers.
    pub(crate) fn device(&self) -> (u32, u32) {
        let n = |f: &[u8]| number(f).and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        (n(&self.header[329..337]), n(&self.header[337..345]))
    }

    /// The PAX records of its extended header, in order (`None` when it
    /// has none or they do not parse).
    pub(crate) fn pax(&self) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
        self.metas
            .iter()
            .find(|m| m.header[156] == b'x')
            .and_then(|m| pax_records(&m.data))
    }
}

/// How much an oddity [`walk`] found matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Severity {
    /// Tools read the archive two ways (GNU tar one, Python or Go
    /// another): it has no canonical form, so the normalizer refuses it
    /// unless ambiguity is allowed.
    Ambiguous,
    /// A member name or link target that is unsafe to extract (absolute,
    /// `..`, backslashes, control characters, a link out of the root).
    /// Every reader agrees on it; it is reported, and the normalizer keeps
    /// it byte for byte.
    Unsafe,
    /// Odd but read alike by every tool (a signed header checksum).
    Note,
}

/// Something odd [`walk`] found, in the words the differ reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Conflict {
    /// How much it matters.
    pub(crate) severity: Severity,
    /// What it is, naming the member.
    pub(crate) detail: String,
}

/// A tar as [`walk`] found it.
pub(crate) struct Walked<D> {
    /// Every member in archive order, global PAX headers included.
    pub(crate) members: Vec<Member<D>>,
    /// What was odd but readable, in archive order.
    pub(crate) conflicts: Vec<Conflict>,
}

impl<D> Walked<D> {
    /// The first way the archive reads two ways, if any.
    pub(crate) fn ambiguity(&self) -> Option<&str> {
        self.conflicts
            .iter()
            .find(|c| c.severity == Severity::Ambiguous)
            .map(|c| c.detail.as_str())
    }
}

/// What [`walk`] calls with the input at a member's data.
pub(crate) type OnData<'f, D> = dyn FnMut(&mut dyn Input, &Member<D>) -> Result<D> + 'f;

/// The header fields holding numbers, and their names in findings.
const NUMERIC_FIELDS: [(std::ops::Range<usize>, &str); 6] = [
    (100..108, "mode"),
    (108..116, "uid"),
    (116..124, "gid"),
    (136..148, "mtime"),
    (329..337, "device major"),
    (337..345, "device minor"),
];

/// Most entries of a sparse map (old GNU's extension blocks hold 21
/// each; PAX maps are bounded the same way), so that a forged count is an
/// error and never an allocation.
const MAX_SPARSE_REGIONS: usize = 1 << 20;

/// Reads the tar from `input`, named `name` in errors, up to its first zero
/// block or its end, then what follows to the end of the input (a header
/// there is a hidden member); every member counts against the entry limit
/// in `budget`, and the holes of sparse members against its decompressed
/// bytes. For each member that has data, `on_data` is called with the input
/// at its first byte (after a PAX 1.0 sparse map), and must consume exactly
/// [`Member::data_len`] bytes.
pub(crate) fn walk<D>(
    input: &mut dyn Input,
    name: &str,
    budget: &Budget,
    on_data: &mut OnData<'_, D>,
) -> Result<Walked<D>> {
    let bad = |detail: String| {
        budget.tripped().unwrap_or_else(|| Error::Malformed {
            entry: name.to_owned(),
            format: Kind::Tar,
            detail,
        })
    };
    let io = |e: io::Error| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            bad(e.to_string())
        } else {
            budget.io_error(e, name, "reading tar")
        }
    };
    let mut members = Vec::new();
    let mut conflicts = Vec::new();
    let mut metas: Vec<Meta> = Vec::new();
    // Offset of the next header, for findings.
    let mut at: u64 = 0;
    let mut ended_by_zeros = false;
    loop {
        let mut h = [0u8; BLOCK];
        if !input.block(&mut h).map_err(io)? {
            break;
        }
        if h.iter().all(|&b| b == 0) {
            ended_by_zeros = true;
            break;
        }
        let signed_only = match checksum(&h) {
            Checksum::Unsigned => false,
            Checksum::SignedOnly => true,
            Checksum::Bad => {
                return Err(bad(format!(
                    "header checksum mismatch after {} members",
                    members.len()
                )))
            }
        };
        at += BLOCK as u64;
        let size = number(&h[124..136]).ok_or_else(|| {
            bad(format!(
                "bad size field in the header at offset {}",
                at - BLOCK as u64
            ))
        })?;
        let flag = h[156];
        if matches!(flag, b'x' | b'L' | b'K') {
            if metas.iter().any(|m| m.header[156] == flag) {
                let what = match flag {
                    b'x' => "PAX extended headers",
                    b'L' => "GNU long names",
                    _ => "GNU long link names",
                };
                return Err(bad(format!(
                    "two {what} describe member {} (readers disagree on which applies)",
                    members.len()
                )));
            }
            if size > MAX_META {
                return Err(bad(format!(
                    "metadata header of {size} bytes (at most {MAX_META}; \
                     a PAX or GNU long-name record this large is not a real archive)"
                )));
            }
            let mut data = vec![0u8; size as usize];
            input.read_exact(&mut data).map_err(io)?;
            input.skip(padded(size) - size).map_err(io)?;
            at += padded(size);
            metas.push(Meta { header: h, data });
            continue;
        }
        let mut ext = Vec::new();
        if flag == b'S' && h[482] != 0 {
            loop {
                let mut e = [0u8; BLOCK];
                input.read_exact(&mut e).map_err(io)?;
                at += BLOCK as u64;
                let more = e[504] != 0;
                ext.push(e);
                if ext.len() > 4096 {
                    return Err(bad("too many sparse extension blocks".into()));
                }
                if !more {
                    break;
                }
            }
        }
        let mut odd = Vec::new();
        let mut ambiguous = |detail: String| odd.push((Severity::Ambiguous, detail));
        let pax = match metas.iter().find(|m| m.header[156] == b'x') {
            None => Vec::new(),
            Some(m) => match parse_pax(&m.data) {
                Ok(records) => records,
                Err(why) => {
                    // GNU tar skips the bad record, Python and Go reject the
                    // archive, libarchive warns and goes on: no reading wins.
                    // This one ignores the whole header.
                    ambiguous(format!(
                        "malformed PAX header ({why}); its records are ignored"
                    ));
                    Vec::new()
                }
            },
        };
        let pax_get = |key: &[u8]| {
            pax.iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        // An empty value unsets a keyword in POSIX (the header's field
        // applies), but Python and Go take it as the value.
        for key in ["path", "linkpath", "size"] {
            if pax_get(key.as_bytes()).is_some_and(|v| v.is_empty()) {
                ambiguous(format!(
                    "empty PAX {key} record (POSIX falls back to the header, \
                     Python and Go use it as it is)"
                ));
            }
        }
        let pax_get = |key: &[u8]| pax_get(key).filter(|v| !v.is_empty());
        let long = |f: u8| {
            metas
                .iter()
                .find(|m| m.header[156] == f)
                .map(|m| cstr(&m.data).to_vec())
        };
        let header_path = || {
            let n = cstr(&h[..100]);
            let prefix = cstr(&h[345..500]);
            if is_posix(&h) && !prefix.is_empty() {
                [prefix, b"/", n].concat()
            } else {
                n.to_vec()
            }
        };
        for (key, flag, what) in [(&b"path"[..], b'L', "name"), (b"linkpath", b'K', "link")] {
            if let (Some(p), Some(l)) = (pax_get(key), long(flag)) {
                if p != l {
                    ambiguous(format!(
                        "GNU long {what} {:?} and PAX {} {:?} disagree (GNU tar, \
                         Python and Go differ on which applies)",
                        lossy(&l),
                        lossy(key),
                        lossy(&p)
                    ));
                }
            }
        }
        let sparse_name = pax_get(b"GNU.sparse.name");
        let path = sparse_name
            .or_else(|| pax_get(b"path"))
            .or_else(|| long(b'L'))
            .unwrap_or_else(header_path);
        let link = pax_get(b"linkpath")
            .or_else(|| long(b'K'))
            .unwrap_or_else(|| cstr(&h[157..257]).to_vec());
        let shown = lossy(&path);
        let size = match pax_get(b"size") {
            Some(v) => {
                let pax_size: u64 = std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad(format!("{shown}: bad PAX size")))?;
                if size != 0 && pax_size != size {
                    ambiguous(format!(
                        "PAX size {pax_size} conflicts with ustar header size {size}"
                    ));
                }
                pax_size
            }
            None => size,
        };
        for (field, what) in NUMERIC_FIELDS {
            if h[field.start] & 0x80 != 0 && number(&h[field]).is_none() {
                ambiguous(format!(
                    "base-256 {what} overflows 64 bits (readers wrap, clamp or refuse it)"
                ));
            }
        }
        if signed_only {
            odd.push((
                Severity::Note,
                "header checksum matches only as a signed sum (old Sun tar); \
                 GNU tar, Python and Go accept it"
                    .into(),
            ));
        }
        if flag != b'g' {
            odd.extend(
                unsafe_name(&path, &link, flag)
                    .into_iter()
                    .map(|d| (Severity::Unsafe, d)),
            );
        }
        conflicts.extend(odd.into_iter().map(|(severity, d)| Conflict {
            severity,
            detail: format!("{shown}: {d}"),
        }));
        let entry = format!("{name}::{shown}");
        budget.add_entry(&entry)?;
        let has_data = !matches!(flag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6');
        let mut m = Member {
            metas: std::mem::take(&mut metas),
            header: h,
            ext,
            path,
            link,
            size,
            sparse: None,
            data: None,
        };
        if has_data {
            let sparse_bad = |d: String| bad(format!("sparse member {shown}: {d}"));
            m.sparse = sparse_map(&m, &pax, input, &sparse_bad)?;
            if let Some(s) = &m.sparse {
                check_sparse(s, m.size - s.map_len).map_err(sparse_bad)?;
                // Holes come out as zeros that no stream decompressed:
                // they count as decompressed bytes, all of them before any
                // is produced, so a map declaring exabytes trips the limit
                // instead of filling a disk.
                budget.charge_expanded(s.real - (m.size - s.map_len), &entry)?;
            }
            m.data = Some(on_data(input, &m)?);
            input.skip(padded(size) - size).map_err(io)?;
            at += padded(size);
        }
        members.push(m);
    }
    if !metas.is_empty() {
        conflicts.push(Conflict {
            severity: Severity::Ambiguous,
            detail: format!(
                "{} metadata header(s) at the end of the archive apply to no member",
                metas.len()
            ),
        });
    }
    conflicts.extend(name_clashes(&members));
    if ended_by_zeros {
        if let Some(hidden) = hidden_header(input, at).map_err(io)? {
            conflicts.push(Conflict {
                severity: Severity::Ambiguous,
                detail: format!(
                    "a member header follows the end-of-archive block, at offset {hidden} \
                     (a hidden member: GNU tar reads past a lone zero block, `tar -i` past \
                     two, Python and Go stop)"
                ),
            });
        }
    }
    Ok(Walked { members, conflicts })
}

/// Reads the rest of the input after the first zero block; the offset of
/// the first block there that is a plausible header (a valid checksum),
/// if any. Zeros, padding and a short tail are not one.
fn hidden_header(input: &mut dyn Input, mut at: u64) -> io::Result<Option<u64>> {
    let mut found = None;
    let mut b = [0u8; BLOCK];
    loop {
        at += BLOCK as u64;
        let got = input.fill(&mut b)?;
        if got < BLOCK {
            return Ok(found);
        }
        if found.is_none() && b.iter().any(|&x| x != 0) && checksum(&b) != Checksum::Bad {
            found = Some(at);
        }
    }
}

/// Findings on names that are unsafe to extract.
fn unsafe_name(path: &[u8], link: &[u8], flag: u8) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |what: &str, p: &[u8]| {
        if p.first() == Some(&b'/') {
            out.push(format!("unsafe {what}: absolute path"));
        }
        if p.split(|&c| c == b'/').any(|c| c == b"..") {
            out.push(format!("unsafe {what}: `..` component"));
        }
        if p.contains(&b'\\') {
            out.push(format!("unsafe {what}: backslash (a separator on Windows)"));
        }
        if p.iter().any(|&c| c < 0x20 || c == 0x7f) {
            out.push(format!("unsafe {what}: NUL or control character"));
        }
    };
    check("name", path);
    match flag {
        // A hard link names another member: the same rules apply.
        b'1' => check("hard link target", link),
        // A symlink target is resolved from the link's directory; an
        // absolute one names the target system's files (as packages'
        // links do) and is not reported.
        b'2' if link.first() != Some(&b'/') => {
            let mut depth: i64 =
                path.split(|&c| c == b'/').filter(|c| !c.is_empty()).count() as i64 - 1;
            for c in link.split(|&c| c == b'/') {
                match c {
                    b"" | b"." => {}
                    b".." => depth -= 1,
                    _ => depth += 1,
                }
                if depth < 0 {
                    out.push("unsafe symlink: its target escapes the archive root".into());
                    break;
                }
            }
        }
        _ => {}
    }
    out
}

/// Members whose names clash: the same name twice, or one name a file and
/// a directory (extracting keeps the last; listing shows both).
fn name_clashes<D>(members: &[Member<D>]) -> Vec<Conflict> {
    // The name a member extracts to: `./a/` and `a` are one file.
    fn key(p: &[u8]) -> &[u8] {
        let mut p = p;
        while let Some(rest) = p.strip_prefix(b"./") {
            p = rest;
        }
        while let Some(rest) = p.strip_suffix(b"/") {
            p = rest;
        }
        p
    }
    /// Per name: the first spelling, how many, whether a directory, whether
    /// anything else, whether spelled differently (`./a` and `a`).
    struct Seen<'m> {
        first: &'m [u8],
        n: usize,
        dir: bool,
        nondir: bool,
        respelled: bool,
    }
    let mut seen: std::collections::HashMap<&[u8], Seen<'_>> = std::collections::HashMap::new();
    let mut order = Vec::new();
    for m in members.iter().filter(|m| !m.is_global()) {
        let k = key(&m.path);
        let e = seen.entry(k).or_insert_with(|| {
            order.push(k);
            Seen {
                first: &m.path,
                n: 0,
                dir: false,
                nondir: false,
                respelled: false,
            }
        });
        e.n += 1;
        let dir = m.typeflag() == b'5';
        e.dir |= dir;
        e.nondir |= !dir;
        e.respelled |= m.path != e.first;
    }
    let mut out = Vec::new();
    for k in order {
        let Some(&Seen {
            first,
            n,
            dir,
            nondir,
            respelled,
        }) = seen.get(k)
        else {
            continue;
        };
        if n < 2 {
            continue;
        }
        let detail = if dir && nondir {
            format!("{} is both a directory and a file", lossy(k))
        } else if respelled {
            format!("{n} members extract to {}", lossy(k))
        } else {
            format!("duplicate entry name {} ({n} times)", lossy(first))
        };
        out.push(Conflict {
            severity: Severity::Ambiguous,
            detail,
        });
    }
    out
}

/// The sparse map of `m`, if it is a sparse member; a PAX 1.0 map is read
/// from the input (whole blocks).
fn sparse_map<D>(
    m: &Member<D>,
    pax: &[PaxRecord],
    input: &mut dyn Input,
    bad: &dyn Fn(String) -> Error,
) -> Result<Option<Sparse>> {
    let get = |key: &str| {
        pax.iter()
            .rev()
            .find(|(k, _)| k == key.as_bytes())
            .map(|(_, v)| v.as_slice())
    };
    let dec = |key: &str, v: &[u8]| {
        std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| bad(format!("{key} is not a number: {:?}", lossy(v))))
    };
    if m.typeflag() == b'S' {
        // Old GNU: four entries in the header, 21 in each extension block.
        let real = number(&m.header[483..495]).ok_or_else(|| bad("bad real size".into()))?;
        let mut map = Vec::new();
        let blocks = std::iter::once(&m.header[386..482]).chain(m.ext.iter().map(|e| &e[..504]));
        for area in blocks {
            for e in area.chunks_exact(24) {
                if e[0] == 0 {
                    break;
                }
                let off = number(&e[..12]).ok_or_else(|| bad("bad region offset".into()))?;
                let len = number(&e[12..]).ok_or_else(|| bad("bad region length".into()))?;
                map.push((off, len));
            }
        }
        return Ok(Some(Sparse {
            map,
            real,
            map_len: 0,
        }));
    }
    let major = get("GNU.sparse.major");
    let minor = get("GNU.sparse.minor");
    if major.is_some() || minor.is_some() {
        if (major, minor) != (Some(&b"1"[..]), Some(&b"0"[..])) {
            return Err(bad(format!(
                "unknown PAX sparse format {}.{}",
                lossy(major.unwrap_or_default()),
                lossy(minor.unwrap_or_default())
            )));
        }
        let real = dec(
            "GNU.sparse.realsize",
            get("GNU.sparse.realsize").unwrap_or_default(),
        )?;
        let (map, map_len) = read_map_1_0(input, m.size, bad)?;
        return Ok(Some(Sparse { map, real, map_len }));
    }
    let real = || {
        dec(
            "GNU.sparse.size",
            get("GNU.sparse.size")
                .or_else(|| get("GNU.sparse.realsize"))
                .unwrap_or_default(),
        )
    };
    let count = |map: &[(u64, u64)]| -> Result<()> {
        match get("GNU.sparse.numblocks") {
            Some(n) if dec("GNU.sparse.numblocks", n)? != map.len() as u64 => Err(bad(format!(
                "GNU.sparse.numblocks says {}, the map has {} regions",
                lossy(n),
                map.len()
            ))),
            _ => Ok(()),
        }
    };
    if let Some(text) = get("GNU.sparse.map") {
        // 0.1: "offset,size,offset,size…"
        let numbers = text
            .split(|&c| c == b',')
            .take(2 * MAX_SPARSE_REGIONS + 1)
            .map(|n| dec("GNU.sparse.map", n))
            .collect::<Result<Vec<_>>>()?;
        if numbers.len() % 2 != 0 {
            return Err(bad("GNU.sparse.map has an odd count of numbers".into()));
        }
        if numbers.len() > 2 * MAX_SPARSE_REGIONS {
            return Err(bad(format!("more than {MAX_SPARSE_REGIONS} regions")));
        }
        let map: Vec<_> = numbers.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        count(&map)?;
        return Ok(Some(Sparse {
            map,
            real: real()?,
            map_len: 0,
        }));
    }
    if get("GNU.sparse.offset").is_some() || get("GNU.sparse.numbytes").is_some() {
        // 0.0: repeated offset/numbytes records, in pairs, in order.
        let mut map = Vec::new();
        let mut offset = None;
        for (k, v) in pax {
            match k.as_slice() {
                b"GNU.sparse.offset" if offset.is_none() => {
                    offset = Some(dec("GNU.sparse.offset", v)?);
                }
                b"GNU.sparse.numbytes" => {
                    let off = offset
                        .take()
                        .ok_or_else(|| bad("GNU.sparse.numbytes without an offset".into()))?;
                    map.push((off, dec("GNU.sparse.numbytes", v)?));
                }
                b"GNU.sparse.offset" => {
                    return Err(bad("two GNU.sparse.offset records in a row".into()));
                }
                _ => {}
            }
        }
        if offset.is_some() {
            return Err(bad("GNU.sparse.offset without a length".into()));
        }
        count(&map)?;
        return Ok(Some(Sparse {
            map,
            real: real()?,
            map_len: 0,
        }));
    }
    Ok(None)
}

/// Reads a PAX 1.0 sparse map: decimal numbers, one a line (the count,
/// then offset and size of each region), padded to whole blocks, at the
/// start of `size` bytes of member data. Returns the map and the bytes read.
fn read_map_1_0(
    input: &mut dyn Input,
    size: u64,
    bad: &dyn Fn(String) -> Error,
) -> Result<(Vec<(u64, u64)>, u64)> {
    let mut numbers: Vec<u64> = Vec::new();
    let mut want: Option<u64> = None;
    let mut digits = String::new();
    let mut read = 0u64;
    let mut b = [0u8; BLOCK];
    loop {
        if let Some(w) = want {
            if numbers.len() as u64 == 2 * w {
                break;
            }
        }
        if read + BLOCK as u64 > size {
            return Err(bad("the sparse map runs past the member's data".into()));
        }
        input
            .read_exact(&mut b)
            .map_err(|e| bad(format!("reading the sparse map: {e}")))?;
        read += BLOCK as u64;
        for &c in &b {
            if want.is_some_and(|w| numbers.len() as u64 == 2 * w) {
                break;
            }
            match c {
                b'0'..=b'9' if digits.len() < 20 => digits.push(char::from(c)),
                b'\n' => {
                    let n: u64 = digits
                        .parse()
                        .map_err(|_| bad(format!("bad number {digits:?} in the sparse map")))?;
                    digits.clear();
                    match want {
                        None if n > MAX_SPARSE_REGIONS as u64 => {
                            return Err(bad(format!(
                                "the map declares {n} regions (at most {MAX_SPARSE_REGIONS})"
                            )));
                        }
                        None => want = Some(n),
                        Some(_) => numbers.push(n),
                    }
                }
                _ => return Err(bad(format!("unexpected byte {c:#04x} in the sparse map"))),
            }
        }
    }
    let map = numbers.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    Ok((map, read))
}

/// Checks a sparse map: regions in order, disjoint, inside the expanded
/// size, and holding exactly the `stored` bytes of data.
fn check_sparse(s: &Sparse, stored: u64) -> std::result::Result<(), String> {
    if s.map.len() > MAX_SPARSE_REGIONS {
        return Err(format!("more than {MAX_SPARSE_REGIONS} regions"));
    }
    let mut end = 0u64;
    let mut total = 0u64;
    for (i, &(off, len)) in s.map.iter().enumerate() {
        if off < end {
            return Err(format!(
                "region {i} at offset {off} overlaps or precedes the one before (ending at {end})"
            ));
        }
        end = off
            .checked_add(len)
            .filter(|&e| e <= s.real)
            .ok_or_else(|| {
                format!(
                    "region {i} ({len} bytes at offset {off}) runs past the real size {}",
                    s.real
                )
            })?;
        total = total.saturating_add(len);
    }
    if total != stored {
        return Err(format!(
            "the map holds {total} bytes of data, the member stores {stored}"
        ));
    }
    Ok(())
}

/// A sparse member's content: its stored regions read from `inner`, the
/// holes between them zeros. Nothing is allocated by the declared size.
pub(crate) struct Expand<'a> {
    inner: &'a mut dyn Read,
    sparse: &'a Sparse,
    pos: u64,
    region: usize,
}

impl<'a> Expand<'a> {
    /// Expands `sparse` (checked by [`walk`]) over the stored data `inner`.
    pub(crate) fn new(inner: &'a mut dyn Read, sparse: &'a Sparse) -> Self {
        Expand {
            inner,
            sparse,
            pos: 0,
            region: 0,
        }
    }
}

impl Read for Expand<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = |to: u64, pos: u64, buf: &[u8]| {
            buf.len()
                .min(usize::try_from(to - pos).unwrap_or(usize::MAX))
        };
        while self.pos < self.sparse.real && !buf.is_empty() {
            let Some(&(off, len)) = self.sparse.map.get(self.region) else {
                let n = room(self.sparse.real, self.pos, buf);
                buf[..n].fill(0);
                self.pos += n as u64;
                return Ok(n);
            };
            if self.pos < off {
                let n = room(off, self.pos, buf);
                buf[..n].fill(0);
                self.pos += n as u64;
                return Ok(n);
            }
            if self.pos < off + len {
                let n = room(off + len, self.pos, buf);
                let got = self.inner.read(&mut buf[..n])?;
                if got == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "sparse member data runs short of its map",
                    ));
                }
                self.pos += got as u64;
                return Ok(got);
            }
            self.region += 1;
        }
        Ok(0)
    }
}

/// Where the walker reads from.
pub(crate) trait Input {
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()>;
    /// Reads one block; `false` at a clean end of input.
    fn block(&mut self, buf: &mut Header) -> io::Result<bool>;
    fn skip(&mut self, n: u64) -> io::Result<()>;
    /// Reads up to `buf.len()` bytes, fewer only at the end of the input.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// The offset of the next byte, for inputs with random access.
    fn pos(&self) -> Option<u64>;
}

pub(crate) struct BlobInput(pub(crate) BlobReader);

impl Input for BlobInput {
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.0.read_exact(buf)
    }

    fn block(&mut self, buf: &mut Header) -> io::Result<bool> {
        if self.0.pos >= self.0.blob.len() {
            return Ok(false);
        }
        self.0.read_exact(buf).map(|()| true)
    }

    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        fill_from(&mut self.0, buf)
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        let to = self
            .0
            .pos
            .checked_add(n)
            .filter(|&p| p <= self.0.blob.len());
        match to {
            Some(p) => {
                self.0.pos = p;
                Ok(())
            }
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "member data runs past the end of the archive",
            )),
        }
    }

    fn pos(&self) -> Option<u64> {
        Some(self.0.pos)
    }
}

pub(crate) struct StreamInput<'a>(pub(crate) &'a mut dyn Read);

impl Input for StreamInput<'_> {
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.0.read_exact(buf)
    }

    fn block(&mut self, buf: &mut Header) -> io::Result<bool> {
        let mut got = 0;
        while got < BLOCK {
            match self.0.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "archive ends inside a header block",
                    ))
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        fill_from(self.0, buf)
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        let copied = io::copy(&mut self.0.take(n), &mut io::sink())?;
        if copied != n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "member data runs past the end of the archive",
            ));
        }
        Ok(())
    }

    fn pos(&self) -> Option<u64> {
        None
    }
}

/// Reads into `buf` until it is full or `r` ends; how many bytes.
fn fill_from(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// How a header block's checksum matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Checksum {
    /// As POSIX says: the unsigned sum of its bytes.
    Unsigned,
    /// Only as the signed sum old Sun tars wrote (every reader accepts it).
    SignedOnly,
    /// Neither.
    Bad,
}

/// Checks a header block's checksum, with the checksum field as spaces.
fn checksum(h: &Header) -> Checksum {
    let Some(stored) = number(&h[148..156]) else {
        return Checksum::Bad;
    };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &b) in h.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    if i64::try_from(stored) == Ok(unsigned) {
        Checksum::Unsigned
    } else if i64::try_from(stored) == Ok(signed) {
        Checksum::SignedOnly
    } else {
        Checksum::Bad
    }
}

pub(crate) fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK as u64) * BLOCK as u64
}

/// A numeric header field: octal text, or GNU base-256.
pub(crate) fn number(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|&b| b & 0x80 != 0) {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let text: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ' || b == 0)
        .take_while(|&b| (b'0'..=b'7').contains(&b))
        .collect();
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&text).ok()?, 8).ok()
}

pub(crate) fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

pub(crate) fn is_posix(h: &Header) -> bool {
    &h[257..263] == b"ustar\0"
}

pub(crate) fn has_owner_names(h: &Header) -> bool {
    &h[257..262] == b"ustar"
}

/// One PAX record: key and value.
pub(crate) type PaxRecord = (Vec<u8>, Vec<u8>);

/// PAX records, parsed strictly ("LEN key=value\n"); `None` when they
/// do not parse.
pub(crate) fn pax_records(data: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    parse_pax(data).ok()
}

/// PAX records, parsed strictly; what is wrong with the first bad one.
fn parse_pax(data: &[u8]) -> std::result::Result<Vec<PaxRecord>, String> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut at = 0usize;
    while !rest.is_empty() {
        // Some writers pad the record area with NULs.
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let sp = rest
            .iter()
            .take(21)
            .position(|&b| b == b' ')
            .ok_or_else(|| format!("record at byte {at} has no length"))?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| format!("record at byte {at} has a bad length"))?;
        // "L k=\n" is the shortest record: anything shorter is a zero or
        // truncated length some readers loop on.
        if len < sp + 4 {
            return Err(format!("record at byte {at} has a length of {len}"));
        }
        let rec = rest.get(..len).ok_or_else(|| {
            format!(
                "record at byte {at} has a length of {len}, past the end of the header ({} bytes)",
                data.len()
            )
        })?;
        if rec[len - 1] != b'\n' {
            return Err(format!("record at byte {at} does not end in a newline"));
        }
        let body = &rec[sp + 1..len - 1];
        let eq = body
            .iter()
            .position(|&b| b == b'=')
            .filter(|&eq| eq > 0)
            .ok_or_else(|| format!("record at byte {at} has no key=value"))?;
        out.push((body[..eq].to_vec(), body[eq + 1..].to_vec()));
        rest = &rest[len..];
        at += len;
    }
    Ok(out)
}

/// A reader over the next `left` bytes of an [`Input`]: a member's data.
/// An input that ends first is a malformed `archive` (the error travels
/// inside the I/O error, so whoever reads the data reports the same one).
pub(crate) struct LimitedInput<'a> {
    pub(crate) inner: &'a mut dyn Input,
    pub(crate) left: u64,
    pub(crate) archive: &'a str,
}

impl Read for LimitedInput<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if n == 0 {
            return Ok(0);
        }
        self.inner.read_exact(&mut buf[..n]).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::other(Error::Malformed {
                    entry: self.archive.to_owned(),
                    format: Kind::Tar,
                    detail: "member data runs past the end of the archive".into(),
                })
            } else {
                e
            }
        })?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Whether a 512-byte header block has a valid checksum (how v7 tars,
/// which have no magic, are recognised).
pub(crate) fn checksum_ok(block: &[u8]) -> bool {
    block
        .get(..BLOCK)
        .and_then(|b| <&Header>::try_from(b).ok())
        .is_some_and(|h| checksum(h) != Checksum::Bad)
}

impl Format for Tar {
    fn kind(&self) -> Kind {
        Kind::Tar
    }

    fn detect(&self, head: &[u8]) -> bool {
        if head.len() < 512 {
            return false;
        }
        head.get(257..262) == Some(b"ustar") || (head[0] != 0 && checksum_ok(head))
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        read_side(content, name, cx, None)
    }

    fn read_pair(
        &self,
        (ca, na, cxa): (&Content, &str, &Cx<'_>),
        (cb, nb, cxb): (&Content, &str, &Cx<'_>),
    ) -> (Result<Parsed>, Result<Parsed>) {
        let meet = Rendezvous::default();
        // The second side gets a thread of its own, not one of rayon's:
        // a side may wait for the other (see crate::meet), which must then
        // be running, not queued behind it on a busy pool. The first side
        // runs here, blocking this thread until the pair is read.
        std::thread::scope(|s| {
            let spawned = std::thread::Builder::new()
                .name("tar-side-b".into())
                .spawn_scoped(s, || read_side(cb, nb, cxb, Some((&meet, 1))));
            match spawned {
                Ok(b) => {
                    let a = read_side(ca, na, cxa, Some((&meet, 0)));
                    let b = b
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    (a, b)
                }
                // No thread to be had: one side after the other. The first
                // then only spools (it never waits) and the second finds
                // every copy finished.
                Err(_) => (
                    read_side(ca, na, cxa, Some((&meet, 0))),
                    read_side(cb, nb, cxb, Some((&meet, 1))),
                ),
            }
        })
    }
}

/// Owner names met so far in one archive: most archives have one or two,
/// and every entry shares them instead of holding its own copies.
#[derive(Default)]
struct Names(Vec<std::sync::Arc<str>>);

impl Names {
    fn get(&mut self, raw: &[u8]) -> std::sync::Arc<str> {
        let name = String::from_utf8_lossy(raw);
        // A forged archive could give every entry its own name; past a
        // few hundred, stop looking them up and let each entry own its.
        if let Some(known) = self.0.iter().find(|n| ***n == *name) {
            return std::sync::Arc::clone(known);
        }
        let new: std::sync::Arc<str> = name.into();
        if self.0.len() < 256 {
            self.0.push(std::sync::Arc::clone(&new));
        }
        new
    }
}

/// Reads one side; with a rendezvous, meets the other side there.
fn read_side(
    content: &Content,
    name: &str,
    cx: &Cx<'_>,
    meet: Option<(&Rendezvous, usize)>,
) -> Result<Parsed> {
    let walked = content.with_reader(cx, name, |r| {
        let mut spool = Spool::default();
        let mut seen: std::collections::HashMap<Vec<u8>, u32> = std::collections::HashMap::new();
        walk(&mut StreamInput(r), name, cx.budget, &mut |input, m| {
            let mut data = LimitedInput {
                inner: input,
                left: m.data_len(),
                archive: name,
            };
            let path = lossy(&m.path);
            let nested = format!("{name}::{path}");
            let content = {
                // A sparse member is compared as the file it stands for.
                let mut expanded;
                let r: &mut dyn Read = match &m.sparse {
                    Some(s) => {
                        expanded = Expand::new(&mut data, s);
                        &mut expanded
                    }
                    None => &mut data,
                };
                match meet {
                    None => spool.append(r, cx, &nested)?,
                    Some((meet, side)) => {
                        let n = seen.entry(m.path.clone()).or_insert(0);
                        let occurrence = *n;
                        *n += 1;
                        meet.member(
                            side,
                            &path,
                            occurrence,
                            m.content_size(),
                            r,
                            &mut spool,
                            cx,
                            &nested,
                        )?
                    }
                }
            };
            if data.left != 0 {
                return Err(cx.malformed(
                    "member data runs past the end of the archive",
                    name,
                    Kind::Tar,
                ));
            }
            Ok(content)
        })
    })?;
    let mut names = Names::default();
    let mut entries: Vec<Entry> = walked
        .members
        .into_iter()
        .enumerate()
        .map(|(order, m)| {
            let pax = m
                .pax()
                .unwrap_or_default()
                .into_iter()
                .filter(|(k, _)| k != b"path" && k != b"linkpath")
                .map(|(k, v)| (lossy(&k), lossy(&v)))
                .collect();
            let owners = m.owner_names();
            let meta = Metadata {
                mode: m.mode().map(|mode| mode & 0o7777),
                uid: m.uid(),
                gid: m.gid(),
                user: owners.map(|(u, _)| names.get(u)),
                group: owners.map(|(_, g)| names.get(g)),
                mtime: m.mtime().and_then(|t| i64::try_from(t).ok()),
                size: Some(m.content_size()),
                order,
                format: FormatMetadata {
                    pax,
                    ..FormatMetadata::default()
                }
                .boxed(),
            };
            Entry {
                path: lossy(&m.path),
                kind: entry_kind(&m),
                meta,
                content: m.data.unwrap_or_else(Content::empty),
                digest: None,
            }
        })
        .collect();
    // Every oddity is a finding: the differ never refuses an archive, it
    // shows what each side holds and what reads two ways.
    let mut comments: Vec<String> = walked.conflicts.into_iter().map(|c| c.detail).collect();
    comments.extend(super::docker::relabel(&mut entries, cx, name)?);
    Ok(Parsed::Container(Container {
        format: Kind::Tar,
        entries,
        meta: Vec::new(),
        comments,
        single_stream: false,
        ordered: true,
    }))
}

fn entry_kind<D>(m: &Member<D>) -> EntryKind {
    let target = || lossy(&m.link);
    let device = |block| {
        let (major, minor) = m.device();
        EntryKind::Device {
            block,
            major,
            minor,
        }
    };
    match m.typeflag() {
        b'0' | 0 | b'7' | b'S' => EntryKind::File,
        b'5' => EntryKind::Dir,
        b'2' => EntryKind::Symlink { target: target() },
        b'1' => EntryKind::Hardlink { target: target() },
        b'3' => device(false),
        b'4' => device(true),
        b'6' => EntryKind::Fifo,
        b'g' => EntryKind::Other("pax global header".into()),
        other => EntryKind::Other(format!("tar type {:?}", other as char)),
    }
}
