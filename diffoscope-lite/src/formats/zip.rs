//! Zip and its dialects (wheel, jar, apk, nupkg), read with random access:
//! members are decompressed on demand, each reader with its own cursor over
//! a shared file, so members are compared in parallel.
//!
//! The `zip` crate resolves duplicate names and trusts the central directory
//! silently, so the central directory is also walked here by hand to report
//! duplicate names and local headers that disagree with it (name or sizes):
//! such archives unpack differently with different tools.

use std::os::unix::fs::FileExt;
use std::sync::Arc;

use ::zip::result::ZipError;
use ::zip::ZipArchive;

use super::{lossy, Format, Kind, Parsed};
use crate::model::{
    Container, Content, Cx, Entry, EntryKind, FormatMetadata, MetaField, MetaValue, Metadata,
    PositionedFile, Source,
};
use crate::{Error, Result};

/// Zip archives.
pub struct Zip;

/// Longest symlink target read from a member.
const MAX_LINK: u64 = 4096;

/// Turns a zip-crate error into ours, keeping tripped limits and I/O errors.
pub(crate) fn error(cx: &Cx<'_>, e: ZipError, entry: &str) -> Error {
    match e {
        ZipError::Io(io) => cx.io(io, entry, "reading zip"),
        other => cx.malformed(other, entry, Kind::Zip),
    }
}

impl Format for Zip {
    fn kind(&self) -> Kind {
        Kind::Zip
    }

