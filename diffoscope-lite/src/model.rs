//! The artifact model: a tree of entries with metadata and streamable content.
//!
//! A [`Container`] (directory, zip, tar, ar, or the single stream inside a
//! gzip/xz/zstd/bzip2 file) holds [`Entry`]s; an entry's [`Content`] may
//! itself be another container, found by content detection when the differ
//! looks inside. Content is never held whole in memory unless it is small:
//! it is either a range of a file on disk (the input, a directory member or
//! one of repro's own anonymous spool files), a zip member decompressed on
//! demand, or a decompressing view of another content.
//!
//! This module never creates a file named by an archive: spool files are
//! anonymous temporary files (`O_TMPFILE` where available).

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::beneath::{Found, Root};
use crate::blob::Blob;
use crate::hash::Digest;
use crate::kind::Kind;
use crate::leaf::Printable;
use crate::limits::{Budget, Consumed, CountingReader, LimitReader};
use crate::{Error, Options, Result};

/// Members at most this large are kept in memory instead of a spool file.
pub(crate) const INLINE_MAX: u64 = 64 * 1024;

/// What kind of filesystem object an entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file; the only kind whose content is compared.
    File,
    /// A directory.
    Dir,
    /// A symbolic link to `target`.
    Symlink {
        /// Where the link points, as stored.
        target: String,
    },
    /// A hard link to another entry of the same archive.
    Hardlink {
        /// The entry it links to.
        target: String,
    },
    /// A character or block device.
    Device {
        /// `true` for block, `false` for character devices.
        block: bool,
        /// Major device number.
        major: u32,
        /// Minor device number.
        minor: u32,
    },
    /// A named pipe.
    Fifo,
    /// Anything else the format can express, by its own name.
    Other(String),
}

impl EntryKind {
    /// Short name used in output ("file", "symlink", …).
    pub fn name(&self) -> &str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "directory",
            EntryKind::Symlink { .. } => "symlink",
            EntryKind::Hardlink { .. } => "hardlink",
            EntryKind::Device { block: true, .. } => "block device",
            EntryKind::Device { block: false, .. } => "character device",
            EntryKind::Fifo => "fifo",
            EntryKind::Other(name) => name,
        }
    }
}

/// Per-entry metadata; `None` means the format does not record it.
///
/// Kept small: archives can hold hundreds of thousands of entries, and
/// both sides' entry lists are in memory while they are compared. Names
/// are shared (`Arc<str>`: one owner name serves every entry) and the
/// fields only some formats record are boxed in [`FormatMetadata`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Permission bits (and set-id/sticky bits), without the file type.
    pub mode: Option<u32>,
    /// Owner uid.
    pub uid: Option<u64>,
    /// Owner gid.
    pub gid: Option<u64>,
    /// Owner user name.
    pub user: Option<Arc<str>>,
    /// Owner group name.
    pub group: Option<Arc<str>>,
    /// Modification time, seconds since the Unix epoch (zip's DOS local
    /// time is read as if it were UTC).
    pub mtime: Option<i64>,
    /// Content size as recorded in the archive (or on disk).
    pub size: Option<u64>,
    /// Position of the entry in its container, from 0.
    pub order: usize,
    /// What only some formats record; `None` when there is none of it.
    pub format: Option<Box<FormatMetadata>>,
}

/// Per-entry fields that only some formats record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FormatMetadata {
    /// Compression method of the member (zip).
    pub compression: Option<String>,
    /// Raw extra-field bytes (zip).
    pub extra: Option<Vec<u8>>,
    /// Compressed size (zip): summed in the last line of the `zipinfo {}`
    /// view, as zipinfo does; not a compared field of its own (the
    /// content and the method are).
    pub compressed_size: Option<u64>,
    /// Per-entry comment (zip).
    pub comment: Option<String>,
    /// PAX extended header records (tar), in archive order.
    pub pax: Vec<(String, String)>,
    /// Fields of the format's own per-entry header that none of the above
    /// hold (ELF section type, flags, address and size), in a fixed order.
    pub attributes: Vec<(&'static str, MetaValue)>,
}

impl FormatMetadata {
    /// `Some` unless every field is empty, so that entries without any
    /// format-specific field carry no allocation.
    pub fn boxed(self) -> Option<Box<Self>> {
        (self != FormatMetadata::default()).then(|| Box::new(self))
    }
}

impl Metadata {
    /// The compared fields as (field, value) pairs. Size and order are left
    /// out: size differences show as content differences, order is compared
    /// across the whole container.
    pub fn fields(&self) -> Vec<(MetaField, MetaValue)> {
        let mut out = Vec::new();
        if let Some(m) = self.mode {
            out.push((MetaField::Mode, MetaValue::Mode(m)));
        }
        if let Some(u) = self.uid {
            out.push((MetaField::Uid, MetaValue::Number(u)));
        }
        if let Some(g) = self.gid {
            out.push((MetaField::Gid, MetaValue::Number(g)));
        }
        if let Some(u) = &self.user {
            out.push((MetaField::User, MetaValue::Text(u.to_string())));
        }
        if let Some(g) = &self.group {
            out.push((MetaField::Group, MetaValue::Text(g.to_string())));
        }
        if let Some(t) = self.mtime {
            out.push((MetaField::Mtime, MetaValue::Time(t)));
        }
        let Some(format) = &self.format else {
            return out;
        };
        if let Some(c) = &format.compression {
            out.push((MetaField::Compression, MetaValue::Text(c.clone())));
        }
        if let Some(e) = &format.extra {
            out.push((MetaField::ExtraField, MetaValue::Bytes(e.clone())));
        }
        if let Some(c) = &format.comment {
            out.push((MetaField::Comment, MetaValue::Text(c.clone())));
        }
        for (k, v) in &format.pax {
            let value = if k.ends_with("time") {
                parse_pax_time(v).map_or_else(|| MetaValue::Text(v.clone()), MetaValue::Time)
            } else {
                MetaValue::Text(v.clone())
            };
            out.push((MetaField::Pax(k.clone()), value));
        }
        for (name, value) in &format.attributes {
            out.push((MetaField::Attribute(name), value.clone()));
        }
        out
    }
}

