//! `repro diff A B`: the recursive differ of diffoscope-lite, with the
//! reports of [`repro::diffreport`] (the ones `repro build` writes for
//! every artifact that did not reproduce).

use std::io::IsTerminal as _;
use std::process::ExitCode;

use anyhow::Result;
use diffoscope_lite::hints::{annotate, HintContext};
use diffoscope_lite::printers::{self, HtmlOptions, TextOptions};
use diffoscope_lite::{compare, Options};
use repro::diffreport::{render, Outputs};

use crate::cli::DiffArgs;

/// Two regular files smaller than this together are compared on the
/// calling thread alone.
const SMALL_PAIR: u64 = 1 << 20;

/// Runs `repro diff`.
pub fn run(args: DiffArgs) -> Result<ExitCode> {
    // Starting rayon's workers and handing them a few KB of work cost more
    // than it saved: 4.4 ms instead of 3.7 ms for an 8 KB .odt pair
    // (diffoscope takes 0.15 s there). Small pairs of files run on the
    // calling thread; directories and anything larger keep the pool.
    let size = |p: &std::path::Path| {
        std::fs::metadata(p)
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len())
    };
    if let (Some(a), Some(b)) = (size(&args.a), size(&args.b)) {
        if a.saturating_add(b) < SMALL_PAIR {
            // Fails only if a pool exists already, which then serves.
            let _ = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .use_current_thread()
                .build_global();
        }
    }
    let defaults = Options::default();
    let opts = Options {
        limits: args.limits.limits(),
        max_diff_lines: args.max_diff_lines.unwrap_or(defaults.max_diff_lines),
        ..defaults
    };
    let Some(mut diff) = compare(&args.a, &args.b, &opts)? else {
        return Ok(ExitCode::SUCCESS);
    };
    annotate(
        &mut diff,
        &HintContext {
            build_dirs: args.build_dir.clone(),
            hostnames: args.hostname.clone(),
            user_names: args.user.clone(),
            uids: args.uid.clone(),
            source_date_epoch: args
                .source_date_epoch
                .or_else(diffoscope_lite::hints::env_source_date_epoch),
            ..HintContext::default()
        },
    );
    let outputs = Outputs {
        text: args.text.clone(),
        json: args.json.clone(),
        html: args.html.clone(),
        color: color_wanted(),
    };
    // The page's summary shows the inputs and the counts; a plain diff
    // knows nothing more to add.
    outputs.write(&diff, &HtmlOptions::default())?;
    let stdout_text = args.text.is_none() && args.json.is_none() && args.html.is_none();
    if args.summary {
        crate::out!("{}", render(|w| printers::summary(&diff, w))?);
    } else if stdout_text {
        let color = color_wanted();
        crate::out!(
            "{}",
            render(|w| printers::text(&diff, w, &TextOptions { color }))?
        );
    }
    Ok(ExitCode::from(1))
}

/// Whether stdout is a terminal that wants colour.
fn color_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
