//! `repro rebuild --list`: many rebuilds, resumable, in parallel, sharded.
//!
//! Each package is rebuilt by its own `repro rebuild` process (what the
//! caller's [`Runner`] starts, i.e. [`super::run::rebuild`] once per
//! package), in a process group of its own, with its output in
//! `DIR/packages/<name>/rebuild.log`. A process per package is what makes
//! the per-package timeout and crash isolation possible: a hung `pip` or a
//! build that takes the process down is killed or lost alone, and each
//! build keeps the build loop's own interrupt handling and progress output.
//!
//! One record per finished package is appended to `DIR/results.jsonl`
//! ([`Record`], [`Results`]); a rerun skips the specs recorded there, so a
//! batch resumes after a kill or a reboot.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::generic::Generic;
use super::pypi;
use sandbox::interrupt::Interrupt;

/// The schema id of a `results.jsonl` record.
pub const RECORD_SCHEMA: &str = "repro-batch-result-v1";
/// The results file in a batch's output directory.
pub const RESULTS: &str = "results.jsonl";
/// The environment variable naming the batch's pid in each package's
/// process, which then asks the kernel to be stopped when the batch dies
/// ([`Runner`] callers forward it; `repro rebuild` honours it).
pub const PARENT_ENV: &str = "REPRO_BATCH_PARENT";
/// How long a package's processes get to stop after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(10);
/// How often a worker looks at its package's process.
const POLL: Duration = Duration::from_millis(100);

/// What can stop a batch before it starts (a package's failure never does).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another batch holds the output directory.
    #[error("{}: another `repro rebuild --list` is writing there (its lock is held); wait for it or use another --out", dir.display())]
    Locked {
        /// The output directory.
        dir: PathBuf,
    },
    /// `--shard` is not `I/N` with `0 <= I < N`.
    #[error("--shard {given:?}: {reason} (expected I/N with 0 <= I < N, e.g. 0/4)")]
    Shard {
        /// As given.
        given: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A record could not be serialized.
    #[error("serializing a result record: {0}")]
    Json(#[from] serde_json::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BatchError + '_ {
    move |source| BatchError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One package of the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Package {
    /// `pypi:NAME==VERSION`.
    Pypi(pypi::Spec),
    /// `generic:RECIPE.toml`: a [`Generic`] recipe whose relative paths
    /// are relative to the recipe file.
    Generic(Generic),
}

/// A line of the list that names a package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number in the list.
    pub line: usize,
    /// The canonical spec: the package's identity in results, shards and
    /// reports (`pypi:` names PEP 503-normalized; `generic:` as written).
    pub spec: String,
    /// What to rebuild.
    pub package: Package,
}

impl Entry {
    /// The package's directory under the batch's output directory,
    /// relative to it: readable, and unique per spec.
    pub fn dir(&self) -> PathBuf {
        let name = match &self.package {
            Package::Pypi(s) => format!("{}-{}", normalize(&s.name), s.version),
            Package::Generic(_) => {
                let stem = self
                    .spec
                    .trim_start_matches("generic:")
                    .rsplit('/')
                    .next()
                    .unwrap_or("recipe")
                    .trim_end_matches(".toml")
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect::<String>();
                format!("generic-{stem}-{:08x}", hash64(&self.spec) as u32)
            }
        };
        Path::new("packages").join(name)
    }
}

/// A line of the list that could not be used; the batch goes on without it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ListError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// PEP 503 normalization: lowercase, runs of `-_.` as one `-`.
fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Parses a list: one spec per line, `#` comments and blank lines allowed.
/// `base` is the list's directory (generic recipe paths are relative to
/// it). Bad lines and repeated specs come back as errors, never stopping
/// the parse.
pub fn parse_list(text: &str, base: &Path) -> (Vec<Entry>, Vec<ListError>) {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let text = raw.split('#').next().unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        let parsed = parse_entry(text, base);
        match parsed {
            Ok((spec, package)) => {
                if let Some(first) = seen.get(&spec) {
                    errors.push(ListError {
                        line,
                        message: format!("{spec} repeats line {first}"),
                    });
                    continue;
                }
                seen.insert(spec.clone(), line);
                entries.push(Entry {
                    line,
                    spec,
                    package,
                });
            }
            Err(message) => errors.push(ListError { line, message }),
        }
    }
    (entries, errors)
}