fn parse_pax_time(v: &str) -> Option<i64> {
    v.split('.').next()?.parse().ok()
}

/// Names a compared metadata field.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetaField {
    /// Permission bits.
    Mode,
    /// Owner uid.
    Uid,
    /// Owner gid.
    Gid,
    /// Owner user name.
    User,
    /// Owner group name.
    Group,
    /// Modification time.
    Mtime,
    /// Compression method.
    Compression,
    /// Zip extra fields.
    ExtraField,
    /// Per-entry comment.
    Comment,
    /// One PAX extended header record, by key.
    Pax(String),
    /// Entry type (file vs symlink …).
    EntryType,
    /// Symlink or hardlink target.
    LinkTarget,
    /// Device numbers.
    Device,
    /// The relative order of the entries both sides share.
    EntryOrder,
    /// A field of a container's own header (gzip mtime, zip comment …).
    Header(&'static str),
    /// A format-specific field of an entry's header (ELF section type …).
    Attribute(&'static str),
}

impl fmt::Display for MetaField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaField::Mode => f.write_str("mode"),
            MetaField::Uid => f.write_str("uid"),
            MetaField::Gid => f.write_str("gid"),
            MetaField::User => f.write_str("user"),
            MetaField::Group => f.write_str("group"),
            MetaField::Mtime => f.write_str("mtime"),
            MetaField::Compression => f.write_str("compression"),
            MetaField::ExtraField => f.write_str("extra fields"),
            MetaField::Comment => f.write_str("comment"),
            MetaField::Pax(k) => write!(f, "pax {k}"),
            MetaField::EntryType => f.write_str("entry type"),
            MetaField::LinkTarget => f.write_str("link target"),
            MetaField::Device => f.write_str("device"),
            MetaField::EntryOrder => f.write_str("entry order"),
            MetaField::Header(name) | MetaField::Attribute(name) => f.write_str(name),
        }
    }
}

/// A metadata value, typed so that hints can reason about it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MetaValue {
    /// Seconds since the Unix epoch.
    Time(i64),
    /// Permission bits.
    Mode(u32),
    /// A plain number (uid, gid, OS code …).
    Number(u64),
    /// A number best read in hex (an address, a flags word).
    Hex(u64),
    /// Text.
    Text(String),
    /// Raw bytes, shown in hex.
    Bytes(Vec<u8>),
    /// The other side records this field, this side does not.
    Absent,
}

impl fmt::Display for MetaValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaValue::Time(t) => write!(f, "{} ({t})", crate::timefmt::format_utc(*t)),
            MetaValue::Mode(m) => write!(f, "0o{m:04o}"),
            MetaValue::Number(n) => write!(f, "{n}"),
            MetaValue::Hex(n) => write!(f, "{n:#x}"),
            MetaValue::Text(s) => write!(f, "{s:?}"),
            MetaValue::Bytes(b) => {
                if b.is_empty() {
                    f.write_str("(empty)")
                } else {
                    f.write_str(&hex::encode(b))
                }
            }
            MetaValue::Absent => f.write_str("(absent)"),
        }
    }
}

/// One member of a container.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Path inside the container, as stored (lossily decoded as UTF-8).
    pub path: String,
    /// What kind of object it is.
    pub kind: EntryKind,
    /// Its metadata.
    pub meta: Metadata,
    /// Its content (empty for anything but files).
    pub content: Content,
    /// The content digest, when the reader computed it while streaming.
    pub digest: Option<Digest>,
}

/// A container read from an artifact: its entries and its own header fields.
#[derive(Debug)]
pub struct Container {
    /// Which format it was read as.
    pub format: Kind,
    /// Entries in container order.
    pub entries: Vec<Entry>,
    /// The container's own header fields (gzip mtime, zip comment …).
    pub meta: Vec<(MetaField, MetaValue)>,
    /// Anomalies found while reading (duplicate names, conflicting headers);
    /// they are reported, never silently resolved.
    pub comments: Vec<String>,
    /// A compressed stream with exactly one entry: the two sides' entries
    /// are paired whatever their names.
    pub single_stream: bool,
    /// Whether entry order is meaningful (false for directories, which are
    /// listed sorted).
    pub ordered: bool,
}

/// A compressed stream's decoder over its bytes (`None`: `kind` is no
/// compression). Readers above the model hand it in, so the model needs no
/// format.
pub(crate) type Decode =
    for<'a> fn(Kind, Box<dyn Read + 'a>) -> Option<io::Result<Box<dyn Read + 'a>>>;

