//! Canonical Python bytecode: the source mtime in the header of a
//! timestamp-based `.pyc` is clamped to the epoch (set to it when later),
//! which is what Python checks against the clamped source file's mtime.
//! Hash-based pycs (PEP 552, flags != 0) carry no time and are untouched.
//!
//! Header layout: Python 3.7+ `magic(4) flags(4) mtime(4) size(4)`;
//! Python 3.3–3.6 `magic(4) mtime(4) size(4)`.

use std::io::Write;

use super::{fire, leaf_digest, Blob, Digested, Fired, Format, Normalizer, Nx, Rule};
use crate::formats::Kind;
use crate::Result;

/// The pyc normalizer.
pub(super) struct Pyc;

/// Longest pyc read into memory.
const MAX_PYC: u64 = 256 << 20;

/// Python 3 magic numbers: 3000 (3.0) up to 3999; 3390 (3.7a4) added the
/// flags word.
fn magic(head: &[u8]) -> Option<u16> {
    let m = u16::from_le_bytes([*head.first()?, *head.get(1)?]);
    (head.get(2..4) == Some(b"\r\n") && (3000..4000).contains(&m)).then_some(m)
}

/// Where the mtime field is, for a timestamp-based pyc.
fn mtime_at(head: &[u8]) -> Option<usize> {
    let m = magic(head)?;
    if m < 3390 {
        return Some(4);
    }
    let flags = u32::from_le_bytes(head.get(4..8)?.try_into().ok()?);
    (flags == 0).then_some(8)
}

/// The pyc with its mtime clamped, and whether that changed it.
fn canonical(bytes: &mut [u8], epoch: i64) -> bool {
    let Some(at) = mtime_at(bytes) else {
        return false;
    };
    let Some(field) = bytes.get_mut(at..at + 4) else {
        return false;
    };
    let t = u32::from_le_bytes([field[0], field[1], field[2], field[3]]);
    let epoch = u32::try_from(epoch.max(0)).unwrap_or(u32::MAX);
    if t <= epoch {
        return false;
    }
    field.copy_from_slice(&epoch.to_le_bytes());
    true
}

fn read(input: &Blob, name: &str, nx: &Nx<'_>) -> Result<Vec<u8>> {
    if input.len() > MAX_PYC {
        return Err(nx.malformed(Kind::Binary, name, "pyc larger than 256 MiB"));
    }
    input
        .read_vec(0, input.len())
        .map_err(|e| nx.io(e, name, "reading pyc"))
}

impl Normalizer for Pyc {
    fn format(&self) -> Format {
        Format::Pyc
    }

    fn detect(&self, head: &[u8]) -> bool {
        magic(head).is_some() && head.len() >= 16
    }

    fn normalize(
        &self,
        input: &Blob,
        name: &str,
        _depth: u32,
        nx: &Nx<'_>,
        out: &mut dyn Write,
    ) -> Result<Vec<Fired>> {
        let mut bytes = read(input, name, nx)?;
        let mut fired = Vec::new();
        if canonical(&mut bytes, nx.epoch) {
            fire(&mut fired, name, Rule::PycMtime);
            out.write_all(&bytes)
                .map_err(|e| nx.io(e, name, "writing pyc"))?;
        }
        Ok(fired)
    }

    fn digest(&self, input: &Blob, name: &str, _depth: u32, nx: &Nx<'_>) -> Result<Digested> {
        let mut bytes = read(input, name, nx)?;
        let mut fired = Vec::new();
        if canonical(&mut bytes, nx.epoch) {
            fire(&mut fired, name, Rule::PycMtime);
        }
        // The digest sees no source mtime at all, whatever the epoch.
        if let Some(at) = mtime_at(&bytes) {
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
