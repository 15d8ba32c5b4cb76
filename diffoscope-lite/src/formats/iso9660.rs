//! ISO 9660 (ECMA-119) images, with the Rock Ridge extensions that give
//! their files Unix names, modes, owners, times and symlinks — what
//! libarchive (hence diffoscope) shows of them.
//!
//! [`read`] is the one parser of ISO 9660 here: from the primary volume
//! descriptor at 32 KiB it walks the directory tree and yields every file,
//! directory and symlink with its Rock Ridge name (the ISO name, without
//! its `;1` version, when there is none), its metadata and its extent as a
//! byte range of the image. Without Rock Ridge, the Joliet tree's UCS-2
//! names are read when there is one (as libarchive does). No crate fits:
//! `cdfs` brings a FUSE binary's dependencies along. Relocated deep
//! directories (`RE`/`CL`) and multi-extent files are not read (a
//! multi-extent file shows as one member per extent, reported as a
//! duplicate name). The normalizer leaves ISO images alone (their bytes
//! are digested as they are).
//!
//! Bounds: every extent must lie inside the image; a directory is read
//! into memory only up to [`MAX_DIR`] bytes; a directory met twice (a
//! loop) or nested deeper than [`MAX_DEPTH`] is an error; Rock Ridge
//! continuation areas are followed at most [`MAX_CONTINUATIONS`] times per
//! record; every member counts against the entry limit.

use std::collections::HashSet;

use super::posix::{kind_of_mode, Stat, S_IFDIR, S_IFMT, S_IFREG};
use super::{lossy, Format, Kind, Parsed};
use crate::blob::Blob;
use crate::limits::Budget;
use crate::model::{Content, Cx, EntryKind, MetaField, MetaValue};
use crate::timefmt::days_from_civil;
use crate::{Error, Result};

/// ISO 9660 images.
pub struct Iso9660;

/// Where the volume descriptors start (sector 16 of 2048 bytes).
const DESCRIPTORS: u64 = 16 * 2048;
/// The size of a volume descriptor.
const DESCRIPTOR_LEN: u64 = 2048;
/// Volume descriptors read before giving up on finding the primary one.
const MAX_DESCRIPTORS: u64 = 64;
/// Largest directory read into memory.
pub(crate) const MAX_DIR: u64 = 16 << 20;
/// Deepest directory nesting followed (Rock Ridge lifts ISO's limit of 8).
pub(crate) const MAX_DEPTH: usize = 256;
/// Rock Ridge continuation areas followed per directory record.
pub(crate) const MAX_CONTINUATIONS: usize = 16;

/// One member, as recorded.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    /// Its path from the root, Rock Ridge names joined by `/`.
    pub(crate) path: String,
    /// File type and permissions: Rock Ridge `PX`, else from the ISO flags.
    pub(crate) mode: u32,
    /// Owner uid and gid (`PX`).
    pub(crate) owner: Option<(u64, u64)>,
    /// Modification time: Rock Ridge `TF`, else the recording date.
    pub(crate) mtime: i64,
    /// A symlink's target (`SL`).
    pub(crate) target: Option<String>,
    /// A device's numbers (`PN`).
    pub(crate) dev: (u32, u32),
    /// Its extent (empty for anything but files).
    pub(crate) data: Blob,
}

/// An image as [`read`] found it.
#[derive(Clone, Debug)]
pub(crate) struct Image {
    /// The primary volume's identifier.
    pub(crate) volume_id: String,
    /// The primary volume's creation date, when it is one.
    pub(crate) created: Option<i64>,
    /// Whether Rock Ridge entries were found.
    pub(crate) rock_ridge: bool,
    /// Whether the names are the Joliet tree's (no Rock Ridge, a Joliet
    /// descriptor).
    pub(crate) joliet: bool,
    /// Every member in directory order, depth first.
    pub(crate) members: Vec<Member>,
}

/// What the System Use area of one directory record says.
#[derive(Default)]
struct Susp {
    name: Option<Vec<u8>>,
    mode: Option<u32>,
    owner: Option<(u64, u64)>,
    mtime: Option<i64>,
    target: Option<String>,
    dev: Option<(u32, u32)>,
    relocated: bool,
    skip: Option<usize>,
    rock_ridge: bool,
}

