//! Canonical zip (jar, wheel): entries in a stable order, times clamped,
//! time and owner extra fields (UT, ux, UX, PKWARE Unix, NTFS) removed, external attributes reduced to
//! 0644/0755, "version made by" fixed.
//!
//! The archive is read by [`crate::formats::zip::read`], the parser the
//! differ lists entries with, and every member is copied *raw* — local
//! header (patched), compressed bytes and data descriptor exactly as they
//! were — so normalization never recompresses and never changes what an
//! unzip reads. Offsets, the central directory and the end records are
//! written anew (zip64 where the input had it or the new layout needs it).
//!
//! An archive the reader found reading two ways is refused (see
//! [`ConflictKind::refusal`]): its canonical form would claim one reading
//! of an archive other tools read another way. The canonical form keeps
//! the compressed bytes and the declared CRC-32 as they are, and the digest
//! hashes both; each member is still decompressed once (in parallel) to
//! check its data against that CRC-32 and size, and a contradiction is
//! refused like the other ambiguities, so it is neither hidden nor
//! repaired.

use std::io::{self, Read, Write};

use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use super::{
    canonical_file_mode, fire, reader_detects, Blob, ContainerHasher, DigestEntry, Digested, Fired,
    Format, Normalizer, Nx, Rule, DEFAULT_EPOCH,
};
use crate::formats::zip::reader::{
    dos_epoch, extra_records, push_record, u16le, CENTRAL_SIG, EOCD_SIG, FLAG_DESCRIPTOR,
    FLAG_ENCRYPTED, KNOWN_METHODS, ZIP64_EOCD_SIG, ZIP64_EXTRA, ZIP64_LOCATOR_SIG,
};
use crate::formats::zip::{self, Archive, ConflictKind, Member, Refusal};
use crate::formats::Kind;
use crate::limits::{Consumed, LimitReader};
use crate::timefmt;
use crate::Result;

/// The zip normalizer.
pub(super) struct Zip;

/// Extra fields that carry times or owners: extended timestamp (UT),
/// Info-ZIP Unix new (ux), PKWARE Unix, Info-ZIP Unix old (UX), and NTFS
/// (0x000a: modification, access and creation times in 100 ns ticks, as
/// Windows tools and .NET's ZipArchive write them). They are removed
/// rather than clamped: the DOS time every entry has already carries the
/// clamped time, and a field removed is the same whatever tool wrote it.
const VOLATILE_EXTRA: [u16; 5] = [0x5455, 0x7875, 0x000d, 0x5855, 0x000a];

/// The jar tool's marker (an empty 0xCAFE record on the first entry): it
/// says which program wrote the jar, and other writers of the same jar
/// (Maven, Gradle, add-determinism) do not write it.
const JAR_MARKER: u16 = 0xcafe;

/// `extra` without the volatile records and an empty jar marker;
/// unchanged if it does not parse.
fn strip_extra(extra: &[u8]) -> Vec<u8> {
    let Some(records) = extra_records(extra) else {
        return extra.to_vec();
    };
    let mut out = Vec::with_capacity(extra.len());
    for (id, data) in records {
        let marker = id == JAR_MARKER && data.is_empty();
        if !VOLATILE_EXTRA.contains(&id) && !marker {
            push_record(&mut out, id, data);
        }
    }
    out
}

/// General-purpose flag bits 1 and 2: for deflate, the compression level
/// the writer used (a hint no reader needs); for other methods they mean
/// something and are kept.
const FLAG_LEVEL: u16 = 0x0006;
/// General-purpose flag bit 11: name and comment are UTF-8. For ASCII
/// they read the same either way.
const FLAG_UTF8: u16 = 0x0800;
/// Bit 6: strong encryption, whose version rules are its own.
const FLAG_STRONG: u16 = 0x0040;

/// The canonical general-purpose flags of `m`, data descriptor aside.
fn canonical_flags(m: &Member) -> u16 {
    let mut flags = m.flags;
    if matches!(m.method, 8 | 9) {
        flags &= !FLAG_LEVEL;
    }
    if m.name.is_ascii() && m.comment.is_ascii() {
        flags &= !FLAG_UTF8;
    }
    flags
}

