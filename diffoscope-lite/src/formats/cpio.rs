//! cpio archives in the three layouts tools still write: newc (`070701`,
//! and `070702` with a checksum: initramfs, RPM payloads), odc (`070707`
//! in octal ASCII: POSIX.1's portable format) and old binary (`070707` as
//! a 16-bit word of either byte order, which GNU cpio writes by default).
//!
//! [`read`] is the one parser of cpio: it walks the headers of a [`Blob`]
//! and yields every member with its metadata, its resolved link and its
//! data's byte range, up to the `TRAILER!!!` record, and what follows it
//! (an appended archive) as member `(after the trailer)`. The differ lists the
//! members from it ([`Cpio`]), as a `file list` like tar's; the normalizer
//! leaves cpio alone (its bytes are digested as they are).
//!
//! Nothing is allocated by a size the archive declares: names and symlink
//! targets are read only when they are at most [`MAX_NAME`] bytes and
//! present in the file, and member data stays a range of the blob.

use super::posix::{kind_of_mode, Stat, S_IFLNK, S_IFMT, S_IFREG};
use super::{lossy, plain_entry, Format, Kind, Parsed};
use crate::blob::Blob;
use crate::limits::Budget;
use crate::model::{Content, Cx, EntryKind, MetaField, MetaValue};
use crate::{Error, Result};

/// cpio archives.
pub struct Cpio;

/// Longest member name or symlink target read (Linux's PATH_MAX); a
/// longer one is an error, not an allocation.
pub(crate) const MAX_NAME: u64 = 4096;

/// The name of the record that ends an archive.
const TRAILER: &str = "TRAILER!!!";
/// The member holding what follows the trailer.
pub(crate) const AFTER_TRAILER: &str = "(after the trailer)";

/// The header layout of an archive (every member uses its first's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    /// SVR4 "new ASCII" (`070701`), hexadecimal fields.
    Newc,
    /// newc with a checksum of each file's bytes (`070702`).
    NewcCrc,
    /// POSIX.1 portable ASCII (`070707`), octal fields.
    Odc,
    /// Old binary, 16-bit words, little-endian.
    BinaryLe,
    /// Old binary, 16-bit words, big-endian.
    BinaryBe,
}

impl Variant {
    /// The layout whose magic `head` starts with.
    fn of(head: &[u8]) -> Option<Variant> {
        match head.get(..6)? {
            b"070701" => Some(Variant::Newc),
            b"070702" => Some(Variant::NewcCrc),
            b"070707" => Some(Variant::Odc),
            // 0o070707 = 0x71c7.
            [0xc7, 0x71, ..] => Some(Variant::BinaryLe),
            [0x71, 0xc7, ..] => Some(Variant::BinaryBe),
            _ => None,
        }
    }

    /// Bytes of the fixed header.
    fn header_len(self) -> usize {
        match self {
            Variant::Newc | Variant::NewcCrc => 110,
            Variant::Odc => 76,
            Variant::BinaryLe | Variant::BinaryBe => 26,
        }
    }

    /// What the name and the data are padded to (from the archive's start).
    fn align(self) -> u64 {
        match self {
            Variant::Newc | Variant::NewcCrc => 4,
            Variant::Odc => 1,
            Variant::BinaryLe | Variant::BinaryBe => 2,
        }
    }

    /// Whether hard links share one copy of the data (newc stores it with
    /// the last link, the others have none); odc and binary store it with
    /// every link.
    fn shares_links(self) -> bool {
        matches!(self, Variant::Newc | Variant::NewcCrc)
    }