/// Reads the ISO 9660 image in `blob`, named `name` in errors.
pub(crate) fn read(blob: &Blob, name: &str, budget: &Budget) -> Result<Image> {
    let bad = |detail: String| {
        budget.tripped().unwrap_or_else(|| Error::Malformed {
            entry: name.to_owned(),
            format: Kind::Iso9660,
            detail,
        })
    };
    let io = |e| budget.io_error(e, name, "reading ISO 9660");
    let (mut pvd, mut joliet) = (None, None);
    for i in 0..MAX_DESCRIPTORS {
        let at = DESCRIPTORS + i * DESCRIPTOR_LEN;
        if blob.len() < at + DESCRIPTOR_LEN {
            break;
        }
        let d = blob.read_vec(at, DESCRIPTOR_LEN).map_err(io)?;
        if &d[1..6] != b"CD001" {
            return Err(bad(format!("no volume descriptor at offset {at}")));
        }
        match d[0] {
            1 if pvd.is_none() => pvd = Some(d),
            // A supplementary descriptor with a UCS-2 escape sequence.
            2 if joliet.is_none() && d[88..90] == *b"%/" && b"@CE".contains(&d[90]) => {
                joliet = Some(d);
            }
            255 => break,
            _ => {}
        }
    }
    let pvd = pvd.ok_or_else(|| bad("no primary volume descriptor".into()))?;
    let block = u64::from(le16(&pvd[128..130]));
    if !matches!(block, 512 | 1024 | 2048) {
        return Err(bad(format!("logical block size {block}")));
    }
    let mut walk = Walk {
        blob,
        block,
        name,
        budget,
        bad: &bad,
        io: &io,
        seen: HashSet::new(),
        skip: 0,
        rock_ridge: false,
        joliet: false,
        members: Vec::new(),
    };
    let root = |d: &[u8]| {
        Record::parse(&d[156..190])
            .map(|r| (r.extent, r.len))
            .ok_or_else(|| bad("bad root directory record".into()))
    };
    // As libarchive: Rock Ridge names when the primary tree has them,
    // else Joliet's when there is a Joliet tree, else ISO 9660's.
    let (mut extent, mut len) = root(&pvd)?;
    if let Some(j) = &joliet {
        if !walk.root_has_rock_ridge(extent, len)? {
            (extent, len) = root(j)?;
            walk.joliet = true;
        }
    }
    walk.dir(extent, len, "", 0)?;
    Ok(Image {
        volume_id: lossy(&pvd[40..72]).trim_end_matches([' ', '\0']).to_owned(),
        created: date17(&pvd[813..830]),
        rock_ridge: walk.rock_ridge,
        joliet: walk.joliet,
        members: walk.members,
    })
}

fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// The fixed part of a directory record.
struct Record<'a> {
    extent: u64,
    len: u64,
    date: [u8; 7],
    flags: u8,
    name: &'a [u8],
    /// The System Use area, after the name and its pad byte.
    system_use: &'a [u8],
}

impl<'a> Record<'a> {
    /// Parses a whole record (`r.len()` is its length byte).
    fn parse(r: &'a [u8]) -> Option<Record<'a>> {
        let name_len = usize::from(*r.get(32)?);
        let name = r.get(33..33 + name_len)?;
        let su_at = 33 + name_len + (1 - name_len % 2);
        let mut date = [0u8; 7];
        date.copy_from_slice(r.get(18..25)?);
        Some(Record {
            extent: u64::from(le32(r.get(2..6)?)),
            len: u64::from(le32(r.get(10..14)?)),
            date,
            flags: *r.get(25)?,
            name,
            system_use: r.get(su_at.min(r.len())..)?,
        })
    }

    fn is_dir(&self) -> bool {
        self.flags & 2 != 0
    }
}

/// A 7-byte recording date (years since 1900, month, day, hour, minute,
/// second, offset from GMT in 15-minute units) as seconds since the epoch.
fn date7(d: &[u8]) -> i64 {
    let days = days_from_civil(
        1900 + i64::from(d[0]),
        u32::from(d[1]).clamp(1, 12),
        u32::from(d[2]).clamp(1, 31),
    );
    let offset = i64::from(d[6] as i8) * 15 * 60;
    days * 86_400 + i64::from(d[3]) * 3600 + i64::from(d[4]) * 60 + i64::from(d[5]) - offset
}

/// A 17-byte volume date (`YYYYMMDDHHMMSScc` in ASCII, then the offset).
fn date17(d: &[u8]) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| std::str::from_utf8(d.get(r)?).ok()?.parse::<u32>().ok();
    let days = days_from_civil(
        i64::from(num(0..4)?),
        num(4..6)?.clamp(1, 12),
        num(6..8)?.clamp(1, 31),
    );
    let offset = i64::from(*d.get(16)? as i8) * 15 * 60;
    Some(
        days * 86_400
            + i64::from(num(8..10)?) * 3600
            + i64::from(num(10..12)?) * 60
            + i64::from(num(12..14)?)
            - offset,
    )
}

