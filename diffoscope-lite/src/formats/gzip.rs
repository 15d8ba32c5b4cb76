//! Gzip: one or more members; the header's mtime, file name, OS and extra
//! flags are compared as the container's own metadata.

use std::io::{self, Read};

use super::{single_stream, Format, Kind, Parsed, HEAD_LEN};
use crate::model::{Content, Cx, MetaField, MetaValue};
use crate::Result;

/// Gzip streams.
pub struct Gzip;

pub(crate) const SUFFIXES: &[(&str, &str)] = &[(".tgz", ".tar"), (".gz", ""), (".z", "")];

impl Format for Gzip {
    fn kind(&self) -> Kind {
        Kind::Gzip
    }

    fn detect(&self, head: &[u8]) -> bool {
        head.starts_with(&[0x1f, 0x8b, 0x08])
    }

    fn read(&self, content: &Content, entry: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let head = content.head(cx, entry, HEAD_LEN)?;
        Ok(Parsed::Container(single_stream(
            Kind::Gzip,
            content,
            entry,
            SUFFIXES,
            header_fields(&head),
        )))
    }

    fn decoder<'a>(
        &self,
        compressed: Box<dyn Read + 'a>,
    ) -> Option<io::Result<Box<dyn Read + 'a>>> {
        Some(Ok(Box::new(flate2::read::MultiGzDecoder::new(compressed))))
    }
}

/// The first member's header fields (RFC 1952), from the head bytes; fields
/// cut off by the end of the head are left out.
fn header_fields(h: &[u8]) -> Vec<(MetaField, MetaValue)> {
    let mut out = Vec::new();
    let (Some(&flags), Some(mtime), Some(&xfl), Some(&os)) =
        (h.get(3), h.get(4..8), h.get(8), h.get(9))
    else {
        return out;
    };
    let mtime = u32::from_le_bytes([mtime[0], mtime[1], mtime[2], mtime[3]]);
    out.push((
        MetaField::Header("gzip mtime"),
        MetaValue::Time(i64::from(mtime)),
    ));
    out.push((
        MetaField::Header("gzip extra flags"),
        MetaValue::Number(u64::from(xfl)),
    ));
    out.push((
        MetaField::Header("gzip OS"),
        MetaValue::Number(u64::from(os)),
    ));
    let mut pos = 10usize;
    if flags & 0x04 != 0 {
        let Some(len) = h.get(pos..pos + 2) else {
            return out;
        };
        pos += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    let cstring = |pos: &mut usize| -> Option<String> {
        let rest = h.get(*pos..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        *pos += end + 1;
        // Gzip header strings are ISO 8859-1.
        Some(rest[..end].iter().map(|&b| char::from(b)).collect())
    };
    if flags & 0x08 != 0 {
        match cstring(&mut pos) {
            Some(name) => out.push((MetaField::Header("gzip file name"), MetaValue::Text(name))),
            None => return out,
        }
    }
    if flags & 0x10 != 0 {
        if let Some(c) = cstring(&mut pos) {
            out.push((MetaField::Header("gzip comment"), MetaValue::Text(c)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn header_fields_are_read() {
        let mut enc = flate2::GzBuilder::new()
            .mtime(1_700_000_000)
            .filename("x.txt")
            .comment("hi")
            .write(Vec::new(), flate2::Compression::default());
        enc.write_all(b"data").unwrap();
        let gz = enc.finish().unwrap();
        let fields = header_fields(&gz);
        assert!(fields.contains(&(
            MetaField::Header("gzip mtime"),
            MetaValue::Time(1_700_000_000)
        )));
        assert!(fields.contains(&(
            MetaField::Header("gzip file name"),
            MetaValue::Text("x.txt".into())
        )));
        assert!(fields.contains(&(
            MetaField::Header("gzip comment"),
            MetaValue::Text("hi".into())
        )));
        // Truncated headers give what is there, and never panic.
        for n in 0..gz.len() {
            let _ = header_fields(&gz[..n]);
        }
    }
}
