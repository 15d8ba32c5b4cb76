//! `repro keygen`: a signing key pair for provenance.

use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::cli::KeygenArgs;

/// Runs `repro keygen`.
pub fn run(args: KeygenArgs) -> Result<ExitCode> {
    let algorithm: provenance::Algorithm = args
        .algorithm
        .parse()
        .with_context(|| format!("--algorithm {}", args.algorithm))?;
    let files = provenance::keys::keygen(algorithm, &args.out)?;
    crate::outln!("private key: {} (mode 0600)", files.private_key.display());
    crate::outln!("public key:  {}", files.public_key.display());
    crate::outln!("keyid:       {}", files.keyid);
    Ok(ExitCode::SUCCESS)
}