/// "Version needed to extract" as APPNOTE 4.4.3 derives it from what the
/// entry uses (2.0 for a directory, deflate or traditional encryption;
/// 2.1 deflate64; 4.5 zip64; 4.6 bzip2; 6.3 LZMA, zstd, xz), so that
/// writers that state more or less for the same entry agree. A stored file
/// needs 1.0 by the spec, but 2.0 is what Python's zipfile, the zip crate
/// and add-determinism write for it, and no reader in use refuses 2.0: the
/// floor is 2.0, so only writers that say 1.0 (`jar`, Info-ZIP) are
/// rewritten. An unknown method or strong encryption keeps the writer's.
fn canonical_needed(m: &Member, zip64: bool) -> u16 {
    let by_method = match m.method {
        0 => 20,
        8 => 20,
        9 => 21,
        12 => 46,
        14 | 93 | 95 => 63,
        _ => return m.needed,
    };
    if m.flags & FLAG_STRONG != 0 {
        return m.needed;
    }
    let mut needed = by_method;
    if zip64 {
        needed = needed.max(45);
    }
    // The high byte (a host system in some writers' output) is kept.
    (m.needed & 0xff00) | needed
}

/// Whether `m`'s data descriptor can be folded into its local header: the
/// CRC-32 and sizes are known (from the central directory, which the data
/// was checked against) and fit the local header's 32-bit fields. An
/// encrypted entry keeps it: with bit 3 set, traditional encryption checks
/// the password against the time, not the CRC-32.
fn foldable_descriptor(m: &Member) -> bool {
    m.descriptor.is_some()
        && m.flags & FLAG_ENCRYPTED == 0
        && m.csize32 != u32::MAX
        && m.usize32 != u32::MAX
        && extra_records(&m.local_extra).is_some_and(|r| r.iter().all(|(id, _)| *id != ZIP64_EXTRA))
}

/// The DOS (date, time) of an epoch, within the range a zip can store.
fn epoch_to_dos(t: i64) -> (u16, u16) {
    let max = timefmt::epoch_of(2107, 12, 31, 23, 59, 58);
    let t = t.clamp(DEFAULT_EPOCH, max);
    let (y, mo, d) = timefmt::civil_from_days(t.div_euclid(86_400));
    let rem = t.rem_euclid(86_400);
    let date = (((y - 1980) as u16) << 9) | ((mo as u16) << 5) | d as u16;
    let time =
        ((rem / 3600) as u16) << 11 | (((rem % 3600) / 60) as u16) << 5 | ((rem % 60) / 2) as u16;
    (date, time)
}

/// The canonical (type | permission) bits of a member.
fn canonical_mode(m: &Member) -> u32 {
    if m.is_dir() {
        0o040755
    } else if m.is_symlink() {
        0o120777
    } else {
        0o100000 | canonical_file_mode(m.unix_mode().unwrap_or(0))
    }
}

/// The canonical order key: jar manifest first, wheel metadata last.
fn order_key(name: &[u8], jar: bool, wheel: bool) -> (u8, &[u8]) {
    if jar {
        if name == b"META-INF/" {
            return (0, name);
        }
        if name == b"META-INF/MANIFEST.MF" {
            return (1, name);
        }
        return (2, name);
    }
    if wheel {
        if let Some(slash) = name.iter().position(|&b| b == b'/') {
            if name[..slash].ends_with(b".dist-info") {
                let rank = if &name[slash..] == b"/RECORD" { 4 } else { 3 };
                return (rank, name);
            }
        }
    }
    (2, name)
}

