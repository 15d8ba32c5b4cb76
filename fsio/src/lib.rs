//! Output files that are crash-safe and never destroy what a path points at.
//!
//! Every output path is first resolved into a [`Target`], which decides how
//! it is written:
//!
//! - nothing there: a new regular file, made atomically;
//! - a regular file: replaced atomically, keeping its permission bits (as
//!   `cp` and a shell's `>` do: `--force` over a 0600 file must not make it
//!   world-readable), except where the caller says the mode is part of
//!   what is written ([`copy`]);
//! - a character or block device, a FIFO or a socket: *written through* —
//!   opened (or connected to) for writing, never created, never truncated,
//!   never renamed over. `repro diff --text /dev/null` must leave `/dev/null`
//!   a device;
//! - a symbolic link: followed, link by link, and the rules above applied to
//!   what it finally names; the link itself is never replaced;
//! - a directory: refused;
//! - `-`, only where a command-line argument is resolved
//!   ([`Target::from_arg`]): stdout.
//!
//! "Atomically" means: the bytes go to a temporary file in the target's own
//! directory (so the rename stays on one file system), the file is synced,
//! renamed over the target, and the directory synced so the rename itself
//! survives a crash. Readers see the old file or the new one, never half of
//! one. On any error — also one in the middle of writing — the temporary
//! file is removed and an existing target is left as it was.
//!
//! Errors are one [`Error`] enum naming the file and what failed; a full
//! disk says so ("no space left on device while writing X"). The crate never
//! prints and never exits.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

#[cfg(test)]
mod tests;

/// Mode of a new output file unless the caller names another.
pub const DEFAULT_MODE: u32 = 0o644;

/// Symbolic links followed before giving up, as the kernel does (`ELOOP`).
const MAX_LINKS: usize = 40;

/// Shorthand for `Result<T, fsio::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while writing an output, and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file system is full (`ENOSPC`).
    #[error("no space left on device while writing {}", .path.display())]
    NoSpace {
        /// The file being written.
        path: PathBuf,
    },
    /// A file that must not be overwritten already exists.
    #[error("{} already exists; refusing to overwrite it", .path.display())]
    AlreadyExists {
        /// What is in the way (possibly a dangling symlink).
        path: PathBuf,
    },
    /// The output path names a directory.
    #[error("{} is a directory; name a file to write", .path.display())]
    IsDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// Following symbolic links did not end.
    #[error("{}: more than {MAX_LINKS} symbolic links to follow (a loop?)", .path.display())]
    TooManyLinks {
        /// The path as given.
        path: PathBuf,
    },
    /// Any other file system operation failed.
    #[error("cannot {op} {}: {source}", .path.display())]
    Io {
        /// What was being done, e.g. "create a temporary file in".
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl Error {
    /// Classifies an I/O error: a full disk gets its own message.
    fn io(op: &'static str, path: &Path, source: io::Error) -> Error {
        if source.kind() == io::ErrorKind::StorageFull {
            Error::NoSpace {
                path: path.to_owned(),
            }
        } else {
            Error::Io {
                op,
                path: path.to_owned(),
                source,
            }
        }
    }

    /// The closest [`io::ErrorKind`], e.g. to let a closed pipe on stdout
    /// pass quietly.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::NoSpace { .. } => io::ErrorKind::StorageFull,
            Error::AlreadyExists { .. } => io::ErrorKind::AlreadyExists,
            Error::IsDirectory { .. } => io::ErrorKind::IsADirectory,
            Error::TooManyLinks { .. } => io::ErrorKind::InvalidInput,
            Error::Io { source, .. } => source.kind(),
        }
    }
}

/// A kind of file that is written through rather than replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// A character device such as `/dev/null` or a terminal.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A named pipe.
    Fifo,
    /// A Unix stream socket.
    Socket,
}

/// Where an output path leads, after following symbolic links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Standard output (the argument `-`).
    Stdout,
    /// Nothing exists at this path: a new file is made atomically.
    New(PathBuf),
    /// An existing regular file, replaced atomically.
    Replace(PathBuf),
    /// A device, FIFO or socket, written through.
    Through {
        /// The special file.
        path: PathBuf,
        /// What it is.
        kind: Special,
    },
}

