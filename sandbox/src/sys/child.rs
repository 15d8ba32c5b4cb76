//! Code that runs between fork and exec (or _exit). It only walks the
//! [`Plan`] the parent prepared and reports failures on the report pipe as
//! one line each: `E\t<message>` (setup failed), `F\t<message>` (the build
//! program could not be executed), `N\t<program>` (not found on PATH),
//! `X\t<code>` / `K\t<signal>` (how the build ended, from PID 1).

use std::ffi::{CStr, CString};
use std::os::fd::{FromRawFd as _, RawFd};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{sched_setaffinity, unshare, CpuSet};
use nix::sys::personality::{self, Persona};
use nix::sys::prctl;
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::Signal;
use nix::sys::stat::{umask, Mode};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{
    chdir, dup2, execve, fork, mkdir, pivot_root, setgroups, sethostname, setresgid, setresuid,
    setsid, symlinkat, write, ForkResult, Gid, Pid, Uid,
};

use super::{clone_flags, DropTo, ExecPlan, NsPlan, Op, Plan};

/// Exit code of a child whose setup failed (the report says why).
const SETUP_FAILED: i32 = 125;

/// Writes one report line; failures are ignored (nobody left to tell).
pub(crate) fn report_line(fd: RawFd, kind: char, text: &str) {
    let line = format!("{kind}\t{}\n", text.replace('\n', " "));
    let mut buf = line.as_bytes();
    while !buf.is_empty() {
        // SAFETY: `fd` is the report pipe's write end, open for the whole
        // life of this process.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        match write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        }
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and skips atexit handlers and
    // stdio buffers that belong to the parent.
    unsafe { nix::libc::_exit(code) }
}

fn fail(report: RawFd, message: String) -> ! {
    report_line(report, 'E', &message);
    exit(SETUP_FAILED)
}

fn sys<T>(report: RawFd, what: impl FnOnce() -> String, r: nix::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => fail(report, format!("{}: {}", what(), e.desc())),
    }
}

/// Entry point of the first child; `parent` is repro's pid.
pub(super) fn main(plan: &Plan, report: RawFd, parent: Pid) -> ! {
    sys(
        report,
        || "prctl(PR_SET_PDEATHSIG, SIGKILL)".into(),
        prctl::set_pdeathsig(Signal::SIGKILL),
    );
    // repro may have died between fork and prctl: then nobody supervises us.
    if nix::unistd::getppid() != parent {
        exit(SETUP_FAILED);
    }
    match &plan.ns {
        None => exec_build(&plan.exec, report),
        Some(ns) => c1(ns, &plan.exec, report),
    }
}

fn drop_privileges(d: DropTo) -> nix::Result<()> {
    setgroups(&[])?;
    setresgid(
        Gid::from_raw(d.gid),
        Gid::from_raw(d.gid),
        Gid::from_raw(d.gid),
    )?;
    setresuid(
        Uid::from_raw(d.uid),
        Uid::from_raw(d.uid),
        Uid::from_raw(d.uid),
    )?;
    Ok(())
}

/// The namespace probe: the same credential drop and unshare as a real
/// run; the error names the step that failed.
pub(super) fn probe(drop_to: Option<DropTo>) -> Result<(), super::ProbeError> {
    if let Some(d) = drop_to {
        drop_privileges(d).map_err(super::ProbeError::Drop)?;
    }
    unshare(clone_flags(false)).map_err(super::ProbeError::Unshare)
}