fn parse_entry(text: &str, base: &Path) -> Result<(String, Package), String> {
    if text.split_whitespace().count() > 1 {
        return Err(format!("{text:?}: one package spec per line"));
    }
    if text.starts_with("pypi:") {
        let s = pypi::Spec::parse(text)?;
        let spec = format!("pypi:{}=={}", normalize(&s.name), s.version);
        return Ok((spec, Package::Pypi(s)));
    }
    if let Some(rel) = text.strip_prefix("generic:") {
        let path = base.join(rel);
        let body = std::fs::read_to_string(&path)
            .map_err(|e| format!("generic recipe {}: {e}", path.display()))?;
        let mut g: Generic =
            toml::from_str(&body).map_err(|e| format!("generic recipe {}: {e}", path.display()))?;
        let dir = path.parent().unwrap_or(base);
        g.upstream = dir.join(&g.upstream);
        g.source = dir.join(&g.source);
        if g.command.is_empty() {
            return Err(format!(
                "generic recipe {}: `command` is empty",
                path.display()
            ));
        }
        return Ok((format!("generic:{rel}"), Package::Generic(g)));
    }
    Err(format!(
        "{text:?}: expected pypi:NAME==VERSION or generic:RECIPE.toml"
    ))
}

/// `--shard I/N`: the packages whose spec hashes to `I` modulo `N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0 <= index < count`.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = BatchError;

    fn from_str(s: &str) -> Result<Self, BatchError> {
        let bad = |reason| BatchError::Shard {
            given: s.to_owned(),
            reason,
        };
        let (i, n) = s.split_once('/').ok_or_else(|| bad("no '/'"))?;
        let index: u64 = i.trim().parse().map_err(|_| bad("I is not a number"))?;
        let count: u64 = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index >= count {
            return Err(bad("I must be less than N (shards count from 0)"));
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// True when `spec` is in this shard. The hash is SHA-256 of the
    /// canonical spec: the same on every machine, release and list order,
    /// so a package stays in its shard when the list grows.
    pub fn contains(&self, spec: &str) -> bool {
        hash64(spec) % self.count == self.index
    }
}

fn hash64(spec: &str) -> u64 {
    let d = Sha256::digest(spec.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

/// One finished package: a line of `results.jsonl`. Paths are relative to
/// the batch's output directory.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// [`RECORD_SCHEMA`].
    pub schema: String,
    /// The canonical spec.
    pub spec: String,
    /// BIT_FOR_BIT, EQUIVALENT, DIFFERENT or FAILED.
    pub verdict: String,
    /// Where a FAILED rebuild stopped: a rebuild stage, `timeout` (killed
    /// after `--package-timeout`) or `crash` (ended without a verdict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// What went wrong, for FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The build backend (PyPI: the recipe's, with its version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// What the upstream wheel says made it (its WHEEL `Generator`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    /// Stabilizers needed (EQUIVALENT, DIFFERENT).
    #[serde(default)]
    pub stabilizers: Vec<String>,
    /// Milliseconds per rebuild stage.
    #[serde(default)]
    pub timings_ms: BTreeMap<String, u64>,
    /// Wall-clock milliseconds of the whole package, process start to end.
    pub duration_ms: u64,
    /// SHA-256 of the upstream artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_sha256: Option<String>,
    /// SHA-256 of the rebuilt artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebuilt_sha256: Option<String>,
    /// The package's directory.
    pub dir: String,
    /// Its rebuild.json, when written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebuild_json: Option<String>,
    /// The recursive diff (EQUIVALENT, DIFFERENT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// The unsigned in-toto statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    /// The signed attestation (with `--sign`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
    /// The package's output (`repro rebuild`'s stderr and stdout).
    pub log: String,
    /// Start (RFC 3339, UTC).
    pub started_at: String,
    /// End.
    pub finished_at: String,
    /// repro's version.
    pub repro_version: String,
    /// The machine (host name) it ran on.
    pub machine: String,
}

/// `results.jsonl`, open for appending.
///
/// The atomicity relied on: each record is one `write(2)` of the whole
/// line on an `O_APPEND` descriptor. POSIX makes the seek-to-end and the
/// write one atomic step, so lines never interleave, and Linux writes a
/// regular file's buffer whole unless the disk is full or the process dies
/// inside the call. Those leave at most a torn *last* line, without its
/// newline: readers skip it with a warning ([`read_results`]), and
/// [`Results::open`] ends it with a newline before appending, so it never
/// glues onto the next record. One writer per directory (the batch's
/// lock) keeps this true on network filesystems, where `O_APPEND` from
/// several clients is not atomic: give each shard its own directory.
pub struct Results {
    file: File,
    path: PathBuf,
}

impl Results {
    /// Opens (creating) `DIR/results.jsonl` for appending.
    pub fn open(dir: &Path) -> Result<Self, BatchError> {
        let path = dir.join(RESULTS);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(io(&path))?;
        let len = file.metadata().map_err(io(&path))?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1)).map_err(io(&path))?;
            file.read_exact(&mut last).map_err(io(&path))?;
            if last[0] != b'\n' {
                // A torn record of a killed batch: close it off as its own
                // (unparseable, skipped) line.
                file.write_all(b"\n").map_err(io(&path))?;
            }
        }
        Ok(Results { file, path })
    }

    /// Appends one record as one line with one `write(2)`.
    pub fn append(&mut self, r: &Record) -> Result<(), BatchError> {
        let mut line = serde_json::to_vec(r)?;
        line.push(b'\n');
        let n = self.file.write(&line).map_err(io(&self.path))?;
        if n != line.len() {
            return Err(BatchError::Io {
                path: self.path.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    format!(
                        "short write ({n} of {} bytes): disk full? the torn line will be skipped",
                        line.len()
                    ),
                ),
            });
        }
        Ok(())
    }
}

