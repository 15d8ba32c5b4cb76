//! Run one build step hermetically, the way repro's rebuild loop needs it.
//!
//! A build launched through this crate sees a *scrubbed* environment (only
//! the variables [`BuildEnv`] allows), starts with a fixed umask in a
//! session of its own, writes stdout and stderr to a log file, and is
//! killed, with everything it started, when its wall-clock timeout runs out.
//! It gets a new, empty session keyring and a seccomp filter that denies
//! the keyring syscalls, so the caller's keys stay out of reach.
//!
//! With [`Isolation::Namespaces`] (the default of `repro build`) it also
//! runs in new user, mount, pid, network, uts and ipc namespaces, in a
//! fresh root assembled from an allowlist: host `/usr`, `/bin`, `/lib*`,
//! `/etc` read-only, the build dir read-write, tmpfs at `/tmp` and HOME, a
//! new `/proc` and a minimal `/dev`. Only loopback networking exists. It
//! needs no root, no setuid helper and no external program: unprivileged
//! user namespaces are enough. Started as root, it maps the build to an
//! unprivileged host uid ([`ROOT_MAPPED_ID`]) so nothing inside acts as
//! host root.
//!
//! [`ResourceLimits`] bound what a hostile build can take from the host: a
//! process limit, a size on every tmpfs the sandbox mounts, and a memory
//! limit; [`ResourceLimits::defaults`] are the values `repro build` starts
//! from. Where a cgroup v2 subtree is delegated to repro, each run gets a
//! cgroup of its own that enforces the memory and process limits and is
//! killed as a whole; elsewhere they are rlimits ([`limit_mechanism`]).
//!
//! [`variations`] describes what may differ between runs (build path, time
//! zone, hostname, …, named as in reprotest) and how each is applied.
//!
//! All `unsafe` code and raw syscalls live in the private `sys` module;
//! the rest of the crate is safe code over plain data.

// sandbox/clippy.toml names the types and macros that allocate; they are
// fine here and denied only in the code between fork and exec.
#![allow(clippy::disallowed_types, clippy::disallowed_macros)]

mod cgroup;
mod env;
mod error;
pub mod interrupt;
mod layout;
mod overlay;
mod run;
mod spec;
mod sys;
pub mod variations;

pub use cgroup::{limit_mechanism, LimitMechanism, LEAF};
pub use env::{BuildEnv, RESERVED_VARS};
pub use error::{Error, Result};
pub use layout::{program_candidates, ROOT_MAPPED_ID};
pub use overlay::{lookup, merge_overlay, Layer};
pub use run::{check_namespaces, prepare_lower, run, run_observed, Outcome, TICK};
pub use spec::{BuildUser, Isolation, Overlay, ResourceLimits, Rlimit, RunSpec, SMALL_TMPFS_SIZE};
