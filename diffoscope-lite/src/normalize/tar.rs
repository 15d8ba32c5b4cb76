//! Canonical tar: entries sorted by path, mtimes clamped, uid/gid 0 and
//! empty owner names, volatile PAX records dropped, modes normalized.
//!
//! The 512-byte header blocks of the input are kept and only the fields a
//! rule names are patched (then the checksum is recomputed), so a tar made
//! by GNU tar stays a GNU tar and one made by Python stays a Python tar.
//! Member data is copied byte for byte, except that nested archives are
//! normalized in turn. The end of the archive is two zero blocks padded to a
//! 10240-byte record, as GNU tar and Python write it.
//!
//! Paths are ordered component by component (`a`, `a/x`, `a.txt`), which is
//! the order `tar --sort=name` produces; global PAX headers stay first, and
//! a hard link is moved after the member it links to.

use std::cmp::Ordering;
use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

use super::{
    canonical_file_mode, digest_reader, fire, nested, normalize_nested, reader_detects, Blob,
    ContainerHasher, DigestEntry, Digested, Fired, Format, Normalizer, Nx, Rule,
};
use crate::formats::tar::{
    self, cstr, has_owner_names, number, padded, pax_records, walk, BlobInput, Expand, Header,
    LimitedInput, Meta, StreamInput, BLOCK,
};
use crate::formats::{docker, lossy, Kind};
use crate::Result;

/// The tar normalizer.
pub(super) struct Tar;

const RECORD: u64 = 10240;

/// A member as the normalizer keeps it.
type Member = tar::Member<Data>;

/// Where a member's data is.
enum Data {
    /// A byte range of the input.
    Blob(Blob),
    /// Already digested while streaming.
    Digest([u8; 32], Vec<Fired>),
}

/// Writes `v` as zero-padded octal ending in NUL, or base-256 if too large.
fn set_number(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let text = format!("{v:0digits$o}");
    if text.len() <= digits {
        field[..digits].copy_from_slice(text.as_bytes());
        field[digits] = 0;
    } else {
        field.fill(0);
        let mut x = v;
        for b in field.iter_mut().rev() {
            *b = (x & 0xff) as u8;
            x >>= 8;
        }
        field[0] |= 0x80;
    }
}

fn checksum_set(h: &mut Header) {
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(&text.as_bytes()[..8]);
}

fn pax_encode(records: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let body = k.len() + v.len() + 3; // ' ', '=', '\n'
        let mut len = body + 1;
        while len != body + len.to_string().len() {
            len = body + len.to_string().len();
        }
        out.extend_from_slice(len.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(k);
        out.push(b'=');
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

/// Orders paths component by component, as `tar --sort=name` does.
fn path_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let parts = |p: &[u8]| {
        p.split(|&c| c == b'/')
            .filter(|s| !s.is_empty())
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>()
    };
    parts(a).cmp(&parts(b))
}

/// The canonical order: global headers first, then by path; a hard link
/// comes after its target.
fn canonical_order(members: &[Member]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| {
        let (ma, mb) = (&members[a], &members[b]);
        // Global headers keep their order among themselves.
        mb.is_global().cmp(&ma.is_global()).then_with(|| {
            if ma.is_global() {
                Ordering::Equal
            } else {
                path_cmp(&ma.path, &mb.path)
            }
        })
    });
    let mut i = 0;
    while i < order.len() {
        let m = &members[order[i]];
        if m.typeflag() == b'1' {
            let target = order
                .iter()
                .rposition(|&j| members[j].path == m.link && members[j].typeflag() != b'1');
            if let Some(t) = target.filter(|&t| t > i) {
                let moved = order.remove(i);
                order.insert(t, moved);
                continue;
            }
        }
        i += 1;
    }
    order
}