/// Reads a results file, record by record. Lines that do not parse (a
/// torn last line, a foreign line) are skipped and named in `warn` with
/// their line number; a missing file has no records.
pub fn read_results(
    path: &Path,
    mut each: impl FnMut(Record),
    mut warn: impl FnMut(String),
) -> Result<(), BatchError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(path)(e)),
    };
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io(path))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        let complete = buf.last() == Some(&b'\n');
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        if !complete {
            warn(format!(
                "{}:{line}: skipping a torn last line (a batch was killed while writing it)",
                path.display()
            ));
            continue;
        }
        match serde_json::from_slice::<Record>(text) {
            Ok(r) => each(r),
            Err(e) => warn(format!(
                "{}:{line}: skipping a line that is not a result record: {e}",
                path.display()
            )),
        }
    }
}

/// Starts the process that rebuilds one package.
pub trait Runner: Sync {
    /// The command that rebuilds `entry` into the directory `out` (which
    /// exists and holds the package's log). The batch sets its stdio,
    /// process group and [`PARENT_ENV`].
    fn command(&self, entry: &Entry, out: &Path) -> std::io::Result<Command>;
}

/// What the batch is asked.
#[derive(Clone, Debug)]
pub struct BatchOptions {
    /// The list's packages.
    pub entries: Vec<Entry>,
    /// The output directory (results.jsonl, packages/).
    pub out: PathBuf,
    /// Packages rebuilt at once.
    pub jobs: usize,
    /// Only this shard of the list.
    pub shard: Option<Shard>,
    /// Rebuild packages whose last record is FAILED.
    pub retry_failed: bool,
    /// Wall-clock limit per package.
    pub package_timeout: Option<Duration>,
}

/// What the batch tells its caller as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// Before the first package: how many will run, how many were done.
    Planned {
        /// Packages to rebuild now.
        to_run: usize,
        /// Packages of this shard already in results.jsonl.
        done: usize,
    },
    /// A package's process started.
    Started {
        /// Its spec.
        spec: &'a str,
    },
    /// A package finished and was recorded.
    Finished {
        /// Its record.
        record: &'a Record,
    },
    /// A warning (a skipped line of results.jsonl, a record not written).
    Warning(String),
}

/// How a batch ended.
#[derive(Debug, Default)]
pub struct Summary {
    /// Packages in this shard.
    pub in_shard: usize,
    /// Of those, already finished before this run.
    pub skipped: usize,
    /// Records written by this run.
    pub finished: Vec<Record>,
    /// Packages left unfinished by an interrupt (a rerun does them).
    pub unfinished: Vec<String>,
    /// The signal that stopped the batch.
    pub interrupted: Option<Interrupt>,
}

/// The default `--jobs`: half the cores, at least one. A build keeps about
/// one core busy (Python backends are single-threaded) but the sandbox
/// copy, hashing and compare phases burst onto others, and builds are
/// heavy on memory; half leaves room (see README, `bench/batch.sh`).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| (n.get() / 2).max(1))
        .unwrap_or(1)
}

