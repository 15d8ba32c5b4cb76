//! Format readers: one file per format, one [`Format`] trait, one [`REGISTRY`].
//!
//! Formats are detected by content (magic bytes), never by file name: a zip
//! named `.txt` is read as a zip. [`detect`] walks the registry in order and
//! returns the closed [`Kind`] enum, so a `match` shows every format at once.
//! Adding a format is one file implementing [`Format`] plus one line in
//! [`REGISTRY`] and one [`Kind`] variant.
//!
//! Readers never create files named by an archive and never allocate by a
//! size an archive declares; what they find odd (duplicate names,
//! conflicting headers) they report in [`Container::comments`].

use std::io::{self, Read};

use crate::model::{Container, Content, Cx, Entry, EntryKind, MetaField, MetaValue, Metadata};
use crate::Result;

pub(crate) mod android;
pub(crate) mod ar;
pub(crate) mod bzip2;
pub(crate) mod cpio;
pub(crate) mod directory;
pub(crate) mod disassembly;
pub(crate) mod docker;
pub(crate) mod dwarf;
pub(crate) mod elf;
pub(crate) mod elf_symbols;
pub(crate) mod gzip;
pub(crate) mod iso9660;
pub(crate) mod json;
pub(crate) mod lz4;
pub(crate) mod lzip;
pub(crate) mod lzma;
pub(crate) mod macho;
pub(crate) mod oci;
pub(crate) mod pgp;
pub(crate) mod posix;
pub(crate) mod pyc;
pub(crate) mod ranged;
pub(crate) mod rust_object;
pub(crate) mod squashfs;
pub(crate) mod tar;
pub(crate) mod text;
pub(crate) mod xz;
pub(crate) mod zip;
pub(crate) mod zstd;

/// How many leading bytes content detection looks at: enough to reach an
/// ISO 9660 volume descriptor, which follows 32 KiB of system area.
pub const HEAD_LEN: usize = 32 * 1024 + 8;

pub use crate::kind::Kind;

/// What a reader made of some content.
#[derive(Debug)]
pub enum Parsed {
    /// A container with entries.
    Container(Container),
    /// Text to diff line by line.
    Text(String),
    /// Not what detection guessed after all (or too large to diff as text):
    /// compare as bytes.
    Binary,
}

/// One format: how to recognise it and how to read it.
pub trait Format: Sync {
    /// Which [`Kind`] this format detects.
    fn kind(&self) -> Kind;

    /// Whether `head` (the first up to [`HEAD_LEN`] bytes, fewer if the
    /// content is shorter) starts like this format.
    fn detect(&self, head: &[u8]) -> bool;

    /// Reads `content`, named `entry` in errors, into entries or text.
    fn read(&self, content: &Content, entry: &str, cx: &Cx<'_>) -> Result<Parsed>;

    /// Reads both sides of a pair. Formats read as one stream override it
    /// to compare members while both streams pass; others read each side
    /// on its own.
    fn read_pair(
        &self,
        (ca, na, cxa): (&Content, &str, &Cx<'_>),
        (cb, nb, cxb): (&Content, &str, &Cx<'_>),
    ) -> (Result<Parsed>, Result<Parsed>) {
        rayon::join(|| self.read(ca, na, cxa), || self.read(cb, nb, cxb))
    }

    /// For single-stream compressors: a decoder over the compressed bytes.
    fn decoder<'a>(
        &self,
        _compressed: Box<dyn Read + 'a>,
    ) -> Option<io::Result<Box<dyn Read + 'a>>> {
        None
    }
}

/// The decoder of the single-stream compressor `kind` over `compressed`:
/// what the model calls to decompress content it holds.
pub(crate) fn decode<'a>(
    kind: Kind,
    compressed: Box<dyn Read + 'a>,
) -> Option<io::Result<Box<dyn Read + 'a>>> {
    format_of(kind).decoder(compressed)
}

/// Every format, in detection order: the most specific magic first, text last.
pub static REGISTRY: &[&dyn Format] = &[
    &directory::Directory,
    &oci::OciLayout,
    &zip::Zip,
    &tar::Tar,
    &gzip::Gzip,
    &xz::Xz,
    &zstd::Zstd,
    &bzip2::Bzip2,
    &lz4::Lz4,
    &lzip::Lzip,
    &ar::Ar,
    &elf::Elf,
    &macho::MachO,
    &rust_object::RustObject,
    &pyc::Pyc,
    &cpio::Cpio,
    &squashfs::Squashfs,
    &iso9660::Iso9660,
    &android::AndroidBoot,
    // No magic number: after every format that has one.
    &lzma::Lzma,
    // A packet header is a weak magic: after the others.
    &pgp::Pgp,
    &json::Json,
    &text::Text,
];