impl Target {
    /// Resolves a file path; `-` is a file named `-` here.
    pub fn resolve(path: &Path) -> Result<Target> {
        let mut at = path.to_path_buf();
        for _ in 0..=MAX_LINKS {
            let meta = match fs::symlink_metadata(&at) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Target::New(at)),
                Err(e) => return Err(Error::io("inspect", &at, e)),
            };
            let ft = meta.file_type();
            let kind = if ft.is_symlink() {
                let link = fs::read_link(&at).map_err(|e| Error::io("read link", &at, e))?;
                // A relative link is relative to the directory holding it;
                // `join` keeps an absolute one as it is.
                at = parent_of(&at).join(link);
                continue;
            } else if ft.is_file() {
                return Ok(Target::Replace(at));
            } else if ft.is_dir() {
                return Err(Error::IsDirectory { path: at });
            } else if ft.is_char_device() {
                Special::CharDevice
            } else if ft.is_block_device() {
                Special::BlockDevice
            } else if ft.is_fifo() {
                Special::Fifo
            } else {
                // The one remaining file type.
                Special::Socket
            };
            return Ok(Target::Through { path: at, kind });
        }
        Err(Error::TooManyLinks {
            path: path.to_owned(),
        })
    }

    /// Resolves a command-line output argument: `-` means stdout.
    pub fn from_arg(arg: &Path) -> Result<Target> {
        if arg == Path::new("-") {
            Ok(Target::Stdout)
        } else {
            Target::resolve(arg)
        }
    }

    /// The file written, or `-` for stdout.
    pub fn path(&self) -> &Path {
        match self {
            Target::Stdout => Path::new("-"),
            Target::New(p) | Target::Replace(p) | Target::Through { path: p, .. } => p,
        }
    }
}

/// A file being written in a temporary place, published by [`Staged::commit`].
///
/// Dropping it without committing removes the temporary file. This is the
/// one place that makes a temporary file and renames it.
pub struct Staged {
    file: BufWriter<tempfile::NamedTempFile>,
    dir: PathBuf,
    mode: u32,
    /// The path errors name: the target, or the directory when the final
    /// name is not known yet (a content-addressed blob).
    label: PathBuf,
}

impl Staged {
    /// Starts a file in `dir` that will get permission bits `mode`.
    pub fn new_in(dir: &Path, mode: u32) -> Result<Staged> {
        Staged::with_label(dir, mode, dir)
    }

    fn with_label(dir: &Path, mode: u32, label: &Path) -> Result<Staged> {
        let tmp = tempfile::Builder::new()
            .prefix(".repro-tmp-")
            // Created with the final mode, so a secret is never readable by
            // others, not even between create and chmod.
            .permissions(fs::Permissions::from_mode(mode))
            .tempfile_in(dir)
            .map_err(|e| {
                // tempfile names its random file name ("at path
                // .repro-tmp-…"), which the user never gave: the error
                // names the output (the directory when no name is known
                // yet) and the bare system error says why. tempfile's
                // error type is private: its text is cut instead.
                let text = e.to_string();
                let e = match text.split_once(" at path ") {
                    Some((why, _)) => io::Error::new(e.kind(), why.to_owned()),
                    None => e,
                };
                let op = if label == dir {
                    "create a temporary file in"
                } else {
                    "create the temporary file for"
                };
                Error::io(op, label, e)
            })?;
        Ok(Staged {
            file: BufWriter::with_capacity(1 << 16, tmp),
            dir: dir.to_path_buf(),
            mode,
            label: label.to_path_buf(),
        })
    }

    /// Gives the file the owner and group of the file it replaces, as far
    /// as this process may (root: both; a user: a group they are in).
    /// Where the group cannot be kept, its permission bits are cleared: a
    /// 0640 file of group `secret` must not become readable by the user's
    /// own group.
    fn keep_owner(&mut self, uid: u32, gid: u32) -> Result<()> {
        let file = self.file.get_ref().as_file();
        let now = file
            .metadata()
            .map_err(|e| Error::io("inspect", &self.label, e))?;
        if now.uid() == uid && now.gid() == gid {
            return Ok(());
        }
        if std::os::unix::fs::fchown(file, Some(uid), Some(gid)).is_ok()
            || std::os::unix::fs::fchown(file, None, Some(gid)).is_ok()
        {
            return Ok(());
        }
        self.mode &= !0o070;
        file.set_permissions(fs::Permissions::from_mode(self.mode))
            .map_err(|e| Error::io("set permissions of", &self.label, e))
    }

    /// Syncs the file and renames it over `target` (a regular file or
    /// nothing), then syncs the directory.
    pub fn commit(self, target: &Path) -> Result<()> {
        self.publish(target, true)
    }

    /// Like [`Staged::commit`], but fails with [`Error::AlreadyExists`]
    /// when anything exists at `target`, even something made concurrently.
    pub fn commit_new(self, target: &Path) -> Result<()> {
        self.publish(target, false)
    }

