//! The validated configuration of a build, merged from the caller's
//! [`BuildOptions`] (the flags of `repro build`) and `repro.toml`.
//! Everything that can be checked before a build starts is checked here,
//! so a typo fails in milliseconds, not after the first run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use globset::{GlobSet, GlobSetBuilder};
use serde::Deserialize;

use sandbox::variations::VariationSet;
use sandbox::{Isolation, ResourceLimits};

use crate::epoch::{self, Epoch};

/// The file a source tree may carry to describe its build.
pub const CONFIG_FILE: &str = "repro.toml";

/// Shown whenever no build command is known.
const EXAMPLE_CONFIG: &str = "\
[build]
command = [\"sh\", \"build.sh\"]   # run in a fresh copy of the source tree
artifacts = [\"dist/*\"]          # globs relative to the build dir
runs = 2                        # optional
source_date_epoch = 1700000000  # optional
env = { PYTHONHASHSEED = \"0\" }  # optional";

/// `repro.toml` as written by the user.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    build: BuildSection,
    #[serde(default)]
    sandbox: SandboxSection,
    fetch: Option<FetchSection>,
}

/// `[fetch]`: dependencies fetched once, with network, before the runs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchSection {
    command: Option<Vec<String>>,
    outputs: Option<Vec<PathBuf>>,
    lock: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxSection {
    mode: Option<String>,
    ro_paths: Option<Vec<PathBuf>>,
    network: Option<bool>,
    nofile: Option<u64>,
    nproc: Option<u64>,
    address_space: Option<u64>,
    memory_max: Option<u64>,
    tmpfs_size: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BuildSection {
    command: Option<Vec<String>>,
    artifacts: Option<Vec<String>>,
    runs: Option<u32>,
    env: Option<BTreeMap<String, String>>,
    source_date_epoch: Option<i64>,
    timeout: Option<f64>,
    vary: Option<String>,
    bisect_budget: Option<u32>,
}

/// What the caller asks of a build, before validation: the flags of
/// `repro build` as plain data (no command-line parser involved). Each
/// field left at its default defers to `repro.toml`, then to repro's
/// default; [`BuildConfig::new`] merges and checks them.
#[derive(Debug, Default, Clone)]
pub struct BuildOptions {
    /// The source tree to build (default: the current directory).
    pub source: Option<PathBuf>,
    /// How many times to build (at least 2).
    pub runs: Option<u32>,
    /// Where runs, logs, artifacts and report.json go (default:
    /// `./repro-out/<source dir name>`).
    pub out: Option<PathBuf>,
    /// Replace an earlier repro output directory.
    pub force: bool,
    /// Artifact globs relative to the build dir.
    pub artifacts: Vec<String>,
    /// SOURCE_DATE_EPOCH to pin.
    pub source_date_epoch: Option<i64>,
    /// Extra variables for the build, `KEY=VALUE`.
    pub env: Vec<String>,
    /// Per-run wall-clock limit in seconds (0: none).
    pub timeout: Option<f64>,
    /// Which run trees stay on disk.
    pub keep_runs: Option<KeepRuns>,
    /// How each run gets its tree.
    pub run_tree: RunTreeMode,
    /// How a run's progress is shown on stderr.
    pub progress: crate::progress::Mode,
    /// Isolation: `namespaces` or `none`.
    pub sandbox: Option<String>,
    /// Extra read-only host paths in the sandbox.
    pub ro_bind: Vec<PathBuf>,
    /// Home-directory toolchains to bind (with the variables their layout needs).
    pub toolchain: Vec<PathBuf>,
    /// Share the host network with the build.
    pub network: bool,
    /// The fetch step's shell command.
    pub fetch: Option<String>,
    /// Directories the fetch step writes, relative to the source tree.
    pub fetch_outputs: Vec<PathBuf>,
    /// A lock the fetched files must match.
    pub fetch_lock: Option<PathBuf>,
    /// Honour sandbox-weakening settings of the source's repro.toml.
    pub trust_config: bool,
    /// Variation specs, reprotest-style, applied left to right to "all".
    pub vary: Vec<String>,
    /// Search for culprits however many runs it takes.
    pub bisect: bool,
    /// Extra runs spent searching for culprits.
    pub bisect_budget: Option<u32>,
    /// Publish normalized artifacts.
    pub normalize: bool,
    /// Safety limits of the differ for mismatched artifacts.
    pub diff_limits: diffoscope_lite::Limits,
    /// Private key that signs the provenance (and the SBOM).
    pub sign: Option<PathBuf>,
    /// Write a CycloneDX SBOM of the artifacts beside the provenance.
    pub sbom: bool,
    /// Builder id recorded in the provenance.
    pub builder_id: Option<String>,
    /// RLIMIT_NOFILE for the build.
    pub rlimit_nofile: Option<u64>,
    /// RLIMIT_NPROC for the build (0: no limit).
    pub rlimit_nproc: Option<u64>,
    /// RLIMIT_AS for the build.
    pub rlimit_as: Option<u64>,
    /// Memory limit of the build (0: no limit).
    pub memory_max: Option<u64>,
    /// Size of each of the sandbox's tmpfs mounts (0: the kernel's).
    pub tmpfs_size: Option<u64>,
    /// The build command and its arguments (empty: repro.toml's).
    pub command: Vec<std::ffi::OsString>,
    /// Allow a single run: for callers that compare the one run with
    /// something else (`repro rebuild` compares it with upstream).
    pub single_run: bool,
}

/// Everything a build needs, validated.
#[derive(Debug)]
pub struct BuildConfig {
    /// Absolute path of the source tree.
    pub source: PathBuf,
    /// Absolute path of the output directory.
    pub out: PathBuf,
    /// Replace an earlier repro output directory.
    pub force: bool,
    /// Number of builds (≥ 2).
    pub runs: u32,
    /// Program and arguments.
    pub command: Vec<String>,
    /// Artifact globs as written.
    pub artifact_globs: Vec<String>,
    /// The compiled globs.
    pub artifact_matcher: GlobSet,
    /// The pinned SOURCE_DATE_EPOCH and where it came from.
    pub epoch: Epoch,
    /// Extra variables for the build, sorted by name.
    pub env: Vec<(String, String)>,
    /// Per-run wall-clock limit.
    pub timeout: Option<Duration>,
    /// Namespaces or none.
    pub isolation: Isolation,
    /// Extra read-only host paths in the sandbox.
    pub ro_binds: Vec<PathBuf>,
    /// Share the host network.
    pub network: bool,
    /// Resource limits for the build.
    pub limits: ResourceLimits,
    /// The variation specs as given (repro.toml's first, then flags).
    pub vary_specs: Vec<String>,
    /// Variations requested (all, edited by the specs).
    pub requested: VariationSet,
    /// Extra runs allowed for finding culprits (None: unlimited).
    pub bisect_budget: Option<u32>,
    /// Key that signs the provenance.
    pub signing_key: Option<provenance::SigningKey>,
    /// Builder id for the provenance.
    pub builder_id: String,
    /// Publish normalized artifacts.
    pub normalize: bool,
    /// Write `<out>/sbom.cdx.json` (and, signed, `sbom.intoto.jsonl`).
    pub sbom: bool,
    /// Safety limits of the differ for mismatched artifacts.
    pub diff_limits: diffoscope_lite::Limits,
    /// The fetch step, when there is one.
    pub fetch: Option<crate::fetch::FetchConfig>,
    /// How a run's progress is shown.
    pub progress: crate::progress::Mode,
    /// Which run trees stay on disk.
    pub keep_runs: KeepRuns,
    /// How each run gets its tree, as asked (what the sandbox allows is
    /// decided when the build is planned).
    pub run_tree: RunTreeMode,
}

/// How each run gets its tree, as asked (`--run-tree`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RunTreeMode {
    /// An overlay where the sandbox can mount one, else a copy.
    #[default]
    Auto,
    /// An overlay of one pristine copy of the source; an error where the
    /// sandbox cannot mount one.
    Overlay,
    /// A copy of the source per run.
    Copy,
}

impl RunTreeMode {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            RunTreeMode::Auto => "auto",
            RunTreeMode::Overlay => "overlay",
            RunTreeMode::Copy => "copy",
        }
    }
}

