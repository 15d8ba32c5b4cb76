//! Canonical forms of artifacts, and the digest that ignores what they remove.
//!
//! Normalizing rewrites an artifact so that the noise a build leaves in it —
//! timestamps, owners, entry order, volatile header fields — is replaced by
//! fixed values, and nothing else changes: member data is copied byte for
//! byte (zip members are never recompressed), so what Python, Java, `tar` or
//! `dpkg` read from the file stays the same. Each change is a [`Rule`] with a
//! stable id (`zip.sort`, `tar.mtime-clamp`, …); the set of rules is
//! versioned by [`RULESET_VERSION`]. A normalizer that finds nothing to
//! change writes nothing: the file stays byte-identical and no rule is
//! reported. Normalizing is idempotent.
//!
//! Timestamps are *clamped*: a time later than the epoch (the
//! `SOURCE_DATE_EPOCH` given in [`Options`], or 1980-01-01 00:00:00 UTC,
//! [`DEFAULT_EPOCH`], when none is given) is set to the epoch; earlier times
//! are kept. 1980 is the earliest time a zip can store, so one default
//! serves every format.
//!
//! [`normalized_digest`] computes `repro-normalized-v1` ([`DIGEST_VERSION`]),
//! a SHA-256 over the canonical content model (entries sorted by path, with
//! kind, canonical mode and content digest, nested archives recursively)
//! without writing the normalized file: two artifacts that differ only in
//! the noise the canonical forms remove have the same normalized digest.
//! The README defines its byte layout.
//!
//! Every format is one file implementing the private `Normalizer` trait and
//! one line in `REGISTRY`. The same untrusted-input rules as the readers
//! hold: [`Limits`] bound depth, entries, decompressed bytes and ratio; no
//! buffer is sized by a length the archive declares before that length was
//! checked against the bytes actually present; and this module never creates
//! a file named by an archive — nested members are spooled to anonymous
//! temporary files, and the only file written is the output, through
//! `fsio` (a temporary file in its directory and a rename; a device or
//! FIFO is written through, never replaced).

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek as _, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

pub(crate) use crate::blob::Blob;
use crate::formats::{self, Kind};
use crate::limits::{Budget, Consumed, CountingReader, LimitReader};
use crate::model::INLINE_MAX;
use crate::{Error, Limits, Result};

mod ar;
mod gzip;
mod oci;
mod png;
mod pyc;
mod stream;
mod tar;
mod zip;

#[cfg(test)]
mod agreement;
#[cfg(test)]
mod tests;

/// Version of the set of rules; bumped whenever a canonical form changes.
pub const RULESET_VERSION: &str = "repro-normalize-v3";

/// Version of the normalized digest's definition (see the README).
pub const DIGEST_VERSION: &str = "repro-normalized-v1";

/// The epoch timestamps are clamped to when no `SOURCE_DATE_EPOCH` is
/// given: 1980-01-01 00:00:00 UTC, the earliest time a zip can store.
pub const DEFAULT_EPOCH: i64 = 315_532_800;

/// How to normalize.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Timestamps later than this are set to it (`--source-date-epoch`);
    /// `None` clamps to [`DEFAULT_EPOCH`].
    pub source_date_epoch: Option<i64>,
    /// Safety limits for untrusted input.
    pub limits: Limits,
    /// Normalize and digest archives whose structures disagree (a zip's
    /// local and central headers, two end records, a hidden entry), which
    /// are refused otherwise: their canonical form would claim one reading
    /// of an archive other tools read another way.
    pub allow_ambiguous: bool,
    /// Leave a malformed file as it is, with a warning naming the file and
    /// the problem ([`Report::warning`]), as strip-nondeterminism does, so
    /// that one damaged file among many does not stop the others from being
    /// made canonical (`repro normalize` without `--strict`). Off (the
    /// default, for library callers): a malformed file is an error.
    pub keep_malformed: bool,
}

impl Options {
    fn epoch(&self) -> i64 {
        self.source_date_epoch.unwrap_or(DEFAULT_EPOCH)
    }
}