    fn publish(self, target: &Path, replace: bool) -> Result<()> {
        let tmp = self
            .file
            .into_inner()
            .map_err(|e| Error::io("write", &self.label, e.into_error()))?;
        // The umask may have narrowed the creation mode; set it exactly.
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(self.mode))
            .map_err(|e| Error::io("set permissions of", tmp.path(), e))?;
        // A delayed-allocation file system may only now find the disk full.
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io("write", target, e))?;
        let persisted = if replace {
            tmp.persist(target)
        } else {
            tmp.persist_noclobber(target)
        };
        // On failure the temporary file inside the error is dropped, which
        // deletes it.
        persisted.map_err(|e| {
            if !replace && e.error.kind() == io::ErrorKind::AlreadyExists {
                Error::AlreadyExists {
                    path: target.to_owned(),
                }
            } else {
                Error::io("move the temporary file into place at", target, e.error)
            }
        })?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io("sync directory", &self.dir, e))
    }
}

impl Write for Staged {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf).map_err(|e| wrap(&self.label, e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush().map_err(|e| wrap(&self.label, e))
    }
}

/// Carries the file name and the full-disk message inside an `io::Error`
/// of the same kind, for writers that hand back `io::Result`.
fn wrap(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), Error::io("write", path, e))
}

/// An output being written: `Write` into it, then [`Output::finish`].
///
/// Dropping an `Output` without finishing leaves an existing regular file
/// untouched and no temporary file behind; bytes already written through to
/// a device, FIFO, socket or stdout cannot be taken back.
pub struct Output {
    sink: Sink,
    target: Target,
}

/// The permission bits a replaced regular file gets.
#[derive(Clone, Copy)]
enum Replaced {
    /// Its own (a user's output file).
    KeepsItsMode,
    /// The caller's (a copy, whose mode is the source's).
    GetsMode,
}

enum Sink {
    Staged(Staged),
    Through(BufWriter<Box<dyn Write>>),
    Stdout(BufWriter<io::StdoutLock<'static>>),
}

impl Output {
    /// Opens a file path for writing; a new file gets `mode`, a replaced
    /// one keeps its own.
    pub fn open(path: &Path, mode: u32) -> Result<Output> {
        Output::to(Target::resolve(path)?, mode)
    }

    /// Opens a command-line output argument (`-` is stdout).
    pub fn open_arg(arg: &Path, mode: u32) -> Result<Output> {
        Output::to(Target::from_arg(arg)?, mode)
    }

    /// Opens a resolved target; a new file gets `mode`, a replaced one
    /// keeps its own.
    pub fn to(target: Target, mode: u32) -> Result<Output> {
        Output::with_mode(target, mode, Replaced::KeepsItsMode)
    }

    fn with_mode(target: Target, mode: u32, replaced: Replaced) -> Result<Output> {
        let sink = match &target {
            Target::Stdout => Sink::Stdout(BufWriter::new(io::stdout().lock())),
            Target::New(p) => Sink::Staged(Staged::with_label(parent_of(p), mode, p)?),
            Target::Replace(p) => {
                // Set-id and sticky bits are not kept: the bytes are new.
                let (mode, owner) = match replaced {
                    Replaced::KeepsItsMode => match fs::symlink_metadata(p) {
                        Ok(m) => (m.permissions().mode() & 0o777, Some((m.uid(), m.gid()))),
                        // Gone since it was resolved: a new file now.
                        Err(e) if e.kind() == io::ErrorKind::NotFound => (mode, None),
                        Err(e) => return Err(Error::io("inspect", p, e)),
                    },
                    Replaced::GetsMode => (mode, None),
                };
                let mut staged = Staged::with_label(parent_of(p), mode, p)?;
                if let Some((uid, gid)) = owner {
                    staged.keep_owner(uid, gid)?;
                }
                Sink::Staged(staged)
            }
            Target::Through { path, kind } => {
                let w: Box<dyn Write> = if *kind == Special::Socket {
                    // open(2) cannot open a socket; connecting is how one
                    // writes to it.
                    Box::new(
                        UnixStream::connect(path)
                            .map_err(|e| Error::io("connect to socket", path, e))?,
                    )
                } else {
                    // No O_CREAT (it exists), no O_TRUNC (a device has no
                    // length to cut), and never a rename.
                    Box::new(
                        OpenOptions::new()
                            .write(true)
                            .open(path)
                            .map_err(|e| Error::io("open for writing", path, e))?,
                    )
                };
                Sink::Through(BufWriter::with_capacity(1 << 16, w))
            }
        };
        Ok(Output { sink, target })
    }

