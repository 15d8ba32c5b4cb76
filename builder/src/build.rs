//! The rebuild loop: build a source tree several times and compare what
//! the runs made.
//!
//! Run 1 is the control; runs 2..N apply the variations that are
//! available here (different build path, HOME, time zone, hostname, …).
//! Each run builds a fresh tree of the source in a sandbox with the
//! scrubbed environment and the pinned SOURCE_DATE_EPOCH. Artifacts are
//! hashed in parallel and compared; when they differ, the culprit
//! variations are searched for within the bisect budget. The reproducible
//! artifacts of run 1 are published in `<out>/artifacts/`.
//!
//! [`build`] does all of it. Its steps are public for callers that bring
//! their own recipe or drive the runs themselves: [`plan`](crate::plan::plan),
//! [`Plan::fetch`], [`Plan::run`] (one sandboxed run, its artifacts
//! collected), [`judge`](crate::judge::judge), then [`Plan::finish`] (or
//! [`Plan::fail`] on an error), which publish and write the report.

use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use sandbox::interrupt::Interrupt;
use sandbox::variations::VariationSet;

use crate::collect::Digests;
use crate::config::BuildConfig;
use crate::plan::Plan;
use crate::report::{Report, Verdict};
use crate::runner::RunTree;

/// One run of the build, as the loop keeps it.
#[derive(Debug)]
pub struct Run {
    /// 1-based; 1 is the control.
    pub index: u32,
    /// Where its files are.
    pub tree: RunTree,
    /// Its artifacts' digests (with their normalized digests).
    pub digests: Digests,
}

/// A build that reached its verdict; report.json is written.
#[derive(Debug)]
pub struct Built {
    /// The report as written: verdict, runs, artifacts, culprits.
    pub report: Report,
    /// The runs (their trees are on disk as `report.runs[].kept` says).
    pub runs: Vec<Run>,
}

impl Built {
    /// The process exit code the verdict maps to: 0 reproducible (and
    /// equivalent after normalization when `accept_normalized`), else 1.
    pub fn exit_code(&self, accept_normalized: bool) -> ExitCode {
        ExitCode::from(match self.report.verdict {
            Verdict::Reproducible => 0,
            Verdict::EquivalentAfterNormalization if accept_normalized => 0,
            _ => 1,
        })
    }
}

/// A build that stopped before its verdict.
#[derive(Debug, thiserror::Error)]
#[error("{error:#}")]
pub struct Failure {
    /// What went wrong, with its whole chain (an [`Interrupt`] when a
    /// SIGINT/SIGTERM stopped the build).
    pub error: anyhow::Error,
    /// The report (verdict ERROR) when one was written to report.json.
    pub report: Option<Box<Report>>,
}

impl Failure {
    /// A failure with no report written (the build had not started).
    pub fn new(error: anyhow::Error) -> Self {
        Self {
            error,
            report: None,
        }
    }

    /// The signal that stopped the build, when one did.
    pub fn interrupt(&self) -> Option<Interrupt> {
        self.error.downcast_ref::<Interrupt>().copied()
    }
}

/// Plans, runs, judges and reports the build `cfg` describes: the whole
/// loop, as `repro build` runs it.
pub fn build(cfg: BuildConfig) -> Result<Built, Failure> {
    let mut plan = crate::plan::plan(cfg)?;
    match run_and_judge(&mut plan) {
        Ok(runs) => plan.finish(runs),
        Err(err) => Err(plan.fail(err)),
    }
}

/// The fetch step, every run, the verdict, the culprit search and the diffs.
fn run_and_judge(plan: &mut Plan) -> Result<Vec<Run>> {
    plan.fetch()?;
    let mut runs = Vec::new();
    for index in 1..=plan.cfg.runs {
        sandbox::interrupt::check()?;
        runs.push(plan.run(index)?);
    }
    sandbox::interrupt::check()?;
    crate::judge::judge(plan, &runs)?;
    Ok(runs)
}

impl Plan {
    /// Runs the fetch step, when there is one, and records it.
    pub fn fetch(&mut self) -> Result<()> {
        if let Some(fetch) = &self.cfg.fetch {
            self.report.fetch = Some(crate::fetch::run(&self.cfg, fetch)?);
        }
        Ok(())
    }

    /// Builds run `index` (1 is the control; the others get the applied
    /// variations), records it in the report and collects its artifacts.
    /// A failed build is an error that shows the end of its log.
    pub fn run(&mut self, index: u32) -> Result<Run> {
        let cfg = &self.cfg;
        let set = if index == 1 {
            VariationSet::empty()
        } else {
            self.applied.clone()
        };
        let label = format!(
            "run {index}/{}{}",
            cfg.runs,
            if index == 1 { " (control)" } else { "" }
        );
        let dest = cfg.out.join("runs").join(index.to_string());
        let logs = cfg.out.join("logs");
        std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
        let log = logs.join(format!("run-{index}.log"));
        let tree = crate::runner::execute_checked(
            cfg,
            self.pristine.as_ref(),
            index,
            &label,
            &set,
            &dest,
            &log,
            &mut self.report.runs,
        )?;
        sandbox::interrupt::check()?;
        let collected = crate::collect::collect(cfg, self.pristine.as_ref(), &tree, true)?;
        for u in collected.unreadable {
            eprintln!(
                "repro: {label}: cannot read {} ({}); it is not compared",
                u.path, u.error
            );
            self.report
                .unreadable
                .push(crate::report::UnreadableRecord {
                    run: index,
                    path: u.path,
                    error: u.error,
                });
        }
        Ok(Run {
            index,
            tree,
            digests: collected.digests,
        })
    }
}

/// The verdict of digests compared: an error when nothing matched the
/// artifact globs in any run.
pub(crate) fn require_artifacts(plan: &Plan) -> Result<()> {
    if plan.report.artifacts.is_empty() {
        bail!(
            "no file in any run matched the artifact globs {:?} (relative to the build dir, e.g. {})",
            plan.cfg.artifact_globs,
            plan.report.runs[0].host_dir
        );
    }
    Ok(())
}

/// Now, in RFC 3339 (UTC).
pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
