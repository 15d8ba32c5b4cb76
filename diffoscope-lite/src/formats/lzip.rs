//! Lzip (`.lz`), decoded by liblzma (5.4 and later read it) under the same
//! memory limit as xz, concatenated members allowed as `lzip -d` allows
//! them. One stream, named as diffoscope names it: the file's name without
//! `.lzip` or `.lz`.

use std::io::{self, Read};

use super::{bare_stream, Format, Kind, Parsed};
use crate::model::{Content, Cx};
use crate::Result;

/// Lzip streams.
pub struct Lzip;

pub(crate) const SUFFIXES: &[(&str, &str)] = &[(".lzip", ""), (".lz", "")];

impl Format for Lzip {
    fn kind(&self) -> Kind {
        Kind::Lzip
    }

    fn detect(&self, head: &[u8]) -> bool {
        // Version 1 is the only one lzip has written since 2009 (version 0
        // lacked the member size liblzma checks).
        head.starts_with(b"LZIP\x01")
    }

    fn read(&self, content: &Content, entry: &str, _cx: &Cx<'_>) -> Result<Parsed> {
        Ok(bare_stream(Kind::Lzip, content, entry, SUFFIXES))
    }

    fn decoder<'a>(
        &self,
        compressed: Box<dyn Read + 'a>,
    ) -> Option<io::Result<Box<dyn Read + 'a>>> {
        Some(super::xz::reader(
            compressed,
            liblzma::stream::Stream::new_lzip_decoder(
                super::xz::MEMLIMIT,
                liblzma::stream::CONCATENATED,
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf 'hello\n' | lzip -9` (lzip 1.23), 42 bytes: version 1,
    /// 4 KiB dictionary, then the LZMA data and the CRC32, data size and
    /// member size trailer. Written out here rather than made in the test:
    /// no Rust crate writes lzip.
    const HELLO: &[u8] = &[
        0x4c, 0x5a, 0x49, 0x50, 0x01, 0x0c, 0x00, 0x34, 0x19, 0x49, 0xee, 0x8d, 0xdd, 0x3d, 0x3a,
        0xdf, 0xff, 0xff, 0xdd, 0x12, 0x00, 0x00, 0x20, 0x30, 0x3a, 0x36, 0x06, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    fn decode(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Lzip.decoder(Box::new(bytes))
            .expect("lzip has a decoder")?
            .read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn decodes_and_checks_its_trailer() {
        assert!(Lzip.detect(HELLO));
        assert_eq!(decode(HELLO).unwrap(), b"hello\n");
        // Two members are one stream.
        assert_eq!(decode(&[HELLO, HELLO].concat()).unwrap(), b"hello\nhello\n");
        // A flipped CRC byte is an error, not other bytes.
        let mut bad = HELLO.to_vec();
        bad[HELLO.len() - 20] ^= 1;
        assert!(decode(&bad).is_err());
        assert!(decode(&HELLO[..30]).is_err());
    }

    #[test]
    fn named_as_diffoscope_names_it() {
        assert_eq!(super::super::stream_name("d/test1.lzip", SUFFIXES), "test1");
        assert_eq!(super::super::stream_name("a.tar.lz", SUFFIXES), "a.tar");
        assert_eq!(super::super::stream_name("blob", SUFFIXES), "blob-content");
    }
}