    /// The layout's name in findings.
    fn name(self) -> &'static str {
        match self {
            Variant::Newc => "newc",
            Variant::NewcCrc => "newc (crc)",
            Variant::Odc => "odc",
            Variant::BinaryLe => "old binary (little-endian)",
            Variant::BinaryBe => "old binary (big-endian)",
        }
    }

    /// The fields of the header `h` (as long as [`Variant::header_len`]);
    /// `Err` names the field that is not a number.
    fn parse(self, h: &[u8]) -> Result<Header, &'static str> {
        match self {
            Variant::Newc | Variant::NewcCrc => {
                let f = |i: usize, field| {
                    let at = 6 + 8 * i;
                    std::str::from_utf8(&h[at..at + 8])
                        .ok()
                        .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
                        .and_then(|s| u64::from_str_radix(s, 16).ok())
                        .ok_or(field)
                };
                Ok(Header {
                    ino: f(0, "ino")?,
                    mode: f(1, "mode")?,
                    uid: f(2, "uid")?,
                    gid: f(3, "gid")?,
                    nlink: f(4, "nlink")?,
                    mtime: f(5, "mtime")?,
                    filesize: f(6, "filesize")?,
                    dev: (f(7, "devmajor")?, f(8, "devminor")?),
                    rdev: (f(9, "rdevmajor")?, f(10, "rdevminor")?),
                    namesize: f(11, "namesize")?,
                })
            }
            Variant::Odc => {
                let f = |at: usize, len: usize, field| {
                    std::str::from_utf8(&h[at..at + len])
                        .ok()
                        .filter(|s| s.bytes().all(|b| matches!(b, b'0'..=b'7')))
                        .and_then(|s| u64::from_str_radix(s, 8).ok())
                        .ok_or(field)
                };
                let dev = f(6, 6, "dev")?;
                let rdev = f(42, 6, "rdev")?;
                Ok(Header {
                    dev: (dev >> 8, dev & 0xff),
                    ino: f(12, 6, "ino")?,
                    mode: f(18, 6, "mode")?,
                    uid: f(24, 6, "uid")?,
                    gid: f(30, 6, "gid")?,
                    nlink: f(36, 6, "nlink")?,
                    rdev: (rdev >> 8, rdev & 0xff),
                    mtime: f(48, 11, "mtime")?,
                    namesize: f(59, 6, "namesize")?,
                    filesize: f(65, 11, "filesize")?,
                })
            }
            Variant::BinaryLe | Variant::BinaryBe => {
                let w = |i: usize| {
                    let b = [h[2 * i], h[2 * i + 1]];
                    u64::from(if self == Variant::BinaryLe {
                        u16::from_le_bytes(b)
                    } else {
                        u16::from_be_bytes(b)
                    })
                };
                // Four-byte fields are two words, the most significant
                // first, whatever the byte order of each.
                Ok(Header {
                    dev: (w(1) >> 8, w(1) & 0xff),
                    ino: w(2),
                    mode: w(3),
                    uid: w(4),
                    gid: w(5),
                    nlink: w(6),
                    rdev: (w(7) >> 8, w(7) & 0xff),
                    mtime: (w(8) << 16) | w(9),
                    namesize: w(10),
                    filesize: (w(11) << 16) | w(12),
                })
            }
        }
    }
}

/// A header's fields, widened to `u64`.
struct Header {
    ino: u64,
    mode: u64,
    uid: u64,
    gid: u64,
    nlink: u64,
    mtime: u64,
    filesize: u64,
    dev: (u64, u64),
    rdev: (u64, u64),
    namesize: u64,
}

/// One member, as stored.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    /// Its name, as stored (lossily decoded).
    pub(crate) name: String,
    /// The whole mode, file type included.
    pub(crate) mode: u32,
    /// Owner uid.
    pub(crate) uid: u64,
    /// Owner gid.
    pub(crate) gid: u64,
    /// Modification time.
    pub(crate) mtime: i64,
    /// Device numbers of a device node.
    pub(crate) rdev: (u32, u32),
    /// Link count.
    pub(crate) nlink: u64,
    /// The device and inode numbers that identify hard links.
    pub(crate) inode: ((u64, u64), u64),
    /// A symlink's target, read from its data.
    pub(crate) target: Option<String>,
    /// In a newc archive, the member holding the data this one shares.
    pub(crate) hardlink: Option<String>,
    /// Its data.
    pub(crate) data: Blob,
}

impl Member {
    /// What kind of object it is.
    pub(crate) fn kind(&self) -> EntryKind {
        match &self.hardlink {
            Some(target) => EntryKind::Hardlink {
                target: target.clone(),
            },
            None => kind_of_mode(self.mode, self.target.clone(), self.rdev),
        }
    }
}

