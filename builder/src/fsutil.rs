//! File-system helpers of the rebuild loop: copying a source tree and
//! owning an output directory. Output files are written with `fsio`.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

/// Name of the marker file that says "repro made this directory", so
/// `--force` never deletes a directory repro did not create.
pub const OUT_MARKER: &str = ".repro-out";

/// Creates `out` for a new build. An existing non-empty `out` is refused
/// unless `force` is set and the directory carries repro's marker.
pub fn prepare_out_dir(out: &Path, force: bool) -> Result<()> {
    match fs::symlink_metadata(out) {
        Ok(meta) if meta.is_dir() => {
            let empty = fs::read_dir(out)
                .with_context(|| format!("reading {}", out.display()))?
                .next()
                .is_none();
            if !empty {
                if !force {
                    bail!(
                        "output directory {} already exists; pass --force to replace it or choose another --out",
                        out.display()
                    );
                }
                if !out.join(OUT_MARKER).exists() {
                    bail!(
                        "output directory {} was not made by repro (no {OUT_MARKER} file); \
                         refusing to delete it even with --force",
                        out.display()
                    );
                }
                remove_tree(out)?;
            }
        }
        Ok(_) => bail!("--out {} exists and is not a directory", out.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("checking {}", out.display())),
    }
    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    fsio::write(
        &out.join(OUT_MARKER),
        b"This directory was created by `repro build`; `--force` may replace it.\n",
    )?;
    Ok(())
}

/// Removes a directory tree, also when a build left read-only or
/// unreadable directories in it (a Go module cache, `chmod -R a-w dist`,
/// `chmod 000 dir`).
pub fn remove_tree(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            open_up(path);
            fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// Gives the owner rwx on every directory under `root` (symlinks are not
/// followed), best effort. Each directory is opened up *before* it is
/// read, which a walker that lists a directory as it yields it (walkdir)
/// cannot do: it would fail on a `chmod 000` directory and skip it.
fn open_up(root: &Path) {
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(meta) = fs::symlink_metadata(&dir) else {
            continue;
        };
        if !meta.is_dir() {
            continue;
        }
        let mode = meta.permissions().mode();
        if mode & 0o700 != 0o700 {
            let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(mode | 0o700));
        }
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            // DirEntry::file_type does not follow symlinks.
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(entry.path());
            }
        }
    }
}

/// Drops setuid, setgid and sticky bits that `fs::copy` carries over from
/// a source of mode `mode`: a build must not be able to publish (as root) a
/// setuid file of its making. Costs nothing for the usual plain file.
fn plain_mode(path: &Path, mode: u32) -> Result<()> {
    if mode & 0o7000 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o777))
            .with_context(|| format!("clearing set-id bits of {}", path.display()))?;
    }
    Ok(())
}

/// One entry of a source tree walk, with its path relative to the root.
pub struct SourceEntry {
    /// The walked entry (its file type is the entry's own: symlinks are
    /// never followed).
    pub entry: walkdir::DirEntry,
    /// The path relative to the walk's root ("" for the root itself).
    pub rel: PathBuf,
}

/// A directory walk that stopped at one entry: the entry is named, not
/// only the root the walk started from.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {} (walking {})", entry.display(), root.display())]
pub struct WalkError {
    /// Where the walk started.
    pub root: PathBuf,
    /// The entry that could not be read (the root only when it is the one).
    pub entry: PathBuf,
    /// What the kernel said.
    #[source]
    pub source: std::io::Error,
}

impl WalkError {
    /// The error of the walk from `root` that `e` ended.
    pub fn new(root: &Path, e: walkdir::Error) -> Self {
        let entry = e.path().unwrap_or(root).to_path_buf();
        // walkdir's own message repeats the path; only its cause is kept
        // (a loop, which a walk that follows no link never meets, has none).
        let message = e.to_string();
        let source = e
            .into_io_error()
            .unwrap_or_else(|| std::io::Error::other(message));
        Self {
            root: root.to_path_buf(),
            entry,
            source,
        }
    }
}