/// The tree walk's state.
struct Walk<'a, B, I> {
    blob: &'a Blob,
    block: u64,
    name: &'a str,
    budget: &'a Budget,
    bad: &'a B,
    io: &'a I,
    /// Directory extents read so far: one met again is a loop.
    seen: HashSet<u64>,
    /// Bytes to skip at the start of every System Use area (`SP`).
    skip: usize,
    rock_ridge: bool,
    /// Names are UCS-2 (the Joliet tree).
    joliet: bool,
    members: Vec<Member>,
}

impl<B, I> Walk<'_, B, I>
where
    B: Fn(String) -> Error,
    I: Fn(std::io::Error) -> Error,
{
    /// The bytes `len` at block `extent`, checked to lie in the image.
    fn extent(&self, extent: u64, len: u64, what: &str) -> Result<Blob> {
        extent
            .checked_mul(self.block)
            .and_then(|at| self.blob.slice(at, len))
            .ok_or_else(|| {
                (self.bad)(format!(
                    "{what} at block {extent} ({len} bytes) lies beyond the image's {} bytes",
                    self.blob.len()
                ))
            })
    }

    /// Whether the "." record of the root directory (`extent`, `len`
    /// bytes) carries SUSP's `SP` or Rock Ridge's `RR`/`ER`.
    fn root_has_rock_ridge(&self, extent: u64, len: u64) -> Result<bool> {
        let first = self
            .extent(extent, len.min(self.block), "root directory")?
            .read_vec(0, len.min(self.block))
            .map_err(self.io)?;
        let Some(dot) = first
            .first()
            .and_then(|&n| first.get(..usize::from(n)))
            .and_then(Record::parse)
        else {
            return Ok(false);
        };
        let su = self.susp(dot.system_use)?;
        Ok(su.rock_ridge || su.skip.is_some())
    }

    /// Reads the directory at block `extent` (`len` bytes), at `prefix`,
    /// and, depth first, what it holds.
    fn dir(&mut self, extent: u64, len: u64, prefix: &str, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err((self.bad)(format!(
                "directories nested deeper than {MAX_DEPTH} at {prefix}"
            )));
        }
        if !self.seen.insert(extent) {
            return Err((self.bad)(format!(
                "directory {prefix:?} at block {extent} is read twice (a loop)"
            )));
        }
        if len > MAX_DIR {
            return Err((self.bad)(format!(
                "directory {prefix:?} of {len} bytes (at most {MAX_DIR} are read)"
            )));
        }
        let bytes = self
            .extent(extent, len, "directory")?
            .read_vec(0, len)
            .map_err(self.io)?;
        let mut pos = 0usize;
        let mut first = true;
        let block = self.block as usize;
        while pos < bytes.len() {
            let len = usize::from(bytes[pos]);
            if len == 0 {
                // Records never cross a block: the rest of this one is padding.
                pos = (pos / block + 1) * block;
                continue;
            }
            let r = bytes
                .get(pos..pos + len)
                .and_then(Record::parse)
                .ok_or_else(|| {
                    (self.bad)(format!("bad directory record in {prefix:?} at byte {pos}"))
                })?;
            pos += len;
            let dot = r.name == [0];
            if dot && first && depth == 0 {
                // The root's "." carries SUSP's `SP` (and Rock Ridge's `ER`).
                let su = self.susp(r.system_use)?;
                self.skip = su.skip.unwrap_or(0);
                self.rock_ridge |= su.rock_ridge;
            }
            first = false;
            if dot || r.name == [1] {
                continue;
            }
            let su = self.susp(r.system_use.get(self.skip..).unwrap_or(&[]))?;
            if su.relocated {
                // A directory moved here by Rock Ridge: read where it belongs.
                continue;
            }
            self.rock_ridge |= su.rock_ridge;
            let leaf = match &su.name {
                Some(n) => lossy(n),
                None if self.joliet => iso_name(&ucs2(r.name), r.is_dir()),
                None => iso_name(&lossy(r.name), r.is_dir()),
            };
            let path = if prefix.is_empty() {
                leaf
            } else {
                format!("{prefix}/{leaf}")
            };
            self.budget.add_entry(&format!("{}::{path}", self.name))?;
            let mode = su.mode.unwrap_or(if r.is_dir() {
                S_IFDIR | 0o555
            } else {
                S_IFREG | 0o444
            });
            let data = if mode & S_IFMT == S_IFREG {
                self.extent(r.extent, r.len, &format!("file {path}"))?
            } else {
                Blob::mem(Vec::new())
            };
            self.members.push(Member {
                path: path.clone(),
                mode,
                owner: su.owner,
                mtime: su.mtime.unwrap_or_else(|| date7(&r.date)),
                target: su.target,
                dev: su.dev.unwrap_or((0, 0)),
                data,
            });
            if r.is_dir() && mode & S_IFMT == S_IFDIR {
                self.dir(r.extent, r.len, &path, depth + 1)?;
            }
        }
        Ok(())
    }

    /// The SUSP entries of `area`, continuation areas (`CE`) followed.
    fn susp(&self, area: &[u8]) -> Result<Susp> {
        let mut su = Susp::default();
        let mut name = Vec::new();
        let mut target = String::new();
        let mut link_open = false;
        let mut areas = vec![area.to_vec()];
        let mut followed = 0;
        while let Some(area) = areas.pop() {
            let mut p = 0;
            while p + 4 <= area.len() {
                let (sig, len) = (&area[p..p + 2], usize::from(area[p + 2]));
                if len < 4 || p + len > area.len() {
                    break;
                }
                let data = &area[p + 4..p + len];
                p += len;
                match sig {
                    b"SP" if data.len() >= 3 => su.skip = Some(usize::from(data[2])),
                    b"ER" | b"RR" => su.rock_ridge = true,
                    b"ST" => break,
                    b"CE" if data.len() >= 24 => {
                        followed += 1;
                        if followed > MAX_CONTINUATIONS {
                            return Err((self.bad)(format!(
                                "more than {MAX_CONTINUATIONS} Rock Ridge continuation areas \
                                 for one record"
                            )));
                        }
                        let (extent, offset, len) =
                            (le32(&data[0..4]), le32(&data[8..12]), le32(&data[16..20]));
                        let start = u64::from(extent)
                            .checked_mul(self.block)
                            .and_then(|b| b.checked_add(u64::from(offset)));
                        let bytes = start
                            .and_then(|s| self.blob.slice(s, u64::from(len)))
                            .filter(|_| u64::from(len) <= self.block)
                            .ok_or_else(|| {
                                (self.bad)(format!(
                                    "Rock Ridge continuation area at block {extent} lies beyond \
                                     the image"
                                ))
                            })?;
                        areas.push(bytes.read_vec(0, bytes.len()).map_err(self.io)?);
                    }
                    b"NM" if !data.is_empty() => {
                        su.rock_ridge = true;
                        // CURRENT and PARENT flags name "." and "..": none here.
                        if data[0] & 6 == 0 {
                            name.extend_from_slice(&data[1..]);
                            su.name = Some(name.clone());
                        }
                    }
                    b"PX" if data.len() >= 32 => {
                        su.rock_ridge = true;
                        su.mode = Some(le32(&data[0..4]));
                        su.owner = Some((
                            u64::from(le32(&data[16..20])),
                            u64::from(le32(&data[24..28])),
                        ));
                    }
                    b"TF" if !data.is_empty() => {
                        su.rock_ridge = true;
                        su.mtime = tf_modify(data).or(su.mtime);
                    }
                    b"SL" if !data.is_empty() => {
                        su.rock_ridge = true;
                        sl_components(&data[1..], &mut target, &mut link_open);
                        su.target = Some(target.clone());
                    }
                    b"PN" if data.len() >= 16 => {
                        let (high, low) = (le32(&data[0..4]), le32(&data[8..12]));
                        // As Linux reads it: a high word of 0 with a low
                        // word above 255 is an old-style packed number.
                        su.dev = Some(if high == 0 && low & !0xff != 0 {
                            (low >> 8, low & 0xff)
                        } else {
                            (high, low)
                        });
                    }
                    b"RE" => su.relocated = true,
                    _ => {}
                }
            }
        }
        Ok(su)
    }
}