/// A cpio archive as [`read`] found it.
#[derive(Clone, Debug)]
pub(crate) struct Archive {
    /// Its layout.
    pub(crate) variant: Variant,
    /// Every member in archive order, the trailer left out.
    pub(crate) members: Vec<Member>,
    /// The bytes after the trailer, from the first that is not zero
    /// padding, if any.
    pub(crate) after: Option<Blob>,
    /// What was odd but readable, in the words the differ reports.
    pub(crate) conflicts: Vec<String>,
}

/// `at` rounded up to a multiple of `align`.
fn aligned(at: u64, align: u64) -> u64 {
    at.div_ceil(align) * align
}

/// Reads the cpio archive in `blob`, named `name` in errors; every member
/// counts against the entry limit in `budget`.
pub(crate) fn read(blob: &Blob, name: &str, budget: &Budget) -> Result<Archive> {
    let bad = |detail: String| {
        budget.tripped().unwrap_or_else(|| Error::Malformed {
            entry: name.to_owned(),
            format: Kind::Cpio,
            detail,
        })
    };
    let io = |e| budget.io_error(e, name, "reading cpio");
    let len = blob.len();
    let variant = Variant::of(&blob.head(6).map_err(io)?)
        .ok_or_else(|| bad("no cpio magic at offset 0".into()))?;
    let hlen = variant.header_len();
    let mut members: Vec<Member> = Vec::new();
    let mut conflicts = Vec::new();
    let mut pos = 0u64;
    // `pos <= len` holds throughout: every step is checked against the
    // bytes present.
    let end = loop {
        if pos == len {
            conflicts.push(format!(
                "no {TRAILER} record: the archive ends after {} members",
                members.len()
            ));
            break len;
        }
        if len - pos < hlen as u64 {
            return Err(bad(format!(
                "header at offset {pos} cut short ({} of {hlen} bytes)",
                len - pos
            )));
        }
        let mut h = vec![0u8; hlen];
        blob.read_exact_at(&mut h, pos).map_err(io)?;
        if Variant::of(&h) != Some(variant) {
            return Err(bad(format!(
                "no {} magic at offset {pos} (after {} members)",
                variant.name(),
                members.len()
            )));
        }
        let hd = variant
            .parse(&h)
            .map_err(|field| bad(format!("bad {field} field in the header at offset {pos}")))?;
        let name_at = pos + hlen as u64;
        if hd.namesize == 0 || hd.namesize > MAX_NAME || hd.namesize > len - name_at {
            return Err(bad(format!(
                "name size {} in the header at offset {pos} (at most {MAX_NAME}, and \
                 {} bytes left)",
                hd.namesize,
                len - name_at
            )));
        }
        let raw = blob.read_vec(name_at, hd.namesize).map_err(io)?;
        let stored = raw.split(|&b| b == 0).next().unwrap_or(&[]);
        let path = lossy(stored);
        let data_at = aligned(name_at + hd.namesize, variant.align()).min(len);
        if hd.filesize > len - data_at {
            return Err(bad(format!(
                "member {path} at offset {pos} claims {} bytes, only {} left",
                hd.filesize,
                len - data_at
            )));
        }
        let next = aligned(data_at + hd.filesize, variant.align());
        if path == TRAILER {
            break next.min(len);
        }
        budget.add_entry(&format!("{name}::{path}"))?;
        let data = blob
            .slice(data_at, hd.filesize)
            .ok_or_else(|| bad(format!("member {path} at offset {pos} out of bounds")))?;
        let mode = u32::try_from(hd.mode)
            .map_err(|_| bad(format!("mode {:o} of member {path} too large", hd.mode)))?;
        let target = if mode & S_IFMT == S_IFLNK {
            if hd.filesize > MAX_NAME {
                return Err(bad(format!(
                    "symlink {path} at offset {pos} has a {}-byte target (at most {MAX_NAME})",
                    hd.filesize
                )));
            }
            Some(lossy(&data.read_vec(0, hd.filesize).map_err(io)?))
        } else {
            None
        };
        let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        members.push(Member {
            name: path,
            mode,
            uid: hd.uid,
            gid: hd.gid,
            mtime: i64::try_from(hd.mtime).unwrap_or(i64::MAX),
            rdev: (small(hd.rdev.0), small(hd.rdev.1)),
            nlink: hd.nlink,
            inode: (hd.dev, hd.ino),
            target,
            hardlink: None,
            data,
        });
        if next > len {
            conflicts.push(format!(
                "the last member, at offset {pos}, lacks its padding"
            ));
            break len;
        }
        pos = next;
    };
    if variant.shares_links() {
        link_newc(&mut members);
    }
    // What follows the trailer and its zero padding: another archive
    // (initramfs images append a compressed one to an uncompressed one;
    // binwalk carves such things) or anything else. cpio and libarchive
    // stop at the trailer; it is kept here, so that it is compared too.
    let after = match first_nonzero(blob, end).map_err(io)? {
        Some(at) => Some(
            blob.slice(at, blob.len() - at)
                .ok_or_else(|| bad(format!("trailing bytes at offset {at} out of bounds")))?,
        ),
        None => None,
    };
    Ok(Archive {
        variant,
        members,
        after,
        conflicts,
    })
}

