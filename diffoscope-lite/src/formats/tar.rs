//! Tar (v7, ustar, GNU, PAX), read as one stream, once per side.
//!
//! Each regular member is copied while the stream passes into one anonymous
//! spool file per archive, so members can later be compared (and recursed
//! into) in any order without reading the stream again and without holding
//! large members in memory.
//!
//! Two tars being compared are read at the same time, one thread per side,
//! meeting at a [`Rendezvous`]: the side that reaches a member first spools
//! it; the other side compares its own copy against that spool while it
//! streams and, when every byte is equal, spools nothing and shares the
//! first copy. Equal members (most of them, in a rebuild) are thus written
//! once and read back once, instead of written twice and read twice.
//!
//! The tar crate reads PAX and GNU long-name records whole into memory
//! while it looks for the next member; [`HeaderGuard`] caps what it may
//! read there, so a forged multi-gigabyte record is an error, not an
//! allocation.

use super::{duplicate_comments, lossy, Format, Kind, Parsed};
use crate::meet::Rendezvous;
use crate::model::{Container, Content, Cx, Entry, EntryKind, FormatMetadata, Metadata, Spool};
use crate::Result;

/// Tar archives.
pub struct Tar;

/// Most bytes the tar crate may read on its own between two members
/// (headers, PAX and GNU long-name records); real archives need a few KiB.
const MAX_HEADER_BYTES: u64 = 16 << 20;

/// Counts what the tar crate reads while it is looking for the next member
/// (member data is read by us, outside that window) and fails past
/// [`MAX_HEADER_BYTES`].
struct HeaderGuard<'a> {
    inner: &'a mut dyn std::io::Read,
    window: std::rc::Rc<std::cell::Cell<Option<u64>>>,
}

impl std::io::Read for HeaderGuard<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(seen) = self.window.get() {
            let seen = seen + n as u64;
            if seen > MAX_HEADER_BYTES {
                return Err(std::io::Error::other(format!(
                    "more than {MAX_HEADER_BYTES} bytes of tar headers before one member \
                     (a PAX or GNU long-name record this large is not a real archive)"
                )));
            }
            self.window.set(Some(seen));
        }
        Ok(n)
    }
}

/// Whether a 512-byte header block has a valid checksum (how v7 tars,
/// which have no magic, are recognised).
fn checksum_ok(block: &[u8]) -> bool {
    let Some(field) = block.get(148..156) else {
        return false;
    };
    let digits: String = field
        .iter()
        .map(|&b| char::from(b))
        .filter(|c| ('0'..='7').contains(c))
        .collect();
    let Ok(stored) = u32::from_str_radix(&digits, 8) else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .take(512)
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    sum == stored
}

impl Format for Tar {
    fn kind(&self) -> Kind {
        Kind::Tar
    }

    fn detect(&self, head: &[u8]) -> bool {
        if head.len() < 512 {
            return false;
        }
        head.get(257..262) == Some(b"ustar") || (head[0] != 0 && checksum_ok(head))
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        read_side(content, name, cx, None)
    }

