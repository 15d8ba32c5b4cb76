//! Zip and its dialects (wheel, jar, apk, nupkg), read with random access:
//! members are decompressed on demand, each from its own byte range of a
//! shared file, so members are compared in parallel.
//!
//! [`reader::read`] is the one parser of zip: the differ lists the entries
//! from it ([`Zip`]), the normalizer (`normalize/zip.rs`) rewrites from it
//! and the normalized digest hashes what it yields. None parses a header on
//! its own. What the reader finds disagreeing in an archive (local and
//! central headers, end records, duplicate names, hidden or overlapping
//! entries, descriptors, zip64 fields, unsafe names) the differ reports as
//! comments on the archive; the normalizer refuses the archive.
//!
//! Member data is decompressed here ([`MemberData`]) with flate2, deflate64,
//! bzip2 and zstd; its CRC-32 and size are checked against the central
//! directory as it is read, and a mismatch is an error naming the entry.

use std::io::{self, Read};
use std::sync::Arc;

use super::{lossy, Format, Kind, Parsed};
use crate::blob::Blob;
use crate::model::{
    read_full, Container, Content, Cx, Entry, EntryKind, FormatMetadata, MetaField, MetaValue,
    Metadata, Source,
};
use crate::{Error, Result};

pub(crate) mod document;
pub(crate) mod reader;

pub(crate) use reader::{read, Archive, ConflictKind, Member, Refusal};

/// Zip archives.
pub struct Zip;

/// Longest symlink target read from a member.
const MAX_LINK: u64 = 4096;

impl Format for Zip {
    fn kind(&self) -> Kind {
        Kind::Zip
    }

    fn detect(&self, head: &[u8]) -> bool {
        // Behind a known prefix too (a jmod, a zipapp): see `zip_start`.
        reader::zip_start(head).is_some()
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let archive = read(&content.blob(cx, name)?, name, cx.budget)?;
        let mut comments: Vec<String> =
            archive.conflicts.iter().map(|c| c.detail.clone()).collect();
        let mut entries = Vec::with_capacity(archive.members.len());
        for (order, m) in archive.members.iter().enumerate() {
            let path = m.path();
            let meta = Metadata {
                mode: m.mode().map(|mode| mode & 0o7777),
                mtime: m.mtime(),
                size: Some(m.usize),
                order,
                format: FormatMetadata {
                    compression: Some(m.method_name()),
                    extra: m.shown_extra(),
                    compressed_size: Some(m.csize),
                    comment: Some(lossy(&m.comment)).filter(|c| !c.is_empty()),
                    attributes: internal_attributes(m.internal),
                    ..FormatMetadata::default()
                }
                .boxed(),
                ..Metadata::default()
            };
            let encrypted = m.encrypted();
            if encrypted {
                comments.push(format!("{path}: encrypted; content not compared"));
            }
            let content = if encrypted || m.is_dir() {
                Content::empty()
            } else {
                Content(Source::Stored(Arc::new(MemberData::of(m))))
            };
            let kind = if m.is_dir() {
                EntryKind::Dir
            } else if m.is_symlink() {
                let nested = format!("{name}::{path}");
                let target = if encrypted {
                    String::new()
                } else {
                    content.with_reader(cx, &nested, |r| {
                        super::read_capped(r, MAX_LINK)
                            .map_err(|e| cx.io(e, &nested, "reading symlink"))
                            .map(|b| b.map_or_else(|| "(target too long)".into(), |b| lossy(&b)))
                    })?
                };
                EntryKind::Symlink { target }
            } else {
                EntryKind::File
            };
            let content = if kind == EntryKind::File {
                content
            } else {
                Content::empty()
            };
            entries.push(Entry {
                path,
                kind,
                meta,
                content,
                digest: None,
            });
        }
        let mut meta = Vec::new();
        if !archive.comment.is_empty() {
            meta.push((
                MetaField::Header("zip comment"),
                MetaValue::Text(lossy(&archive.comment)),
            ));
        }
        Ok(Parsed::Container(Container {
            format: Kind::Zip,
            entries,
            meta,
            comments,
            single_stream: false,
            ordered: true,
        }))
    }
}

/// One member's stored data and what it must decompress to: the content of
/// a zip entry in the differ.
pub(crate) struct MemberData {
    /// The compressed bytes.
    data: Blob,
    /// Compression method.
    method: u16,
    /// CRC-32 the central directory declares.
    crc: u32,
    /// Uncompressed size the central directory declares.
    size: u64,
}

impl crate::model::Stored for MemberData {
    fn compressed_len(&self) -> u64 {
        MemberData::compressed_len(self)
    }

    fn open(&self, entry: &str) -> Box<dyn Read + Send> {
        MemberData::open(self, entry)
    }

