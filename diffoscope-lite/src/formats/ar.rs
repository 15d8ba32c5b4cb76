//! Unix ar archives (GNU and BSD long names), which includes Debian `.deb`
//! packages: `debian-binary`, `control.tar.*` and `data.tar.*` are members
//! whose contents are recursed into by content detection like any other.
//!
//! [`read`] is the one parser of ar: it walks the 60-byte member headers of
//! a [`Blob`] and yields every member with its raw header, its resolved
//! name, its byte range, and what it found odd (bytes after the last member,
//! a missing pad byte). The differ lists the members from it ([`Ar`]); the
//! normalizer (`normalize/ar.rs`) patches the raw headers it yields and
//! writes the same ranges back. Neither parses a header on its own.

use std::ops::Range;

use super::{duplicate_comments, lossy, Format, Kind, Parsed};
use crate::blob::Blob;
use crate::limits::Budget;
use crate::model::{Container, Content, Cx, Entry, EntryKind, Metadata};
use crate::{Error, Result};

/// Ar archives.
pub struct Ar;

/// The global header every ar starts with.
pub(crate) const MAGIC: &[u8] = b"!<arch>\n";
/// Largest GNU long-name table read into memory; a larger one is an error.
const MAX_NAME_TABLE: u64 = 16 << 20;
/// Longest BSD (`#1/N`) name read from a member.
const MAX_BSD_NAME: u64 = 4096;

/// The header fields, as byte ranges of the 60-byte member header.
pub(crate) const NAME: Range<usize> = 0..16;
pub(crate) const MTIME: Range<usize> = 16..28;
pub(crate) const UID: Range<usize> = 28..34;
pub(crate) const GID: Range<usize> = 34..40;
pub(crate) const MODE: Range<usize> = 40..48;
pub(crate) const SIZE: Range<usize> = 48..58;

/// A header field as text, without its space (or NUL) padding; empty when
/// it is not ASCII.
pub(crate) fn field(h: &[u8; 60], range: Range<usize>) -> &str {
    h.get(range)
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("")
        .trim_end_matches([' ', '\0'])
}

/// What a member is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MemberKind {
    /// A file.
    Regular,
    /// A symbol table (`/`, `/SYM64/`, `__.SYMDEF`): the linker's index.
    SymbolTable,
    /// The GNU long-name table (`//`), which other members' names point into.
    NameTable,
}

/// One member, as stored.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    /// The raw 60-byte header.
    pub(crate) header: [u8; 60],
    /// The name field of the header, without padding (`/12`, `#1/20`, `//`).
    pub(crate) raw_name: String,
    /// The resolved name: long and BSD names looked up, GNU's trailing `/`
    /// dropped; symbol tables as `(symbol table /)`.
    pub(crate) name: String,
    /// What the member is.
    pub(crate) kind: MemberKind,
    /// A BSD name, stored in front of the data and counted in its size.
    pub(crate) bsd_name: Vec<u8>,
    /// The member's data (after any BSD name).
    pub(crate) data: Blob,
    /// Where its header starts in the archive (what symbol tables point at).
    pub(crate) offset: u64,
}

impl Member {
    /// Modification time; `None` when the field is not a number.
    pub(crate) fn mtime(&self) -> Option<i64> {
        field(&self.header, MTIME).parse().ok()
    }

    /// Owner uid.
    pub(crate) fn uid(&self) -> Option<u64> {
        field(&self.header, UID).parse().ok()
    }

    /// Owner gid.
    pub(crate) fn gid(&self) -> Option<u64> {
        field(&self.header, GID).parse().ok()
    }

    /// The whole octal mode field, file-type bits included (dpkg writes
    /// `100644`).
    pub(crate) fn raw_mode(&self) -> Option<u32> {
        u32::from_str_radix(field(&self.header, MODE), 8).ok()
    }
}

/// An ar archive as [`read`] found it.
#[derive(Clone, Debug)]
pub(crate) struct Archive {
    /// Every member in archive order, the special ones included.
    pub(crate) members: Vec<Member>,
    /// Bytes after the last member too short to be a header; kept as they
    /// are by the normalizer.
    pub(crate) trailer: Blob,
    /// What was odd but readable, in the words the differ reports.
    pub(crate) conflicts: Vec<String>,
}

