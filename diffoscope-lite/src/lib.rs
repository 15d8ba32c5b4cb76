//! diffoscope-lite: the artifact side of repro.
//!
//! This crate owns everything repro knows about *artifacts*, the files a
//! build produces: it hashes them ([`hash`]), reads them, and compares them
//! recursively to say *what* differs between two builds and *why*.
//!
//! # Model
//!
//! An artifact is read as a tree (see [`model`]): a [`model::Container`]
//! (directory, zip, tar, ar, an ELF file's sections, or the one stream
//! inside a gzip/xz/zstd/bzip2 file) holds [`model::Entry`]s with a path, a
//! kind, [`model::Metadata`] and streamable [`model::Content`]. Formats are
//! detected by content, never by file name ([`formats::detect`]); each lives
//! in one file behind the [`formats::Format`] trait and is listed once in
//! [`formats::REGISTRY`].
//!
//! # Formats
//!
//! - Archives: zip (wheel, jar, apk, nupkg), tar (v7, ustar, GNU, PAX), ar
//!   (including `.deb`); compressed streams: gzip, xz, zstd, bzip2, lz4
//!   frames and legacy `.lzma`.
//! - ELF objects, executables and shared libraries: the header's class,
//!   type, machine, entry point and flags are metadata; each section is an
//!   entry with its type, flags, address and size. String-holding sections
//!   (`.rodata`, `.comment`, string tables, `.debug_str`, `.interp`, …) are
//!   diffed as one printable string per line, so embedded build paths read
//!   as text; notes show as owner, type and hex (the GNU build id); other
//!   sections as a hexdump. DWARF is decoded (with [gimli]): `.debug_info`
//!   as units and entries with their attributes, `.debug_line` as line
//!   programs with their directory and file tables, so producers and
//!   comp_dirs read as text.
//! - Mach-O, thin and fat: a node per architecture (`x86_64`), load
//!   commands as text (one per line), sections as entries like ELF's,
//!   DWARF decoded likewise.
//! - Ar symbol tables as `symbol → member` lines, a view of the archive
//!   named `nm --print-armap {}` as diffoscope names it;
//!   Rust `.rlib` members: `RUST_OBJECT` bytecode containers inflated,
//!   `lib.rmeta` read as the object file it is.
//! - Office documents in a zip (`.docx`, OpenDocument text): the
//!   document's text as a view of the file (`docx2txt`, `odt2txt`, as
//!   diffoscope names it), before the members.
//! - Python bytecode caches (`.pyc`, magic number then `\r\n`): the magic
//!   (with the Python version), flags, source mtime (so the timestamp hint
//!   applies) and source size or hash are metadata; the marshalled code
//!   object is one entry compared as bytes.
//! - JSON (compared pretty-printed with sorted keys) and UTF-8 text (line by
//!   line); anything else as a hexdump of the differing regions, with a
//!   strings view (printable runs) beside it, so paths are found and
//!   hinted in any binary.
//!
//! # Comparing
//!
//! [`compare`] pairs entries by path (two containers of one member each
//! pair those members whatever their names or formats, a `.deb`'s
//! `data.tar.*` pair across compression suffixes, as diffoscope does),
//! skips identical content by SHA-256, recurses into differing containers
//! (up to [`Limits::max_depth`]; deeper, that branch is marked "maximum
//! depth reached" and the rest of the report goes on), and diffs the rest:
//! text as a unified diff with three lines of context, binary as a hexdump
//! of the differing regions, both capped at [`Options::max_diff_lines`].
//! Metadata differences (mtime, mode, owner, entry order, compression,
//! extra fields, …) are reported apart from content: an archive member's
//! as changed lines of its container's listing view (`file list`,
//! `zipinfo {}`, `zipnote {}`, as diffoscope shows them), with the typed
//! values in [`Difference::listed`]; a member gets a node of its own only
//! when its content (or a field no listing shows) differs. The result is
//! a [`Difference`] tree shaped like diffoscope's;
//! [`hints::annotate`] then adds likely causes from a [`hints::HintContext`],
//! and the [`printers`] turn it into text, diffoscope JSON, HTML or a
//! summary; [`grouping`] folds a metadata difference that many entries
//! share into one line for the text and HTML printers.
//!
//! ```no_run
//! use diffoscope_lite::{compare, hints, printers, Options};
//! # fn main() -> diffoscope_lite::Result<()> {
//! let opts = Options::default();
//! if let Some(mut diff) = compare("a.whl".as_ref(), "b.whl".as_ref(), &opts)? {
//!     hints::annotate(&mut diff, &hints::HintContext::default());
//!     printers::text(&diff, &mut std::io::stdout(), &printers::TextOptions::default())?;
//! }
//! # Ok(()) }
//! ```
//!
//! # Normalizing
//!
//! [`normalize`] rewrites artifacts into canonical forms (zip, tar and its
//! compressed variants, ar/.deb, .pyc, PNG): times clamped, owners, order
//! and volatile header fields fixed, member data kept byte for byte, each
//! change reported as a rule with a stable id. [`normalize::normalized_digest`]
//! hashes the canonical content model without writing anything.
//!
//! # Untrusted input
//!
//! Artifacts are hostile until proven otherwise. Nothing here creates a
//! file named by an archive (spooling uses anonymous temporary files), no
//! buffer is sized by a length an archive declares, and nesting depth,
//! entry count, decompressed bytes and compression ratio are limited
//! ([`Limits`]), each failing with [`Error::LimitExceeded`] naming the
//! limit, the entry and the flag that raises it. Duplicate or conflicting
//! entries are reported as comments, never silently resolved.
//!
//! This crate never prints and never exits; every failure is a typed
//! [`Error`] that names the file or nested entry.

mod beneath;
mod blob;
mod compare;
mod difference;
mod error;
pub mod formats;
// The fuzz targets' promises, shared with the stable test of the seed
// corpus; not part of the API.
#[doc(hidden)]
pub mod fuzzing;
pub mod grouping;
pub mod hash;
pub mod hints;
mod kind;
mod leaf;
mod limits;
pub mod listing;
mod meet;
pub mod model;
pub mod normalize;
pub mod printers;
pub mod stabilize;
mod textdiff;
mod timefmt;
mod views;

#[cfg(test)]
mod tests;

pub use compare::compare;
pub use difference::{Difference, ListedMember, MetadataDifference};
pub use error::{Error, Result};
pub use hash::{sha256_file, sha256_files, Digest};
pub use limits::{Limits, RATIO_GRACE_BYTES};

/// Everything a comparison can be told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Safety limits for untrusted input.
    pub limits: Limits,
    /// Most lines of diff shown per file (`--max-diff-lines`); the rest is
    /// replaced by an "N lines omitted" marker.
    pub max_diff_lines: usize,
    /// Largest content diffed as text; larger text is compared as bytes.
    pub max_text_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            max_diff_lines: 1000,
            max_text_bytes: 8 << 20,
        }
    }
}
