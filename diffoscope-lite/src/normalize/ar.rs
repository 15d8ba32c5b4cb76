//! Canonical ar (and `.deb`): member mtimes clamped, uid/gid 0, modes
//! reduced to 0644/0755 (file-type bits, as dpkg writes them, are kept).
//! Member order is kept — dpkg requires `debian-binary` first — and the
//! symbol table and long-name table are copied as they are. Nested archives
//! (a `.deb`'s `control.tar.*` and `data.tar.*`) are normalized in turn and
//! recompressed with the same compressor.

use std::io::Write;

use sha2::{Digest as _, Sha256};

use super::{
    canonical_file_mode, digest_blob, fire, nested, normalize_nested, reader_detects, Blob,
    ContainerHasher, DigestEntry, Digested, Fired, Format, Normalizer, Nx, Rule,
};
use crate::formats::Kind;
use crate::Result;

/// The ar normalizer.
pub(super) struct Ar;

const MAGIC: &[u8] = b"!<arch>\n";
/// Longest BSD-style name read from a member.
const MAX_NAME: u64 = 4096;

struct Member {
    header: [u8; 60],
    /// BSD `#1/N` names are stored in front of the data.
    bsd_name: Vec<u8>,
    name: String,
    data: Blob,
    /// Symbol and long-name tables: copied as they are.
    special: bool,
}

fn field(h: &[u8]) -> &str {
    std::str::from_utf8(h)
        .unwrap_or("")
        .trim_end_matches([' ', '\0'])
}

fn set_field(h: &mut [u8], text: &str) {
    h.fill(b' ');
    h[..text.len()].copy_from_slice(text.as_bytes());
}

fn parse(blob: &Blob, name: &str, nx: &Nx<'_>) -> Result<(Vec<Member>, Blob)> {
    let bad = |d: String| nx.malformed(Kind::Ar, name, d);
    let len = blob.len();
    let mut pos = MAGIC.len() as u64;
    let mut members = Vec::new();
    let mut long_names = Vec::new();
    while len - pos >= 60 {
        let h = blob
            .read_vec(pos, 60)
            .map_err(|e| nx.io(e, name, "reading ar"))?;
        let mut header = [0u8; 60];
        header.copy_from_slice(&h);
        if &header[58..60] != b"`\n" {
            return Err(bad(format!("bad member header at offset {pos}")));
        }
        let size: u64 = field(&header[48..58])
            .parse()
            .map_err(|_| bad(format!("bad member size at offset {pos}")))?;
        let data = blob
            .slice(pos + 60, size)
            .ok_or_else(|| bad(format!("member at offset {pos} claims {size} bytes")))?;
        let raw = field(&header[..16]).to_owned();
        let special = raw == "/" || raw == "//" || raw == "/SYM64/" || raw == "__.SYMDEF";
        let mut bsd_name = Vec::new();
        let mut body = data.clone();
        let member_name = if raw == "//" {
            long_names = data
                .read_vec(0, size.min(16 << 20))
                .map_err(|e| nx.io(e, name, "reading ar"))?;
            raw.clone()
        } else if let Some(n) = raw.strip_prefix("#1/") {
            let n: u64 = n
                .parse()
                .ok()
                .filter(|&n| n <= size.min(MAX_NAME))
                .ok_or_else(|| bad(format!("bad BSD name {raw:?}")))?;
            bsd_name = data
                .read_vec(0, n)
                .map_err(|e| nx.io(e, name, "reading ar"))?;
            body = data
                .slice(n, size - n)
                .ok_or_else(|| bad(format!("bad BSD name {raw:?}")))?;
            String::from_utf8_lossy(bsd_name.split(|&b| b == 0).next().unwrap_or(&[])).into_owned()
        } else if let Some(off) = raw.strip_prefix('/').and_then(|o| o.parse::<usize>().ok()) {
            let rest = long_names
                .get(off..)
                .ok_or_else(|| bad(format!("long-name reference {off} beyond the table")))?;
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            String::from_utf8_lossy(&rest[..end])
                .trim_end_matches('/')
                .to_owned()
        } else {
            raw.trim_end_matches('/').to_owned()
        };
        nx.budget.add_entry(&nested(name, &member_name))?;
        members.push(Member {
            header,
            bsd_name,
            name: member_name,
            data: body,
            special,
        });
        pos += 60 + size + (size & 1);
    }
    let trailer = blob
        .slice(pos.min(len), len - pos.min(len))
        .ok_or_else(|| bad("trailer out of bounds".into()))?;
    Ok((members, trailer))
}

