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

use super::{duplicate_comments, lossy, Format, Kind, Parsed};
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
    /// The path: PAX `path`, else the GNU long name, else the header's
    /// (with the ustar prefix).
    pub(crate) path: Vec<u8>,
    /// The link target, resolved the same way.
    pub(crate) link: Vec<u8>,
    /// Bytes of data that follow (PAX `size` over the header's).
    pub(crate) size: u64,
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

    /// A regular file whose data is its content (GNU sparse members store
    /// a compacted form, which is never recursed into).
    pub(crate) fn is_regular(&self) -> bool {
        matches!(self.typeflag(), b'0' | 0 | b'7')
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

/// A tar as [`walk`] found it.
pub(crate) struct Walked<D> {
    /// Every member in archive order, global PAX headers included.
    pub(crate) members: Vec<Member<D>>,
    /// What was odd but readable, in the words the differ reports.
    pub(crate) conflicts: Vec<String>,
}

/// What [`walk`] calls with the input at a member's data.
pub(crate) type OnData<'f, D> = dyn FnMut(&mut dyn Input, &Member<D>) -> Result<D> + 'f;

/// Reads the tar from `input`, named `name` in errors, up to its first zero
/// block or its end; every member counts against the entry limit in
/// `budget`. For each member that has data, `on_data` is called with the
/// input at its first byte and the data size, and must consume exactly that
/// many bytes.
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
    loop {
        let mut h = [0u8; BLOCK];
        if !input.block(&mut h).map_err(io)? {
            break;
        }
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let stored: u32 = number(&h[148..156]).unwrap_or(u64::MAX) as u32;
        let mut check = h;
        check[148..156].fill(b' ');
        if check.iter().map(|&b| u32::from(b)).sum::<u32>() != stored {
            return Err(bad(format!(
                "header checksum mismatch after {} members",
                members.len()
            )));
        }
        let size = number(&h[124..136]).ok_or_else(|| bad("bad size field".into()))?;
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
            metas.push(Meta { header: h, data });
            continue;
        }
        let mut ext = Vec::new();
        if flag == b'S' && h[482] != 0 {
            loop {
                let mut e = [0u8; BLOCK];
                input.read_exact(&mut e).map_err(io)?;
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
        let pax = metas
            .iter()
            .find(|m| m.header[156] == b'x')
            .and_then(|m| pax_records(&m.data))
            .unwrap_or_default();
        let pax_get = |key: &[u8]| {
            pax.iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let long = |f: u8| {
            metas
                .iter()
                .find(|m| m.header[156] == f)
                .map(|m| cstr(&m.data).to_vec())
        };
        let path = pax_get(b"path").or_else(|| long(b'L')).unwrap_or_else(|| {
            let n = cstr(&h[..100]);
            let prefix = cstr(&h[345..500]);
            if is_posix(&h) && !prefix.is_empty() {
                [prefix, b"/", n].concat()
            } else {
                n.to_vec()
            }
        });
        let link = pax_get(b"linkpath")
            .or_else(|| long(b'K'))
            .unwrap_or_else(|| cstr(&h[157..257]).to_vec());
        let size = match pax_get(b"size") {
            Some(v) => {
                let pax_size: u64 = std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad("bad PAX size".into()))?;
                if size != 0 && pax_size != size {
                    conflicts.push(format!(
                        "{}: PAX size {pax_size} conflicts with ustar header size {size}",
                        lossy(&path)
                    ));
                }
                pax_size
            }
            None => size,
        };
        budget.add_entry(&format!("{name}::{}", lossy(&path)))?;
        let mut m = Member {
            metas: std::mem::take(&mut metas),
            header: h,
            ext,
            path,
            link,
            size,
            data: None,
        };
        let has_data = !matches!(flag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6');
        if has_data {
            m.data = Some(on_data(input, &m)?);
            input.skip(padded(size) - size).map_err(io)?;
        }
        members.push(m);
    }
    Ok(Walked { members, conflicts })
}

/// Where the walker reads from.
pub(crate) trait Input {
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()>;
    /// Reads one block; `false` at a clean end of input.
    fn block(&mut self, buf: &mut Header) -> io::Result<bool>;
    fn skip(&mut self, n: u64) -> io::Result<()>;
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

/// PAX records, parsed strictly ("LEN key=value\n").
pub(crate) fn pax_records(data: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let sp = rest.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..sp]).ok()?.parse().ok()?;
        let rec = rest.get(..len)?;
        let body = rec.get(sp + 1..len.checked_sub(1)?)?;
        let eq = body.iter().position(|&b| b == b'=')?;
        out.push((body[..eq].to_vec(), body[eq + 1..].to_vec()));
        rest = &rest[len..];
    }
    Some(out)
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
fn checksum_ok(block: &[u8]) -> bool {
    let Some(field) = block.get(148..156) else {
        return false;
    };
    let digits: String = field
        .iter()
        .map(|&b| char::from(b))
        .filter(|c| ('0'..='7').contains(c))
        .collect();
    let Ok(stored) = u32::from_str_radix(&digits, 8) else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .take(512)
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    sum == stored
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
                left: m.size,
                archive: name,
            };
            let path = lossy(&m.path);
            let nested = format!("{name}::{path}");
            let content = match meet {
                None => spool.append(&mut data, cx, &nested)?,
                Some((meet, side)) => {
                    let n = seen.entry(m.path.clone()).or_insert(0);
                    let occurrence = *n;
                    *n += 1;
                    meet.member(
                        side, &path, occurrence, m.size, &mut data, &mut spool, cx, &nested,
                    )?
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
                size: Some(m.size),
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
    let mut comments = walked.conflicts;
    comments.extend(duplicate_comments(&entries));
    super::docker::relabel(&mut entries, cx, name)?;
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
