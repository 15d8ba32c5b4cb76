//! `repro build`: build a source tree several times and compare artifacts.
//!
//! Run 1 is the control; runs 2..N apply the variations that are
//! available here (different build path, HOME, time zone, hostname, …).
//! Each run builds a fresh copy of the source in a sandbox with the
//! scrubbed environment and the pinned SOURCE_DATE_EPOCH. Artifacts are
//! hashed in parallel and compared; when they differ, the culprit
//! variations are searched for within the bisect budget. The reproducible
//! artifacts of run 1 are published in `<out>/artifacts/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use sandbox::variations::{self, Availability, VariationSet};
use sandbox::Isolation;

use crate::bisect;
use crate::cli::BuildArgs;
use crate::config::BuildConfig;
use crate::epoch::Origin;
use crate::fsutil;
use crate::report::{
    AppliedVariation, ArtifactRecord, ArtifactStatus, FileDigest, Report, SandboxRecord, Source,
    UnavailableVariation, VariationsRecord, Verdict, SCHEMA,
};
use crate::runner::{self, utf8, Digests};

/// Runs `repro build`.
pub fn run(args: BuildArgs) -> Result<ExitCode> {
    let mut cfg = BuildConfig::from_args(args)?;
    // From here on SIGINT/SIGTERM only set a flag that the run loop and
    // the steps between runs poll, so an interrupted build still stops
    // its sandbox, removes its temporary files and writes its report.
    sandbox::interrupt::catch()?;
    if cfg.isolation == Isolation::Namespaces {
        // Fail before writing anything when the kernel says no.
        sandbox::check_namespaces()?;
    }
    fsutil::prepare_out_dir(&cfg.out, cfg.force)?;
    let tools = crate::toolchain::survey(&cfg, &cfg.out.join("probe").join("survey"))?;
    let run_tree = prepare_run_tree(&mut cfg)?;
    let (applied, variations) = plan_variations(&cfg);
    let mut report = new_report(&cfg, variations, tools)?;
    report.run_tree = run_tree;
    eprintln!(
        "repro: building {} {} times; SOURCE_DATE_EPOCH={} ({}{}); sandbox: {}",
        cfg.source.display(),
        cfg.runs,
        cfg.epoch.value,
        cfg.epoch.origin,
        cfg.epoch
            .detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default(),
        report.sandbox.mode,
    );
    eprintln!(
        "repro: varying {}",
        if applied.is_empty() {
            "nothing".to_string()
        } else {
            applied.names().join(", ")
        }
    );
    for u in &report.variations.unavailable {
        eprintln!("repro:   {} unavailable: {}", u.name, u.reason);
    }

    match build_and_compare(&cfg, &applied, &mut report) {
        Ok(()) => {
            report.finished_at = now_rfc3339();
            if let Err(e) = write_provenance(&cfg, &report) {
                report.verdict = Verdict::Error;
                report.error = Some(format!("writing provenance: {e:#}"));
                report_failure(&cfg, &mut report);
                return Err(e.context("writing provenance"));
            }
            write_report_making_room(&cfg, &mut report)?;
            if cfg.json {
                crate::outln!("{}", report_json(&report)?);
            } else {
                crate::out!("{}", report.render_table());
                if let Some(b) = &report.bisect {
                    crate::outln!("{}", b.summary(report.verdict));
                }
                print_diffs(&cfg, &report);
            }
            eprintln!(
                "repro: report written to {}",
                cfg.out.join("report.json").display()
            );
            Ok(ExitCode::from(match report.verdict {
                Verdict::Reproducible => 0,
                Verdict::EquivalentAfterNormalization if cfg.accept_normalized => 0,
                _ => 1,
            }))
        }
        Err(err) => {
            // The report is written even for a failed build: it records what
            // was run and how far it got.
            report.verdict = Verdict::Error;
            report.finished_at = now_rfc3339();
            if let Some(interrupt) = err.downcast_ref::<sandbox::interrupt::Interrupt>() {
                let interrupt = *interrupt;
                report.error = Some(interrupt.to_string());
                clean_up_interrupted(&cfg, &mut report);
                write_report_making_room(&cfg, &mut report)?;
                eprintln!(
                    "repro: {err:#}; cleaned up, report written to {}",
                    cfg.out.join("report.json").display()
                );
                return Ok(ExitCode::from(interrupt.exit_code()));
            }
            report.error = Some(format!("{err:#}"));
            report_failure(&cfg, &mut report);
            Err(err)
        }
    }
}