    /// Where this output goes.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Whether this is stdout (where colour may make sense).
    pub fn is_stdout(&self) -> bool {
        self.target == Target::Stdout
    }

    /// Whether bytes reach their destination as they are written (device,
    /// FIFO, socket, stdout), so an abandoned output cannot be undone.
    pub fn writes_through(&self) -> bool {
        !matches!(self.sink, Sink::Staged(_))
    }

    /// Flushes everything and, for a regular file, publishes it atomically.
    pub fn finish(self) -> Result<()> {
        let path = self.target.path();
        match self.sink {
            Sink::Staged(staged) => staged.commit(path),
            Sink::Through(mut w) => w.flush().map_err(|e| Error::io("write", path, e)),
            Sink::Stdout(mut w) => w.flush().map_err(|e| Error::io("write", path, e)),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = match &mut self.sink {
            // Already carries the path.
            Sink::Staged(s) => return s.write(buf),
            Sink::Through(w) => w.write(buf),
            Sink::Stdout(w) => w.write(buf),
        };
        r.map_err(|e| wrap(self.target.path(), e))
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = match &mut self.sink {
            Sink::Staged(s) => return s.flush(),
            Sink::Through(w) => w.flush(),
            Sink::Stdout(w) => w.flush(),
        };
        r.map_err(|e| wrap(self.target.path(), e))
    }
}

/// Writes `bytes` to the file `path` (see the crate docs for how); a new
/// file gets mode 0644, a replaced one keeps its own.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_mode(path, bytes, DEFAULT_MODE)
}

/// Like [`write()`], with permission bits `mode` for a new file.
pub fn write_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write_target(Target::resolve(path)?, bytes, mode)
}

/// Like [`write()`] for a command-line output argument: `-` is stdout.
pub fn write_arg(arg: &Path, bytes: &[u8]) -> Result<()> {
    write_target(Target::from_arg(arg)?, bytes, DEFAULT_MODE)
}

/// Writes `bytes` to an already resolved target (e.g. after checking that
/// it is not an existing file); a new file gets `mode`, a replaced one
/// keeps its own.
pub fn write_target(target: Target, bytes: &[u8], mode: u32) -> Result<()> {
    let mut out = Output::to(target, mode)?;
    out.write_all(bytes)
        .map_err(|e| unwrap_io(out.target().path(), e))?;
    out.finish()
}

/// Turns an error from [`Output`]'s `Write` back into the [`Error`] inside.
fn unwrap_io(path: &Path, e: io::Error) -> Error {
    if e.get_ref().is_none() {
        // A bare OS error: `into_inner` would drop it.
        return Error::io("write", path, e);
    }
    let kind = e.kind();
    match e.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(err)) => *err,
        Some(Err(other)) => Error::io("write", path, io::Error::new(kind, other)),
        None => Error::io("write", path, io::Error::from(kind)),
    }
}

/// Creates the file `path` with `bytes` and permission bits `mode`,
/// atomically, failing with [`Error::AlreadyExists`] if anything — a file,
/// a device, a dangling symlink — is already there. For secrets such as a
/// private key, which must never replace anything.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    // The cheap check gives the clear error; `commit_new` closes the race.
    if fs::symlink_metadata(path).is_ok() {
        return Err(Error::AlreadyExists {
            path: path.to_owned(),
        });
    }
    let mut staged = Staged::with_label(parent_of(path), mode, path)?;
    staged.write_all(bytes).map_err(|e| unwrap_io(path, e))?;
    staged.commit_new(path)
}

/// Copies the file `src` to `dst` (see the crate docs for how `dst` is
/// written), giving `dst` `src`'s permission bits (also when `dst` existed:
/// an artifact's mode is part of it) but not setuid, setgid or sticky: a
/// copy must never publish a set-id file of a build's making.
pub fn copy(src: &Path, dst: &Path) -> Result<()> {
    let mut from = File::open(src).map_err(|e| Error::io("open", src, e))?;
    let mode = from
        .metadata()
        .map_err(|e| Error::io("inspect", src, e))?
        .permissions()
        .mode()
        & 0o777;
    let mut out = Output::with_mode(Target::resolve(dst)?, mode, Replaced::GetsMode)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("read", src, e)),
        };
        out.write_all(&buf[..n]).map_err(|e| unwrap_io(dst, e))?;
    }
    out.finish()
}

/// The directory holding `path` (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
