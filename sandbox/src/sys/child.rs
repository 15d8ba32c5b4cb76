//! Code that runs between fork and exec (or _exit). It only walks the
//! [`Plan`] the parent prepared and reports failures on the report pipe as
//! one line each: `E\t<message>` (setup failed), `F\t<message>` (the build
//! program could not be executed), `N\t<program>` (not found on PATH),
//! `X\t<code>` / `K\t<signal>` (how the build ended, from PID 1).
//!
//! # Why nothing here allocates
//!
//! repro forks while other threads of it run (rayon's pool, the progress
//! thread, the waiter of a concurrent run). The child is a copy of the
//! whole address space but has only the forking thread, so a lock another
//! thread held at that instant (malloc's arenas, stdout, the environment
//! lock, a `Mutex` inside std) stays locked in the child forever. Until it
//! execs, the child may therefore only do what is async-signal-safe:
//! system calls on memory that already exists. Concretely, this module
//!
//! * never allocates: no `String`, `Vec`, `Box`, `CString`, `format!`, no
//!   `to_string`/`to_owned`; messages are `&'static str` pieces, bytes of
//!   the plan's C strings and integers, assembled in a [`Line`] on the
//!   stack and written with one write(2);
//! * reads only the [`Plan`], built completely before the fork (argv and
//!   envp as NUL-terminated pointer arrays, the CPU set, the seccomp
//!   program, the descriptions of mounts);
//! * calls no nix wrapper that allocates (`nix::unistd::execve` builds a
//!   `Vec` of pointers: [`super::execve`] uses the prepared arrays) and no
//!   library that keeps state behind locks (the `caps` crate builds hash
//!   sets: the capability calls are raw capget/capset/prctl);
//! * never panics by design (no indexing that can fail, no unwrap) and
//!   never unwinds into the parent's code: `spawn` holds a guard whose
//!   drop `_exit`s, and every function here ends in exec or `_exit`.
//!
//! C1 and C2 fork again (PID 1, the build, disorderfs). They are
//! single-threaded by then, and glibc's fork re-initializes the only locks
//! it takes (malloc's and stdio's) in the child; repro registers no
//! pthread_atfork handlers. The clippy configuration in sandbox/clippy.toml
//! forbids the allocating types and macros in this module, and a test
//! (`tests::the_child_never_allocates`) runs the child with an allocator
//! that fails the run on any allocation.

// The lints configured in sandbox/clippy.toml (String, Vec, Box, CString,
// format!, vec!, …) are allowed elsewhere in the crate but not here.
#![deny(clippy::disallowed_types, clippy::disallowed_macros)]