/// Walks the source tree at `root` the way every reader of a source tree
/// must (copying it into a run, hashing it, choosing SOURCE_DATE_EPOCH):
/// symlinks not followed, `skip` (the output directory, when it sits inside
/// the source) left out with everything below it, and so is any directory
/// entry named in `skip_names` (`.git` for the mtime scan). An entry that
/// cannot be read ends the walk with a [`WalkError`] naming it; a caught
/// SIGINT/SIGTERM ends it with the [`Interrupt`](sandbox::interrupt::Interrupt),
/// so copying or hashing a large tree stops promptly.
pub fn walk_source<'a>(
    root: &'a Path,
    skip: &'a Path,
    skip_names: &'a [&'a str],
) -> impl Iterator<Item = Result<SourceEntry>> + 'a {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(move |e| {
            e.path() != skip && !(e.depth() > 0 && skip_names.iter().any(|n| e.file_name() == *n))
        })
        .map(move |entry| {
            sandbox::interrupt::check()?;
            let entry = entry.map_err(|e| WalkError::new(root, e))?;
            let rel = entry
                .path()
                .strip_prefix(root)
                .with_context(|| {
                    format!("{} is outside {}", entry.path().display(), root.display())
                })?
                .to_path_buf();
            Ok(SourceEntry { entry, rel })
        })
}

/// Copies the tree at `src` to the new directory `dst`: regular files with
/// their mode and mtime, directories, and symlinks as symlinks. `skip` (the
/// output directory, when it sits inside the source) is left out. Sockets,
/// fifos and devices are refused: a source tree has no business holding them.
pub fn copy_tree(src: &Path, dst: &Path, skip: &Path) -> Result<u64> {
    let mut files = 0u64;
    let mut dirs: Vec<(PathBuf, fs::Metadata)> = Vec::new();
    for item in walk_source(src, skip, &[]) {
        let SourceEntry { entry, rel } = item?;
        let target = dst.join(rel);
        let meta = entry
            .metadata()
            .with_context(|| format!("reading metadata of {}", entry.path().display()))?;
        let ft = entry.file_type();
        if ft.is_dir() {
            fs::create_dir_all(&target)
                .with_context(|| format!("creating {}", target.display()))?;
            dirs.push((target, meta));
        } else if ft.is_symlink() {
            let link = fs::read_link(entry.path())
                .with_context(|| format!("reading symlink {}", entry.path().display()))?;
            symlink(&link, &target)
                .with_context(|| format!("creating symlink {}", target.display()))?;
        } else if ft.is_file() {
            fs::copy(entry.path(), &target).with_context(|| {
                format!("copying {} to {}", entry.path().display(), target.display())
            })?;
            // The copy has the source's mode, which the walk already read.
            plain_mode(&target, meta.permissions().mode())?;
            set_mtime(&target, &meta)?;
            files += 1;
        } else {
            bail!(
                "source tree holds {} which is not a file, directory or symlink (socket, fifo or device); remove it",
                entry.path().display()
            );
        }
    }
    // Directory mtimes last, deepest first: filling a directory bumps its mtime.
    for (dir, meta) in dirs.iter().rev() {
        fs::set_permissions(dir, meta.permissions())
            .with_context(|| format!("setting mode of {}", dir.display()))?;
        set_mtime(dir, meta)?;
    }
    Ok(files)
}

fn set_mtime(path: &Path, meta: &fs::Metadata) -> Result<()> {
    let Ok(mtime) = meta.modified() else {
        return Ok(());
    };
    let f = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    f.set_modified(mtime)
        .with_context(|| format!("setting mtime of {}", path.display()))
}

/// The last `n` lines of a (possibly large) log file, lossily decoded.
pub fn tail_lines(path: &Path, n: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    // Read at most the last 64 KiB: enough for 20 lines of any sane log.
    const WINDOW: u64 = 64 * 1024;
    let Ok(mut f) = fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(WINDOW);
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(start)).is_err() || f.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Below this many free bytes the file system of `--out` counts as full:
/// a build's writes of any size there are likely to have failed.
pub const NEARLY_FULL: u64 = 64 * 1024;

