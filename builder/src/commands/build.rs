//! `repro build`: build a source tree several times and compare artifacts.
//!
//! The loop is the library's ([`repro::build()`]); this adapter turns the
//! flags into [`BuildOptions`], prints the table (or the JSON report), the
//! culprits and the diffs, and maps the verdict to the exit code.

use std::process::ExitCode;

use anyhow::Result;
use repro::report::{ArtifactStatus, Report};
use repro::{BuildConfig, BuildOptions, KeepRuns, RunTreeMode};

use crate::cli::BuildArgs;

/// Lines of a diff summary shown on the terminal per artifact.
const SUMMARY_LINES: usize = 10;

/// Runs `repro build`.
pub fn run(args: BuildArgs) -> Result<ExitCode> {
    let (json, accept_normalized) = (args.json, args.accept_normalized);
    let cfg = BuildConfig::new(options(args))?;
    let out = cfg.out.clone();
    let built = match repro::build(cfg) {
        Ok(built) => built,
        Err(failure) => {
            if let (Some(interrupt), Some(_)) = (failure.interrupt(), &failure.report) {
                eprintln!(
                    "repro: {:#}; cleaned up, report written to {}",
                    failure.error,
                    out.join("report.json").display()
                );
                return Ok(ExitCode::from(interrupt.exit_code()));
            }
            return Err(failure.error);
        }
    };
    let report = &built.report;
    if json {
        crate::outln!("{}", repro::finish::report_json(report)?);
    } else {
        crate::out!("{}", report.render_table());
        if let Some(b) = &report.bisect {
            crate::outln!("{}", b.summary(report.verdict));
        }
        print_diffs(&out, report);
    }
    eprintln!(
        "repro: report written to {}",
        out.join("report.json").display()
    );
    Ok(built.exit_code(accept_normalized))
}

/// The flags as the library's options (what only the terminal needs,
/// `--json` and the exit-code policy, stays here).
fn options(args: BuildArgs) -> BuildOptions {
    BuildOptions {
        source: args.source,
        runs: args.runs,
        out: args.out,
        force: args.force,
        artifacts: args.artifacts,
        source_date_epoch: args.source_date_epoch,
        env: args.env,
        timeout: args.timeout,
        keep_runs: args.keep_runs.as_deref().map(KeepRuns::from_flag),
        run_tree: match args.run_tree.as_deref() {
            Some("overlay") => RunTreeMode::Overlay,
            Some("copy") => RunTreeMode::Copy,
            _ => RunTreeMode::Auto,
        },
        progress: repro::progress::Mode::detect(args.verbose),
        sandbox: args.sandbox,
        ro_bind: args.ro_bind,
        toolchain: args.toolchain,
        network: args.network,
        fetch: args.fetch,
        fetch_outputs: args.fetch_outputs,
        fetch_lock: args.fetch_lock,
        trust_config: args.trust_config,
        vary: args.vary,
        bisect: args.bisect,
        bisect_budget: args.bisect_budget,
        normalize: args.normalize,
        diff_limits: args.diff_limits.limits(),
        sign: args.sign,
        sbom: args.sbom,
        builder_id: args.builder_id,
        rlimit_nofile: args.rlimit_nofile,
        rlimit_nproc: args.rlimit_nproc,
        rlimit_as: args.rlimit_as,
        memory_max: args.memory_max,
        tmpfs_size: args.tmpfs_size,
        command: args.command,
        single_run: false,
    }
}

/// The diff summaries and report paths, after the table.
fn print_diffs(out: &std::path::Path, report: &Report) {
    for a in &report.artifacts {
        let Some(d) = &a.diff else { continue };
        if let Some(e) = &d.error {
            crate::outln!("\n{}: no diff: {e}", a.path);
            continue;
        }
        // An EQUIVALENT artifact's diff is noise; say so where it is listed.
        let noise = if a.status == ArtifactStatus::Equivalent {
            "; noise only, equal after normalization"
        } else {
            ""
        };
        crate::outln!(
            "\n{} (run {} vs run {}{noise}):",
            a.path,
            d.runs[0],
            d.runs[1]
        );
        for line in d.summary.iter().take(SUMMARY_LINES) {
            crate::outln!("  {line}");
        }
        if d.summary.len() > SUMMARY_LINES {
            crate::outln!("  … {} more", d.summary.len() - SUMMARY_LINES);
        }
        if let Some(html) = d.reports.iter().find(|r| r.ends_with(".html")) {
            crate::outln!("  report: {}", out.join(html).display());
        }
    }
}