/// Patches the time, owner and (for members) mode fields of a header.
fn patch_header(
    h: &mut Header,
    epoch: i64,
    member: Option<u8>,
    path: &str,
    fired: &mut Vec<Fired>,
) {
    let before = *h;
    let epoch = u64::try_from(epoch).unwrap_or(0);
    if number(&h[136..148]).is_none_or(|t| t > epoch) {
        set_number(&mut h[136..148], epoch);
        fire(fired, path, Rule::TarMtimeClamp);
    }
    let mut owner = false;
    for field in [108..116, 116..124] {
        if number(&h[field.clone()]) != Some(0) {
            set_number(&mut h[field], 0);
            owner = true;
        }
    }
    if has_owner_names(h) {
        for field in [265..297, 297..329] {
            if h[field.clone()].iter().any(|&b| b != 0) {
                h[field].fill(0);
                owner = true;
            }
        }
    }
    if owner {
        fire(fired, path, Rule::TarOwner);
    }
    if let Some(flag) = member {
        let mode = number(&h[100..108]).unwrap_or(0) as u32;
        let perms = match flag {
            b'5' => 0o755,
            b'2' => 0o777,
            _ => canonical_file_mode(mode),
        };
        let new = (mode & !0o7777) | perms;
        if new != mode {
            set_number(&mut h[100..108], u64::from(new));
            fire(fired, path, Rule::TarMode);
        }
    }
    if *h != before {
        checksum_set(h);
    }
}

/// Replaces `PaxHeaders.<pid>` in a PAX header's own name by `PaxHeaders.0`.
fn strip_pid(h: &mut Header) -> bool {
    let name = cstr(&h[..100]).to_vec();
    let Some(at) = name.windows(11).position(|w| w == b"PaxHeaders.") else {
        return false;
    };
    let digits = name[at + 11..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || (digits == 1 && name[at + 11] == b'0') {
        return false;
    }
    let new = [&name[..at + 11], b"0", &name[at + 11 + digits..]].concat();
    h[..100].fill(0);
    h[..new.len()].copy_from_slice(&new);
    true
}

const VOLATILE_PAX: [&[u8]; 6] = [
    b"atime",
    b"ctime",
    b"LIBARCHIVE.creationtime",
    b"SCHILY.dev",
    b"SCHILY.ino",
    b"SCHILY.nlink",
];
const OWNER_PAX: [&[u8]; 4] = [b"uid", b"gid", b"uname", b"gname"];

/// Canonical metadata blocks; `None` entries are dropped.
fn patch_metas(metas: &mut Vec<Meta>, epoch: i64, path: &str, fired: &mut Vec<Fired>) {
    metas.retain_mut(|m| {
        patch_header(&mut m.header, epoch, None, path, fired);
        if m.header[156] != b'x' && m.header[156] != b'g' {
            return true;
        }
        if strip_pid(&mut m.header) {
            fire(fired, path, Rule::TarPaxVolatile);
            checksum_set(&mut m.header);
        }
        let Some(records) = pax_records(&m.data) else {
            return true;
        };
        let mut kept = Vec::with_capacity(records.len());
        for (k, v) in records {
            if VOLATILE_PAX.contains(&k.as_slice()) {
                fire(fired, path, Rule::TarPaxVolatile);
            } else if OWNER_PAX.contains(&k.as_slice()) {
                fire(fired, path, Rule::TarOwner);
            } else if k == b"mtime" {
                let secs = std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.split('.').next())
                    .and_then(|s| s.parse::<i64>().ok());
                if secs.is_none_or(|t| t > epoch) || (secs == Some(epoch) && v.contains(&b'.')) {
                    fire(fired, path, Rule::TarMtimeClamp);
                    kept.push((k, epoch.max(0).to_string().into_bytes()));
                } else {
                    kept.push((k, v));
                }
            } else {
                kept.push((k, v));
            }
        }
        let data = pax_encode(&kept);
        if data != m.data {
            if kept.is_empty() {
                return false;
            }
            m.data = data;
            set_number(&mut m.header[124..136], m.data.len() as u64);
            checksum_set(&mut m.header);
        }
        true
    });
}

