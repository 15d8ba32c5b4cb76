//! Every raw syscall and every `unsafe` block of the sandbox crate.
//!
//! The parent prepares a [`Plan`] (all strings already turned into
//! `CString`s and argv/envp into NUL-terminated pointer arrays, all paths
//! resolved, the CPU set and the seccomp program built) in safe code; after
//! `fork` the children only walk that plan and make system calls. repro
//! forks while other threads run, so a child may not allocate or take a
//! lock before it execs: `child`'s module doc says how that is kept.
//!
//! Process tree of a sandboxed run:
//!
//! ```text
//! repro ── C1: join the run's cgroup (when cgroup v2 limits are used),
//!          │   unshare(user, mount, pid, net, uts, ipc), uid/gid maps
//!            └─ C2 = PID 1 of the new pid namespace: mounts, pivot_root,
//!                 hostname, loopback; reaps orphans; reports the status
//!                 └─ C3: setsid, new session keyring, umask, rlimits,
//!                        no_new_privs, seccomp, execve(build)
//! ```
//!
//! Every process has PR_SET_PDEATHSIG(SIGKILL): killing C1 (the timeout)
//! kills C2, and the death of a pid namespace's init kills everything in
//! it, so a build cannot outlive repro.
#![allow(unsafe_code)]

mod child;
#[cfg(test)]
pub(crate) use child::tests::ALLOCATED;
mod seccomp;

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::Read as _;
use std::os::fd::{AsRawFd as _, RawFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{kill, killpg, sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe2, ForkResult, Pid};

/// One step of assembling the sandbox's root file system.
#[derive(Debug)]
pub(crate) enum Op {
    /// mkdir, tolerating EEXIST.
    Mkdir { path: CString, mode: u32 },
    /// symlink(target, link).
    Symlink { target: CString, link: CString },
    /// Create an empty file to bind a file onto.
    Touch { path: CString },
    /// Create a file with this content.
    Write { path: CString, data: Vec<u8> },
    /// Make the mount at `path` and every mount below it read-only
    /// (mount_setattr(2) with AT_RECURSIVE, Linux 5.12+): a plain read-only
    /// remount would leave nested mounts writable.
    ReadOnlyTree { path: CString },
    /// move_mount(2) of a detached tree made by [`clone_tree`] onto `dst`.
    AttachTree {
        fd: RawFd,
        dst: CString,
        /// `open_tree("/root/.cargo") → "/newroot/root/.cargo"`, for errors.
        desc: String,
    },
    /// mount(2).
    Mount {
        src: Option<CString>,
        dst: CString,
        fstype: Option<CString>,
        flags: MsFlags,
        data: Option<CString>,
        /// `mount("/usr" → "/newroot/usr", MS_BIND|MS_REC)`, for errors.
        desc: String,
    },
}

/// A NUL-free copy of `s` for the kernel.
pub(crate) fn cstring(s: &[u8]) -> Option<CString> {
    CString::new(s).ok()
}

/// Strings and the NULL-terminated array of pointers to them that
/// execve(2) takes, built before the fork (building it after would
/// allocate in the child).
#[derive(Debug)]
pub(crate) struct CStringArray {
    /// Never changed after `new`: `ptrs` points into these buffers, which
    /// stay where they are when the Vec or the struct moves.
    strings: Vec<CString>,
    ptrs: Vec<*const nix::libc::c_char>,
}

impl CStringArray {
    /// The array of `strings`.
    pub(crate) fn new(strings: Vec<CString>) -> Self {
        let mut ptrs: Vec<_> = strings.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        CStringArray { strings, ptrs }
    }

    /// The first string (argv[0]).
    pub(crate) fn first(&self) -> Option<&CStr> {
        self.strings.first().map(CString::as_c_str)
    }
}

/// execve(2) with prepared arrays; returns only on failure, with the errno.
fn execve(path: &CStr, argv: &CStringArray, envp: &CStringArray) -> Errno {
    // SAFETY: `path` is NUL-terminated; `argv.ptrs` and `envp.ptrs` are
    // NULL-terminated arrays of pointers to NUL-terminated strings that
    // the arrays own and keep unchanged for their whole life.
    unsafe { nix::libc::execve(path.as_ptr(), argv.ptrs.as_ptr(), envp.ptrs.as_ptr()) };
    Errno::last()
}

/// `struct __user_cap_header_struct` of capget(2).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: nix::libc::c_int,
}

/// `struct __user_cap_data_struct` of capget(2).
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// _LINUX_CAPABILITY_VERSION_3: 64-bit sets, as two `CapData`.
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
/// CAP_SYS_ADMIN of linux/capability.h.
const CAP_SYS_ADMIN: u32 = 21;