    fn same_stored(&self, other: &dyn crate::model::Stored) -> bool {
        other
            .as_any()
            .downcast_ref::<MemberData>()
            .is_some_and(|o| self.same_as(o))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The central directory's internal attributes, when set: bit 0 is the
/// text flag zipinfo shows (`t-` for text, `b-` for binary), which
/// writers set by guessing and readers may use for line endings; other
/// bits are shown as the number. Nothing when zero, the common case, so
/// that most entries carry no attribute list.
fn internal_attributes(internal: u16) -> Vec<(&'static str, MetaValue)> {
    match internal {
        0 => Vec::new(),
        1 => vec![(INTERNAL_ATTRIBUTES, MetaValue::Text(TEXT_FLAG.into()))],
        n => vec![(INTERNAL_ATTRIBUTES, MetaValue::Text(format!("{n:#06x}")))],
    }
}

/// The attribute name of a zip entry's internal attributes.
pub(crate) const INTERNAL_ATTRIBUTES: &str = "internal attributes";

/// Its value when only the text flag is set.
pub(crate) const TEXT_FLAG: &str = "text";

impl MemberData {
    /// The data of `m`.
    pub(crate) fn of(m: &Member) -> Self {
        MemberData {
            data: m.data.clone(),
            method: m.method,
            crc: m.crc,
            size: m.usize,
        }
    }

    /// Compressed length: what a decompressing read consumes at most.
    pub(crate) fn compressed_len(&self) -> u64 {
        self.data.len()
    }

    /// A reader of the decompressed data, named `entry` in errors. An
    /// unknown method is read as stored (the reader reported it); a known
    /// one is checked against the declared CRC-32 and size.
    pub(crate) fn open(&self, entry: &str) -> Box<dyn Read + Send> {
        let raw = self.data.reader();
        // Buffers of 64 KiB: members are read with positioned reads, one
        // system call per fill.
        const BUF: usize = 64 << 10;
        // No bigger than the compressed data: zeroing 64 KiB for each small
        // member showed in profiles of archives of many.
        let fill = usize::try_from(self.compressed_len()).map_or(BUF, |n| n.clamp(1, BUF));
        let decoder: Box<dyn Read + Send> = match self.method {
            8 => Box::new(flate2::read::DeflateDecoder::new_with_buf(
                raw,
                vec![0; fill],
            )),
            9 => Box::new(deflate64::Deflate64Decoder::with_buffer(
                io::BufReader::with_capacity(BUF, raw),
            )),
            12 => Box::new(::bzip2::read::BzDecoder::new(raw)),
            93 => match ::zstd::stream::read::Decoder::with_buffer(io::BufReader::with_capacity(
                BUF, raw,
            )) {
                Ok(d) => Box::new(d),
                Err(e) => Box::new(Failed(Some(e))),
            },
            0 => Box::new(raw),
            _ => return Box::new(raw),
        };
        Box::new(Checked {
            inner: decoder,
            crc: crate::hash::Crc32::new(),
            produced: 0,
            expect_crc: self.crc,
            expect_size: self.size,
            entry: entry.to_owned(),
        })
    }

    /// Whether `self` and `other` are stored alike: same method, CRC-32,
    /// sizes and compressed bytes, hence the same content. False means
    /// "cannot tell this way", not "different".
    pub(crate) fn same_as(&self, other: &MemberData) -> bool {
        if (self.method, self.crc, self.size, self.data.len())
            != (other.method, other.crc, other.size, other.data.len())
        {
            return false;
        }
        let (mut x, mut y) = (self.data.reader(), other.data.reader());
        let (mut bx, mut by) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
        loop {
            let n = match read_full(&mut x, &mut bx) {
                Ok(n) => n,
                Err(_) => return false,
            };
            match read_full(&mut y, &mut by[..n.max(1)]) {
                Ok(m) if m == n && bx[..n] == by[..n] => {}
                _ => return false,
            }
            if n < bx.len() {
                // Both ended at the same point (equal lengths).
                return true;
            }
        }
    }
}

impl std::fmt::Debug for MemberData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "method {} {:?}", self.method, self.data)
    }
}

/// A decoder that could not be made: its error on the first read.
struct Failed(Option<io::Error>);

impl Read for Failed {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| io::Error::other("decoder unavailable")))
    }
}

/// Checks decompressed data against the declared CRC-32 and size: more
/// bytes than declared fail at once (a bomb stops there), fewer or another
/// CRC-32 at the end.
struct Checked {
    inner: Box<dyn Read + Send>,
    crc: crate::hash::Crc32,
    produced: u64,
    expect_crc: u32,
    expect_size: u64,
    entry: String,
}

/// The detail of a CRC-32 or size contradiction that a reader of
/// [`MemberData::open`] failed with, if `err` is one: such errors carry a
/// zip [`Error::Malformed`], which nothing else in that reader makes (the
/// decoders fail with plain I/O errors, the limits trip the budget).
pub(crate) fn contradiction(err: &io::Error) -> Option<&str> {
    match err.get_ref()?.downcast_ref::<Error>()? {
        Error::Malformed {
            format: Kind::Zip,
            detail,
            ..
        } => Some(detail),
        _ => None,
    }
}

impl Checked {
    fn mismatch(&self, detail: String) -> io::Error {
        // Carried inside the io::Error; `Budget::io_error` takes it out,
        // `contradiction` recognises it.
        io::Error::other(Error::Malformed {
            entry: self.entry.clone(),
            format: Kind::Zip,
            detail,
        })
    }
}

impl Read for Checked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        if self.produced > self.expect_size {
            return Err(self.mismatch(format!(
                "the data decompresses to more than the {} bytes the central directory declares",
                self.expect_size
            )));
        }
        self.crc.update(&buf[..n]);
        if n == 0 && !buf.is_empty() {
            if self.produced != self.expect_size {
                return Err(self.mismatch(format!(
                    "the data decompresses to {} bytes; the central directory declares {}",
                    self.produced, self.expect_size
                )));
            }
            if self.crc.sum() != self.expect_crc {
                return Err(self.mismatch(format!(
                    "the data has CRC-32 {:#010x}; the central directory declares {:#010x}",
                    self.crc.sum(),
                    self.expect_crc
                )));
            }
        }
        Ok(n)
    }
}
