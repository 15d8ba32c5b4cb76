//! What one sandboxed run looks like: the plain data the caller fills in.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::BuildEnv;

/// How strongly a run is isolated from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// New user, mount, pid, network, uts and ipc namespaces and a fresh root.
    Namespaces,
    /// No isolation: the build runs on the host (scrubbed environment only).
    None,
}

impl Isolation {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Isolation::Namespaces => "namespaces",
            Isolation::None => "none",
        }
    }
}

/// The user the build runs as, inside the user namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildUser {
    /// uid inside the namespace.
    pub uid: u32,
    /// gid inside the namespace.
    pub gid: u32,
    /// User name in the sandbox's /etc/passwd.
    pub name: String,
    /// Group name in the sandbox's /etc/group.
    pub group: String,
}

/// Resource limits applied to the build (besides core dumps, always off).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// RLIMIT_NOFILE: open files.
    pub nofile: Option<u64>,
    /// RLIMIT_NPROC: processes of the build's (host) user.
    pub nproc: Option<u64>,
    /// RLIMIT_AS: address space in bytes.
    pub address_space: Option<u64>,
}

/// The build tree as an overlay: the pristine source read-only below, the
/// build's writes in `upper` (which is then the run's `host_dir`).
#[derive(Debug, Clone)]
pub struct Overlay {
    /// The pristine tree, shared by every run and never written.
    pub lower: PathBuf,
    /// overlayfs's work directory: empty, on the file system of `upper`.
    pub work: PathBuf,
}

/// Everything needed to run one build step.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Program and arguments; the program is looked up on the build's PATH.
    pub argv: Vec<OsString>,
    /// The build directory on the host (the fresh copy of the source), or
    /// with `overlay` the empty directory that receives the build's writes.
    pub host_dir: PathBuf,
    /// Build in an overlay of a shared pristine tree instead of a copy:
    /// setting up a run then costs a mount, not a copy of the source, and
    /// its disk use is what the build writes (see [`crate::merge_overlay`]).
    pub overlay: Option<Overlay>,
    /// The build directory as the build sees it: bind-mounted there in a
    /// sandbox; must equal `host_dir` without isolation.
    pub build_dir: PathBuf,
    /// The complete environment (nothing else is inherited). Its HOME is a
    /// fresh tmpfs in a sandbox and must be an existing empty dir without.
    pub env: BuildEnv,
    /// File that receives stdout and stderr, created or truncated.
    pub log: PathBuf,
    /// Wall-clock limit; the run and everything it started are killed.
    pub timeout: Option<Duration>,
    /// The umask the build starts with.
    pub umask: u32,
    /// Namespaces or none.
    pub isolation: Isolation,
    /// Host paths made visible read-only at the same path (sandbox only).
    pub ro_binds: Vec<PathBuf>,
    /// Host directories shown read-only below the build dir: (host path,
    /// path relative to the build dir), e.g. fetched dependencies (sandbox
    /// only; the caller creates the empty directory to mount on).
    pub build_binds: Vec<(PathBuf, PathBuf)>,
    /// Share the host network instead of a private loopback (sandbox only).
    pub network: bool,
    /// Hostname in the uts namespace (sandbox only).
    pub hostname: String,
    /// NIS domain name in the uts namespace (sandbox only).
    pub domainname: String,
    /// The build user (sandbox only).
    pub user: BuildUser,
    /// Pin the build to one CPU (sched_setaffinity) instead of all.
    pub one_cpu: bool,
    /// Show the build dir through disorderfs, directory entries sorted
    /// then reversed (sandbox only; see `variations::disorderfs`).
    pub reverse_dir_order: bool,
    /// Disable address-space layout randomization (personality).
    pub no_aslr: bool,
    /// Report a 2.6 kernel release (personality UNAME26).
    pub uname26: bool,
    /// Resource limits.
    pub limits: Limits,
}