/// Adds CAP_SYS_ADMIN to this process's inheritable and ambient sets, so
/// a program it execs keeps it (in the current user namespace only).
/// Raw capget/capset/prctl: callable between fork and exec.
fn keep_sys_admin_across_exec() -> nix::Result<()> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capget(2) reads `header` and writes two CapData (the size
    // version 3 implies) into `data`, which has room for exactly two.
    let rc = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    Errno::result(rc)?;
    // CAP_SYS_ADMIN < 32: its bit is in the first of the two structs.
    data[0].inheritable |= 1 << CAP_SYS_ADMIN;
    // SAFETY: capset(2) reads `header` and two CapData from `data`.
    let rc = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    Errno::result(rc)?;
    // SAFETY: prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) takes
    // integers only.
    let rc = unsafe {
        nix::libc::prctl(
            nix::libc::PR_CAP_AMBIENT,
            nix::libc::PR_CAP_AMBIENT_RAISE as nix::libc::c_ulong,
            nix::libc::c_ulong::from(CAP_SYS_ADMIN),
            0 as nix::libc::c_ulong,
            0 as nix::libc::c_ulong,
        )
    };
    Errno::result(rc).map(drop)
}

/// How C3 becomes the build.
#[derive(Debug)]
pub(crate) struct ExecPlan {
    pub cwd: CString,
    /// Full paths to try in order, as execvp would.
    pub candidates: Vec<CString>,
    pub argv: CStringArray,
    pub envp: CStringArray,
    pub umask: u32,
    /// (resource, soft = hard limit)
    pub rlimits: Vec<(nix::sys::resource::Resource, u64)>,
    /// Pin to these CPUs (one).
    pub cpu: Option<nix::sched::CpuSet>,
    pub no_aslr: bool,
    pub uname26: bool,
    pub log_fd: RawFd,
    /// The seccomp program installed right before exec.
    pub seccomp: Vec<nix::libc::sock_filter>,
}

/// The seccomp program that denies the build the keyring syscalls.
pub(crate) fn keyring_filter() -> Vec<nix::libc::sock_filter> {
    seccomp::program(seccomp::keyring_syscalls())
}

/// Credentials to drop to before creating the user namespace (when repro
/// runs as root, so the build never maps to host uid 0).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropTo {
    pub uid: u32,
    pub gid: u32,
}

/// A helper program PID 1 runs to completion before starting the build
/// (disorderfs, which mounts and then daemonizes).
#[derive(Debug)]
pub(crate) struct Helper {
    pub program: CString,
    pub argv: CStringArray,
    pub envp: CStringArray,
}

/// The namespace part of a run.
#[derive(Debug)]
pub(crate) struct NsPlan {
    /// The host build dir; C1 changes into it so it can be bind-mounted as
    /// "." even where its ancestors are closed to the dropped uid.
    pub host_dir: CString,
    pub drop_to: Option<DropTo>,
    pub share_net: bool,
    /// "inside outside 1\n"
    pub uid_map: String,
    pub gid_map: String,
    /// Where the new root's tmpfs is mounted before pivot_root.
    pub new_root: CString,
    pub ops: Vec<Op>,
    /// The detached trees [`Op::AttachTree`] refers to: never read, held
    /// so the descriptors stay open until the run has started.
    #[allow(dead_code)]
    pub trees: Vec<std::os::fd::OwnedFd>,
    pub hostname: String,
    pub domainname: CString,
    /// disorderfs for the fileordering variation.
    pub fileorder: Option<Helper>,
}

/// The cgroup C1 moves itself into before anything else, so every
/// process of the run is born in it.
#[derive(Debug)]
pub(crate) struct CgroupJoin {
    /// Its cgroup.procs, opened for writing by the parent (which keeps it
    /// open until the run has ended).
    pub procs_fd: RawFd,
    /// That file's path, for errors.
    pub procs_path: CString,
}

/// Everything the children need.
#[derive(Debug)]
pub(crate) struct Plan {
    pub ns: Option<NsPlan>,
    pub exec: ExecPlan,
    pub cgroup: Option<CgroupJoin>,
}

/// `_exit`s the process when dropped, which for a forked child can only
/// happen while a panic unwinds: the unwinding must never reach the
/// parent's code, where the child would go on as a second repro.
struct ExitOnUnwind;

impl Drop for ExitOnUnwind {
    fn drop(&mut self) {
        // SAFETY: _exit is async-signal-safe and skips the parent's atexit
        // handlers and buffers.
        unsafe { nix::libc::_exit(child::SETUP_FAILED) }
    }
}

/// A started run: the pid repro waits for and the report pipe.
pub(crate) struct Spawned {
    pub pid: Pid,
    pub report: File,
}