/// The last record of each spec in the batch directory `dir`.
pub fn latest_records(
    dir: &Path,
    warn: &mut dyn FnMut(String),
) -> Result<HashMap<String, Record>, BatchError> {
    let mut last = HashMap::new();
    read_results(
        &dir.join(RESULTS),
        |r| {
            last.insert(r.spec.clone(), r);
        },
        warn,
    )?;
    Ok(last)
}

/// Runs the batch: the shard's packages not finished yet, `jobs` at a
/// time, each recorded as it ends. Stops early (leaving what runs
/// unfinished, so a rerun resumes it) on SIGINT or SIGTERM.
pub fn run_batch(
    opts: &BatchOptions,
    runner: &dyn Runner,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Summary, BatchError> {
    std::fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    let lock_path = opts.out.join(".batch.lock");
    let lock_file = File::create(&lock_path).map_err(io(&lock_path))?;
    // Held until this function returns (the lock goes with the descriptor).
    let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|_| BatchError::Locked {
            dir: opts.out.clone(),
        })?;
    sandbox::interrupt::catch().map_err(|e| BatchError::Io {
        path: opts.out.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;

    let done = latest_records(&opts.out, &mut |w| on_event(Event::Warning(w)))?;
    let in_shard: Vec<&Entry> = opts
        .entries
        .iter()
        .filter(|e| opts.shard.is_none_or(|s| s.contains(&e.spec)))
        .collect();
    let finished = |e: &Entry| {
        done.get(&e.spec)
            .is_some_and(|r| !(opts.retry_failed && r.verdict == "FAILED"))
    };
    let queue: Vec<&Entry> = in_shard.iter().copied().filter(|e| !finished(e)).collect();
    let mut summary = Summary {
        in_shard: in_shard.len(),
        skipped: in_shard.len() - queue.len(),
        ..Default::default()
    };
    on_event(Event::Planned {
        to_run: queue.len(),
        done: summary.skipped,
    });
    let results = Mutex::new(Results::open(&opts.out)?);
    let next = Mutex::new(queue.into_iter());
    let finished_records = Mutex::new(Vec::new());
    let unfinished = Mutex::new(Vec::new());
    let machine = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ctx = Ctx {
        opts,
        runner,
        machine: &machine,
    };
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1) {
            s.spawn(|| loop {
                if sandbox::interrupt::pending().is_some() {
                    return;
                }
                let Some(entry) = next.lock().ok().and_then(|mut q| q.next()) else {
                    return;
                };
                on_event(Event::Started { spec: &entry.spec });
                match run_one(&ctx, entry) {
                    Some(record) => {
                        let wrote = results
                            .lock()
                            .map_err(|_| "results lock poisoned".to_owned())
                            .and_then(|mut f| f.append(&record).map_err(|e| e.to_string()));
                        if let Err(e) = wrote {
                            on_event(Event::Warning(format!(
                                "{}: not recorded: {e}",
                                record.spec
                            )));
                        }
                        on_event(Event::Finished { record: &record });
                        if let Ok(mut v) = finished_records.lock() {
                            v.push(record);
                        }
                    }
                    None => {
                        if let Ok(mut v) = unfinished.lock() {
                            v.push(entry.spec.clone());
                        }
                    }
                }
            });
        }
    });
    summary.finished = finished_records.into_inner().unwrap_or_default();
    summary.unfinished = unfinished.into_inner().unwrap_or_default();
    summary.interrupted = sandbox::interrupt::pending();
    Ok(summary)
}

struct Ctx<'a> {
    opts: &'a BatchOptions,
    runner: &'a dyn Runner,
    machine: &'a str,
}

fn now() -> String {
    provenance::slsa::format_rfc3339(time::OffsetDateTime::now_utc()).unwrap_or_default()
}