/// A member an archive stores encoded, as its format's reader decodes it:
/// the model reads it through this without knowing the format.
pub(crate) trait Stored: fmt::Debug + Send + Sync {
    /// What a decoding read consumes at most.
    fn compressed_len(&self) -> u64;
    /// A reader of the decoded bytes, named `entry` in errors.
    fn open(&self, entry: &str) -> Box<dyn Read + Send>;
    /// Whether `other` is stored alike (same encoding and encoded bytes),
    /// hence the same content; false means "cannot tell this way".
    fn same_stored(&self, other: &dyn Stored) -> bool;
    /// For `same_stored`: the concrete type behind the trait.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// Streamable content of an entry or of a whole artifact. Cheap to clone.
#[derive(Clone)]
pub struct Content(pub(crate) Source);

/// A decompressed stream: what it is, how to decode it, of what.
pub(crate) struct Stream {
    /// The compression format, named in errors.
    kind: Kind,
    /// Its decoder (the format reader's).
    decode: Decode,
    inner: Arc<Content>,
    /// The ends of the stream, kept by the first read that went through
    /// to its end: what the polyglot check looks at, so it need not
    /// decompress the stream once more.
    ends: std::sync::OnceLock<crate::formats::Kept>,
    /// The whole decompressed stream, when it is small (see
    /// [`SMALL_STREAM`]) and a read went through it.
    whole: std::sync::OnceLock<Arc<[u8]>>,
}

#[derive(Clone)]
pub(crate) enum Source {
    Empty,
    /// A whole file on disk, opened on demand.
    Path(PathBuf),
    /// A file inside a directory artifact, opened on demand beneath the
    /// directory without following links.
    Beneath {
        root: Arc<Root>,
        rel: PathBuf,
    },
    /// A byte range of an open file (an ar member, a spool file).
    Range {
        file: Arc<File>,
        offset: u64,
        len: u64,
    },
    Memory(Arc<[u8]>),
    /// A decoded view of binary structure (a symbol table, DWARF, machine
    /// code) in memory, read like [`Source::Memory`]: its numbers are
    /// addresses, sizes and offsets, so only name hints (build path, host,
    /// user) are read from its diff, never uids or times.
    Decoded(Arc<[u8]>),
    /// A member its archive stores encoded (a zip member), decoded (and
    /// checked) on each read by the reader of its format.
    Stored(Arc<dyn Stored>),
    /// The decompressed stream of another content (boxed: entries hold a
    /// Content each, and must stay small).
    Decompress(Arc<Stream>),
    /// A zlib (RFC 1950) stream inside another content, decompressed on
    /// each read: compressed ELF sections. Not a detected format: zlib has
    /// no magic worth the name.
    Zlib(Arc<Content>),
    /// Another content rendered as printable strings, one per line (see
    /// [`crate::leaf::Printable`]): how string-holding ELF sections are
    /// diffed. The rendering is reversible, so equal renderings mean equal
    /// bytes and the digest of the view still decides identity.
    Printable(Arc<Content>),
    /// An architecture slice of a Mach-O file: the same bytes as `inner`,
    /// marked so that the Mach-O reader reads its sections, where the
    /// file itself reads as its slices (a thin file as its one slice,
    /// named after its CPU as diffoscope names it).
    Slice(Arc<Content>),
}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::Empty => f.write_str("Content::Empty"),
            Source::Path(p) => write!(f, "Content::Path({})", p.display()),
            Source::Beneath { root, rel } => write!(
                f,
                "Content::Beneath({}, {})",
                root.path().display(),
                rel.display()
            ),
            Source::Range { offset, len, .. } => write!(f, "Content::Range({offset}+{len})"),
            Source::Memory(m) => write!(f, "Content::Memory({} bytes)", m.len()),
            Source::Decoded(m) => write!(f, "Content::Decoded({} bytes)", m.len()),
            Source::Stored(m) => write!(f, "Content::Stored({m:?})"),
            Source::Decompress(s) => write!(f, "Content::Decompress({})", s.kind),
            Source::Zlib(inner) => write!(f, "Content::Zlib({inner:?})"),
            Source::Printable(inner) => write!(f, "Content::Printable({inner:?})"),
            Source::Slice(inner) => write!(f, "Content::Slice({inner:?})"),
        }
    }
}

/// What a reader needs while reading one side: that side's limits budget
/// and the options. Opaque outside this crate.
pub struct Cx<'a> {
    pub(crate) budget: &'a Budget,
    pub(crate) opts: &'a Options,
}

/// Decompressed streams at most this long are kept whole by the first
/// read that goes through them, and read from memory after: content
/// detection, the equality check and the comparison each read a stream
/// again, and a bzip2 decoder zeroes megabytes of tables at every start
/// (a 300-byte .bz2 pair took 5 ms, most of it page faults). A stream
/// lives only while its own branch of the comparison does.
const SMALL_STREAM: usize = 1 << 20;

/// A reader of a decompressed stream that keeps its ends ([`Ends`]) and,
/// when a read reaches the end of the stream, files them in `stream` for
/// [`Content::stream_ends`], with the whole stream when it is small. A
/// read that stops early files nothing.
///
/// [`Ends`]: crate::formats::Ends
struct KeepEnds<'r, 's> {
    ends: crate::formats::Ends<&'r mut dyn Read>,
    stream: &'s Stream,
    /// The bytes so far, while they are at most [`SMALL_STREAM`].
    whole: Option<Vec<u8>>,
}