/// Sets a member's data size in its header and PAX size record.
fn set_size(m: &mut Member, size: u64) {
    for meta in &mut m.metas {
        if meta.header[156] != b'x' {
            continue;
        }
        if let Some(mut records) = pax_records(&meta.data) {
            if let Some(r) = records.iter_mut().find(|(k, _)| k == b"size") {
                r.1 = size.to_string().into_bytes();
                meta.data = pax_encode(&records);
                set_number(&mut meta.header[124..136], meta.data.len() as u64);
                checksum_set(&mut meta.header);
            }
        }
    }
    set_number(&mut m.header[124..136], size);
    checksum_set(&mut m.header);
}

/// Applies every rule to the members; returns the order to write them in.
fn plan(members: &mut [Member], name: &str, nx: &Nx<'_>, fired: &mut Vec<Fired>) -> Vec<usize> {
    let order = canonical_order(members);
    if order.iter().enumerate().any(|(i, &j)| i != j) {
        fire(fired, name, Rule::TarSort);
    }
    for m in members.iter_mut() {
        patch_metas(&mut m.metas, nx.epoch, name, fired);
        let flag = m.typeflag();
        patch_header(
            &mut m.header,
            nx.epoch,
            (flag != b'g').then_some(flag),
            name,
            fired,
        );
    }
    order
}

fn write(members: &[Member], order: &[usize], out: &mut dyn Write) -> io::Result<()> {
    let zeros = [0u8; BLOCK];
    let mut total = 0u64;
    let put = |out: &mut dyn Write, bytes: &[u8], total: &mut u64| -> io::Result<()> {
        out.write_all(bytes)?;
        *total += bytes.len() as u64;
        Ok(())
    };
    for &i in order {
        let m = &members[i];
        for meta in &m.metas {
            put(out, &meta.header, &mut total)?;
            put(out, &meta.data, &mut total)?;
            let pad = padded(meta.data.len() as u64) - meta.data.len() as u64;
            put(out, &zeros[..pad as usize], &mut total)?;
        }
        put(out, &m.header, &mut total)?;
        for e in &m.ext {
            put(out, e, &mut total)?;
        }
        if let Some(Data::Blob(b)) = &m.data {
            b.copy_to(out)?;
            total += b.len();
            let pad = padded(b.len()) - b.len();
            put(out, &zeros[..pad as usize], &mut total)?;
        }
    }
    put(out, &zeros, &mut total)?;
    put(out, &zeros, &mut total)?;
    let pad = total.div_ceil(RECORD) * RECORD - total;
    for _ in 0..pad / BLOCK as u64 {
        put(out, &zeros, &mut total)?;
    }
    Ok(())
}

impl Normalizer for Tar {
    fn format(&self) -> Format {
        Format::Tar
    }

    fn detect(&self, head: &[u8]) -> bool {
        reader_detects(Kind::Tar, head)
    }

