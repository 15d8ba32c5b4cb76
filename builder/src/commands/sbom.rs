//! `repro sbom`: a CycloneDX SBOM of artifacts, with the reproducibility
//! record of the build that made them when its report is given. The
//! document is the library's ([`repro::sbom::generate`]); this adapter
//! reads the flags, prints the warnings and writes the output.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use repro::report::Report;
use repro::sbom::{self, Artifact, Context};

use crate::cli::SbomArgs;

/// Runs `repro sbom`.
pub fn run(args: SbomArgs) -> Result<ExitCode> {
    let key = match &args.sign {
        Some(k) => Some(provenance::keys::load_signing_key(k)?),
        None => None,
    };
    let report = args.report.as_deref().map(Report::read).transpose()?;
    let artifacts = args
        .artifacts
        .iter()
        .map(|file| Artifact {
            name: file.file_name().map_or_else(
                || file.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            file: file.clone(),
        })
        .collect::<Vec<_>>();
    let target = fsio::Target::from_arg(&args.output)?;
    // Before the --force check: being told to pass --force would only
    // lead to the refusal below.
    if target != fsio::Target::Stdout {
        refuse_an_input_as_output(&args.output, &args.artifacts)?;
    }
    if matches!(target, fsio::Target::Replace(_)) && !args.force {
        bail!(
            "{} already exists; pass --force to replace it or -o another file",
            args.output.display()
        );
    }
    // The flag is checked as clap parses it; the environment is read
    // only without it, and a bad value there is refused, not dropped.
    let source_date_epoch = match args.source_date_epoch {
        Some(v) => Some(v),
        None => diffoscope_lite::hints::source_date_epoch_from_env()?,
    };
    let cx = Context {
        report: report.as_ref(),
        source_date_epoch: source_date_epoch.or(report.as_ref().map(|r| r.source_date_epoch.value)),
        builder_id: args.builder_id.as_deref(),
        read: diffoscope_lite::Options {
            limits: args.limits.limits(),
            ..Default::default()
        },
    };
    let sbom = sbom::generate(&artifacts, &cx)?;
    for w in &sbom.warnings {
        eprintln!("warning: {w}");
    }
    let to_stdout = target == fsio::Target::Stdout;
    let bytes = match &key {
        Some(key) => {
            let envelope = provenance::sign_statement(&sbom.statement()?, &[key])?;
            envelope.to_json_line()?.into_bytes()
        }
        None => sbom.to_json()?,
    };
    fsio::write_target(target, &bytes, fsio::DEFAULT_MODE)?;
    if !to_stdout {
        let signed = key
            .as_ref()
            .map(|k| format!(", signed (keyid {})", k.keyid()))
            .unwrap_or_default();
        crate::outln!(
            "SBOM of {} artifact(s){signed}: {}",
            artifacts.len(),
            args.output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses an `output` that is one of the `inputs`: written (with
/// --force, or through a link), the SBOM would destroy the artifact it
/// lists. The same path as given, or the same file (device and inode, so
/// symbolic and hard links to it count) when the output exists.
fn refuse_an_input_as_output(output: &Path, inputs: &[PathBuf]) -> Result<()> {
    let out = std::fs::metadata(output).ok();
    for input in inputs {
        let same_file = match (&out, std::fs::metadata(input)) {
            (Some(o), Ok(i)) => o.dev() == i.dev() && o.ino() == i.ino(),
            _ => false,
        };
        if same_file || input == output {
            bail!(
                "-o {} is the artifact {}: writing the SBOM would replace it; choose another output",
                output.display(),
                input.display()
            );
        }
    }
    Ok(())
}