impl Read for KeepEnds<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.ends.read(buf)?;
        if let Some(whole) = &mut self.whole {
            if whole.len() + n <= SMALL_STREAM {
                whole.extend_from_slice(&buf[..n]);
            } else {
                self.whole = None;
            }
        }
        if n == 0 && !buf.is_empty() {
            // Another side may have filed the same ends first: equal.
            let _ = self.stream.ends.set(std::mem::take(&mut self.ends.kept));
            if let Some(whole) = self.whole.take() {
                let _ = self.stream.whole.set(whole.into());
            }
        }
        Ok(n)
    }
}

/// Test support: the options and one budget per side that a comparison
/// needs, from which [`Sides::cx`] lends the two contexts.
#[cfg(test)]
pub(crate) struct Sides {
    pub(crate) opts: crate::Options,
    budgets: [crate::limits::Budget; 2],
}

#[cfg(test)]
impl Sides {
    pub(crate) fn new() -> Self {
        let opts = crate::Options::default();
        let budgets = [
            crate::limits::Budget::new(opts.limits.clone()),
            crate::limits::Budget::new(opts.limits.clone()),
        ];
        Sides { opts, budgets }
    }

    pub(crate) fn cx(&self, side: usize) -> Cx<'_> {
        Cx {
            budget: &self.budgets[side],
            opts: &self.opts,
        }
    }
}

impl Cx<'_> {
    pub(crate) fn io(&self, err: io::Error, entry: &str, action: &'static str) -> Error {
        self.budget.io_error(err, entry, action)
    }

    /// An error from a format reader: a tripped limit if there is one (the
    /// reader may have wrapped it), else the artifact is malformed.
    pub(crate) fn malformed(&self, err: impl fmt::Display, entry: &str, format: Kind) -> Error {
        self.budget.tripped().unwrap_or_else(|| Error::Malformed {
            entry: entry.to_owned(),
            format,
            detail: err.to_string(),
        })
    }
}

impl Content {
    /// Content with no bytes.
    pub fn empty() -> Self {
        Content(Source::Empty)
    }

    /// A whole file on disk.
    pub fn path(path: PathBuf) -> Self {
        Content(Source::Path(path))
    }

    /// The file `rel` beneath the directory `root`.
    pub(crate) fn beneath(root: Arc<Root>, rel: PathBuf) -> Self {
        Content(Source::Beneath { root, rel })
    }

    pub(crate) fn memory(bytes: Vec<u8>) -> Self {
        Content(Source::Memory(bytes.into()))
    }

    /// A decoded view of binary structure (see [`Source::Decoded`]).
    pub(crate) fn decoded_view(text: String) -> Self {
        Content(Source::Decoded(text.into_bytes().into()))
    }

    /// Whether this is a decoded view of binary structure.
    pub(crate) fn is_decoded_view(&self) -> bool {
        matches!(self.0, Source::Decoded(_))
    }

    /// The bytes of a [`Blob`] a format reader handed out: a file range
    /// stays one; bytes in memory are copied (readers hand out small ones).
    pub(crate) fn of_blob(blob: &Blob) -> Self {
        match blob {
            Blob::File { file, start, len } => Content(Source::Range {
                file: Arc::clone(file),
                offset: *start,
                len: *len,
            }),
            Blob::Mem { bytes, start, len } => {
                Content::memory(bytes.get(*start..start + len).unwrap_or(&[]).to_vec())
            }
        }
    }

    /// The content as a [`Blob`] when that costs nothing (a file or a range
    /// of one, or bytes in memory); `None` for streams.
    pub(crate) fn cheap_blob(&self) -> Option<Blob> {
        match &self.0 {
            Source::Path(p) => Blob::open(p).ok(),
            Source::Range { file, offset, len } => Some(Blob::File {
                file: Arc::clone(file),
                start: *offset,
                len: *len,
            }),
            Source::Memory(m) | Source::Decoded(m) => Some(Blob::mem(m.to_vec())),
            Source::Slice(inner) => inner.cheap_blob(),
            _ => None,
        }
    }

    /// The content's length when it is known without reading it (a file,
    /// a range of one, bytes in memory); `None` for streams and zip
    /// members.
    pub(crate) fn known_len(&self) -> Option<u64> {
        match &self.0 {
            Source::Path(p) => fs_len(&File::open(p).ok()?),
            Source::Beneath { root, rel } => fs_len(&open_beneath(root, rel).ok()?),
            Source::Range { len, .. } => Some(*len),
            Source::Memory(m) | Source::Decoded(m) => Some(m.len() as u64),
            Source::Slice(inner) => inner.known_len(),
            _ => None,
        }
    }

    /// The content as a [`Blob`] for a format reader: a file range, spooled
    /// to an anonymous temporary file first if it is not one already.
    pub(crate) fn blob(&self, cx: &Cx<'_>, entry: &str) -> Result<Blob> {
        let (file, start, len) = self.as_file(cx, entry)?;
        Ok(Blob::File { file, start, len })
    }

    /// This content as an architecture slice of a Mach-O file (see
    /// [`Source::Slice`]).
    pub(crate) fn slice(self) -> Self {
        Content(Source::Slice(Arc::new(self)))
    }

    /// The slice this content marks, if it is one.
    pub(crate) fn as_slice(&self) -> Option<&Content> {
        match &self.0 {
            Source::Slice(inner) => Some(inner),
            _ => None,
        }
    }

    /// This content rendered as printable strings, one per line.
    pub(crate) fn printable(self) -> Self {
        Content(Source::Printable(Arc::new(self)))
    }

