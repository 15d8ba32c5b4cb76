//! The tree a build saw through an overlay, put back together on the host
//! after the overlay's mount has gone with the sandbox.
//!
//! A run built in an overlay (see [`crate::Overlay`]) leaves its writes in
//! the upper directory in overlayfs's own encoding: whiteouts (character
//! devices 0/0) for deleted names, opaque directories (the
//! `user.overlay.opaque` attribute) for directories that replaced a lower
//! one, and ordinary files for everything written. [`merge_overlay`] turns
//! the pristine lower tree plus that upper directory into an ordinary
//! directory tree, with hard links and renames only: no file data is
//! copied, so a run's disk use stays what the build wrote.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::{sys, Error, Result};

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Where the file a build left at a relative path is, in an overlay's
/// layers (after the mount is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// The build wrote it: it is in the upper directory.
    Upper(PathBuf),
    /// The build left the pristine file: it is in the lower tree.
    Lower(PathBuf),
    /// Nothing is there (deleted by the build, or never there).
    Absent,
}

/// Finds `rel` (relative, without `..`) in the tree the build saw through
/// the overlay of `upper` on `lower`: an upper entry wins; a whiteout, or
/// an upper file or opaque directory in place of one of its parents,
/// hides the lower one.
pub fn lookup(lower: &Path, upper: &Path, rel: &Path) -> Layer {
    let mut prefix = PathBuf::new();
    let parts: Vec<_> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        prefix.push(part);
        let last = i + 1 == parts.len();
        let here = upper.join(&prefix);
        match fs::symlink_metadata(&here) {
            Ok(m) if is_whiteout(&m) => return Layer::Absent,
            Ok(m) if last => {
                return if m.file_type().is_dir() {
                    Layer::Absent
                } else {
                    Layer::Upper(here)
                };
            }
            // A file where the path needs a directory hides the rest.
            Ok(m) if !m.file_type().is_dir() => return Layer::Absent,
            // A directory that replaced its lower namesake hides what was
            // below it; the upper side is looked at further down.
            Ok(_) if is_opaque(&here) => return upper_only(upper, rel),
            _ => {}
        }
    }
    let below = lower.join(rel);
    match fs::symlink_metadata(&below) {
        Ok(m) if !m.file_type().is_dir() => Layer::Lower(below),
        _ => Layer::Absent,
    }
}

fn upper_only(upper: &Path, rel: &Path) -> Layer {
    let here = upper.join(rel);
    match fs::symlink_metadata(&here) {
        Ok(m) if !m.file_type().is_dir() && !is_whiteout(&m) => Layer::Upper(here),
        _ => Layer::Absent,
    }
}

/// overlayfs's mark for a deleted name: a character device 0/0.
fn is_whiteout(m: &fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    CString::new(dir.as_os_str().as_bytes())
        .map(|c| sys::overlay_opaque(&c))
        .unwrap_or(false)
}

/// Makes `dest` (which must not exist) the tree the build saw: hard links
/// to `lower`'s files with `upper`'s entries moved over them. `upper` is
/// emptied of what it gave. Works on one file system (links, renames).
pub fn merge_overlay(lower: &Path, upper: &Path, dest: &Path) -> Result<()> {
    link_tree(lower, dest)?;
    // Parents before children: an opaque directory must replace its lower
    // namesake before the upper entries below it move in.
    let mut entries = Vec::new();
    for entry in walkdir::WalkDir::new(upper).min_depth(1) {
        let entry = entry.map_err(|e| Error::Io {
            action: "walk",
            path: e.path().unwrap_or(upper).to_path_buf(),
            source: e.into(),
        })?;
        entries.push(entry);
    }
    for entry in entries {
        let rel = entry.path().strip_prefix(upper).map_err(|_| Error::Setup {
            message: format!("{} is outside {}", entry.path().display(), upper.display()),
            hint: "",
        })?;
        let target = dest.join(rel);
        let meta =
            fs::symlink_metadata(entry.path()).map_err(io("read metadata of", entry.path()))?;
        let ft = meta.file_type();
        if is_whiteout(&meta) {
            // The build deleted this name.
            remove_any(&target)?;
        } else if ft.is_dir() {
            let keep = !is_opaque(entry.path())
                && fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_dir());
            if !keep {
                remove_any(&target)?;
                fs::create_dir(&target).map_err(io("create", &target))?;
            }
            fs::set_permissions(&target, fs::Permissions::from_mode(meta.mode() & 0o7777))
                .map_err(io("set permissions on", &target))?;
        } else {
            remove_any(&target)?;
            fs::rename(entry.path(), &target).map_err(io("move the build's file to", &target))?;
        }
    }
    Ok(())
}

