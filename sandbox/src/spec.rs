//! What one sandboxed run looks like: the plain data the caller fills in.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::cgroup::CgroupLimits;
use crate::{BuildEnv, LimitMechanism};

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
/// `None` leaves a limit as inherited (or as the kernel's default). The
/// memory and process limits are a cgroup's where cgroup v2 is delegated
/// to repro, else rlimits: see [`LimitMechanism`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceLimits {
    /// RLIMIT_NOFILE: open files.
    pub nofile: Option<u64>,
    /// Processes (and threads) the build may have at once. With cgroup v2
    /// it is the run's `pids.max`, which counts only the run's own
    /// processes. As RLIMIT_NPROC, Linux 5.14+ counts per user namespace,
    /// so in a sandbox each run counts only its own; without namespaces
    /// (or on older kernels) it counts every process of the build's host
    /// uid.
    pub nproc: Option<u64>,
    /// RLIMIT_AS: address space of each process, in bytes.
    pub address_space: Option<u64>,
    /// Memory limit in bytes: the run's `memory.max` with cgroup v2 (the
    /// build's total), else RLIMIT_AS (each process's address space).
    pub memory_max: Option<u64>,
    /// Size of each writable tmpfs the sandbox mounts (/tmp, HOME,
    /// /dev/shm), in bytes; `None` is the kernel's default, half of RAM.
    pub tmpfs_size: Option<u64>,
}

/// A resource limit a run sets with setrlimit(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rlimit {
    /// RLIMIT_NOFILE.
    Nofile,
    /// RLIMIT_NPROC.
    Nproc,
    /// RLIMIT_AS.
    AddressSpace,
}

impl Rlimit {
    /// The name used in reports and repro.toml.
    pub fn name(self) -> &'static str {
        match self {
            Rlimit::Nofile => "nofile",
            Rlimit::Nproc => "nproc",
            Rlimit::AddressSpace => "address_space",
        }
    }
}

/// Size of the sandbox's own tmpfs mounts that hold no build data: the new
/// root (read-only once assembled) and /dev (device nodes and symlinks).
pub const SMALL_TMPFS_SIZE: u64 = 1 << 20;

impl ResourceLimits {
    /// RLIMIT_NPROC unless told otherwise: far above any real build's
    /// parallelism, far below what a fork bomb needs to hurt the host.
    pub const DEFAULT_NPROC: u64 = 4096;
    /// Size of each writable tmpfs unless told otherwise.
    pub const DEFAULT_TMPFS_SIZE: u64 = 4 << 30;

    /// The limits `repro build` uses unless told otherwise: [`Self::DEFAULT_NPROC`],
    /// [`Self::DEFAULT_TMPFS_SIZE`], and the machine's physical memory as
    /// the memory limit (when /proc/meminfo says how much there is).
    pub fn defaults() -> Self {
        ResourceLimits {
            nofile: None,
            nproc: Some(Self::DEFAULT_NPROC),
            address_space: None,
            memory_max: physical_memory(),
            tmpfs_size: Some(Self::DEFAULT_TMPFS_SIZE),
        }
    }

    /// The rlimits a run sets under `mechanism`. With rlimits, RLIMIT_AS
    /// is the smaller of `address_space` and `memory_max` and `nproc` is
    /// RLIMIT_NPROC; with cgroup v2 those two are the cgroup's and only
    /// `nofile` and `address_space` are rlimits.
    pub fn rlimits(&self, mechanism: &LimitMechanism) -> Vec<(Rlimit, u64)> {
        let (address_space, nproc) = match mechanism {
            LimitMechanism::CgroupV2 { .. } => (self.address_space, None),
            LimitMechanism::Rlimit { .. } => (
                match (self.address_space, self.memory_max) {
                    (Some(a), Some(m)) => Some(a.min(m)),
                    (a, m) => a.or(m),
                },
                self.nproc,
            ),
        };
        [
            (Rlimit::Nofile, self.nofile),
            (Rlimit::Nproc, nproc),
            (Rlimit::AddressSpace, address_space),
        ]
        .into_iter()
        .filter_map(|(which, v)| v.map(|v| (which, v)))
        .collect()
    }

    /// The limits of a run's cgroup; `overhead` is how many processes of
    /// the sandbox's own (its init, its helper) the cgroup holds besides
    /// the build's.
    pub(crate) fn cgroup_limits(&self, overhead: u64) -> CgroupLimits {
        CgroupLimits {
            memory_max: self.memory_max,
            pids_max: self.nproc.map(|n| n.saturating_add(overhead)),
        }
    }

    /// The size of every tmpfs a sandboxed run mounts, by mount point
    /// (`HOME` for the home directory, wherever it is); `None` is the
    /// kernel's default.
    pub fn tmpfs_sizes(&self) -> [(&'static str, Option<u64>); 5] {
        [
            ("/", Some(SMALL_TMPFS_SIZE)),
            ("/dev", Some(SMALL_TMPFS_SIZE)),
            ("/dev/shm", self.tmpfs_size),
            ("/tmp", self.tmpfs_size),
            ("HOME", self.tmpfs_size),
        ]
    }
}

/// MemTotal of /proc/meminfo in bytes.
fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
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
    pub limits: ResourceLimits,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rlimit_as_is_the_tighter_of_the_two_limits() {
        let limits = |address_space, memory_max| ResourceLimits {
            address_space,
            memory_max,
            ..ResourceLimits::default()
        };
        let rlimit = LimitMechanism::Rlimit { why: String::new() };
        let as_of = |l: ResourceLimits| {
            l.rlimits(&rlimit)
                .into_iter()
                .find(|(r, _)| *r == Rlimit::AddressSpace)
                .map(|(_, v)| v)
        };
        assert_eq!(as_of(limits(None, None)), None);
        assert_eq!(as_of(limits(Some(5), None)), Some(5));
        assert_eq!(as_of(limits(None, Some(7))), Some(7));
        assert_eq!(as_of(limits(Some(9), Some(7))), Some(7));
        assert_eq!(as_of(limits(Some(5), Some(7))), Some(5));
    }

    #[test]
    fn defaults_bound_processes_and_scratch_space() {
        let d = ResourceLimits::defaults();
        assert_eq!(d.nproc, Some(ResourceLimits::DEFAULT_NPROC));
        assert_eq!(d.tmpfs_size, Some(ResourceLimits::DEFAULT_TMPFS_SIZE));
        assert!(d.tmpfs_sizes().iter().all(|(_, size)| size.is_some()));
    }

    #[test]
    fn cgroups_take_over_the_memory_and_process_limits() {
        let l = ResourceLimits {
            nofile: Some(64),
            nproc: Some(100),
            address_space: None,
            memory_max: Some(1 << 30),
            tmpfs_size: None,
        };
        let cgroup = LimitMechanism::CgroupV2 {
            parent: "/sys/fs/cgroup/x".into(),
        };
        assert_eq!(l.rlimits(&cgroup), [(Rlimit::Nofile, 64)]);
        let limits = l.cgroup_limits(3);
        assert_eq!(limits.memory_max, Some(1 << 30));
        assert_eq!(limits.pids_max, Some(103));
        let rlimit = LimitMechanism::Rlimit { why: "x".into() };
        assert_eq!(
            l.rlimits(&rlimit),
            [
                (Rlimit::Nofile, 64),
                (Rlimit::Nproc, 100),
                (Rlimit::AddressSpace, 1 << 30)
            ]
        );
    }
}