/// One normalization rule. [`Rule::id`] is stable across releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// Zip entries in a stable order (jar manifest first, wheel dist-info last).
    ZipSort,
    /// Zip entry times clamped to the epoch.
    ZipMtimeClamp,
    /// Zip extra fields carrying times or owners removed.
    ZipExtraStrip,
    /// Zip external attributes reduced to 0644/0755.
    ZipAttrNormalize,
    /// Zip "version made by" fixed to Unix.
    ZipVersionMadeBy,
    /// Zip "version needed to extract" set to what the entry's features need.
    ZipVersionNeeded,
    /// Zip general-purpose flags that say nothing about the content cleared.
    ZipFlags,
    /// Zip data descriptors folded into the local headers.
    ZipDescriptor,
    /// Gzip header mtime set to 0.
    GzipMtime,
    /// Gzip original file name removed.
    GzipFname,
    /// Gzip comment removed.
    GzipComment,
    /// Gzip header CRC removed.
    GzipHcrc,
    /// Tar entries sorted by path.
    TarSort,
    /// Tar mtimes clamped to the epoch.
    TarMtimeClamp,
    /// Tar uid/gid 0 and empty user/group names.
    TarOwner,
    /// Tar PAX atime/ctime and other volatile records dropped.
    TarPaxVolatile,
    /// Tar modes reduced to 0644/0755 (0755 for directories, 0777 for symlinks).
    TarMode,
    /// Ar member mtimes clamped to the epoch.
    ArMtime,
    /// Ar member uid/gid 0.
    ArOwner,
    /// Ar member modes reduced to 0644/0755.
    ArMode,
    /// Pyc source mtime clamped to the epoch.
    PycMtime,
    /// PNG tIME and date-bearing text chunks dropped.
    PngTimeChunks,
    /// OCI config, history and annotation `created` times clamped.
    OciCreated,
}

impl Rule {
    /// Every rule, in the order they are documented.
    pub const ALL: &'static [Rule] = &[
        Rule::ZipSort,
        Rule::ZipMtimeClamp,
        Rule::ZipExtraStrip,
        Rule::ZipAttrNormalize,
        Rule::ZipVersionMadeBy,
        Rule::ZipVersionNeeded,
        Rule::ZipFlags,
        Rule::ZipDescriptor,
        Rule::GzipMtime,
        Rule::GzipFname,
        Rule::GzipComment,
        Rule::GzipHcrc,
        Rule::TarSort,
        Rule::TarMtimeClamp,
        Rule::TarOwner,
        Rule::TarPaxVolatile,
        Rule::TarMode,
        Rule::ArMtime,
        Rule::ArOwner,
        Rule::ArMode,
        Rule::PycMtime,
        Rule::PngTimeChunks,
        Rule::OciCreated,
    ];

    /// The stable id, e.g. `zip.mtime-clamp`.
    pub fn id(self) -> &'static str {
        match self {
            Rule::ZipSort => "zip.sort",
            Rule::ZipMtimeClamp => "zip.mtime-clamp",
            Rule::ZipExtraStrip => "zip.extra-strip",
            Rule::ZipAttrNormalize => "zip.attr-normalize",
            Rule::ZipVersionMadeBy => "zip.version-made-by",
            Rule::ZipVersionNeeded => "zip.version-needed",
            Rule::ZipFlags => "zip.flags",
            Rule::ZipDescriptor => "zip.descriptor",
            Rule::GzipMtime => "gzip.mtime",
            Rule::GzipFname => "gzip.fname",
            Rule::GzipComment => "gzip.comment",
            Rule::GzipHcrc => "gzip.hcrc",
            Rule::TarSort => "tar.sort",
            Rule::TarMtimeClamp => "tar.mtime-clamp",
            Rule::TarOwner => "tar.owner",
            Rule::TarPaxVolatile => "tar.pax-volatile",
            Rule::TarMode => "tar.mode",
            Rule::ArMtime => "ar.mtime",
            Rule::ArOwner => "ar.owner",
            Rule::ArMode => "ar.mode",
            Rule::PycMtime => "pyc.mtime",
            Rule::PngTimeChunks => "png.time-chunks",
            Rule::OciCreated => "oci.created",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// A rule that changed something, and where: the nested path of the
/// (possibly nested) file it changed, e.g. `a.deb::data.tar.xz::data.tar`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fired {
    /// Nested path, starting with the name the file was given.
    pub path: String,
    /// The rule.
    pub rule: Rule,
}