/// Detects the format of content from its first bytes.
pub fn detect(head: &[u8]) -> Kind {
    REGISTRY
        .iter()
        .find(|f| f.detect(head))
        .map_or(Kind::Binary, |f| f.kind())
}

/// How far from the end of a zip its end record can start: its 22 bytes
/// and the longest comment.
const ZIP_TAIL: u64 = 22 + 0xffff;

/// A second format that also reads the whole of `blob`, content detected
/// as `kind` (a polyglot: a tar whose last member ends in a zip's end
/// record, a zip behind a tar header), in the words the differ reports
/// and the normalizer refuses with. Cheap on purpose: the zip end record
/// in the last 64 KiB of what is not a zip, the tar magic and checksum at
/// the start of what is not a tar.
pub(crate) fn also_reads_as(kind: Kind, blob: &crate::blob::Blob) -> io::Result<Option<String>> {
    let start = blob.len().saturating_sub(ZIP_TAIL);
    let ends = Kept {
        head: blob.head(tar::BLOCK)?,
        tail: blob.read_vec(start, blob.len() - start)?,
        len: blob.len(),
    };
    ends.also_reads_as(kind, &mut |at, n| blob.read_vec(at, n))
}

/// The number of entries of a zip whose end record (and central
/// directory) ends `blob`, whatever comes before it: a zip behind a stub.
pub(crate) fn zip_at_end(blob: &crate::blob::Blob) -> io::Result<Option<u16>> {
    let start = blob.len().saturating_sub(ZIP_TAIL);
    let tail = blob.read_vec(start, blob.len() - start)?;
    zip_end(&tail, start, &mut |at, n| blob.read_vec(at, n))
}

/// [`also_reads_as`] for content that is read as a stream (the
/// decompressed stream of a gzip, xz, zstd or bzip2 file, which the differ
/// never spools): read once through [`Ends`], and once more only when a
/// zip end record's central directory lies before the bytes kept.
pub(crate) fn stream_also_reads_as(
    content: &Content,
    entry: &str,
    cx: &Cx<'_>,
) -> Result<Option<String>> {
    // Read once more only when no read went through the stream yet (the
    // differ reads a compressed tarball's stream to its end, and keeps its
    // ends as it passes).
    let read;
    let kept = match content.stream_ends() {
        Some(kept) => kept,
        None => {
            read = content.with_reader(cx, entry, |r| {
                let mut ends = Ends::new(r);
                io::copy(&mut ends, &mut io::sink()).map_err(|e| cx.io(e, entry, "reading"))?;
                Ok(ends.kept)
            })?;
            &read
        }
    };
    kept.also_reads_as(detect(&kept.head), &mut |at, n| {
        content
            .with_reader(cx, entry, |r| {
                read_at(r, at, n).map_err(|e| cx.io(e, entry, "reading"))
            })
            .map_err(io::Error::other)
    })
    .map_err(|e| cx.io(e, entry, "reading"))
}

/// `n` bytes at offset `at` of what `r` yields (fewer at its end).
pub(crate) fn read_at(r: &mut dyn Read, at: u64, n: u64) -> io::Result<Vec<u8>> {
    io::copy(&mut r.take(at), &mut io::sink())?;
    let mut buf = Vec::new();
    r.take(n).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The first and last bytes of some content: what [`also_reads_as`] looks
/// at.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    /// The first [`HEAD_LEN`] bytes (fewer if the content is shorter).
    pub(crate) head: Vec<u8>,
    /// The last bytes, at least [`ZIP_TAIL`] of them when there are that many.
    tail: Vec<u8>,
    /// The content's length.
    len: u64,
}

impl Kept {
    /// The second format that reads the content too, detected as `kind`;
    /// `read_at(offset, n)` gives bytes before the kept tail.
    pub(crate) fn also_reads_as(
        &self,
        kind: Kind,
        read_at: &mut dyn FnMut(u64, u64) -> io::Result<Vec<u8>>,
    ) -> io::Result<Option<String>> {
        if kind != Kind::Zip && kind != Kind::Directory {
            let keep = self.tail.len().min(ZIP_TAIL as usize);
            let tail = &self.tail[self.tail.len() - keep..];
            if let Some(n) = zip_end(tail, self.len - keep as u64, read_at)? {
                return Ok(Some(format!("also reads as zip: {n} entries")));
            }
        }
        if kind != Kind::Tar {
            let head = self.head.get(..tar::BLOCK).unwrap_or(&self.head);
            if head.get(257..262) == Some(b"ustar") && tar::checksum_ok(head) {
                return Ok(Some(
                    "also reads as tar: a tar header starts the file".into(),
                ));
            }
        }
        Ok(None)
    }
}