use std::ffi::CStr;
use std::os::fd::{AsFd as _, FromRawFd as _, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{sched_setaffinity, unshare};
use nix::sys::personality::{self, Persona};
use nix::sys::prctl;
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::Signal;
use nix::sys::stat::{umask, Mode};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{
    chdir, dup2, fork, mkdir, pivot_root, setgroups, sethostname, setresgid, setresuid, setsid,
    symlinkat, write, ForkResult, Gid, Pid, Uid,
};

use super::{clone_flags, execve, DropTo, ExecPlan, Helper, NsPlan, Op, Plan};

/// Exit code of a child whose setup failed (the report says why).
pub(super) const SETUP_FAILED: i32 = 125;

/// The most bytes of one report line. A longer line is cut and ends in
/// "…". It is below PIPE_BUF (4096), so one write(2) puts the line into
/// the pipe whole even when C1, C2 and C3 write at once.
pub(crate) const LINE_CAPACITY: usize = 1024;

/// One report line, assembled on the stack (see the module doc).
pub(crate) struct Line {
    buf: [u8; LINE_CAPACITY],
    len: usize,
    cut: bool,
}

/// Room kept at the end of a [`Line`] for "…\n".
const LINE_RESERVE: usize = "…\n".len();

impl Line {
    /// A line of `kind` (`b'E'`, `b'X'`, …): the kind and a tab.
    pub(crate) fn new(kind: u8) -> Self {
        let mut line = Line {
            buf: [0; LINE_CAPACITY],
            len: 0,
            cut: false,
        };
        line.push(kind);
        line.push(b'\t');
        line
    }

    fn push(&mut self, byte: u8) {
        if self.cut || self.len + LINE_RESERVE >= LINE_CAPACITY {
            self.cut = true;
            return;
        }
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    /// Appends `bytes`, newlines turned into spaces (a line is one record).
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        for &b in bytes {
            self.push(if b == b'\n' { b' ' } else { b });
        }
        self
    }

    /// Appends `text`.
    pub(crate) fn text(&mut self, text: &str) -> &mut Self {
        self.bytes(text.as_bytes())
    }

    /// Appends `path` in double quotes.
    pub(crate) fn quoted(&mut self, path: &CStr) -> &mut Self {
        self.push(b'"');
        self.bytes(path.to_bytes());
        self.push(b'"');
        self
    }

    /// Appends `n` in decimal.
    pub(crate) fn int(&mut self, n: i64) -> &mut Self {
        if n < 0 {
            self.push(b'-');
        }
        // unsigned_abs: i64::MIN has no positive i64 counterpart.
        self.uint(n.unsigned_abs())
    }

    /// Appends `n` in decimal.
    pub(crate) fn uint(&mut self, mut n: u64) -> &mut Self {
        // u64::MAX has 20 digits.
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            if let Some(d) = digits.get_mut(start) {
                // n % 10 < 10, so the cast cannot truncate.
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || start == 0 {
                break;
            }
        }
        self.bytes(digits.get(start..).unwrap_or_default())
    }

    /// Appends ": " and what `errno` means.
    pub(crate) fn errno(&mut self, errno: Errno) -> &mut Self {
        // Errno::desc is a table of static strings.
        self.text(": ").text(errno.desc())
    }

    /// The finished line, ending in a newline.
    pub(crate) fn finish(&mut self) -> &[u8] {
        if self.cut {
            for &b in "…".as_bytes() {
                if let Some(slot) = self.buf.get_mut(self.len) {
                    *slot = b;
                    self.len += 1;
                }
            }
        }
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b'\n';
            self.len += 1;
        }
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// The write end of the report pipe.
#[derive(Clone, Copy)]
pub(crate) struct Report(pub(crate) RawFd);

impl Report {
    /// Writes `line`; failures are ignored (nobody left to tell).
    pub(crate) fn send(self, line: &mut Line) {
        let mut rest = line.finish();
        while !rest.is_empty() {
            // SAFETY: the report pipe's write end stays open until this
            // process execs or exits.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.0) };
            match write(fd, rest) {
                Ok(0) => return,
                Ok(n) => rest = rest.get(n..).unwrap_or_default(),
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            }
        }
    }

    /// Reports `line` as the setup failure and exits.
    fn fail(self, line: &mut Line) -> ! {
        self.send(line);
        exit(SETUP_FAILED)
    }

    /// The value of `r`, or a failure report "`call`: <errno>".
    fn check<T>(self, r: nix::Result<T>, call: &str) -> T {
        match r {
            Ok(v) => v,
            Err(e) => self.fail(Line::new(b'E').text(call).errno(e)),
        }
    }

    /// The value of `r`, or a failure report "`call`("`path`")<rest>: <errno>".
    fn check_at<T>(self, r: nix::Result<T>, call: &str, path: &CStr, rest: &str) -> T {
        match r {
            Ok(v) => v,
            Err(e) => self.fail(
                Line::new(b'E')
                    .text(call)
                    .text("(")
                    .quoted(path)
                    .text(rest)
                    .text(")")
                    .errno(e),
            ),
        }
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and skips atexit handlers and
    // stdio buffers that belong to the parent.
    unsafe { nix::libc::_exit(code) }
}

/// Entry point of the first child; `parent` is repro's pid.
pub(super) fn main(plan: &Plan, report: Report, parent: Pid) -> ! {
    // First, so that everything the run starts is born in its cgroup.
    if let Some(cgroup) = &plan.cgroup {
        // SAFETY: the parent opened cgroup.procs before the fork and keeps
        // it open until the run has ended.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(cgroup.procs_fd) };
        // "0" moves the writing process (cgroup v2, like v1).
        report.check_at(
            write(fd, b"0").map(drop),
            "joining the run's cgroup: write 0 to ",
            &cgroup.procs_path,
            "",
        );
    }
    report.check(
        prctl::set_pdeathsig(Signal::SIGKILL),
        "prctl(PR_SET_PDEATHSIG, SIGKILL)",
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

/// Opens `path` with `flags` (plus O_CLOEXEC) as an owned descriptor.
fn open_owned(path: &CStr, flags: OFlag, mode: Mode) -> nix::Result<OwnedFd> {
    let fd = open(path, flags | OFlag::O_CLOEXEC, mode)?;
    // SAFETY: `fd` was just opened and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Writes all of `data` to `fd`.
fn write_all(fd: &OwnedFd, data: &[u8]) -> nix::Result<()> {
    let mut rest = data;
    while !rest.is_empty() {
        match write(fd, rest) {
            Ok(0) => return Err(Errno::EIO),
            Ok(n) => rest = rest.get(n..).unwrap_or_default(),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn write_file(path: &CStr, data: &[u8]) -> nix::Result<()> {
    let fd = open_owned(path, OFlag::O_WRONLY, Mode::empty())?;
    write_all(&fd, data)
}

/// C1: enter the namespaces, write the id maps, start PID 1, wait for it.
fn c1(ns: &NsPlan, exec: &ExecPlan, report: Report) -> ! {
    report.check_at(chdir(ns.host_dir.as_c_str()), "chdir", &ns.host_dir, "");
    if let Some(d) = ns.drop_to {
        if let Err(e) = drop_privileges(d) {
            report.fail(
                Line::new(b'E')
                    .text("dropping to uid ")
                    .uint(d.uid.into())
                    .text(" gid ")
                    .uint(d.gid.into())
                    .errno(e),
            );
        }
        // Changing credentials makes the process non-dumpable, which gives
        // /proc/self to root and stops the id-map writes below.
        report.check(prctl::set_dumpable(true), "prctl(PR_SET_DUMPABLE, 1)");
        // Changing credentials clears the parent-death signal.
        report.check(
            prctl::set_pdeathsig(Signal::SIGKILL),
            "prctl(PR_SET_PDEATHSIG, SIGKILL)",
        );
    }
    report.check(
        unshare(clone_flags(ns.share_net)),
        if ns.share_net {
            "unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWUTS|CLONE_NEWIPC)"
        } else {
            "unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWNET)"
        },
    );
    report.check(
        write_file(c"/proc/self/setgroups", b"deny"),
        "write /proc/self/setgroups",
    );
    if let Err(e) = write_file(c"/proc/self/uid_map", ns.uid_map.as_bytes()) {
        report.fail(
            Line::new(b'E')
                .text("write /proc/self/uid_map \"")
                .text(ns.uid_map.trim_end())
                .text("\"")
                .errno(e),
        );
    }
    if let Err(e) = write_file(c"/proc/self/gid_map", ns.gid_map.as_bytes()) {
        report.fail(
            Line::new(b'E')
                .text("write /proc/self/gid_map \"")
                .text(ns.gid_map.trim_end())
                .text("\"")
                .errno(e),
        );
    }
    // A lifeline: C1 holds its write end until it dies, so C2 (whose
    // getppid() is 0 in the new pid namespace) can tell, after setting its
    // own parent-death signal, whether C1 was already killed (the timeout).
    let (alive_r, alive_w) = report.check(
        nix::unistd::pipe2(OFlag::O_CLOEXEC),
        "pipe2(O_CLOEXEC) for the lifeline",
    );
    // SAFETY: C1 is single-threaded (fork copied only the calling thread);
    // C2 runs only `c2`, which never returns.
    match report.check(unsafe { fork() }, "fork() of the namespace's PID 1") {
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

/// Runs one root-assembling step; on failure reports it and exits.
fn run_op(op: &Op, report: Report) {
    match op {
        Op::Mkdir { path, mode } => match mkdir(path.as_c_str(), Mode::from_bits_truncate(*mode)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => report.fail(
                Line::new(b'E')
                    .text("mkdir(")
                    .quoted(path)
                    .text(")")
                    .errno(e),
            ),
        },
        Op::Symlink { target, link } => {
            if let Err(e) = symlinkat(target.as_c_str(), None, link.as_c_str()) {
                report.fail(
                    Line::new(b'E')
                        .text("symlink(")
                        .quoted(target)
                        .text(" ← ")
                        .quoted(link)
                        .text(")")
                        .errno(e),
                );
            }
        }
        Op::Touch { path } => {
            let made = open_owned(
                path.as_c_str(),
                OFlag::O_CREAT | OFlag::O_WRONLY,
                Mode::from_bits_truncate(0o644),
            );
            // Closed right away: the file is only a mount point.
            drop(report.check_at(made, "creating", path, ""));
        }
        Op::Write { path, data } => {
            let written = open_owned(
                path.as_c_str(),
                OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_TRUNC,
                Mode::from_bits_truncate(0o644),
            )
            .and_then(|fd| write_all(&fd, data));
            report.check_at(written, "writing", path, "");
        }
        Op::ReadOnlyTree { path } => report.check_at(
            read_only_tree(path),
            "mount_setattr",
            path,
            ", AT_RECURSIVE, MOUNT_ATTR_RDONLY",
        ),
        Op::AttachTree { fd, dst, desc } => {
            if let Err(e) = attach_tree(*fd, dst) {
                report.fail(Line::new(b'E').text(desc).errno(e));
            }
        }
        Op::Mount {
            src,
            dst,
            fstype,
            flags,
            data,
            desc,
        } => {
            let mounted = mount(
                src.as_deref(),
                dst.as_c_str(),
                fstype.as_deref(),
                *flags,
                data.as_deref(),
            );
            if let Err(e) = mounted {
                report.fail(Line::new(b'E').text(desc).errno(e));
            }
        }
    }
}

/// C2, PID 1: assemble the root, pivot into it, start the build, reap.
fn c2(ns: &NsPlan, exec: &ExecPlan, report: Report, lifeline: OwnedFd) -> ! {
    report.check(
        prctl::set_pdeathsig(Signal::SIGKILL),
        "prctl(PR_SET_PDEATHSIG, SIGKILL)",
    );
    if parent_gone(&lifeline) {
        exit(SETUP_FAILED);
    }
    drop(lifeline);
    for op in &ns.ops {
        run_op(op, report);
    }
    report.check_at(chdir(ns.new_root.as_c_str()), "chdir", &ns.new_root, "");
    report.check_at(pivot_root(c".", c"."), "pivot_root", &ns.new_root, "");
    report.check(
        umount2(c".", MntFlags::MNT_DETACH),
        "umount2(old root, MNT_DETACH)",
    );
    report.check(chdir(c"/"), "chdir(\"/\")");
    // Nothing outside the build dir, /tmp, HOME and /dev/shm is writable.
    report.check(
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
        "mount(\"/\", MS_REMOUNT|MS_BIND|MS_RDONLY)",
    );
    // nix's sethostname passes the bytes and length straight to the kernel.
    if let Err(e) = sethostname(&ns.hostname) {
        report.fail(
            Line::new(b'E')
                .text("sethostname(\"")
                .text(&ns.hostname)
                .text("\")")
                .errno(e),
        );
    }
    report.check_at(
        set_domainname(&ns.domainname),
        "setdomainname",
        &ns.domainname,
        "",
    );
    if !ns.share_net {
        report.check(
            loopback_up(),
            "bringing up the loopback interface (SIOCSIFFLAGS lo IFF_UP)",
        );
    }
    if let Some(helper) = &ns.fileorder {
        run_helper(helper, exec.log_fd, report);
    }
    // SAFETY: PID 1 is single-threaded; the child runs `exec_build`, which
    // never returns.
    let build = match report.check(unsafe { fork() }, "fork() of the build") {
        ForkResult::Child => exec_build(exec, report),
        ForkResult::Parent { child } => child,
    };
    reap_until(build, report)
}

/// Sets every descriptor from 3 up to close on exec (close_range(2)).
fn cloexec_from_3() -> nix::Result<()> {
    // SAFETY: close_range(2) with CLOSE_RANGE_CLOEXEC only sets flags on
    // descriptors and reads no memory.
    let rc = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_close_range,
            3u32,
            u32::MAX,
            nix::libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    Errno::result(rc).map(drop)
}

/// Runs `helper` (output to the build log) and waits for it to exit 0.
fn run_helper(helper: &Helper, log_fd: RawFd, report: Report) {
    // SAFETY: PID 1 is single-threaded; the child only dup2s, sets
    // capabilities and execs, or reports and _exits.
    match report.check(unsafe { fork() }, "fork() of a helper") {
        ForkResult::Child => {
            // The same hygiene as the build: own session, no terminal, no
            // inherited descriptors beyond 0/1/2.
            let _ = setsid();
            if let Ok(null) = open(c"/dev/null", OFlag::O_RDWR, Mode::empty()) {
                let _ = dup2(null, 0);
            }
            let _ = dup2(log_fd, 1);
            let _ = dup2(log_fd, 2);
            if let Err(e) = cloexec_from_3() {
                report.fail(
                    Line::new(b'E')
                        .text("close_range(3, ~0, CLOSE_RANGE_CLOEXEC) for ")
                        .quoted(&helper.program)
                        .errno(e),
                );
            }
            // The helper must mount (FUSE) but, as a non-zero uid, would
            // lose PID 1's namespace capabilities at exec: keep
            // CAP_SYS_ADMIN as an ambient capability, inside this user
            // namespace only.
            if let Err(e) = super::keep_sys_admin_across_exec() {
                report.fail(
                    Line::new(b'E')
                        .text("raising CAP_SYS_ADMIN (inheritable, ambient) for ")
                        .quoted(&helper.program)
                        .errno(e),
                );
            }
            let e = execve(&helper.program, &helper.argv, &helper.envp);
            report.fail(
                Line::new(b'E')
                    .text("execve(")
                    .quoted(&helper.program)
                    .text(")")
                    .errno(e),
            )
        }
        ForkResult::Parent { child } => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, 0)) => return,
                Ok(WaitStatus::Exited(_, code)) => report.fail(
                    Line::new(b'E')
                        .quoted(&helper.program)
                        .text(" exited with code ")
                        .int(code.into())
                        .text(" (see the run's log)"),
                ),
                Ok(WaitStatus::Signaled(_, sig, _)) => report.fail(
                    Line::new(b'E')
                        .quoted(&helper.program)
                        .text(" was killed by ")
                        .text(sig.as_str()),
                ),
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => report.fail(Line::new(b'E').text("waitpid(helper)").errno(e)),
            }
        },
    }
}

/// True when the write end of `lifeline` is closed everywhere (its holder died).
fn parent_gone(lifeline: &OwnedFd) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(lifeline.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds.first().is_some_and(|fd| {
            fd.revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR))
        }),
        Err(_) => false,
    }
}

/// PID 1's duty: reap every orphan; when the build itself ends, report
/// how and exit, which kills whatever is left in the namespace.
fn reap_until(build: Pid, report: Report) -> ! {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == build => {
                report.send(Line::new(b'X').int(code.into()));
                exit(0)
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == build => {
                report.send(Line::new(b'K').int(sig as i64));
                exit(0)
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => report.fail(Line::new(b'E').text("waitpid(-1) in PID 1").errno(e)),
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
    let _guard = unsafe { OwnedFd::from_raw_fd(fd) };
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

/// The name of an rlimit in reports.
fn rlimit_name(resource: Resource) -> &'static str {
    match resource {
        Resource::RLIMIT_NOFILE => "setrlimit(RLIMIT_NOFILE, ",
        Resource::RLIMIT_NPROC => "setrlimit(RLIMIT_NPROC, ",
        Resource::RLIMIT_AS => "setrlimit(RLIMIT_AS, ",
        _ => "setrlimit(",
    }
}

/// The last child: become the build process.
fn exec_build(exec: &ExecPlan, report: Report) -> ! {
    report.check(setsid(), "setsid()");
    report.check(
        prctl::set_pdeathsig(Signal::SIGKILL),
        "prctl(PR_SET_PDEATHSIG, SIGKILL)",
    );
    // The session keyring is inherited across fork, exec and even user
    // namespaces: without a new one the build could read the caller's
    // keys (tokens an agent or `keyctl add … @s` put there).
    report.check(
        join_new_session_keyring(),
        "keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)",
    );
    let devnull = report.check(
        open(c"/dev/null", OFlag::O_RDWR, Mode::empty()),
        "open(\"/dev/null\")",
    );
    report.check(dup2(devnull, 0), "dup2(/dev/null, 0)");
    report.check(dup2(exec.log_fd, 1), "dup2(log, 1)");
    report.check(dup2(exec.log_fd, 2), "dup2(log, 2)");
    umask(Mode::from_bits_truncate(exec.umask));
    report.check(
        setrlimit(Resource::RLIMIT_CORE, 0, 0),
        "setrlimit(RLIMIT_CORE, 0)",
    );
    for &(resource, value) in &exec.rlimits {
        if let Err(e) = setrlimit(resource, value, value) {
            report.fail(
                Line::new(b'E')
                    .text(rlimit_name(resource))
                    .uint(value)
                    .text(")")
                    .errno(e),
            );
        }
    }
    if let Some(set) = &exec.cpu {
        report.check(
            sched_setaffinity(Pid::from_raw(0), set),
            "sched_setaffinity(the first allowed CPU)",
        );
    }
    if exec.no_aslr || exec.uname26 {
        let mut persona = report.check(personality::get(), "personality(query)");
        if exec.no_aslr {
            persona |= Persona::ADDR_NO_RANDOMIZE;
        }
        if exec.uname26 {
            persona |= Persona::UNAME26;
        }
        report.check(
            personality::set(persona),
            "personality(ADDR_NO_RANDOMIZE/UNAME26)",
        );
    }
    report.check(prctl::set_no_new_privs(), "prctl(PR_SET_NO_NEW_PRIVS)");
    report.check(
        super::seccomp::install(&exec.seccomp),
        "prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, keyring syscalls → EPERM)",
    );
    report.check_at(chdir(exec.cwd.as_c_str()), "chdir", &exec.cwd, "");
    // Every inherited descriptor beyond 0/1/2 closes on exec (the report
    // pipe too, which tells the parent that exec happened).
    report.check(cloexec_from_3(), "close_range(3, ~0, CLOSE_RANGE_CLOEXEC)");
    let mut denied = None;
    for candidate in &exec.candidates {
        match execve(candidate, &exec.argv, &exec.envp) {
            Errno::ENOENT | Errno::ENOTDIR => continue,
            Errno::EACCES => denied = Some(candidate),
            e => {
                report.send(
                    Line::new(b'F')
                        .text("execve(")
                        .quoted(candidate)
                        .text(")")
                        .errno(e),
                );
                exit(126)
            }
        }
    }
    match denied {
        Some(c) => {
            report.send(
                Line::new(b'F')
                    .text("execve(")
                    .quoted(c)
                    .text("): permission denied"),
            );
            exit(126)
        }
        None => {
            let program = exec.argv.first().map(CStr::to_bytes).unwrap_or_default();
            report.send(Line::new(b'N').bytes(program));
            exit(127)
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_types, clippy::disallowed_macros)]
pub(crate) mod tests {
    use super::*;

    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

    /// The system allocator, counting this thread's allocations and, in a
    /// child of [`forbid_allocation`], failing the run on the first one.
    struct Watchful;

    thread_local! {
        // const-initialized and without destructor: reading it never
        // allocates, so the allocator itself may use it.
        static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    }

    /// Set in a forked child only (its own copy of memory).
    static FORBIDDEN: AtomicBool = AtomicBool::new(false);
    static FORBIDDEN_REPORT: AtomicI32 = AtomicI32::new(-1);

    /// What the run's report says when the child allocated.
    pub(crate) const ALLOCATED: &str = "the sandbox child allocated memory between fork and exec";

    fn on_allocation() {
        if FORBIDDEN.load(Ordering::Relaxed) {
            let fd = FORBIDDEN_REPORT.load(Ordering::Relaxed);
            let line = b"E\tthe sandbox child allocated memory between fork and exec\n";
            // SAFETY: write(2) of a static buffer; _exit ends the process
            // without running anything of the parent's.
            unsafe {
                nix::libc::write(fd, line.as_ptr().cast(), line.len());
                nix::libc::_exit(SETUP_FAILED);
            }
        }
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }

    // SAFETY: every call is forwarded unchanged to the system allocator.
    unsafe impl GlobalAlloc for Watchful {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            on_allocation();
            // SAFETY: the caller's contract is passed on.
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            on_allocation();
            // SAFETY: the caller's contract is passed on.
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            on_allocation();
            // SAFETY: the caller's contract is passed on.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller's contract is passed on.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: Watchful = Watchful;

    /// Called by `spawn` in every child of the unit tests: from now on an
    /// allocation reports [`ALLOCATED`] on `report` and exits.
    pub(crate) fn forbid_allocation(report: RawFd) {
        FORBIDDEN_REPORT.store(report, Ordering::Relaxed);
        FORBIDDEN.store(true, Ordering::Relaxed);
    }

    fn allocations_in(f: impl FnOnce()) -> usize {
        let before = ALLOCATIONS.with(Cell::get);
        f();
        ALLOCATIONS.with(Cell::get) - before
    }

    #[test]
    fn lines_format_numbers_and_paths_without_allocating() {
        let mut out = [0u8; LINE_CAPACITY];
        let mut n = 0;
        let allocations = allocations_in(|| {
            let mut line = Line::new(b'E');
            line.text("mkdir(")
                .quoted(c"/new\nroot")
                .text(") ")
                .int(0)
                .text(" ")
                .int(-42)
                .text(" ")
                .int(i64::MIN)
                .text(" ")
                .uint(u64::MAX)
                .errno(Errno::ENOENT);
            let done = line.finish();
            n = done.len();
            out[..n].copy_from_slice(done);
        });
        assert_eq!(allocations, 0);
        assert_eq!(
            std::str::from_utf8(&out[..n]).unwrap(),
            "E\tmkdir(\"/new root\") 0 -42 -9223372036854775808 18446744073709551615: \
             No such file or directory\n"
        );
    }

    #[test]
    fn the_allocation_counter_sees_allocations() {
        assert!(allocations_in(|| drop(std::hint::black_box(String::from("x")))) >= 1);
    }

    #[test]
    fn long_lines_are_cut_and_stay_one_line() {
        let long = [b'a'; 3 * LINE_CAPACITY];
        let mut line = Line::new(b'N');
        let text = line.bytes(&long).finish().to_vec();
        assert!(text.len() <= LINE_CAPACITY);
        assert!(text.ends_with("…\n".as_bytes()));
        assert_eq!(text.iter().filter(|&&b| b == b'\n').count(), 1);
    }

    #[test]
    fn lines_reach_the_pipe_whole() {
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        Report(std::os::fd::AsRawFd::as_raw_fd(&w)).send(Line::new(b'X').int(7));
        drop(w);
        let text = std::io::read_to_string(std::fs::File::from(r)).unwrap();
        assert_eq!(text, "X\t7\n");
    }

    /// The child's source, without this test module, may not name what
    /// allocates (clippy's disallowed_* lints cover types and macros; this
    /// covers the methods they cannot see).
    #[test]
    fn the_child_source_names_nothing_that_allocates() {
        let source = include_str!("child.rs");
        let code = &source[..source.find("#[cfg(test)]").unwrap()];
        for banned in [
            "format!",
            "vec!",
            "String",
            "Vec<",
            "Vec::",
            "Box",
            "CString::",
            ".to_string(",
            ".to_owned(",
            ".to_vec(",
            ".into_owned(",
            "to_string_lossy",
            ".collect",
            "catch_unwind",
            "println!",
            "caps::",
            "unistd::execve",
            "unistd::execv",
            ".unwrap()",
            ".expect(",
        ] {
            let hits: Vec<_> = code
                .lines()
                .enumerate()
                .filter(|(_, l)| {
                    let l = l.trim_start();
                    !l.starts_with("//") && l.contains(banned)
                })
                .map(|(i, l)| format!("child.rs:{}: {l}", i + 1))
                .collect();
            assert!(hits.is_empty(), "{banned} in the child: {hits:#?}");
        }
    }
}
