//! The one error type of the sandbox crate.

use std::ffi::OsString;
use std::path::PathBuf;

/// What can go wrong while preparing or running a build command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command was empty.
    #[error("the build command is empty")]
    EmptyCommand,
    /// The program could not be found on the scrubbed PATH.
    #[error("build command {program:?} not found on PATH={path:?} (the build sees the host's PATH; give an absolute path or fix PATH)")]
    CommandNotFound {
        /// The program as given.
        program: OsString,
        /// The PATH the build sees.
        path: OsString,
    },
    /// Spawning the command failed for another reason.
    #[error("cannot start build command {program:?} in {cwd}")]
    Spawn {
        /// The program as given.
        program: OsString,
        /// The working directory.
        cwd: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The log file could not be created.
    #[error("cannot create log file {path}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Waiting for the command failed.
    #[error("waiting for build command {program:?} failed")]
    Wait {
        /// The program as given.
        program: OsString,
        /// The underlying error.
        #[source]
        source: std::io::Error,
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
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