/// Reads the archive, refusing it when the reader found it reading two
/// ways: overlapping entries always (a rewrite would write the shared
/// bytes once per entry), other ambiguities unless allowed.
fn parse(blob: &Blob, name: &str, nx: &Nx<'_>) -> Result<Archive> {
    let archive = zip::read(blob, name, nx.budget)?;
    let refused = |r: Refusal| {
        archive
            .conflicts
            .iter()
            .filter(move |c| c.kind.refusal() == r)
    };
    if let Some(c) = refused(Refusal::Always).next() {
        debug_assert_eq!(c.kind, ConflictKind::Overlap);
        return Err(nx.malformed(
            Kind::Zip,
            name,
            format!("{}; such an archive has no canonical form", c.detail),
        ));
    }
    for c in refused(Refusal::UnlessAllowed) {
        nx.ambiguous(Kind::Zip, name, &c.detail)?;
    }
    verify_data(&archive, name, nx)?;
    Ok(archive)
}

/// Decompresses every member, in parallel, and checks its data against the
/// CRC-32 and size the central directory declares, as the differ does when
/// it reads a member: the canonical form keeps both as they are, so a
/// contradiction would otherwise pass unnoticed. A member that contradicts
/// them, or does not decompress, reads two ways (unzip refuses it, other
/// tools extract what they get) and is refused unless ambiguity is allowed,
/// when it is not even looked for. The first in archive order is named.
/// The limits on decompressed bytes and ratio apply as in the differ.
fn verify_data(archive: &Archive, name: &str, nx: &Nx<'_>) -> Result<()> {
    if nx.allow_ambiguous {
        return Ok(());
    }
    let found: Vec<Result<Option<String>>> = archive
        .members
        .par_iter()
        .filter(|m| !m.encrypted() && KNOWN_METHODS.contains(&m.method))
        .map(|m| contradiction(m, name, nx))
        .collect();
    for f in found {
        if let Some(detail) = f? {
            nx.ambiguous(Kind::Zip, name, detail)?;
        }
    }
    Ok(())
}

/// How the data of `m` contradicts its central record, if it does.
fn contradiction(m: &Member, name: &str, nx: &Nx<'_>) -> Result<Option<String>> {
    let data = zip::MemberData::of(m);
    let entry = super::nested(name, &m.path());
    let mut r = LimitReader::new(
        data.open(&entry),
        nx.budget,
        &entry,
        Consumed::Fixed(data.compressed_len()),
    );
    // Large reads: the decoders fill big buffers at once.
    let mut buf = vec![0u8; 256 << 10];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A limit is an error of its own, never an ambiguity.
            Err(e) if nx.budget.tripped().is_some() => {
                return Err(nx.io(e, &entry, "decompressing"))
            }
            Err(e) => {
                let path = m.path();
                return Ok(Some(match zip::contradiction(&e) {
                    Some(d) => format!("entry {path:?}: {d}"),
                    None => format!("entry {path:?}: its data does not decompress ({e})"),
                }));
            }
        }
    }
}

/// The canonical fields of one member.
struct Plan {
    index: usize,
    made_by: u16,
    needed: u16,
    /// General-purpose flags without bit 3 (see [`plan`]).
    flags: u16,
    /// The data descriptor folded into the local header (not written).
    fold: bool,
    date: u16,
    time: u16,
    external: u32,
    extra: Vec<u8>,
    local_extra: Vec<u8>,
}

