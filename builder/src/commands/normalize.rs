//! `repro normalize`: rewrite artifacts into canonical form.
//!
//! Each file is normalized by `diffoscope_lite::normalize` into a temporary
//! file next to its destination and renamed into place, so a failure never
//! leaves a half-written file. Files are independent: one that fails is
//! named and the others are still normalized. A malformed file is left as
//! it is with a warning (exit code 0), as strip-nondeterminism does;
//! `--strict` makes it an error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use diffoscope_lite::normalize::{self, Fired, Options, Report, RULESET_VERSION};
use rayon::prelude::*;
use serde::Serialize;

use crate::cli::NormalizeArgs;

#[derive(Serialize)]
struct JsonReport {
    path: String,
    output: String,
    ruleset: &'static str,
    format: Option<String>,
    status: &'static str,
    fired: Vec<Fired>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Why a file was left as it is although malformed (without --strict).
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
    /// Whether ambiguous archives were normalized (`--allow-ambiguous`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    allow_ambiguous: bool,
}

/// Where each input goes.
fn destinations(args: &NormalizeArgs) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for f in &args.files {
        if f.is_dir() && !normalize::is_oci_layout(f) {
            bail!(
                "{} is a directory but not an OCI image layout; pass files",
                f.display()
            );
        }
        let dest = match &args.output_dir {
            None => f.clone(),
            Some(dir) => {
                let base = f
                    .file_name()
                    .with_context(|| format!("{} has no file name", f.display()))?;
                dir.join(base)
            }
        };
        if !seen.insert(dest.clone()) {
            bail!(
                "two inputs would be written to {}; normalize them into different directories",
                dest.display()
            );
        }
        out.push((f.clone(), dest));
    }
    Ok(out)
}

/// What a report says in words: the rules that fired, or why none did.
fn status(r: &Report) -> &'static str {
    if r.warning.is_some() {
        return "malformed";
    }
    match (r.format, r.changed()) {
        (None, _) => "unknown format",
        (Some(_), false) => "unchanged",
        (Some(_), true) => "normalized",
    }
}

/// Runs `repro normalize`.
pub fn run(args: NormalizeArgs) -> Result<ExitCode> {
    let pairs = destinations(&args)?;
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let opts = Options {
        source_date_epoch: args.source_date_epoch,
        limits: args.limits.limits(),
        allow_ambiguous: args.allow_ambiguous,
        keep_malformed: !args.strict,
    };
    let results: Vec<_> = pairs
        .par_iter()
        .map(|(src, dst)| normalize::normalize_file(src, dst, &opts))
        .collect();
    let mut failed = false;
    let mut json = Vec::new();
    for ((src, dst), result) in pairs.iter().zip(results) {
        if let Ok(Report {
            warning: Some(w), ..
        }) = &result
        {
            // The library's message names the file and the problem.
            eprintln!("warning: {w}; left unchanged (--strict makes this an error)");
        }
        match result {
            Ok(r) if args.json => json.push(JsonReport {
                path: display(src),
                output: display(dst),
                ruleset: RULESET_VERSION,
                format: r.format.map(|f| f.to_string()),
                status: status(&r),
                fired: r.fired,
                error: None,
                warning: r.warning,
                allow_ambiguous: args.allow_ambiguous,
            }),
            Ok(r) => crate::out!("{}", report_lines(src, &r)),
            Err(err) => {
                failed = true;
                // Library errors name the file and the nested entry.
                let message = format!("{:#}", anyhow::Error::new(err));
                eprintln!("error: {message}");
                if args.json {
                    json.push(JsonReport {
                        path: display(src),
                        output: display(dst),
                        ruleset: RULESET_VERSION,
                        format: None,
                        status: "error",
                        fired: Vec::new(),
                        error: Some(message),
                        warning: None,
                        allow_ambiguous: args.allow_ambiguous,
                    });
                }
            }
        }
    }
    if args.json {
        let text = serde_json::to_string_pretty(&json).context("serializing JSON")?;
        crate::outln!("{text}");
    }
    Ok(ExitCode::from(if failed { super::EXIT_ERROR } else { 0 }))
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// `FILE: rule, rule` per nested path; `FILE: unchanged` or `FILE: unknown format: left unchanged`.
fn report_lines(src: &Path, r: &Report) -> String {
    use std::fmt::Write as _;
    let name = src.display();
    let mut out = String::new();
    match status(r) {
        "malformed" => {
            let _ = writeln!(out, "{name}: malformed: left unchanged");
        }
        "unknown format" => {
            let _ = writeln!(out, "{name}: unknown format: left unchanged");
        }
        "unchanged" => {
            let _ = writeln!(out, "{name}: unchanged");
        }
        _ => {
            let mut paths: Vec<&str> = Vec::new();
            for f in &r.fired {
                if !paths.contains(&f.path.as_str()) {
                    paths.push(&f.path);
                }
            }
            for p in paths {
                let rules: Vec<&str> = r
                    .fired
                    .iter()
                    .filter(|f| f.path == p)
                    .map(|f| f.rule.id())
                    .collect();
                let _ = writeln!(out, "{p}: {}", rules.join(", "));
            }
        }
    }
    out
}
