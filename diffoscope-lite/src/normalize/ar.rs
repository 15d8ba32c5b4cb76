//! Canonical ar (and `.deb`): member and symbol-table mtimes clamped,
//! uid/gid 0, modes `100644`/`100755` whatever encoding the input used
//! (symbol table `0`), every field in one spelling. Member order is kept —
//! dpkg requires `debian-binary` first — and the contents of the symbol
//! table and of the long-name table are copied as they are. Nested archives
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
use crate::formats::ar::{self, Member, MemberKind, MAGIC, MODE, MTIME, SIZE};
use crate::formats::Kind;
use crate::Result;

/// The ar normalizer.
pub(super) struct Ar;

/// The long-name table has no time, owner or mode (its fields are blank)
/// and is copied as it is.
fn name_table(m: &Member) -> bool {
    m.kind == MemberKind::NameTable
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

/// The canonical mode field of a member. One encoding whatever the input:
/// a regular member is `100644` or `100755` (dpkg writes the file-type
/// bits, GNU `ar` leaves them off; both mean a regular file, and two
/// archives that differ only there are the same archive), a symbol table
/// `0`, as GNU `ar` and add-determinism write it (its mode means nothing
/// to a linker).
fn canonical_mode(m: &Member) -> String {
    match m.kind {
        MemberKind::SymbolTable => "0".into(),
        _ => format!(
            "{:o}",
            0o100000 | canonical_file_mode(m.raw_mode().unwrap_or(0))
        ),
    }
}

/// Sets a header field to `text` if its bytes are not already exactly
/// that (so `0`, `00` and `0\0` all become `0`); whether it changed.
fn put(h: &mut [u8; 60], range: std::ops::Range<usize>, text: &str) -> bool {
    let mut want = [b' '; 12];
    want[..text.len()].copy_from_slice(text.as_bytes());
    let want = &want[..range.len()];
    if &h[range.clone()] == want {
        return false;
    }
    h[range].copy_from_slice(want);
    true
}

/// Patches one member header: the symbol table's like every member's (GNU
/// `ar` without `D` stamps it with the time of the run), the long-name
/// table's not at all.
fn patch(m: &mut Member, epoch: i64, name: &str, fired: &mut Vec<Fired>) {
    if name_table(m) {
        return;
    }
    let epoch = epoch.max(0);
    // Times are clamped, earlier ones kept, in one decimal spelling.
    let mtime = m
        .mtime()
        .filter(|&t| (0..=epoch).contains(&t))
        .unwrap_or(epoch);
    if put(&mut m.header, MTIME, &mtime.to_string()) {
        fire(fired, name, Rule::ArMtime);
    }
    for range in [ar::UID, ar::GID] {
        if put(&mut m.header, range, "0") {
            fire(fired, name, Rule::ArOwner);
        }
    }
    let mode = canonical_mode(m);
    if put(&mut m.header, MODE, &mode) {
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
            if m.kind != MemberKind::Regular {
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
                put(&mut m.header, SIZE, &size.to_string());
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
            let digest = if m.kind != MemberKind::Regular {
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
