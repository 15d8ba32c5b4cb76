//! cgroup v2 limits: each run in a cgroup of its own, with `memory.max`
//! and `pids.max`, killed as a whole and removed when it ends.
//!
//! rlimits are a weak substitute: RLIMIT_AS bounds each process's address
//! space (not the build's memory, and it breaks programs that reserve more
//! than they use), and RLIMIT_NPROC counts per user, not per build. A
//! cgroup bounds what the build as a whole uses and, with `cgroup.kill`,
//! ends every process in it, however it detached itself.
//!
//! repro may use cgroup v2 only where the subtree it runs in is delegated
//! to it: the unified hierarchy is mounted, repro's own cgroup (the `0::`
//! line of /proc/self/cgroup) is writable and offers the memory and pids
//! controllers in `cgroup.controllers`. That is the case under systemd
//! with `Delegate=yes`, in a container with a private cgroup namespace,
//! and for root on a host with the unified layout. Anywhere else (a hybrid
//! layout with the controllers bound to cgroup v1, a read-only
//! /sys/fs/cgroup, a cgroup owned by someone else) runs fall back to
//! RLIMIT_AS and RLIMIT_NPROC, and [`LimitMechanism::Rlimit`] says why.
//!
//! Runs' cgroups are children of repro's cgroup, which must enable the
//! controllers in its `cgroup.subtree_control`. The kernel allows that
//! only for a cgroup without processes of its own (the "no internal
//! processes" rule, root excepted), so when enabling fails and repro's
//! cgroup has processes, they (repro, and whatever shares the delegated
//! cgroup with it, such as the shell that started it) move to a leaf,
//! [`LEAF`], first.

use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::sys::{self, CgroupJoin};
use crate::{Error, Result};

/// The child cgroup repro's own processes move to when its cgroup must
/// enable controllers for its children.
pub const LEAF: &str = "repro-leaf";

/// Prefix of the runs' cgroups: `repro-run-<repro's pid>-<n>`.
const RUN_PREFIX: &str = "repro-run-";

/// The controllers a run's cgroup needs.
const CONTROLLERS: [&str; 2] = ["memory", "pids"];

/// How a run's memory and process limits are enforced on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitMechanism {
    /// Each run in its own child cgroup of `parent`: `memory.max`,
    /// `pids.max`, killed with `cgroup.kill`, removed afterwards.
    CgroupV2 {
        /// repro's delegated cgroup, where the runs' cgroups are made.
        parent: PathBuf,
    },
    /// RLIMIT_AS and RLIMIT_NPROC set in the build process.
    Rlimit {
        /// Why cgroup v2 could not be used.
        why: String,
    },
}

impl LimitMechanism {
    /// The mechanism's name in reports: `cgroup2` or `rlimit`.
    pub fn name(&self) -> &'static str {
        match self {
            LimitMechanism::CgroupV2 { .. } => "cgroup2",
            LimitMechanism::Rlimit { .. } => "rlimit",
        }
    }

    /// What enforces the memory limit, as reports name it.
    pub fn memory(&self) -> &'static str {
        match self {
            LimitMechanism::CgroupV2 { .. } => "cgroup v2 memory.max",
            LimitMechanism::Rlimit { .. } => "RLIMIT_AS",
        }
    }

    /// The cgroup the runs' cgroups are made in, or why there is none.
    pub fn detail(&self) -> String {
        match self {
            LimitMechanism::CgroupV2 { parent } => parent.display().to_string(),
            LimitMechanism::Rlimit { why } => why.clone(),
        }
    }
}

/// How this process enforces limits, found out (and the delegated
/// subtree prepared) the first time it is asked.
pub fn limit_mechanism() -> &'static LimitMechanism {
    static MECHANISM: OnceLock<LimitMechanism> = OnceLock::new();
    MECHANISM.get_or_init(|| match detect(&RealFs) {
        Ok(parent) => LimitMechanism::CgroupV2 { parent },
        Err(why) => LimitMechanism::Rlimit { why },
    })
}