/// Every format with a canonical form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Zip, jar, wheel.
    Zip,
    /// Tar.
    Tar,
    /// Gzip.
    Gzip,
    /// Xz.
    Xz,
    /// Zstandard.
    Zstd,
    /// Bzip2.
    Bzip2,
    /// Unix ar, including `.deb`.
    Ar,
    /// Python bytecode (`.pyc`).
    Pyc,
    /// PNG images.
    Png,
    /// OCI image layouts (directories).
    Oci,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::Gzip => "gzip",
            Format::Xz => "xz",
            Format::Zstd => "zstd",
            Format::Bzip2 => "bzip2",
            Format::Ar => "ar",
            Format::Pyc => "pyc",
            Format::Png => "png",
            Format::Oci => "oci",
        })
    }
}

impl Serialize for Format {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What normalizing one file did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The detected format; `None`: unknown format, left unchanged.
    pub format: Option<Format>,
    /// The rules that changed something, in the order they fired.
    pub fired: Vec<Fired>,
    /// Why a file in a known format was left as it is: it is malformed
    /// (the error, naming the file and the problem). Only with
    /// [`Options::keep_malformed`].
    pub warning: Option<String>,
}

impl Report {
    /// Whether the file was rewritten.
    pub fn changed(&self) -> bool {
        !self.fired.is_empty()
    }
}

/// A `repro-normalized-v1` digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalizedDigest {
    /// The SHA-256 value.
    pub sha256: [u8; 32],
    /// The detected format; `None`: the digest is the plain SHA-256.
    pub format: Option<Format>,
    /// The rules normalizing would fire.
    pub fired: Vec<Fired>,
    /// Why the digest is the plain SHA-256 of a file in a known format: it
    /// is malformed, so normalizing leaves it as it is. Only with
    /// [`Options::keep_malformed`].
    pub warning: Option<String>,
}

