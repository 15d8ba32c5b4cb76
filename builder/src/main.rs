//! `repro`: rebuild, compare, normalize and attest software artifacts.
//!
//! This binary is thin glue: it parses the command line (`cli`), turns it
//! into a validated configuration (`config`), and hands the work to the
//! library crates (`sandbox` runs builds, `diffoscope_lite` hashes and
//! compares artifacts). Errors carry their whole chain and end in exit code 2.

mod attestation;
mod bisect;
mod cli;
mod commands;
mod config;
mod dirhash;
mod epoch;
mod fetch;
mod fsutil;
mod output;
mod probe;
mod progress;
mod rebuild;
mod report;
mod runner;
mod toolchain;

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
