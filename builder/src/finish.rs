//! Finishing a build: the reproducible artifacts published, the run
//! trees `--keep-runs` does not keep removed, the provenance and
//! report.json written; or, for a build that stopped, what it left
//! half-made removed and its ERROR report written.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::build::{now_rfc3339, Built, Failure, Run};
use crate::config::{BuildConfig, KeepRuns};
use crate::fsutil;
use crate::plan::Plan;
use crate::report::{ArtifactRecord, ArtifactStatus, FileDigest, Report, Verdict};
use crate::runner::RunTree;

impl Plan {
    /// Ends a build whose runs were judged: publishes its reproducible
    /// artifacts, removes the run trees `--keep-runs` does not keep, and
    /// writes the provenance (signed when a key was given) and report.json.
    /// A publication or provenance that fails (or a signal) ends the build
    /// as [`Plan::fail`] does; a report that cannot be written fails it.
    pub fn finish(mut self, runs: Vec<Run>) -> Result<Built, Failure> {
        let published = sandbox::interrupt::check()
            .map_err(anyhow::Error::new)
            .and_then(|()| publish_artifacts(&mut self, &runs));
        if let Err(e) = published {
            return Err(self.fail(e));
        }
        // The SBOM reads run 1's artifacts, so before the trees go; it is
        // written with the provenance, after them.
        let sbom = match make_sbom(&self.cfg, &self.report, &runs) {
            Ok(sbom) => sbom,
            Err(e) => return Err(self.fail(e.context("making the SBOM"))),
        };
        remove_run_trees(&mut self, &runs);
        self.report.finished_at = now_rfc3339();
        let attested = write_provenance(&self.cfg, &self.report)
            .context("writing provenance")
            .and_then(|()| match &sbom {
                Some(sbom) => write_sbom(&self.cfg, sbom).context("writing the SBOM"),
                None => Ok(()),
            });
        if let Err(e) = attested {
            self.report.verdict = Verdict::Error;
            self.report.error = Some(format!("{e:#}"));
            report_failure(&self.cfg, &mut self.report);
            return Err(Failure {
                error: e,
                report: Some(Box::new(self.report)),
            });
        }
        if let Err(e) = write_report_making_room(&self.cfg, &mut self.report) {
            return Err(Failure::new(e));
        }
        Ok(Built {
            report: self.report,
            runs,
        })
    }

    /// Ends a build that stopped with `error`: the report (verdict ERROR)
    /// records what was run and how far it got. After a SIGINT/SIGTERM
    /// what the build left half-made is removed first, and a report that
    /// cannot be written is the failure; otherwise the build's own error
    /// stays the failure and an unwritable report is only said.
    pub fn fail(mut self, error: anyhow::Error) -> Failure {
        self.report.verdict = Verdict::Error;
        self.report.finished_at = now_rfc3339();
        if let Some(interrupt) = error.downcast_ref::<sandbox::interrupt::Interrupt>() {
            self.report.error = Some(interrupt.to_string());
            clean_up_interrupted(&self.cfg, &mut self.report);
            if let Err(e) = write_report_making_room(&self.cfg, &mut self.report) {
                return Failure::new(e);
            }
        } else {
            self.report.error = Some(format!("{error:#}"));
            report_failure(&self.cfg, &mut self.report);
        }
        Failure {
            error,
            report: Some(Box::new(self.report)),
        }
    }
}

/// After SIGINT/SIGTERM: removes what a build that did not finish leaves
/// half-made (the unfinished publication, the build dir of `--sandbox
/// none`, the probes' scratch) and, unless `--keep-runs all`, the run trees; a tree that cannot
/// be removed is said and recorded as kept.
fn clean_up_interrupted(cfg: &BuildConfig, report: &mut Report) {
    let keep_runs = cfg.keep_runs == KeepRuns::All;
    // The probes' scratch is no run tree: it never stays.
    let mut dirs = vec![
        cfg.out.join(ARTIFACTS_STAGING),
        cfg.out.join("work"),
        cfg.out.join("probe"),
    ];
    if !keep_runs {
        for d in ["runs", "bisect", "source", "fetch"] {
            dirs.push(cfg.out.join(d));
        }
    }
    for dir in dirs {
        if dir.symlink_metadata().is_ok() {
            if let Err(e) = fsutil::remove_tree(&dir) {
                eprintln!("repro: could not remove {}: {e:#}", dir.display());
            }
        }
    }
    for run in &mut report.runs {
        run.kept = Path::new(&run.host_dir).exists();
    }
}

