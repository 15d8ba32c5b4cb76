//! Xz (concatenated streams allowed), decoded with a memory limit so a
//! header declaring a huge dictionary cannot make us allocate it.

use std::io::{self, Read};

use super::{bare_stream, Format, Kind, Parsed};
use crate::model::{Content, Cx};
use crate::Result;

/// Xz streams.
pub struct Xz;

/// liblzma refuses streams that need more memory than this to decode
/// (xz -9 needs 65 MiB).
pub(crate) const MEMLIMIT: u64 = 256 << 20;

pub(crate) const SUFFIXES: &[(&str, &str)] = &[(".txz", ".tar"), (".xz", "")];

impl Format for Xz {
    fn kind(&self) -> Kind {
        Kind::Xz
    }

    fn detect(&self, head: &[u8]) -> bool {
        head.starts_with(b"\xfd7zXZ\x00")
    }

    fn read(&self, content: &Content, entry: &str, _cx: &Cx<'_>) -> Result<Parsed> {
        Ok(bare_stream(Kind::Xz, content, entry, SUFFIXES))
    }

    fn decoder<'a>(
        &self,
        compressed: Box<dyn Read + 'a>,
    ) -> Option<io::Result<Box<dyn Read + 'a>>> {
        Some(reader(
            compressed,
            liblzma::stream::Stream::new_stream_decoder(MEMLIMIT, liblzma::stream::CONCATENATED),
        ))
    }
}

/// A reader of what the liblzma decoder `stream` (xz, lzma or lzip) makes
/// of `compressed`.
pub(crate) fn reader<'a>(
    compressed: Box<dyn Read + 'a>,
    stream: Result<liblzma::stream::Stream, liblzma::stream::Error>,
) -> io::Result<Box<dyn Read + 'a>> {
    stream.map_err(io::Error::other).map(|stream| {
        Box::new(liblzma::read::XzDecoder::new_stream(compressed, stream)) as Box<dyn Read + 'a>
    })
}