/// Decides the canonical order and fields, and which rules fire.
fn plan(archive: &Archive, name: &str, epoch: i64) -> (Vec<Plan>, Vec<Fired>) {
    let ms = &archive.members;
    let mut fired = Vec::new();
    let jar = ms.iter().any(|m| m.name == b"META-INF/MANIFEST.MF");
    let wheel = !jar
        && ms.iter().any(|m| {
            m.name.ends_with(b".dist-info/RECORD")
                && m.name.iter().filter(|&&b| b == b'/').count() == 1
        });
    let mut order: Vec<usize> = (0..ms.len()).collect();
    order.sort_by(|&a, &b| {
        order_key(&ms[a].name, jar, wheel).cmp(&order_key(&ms[b].name, jar, wheel))
    });
    let physical_sorted = order
        .windows(2)
        .all(|w| ms[w[0]].local_at < ms[w[1]].local_at);
    if order.iter().enumerate().any(|(i, &j)| i != j) || !physical_sorted {
        fire(&mut fired, name, Rule::ZipSort);
    }
    let (tdate, ttime) = epoch_to_dos(epoch);
    let tsecs = dos_epoch(tdate, ttime).unwrap_or(DEFAULT_EPOCH);
    let mut plans = Vec::with_capacity(ms.len());
    for &i in &order {
        let m = &ms[i];
        let encrypted = m.flags & FLAG_ENCRYPTED != 0;
        let (date, time) = if encrypted || dos_epoch(m.date, m.time).is_some_and(|t| t <= tsecs) {
            (m.date, m.time)
        } else {
            (tdate, ttime)
        };
        let (ldate, ltime) = (u16le(&m.local_fixed, 12), u16le(&m.local_fixed, 10));
        if (date, time) != (m.date, m.time) || (!encrypted && (ldate, ltime) != (date, time)) {
            fire(&mut fired, name, Rule::ZipMtimeClamp);
        }
        let extra = strip_extra(&m.extra);
        let local_extra = strip_extra(&m.local_extra);
        if extra != m.extra || local_extra != m.local_extra {
            fire(&mut fired, name, Rule::ZipExtraStrip);
        }
        let mode = canonical_mode(m);
        let external = (mode << 16) | if m.is_dir() { 0x10 } else { 0 };
        if external != m.external {
            fire(&mut fired, name, Rule::ZipAttrNormalize);
        }
        let zip64 = m.csize32 == u32::MAX
            || m.usize32 == u32::MAX
            || m.offset32 == u32::MAX
            || archive.zip64;
        let needed = canonical_needed(m, zip64);
        let local_needed = u16le(&m.local_fixed, 4);
        if needed != m.needed || needed != local_needed {
            fire(&mut fired, name, Rule::ZipVersionNeeded);
        }
        let made_by = 0x0300 | (needed & 0xff).max(20);
        if made_by != m.made_by {
            fire(&mut fired, name, Rule::ZipVersionMadeBy);
        }
        let fold = foldable_descriptor(m);
        if fold {
            fire(&mut fired, name, Rule::ZipDescriptor);
        }
        // Bit 3 (a descriptor follows) is each header's own: cleared
        // where the descriptor is folded, kept as it was otherwise.
        let flags = canonical_flags(m) & !FLAG_DESCRIPTOR;
        let local_flags = u16le(&m.local_fixed, 6);
        if flags != m.flags & !FLAG_DESCRIPTOR || flags != local_flags & !FLAG_DESCRIPTOR {
            fire(&mut fired, name, Rule::ZipFlags);
        }
        plans.push(Plan {
            index: i,
            made_by,
            needed,
            flags,
            fold,
            date,
            time,
            external,
            extra,
            local_extra,
        });
    }
    // Report in the documented order of the rules.
    fired.sort_by_key(|f| f.rule);
    (plans, fired)
}

/// Counts what passes through, to know offsets.
struct Counting<'a> {
    inner: &'a mut dyn Write,
    pos: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The central extra field with the zip64 record carrying `offset` when
/// the input's record had it or the offset no longer fits in 32 bits.
fn central_extra(m: &Member, canonical: &[u8], offset: u64) -> (Vec<u8>, bool) {
    let need_offset = m.offset_marker() || offset >= u64::from(u32::MAX);
    let Some(records) = extra_records(canonical) else {
        return (canonical.to_vec(), false);
    };
    let mut out = Vec::with_capacity(canonical.len() + 12);
    let mut done = false;
    let sizes = 8 * (usize::from(m.usize32 == u32::MAX) + usize::from(m.csize32 == u32::MAX));
    for (id, data) in records {
        if id == ZIP64_EXTRA && !done {
            let mut z = data.get(..sizes.min(data.len())).unwrap_or(&[]).to_vec();
            if need_offset {
                z.extend_from_slice(&offset.to_le_bytes());
            }
            if m.disk16 == u16::MAX {
                let disk_at = sizes + if m.offset_marker() { 8 } else { 0 };
                z.extend_from_slice(data.get(disk_at..disk_at + 4).unwrap_or(&[0; 4]));
            }
            push_record(&mut out, id, &z);
            done = true;
        } else {
            push_record(&mut out, id, data);
        }
    }
    if need_offset && !done {
        push_record(&mut out, ZIP64_EXTRA, &offset.to_le_bytes());
    }
    (out, need_offset)
}