    /// Runs `f` over a fresh reader of the whole content. `entry` names it
    /// in errors.
    pub(crate) fn with_reader<T>(
        &self,
        cx: &Cx<'_>,
        entry: &str,
        f: impl FnOnce(&mut dyn Read) -> Result<T>,
    ) -> Result<T> {
        let mut f = Some(f);
        let mut out = None;
        self.with_reader_dyn(cx, entry, &mut |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(())
        })?;
        out.ok_or_else(|| Error::Io {
            entry: entry.to_owned(),
            action: "opening",
            source: io::Error::other("reader was never opened"),
        })
    }

    /// The whole content in memory if it is at most `cap` bytes, else
    /// `None`; `entry` names it in errors.
    pub(crate) fn read_capped(
        &self,
        cx: &Cx<'_>,
        entry: &str,
        cap: u64,
    ) -> Result<Option<Vec<u8>>> {
        self.with_reader(cx, entry, |r| {
            crate::formats::read_capped(r, cap).map_err(|e| cx.io(e, entry, "reading"))
        })
    }

    // Not generic on purpose: `Decompress` recurses, and a generic closure
    // would be instantiated once per nesting level without end.
    fn with_reader_dyn(
        &self,
        cx: &Cx<'_>,
        entry: &str,
        f: &mut dyn FnMut(&mut dyn Read) -> Result<()>,
    ) -> Result<()> {
        match &self.0 {
            Source::Empty => f(&mut io::empty()),
            Source::Path(p) => {
                let mut file = File::open(p).map_err(|source| Error::Read {
                    path: p.clone(),
                    source,
                })?;
                f(&mut file)
            }
            Source::Beneath { root, rel } => f(&mut open_beneath(root, rel)?),
            Source::Range { file, offset, len } => {
                f(&mut PositionedFile::new(file.clone(), *offset, *len))
            }
            Source::Memory(m) | Source::Decoded(m) => f(&mut &m[..]),
            Source::Stored(m) => {
                let mut limited = LimitReader::new(
                    m.open(entry),
                    cx.budget,
                    entry,
                    Consumed::Fixed(m.compressed_len()),
                );
                f(&mut limited)
            }
            Source::Decompress(s) => {
                // Decompressed and counted against the limits once already.
                if let Some(whole) = s.whole.get() {
                    return f(&mut &whole[..]);
                }
                self.decompress(&s.inner, s.kind, Some(s.decode), cx, entry, &mut |r| {
                    if s.ends.get().is_some() {
                        return f(r);
                    }
                    let mut kept = KeepEnds {
                        ends: crate::formats::Ends::new(r),
                        stream: s,
                        whole: Some(Vec::new()),
                    };
                    f(&mut kept)
                })
            }
            // Errors in a zlib stream are errors in the ELF file holding it.
            Source::Zlib(inner) => self.decompress(inner, Kind::Elf, None, cx, entry, f),
            Source::Printable(inner) => {
                inner.with_reader_dyn(cx, entry, &mut |r| f(&mut Printable::new(r)))
            }
            Source::Slice(inner) => inner.with_reader_dyn(cx, entry, f),
        }
    }

    /// Runs `f` over the decompressed stream of `inner` (with `decode`, or
    /// as zlib without one), under the decompressed-bytes and ratio limits.
    /// `kind` is the format named in errors.
    fn decompress(
        &self,
        inner: &Content,
        kind: Kind,
        decode: Option<Decode>,
        cx: &Cx<'_>,
        entry: &str,
        f: &mut dyn FnMut(&mut dyn Read) -> Result<()>,
    ) -> Result<()> {
        inner.with_reader_dyn(cx, entry, &mut |r| {
            let count = Arc::new(AtomicU64::new(0));
            let counting: Box<dyn Read + '_> = Box::new(CountingReader::new(r, count.clone()));
            let decoder = match decode {
                None => Some(Ok(
                    Box::new(flate2::read::ZlibDecoder::new(counting)) as Box<dyn Read>
                )),
                Some(decode) => decode(kind, counting),
            };
            let decoder = decoder
                .ok_or_else(|| Error::Malformed {
                    entry: entry.to_owned(),
                    format: kind,
                    detail: "not a compressed stream".into(),
                })?
                .map_err(|e| cx.io(e, entry, "decompressing"))?;
            let mut limited = LimitReader::new(decoder, cx.budget, entry, Consumed::Counted(count));
            f(&mut limited)
        })
    }

    /// The decompressed stream of `inner`, decoded by `decode`.
    pub(crate) fn decompressed(kind: Kind, decode: Decode, inner: Arc<Content>) -> Content {
        Content(Source::Decompress(Arc::new(Stream {
            kind,
            decode,
            inner,
            ends: std::sync::OnceLock::new(),
            whole: std::sync::OnceLock::new(),
        })))
    }

    /// The ends of a decompressed stream, once a read has gone through it
    /// to its end (None before, and for any other content).
    pub(crate) fn stream_ends(&self) -> Option<&crate::formats::Kept> {
        match &self.0 {
            Source::Decompress(s) => s.ends.get(),
            _ => None,
        }
    }

    /// Up to `n` leading bytes, for content detection.
    pub(crate) fn head(&self, cx: &Cx<'_>, entry: &str, n: usize) -> Result<Vec<u8>> {
        self.with_reader(cx, entry, |r| {
            let mut buf = Vec::with_capacity(n);
            r.take(n as u64)
                .read_to_end(&mut buf)
                .map_err(|e| cx.io(e, entry, "reading"))?;
            Ok(buf)
        })
    }

    /// True when `self` and `other` are zip members stored with the same
    /// method, CRC-32 and sizes and byte-identical compressed data: then
    /// their content is identical and need not be decompressed (the common
    /// case of a rebuilt archive whose members did not change). False means
    /// "cannot tell this way", not "different".
    pub(crate) fn same_zip_data(&self, other: &Content) -> bool {
        match (&self.0, &other.0) {
            (Source::Stored(a), Source::Stored(b)) => a.same_stored(b.as_ref()),
            _ => false,
        }
    }

    /// Whether `self` (read under `cx`) and `other` (under `cx_other`)
    /// hold the same bytes, streamed side by side; stops at the first
    /// difference, so two different archives cost next to nothing.
    pub(crate) fn same_bytes(
        &self,
        cx: &Cx<'_>,
        entry: &str,
        other: &Content,
        cx_other: &Cx<'_>,
        other_entry: &str,
    ) -> Result<bool> {
        if self.is_same_range(other) {
            return Ok(true);
        }
        self.with_reader(cx, entry, |ra| {
            other.with_reader(cx_other, other_entry, |rb| {
                // The buffers start small and double up to 64 KiB: most
                // members are small, and zeroing 128 KiB for each pair was
                // a tenth of the time on archives of many small members.
                const FIRST: usize = 4 << 10;
                const MOST: usize = 64 << 10;
                let (mut ba, mut bb) = (vec![0u8; FIRST], vec![0u8; FIRST]);
                loop {
                    let n = read_full(ra, &mut ba).map_err(|e| cx.io(e, entry, "reading"))?;
                    let m = read_full(rb, &mut bb)
                        .map_err(|e| cx_other.io(e, other_entry, "reading"))?;
                    if n != m || ba[..n] != bb[..m] {
                        return Ok(false);
                    }
                    if n < ba.len() {
                        return Ok(true);
                    }
                    if ba.len() < MOST {
                        ba.resize(ba.len() * 2, 0);
                        bb.resize(bb.len() * 2, 0);
                    }
                }
            })
        })
    }

    /// Whether both are the very same byte range of the same open file
    /// (how a tar member found equal to the other side's while streaming
    /// shares that side's spooled bytes; see [`crate::meet`]).
    pub(crate) fn is_same_range(&self, other: &Content) -> bool {
        match (&self.0, &other.0) {
            (
                Source::Range {
                    file: fa,
                    offset: oa,
                    len: la,
                },
                Source::Range {
                    file: fb,
                    offset: ob,
                    len: lb,
                },
            ) => Arc::ptr_eq(fa, fb) && oa == ob && la == lb,
            _ => false,
        }
    }

    /// The content as a random-access file range, spooling it to an
    /// anonymous temporary file if it is not one already.
    pub(crate) fn as_file(&self, cx: &Cx<'_>, entry: &str) -> Result<(Arc<File>, u64, u64)> {
        match &self.0 {
            Source::Path(p) => {
                let file = File::open(p).map_err(|source| Error::Read {
                    path: p.clone(),
                    source,
                })?;
                let len = file
                    .metadata()
                    .map_err(|source| Error::Read {
                        path: p.clone(),
                        source,
                    })?
                    .len();
                Ok((Arc::new(file), 0, len))
            }
            Source::Beneath { root, rel } => {
                let file = open_beneath(root, rel)?;
                let len = file
                    .metadata()
                    .map_err(|source| Error::Read {
                        path: root.path().join(rel),
                        source,
                    })?
                    .len();
                Ok((Arc::new(file), 0, len))
            }
            Source::Range { file, offset, len } => Ok((file.clone(), *offset, *len)),
            Source::Slice(inner) => inner.as_file(cx, entry),
            _ => {
                let (spooled, _) = self.spool(cx, entry)?;
                match spooled.0 {
                    Source::Range { file, offset, len } => Ok((file, offset, len)),
                    // Small content stays in memory; give it a file anyway.
                    Source::Memory(m) => {
                        let mut file =
                            tempfile::tempfile().map_err(|source| Error::Spool { source })?;
                        file.write_all(&m)
                            .map_err(|source| Error::Spool { source })?;
                        Ok((Arc::new(file), 0, m.len() as u64))
                    }
                    // A local failure, never a finding about the artifact.
                    _ => Err(Error::Spool {
                        source: io::Error::other(format!("{entry}: spool produced no file")),
                    }),
                }
            }
        }
    }

    /// Copies the content into memory (if small) or an anonymous spool file,
    /// hashing it on the way.
    pub(crate) fn spool(&self, cx: &Cx<'_>, entry: &str) -> Result<(Content, Digest)> {
        self.with_reader(cx, entry, |r| spool_reader(r, cx, entry))
    }
}

