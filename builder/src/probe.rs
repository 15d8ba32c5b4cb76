//! Checks, before any build, that a variation whose tool is installed
//! really works in this build's sandbox, the way the runs will use it.
//!
//! A tool being on disk is not enough: `/dev/fuse` may exist while the
//! build's uid cannot open it, and libfaketime hangs some multithreaded
//! toolchains (rustc, among others) forever. A variation that fails its
//! probe is reported unavailable with the reason; it never becomes a build
//! error or a hung run.

use std::path::Path;
use std::time::Duration;

use sandbox::variations::{self, Variation, VariationSet};

use crate::config::BuildConfig;
use crate::runner;

/// How long a probe may take; a healthy one takes milliseconds.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Toolchain commands that libfaketime is known to hang or crash on some
/// machines (multithreaded runtimes, jemalloc reading the clock while
/// libfaketime initialises), each with a quick command that shows it.
const FAKETIME_SENSITIVE: &[(&str, &str)] = &[
    ("rustc", "rustc -vV"),
    ("cargo", "cargo -V"),
    ("go", "go version"),
    ("java", "java -version"),
    ("node", "node --version"),
];

/// Why `v` cannot be used in this build although its tool is installed,
/// or `None` when the probe passed (or `v` needs no probe). `scratch` is
/// an empty directory the probe may use and leaves behind.
pub fn unusable(cfg: &BuildConfig, v: Variation, scratch: &Path) -> Option<String> {
    match v {
        Variation::FileOrdering => probe_fileordering(cfg, scratch),
        Variation::Time => probe_time(cfg, scratch),
        Variation::Locales => probe_locales(cfg, scratch),
        _ => None,
    }
}

fn probe_locales(cfg: &BuildConfig, scratch: &Path) -> Option<String> {
    // glibc falls back to the C locale, silently, for one not installed:
    // the variables would then vary and nothing else would.
    let set: VariationSet = [Variation::Locales].into_iter().collect();
    let script = "command -v locale >/dev/null 2>&1 || { echo UTF-8; exit 0; }; locale charmap";
    match probe_run(cfg, &set, script, scratch) {
        Ok((sandbox::Outcome::Exited(0), out)) if out.trim() != "UTF-8" => Some(format!(
            "the varied locale {} is not installed, so programs would fall back to the C locale \
             (apt-get install locales-all, or enable it in /etc/locale.gen and run locale-gen)",
            variations::VARIED_LOCALE
        )),
        _ => None,
    }
}

fn probe_fileordering(cfg: &BuildConfig, scratch: &Path) -> Option<String> {
    let set: VariationSet = [Variation::FileOrdering].into_iter().collect();
    match probe_run(cfg, &set, "true", scratch) {
        Ok((sandbox::Outcome::Exited(0), _)) => None,
        Ok((outcome, log)) => Some(format!(
            "disorderfs is installed but the sandbox could not use it (a probe run {outcome}: {})",
            log.lines().last().unwrap_or("no output").trim()
        )),
        Err(e) => Some(format!(
            "disorderfs is installed but the sandbox could not use it: {e:#}: {}",
            std::fs::read_to_string(scratch.join("probe.log"))
                .unwrap_or_default()
                .lines()
                .last()
                .unwrap_or("no output")
                .trim()
        )),
    }
}

fn probe_time(cfg: &BuildConfig, scratch: &Path) -> Option<String> {
    // One shell runs each sensitive program the build can see, announcing
    // it first, so the log names the one that hung.
    let mut script = String::new();
    for (program, command) in FAKETIME_SENSITIVE {
        // Only a program that works without libfaketime is blamed on it
        // (a rustup proxy without its toolchain fails either way).
        script.push_str(&format!(
            "if command -v {program} >/dev/null 2>&1 && env -u LD_PRELOAD {command} >/dev/null 2>&1; \
             then echo '{command}'; {command} >/dev/null 2>&1 || exit 3; fi\n"
        ));
    }
    let set: VariationSet = [Variation::Time].into_iter().collect();
    let (outcome, log) = match probe_run(cfg, &set, &script, scratch) {
        Ok(r) => r,
        // The sandbox itself failed: the first run will say why.
        Err(_) => return None,
    };
    let last = log.lines().last().unwrap_or("").trim().to_string();
    match outcome {
        sandbox::Outcome::Exited(0) => None,
        sandbox::Outcome::TimedOut(t) => Some(format!(
            "libfaketime makes `{last}` hang here (no answer within {}s, a known libfaketime \
             problem with multithreaded programs); the build would hang the same way",
            t.as_secs()
        )),
        other => Some(format!(
            "`{last}` fails under libfaketime here (it {other}); the build would fail the same way"
        )),
    }
}

