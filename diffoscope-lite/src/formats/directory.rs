//! Directories on disk, walked recursively without following symlinks.
//!
//! Entries are listed sorted by path (`read_dir` order means nothing), and
//! only the mode and the link targets are compared as metadata: the owner
//! and mtimes of files on disk belong to the checkout and the build run, not
//! to the artifact.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::{Format, Kind, Parsed};
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
        let mut entries = Vec::new();
        walk(root, "", name, cx, &mut entries)?;
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

fn walk(dir: &Path, prefix: &str, name: &str, cx: &Cx<'_>, out: &mut Vec<Entry>) -> Result<()> {
    let read_err = |path: &Path| {
        let path: PathBuf = path.to_owned();
        move |source| Error::Read { path, source }
    };
    for item in fs::read_dir(dir).map_err(read_err(dir))? {
        let item = item.map_err(read_err(dir))?;
        let full = item.path();
        let rel = format!("{prefix}{}", item.file_name().to_string_lossy());
        cx.budget.add_entry(&format!("{name}::{rel}"))?;
        let meta = fs::symlink_metadata(&full).map_err(read_err(&full))?;
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_symlink() {
            let target = fs::read_link(&full).map_err(read_err(&full))?;
            EntryKind::Symlink {
                target: target.to_string_lossy().into_owned(),
            }
        } else if ft.is_file() {
            EntryKind::File
        } else if ft.is_fifo() {
            EntryKind::Fifo
        } else if ft.is_char_device() || ft.is_block_device() {
            let rdev = meta.rdev();
            EntryKind::Device {
                block: ft.is_block_device(),
                major: ((rdev >> 8) & 0xfff) as u32,
                minor: ((rdev & 0xff) | ((rdev >> 12) & 0xfff00)) as u32,
            }
        } else {
            EntryKind::Other("socket".into())
        };
        let content = if kind == EntryKind::File {
            Content::path(full.clone())
        } else {
            Content::empty()
        };
        out.push(Entry {
            path: rel.clone(),
            kind: kind.clone(),
            meta: Metadata {
                mode: Some(meta.mode() & 0o7777),
                size: Some(meta.len()),
                ..Metadata::default()
            },
            content,
            digest: None,
        });
        if kind == EntryKind::Dir {
            walk(&full, &format!("{rel}/"), name, cx, out)?;
        }
    }
    Ok(())
}