fn write(archive: &Archive, plans: &[Plan], out: &mut dyn Write) -> io::Result<()> {
    let mut w = Counting { inner: out, pos: 0 };
    archive.prefix.copy_to(&mut w)?;
    let mut offsets = Vec::with_capacity(plans.len());
    for p in plans {
        let m = &archive.members[p.index];
        offsets.push(w.pos - archive.shift);
        let mut fixed = m.local_fixed;
        fixed[4..6].copy_from_slice(&p.needed.to_le_bytes());
        let local_descriptor = if p.fold {
            0
        } else {
            u16le(&m.local_fixed, 6) & FLAG_DESCRIPTOR
        };
        fixed[6..8].copy_from_slice(&(p.flags | local_descriptor).to_le_bytes());
        if p.fold {
            // What the descriptor said, from the central record it was
            // checked against.
            fixed[14..18].copy_from_slice(&m.crc.to_le_bytes());
            fixed[18..22].copy_from_slice(&m.csize32.to_le_bytes());
            fixed[22..26].copy_from_slice(&m.usize32.to_le_bytes());
        }
        fixed[10..12].copy_from_slice(&p.time.to_le_bytes());
        fixed[12..14].copy_from_slice(&p.date.to_le_bytes());
        if m.flags & FLAG_ENCRYPTED != 0 {
            fixed[10..14].copy_from_slice(&m.local_fixed[10..14]);
        }
        fixed[28..30].copy_from_slice(&(p.local_extra.len() as u16).to_le_bytes());
        w.write_all(&fixed)?;
        w.write_all(&m.local_name)?;
        w.write_all(&p.local_extra)?;
        if p.fold {
            m.data.copy_to(&mut w)?;
        } else {
            m.body.copy_to(&mut w)?;
        }
    }
    let cd_start = w.pos;
    let mut cd = Vec::new();
    for (p, &offset) in plans.iter().zip(&offsets) {
        let m = &archive.members[p.index];
        let (extra, zip64_offset) = central_extra(m, &p.extra, offset);
        cd.extend_from_slice(&CENTRAL_SIG.to_le_bytes());
        let central_descriptor = if p.fold { 0 } else { m.flags & FLAG_DESCRIPTOR };
        cd.extend_from_slice(&p.made_by.to_le_bytes());
        cd.extend_from_slice(&p.needed.to_le_bytes());
        cd.extend_from_slice(&(p.flags | central_descriptor).to_le_bytes());
        cd.extend_from_slice(&m.method.to_le_bytes());
        cd.extend_from_slice(&p.time.to_le_bytes());
        cd.extend_from_slice(&p.date.to_le_bytes());
        cd.extend_from_slice(&m.crc.to_le_bytes());
        cd.extend_from_slice(&m.csize32.to_le_bytes());
        cd.extend_from_slice(&m.usize32.to_le_bytes());
        cd.extend_from_slice(&(m.name.len() as u16).to_le_bytes());
        cd.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        cd.extend_from_slice(&(m.comment.len() as u16).to_le_bytes());
        cd.extend_from_slice(&m.disk16.to_le_bytes());
        cd.extend_from_slice(&m.internal.to_le_bytes());
        cd.extend_from_slice(&p.external.to_le_bytes());
        let off32 = if zip64_offset {
            u32::MAX
        } else {
            offset as u32
        };
        cd.extend_from_slice(&off32.to_le_bytes());
        cd.extend_from_slice(&m.name);
        cd.extend_from_slice(&extra);
        cd.extend_from_slice(&m.comment);
    }
    w.write_all(&cd)?;
    let count = plans.len() as u64;
    let cd_size = cd.len() as u64;
    let cd_off = cd_start - archive.shift;
    let big = |v: u64, max: u64| v >= max;
    let zip64 = archive.zip64
        || big(count, 0xffff)
        || big(cd_size, 0xffff_ffff)
        || big(cd_off, 0xffff_ffff);
    if zip64 {
        let z64_at = w.pos - archive.shift;
        let mut r = Vec::with_capacity(76);
        r.extend_from_slice(&ZIP64_EOCD_SIG.to_le_bytes());
        r.extend_from_slice(&44u64.to_le_bytes());
        r.extend_from_slice(&0x032du16.to_le_bytes());
        r.extend_from_slice(&45u16.to_le_bytes());
        r.extend_from_slice(&[0; 8]);
        r.extend_from_slice(&count.to_le_bytes());
        r.extend_from_slice(&count.to_le_bytes());
        r.extend_from_slice(&cd_size.to_le_bytes());
        r.extend_from_slice(&cd_off.to_le_bytes());
        r.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
        r.extend_from_slice(&0u32.to_le_bytes());
        r.extend_from_slice(&z64_at.to_le_bytes());
        r.extend_from_slice(&1u32.to_le_bytes());
        w.write_all(&r)?;
    }
    let mut e = Vec::with_capacity(22 + archive.comment.len());
    let n16 = if big(count, 0xffff) {
        0xffff
    } else {
        count as u16
    };
    e.extend_from_slice(&EOCD_SIG.to_le_bytes());
    e.extend_from_slice(&[0; 4]);
    e.extend_from_slice(&n16.to_le_bytes());
    e.extend_from_slice(&n16.to_le_bytes());
    let size32 = if big(cd_size, 0xffff_ffff) {
        u32::MAX
    } else {
        cd_size as u32
    };
    let off32 = if big(cd_off, 0xffff_ffff) {
        u32::MAX
    } else {
        cd_off as u32
    };
    e.extend_from_slice(&size32.to_le_bytes());
    e.extend_from_slice(&off32.to_le_bytes());
    e.extend_from_slice(&(archive.comment.len() as u16).to_le_bytes());
    e.extend_from_slice(&archive.comment);
    w.write_all(&e)
}

