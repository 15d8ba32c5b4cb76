//! Python bytecode caches (`.pyc`): the one parser of their header, and the
//! differ's reader built on it. The header's fields are the container's own
//! metadata, and the marshalled code object after the header is its one
//! entry, `Python bytecode` (a view of the file, named as diffoscope's
//! disassembly is), compared as bytes. The code object is never unmarshalled.
//!
//! A pyc starts with a two-byte little-endian magic number naming the
//! bytecode version, followed by `\r\n`; what comes next depends on that
//! version (CPython's `importlib/_bootstrap_external.py`):
//!
//! - before 3.3 (magic < 3210): the source mtime; 8 bytes in all;
//! - 3.3 to 3.6 (magic < 3392): the source mtime and size; 12 bytes;
//! - 3.7 on (PEP 552): a flags word, then either the source mtime and size
//!   or, when bit 0 (hash-based) is set, a 64-bit hash of the source
//!   (bit 1 says whether the importer checks it); 16 bytes.
//!
//! [`Header::parse`] is what the normalizer (`normalize/pyc.rs`) reads too:
//! where the source mtime is, and whether there is one, is decided here
//! only. The source mtime is a [`MetaValue::Time`], so a pyc whose only
//! difference is when its source was touched gets the timestamp hint.

use std::ops::RangeInclusive;

use super::{Format, Kind, Parsed};
use crate::model::{
    Container, Content, Cx, Entry, EntryKind, MetaField, MetaValue, Metadata, Source,
};
use crate::{Error, Result};

/// Python bytecode caches.
pub struct Pyc;

/// CPython 3's magic numbers.
const MAGIC_RANGE: RangeInclusive<u16> = 3000..=4000;
/// The first magic number whose header records the source size.
const WITH_SIZE: u16 = 3210;
/// The first magic number with a flags word (PEP 552; 3390 and 3391 were
/// 3.7 alphas that still wrote the 12-byte header).
const WITH_FLAGS: u16 = 3392;
/// The longest header: magic, flags, and mtime and size or the hash.
pub(crate) const MAX_HEADER: usize = 16;
/// The name of the one entry: not a member of the file but a view of it,
/// named as diffoscope names its view of a pyc (its disassembly), so that
/// the two reports put the difference in the same place. The view here
/// is the marshalled code object's bytes.
const CODE: &str = "Python bytecode";

/// The first magic number of each Python version, in order.
const VERSIONS: &[(u16, &str)] = &[
    (3000, "3.0"),
    (3141, "3.1"),
    (3160, "3.2"),
    (3190, "3.3"),
    (3250, "3.4"),
    (3320, "3.5"),
    (3360, "3.6"),
    (3390, "3.7"),
    (3400, "3.8"),
    (3420, "3.9"),
    (3430, "3.10"),
    (3450, "3.11"),
    (3500, "3.12"),
    (3550, "3.13"),
    (3600, "3.14"),
];
/// Magic numbers from here on belong to versions newer than the table.
const NEWER: u16 = 3650;

/// The magic number, if `head` starts like a CPython 3 pyc.
pub(crate) fn magic(head: &[u8]) -> Option<u16> {
    match head {
        [lo, hi, b'\r', b'\n', ..] => {
            Some(u16::from_le_bytes([*lo, *hi])).filter(|m| MAGIC_RANGE.contains(m))
        }
        _ => None,
    }
}

fn header_len(magic: u16) -> usize {
    match magic {
        m if m < WITH_SIZE => 8,
        m if m < WITH_FLAGS => 12,
        _ => MAX_HEADER,
    }
}

/// How the importer decides whether a pyc is stale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Invalidation {
    /// By the source's mtime (and, from 3.3 on, its size).
    Timestamp {
        /// The recorded source mtime.
        mtime: u32,
        /// Where the mtime field is in the file.
        mtime_at: usize,
        /// The recorded source size; `None` before 3.3.
        size: Option<u32>,
    },
    /// By a hash of the source (PEP 552): there is no time to clamp.
    Hash([u8; 8]),
}

/// A pyc header, parsed once for every user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// The magic number.
    pub(crate) magic: u16,
    /// Header length in bytes; the code object starts here.
    pub(crate) len: usize,
    /// The PEP 552 flags word; `None` before it existed.
    pub(crate) flags: Option<u32>,
    /// How staleness is checked, with the fields that check reads.
    pub(crate) invalidation: Invalidation,
}