fn write_file(path: &CStr, data: &[u8]) -> nix::Result<()> {
    let fd = open(path, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    // SAFETY: `fd` was just opened and is owned here.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    let n = write(&fd, data)?;
    if n != data.len() {
        return Err(Errno::EIO);
    }
    Ok(())
}

/// C1: enter the namespaces, write the id maps, start PID 1, wait for it.
fn c1(ns: &NsPlan, exec: &ExecPlan, report: RawFd) -> ! {
    sys(
        report,
        || format!("chdir({:?})", ns.host_dir),
        chdir(ns.host_dir.as_c_str()),
    );
    if let Some(d) = ns.drop_to {
        sys(
            report,
            || format!("dropping to uid {} gid {}", d.uid, d.gid),
            drop_privileges(d),
        );
        // Changing credentials makes the process non-dumpable, which gives
        // /proc/self to root and stops the id-map writes below.
        sys(
            report,
            || "prctl(PR_SET_DUMPABLE, 1)".into(),
            prctl::set_dumpable(true),
        );
        // Changing credentials clears the parent-death signal.
        sys(
            report,
            || "prctl(PR_SET_PDEATHSIG, SIGKILL)".into(),
            prctl::set_pdeathsig(Signal::SIGKILL),
        );
    }
    let flags = clone_flags(ns.share_net);
    sys(report, || format!("unshare({flags:?})"), unshare(flags));
    sys(
        report,
        || "write /proc/self/setgroups".into(),
        write_file(c"/proc/self/setgroups", b"deny"),
    );
    sys(
        report,
        || format!("write /proc/self/uid_map {:?}", ns.uid_map),
        write_file(c"/proc/self/uid_map", ns.uid_map.as_bytes()),
    );
    sys(
        report,
        || format!("write /proc/self/gid_map {:?}", ns.gid_map),
        write_file(c"/proc/self/gid_map", ns.gid_map.as_bytes()),
    );
    // A lifeline: C1 holds its write end until it dies, so C2 (whose
    // getppid() is 0 in the new pid namespace) can tell, after setting its
    // own parent-death signal, whether C1 was already killed (the timeout).
    let (alive_r, alive_w) = sys(
        report,
        || "pipe2(O_CLOEXEC) for the lifeline".into(),
        nix::unistd::pipe2(OFlag::O_CLOEXEC),
    );
    // SAFETY: single-threaded child; C2 runs only `c2`, which never returns.
    match sys(
        report,
        || "fork() of the namespace's PID 1".into(),
        unsafe { fork() },
    ) {
        ForkResult::Child => {
            drop(alive_w);
            c2(ns, exec, report, alive_r)
        }
        ForkResult::Parent { child } => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => exit(code),
                Ok(WaitStatus::Signaled(..)) => exit(SETUP_FAILED),
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(_) => exit(SETUP_FAILED),
            }
        },
    }
}

