//! One build run: give it a fresh tree of the source, describe the run to
//! the sandbox (with the variations it gets) and run it; what it made is
//! found and hashed by [`collect()`](crate::collect()).
//!
//! In a sandbox the copy lives at `<dest>/src` on the host and the build
//! sees it at a path chosen by the variations (`/build/src` for the
//! control), so control runs see identical paths wherever `--out` is.
//! Without a sandbox the build sees real paths, so it is built at a fixed
//! path under `<out>/work/` and moved to `<dest>` afterwards.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use sandbox::variations::{self, Variation, VariationSet};
use sandbox::{BuildEnv, Isolation, RunSpec};

use crate::config::BuildConfig;
use crate::fsutil;
use crate::report::RunRecord;

/// Lines of a failing run's log shown on the terminal.
const LOG_TAIL_LINES: usize = 20;

/// The pristine copy of the source that every run overlays, made once
/// when the sandbox can mount an overlay (without it each run copies the
/// source).
#[derive(Debug, Clone)]
pub struct Pristine {
    /// The copy, prepared as an overlay's lower layer.
    pub dir: PathBuf,
    /// Its files that match the artifact globs, found once (a run in an
    /// overlay is walked for what it wrote only).
    pub artifacts: Vec<String>,
}

/// Builds once with `set` applied, over `pristine` when there is one.
/// `dest` receives the build tree (`dest/src`) and `log` the output;
/// `label` names the run in messages.
pub fn execute(
    cfg: &BuildConfig,
    pristine: Option<&Pristine>,
    index: u32,
    label: &str,
    set: &VariationSet,
    dest: &Path,
    log: &Path,
) -> Result<(RunRecord, sandbox::Outcome, RunTree)> {
    let setup_started = std::time::Instant::now();
    let final_dir = dest.join("src");
    let (host_dir, build_dir, home_host, home) = match cfg.isolation {
        Isolation::Namespaces => {
            let inside =
                variations::build_dir_under(Path::new("/"), set.contains(Variation::BuildPath));
            let home = variations::home_under(Path::new("/home"), set.contains(Variation::Home));
            (final_dir.clone(), inside, None, home)
        }
        Isolation::None => {
            let work = cfg.out.join("work");
            let dir = variations::build_dir_under(&work, set.contains(Variation::BuildPath));
            let home = variations::home_under(&work.join("home"), set.contains(Variation::Home));
            for stale in [&dir, &home] {
                if stale.exists() {
                    fsutil::remove_tree(stale)?;
                }
            }
            std::fs::create_dir_all(&home)
                .with_context(|| format!("creating {}", home.display()))?;
            (dir.clone(), dir, Some(home.clone()), home)
        }
    };
    // With an overlay the run writes into `upper` over the shared pristine
    // tree; its tree is put together at `final_dir` after the run.
    let overlay = match (pristine, cfg.isolation) {
        (Some(Pristine { dir: lower, .. }), Isolation::Namespaces) => {
            let (upper, work) = (dest.join("upper"), dest.join("work"));
            for d in [&upper, &work] {
                std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            }
            Some((lower.clone(), upper, work))
        }
        _ => {
            fsutil::copy_tree(&cfg.source, &host_dir, &cfg.out)
                .with_context(|| format!("copying the source tree for {label}"))?;
            None
        }
    };
    let host_dir = match &overlay {
        Some((_, upper, _)) => upper.clone(),
        None => host_dir,
    };

    let argv = cfg.command.iter().map(Into::into).collect();
    let mut spec = run_spec(cfg, set, argv, &host_dir, &build_dir, &home, log)?;
    spec.overlay = overlay.as_ref().map(|(lower, _, work)| sandbox::Overlay {
        lower: lower.clone(),
        work: work.clone(),
    });
    crate::fetch::attach(cfg, &host_dir, &mut spec)?;
    let setup = setup_started.elapsed();
    let (outcome, elapsed) = watched(cfg, label, &spec)?;
    // The run's files stay where the build left them: only a tree that is
    // kept is put together (RunTree::materialize), so a run that
    // reproduced costs what its build wrote and no more.
    let tree = match overlay {
        Some((lower, upper, work)) => {
            fsutil::remove_tree(&work)?;
            RunTree::Overlay { lower, upper }
        }
        None => RunTree::Dir(final_dir.clone()),
    };

    if let Some(home_host) = home_host {
        // Move the real-path build (and its HOME) to the run's own place.
        std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
        std::fs::rename(&host_dir, &final_dir)
            .with_context(|| format!("moving {} to {}", host_dir.display(), final_dir.display()))?;
        std::fs::rename(&home_host, dest.join("home"))
            .with_context(|| format!("moving {}", home_host.display()))?;
    }
    let record = RunRecord {
        index,
        build_dir: utf8(&build_dir)?,
        host_dir: utf8(&final_dir)?,
        home: utf8(&home)?,
        log: log
            .strip_prefix(&cfg.out)
            .unwrap_or(log)
            .display()
            .to_string(),
        log_sha256: diffoscope_lite::sha256_file(log)
            .with_context(|| format!("hashing {}", log.display()))?
            .hex(),
        exit_code: match outcome {
            sandbox::Outcome::Exited(code) => Some(code),
            _ => None,
        },
        outcome: outcome.to_string(),
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        setup_ms: u64::try_from(setup.as_millis()).unwrap_or(u64::MAX),
        variations: set.names().into_iter().map(String::from).collect(),
        umask: format!("{:04o}", variations::umask(set)),
        kept: true,
    };
    Ok((record, outcome, tree))
}