/// Rebuilds one package; `None` when an interrupt stopped it (it is then
/// not finished, and a rerun does it again).
fn run_one(ctx: &Ctx<'_>, entry: &Entry) -> Option<Record> {
    let rel = entry.dir();
    let dir = ctx.opts.out.join(&rel);
    let rel_s = |name: &str| rel.join(name).to_string_lossy().into_owned();
    let mut record = Record {
        schema: RECORD_SCHEMA.to_owned(),
        spec: entry.spec.clone(),
        verdict: "FAILED".to_owned(),
        dir: rel.to_string_lossy().into_owned(),
        log: rel_s("rebuild.log"),
        started_at: now(),
        repro_version: env!("CARGO_PKG_VERSION").to_owned(),
        machine: ctx.machine.to_owned(),
        ..Default::default()
    };
    let t = Instant::now();
    let fail = |mut r: Record, stage: &str, msg: String| {
        r.stage = Some(stage.to_owned());
        r.failure = Some(msg);
        r.finished_at = now();
        r.duration_ms = t.elapsed().as_millis() as u64;
        r
    };
    // A report of an earlier attempt must not pass for this one's.
    let _ = std::fs::remove_file(dir.join("rebuild.json"));
    let spawned = std::fs::create_dir_all(&dir)
        .and_then(|()| File::create(dir.join("rebuild.log")))
        .and_then(|log| {
            let mut cmd = ctx.runner.command(entry, &dir)?;
            cmd.stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .env(PARENT_ENV, std::process::id().to_string())
                // Its own group: a terminal's Ctrl-C reaches the batch
                // only (which stops every package), and a timeout kills
                // the package's whole tree.
                .process_group(0);
            cmd.spawn()
        });
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return Some(fail(record, "crash", format!("cannot start: {e}"))),
    };
    let timeout = ctx.opts.package_timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(_) => break None,
        }
        if sandbox::interrupt::pending().is_some() {
            stop(&mut child);
            return None;
        }
        if timeout.is_some_and(|limit| t.elapsed() >= limit) {
            stop(&mut child);
            let secs = timeout.map(|d| d.as_secs_f64()).unwrap_or_default();
            return Some(fail(
                record,
                "timeout",
                format!("no verdict after {secs:.0}s (--package-timeout): stopped"),
            ));
        }
        std::thread::sleep(POLL);
    };
    let report = std::fs::read(dir.join("rebuild.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let Some(report) = report else {
        if sandbox::interrupt::pending().is_some() {
            return None;
        }
        let how = status.map_or("ended".to_owned(), describe);
        let last = last_line(&dir.join("rebuild.log"));
        return Some(fail(
            record,
            "crash",
            format!("repro rebuild {how} without a verdict; last log line: {last}"),
        ));
    };
    fill(&mut record, &report, &rel, &dir);
    if record.verdict == "FAILED" && sandbox::interrupt::pending().is_some() {
        // Stopped by the batch's interrupt: not finished.
        return None;
    }
    record.finished_at = now();
    record.duration_ms = t.elapsed().as_millis() as u64;
    Some(record)
}

/// Copies what the dashboard needs from a package's rebuild.json.
fn fill(record: &mut Record, r: &serde_json::Value, rel: &Path, dir: &Path) {
    let s = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let rel_s = |name: &str| rel.join(name).to_string_lossy().into_owned();
    record.verdict = s(&r["verdict"]).unwrap_or_else(|| "FAILED".into());
    if let Some(f) = r.get("failure").filter(|f| !f.is_null()) {
        record.stage = s(&f["stage"]);
        record.failure = s(&f["message"]);
    }
    if let Some(recipe) = r.get("recipe").filter(|x| !x.is_null()) {
        record.backend = s(&recipe["backend"]).map(|b| match recipe["backend_version"].as_str() {
            Some(v) => format!("{b} {v}"),
            None => b,
        });
        record.generator = s(&recipe["generator"]);
    } else if r.get("generic").is_some_and(|g| !g.is_null()) {
        record.backend = Some("generic".into());
    }
    record.stabilizers = r["stabilizers"]
        .as_array()
        .map(|a| a.iter().filter_map(s).collect())
        .unwrap_or_default();
    record.timings_ms = r["timings_ms"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((s(&p[0])?, p[1].as_u64()?)))
                .collect()
        })
        .unwrap_or_default();
    record.upstream_sha256 = s(&r["upstream"]["sha256"]);
    record.rebuilt_sha256 = s(&r["rebuilt"]["sha256"]);
    record.rebuild_json = Some(rel_s("rebuild.json"));
    record.diff = s(&r["diff"]).map(|d| rel_s(&d));
    for (field, name) in [
        (&mut record.statement, "statement.json"),
        (&mut record.attestation, "rebuild.intoto.jsonl"),
    ] {
        if dir.join(name).is_file() {
            *field = Some(rel_s(name));
        }
    }
}