/// Forks the process tree described by `plan`.
pub(crate) fn spawn(plan: &Plan) -> Result<Spawned, (String, Errno)> {
    let (r, w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| ("pipe2(O_CLOEXEC)".to_string(), e))?;
    let parent = nix::unistd::getpid();
    // SAFETY: other threads of repro may hold locks (malloc's among them)
    // at the moment of the fork, and the child has only this thread, so
    // until it execs or _exits it may only make async-signal-safe calls.
    // It runs `child::main`, which never returns, allocates nothing, takes
    // no lock and touches only `plan`, built before the fork and not
    // changed while the child runs (see `child`'s module doc); a panic
    // cannot unwind past `ExitOnUnwind` back into the parent's code.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { child }) => {
            drop(w);
            Ok(Spawned {
                pid: child,
                report: File::from(r),
            })
        }
        Ok(ForkResult::Child) => {
            let _unwinding = ExitOnUnwind;
            let fd = w.as_raw_fd();
            #[cfg(test)]
            child::tests::forbid_allocation(fd);
            // Closing a descriptor is async-signal-safe; the read end would
            // otherwise keep the pipe open in the build.
            drop(r);
            child::main(plan, child::Report(fd), parent)
        }
        Err(e) => Err(("fork()".to_string(), e)),
    }
}

/// How the watched process ended.
pub(crate) enum Ended {
    Exited(i32),
    Signaled(i32),
}

