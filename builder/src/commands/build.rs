//! `repro build`: build a source tree several times and compare artifacts.
//!
//! Each run gets a fresh copy of the source at a different absolute path
//! (so build-path leaks show up from the first comparison), a fresh HOME,
//! the scrubbed environment and the pinned SOURCE_DATE_EPOCH. Artifacts
//! are hashed in parallel, compared across runs, and the reproducible ones
//! of run 1 are published in `<out>/artifacts/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};

use crate::cli::BuildArgs;
use crate::config::BuildConfig;
use crate::epoch::Origin;
use crate::fsutil;
use crate::report::{
    ArtifactRecord, ArtifactStatus, FileDigest, Report, RunRecord, Source, Verdict, SCHEMA,
};

/// Lines of a failing run's log shown on the terminal.
const LOG_TAIL_LINES: usize = 20;
/// The umask every run starts with.
const UMASK: u32 = 0o022;

/// Runs `repro build`.
pub fn run(args: BuildArgs) -> Result<ExitCode> {
    let cfg = BuildConfig::from_args(args)?;
    fsutil::prepare_out_dir(&cfg.out, cfg.force)?;
    let mut report = new_report(&cfg)?;
    eprintln!(
        "repro: building {} {} times; SOURCE_DATE_EPOCH={} ({}{})",
        cfg.source.display(),
        cfg.runs,
        cfg.epoch.value,
        cfg.epoch.origin,
        cfg.epoch
            .detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default()
    );

    match build_and_compare(&cfg, &mut report) {
        Ok(()) => {
            report.finished_at = now_rfc3339();
            write_report(&cfg, &report)?;
            if cfg.json {
                println!("{}", report_json(&report)?);
            } else {
                print!("{}", report.render_table());
            }
            eprintln!(
                "repro: report written to {}",
                cfg.out.join("report.json").display()
            );
            Ok(ExitCode::from(match report.verdict {
                Verdict::Reproducible => 0,
                _ => 1,
            }))
        }
        Err(err) => {
            // The report is written even for a failed build: it records what
            // was run and how far it got.
            report.verdict = Verdict::Error;
            report.error = Some(format!("{err:#}"));
            report.finished_at = now_rfc3339();
            write_report(&cfg, &report)?;
            Err(err)
        }
    }
}

fn new_report(cfg: &BuildConfig) -> Result<Report> {
    let env = build_env(cfg, Path::new("/"))?;
    let environment = env
        .vars()
        .filter(|(k, _)| k.as_os_str() != "HOME")
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    Ok(Report {
        schema: SCHEMA.to_string(),
        repro_version: env!("CARGO_PKG_VERSION").to_string(),
        verdict: Verdict::Error,
        error: None,
        source: Source {
            path: utf8(&cfg.source)?,
            git_commit: match cfg.epoch.origin {
                Origin::GitHead => cfg.epoch.detail.clone(),
                _ => None,
            },
        },
        command: cfg.command.clone(),
        artifact_globs: cfg.artifact_globs.clone(),
        source_date_epoch: cfg.epoch.clone(),
        environment,
        umask: format!("{UMASK:04o}"),
        timeout_secs: cfg.timeout.map(|t| t.as_secs_f64()),
        started_at: now_rfc3339(),
        finished_at: String::new(),
        runs: Vec::new(),
        artifacts: Vec::new(),
    })
}

fn build_env(cfg: &BuildConfig, home: &Path) -> Result<sandbox::BuildEnv> {
    Ok(sandbox::BuildEnv::scrubbed(
        std::env::var_os("PATH"),
        home,
        cfg.epoch.value,
        &cfg.env,
    )?)
}

/// Where run `index` builds: run 1 at `runs/1/src`, later runs one level
/// deeper under a different name, so both the path and its depth differ.
fn build_dir(out: &Path, index: u32) -> PathBuf {
    let run_root = out.join("runs").join(index.to_string());
    if index == 1 {
        run_root.join("src")
    } else {
        let letter = char::from(b'a' + ((index - 1) % 26) as u8);
        run_root.join(format!("build-path-{letter}")).join("src")
    }
}

