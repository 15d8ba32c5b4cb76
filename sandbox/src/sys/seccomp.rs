//! The seccomp filter every build runs under: it denies the kernel keyring
//! syscalls (add_key, request_key, keyctl) with EPERM, as container
//! runtimes' default profiles do. A fresh session keyring already hides
//! the caller's keys from a search; the filter also closes the keys a
//! build could name by id (a key whose owner granted its uid read access)
//! and the user keyring, which `--sandbox none` shares with the host.
//!
//! The program is plain data ([`program`]) so it is unit-tested by a tiny
//! interpreter below; only [`install`] talks to the kernel. This module
//! must never allow more than it denies today without a test saying so.

use nix::errno::Errno;
use nix::libc;

/// `AUDIT_ARCH_*` of linux/audit.h: the ELF machine with the 64-bit and
/// little-endian flags.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
/// x32 syscalls run with the x86-64 arch value and this bit in the number.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Offsets in `struct seccomp_data`: `int nr; __u32 arch; …`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;

/// For each ABI a process on this machine can call the kernel with (a
/// 64-bit kernel also runs 32-bit code), its arch value and the numbers of
/// add_key, request_key and keyctl.
pub(crate) fn keyring_syscalls() -> &'static [(u32, &'static [u32])] {
    #[cfg(target_arch = "x86_64")]
    {
        &[
            (
                AUDIT_ARCH_X86_64,
                &[
                    248,
                    249,
                    250,
                    X32_SYSCALL_BIT | 248,
                    X32_SYSCALL_BIT | 249,
                    X32_SYSCALL_BIT | 250,
                ],
            ),
            (AUDIT_ARCH_I386, &[286, 287, 288]),
        ]
    }
    #[cfg(target_arch = "aarch64")]
    {
        &[
            (AUDIT_ARCH_AARCH64, &[217, 218, 219]),
            (AUDIT_ARCH_ARM, &[309, 310, 311]),
        ]
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        // No table for this architecture: the fresh session keyring is
        // then the only protection (the README says so).
        &[]
    }
}

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jeq(k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    }
}

/// The BPF program: for each known arch, EPERM for its listed syscall
/// numbers and allow for the rest; allow on an arch not listed.
pub(crate) fn program(table: &[(u32, &[u32])]) -> Vec<libc::sock_filter> {
    let load = |offset| stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset);
    let allow = stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW);
    let deny = stmt(
        libc::BPF_RET | libc::BPF_K,
        libc::SECCOMP_RET_ERRNO | Errno::EPERM as u32,
    );
    let mut prog = vec![load(OFFSET_ARCH)];
    for &(arch, numbers) in table {
        // Block: load nr, one jeq per number, allow, deny.
        let block_len = numbers.len() + 3;
        prog.push(jeq(arch, 0, block_len as u8));
        prog.push(load(OFFSET_NR));
        for (i, &nr) in numbers.iter().enumerate() {
            // Past the remaining jeqs and the allow, onto the deny.
            let to_deny = (numbers.len() - 1 - i + 1) as u8;
            prog.push(jeq(nr, to_deny, 0));
        }
        prog.push(allow);
        prog.push(deny);
        // A block always returns, so a mismatched arch skips to the next
        // block's test with the arch still loaded.
    }
    prog.push(allow);
    prog
}

/// Installs `prog` for this process and everything it execs. Needs
/// no_new_privs (set before), so it works without any capability.
pub(crate) fn install(prog: &[libc::sock_filter]) -> nix::Result<()> {
    if prog.is_empty() {
        return Ok(());
    }
    let fprog = libc::sock_fprog {
        len: u16::try_from(prog.len()).map_err(|_| Errno::E2BIG)?,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: prctl(PR_SET_SECCOMP) reads the `fprog` header and the
    // `len` instructions it points to, both alive for the whole call; the
    // kernel copies the program and keeps no pointer into our memory.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
        )
    };
    Errno::result(rc).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the subset of classic BPF that [`program`] emits.
    fn run(prog: &[libc::sock_filter], arch: u32, nr: u32) -> u32 {
        let mut pc = 0;
        let mut acc = 0;
        loop {
            let ins = prog[pc];
            let code = u32::from(ins.code);
            if code == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS {
                acc = match ins.k {
                    OFFSET_NR => nr,
                    OFFSET_ARCH => arch,
                    other => panic!("load of offset {other}"),
                };
                pc += 1;
            } else if code == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K {
                let skip = if acc == ins.k { ins.jt } else { ins.jf };
                pc += 1 + usize::from(skip);
            } else if code == libc::BPF_RET | libc::BPF_K {
                return ins.k;
            } else {
                panic!("unexpected instruction {code:#x}");
            }
        }
    }

    const DENY: u32 = libc::SECCOMP_RET_ERRNO | Errno::EPERM as u32;

    #[test]
    fn denies_every_listed_syscall_and_nothing_else() {
        let table: &[(u32, &[u32])] = &[(1, &[10, 11, 12]), (2, &[20])];
        let prog = program(table);
        for &(arch, numbers) in table {
            for &nr in numbers {
                assert_eq!(run(&prog, arch, nr), DENY, "arch {arch} nr {nr}");
            }
            for nr in [0, 9, 13, 20, 1000] {
                if !numbers.contains(&nr) {
                    assert_eq!(run(&prog, arch, nr), libc::SECCOMP_RET_ALLOW);
                }
            }
        }
        // An arch not in the table is let through.
        assert_eq!(run(&prog, 3, 10), libc::SECCOMP_RET_ALLOW);
    }

    #[test]
    fn the_real_table_covers_keyctl_on_this_machine() {
        let prog = program(keyring_syscalls());
        if let Some(&(arch, _)) = keyring_syscalls().first() {
            let keyctl = libc::SYS_keyctl as u32;
            let add_key = libc::SYS_add_key as u32;
            let request_key = libc::SYS_request_key as u32;
            for nr in [keyctl, add_key, request_key] {
                assert_eq!(run(&prog, arch, nr), DENY);
            }
            assert_eq!(
                run(&prog, arch, libc::SYS_getpid as u32),
                libc::SECCOMP_RET_ALLOW
            );
        }
    }
}