/// SIGTERM to the package's process group, SIGKILL after [`GRACE`].
fn stop(child: &mut Child) {
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    let group = Pid::from_raw(child.id() as i32);
    let _ = killpg(group, Signal::SIGTERM);
    let until = Instant::now() + GRACE;
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            // The leader is gone; whatever it left in the group goes too.
            let _ = killpg(group, Signal::SIGKILL);
            return;
        }
        std::thread::sleep(POLL);
    }
    let _ = killpg(group, Signal::SIGKILL);
    let _ = child.wait();
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with code {c}"),
        (None, Some(s)) => format!(
            "was killed by {}",
            nix::sys::signal::Signal::try_from(s).map_or("a signal", |s| s.as_str())
        ),
        _ => "ended".to_owned(),
    }
}

/// The last non-empty line of a log (its last 4 KiB), for a message.
fn last_line(path: &Path) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(4096)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lists_keep_good_lines_and_name_bad_ones() {
        let text = "# a comment\n\npypi:Foo.Bar==1.0  # trailing\npypi:nope\npypi:foo-bar==1.0\nnpm:x@1\n  pypi:baz==2 \ngeneric:missing.toml\n";
        let (entries, errors) = parse_list(text, Path::new("/nonexistent"));
        let specs: Vec<_> = entries.iter().map(|e| (e.line, e.spec.as_str())).collect();
        assert_eq!(specs, [(3, "pypi:foo-bar==1.0"), (7, "pypi:baz==2")]);
        let lines: Vec<_> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [4, 5, 6, 8]);
        assert!(errors[1].message.contains("repeats line 3"), "{errors:?}");
    }

    #[test]
    fn shard_parsing_rejects_nonsense() {
        assert_eq!(
            "1/4".parse::<Shard>().ok(),
            Some(Shard { index: 1, count: 4 })
        );
        for bad in ["4/4", "1", "x/2", "0/0", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shard_of_a_spec_is_pinned() {
        // The same shard on every machine and release: a changed hash
        // would move finished packages to other shards' result dirs.
        let owner = |spec: &str| {
            (0..4).find(|i| {
                Shard {
                    index: *i,
                    count: 4,
                }
                .contains(spec)
            })
        };
        assert_eq!(owner("pypi:attrs==23.1.0"), Some(3));
        assert_eq!(owner("pypi:six==1.16.0"), Some(2));
        assert_eq!(hash64("pypi:six==1.16.0"), 0x2f26_5176_09ac_ff1a);
    }

    proptest! {
        #[test]
        fn every_spec_is_in_exactly_one_shard(
            specs in proptest::collection::vec("[a-z][a-z0-9._-]{0,20}==[0-9][0-9.]{0,6}", 1..50),
            count in 1u64..17,
        ) {
            for spec in &specs {
                let spec = format!("pypi:{spec}");
                let owners = (0..count).filter(|i| Shard { index: *i, count }.contains(&spec)).count();
                prop_assert_eq!(owners, 1);
                // Stable: the same answer however often it is asked.
                let first = (0..count).find(|i| Shard { index: *i, count }.contains(&spec));
                prop_assert_eq!(first, Some(hash64(&spec) % count));
            }
        }
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_closed_off() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let rec = Record {
            schema: RECORD_SCHEMA.into(),
            spec: "pypi:a==1".into(),
            verdict: "BIT_FOR_BIT".into(),
            ..Default::default()
        };
        let mut f = Results::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        f.append(&rec).unwrap_or_else(|e| panic!("{e}"));
        drop(f);
        let path = dir.path().join(RESULTS);
        let mut text = std::fs::read(&path).unwrap_or_default();
        text.extend_from_slice(b"{\"schema\":\"repro-batch-res");
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
        let mut n = 0;
        let mut warnings = Vec::new();
        read_results(&path, |_| n += 1, |w| warnings.push(w)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((n, warnings.len()), (1, 1), "{warnings:?}");
        assert!(
            warnings[0].contains(":2: skipping a torn last line"),
            "{warnings:?}"
        );
        // The next append starts on a line of its own.
        let mut f = Results::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        f.append(&Record {
            spec: "pypi:b==1".into(),
            ..rec.clone()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let mut specs = Vec::new();
        let mut warnings = Vec::new();
        read_results(&path, |r| specs.push(r.spec), |w| warnings.push(w))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(specs, ["pypi:a==1", "pypi:b==1"]);
        assert!(
            warnings[0].contains(":2: skipping a line that is not"),
            "{warnings:?}"
        );
    }
}