impl NormalizedDigest {
    /// Lowercase hex of the digest.
    pub fn hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

/// Normalizes `input` into `output` (which may be the same path).
///
/// When a rule fires, the canonical form is written to a temporary file in
/// `output`'s directory and renamed over `output`. When none fires (or the
/// format is unknown), `input` is already canonical: it is left alone, and
/// copied (atomically) only when `output` is another path.
///
/// An OCI image layout (a directory) is normalized in place, or copied to
/// `output` first; see the README.
///
/// A malformed file (one its format's reader cannot read to the end) is
/// copied as it is, like a file of unknown format, and the report carries
/// the problem as a warning, when [`Options::keep_malformed`]; otherwise it
/// is an error. Nothing is half-written either way: the output is written in full or
/// not at all.
pub fn normalize_file(input: &Path, output: &Path, opts: &Options) -> Result<Report> {
    match normalize_known(input, output, opts) {
        Err(e) if opts.keep_malformed && e.is_malformed_input() => {
            copy_unless_same(input, output)?;
            Ok(Report {
                format: None,
                fired: Vec::new(),
                warning: Some(e.to_string()),
            })
        }
        result => result,
    }
}

/// [`normalize_file`] without the leniency for malformed input.
fn normalize_known(input: &Path, output: &Path, opts: &Options) -> Result<Report> {
    if formats::oci::is_layout(input) {
        let fired = with_nx(opts, |nx| oci::normalize_dir(input, output, nx))?;
        return Ok(Report {
            format: Some(Format::Oci),
            fired,
            warning: None,
        });
    }
    let Opened {
        name,
        blob,
        budget,
        normalizer,
        stub,
    } = Opened::new(input, opts)?;
    let nx = Nx {
        budget: &budget,
        epoch: opts.epoch(),
        allow_ambiguous: opts.allow_ambiguous,
    };
    let Some(normalizer) = normalizer else {
        copy_unless_same(input, output)?;
        return Ok(Report {
            format: None,
            fired: Vec::new(),
            warning: None,
        });
    };
    let format = Some(normalizer.format());
    // Keep the input's permission bits: normalizing changes content, not access.
    let mode = std::fs::metadata(input)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(fsio::DEFAULT_MODE);
    let target = fsio::Target::resolve(output).map_err(output_error)?;
    budget.check_depth(1, &name)?;
    refuse_polyglot(&blob, &name, stub, &nx)?;
    let fired = if matches!(target, fsio::Target::Through { .. }) {
        // A device or FIFO cannot take bytes back, and when no rule fires
        // the input's own bytes are what goes out: normalize into an
        // anonymous spool first.
        let mut spool = tempfile::tempfile().map_err(|source| Error::Spool { source })?;
        let mut w = BufWriter::new(&spool);
        let fired = normalizer.normalize(&blob, &name, 1, &nx, &mut w)?;
        w.flush().map_err(|source| Error::Spool { source })?;
        drop(w);
        if !fired.is_empty() {
            spool.rewind().map_err(|source| Error::Spool { source })?;
            let mut out = fsio::Output::to(target, mode).map_err(output_error)?;
            // A write error from `out` names the file already.
            io::copy(&mut spool, &mut out).map_err(|source| Error::Write {
                what: "normalized",
                source,
            })?;
            out.finish().map_err(output_error)?;
        }
        fired
    } else {
        let mut out = fsio::Output::to(target, mode).map_err(output_error)?;
        let fired = normalizer.normalize(&blob, &name, 1, &nx, &mut out)?;
        // Unfinished, the output is dropped and its temporary file removed.
        if !fired.is_empty() {
            out.finish().map_err(output_error)?;
        }
        fired
    };
    if fired.is_empty() {
        copy_unless_same(input, output)?;
    }
    Ok(Report {
        format,
        fired,
        warning: None,
    })
}

/// Computes the `repro-normalized-v1` digest of a file, and which rules
/// normalizing it would fire, without writing anything.
///
/// A malformed file is left as it is by [`normalize_file`], so its digest
/// is its plain SHA-256, with the problem as a warning, when
/// [`Options::keep_malformed`]; otherwise it is an error.
pub fn normalized_digest(path: &Path, opts: &Options) -> Result<NormalizedDigest> {
    match digest_known(path, opts) {
        Err(e) if opts.keep_malformed && e.is_malformed_input() => {
            let blob = Blob::open(path)?;
            let sha256 = sha256_of(&mut blob.reader()).map_err(|e| read_error(path, e))?;
            Ok(NormalizedDigest {
                sha256,
                format: None,
                fired: Vec::new(),
                warning: Some(e.to_string()),
            })
        }
        result => result,
    }
}

/// [`normalized_digest`] without the leniency for malformed input.
fn digest_known(path: &Path, opts: &Options) -> Result<NormalizedDigest> {
    if formats::oci::is_layout(path) {
        let d = with_nx(opts, |nx| oci::digest_dir(path, nx))?;
        return Ok(NormalizedDigest {
            sha256: d.sha256,
            format: Some(Format::Oci),
            fired: d.fired,
            warning: None,
        });
    }
    let Opened {
        name,
        blob,
        budget,
        normalizer,
        stub,
    } = Opened::new(path, opts)?;
    let nx = Nx {
        budget: &budget,
        epoch: opts.epoch(),
        allow_ambiguous: opts.allow_ambiguous,
    };
    let d = match (normalizer, stub) {
        // A self-extractor: a zip found from the end, which content
        // detection of nested members (by their head) does not do.
        (Some(n), true) => {
            budget.check_depth(1, &name)?;
            refuse_polyglot(&blob, &name, stub, &nx)?;
            n.digest(&blob, &name, 1, &nx)?
        }
        _ => digest_blob(&blob, &name, 1, &nx)?,
    };
    Ok(NormalizedDigest {
        sha256: d.sha256,
        format: normalizer.map(|n| n.format()),
        fired: d.fired,
        warning: None,
    })
}

/// Whether `path` is an OCI image layout directory, which
/// [`normalize_file`] accepts in place of a file.
pub fn is_oci_layout(path: &Path) -> bool {
    formats::oci::is_layout(path)
}

/// A file opened for normalizing or digesting, with its format detected.
struct Opened {
    name: String,
    blob: Blob,
    budget: Budget,
    normalizer: Option<&'static dyn Normalizer>,
    /// A self-extractor: an executable stub in front of a zip, which is
    /// normalized as the zip (the stub kept byte for byte).
    stub: bool,
}

impl Opened {
    fn new(path: &Path, opts: &Options) -> Result<Opened> {
        let blob = Blob::open(path)?;
        let head = blob
            .head(formats::HEAD_LEN)
            .map_err(|e| read_error(path, e))?;
        let mut normalizer = detect(&head);
        // Only a whole file is looked at from the end: a self-extractor
        // is a file shipped as it is, not a member of another archive.
        let stub = normalizer.is_none()
            && formats::zip::reader::self_extractor(
                &head,
                &blob,
                &Budget::new(opts.limits.clone()),
            )
            .is_some();
        if stub {
            normalizer = Some(&zip::Zip);
        }
        Ok(Opened {
            name: path.display().to_string(),
            blob,
            budget: Budget::new(opts.limits.clone()),
            normalizer,
            stub,
        })
    }
}

fn read_error(path: &Path, source: io::Error) -> Error {
    Error::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// An output error; it names the file already.
fn output_error(e: fsio::Error) -> Error {
    Error::Write {
        what: "normalized",
        source: io::Error::new(e.kind(), e),
    }
}

/// Copies `input` to `output` atomically unless they are the same file.
fn copy_unless_same(input: &Path, output: &Path) -> Result<()> {
    let same = match (std::fs::canonicalize(input), std::fs::canonicalize(output)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Ok(());
    }
    fsio::copy(input, output).map_err(output_error)
}

/// Runs `f` with a fresh limits budget for one input.
fn with_nx<T>(opts: &Options, f: impl FnOnce(&Nx<'_>) -> Result<T>) -> Result<T> {
    let budget = Budget::new(opts.limits.clone());
    f(&Nx {
        budget: &budget,
        epoch: opts.epoch(),
        allow_ambiguous: opts.allow_ambiguous,
    })
}

/// What a normalizer needs: the limits budget and the epoch.
pub(crate) struct Nx<'a> {
    budget: &'a Budget,
    epoch: i64,
    /// Proceed with archives that read two ways (`--allow-ambiguous`).
    allow_ambiguous: bool,
}

impl Nx<'_> {
    /// Refuses an archive whose structures disagree, unless allowed.
    fn ambiguous(&self, format: Kind, entry: &str, detail: impl fmt::Display) -> Result<()> {
        if self.allow_ambiguous {
            return Ok(());
        }
        Err(Error::Ambiguous {
            entry: entry.to_owned(),
            format,
            detail: detail.to_string(),
        })
    }

    fn malformed(&self, format: Kind, entry: &str, detail: impl fmt::Display) -> Error {
        self.budget.tripped().unwrap_or_else(|| Error::Malformed {
            entry: entry.to_owned(),
            format,
            detail: detail.to_string(),
        })
    }

    fn io(&self, err: io::Error, entry: &str, action: &'static str) -> Error {
        self.budget.io_error(err, entry, action)
    }
}

/// A digest and the rules that would fire on the way to it.
pub(crate) struct Digested {
    sha256: [u8; 32],
    fired: Vec<Fired>,
}

/// One format's canonical form.
trait Normalizer: Sync {
    /// The format.
    fn format(&self) -> Format;