/// Which run trees stay on disk after a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepRuns {
    /// Every run's tree, the culprit search's and the fetch step's.
    All,
    /// The trees of runs whose artifacts differ, and the control's to
    /// compare them with; none when everything reproduced (`failed` on
    /// the command line: the runs that failed to reproduce).
    Differing,
    /// None (logs, reports and published artifacts stay).
    None,
}

impl KeepRuns {
    /// From its name on the command line (`all`, `failed`, `none`; clap
    /// admits only those, anything else reads as the default).
    pub fn from_flag(name: &str) -> Self {
        match name {
            "all" => KeepRuns::All,
            "none" => KeepRuns::None,
            _ => KeepRuns::Differing,
        }
    }

    /// The name on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            KeepRuns::All => "all",
            KeepRuns::Differing => "failed",
            KeepRuns::None => "none",
        }
    }
}

/// Per-run wall-clock limit when the user did not say (`--timeout 0`
/// removes it).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2 * 60 * 60);

/// Extra runs spent on finding culprits when the user did not say.
pub const DEFAULT_BISECT_BUDGET: u32 = 4;

impl BuildConfig {
    /// Merges the caller's options over `repro.toml` and validates the result.
    pub fn new(opts: BuildOptions) -> Result<Self> {
        let source_arg = opts.source.unwrap_or_else(|| PathBuf::from("."));
        require_utf8(&source_arg, "SOURCE_DIR")?;
        let meta = std::fs::metadata(&source_arg)
            .with_context(|| format!("source directory {}", source_arg.display()))?;
        if !meta.is_dir() {
            bail!("source {} is not a directory", source_arg.display());
        }
        let source = source_arg
            .canonicalize()
            .with_context(|| format!("resolving source directory {}", source_arg.display()))?;
        require_utf8(&source, "SOURCE_DIR")?;

        let file = load_file_config(&source)?;
        let b = file.build;

        let command = if !opts.command.is_empty() {
            opts.command
                .into_iter()
                .map(|a| {
                    a.into_string().map_err(|a| {
                        anyhow::anyhow!("build command argument {a:?} is not valid UTF-8")
                    })
                })
                .collect::<Result<Vec<_>>>()?
        } else if let Some(cmd) = b.command.filter(|c| !c.is_empty()) {
            cmd
        } else {
            bail!(
                "no build command: pass one after `--` (repro build {} -- make dist) \
                 or add {} to the source tree, for example:\n\n{EXAMPLE_CONFIG}",
                source.display(),
                CONFIG_FILE
            );
        };

        let artifact_globs = if !opts.artifacts.is_empty() {
            opts.artifacts
        } else {
            b.artifacts.unwrap_or_default()
        };
        if artifact_globs.is_empty() {
            bail!(
                "no artifacts to compare: pass --artifacts 'dist/*' or set `artifacts` in {}, \
                 for example:\n\n{EXAMPLE_CONFIG}",
                source.join(CONFIG_FILE).display()
            );
        }
        let artifact_matcher = compile_globs(&artifact_globs)?;

        let runs = opts.runs.or(b.runs).unwrap_or(2);
        if runs < 2 && !(opts.single_run && runs == 1) {
            bail!("--runs {runs}: at least 2 runs are needed to compare anything");
        }

        let mut env: BTreeMap<String, String> = b.env.unwrap_or_default();
        // --toolchain: the binds and variables its layout needs; --env and
        // --ro-bind given explicitly still win and add to them.
        let mut toolchain_binds = Vec::new();
        for t in &opts.toolchain {
            let t =
                std::path::absolute(t).with_context(|| format!("--toolchain {}", t.display()))?;
            if !t.exists() {
                bail!("--toolchain {}: no such file or directory", t.display());
            }
            let (binds, vars) = crate::toolchain::toolchain_flags(&t);
            for (k, v) in vars {
                env.entry(k.to_string())
                    .or_insert_with(|| v.display().to_string());
            }
            toolchain_binds.extend(binds);
        }
        for kv in opts.env {
            let Some((k, v)) = kv.split_once('=') else {
                bail!("--env {kv:?}: expected KEY=VALUE");
            };
            env.insert(k.to_string(), v.to_string());
        }

        let env: Vec<(String, String)> = env.into_iter().collect();
        // Validate names and reserved variables now, before any output exists.
        sandbox::BuildEnv::scrubbed(None, Path::new("/"), 0, &env)?;

        // A hung build (libfaketime and a multithreaded toolchain, a test
        // waiting on the network it does not have) must end some day.
        let timeout = match opts.timeout.or(b.timeout) {
            None => Some(DEFAULT_TIMEOUT),
            Some(0.0) => None,
            Some(secs) => match Duration::try_from_secs_f64(secs) {
                Ok(d) => Some(d),
                _ => bail!("--timeout {secs}: must be a number of seconds (0 for no limit)"),
            },
        };

        let out = match opts.out {
            Some(out) => out,
            None => {
                let name = source
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_else(|| "root".into());
                PathBuf::from("repro-out").join(name)
            }
        };
        require_utf8(&out, "--out")?;
        let out = resolve_out(&out)?;
        if source.starts_with(&out) {
            bail!(
                "--out {} contains the source tree {}; choose another output directory",
                out.display(),
                source.display()
            );
        }

        // repro.toml comes with the source being checked, so it may not
        // weaken the sandbox on its own: only the person running repro can.
        let defaults = ResourceLimits::defaults();
        // A limit from the file is a widening when it lifts the default
        // (0 is "no limit") and no flag decides instead.
        let lifts = |flag: Option<u64>, from_file: Option<u64>, default: Option<u64>| {
            flag.is_none() && from_file.is_some_and(|v| v == 0 || default.is_some_and(|d| v > d))
        };
        if !opts.trust_config {
            let widening = [
                (
                    lifts(opts.rlimit_nproc, file.sandbox.nproc, defaults.nproc),
                    "[sandbox] nproc above the default (pass --rlimit-nproc)",
                ),
                (
                    lifts(
                        opts.memory_max,
                        file.sandbox.memory_max,
                        defaults.memory_max,
                    ),
                    "[sandbox] memory_max above the default (pass --memory-max)",
                ),
                (
                    lifts(
                        opts.tmpfs_size,
                        file.sandbox.tmpfs_size,
                        defaults.tmpfs_size,
                    ),
                    "[sandbox] tmpfs_size above the default (pass --tmpfs-size)",
                ),
                (
                    file.sandbox.mode.as_deref() == Some("none") && opts.sandbox.is_none(),
                    "[sandbox] mode = \"none\" (pass --sandbox none)",
                ),
                (
                    file.sandbox.network == Some(true) && !opts.network,
                    "[sandbox] network = true (pass --network)",
                ),
            ];
            if let Some((_, what)) = widening.iter().find(|(on, _)| *on) {
                bail!(
                    "{} asks to weaken the sandbox with {what}; a source tree may not do that by itself. \
                     Give the flag, or pass --trust-config if you trust this tree's repro.toml",
                    source.join(CONFIG_FILE).display()
                );
            }
            // Each path the file wants visible must be one the user binds
            // too (the same path, or a directory above it).
            let missing: Vec<&PathBuf> = file
                .sandbox
                .ro_paths
                .iter()
                .flatten()
                .filter(|p| !opts.ro_bind.iter().any(|given| p.starts_with(given)))
                .collect();
            if !missing.is_empty() {
                let flags: Vec<String> = missing
                    .iter()
                    .map(|p| format!("--ro-bind {}", p.display()))
                    .collect();
                bail!(
                    "{} asks to weaken the sandbox with [sandbox] ro_paths; a source tree may not do \
                     that by itself. Pass {}, or --trust-config if you trust this tree's repro.toml",
                    source.join(CONFIG_FILE).display(),
                    flags.join(" ")
                );
            }
        }
        let isolation = match opts.sandbox.or(file.sandbox.mode).as_deref() {
            None | Some("namespaces") => Isolation::Namespaces,
            Some("none") => Isolation::None,
            Some(other) => bail!("--sandbox {other:?}: expected `namespaces` or `none`"),
        };
        let mut ro_binds = file.sandbox.ro_paths.unwrap_or_default();
        ro_binds.extend(opts.ro_bind);
        ro_binds.extend(toolchain_binds);
        ro_binds.sort();
        ro_binds.dedup();
        for p in &ro_binds {
            if !p.is_absolute() {
                bail!("--ro-bind {}: must be an absolute path", p.display());
            }
            if !p.exists() {
                bail!("--ro-bind {}: no such file or directory", p.display());
            }
        }
        // Flag, then repro.toml, then the default; 0 lifts the limit.
        let pick = |flag: Option<u64>, from_file: Option<u64>, default: Option<u64>| match flag
            .or(from_file)
        {
            None => default,
            Some(0) => None,
            Some(v) => Some(v),
        };
        let limits = ResourceLimits {
            nofile: opts.rlimit_nofile.or(file.sandbox.nofile),
            nproc: pick(opts.rlimit_nproc, file.sandbox.nproc, defaults.nproc),
            address_space: opts.rlimit_as.or(file.sandbox.address_space),
            memory_max: pick(
                opts.memory_max,
                file.sandbox.memory_max,
                defaults.memory_max,
            ),
            tmpfs_size: pick(
                opts.tmpfs_size,
                file.sandbox.tmpfs_size,
                defaults.tmpfs_size,
            ),
        };
        let mut vary_specs: Vec<String> = b.vary.into_iter().collect();
        vary_specs.extend(opts.vary);
        let mut requested = VariationSet::all();
        for spec in &vary_specs {
            requested.apply_spec(spec)?;
        }
        let bisect_budget = if opts.bisect {
            None
        } else {
            Some(
                opts.bisect_budget
                    .or(b.bisect_budget)
                    .unwrap_or(DEFAULT_BISECT_BUDGET),
            )
        };

        // Load the key now: a wrong path or passphrase must not cost a build.
        let signing_key = match &opts.sign {
            Some(path) => Some(provenance::keys::load_signing_key(path)?),
            None => None,
        };
        let builder_id = opts
            .builder_id
            .unwrap_or_else(|| crate::attestation::DEFAULT_BUILDER_ID.to_string());

        let fetch = crate::fetch::FetchConfig::merge(
            &source,
            opts.fetch,
            opts.fetch_outputs,
            opts.fetch_lock,
            file.fetch.map(|f| (f.command, f.outputs, f.lock)),
        )?;
        // Fetched dependencies are not the source: they never date it.
        let mut skip: Vec<PathBuf> = vec![out.clone()];
        if let Some(f) = &fetch {
            skip.extend(f.outputs.iter().map(|o| source.join(o)));
        }
        let skip: Vec<&Path> = skip.iter().map(PathBuf::as_path).collect();
        let epoch = epoch::resolve(&source, &skip, opts.source_date_epoch, b.source_date_epoch)?;

        Ok(Self {
            source,
            out,
            force: opts.force,
            runs,
            command,
            artifact_globs,
            artifact_matcher,
            epoch,
            env,
            timeout,
            isolation,
            ro_binds,
            network: opts.network || file.sandbox.network.unwrap_or(false),
            limits,
            vary_specs,
            requested,
            bisect_budget,
            signing_key,
            builder_id,
            normalize: opts.normalize,
            sbom: opts.sbom,
            diff_limits: opts.diff_limits,
            fetch,
            progress: opts.progress,
            keep_runs: opts.keep_runs.unwrap_or(KeepRuns::Differing),
            run_tree: opts.run_tree,
        })
    }
}

