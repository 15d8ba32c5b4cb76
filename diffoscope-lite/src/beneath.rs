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

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt as _;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{openat, readlinkat, statat, AtFlags, FileType, Mode, OFlags, CWD};

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

    /// The root directory itself, for listing.
    pub(crate) fn top(&self) -> io::Result<Dir> {
        Ok(Dir(openat(
            &self.dir,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?))
    }

    /// Opens `rel` (plain components only: no `.`, `..` or root) beneath
    /// the root without following any link.
    pub(crate) fn open_file(&self, rel: &Path) -> io::Result<Found> {
        let mut parts = Vec::new();
        for c in rel.components() {
            match c {
                Component::Normal(p) => parts.push(p),
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{} is not a plain relative path", rel.display()),
                    ))
                }
            }
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
                        let at: PathBuf = parts[..=i].iter().collect();
                        return Ok(Found::Link {
                            at: at.display().to_string(),
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

/// A directory beneath a [`Root`], open for listing.
pub(crate) struct Dir(OwnedFd);

/// One entry of a [`Dir`], as `lstat` sees it.
pub(crate) struct Item {
    /// Its name.
    pub(crate) name: OsString,
    /// Its type (a link is a link).
    pub(crate) kind: FileType,
    /// Permission bits.
    pub(crate) mode: u32,
    /// Size in bytes.
    pub(crate) size: u64,
    /// Device number, for devices.
    pub(crate) rdev: u64,
}

impl Dir {
    /// The entries (without `.` and `..`), in no particular order.
    pub(crate) fn items(&self) -> io::Result<Vec<Item>> {
        let mut out = Vec::new();
        for e in rustix::fs::Dir::read_from(&self.0)? {
            let name = e?.file_name().to_bytes().to_vec();
            if name == b"." || name == b".." {
                continue;
            }
            let st = statat(&self.0, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW)?;
            out.push(Item {
                name: OsString::from_vec(name),
                kind: FileType::from_raw_mode(st.st_mode),
                mode: st.st_mode & 0o7777,
                size: u64::try_from(st.st_size).unwrap_or(0),
                rdev: st.st_rdev,
            });
        }
        Ok(out)
    }

    /// The subdirectory `name`, not followed if it is a link.
    pub(crate) fn subdir(&self, name: &OsString) -> io::Result<Dir> {
        Ok(Dir(openat(
            &self.0,
            name.as_os_str(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?))
    }

    /// The target of the link `name`, as stored.
    pub(crate) fn link_target(&self, name: &OsString) -> io::Result<String> {
        Ok(readlinkat(&self.0, name.as_os_str(), Vec::new())?
            .to_string_lossy()
            .into_owned())
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
        assert!(matches!(
            r.open_file(Path::new("d/f")).unwrap(),
            Found::File(_)
        ));
        match r.open_file(Path::new("d/out")).unwrap() {
            Found::Link { at, target } => {
                assert_eq!((at.as_str(), target), ("d/out", host.display().to_string()))
            }
            _ => panic!("d/out was followed"),
        }
        match r.open_file(Path::new("up/host")).unwrap() {
            Found::Link { at, .. } => assert_eq!(at, "up"),
            _ => panic!("up/ was followed"),
        }
        assert!(matches!(
            r.open_file(Path::new("d")).unwrap(),
            Found::Other("a directory")
        ));
        assert!(r.open_file(Path::new("../host")).is_err());
        assert!(r.open_file(Path::new("d/missing")).is_err());
    }
}
