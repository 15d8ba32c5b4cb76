//! Run one build step the way repro's rebuild loop needs it.
//!
//! A build launched through this crate sees a *scrubbed* environment (only
//! the variables [`BuildEnv`] allows, nothing else from the host), runs with a
//! fixed umask in a session and process group of its own, writes stdout and
//! stderr to a log file, and is killed, with everything it started, when its
//! wall-clock timeout runs out.
//!
//! The namespaces that make a run hermetic (user, mount, pid, net, uts, ipc)
//! and the variations between runs build on this runner. All `unsafe` code
//! and raw syscalls live in the private `sys` module; the rest is safe code.

mod env;
mod error;
mod run;
mod sys;

pub use env::{BuildEnv, RESERVED_VARS};
pub use error::{Error, Result};
pub use run::{run, Outcome, RunSpec};
