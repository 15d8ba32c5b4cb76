//! Canonical PNG: `tIME` chunks and text chunks (`tEXt`, `zTXt`, `iTXt`)
//! whose keyword names a date (`date:create`, `date:modify`,
//! `Creation Time`, …) are dropped; every other chunk is copied byte for
//! byte, CRC included. Bytes after `IEND` are kept.

use std::io::Write;

use super::{fire, leaf_digest, Blob, Digested, Fired, Format, Normalizer, Nx, Rule};
use crate::formats::Kind;
use crate::Result;

/// The PNG normalizer.
pub(super) struct Png;

const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// Longest PNG read into memory.
const MAX_PNG: u64 = 256 << 20;

/// Whether a text chunk's keyword names a date or time.
fn dated_keyword(data: &[u8]) -> bool {
    let end = data
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(data.len())
        .min(80);
    let key = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
    key.starts_with("date:")
        || matches!(
            key.as_str(),
            "creation time" | "create date" | "modify date" | "modification time" | "timestamp"
        )
}

/// The chunks to keep as byte ranges, or an error if the file is malformed.
fn plan(bytes: &[u8], name: &str, nx: &Nx<'_>) -> Result<(Vec<std::ops::Range<usize>>, bool)> {
    let bad = |d: String| nx.malformed(Kind::Binary, name, format!("PNG: {d}"));
    let mut keep = Vec::new();
    keep.push(0..SIGNATURE.len());
    let mut dropped = false;
    let mut pos = SIGNATURE.len();
    loop {
        let len = bytes
            .get(pos..pos + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| bad(format!("truncated chunk header at offset {pos}")))?;
        let end = pos
            .checked_add(12 + len)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| bad(format!("chunk at offset {pos} overruns the file")))?;
        let kind = &bytes[pos + 4..pos + 8];
        let data = &bytes[pos + 8..pos + 8 + len];
        let drop =
            kind == b"tIME" || (matches!(kind, b"tEXt" | b"zTXt" | b"iTXt") && dated_keyword(data));
        if drop {
            dropped = true;
        } else {
            keep.push(pos..end);
        }
        pos = end;
        if kind == b"IEND" {
            keep.push(pos..bytes.len());
            return Ok((keep, dropped));
        }
    }
}

fn canonical(input: &Blob, name: &str, nx: &Nx<'_>) -> Result<(Vec<u8>, bool)> {
    if input.len() > MAX_PNG {
        return Err(nx.malformed(Kind::Binary, name, "PNG larger than 256 MiB"));
    }
    let bytes = input
        .read_vec(0, input.len())
        .map_err(|e| nx.io(e, name, "reading PNG"))?;
    let (keep, dropped) = plan(&bytes, name, nx)?;
    if !dropped {
        return Ok((bytes, false));
    }
    let out = keep.into_iter().flat_map(|r| bytes[r].to_vec()).collect();
    Ok((out, true))
}

impl Normalizer for Png {
    fn format(&self) -> Format {
        Format::Png
    }

    fn detect(&self, head: &[u8]) -> bool {
        head.starts_with(SIGNATURE)
    }

    fn normalize(
        &self,
        input: &Blob,
        name: &str,
        _depth: u32,
        nx: &Nx<'_>,
        out: &mut dyn Write,
    ) -> Result<Vec<Fired>> {
        let (bytes, changed) = canonical(input, name, nx)?;
        let mut fired = Vec::new();
        if changed {
            fire(&mut fired, name, Rule::PngTimeChunks);
            out.write_all(&bytes)
                .map_err(|e| nx.io(e, name, "writing PNG"))?;
        }
        Ok(fired)
    }

    fn digest(&self, input: &Blob, name: &str, _depth: u32, nx: &Nx<'_>) -> Result<Digested> {
        let (bytes, changed) = canonical(input, name, nx)?;
        let mut fired = Vec::new();
        if changed {
            fire(&mut fired, name, Rule::PngTimeChunks);
        }
        Ok(Digested {
            sha256: leaf_digest("png", &bytes),
            fired,
        })
    }
}
