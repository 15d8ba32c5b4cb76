//! `repro attest`: sign the provenance of an earlier build at release time.
//!
//! The statement is rebuilt from report.json alone, exactly as `repro
//! build` makes it, so the release machine that holds the key does not
//! need the build machine.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::cli::AttestArgs;
use repro::attestation;
use repro::report::Report;

/// Runs `repro attest`.
pub fn run(args: AttestArgs) -> Result<ExitCode> {
    let key = provenance::keys::load_signing_key(&args.key)?;
    let report = Report::read(&args.report)?;
    let builder_id = args
        .builder_id
        .unwrap_or_else(|| attestation::DEFAULT_BUILDER_ID.to_string());
    let Some(statement) = attestation::statement(&report, &builder_id)? else {
        bail!(
            "{}: the build ended with an error and produced no artifact to attest",
            args.report.display()
        );
    };
    let output = args.output.unwrap_or_else(|| {
        args.report
            .parent()
            .map(|d| d.join("provenance.intoto.jsonl"))
            .unwrap_or_else(|| PathBuf::from("provenance.intoto.jsonl"))
    });
    // Only an existing regular file is something to lose; stdout, a
    // device or a FIFO is written through, never replaced.
    let target = fsio::Target::from_arg(&output)?;
    if matches!(target, fsio::Target::Replace(_)) && !args.force {
        bail!(
            "{} already exists; pass --force to replace it or -o another file",
            output.display()
        );
    }
    let to_stdout = target == fsio::Target::Stdout;
    let envelope = provenance::sign_statement(&statement, &[&key])?;
    let line = envelope.to_json_line()?;
    fsio::write_target(target, line.as_bytes(), fsio::DEFAULT_MODE)?;
    let done = format!(
        "signed {} subject(s), verdict {}, keyid {}: {}",
        statement.subject.len(),
        serde_json::to_value(report.verdict)?
            .as_str()
            .unwrap_or_default(),
        key.keyid(),
        output.display()
    );
    if to_stdout {
        // stdout carries the envelope; the note must not corrupt it.
        eprintln!("repro: {done}");
    } else {
        crate::outln!("{done}");
    }
    Ok(ExitCode::SUCCESS)
}