/// Where a run's files are: its own directory, or its overlay's upper
/// layer over the pristine tree.
#[derive(Debug, Clone)]
pub enum RunTree {
    /// A complete tree of its own (a copy of the source the build ran in).
    Dir(PathBuf),
    /// What the build wrote, over the pristine copy every run shares.
    Overlay {
        /// The pristine copy of the source.
        lower: PathBuf,
        /// The run's writes, in overlayfs's encoding.
        upper: PathBuf,
    },
}

impl RunTree {
    /// The file the build left at `rel`, if any.
    pub fn file(&self, rel: &str) -> Option<PathBuf> {
        match self {
            RunTree::Dir(d) => Some(d.join(rel)).filter(|p| p.symlink_metadata().is_ok()),
            RunTree::Overlay { lower, upper } => {
                match sandbox::lookup(lower, upper, Path::new(rel)) {
                    sandbox::Layer::Upper(p) | sandbox::Layer::Lower(p) => Some(p),
                    sandbox::Layer::Absent => None,
                }
            }
        }
    }

    /// Makes `dest` the complete tree the build saw (for a kept run): the
    /// overlay put together from links and the build's files (no data is
    /// copied), after which the upper layer is gone.
    pub fn materialize(&self, dest: &Path) -> Result<()> {
        let RunTree::Overlay { lower, upper } = self else {
            return Ok(());
        };
        sandbox::merge_overlay(lower, upper, dest)
            .with_context(|| format!("putting together the tree at {}", dest.display()))?;
        fsutil::remove_tree(upper)
    }
}

/// The sandbox's description of running `argv` in `host_dir` (seen by the
/// build at `build_dir`, with HOME at `home`) with `set` applied: the one
/// place that turns the configuration and a variation set into a run, for
/// the builds and for the probes that check a variation works.
pub fn run_spec(
    cfg: &BuildConfig,
    set: &VariationSet,
    argv: Vec<std::ffi::OsString>,
    host_dir: &Path,
    build_dir: &Path,
    home: &Path,
    log: &Path,
) -> Result<RunSpec> {
    let mut env = BuildEnv::scrubbed(std::env::var_os("PATH"), home, cfg.epoch.value, &cfg.env)?;
    variations::apply_to_env(set, &mut env);
    let (hostname, domainname) = variations::host_names(set.contains(Variation::DomainHost));
    Ok(RunSpec {
        argv,
        host_dir: host_dir.to_path_buf(),
        build_dir: build_dir.to_path_buf(),
        env,
        log: log.to_path_buf(),
        timeout: cfg.timeout,
        umask: variations::umask(set),
        isolation: cfg.isolation,
        ro_binds: cfg.ro_binds.clone(),
        overlay: None,
        build_binds: Vec::new(),
        network: cfg.network,
        hostname: hostname.into(),
        domainname: domainname.into(),
        user: if set.contains(Variation::UserGroup) {
            variations::varied_user()
        } else {
            variations::control_user()
        },
        one_cpu: set.contains(Variation::NumCpus),
        reverse_dir_order: set.contains(Variation::FileOrdering),
        no_aslr: set.contains(Variation::Aslr),
        uname26: set.contains(Variation::Kernel),
        limits: cfg.limits,
    })
}