/// Chooses how each run gets its tree: an overlay of one pristine copy of
/// the source (setting up a run costs a mount; a run's disk use is what it
/// writes) where the sandbox can mount one, else a copy per run.
fn prepare_run_tree(cfg: &mut BuildConfig) -> Result<crate::report::RunTreeRecord> {
    if cfg.run_tree == "copy" {
        return Ok(crate::report::RunTreeRecord {
            mode: "copy".into(),
            reason: Some("--run-tree copy".into()),
        });
    }
    if cfg.isolation != Isolation::Namespaces {
        if cfg.run_tree == "overlay" {
            bail!("--run-tree overlay needs the sandbox: --sandbox none has no mount namespace to overlay in");
        }
        return Ok(crate::report::RunTreeRecord {
            mode: "copy".into(),
            reason: Some("--sandbox none has no mount namespace to overlay in".into()),
        });
    }
    let scratch = cfg.out.join("probe").join("overlay");
    let unusable = crate::probe::overlay_unusable(cfg, &scratch);
    if let Err(e) = fsutil::remove_tree(&scratch) {
        eprintln!("repro: could not remove {}: {e:#}", scratch.display());
    }
    if let Some(reason) = unusable {
        if cfg.run_tree == "overlay" {
            bail!("--run-tree overlay: the sandbox cannot mount an overlay here: {reason}");
        }
        eprintln!("repro: each run copies the source: no overlay here ({reason})");
        return Ok(crate::report::RunTreeRecord {
            mode: "copy".into(),
            reason: Some(reason),
        });
    }
    let lower = cfg.out.join("source");
    fsutil::copy_tree(&cfg.source, &lower, &cfg.out)
        .context("copying the source tree the runs overlay")?;
    sandbox::prepare_lower(&lower)?;
    cfg.lower_artifacts = runner::find_artifacts_in(cfg, &lower)?;
    cfg.overlay_lower = Some(lower);
    Ok(crate::report::RunTreeRecord {
        mode: "overlay".into(),
        reason: None,
    })
}

/// Splits the requested variations into those applied here and those
/// unavailable (with the reason), in reporting order.
fn plan_variations(cfg: &BuildConfig) -> (VariationSet, VariationsRecord) {
    let mut applied = VariationSet::empty();
    let mut record = VariationsRecord {
        specs: cfg.vary_specs.clone(),
        requested: cfg
            .requested
            .names()
            .into_iter()
            .map(String::from)
            .collect(),
        ..Default::default()
    };
    let scratch = cfg.out.join("probe");
    for v in cfg.requested.iter() {
        let availability = match variations::availability(v, cfg.isolation) {
            Availability::Available { mechanism } => {
                match crate::probe::unusable(cfg, v, &scratch.join(v.name())) {
                    Some(reason) => Availability::Unavailable { reason },
                    None => Availability::Available { mechanism },
                }
            }
            other => other,
        };
        match availability {
            Availability::Available { mechanism } => {
                applied.insert(v);
                record.applied.push(AppliedVariation {
                    name: v.name().into(),
                    mechanism: mechanism.into(),
                });
            }
            Availability::Unavailable { reason } => record.unavailable.push(UnavailableVariation {
                name: v.name().into(),
                reason,
            }),
        }
    }
    if scratch.exists() {
        if let Err(e) = fsutil::remove_tree(&scratch) {
            eprintln!("repro: could not remove {}: {e:#}", scratch.display());
        }
    }
    (applied, record)
}

