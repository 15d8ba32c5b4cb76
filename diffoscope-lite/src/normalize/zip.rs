//! Canonical zip (jar, wheel): entries in a stable order, times clamped,
//! time and owner extra fields removed, external attributes reduced to
//! 0644/0755, "version made by" fixed.
//!
//! The archive is parsed here from its end-of-central-directory record and
//! central directory, and every member is copied *raw* — local header
//! (patched), compressed bytes and data descriptor exactly as they were —
//! so normalization never recompresses and never changes what an unzip
//! reads. Offsets, the central directory and the end records are written
//! anew (zip64 where the input had it or the new layout needs it).

use std::io::{self, Write};

use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use super::{
    canonical_file_mode, fire, reader_detects, Blob, ContainerHasher, DigestEntry, Digested, Fired,
    Format, Normalizer, Nx, Rule, DEFAULT_EPOCH,
};
use crate::formats::Kind;
use crate::timefmt;
use crate::Result;

/// The zip normalizer.
pub(super) struct Zip;

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const DESCRIPTOR_SIG: u32 = 0x0807_4b50;
/// Extra fields that carry times or owners: extended timestamp (UT),
/// Info-ZIP Unix new (ux), PKWARE Unix, Info-ZIP Unix old (UX).
const VOLATILE_EXTRA: [u16; 4] = [0x5455, 0x7875, 0x000d, 0x5855];
const ZIP64_EXTRA: u16 = 0x0001;

/// One member as parsed, with its canonical central and local fields.
struct Member {
    made_by: u16,
    needed: u16,
    flags: u16,
    method: u16,
    time: u16,
    date: u16,
    crc: u32,
    csize32: u32,
    usize32: u32,
    usize: u64,
    disk16: u16,
    internal: u16,
    external: u32,
    name: Vec<u8>,
    extra: Vec<u8>,
    comment: Vec<u8>,
    /// Offset of the local header in the input, from the start of the file.
    local_at: u64,
    /// Whether the input stored the offset as a zip64 marker; it stays one.
    offset_marker: bool,
    local_fixed: [u8; 30],
    local_name: Vec<u8>,
    local_extra: Vec<u8>,
    /// Where its stored bytes (header, data, descriptor) end in the input.
    end: u64,
    /// Compressed data and data descriptor, as stored.
    body: Blob,
    /// Compressed data alone.
    data: Blob,
}

/// A parsed archive.
struct Archive {
    members: Vec<Member>,
    /// Bytes before the archive proper (a self-extractor stub), kept raw.
    prefix: Blob,
    /// Offsets in the input are relative to this position.
    shift: u64,
    comment: Vec<u8>,
    had_zip64_eocd: bool,
}

fn u16le(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32le(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64le(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| {
        u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
    })
}

/// The records of an extra field, or `None` if it does not parse as such.
fn extra_records(extra: &[u8]) -> Option<Vec<(u16, &[u8])>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < extra.len() {
        let id = u16le(extra, pos);
        let len = usize::from(u16le(extra, pos + 2));
        let data = extra.get(pos + 4..pos + 4 + len)?;
        out.push((id, data));
        pos += 4 + len;
    }
    Some(out)
}

/// `extra` without the volatile records; unchanged if it does not parse.
fn strip_extra(extra: &[u8]) -> Vec<u8> {
    let Some(records) = extra_records(extra) else {
        return extra.to_vec();
    };
    let mut out = Vec::with_capacity(extra.len());
    for (id, data) in records {
        if !VOLATILE_EXTRA.contains(&id) {
            push_record(&mut out, id, data);
        }
    }
    out
}

fn push_record(out: &mut Vec<u8>, id: u16, data: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(data.len() as u16).to_le_bytes());
    out.extend_from_slice(data);
}

