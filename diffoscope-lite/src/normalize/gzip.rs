//! Canonical gzip: header mtime 0, no original file name, no comment, no
//! header CRC; the extra flags (XFL) and the OS byte are kept (as
//! strip-nondeterminism does: they name how and where it was compressed,
//! which does not change between rebuilds on one platform). The deflate
//! data is kept byte for byte unless what is inside (a tar, say) changes;
//! then it is recompressed as one member at level 6 (gzip's default),
//! single-threaded.
//!
//! The header is read and checked by [`crate::formats::gzip::first_header`],
//! as the differ reads it; this file only decides what to clear.

use std::io::{self, Write};

use super::stream::{digest_inner, normalize_inner};
use super::{fire, reader_detects, Blob, Digested, Fired, Format, Normalizer, Nx, Rule};
use crate::formats::gzip::{MemberHeader as Header, FCOMMENT, FEXTRA, FHCRC, FNAME, FTEXT};
use crate::formats::{self, Kind};
use crate::Result;

/// The gzip normalizer.
pub(super) struct Gzip;

fn parse(blob: &Blob, name: &str, nx: &Nx<'_>) -> Result<Header> {
    formats::gzip::first_header(&mut blob.reader(), name, nx.budget)
}

/// The rules the header fires, and its canonical form.
impl Header {
    fn fired(&self, name: &str) -> Vec<Fired> {
        let mut fired = Vec::new();
        for (cond, rule) in [
            (self.mtime != 0, Rule::GzipMtime),
            (self.flags & FNAME != 0, Rule::GzipFname),
            (self.flags & FCOMMENT != 0, Rule::GzipComment),
            (self.flags & FHCRC != 0, Rule::GzipHcrc),
        ] {
            if cond {
                fire(&mut fired, name, rule);
            }
        }
        fired
    }

    fn canonical(&self, xfl: u8) -> Vec<u8> {
        let flags = self.flags & (FTEXT | FEXTRA);
        let mut out = vec![0x1f, 0x8b, 8, flags, 0, 0, 0, 0, xfl, self.os];
        if let Some(e) = &self.extra {
            out.extend_from_slice(&(e.len() as u16).to_le_bytes());
            out.extend_from_slice(e);
        }
        out
    }
}

fn recompress(header: &Header, inner: &Blob, out: &mut dyn Write) -> io::Result<()> {
    // XFL 0: neither "maximum" nor "fastest", as gzip -6 writes it.
    out.write_all(&header.canonical(0))?;
    let mut crc = crate::hash::Crc32::new();
    let mut enc = flate2::write::DeflateEncoder::new(out, flate2::Compression::new(6));
    let mut r = inner.reader();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = io::Read::read(&mut r, &mut buf)?;
        if n == 0 {
            break;
        }
        crc.update(&buf[..n]);
        enc.write_all(&buf[..n])?;
    }
    let out = enc.finish()?;
    out.write_all(&crc.sum().to_le_bytes())?;
    out.write_all(&(crc.amount()).to_le_bytes())
}

impl Normalizer for Gzip {
    fn format(&self) -> Format {
        Format::Gzip
    }

    fn detect(&self, head: &[u8]) -> bool {
        reader_detects(Kind::Gzip, head)
    }

    fn normalize(
        &self,
        input: &Blob,
        name: &str,
        depth: u32,
        nx: &Nx<'_>,
        out: &mut dyn Write,
    ) -> Result<Vec<Fired>> {
        let header = parse(input, name, nx)?;
        let mut fired = header.fired(name);
        let suffixes = formats::gzip::SUFFIXES;
        if let Some((inner, inner_fired)) =
            normalize_inner(Kind::Gzip, suffixes, input, name, depth, nx)?
        {
            fired.extend(inner_fired);
            recompress(&header, &inner, out).map_err(|e| nx.io(e, name, "compressing"))?;
            return Ok(fired);
        }
        if fired.is_empty() {
            return Ok(fired);
        }
        let rest = input
            .slice(header.len, input.len() - header.len)
            .ok_or_else(|| nx.malformed(Kind::Gzip, name, "truncated header"))?;
        out.write_all(&header.canonical(header.xfl))
            .and_then(|()| rest.copy_to(out))
            .map_err(|e| nx.io(e, name, "writing gzip"))?;
        Ok(fired)
    }

    fn digest(&self, input: &Blob, name: &str, depth: u32, nx: &Nx<'_>) -> Result<Digested> {
        let header = parse(input, name, nx)?;
        let mut d = digest_inner(
            Format::Gzip,
            Kind::Gzip,
            formats::gzip::SUFFIXES,
            input,
            name,
            depth,
            nx,
        )?;
        let mut fired = header.fired(name);
        fired.append(&mut d.fired);
        d.fired = fired;
        Ok(d)
    }
}
