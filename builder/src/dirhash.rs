//! `repro-dirhash-v1`: one SHA-256 for a source tree, so provenance can
//! name exactly what was built even when the source is not a git commit.
//!
//! Definition (documented in the README so other tools can recompute it):
//! walk the tree without following symlinks, skip directories themselves
//! (their content is what matters), and for every regular file and symlink
//! write one line `<kind> <mode> <value> <path>\n`, where kind is `file` or
//! `symlink`, mode is the octal permission bits (`755`/`644`; `777` for
//! symlinks), value is the lowercase hex SHA-256 of the file's content or
//! of the symlink's target bytes, and path is relative to the root with
//! `/` separators. Lines are sorted by path (bytewise); the digest is the
//! SHA-256 of their concatenation.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use sha2::{Digest as _, Sha256};

/// Name and version of the definition, recorded next to each digest.
pub const DIRHASH_V1: &str = "repro-dirhash-v1";

/// The `repro-dirhash-v1` digest of `root`, leaving out `skip` (the output
/// directory when it sits inside the source).
pub fn dirhash(root: &Path, skip: &Path) -> Result<String> {
    let mut files: Vec<(Vec<u8>, PathBuf, u32)> = Vec::new();
    let mut lines: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for item in crate::fsutil::walk_source(root, skip, &[]) {
        let crate::fsutil::SourceEntry { entry, rel } = item?;
        let rel = rel.as_os_str().as_bytes().to_vec();
        let ft = entry.file_type();
        if ft.is_symlink() {
            let target = std::fs::read_link(entry.path())
                .with_context(|| format!("reading symlink {}", entry.path().display()))?;
            let value = hex::encode(Sha256::digest(target.as_os_str().as_bytes()));
            lines.push((rel.clone(), line("symlink", 0o777, &value, &rel)));
        } else if ft.is_file() {
            let mode = entry
                .metadata()
                .with_context(|| format!("reading metadata of {}", entry.path().display()))?
                .permissions()
                .mode()
                & 0o7777;
            files.push((rel, entry.path().to_path_buf(), mode));
        }
    }
    let paths: Vec<PathBuf> = files.iter().map(|(_, p, _)| p.clone()).collect();
    for ((rel, path, mode), digest) in files.into_iter().zip(diffoscope_lite::sha256_files(&paths))
    {
        let d = digest.with_context(|| format!("hashing {}", path.display()))?;
        lines.push((rel.clone(), line("file", mode, &d.hex(), &rel)));
    }
    lines.sort();
    let mut h = Sha256::new();
    for (_, l) in &lines {
        h.update(l);
    }
    Ok(hex::encode(h.finalize()))
}

fn line(kind: &str, mode: u32, value: &str, rel: &[u8]) -> Vec<u8> {
    let mut l = format!("{kind} {mode:o} {value} ").into_bytes();
    l.extend_from_slice(rel);
    l.push(b'\n');
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_sensitive_to_content_mode_and_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("d/a"), b"x").unwrap();
        std::fs::set_permissions(root.join("d/a"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let skip = root.join("out");
        let h1 = dirhash(root, &skip).unwrap();
        // Recompute by the documented definition.
        let want = hex::encode(Sha256::digest(format!(
            "file 644 {} d/a\n",
            hex::encode(Sha256::digest(b"x"))
        )));
        assert_eq!(h1, want);
        std::fs::create_dir(&skip).unwrap();
        std::fs::write(skip.join("ignored"), b"y").unwrap();
        assert_eq!(dirhash(root, &skip).unwrap(), h1);
        std::fs::set_permissions(root.join("d/a"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_ne!(dirhash(root, &skip).unwrap(), h1);
    }
}
