//! `repro hash`: SHA-256 of files, in parallel, in `sha256sum`'s format.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::cli::HashArgs;

#[derive(Serialize)]
struct Entry<'a> {
    path: &'a str,
    sha256: String,
    size: u64,
}

/// Runs `repro hash`.
pub fn run(args: HashArgs) -> Result<ExitCode> {
    let paths: Vec<PathBuf> = args.paths;
    for p in &paths {
        if p.to_str().is_none() {
            anyhow::bail!("path {p:?} is not valid UTF-8");
        }
        if p.is_dir() {
            anyhow::bail!("{} is a directory; pass files", p.display());
        }
    }
    let digests = diffoscope_lite::sha256_files(&paths);
    let mut failed = false;
    let mut entries = Vec::new();
    for (path, digest) in paths.iter().zip(digests) {
        let name = path.to_str().unwrap_or_default();
        match digest {
            Ok(d) if args.json => entries.push(Entry {
                path: name,
                sha256: d.hex(),
                size: d.size,
            }),
            Ok(d) => crate::outln!("{}  {name}", d.hex()),
            Err(err) => {
                failed = true;
                eprintln!("error: {:#}", anyhow::Error::from(err));
            }
        }
    }
    if args.json {
        let json = serde_json::to_string_pretty(&entries).context("serializing JSON")?;
        crate::outln!("{json}");
    }
    Ok(ExitCode::from(if failed { super::EXIT_ERROR } else { 0 }))
}
