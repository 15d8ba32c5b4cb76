//! Python bytecode caches (`.pyc`): the header's fields are the container's
//! own metadata, and the marshalled code object after the header is its one
//! entry, compared as bytes. The code object is never unmarshalled.
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
//! The source mtime is a [`MetaValue::Time`], so a pyc whose only difference
//! is when its source was touched gets the timestamp hint.

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
/// The first magic number with a flags word (PEP 552).
const WITH_FLAGS: u16 = 3392;
/// The name of the one entry.
const CODE: &str = "code object";

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

fn magic(head: &[u8]) -> Option<u16> {
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
        _ => 16,
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
        let bad = |detail: String| Error::Malformed {
            entry: name.to_owned(),
            format: Kind::Pyc,
            detail,
        };
        let head = content.head(cx, name, 16)?;
        let magic = magic(&head).ok_or_else(|| bad("no pyc magic number".into()))?;
        let header = header_len(magic);
        if head.len() < header {
            return Err(bad(format!(
                "{} bytes are too short for the {header}-byte header of magic {magic}",
                head.len()
            )));
        }
        let (file, start, len) = content.as_file(cx, name)?;
        let body = len.saturating_sub(header as u64);
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
                    offset: start + header as u64,
                    len: body,
                }),
                digest: None,
            }],
            meta: header_fields(magic, &head[..header]),
            comments: Vec::new(),
            single_stream: false,
            ordered: false,
        }))
    }
}

fn u32_at(h: &[u8], at: usize) -> Option<u32> {
    let b = h.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The named fields of a header of [`header_len`] bytes.
fn header_fields(magic: u16, h: &[u8]) -> Vec<(MetaField, MetaValue)> {
    let version = match VERSIONS.iter().rev().find(|(first, _)| *first <= magic) {
        _ if magic >= NEWER => "newer than 3.14",
        Some((_, v)) => v,
        None => "3",
    };
    let mut out = vec![(
        MetaField::Header("pyc magic"),
        MetaValue::Text(format!("{magic} (Python {version})")),
    )];
    let flags = if magic < WITH_FLAGS {
        0
    } else {
        let flags = u32_at(h, 4).unwrap_or(0);
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
        flags
    };
    let fields = if magic < WITH_FLAGS { 4 } else { 8 };
    if flags & 1 == 0 {
        if let Some(mtime) = u32_at(h, fields) {
            out.push((
                MetaField::Header("pyc source mtime"),
                MetaValue::Time(i64::from(mtime)),
            ));
        }
        if let Some(size) = u32_at(h, fields + 4) {
            out.push((
                MetaField::Header("pyc source size"),
                MetaValue::Number(u64::from(size)),
            ));
        }
    } else if let Some(hash) = h.get(fields..fields + 8) {
        out.push((
            MetaField::Header("pyc source hash"),
            MetaValue::Bytes(hash.to_vec()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers_and_versions() {
        assert_eq!(magic(b"\xa7\x0d\x0d\x0a"), Some(3495));
        assert_eq!(magic(b"\xa7\x0d\x0d"), None);
        assert_eq!(magic(b"\xa7\x0d\x0a\x0d"), None);
        // Python 2.7's magic is outside CPython 3's range.
        assert_eq!(magic(b"\x03\xf3\x0d\x0a"), None);
        let shown = |m: u16| header_fields(m, &[0; 16])[0].1.to_string();
        assert_eq!(shown(3495), "\"3495 (Python 3.11)\"");
        assert_eq!(shown(3390), "\"3390 (Python 3.7)\"");
        assert_eq!(shown(3700), "\"3700 (Python newer than 3.14)\"");
        assert_eq!(header_len(3150), 8);
        assert_eq!(header_len(3379), 12);
        assert_eq!(header_len(3392), 16);
    }
}
