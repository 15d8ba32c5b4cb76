//! Directories on disk, walked recursively without following symlinks.
//!
//! The walk goes through directory handles ([`crate::beneath`]): each
//! subdirectory is opened relative to its parent with `O_NOFOLLOW`, and
//! each file's content is opened later the same way, beneath the root, so
//! no link is ever followed — not one listed as a link, and not one that
//! replaced a file or a directory after the listing. A link is an entry of
//! its own, compared by its target.
//!
//! Entries are listed sorted by path (`read_dir` order means nothing), and
//! only the mode and the link targets are compared as metadata: the owner
//! and mtimes of files on disk belong to the checkout and the build run, not
//! to the artifact.

use std::path::PathBuf;
use std::sync::Arc;

use rustix::fs::FileType;

use super::{Format, Kind, Parsed};
use crate::beneath::{Dir, Root};
use crate::model::{Container, Content, Cx, Entry, EntryKind, Metadata, Source};
use crate::{Error, Result};

/// Directories.
pub struct Directory;

impl Format for Directory {
    fn kind(&self) -> Kind {
        Kind::Directory
    }

    /// Directories are recognised from the filesystem, never from bytes.
    fn detect(&self, _head: &[u8]) -> bool {
        false
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let Source::Path(root) = &content.0 else {
            return Err(Error::Malformed {
                entry: name.to_owned(),
                format: Kind::Directory,
                detail: "not a directory on disk".into(),
            });
        };
        let read_err = |source| Error::Read {
            path: root.clone(),
            source,
        };
        let base = Arc::new(Root::open(root).map_err(read_err)?);
        let top = base.top().map_err(read_err)?;
        let mut entries = Vec::new();
        walk(&base, &top, &PathBuf::new(), name, cx, &mut entries)?;
        entries.sort_by(|a: &Entry, b: &Entry| a.path.cmp(&b.path));
        for (i, e) in entries.iter_mut().enumerate() {
            e.meta.order = i;
        }
        Ok(Parsed::Container(Container {
            format: Kind::Directory,
            entries,
            meta: Vec::new(),
            comments: Vec::new(),
            single_stream: false,
            ordered: false,
        }))
    }
}

fn walk(
    root: &Arc<Root>,
    dir: &Dir,
    rel: &PathBuf,
    name: &str,
    cx: &Cx<'_>,
    out: &mut Vec<Entry>,
) -> Result<()> {
    let read_err = |rel: &PathBuf| {
        let path = root.path().join(rel);
        move |source: std::io::Error| Error::Read { path, source }
    };
    for item in dir.items().map_err(read_err(rel))? {
        let full = rel.join(&item.name);
        let path = full.to_string_lossy().into_owned();
        cx.budget.add_entry(&format!("{name}::{path}"))?;
        let kind = match item.kind {
            FileType::Directory => EntryKind::Dir,
            FileType::Symlink => EntryKind::Symlink {
                target: dir.link_target(&item.name).map_err(read_err(&full))?,
            },
            FileType::RegularFile => EntryKind::File,
            FileType::Fifo => EntryKind::Fifo,
            FileType::CharacterDevice | FileType::BlockDevice => {
                let rdev = item.rdev;
                EntryKind::Device {
                    block: item.kind == FileType::BlockDevice,
                    major: ((rdev >> 8) & 0xfff) as u32,
                    minor: ((rdev & 0xff) | ((rdev >> 12) & 0xfff00)) as u32,
                }
            }
            _ => EntryKind::Other("socket".into()),
        };
        let content = if kind == EntryKind::File {
            Content::beneath(Arc::clone(root), full.clone())
        } else {
            Content::empty()
        };
        out.push(Entry {
            path,
            kind: kind.clone(),
            meta: Metadata {
                mode: Some(item.mode),
                size: Some(item.size),
                ..Metadata::default()
            },
            content,
            digest: None,
        });
        if kind == EntryKind::Dir {
            let sub = dir.subdir(&item.name).map_err(read_err(&full))?;
            walk(root, &sub, &full, name, cx, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The content of `path` in a listing, read now.
    fn read_entry(c: &Container, path: &str) -> Result<Vec<u8>> {
        let sides = crate::model::Sides::new();
        let cx = sides.cx(0);
        let e = c.entries.iter().find(|e| e.path == path).unwrap();
        e.content.with_reader(&cx, path, |r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v)
                .map_err(|e| cx.io(e, path, "reading"))?;
            Ok(v)
        })
    }

    #[test]
    fn files_swapped_for_links_after_listing_are_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, host) = (tmp.path().join("root"), tmp.path().join("host"));
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("f"), "HOST SECRET").unwrap();
        std::fs::write(root.join("f"), "mine").unwrap();
        std::fs::write(root.join("d/f"), "mine too").unwrap();
        std::os::unix::fs::symlink(host.join("f"), root.join("link")).unwrap();
        let sides = crate::model::Sides::new();
        let Parsed::Container(c) = Directory
            .read(&Content::path(root.clone()), "root", &sides.cx(0))
            .unwrap()
        else {
            panic!("not a container")
        };
        let link = c.entries.iter().find(|e| e.path == "link").unwrap();
        assert!(matches!(link.kind, EntryKind::Symlink { .. }));
        assert_eq!(read_entry(&c, "f").unwrap(), b"mine");
        // Swapped after the listing: a file, and a directory on the way.
        std::fs::remove_file(root.join("f")).unwrap();
        std::os::unix::fs::symlink(host.join("f"), root.join("f")).unwrap();
        std::fs::rename(root.join("d"), tmp.path().join("d.away")).unwrap();
        std::os::unix::fs::symlink(&host, root.join("d")).unwrap();
        for path in ["f", "d/f"] {
            let err = read_entry(&c, path).unwrap_err();
            let msg = chain(&err);
            assert!(msg.contains("symbolic link"), "{path}: {msg}");
        }
    }

    fn chain(e: &dyn std::error::Error) -> String {
        let mut s = e.to_string();
        let mut src = e.source();
        while let Some(inner) = src {
            s.push_str(&format!(": {inner}"));
            src = inner.source();
        }
        s
    }
}