    /// Whether `head` (up to [`formats::HEAD_LEN`] leading bytes) is this format.
    fn detect(&self, head: &[u8]) -> bool;

    /// Writes the canonical form of `input` (named `name`, at nesting
    /// `depth`) to `out` and returns the rules that fired; when none fires,
    /// writes nothing.
    fn normalize(
        &self,
        input: &Blob,
        name: &str,
        depth: u32,
        nx: &Nx<'_>,
        out: &mut dyn Write,
    ) -> Result<Vec<Fired>>;

    /// The `repro-normalized-v1` digest of `input` and the rules that would fire.
    fn digest(&self, input: &Blob, name: &str, depth: u32, nx: &Nx<'_>) -> Result<Digested>;
}

/// Every normalizer, in detection order.
static REGISTRY: &[&dyn Normalizer] = &[
    &zip::Zip,
    &tar::Tar,
    &gzip::Gzip,
    &stream::XZ,
    &stream::ZSTD,
    &stream::BZIP2,
    &ar::Ar,
    &pyc::Pyc,
    &png::Png,
];

fn detect(head: &[u8]) -> Option<&'static dyn Normalizer> {
    REGISTRY.iter().copied().find(|n| n.detect(head))
}

/// Whether `head` starts like the reader format `kind` (shared magic bytes).
fn reader_detects(kind: Kind, head: &[u8]) -> bool {
    formats::format_of(kind).detect(head)
}

/// The nested path of `member` inside `parent`.
fn nested(parent: &str, member: &str) -> String {
    format!("{parent}::{member}")
}

/// Records that `rule` fired at `path`, once.
fn fire(fired: &mut Vec<Fired>, path: &str, rule: Rule) {
    if !fired.iter().any(|f| f.rule == rule && f.path == path) {
        fired.push(Fired {
            path: path.to_owned(),
            rule,
        });
    }
}

/// Refuses content that a second format also reads whole (a polyglot),
/// unless ambiguity is allowed: its canonical form would be one format's.
///
/// A self-extractor (`stub`) is read as the zip it ends with, not as a
/// polyglot of executable and zip: the stub is an executable that reads
/// the same zip every zip tool reads, and the canonical form keeps its
/// bytes as they are, so both readings of the file survive normalizing.
/// Its head is still checked for a tar header.
fn refuse_polyglot(blob: &Blob, name: &str, stub: bool, nx: &Nx<'_>) -> Result<()> {
    let head = blob
        .head(formats::HEAD_LEN)
        .map_err(|e| nx.io(e, name, "reading"))?;
    let kind = if stub {
        Kind::Zip
    } else {
        formats::detect(&head)
    };
    match formats::also_reads_as(kind, blob).map_err(|e| nx.io(e, name, "reading"))? {
        Some(detail) => nx.ambiguous(kind, name, detail),
        None => Ok(()),
    }
}

/// Refuses a decompressed stream that a second format also reads whole,
/// as [`refuse_polyglot`] refuses a file: `kept` holds its ends, kept as
/// it was read ([`formats::Ends`]); `reopen` decompresses it anew, for the
/// rare zip end record whose central directory starts before them.
fn refuse_stream_polyglot<'a>(
    kept: &formats::Kept,
    name: &str,
    nx: &Nx<'_>,
    reopen: &mut dyn FnMut() -> Result<Box<dyn Read + 'a>>,
) -> Result<()> {
    let kind = formats::detect(&kept.head);
    let found = kept
        .also_reads_as(kind, &mut |at, n| {
            let mut r = reopen().map_err(io::Error::other)?;
            formats::read_at(&mut r, at, n)
        })
        .map_err(|e| nx.io(e, name, "decompressing"))?;
    match found {
        Some(detail) => nx.ambiguous(kind, name, detail),
        None => Ok(()),
    }
}

