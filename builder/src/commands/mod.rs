//! One module per subcommand; `dispatch` picks one.

mod attest;
mod build;
mod diff;
mod hash;
mod keygen;
mod normalize;
mod rebuild;
mod rebuild_batch;
mod report;
mod sbom;
mod verify;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Exit code for usage, input and build errors (the diffoscope convention).
pub const EXIT_ERROR: u8 = 2;

/// Runs the chosen subcommand and returns the process exit code.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Build(args) => build::run(*args),
        Command::Hash(args) => hash::run(args),
        Command::Normalize(args) => normalize::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Attest(args) => attest::run(args),
        Command::Rebuild(args) => rebuild::run(*args),
        Command::Report(args) => report::run(args),
        Command::Sbom(args) => sbom::run(args),
        Command::Verify(args) => verify::run(args),
    }
}
