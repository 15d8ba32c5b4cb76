//! Bzip2 (concatenated streams allowed).

use std::io::{self, Read};

use super::{bare_stream, Format, Kind, Parsed};
use crate::model::{Content, Cx};
use crate::Result;

/// Bzip2 streams.
pub struct Bzip2;

pub(crate) const SUFFIXES: &[(&str, &str)] = &[(".tbz2", ".tar"), (".tbz", ".tar"), (".bz2", "")];

impl Format for Bzip2 {
    fn kind(&self) -> Kind {
        Kind::Bzip2
    }

    fn detect(&self, head: &[u8]) -> bool {
        head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3])
    }

    fn read(&self, content: &Content, entry: &str, _cx: &Cx<'_>) -> Result<Parsed> {
        Ok(bare_stream(Kind::Bzip2, content, entry, SUFFIXES))
    }

    fn decoder<'a>(
        &self,
        compressed: Box<dyn Read + 'a>,
    ) -> Option<io::Result<Box<dyn Read + 'a>>> {
        Some(Ok(Box::new(::bzip2::read::MultiBzDecoder::new(compressed))))
    }
}