/// Normalizes nested content if it is in a known format and a rule fires;
/// `None` when it is to be kept as it is.
fn normalize_nested(
    blob: &Blob,
    name: &str,
    depth: u32,
    nx: &Nx<'_>,
) -> Result<Option<(Blob, Vec<Fired>)>> {
    let head = blob
        .head(formats::HEAD_LEN)
        .map_err(|e| nx.io(e, name, "reading"))?;
    let Some(n) = detect(&head) else {
        return Ok(None);
    };
    nx.budget.check_depth(depth, name)?;
    refuse_polyglot(blob, name, false, nx)?;
    let mut sink = Sink::default();
    let fired = n.normalize(blob, name, depth, nx, &mut sink)?;
    if fired.is_empty() {
        return Ok(None);
    }
    Ok(Some((sink.into_blob()?, fired)))
}

/// The normalized digest of content: its format's digest, or the plain
/// SHA-256 of the bytes when the format is unknown.
fn digest_blob(blob: &Blob, name: &str, depth: u32, nx: &Nx<'_>) -> Result<Digested> {
    let head = blob
        .head(formats::HEAD_LEN)
        .map_err(|e| nx.io(e, name, "reading"))?;
    match detect(&head) {
        Some(n) => {
            nx.budget.check_depth(depth, name)?;
            refuse_polyglot(blob, name, false, nx)?;
            n.digest(blob, name, depth, nx)
        }
        None => {
            let mut r = blob.reader();
            let sha256 = sha256_of(&mut r).map_err(|e| nx.io(e, name, "reading"))?;
            Ok(Digested {
                sha256,
                fired: Vec::new(),
            })
        }
    }
}

/// The normalized digest of streamed content: hashed as it passes unless
/// its head shows a known format, which is spooled and digested as such.
fn digest_reader(r: &mut dyn Read, name: &str, depth: u32, nx: &Nx<'_>) -> Result<Digested> {
    let mut head = Vec::with_capacity(formats::HEAD_LEN);
    r.take(formats::HEAD_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| nx.io(e, name, "reading"))?;
    let found = detect(&head);
    if found.is_some_and(|n| n.format() == Format::Tar) {
        // A tar is digested as it streams: a compressed tar is never spooled.
        nx.budget.check_depth(depth, name)?;
        let mut chained = io::Cursor::new(head).chain(r);
        let digested = tar::digest_stream(&mut chained, name, depth, nx)?;
        // The walk stops at the end-of-archive block; what follows is read
        // too, so that a damaged or cut compressed stream around the tar is
        // an error here as it is when normalizing, which reads it whole.
        io::copy(&mut chained, &mut io::sink()).map_err(|e| nx.io(e, name, "reading"))?;
        return Ok(digested);
    }
    if found.is_some() {
        let mut sink = Sink::default();
        sink.write_all(&head)
            .map_err(|e| nx.io(e, name, "spooling"))?;
        io::copy(r, &mut sink).map_err(|e| nx.io(e, name, "spooling"))?;
        return digest_blob(&sink.into_blob()?, name, depth, nx);
    }
    let mut hasher = Sha256::new();
    hasher.update(&head);
    let mut w = HashWriter(&mut hasher);
    io::copy(r, &mut w).map_err(|e| nx.io(e, name, "reading"))?;
    Ok(Digested {
        sha256: hasher.finalize().into(),
        fired: Vec::new(),
    })
}