/// A reader that keeps the first and last bytes of what passes through it
/// ([`Kept`]), so content read once (a decompressed stream) can be asked
/// what [`also_reads_as`] asks of a file.
pub(crate) struct Ends<R> {
    inner: R,
    /// What was kept so far.
    pub(crate) kept: Kept,
}

impl<R: Read> Ends<R> {
    /// Keeps the ends of what `inner` yields.
    pub(crate) fn new(inner: R) -> Self {
        Ends {
            inner,
            kept: Kept::default(),
        }
    }
}

impl<R: Read> Read for Ends<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = &buf[..n];
        let k = &mut self.kept;
        let room = HEAD_LEN.saturating_sub(k.head.len()).min(n);
        k.head.extend_from_slice(&got[..room]);
        k.tail.extend_from_slice(got);
        // Trimmed to the last ZIP_TAIL bytes once twice that: each byte
        // is moved at most once.
        if k.tail.len() > 2 * ZIP_TAIL as usize {
            k.tail.drain(..k.tail.len() - ZIP_TAIL as usize);
        }
        k.len += n as u64;
        Ok(n)
    }
}

/// The entry count of a zip whose end record ends `tail` (the bytes of
/// the content from `start`) and whose central directory starts where it
/// says; `read_at` gives bytes before `start`.
fn zip_end(
    tail: &[u8],
    start: u64,
    read_at: &mut dyn FnMut(u64, u64) -> io::Result<Vec<u8>>,
) -> io::Result<Option<u16>> {
    let le16 = |at: usize| u16::from_le_bytes([tail[at], tail[at + 1]]);
    let le32 = |at: usize| u32::from_le_bytes([tail[at], tail[at + 1], tail[at + 2], tail[at + 3]]);
    let Some(last) = tail.len().checked_sub(22) else {
        return Ok(None);
    };
    for pos in (0..=last).rev() {
        if &tail[pos..pos + 4] != b"PK\x05\x06" {
            continue;
        }
        // The record and its comment must end the file exactly.
        if pos + 22 + usize::from(le16(pos + 20)) != tail.len() {
            continue;
        }
        let entries = le16(pos + 10);
        let cd_size = u64::from(le32(pos + 12));
        let end = start + pos as u64;
        if entries == 0 || cd_size > end {
            continue;
        }
        // Where the central directory is, whatever precedes the zip.
        let at = end - cd_size;
        let sig = match at.checked_sub(start) {
            Some(i) => tail.get(i as usize..i as usize + 4).map(<[u8]>::to_vec),
            None => Some(read_at(at, 4)?),
        };
        if sig.as_deref() == Some(b"PK\x01\x02") {
            return Ok(Some(entries));
        }
    }
    Ok(None)
}

/// The registered reader of `kind` ([`text::Text`] for [`Kind::Binary`],
/// which only ever answers [`Parsed::Binary`] for non-text).
pub(crate) fn format_of(kind: Kind) -> &'static dyn Format {
    REGISTRY
        .iter()
        .copied()
        .find(|f| f.kind() == kind)
        .unwrap_or(&text::Text)
}

/// Reads at most `cap` bytes; `None` if there were more.
pub(crate) fn read_capped(r: &mut dyn Read, cap: u64) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    r.take(cap.saturating_add(1)).read_to_end(&mut buf)?;
    Ok(if buf.len() as u64 > cap {
        None
    } else {
        Some(buf)
    })
}

/// Lossy UTF-8 of a stored name or header string.
pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The container of a single-stream compressor: one entry whose content is
/// the decompressed stream, named after the input without its suffix.
pub(crate) fn single_stream(
    kind: Kind,
    content: &Content,
    entry: &str,
    suffixes: &[(&str, &str)],
    meta: Vec<(MetaField, MetaValue)>,
) -> Container {
    let name = stream_name(entry, suffixes);
    Container {
        format: kind,
        entries: vec![Entry {
            path: name,
            kind: EntryKind::File,
            meta: Metadata::default(),
            content: Content::decompressed(kind, decode, std::sync::Arc::new(content.clone())),
            digest: None,
        }],
        meta,
        comments: Vec::new(),
        single_stream: true,
        ordered: false,
    }
}