/// The build dir and HOME a control-like step (a probe, the fetch step)
/// sees when its tree is `host_dir`: the control run's paths in a sandbox,
/// the real `host_dir` and a HOME made at `home_host` without one.
pub fn control_paths(
    cfg: &BuildConfig,
    host_dir: &Path,
    home_host: &Path,
) -> Result<(PathBuf, PathBuf)> {
    Ok(match cfg.isolation {
        Isolation::Namespaces => (
            variations::build_dir_under(Path::new("/"), false),
            variations::home_under(Path::new("/home"), false),
        ),
        Isolation::None => {
            std::fs::create_dir_all(home_host)
                .with_context(|| format!("creating {}", home_host.display()))?;
            (host_dir.to_path_buf(), home_host.to_path_buf())
        }
    })
}

/// Runs `spec` while showing its progress as the configuration says.
pub fn watched(
    cfg: &BuildConfig,
    label: &str,
    spec: &RunSpec,
) -> Result<(sandbox::Outcome, std::time::Duration)> {
    let mut watch =
        crate::progress::RunWatch::start(cfg.progress, label, &spec.log, &spec.build_dir);
    let ran = sandbox::run_observed(spec, &mut |t| {
        watch.tick(t);
        // A caught SIGINT/SIGTERM stops the run: the sandbox kills its tree.
        match sandbox::interrupt::pending() {
            Some(_) => std::ops::ControlFlow::Break(()),
            None => std::ops::ControlFlow::Continue(()),
        }
    });
    // Checked whatever the run says: a signal from the terminal may also
    // have ended the sandbox's own processes before the tick saw it.
    if let Some(interrupt) = sandbox::interrupt::pending() {
        watch.abandon();
        return Err(anyhow::Error::new(interrupt).context(label.to_string()));
    }
    match ran {
        Ok((outcome, elapsed)) => {
            watch.finish(&outcome.to_string(), elapsed);
            Ok((outcome, elapsed))
        }
        Err(e) => {
            watch.abandon();
            Err(e).with_context(|| label.to_string())
        }
    }
}

/// Builds once like [`execute`] and turns a failed build into an error
/// that shows the end of its log; the run's record is pushed to
/// `records` either way.
#[allow(clippy::too_many_arguments)] // one run's every input, named
pub fn execute_checked(
    cfg: &BuildConfig,
    pristine: Option<&Pristine>,
    index: u32,
    label: &str,
    set: &VariationSet,
    dest: &Path,
    log: &Path,
    records: &mut Vec<RunRecord>,
) -> Result<RunTree> {
    let (record, outcome, tree) = execute(cfg, pristine, index, label, set, dest, log)?;
    if !outcome.success() {
        // The failed run's tree is kept whole for inspection; when it
        // cannot be (say, a directory the build made unreadable), the
        // build's own failure is still the error to show.
        if let Err(e) = tree.materialize(Path::new(&record.host_dir)) {
            eprintln!("repro: {e:#}");
        }
    }
    records.push(record);
    if !outcome.success() {
        // The log holds the build's bytes: never let them drive the terminal.
        let tail = crate::progress::printable(&fsutil::tail_lines(log, LOG_TAIL_LINES));
        let mut hint = crate::fetch::offline_hint(&tail)
            .map(|h| format!("\n{h}"))
            .unwrap_or_default();
        // The log and the run tree share --out's file system: when it is
        // full, the build failed writing and its log lost what it said.
        if let Some(free) = fsutil::available_space(&cfg.out).filter(|f| *f < fsutil::NEARLY_FULL) {
            hint.push_str(&format!(
                "\nno space left on device while writing {} ({free} bytes free on the file system \
                 of --out): the build's own writes may have failed for the same reason",
                log.display()
            ));
        }
        let tail = if tail.trim().is_empty() {
            "(the log is empty)".to_string()
        } else {
            tail
        };
        bail!(
            "{label}: the build command {outcome} (full log: {})\n--- last {LOG_TAIL_LINES} lines ---\n{tail}{hint}",
            log.display()
        );
    }
    Ok(tree)
}

/// The path as UTF-8, or an error naming it.
pub fn utf8(path: &Path) -> Result<String> {
    path.to_str()
        .map(str::to_string)
        .with_context(|| format!("path {path:?} is not valid UTF-8"))
}