/// The file operations detection needs: the real cgroupfs, or a
/// simulation of the kernel's rules in tests.
pub(crate) trait CgroupFs {
    /// The whole file.
    fn read(&self, path: &Path) -> std::io::Result<String>;
    /// One write(2) of `data` (cgroupfs acts on each write).
    fn write(&self, path: &Path, data: &str) -> std::io::Result<()>;
    /// mkdir, tolerating an existing directory.
    fn mkdir(&self, path: &Path) -> std::io::Result<()>;
    /// Whether this process may write `path` (access(2) W_OK).
    fn writable(&self, path: &Path) -> bool;
    /// This process's id.
    fn pid(&self) -> u32;
}

/// The real file system.
struct RealFs;

impl CgroupFs for RealFs {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
    fn write(&self, path: &Path, data: &str) -> std::io::Result<()> {
        write_once(path, data)
    }
    fn mkdir(&self, path: &Path) -> std::io::Result<()> {
        match std::fs::create_dir(path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            other => other,
        }
    }
    fn writable(&self, path: &Path) -> bool {
        nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).is_ok()
    }
    fn pid(&self) -> u32 {
        std::process::id()
    }
}

/// Writes `data` with a single write(2): a cgroup file takes each write as
/// one command, and a short write would be a different one.
fn write_once(path: &Path, data: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    let n = f.write(data.as_bytes())?;
    if n != data.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::WriteZero,
            "short write to a cgroup file",
        ));
    }
    Ok(())
}

/// The path of this process's cgroup in the unified hierarchy: the `0::`
/// line of /proc/self/cgroup.
pub(crate) fn unified_cgroup(proc_self_cgroup: &str) -> Option<&str> {
    proc_self_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::trim_end)
}

/// One line of /proc/self/mountinfo, as far as detection needs it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Mount {
    /// The path inside the file system that is mounted (field 4).
    pub root: String,
    /// Where it is mounted (field 5).
    pub point: PathBuf,
    /// The file system type (first field after " - ").
    pub fstype: String,
    /// Its super options (third field after " - ").
    pub options: String,
}