/// Removes the run trees `--keep-runs` does not keep, once everything that
/// reads them (hashing, diffs, publication) is done. A tree that cannot be
/// removed is said and recorded as kept; it never fails the build.
fn remove_run_trees(plan: &mut Plan, runs: &[Run]) {
    let (cfg, report) = (&plan.cfg, &mut plan.report);
    let differs = |index: usize| {
        report.artifacts.iter().any(|a| {
            a.status != ArtifactStatus::Same
                && a.runs.get(index).map(|d| d.as_ref().map(|d| &d.sha256))
                    != a.runs.first().map(|d| d.as_ref().map(|d| &d.sha256))
        })
    };
    let keep: Vec<bool> = (0..report.runs.len())
        .map(|i| match cfg.keep_runs {
            KeepRuns::All => true,
            KeepRuns::None => false,
            // The control stays when anything differs: the others are
            // compared with it.
            KeepRuns::Differing => (1..report.runs.len()).any(differs) && (i == 0 || differs(i)),
        })
        .collect();
    let gone = |dir: PathBuf| -> bool {
        if !dir.exists() {
            return true;
        }
        match fsutil::remove_tree(&dir) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("repro: could not remove {}: {e:#}", dir.display());
                false
            }
        }
    };
    let trees = runs.iter().map(|r| &r.tree);
    for ((run, keep), tree) in report.runs.iter_mut().zip(&keep).zip(trees) {
        if !keep {
            run.kept = !gone(cfg.out.join("runs").join(run.index.to_string()));
        } else if let Err(e) = tree.materialize(Path::new(&run.host_dir)) {
            eprintln!("repro: {e:#}");
            run.kept = false;
        }
    }
    if cfg.keep_runs != KeepRuns::All {
        gone(cfg.out.join("bisect"));
        gone(cfg.out.join("work"));
        if !keep.iter().any(|k| *k) {
            gone(cfg.out.join("fetch"));
            // Kept runs' trees hold links into it; it costs no more disk.
            gone(cfg.out.join("source"));
        }
    }
}

/// Where artifacts are published before they are complete: renamed to
/// Where artifacts are published before they are complete: renamed to
/// `artifacts/` when all are there, removed when publishing fails or is
/// interrupted, so `artifacts/` is never half a release.
const ARTIFACTS_STAGING: &str = ".repro-tmp-artifacts";

/// Publishes run 1's reproducible artifacts in `<out>/artifacts/`: the
/// SAME ones as built, or, with --normalize, the SAME and EQUIVALENT ones
/// in canonical form (identical whichever run they come from).
fn publish_artifacts(plan: &mut Plan, runs: &[Run]) -> Result<()> {
    let Some(run1) = runs.first() else {
        return Ok(());
    };
    let (cfg, artifacts) = (&plan.cfg, &mut plan.report.artifacts);
    let run1 = &run1.tree;
    let staging = cfg.out.join(ARTIFACTS_STAGING);
    let dest = cfg.out.join("artifacts");
    let published = stage_artifacts(cfg, run1, artifacts, &staging).and_then(|()| {
        if !staging.exists() {
            return Ok(()); // nothing to publish
        }
        std::fs::rename(&staging, &dest)
            .with_context(|| format!("moving {} to {}", staging.display(), dest.display()))
    });
    if published.is_err() && staging.symlink_metadata().is_ok() {
        if let Err(e) = fsutil::remove_tree(&staging) {
            eprintln!("repro: could not remove {}: {e:#}", staging.display());
        }
    }
    if published.is_err() {
        for a in artifacts.iter_mut() {
            a.published = None;
        }
    }
    published
}

/// Writes the artifacts [`publish_artifacts`] publishes into `staging`.
fn stage_artifacts(
    cfg: &BuildConfig,
    run1: &RunTree,
    artifacts: &mut [ArtifactRecord],
    staging: &Path,
) -> Result<()> {
    let opts = diffoscope_lite::normalize::Options {
        source_date_epoch: Some(cfg.epoch.value),
        ..Default::default()
    };
    for a in artifacts.iter_mut() {
        sandbox::interrupt::check()?;
        let target = staging.join(&a.path);
        let Some(built) = run1.file(&a.path) else {
            continue;
        };
        match (a.status, cfg.normalize) {
            (ArtifactStatus::Same, false) => {
                if let Some(dir) = target.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                // Without set-id bits: a build must not be able to publish
                // (as root) a setuid file of its making.
                fsio::copy(&built, &target).with_context(|| format!("publishing {}", a.path))?
            }
            (ArtifactStatus::Same | ArtifactStatus::Equivalent, true) => {
                if let Some(dir) = target.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                diffoscope_lite::normalize::normalize_file(&built, &target, &opts)
                    .with_context(|| format!("normalizing {} for publication", a.path))?;
            }
            _ => continue,
        }
        let d = diffoscope_lite::sha256_file(&target)?;
        a.published = Some(FileDigest {
            sha256: d.hex(),
            size: d.size,
            normalized: None,
            normalized_error: None,
            fired: Vec::new(),
        });
    }
    Ok(())
}

