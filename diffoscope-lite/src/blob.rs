//! Random-access bytes: a file (or a range of one) read with positioned
//! reads, or bytes in memory. The format readers parse from a [`Blob`], so
//! the differ (which hands them its input or a spool file) and the
//! normalizer read the very same structure from the very same bytes.
//!
//! This module never creates a file: it only reads ones already open.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use crate::{Error, Result};

/// The bytes of a file or of part of one, read with positioned reads so
/// that clones on different threads never disturb each other.
#[derive(Clone)]
pub(crate) enum Blob {
    /// A byte range of an open file.
    File {
        /// The file.
        file: Arc<File>,
        /// First byte.
        start: u64,
        /// Length.
        len: u64,
    },
    /// Bytes in memory.
    Mem {
        /// The bytes.
        bytes: Arc<[u8]>,
        /// First byte.
        start: usize,
        /// Length.
        len: usize,
    },
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blob::File { start, len, .. } => write!(f, "Blob::File({start}+{len})"),
            Blob::Mem { start, len, .. } => write!(f, "Blob::Mem({start}+{len})"),
        }
    }
}

impl Blob {
    pub(crate) fn open(path: &Path) -> Result<Blob> {
        let read_error = |source| Error::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(read_error)?;
        let meta = file.metadata().map_err(read_error)?;
        if !meta.is_file() {
            return Err(read_error(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        Ok(Blob::File {
            file: Arc::new(file),
            start: 0,
            len: meta.len(),
        })
    }

    /// A whole file already open (a regular file: the caller checked).
    pub(crate) fn of_file(file: File) -> io::Result<Blob> {
        let len = file.metadata()?.len();
        Ok(Blob::File {
            file: Arc::new(file),
            start: 0,
            len,
        })
    }

    pub(crate) fn mem(bytes: Vec<u8>) -> Blob {
        let len = bytes.len();
        Blob::Mem {
            bytes: bytes.into(),
            start: 0,
            len,
        }
    }

    pub(crate) fn len(&self) -> u64 {
        match self {
            Blob::File { len, .. } => *len,
            Blob::Mem { len, .. } => *len as u64,
        }
    }

    /// The sub-range `off..off + len`, or `None` if it is out of bounds.
    pub(crate) fn slice(&self, off: u64, len: u64) -> Option<Blob> {
        if off.checked_add(len)? > self.len() {
            return None;
        }
        Some(match self {
            Blob::File { file, start, .. } => Blob::File {
                file: Arc::clone(file),
                start: start + off,
                len,
            },
            Blob::Mem { bytes, start, .. } => Blob::Mem {
                bytes: Arc::clone(bytes),
                start: start + usize::try_from(off).ok()?,
                len: usize::try_from(len).ok()?,
            },
        })
    }

    /// Fills `buf` from offset `off`; an error if the blob ends first.
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        let short = || io::Error::new(io::ErrorKind::UnexpectedEof, "unexpected end of data");
        let end = off.checked_add(buf.len() as u64).ok_or_else(short)?;
        if end > self.len() {
            return Err(short());
        }
        match self {
            Blob::File { file, start, .. } => file.read_exact_at(buf, start + off),
            Blob::Mem { bytes, start, .. } => {
                let from = start + usize::try_from(off).map_err(|_| short())?;
                let src = bytes.get(from..from + buf.len()).ok_or_else(short)?;
                buf.copy_from_slice(src);
                Ok(())
            }
        }
    }

    /// `len` bytes at `off` into memory; only for lengths already checked
    /// to be small or present.
    pub(crate) fn read_vec(&self, off: u64, len: u64) -> io::Result<Vec<u8>> {
        if off.checked_add(len).is_none_or(|end| end > self.len()) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "unexpected end of data",
            ));
        }
        let mut buf = vec![0u8; usize::try_from(len).map_err(io::Error::other)?];
        self.read_exact_at(&mut buf, off)?;
        Ok(buf)
    }

    /// Up to `n` leading bytes.
    pub(crate) fn head(&self, n: usize) -> io::Result<Vec<u8>> {
        let len = self.len().min(n as u64);
        self.read_vec(0, len)
    }

    /// A reader over the whole blob.
    pub(crate) fn reader(&self) -> BlobReader {
        BlobReader {
            blob: self.clone(),
            pos: 0,
        }
    }

    /// Copies the whole blob to `out`.
    pub(crate) fn copy_to(&self, out: &mut dyn Write) -> io::Result<()> {
        match self {
            Blob::Mem { bytes, start, len } => out.write_all(&bytes[*start..start + len]),
            Blob::File { .. } => {
                io::copy(&mut self.reader(), out)?;
                Ok(())
            }
        }
    }
}

/// A sequential reader over a [`Blob`].
pub(crate) struct BlobReader {
    /// The bytes read.
    pub(crate) blob: Blob,
    /// The next byte to read; readers that skip set it.
    pub(crate) pos: u64,
}

/// Readers that seek (the squashfs reader) move `pos`; past the end is
/// allowed, as for a file, and reads there return nothing.
impl io::Seek for BlobReader {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let (base, delta) = match to {
            io::SeekFrom::Start(n) => (0, i128::from(n)),
            io::SeekFrom::End(d) => (self.blob.len(), i128::from(d)),
            io::SeekFrom::Current(d) => (self.pos, i128::from(d)),
        };
        let at = u64::try_from(i128::from(base) + delta)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.pos = at;
        Ok(at)
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.blob.len().saturating_sub(self.pos);
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if n == 0 {
            return Ok(0);
        }
        let n = match &self.blob {
            Blob::File { file, start, .. } => file.read_at(&mut buf[..n], start + self.pos)?,
            Blob::Mem { .. } => {
                self.blob.read_exact_at(&mut buf[..n], self.pos)?;
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}