/// `dest` as a tree of hard links to `src`'s files (symlinks recreated,
/// directories made with their modes).
fn link_tree(src: &Path, dest: &Path) -> Result<()> {
    for entry in walkdir::WalkDir::new(src) {
        let entry = entry.map_err(|e| Error::Io {
            action: "walk",
            path: e.path().unwrap_or(src).to_path_buf(),
            source: e.into(),
        })?;
        let rel = entry.path().strip_prefix(src).unwrap_or(Path::new(""));
        let target: PathBuf = dest.join(rel);
        let ft = entry.file_type();
        if ft.is_dir() {
            fs::create_dir(&target).map_err(io("create", &target))?;
            let mode = entry
                .metadata()
                .map(|m| m.mode() & 0o7777)
                .map_err(|e| Error::Io {
                    action: "read metadata of",
                    path: entry.path().to_path_buf(),
                    source: e.into(),
                })?;
            // Writable by its owner while it is filled; the mode is put
            // back below for read-only source directories.
            fs::set_permissions(&target, fs::Permissions::from_mode(mode | 0o700))
                .map_err(io("set permissions on", &target))?;
        } else if ft.is_symlink() {
            let to = fs::read_link(entry.path()).map_err(io("read symlink", entry.path()))?;
            std::os::unix::fs::symlink(&to, &target).map_err(io("create symlink", &target))?;
        } else {
            fs::hard_link(entry.path(), &target).map_err(io("link", &target))?;
        }
    }
    Ok(())
}

/// Removes whatever is at `path` (file, link, tree); nothing there is fine.
fn remove_any(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_dir() => fs::remove_dir_all(path).map_err(io("remove", path)),
        Ok(_) => fs::remove_file(path).map_err(io("remove", path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("read metadata of", path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_entries_replace_lower_ones_without_copying() {
        let dir = tempfile::tempdir().unwrap();
        let (lower, upper, dest) = (
            dir.path().join("lower"),
            dir.path().join("upper"),
            dir.path().join("dest"),
        );
        fs::create_dir_all(lower.join("src/sub")).unwrap();
        fs::write(lower.join("src/a.c"), "a").unwrap();
        fs::write(lower.join("src/sub/old"), "old").unwrap();
        fs::write(lower.join("README"), "r").unwrap();
        std::os::unix::fs::symlink("README", lower.join("link")).unwrap();
        fs::create_dir_all(upper.join("dist")).unwrap();
        fs::write(upper.join("dist/out.whl"), "built").unwrap();
        fs::create_dir_all(upper.join("src")).unwrap();
        fs::write(upper.join("src/a.c"), "changed").unwrap();
        merge_overlay(&lower, &upper, &dest).unwrap();
        assert_eq!(
            fs::read_to_string(dest.join("dist/out.whl")).unwrap(),
            "built"
        );
        assert_eq!(fs::read_to_string(dest.join("src/a.c")).unwrap(), "changed");
        assert_eq!(fs::read_to_string(dest.join("src/sub/old")).unwrap(), "old");
        assert_eq!(
            fs::read_link(dest.join("link")).unwrap(),
            Path::new("README")
        );
        // Unchanged files are links to the lower tree: no data copied.
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&dest.join("README")), ino(&lower.join("README")));
        // The lower tree is untouched.
        assert_eq!(fs::read_to_string(lower.join("src/a.c")).unwrap(), "a");
    }
}
