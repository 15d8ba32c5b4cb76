//! Canonical Python bytecode: the source mtime in the header of a
//! timestamp-based `.pyc` is clamped to the epoch (set to it when later),
//! which is what Python checks against the clamped source file's mtime.
//! Hash-based pycs (PEP 552, flag bit 0) carry no time and are untouched.
//!
//! The header is read by [`crate::formats::pyc::Header`], the parser the
//! differ uses: this file never decides on its own where the mtime is.

use std::io::Write;

use super::{fire, leaf_digest, Blob, Digested, Fired, Format, Normalizer, Nx, Rule};
use crate::formats::pyc::{self, Header, Invalidation};
use crate::formats::Kind;
use crate::Result;

/// The pyc normalizer.
pub(super) struct Pyc;

/// Longest pyc read into memory.
const MAX_PYC: u64 = 256 << 20;

/// Where the source mtime field is and what it holds; `None` for a
/// hash-based pyc.
fn mtime_field(header: &Header) -> Option<(usize, u32)> {
    match header.invalidation {
        Invalidation::Timestamp {
            mtime, mtime_at, ..
        } => Some((mtime_at, mtime)),
        Invalidation::Hash(_) => None,
    }
}

/// Clamps the mtime in `bytes`; returns whether that changed it.
fn clamp(bytes: &mut [u8], header: &Header, epoch: i64) -> bool {
    let Some((at, t)) = mtime_field(header) else {
        return false;
    };
    let epoch = u32::try_from(epoch.max(0)).unwrap_or(u32::MAX);
    if t <= epoch {
        return false;
    }
    // The header parser checked that the whole header is present.
    if let Some(field) = bytes.get_mut(at..at + 4) {
        field.copy_from_slice(&epoch.to_le_bytes());
    }
    true
}

/// The whole pyc and its parsed header.
fn read(input: &Blob, name: &str, nx: &Nx<'_>) -> Result<(Vec<u8>, Header)> {
    if input.len() > MAX_PYC {
        return Err(nx.malformed(Kind::Pyc, name, "pyc larger than 256 MiB"));
    }
    let bytes = input
        .read_vec(0, input.len())
        .map_err(|e| nx.io(e, name, "reading pyc"))?;
    let header = Header::parse(&bytes, name)?;
    Ok((bytes, header))
}

impl Normalizer for Pyc {
    fn format(&self) -> Format {
        Format::Pyc
    }

    fn detect(&self, head: &[u8]) -> bool {
        pyc::magic(head).is_some()
    }

    fn normalize(
        &self,
        input: &Blob,
        name: &str,
        _depth: u32,
        nx: &Nx<'_>,
        out: &mut dyn Write,
    ) -> Result<Vec<Fired>> {
        let (mut bytes, header) = read(input, name, nx)?;
        let mut fired = Vec::new();
        if clamp(&mut bytes, &header, nx.epoch) {
            fire(&mut fired, name, Rule::PycMtime);
            out.write_all(&bytes)
                .map_err(|e| nx.io(e, name, "writing pyc"))?;
        }
        Ok(fired)
    }

    fn digest(&self, input: &Blob, name: &str, _depth: u32, nx: &Nx<'_>) -> Result<Digested> {
        let (mut bytes, header) = read(input, name, nx)?;
        let mut fired = Vec::new();
        if clamp(&mut bytes, &header, nx.epoch) {
            fire(&mut fired, name, Rule::PycMtime);
        }
        // The digest sees no source mtime at all, whatever the epoch.
        if let Some((at, _)) = mtime_field(&header) {
            if let Some(f) = bytes.get_mut(at..at + 4) {
                f.fill(0);
            }
        }
        Ok(Digested {
            sha256: leaf_digest("pyc", &bytes),
            fired,
        })
    }
}