fn build_and_compare(cfg: &BuildConfig, report: &mut Report) -> Result<()> {
    let logs = cfg.out.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;

    let mut build_dirs = Vec::new();
    for index in 1..=cfg.runs {
        let dir = build_dir(&cfg.out, index);
        let home = cfg.out.join("runs").join(index.to_string()).join("home");
        std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
        fsutil::copy_tree(&cfg.source, &dir, &cfg.out)
            .with_context(|| format!("copying the source tree for run {index}"))?;
        let log_rel = format!("logs/run-{index}.log");
        let spec = sandbox::RunSpec {
            argv: cfg.command.iter().map(Into::into).collect(),
            cwd: dir.clone(),
            env: build_env(cfg, &home)?,
            log: cfg.out.join(&log_rel),
            timeout: cfg.timeout,
            umask: UMASK,
        };
        eprintln!("repro: run {index}/{}: {}", cfg.runs, dir.display());
        let (outcome, elapsed) = sandbox::run(&spec).with_context(|| format!("run {index}"))?;
        report.runs.push(RunRecord {
            index,
            build_dir: utf8(&dir)?,
            home: utf8(&home)?,
            log: log_rel,
            exit_code: match outcome {
                sandbox::Outcome::Exited(code) => Some(code),
                _ => None,
            },
            outcome: outcome.to_string(),
            duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        });
        if !outcome.success() {
            let tail = fsutil::tail_lines(&spec.log, LOG_TAIL_LINES);
            bail!(
                "run {index} of {}: the build command {outcome} (full log: {})\n--- last {LOG_TAIL_LINES} lines ---\n{tail}",
                cfg.runs,
                spec.log.display()
            );
        }
        build_dirs.push(dir);
    }

    report.artifacts = compare_artifacts(cfg, &build_dirs)?;
    if report.artifacts.is_empty() {
        bail!(
            "no file in any run matched the artifact globs {:?} (relative to the build dir, e.g. {})",
            cfg.artifact_globs,
            build_dirs[0].display()
        );
    }
    report.verdict = if report
        .artifacts
        .iter()
        .all(|a| a.status == ArtifactStatus::Same)
    {
        Verdict::Reproducible
    } else {
        Verdict::NotReproducible
    };
    publish_artifacts(cfg, &build_dirs[0], &report.artifacts)
}

/// Finds, hashes (in parallel) and compares the artifacts of every run.
fn compare_artifacts(cfg: &BuildConfig, build_dirs: &[PathBuf]) -> Result<Vec<ArtifactRecord>> {
    let mut found: Vec<BTreeSet<String>> = Vec::new();
    for dir in build_dirs {
        found.push(find_artifacts(cfg, dir)?);
    }
    let all: BTreeSet<&String> = found.iter().flatten().collect();

    let mut jobs: Vec<(usize, &String)> = Vec::new();
    for (run, names) in found.iter().enumerate() {
        jobs.extend(names.iter().map(|n| (run, n)));
    }
    let paths: Vec<PathBuf> = jobs
        .iter()
        .map(|(run, name)| build_dirs[*run].join(name))
        .collect();
    let digests = diffoscope_lite::sha256_files(&paths);
    let mut by_key: BTreeMap<(&String, usize), FileDigest> = BTreeMap::new();
    for ((run, name), digest) in jobs.into_iter().zip(digests) {
        let d = digest.with_context(|| format!("hashing artifact {name} of run {}", run + 1))?;
        by_key.insert(
            (name, run),
            FileDigest {
                sha256: d.hex(),
                size: d.size,
            },
        );
    }

    Ok(all
        .into_iter()
        .map(|name| {
            let runs: Vec<Option<FileDigest>> = (0..build_dirs.len())
                .map(|run| by_key.get(&(name, run)).cloned())
                .collect();
            let same = runs.iter().all(|d| d.is_some() && d == &runs[0]);
            ArtifactRecord {
                path: name.clone(),
                status: if same {
                    ArtifactStatus::Same
                } else {
                    ArtifactStatus::Different
                },
                runs,
            }
        })
        .collect())
}

/// Regular files under `dir` whose relative path matches the globs.
fn find_artifacts(cfg: &BuildConfig, dir: &Path) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(false) {
        let entry = entry.with_context(|| format!("scanning build dir {}", dir.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .with_context(|| format!("{} is outside {}", entry.path().display(), dir.display()))?;
        if !cfg.artifact_matcher.is_match(rel) {
            continue;
        }
        let Some(name) = rel.to_str() else {
            bail!(
                "artifact {:?} has a name that is not valid UTF-8; rename it (reports record names as UTF-8)",
                entry.path()
            );
        };
        names.insert(name.to_string());
    }
    Ok(names)
}

/// Copies run 1's reproducible artifacts to `<out>/artifacts/`.
fn publish_artifacts(cfg: &BuildConfig, run1: &Path, artifacts: &[ArtifactRecord]) -> Result<()> {
    let dest = cfg.out.join("artifacts");
    for a in artifacts
        .iter()
        .filter(|a| a.status == ArtifactStatus::Same)
    {
        fsutil::copy_file_atomic(&run1.join(&a.path), &dest.join(&a.path))?;
    }
    Ok(())
}

fn write_report(cfg: &BuildConfig, report: &Report) -> Result<()> {
    let mut json = report_json(report)?;
    json.push('\n');
    fsutil::write_atomic(&cfg.out.join("report.json"), json.as_bytes())
}

fn report_json(report: &Report) -> Result<String> {
    serde_json::to_string_pretty(report).context("serializing report.json")
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn utf8(path: &Path) -> Result<String> {
    path.to_str()
        .map(str::to_string)
        .with_context(|| format!("path {path:?} is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_dirs_differ_in_name_and_depth() {
        let out = Path::new("/o");
        assert_eq!(build_dir(out, 1), Path::new("/o/runs/1/src"));
        assert_eq!(build_dir(out, 2), Path::new("/o/runs/2/build-path-b/src"));
        assert_eq!(build_dir(out, 3), Path::new("/o/runs/3/build-path-c/src"));
        assert_ne!(
            build_dir(out, 1).components().count(),
            build_dir(out, 2).components().count()
        );
    }
}