    fn normalize(
        &self,
        input: &Blob,
        name: &str,
        depth: u32,
        nx: &Nx<'_>,
        out: &mut dyn Write,
    ) -> Result<Vec<Fired>> {
        let mut fired = Vec::new();
        let mut reader = BlobInput(input.reader());
        let walked = walk(&mut reader, name, nx.budget, &mut |inp, m| {
            // The whole stored data, a PAX 1.0 sparse map included: sparse
            // members are kept byte for byte.
            let map_len = m.size - m.data_len();
            let at = inp
                .pos()
                .and_then(|p| p.checked_sub(map_len))
                .ok_or_else(|| {
                    nx.malformed(Kind::Tar, name, "internal: positions are known for files")
                })?;
            let blob = input.slice(at, m.size).ok_or_else(|| {
                nx.malformed(
                    Kind::Tar,
                    name,
                    "member data runs past the end of the archive",
                )
            })?;
            inp.skip(m.data_len())
                .map_err(|e| nx.io(e, name, "reading tar"))?;
            Ok(Data::Blob(blob))
        })?;
        refuse_ambiguous(&walked, name, nx)?;
        let mut members = walked.members;
        {
            let blob_of = |p: &str| {
                members.iter().find_map(|m| match &m.data {
                    Some(Data::Blob(b)) if docker::listed(&lossy(&m.path)) == p => Some(b),
                    _ => None,
                })
            };
            let read = |p: &str, b: &Blob| -> Result<Vec<u8>> {
                let entry = nested(name, p);
                nx.budget.check_json(b.len(), &entry)?;
                b.read_vec(0, b.len())
                    .map_err(|e| nx.io(e, &entry, "reading"))
            };
            let manifest = match blob_of("manifest.json") {
                Some(b) => Some(read("manifest.json", b)?),
                None => None,
            };
            let paths = members.iter().map(|m| lossy(&m.path)).collect::<Vec<_>>();
            check_docker(
                name,
                nx,
                &paths,
                manifest,
                &|p| blob_of(p).and_then(|b| read(p, b).ok()),
                &mut |p| {
                    blob_of(p)
                        .map(|b| {
                            super::sha256_of(&mut b.reader())
                                .map_err(|e| nx.io(e, &nested(name, p), "reading"))
                        })
                        .transpose()
                },
            )?;
        }
        let order = plan(&mut members, name, nx, &mut fired);
        for m in &mut members {
            let Some(Data::Blob(b)) = &m.data else {
                continue;
            };
            if !m.is_regular() {
                continue;
            }
            let path = nested(name, &String::from_utf8_lossy(&m.path));
            if let Some((new, inner)) = normalize_nested(b, &path, depth + 1, nx)? {
                fired.extend(inner);
                set_size(m, new.len());
                m.data = Some(Data::Blob(new));
            }
        }
        if fired.is_empty() {
            return Ok(fired);
        }
        write(&members, &order, out).map_err(|e| nx.io(e, name, "writing tar"))?;
        Ok(fired)
    }

    fn digest(&self, input: &Blob, name: &str, depth: u32, nx: &Nx<'_>) -> Result<Digested> {
        digest_stream(&mut input.reader(), name, depth, nx)
    }
}

/// Refuses a `docker save` tarball (one with a `manifest.json` of docker's
/// shape) whose members do not match the digests it records, or whose
/// manifest lists a member it lacks: its canonical form would vouch for
/// content the image never had.
fn check_docker(
    name: &str,
    nx: &Nx<'_>,
    paths: &[String],
    manifest: Option<Vec<u8>>,
    config: &dyn Fn(&str) -> Option<Vec<u8>>,
    actual: &mut dyn FnMut(&str) -> Result<Option<[u8; 32]>>,
) -> Result<()> {
    let Some(manifest) = manifest else {
        return Ok(());
    };
    let has: std::collections::HashSet<&str> = paths.iter().map(|p| docker::listed(p)).collect();
    let Some(plan) = docker::checks(&manifest, &|p| has.contains(p), config) else {
        return Ok(());
    };
    match docker::findings(&plan, actual)?.into_iter().next() {
        Some(first) => Err(nx.malformed(Kind::Tar, name, first)),
        None => Ok(()),
    }
}

