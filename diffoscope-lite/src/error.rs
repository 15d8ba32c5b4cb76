//! The one error type of diffoscope-lite.
//!
//! Every variant names where it happened: the file on disk, or the nested
//! entry path inside an artifact (`a.tar.gz::inner.zip::lib/x.so`). Limit
//! errors also name the limit and the command-line flag that raises it, so
//! a user who hits one knows exactly what to change.

use std::path::PathBuf;

use crate::kind::Kind;

/// Everything that can go wrong while reading, hashing or comparing an artifact.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening or reading a file failed.
    #[error("cannot read {path}")]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Reading an entry inside an artifact, or a spool file, failed.
    #[error("{entry}: {action} failed")]
    Io {
        /// Nested path of the entry, e.g. `a.tar.gz::a.tar::lib/x.so`.
        entry: String,
        /// What was being done: "decompressing", "reading", …
        action: &'static str,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The archive reads two ways: its own structures disagree (a zip's
    /// local and central headers, two end records, an entry hidden
    /// outside the central directory), as archives made to show one tool
    /// one thing and another tool another do.
    #[error(
        "{entry}: ambiguous {format}: {detail}; tools disagree on what it holds, so it has no \
         canonical form (--allow-ambiguous proceeds anyway)"
    )]
    Ambiguous {
        /// Nested path of the archive.
        entry: String,
        /// The format that was being read.
        format: Kind,
        /// Which structures disagree, and how.
        detail: String,
    },

    /// The artifact is damaged or not what its magic bytes claimed.
    #[error("{entry}: malformed {format}: {detail}")]
    Malformed {
        /// Nested path of the artifact or entry.
        entry: String,
        /// The format that was being read.
        format: Kind,
        /// What was wrong, in the reader's words.
        detail: String,
    },

    /// A safety limit was exceeded; the flag raises it.
    #[error("{entry}: {limit} limit exceeded ({value} > {max}); raise it with {flag}")]
    LimitExceeded {
        /// Human name of the limit ("nesting depth", "entry count",
        /// "total decompressed bytes", "compression ratio").
        limit: &'static str,
        /// The value that was reached.
        value: u64,
        /// The configured maximum.
        max: u64,
        /// Nested path of the entry being read when the limit was hit.
        entry: String,
        /// The command-line flag that sets this limit.
        flag: &'static str,
    },

    /// Creating a spool file in the temporary directory failed.
    #[error(
        "cannot create a spool file in the temporary directory (set TMPDIR to a writable place)"
    )]
    Spool {
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A printer could not write its output.
    #[error("cannot write the {what} output")]
    Write {
        /// Which output: "text", "JSON", "summary".
        what: &'static str,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the input itself is damaged — unreadable as the format its
    /// magic bytes claim, or its compressed data corrupt or cut short — as
    /// opposed to a refusal (ambiguity, a limit) or a failure of the
    /// machine (reading the file, spooling, writing).
    pub fn is_malformed_input(&self) -> bool {
        match self {
            Error::Malformed { .. } => true,
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ),
            _ => false,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