/// What a compressor without header metadata reads as: its one stream.
pub(crate) fn bare_stream(
    kind: Kind,
    content: &Content,
    entry: &str,
    suffixes: &[(&str, &str)],
) -> Parsed {
    Parsed::Container(single_stream(kind, content, entry, suffixes, Vec::new()))
}

/// The name of the one stream inside a compressed file: the file's base
/// name without its suffix (`a.tar.gz` → `a.tar`, `x.tgz` → `x.tar`).
pub(crate) fn stream_name(entry: &str, suffixes: &[(&str, &str)]) -> String {
    let base = entry.rsplit("::").next().unwrap_or(entry);
    let base = base.rsplit('/').next().unwrap_or(base);
    suffixes
        .iter()
        .find_map(|(suffix, replacement)| {
            base.strip_suffix(suffix)
                .filter(|stem| !stem.is_empty())
                .map(|stem| format!("{stem}{replacement}"))
        })
        .unwrap_or_else(|| format!("{base}-content"))
}

/// The container of an archive's members, in archive order, with its own
/// header fields, what its reader found odd and the names stored twice.
pub(crate) fn archive(
    format: Kind,
    entries: Vec<Entry>,
    meta: Vec<(MetaField, MetaValue)>,
    mut comments: Vec<String>,
) -> Parsed {
    comments.extend(duplicate_comments(&entries));
    Parsed::Container(Container {
        format,
        entries,
        meta,
        comments,
        single_stream: false,
        ordered: true,
    })
}

/// A member that is a plain file with no metadata of its own (a part of a
/// boot image, a signed message's contents), at position `order`.
pub(crate) fn plain_entry(order: usize, path: &str, content: Content) -> Entry {
    Entry {
        path: path.to_owned(),
        kind: EntryKind::File,
        meta: Metadata {
            order,
            ..Metadata::default()
        },
        content,
        digest: None,
    }
}

/// Reports names that occur more than once, in first-seen order.
pub(crate) fn duplicate_comments(entries: &[Entry]) -> Vec<String> {
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for e in entries {
        *counts.entry(&e.path).or_default() += 1;
    }
    let mut seen = std::collections::HashSet::new();
    entries
        .iter()
        .filter(|e| counts.get(e.path.as_str()).copied().unwrap_or(0) > 1 && seen.insert(&e.path))
        .map(|e| {
            format!(
                "duplicate entry name {} ({} times)",
                e.path,
                counts.get(e.path.as_str()).copied().unwrap_or(0)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_decide() {
        assert_eq!(detect(b"PK\x03\x04rest"), Kind::Zip);
        assert_eq!(detect(b"PK\x05\x06"), Kind::Zip);
        assert_eq!(detect(&[0x1f, 0x8b, 8, 0]), Kind::Gzip);
        assert_eq!(detect(b"\xfd7zXZ\x00"), Kind::Xz);
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd]), Kind::Zstd);
        assert_eq!(detect(b"BZh9"), Kind::Bzip2);
        assert_eq!(detect(b"\x04\x22\x4d\x18\x64\x40"), Kind::Lz4);
        assert_eq!(
            detect(b"\x5d\0\0\x80\0\xff\xff\xff\xff\xff\xff\xff\xff"),
            Kind::Lzma
        );
        assert_eq!(detect(b"!<arch>\n"), Kind::Ar);
        assert_eq!(detect(b"LZIP\x01\x0c"), Kind::Lzip);
        assert_eq!(detect(b"\x7fELF\x02\x01\x01"), Kind::Elf);
        assert_eq!(detect(b"\xa7\x0d\x0d\x0a\0\0\0\0"), Kind::Pyc);
        assert_eq!(detect(b"  {\"a\": 1}"), Kind::Json);
        assert_eq!(detect(b"hello\n"), Kind::Text);
        assert_eq!(detect(b""), Kind::Text);
        assert_eq!(detect(b"\x00\x01\x02\xff"), Kind::Binary);
        // A head cut in the middle of a character is still text…
        let mut head = vec![b'a'; HEAD_LEN - 1];
        head.push(0xc3);
        assert_eq!(detect(&head), Kind::Text);
        // …but content that ends there is not.
        assert_eq!(detect(b"a\xc3"), Kind::Binary);
    }
}