/// A reader that hashes (and keeps, while it may) what passes through it.
struct Tee<'a> {
    inner: &'a mut dyn Read,
    hasher: Option<Sha256>,
    keep: Option<Vec<u8>>,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        if let Some(k) = &mut self.keep {
            k.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

/// Refuses a tar that reads two ways unless ambiguity is allowed. Unsafe
/// names are not refused: the canonical form keeps every name byte for
/// byte (it never "fixes" one), and the differ reports them.
fn refuse_ambiguous<D>(walked: &tar::Walked<D>, name: &str, nx: &Nx<'_>) -> Result<()> {
    match walked.ambiguity() {
        Some(detail) => nx.ambiguous(Kind::Tar, name, detail),
        None => Ok(()),
    }
}

/// The digest of a tar read as a stream (so a compressed tar is never spooled).
pub(super) fn digest_stream(
    r: &mut dyn Read,
    name: &str,
    depth: u32,
    nx: &Nx<'_>,
) -> Result<Digested> {
    let mut fired = Vec::new();
    let mut input = StreamInput(r);
    // Docker-save members whose digests may be recorded: their raw
    // SHA-256 as they stream, and the bytes of the JSON among them.
    let mut raw: std::collections::HashMap<String, ([u8; 32], Option<Vec<u8>>)> =
        std::collections::HashMap::new();
    let walked = walk(&mut input, name, nx.budget, &mut |inp, m| {
        let shown = lossy(&m.path);
        let path = nested(name, &shown);
        let mut limited = LimitedInput {
            inner: inp,
            left: m.data_len(),
            archive: name,
        };
        let checked = docker::may_be_checked(&shown) && m.is_regular();
        if checked && docker::is_manifest(&shown) {
            nx.budget.check_json(m.data_len(), &path)?;
        }
        let keep = (checked && docker::keeps_bytes(&shown) && m.data_len() <= nx.budget.max_json())
            .then(Vec::new);
        let mut tee = Tee {
            inner: &mut limited,
            hasher: checked.then(Sha256::new),
            keep,
        };
        let d = if let Some(s) = &m.sparse {
            // The expanded content, as the differ compares it; not
            // recursed into, as the normalizer keeps it byte for byte.
            Digested {
                sha256: super::sha256_of(&mut Expand::new(&mut tee, s))
                    .map_err(|e| nx.io(e, &path, "reading"))?,
                fired: Vec::new(),
            }
        } else if m.is_regular() {
            digest_reader(&mut tee, &path, depth + 1, nx)?
        } else {
            Digested {
                sha256: super::sha256_of(&mut tee).map_err(|e| nx.io(e, &path, "reading"))?,
                fired: Vec::new(),
            }
        };
        if let Some(h) = tee.hasher.take() {
            let keep = tee.keep.take();
            raw.entry(docker::listed(&shown).to_owned())
                .or_insert((h.finalize().into(), keep));
        }
        if limited.left != 0 {
            return Err(nx.malformed(
                Kind::Tar,
                name,
                "member data runs past the end of the archive",
            ));
        }
        Ok(Data::Digest(d.sha256, d.fired))
    })?;
    refuse_ambiguous(&walked, name, nx)?;
    let mut members = walked.members;
    let paths = members.iter().map(|m| lossy(&m.path)).collect::<Vec<_>>();
    check_docker(
        name,
        nx,
        &paths,
        raw.get("manifest.json").and_then(|(_, b)| b.clone()),
        &|p| raw.get(p).and_then(|(_, b)| b.clone()),
        &mut |p| Ok(raw.get(p).map(|(h, _)| *h)),
    )?;
    plan(&mut members, name, nx, &mut fired);
    let mut entries = Vec::with_capacity(members.len());
    for m in &mut members {
        if m.is_global() {
            continue;
        }
        let mode = number(&m.header[100..108]).unwrap_or(0) as u32;
        let (kind, digest) = match m.typeflag() {
            b'5' => ("dir", Sha256::digest(b"").into()),
            b'2' => ("symlink", Sha256::digest(&m.link).into()),
            b'1' => ("hardlink", Sha256::digest(&m.link).into()),
            b'3' | b'4' => (
                if m.typeflag() == b'3' {
                    "chardev"
                } else {
                    "blockdev"
                },
                Sha256::digest(
                    format!(
                        "{},{}",
                        number(&m.header[329..337]).unwrap_or(0),
                        number(&m.header[337..345]).unwrap_or(0)
                    )
                    .as_bytes(),
                )
                .into(),
            ),
            b'6' => ("fifo", Sha256::digest(b"").into()),
            _ => match &mut m.data {
                Some(Data::Digest(d, inner)) => {
                    fired.append(inner);
                    ("file", *d)
                }
                _ => ("file", Sha256::digest(b"").into()),
            },
        };
        entries.push(DigestEntry {
            path: m.path.clone(),
            kind,
            mode: mode & 0o7777,
            digest,
        });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let mut h = ContainerHasher::new("tar");
    for e in &entries {
        h.entry(e);
    }
    Ok(Digested {
        sha256: h.finish(),
        fired,
    })
}