/// The modification time of a Rock Ridge `TF` entry, if it records one.
fn tf_modify(data: &[u8]) -> Option<i64> {
    let flags = data[0];
    let width = if flags & 0x80 != 0 { 17 } else { 7 };
    // Creation comes first when present, then modification.
    let at = 1 + usize::from(flags & 1 != 0) * width;
    if flags & 2 == 0 {
        return None;
    }
    let stamp = data.get(at..at + width)?;
    if width == 7 {
        Some(date7(stamp))
    } else {
        date17(stamp)
    }
}

/// Appends the components of an `SL` entry to `target`; `open` says
/// whether the last component continues in the next entry.
fn sl_components(mut data: &[u8], target: &mut String, open: &mut bool) {
    while data.len() >= 2 {
        let (flags, len) = (data[0], usize::from(data[1]));
        let Some(content) = data.get(2..2 + len) else {
            return;
        };
        if !*open && !target.is_empty() && !target.ends_with('/') {
            target.push('/');
        }
        match flags & 0x0e {
            2 => target.push('.'),
            4 => target.push_str(".."),
            8 => target.push('/'),
            _ => target.push_str(&lossy(content)),
        }
        *open = flags & 1 != 0;
        data = &data[2 + len..];
    }
}

/// A Joliet name: UCS-2, big-endian (unpaired surrogates replaced).
fn ucs2(raw: &[u8]) -> String {
    let units = raw
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// An ISO 9660 or Joliet name without its `;version`, and without the dot
/// ISO adds to names that have no extension (as libarchive shows them).
fn iso_name(name: &str, dir: bool) -> String {
    let name = name.to_owned();
    if dir {
        return name;
    }
    let name = name.split(';').next().unwrap_or(&name);
    name.strip_suffix('.').unwrap_or(name).to_owned()
}

impl Format for Iso9660 {
    fn kind(&self) -> Kind {
        Kind::Iso9660
    }

    fn detect(&self, head: &[u8]) -> bool {
        // The first volume descriptor, past 32 KiB of system area.
        head.get(DESCRIPTORS as usize + 1..DESCRIPTORS as usize + 6) == Some(b"CD001")
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let image = read(&content.blob(cx, name)?, name, cx.budget)?;
        let entries = image
            .members
            .iter()
            .enumerate()
            .map(|(order, m)| {
                let kind = kind_of_mode(m.mode, m.target.clone(), m.dev);
                let size = match &kind {
                    EntryKind::Symlink { target } => target.len() as u64,
                    _ => m.data.len(),
                };
                Stat {
                    path: m.path.clone(),
                    kind,
                    mode: m.mode,
                    owner: m.owner,
                    mtime: m.mtime,
                    size,
                }
                .entry(order, Content::of_blob(&m.data))
            })
            .collect();
        let meta = vec![
            (
                MetaField::Header("volume id"),
                MetaValue::Text(image.volume_id),
            ),
            (
                MetaField::Header("volume creation time"),
                image.created.map_or(MetaValue::Absent, MetaValue::Time),
            ),
        ];
        let comments = match (image.rock_ridge, image.joliet) {
            (true, _) => Vec::new(),
            (false, true) => {
                vec!["no Rock Ridge entries: Joliet names, ISO 9660 modes and times".into()]
            }
            (false, false) => {
                vec!["no Rock Ridge entries: ISO 9660 names, modes and times".into()]
            }
        };
        Ok(super::archive(Kind::Iso9660, entries, meta, comments))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: usize = 2048;

    /// A directory record.
    fn record(extent: u32, len: u32, dir: bool, name: &[u8], su: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; 33];
        r[2..6].copy_from_slice(&extent.to_le_bytes());
        r[6..10].copy_from_slice(&extent.to_be_bytes());
        r[10..14].copy_from_slice(&len.to_le_bytes());
        r[14..18].copy_from_slice(&len.to_be_bytes());
        // 2015-06-24 14:47:55 UTC.
        r[18..25].copy_from_slice(&[115, 6, 24, 14, 47, 55, 0]);
        r[25] = if dir { 2 } else { 0 };
        r[32] = name.len() as u8;
        r.extend_from_slice(name);
        if name.len() % 2 == 0 {
            r.push(0);
        }
        r.extend_from_slice(su);
        r[0] = r.len() as u8;
        r
    }

    /// A SUSP entry.
    fn entry(sig: &[u8; 2], data: &[u8]) -> Vec<u8> {
        [&sig[..], &[data.len() as u8 + 4, 1], data].concat()
    }

    /// Rock Ridge `NM`, `PX` and `TF` (modification time) entries.
    fn rr(name: &str, mode: u32, mtime: [u8; 7]) -> Vec<u8> {
        let both = |n: u32| [n.to_le_bytes(), n.to_be_bytes()].concat();
        let px = [both(mode), both(1), both(1000), both(100)].concat();
        [
            entry(b"NM", &[&[0u8][..], name.as_bytes()].concat()),
            entry(b"PX", &px),
            entry(b"TF", &[&[2u8][..], &mtime].concat()),
        ]
        .concat()
    }

    /// An image: root (sector 18) holding `dir` (sector 19, its extent
    /// `sub` unless given), `text` (sector 20) and `link` -> `../x`;
    /// `dir` holds `A.TXT;1` without Rock Ridge.
    fn image(sub: u32, text_extent: u32) -> Vec<u8> {
        let mut img = vec![0u8; 21 * B];
        let pvd = &mut img[16 * B..17 * B];
        pvd[0] = 1;
        pvd[1..6].copy_from_slice(b"CD001");
        pvd[40..46].copy_from_slice(b"CDROM ");
        pvd[128..130].copy_from_slice(&2048u16.to_le_bytes());
        let root = record(18, B as u32, true, &[0], &[]);
        pvd[156..156 + 34].copy_from_slice(&root[..34]);
        pvd[813..830].copy_from_slice(b"2015062414475500\0");
        img[17 * B] = 255;
        img[17 * B + 1..17 * B + 6].copy_from_slice(b"CD001");
        let mut dir = [
            record(
                18,
                B as u32,
                true,
                &[0],
                &[entry(b"SP", &[0xbe, 0xef, 0]), entry(b"ER", &[0; 4])].concat(),
            ),
            record(18, B as u32, true, &[1], &[]),
            record(
                sub,
                B as u32,
                true,
                b"DIR",
                &rr("dir", 0o040_755, [115, 6, 24, 14, 0, 0, 0]),
            ),
            record(
                0,
                0,
                false,
                b"LINK.;1",
                &[
                    rr("link", 0o120_777, [115, 6, 24, 14, 0, 0, 0]),
                    entry(b"SL", &[0, 4, 0, 0, 1, b'x']),
                ]
                .concat(),
            ),
            record(
                0,
                0,
                false,
                b"NULL.;1",
                &[
                    rr("null", 0o020_644, [115, 6, 24, 14, 0, 0, 0]),
                    // Device 1,3 packed old-style in the low word.
                    entry(b"PN", &[0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0, 0, 0, 0, 1, 3]),
                ]
                .concat(),
            ),
            record(
                text_extent,
                6,
                false,
                b"TEXT.;1",
                &rr("text", 0o100_644, [115, 6, 24, 15, 0, 0, 4]),
            ),
        ]
        .concat();
        dir.resize(B, 0);
        img[18 * B..19 * B].copy_from_slice(&dir);
        let mut sub_dir = [
            record(19, B as u32, true, &[0], &[]),
            record(18, B as u32, true, &[1], &[]),
            record(20, 3, false, b"A.TXT;1", &[]),
        ]
        .concat();
        sub_dir.resize(B, 0);
        img[19 * B..20 * B].copy_from_slice(&sub_dir);
        img[20 * B..20 * B + 6].copy_from_slice(b"hello\n");
        img
    }

    fn read_all(bytes: Vec<u8>) -> Result<Image> {
        read(
            &Blob::mem(bytes),
            "t.iso",
            &Budget::new(crate::Limits::default()),
        )
    }

    #[test]
    fn rock_ridge_names_modes_times_and_links() {
        let bytes = image(19, 20);
        assert!(Iso9660.detect(&bytes[..bytes.len().min(super::super::HEAD_LEN)]));
        let img = read_all(bytes).unwrap();
        assert!(img.rock_ridge);
        assert_eq!(img.volume_id, "CDROM");
        assert_eq!(img.created, Some(1_435_157_275));
        let got: Vec<_> = img
            .members
            .iter()
            .map(|m| {
                (
                    m.path.as_str(),
                    kind_of_mode(m.mode, m.target.clone(), m.dev),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("dir", EntryKind::Dir),
                ("dir/A.TXT", EntryKind::File),
                (
                    "link",
                    EntryKind::Symlink {
                        target: "../x".into()
                    }
                ),
                (
                    "null",
                    EntryKind::Device {
                        block: false,
                        major: 1,
                        minor: 3
                    }
                ),
                ("text", EntryKind::File),
            ]
        );
        let text = &img.members[4];
        assert_eq!(text.data.read_vec(0, text.data.len()).unwrap(), b"hello\n");
        assert_eq!(text.mode, 0o100_644);
        assert_eq!(text.owner, Some((1000, 100)));
        // 15:00 at GMT+1 (4 quarter hours) is 14:00 UTC.
        assert_eq!(text.mtime, 1_435_154_400);
        // Without Rock Ridge: the recording date, the ISO name less its
        // version, read-only.
        let plain = &img.members[1];
        assert_eq!(plain.mtime, 1_435_157_275);
        assert_eq!(plain.mode, 0o100_444);
        assert_eq!(plain.owner, None);
    }

    /// UCS-2 big-endian bytes of `s`.
    fn ucs2_of(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    #[test]
    fn without_rock_ridge_the_joliet_names_are_read() {
        // PVD (root at 19) and Joliet SVD (root at 20), then the
        // terminator; one file at 21, named "LONG_NAM.TXT;1" in ISO 9660
        // and "Long name.txt;1" in Joliet.
        let mut img = vec![0u8; 22 * B];
        for (sector, kind, root_at) in [(16, 1u8, 19u32), (17, 2, 20)] {
            let d = &mut img[sector * B..(sector + 1) * B];
            d[0] = kind;
            d[1..6].copy_from_slice(b"CD001");
            d[88..91].copy_from_slice(b"%/E");
            d[128..130].copy_from_slice(&2048u16.to_le_bytes());
            d[156..190].copy_from_slice(&record(root_at, B as u32, true, &[0], &[])[..34]);
        }
        img[18 * B] = 255;
        img[18 * B + 1..18 * B + 6].copy_from_slice(b"CD001");
        for (sector, name) in [
            (19, b"LONG_NAM.TXT;1".to_vec()),
            (20, ucs2_of("Long name.txt;1")),
        ] {
            let dir = [
                record(sector, B as u32, true, &[0], &[]),
                record(sector, B as u32, true, &[1], &[]),
                record(21, 3, false, &name, &[]),
            ]
            .concat();
            img[sector as usize * B..sector as usize * B + dir.len()].copy_from_slice(&dir);
        }
        img[21 * B..21 * B + 3].copy_from_slice(b"hi\n");
        let read = read_all(img.clone()).unwrap();
        assert!(read.joliet && !read.rock_ridge);
        let names: Vec<_> = read.members.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(names, ["Long name.txt"]);
        // Without the Joliet descriptor: the ISO 9660 name.
        img[17 * B] = 0xff;
        img[17 * B + 1..17 * B + 6].copy_from_slice(b"CD001");
        let read = read_all(img).unwrap();
        assert!(!read.joliet);
        let names: Vec<_> = read.members.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(names, ["LONG_NAM.TXT"]);
    }

    #[test]
    fn loops_and_extents_outside_the_image_are_errors() {
        let err = read_all(image(18, 20)).unwrap_err().to_string();
        assert!(err.contains("t.iso: malformed ISO 9660"), "{err}");
        assert!(err.contains("read twice (a loop)"), "{err}");
        let err = read_all(image(19, 900)).unwrap_err().to_string();
        assert!(
            err.contains("file text at block 900 (6 bytes) lies beyond"),
            "{err}"
        );
        let mut cut = image(19, 20);
        cut.truncate(19 * B);
        let err = read_all(cut).unwrap_err().to_string();
        assert!(err.contains("directory at block 19"), "{err}");
    }

    #[test]
    fn entries_count_against_the_limit() {
        let limits = crate::Limits {
            max_entries: 2,
            ..crate::Limits::default()
        };
        let err = read(&Blob::mem(image(19, 20)), "t.iso", &Budget::new(limits))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--max-entries"), "{err}");
    }
}