/// Reads the ar archive in `blob`, named `name` in errors; every member but
/// the long-name table counts against the entry limit in `budget`.
pub(crate) fn read(blob: &Blob, name: &str, budget: &Budget) -> Result<Archive> {
    let bad = |detail: String| {
        budget.tripped().unwrap_or_else(|| Error::Malformed {
            entry: name.to_owned(),
            format: Kind::Ar,
            detail,
        })
    };
    let io = |e| budget.io_error(e, name, "reading ar");
    let len = blob.len();
    if blob.head(MAGIC.len()).map_err(io)? != MAGIC {
        return Err(bad("no ar magic".into()));
    }
    let mut pos = MAGIC.len() as u64;
    let mut members = Vec::new();
    let mut conflicts = Vec::new();
    let mut long_names: Vec<u8> = Vec::new();
    // `pos <= len` holds throughout: every step below is checked against
    // the bytes present, so `len - pos` never underflows.
    while len - pos >= 60 {
        let mut header = [0u8; 60];
        blob.read_exact_at(&mut header, pos).map_err(io)?;
        if &header[58..60] != b"`\n" {
            return Err(bad(format!("bad member header at offset {pos}")));
        }
        let size: u64 = field(&header, SIZE)
            .parse()
            .map_err(|_| bad(format!("bad member size at offset {pos}")))?;
        let data_at = pos + 60;
        if size > len - data_at {
            return Err(bad(format!(
                "member at offset {pos} claims {size} bytes, only {} left",
                len - data_at
            )));
        }
        let data = blob
            .slice(data_at, size)
            .ok_or_else(|| bad(format!("member at offset {pos} out of bounds")))?;
        let raw_name = field(&header, NAME).to_owned();
        let mut bsd_name = Vec::new();
        let mut body = data.clone();
        let (kind, member_name) = match raw_name.as_str() {
            "//" => {
                if size > MAX_NAME_TABLE {
                    return Err(bad(format!(
                        "long-name table of {size} bytes (at most {MAX_NAME_TABLE} are read)"
                    )));
                }
                long_names = data.read_vec(0, size).map_err(io)?;
                (MemberKind::NameTable, raw_name.clone())
            }
            "/" | "/SYM64/" => (
                MemberKind::SymbolTable,
                format!("(symbol table {raw_name})"),
            ),
            "__.SYMDEF" => (MemberKind::SymbolTable, raw_name.clone()),
            _ => {
                if let Some(off) = raw_name.strip_prefix('/') {
                    let off: usize = off
                        .parse()
                        .map_err(|_| bad(format!("bad long-name reference {raw_name:?}")))?;
                    let rest = long_names.get(off..).ok_or_else(|| {
                        bad(format!("long-name reference {off} beyond the table"))
                    })?;
                    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                    let resolved = lossy(&rest[..end]).trim_end_matches('/').to_owned();
                    (MemberKind::Regular, resolved)
                } else if let Some(n) = raw_name.strip_prefix("#1/") {
                    let n: u64 = n
                        .parse()
                        .map_err(|_| bad(format!("bad BSD name length {raw_name:?}")))?;
                    if n > size || n > MAX_BSD_NAME {
                        return Err(bad(format!("BSD name length {n} too large")));
                    }
                    bsd_name = data.read_vec(0, n).map_err(io)?;
                    body = data
                        .slice(n, size - n)
                        .ok_or_else(|| bad(format!("BSD name length {n} too large")))?;
                    let resolved = lossy(bsd_name.split(|&b| b == 0).next().unwrap_or(&[]));
                    (MemberKind::Regular, resolved)
                } else {
                    (
                        MemberKind::Regular,
                        raw_name.trim_end_matches('/').to_owned(),
                    )
                }
            }
        };
        if kind != MemberKind::NameTable {
            budget.add_entry(&format!("{name}::{member_name}"))?;
        }
        // Members start at even offsets: an odd-sized member is followed by
        // a pad byte, which some writers leave off the last member.
        let end = data_at + size;
        pos = end + (size & 1);
        if pos > len {
            conflicts.push(format!(
                "member {member_name} at offset {} lacks its pad byte",
                data_at - 60
            ));
            pos = len;
        }
        members.push(Member {
            header,
            raw_name,
            name: member_name,
            kind,
            bsd_name,
            data: body,
            offset: data_at - 60,
        });
    }
    if pos < len {
        conflicts.push(format!(
            "{} trailing bytes after the last member",
            len - pos
        ));
    }
    let trailer = blob
        .slice(pos, len - pos)
        .ok_or_else(|| bad("trailer out of bounds".into()))?;
    Ok(Archive {
        members,
        trailer,
        conflicts,
    })
}

/// The [`EntryKind::Other`] name of a symbol table entry: the differ shows
/// its content as a view of the archive (`nm --print-armap {}`, as
/// diffoscope does), not as a member, and lists its header in the
/// `file list` like any member's.
pub(crate) const SYMBOL_TABLE: &str = "ar symbol table";

/// Largest symbol table decoded; a larger one is compared as bytes.
const MAX_SYMBOL_TABLE: u64 = 64 << 20;