/// Seconds since the epoch of a DOS date and time read as UTC; `None` if invalid.
fn dos_to_epoch(date: u16, time: u16) -> Option<i64> {
    let (y, mo, d) = (
        1980 + i64::from(date >> 9),
        u32::from((date >> 5) & 0xf),
        u32::from(date & 0x1f),
    );
    let (h, mi, s) = (
        u32::from(time >> 11),
        u32::from((time >> 5) & 0x3f),
        u32::from(time & 0x1f) * 2,
    );
    if !(1..=12).contains(&mo) || d == 0 || d > 31 || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some(timefmt::epoch_of(y, mo, d, h, mi, s))
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

impl Member {
    fn is_dir(&self) -> bool {
        let unix = self.unix_mode();
        self.name.ends_with(b"/")
            || unix.is_some_and(|m| m & 0o170000 == 0o040000)
            || self.external & 0x10 != 0
    }

    fn unix_mode(&self) -> Option<u32> {
        (self.made_by >> 8 == 3 && self.external >> 16 != 0).then_some(self.external >> 16)
    }

    fn is_symlink(&self) -> bool {
        self.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000)
    }

    /// The canonical (type | permission) bits of this member.
    fn canonical_mode(&self) -> u32 {
        if self.is_dir() {
            0o040755
        } else if self.is_symlink() {
            0o120777
        } else {
            0o100000 | canonical_file_mode(self.unix_mode().unwrap_or(0))
        }
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

fn parse(blob: &Blob, name: &str, nx: &Nx<'_>) -> Result<Archive> {
    let bad = |detail: String| nx.malformed(Kind::Zip, name, detail);
    let io = |e: io::Error| nx.io(e, name, "reading zip");
    let len = blob.len();
    let tail_len = len.min(22 + 0xffff);
    let tail = blob.read_vec(len - tail_len, tail_len).map_err(io)?;
    let tail_start = len - tail_len;
    // The last end record whose comment ends within the file.
    let at = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| {
            u32le(&tail, i) == EOCD_SIG && i + 22 + usize::from(u16le(&tail, i + 20)) <= tail.len()
        })
        .ok_or_else(|| bad("no end-of-central-directory record".into()))?;
    let eocd = &tail[at..];
    let eocd_pos = tail_start + at as u64;
    let (disk, cd_disk) = (u16le(eocd, 4), u16le(eocd, 6));
    let mut count = u64::from(u16le(eocd, 10));
    let mut cd_size = u64::from(u32le(eocd, 12));
    let mut cd_off = u64::from(u32le(eocd, 16));
    let comment = eocd[22..22 + usize::from(u16le(eocd, 20))].to_vec();
    let mut cd_end = eocd_pos;
    let mut had_zip64_eocd = false;
    if eocd_pos >= 20 {
        let loc = blob.read_vec(eocd_pos - 20, 20).map_err(io)?;
        if u32le(&loc, 0) == ZIP64_LOCATOR_SIG {
            let declared = u64le(&loc, 8);
            let z64_pos = [eocd_pos.saturating_sub(20 + 56), declared]
                .into_iter()
                .find(|&p| {
                    blob.read_vec(p, 56)
                        .is_ok_and(|r| u32le(&r, 0) == ZIP64_EOCD_SIG)
                })
                .ok_or_else(|| bad("zip64 end record not found".into()))?;
            let r = blob.read_vec(z64_pos, 56).map_err(io)?;
            count = u64le(&r, 32);
            cd_size = u64le(&r, 40);
            cd_off = u64le(&r, 48);
            cd_end = z64_pos;
            had_zip64_eocd = true;
        }
    }
    if (disk != 0 && disk != u16::MAX) || (cd_disk != 0 && cd_disk != u16::MAX) {
        return Err(bad(format!("multi-disk archive (disk {disk})")));
    }
    let cd_start = cd_end
        .checked_sub(cd_size)
        .ok_or_else(|| bad(format!("central directory of {cd_size} bytes does not fit")))?;
    let shift = cd_start.checked_sub(cd_off).ok_or_else(|| {
        bad(format!(
            "central directory offset {cd_off} beyond its position"
        ))
    })?;
    if count > nx.budget.max_entries() {
        return Err(nx.budget.exceed_entries(count, name));
    }
    if count > cd_size / 46 {
        return Err(bad(format!(
            "{count} entries declared in a {cd_size}-byte central directory"
        )));
    }
    let cd = blob.read_vec(cd_start, cd_size).map_err(io)?;
    let mut members = Vec::new();
    let mut pos = 0usize;
    for _ in 0..count {
        let f = cd
            .get(pos..pos + 46)
            .filter(|f| u32le(f, 0) == CENTRAL_SIG)
            .ok_or_else(|| bad(format!("bad central directory record at offset {pos}")))?;
        let (n, e, c) = (
            usize::from(u16le(f, 28)),
            usize::from(u16le(f, 30)),
            usize::from(u16le(f, 32)),
        );
        let var = cd
            .get(pos + 46..pos + 46 + n + e + c)
            .ok_or_else(|| bad(format!("central directory record at {pos} overruns")))?;
        let (mname, extra, mcomment) = (&var[..n], &var[n..n + e], &var[n + e..]);
        let member_path = super::nested(name, &String::from_utf8_lossy(mname));
        nx.budget.add_entry(&member_path)?;
        let (csize32, usize32, off32, disk16) =
            (u32le(f, 20), u32le(f, 24), u32le(f, 42), u16le(f, 34));
        let (mut csize, mut usize, mut offset) =
            (u64::from(csize32), u64::from(usize32), u64::from(off32));
        if let Some(z) = extra_records(extra).and_then(|r| {
            r.into_iter()
                .find(|(id, _)| *id == ZIP64_EXTRA)
                .map(|(_, d)| d)
        }) {
            let mut zp = 0usize;
            for (marker, field) in [
                (usize32 == u32::MAX, &mut usize),
                (csize32 == u32::MAX, &mut csize),
                (off32 == u32::MAX, &mut offset),
            ] {
                if marker {
                    *field = u64le(z, zp);
                    zp += 8;
                }
            }
        }
        let local_at = shift
            .checked_add(offset)
            .ok_or_else(|| bad(format!("{member_path}: local header offset overflows")))?;
        let fixed = blob.read_vec(local_at, 30).map_err(|_| {
            bad(format!(
                "{member_path}: local header lies outside the archive"
            ))
        })?;
        if u32le(&fixed, 0) != LOCAL_SIG {
            return Err(bad(format!(
                "{member_path}: local header signature missing"
            )));
        }
        let mut local_fixed = [0u8; 30];
        local_fixed.copy_from_slice(&fixed);
        let (ln, le) = (u64::from(u16le(&fixed, 26)), u64::from(u16le(&fixed, 28)));
        let local_var = blob
            .read_vec(local_at + 30, ln + le)
            .map_err(|_| bad(format!("{member_path}: local header overruns the archive")))?;
        let data_start = local_at + 30 + ln + le;
        let data = blob.slice(data_start, csize).ok_or_else(|| {
            bad(format!(
                "{member_path}: {csize} bytes of data overrun the archive"
            ))
        })?;
        let mut body_len = csize;
        if u16le(&fixed, 6) & 0x0008 != 0 {
            let at = data_start + csize;
            let sig = blob.read_vec(at, 4).map(|b| u32le(&b, 0) == DESCRIPTOR_SIG);
            let zip64 = csize32 == u32::MAX || usize32 == u32::MAX || u32le(&fixed, 18) == u32::MAX;
            body_len += if sig.unwrap_or(false) { 4 } else { 0 } + if zip64 { 20 } else { 12 };
        }
        let body = blob.slice(data_start, body_len).ok_or_else(|| {
            bad(format!(
                "{member_path}: data descriptor overruns the archive"
            ))
        })?;
        members.push(Member {
            made_by: u16le(f, 4),
            needed: u16le(f, 6),
            flags: u16le(f, 8),
            method: u16le(f, 10),
            time: u16le(f, 12),
            date: u16le(f, 14),
            crc: u32le(f, 16),
            csize32,
            usize32,
            usize,
            disk16,
            internal: u16le(f, 36),
            external: u32le(f, 38),
            name: mname.to_vec(),
            extra: extra.to_vec(),
            comment: mcomment.to_vec(),
            local_at,
            offset_marker: off32 == u32::MAX,
            local_fixed,
            local_name: local_var[..ln as usize].to_vec(),
            local_extra: local_var[ln as usize..].to_vec(),
            end: data_start + body_len,
            body,
            data,
        });
        pos += 46 + n + e + c;
    }
    reject_overlaps(&members, cd_start, name, nx)?;
    check_one_reading(blob, &tail, &members, cd_start, name, nx)?;
    let first = members.iter().map(|m| m.local_at).min().unwrap_or(cd_start);
    let prefix = blob
        .slice(0, first.min(cd_start))
        .ok_or_else(|| bad("prefix out of bounds".into()))?;
    Ok(Archive {
        members,
        prefix,
        shift,
        comment,
        had_zip64_eocd,
    })
}

/// Refuses members whose stored bytes (local header, data, descriptor)
/// overlap another's or the central directory: the overlapping-entry zip
/// bomb (many central entries over one compressed stream, which a rewrite
/// would write out once per entry) and archives whose members can be read
/// two ways. A canonical form of either would be a lie.
fn reject_overlaps(members: &[Member], cd_start: u64, name: &str, nx: &Nx<'_>) -> Result<()> {
    let mut spans: Vec<(u64, u64, &[u8])> = members
        .iter()
        .map(|m| (m.local_at, m.end, m.name.as_slice()))
        .collect();
    spans.sort_unstable();
    for pair in spans.windows(2) {
        let ((a_start, a_end, a), (b_start, _, b)) = (pair[0], pair[1]);
        if b_start < a_end {
            return Err(nx.malformed(
                Kind::Zip,
                name,
                format!(
                    "entries {:?} and {:?} overlap (bytes {a_start}..{a_end} and from {b_start}): \
                     an overlapping-entry archive (a zip bomb, or one that reads two ways) has no \
                     canonical form",
                    String::from_utf8_lossy(a),
                    String::from_utf8_lossy(b)
                ),
            ));
        }
    }
    if let Some((_, end, last)) = spans.last() {
        if *end > cd_start {
            return Err(nx.malformed(
                Kind::Zip,
                name,
                format!(
                    "entry {:?} overlaps the central directory (its data ends at {end}, the \
                     directory starts at {cd_start})",
                    String::from_utf8_lossy(last)
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses (unless allowed) a zip that reads two ways, the structures
/// parser-confusion archives use to show one tool one thing and another
/// tool another: a second end record ending the file (one hidden in the
/// other's comment), local headers that contradict the central directory
/// (name, method, sizes, CRC), two entries of one name, a file and a
/// directory of one name, and local headers outside every entry (a hidden
/// entry or a concatenated archive).
fn check_one_reading(
    blob: &Blob,
    tail: &[u8],
    members: &[Member],
    cd_start: u64,
    name: &str,
    nx: &Nx<'_>,
) -> Result<()> {
    let ambiguous = |detail: String| nx.ambiguous(Kind::Zip, name, detail);
    let ends: Vec<usize> = (0..tail.len().saturating_sub(21))
        .filter(|&i| {
            u32le(tail, i) == EOCD_SIG && i + 22 + usize::from(u16le(tail, i + 20)) == tail.len()
        })
        .collect();
    if ends.len() > 1 {
        ambiguous(format!(
            "{} end-of-central-directory records end the file (one hides in another's comment)",
            ends.len()
        ))?;
    }
    let mut names = std::collections::HashSet::new();
    for m in members {
        let shown = String::from_utf8_lossy(&m.name);
        if m.local_name != m.name {
            ambiguous(format!(
                "entry {shown:?} is named {:?} in its local header",
                String::from_utf8_lossy(&m.local_name)
            ))?;
        }
        let local_method = u16le(&m.local_fixed, 8);
        if local_method != m.method {
            ambiguous(format!(
                "entry {shown:?}: compression method {} in the central directory, {local_method} in its local header",
                m.method
            ))?;
        }
        if m.flags & 0x0008 == 0 {
            for (what, central, at) in [
                ("CRC", m.crc, 14),
                ("compressed size", m.csize32, 18),
                ("size", m.usize32, 22),
            ] {
                let local = u32le(&m.local_fixed, at);
                if local != central && local != u32::MAX && central != u32::MAX {
                    ambiguous(format!(
                        "entry {shown:?}: {what} {central} in the central directory, {local} in its local header"
                    ))?;
                }
            }
        }
        if !names.insert(m.name.as_slice()) {
            ambiguous(format!("two entries are named {shown:?}"))?;
        }
    }
    for m in members {
        if let Some(dir) = m.name.strip_suffix(b"/") {
            if names.contains(dir) {
                ambiguous(format!(
                    "{:?} is both a file and a directory",
                    String::from_utf8_lossy(dir)
                ))?;
            }
        }
    }
    // Bytes no entry accounts for: before the first, between entries,
    // before the central directory.
    let mut spans: Vec<(u64, u64)> = members.iter().map(|m| (m.local_at, m.end)).collect();
    spans.sort_unstable();
    let mut gaps = Vec::new();
    let mut at = 0u64;
    for (start, end) in spans.iter().copied().chain([(cd_start, cd_start)]) {
        if start > at {
            gaps.push((at, start));
        }
        at = at.max(end);
    }
    for (from, to) in gaps {
        let bytes = blob
            .read_vec(from, to - from)
            .map_err(|e| nx.io(e, name, "reading zip"))?;
        // A real header, not the four bytes alone: a self-extractor's stub
        // may hold the signature as a constant it searches for.
        let header_at = |i: usize| {
            let h = &bytes[i..];
            h.len() >= 30
                && u32le(h, 0) == LOCAL_SIG
                && u16le(h, 4) <= 100
                && [0, 8, 9, 12, 14, 93, 95, 98].contains(&u16le(h, 8))
                && u16le(h, 26) > 0
                && 30 + usize::from(u16le(h, 26)) <= h.len()
        };
        if let Some(i) = (0..bytes.len()).find(|&i| header_at(i)) {
            ambiguous(format!(
                "a local header at offset {} belongs to no entry of the central directory \
                 (a hidden entry, or another archive concatenated)",
                from + i as u64
            ))?;
        }
    }
    Ok(())
}

/// The canonical fields of one member.
struct Plan {
    index: usize,
    made_by: u16,
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
    let tsecs = dos_to_epoch(tdate, ttime).unwrap_or(DEFAULT_EPOCH);
    let mut plans = Vec::with_capacity(ms.len());
    for &i in &order {
        let m = &ms[i];
        let encrypted = m.flags & 1 != 0;
        let (date, time) = if encrypted || dos_to_epoch(m.date, m.time).is_some_and(|t| t <= tsecs)
        {
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
        let mode = m.canonical_mode();
        let external = (mode << 16) | if m.is_dir() { 0x10 } else { 0 };
        if external != m.external {
            fire(&mut fired, name, Rule::ZipAttrNormalize);
        }
        let made_by = 0x0300 | (m.needed & 0xff).max(20);
        if made_by != m.made_by {
            fire(&mut fired, name, Rule::ZipVersionMadeBy);
        }
        plans.push(Plan {
            index: i,
            made_by,
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
    let need_offset = m.offset_marker || offset >= u64::from(u32::MAX);
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
                let disk_at = sizes + if m.offset_marker { 8 } else { 0 };
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
        fixed[10..12].copy_from_slice(&p.time.to_le_bytes());
        fixed[12..14].copy_from_slice(&p.date.to_le_bytes());
        if m.flags & 1 != 0 {
            fixed[10..14].copy_from_slice(&m.local_fixed[10..14]);
        }
        fixed[28..30].copy_from_slice(&(p.local_extra.len() as u16).to_le_bytes());
        w.write_all(&fixed)?;
        w.write_all(&m.local_name)?;
        w.write_all(&p.local_extra)?;
        m.body.copy_to(&mut w)?;
    }
    let cd_start = w.pos;
    let mut cd = Vec::new();
    for (p, &offset) in plans.iter().zip(&offsets) {
        let m = &archive.members[p.index];
        let (extra, zip64_offset) = central_extra(m, &p.extra, offset);
        cd.extend_from_slice(&CENTRAL_SIG.to_le_bytes());
        cd.extend_from_slice(&p.made_by.to_le_bytes());
        cd.extend_from_slice(&m.needed.to_le_bytes());
        cd.extend_from_slice(&m.flags.to_le_bytes());
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
    let zip64 = archive.had_zip64_eocd
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
                let mode = m.canonical_mode();
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
