//! Safety limits for untrusted input, and the per-side budget that enforces them.
//!
//! Every artifact is treated as hostile: a zip bomb, a tar with a million
//! entries or a matryoshka of nested archives must end in a clear
//! [`Error::LimitExceeded`] that names the limit, the entry and the flag that
//! raises it, never in an exhausted disk, memory or CPU. Decompressed bytes
//! are counted as they are *produced* (never trusted from a header), and the
//! compression ratio is checked against the bytes actually consumed or, for
//! zip members, the compressed size that bounds the read.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::{Error, Result};

/// Decompressed output below this size never trips the ratio limit:
/// highly compressible content of a few MiB (a zero-filled image or
/// padding, a sparse table) is normal in real artifacts, and deflate
/// alone reaches 1000:1 on it. A bomb is still stopped after this much.
pub const RATIO_GRACE_BYTES: u64 = 8 << 20;

/// Configurable safety limits; each has a command-line flag of the same name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest container nesting followed (`--max-depth`); the top-level
    /// artifact's own container is depth 1.
    pub max_depth: u32,
    /// Most entries read from all containers of one side (`--max-entries`).
    pub max_entries: u64,
    /// Most bytes produced by decompression on one side, counted on every
    /// read (`--max-decompressed`).
    pub max_decompressed: u64,
    /// Highest decompressed:compressed ratio of any one stream
    /// (`--max-ratio`), checked once a stream has produced
    /// [`RATIO_GRACE_BYTES`].
    pub max_ratio: u64,
    /// Largest JSON document of an image (OCI index, manifest, config)
    /// read into memory (`--max-json`).
    pub max_json: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 8,
            max_entries: 1_000_000,
            max_decompressed: 16 << 30,
            max_ratio: 200,
            max_json: 64 << 20,
        }
    }
}

/// What one side of a comparison has used so far.
///
/// The first limit that trips is remembered, so that an error which a
/// third-party reader (tar, zip) wrapped in its own `io::Error` is still
/// reported as the limit that caused it.
#[derive(Debug)]
pub(crate) struct Budget {
    limits: Limits,
    entries: AtomicU64,
    decompressed: AtomicU64,
    tripped: OnceLock<Tripped>,
}

#[derive(Clone, Debug)]
struct Tripped {
    limit: &'static str,
    value: u64,
    max: u64,
    entry: String,
    flag: &'static str,
}

impl Tripped {
    fn error(&self) -> Error {
        Error::LimitExceeded {
            limit: self.limit,
            value: self.value,
            max: self.max,
            entry: self.entry.clone(),
            flag: self.flag,
        }
    }
}

impl Budget {
    pub(crate) fn new(limits: Limits) -> Self {
        Budget {
            limits,
            entries: AtomicU64::new(0),
            decompressed: AtomicU64::new(0),
            tripped: OnceLock::new(),
        }
    }

    fn trip(
        &self,
        limit: &'static str,
        value: u64,
        max: u64,
        entry: &str,
        flag: &'static str,
    ) -> Error {
        let t = Tripped {
            limit,
            value,
            max,
            entry: entry.to_owned(),
            flag,
        };
        let _ = self.tripped.set(t.clone());
        t.error()
    }

    /// Fails when opening a container at `depth` would exceed `--max-depth`.
    pub(crate) fn check_depth(&self, depth: u32, entry: &str) -> Result<()> {
        if depth > self.limits.max_depth {
            return Err(self.trip(
                "nesting depth",
                u64::from(depth),
                u64::from(self.limits.max_depth),
                entry,
                "--max-depth",
            ));
        }
        Ok(())
    }

    /// Fails when a JSON document of `len` bytes is larger than `--max-json`.
    pub(crate) fn check_json(&self, len: u64, entry: &str) -> Result<()> {
        if len > self.limits.max_json {
            return Err(self.trip(
                "JSON document size",
                len,
                self.limits.max_json,
                entry,
                "--max-json",
            ));
        }
        Ok(())
    }

    /// The `--max-json` limit.
    pub(crate) fn max_json(&self) -> u64 {
        self.limits.max_json
    }

    /// The `--max-entries` limit.
    pub(crate) fn max_entries(&self) -> u64 {
        self.limits.max_entries
    }

    /// The error for a container that declares more entries than allowed.
    pub(crate) fn exceed_entries(&self, declared: u64, entry: &str) -> Error {
        self.trip(
            "entry count",
            declared,
            self.limits.max_entries,
            entry,
            "--max-entries",
        )
    }

    /// Counts one more entry read from a container.
    pub(crate) fn add_entry(&self, entry: &str) -> Result<()> {
        let n = self.entries.fetch_add(1, Ordering::Relaxed) + 1;
        if n > self.limits.max_entries {
            return Err(self.trip(
                "entry count",
                n,
                self.limits.max_entries,
                entry,
                "--max-entries",
            ));
        }
        Ok(())
    }