fn new_report(
    cfg: &BuildConfig,
    variations: VariationsRecord,
    tools: Vec<crate::toolchain::Tool>,
) -> Result<Report> {
    let env = sandbox::BuildEnv::scrubbed(
        std::env::var_os("PATH"),
        Path::new("/"),
        cfg.epoch.value,
        &cfg.env,
    )?;
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
    let mechanism = sandbox::limit_mechanism();
    let rlimits = cfg
        .limits
        .rlimits(mechanism)
        .into_iter()
        .map(|(which, v)| (which.name().to_string(), v))
        .collect();
    let tmpfs_sizes = match cfg.isolation {
        Isolation::Namespaces => cfg
            .limits
            .tmpfs_sizes()
            .into_iter()
            .map(|(mount, size)| (mount.to_string(), size))
            .collect(),
        Isolation::None => BTreeMap::new(),
    };
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
            digest: crate::dirhash::dirhash(&cfg.source, &cfg.out)?,
        },
        command: cfg.command.clone(),
        tools,
        artifact_globs: cfg.artifact_globs.clone(),
        source_date_epoch: cfg.epoch.clone(),
        environment,
        umask: format!("{:04o}", variations::umask(&VariationSet::empty())),
        timeout_secs: cfg.timeout.map(|t| t.as_secs_f64()),
        started_at: now_rfc3339(),
        finished_at: String::new(),
        runs: Vec::new(),
        artifacts: Vec::new(),
        sandbox: SandboxRecord {
            mode: cfg.isolation.name().to_string(),
            hermetic: cfg.isolation == Isolation::Namespaces,
            network: cfg.network,
            ro_binds: cfg
                .ro_binds
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            rlimits,
            memory: cfg
                .limits
                .memory_max
                .map(|max| crate::report::MemoryRecord {
                    max,
                    mechanism: mechanism.memory().to_string(),
                }),
            enforcement: Some(crate::report::EnforcementRecord {
                mechanism: mechanism.name().to_string(),
                detail: mechanism.detail(),
                pids_max: match mechanism {
                    sandbox::LimitMechanism::CgroupV2 { .. } => cfg.limits.nproc,
                    sandbox::LimitMechanism::Rlimit { .. } => None,
                },
            }),
            tmpfs_sizes,
        },
        variations,
        bisect: None,
        run_tree: Default::default(),
        keep_runs: cfg.keep_runs.name().to_string(),
        fetch: None,
        normalization: crate::report::NormalizationRecord {
            ruleset: diffoscope_lite::normalize::RULESET_VERSION.to_string(),
            digest: diffoscope_lite::normalize::DIGEST_VERSION.to_string(),
            published_normalized: cfg.normalize,
        },
        unreadable: Vec::new(),
    })
}

