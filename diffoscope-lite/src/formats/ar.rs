//! Unix ar archives (GNU and BSD long names), which includes Debian `.deb`
//! packages: `debian-binary`, `control.tar.*` and `data.tar.*` are members
//! whose contents are recursed into by content detection like any other.
//!
//! Parsed here directly from the 60-byte member headers over a random-access
//! file (the input, or a spool of it): members are byte ranges of that file.

use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::{duplicate_comments, lossy, Format, Kind, Parsed};
use crate::model::{Container, Content, Cx, Entry, EntryKind, Metadata, Source};
use crate::{Error, Result};

/// Ar archives.
pub struct Ar;

const MAGIC: &[u8] = b"!<arch>\n";
/// Largest GNU long-name table read into memory.
const MAX_NAME_TABLE: u64 = 16 << 20;

fn field(h: &[u8], range: std::ops::Range<usize>) -> &str {
    std::str::from_utf8(&h[range])
        .unwrap_or("")
        .trim_end_matches([' ', '\0'])
}

impl Format for Ar {
    fn kind(&self) -> Kind {
        Kind::Ar
    }

    fn detect(&self, head: &[u8]) -> bool {
        head.starts_with(MAGIC)
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let (file, start, len) = content.as_file(cx, name)?;
        let bad = |detail: String| Error::Malformed {
            entry: name.to_owned(),
            format: Kind::Ar,
            detail,
        };
        let mut pos = MAGIC.len() as u64;
        let mut entries = Vec::new();
        let mut comments = Vec::new();
        let mut long_names: Vec<u8> = Vec::new();
        while pos < len {
            let mut h = [0u8; 60];
            if len - pos < 60 {
                comments.push(format!(
                    "{} trailing bytes after the last member",
                    len - pos
                ));
                break;
            }
            file.read_exact_at(&mut h, start + pos)
                .map_err(|e| cx.io(e, name, "reading"))?;
            if &h[58..60] != b"`\n" {
                return Err(bad(format!("bad member header at offset {pos}")));
            }
            let size: u64 = field(&h, 48..58)
                .parse()
                .map_err(|_| bad(format!("bad member size at offset {pos}")))?;
            let data = pos + 60;
            if size > len - data {
                return Err(bad(format!(
                    "member at offset {pos} claims {size} bytes, only {} left",
                    len - data
                )));
            }
            let raw_name = field(&h, 0..16).to_owned();
            let (mut member_name, mut body_start, mut body_len) = (raw_name.clone(), data, size);
            if raw_name == "//" {
                if size > MAX_NAME_TABLE {
                    return Err(bad(format!("long-name table of {size} bytes")));
                }
                long_names =
                    read_vec(&file, start + data, size).map_err(|e| cx.io(e, name, "reading"))?;
                pos = data + size + (size & 1);
                continue;
            } else if raw_name == "/" || raw_name == "/SYM64/" {
                member_name = format!("(symbol table {raw_name})");
            } else if let Some(off) = raw_name.strip_prefix('/') {
                let off: usize = off
                    .parse()
                    .map_err(|_| bad(format!("bad long-name reference {raw_name:?}")))?;
                let rest = long_names
                    .get(off..)
                    .ok_or_else(|| bad(format!("long-name reference {off} beyond the table")))?;
                let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                member_name = lossy(&rest[..end]).trim_end_matches('/').to_owned();
            } else if let Some(n) = raw_name.strip_prefix("#1/") {
                let n: u64 = n
                    .parse()
                    .map_err(|_| bad(format!("bad BSD name length {raw_name:?}")))?;
                if n > size || n > 4096 {
                    return Err(bad(format!("BSD name length {n} too large")));
                }
                let bytes =
                    read_vec(&file, start + data, n).map_err(|e| cx.io(e, name, "reading"))?;
                member_name = lossy(bytes.split(|&b| b == 0).next().unwrap_or(&[]));
                body_start += n;
                body_len -= n;
            } else {
                member_name = member_name.trim_end_matches('/').to_owned();
            }
            let nested = format!("{name}::{member_name}");
            cx.budget.add_entry(&nested)?;
            let meta = Metadata {
                mtime: field(&h, 16..28).parse().ok(),
                uid: field(&h, 28..34).parse().ok(),
                gid: field(&h, 34..40).parse().ok(),
                mode: u32::from_str_radix(field(&h, 40..48), 8)
                    .ok()
                    .map(|m| m & 0o7777),
                size: Some(body_len),
                order: entries.len(),
                ..Metadata::default()
            };
            entries.push(Entry {
                path: member_name,
                kind: EntryKind::File,
                meta,
                content: Content(Source::Range {
                    file: Arc::clone(&file),
                    offset: start + body_start,
                    len: body_len,
                }),
                digest: None,
            });
            pos = data + size + (size & 1);
        }
        comments.extend(duplicate_comments(&entries));
        Ok(Parsed::Container(Container {
            format: Kind::Ar,
            entries,
            meta: Vec::new(),
            comments,
            single_stream: false,
            ordered: true,
        }))
    }
}

/// Reads `len` bytes (already checked against a small cap) at `offset`.
fn read_vec(file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}
