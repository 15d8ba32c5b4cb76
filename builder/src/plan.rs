//! Planning a build: everything decided before the first run. The output
//! directory is made, the build's toolchain surveyed, the variations this
//! machine can apply probed, and the way runs get their trees chosen (an
//! overlay of one pristine copy, or a copy each); the report that records
//! it all is started.
//!
//! A SIGINT/SIGTERM during any of these steps stops them promptly (the
//! probes' sandboxes are killed, tree walks stop), removes what they made
//! and writes report.json with the verdict ERROR, as during the runs.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use sandbox::variations::{self, Availability, VariationSet};
use sandbox::Isolation;

use crate::build::Failure;
use crate::config::{BuildConfig, RunTreeMode};
use crate::epoch::Origin;
use crate::fsutil;
use crate::report::{
    AppliedVariation, Report, RunTreeRecord, SandboxRecord, Source, UnavailableVariation,
    VariationsRecord, Verdict, SCHEMA,
};
use crate::runner::{utf8, Pristine};

/// A build about to run: its validated configuration, what the varied
/// runs vary, how the runs get their trees, and the report that records
/// the build as it goes.
#[derive(Debug)]
pub struct Plan {
    /// The validated configuration.
    pub cfg: BuildConfig,
    /// The variations applied to runs 2..N (those this machine can apply).
    pub applied: VariationSet,
    /// The pristine copy every run overlays; None: each run copies the source.
    pub pristine: Option<Pristine>,
    /// The report so far (verdict ERROR until the build is judged).
    pub report: Report,
}

/// Plans the build `cfg` describes: catches SIGINT/SIGTERM from here on
/// (they then only set a flag that every later step polls, so an
/// interrupted build still stops its sandbox, removes its temporary files
/// and writes its report), makes the output directory, surveys the
/// toolchain, chooses the run trees and probes the variations. Progress
/// goes to stderr.
///
/// An error before the output directory is made leaves nothing behind;
/// an interrupt after it writes report.json (verdict ERROR) and returns
/// it in the [`Failure`].
pub fn plan(cfg: BuildConfig) -> Result<Plan, Failure> {
    let prepared = || -> Result<Report> {
        sandbox::interrupt::catch()?;
        if cfg.isolation == Isolation::Namespaces {
            // Fail before writing anything when the kernel says no.
            sandbox::check_namespaces()?;
        }
        fsutil::prepare_out_dir(&cfg.out, cfg.force)?;
        new_report(&cfg)
    };
    let report = prepared().map_err(Failure::new)?;
    let mut plan = Plan {
        cfg,
        applied: VariationSet::empty(),
        pristine: None,
        report,
    };
    if let Err(err) = plan.prepare() {
        return Err(if err.is::<sandbox::interrupt::Interrupt>() {
            plan.fail(err)
        } else {
            // As before any run: the error alone, no report.
            Failure::new(err)
        });
    }
    plan.announce();
    Ok(plan)
}

impl Plan {
    /// The steps between the output directory and the first run.
    fn prepare(&mut self) -> Result<()> {
        self.report.tools =
            crate::toolchain::survey(&self.cfg, &self.cfg.out.join("probe").join("survey"))?;
        sandbox::interrupt::check()?;
        let (record, pristine) = prepare_run_tree(&self.cfg)?;
        self.report.run_tree = record;
        self.pristine = pristine;
        let (applied, variations) = plan_variations(&self.cfg)?;
        self.applied = applied;
        self.report.variations = variations;
        self.report.source.digest = crate::dirhash::dirhash(&self.cfg.source, &self.cfg.out)?;
        // The runs start now; what came before was preparation.
        self.report.started_at = crate::build::now_rfc3339();
        Ok(())
    }

    /// Says on stderr what is about to be built, how, and what varies.
    fn announce(&self) {
        let cfg = &self.cfg;
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
            self.report.sandbox.mode,
        );
        eprintln!(
            "repro: varying {}",
            if self.applied.is_empty() {
                "nothing".to_string()
            } else {
                self.applied.names().join(", ")
            }
        );
        for u in &self.report.variations.unavailable {
            eprintln!("repro:   {} unavailable: {}", u.name, u.reason);
        }
    }
}

/// Chooses how each run gets its tree: an overlay of one pristine copy of
/// the source (setting up a run costs a mount; a run's disk use is what it
/// writes) where the sandbox can mount one, else a copy per run.
fn prepare_run_tree(cfg: &BuildConfig) -> Result<(RunTreeRecord, Option<Pristine>)> {
    let copy = |reason: String| {
        Ok((
            RunTreeRecord {
                mode: "copy".into(),
                reason: Some(reason),
            },
            None,
        ))
    };
    if cfg.run_tree == RunTreeMode::Copy {
        return copy("--run-tree copy".into());
    }
    if cfg.isolation != Isolation::Namespaces {
        if cfg.run_tree == RunTreeMode::Overlay {
            bail!("--run-tree overlay needs the sandbox: --sandbox none has no mount namespace to overlay in");
        }
        return copy("--sandbox none has no mount namespace to overlay in".into());
    }
    let scratch = cfg.out.join("probe").join("overlay");
    let unusable = crate::probe::overlay_unusable(cfg, &scratch);
    // An interrupted probe says nothing about overlays: stop here.
    sandbox::interrupt::check()?;
    if let Err(e) = fsutil::remove_tree(&scratch) {
        eprintln!("repro: could not remove {}: {e:#}", scratch.display());
    }
    if let Some(reason) = unusable {
        if cfg.run_tree == RunTreeMode::Overlay {
            bail!("--run-tree overlay: the sandbox cannot mount an overlay here: {reason}");
        }
        eprintln!("repro: each run copies the source: no overlay here ({reason})");
        return copy(reason);
    }
    let lower = cfg.out.join("source");
    fsutil::copy_tree(&cfg.source, &lower, &cfg.out)
        .context("copying the source tree the runs overlay")?;
    sandbox::prepare_lower(&lower)?;
    let artifacts = crate::collect::find_artifacts_in(cfg, &lower)?;
    Ok((
        RunTreeRecord {
            mode: "overlay".into(),
            reason: None,
        },
        Some(Pristine {
            dir: lower,
            artifacts,
        }),
    ))
}

/// Splits the requested variations into those applied here and those
/// unavailable (with the reason), in reporting order.
fn plan_variations(cfg: &BuildConfig) -> Result<(VariationSet, VariationsRecord)> {
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
                let unusable = crate::probe::unusable(cfg, v, &scratch.join(v.name()));
                // An interrupted probe's verdict on `v` means nothing.
                sandbox::interrupt::check()?;
                match unusable {
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
    Ok((applied, record))
}

/// The report of a build that has not run yet: what the configuration
/// says (verdict ERROR until judged). The toolchain, variations, run tree
/// and source digest are filled in as the build is planned.
fn new_report(cfg: &BuildConfig) -> Result<Report> {
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
            digest: String::new(),
        },
        command: cfg.command.clone(),
        tools: Vec::new(),
        artifact_globs: cfg.artifact_globs.clone(),
        source_date_epoch: cfg.epoch.clone(),
        environment,
        umask: format!("{:04o}", variations::umask(&VariationSet::empty())),
        timeout_secs: cfg.timeout.map(|t| t.as_secs_f64()),
        started_at: crate::build::now_rfc3339(),
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
        variations: VariationsRecord::default(),
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
