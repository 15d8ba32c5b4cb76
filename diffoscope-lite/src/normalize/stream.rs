//! Xz, zstd and bzip2 around another format: the stream has no header
//! noise of its own, so it is rewritten only when what is inside changes,
//! and then recompressed deterministically — one thread, a fixed level
//! (xz preset 6 with CRC64, zstd level 3 with a checksum, bzip2 level 9).

use std::io::{self, Read, Write};

use super::{digest_reader, Blob, ContainerHasher, Digested, Fired, Format, Normalizer, Nx, Sink};
use crate::formats::{self, Ends, Kind};
use crate::Result;

/// A single-stream compressor.
pub(super) struct Stream {
    format: Format,
    kind: Kind,
    suffixes: &'static [(&'static str, &'static str)],
}

/// Xz.
pub(super) static XZ: Stream = Stream {
    format: Format::Xz,
    kind: Kind::Xz,
    suffixes: formats::xz::SUFFIXES,
};

/// Zstandard.
pub(super) static ZSTD: Stream = Stream {
    format: Format::Zstd,
    kind: Kind::Zstd,
    suffixes: formats::zstd::SUFFIXES,
};

/// Bzip2.
pub(super) static BZIP2: Stream = Stream {
    format: Format::Bzip2,
    kind: Kind::Bzip2,
    suffixes: formats::bzip2::SUFFIXES,
};

/// The nested path of the stream inside `name` (`a.tar.gz::a.tar`).
fn inner_name(name: &str, suffixes: &[(&str, &str)]) -> String {
    super::nested(name, &formats::stream_name(name, suffixes))
}

/// The normalized inner stream of a compressed blob, if it is in a known
/// format and a rule fires inside it.
pub(super) fn normalize_inner(
    kind: Kind,
    suffixes: &[(&str, &str)],
    blob: &Blob,
    name: &str,
    depth: u32,
    nx: &Nx<'_>,
) -> Result<Option<(Blob, Vec<Fired>)>> {
    let inner_name = inner_name(name, suffixes);
    let mut head = Vec::new();
    super::decompressed(kind, blob, &inner_name, nx)?
        .take(formats::HEAD_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| nx.io(e, &inner_name, "decompressing"))?;
    let reopen = &mut || super::decompressed(kind, blob, &inner_name, nx);
    if super::detect(&head).is_none() {
        // No canonical form, but a second format may read it whole (a zip
        // behind other bytes), as the digest checks: read it through.
        let mut ends = Ends::new(reopen()?);
        io::copy(&mut ends, &mut io::sink()).map_err(|e| nx.io(e, &inner_name, "decompressing"))?;
        super::refuse_stream_polyglot(&ends.kept, &inner_name, nx, reopen)?;
        return Ok(None);
    }
    let mut sink = Sink::default();
    io::copy(
        &mut super::decompressed(kind, blob, &inner_name, nx)?,
        &mut sink,
    )
    .map_err(|e| nx.io(e, &inner_name, "decompressing"))?;
    super::normalize_nested(&sink.into_blob()?, &inner_name, depth + 1, nx)
}

/// The digest of a compressed blob: over its decompressed content.
pub(super) fn digest_inner(
    format: Format,
    kind: Kind,
    suffixes: &[(&str, &str)],
    blob: &Blob,
    name: &str,
    depth: u32,
    nx: &Nx<'_>,
) -> Result<Digested> {
    let inner_name = inner_name(name, suffixes);
    let reopen = &mut || super::decompressed(kind, blob, &inner_name, nx);
    // Its ends are kept as it streams: a tar in it is never spooled, yet a
    // zip end record at its end is found as in a file
    // (`refuse_polyglot`); normalizing checks the same.
    let mut r = Ends::new(reopen()?);
    let inner = digest_reader(&mut r, &inner_name, depth + 1, nx)?;
    super::refuse_stream_polyglot(&r.kept, &inner_name, nx, reopen)?;
    let mut h = ContainerHasher::new(&format.to_string());
    h.update(&inner.sha256);
    Ok(Digested {
        sha256: h.finish(),
        fired: inner.fired,
    })
}

fn compress(kind: Kind, inner: &Blob, out: &mut dyn Write) -> io::Result<()> {
    let mut r = inner.reader();
    match kind {
        Kind::Xz => {
            let mut w = liblzma::write::XzEncoder::new(out, 6);
            io::copy(&mut r, &mut w)?;
            w.finish().map(drop)
        }
        Kind::Zstd => {
            let mut w = ::zstd::stream::write::Encoder::new(out, 3)?;
            w.include_checksum(true)?;
            io::copy(&mut r, &mut w)?;
            w.finish().map(drop)
        }
        _ => {
            let mut w = ::bzip2::write::BzEncoder::new(out, ::bzip2::Compression::best());
            io::copy(&mut r, &mut w)?;
            w.finish().map(drop)
        }
    }
}

impl Normalizer for Stream {
    fn format(&self) -> Format {
        self.format
    }

    fn detect(&self, head: &[u8]) -> bool {
        super::reader_detects(self.kind, head)
    }

    fn normalize(
        &self,
        input: &Blob,
        name: &str,
        depth: u32,
        nx: &Nx<'_>,
        out: &mut dyn Write,
    ) -> Result<Vec<Fired>> {
        let Some((inner, fired)) =
            normalize_inner(self.kind, self.suffixes, input, name, depth, nx)?
        else {
            return Ok(Vec::new());
        };
        compress(self.kind, &inner, out).map_err(|e| nx.io(e, name, "compressing"))?;
        Ok(fired)
    }

    fn digest(&self, input: &Blob, name: &str, depth: u32, nx: &Nx<'_>) -> Result<Digested> {
        digest_inner(
            self.format,
            self.kind,
            self.suffixes,
            input,
            name,
            depth,
            nx,
        )
    }
}