fn run_op(op: &Op) -> Result<(), String> {
    match op {
        Op::Mkdir { path, mode } => match mkdir(path.as_c_str(), Mode::from_bits_truncate(*mode)) {
            Ok(()) | Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err(format!("mkdir({path:?}): {}", e.desc())),
        },
        Op::Symlink { target, link } => symlinkat(target.as_c_str(), None, link.as_c_str())
            .map_err(|e| format!("symlink({target:?} ← {link:?}): {}", e.desc())),
        Op::Touch { path } => open(
            path.as_c_str(),
            OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map(|fd| {
            // SAFETY: just opened, owned here, closed on drop.
            drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
        })
        .map_err(|e| format!("creating {path:?}: {}", e.desc())),
        Op::Write { path, data } => open(
            path.as_c_str(),
            OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_TRUNC | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .and_then(|fd| {
            // SAFETY: just opened, owned here, closed on drop.
            let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
            write(&fd, data).map(drop)
        })
        .map_err(|e| format!("writing {path:?}: {}", e.desc())),
        Op::ReadOnlyTree { path } => read_only_tree(path).map_err(|e| {
            format!(
                "mount_setattr({path:?}, AT_RECURSIVE, MOUNT_ATTR_RDONLY): {}",
                e.desc()
            )
        }),
        Op::AttachTree { fd, dst, desc } => {
            attach_tree(*fd, dst).map_err(|e| format!("{desc}: {}", e.desc()))
        }
        Op::Mount {
            src,
            dst,
            fstype,
            flags,
            data,
            desc,
        } => mount(
            src.as_deref(),
            dst.as_c_str(),
            fstype.as_deref(),
            *flags,
            data.as_deref(),
        )
        .map_err(|e| format!("{desc}: {}", e.desc())),
    }
}

/// C2, PID 1: assemble the root, pivot into it, start the build, reap.
fn c2(ns: &NsPlan, exec: &ExecPlan, report: RawFd, lifeline: std::os::fd::OwnedFd) -> ! {
    sys(
        report,
        || "prctl(PR_SET_PDEATHSIG, SIGKILL)".into(),
        prctl::set_pdeathsig(Signal::SIGKILL),
    );
    if parent_gone(&lifeline) {
        exit(SETUP_FAILED);
    }
    drop(lifeline);
    for op in &ns.ops {
        if let Err(message) = run_op(op) {
            fail(report, message);
        }
    }
    sys(
        report,
        || format!("chdir({:?})", ns.new_root),
        chdir(ns.new_root.as_c_str()),
    );
    sys(
        report,
        || format!("pivot_root({:?})", ns.new_root),
        pivot_root(c".", c"."),
    );
    sys(
        report,
        || "umount2(old root, MNT_DETACH)".into(),
        umount2(c".", MntFlags::MNT_DETACH),
    );
    sys(report, || "chdir(\"/\")".into(), chdir(c"/"));
    // Nothing outside the build dir, /tmp, HOME and /dev/shm is writable.
    sys(
        report,
        || "mount(\"/\", MS_REMOUNT|MS_BIND|MS_RDONLY)".into(),
        mount(
            None::<&CStr>,
            c"/",
            None::<&CStr>,
            MsFlags::MS_REMOUNT
                | MsFlags::MS_BIND
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV,
            None::<&CStr>,
        ),
    );
    sys(
        report,
        || format!("sethostname({:?})", ns.hostname),
        sethostname(&ns.hostname),
    );
    sys(
        report,
        || format!("setdomainname({:?})", ns.domainname),
        set_domainname(&ns.domainname),
    );
    if !ns.share_net {
        sys(
            report,
            || "bringing up the loopback interface (SIOCSIFFLAGS lo IFF_UP)".into(),
            loopback_up(),
        );
    }
    if let Some(helper) = &ns.fileorder {
        run_helper(helper, exec.log_fd, report);
    }
    // SAFETY: single-threaded PID 1; the child runs `exec_build`, which
    // never returns.
    let build = match sys(report, || "fork() of the build".into(), unsafe { fork() }) {
        ForkResult::Child => exec_build(exec, report),
        ForkResult::Parent { child } => child,
    };
    reap_until(build, report)
}

/// Runs `helper` (output to the build log) and waits for it to exit 0.
fn run_helper(helper: &super::Helper, log_fd: RawFd, report: RawFd) {
    // SAFETY: single-threaded PID 1; the child only dup2s and execs.
    match sys(report, || "fork() of a helper".into(), unsafe { fork() }) {
        ForkResult::Child => {
            // The same hygiene as the build: own session, no terminal, no
            // inherited descriptors beyond 0/1/2.
            let _ = setsid();
            if let Ok(null) = open(c"/dev/null", OFlag::O_RDWR, Mode::empty()) {
                let _ = dup2(null, 0);
            }
            let _ = dup2(log_fd, 1);
            let _ = dup2(log_fd, 2);
            // SAFETY: close_range(2) with CLOSE_RANGE_CLOEXEC only sets flags.
            unsafe {
                nix::libc::syscall(
                    nix::libc::SYS_close_range,
                    3u32,
                    u32::MAX,
                    nix::libc::CLOSE_RANGE_CLOEXEC,
                );
            }
            // The helper must mount (FUSE) but, as a non-zero uid, would
            // lose PID 1's namespace capabilities at exec: keep
            // CAP_SYS_ADMIN as an ambient capability, inside this user
            // namespace only.
            use caps::{CapSet, Capability};
            for set in [CapSet::Inheritable, CapSet::Ambient] {
                if let Err(e) = caps::raise(None, set, Capability::CAP_SYS_ADMIN) {
                    fail(
                        report,
                        format!(
                            "raising CAP_SYS_ADMIN ({set:?}) for {:?}: {e}",
                            helper.program
                        ),
                    );
                }
            }
            let env: [&CStr; 1] = [c"PATH=/usr/bin:/bin"];
            let err = execve(&helper.program, &helper.argv, &env)
                .err()
                .unwrap_or(Errno::UnknownErrno);
            fail(
                report,
                format!("execve({:?}): {}", helper.program, err.desc()),
            )
        }
        ForkResult::Parent { child } => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, 0)) => return,
                Ok(WaitStatus::Exited(_, code)) => fail(
                    report,
                    format!(
                        "{:?} exited with code {code} (see the run's log)",
                        helper.program
                    ),
                ),
                Ok(WaitStatus::Signaled(_, sig, _)) => fail(
                    report,
                    format!("{:?} was killed by {sig:?}", helper.program),
                ),
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => fail(report, format!("waitpid(helper): {}", e.desc())),
            }
        },
    }
}

