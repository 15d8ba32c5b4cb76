//! The one error type of the sandbox crate.

use std::ffi::OsString;
use std::path::PathBuf;

/// What can go wrong while preparing or running a build command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command was empty.
    #[error("the build command is empty")]
    EmptyCommand,
    /// The program could not be found on the build's PATH.
    #[error("build command {program:?} not found on PATH={path:?} as the build sees it (give an absolute path, fix PATH, or make its directory visible with --ro-bind)")]
    CommandNotFound {
        /// The program as given.
        program: OsString,
        /// The PATH the build sees.
        path: OsString,
    },
    /// Starting the command failed for another reason.
    #[error("cannot start build command {program:?} in {cwd}: {reason}")]
    Exec {
        /// The program as given.
        program: OsString,
        /// The working directory.
        cwd: PathBuf,
        /// What execve said.
        reason: String,
    },
    /// A file the run needs could not be opened or created.
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A run's cgroup could not be set up or cleaned up.
    #[error("cannot {action} {path}")]
    Cgroup {
        /// What was being done.
        action: &'static str,
        /// The cgroup directory or file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A system call failed in the parent.
    #[error("{call}: {errno}")]
    Sys {
        /// The call and its arguments.
        call: String,
        /// The error number.
        errno: nix::errno::Errno,
    },
    /// Setting up the sandbox failed in the child.
    #[error("setting up the sandbox failed: {message}{hint}")]
    Setup {
        /// The failing call, its arguments and the errno.
        message: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// The kernel does not let this process create the namespaces.
    #[error("cannot create a sandbox: {reason}\nhint: {hint}")]
    NamespacesUnavailable {
        /// What failed.
        reason: String,
        /// How to proceed.
        hint: String,
    },
    /// A variable given with `--env` would break the pinned environment.
    #[error("--env {key}=… is not allowed: {why}")]
    ReservedVar {
        /// The variable name.
        key: String,
        /// Why it is reserved and what to use instead.
        why: &'static str,
    },
    /// A variable name cannot be passed to a process.
    #[error("--env {key:?}: a variable name must be non-empty and contain neither '=' nor NUL")]
    BadVarName {
        /// The variable name.
        key: String,
    },
    /// A string handed to the kernel contains a NUL byte.
    #[error("{what} {value:?} contains a NUL byte")]
    Nul {
        /// Which value.
        what: &'static str,
        /// The value.
        value: OsString,
    },
    /// A `--ro-bind` path is not usable.
    #[error("--ro-bind {path}: {reason}")]
    BadBind {
        /// The path.
        path: PathBuf,
        /// Why it cannot be bound.
        reason: String,
    },
    /// A `--vary` spec could not be parsed.
    #[error("--vary {spec:?}: unknown variation {name:?}; known: all, {known}")]
    UnknownVariation {
        /// The whole spec.
        spec: String,
        /// The offending name.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
