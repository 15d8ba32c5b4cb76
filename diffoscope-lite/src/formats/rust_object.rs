//! Rust bytecode containers (`*.bytecode.deflate` members of old `.rlib`
//! files): `RUST_OBJECT`, a version (1), the deflated size as 8
//! little-endian bytes, then raw deflate of LLVM bitcode. Read as a
//! single-stream container of the inflated bitcode, as diffoscope does;
//! the declared size bounds what is read of the file, never an allocation.

use std::io::{self, Read};

use super::{single_stream, Format, Kind, Parsed};
use crate::model::{Content, Cx, MetaField, MetaValue};
use crate::Result;

/// Rust bytecode containers.
pub struct RustObject;

/// The magic and the only version rustc wrote.
const MAGIC: &[u8] = b"RUST_OBJECT\x01\x00\x00\x00";
/// Where the deflate data start: magic, version, size.
const HEADER_LEN: usize = 23;

pub(crate) const SUFFIXES: &[(&str, &str)] = &[(".deflate", "")];

/// The deflated size the header declares.
fn declared_size(head: &[u8]) -> Option<u64> {
    let b: [u8; 8] = head.get(15..HEADER_LEN)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

impl Format for RustObject {
    fn kind(&self) -> Kind {
        Kind::RustObject
    }

    fn detect(&self, head: &[u8]) -> bool {
        head.starts_with(MAGIC) && head.len() >= HEADER_LEN
    }

    fn read(&self, content: &Content, entry: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let head = content.head(cx, entry, HEADER_LEN)?;
        let meta = declared_size(&head)
            .map(|n| {
                vec![(
                    MetaField::Header("Rust bytecode deflated size"),
                    MetaValue::Number(n),
                )]
            })
            .unwrap_or_default();
        Ok(Parsed::Container(single_stream(
            Kind::RustObject,
            content,
            entry,
            SUFFIXES,
            meta,
        )))
    }

    fn decoder<'a>(
        &self,
        mut compressed: Box<dyn Read + 'a>,
    ) -> Option<io::Result<Box<dyn Read + 'a>>> {
        let mut head = [0u8; HEADER_LEN];
        Some(compressed.read_exact(&mut head).map(|()| {
            let size = declared_size(&head).unwrap_or(0);
            Box::new(flate2::read::DeflateDecoder::new(compressed.take(size))) as Box<dyn Read + 'a>
        }))
    }
}