fn build_and_compare(cfg: &BuildConfig, applied: &VariationSet, report: &mut Report) -> Result<()> {
    let logs = cfg.out.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    if let Some(fetch) = &cfg.fetch {
        report.fetch = Some(crate::fetch::run(cfg, fetch)?);
    }

    let mut digests: Vec<Digests> = Vec::new();
    let mut trees: Vec<runner::RunTree> = Vec::new();
    for index in 1..=cfg.runs {
        sandbox::interrupt::check()?;
        let set = if index == 1 {
            VariationSet::empty()
        } else {
            applied.clone()
        };
        let label = format!(
            "run {index}/{}{}",
            cfg.runs,
            if index == 1 { " (control)" } else { "" }
        );
        let dest = cfg.out.join("runs").join(index.to_string());
        let log = logs.join(format!("run-{index}.log"));
        let tree =
            runner::execute_checked(cfg, index, &label, &set, &dest, &log, &mut report.runs)?;
        sandbox::interrupt::check()?;
        let hashed = runner::hash_artifacts(cfg, &tree, true)?;
        for u in hashed.unreadable {
            eprintln!(
                "repro: {label}: cannot read {} ({}); it is not compared",
                u.path, u.error
            );
            report.unreadable.push(crate::report::UnreadableRecord {
                run: index,
                path: u.path,
                error: u.error,
            });
        }
        digests.push(hashed.digests);
        trees.push(tree);
    }
    sandbox::interrupt::check()?;

    report.artifacts = compare(&digests);
    if report.artifacts.is_empty() {
        bail!(
            "no file in any run matched the artifact globs {:?} (relative to the build dir, e.g. {})",
            cfg.artifact_globs,
            report.runs[0].host_dir
        );
    }
    let status = |s: ArtifactStatus| report.artifacts.iter().any(|a| a.status == s);
    report.verdict = if status(ArtifactStatus::Different) {
        Verdict::NotReproducible
    } else if status(ArtifactStatus::Equivalent) {
        Verdict::EquivalentAfterNormalization
    } else {
        Verdict::Reproducible
    };

    if report.verdict != Verdict::Reproducible && !applied.is_empty() {
        let control = &digests[0];
        let mut k = 0u32;
        match cfg.bisect_budget {
            Some(0) => {}
            Some(n) => eprintln!(
                "repro: searching for the cause: up to {n} extra run{} (--bisect-budget 0 skips them, \
                 --bisect runs as many as it takes)",
                if n == 1 { "" } else { "s" }
            ),
            None => eprintln!(
                "repro: searching for the cause: as many extra runs as it takes (--bisect; \
                 --bisect-budget N caps them)"
            ),
        }
        let result = bisect::bisect(applied, cfg.bisect_budget, |set| {
            sandbox::interrupt::check()?;
            k += 1;
            let dest = cfg.out.join("bisect").join(k.to_string());
            let log = logs.join(format!("bisect-{k}.log"));
            let label = format!(
                "bisect {k}: {}",
                if set.is_empty() {
                    "control again".to_string()
                } else {
                    set.names().join(", ")
                }
            );
            let (_, outcome, tree) = runner::execute(cfg, k, &label, set, &dest, &log)?;
            let differs = if outcome.success() {
                // What a bisect run cannot read was said for the runs.
                let got = runner::hash_artifacts(cfg, &tree, false)?.digests;
                !same_raw(&got, control)
            } else {
                // A variation that breaks the build changes its outcome too.
                eprintln!("repro: {label}: the build {outcome}; counted as different");
                true
            };
            if cfg.keep_runs == crate::config::KeepRuns::All {
                tree.materialize(&dest.join("src"))?;
            }
            Ok(differs)
        });
        match result {
            Ok(result) if result.runs > 0 || !result.complete => report.bisect = Some(result),
            Ok(_) => {}
            // An interrupted search stops the build: the user asked it to.
            Err(e) if e.is::<sandbox::interrupt::Interrupt>() => return Err(e),
            // The verdict stands on the runs already made; a culprit search
            // that could not run to the end must not turn it into an error.
            Err(e) => eprintln!("repro: the culprit search stopped: {e:#}"),
        }
    }
    diff_artifacts(cfg, report, &trees)?;
    sandbox::interrupt::check()?;
    publish_artifacts(cfg, &trees[0], &mut report.artifacts)?;
    remove_run_trees(cfg, report, &trees);
    Ok(())
}

