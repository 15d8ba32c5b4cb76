//! Crash-safe file writes.
//!
//! A reader (or a crash) must never see a half-written key or attestation:
//! bytes go to a temporary file in the target's own directory (so the final
//! rename stays on one file system), are flushed to disk, and only then
//! renamed into place; the directory is synced so the rename itself survives
//! a crash.

use std::io::Write as _;
use std::path::Path;

use crate::error::{Error, Result};

/// Atomically writes `bytes` to `path` with permission bits `mode` (Unix;
/// ignored elsewhere), replacing any existing file.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write(path, bytes, mode, true)
}

/// Like [`write_atomic`], but fails with [`Error::AlreadyExists`] instead of
/// replacing an existing file, even one created concurrently.
pub fn write_atomic_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write(path, bytes, mode, false)
}

fn write(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> Result<()> {
    let io = |op: &'static str, at: &Path| {
        let at = at.to_owned();
        move |source| Error::Io {
            op,
            path: at,
            source,
        }
    };
    let file_name = path.file_name().ok_or_else(|| Error::Io {
        op: "write",
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "path has no file name"),
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };

    let mut builder = tempfile::Builder::new();
    let prefix = format!(".{}.", file_name.to_string_lossy());
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // Create with the final mode so a secret is never readable by others,
        // not even between create and chmod.
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(io("create a temporary file in", dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // The umask may have narrowed the creation mode; set it exactly.
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io("set permissions of", tmp.path()))?;
    }
    tmp.write_all(bytes).map_err(io("write", tmp.path()))?;
    tmp.as_file().sync_all().map_err(io("sync", tmp.path()))?;

    let persisted = if replace {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    // On failure the temporary file is dropped, which deletes it.
    persisted.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            Error::AlreadyExists {
                path: path.to_owned(),
            }
        } else {
            Error::Io {
                op: "move the temporary file into place at",
                path: path.to_owned(),
                source: e.error,
            }
        }
    })?;

    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync directory", dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn writes_with_exact_mode_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.intoto.jsonl");
        write_atomic(&path, b"one", 0o644).unwrap();
        write_atomic(&path, b"two", 0o640).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(entries.len(), 1);
    }

    #[test]
    fn new_refuses_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        write_atomic_new(&path, b"secret", 0o600).unwrap();
        assert!(matches!(
            write_atomic_new(&path, b"other", 0o600),
            Err(Error::AlreadyExists { path: p }) if p == path
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
