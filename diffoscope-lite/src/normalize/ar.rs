//! Canonical ar (and `.deb`): member mtimes clamped, uid/gid 0, modes
//! reduced to 0644/0755 (file-type bits, as dpkg writes them, are kept).
//! Member order is kept — dpkg requires `debian-binary` first — and the
//! symbol table and long-name table are copied as they are. Nested archives
//! (a `.deb`'s `control.tar.*` and `data.tar.*`) are normalized in turn and
//! recompressed with the same compressor.
//!
//! The archive is read by [`crate::formats::ar::read`], the parser the
//! differ lists members with; this file only patches the raw headers it
//! yields and writes the members back.

use std::io::Write;

use sha2::{Digest as _, Sha256};

use super::{
    canonical_file_mode, digest_blob, fire, nested, normalize_nested, reader_detects, Blob,
    ContainerHasher, DigestEntry, Digested, Fired, Format, Normalizer, Nx, Rule,
};
use crate::formats::ar::{self, field, Member, MemberKind, MAGIC, MODE, MTIME, SIZE};
use crate::formats::Kind;
use crate::Result;

/// The ar normalizer.
pub(super) struct Ar;

fn set_field(h: &mut [u8], text: &str) {
    h.fill(b' ');
    h[..text.len()].copy_from_slice(text.as_bytes());
}

/// Symbol and long-name tables are copied as they are.
fn special(m: &Member) -> bool {
    m.kind != MemberKind::Regular
}

/// The path a member has in the digest. Special members keep the name
/// `repro-normalized-v1` gave them from the raw header field (`//` as it
/// is, else without trailing slashes: `/` is the empty path), so that the
/// digest of an archive with a symbol table does not change.
fn digest_path(m: &Member) -> &str {
    match m.kind {
        MemberKind::Regular => &m.name,
        MemberKind::NameTable => &m.raw_name,
        MemberKind::SymbolTable => m.raw_name.trim_end_matches('/'),
    }
}

/// Patches one member header.
fn patch(m: &mut Member, epoch: i64, name: &str, fired: &mut Vec<Fired>) {
    if special(m) {
        return;
    }
    let epoch = epoch.max(0);
    if m.mtime().is_none_or(|t| t > epoch) {
        set_field(&mut m.header[MTIME], &epoch.to_string());
        fire(fired, name, Rule::ArMtime);
    }
    for range in [ar::UID, ar::GID] {
        if field(&m.header, range.clone()) != "0" {
            set_field(&mut m.header[range], "0");
            fire(fired, name, Rule::ArOwner);
        }
    }
    let mode = m.raw_mode().unwrap_or(0);
    let new = (mode & !0o7777) | canonical_file_mode(mode);
    if new != mode || field(&m.header, MODE).is_empty() {
        set_field(&mut m.header[MODE], &format!("{new:o}"));
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
        let ar::Archive {
            mut members,
            trailer,
            ..
        } = ar::read(input, name, nx.budget)?;
        let mut fired = Vec::new();
        for m in &mut members {
            patch(m, nx.epoch, name, &mut fired);
        }
        for m in &mut members {
            if special(m) {
                continue;
            }
            let path = nested(name, &m.name);
            if let Some((new, inner)) = normalize_nested(&m.data, &path, depth + 1, nx)? {
                fired.extend(inner);
                let size = new.len() + m.bsd_name.len() as u64;
                if size.to_string().len() > SIZE.len() {
                    return Err(nx.malformed(
                        Kind::Ar,
                        &path,
                        "normalized member too large for ar",
                    ));
                }
                set_field(&mut m.header[SIZE], &size.to_string());
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
                // Every member is padded, the last one too, even when the
                // input left its pad byte off.
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
        let mut members = ar::read(input, name, nx.budget)?.members;
        let mut fired = Vec::new();
        let mut h = ContainerHasher::new("ar");
        // Headers first, then the members' contents, as `normalize` does:
        // both report the rules they fired in the same order.
        for m in &mut members {
            patch(m, nx.epoch, name, &mut fired);
        }
        for m in &members {
            let digest = if special(m) {
                let mut s = Sha256::new();
                std::io::copy(&mut m.data.reader(), &mut super::HashWriter(&mut s))
                    .map_err(|e| nx.io(e, name, "reading ar"))?;
                s.finalize().into()
            } else {
                let d = digest_blob(&m.data, &nested(name, &m.name), depth + 1, nx)?;
                fired.extend(d.fired);
                d.sha256
            };
            h.entry(&DigestEntry {
                path: digest_path(m).as_bytes().to_vec(),
                kind: "file",
                mode: m.raw_mode().unwrap_or(0) & 0o7777,
                digest,
            });
        }
        Ok(Digested {
            sha256: h.finish(),
            fired,
        })
    }
}
