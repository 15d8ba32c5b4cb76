//! `diffoscope-lite A B`: compare two artifacts recursively.
//!
//! Thin glue: clap arguments → [`Options`] → [`compare`] → hints → printers.
//! Exit codes follow diffoscope: 0 identical, 1 different, 2 error.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use diffoscope_lite::hints::{annotate, HintContext};
use diffoscope_lite::printers::{self, TextOptions};
use diffoscope_lite::{compare, Limits, Options};

/// Compare two artifacts (files, archives, directories) recursively and show
/// what differs, like diffoscope.
#[derive(Parser, Debug)]
#[command(name = "diffoscope-lite", version)]
struct Args {
    /// First artifact.
    a: PathBuf,
    /// Second artifact.
    b: PathBuf,
    /// Write diffoscope-compatible JSON to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Write the text report to FILE (`-` for stdout); the default when no
    /// other output is asked for.
    #[arg(long, value_name = "FILE")]
    text: Option<PathBuf>,
    /// Print only the paths that differ, one per line.
    #[arg(long)]
    summary: bool,
    /// Deepest container nesting followed.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_depth)]
    max_depth: u32,
    /// Most diff lines shown per file.
    #[arg(long, value_name = "N", default_value_t = Options::default().max_diff_lines)]
    max_diff_lines: usize,
    /// Most entries read from all archives of one side.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_entries)]
    max_entries: u64,
    /// Most bytes decompressed on one side.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_decompressed)]
    max_decompressed: u64,
    /// Highest compression ratio of any stream.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_ratio)]
    max_ratio: u64,
    /// Largest JSON document of an image (OCI index, manifest, config) read.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_json)]
    max_json: u64,
    /// A directory either build ran in, so embedded paths under it are
    /// named as build paths (repeatable).
    #[arg(long, value_name = "DIR")]
    build_dir: Vec<String>,
    /// A host name either build ran on (repeatable).
    #[arg(long, value_name = "NAME")]
    hostname: Vec<String>,
    /// A user name either build ran as (repeatable).
    #[arg(long, value_name = "NAME")]
    user: Vec<String>,
    /// A uid or gid either build ran as (repeatable).
    #[arg(long, value_name = "ID")]
    uid: Vec<u64>,
    /// SOURCE_DATE_EPOCH of the builds [default: $SOURCE_DATE_EPOCH].
    #[arg(long, value_name = "SECS")]
    source_date_epoch: Option<i64>,
}

impl Args {
    fn options(&self) -> Options {
        Options {
            limits: Limits {
                max_depth: self.max_depth,
                max_entries: self.max_entries,
                max_decompressed: self.max_decompressed,
                max_ratio: self.max_ratio,
                max_json: self.max_json,
            },
            max_diff_lines: self.max_diff_lines,
            ..Options::default()
        }
    }
}

/// What the caller told about the builds, for exact likely-cause hints.
fn hint_context(args: &Args) -> HintContext {
    HintContext {
        build_dirs: args.build_dir.clone(),
        hostnames: args.hostname.clone(),
        user_names: args.user.clone(),
        uids: args.uid.clone(),
        source_date_epoch: args
            .source_date_epoch
            .or_else(diffoscope_lite::hints::env_source_date_epoch),
        ..HintContext::default()
    }
}

fn color_wanted() -> bool {
    io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Runs `print` on `path` through `fsio`: `-` is stdout, a regular file
/// is replaced atomically (never left half-written), and a device, FIFO or
/// symlink is written through rather than replaced.
fn output(
    path: &Path,
    print: impl FnOnce(&mut dyn Write, bool) -> diffoscope_lite::Result<()>,
) -> anyhow::Result<()> {
    let mut out = fsio::Output::open_arg(path, fsio::DEFAULT_MODE)?;
    let color = out.is_stdout() && color_wanted();
    let done = print(&mut out, color).map_err(anyhow::Error::from);
    match done.and_then(|()| out.finish().map_err(anyhow::Error::from)) {
        // The reader went away (`| head`): stop printing, keep the exit code.
        Err(e) if path == Path::new("-") && broken_pipe(&e) => Ok(()),
        other => other,
    }
}

/// Whether `e` comes from a closed pipe.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<fsio::Error>()
                .is_some_and(|f| f.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run(args: &Args) -> anyhow::Result<bool> {
    let Some(mut diff) = compare(&args.a, &args.b, &args.options())? else {
        return Ok(false);
    };
    annotate(&mut diff, &hint_context(args));
    let text = match (
        &args.text,
        args.json.is_none() && args.html.is_none() && !args.summary,
    ) {
        (Some(p), _) => Some(p.clone()),
        (None, true) => Some(PathBuf::from("-")),
        (None, false) => None,
    };
    if let Some(p) = &text {
        output(p, |w, color| {
            printers::text(&diff, w, &TextOptions { color })
        })?;
    }
    if let Some(p) = &args.json {
        output(p, |w, _| printers::json(&diff, w))?;
    }
    if let Some(p) = &args.html {
        output(p, |w, _| {
            printers::html(&diff, w, &printers::HtmlOptions::default())
        })?;
    }
    if args.summary {
        output(Path::new("-"), |w, _| printers::summary(&diff, w))?;
    }
    Ok(true)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(false) => ExitCode::from(0),
        Ok(true) => ExitCode::from(1),
        Err(err) => {
            eprintln!("diffoscope-lite: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
