//! `repro rebuild --list`: the batch adapter. The library
//! ([`repro::rebuild::batch`]) schedules, times out and records; this file
//! parses the list, says how each package's `repro rebuild` is started
//! (this binary, with the batch's flags) and shows progress.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use repro::rebuild::batch::{self, BatchOptions, Entry, Event, Package, Record, Runner, Shard};

use crate::cli::RebuildArgs;

/// Runs `repro rebuild --list`.
pub fn run(args: RebuildArgs) -> Result<ExitCode> {
    let Some(list) = args.list.clone() else {
        bail!("--list FILE is required in batch mode");
    };
    let Some(out) = args.out.clone() else {
        bail!("--list needs --out DIR (results.jsonl and one directory per package go there)");
    };
    let text =
        std::fs::read_to_string(&list).with_context(|| format!("--list {}", list.display()))?;
    let base = list.parent().unwrap_or(Path::new("."));
    let (entries, errors) = batch::parse_list(&text, base);
    for e in &errors {
        eprintln!(
            "repro: {}:{}: {} (skipped)",
            list.display(),
            e.line,
            e.message
        );
    }
    if args.runs == 0 {
        bail!("--runs 0: at least one build is needed");
    }
    // A bad flag is found once, not once per package.
    super::rebuild::stabilizers(args.stabilizers.as_deref())?;
    if let Some(key) = &args.sign {
        provenance::keys::load_signing_key(key)
            .with_context(|| format!("--sign {}", key.display()))?;
    }
    let shard = args.shard.as_deref().map(str::parse::<Shard>).transpose()?;
    let jobs = match args.jobs {
        Some(0) => bail!("--jobs 0: at least one package at a time"),
        Some(n) => n,
        None => batch::default_jobs(),
    };
    if !(args.package_timeout.is_finite() && args.package_timeout >= 0.0) {
        bail!(
            "--package-timeout {}: not a number of seconds",
            args.package_timeout
        );
    }
    let package_timeout =
        (args.package_timeout > 0.0).then(|| Duration::from_secs_f64(args.package_timeout));
    let runner = ChildRunner {
        exe: std::env::current_exe().context("locating the repro binary to run each package")?,
        flags: forwarded(&args)?,
    };
    let opts = BatchOptions {
        entries,
        out: out.clone(),
        jobs,
        shard,
        retry_failed: args.retry_failed,
        package_timeout,
    };
    let show = Progress::new(std::io::stderr().is_terminal());
    let summary = batch::run_batch(&opts, &runner, &|e| show.event(e))?;
    show.finish();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &summary.finished {
        *counts.entry(r.verdict.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(v, n)| format!("{v} {n}")).collect();
    crate::outln!(
        "{} package(s) in {}: {} rebuilt now ({}), {} already recorded, {} unfinished; {} bad line(s) skipped",
        summary.in_shard,
        shard.map_or("the list".to_owned(), |s| format!("shard {}/{}", s.index, s.count)),
        summary.finished.len(),
        if counts.is_empty() { "none".to_owned() } else { counts.join(", ") },
        summary.skipped,
        summary.unfinished.len(),
        errors.len(),
    );
    eprintln!(
        "repro: results in {}; `repro report {}` summarizes them",
        out.join(batch::RESULTS).display(),
        out.display()
    );
    if let Some(i) = summary.interrupted {
        eprintln!(
            "repro: {i}: {} package(s) left unfinished; rerun the same command to resume",
            summary.unfinished.len()
        );
        return Ok(ExitCode::from(i.exit_code()));
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts each package as `repro rebuild` (this binary) with the batch's
/// flags.
struct ChildRunner {
    exe: PathBuf,
    flags: Vec<OsString>,
}

impl Runner for ChildRunner {
    fn command(&self, entry: &Entry, out: &Path) -> std::io::Result<Command> {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("rebuild");
        // The package directory holds the batch's log: it is a rebuild
        // output directory all the same.
        cmd.arg("--out").arg(out).arg("--force");
        cmd.args(&self.flags);
        match &entry.package {
            Package::Pypi(_) => {
                cmd.arg(&entry.spec);
            }
            Package::Generic(g) => {
                cmd.arg("--upstream").arg(&g.upstream);
                cmd.arg("--source").arg(&g.source);
                if let Some(a) = &g.artifact {
                    cmd.arg("--artifact").arg(a);
                }
                if let Some(epoch) = g.source_date_epoch {
                    // SOURCE_DATE_EPOCH has no flag: a recipe file sets it.
                    let recipe = out.join("batch-recipe.toml");
                    std::fs::write(&recipe, format!("source_date_epoch = {epoch}\n"))?;
                    cmd.arg("--recipe").arg(recipe);
                }
                cmd.arg("--").args(&g.command);
            }
        }
        Ok(cmd)
    }
}

/// The flags every package's `repro rebuild` gets.
fn forwarded(a: &RebuildArgs) -> Result<Vec<OsString>> {
    let mut f: Vec<OsString> = Vec::new();
    let mut flag = |name: &str, value: Option<OsString>| {
        if let Some(v) = value {
            f.push(name.into());
            f.push(v);
        }
    };
    // One cache for every package: frontends and pip's downloads are
    // fetched once for the whole batch.
    let cache = match &a.cache {
        Some(c) => c.clone(),
        None => super::rebuild::default_cache()?,
    };
    flag("--cache", Some(cache.into()));
    flag("--index-url", a.index_url.clone().map(Into::into));
    flag("--python", a.python.clone().map(Into::into));
    flag("--runs", Some(a.runs.to_string().into()));
    flag("--stabilizers", a.stabilizers.clone().map(Into::into));
    flag("--sign", a.sign.as_ref().map(|p| absolute(p).into()));
    flag("--builder-id", a.builder_id.clone().map(Into::into));
    flag("--timeout", a.timeout.map(|t| t.to_string().into()));
    flag("--sandbox", a.sandbox.clone().map(Into::into));
    flag("--memory-max", a.memory_max.map(|m| m.to_string().into()));
    flag("--keep-runs", a.keep_runs.clone().map(Into::into));
    let l = &a.diff_limits;
    flag("--max-depth", Some(l.max_depth.to_string().into()));
    flag("--max-entries", Some(l.max_entries.to_string().into()));
    flag(
        "--max-decompressed",
        Some(l.max_decompressed.to_string().into()),
    );
    flag("--max-ratio", Some(l.max_ratio.to_string().into()));
    flag("--max-json", Some(l.max_json.to_string().into()));
    for p in &a.ro_bind {
        flag("--ro-bind", Some(absolute(p).into()));
    }
    for p in &a.toolchain {
        flag("--toolchain", Some(absolute(p).into()));
    }
    if a.platform_wheel {
        f.push("--platform-wheel".into());
    }
    Ok(f)
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

/// The batch's progress: a bar with counts per verdict and the packages
/// being rebuilt on a terminal, one line per finished package otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    counts: BTreeMap<String, usize>,
    running: BTreeSet<String>,
    done: usize,
    total: usize,
}

impl Progress {
    fn new(terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "repro: [{bar:24}] {pos}/{len} {elapsed} {wide_msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress {
            bar,
            state: Mutex::new(State::default()),
        }
    }

    fn event(&self, e: Event<'_>) {
        let Ok(mut s) = self.state.lock() else { return };
        match e {
            Event::Planned { to_run, done } => {
                s.total = to_run;
                if let Some(bar) = &self.bar {
                    bar.set_length(to_run as u64);
                }
                let line = format!("{to_run} package(s) to rebuild, {done} already recorded");
                self.say(&line);
            }
            Event::Started { spec } => {
                s.running.insert(spec.to_owned());
            }
            Event::Finished { record } => {
                s.running.remove(&record.spec);
                s.done += 1;
                *s.counts.entry(record.verdict.clone()).or_default() += 1;
                match &self.bar {
                    Some(bar) => {
                        bar.inc(1);
                        if record.verdict == "FAILED" || record.verdict == "DIFFERENT" {
                            bar.println(format!("repro: {}", line(record)));
                        }
                    }
                    None => eprintln!("repro: [{}/{}] {}", s.done, s.total, line(record)),
                }
            }
            Event::Warning(w) => self.say(&format!("warning: {w}")),
        }
        if let Some(bar) = &self.bar {
            let counts: Vec<String> = s.counts.iter().map(|(v, n)| format!("{v} {n}")).collect();
            let running: Vec<&str> = s.running.iter().map(String::as_str).collect();
            bar.set_message(format!("{} | {}", counts.join(" · "), running.join(", ")));
        }
    }

    fn say(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("repro: {line}")),
            None => eprintln!("repro: {line}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// One finished package, in a line.
fn line(r: &Record) -> String {
    let mut s = format!(
        "{}: {} in {:.1}s",
        r.spec,
        r.verdict,
        r.duration_ms as f64 / 1000.0
    );
    if !r.stabilizers.is_empty() {
        s += &format!(" (stabilizers: {})", r.stabilizers.join(", "));
    }
    if let Some(stage) = &r.stage {
        // The first line: a build failure's message goes on with its log.
        let why = r
            .failure
            .as_deref()
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("");
        s += &format!(" at {stage}: {why}");
    }
    s
}