/// The mounts in /proc/self/mountinfo text; lines that do not parse are
/// skipped.
pub(crate) fn mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (fields, fs) = line.split_once(" - ")?;
            let mut fields = fields.split(' ');
            let root = fields.nth(3)?;
            let point = fields.next()?;
            let mut fs = fs.split(' ');
            let fstype = fs.next()?;
            let options = fs.nth(1).unwrap_or("");
            Some(Mount {
                root: unescape(root),
                point: PathBuf::from(std::ffi::OsStr::from_bytes(&unescape_bytes(point))),
                fstype: fstype.to_string(),
                options: options.to_string(),
            })
        })
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_bytes(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .map(|d| d.iter().fold(0u32, |n, c| n * 8 + u32::from(c - b'0')));
        match octal.and_then(|v| u8::try_from(v).ok()) {
            Some(v) => {
                out.push(v);
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

fn unescape(s: &str) -> String {
    String::from_utf8_lossy(&unescape_bytes(s)).into_owned()
}

/// The directory of the cgroup `path` (of /proc/self/cgroup) in a mounted
/// cgroup v2 hierarchy: the mount at /sys/fs/cgroup if it shows `path`,
/// else the first one that does (a hybrid layout's /sys/fs/cgroup/unified).
pub(crate) fn cgroup_dir(path: &str, mounts: &[Mount]) -> Option<PathBuf> {
    let shows = |m: &Mount| -> Option<PathBuf> {
        if m.fstype != "cgroup2" {
            return None;
        }
        let root = m.root.trim_end_matches('/');
        let rest = path.strip_prefix(root)?;
        // "/a" must not match the cgroup "/ab".
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        let rest = rest.trim_start_matches('/');
        // join("") would add a trailing slash to the path in messages.
        Some(if rest.is_empty() {
            m.point.clone()
        } else {
            m.point.join(rest)
        })
    };
    let preferred = mounts
        .iter()
        .filter(|m| m.point == Path::new("/sys/fs/cgroup"))
        .find_map(shows);
    preferred.or_else(|| mounts.iter().find_map(shows))
}

/// Whether the space-separated list `text` names `word`.
fn lists(text: &str, word: &str) -> bool {
    text.split_whitespace().any(|w| w == word)
}

/// Finds repro's delegated cgroup and makes it ready for the runs'
/// cgroups (controllers enabled for its children); the error says why
/// cgroup v2 is unusable here.
pub(crate) fn detect(fs: &dyn CgroupFs) -> Result<PathBuf, String> {
    let self_cgroup = fs
        .read(Path::new("/proc/self/cgroup"))
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let mountinfo = fs
        .read(Path::new("/proc/self/mountinfo"))
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let path = unified_cgroup(&self_cgroup)
        .ok_or("this process is in no cgroup v2 hierarchy (/proc/self/cgroup has no 0:: line)")?;
    let mounts = mounts(&mountinfo);
    let dir = cgroup_dir(path, &mounts).ok_or_else(|| {
        format!("no cgroup2 file system showing this process's cgroup {path} is mounted")
    })?;
    delegate(fs, &dir, &mounts)
}

/// Checks that `dir` (repro's own cgroup) offers and may enable the
/// controllers, enabling them for its children, after moving its
/// processes to [`LEAF`] if the kernel insists.
pub(crate) fn delegate(fs: &dyn CgroupFs, dir: &Path, mounts: &[Mount]) -> Result<PathBuf, String> {
    let controllers_file = dir.join("cgroup.controllers");
    let controllers = fs
        .read(&controllers_file)
        .map_err(|e| format!("cannot read {}: {e}", controllers_file.display()))?;
    let missing: Vec<&str> = CONTROLLERS
        .into_iter()
        .filter(|c| !lists(&controllers, c))
        .collect();
    if !missing.is_empty() {
        // Where a controller went: a hybrid layout binds it to cgroup v1.
        let v1: Vec<String> = missing
            .iter()
            .filter_map(|c| {
                mounts
                    .iter()
                    .find(|m| m.fstype == "cgroup" && m.options.split(',').any(|o| o == *c))
                    .map(|m| {
                        format!(
                            "{c} is bound to the cgroup v1 hierarchy at {}",
                            m.point.display()
                        )
                    })
            })
            .collect();
        return Err(format!(
            "the {} controller{} not available in {} (it offers: {}){}",
            missing.join(" and "),
            if missing.len() == 1 { " is" } else { "s are" },
            dir.display(),
            if controllers.trim().is_empty() {
                "none"
            } else {
                controllers.trim()
            },
            if v1.is_empty() {
                String::new()
            } else {
                format!("; {}", v1.join(", "))
            }
        ));
    }
    for file in ["", "cgroup.subtree_control", "cgroup.procs"] {
        let path = dir.join(file);
        if !fs.writable(&path) {
            return Err(format!(
                "{} is not writable by this process (no delegated cgroup; under systemd use Delegate=yes)",
                path.display()
            ));
        }
    }
    let subtree = dir.join("cgroup.subtree_control");
    let enabled = |fs: &dyn CgroupFs| {
        fs.read(&subtree)
            .map(|s| CONTROLLERS.iter().all(|c| lists(&s, c)))
            .unwrap_or(false)
    };
    if enabled(fs) {
        return Ok(dir.to_path_buf());
    }
    let enable = "+memory +pids";
    let first = match fs.write(&subtree, enable) {
        Ok(()) => return Ok(dir.to_path_buf()),
        Err(e) => e,
    };
    // The "no internal processes" rule: move this cgroup's processes to a
    // leaf, then try again.
    let procs_file = dir.join("cgroup.procs");
    let procs = fs
        .read(&procs_file)
        .map_err(|e| format!("cannot read {}: {e}", procs_file.display()))?;
    if procs.trim().is_empty() {
        return Err(format!(
            "cannot enable the memory and pids controllers in {}: {first}",
            subtree.display()
        ));
    }
    let leaf = dir.join(LEAF);
    fs.mkdir(&leaf)
        .map_err(|e| format!("cannot create {}: {e}", leaf.display()))?;
    let leaf_procs = leaf.join("cgroup.procs");
    // This process first, so that it is in the leaf even if a stranger
    // cannot be moved.
    let own = fs.pid().to_string();
    let others = procs.split_whitespace().filter(|p| *p != own.as_str());
    for pid in std::iter::once(own.as_str()).chain(others) {
        match fs.write(&leaf_procs, pid) {
            Ok(()) => {}
            // It exited meanwhile.
            Err(e) if e.raw_os_error() == Some(nix::libc::ESRCH) => {}
            Err(e) => {
                return Err(format!(
                    "cannot move process {pid} from {} to {}: {e}",
                    dir.display(),
                    leaf.display()
                ))
            }
        }
    }
    fs.write(&subtree, enable).map_err(|e| {
        format!(
            "cannot enable the memory and pids controllers in {} even with its processes moved to {}: {e}",
            subtree.display(),
            leaf.display()
        )
    })?;
    Ok(dir.to_path_buf())
}

/// The limits a run's cgroup sets; `None` leaves one at "max".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CgroupLimits {
    /// memory.max in bytes (and memory.swap.max 0, where swap is accounted).
    pub memory_max: Option<u64>,
    /// pids.max.
    pub pids_max: Option<u64>,
}

/// What a run's cgroup recorded when it ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Ended {
    /// Processes the OOM killer killed because of memory.max.
    pub oom_kills: u64,
}

/// A run's own cgroup, killed and removed by [`RunCgroup::finish`] (or,
/// failing that, on drop).
#[derive(Debug)]
pub(crate) struct RunCgroup {
    dir: PathBuf,
    /// cgroup.procs, open for C1 to write "0" into.
    procs: File,
    finished: bool,
}

/// Numbers the runs' cgroups of this process.
static RUNS: AtomicU64 = AtomicU64::new(0);

fn cgroup_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Cgroup {
        action,
        path: path.to_path_buf(),
        source,
    }
}