/// True when the write end of `lifeline` is closed everywhere (its holder died).
fn parent_gone(lifeline: &std::os::fd::OwnedFd) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd as _;
    let mut fds = [PollFd::new(lifeline.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR)),
        Err(_) => false,
    }
}

/// PID 1's duty: reap every orphan; when the build itself ends, report
/// how and exit, which kills whatever is left in the namespace.
fn reap_until(build: Pid, report: RawFd) -> ! {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == build => {
                report_line(report, 'X', &code.to_string());
                exit(0)
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == build => {
                report_line(report, 'K', &(sig as i32).to_string());
                exit(0)
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => fail(report, format!("waitpid(-1) in PID 1: {}", e.desc())),
        }
    }
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const AT_RECURSIVE: u32 = 0x8000;

fn read_only_tree(path: &CStr) -> nix::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr(2) reads `path` (NUL-terminated) and `attr`
    // (a live repr(C) struct of the size passed) and writes nothing.
    let rc = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_mount_setattr,
            nix::libc::AT_FDCWD,
            path.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    match Errno::result(rc) {
        // Before Linux 5.12 only the top mount could be made read-only,
        // which the preceding remount already did.
        Err(Errno::ENOSYS) => Ok(()),
        other => other.map(drop),
    }
}

/// move_mount(2) flag: the source is the fd itself.
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;

/// Attaches the detached mount tree `fd` (see [`super::clone_tree`]) at
/// `dst`.
fn attach_tree(fd: RawFd, dst: &CStr) -> nix::Result<()> {
    // SAFETY: move_mount(2) reads the empty NUL-terminated string and `dst`
    // (NUL-terminated) and writes nothing; `fd` is a descriptor the parent
    // opened before the fork and keeps open until the run has started.
    let rc = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_move_mount,
            fd,
            c"".as_ptr(),
            nix::libc::AT_FDCWD,
            dst.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    Errno::result(rc).map(drop)
}

/// keyctl(2) operation: join a new anonymous session keyring (NULL name).
const KEYCTL_JOIN_SESSION_KEYRING: nix::libc::c_long = 1;

/// Replaces this process's session keyring with a new, empty one.
fn join_new_session_keyring() -> nix::Result<()> {
    // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL) reads no memory (a
    // NULL name means an anonymous keyring) and writes none.
    let rc = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<nix::libc::c_char>(),
        )
    };
    match Errno::result(rc) {
        // A kernel without keyrings has no keys to leak.
        Err(Errno::ENOSYS) => Ok(()),
        other => other.map(drop),
    }
}

fn set_domainname(name: &CStr) -> nix::Result<()> {
    let len = name.to_bytes().len();
    // SAFETY: `name` is a valid NUL-terminated string of `len` bytes.
    let rc = unsafe { nix::libc::setdomainname(name.as_ptr(), len) };
    Errno::result(rc).map(drop)
}

fn loopback_up() -> nix::Result<()> {
    use nix::libc;
    // SAFETY: socket(2) with constant arguments; the fd is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    let fd = Errno::result(fd)?;
    // SAFETY: `fd` was just returned by socket(2) and is owned here.
    let _guard = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads into the ifreq we own.
    Errno::result(unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr) })?;
    // SAFETY: after SIOCGIFFLAGS the flags member of the union is the active one.
    unsafe {
        ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: SIOCSIFFLAGS reads the ifreq we own.
    Errno::result(unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr) }).map(drop)
}