/// After SIGINT/SIGTERM: removes what a build that did not finish leaves
/// half-made (the unfinished publication, the build dir of `--sandbox
/// none`) and, unless `--keep-runs all`, the run trees; a tree that cannot
/// be removed is said and recorded as kept.
fn clean_up_interrupted(cfg: &BuildConfig, report: &mut Report) {
    let keep_runs = cfg.keep_runs == crate::config::KeepRuns::All;
    let mut dirs = vec![cfg.out.join(ARTIFACTS_STAGING), cfg.out.join("work")];
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
fn remove_run_trees(cfg: &BuildConfig, report: &mut Report, trees: &[runner::RunTree]) {
    use crate::config::KeepRuns;
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
            KeepRuns::Failed => (1..report.runs.len()).any(differs) && (i == 0 || differs(i)),
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

/// Lines of a diff summary shown on the terminal per artifact.
const SUMMARY_LINES: usize = 10;
/// Lines of a diff summary kept in report.json per artifact.
const SUMMARY_LINES_KEPT: usize = 200;

/// Diffs every DIFFERENT artifact of run 1 against the first run where it
/// differs, writing `<out>/diff/<artifact>.{txt,json,html}`. A diff that
/// cannot be made (a safety limit, a corrupt member) is recorded, not fatal:
/// the verdict stands on the digests.
fn diff_artifacts(cfg: &BuildConfig, report: &mut Report, trees: &[runner::RunTree]) -> Result<()> {
    let cx = hint_context(cfg, report);
    let dir = cfg.out.join("diff");
    let build_summary = html_summary(report);
    let runs = report.runs.clone();
    for a in report
        .artifacts
        .iter_mut()
        .filter(|a| a.status != ArtifactStatus::Same)
    {
        sandbox::interrupt::check()?;
        let Some(first) = &a.runs[0] else { continue };
        let Some(other) = a
            .runs
            .iter()
            .position(|r| r.as_ref().is_some_and(|d| d.sha256 != first.sha256))
        else {
            continue; // missing in some run: nothing to compare against
        };
        let (r1, r2) = (&runs[0], &runs[other]);
        let (Some(left), Some(right)) = (trees[0].file(&a.path), trees[other].file(&a.path)) else {
            continue;
        };
        let mut record = crate::report::DiffRecord {
            runs: [r1.index, r2.index],
            reports: Vec::new(),
            summary: Vec::new(),
            error: None,
        };
        let mut summary = build_summary.clone();
        summary.push(("artifact".into(), artifact_line(a)));
        summary.push((
            "runs".into(),
            format!("{} vs {}", run_line(r1), run_line(r2)),
        ));
        match crate::commands::diff::write_reports(
            &left,
            &right,
            &dir,
            &a.path,
            &cx,
            &cfg.diff_limits,
            &summary,
        ) {
            Ok(Some(d)) => {
                for ext in ["txt", "json", "html"] {
                    record.reports.push(format!("diff/{}.{ext}", a.path));
                }
                record.summary = d.summary.into_iter().take(SUMMARY_LINES_KEPT).collect();
            }
            Ok(None) => {}
            Err(e) => record.error = Some(format!("{e:#}")),
        }
        a.diff = Some(record);
    }
    Ok(())
}

/// The rows every artifact's HTML diff opens with: the verdict, what the
/// culprit search found, and how the artifacts fared.
fn html_summary(report: &Report) -> Vec<(String, String)> {
    let mut rows = vec![("verdict".to_string(), report.verdict_line())];
    if let Some(b) = &report.bisect {
        rows.push(("culprits".to_string(), b.summary(report.verdict)));
    }
    let count = |s: ArtifactStatus| report.artifacts.iter().filter(|a| a.status == s).count();
    rows.push((
        "artifacts".to_string(),
        format!(
            "{} in all: {} same, {} equivalent after normalization, {} different",
            report.artifacts.len(),
            count(ArtifactStatus::Same),
            count(ArtifactStatus::Equivalent),
            count(ArtifactStatus::Different)
        ),
    ));
    rows
}

/// `dist/x.whl: EQUIVALENT (noise: zip.sort)`.
fn artifact_line(a: &ArtifactRecord) -> String {
    match a.status {
        ArtifactStatus::Same => format!("{}: SAME", a.path),
        ArtifactStatus::Equivalent => {
            format!("{}: EQUIVALENT (noise: {})", a.path, a.noise.join(", "))
        }
        ArtifactStatus::Different => format!("{}: DIFFERENT", a.path),
    }
}

/// `run 2 (/build-b/path-b/src; varied: build_path, umask)`.
fn run_line(r: &crate::report::RunRecord) -> String {
    if r.index == 1 {
        format!("run 1 ({}; control)", r.build_dir)
    } else if r.variations.is_empty() {
        format!("run {} ({}; nothing varied)", r.index, r.build_dir)
    } else {
        format!(
            "run {} ({}; varied: {})",
            r.index,
            r.build_dir,
            r.variations.join(", ")
        )
    }
}

/// What the build knows that makes hints exact: both sides' paths, names,
/// ids, SOURCE_DATE_EPOCH and the build window.
fn hint_context(cfg: &BuildConfig, report: &Report) -> diffoscope_lite::hints::HintContext {
    let mut build_dirs = Vec::new();
    for r in &report.runs {
        build_dirs.push(r.build_dir.clone());
        build_dirs.push(r.host_dir.clone());
        build_dirs.push(r.home.clone());
    }
    build_dirs.sort();
    build_dirs.dedup();
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(|t| t.unix_timestamp())
    };
    let (control, varied) = (variations::control_user(), variations::varied_user());
    diffoscope_lite::hints::HintContext {
        build_dirs,
        hostnames: [false, true]
            .iter()
            .flat_map(|v| {
                let (h, d) = variations::host_names(*v);
                [h.to_string(), d.to_string()]
            })
            .filter(|n| n != "(none)")
            .collect(),
        user_names: vec![control.name, varied.name, control.group, varied.group],
        uids: vec![control.uid.into(), varied.uid.into()],
        source_date_epoch: Some(cfg.epoch.value),
        build_start: parse(&report.started_at),
        build_end: Some(time::OffsetDateTime::now_utc().unix_timestamp()),
    }
}

/// The diff summaries and report paths, after the table.
fn print_diffs(cfg: &BuildConfig, report: &Report) {
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
            crate::outln!("  report: {}", cfg.out.join(html).display());
        }
    }
}