impl Normalizer for Zip {
    fn format(&self) -> Format {
        Format::Zip
    }

    fn detect(&self, head: &[u8]) -> bool {
        reader_detects(Kind::Zip, head)
    }

    fn normalize(
        &self,
        input: &Blob,
        name: &str,
        _depth: u32,
        nx: &Nx<'_>,
        out: &mut dyn Write,
    ) -> Result<Vec<Fired>> {
        let archive = parse(input, name, nx)?;
        let (plans, fired) = plan(&archive, name, nx.epoch);
        if fired.is_empty() {
            return Ok(fired);
        }
        write(&archive, &plans, out).map_err(|e| nx.io(e, name, "writing zip"))?;
        Ok(fired)
    }

    fn digest(&self, input: &Blob, name: &str, _depth: u32, nx: &Nx<'_>) -> Result<Digested> {
        let archive = parse(input, name, nx)?;
        let (_, fired) = plan(&archive, name, nx.epoch);
        let mut entries: Vec<DigestEntry> = archive
            .members
            .par_iter()
            .map(|m| {
                let mut h = Sha256::new();
                h.update(m.method.to_le_bytes());
                h.update(m.crc.to_le_bytes());
                h.update(m.usize.to_le_bytes());
                io::copy(&mut m.data.reader(), &mut super::HashWriter(&mut h))
                    .map_err(|e| nx.io(e, name, "reading zip"))?;
                let mode = canonical_mode(m);
                Ok(DigestEntry {
                    path: m.name.clone(),
                    kind: match mode & 0o170000 {
                        0o040000 => "dir",
                        0o120000 => "symlink",
                        _ => "file",
                    },
                    mode: mode & 0o7777,
                    digest: h.finalize().into(),
                })
            })
            .collect::<Result<_>>()?;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let mut h = ContainerHasher::new("zip");
        for e in &entries {
            h.entry(e);
        }
        Ok(Digested {
            sha256: h.finish(),
            fired,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jar_tools_empty_marker_is_stripped_and_a_marker_with_data_kept() {
        assert_eq!(strip_extra(&[0xfe, 0xca, 0, 0]), Vec::<u8>::new());
        let with_data = [0xfe, 0xca, 1, 0, 7];
        assert_eq!(strip_extra(&with_data), with_data);
    }
}