/// Patches one member header; returns whether it changed.
fn patch(m: &mut Member, epoch: i64, name: &str, fired: &mut Vec<Fired>) {
    if m.special {
        return;
    }
    let epoch = epoch.max(0);
    let h = &mut m.header;
    if field(&h[16..28]).parse::<i64>().is_ok_and(|t| t > epoch)
        || field(&h[16..28]).parse::<i64>().is_err()
    {
        set_field(&mut h[16..28], &epoch.to_string());
        fire(fired, name, Rule::ArMtime);
    }
    for range in [28..34, 34..40] {
        if field(&h[range.clone()]) != "0" {
            set_field(&mut h[range], "0");
            fire(fired, name, Rule::ArOwner);
        }
    }
    let mode = u32::from_str_radix(field(&h[40..48]), 8).unwrap_or(0);
    let new = (mode & !0o7777) | canonical_file_mode(mode);
    if new != mode || field(&h[40..48]).is_empty() {
        set_field(&mut h[40..48], &format!("{new:o}"));
        fire(fired, name, Rule::ArMode);
    }
}

impl Normalizer for Ar {
    fn format(&self) -> Format {
        Format::Ar
    }

    fn detect(&self, head: &[u8]) -> bool {
        reader_detects(Kind::Ar, head)
    }

    fn normalize(
        &self,
        input: &Blob,
        name: &str,
        depth: u32,
        nx: &Nx<'_>,
        out: &mut dyn Write,
    ) -> Result<Vec<Fired>> {
        let (mut members, trailer) = parse(input, name, nx)?;
        let mut fired = Vec::new();
        for m in &mut members {
            patch(m, nx.epoch, name, &mut fired);
        }
        for m in &mut members {
            if m.special {
                continue;
            }
            let path = nested(name, &m.name);
            if let Some((new, inner)) = normalize_nested(&m.data, &path, depth + 1, nx)? {
                fired.extend(inner);
                let size = new.len() + m.bsd_name.len() as u64;
                if size.to_string().len() > 10 {
                    return Err(nx.malformed(
                        Kind::Ar,
                        &path,
                        "normalized member too large for ar",
                    ));
                }
                set_field(&mut m.header[48..58], &size.to_string());
                m.data = new;
            }
        }
        if fired.is_empty() {
            return Ok(fired);
        }
        let write = |out: &mut dyn Write| -> std::io::Result<()> {
            out.write_all(MAGIC)?;
            for m in &members {
                out.write_all(&m.header)?;
                out.write_all(&m.bsd_name)?;
                m.data.copy_to(out)?;
                if (m.data.len() + m.bsd_name.len() as u64) % 2 == 1 {
                    out.write_all(b"\n")?;
                }
            }
            trailer.copy_to(out)
        };
        write(out).map_err(|e| nx.io(e, name, "writing ar"))?;
        Ok(fired)
    }

    fn digest(&self, input: &Blob, name: &str, depth: u32, nx: &Nx<'_>) -> Result<Digested> {
        let (mut members, _) = parse(input, name, nx)?;
        let mut fired = Vec::new();
        let mut h = ContainerHasher::new("ar");
        for m in &mut members {
            patch(m, nx.epoch, name, &mut fired);
            let digest = if m.special {
                let mut s = Sha256::new();
                std::io::copy(&mut m.data.reader(), &mut super::HashWriter(&mut s))
                    .map_err(|e| nx.io(e, name, "reading ar"))?;
                s.finalize().into()
            } else {
                let d = digest_blob(&m.data, &nested(name, &m.name), depth + 1, nx)?;
                fired.extend(d.fired);
                d.sha256
            };
            let mode = u32::from_str_radix(field(&m.header[40..48]), 8).unwrap_or(0);
            h.entry(&DigestEntry {
                path: m.name.clone().into_bytes(),
                kind: "file",
                mode: mode & 0o7777,
                digest,
            });
        }
        Ok(Digested {
            sha256: h.finish(),
            fired,
        })
    }
}
