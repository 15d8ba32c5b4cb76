//! `repro hash`: SHA-256 of files, in parallel, in `sha256sum`'s format;
//! with `--normalized`, the `repro-normalized-v1` digest.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use diffoscope_lite::normalize::{self, Fired, DIGEST_VERSION};
use rayon::prelude::*;
use serde::Serialize;

use crate::cli::HashArgs;

#[derive(Serialize)]
struct Entry<'a> {
    path: &'a str,
    sha256: String,
    size: u64,
}

#[derive(Serialize)]
struct NormalizedEntry<'a> {
    path: &'a str,
    #[serde(rename = "digest-version")]
    digest_version: &'static str,
    digest: String,
    format: Option<String>,
    /// The rules `repro normalize` would fire on this file.
    rules: Vec<Fired>,
    /// Whether ambiguous archives were digested (`--allow-ambiguous`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    allow_ambiguous: bool,
    /// Why a malformed file's digest is its plain SHA-256 (without --strict).
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
}

/// Runs `repro hash`.
pub fn run(args: HashArgs) -> Result<ExitCode> {
    let paths: Vec<PathBuf> = args.paths.clone();
    for p in &paths {
        if p.to_str().is_none() {
            anyhow::bail!("path {p:?} is not valid UTF-8");
        }
        if p.is_dir() && !(args.normalized && normalize::is_oci_layout(p)) {
            anyhow::bail!(
                "{} is a directory; pass files (or, with --normalized, an OCI image layout)",
                p.display()
            );
        }
    }
    if !args.normalized {
        let digests = diffoscope_lite::sha256_files(&paths);
        return print(&paths, digests, args.json, |path, d| {
            (
                d.hex(),
                Entry {
                    path,
                    sha256: d.hex(),
                    size: d.size,
                },
            )
        });
    }
    let opts = normalize::Options {
        source_date_epoch: args.source_date_epoch,
        limits: args.limits.limits(),
        allow_ambiguous: args.allow_ambiguous,
        keep_malformed: !args.strict,
    };
    let digests: Vec<_> = paths
        .par_iter()
        .map(|p| normalize::normalized_digest(p, &opts))
        .collect();
    print(&paths, digests, args.json, |path, d| {
        if let Some(w) = &d.warning {
            eprintln!("warning: {w}; hashed as it is (--strict makes this an error)");
        }
        (
            d.hex(),
            NormalizedEntry {
                path,
                digest_version: DIGEST_VERSION,
                digest: d.hex(),
                format: d.format.map(|f| f.to_string()),
                rules: d.fired,
                allow_ambiguous: args.allow_ambiguous,
                warning: d.warning,
            },
        )
    })
}

/// Prints one `HEX  PATH` line per file, or a JSON array; errors go to
/// stderr, naming the file, and make the exit code 2.
fn print<'a, D, J: Serialize>(
    paths: &'a [PathBuf],
    digests: Vec<diffoscope_lite::Result<D>>,
    json: bool,
    render: impl Fn(&'a str, D) -> (String, J),
) -> Result<ExitCode> {
    let mut failed = false;
    let mut entries = Vec::new();
    for (path, digest) in paths.iter().zip(digests) {
        let name = path.to_str().unwrap_or_default();
        match digest {
            Ok(d) => {
                let (hex, entry) = render(name, d);
                if json {
                    entries.push(entry);
                } else {
                    crate::outln!("{hex}  {name}");
                }
            }
            Err(err) => {
                failed = true;
                eprintln!("error: {:#}", anyhow::Error::from(err));
            }
        }
    }
    if json {
        let text = serde_json::to_string_pretty(&entries).context("serializing JSON")?;
        crate::outln!("{text}");
    }
    Ok(ExitCode::from(if failed { super::EXIT_ERROR } else { 0 }))
}