/// SHA-256 of everything `r` yields.
fn sha256_of(r: &mut dyn Read) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    io::copy(r, &mut HashWriter(&mut hasher))?;
    Ok(hasher.finalize().into())
}

/// A writer that feeds a hasher.
struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Builds the digest of a container: `repro-normalized-v1\0<format>\0`
/// followed by one record per entry (see the README).
struct ContainerHasher(Sha256);

/// One entry of a container as the digest sees it.
struct DigestEntry {
    path: Vec<u8>,
    kind: &'static str,
    mode: u32,
    digest: [u8; 32],
}

impl ContainerHasher {
    fn new(format: &str) -> Self {
        let mut h = Sha256::new();
        h.update(DIGEST_VERSION.as_bytes());
        h.update([0]);
        h.update(format.as_bytes());
        h.update([0]);
        ContainerHasher(h)
    }

    fn entry(&mut self, e: &DigestEntry) {
        self.0.update(format!(
            "{} {:04o} {} {}:",
            e.kind,
            e.mode,
            hex::encode(e.digest),
            e.path.len()
        ));
        self.0.update(&e.path);
        self.0.update(b"\n");
    }

    fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// The digest of a leaf format whose canonical bytes are hashed whole.
fn leaf_digest(format: &str, canonical: &[u8]) -> [u8; 32] {
    let mut h = ContainerHasher::new(format);
    h.update(canonical);
    h.finish()
}

/// Canonical permission bits of a non-directory, non-symlink: 0755 when any
/// execute bit is set, else 0644.
fn canonical_file_mode(mode: u32) -> u32 {
    if mode & 0o111 != 0 {
        0o755
    } else {
        0o644
    }
}

/// Output of a nested normalization: kept in memory while small, spilled to
/// an anonymous temporary file beyond [`INLINE_MAX`].
#[derive(Default)]
pub(crate) struct Sink {
    mem: Vec<u8>,
    file: Option<BufWriter<File>>,
    len: u64,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(f) = self.file.as_mut() {
            f.write_all(buf)?;
        } else if self.mem.len() + buf.len() > INLINE_MAX as usize {
            let mut f = BufWriter::with_capacity(1 << 20, tempfile::tempfile()?);
            f.write_all(&self.mem)?;
            f.write_all(buf)?;
            self.mem = Vec::new();
            self.file = Some(f);
        } else {
            self.mem.extend_from_slice(buf);
        }
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Sink {
    fn into_blob(self) -> Result<Blob> {
        match self.file {
            None => Ok(Blob::mem(self.mem)),
            Some(w) => {
                let file = w.into_inner().map_err(|e| Error::Spool {
                    source: e.into_error(),
                })?;
                Ok(Blob::File {
                    file: Arc::new(file),
                    start: 0,
                    len: self.len,
                })
            }
        }
    }
}

/// A decompressing reader over `blob` that charges the limits budget.
fn decompressed<'a>(
    kind: Kind,
    blob: &Blob,
    name: &'a str,
    nx: &'a Nx<'a>,
) -> Result<Box<dyn Read + 'a>> {
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counting = Box::new(CountingReader::new(blob.reader(), Arc::clone(&count)));
    let decoder = formats::format_of(kind)
        .decoder(counting)
        .ok_or_else(|| nx.malformed(kind, name, "not a compressed stream"))?
        .map_err(|e| nx.io(e, name, "decompressing"))?;
    Ok(Box::new(LimitReader::new(
        decoder,
        nx.budget,
        name,
        Consumed::Counted(count),
    )))
}