    fn add_decompressed(&self, bytes: u64, entry: &str) -> Result<()> {
        let n = self.decompressed.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if n > self.limits.max_decompressed {
            return Err(self.trip(
                "total decompressed bytes",
                n,
                self.limits.max_decompressed,
                entry,
                "--max-decompressed",
            ));
        }
        Ok(())
    }

    /// Counts `bytes` of output that no decoder produced but a reader
    /// will (the holes of a sparse tar member), checked before any is:
    /// a forged declaration trips the limit instead of filling a disk.
    pub(crate) fn charge_expanded(&self, bytes: u64, entry: &str) -> Result<()> {
        let before = self.decompressed.load(Ordering::Relaxed);
        if bytes > self.limits.max_decompressed.saturating_sub(before) {
            return Err(self.trip(
                "total decompressed bytes",
                before.saturating_add(bytes),
                self.limits.max_decompressed,
                entry,
                "--max-decompressed",
            ));
        }
        self.add_decompressed(bytes, entry)
    }

    fn check_ratio(&self, produced: u64, consumed: u64, entry: &str) -> Result<()> {
        if produced < RATIO_GRACE_BYTES {
            return Ok(());
        }
        let ratio = produced / consumed.max(1);
        if ratio > self.limits.max_ratio {
            return Err(self.trip(
                "compression ratio",
                ratio,
                self.limits.max_ratio,
                entry,
                "--max-ratio",
            ));
        }
        Ok(())
    }

    /// Turns an I/O error met while reading `entry` into this crate's error:
    /// a tripped limit wins (whoever wrapped it), then one of our own errors
    /// carried inside the `io::Error`, then a plain [`Error::Io`].
    pub(crate) fn io_error(&self, err: io::Error, entry: &str, action: &'static str) -> Error {
        if let Some(t) = self.tripped.get() {
            return t.error();
        }
        if err.get_ref().is_some_and(|e| e.is::<Error>()) {
            if let Some(inner) = err.into_inner() {
                return match inner.downcast::<Error>() {
                    Ok(ours) => *ours,
                    Err(other) => Error::Io {
                        entry: entry.to_owned(),
                        action,
                        source: io::Error::other(other),
                    },
                };
            }
            return Error::Io {
                entry: entry.to_owned(),
                action,
                source: io::Error::other("unknown error"),
            };
        }
        Error::Io {
            entry: entry.to_owned(),
            action,
            source: err,
        }
    }

    /// The tripped limit, if any, as an error.
    pub(crate) fn tripped(&self) -> Option<Error> {
        self.tripped.get().map(Tripped::error)
    }
}

/// How much compressed input a decompressing stream has consumed.
#[derive(Clone, Debug)]
pub(crate) enum Consumed {
    /// Known in advance (a zip member reads exactly its compressed size).
    Fixed(u64),
    /// Counted by a [`CountingReader`] under the decoder.
    Counted(Arc<AtomicU64>),
}

impl Consumed {
    fn get(&self) -> u64 {
        match self {
            Consumed::Fixed(n) => *n,
            Consumed::Counted(c) => c.load(Ordering::Relaxed),
        }
    }
}

/// Counts the bytes read through it (the compressed side of a decoder).
pub(crate) struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    pub(crate) fn new(inner: R, count: Arc<AtomicU64>) -> Self {
        CountingReader { inner, count }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Wraps the output of a decoder: charges the side's decompressed-bytes
/// budget and checks the stream's ratio on every read.
pub(crate) struct LimitReader<'a, R> {
    inner: R,
    budget: &'a Budget,
    entry: &'a str,
    produced: u64,
    consumed: Consumed,
}

impl<'a, R> LimitReader<'a, R> {
    pub(crate) fn new(inner: R, budget: &'a Budget, entry: &'a str, consumed: Consumed) -> Self {
        LimitReader {
            inner,
            budget,
            entry,
            produced: 0,
            consumed,
        }
    }
}

impl<R: Read> Read for LimitReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        self.budget
            .add_decompressed(n as u64, self.entry)
            .and_then(|()| {
                self.budget
                    .check_ratio(self.produced, self.consumed.get(), self.entry)
            })
            .map_err(io::Error::other)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_error_survives_foreign_wrapping() {
        let budget = Budget::new(Limits {
            max_decompressed: 10,
            ..Limits::default()
        });
        let data = [0u8; 100];
        let mut r = LimitReader::new(&data[..], &budget, "x.gz::x", Consumed::Fixed(100));
        let err = std::io::copy(&mut r, &mut std::io::sink()).unwrap_err();
        // A reader that re-wraps the error in its own type loses ours…
        let wrapped = io::Error::new(io::ErrorKind::InvalidData, err.to_string());
        // …but the budget remembers which limit tripped.
        let e = budget.io_error(wrapped, "x.gz::x", "reading");
        assert!(
            matches!(
                e,
                Error::LimitExceeded {
                    flag: "--max-decompressed",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("x.gz::x"), "{e}");
    }
}
