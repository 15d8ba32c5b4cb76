//! Files inside a directory artifact, opened beneath its root.
//!
//! A directory artifact is untrusted: any file or directory in it may be a
//! symbolic link to a host file (`blobs -> /etc`, `blobs/sha256/<hex> ->
//! /home/me/.ssh/id_ed25519`). Here a relative path is opened one component
//! at a time, each relative to the directory opened before it and with
//! `O_NOFOLLOW`, so no link is ever followed, whether it is the last
//! component or one in the middle; a link is reported as a link (with its
//! target, read and never resolved). Only the root itself, which the user
//! named, is opened the ordinary way.
//!
//! This module never creates, changes or removes a file.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{openat, readlinkat, Mode, OFlags, CWD};

/// A directory opened once; files beneath it are opened through its handle.
pub(crate) struct Root {
    dir: OwnedFd,
    path: PathBuf,
}

/// What a path beneath a [`Root`] turned out to be.
pub(crate) enum Found {
    /// A regular file, open for reading.
    File(File),
    /// A symbolic link, not followed: where it is (relative to the root)
    /// and what it points at.
    Link {
        /// The link's own path beneath the root.
        at: String,
        /// Its target, as stored.
        target: String,
    },
    /// Something else: "a directory", "a FIFO", …
    Other(&'static str),
}

impl Root {
    /// Opens the directory `path`.
    pub(crate) fn open(path: &Path) -> io::Result<Root> {
        let dir = openat(
            CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root {
            dir,
            path: path.to_owned(),
        })
    }

    /// The path the root was opened as.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `rel` (components separated by `/`; no empty, `.` or `..`
    /// component) beneath the root without following any link.
    pub(crate) fn open_file(&self, rel: &str) -> io::Result<Found> {
        let parts: Vec<&str> = rel.split('/').collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == "..")
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{rel:?} is not a plain relative path"),
            ));
        }
        let mut dir: Option<OwnedFd> = None;
        for (i, part) in parts.iter().enumerate() {
            let parent = dir.as_ref().unwrap_or(&self.dir);
            let last = i + 1 == parts.len();
            // O_NONBLOCK: opening a FIFO must not wait for a writer.
            let flags = if last {
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC
            } else {
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
            };
            let fd = match openat(parent, *part, flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(e) => {
                    // ELOOP (or ENOTDIR for a directory component): is it a link?
                    if let Ok(target) = readlinkat(parent, *part, Vec::new()) {
                        return Ok(Found::Link {
                            at: parts[..=i].join("/"),
                            target: target.to_string_lossy().into_owned(),
                        });
                    }
                    return Err(e.into());
                }
            };
            if last {
                let file = File::from(fd);
                let ft = file.metadata()?.file_type();
                return Ok(if ft.is_file() {
                    Found::File(file)
                } else {
                    Found::Other(describe(ft))
                });
            }
            dir = Some(fd);
        }
        Err(io::Error::new(io::ErrorKind::InvalidInput, "empty path"))
    }
}

fn describe(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn links_are_reported_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, host) = (tmp.path().join("root"), tmp.path().join("host"));
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::write(&host, "secret").unwrap();
        std::fs::write(root.join("d/f"), "ok").unwrap();
        std::os::unix::fs::symlink(&host, root.join("d/out")).unwrap();
        std::os::unix::fs::symlink(tmp.path(), root.join("up")).unwrap();
        let r = Root::open(&root).unwrap();
        assert!(matches!(r.open_file("d/f").unwrap(), Found::File(_)));
        match r.open_file("d/out").unwrap() {
            Found::Link { at, target } => {
                assert_eq!((at.as_str(), target), ("d/out", host.display().to_string()))
            }
            _ => panic!("d/out was followed"),
        }
        match r.open_file("up/host").unwrap() {
            Found::Link { at, .. } => assert_eq!(at, "up"),
            _ => panic!("up/ was followed"),
        }
        assert!(matches!(
            r.open_file("d").unwrap(),
            Found::Other("a directory")
        ));
        assert!(r.open_file("../host").is_err());
        assert!(r.open_file("d/missing").is_err());
    }
}