fn load_file_config(source: &Path) -> Result<FileConfig> {
    let path = source.join(CONFIG_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_file_config(&text).with_context(|| format!("invalid {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn parse_file_config(text: &str) -> Result<FileConfig> {
    let file: FileConfig = toml::from_str(text)?;
    file.validate()?;
    Ok(file)
}

/// Parses and validates the text of a `repro.toml` on its own (no source
/// tree, no flags): what [`BuildConfig::new`] checks of the file before it
/// merges it with the caller's options. For the fuzzer and for tools that
/// lint a `repro.toml`.
pub fn parse_repro_toml(text: &str) -> Result<()> {
    parse_file_config(text).map(drop)
}

impl FileConfig {
    /// Checks the file's own values, each error naming its key. Done when
    /// the file is read, so the error names the file: checked only after
    /// merging, a bad value from the file was reported as a flag the user
    /// never gave (`--runs 1`, `--timeout -1`). A bad value is an error
    /// even where a flag overrides it: the file is wrong either way.
    fn validate(&self) -> Result<()> {
        let b = &self.build;
        if let Some(globs) = b.artifacts.as_deref().filter(|g| !g.is_empty()) {
            compile_globs(globs).context("[build] artifacts")?;
        }
        if let Some(runs) = b.runs.filter(|&r| r < 2) {
            bail!("[build] runs = {runs}: at least 2 runs are needed to compare anything");
        }
        if let Some(env) = &b.env {
            let env: Vec<(String, String)> =
                env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            sandbox::BuildEnv::scrubbed(None, Path::new("/"), 0, &env).context("[build] env")?;
        }
        if let Some(secs) = b.timeout {
            if secs != 0.0 && Duration::try_from_secs_f64(secs).is_err() {
                bail!("[build] timeout = {secs}: must be a number of seconds (0 for no limit)");
            }
        }
        if let Some(sde) = b.source_date_epoch.filter(|&e| e < 0) {
            bail!("[build] source_date_epoch = {sde}: SOURCE_DATE_EPOCH may not be negative");
        }
        if let Some(spec) = &b.vary {
            VariationSet::all()
                .apply_spec(spec)
                .with_context(|| format!("[build] vary = {spec:?}"))?;
        }
        if let Some(mode) = self.sandbox.mode.as_deref() {
            if !matches!(mode, "namespaces" | "none") {
                bail!("[sandbox] mode = {mode:?}: expected \"namespaces\" or \"none\"");
            }
        }
        for p in self.sandbox.ro_paths.iter().flatten() {
            if !p.is_absolute() {
                bail!(
                    "[sandbox] ro_paths: {} must be an absolute path",
                    p.display()
                );
            }
            if !p.exists() {
                bail!(
                    "[sandbox] ro_paths: {}: no such file or directory",
                    p.display()
                );
            }
        }
        if let Some(f) = &self.fetch {
            for o in f.outputs.iter().flatten() {
                crate::fetch::check_output(o).context("[fetch] outputs")?;
            }
        }
        Ok(())
    }
}

fn compile_globs(globs: &[String]) -> Result<GlobSet> {
    let mut set = GlobSetBuilder::new();
    for g in globs {
        if g.starts_with('/') || g.split('/').any(|c| c == "..") {
            bail!("artifact glob {g:?} must be relative to the build dir and stay inside it");
        }
        let glob = globset::GlobBuilder::new(g)
            .literal_separator(true)
            .build()
            .with_context(|| format!("invalid artifact glob {g:?}"))?;
        set.add(glob);
    }
    // An empty pattern list is rejected above; building cannot fail otherwise.
    set.build().context("compiling artifact globs")
}

/// The real path `out` names, even though it may not exist yet: its
/// longest existing ancestor is canonicalized (symlinks, `..`) and the rest
/// appended, so "is the output inside the source?" compares real paths.
fn resolve_out(out: &Path) -> Result<PathBuf> {
    use std::path::Component;
    let abs =
        std::path::absolute(out).with_context(|| format!("resolving --out {}", out.display()))?;
    let comps: Vec<Component<'_>> = abs.components().collect();
    // The longest prefix that exists (the root always does).
    let k = (1..=comps.len())
        .rev()
        .find(|&k| comps[..k].iter().collect::<PathBuf>().exists())
        .unwrap_or(1);
    let mut real = comps[..k]
        .iter()
        .collect::<PathBuf>()
        .canonicalize()
        .with_context(|| format!("resolving --out {}", out.display()))?;
    for c in &comps[k..] {
        match c {
            Component::ParentDir => {
                real.pop();
            }
            Component::Normal(name) => real.push(name),
            _ => {}
        }
    }
    Ok(real)
}

fn require_utf8(path: &Path, what: &str) -> Result<()> {
    if path.to_str().is_none() {
        bail!(
            "{what} {:?} is not valid UTF-8; repro records paths in JSON reports and needs UTF-8 paths",
            path
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_relative_paths_without_crossing_dirs() {
        let set = compile_globs(&["dist/*".into(), "out/**/*.tar.gz".into()]).unwrap();
        assert!(set.is_match("dist/a.whl"));
        assert!(!set.is_match("dist/sub/a.whl"));
        assert!(set.is_match("out/x/y/z.tar.gz"));
    }

    #[test]
    fn out_is_resolved_through_symlinks_and_dotdot() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let got = resolve_out(&dir.path().join("link/x/../out")).unwrap();
        assert_eq!(got, real.canonicalize().unwrap().join("out"));
    }

    /// Each bad value of repro.toml is refused when the file is read, by
    /// its key (found by the repro_toml fuzz target: these were reported
    /// as flags the user never gave, `--runs 1`, `--timeout -1`, …).
    #[test]
    fn bad_file_values_are_refused_by_key() {
        for (text, key) in [
            ("[build]\nruns = 1\n", "[build] runs"),
            ("[build]\ntimeout = -1.0\n", "[build] timeout"),
            ("[build]\ntimeout = nan\n", "[build] timeout"),
            ("[build]\ntimeout = 1e300\n", "[build] timeout"),
            ("[build]\nartifacts = [\"/etc/*\"]\n", "[build] artifacts"),
            ("[build]\nartifacts = [\"[\"]\n", "[build] artifacts"),
            ("[build]\nenv = { \"A=B\" = \"1\" }\n", "[build] env"),
            (
                "[build]\nsource_date_epoch = -5\n",
                "[build] source_date_epoch",
            ),
            ("[build]\nvary = \"+bogus\"\n", "[build] vary"),
            ("[sandbox]\nmode = \"chroot\"\n", "[sandbox] mode"),
            ("[sandbox]\nro_paths = [\"usr\"]\n", "[sandbox] ro_paths"),
            (
                "[sandbox]\nro_paths = [\"/no/such/path/here\"]\n",
                "[sandbox] ro_paths",
            ),
            ("[fetch]\noutputs = [\"../x\"]\n", "[fetch] outputs"),
        ] {
            let e = parse_repro_toml(text).expect_err(text);
            assert!(format!("{e:#}").contains(key), "{text}: {e:#}");
        }
        assert!(parse_repro_toml("[build]\nruns = 2\ntimeout = 0.0\n").is_ok());
        assert!(parse_repro_toml("").is_ok());
    }

    /// Whatever repro.toml holds, BuildConfig::new's error names the file
    /// when no flag was given (the repro_toml fuzz target's promise).
    #[test]
    fn errors_from_the_file_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("src");
        std::fs::create_dir(&source).unwrap();
        for text in [
            "[build]\ncommand = [\"x\"]\nartifacts = [\"*\"]\nruns = 1\n",
            "[build]\ncommand = [\"x\"]\nartifacts = [\"*\"]\ntimeout = -1.0\n",
            "[build]\ncommand = [\"x\"]\nartifacts = [\"*\"]\n[fetch]\ncommand = [\"true\"]\n",
            "[build]\ncommand = [\"x\"]\nartifacts = [\"*\"]\n\
             [fetch]\ncommand = [\"true\"]\noutputs = [\"d\"]\nlock = \"nope\"\n",
            "[build]\ncommand = 3\n",
        ] {
            std::fs::write(source.join(CONFIG_FILE), text).unwrap();
            for trust_config in [false, true] {
                let e = BuildConfig::new(BuildOptions {
                    source: Some(source.clone()),
                    out: Some(dir.path().join("out")),
                    trust_config,
                    ..BuildOptions::default()
                })
                .expect_err(text);
                assert!(format!("{e:#}").contains(CONFIG_FILE), "{text}: {e:#}");
            }
        }
    }

    #[test]
    fn bad_globs_are_refused() {
        assert!(compile_globs(&["dist/[".into()]).is_err());
        assert!(compile_globs(&["/etc/*".into()]).is_err());
        assert!(compile_globs(&["../x".into()]).is_err());
    }
}