/// `<out>/provenance.json` (the unsigned statement) always, and with
/// `--sign` also `<out>/provenance.intoto.jsonl` (one DSSE envelope).
fn write_provenance(cfg: &BuildConfig, report: &Report) -> Result<()> {
    let Some(statement) = crate::attestation::statement(report, &cfg.builder_id)? else {
        return Ok(());
    };
    let mut json = serde_json::to_vec_pretty(&statement).context("serializing provenance")?;
    json.push(b'\n');
    fsio::write(&cfg.out.join("provenance.json"), &json)?;
    if let Some(key) = &cfg.signing_key {
        let envelope = provenance::sign_statement(&statement, &[key])?;
        let line = envelope.to_json_line()?;
        fsio::write(&cfg.out.join("provenance.intoto.jsonl"), line.as_bytes())?;
        eprintln!(
            "repro: signed provenance (keyid {}) written to {}",
            key.keyid(),
            cfg.out.join("provenance.intoto.jsonl").display()
        );
    }
    Ok(())
}

/// With `--sbom`, the SBOM of what the provenance attests: each
/// artifact as published, else as run 1 built it. None without `--sbom`
/// or when the build has nothing to list (ERROR, no artifact).
fn make_sbom(
    cfg: &BuildConfig,
    report: &Report,
    runs: &[Run],
) -> Result<Option<crate::sbom::Sbom>> {
    if !cfg.sbom || report.verdict == Verdict::Error {
        return Ok(None);
    }
    let Some(run1) = runs.first() else {
        return Ok(None);
    };
    let mut artifacts = Vec::new();
    for a in &report.artifacts {
        let file = if a.published.is_some() {
            Some(cfg.out.join("artifacts").join(&a.path))
        } else {
            run1.tree.file(&a.path)
        };
        if let Some(file) = file {
            artifacts.push(crate::sbom::Artifact {
                file,
                name: a.path.clone(),
            });
        }
    }
    if artifacts.is_empty() {
        return Ok(None);
    }
    let cx = crate::sbom::Context {
        report: Some(report),
        source_date_epoch: Some(cfg.epoch.value),
        builder_id: Some(&cfg.builder_id),
        read: diffoscope_lite::Options {
            limits: cfg.diff_limits.clone(),
            ..Default::default()
        },
    };
    let sbom = crate::sbom::generate(&artifacts, &cx)?;
    for w in &sbom.warnings {
        eprintln!("repro: warning: {w}");
    }
    Ok(Some(sbom))
}

/// `<out>/sbom.cdx.json` and, with `--sign`, `<out>/sbom.intoto.jsonl`.
fn write_sbom(cfg: &BuildConfig, sbom: &crate::sbom::Sbom) -> Result<()> {
    let path = cfg.out.join(crate::sbom::SBOM_FILE);
    fsio::write(&path, &sbom.to_json()?)?;
    eprintln!("repro: SBOM written to {}", path.display());
    if let Some(key) = &cfg.signing_key {
        let envelope = provenance::sign_statement(&sbom.statement()?, &[key])?;
        let signed = cfg.out.join(crate::sbom::SIGNED_SBOM_FILE);
        fsio::write(&signed, envelope.to_json_line()?.as_bytes())?;
        eprintln!(
            "repro: signed SBOM (keyid {}) written to {}",
            key.keyid(),
            signed.display()
        );
    }
    Ok(())
}

/// Writes the report of a build that failed. A report that cannot be
/// written is said on its own line, so the build's error (returned by
/// the caller) reads as it would have: the two are separate failures.
fn report_failure(cfg: &BuildConfig, report: &mut Report) {
    if let Err(e) = write_report_making_room(cfg, report) {
        eprintln!("repro: report.json could not be written: {e:#}");
    }
}

/// Writes report.json; when the disk is full, first frees what repro
/// itself put there that the report does not need (the run trees, said
/// on stderr and recorded as not kept) and tries once more: a report is
/// worth more than a failed run's tree.
fn write_report_making_room(cfg: &BuildConfig, report: &mut Report) -> Result<()> {
    let err = match write_report(cfg, report) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    if err.downcast_ref::<fsio::Error>().map(fsio::Error::kind)
        != Some(std::io::ErrorKind::StorageFull)
    {
        return Err(err);
    }
    let mut removed = Vec::new();
    for d in [
        ARTIFACTS_STAGING,
        "runs",
        "bisect",
        "work",
        "source",
        "fetch",
    ] {
        let dir = cfg.out.join(d);
        if dir.symlink_metadata().is_ok() && fsutil::remove_tree(&dir).is_ok() {
            removed.push(d);
        }
    }
    if removed.is_empty() {
        return Err(err);
    }
    eprintln!(
        "repro: {err:#}; removed {} under {} to make room for the report",
        removed.join(", "),
        cfg.out.display()
    );
    for run in &mut report.runs {
        run.kept = Path::new(&run.host_dir).exists();
    }
    write_report(cfg, report)
}

/// Writes `<out>/report.json`.
fn write_report(cfg: &BuildConfig, report: &Report) -> Result<()> {
    let mut json = report_json(report)?;
    json.push('\n');
    fsio::write(&cfg.out.join("report.json"), json.as_bytes())?;
    Ok(())
}

/// report.json's text: the report as pretty JSON.
pub fn report_json(report: &Report) -> Result<String> {
    serde_json::to_string_pretty(report).context("serializing report.json")
}
