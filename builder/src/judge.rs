//! Judging a build: the runs' artifacts compared (SAME, EQUIVALENT after
//! normalization, DIFFERENT), the verdict, the search for the variations
//! that cause a difference, and the diff of every artifact that differs.

use std::collections::BTreeSet;

use anyhow::Result;
use sandbox::variations;

use crate::bisect;
use crate::build::Run;
use crate::collect::Digests;
use crate::config::KeepRuns;
use crate::plan::Plan;
use crate::report::{ArtifactRecord, ArtifactStatus, FileDigest, Report, Verdict};

/// Lines of a diff summary kept in report.json per artifact.
pub const SUMMARY_LINES_KEPT: usize = 200;

/// Compares the artifacts of `runs` into the report and reaches the
/// verdict; when the artifacts are not all the same and something was
/// varied, searches for the culprit variations within the bisect budget
/// (each test is one more sandboxed run); then diffs what differs
/// ([`diff_artifacts`]). An error when no run made any artifact, or when
/// a signal stops it.
pub fn judge(plan: &mut Plan, runs: &[Run]) -> Result<()> {
    let digests: Vec<&Digests> = runs.iter().map(|r| &r.digests).collect();
    plan.report.artifacts = compare(&digests);
    crate::build::require_artifacts(plan)?;
    plan.report.verdict = verdict(&plan.report.artifacts);
    if plan.report.verdict != Verdict::Reproducible && !plan.applied.is_empty() {
        if let Some(control) = digests.first() {
            search_culprits(plan, control)?;
        }
    }
    diff_artifacts(plan, runs)
}

/// The verdict the artifacts' statuses add up to.
pub fn verdict(artifacts: &[ArtifactRecord]) -> Verdict {
    let status = |s: ArtifactStatus| artifacts.iter().any(|a| a.status == s);
    if status(ArtifactStatus::Different) {
        Verdict::NotReproducible
    } else if status(ArtifactStatus::Equivalent) {
        Verdict::EquivalentAfterNormalization
    } else {
        Verdict::Reproducible
    }
}

/// Reruns the build with subsets of the applied variations to name the
/// ones that change the artifacts; the result goes into the report.
fn search_culprits(plan: &mut Plan, control: &Digests) -> Result<()> {
    let cfg = &plan.cfg;
    let logs = cfg.out.join("logs");
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
    let pristine = plan.pristine.as_ref();
    let result = bisect::bisect(&plan.applied, cfg.bisect_budget, |set| {
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
        let (_, outcome, tree) =
            crate::runner::execute(cfg, pristine, k, &label, set, &dest, &log)?;
        let differs = if outcome.success() {
            // What a bisect run cannot read was said for the runs.
            let got = crate::collect::collect(cfg, pristine, &tree, false)?.digests;
            !same_raw(&got, control)
        } else {
            // A variation that breaks the build changes its outcome too.
            eprintln!("repro: {label}: the build {outcome}; counted as different");
            true
        };
        if cfg.keep_runs == KeepRuns::All {
            tree.materialize(&dest.join("src"))?;
        }
        Ok(differs)
    });
    match result {
        Ok(result) if result.runs > 0 || !result.complete => plan.report.bisect = Some(result),
        Ok(_) => {}
        // An interrupted search stops the build: the user asked it to.
        Err(e) if e.is::<sandbox::interrupt::Interrupt>() => return Err(e),
        // The verdict stands on the runs already made; a culprit search
        // that could not run to the end must not turn it into an error.
        Err(e) => eprintln!("repro: the culprit search stopped: {e:#}"),
    }
    Ok(())
}

/// Diffs every DIFFERENT artifact of run 1 against the first run where it
/// differs, writing `<out>/diff/<artifact>.{txt,json,html}`. A diff that
/// cannot be made (a safety limit, a corrupt member) is recorded, not fatal:
/// the verdict stands on the digests.
pub fn diff_artifacts(plan: &mut Plan, runs: &[Run]) -> Result<()> {
    let (cfg, report) = (&plan.cfg, &mut plan.report);
    let cx = hint_context(cfg.epoch.value, report);
    let dir = cfg.out.join("diff");
    let build_summary = html_summary(report);
    let records = report.runs.clone();
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
        let (r1, r2) = (&records[0], &records[other]);
        let (Some(left), Some(right)) =
            (runs[0].tree.file(&a.path), runs[other].tree.file(&a.path))
        else {
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
        match crate::diffreport::write_reports(
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
pub fn artifact_line(a: &ArtifactRecord) -> String {
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
fn hint_context(source_date_epoch: i64, report: &Report) -> diffoscope_lite::hints::HintContext {
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
        source_date_epoch: Some(source_date_epoch),
        build_start: parse(&report.started_at),
        build_end: Some(time::OffsetDateTime::now_utc().unix_timestamp()),
    }
}

/// True when both runs produced the same artifacts with the same bytes.
fn same_raw(a: &Digests, b: &Digests) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((na, da), (nb, db))| na == nb && da.sha256 == db.sha256)
}

/// One record per artifact seen in any run, sorted by path.
pub fn compare(runs: &[&Digests]) -> Vec<ArtifactRecord> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_marks_missing_and_different() {
        let d = |h: &str| FileDigest {
            sha256: h.into(),
            size: 1,
            normalized: Some(format!("n{h}")),
            normalized_error: None,
            fired: vec!["zip.sort".into()],
        };
        let r1: Digests = [("a".to_string(), d("1")), ("b".to_string(), d("2"))].into();
        let r2: Digests = [("a".to_string(), d("1")), ("c".to_string(), d("3"))].into();
        let got = compare(&[&r1, &r2]);
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
        let (x, y): (Digests, Digests) =
            ([("z".to_string(), x)].into(), [("z".to_string(), y)].into());
        let got = compare(&[&x, &y]);
        assert_eq!(got[0].status, ArtifactStatus::Equivalent);
        assert_eq!(got[0].noise, ["zip.sort"]);
    }
}
