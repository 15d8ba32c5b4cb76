//! Every raw syscall and every `unsafe` block of the sandbox crate.
//!
//! Keeping them here means the rest of the crate is safe code that can be
//! read and tested without thinking about async-signal safety.
#![allow(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sys::signal::{killpg, Signal};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{setsid, Pid};

/// Arranges for the child, between fork and exec, to set its umask and to
/// become the leader of a new session (and so of a new process group), so
/// it cannot reach the caller's terminal and can be killed as a group.
pub(crate) fn in_child_before_exec(cmd: &mut Command, mask: u32) {
    let mode = Mode::from_bits_truncate(mask);
    // SAFETY: the closure runs in the forked child before exec and only calls
    // umask(2) and setsid(2), which are async-signal-safe, allocates nothing
    // and touches no lock.
    unsafe {
        cmd.pre_exec(move || {
            umask(mode);
            setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
}

/// SIGKILLs the process group led by `pid`; a group that is already gone is fine.
pub(crate) fn kill_process_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // ESRCH (no such group) is the normal case after a clean exit.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}
