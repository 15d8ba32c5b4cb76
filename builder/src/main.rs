//! `repro`: rebuild, compare, normalize and attest software artifacts.
//!
//! This binary is thin glue: it parses the command line (`cli`, the only
//! place that knows clap), turns it into the library's validated
//! configuration, calls the library (`repro` runs the rebuild loop,
//! `sandbox` runs builds, `diffoscope_lite` hashes and compares artifacts)
//! and prints what comes back (`output`). Errors carry their whole chain
//! and end in exit code 2.

mod cli;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(commands::EXIT_ERROR)
        }
    }
}
