//! Reading an object file's headers by offset (ELF, Mach-O): every range
//! is checked against the file's length before anything is read or
//! allocated, so a header's sizes are never trusted beyond the file.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::Kind;
use crate::model::{Content, Cx, Source};
use crate::{Error, Result};

/// One side's file (or the range of one) while its headers are read.
pub(crate) struct Ranged<'a> {
    pub(crate) file: &'a Arc<File>,
    pub(crate) start: u64,
    pub(crate) len: u64,
    pub(crate) name: &'a str,
    pub(crate) cx: &'a Cx<'a>,
    /// The format named in errors.
    pub(crate) kind: Kind,
}

impl<'a> Ranged<'a> {
    /// The reader of `content`, named `name` in errors.
    pub(crate) fn open<T>(
        content: &Content,
        name: &'a str,
        cx: &'a Cx<'a>,
        kind: Kind,
        f: impl FnOnce(&Ranged<'_>) -> Result<T>,
    ) -> Result<T> {
        let (file, start, len) = content.as_file(cx, name)?;
        f(&Ranged {
            file: &file,
            start,
            len,
            name,
            cx,
            kind,
        })
    }

    /// The file is malformed: `detail` says how.
    pub(crate) fn bad(&self, detail: String) -> Error {
        Error::Malformed {
            entry: self.name.to_owned(),
            format: self.kind,
            detail,
        }
    }

    /// Checks that `size` bytes at `offset` lie inside the file.
    pub(crate) fn check_range(&self, what: &str, offset: u64, size: u64) -> Result<()> {
        match offset.checked_add(size) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(self.bad(format!(
                "{what} at offset {offset} claims {size} bytes, the file has {}",
                self.len
            ))),
        }
    }

    /// Fills `buf` from `offset`.
    pub(crate) fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.file
            .read_exact_at(buf, self.start + offset)
            .map_err(|e| self.cx.io(e, self.name, "reading"))
    }

    /// Reads `size` bytes at `offset`, which must lie inside the file: the
    /// size is never trusted beyond that.
    pub(crate) fn read_vec(&self, what: &str, offset: u64, size: u64) -> Result<Vec<u8>> {
        self.check_range(what, offset, size)?;
        let mut buf = vec![0u8; usize::try_from(size).map_err(|e| self.bad(e.to_string()))?];
        self.read_at(&mut buf, offset)?;
        Ok(buf)
    }

    /// `size` bytes of the file at `offset`, read when compared.
    pub(crate) fn range(&self, offset: u64, size: u64) -> Content {
        Content(Source::Range {
            file: Arc::clone(self.file),
            offset: self.start + offset,
            len: size,
        })
    }
}
