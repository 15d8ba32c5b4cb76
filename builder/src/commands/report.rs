//! `repro report`: merge batch results into a summary (stdout), a JSON
//! report and an HTML dashboard; the merge and rendering are the library's
//! ([`repro::dashboard`]).

use std::io::Write as _;
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
    if let Some(path) = &args.html {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("--html {}", path.display()))?;
        let mut page = Vec::new();
        d.write_html(&mut page, dir)?;
        fsio::write(path, &page).with_context(|| format!("--html {}", path.display()))?;
        eprintln!("repro: dashboard written to {}", path.display());
    }
    match args.json.as_deref() {
        Some(p) if p.as_os_str() == "-" => {
            let mut out = std::io::stdout().lock();
            d.write_json(&mut out)?;
            out.flush()?;
        }
        Some(p) => {
            let mut buf = Vec::new();
            d.write_json(&mut buf)?;
            fsio::write(p, &buf).with_context(|| format!("--json {}", p.display()))?;
            crate::out!("{}", d.text());
        }
        None => crate::out!("{}", d.text()),
    }
    Ok(if args.fail_on_regression && !d.regressions.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