/// In newc, every link of a file but the last has no data: each such
/// member becomes a hard link to the member that holds it.
fn link_newc(members: &mut [Member]) {
    let linked = |m: &Member| m.nlink > 1 && m.mode & S_IFMT == S_IFREG;
    let holders: std::collections::HashMap<_, String> = members
        .iter()
        .filter(|m| linked(m) && m.data.len() > 0)
        .map(|m| (m.inode, m.name.clone()))
        .collect();
    for m in members.iter_mut() {
        if linked(m) && m.data.len() == 0 {
            m.hardlink = holders.get(&m.inode).cloned();
        }
    }
}

/// Where the first byte that is not zero lies from `at` on, if any.
fn first_nonzero(blob: &Blob, at: u64) -> std::io::Result<Option<u64>> {
    let Some(rest) = blob.slice(at, blob.len().saturating_sub(at)) else {
        return Ok(None);
    };
    let mut r = rest.reader();
    let mut buf = [0u8; 8192];
    let mut pos = at;
    loop {
        let got = std::io::Read::read(&mut r, &mut buf)?;
        if got == 0 {
            return Ok(None);
        }
        if let Some(i) = buf[..got].iter().position(|&b| b != 0) {
            return Ok(Some(pos + i as u64));
        }
        pos += got as u64;
    }
}

impl Format for Cpio {
    fn kind(&self) -> Kind {
        Kind::Cpio
    }

