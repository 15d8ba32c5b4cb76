//! Legacy `.lzma` ("LZMA alone") streams, as `lzma` and `xz --format=lzma`
//! write them, decoded by liblzma under the same memory limit as xz.
//!
//! The format has no magic number: a header is recognised by a valid
//! properties byte, a dictionary size `lzma` can write (2^n or 2^n+2^(n-1),
//! at least 4 KiB) and an uncompressed size that is unknown (all ones) or
//! below 2^48. The declared size is never used to allocate.

use std::io::{self, Read};

use super::{bare_stream, Format, Kind, Parsed};
use crate::model::{Content, Cx};
use crate::Result;

/// Legacy LZMA streams.
pub struct Lzma;

pub(crate) const SUFFIXES: &[(&str, &str)] = &[(".tlz", ".tar"), (".lzma", "")];

/// Whether `head` starts with a plausible LZMA-alone header.
fn header_ok(head: &[u8]) -> bool {
    let Some(&[props, d0, d1, d2, d3, s0, s1, s2, s3, s4, s5, s6, s7]) = head.get(..13) else {
        return false;
    };
    // lc + lp * 9 + pb * 45 with lc <= 8, lp <= 4, pb <= 4.
    if props >= 9 * 5 * 5 {
        return false;
    }
    let dict = u32::from_le_bytes([d0, d1, d2, d3]);
    // checked: a zero dictionary has 32 trailing zeros.
    let shape = dict.is_power_of_two() || dict.checked_shr(dict.trailing_zeros()) == Some(3);
    let size = u64::from_le_bytes([s0, s1, s2, s3, s4, s5, s6, s7]);
    dict >= 4096 && shape && (size == u64::MAX || size < 1 << 48)
}

impl Format for Lzma {
    fn kind(&self) -> Kind {
        Kind::Lzma
    }

    fn detect(&self, head: &[u8]) -> bool {
        header_ok(head)
    }

    fn read(&self, content: &Content, entry: &str, _cx: &Cx<'_>) -> Result<Parsed> {
        Ok(bare_stream(Kind::Lzma, content, entry, SUFFIXES))
    }

    fn decoder<'a>(
        &self,
        compressed: Box<dyn Read + 'a>,
    ) -> Option<io::Result<Box<dyn Read + 'a>>> {
        Some(super::xz::reader(
            compressed,
            liblzma::stream::Stream::new_lzma_decoder(super::xz::MEMLIMIT),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_lzma_writes_are_recognised_and_others_not() {
        // `lzma -6` of an empty file: props 0x5d, 8 MiB dictionary,
        // size unknown.
        let mut h = vec![0x5d, 0, 0, 0x80, 0];
        h.extend_from_slice(&[0xff; 8]);
        assert!(header_ok(&h));
        // A 12 MiB dictionary (2^23 + 2^22) and a known size.
        let mut h = vec![0x5d, 0, 0, 0xc0, 0];
        h.extend_from_slice(&5u64.to_le_bytes());
        assert!(header_ok(&h));
        // Bad properties, odd dictionary, absurd size, too short.
        let mut bad = h.clone();
        bad[0] = 225;
        assert!(!header_ok(&bad));
        let mut bad = h.clone();
        bad[1] = 1;
        assert!(!header_ok(&bad));
        let mut bad = h.clone();
        bad[12] = 0x7f;
        assert!(!header_ok(&bad));
        assert!(!header_ok(&h[..12]));
        assert!(!header_ok(&[0; 13]));
    }
}