/// Runs `sh -c script` in a sandbox configured like the control run
/// (no variation); returns how it ended and what it printed.
pub fn survey_run(
    cfg: &BuildConfig,
    script: &str,
    scratch: &Path,
) -> anyhow::Result<(sandbox::Outcome, String)> {
    probe_run(cfg, &VariationSet::empty(), script, scratch)
}

/// Runs `sh -c script` in a sandbox configured like the build's, with
/// `set` applied; returns how it ended and what it printed.
fn probe_run(
    cfg: &BuildConfig,
    set: &VariationSet,
    script: &str,
    scratch: &Path,
) -> anyhow::Result<(sandbox::Outcome, String)> {
    use anyhow::Context as _;
    let host_dir = scratch.join("src");
    std::fs::create_dir_all(&host_dir)
        .with_context(|| format!("creating {}", host_dir.display()))?;
    let (build_dir, home) = runner::control_paths(cfg, &host_dir, &scratch.join("home"))?;
    let log = scratch.join("probe.log");
    let argv = vec!["sh".into(), "-c".into(), script.into()];
    let mut spec = runner::run_spec(cfg, set, argv, &host_dir, &build_dir, &home, &log)?;
    spec.timeout = Some(PROBE_TIMEOUT);
    let (outcome, _) = run_interruptible(&spec)?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    Ok((outcome, text))
}

/// Runs a probe's `spec`, stopping it within a [`sandbox::TICK`] of a
/// SIGINT/SIGTERM (a probe may take its whole timeout otherwise), which
/// is then the error: an interrupted probe has nothing to say.
fn run_interruptible(spec: &sandbox::RunSpec) -> anyhow::Result<(sandbox::Outcome, Duration)> {
    let ran = sandbox::run_observed(spec, &mut |_| match sandbox::interrupt::pending() {
        Some(_) => std::ops::ControlFlow::Break(()),
        None => std::ops::ControlFlow::Continue(()),
    });
    sandbox::interrupt::check()?;
    Ok(ran?)
}

/// Whether runs can build in an overlay of one pristine tree here: a
/// probe run deletes, writes and makes a directory through an overlay,
/// and the tree put together afterwards must show exactly that. None when
/// it works, else why not (the runs then copy the source each).
pub fn overlay_unusable(cfg: &BuildConfig, scratch: &Path) -> Option<String> {
    let attempt = || -> anyhow::Result<Option<String>> {
        use anyhow::Context as _;
        let (lower, upper, work, dest) = (
            scratch.join("lower"),
            scratch.join("upper"),
            scratch.join("work"),
            scratch.join("merged"),
        );
        for d in [&lower, &upper, &work] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        std::fs::write(lower.join("old"), "old\n")?;
        std::fs::create_dir(lower.join("dir"))?;
        std::fs::write(lower.join("dir/hidden"), "hidden\n")?;
        sandbox::prepare_lower(&lower)?;
        let log = scratch.join("probe.log");
        let argv = vec![
            "sh".into(),
            "-c".into(),
            "rm old && echo new > new && rm -r dir && mkdir dir && echo shown > dir/shown".into(),
        ];
        let (build_dir, home) = runner::control_paths(cfg, &upper, &scratch.join("home"))?;
        let mut spec = runner::run_spec(
            cfg,
            &VariationSet::empty(),
            argv,
            &upper,
            &build_dir,
            &home,
            &log,
        )?;
        spec.timeout = Some(PROBE_TIMEOUT);
        spec.overlay = Some(sandbox::Overlay {
            lower: lower.clone(),
            work,
        });
        let (outcome, _) = match run_interruptible(&spec) {
            Ok(r) => r,
            Err(e) if e.is::<sandbox::interrupt::Interrupt>() => return Err(e),
            Err(e) => return Ok(Some(format!("{e:#}"))),
        };
        if !outcome.success() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Ok(Some(format!("a probe run {outcome}: {}", text.trim())));
        }
        sandbox::merge_overlay(&lower, &upper, &dest)?;
        let seen = |p: &str| dest.join(p).exists();
        if seen("old") || !seen("new") || seen("dir/hidden") || !seen("dir/shown") {
            return Ok(Some(
                "the tree put together after a probe run did not show what it wrote".into(),
            ));
        }
        Ok(None)
    };
    match attempt() {
        Ok(r) => r,
        Err(e) => Some(format!("{e:#}")),
    }
}
