//! `repro report`: merge batch results into a summary (stdout), a JSON
//! report and an HTML dashboard; the merge and rendering are the library's
//! ([`repro::dashboard`]).

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use repro::dashboard::Dashboard;

use crate::cli::ReportArgs;

/// Runs `repro report`.
pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let d = Dashboard::load(&args.dirs)?;
    for w in &d.warnings {
        eprintln!("repro: warning: {w}");
    }
    // Both outputs are streamed to a temporary file renamed into place: a
    // page of 100,000 rows is never held in memory whole, and a reader
    // never sees half of one.
    if let Some(path) = &args.html {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("--html {}", path.display()))?;
        let mut out = fsio::Output::open(path, 0o644)?;
        d.write_html(&mut out, dir)
            .with_context(|| format!("--html {}", path.display()))?;
        out.finish()?;
        eprintln!("repro: dashboard written to {}", path.display());
    }
    let json_to_stdout = args.json.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if let Some(path) = &args.json {
        let mut out = fsio::Output::open_arg(path, 0o644)?;
        d.write_json(&mut out)
            .with_context(|| format!("--json {}", path.display()))?;
        out.finish()?;
    }
    if !json_to_stdout {
        crate::out!("{}", d.text());
    }
    Ok(if args.fail_on_regression && !d.regressions.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