/// The last child: become the build process.
fn exec_build(exec: &ExecPlan, report: RawFd) -> ! {
    sys(report, || "setsid()".into(), setsid());
    sys(
        report,
        || "prctl(PR_SET_PDEATHSIG, SIGKILL)".into(),
        prctl::set_pdeathsig(Signal::SIGKILL),
    );
    // The session keyring is inherited across fork, exec and even user
    // namespaces: without a new one the build could read the caller's
    // keys (tokens an agent or `keyctl add … @s` put there).
    sys(
        report,
        || "keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)".into(),
        join_new_session_keyring(),
    );
    let devnull = sys(
        report,
        || "open(\"/dev/null\")".into(),
        open(c"/dev/null", OFlag::O_RDWR, Mode::empty()),
    );
    sys(report, || "dup2(/dev/null, 0)".into(), dup2(devnull, 0));
    sys(report, || "dup2(log, 1)".into(), dup2(exec.log_fd, 1));
    sys(report, || "dup2(log, 2)".into(), dup2(exec.log_fd, 2));
    umask(Mode::from_bits_truncate(exec.umask));
    sys(
        report,
        || "setrlimit(RLIMIT_CORE, 0)".into(),
        setrlimit(Resource::RLIMIT_CORE, 0, 0),
    );
    for &(resource, value) in &exec.rlimits {
        sys(
            report,
            || format!("setrlimit({resource:?}, {value})"),
            setrlimit(resource, value, value),
        );
    }
    if let Some(cpu) = exec.cpu {
        let mut set = CpuSet::new();
        sys(report, || format!("CPU {cpu}"), set.set(cpu));
        sys(
            report,
            || format!("sched_setaffinity(CPU {cpu})"),
            sched_setaffinity(Pid::from_raw(0), &set),
        );
    }
    if exec.no_aslr || exec.uname26 {
        let mut persona = sys(report, || "personality(query)".into(), personality::get());
        if exec.no_aslr {
            persona |= Persona::ADDR_NO_RANDOMIZE;
        }
        if exec.uname26 {
            persona |= Persona::UNAME26;
        }
        sys(
            report,
            || format!("personality({persona:?})"),
            personality::set(persona),
        );
    }
    sys(
        report,
        || "prctl(PR_SET_NO_NEW_PRIVS)".into(),
        prctl::set_no_new_privs(),
    );
    sys(
        report,
        || "prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, keyring syscalls → EPERM)".into(),
        super::seccomp::install(&exec.seccomp),
    );
    sys(
        report,
        || format!("chdir({:?})", exec.cwd),
        chdir(exec.cwd.as_c_str()),
    );
    // Every inherited descriptor beyond 0/1/2 closes on exec (the report
    // pipe too, which tells the parent that exec happened).
    // SAFETY: close_range(2) with CLOSE_RANGE_CLOEXEC only sets flags.
    let rc = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_close_range,
            3u32,
            u32::MAX,
            nix::libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    sys(
        report,
        || "close_range(3, ~0, CLOSE_RANGE_CLOEXEC)".into(),
        Errno::result(rc),
    );
    let mut denied = None;
    for candidate in &exec.candidates {
        match execve(candidate, &exec.argv, &exec.envp) {
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => continue,
            Err(Errno::EACCES) => denied = Some(candidate),
            Err(e) => {
                report_line(report, 'F', &format!("execve({candidate:?}): {}", e.desc()));
                exit(126)
            }
        }
    }
    match denied {
        Some(c) => {
            report_line(report, 'F', &format!("execve({c:?}): permission denied"));
            exit(126)
        }
        None => {
            let program = exec
                .argv
                .first()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            report_line(report, 'N', &program);
            exit(127)
        }
    }
}

/// A NUL-free copy of `s` for the kernel.
pub(crate) fn cstring(s: &[u8]) -> Option<CString> {
    CString::new(s).ok()
}
