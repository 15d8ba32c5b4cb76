//! LZ4 frames (`lz4` CLI, `.lz4`), decoded by lz4_flex. A frame's blocks
//! are at most 4 MiB by the format, so no header can ask for more memory;
//! concatenated frames are read one after another, and content checksums
//! are checked when the frame has them.

use std::io::{self, Read};

use super::{bare_stream, Format, Kind, Parsed};
use crate::model::{Content, Cx};
use crate::Result;

/// LZ4 frames.
pub struct Lz4;

/// The frame magic number, little-endian 0x184D2204.
const MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];

pub(crate) const SUFFIXES: &[(&str, &str)] = &[(".tlz4", ".tar"), (".lz4", "")];

impl Format for Lz4 {
    fn kind(&self) -> Kind {
        Kind::Lz4
    }

    fn detect(&self, head: &[u8]) -> bool {
        head.starts_with(&MAGIC)
    }

    fn read(&self, content: &Content, entry: &str, _cx: &Cx<'_>) -> Result<Parsed> {
        Ok(bare_stream(Kind::Lz4, content, entry, SUFFIXES))
    }

    fn decoder<'a>(
        &self,
        compressed: Box<dyn Read + 'a>,
    ) -> Option<io::Result<Box<dyn Read + 'a>>> {
        Some(Ok(Box::new(lz4_flex::frame::FrameDecoder::new(compressed))))
    }
}