impl RunCgroup {
    /// Makes a new cgroup below `parent` with `limits`.
    pub(crate) fn create(parent: &Path, limits: CgroupLimits) -> Result<Self> {
        let n = RUNS.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("{RUN_PREFIX}{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).map_err(cgroup_err("create the run's cgroup", &dir))?;
        let procs_path = dir.join("cgroup.procs");
        // From here on, dropping `cgroup` removes the directory again.
        let procs = std::fs::OpenOptions::new()
            .write(true)
            .open(&procs_path)
            .map_err(cgroup_err("open", &procs_path));
        let procs = match procs {
            Ok(f) => f,
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                return Err(e);
            }
        };
        let cgroup = RunCgroup {
            dir,
            procs,
            finished: false,
        };
        if let Some(max) = limits.memory_max {
            cgroup.set("memory.max", &max.to_string())?;
            // Without this, memory.max would push the build into swap
            // instead of stopping it.
            let swap = cgroup.dir.join("memory.swap.max");
            if swap.exists() {
                cgroup.set("memory.swap.max", "0")?;
            }
        }
        if let Some(max) = limits.pids_max {
            cgroup.set("pids.max", &max.to_string())?;
        }
        Ok(cgroup)
    }

    fn set(&self, file: &str, value: &str) -> Result<()> {
        let path = self.dir.join(file);
        write_once(&path, value).map_err(cgroup_err("write a limit to", &path))
    }

    /// What C1 needs to move itself in.
    pub(crate) fn join(&self) -> Result<CgroupJoin> {
        let procs_path = self.dir.join("cgroup.procs");
        Ok(CgroupJoin {
            procs_fd: self.procs.as_raw_fd(),
            procs_path: sys::cstring(procs_path.as_os_str().as_bytes()).ok_or_else(|| {
                Error::Nul {
                    what: "cgroup path",
                    value: procs_path.clone().into_os_string(),
                }
            })?,
        })
    }