fn u32_at(h: &[u8], at: usize) -> Option<u32> {
    let b = h.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

impl Header {
    /// Parses the header from the file's first bytes (at least
    /// [`MAX_HEADER`] of them when the file is that long). A head that is
    /// not a pyc or ends inside the header is malformed, named `name`.
    pub(crate) fn parse(head: &[u8], name: &str) -> Result<Header> {
        let bad = |detail: String| Error::Malformed {
            entry: name.to_owned(),
            format: Kind::Pyc,
            detail,
        };
        let magic = magic(head).ok_or_else(|| bad("no pyc magic number".into()))?;
        let len = header_len(magic);
        let h = head.get(..len).ok_or_else(|| {
            bad(format!(
                "{} bytes are too short for the {len}-byte header of magic {magic}",
                head.len()
            ))
        })?;
        // Every field below lies inside `h`, whose length the magic fixed;
        // the fallbacks are unreachable.
        let flags = (magic >= WITH_FLAGS).then(|| u32_at(h, 4).unwrap_or(0));
        let fields = if flags.is_some() { 8 } else { 4 };
        // CPython reads bit 0 only to choose hash-based checking; bit 1
        // without it is still timestamp-based.
        let invalidation = match flags {
            Some(f) if f & 1 != 0 => {
                let mut hash = [0u8; 8];
                hash.copy_from_slice(h.get(fields..fields + 8).unwrap_or(&[0; 8]));
                Invalidation::Hash(hash)
            }
            _ => Invalidation::Timestamp {
                mtime: u32_at(h, fields).unwrap_or(0),
                mtime_at: fields,
                size: u32_at(h, fields + 4),
            },
        };
        Ok(Header {
            magic,
            len,
            flags,
            invalidation,
        })
    }

    /// The named fields, as the differ shows them.
    fn fields(&self) -> Vec<(MetaField, MetaValue)> {
        let version = match VERSIONS
            .iter()
            .rev()
            .find(|(first, _)| *first <= self.magic)
        {
            _ if self.magic >= NEWER => "newer than 3.14",
            Some((_, v)) => v,
            None => "3",
        };
        let mut out = vec![(
            MetaField::Header("pyc magic"),
            MetaValue::Text(format!("{} (Python {version})", self.magic)),
        )];
        if let Some(flags) = self.flags {
            let kind = match flags {
                0 => "timestamp-based",
                1 => "hash-based, unchecked",
                3 => "hash-based, checked",
                _ => "unknown bits set",
            };
            out.push((
                MetaField::Header("pyc flags"),
                MetaValue::Text(format!("{flags} ({kind})")),
            ));
        }
        match &self.invalidation {
            Invalidation::Timestamp { mtime, size, .. } => {
                out.push((
                    MetaField::Header("pyc source mtime"),
                    MetaValue::Time(i64::from(*mtime)),
                ));
                if let Some(size) = size {
                    out.push((
                        MetaField::Header("pyc source size"),
                        MetaValue::Number(u64::from(*size)),
                    ));
                }
            }
            Invalidation::Hash(hash) => out.push((
                MetaField::Header("pyc source hash"),
                MetaValue::Bytes(hash.to_vec()),
            )),
        }
        out
    }
}

impl Format for Pyc {
    fn kind(&self) -> Kind {
        Kind::Pyc
    }

    fn detect(&self, head: &[u8]) -> bool {
        magic(head).is_some()
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let head = content.head(cx, name, MAX_HEADER)?;
        let header = Header::parse(&head, name)?;
        let (file, start, len) = content.as_file(cx, name)?;
        let body = len.saturating_sub(header.len as u64);
        cx.budget.add_entry(&format!("{name}::{CODE}"))?;
        Ok(Parsed::Container(Container {
            format: Kind::Pyc,
            entries: vec![Entry {
                path: CODE.to_owned(),
                kind: EntryKind::File,
                meta: Metadata {
                    size: Some(body),
                    ..Metadata::default()
                },
                content: Content(Source::Range {
                    file,
                    offset: start + header.len as u64,
                    len: body,
                }),
                digest: None,
            }],
            meta: header.fields(),
            comments: Vec::new(),
            single_stream: false,
            ordered: false,
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn shown(m: u16) -> String {
        let mut head = m.to_le_bytes().to_vec();
        head.extend_from_slice(b"\r\n");
        head.resize(16, 0);
        Header::parse(&head, "t").unwrap().fields()[0].1.to_string()
    }

    #[test]
    fn magic_numbers_and_versions() {
        assert_eq!(magic(b"\xa7\x0d\x0d\x0a"), Some(3495));
        assert_eq!(magic(b"\xa7\x0d\x0d"), None);
        assert_eq!(magic(b"\xa7\x0d\x0a\x0d"), None);
        // Python 2.7's magic is outside CPython 3's range.
        assert_eq!(magic(b"\x03\xf3\x0d\x0a"), None);
        assert_eq!(shown(3495), "\"3495 (Python 3.11)\"");
        assert_eq!(shown(3390), "\"3390 (Python 3.7)\"");
        assert_eq!(shown(3700), "\"3700 (Python newer than 3.14)\"");
        assert_eq!(header_len(3150), 8);
        assert_eq!(header_len(3379), 12);
        assert_eq!(header_len(3391), 12);
        assert_eq!(header_len(3392), 16);
    }

    #[test]
    fn the_flags_word_starts_at_3392() {
        // 3390 and 3391 (3.7 alphas) have no flags word: the mtime is at 4,
        // whatever the bytes after it look like.
        let mut h = 3391u16.to_le_bytes().to_vec();
        h.extend_from_slice(b"\r\n");
        h.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        h.extend_from_slice(&7u32.to_le_bytes());
        h.extend_from_slice(&[0xff; 4]);
        let p = Header::parse(&h, "t").unwrap();
        assert_eq!(p.len, 12);
        assert_eq!(p.flags, None);
        assert_eq!(
            p.invalidation,
            Invalidation::Timestamp {
                mtime: 1_700_000_000,
                mtime_at: 4,
                size: Some(7)
            }
        );
        h[..2].copy_from_slice(&3392u16.to_le_bytes());
        let p = Header::parse(&h, "t").unwrap();
        assert_eq!((p.len, p.flags), (16, Some(1_700_000_000)));
        assert!(matches!(p.invalidation, Invalidation::Timestamp { .. }));
    }
}