/// The length of an open file.
fn fs_len(f: &File) -> Option<u64> {
    f.metadata().ok().map(|m| m.len())
}

/// Opens a file of a directory artifact; a file that became a link or
/// something else since the directory was listed is an error, never
/// followed.
fn open_beneath(root: &Root, rel: &Path) -> Result<File> {
    let err = |source| Error::Read {
        path: root.path().join(rel),
        source,
    };
    match root.open_file(rel).map_err(err)? {
        Found::File(f) => Ok(f),
        Found::Link { at, target } => Err(err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{at} is now a symbolic link to {target:?}; links are not followed"),
        ))),
        Found::Other(what) => Err(err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("is now {what}, not a regular file"),
        ))),
    }
}

/// Reads `r` to its end into memory (if at most [`INLINE_MAX`] bytes) or an
/// anonymous spool file, hashing it on the way.
fn spool_reader(r: &mut dyn Read, cx: &Cx<'_>, entry: &str) -> Result<(Content, Digest)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut mem: Vec<u8> = Vec::new();
    let mut file: Option<io::BufWriter<File>> = None;
    let mut size = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(cx.io(e, entry, "reading")),
        };
        let chunk = &buf[..n];
        hasher.update(chunk);
        size += n as u64;
        if let Some(w) = file.as_mut() {
            w.write_all(chunk)
                .map_err(|source| Error::Spool { source })?;
        } else if size > INLINE_MAX {
            let f = tempfile::tempfile().map_err(|source| Error::Spool { source })?;
            let mut w = io::BufWriter::new(f);
            w.write_all(&mem)
                .map_err(|source| Error::Spool { source })?;
            w.write_all(chunk)
                .map_err(|source| Error::Spool { source })?;
            mem = Vec::new();
            file = Some(w);
        } else {
            mem.extend_from_slice(chunk);
        }
    }
    let digest = Digest {
        sha256: hasher.finalize().into(),
        size,
    };
    let content = match file {
        Some(w) => {
            let f = w.into_inner().map_err(|e| Error::Spool {
                source: e.into_error(),
            })?;
            Content(Source::Range {
                file: Arc::new(f),
                offset: 0,
                len: size,
            })
        }
        None => Content::memory(mem),
    };
    Ok((content, digest))
}