    fn detect(&self, head: &[u8]) -> bool {
        head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let (file, start, len) = content.as_file(cx, name)?;
        check_declared_entries(&file, start, len, name, cx)?;
        let reader = PositionedFile::new(Arc::clone(&file), start, len);
        let mut archive = ZipArchive::new(reader).map_err(|e| error(cx, e, name))?;
        let mut entries = Vec::new();
        let mut comments = Vec::new();
        let mut raw_names = Vec::new();
        let shared = Arc::new(archive.clone());
        for index in 0..archive.len() {
            let member = archive
                .by_index_raw(index)
                .map_err(|e| error(cx, e, name))?;
            let path = lossy(member.name_raw());
            let nested = format!("{name}::{path}");
            cx.budget.add_entry(&nested)?;
            raw_names.push(member.name_raw().to_vec());
            if let Some(c) = local_header_conflict(&file, start, len, &member) {
                comments.push(format!("{path}: {c}"));
            }
            let kind = if member.is_dir() {
                EntryKind::Dir
            } else if member.is_symlink() {
                EntryKind::Symlink {
                    target: String::new(),
                }
            } else {
                EntryKind::File
            };
            let meta = Metadata {
                mode: member.unix_mode().map(|m| m & 0o7777),
                mtime: member.last_modified().map(|t| {
                    crate::timefmt::epoch_of(
                        i64::from(t.year()),
                        u32::from(t.month()),
                        u32::from(t.day()),
                        u32::from(t.hour()),
                        u32::from(t.minute()),
                        u32::from(t.second()),
                    )
                }),
                size: Some(member.size()),
                order: index,
                format: FormatMetadata {
                    compression: Some(member.compression().to_string()),
                    extra: member.extra_data().map(<[u8]>::to_vec),
                    comment: Some(member.comment().to_owned()).filter(|c| !c.is_empty()),
                    ..FormatMetadata::default()
                }
                .boxed(),
                ..Metadata::default()
            };
            let encrypted = member.encrypted();
            let compressed = member.compressed_size();
            drop(member);
            if encrypted {
                comments.push(format!("{path}: encrypted; content not compared"));
            }
            let content = if encrypted || kind == EntryKind::Dir {
                Content::empty()
            } else {
                Content(Source::Zip {
                    archive: Arc::clone(&shared),
                    index,
                    compressed,
                })
            };
            let kind = match kind {
                EntryKind::Symlink { .. } if !encrypted => EntryKind::Symlink {
                    target: content.with_reader(cx, &nested, |r| {
                        super::read_capped(r, MAX_LINK)
                            .map_err(|e| cx.io(e, &nested, "reading symlink"))
                            .map(|b| b.map_or_else(|| "(target too long)".into(), |b| lossy(&b)))
                    })?,
                },
                k => k,
            };
            let content = if matches!(kind, EntryKind::File) {
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
        comments.extend(central_duplicates(
            &file,
            start,
            len,
            archive.central_directory_start(),
            &raw_names,
        ));
        let mut meta = Vec::new();
        if !archive.comment().is_empty() {
            meta.push((
                MetaField::Header("zip comment"),
                MetaValue::Text(lossy(archive.comment())),
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

/// Checks the entry count the end-of-central-directory record declares
/// before the zip crate sizes a vector by it: more than `--max-entries`
/// trips that limit, more than could fit in the file is malformed.
fn check_declared_entries(
    file: &std::fs::File,
    start: u64,
    len: u64,
    name: &str,
    cx: &Cx<'_>,
) -> Result<()> {
    const EOCD: usize = 22;
    let tail_len = len.min(EOCD as u64 + 0xffff);
    let mut tail = vec![0u8; usize::try_from(tail_len).unwrap_or(0)];
    if file
        .read_exact_at(&mut tail, start + len - tail_len)
        .is_err()
    {
        return Ok(()); // Let the zip crate report what is wrong.
    }
    let Some(at) = tail.windows(4).rposition(|w| w == b"PK\x05\x06") else {
        return Ok(());
    };
    let mut declared = u16_at(&tail, at + 10);
    if declared == 0xffff && at >= 20 && tail.get(at - 20..at - 16) == Some(b"PK\x06\x07") {
        let record = tail.get(at - 12..at - 4).map_or(0, |b| {
            u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        });
        let mut zip64 = [0u8; 40];
        if record.checked_add(40).is_some_and(|end| end <= len)
            && file.read_exact_at(&mut zip64, start + record).is_ok()
        {
            declared = zip64.get(32..40).map_or(0, |b| {
                u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            });
        }
    }
    let max = cx.budget.max_entries();
    if declared > max {
        return Err(cx.budget.exceed_entries(declared, name));
    }
    // Each central directory record takes at least 46 bytes.
    if declared > len / 46 {
        return Err(Error::Malformed {
            entry: name.to_owned(),
            format: Kind::Zip,
            detail: format!(
                "the central directory declares {declared} entries; a {len}-byte file has room for at most {}",
                len / 46
            ),
        });
    }
    Ok(())
}

fn u16_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 2)
        .map_or(0, |s| u64::from(u16::from_le_bytes([s[0], s[1]])))
}

fn u32_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4).map_or(0, |s| {
        u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    })
}

/// Compares a member's local header with its central directory record.
fn local_header_conflict(
    file: &std::fs::File,
    start: u64,
    len: u64,
    member: &::zip::read::ZipFile<'_, PositionedFile>,
) -> Option<String> {
    let at = member.header_start();
    let mut fixed = [0u8; 30];
    if at.checked_add(30)? > len || file.read_exact_at(&mut fixed, start + at).is_err() {
        return Some("local header lies outside the archive".into());
    }
    if u32_at(&fixed, 0) != 0x0403_4b50 {
        return Some("local header signature missing".into());
    }
    let name_len = u16_at(&fixed, 26);
    let mut name = vec![0u8; usize::try_from(name_len).unwrap_or(0)];
    if file.read_exact_at(&mut name, start + at + 30).is_err() {
        return Some("local header name lies outside the archive".into());
    }
    if name != member.name_raw() {
        return Some(format!(
            "local header name {:?} differs from central directory name",
            lossy(&name)
        ));
    }
    let descriptor = u16_at(&fixed, 6) & 0x0008 != 0;
    let (csize, usize_) = (u32_at(&fixed, 18), u32_at(&fixed, 22));
    let zip64 = csize == 0xffff_ffff || usize_ == 0xffff_ffff;
    if !descriptor && !zip64 && (csize != member.compressed_size() || usize_ != member.size()) {
        return Some(format!(
            "local header sizes {csize}/{usize_} differ from central directory sizes {}/{}",
            member.compressed_size(),
            member.size()
        ));
    }
    None
}

/// Walks the central directory by hand to find names that occur more than
/// once (the zip crate keeps only the last of them).
fn central_duplicates(
    file: &std::fs::File,
    start: u64,
    len: u64,
    cd_start: u64,
    kept: &[Vec<u8>],
) -> Vec<String> {
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut pos = cd_start;
    // At most one more record than the crate kept per kept name, and the
    // records must fit in the file: bounded whatever the input says.
    let max_records = kept.len().saturating_mul(4).saturating_add(16);
    while names.len() < max_records && pos.saturating_add(46) <= len {
        let mut fixed = [0u8; 46];
        if file.read_exact_at(&mut fixed, start + pos).is_err() || u32_at(&fixed, 0) != 0x0201_4b50
        {
            break;
        }
        let (n, e, c) = (u16_at(&fixed, 28), u16_at(&fixed, 30), u16_at(&fixed, 32));
        let mut name = vec![0u8; usize::try_from(n).unwrap_or(0)];
        if file.read_exact_at(&mut name, start + pos + 46).is_err() {
            break;
        }
        names.push(name);
        pos += 46 + n + e + c;
    }
    let mut counts: std::collections::BTreeMap<&[u8], usize> = std::collections::BTreeMap::new();
    for n in &names {
        *counts.entry(n.as_slice()).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|(_, c)| *c > 1)
        .map(|(n, c)| {
            format!(
                "duplicate entry name {} ({c} times in the central directory; only the last is compared)",
                lossy(n)
            )
        })
        .collect()
}