    /// SIGKILLs every process in the cgroup: `cgroup.kill` (Linux 5.14+),
    /// else each process `cgroup.procs` lists, until none is left.
    pub(crate) fn kill(&self) {
        if write_once(&self.dir.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        let procs = self.dir.join("cgroup.procs");
        for _ in 0..100 {
            let pids = std::fs::read_to_string(&procs).unwrap_or_default();
            let pids: Vec<i32> = pids
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                // ESRCH: it is gone already.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether a process is still in the cgroup (`populated` of
    /// cgroup.events).
    fn populated(&self) -> bool {
        std::fs::read_to_string(self.dir.join("cgroup.events"))
            .map(|s| s.lines().any(|l| l == "populated 1"))
            .unwrap_or(false)
    }

    /// Kills what is left in the cgroup, waits until it is empty, reads
    /// what it recorded and removes it.
    pub(crate) fn finish(mut self) -> Result<Ended> {
        self.finished = true;
        self.stop_and_remove()
    }

    fn stop_and_remove(&self) -> Result<Ended> {
        self.kill();
        // SIGKILLed processes leave the cgroup once the kernel has torn
        // them down; that takes milliseconds, more under memory pressure.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.populated() {
            if Instant::now() >= deadline {
                return Err(Error::Cgroup {
                    action: "empty (processes survived SIGKILL for 10 s)",
                    path: self.dir.clone(),
                    source: std::io::Error::from(std::io::ErrorKind::TimedOut),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let ended = Ended {
            oom_kills: std::fs::read_to_string(self.dir.join("memory.events"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("oom_kill "))
                        .and_then(|n| n.trim().parse().ok())
                })
                .unwrap_or(0),
        };
        // The directory can be busy for a moment after the last process
        // left (the kernel frees the css asynchronously).
        let mut tries = 0;
        loop {
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => return Ok(ended),
                Err(e) if e.raw_os_error() == Some(nix::libc::EBUSY) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ended),
                Err(source) => {
                    return Err(Error::Cgroup {
                        action: "remove the run's cgroup",
                        path: self.dir.clone(),
                        source,
                    })
                }
            }
        }
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        if !self.finished {
            // An error path: nothing may outlive the run, and the cgroup
            // goes too if it can.
            let _ = self.stop_and_remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const HYBRID_CGROUP: &str = "\
9:name=systemd:/
8:pids:/
4:memory:/process_api/42d6
0::/
";

    #[test]
    fn proc_self_cgroup_gives_the_unified_path() {
        assert_eq!(unified_cgroup(HYBRID_CGROUP), Some("/"));
        assert_eq!(
            unified_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n"),
            Some("/user.slice/user-1000.slice/session-2.scope")
        );
        assert_eq!(unified_cgroup("4:memory:/a\n1:cpu:/\n"), None);
    }

    #[test]
    fn mountinfo_lines_are_parsed_and_unescaped() {
        let m = mounts(
            "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n\
             50 31 0:40 /a\\040b /mnt/with\\040space rw shared:1 - cgroup2 none rw,nsdelegate\n\
             garbage\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].point, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(m[0].fstype, "cgroup2");
        assert_eq!(m[1].root, "/a b");
        assert_eq!(m[1].point, Path::new("/mnt/with space"));
        assert_eq!(m[1].options, "rw,nsdelegate");
    }

    #[test]
    fn the_cgroup_dir_is_found_under_the_mount_that_shows_it() {
        let unified = mounts(
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n\
             60 23 0:26 / /mnt/other rw - cgroup2 cgroup2 rw\n",
        );
        assert_eq!(
            cgroup_dir("/system.slice/repro.service", &unified),
            Some(PathBuf::from("/sys/fs/cgroup/system.slice/repro.service"))
        );
        assert_eq!(
            cgroup_dir("/", &unified),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        // A bind of a subtree shows only what is below its root.
        let sub = mounts("30 23 0:26 /ci /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        assert_eq!(
            cgroup_dir("/ci/job", &sub),
            Some(PathBuf::from("/sys/fs/cgroup/job"))
        );
        assert_eq!(cgroup_dir("/cix", &sub), None);
        assert_eq!(cgroup_dir("/other", &sub), None);
        // Hybrid: the unified hierarchy is under /sys/fs/cgroup/unified.
        assert_eq!(
            cgroup_dir("/", &mounts(HYBRID_MOUNTINFO)),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
    }

    /// A cgroupfs simulated in memory, with the kernel's rules that matter
    /// here: a process is in one cgroup, and a non-root cgroup with
    /// processes cannot enable controllers for its children.
    struct FakeFs {
        files: RefCell<BTreeMap<PathBuf, String>>,
        read_only: Vec<PathBuf>,
        root: PathBuf,
        pid: u32,
    }

    impl FakeFs {
        fn new(root: &str, self_cgroup: &str, mountinfo: &str, pid: u32) -> Self {
            let mut files = BTreeMap::new();
            files.insert(PathBuf::from("/proc/self/cgroup"), self_cgroup.to_string());
            files.insert(PathBuf::from("/proc/self/mountinfo"), mountinfo.to_string());
            FakeFs {
                files: RefCell::new(files),
                read_only: Vec::new(),
                root: PathBuf::from(root),
                pid,
            }
        }
        fn cgroup(self, dir: &str, controllers: &str, subtree: &str, procs: &[u32]) -> Self {
            let dir = PathBuf::from(dir);
            let mut f = self.files.borrow_mut();
            f.insert(dir.join("cgroup.controllers"), controllers.into());
            f.insert(dir.join("cgroup.subtree_control"), subtree.into());
            let procs: String = procs.iter().map(|p| format!("{p}\n")).collect();
            f.insert(dir.join("cgroup.procs"), procs);
            drop(f);
            self
        }
        fn get(&self, path: &str) -> String {
            self.files
                .borrow()
                .get(Path::new(path))
                .cloned()
                .unwrap_or_default()
        }
    }

    fn errno(n: i32) -> std::io::Error {
        std::io::Error::from_raw_os_error(n)
    }

    impl CgroupFs for FakeFs {
        fn read(&self, path: &Path) -> std::io::Result<String> {
            self.files
                .borrow()
                .get(path)
                .cloned()
                .ok_or_else(|| errno(nix::libc::ENOENT))
        }
        fn write(&self, path: &Path, data: &str) -> std::io::Result<()> {
            let dir = path.parent().unwrap().to_path_buf();
            let mut files = self.files.borrow_mut();
            match path.file_name().and_then(|n| n.to_str()) {
                Some("cgroup.subtree_control") => {
                    let has_procs = files
                        .get(&dir.join("cgroup.procs"))
                        .is_some_and(|p| !p.trim().is_empty());
                    if has_procs && dir != self.root {
                        return Err(errno(nix::libc::EBUSY));
                    }
                    let names: Vec<&str> = data
                        .split_whitespace()
                        .map(|w| w.trim_start_matches('+'))
                        .collect();
                    files.insert(path.to_path_buf(), names.join(" "));
                }
                Some("cgroup.procs") => {
                    if !files.contains_key(path) {
                        return Err(errno(nix::libc::ENOENT));
                    }
                    for (p, text) in files.iter_mut() {
                        if p.ends_with("cgroup.procs") {
                            *text = text
                                .lines()
                                .filter(|l| *l != data)
                                .map(|l| format!("{l}\n"))
                                .collect();
                        }
                    }
                    files.get_mut(path).unwrap().push_str(&format!("{data}\n"));
                }
                _ => {
                    files.insert(path.to_path_buf(), data.to_string());
                }
            }
            Ok(())
        }
        fn mkdir(&self, path: &Path) -> std::io::Result<()> {
            let mut files = self.files.borrow_mut();
            files.entry(path.join("cgroup.procs")).or_default();
            files.entry(path.join("cgroup.controllers")).or_default();
            Ok(())
        }
        fn writable(&self, path: &Path) -> bool {
            !self.read_only.iter().any(|r| path.starts_with(r))
        }
        fn pid(&self) -> u32 {
            self.pid
        }
    }

    const UNIFIED: &str = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
    const SERVICE: &str = "/sys/fs/cgroup/system.slice/repro.service";

    #[test]
    fn a_hybrid_layout_falls_back_and_says_where_the_controllers_are() {
        let fs = FakeFs::new("/sys/fs/cgroup/unified", HYBRID_CGROUP, HYBRID_MOUNTINFO, 7).cgroup(
            "/sys/fs/cgroup/unified",
            "hugetlb\n",
            "",
            &[1, 7],
        );
        let why = detect(&fs).unwrap_err();
        assert_eq!(
            why,
            "the memory and pids controllers are not available in /sys/fs/cgroup/unified \
             (it offers: hugetlb); memory is bound to the cgroup v1 hierarchy at \
             /sys/fs/cgroup/memory, pids is bound to the cgroup v1 hierarchy at /sys/fs/cgroup/pids"
        );
    }

    #[test]
    fn a_cgroup_v1_only_host_falls_back() {
        let fs = FakeFs::new("/", "4:memory:/a\n", HYBRID_MOUNTINFO, 7);
        assert!(detect(&fs).unwrap_err().contains("no 0:: line"));
    }

    #[test]
    fn a_cgroup_that_is_not_ours_falls_back() {
        let mut fs = FakeFs::new("/sys/fs/cgroup", "0::/user.slice\n", UNIFIED, 7).cgroup(
            "/sys/fs/cgroup/user.slice",
            "cpu memory pids",
            "",
            &[7],
        );
        fs.read_only
            .push(PathBuf::from("/sys/fs/cgroup/user.slice"));
        let why = detect(&fs).unwrap_err();
        assert!(why.contains("is not writable"), "{why}");
        assert!(why.contains("Delegate=yes"), "{why}");
    }

    #[test]
    fn a_delegated_cgroup_with_processes_moves_them_to_a_leaf() {
        let fs = FakeFs::new(
            "/sys/fs/cgroup",
            "0::/system.slice/repro.service\n",
            UNIFIED,
            7,
        )
        .cgroup(SERVICE, "cpu io memory pids\n", "", &[3, 7]);
        assert_eq!(detect(&fs), Ok(PathBuf::from(SERVICE)));
        assert_eq!(fs.get(&format!("{SERVICE}/cgroup.procs")), "");
        // repro moved first, then the others.
        assert_eq!(fs.get(&format!("{SERVICE}/{LEAF}/cgroup.procs")), "7\n3\n");
        assert_eq!(
            fs.get(&format!("{SERVICE}/cgroup.subtree_control")),
            "memory pids"
        );
    }

    #[test]
    fn an_empty_delegated_cgroup_or_the_root_enables_in_place() {
        // Controllers already on: nothing to do, nobody moves.
        let fs = FakeFs::new(
            "/sys/fs/cgroup",
            "0::/system.slice/repro.service\n",
            UNIFIED,
            7,
        )
        .cgroup(SERVICE, "memory pids", "memory pids", &[7]);
        assert_eq!(detect(&fs), Ok(PathBuf::from(SERVICE)));
        assert_eq!(fs.get(&format!("{SERVICE}/cgroup.procs")), "7\n");
        // The root cgroup is exempt from the no-internal-processes rule.
        let fs = FakeFs::new("/sys/fs/cgroup", "0::/\n", UNIFIED, 7).cgroup(
            "/sys/fs/cgroup",
            "cpu memory pids",
            "",
            &[1, 7],
        );
        assert_eq!(detect(&fs), Ok(PathBuf::from("/sys/fs/cgroup")));
        assert_eq!(fs.get("/sys/fs/cgroup/cgroup.procs"), "1\n7\n");
    }

    /// Detection reads real files too: a fake cgroupfs tree in a temp dir,
    /// with controllers offered but the kernel's enabling impossible (a
    /// regular file takes any write, so this checks the read side).
    #[test]
    fn detection_reads_a_tree_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let cg = dir.path().join("cg");
        std::fs::create_dir(&cg).unwrap();
        std::fs::write(cg.join("cgroup.controllers"), "cpuset cpu pids\n").unwrap();
        std::fs::write(cg.join("cgroup.subtree_control"), "").unwrap();
        std::fs::write(cg.join("cgroup.procs"), "1\n").unwrap();
        let mountinfo = format!(
            "30 23 0:26 / {} rw - cgroup2 cgroup2 rw\n",
            dir.path().display()
        );
        let found = cgroup_dir("/cg", &mounts(&mountinfo)).unwrap();
        assert_eq!(found, cg);
        let why = delegate(&RealFs, &found, &[]).unwrap_err();
        assert!(
            why.starts_with("the memory controller is not available in"),
            "{why}"
        );
        assert!(why.ends_with("(it offers: cpuset cpu pids)"), "{why}");
        std::fs::write(cg.join("cgroup.controllers"), "memory pids\n").unwrap();
        assert_eq!(delegate(&RealFs, &found, &[]), Ok(cg.clone()));
        assert_eq!(
            std::fs::read_to_string(cg.join("cgroup.subtree_control")).unwrap(),
            "+memory +pids"
        );
    }
}