/// One anonymous spool file shared by all members of a streamed container
/// (tar): members are appended and become byte ranges of it, so a tar of
/// many small files costs neither memory nor a file descriptor per member.
#[derive(Default)]
pub(crate) struct Spool {
    file: Option<Arc<File>>,
    len: u64,
    /// The copy buffer, reused for every member: a fresh 256 KiB buffer
    /// per member would cost an allocation and its page faults for each
    /// member of a tar of many small files.
    buf: Vec<u8>,
    /// Two buffers for comparing a member with the other side's copy
    /// (see [`crate::meet`]), reused the same way.
    pub(crate) scratch: [Vec<u8>; 2],
}

/// Bytes copied per read and write.
const SPOOL_CHUNK: usize = 256 * 1024;

impl Spool {
    /// Appends everything `r` yields. Nothing is hashed here: whether two
    /// members are the same is decided later by comparing their spooled
    /// bytes side by side, which costs a memory-speed read instead of a
    /// SHA-256 pass per side.
    pub(crate) fn append(&mut self, r: &mut dyn Read, cx: &Cx<'_>, entry: &str) -> Result<Content> {
        self.append_reporting(r, cx, entry, &mut |_| {})
    }

    /// [`Spool::append`], telling `progress` how many bytes of this member
    /// are on file after every write (so that the other side of a pair can
    /// compare against them while they are being written).
    pub(crate) fn append_reporting(
        &mut self,
        r: &mut dyn Read,
        cx: &Cx<'_>,
        entry: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Content> {
        let (_, start) = self.tail()?;
        self.extend(r, cx, entry, &mut |len| progress(len - start))?;
        self.since(start)
    }

    /// Appends everything `r` yields to the spool, telling `progress` the
    /// spool's length after every write. Errors reading `r` are the
    /// entry's; errors writing are local.
    pub(crate) fn extend(
        &mut self,
        r: &mut dyn Read,
        cx: &Cx<'_>,
        entry: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let (file, _) = self.tail()?;
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(SPOOL_CHUNK, 0);
        let done = loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(cx.io(e, entry, "reading")),
            };
            if let Err(source) = file.write_all_at(&buf[..n], self.len) {
                break Err(Error::Spool { source });
            }
            self.len += n as u64;
            progress(self.len);
        };
        self.buf = buf;
        done
    }

    /// Appends `bytes`.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let (file, _) = self.tail()?;
        file.write_all_at(bytes, self.len)
            .map_err(|source| Error::Spool { source })?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Appends `len` bytes of `from` (another spool) at `offset`: a local
    /// copy, whose failures are spool errors, not the entry's.
    pub(crate) fn copy_from(&mut self, from: &File, offset: u64, len: u64) -> Result<()> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(SPOOL_CHUNK, 0);
        let mut done = 0u64;
        let result = loop {
            if done == len {
                break Ok(());
            }
            let n = usize::try_from(len - done).map_or(buf.len(), |left| left.min(buf.len()));
            if let Err(source) = from.read_exact_at(&mut buf[..n], offset + done) {
                break Err(Error::Spool { source });
            }
            if let Err(e) = self.write(&buf[..n]) {
                break Err(e);
            }
            done += n as u64;
        };
        self.buf = buf;
        result
    }

    /// Everything appended since the spool's length was `start`, as one
    /// member's content.
    pub(crate) fn since(&mut self, start: u64) -> Result<Content> {
        let (file, end) = self.tail()?;
        Ok(Content(Source::Range {
            file,
            offset: start,
            len: end - start,
        }))
    }

    /// The spool file (created on first use) and where the next member
    /// will start in it.
    pub(crate) fn tail(&mut self) -> Result<(Arc<File>, u64)> {
        let file = match &self.file {
            Some(f) => Arc::clone(f),
            None => {
                let f = Arc::new(tempfile::tempfile().map_err(|source| Error::Spool { source })?);
                self.file = Some(Arc::clone(&f));
                f
            }
        };
        Ok((file, self.len))
    }
}