/// Waits for `pid`, retrying on EINTR.
pub(crate) fn wait_for(pid: Pid) -> Result<Ended, Errno> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(Ended::Exited(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(Ended::Signaled(sig as i32)),
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Waits until `pid` has exited *without reaping it*, kills its process
/// group (whatever the build left running), then reaps it. While the leader
/// is unreaped its pid cannot be reused, so the kill cannot hit a stranger.
pub(crate) fn wait_then_kill_group(pid: Pid) -> Result<Ended, Errno> {
    use nix::sys::wait::{waitid, Id, WaitPidFlag};
    loop {
        match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Ok(_) => break,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    let _ = killpg(pid, Signal::SIGKILL);
    wait_for(pid)
}

/// Reads everything the children reported (they have all exited by now).
/// Lossy: a line may quote a path that is not UTF-8, or be cut inside a
/// character.
pub(crate) fn read_report(mut report: File) -> String {
    let mut bytes = Vec::new();
    let _ = report.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// SIGKILLs a live process and its process group (the timeout).
pub(crate) fn kill_tree(pid: Pid) {
    // ESRCH (already gone) is the normal case after a clean exit.
    let _ = killpg(pid, Signal::SIGKILL);
    let _ = kill(pid, Signal::SIGKILL);
}

/// The number of the first SIGINT/SIGTERM caught, 0 while none was.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// The handler: one atomic store, which is async-signal-safe. Everything
/// else (killing the build, removing temporary files, writing the report)
/// happens in ordinary code that polls [`interrupted`].
extern "C" fn on_interrupt(signo: nix::libc::c_int) {
    // Keep the first signal: it is the one the report names.
    let _ = INTERRUPTED.compare_exchange(0, signo, Ordering::SeqCst, Ordering::SeqCst);
}

/// Installs [`on_interrupt`] for `signals`; on failure, the signal whose
/// `sigaction` failed.
pub(crate) fn catch_interrupts(signals: &[Signal]) -> Result<(), (Signal, Errno)> {
    // SA_RESTART: a read or write in progress when the signal lands goes
    // on instead of failing with EINTR, so the polling code decides where
    // to stop, not whichever syscall happened to be running.
    // SA_RESETHAND: a second signal has the default effect, so a user who
    // presses Ctrl-C twice is never stuck behind a slow cleanup.
    let action = SigAction::new(
        SigHandler::Handler(on_interrupt),
        SaFlags::SA_RESTART | SaFlags::SA_RESETHAND,
        SigSet::empty(),
    );
    for &signal in signals {
        // SAFETY: the handler only does an atomic store, which is
        // async-signal-safe; no other handler of ours is replaced.
        unsafe { sigaction(signal, &action) }.map_err(|e| (signal, e))?;
    }
    Ok(())
}

/// The signal [`on_interrupt`] caught first, if any.
pub(crate) fn interrupted() -> Option<i32> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        0 => None,
        signo => Some(signo),
    }
}

/// Effective uid and gid of this process.
pub(crate) fn effective_ids() -> (u32, u32) {
    (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    )
}

/// The CPUs this process may run on.
pub(crate) fn allowed_cpus() -> Vec<usize> {
    match nix::sched::sched_getaffinity(Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Mount flags of the file system holding `path` that a read-only remount
/// inside a user namespace must keep (the kernel locks them).
pub(crate) fn locked_mount_flags(path: &std::path::Path) -> MsFlags {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let mut flags = MsFlags::empty();
    if let Ok(st) = statvfs(path) {
        let f = st.flags();
        for (fs, ms) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if f.contains(fs) {
                flags |= ms;
            }
        }
    }
    flags
}

/// open_tree(2) flags: a detached copy, recursive, closed on exec.
const OPEN_TREE_CLONE: u32 = 0x1;
const OPEN_TREE_CLOEXEC: u32 = 0o2_000_000;
const AT_RECURSIVE: u32 = 0x8000;

/// A detached copy of the mount tree at `path` (open_tree(2) with
/// OPEN_TREE_CLONE|AT_RECURSIVE), made in the parent while it still has the
/// credentials to reach `path`: a root-started build drops to an
/// unprivileged uid before it mounts anything, and that uid cannot traverse
/// a 0700 home such as /root to reach /root/.cargo. The sandbox attaches
/// the copy with move_mount(2) without looking the path up again.
pub(crate) fn clone_tree(path: &std::ffi::CStr) -> Result<std::os::fd::OwnedFd, Errno> {
    use std::os::fd::FromRawFd as _;
    // SAFETY: open_tree(2) reads the NUL-terminated `path` and writes
    // nothing; a returned descriptor is new and owned by the caller.
    let rc = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_open_tree,
            nix::libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE,
        )
    };
    let fd = Errno::result(rc)?;
    let fd = RawFd::try_from(fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: `fd` was just returned by open_tree(2) and nothing else owns it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Whether overlayfs marked the upper directory `path` opaque (its lower
/// namesake's entries are hidden): the `user.overlay.opaque` extended
/// attribute that overlays mounted with `userxattr` write.
pub(crate) fn overlay_opaque(path: &std::ffi::CStr) -> bool {
    let mut value = [0u8; 4];
    // SAFETY: lgetxattr(2) reads the NUL-terminated `path` and name and
    // writes at most `value.len()` bytes into `value`.
    let n = unsafe {
        nix::libc::lgetxattr(
            path.as_ptr(),
            c"user.overlay.opaque".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    n >= 1 && value[0] == b'y'
}

/// The namespaces a sandboxed run unshares.
pub(crate) fn clone_flags(share_net: bool) -> CloneFlags {
    let mut flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    if !share_net {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    flags
}

/// Which step of the namespace probe failed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ProbeError {
    /// setgroups/setresgid/setresuid to the unprivileged ids.
    Drop(Errno),
    /// unshare(2) of the namespaces.
    Unshare(Errno),
    /// fork or wait.
    Process(Errno),
}

/// Exit codes of the probe child: errno values are below 134, so these
/// cannot be mistaken for one.
const PROBE_DROP_BASE: i32 = 134;

/// Checks once, in a throw-away child, that this process may create the
/// namespaces a sandboxed run needs.
pub(crate) fn probe_namespaces(drop_to: Option<DropTo>) -> Result<(), ProbeError> {
    // SAFETY: the child calls only setgroups/setresgid/setresuid/unshare and
    // _exit, all async-signal-safe system calls on values computed before
    // the fork; it allocates nothing and takes no lock, so locks other
    // threads held at the fork do not matter.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let code = match child::probe(drop_to) {
                Ok(()) => 0,
                Err(ProbeError::Unshare(e)) => e as i32,
                Err(ProbeError::Drop(e)) => PROBE_DROP_BASE + (e as i32).min(120),
                // The probe itself never fails this way.
                Err(ProbeError::Process(_)) => PROBE_DROP_BASE + Errno::ECHILD as i32,
            };
            // SAFETY: _exit is async-signal-safe and skips the parent's
            // atexit handlers and buffers, which the child must not run.
            unsafe { nix::libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => match wait_for(child).map_err(ProbeError::Process)? {
            Ended::Exited(0) => Ok(()),
            Ended::Exited(code) if code >= PROBE_DROP_BASE => {
                Err(ProbeError::Drop(Errno::from_raw(code - PROBE_DROP_BASE)))
            }
            Ended::Exited(code) => Err(ProbeError::Unshare(Errno::from_raw(code))),
            Ended::Signaled(_) => Err(ProbeError::Process(Errno::ECHILD)),
        },
        Err(e) => Err(ProbeError::Process(e)),
    }
}

/// True in the machine's initial user namespace, where uid 0 is real root
/// (inside a container's or another tool's user namespace it is not).
pub(crate) fn in_initial_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
        .unwrap_or(false)
}
