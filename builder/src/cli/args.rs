//! The clap definition of repro's command line.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Reproducible-build harness: rebuild artifacts, compare them bit for bit,
/// and say whether the build reproduced.
///
/// Exit codes: 0 reproducible, 1 not reproducible, 2 usage or build error.
#[derive(Debug, Parser)]
#[command(name = "repro", version, about, long_about = None)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// repro's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a source tree several times and check the artifacts are identical.
    Build(BuildArgs),
    /// Print the SHA-256 of files (computed in parallel), like sha256sum.
    Hash(HashArgs),
}

/// Arguments of `repro hash`.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// Files to hash.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Print a JSON array of {path, sha256, size} instead of sha256sum lines.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `repro build`.
#[derive(Debug, Args)]
#[command(
    after_help = "The command and artifacts may also come from SOURCE_DIR/repro.toml:\n\n  [build]\n  command = [\"sh\", \"build.sh\"]\n  artifacts = [\"dist/*\"]\n\nFlags override the file."
)]
pub struct BuildArgs {
    /// The source tree to build (default: the current directory).
    #[arg(value_name = "SOURCE_DIR")]
    pub source: Option<PathBuf>,

    /// How many times to build (at least 2; default 2 or repro.toml's `runs`).
    #[arg(long, value_name = "N")]
    pub runs: Option<u32>,

    /// Where to put runs, logs, artifacts and report.json (default: ./repro-out/<source dir name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Replace an existing --out directory made by an earlier repro run.
    #[arg(long)]
    pub force: bool,

    /// Glob of artifact paths relative to the build dir, e.g. 'dist/*' (repeatable).
    #[arg(long = "artifacts", value_name = "GLOB")]
    pub artifacts: Vec<String>,

    /// Pin SOURCE_DATE_EPOCH to this value (seconds since 1970).
    #[arg(long, value_name = "SECS")]
    pub source_date_epoch: Option<i64>,

    /// Extra environment variable for the build (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Kill a run (and everything it started) after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,

    /// Print report.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,

    /// The build command and its arguments (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}
