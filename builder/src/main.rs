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
            eprintln!("error: {}", chain(&err));
            ExitCode::from(commands::EXIT_ERROR)
        }
    }
}

/// `err` and its causes joined by ": ", as `{err:#}` prints them, but a
/// cause whose text the message already ends with is said once (library
/// errors that name their cause in their own message, then carry it).
fn chain(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}