    fn detect(&self, head: &[u8]) -> bool {
        // The binary magic is two bytes: the first header must parse too,
        // with its name's NUL where its size says.
        let Some(variant) = Variant::of(head) else {
            return false;
        };
        let hlen = variant.header_len();
        let Some(Ok(h)) = head.get(..hlen).map(|h| variant.parse(h)) else {
            return false;
        };
        let Ok(namesize) = usize::try_from(h.namesize) else {
            return false;
        };
        (1..=MAX_NAME as usize).contains(&namesize)
            && head.get(hlen + namesize - 1).is_none_or(|&b| b == 0)
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let archive = read(&content.blob(cx, name)?, name, cx.budget)?;
        let mut entries: Vec<_> = archive
            .members
            .iter()
            .enumerate()
            .map(|(order, m)| {
                Stat {
                    path: m.name.clone(),
                    kind: m.kind(),
                    mode: m.mode,
                    owner: Some((m.uid, m.gid)),
                    mtime: m.mtime,
                    size: m.data.len(),
                }
                .entry(order, Content::of_blob(&m.data))
            })
            .collect();
        if let Some(after) = &archive.after {
            // A member of no archive: named so that no stored name can be
            // it, and compared (and read, if it is an archive) as one.
            cx.budget.add_entry(&format!("{name}::{AFTER_TRAILER}"))?;
            entries.push(plain_entry(
                entries.len(),
                AFTER_TRAILER,
                Content::of_blob(after),
            ));
        }
        // Which layout shows only when the two sides differ in it.
        let layout = vec![(
            MetaField::Header("cpio layout"),
            MetaValue::Text(archive.variant.name().into()),
        )];
        Ok(super::archive(
            Kind::Cpio,
            entries,
            layout,
            archive.conflicts,
        ))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One member to write: name, mode, data, mtime.
    pub(crate) type Spec<'a> = (&'a str, u32, &'a [u8], u32);

    /// A newc archive of `members` (inode numbers from 1, one link each),
    /// with its trailer and no block padding.
    pub(crate) fn newc(members: &[Spec<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        let trailer: Spec<'_> = (TRAILER, 0, b"", 0);
        for (i, (name, mode, data, mtime)) in members.iter().chain([&trailer]).enumerate() {
            out.extend_from_slice(b"070701");
            let nlink = u32::from(*name != TRAILER);
            let fields = [
                i as u32 + 1,
                *mode,
                1000,
                100,
                nlink,
                *mtime,
                data.len() as u32,
                0,
                0,
                0,
                0,
                name.len() as u32 + 1,
                0,
            ];
            for f in fields {
                out.extend_from_slice(format!("{f:08x}").as_bytes());
            }
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.resize(out.len().div_ceil(4) * 4, 0);
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(4) * 4, 0);
        }
        out
    }

    /// An odc archive of `members`.
    fn odc(members: &[Spec<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        let trailer: Spec<'_> = (TRAILER, 0, b"", 0);
        for (name, mode, data, mtime) in members.iter().chain([&trailer]) {
            out.extend_from_slice(
                format!(
                    "070707{:06o}{:06o}{mode:06o}{:06o}{:06o}{:06o}{:06o}{mtime:011o}{:06o}{:011o}",
                    0,
                    1,
                    0,
                    0,
                    1,
                    (8 << 8) | 1,
                    name.len() + 1,
                    data.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.extend_from_slice(data);
        }
        out
    }

    /// An old binary archive of `members`, in the byte order `word` writes.
    fn binary(members: &[Spec<'_>], word: fn(u16) -> [u8; 2]) -> Vec<u8> {
        let mut out = Vec::new();
        let trailer: Spec<'_> = (TRAILER, 0, b"", 0);
        for (name, mode, data, mtime) in members.iter().chain([&trailer]) {
            let size = data.len() as u32;
            let words = [
                0o070707,
                0,
                1,
                *mode as u16,
                1000,
                1000,
                1,
                (1 << 8) | 3,
                (mtime >> 16) as u16,
                *mtime as u16,
                name.len() as u16 + 1,
                (size >> 16) as u16,
                size as u16,
            ];
            for w in words {
                out.extend_from_slice(&word(w));
            }
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.resize(out.len().div_ceil(2) * 2, 0);
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(2) * 2, 0);
        }
        out
    }

    const MEMBERS: &[Spec<'_>] = &[
        ("dir", 0o040_755, b"", 1_435_158_612),
        ("dir/text", 0o100_644, b"hello\n", 1_435_158_617),
        ("dir/link", 0o120_777, b"text", 1_435_158_612),
        ("dir/null", 0o020_644, b"", 1_435_157_254),
    ];

    fn read_all(bytes: Vec<u8>) -> Result<Archive> {
        let budget = Budget::new(crate::Limits::default());
        read(&Blob::mem(bytes), "t.cpio", &budget)
    }

    #[test]
    fn the_three_layouts_read_alike() {
        for (bytes, variant) in [
            (newc(MEMBERS), Variant::Newc),
            (odc(MEMBERS), Variant::Odc),
            (binary(MEMBERS, u16::to_le_bytes), Variant::BinaryLe),
            (binary(MEMBERS, u16::to_be_bytes), Variant::BinaryBe),
        ] {
            assert!(Cpio.detect(&bytes), "{variant:?}");
            let a = read_all(bytes).unwrap();
            assert_eq!(a.variant, variant);
            assert_eq!(a.conflicts, Vec::<String>::new(), "{variant:?}");
            let got: Vec<_> = a
                .members
                .iter()
                .map(|m| (m.name.as_str(), m.kind()))
                .collect();
            assert_eq!(got[0], ("dir", EntryKind::Dir));
            assert_eq!(got[1], ("dir/text", EntryKind::File));
            assert_eq!(
                got[2],
                (
                    "dir/link",
                    EntryKind::Symlink {
                        target: "text".into()
                    }
                )
            );
            assert!(matches!(got[3].1, EntryKind::Device { block: false, .. }));
            let text = &a.members[1];
            assert_eq!(text.data.read_vec(0, text.data.len()).unwrap(), b"hello\n");
            assert_eq!(text.mtime, 1_435_158_617);
            assert_eq!(text.mode & 0o7777, 0o644);
        }
    }

    #[test]
    fn device_numbers_are_split() {
        let a = read_all(binary(MEMBERS, u16::to_le_bytes)).unwrap();
        assert_eq!(a.members[3].rdev, (1, 3));
        let a = read_all(odc(MEMBERS)).unwrap();
        assert_eq!(a.members[3].rdev, (8, 1));
    }

    #[test]
    fn newc_hard_links_point_at_the_member_with_the_data() {
        let mut bytes = newc(&[("a", 0o100_644, b"", 0), ("b", 0o100_644, b"data", 0)]);
        // Same inode (field 0) and two links (field 4) for both.
        let headers: Vec<usize> = (0..bytes.len() - 6)
            .filter(|&i| &bytes[i..i + 6] == b"070701")
            .take(2)
            .collect();
        for at in headers {
            bytes[at + 6..at + 14].copy_from_slice(b"00000009");
            bytes[at + 6 + 8 * 4..at + 6 + 8 * 5].copy_from_slice(b"00000002");
        }
        let a = read_all(bytes).unwrap();
        assert_eq!(
            a.members[0].kind(),
            EntryKind::Hardlink { target: "b".into() }
        );
        assert_eq!(a.members[1].kind(), EntryKind::File);
    }

    #[test]
    fn damage_is_an_error_naming_the_offset() {
        let good = newc(MEMBERS);
        // Cut inside the second member's data.
        let cut = good[..200].to_vec();
        let err = read_all(cut).unwrap_err().to_string();
        assert!(err.contains("t.cpio: malformed cpio"), "{err}");
        // A size larger than the file.
        let mut big = good.clone();
        big[6 + 8 * 6..6 + 8 * 7].copy_from_slice(b"7fffffff");
        let err = read_all(big).unwrap_err().to_string();
        assert!(err.contains("claims 2147483647 bytes"), "{err}");
        // A name size beyond the limit.
        let mut long = good.clone();
        long[6 + 8 * 11..6 + 8 * 12].copy_from_slice(b"00100000");
        let err = read_all(long).unwrap_err().to_string();
        assert!(err.contains("name size 1048576"), "{err}");
        // Not a number.
        let mut nan = good;
        nan[6..8].copy_from_slice(b"zz");
        let err = read_all(nan).unwrap_err().to_string();
        assert!(
            err.contains("bad ino field in the header at offset 0"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_trailer_is_reported_and_what_follows_one_kept() {
        let mut bytes = odc(&MEMBERS[..2]);
        let with_trailer = bytes.clone();
        bytes.truncate(bytes.len() - (76 + TRAILER.len() + 1));
        let a = read_all(bytes).unwrap();
        assert_eq!(a.members.len(), 2);
        assert_eq!(
            a.conflicts,
            ["no TRAILER!!! record: the archive ends after 2 members"]
        );
        let mut padded = with_trailer;
        padded.extend_from_slice(&[0; 300]);
        assert!(read_all(padded.clone()).unwrap().after.is_none());
        let mut appended = padded.clone();
        appended.extend_from_slice(&newc(MEMBERS));
        let a = read_all(appended).unwrap();
        assert_eq!(a.members.len(), 2);
        assert!(a.conflicts.is_empty());
        let after = a.after.unwrap();
        assert_eq!(after.read_vec(0, after.len()).unwrap(), newc(MEMBERS));
    }

    #[test]
    fn entries_count_against_the_limit() {
        let limits = crate::Limits {
            max_entries: 3,
            ..crate::Limits::default()
        };
        let err = read(&Blob::mem(newc(MEMBERS)), "t.cpio", &Budget::new(limits))
            .unwrap_err()
            .to_string();
        assert!(err.contains("entry count limit exceeded (4 > 3)"), "{err}");
        assert!(err.contains("--max-entries"), "{err}");
    }

    #[test]
    fn detection_wants_a_header_that_parses() {
        assert!(!Cpio.detect(b"\xc7\x71"));
        assert!(!Cpio.detect(&[
            0xc7, 0x71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        ]));
        assert!(!Cpio.detect(b"070701zzzzzzzz"));
    }
}