/// True when both runs produced the same artifacts with the same bytes.
fn same_raw(a: &Digests, b: &Digests) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((na, da), (nb, db))| na == nb && da.sha256 == db.sha256)
}

/// One record per artifact seen in any run.
fn compare(runs: &[Digests]) -> Vec<ArtifactRecord> {
    let all: BTreeSet<&String> = runs.iter().flat_map(|d| d.keys()).collect();
    all.into_iter()
        .map(|name| {
            let per_run: Vec<_> = runs.iter().map(|d| d.get(name).cloned()).collect();
            let all = |f: &dyn Fn(&FileDigest) -> Option<&str>| {
                let first = per_run[0].as_ref().and_then(f);
                first.is_some() && per_run.iter().all(|d| d.as_ref().and_then(f) == first)
            };
            let (status, noise) = if all(&|d| Some(d.sha256.as_str())) {
                (ArtifactStatus::Same, Vec::new())
            } else if all(&|d| d.normalized.as_deref()) {
                // Equal once normalized: what differed is what the rules
                // that fire remove.
                let mut noise: Vec<String> = per_run
                    .iter()
                    .flatten()
                    .flat_map(|d| d.fired.clone())
                    .collect();
                noise.sort();
                noise.dedup();
                (ArtifactStatus::Equivalent, noise)
            } else {
                (ArtifactStatus::Different, Vec::new())
            };
            ArtifactRecord {
                path: name.clone(),
                status,
                runs: per_run,
                noise,
                published: None,
                diff: None,
            }
        })
        .collect()
}

/// Where artifacts are published before they are complete: renamed to
/// `artifacts/` when all are there, removed when publishing fails or is
/// interrupted, so `artifacts/` is never half a release.
const ARTIFACTS_STAGING: &str = ".repro-tmp-artifacts";

/// Publishes run 1's reproducible artifacts in `<out>/artifacts/`: the
/// SAME ones as built, or, with --normalize, the SAME and EQUIVALENT ones
/// in canonical form (identical whichever run they come from).
fn publish_artifacts(
    cfg: &BuildConfig,
    run1: &runner::RunTree,
    artifacts: &mut [ArtifactRecord],
) -> Result<()> {
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
    run1: &runner::RunTree,
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

fn write_report(cfg: &BuildConfig, report: &Report) -> Result<()> {
    let mut json = report_json(report)?;
    json.push('\n');
    fsio::write(&cfg.out.join("report.json"), json.as_bytes())?;
    Ok(())
}

fn report_json(report: &Report) -> Result<String> {
    serde_json::to_string_pretty(report).context("serializing report.json")
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::FileDigest;

    #[test]
    fn compare_marks_missing_and_different() {
        let d = |h: &str| FileDigest {
            sha256: h.into(),
            size: 1,
            normalized: Some(format!("n{h}")),
            fired: vec!["zip.sort".into()],
        };
        let r1: Digests = [("a".to_string(), d("1")), ("b".to_string(), d("2"))].into();
        let r2: Digests = [("a".to_string(), d("1")), ("c".to_string(), d("3"))].into();
        let got = compare(&[r1, r2]);
        let status: Vec<_> = got.iter().map(|a| (a.path.as_str(), a.status)).collect();
        assert_eq!(
            status,
            [
                ("a", ArtifactStatus::Same),
                ("b", ArtifactStatus::Different),
                ("c", ArtifactStatus::Different)
            ]
        );
        // Other bytes, same normalized digest: EQUIVALENT, with the noise.
        let mut x = d("4");
        x.normalized = Some("same".into());
        let mut y = d("5");
        y.normalized = Some("same".into());
        let got = compare(&[[("z".to_string(), x)].into(), [("z".to_string(), y)].into()]);
        assert_eq!(got[0].status, ArtifactStatus::Equivalent);
        assert_eq!(got[0].noise, ["zip.sort"]);
    }
}