    fn read_pair(
        &self,
        (ca, na, cxa): (&Content, &str, &Cx<'_>),
        (cb, nb, cxb): (&Content, &str, &Cx<'_>),
    ) -> (Result<Parsed>, Result<Parsed>) {
        let meet = Rendezvous::default();
        // The second side gets a thread of its own, not one of rayon's:
        // a side may wait for the other (see crate::meet), which must then
        // be running, not queued behind it on a busy pool. The first side
        // runs here, blocking this thread until the pair is read.
        std::thread::scope(|s| {
            let spawned = std::thread::Builder::new()
                .name("tar-side-b".into())
                .spawn_scoped(s, || read_side(cb, nb, cxb, Some((&meet, 1))));
            match spawned {
                Ok(b) => {
                    let a = read_side(ca, na, cxa, Some((&meet, 0)));
                    let b = b
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    (a, b)
                }
                // No thread to be had: one side after the other. The first
                // then only spools (it never waits) and the second finds
                // every copy finished.
                Err(_) => (
                    read_side(ca, na, cxa, Some((&meet, 0))),
                    read_side(cb, nb, cxb, Some((&meet, 1))),
                ),
            }
        })
    }
}

/// Owner names met so far in one archive: most archives have one or two,
/// and every entry shares them instead of holding its own copies.
#[derive(Default)]
struct Names(Vec<std::sync::Arc<str>>);

impl Names {
    fn get(&mut self, raw: &[u8]) -> std::sync::Arc<str> {
        let name = String::from_utf8_lossy(raw);
        // A forged archive could give every entry its own name; past a
        // few hundred, stop looking them up and let each entry own its.
        if let Some(known) = self.0.iter().find(|n| ***n == *name) {
            return std::sync::Arc::clone(known);
        }
        let new: std::sync::Arc<str> = name.into();
        if self.0.len() < 256 {
            self.0.push(std::sync::Arc::clone(&new));
        }
        new
    }
}

/// Reads one side; with a rendezvous, meets the other side there.
fn read_side(
    content: &Content,
    name: &str,
    cx: &Cx<'_>,
    meet: Option<(&Rendezvous, usize)>,
) -> Result<Parsed> {
    let (entries, mut comments) = content.with_reader(cx, name, |r| {
        let window = std::rc::Rc::new(std::cell::Cell::new(None));
        let guard = HeaderGuard {
            inner: r,
            window: window.clone(),
        };
        let mut archive = ::tar::Archive::new(guard);
        let mut entries = Vec::new();
        let mut comments = Vec::new();
        let mut spool = Spool::default();
        let mut seen: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
        let mut names = Names::default();
        let mut iter = archive
            .entries()
            .map_err(|e| cx.malformed(e, name, Kind::Tar))?;
        for order in 0.. {
            window.set(Some(0));
            let item = iter.next();
            window.set(None);
            let Some(item) = item else { break };
            let mut member = item.map_err(|e| cx.malformed(e, name, Kind::Tar))?;
            let path = lossy(&member.path_bytes());
            let nested = format!("{name}::{path}");
            cx.budget.add_entry(&nested)?;
            let header = member.header().clone();
            let kind = entry_kind(&header, member.link_name_bytes().as_deref());
            let mut pax = Vec::new();
            if let Some(exts) = member
                .pax_extensions()
                .map_err(|e| cx.malformed(e, &nested, Kind::Tar))?
            {
                for ext in exts {
                    let ext = ext.map_err(|e| cx.malformed(e, &nested, Kind::Tar))?;
                    let key = lossy(ext.key_bytes());
                    if key != "path" && key != "linkpath" {
                        pax.push((key, lossy(ext.value_bytes())));
                    }
                }
            }
            if let Some((_, v)) = pax.iter().find(|(k, _)| k == "size") {
                let ustar = header.entry_size().unwrap_or(0);
                if ustar != 0 && v.parse::<u64>().ok() != Some(ustar) {
                    comments.push(format!(
                        "{path}: PAX size {v} conflicts with ustar header size {ustar}"
                    ));
                }
            }
            let meta = Metadata {
                mode: header.mode().ok().map(|m| m & 0o7777),
                uid: header.uid().ok(),
                gid: header.gid().ok(),
                user: header.username_bytes().map(|n| names.get(n)),
                group: header.groupname_bytes().map(|n| names.get(n)),
                mtime: header.mtime().ok().and_then(|t| i64::try_from(t).ok()),
                size: Some(member.size()),
                order,
                format: FormatMetadata {
                    pax,
                    ..FormatMetadata::default()
                }
                .boxed(),
            };
            let (content, digest) = if matches!(kind, EntryKind::File | EntryKind::Other(_)) {
                let content = match meet {
                    None => spool.append(&mut member, cx, &nested)?,
                    Some((meet, side)) => {
                        let n = seen.entry(path.clone()).or_insert(0);
                        let occurrence = *n;
                        *n += 1;
                        let size = member.size();
                        meet.member(
                            side,
                            &path,
                            occurrence,
                            size,
                            &mut member,
                            &mut spool,
                            cx,
                            &nested,
                        )?
                    }
                };
                (content, None)
            } else {
                (Content::empty(), None)
            };
            entries.push(Entry {
                path,
                kind,
                meta,
                content,
                digest,
            });
        }
        Ok((entries, comments))
    })?;
    comments.extend(duplicate_comments(&entries));
    let mut entries = entries;
    super::docker::relabel(&mut entries, cx, name)?;
    Ok(Parsed::Container(Container {
        format: Kind::Tar,
        entries,
        meta: Vec::new(),
        comments,
        single_stream: false,
        ordered: true,
    }))
}

fn entry_kind(header: &::tar::Header, link: Option<&[u8]>) -> EntryKind {
    use ::tar::EntryType as T;
    let target = || link.map(lossy).unwrap_or_default();
    let device = |block| EntryKind::Device {
        block,
        major: header.device_major().ok().flatten().unwrap_or(0),
        minor: header.device_minor().ok().flatten().unwrap_or(0),
    };
    match header.entry_type() {
        T::Regular | T::Continuous | T::GNUSparse => EntryKind::File,
        T::Directory => EntryKind::Dir,
        T::Symlink => EntryKind::Symlink { target: target() },
        T::Link => EntryKind::Hardlink { target: target() },
        T::Char => device(false),
        T::Block => device(true),
        T::Fifo => EntryKind::Fifo,
        T::XGlobalHeader => EntryKind::Other("pax global header".into()),
        other => EntryKind::Other(format!("tar type {:?}", other.as_byte() as char)),
    }
}