/// A symbol table as `symbol → member` lines, in table order, as
/// `nm --print-armap` shows it: GNU `/` (32-bit big-endian offsets),
/// `/SYM64/` (64-bit) and BSD `__.SYMDEF` (little-endian ranlib pairs).
/// Offsets are not shown (they move whenever an earlier member grows,
/// which the members themselves show); `None` if the table does not parse
/// or points at no member header, so that it is compared as bytes.
fn armap(table: &[u8], raw_name: &str, members: &[Member]) -> Option<String> {
    let member_at = |offset: u64| {
        members
            .iter()
            .find(|m| m.offset == offset && m.kind == MemberKind::Regular)
            .map(|m| m.name.as_str())
    };
    let mut out = String::new();
    let mut line = |symbol: &[u8], offset: u64| -> Option<()> {
        out.push_str(&format!("{} → {}\n", lossy(symbol), member_at(offset)?));
        Some(())
    };
    if raw_name.starts_with("__.SYMDEF") {
        let le32 = |at: usize| -> Option<u64> {
            let b = table.get(at..at.checked_add(4)?)?;
            Some(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        };
        let ranlib = usize::try_from(le32(0)?).ok()?;
        let strings_at = ranlib.checked_add(8)?;
        let strings_len = usize::try_from(le32(ranlib.checked_add(4)?)?).ok()?;
        let strings = table.get(strings_at..strings_at.checked_add(strings_len)?)?;
        for pair in (4..4 + ranlib).step_by(8) {
            let name = strings.get(usize::try_from(le32(pair)?).ok()?..)?;
            let name = name.split(|&b| b == 0).next()?;
            line(name, le32(pair + 4)?)?;
        }
        return Some(out);
    }
    let width = if raw_name == "/SYM64/" { 8 } else { 4 };
    let be = |at: usize| -> Option<u64> {
        let b = table.get(at..at.checked_add(width)?)?;
        Some(b.iter().fold(0u64, |n, &x| (n << 8) | u64::from(x)))
    };
    let count = usize::try_from(be(0)?).ok()?;
    let names_at = count.checked_add(1)?.checked_mul(width)?;
    let mut names = table.get(names_at..)?.split(|&b| b == 0);
    for i in 0..count {
        line(names.next()?, be((i + 1) * width)?)?;
    }
    Some(out)
}

/// A symbol table member's content: its `symbol → member` view when it
/// decodes, else its bytes.
fn symbol_table(m: &Member, members: &[Member], cx: &Cx<'_>, name: &str) -> Result<Content> {
    if m.data.len() > MAX_SYMBOL_TABLE {
        return Ok(Content::of_blob(&m.data));
    }
    let table = m
        .data
        .read_vec(0, m.data.len())
        .map_err(|e| cx.io(e, name, "reading ar symbol table"))?;
    Ok(match armap(&table, &m.raw_name, members) {
        Some(view) => Content::memory(view.into_bytes()),
        None => Content::of_blob(&m.data),
    })
}

impl Format for Ar {
    fn kind(&self) -> Kind {
        Kind::Ar
    }

    fn detect(&self, head: &[u8]) -> bool {
        head.starts_with(MAGIC)
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let archive = read(&content.blob(cx, name)?, name, cx.budget)?;
        let entries: Vec<Entry> = archive
            .members
            .iter()
            .filter(|m| m.kind != MemberKind::NameTable)
            .enumerate()
            .map(|(order, m)| {
                let (kind, content) = match m.kind {
                    MemberKind::SymbolTable => (
                        EntryKind::Other(SYMBOL_TABLE.into()),
                        symbol_table(m, &archive.members, cx, name)?,
                    ),
                    _ => (EntryKind::File, Content::of_blob(&m.data)),
                };
                Ok(Entry {
                    path: m.name.clone(),
                    kind,
                    meta: Metadata {
                        mtime: m.mtime(),
                        uid: m.uid(),
                        gid: m.gid(),
                        mode: m.raw_mode().map(|mode| mode & 0o7777),
                        size: Some(m.data.len()),
                        order,
                        ..Metadata::default()
                    },
                    content,
                    digest: None,
                })
            })
            .collect::<Result<_>>()?;
        let mut comments = archive.conflicts;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsd_and_sym64_symbol_tables_decode() {
        let x = Member {
            header: [b' '; 60],
            raw_name: "#1/3".into(),
            name: "x.o".into(),
            kind: MemberKind::Regular,
            bsd_name: b"x.o".to_vec(),
            data: Blob::mem(Vec::new()),
            offset: 100,
        };
        // One ranlib pair (string 0 at offset 100), then "foo".
        let mut bsd = 8u32.to_le_bytes().to_vec();
        bsd.extend_from_slice(&0u32.to_le_bytes());
        bsd.extend_from_slice(&100u32.to_le_bytes());
        bsd.extend_from_slice(&4u32.to_le_bytes());
        bsd.extend_from_slice(b"foo\0");
        let members = [x];
        assert_eq!(
            armap(&bsd, "__.SYMDEF", &members).as_deref(),
            Some("foo → x.o\n")
        );
        let mut sym64 = 1u64.to_be_bytes().to_vec();
        sym64.extend_from_slice(&100u64.to_be_bytes());
        sym64.extend_from_slice(b"bar\0");
        assert_eq!(
            armap(&sym64, "/SYM64/", &members).as_deref(),
            Some("bar → x.o\n")
        );
        // Cut short, or a count larger than the table: bytes, no panic.
        assert_eq!(armap(&sym64[..10], "/SYM64/", &members), None);
        assert_eq!(armap(&[0xff; 8], "/", &members), None);
        assert_eq!(armap(&[0xff; 8], "__.SYMDEF", &members), None);
    }
}
