//! `repro rebuild`: rebuild a published package and compare it with
//! upstream. The stages are the library's ([`repro::rebuild`]); this
//! adapter validates the flags, prints progress, the recipe and the
//! verdict, and maps the verdict to the exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use diffoscope_lite::stabilize::Stabilizer;
use repro::rebuild::generic::Generic;
use repro::rebuild::index::PYPI;
use repro::rebuild::pypi::Spec;
use repro::rebuild::run::{rebuild, RebuildOptions, Target, Verdict};
use repro::{BuildOptions, KeepRuns};

use crate::cli::RebuildArgs;

/// Runs `repro rebuild`.
pub fn run(args: RebuildArgs) -> Result<ExitCode> {
    if args.list.is_some() {
        return super::rebuild_batch::run(args);
    }
    follow_batch()?;
    let (json, accept) = (args.json, args.accept_equivalent);
    let opts = options(args)?;
    let out = opts.out.clone();
    let progress = |line: &str| eprintln!("repro: {line}");
    let r = rebuild(opts, &progress)?;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        crate::outln!("{}", summary(&r, &out));
    }
    eprintln!(
        "repro: rebuild.json written to {}",
        out.join("rebuild.json").display()
    );
    Ok(ExitCode::from(match r.verdict {
        Verdict::BitForBit => 0,
        Verdict::Equivalent if accept => 0,
        Verdict::Equivalent | Verdict::Different => 1,
        Verdict::Failed => super::EXIT_ERROR,
    }))
}

/// In a package of `repro rebuild --list`: asks the kernel for SIGTERM
/// when the batch dies (even by SIGKILL), so no rebuild outlives it and
/// its sandbox is torn down as on Ctrl-C.
fn follow_batch() -> Result<()> {
    let Some(parent) = std::env::var_os(repro::rebuild::batch::PARENT_ENV) else {
        return Ok(());
    };
    let Some(parent) = parent.to_str().and_then(|p| p.parse::<i32>().ok()) else {
        bail!("{}: not a process id", repro::rebuild::batch::PARENT_ENV);
    };
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
        .context("prctl(PR_SET_PDEATHSIG)")?;
    // The batch may have died before the request: then nothing would come.
    if nix::unistd::getppid().as_raw() != parent {
        bail!("the batch that started this rebuild is gone");
    }
    Ok(())
}

/// The verdict and what backs it, for a terminal.
fn summary(r: &repro::rebuild::run::RebuildReport, out: &std::path::Path) -> String {
    let mut s = format!("{}: {}", r.target, r.verdict.as_str());
    if let (Some(up), Some(re)) = (&r.upstream, &r.rebuilt) {
        s += &format!(
            "\n  upstream {} sha256:{}\n  rebuilt  {} sha256:{}",
            up.name, up.sha256, re.name, re.sha256
        );
    }
    if !r.stabilizers.is_empty() {
        s += &format!("\n  stabilizers: {}", r.stabilizers.join(", "));
    }
    for d in r.differences.iter().take(20) {
        s += &format!("\n  differs: {d}");
    }
    if r.differences.len() > 20 {
        s += &format!("\n  … {} more in rebuild.json", r.differences.len() - 20);
    }
    if let Some(d) = &r.diff {
        s += &format!("\n  diff: {}", out.join(d).display());
    }
    if let Some(f) = &r.failure {
        s += &format!("\n  {} stage failed: {}", f.stage, f.message);
        if let Some(h) = &f.hint {
            s += &format!("\n  hint: {h}");
        }
    }
    if let Some(v) = r
        .build_verdict
        .filter(|v| *v != repro::Verdict::Reproducible)
    {
        s += &format!("\n  note: the rebuild's own runs were {}", v.as_str());
    }
    s
}

pub fn stabilizers(spec: Option<&str>) -> Result<Vec<Stabilizer>> {
    match spec {
        None | Some("all") => Ok(Stabilizer::ALL.to_vec()),
        Some("none") | Some("") => Ok(Vec::new()),
        Some(list) => list
            .split(',')
            .map(|id| {
                Stabilizer::from_id(id.trim()).with_context(|| {
                    let known: Vec<&str> = Stabilizer::ALL.iter().map(|s| s.id()).collect();
                    format!(
                        "--stabilizers: unknown id {id:?} (known: {})",
                        known.join(", ")
                    )
                })
            })
            .collect(),
    }
}

/// `$XDG_CACHE_HOME/repro`, else `$HOME/.cache/repro`.
pub fn default_cache() -> Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("repro"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".cache").join("repro")),
        None => bail!("neither XDG_CACHE_HOME nor HOME is set: pass --cache DIR"),
    }
}

fn options(args: RebuildArgs) -> Result<RebuildOptions> {
    let target = match (&args.target, &args.upstream, &args.source) {
        (Some(t), None, None) => {
            if !args.command.is_empty() {
                bail!("a build command after -- is for generic mode (--upstream FILE --source DIR)");
            }
            Target::Pypi(Spec::parse(t).map_err(anyhow::Error::msg)?)
        }
        (None, Some(up), Some(src)) => Target::Generic(Generic {
            upstream: up.clone(),
            source: src.clone(),
            command: args.command.clone(),
            artifact: args.artifact.clone(),
            source_date_epoch: None,
        }),
        _ => bail!("give either TARGET (pypi:NAME==VERSION) or --upstream FILE --source DIR|TARBALL -- CMD…"),
    };
    if args.runs == 0 {
        bail!("--runs 0: at least one build is needed");
    }
    if let Some(key) = &args.sign {
        // A bad key is found before an hour of building, not after.
        provenance::keys::load_signing_key(key)
            .with_context(|| format!("--sign {}", key.display()))?;
    }
    if let Some(recipe) = &args.recipe {
        std::fs::metadata(recipe).with_context(|| format!("--recipe {}", recipe.display()))?;
    }
    let out = args.out.clone().unwrap_or_else(|| {
        let name = match &target {
            Target::Pypi(s) => format!("{}-{}", s.name, s.version),
            Target::Generic(g) => g
                .upstream
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "upstream".into()),
        };
        PathBuf::from("repro-rebuild").join(name)
    });
    let diff = diffoscope_lite::Options {
        limits: args.diff_limits.limits(),
        ..Default::default()
    };
    Ok(RebuildOptions {
        target,
        out,
        force: args.force,
        recipe: args.recipe,
        platform_wheel: args.platform_wheel,
        index_url: args.index_url.unwrap_or_else(|| PYPI.to_owned()),
        python: args.python.unwrap_or_else(|| PathBuf::from("python3")),
        cache: match args.cache {
            Some(c) => c,
            None => default_cache()?,
        },
        stabilizers: stabilizers(args.stabilizers.as_deref())?,
        sign: args.sign,
        builder_id: args.builder_id,
        build: BuildOptions {
            runs: Some(args.runs),
            timeout: args.timeout,
            keep_runs: args.keep_runs.as_deref().map(KeepRuns::from_flag),
            progress: repro::progress::Mode::detect(args.verbose),
            sandbox: args.sandbox,
            ro_bind: args.ro_bind,
            toolchain: args.toolchain,
            memory_max: args.memory_max,
            diff_limits: args.diff_limits.limits(),
            fetch: args.fetch,
            fetch_outputs: args.fetch_outputs,
            fetch_lock: args.fetch_lock,
            ..Default::default()
        },
        diff,
    })
}