/// Bytes an unprivileged writer may still use on the file system holding
/// `path`; None when statvfs(2) cannot tell.
// The conversions are no-ops on 64-bit Linux, not on 32-bit targets.
#[allow(clippy::useless_conversion)]
pub fn available_space(path: &Path) -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(path).ok()?;
    u64::try_from(s.blocks_available())
        .ok()?
        .checked_mul(u64::try_from(s.fragment_size()).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_tree_keeps_modes_mtimes_symlinks_and_skips_out() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("a/b")).unwrap();
        fs::create_dir_all(src.join("out/x")).unwrap();
        fs::write(src.join("a/b/f"), b"hi").unwrap();
        fs::set_permissions(src.join("a/b/f"), fs::Permissions::from_mode(0o755)).unwrap();
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        fs::File::options()
            .write(true)
            .open(src.join("a/b/f"))
            .unwrap()
            .set_modified(t)
            .unwrap();
        symlink("b/f", src.join("a/link")).unwrap();
        let dst = dir.path().join("dst");
        let n = copy_tree(&src, &dst, &src.join("out")).unwrap();
        assert_eq!(n, 1);
        let m = fs::metadata(dst.join("a/b/f")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o755);
        assert_eq!(m.modified().unwrap(), t);
        assert_eq!(fs::read_link(dst.join("a/link")).unwrap(), Path::new("b/f"));
        assert!(!dst.join("out").exists());
    }

    #[test]
    fn copies_never_keep_set_id_bits() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir(&src).unwrap();
        fs::write(src.join("x"), b"x").unwrap();
        fs::set_permissions(src.join("x"), fs::Permissions::from_mode(0o4755)).unwrap();
        copy_tree(&src, &dir.path().join("dst"), &dir.path().join("none")).unwrap();
        let m = fs::metadata(dir.path().join("dst/x"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(m & 0o7777, 0o755);
    }

    #[test]
    fn out_dir_needs_force_and_marker() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        prepare_out_dir(&out, false).unwrap();
        fs::write(out.join("report.json"), b"{}").unwrap();
        let err = prepare_out_dir(&out, false).unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        prepare_out_dir(&out, true).unwrap();
        assert!(!out.join("report.json").exists());

        let foreign = dir.path().join("foreign");
        fs::create_dir(&foreign).unwrap();
        fs::write(foreign.join("precious"), b"x").unwrap();
        let err = prepare_out_dir(&foreign, true).unwrap_err();
        assert!(err.to_string().contains("not made by repro"), "{err}");
        assert!(foreign.join("precious").exists());
    }

    #[test]
    fn remove_tree_copes_with_read_only_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t");
        fs::create_dir_all(t.join("ro/inner")).unwrap();
        fs::write(t.join("ro/inner/f"), b"x").unwrap();
        fs::set_permissions(t.join("ro/inner"), fs::Permissions::from_mode(0o555)).unwrap();
        fs::set_permissions(t.join("ro"), fs::Permissions::from_mode(0o555)).unwrap();
        remove_tree(&t).unwrap();
        assert!(!t.exists());
    }

    /// A directory nested past PATH_MAX under `root` (made through
    /// /proc/self/fd so no path given to the kernel is long): opening it by
    /// its full path fails, for root too. Returns the first directory the
    /// walk cannot open.
    fn too_deep(root: &Path) -> PathBuf {
        let name = "d".repeat(200);
        let mut dir = fs::File::open(root).unwrap();
        let mut path = root.to_path_buf();
        let mut unreachable = None;
        while path.as_os_str().len() < 4096 + 400 {
            use std::os::fd::AsRawFd as _;
            let via = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(&name);
            fs::create_dir(&via).unwrap();
            dir = fs::File::open(&via).unwrap();
            path.push(&name);
            if unreachable.is_none() && path.as_os_str().len() >= 4096 {
                unreachable = Some(path.clone());
            }
        }
        unreachable.unwrap()
    }

    #[test]
    fn a_walk_error_names_the_entry_not_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("src");
        fs::create_dir(&root).unwrap();
        fs::write(root.join("a"), b"x").unwrap();
        let deep = too_deep(&root);
        let err = crate::dirhash::dirhash(&root, &dir.path().join("out")).unwrap_err();
        let walk = err
            .downcast_ref::<WalkError>()
            .unwrap_or_else(|| panic!("not a WalkError: {err:#}"));
        assert_eq!(walk.root, root);
        // The walk stops at the first directory it cannot open.
        assert!(
            walk.entry.starts_with(&root) && walk.entry != root,
            "{err:#}"
        );
        assert!(deep.starts_with(&walk.entry), "{err:#}");
        assert_eq!(walk.source.raw_os_error(), Some(36), "{err:#}"); // ENAMETOOLONG
        let text = format!("{err:#}");
        assert!(
            text.starts_with(&format!("cannot read {}", walk.entry.display())),
            "{text}"
        );
        // Copying the tree names the same entry (its metadata is read
        // before the walk would open it).
        let err = copy_tree(&root, &dir.path().join("copy"), &dir.path().join("out")).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.starts_with(&format!("reading metadata of {}:", walk.entry.display())),
            "{text}"
        );
    }

    #[test]
    fn tail_of_log() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let text: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        fs::write(&p, text).unwrap();
        let t = tail_lines(&p, 3);
        assert_eq!(t, "line 28\nline 29\nline 30");
    }
}
