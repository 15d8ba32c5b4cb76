//! Zstandard frames; the decoder's default window limit (128 MiB) bounds
//! the memory a hostile frame header can ask for.

use std::io::{self, Read};

use super::{bare_stream, Format, Kind, Parsed};
use crate::model::{Content, Cx};
use crate::Result;

/// Zstandard streams.
pub struct Zstd;

pub(crate) const SUFFIXES: &[(&str, &str)] = &[(".tzst", ".tar"), (".zst", ""), (".zstd", "")];

impl Format for Zstd {
    fn kind(&self) -> Kind {
        Kind::Zstd
    }

    fn detect(&self, head: &[u8]) -> bool {
        head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
    }

    fn read(&self, content: &Content, entry: &str, _cx: &Cx<'_>) -> Result<Parsed> {
        Ok(bare_stream(Kind::Zstd, content, entry, SUFFIXES))
    }

    fn decoder<'a>(
        &self,
        compressed: Box<dyn Read + 'a>,
    ) -> Option<io::Result<Box<dyn Read + 'a>>> {
        Some(
            ::zstd::stream::read::Decoder::new(compressed)
                .map(|d| Box::new(d) as Box<dyn Read + 'a>),
        )
    }
}