/// A `Read + Seek` view of a byte range of a shared file, using positioned
/// reads so that clones on different threads never disturb each other.
#[derive(Clone, Debug)]
pub(crate) struct PositionedFile {
    file: Arc<File>,
    start: u64,
    len: u64,
    pos: u64,
}

impl PositionedFile {
    pub(crate) fn new(file: Arc<File>, start: u64, len: u64) -> Self {
        PositionedFile {
            file,
            start,
            len,
            pos: 0,
        }
    }
}

impl Read for PositionedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.start + self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PositionedFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match new {
            Some(n) => {
                self.pos = n;
                Ok(n)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )),
        }
    }
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
pub(crate) fn read_full(r: &mut (impl Read + ?Sized), buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match r.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    static DECODED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    /// gzip's decoder, counting how often a stream is decompressed.
    fn counting<'a>(kind: Kind, r: Box<dyn Read + 'a>) -> Option<io::Result<Box<dyn Read + 'a>>> {
        DECODED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        crate::formats::decode(kind, r)
    }

    #[test]
    fn same_bytes_sees_a_difference_wherever_the_buffers_grow() {
        let sides = Sides::new();
        let (a, b) = (sides.cx(0), sides.cx(1));
        let base: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let same = |x: &[u8], y: &[u8]| {
            Content::memory(x.to_vec())
                .same_bytes(&a, "a", &Content::memory(y.to_vec()), &b, "b")
                .unwrap()
        };
        assert!(same(&base, &base));
        assert!(same(&[], &[]));
        // Around the 4 KiB first fill, the 4 + 8 KiB second, deep inside.
        for at in [0, 4095, 4096, 4097, 12_287, 12_288, 100_000, 199_999] {
            let mut other = base.clone();
            other[at] ^= 1;
            assert!(!same(&base, &other), "a change at {at}");
            assert!(!same(&base[..at], &base[..=at]), "one more byte at {at}");
        }
    }

    #[test]
    fn a_stream_read_to_its_end_is_not_decompressed_again() {
        use std::sync::atomic::Ordering::SeqCst;
        // A gzip whose payload ends in a zip: the check must still find it.
        let mut zip = Vec::new();
        {
            let mut z = zip::ZipWriter::new(io::Cursor::new(&mut zip));
            z.start_file("a", zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(b"x").unwrap();
            z.finish().unwrap();
        }
        let mut payload = vec![b'p'; 100_000];
        payload.extend(&zip);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&payload).unwrap();
        let gz: Arc<[u8]> = gz.finish().unwrap().into();
        let sides = Sides::new();
        let cx = sides.cx(0);
        let check = |c: &Content| crate::formats::stream_also_reads_as(c, "x.gz", &cx).unwrap();

        // Not read yet: the check decompresses it itself.
        let c = Content::decompressed(
            Kind::Gzip,
            counting,
            Arc::new(Content(Source::Memory(gz.clone()))),
        );
        let before = DECODED.load(SeqCst);
        assert_eq!(check(&c).as_deref(), Some("also reads as zip: 1 entries"));
        assert_eq!(DECODED.load(SeqCst) - before, 1);

        // Read through once (as the differ reads a tarball): the check
        // uses the ends kept on the way and decompresses nothing.
        let c = Content::decompressed(
            Kind::Gzip,
            counting,
            Arc::new(Content(Source::Memory(gz.clone()))),
        );
        let read = c
            .with_reader(&cx, "x.gz", |r| {
                io::copy(r, &mut io::sink()).map_err(|e| cx.io(e, "x.gz", "reading"))
            })
            .unwrap();
        assert_eq!(read, payload.len() as u64);
        let before = DECODED.load(SeqCst);
        assert_eq!(check(&c).as_deref(), Some("also reads as zip: 1 entries"));
        assert_eq!(DECODED.load(SeqCst), before);
        // A small stream read through is kept whole: reading it again
        // decompresses nothing and gives the same bytes.
        let again = c
            .with_reader(&cx, "x.gz", |r| {
                let mut v = Vec::new();
                r.read_to_end(&mut v)
                    .map_err(|e| cx.io(e, "x.gz", "reading"))?;
                Ok(v)
            })
            .unwrap();
        assert_eq!(again, payload);
        assert_eq!(DECODED.load(SeqCst), before);

        // A read that stopped early (content detection) keeps nothing.
        let c = Content::decompressed(Kind::Gzip, counting, Arc::new(Content(Source::Memory(gz))));
        c.head(&cx, "x.gz", 16).unwrap();
        assert!(c.stream_ends().is_none());
    }

    #[test]
    fn entries_stay_small() {
        // Both sides' entry lists of an archive are in memory at once; a
        // field added inline here costs that much per member of every
        // archive (100,000-member tars are ordinary). Rare fields belong
        // in FormatMetadata.
        assert!(
            std::mem::size_of::<Metadata>() <= 128,
            "{}",
            std::mem::size_of::<Metadata>()
        );
        assert!(
            std::mem::size_of::<Entry>() <= 256,
            "{}",
            std::mem::size_of::<Entry>()
        );
    }
}
