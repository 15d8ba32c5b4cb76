//! The stages of one rebuild, in order: fetch, recipe, dependencies, build
//! (the library's build loop, offline in the sandbox), compare, attest.
//! A stage that fails ends the rebuild with verdict FAILED naming it; what
//! was written until then stays in the output directory for inspection.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use diffoscope_lite::stabilize::{self, Equivalence, Stabilizer};
use serde::Serialize;

use super::index::IndexFile;
use super::recipe::Recipe;
use super::{generic, pypi, Ecosystem, Failure, Stage};
use crate::config::{BuildConfig, BuildOptions};

/// What to rebuild.
#[derive(Clone, Debug)]
pub enum Target {
    /// A PyPI release's pure wheel, from its sdist.
    Pypi(pypi::Spec),
    /// Any artifact from a source the user has, with the user's command.
    Generic(generic::Generic),
}

impl Target {
    /// The ecosystem that prepares this target's build.
    pub(crate) fn ecosystem(&self) -> &dyn Ecosystem {
        match self {
            Target::Pypi(spec) => spec,
            Target::Generic(g) => g,
        }
    }
}

/// Everything a rebuild needs; the `repro rebuild` flags, validated.
#[derive(Debug)]
pub struct RebuildOptions {
    /// What to rebuild.
    pub target: Target,
    /// The output directory.
    pub out: PathBuf,
    /// Reuse an output directory that holds something else than a rebuild.
    pub force: bool,
    /// `--recipe FILE`.
    pub recipe: Option<PathBuf>,
    /// Try a platform wheel when the release has no pure one.
    pub platform_wheel: bool,
    /// The package index (PEP 691 JSON simple API).
    pub index_url: String,
    /// The interpreter that fetches and builds.
    pub python: PathBuf,
    /// Where frontends are kept between rebuilds.
    pub cache: PathBuf,
    /// Stabilizers allowed for EQUIVALENT.
    pub stabilizers: Vec<Stabilizer>,
    /// Private key that signs the attestation.
    pub sign: Option<PathBuf>,
    /// Builder id recorded in the attestation.
    pub builder_id: Option<String>,
    /// How the build loop runs (sandbox, limits, runs, progress); the
    /// source, command, artifacts, output and SOURCE_DATE_EPOCH are the
    /// rebuild's own.
    pub build: BuildOptions,
    /// Differ options for the comparison and the diff.
    pub diff: diffoscope_lite::Options,
}

/// The outcome of a rebuild.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// The rebuilt artifact is the upstream one, byte for byte.
    BitForBit,
    /// Equal once the listed stabilizers look past packaging noise.
    Equivalent,
    /// Not equal: see the differences and the diff.
    Different,
    /// The rebuild stopped before a comparison: see the failure.
    Failed,
}

impl Verdict {
    /// As written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::BitForBit => "BIT_FOR_BIT",
            Verdict::Equivalent => "EQUIVALENT",
            Verdict::Different => "DIFFERENT",
            Verdict::Failed => "FAILED",
        }
    }
}

/// A file the rebuild consumed or produced.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FileRecord {
    /// File name (or path relative to the output directory).
    pub name: String,
    /// SHA-256.
    pub sha256: String,
    /// Where it was downloaded from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When the index says it was uploaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uploaded: Option<String>,
}

impl FileRecord {
    pub(super) fn of(path: &Path) -> Result<Self, Failure> {
        let sha256 = super::index::sha256_of(path)
            .map_err(|e| Failure::new(Stage::Compare, format!("{}: {e}", path.display())))?;
        Ok(FileRecord {
            name: file_name(path),
            sha256,
            url: None,
            uploaded: None,
        })
    }

    pub(super) fn indexed(f: &IndexFile, sha256: String) -> Self {
        FileRecord {
            name: f.filename.clone(),
            sha256,
            url: Some(f.url.clone()),
            uploaded: f.upload_time.clone(),
        }
    }
}

/// `rebuild.json`: what was rebuilt, how, and the verdict.
#[derive(Clone, Debug, Serialize)]
pub struct RebuildReport {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// repro's version.
    pub repro_version: &'static str,
    /// What was asked (`pypi:attrs==26.1.0`, or the upstream file).
    pub target: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why there is no comparison, when the verdict is FAILED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// The artifact the registry serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<FileRecord>,
    /// What the rebuild made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebuilt: Option<FileRecord>,
    /// The source it was rebuilt from (the sdist, the tarball or directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<FileRecord>,
    /// The recipe used (PyPI), also in `recipe.toml`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipe: Option<Recipe>,
    /// The generic recipe used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generic: Option<generic::Generic>,
    /// Recipe fields the `--recipe` file replaced.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overridden: Vec<&'static str>,
    /// The build frontend (pip's wheel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frontend: Option<FileRecord>,
    /// The version of the Python that built it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// What the build could run, as it saw it (python3 first): the build
    /// loop's survey.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<crate::toolchain::Tool>,
    /// The build requirements as downloaded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub wheelhouse: Vec<pypi::Pinned>,
    /// What a generic rebuild's fetch step (`--fetch`) wrote, hashed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fetched: Vec<crate::fetch::FetchedFile>,
    /// Stabilizers that were needed (ids), for EQUIVALENT and DIFFERENT.
    pub stabilizers: Vec<&'static str>,
    /// What differs, for DIFFERENT.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
    /// The recursive diff, relative to the output directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// The build loop's report, relative to the output directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_report: Option<String>,
    /// The build loop's verdict over its runs (with `--runs 2` or more, a
    /// rebuild that does not even reproduce itself is NOT_REPRODUCIBLE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_verdict: Option<crate::report::Verdict>,
    /// Milliseconds per stage, in order.
    pub timings_ms: Vec<(Stage, u64)>,
    /// Start and end (RFC 3339).
    pub started_at: String,
    /// End.
    pub finished_at: String,
}

/// The report's schema id.
pub const SCHEMA: &str = "repro-rebuild-v1";

/// Rebuilds the target. `Err` only when the output directory cannot be
/// used; a stage that fails is the report's FAILED verdict.
pub fn rebuild(opts: RebuildOptions, progress: &dyn Fn(&str)) -> anyhow::Result<RebuildReport> {
    prepare_out(&opts.out, opts.force)?;
    let mut r = RebuildReport {
        schema: SCHEMA,
        repro_version: env!("CARGO_PKG_VERSION"),
        target: match &opts.target {
            Target::Pypi(s) => format!("pypi:{}=={}", s.name, s.version),
            Target::Generic(g) => g.upstream.display().to_string(),
        },
        verdict: Verdict::Failed,
        failure: None,
        upstream: None,
        rebuilt: None,
        source: None,
        recipe: None,
        generic: None,
        overridden: Vec::new(),
        frontend: None,
        python: None,
        tools: Vec::new(),
        wheelhouse: Vec::new(),
        fetched: Vec::new(),
        stabilizers: Vec::new(),
        differences: Vec::new(),
        diff: None,
        build_report: None,
        build_verdict: None,
        timings_ms: Vec::new(),
        started_at: now(),
        finished_at: String::new(),
    };
    let outcome = stages(&opts, &mut r, progress);
    if let Err(f) = outcome {
        r.verdict = Verdict::Failed;
        r.failure = Some(f);
    }
    r.finished_at = now();
    let t = Instant::now();
    let attested = super::attest::write(&opts, &r);
    r.timings_ms
        .push((Stage::Attest, t.elapsed().as_millis() as u64));
    if let Err(f) = attested {
        // The verdict stands; the missing attestation is said beside it.
        if r.failure.is_none() {
            r.failure = Some(f);
        }
    }
    let mut json = serde_json::to_vec_pretty(&r).context("serializing rebuild.json")?;
    json.push(b'\n');
    fsio::write(&opts.out.join("rebuild.json"), &json)?;
    Ok(r)
}

fn now() -> String {
    provenance::slsa::format_rfc3339(time::OffsetDateTime::now_utc()).unwrap_or_default()
}

pub(super) fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Makes `out`, refusing to write into a directory that holds something
/// other than an earlier rebuild (unless `force`).
fn prepare_out(out: &Path, force: bool) -> anyhow::Result<()> {
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            let empty = entries.next().is_none();
            if !empty
                && !force
                && !out.join("rebuild.json").exists()
                && !out.join("upstream").is_dir()
            {
                bail!(
                    "{} exists and is not a repro rebuild output; pass --force to use it anyway, or --out another directory",
                    out.display()
                );
            }
            // What an earlier rebuild built must not pass for this one's.
            for stale in [
                "source",
                "build",
                "diff.txt",
                "diff.json",
                "rebuild.json",
                "statement.json",
                "rebuild.intoto.jsonl",
            ] {
                let p = out.join(stale);
                let gone = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
                if let Err(e) = gone {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        return Err(e).with_context(|| {
                            format!("removing {} of an earlier rebuild", p.display())
                        });
                    }
                }
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", out.display())),
    }
}

/// Times `f` as `stage`.
pub(super) fn timed<T>(
    r: &mut RebuildReport,
    stage: Stage,
    f: impl FnOnce(&mut RebuildReport) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let t = Instant::now();
    let out = f(r);
    r.timings_ms.push((stage, t.elapsed().as_millis() as u64));
    out
}

fn stages(
    opts: &RebuildOptions,
    r: &mut RebuildReport,
    progress: &dyn Fn(&str),
) -> Result<(), Failure> {
    let inputs = opts.target.ecosystem().prepare(opts, r, progress)?;
    let upstream = inputs.upstream.clone();
    let rebuilt = timed(r, Stage::Build, |r| build(opts, r, inputs, progress))?;
    timed(r, Stage::Compare, |r| {
        compare(opts, r, &upstream, &rebuilt, progress)
    })
}

/// Writes the recipe used to `out/recipe.toml`; returns its text.
pub(super) fn write_recipe(out: &Path, recipe: &Recipe) -> Result<String, Failure> {
    let text = toml::to_string(recipe).map_err(|e| Failure::new(Stage::Recipe, e.to_string()))?;
    fsio::write(&out.join("recipe.toml"), text.as_bytes())
        .map_err(|e| Failure::new(Stage::Recipe, format!("{e:#}")))?;
    Ok(text)
}

/// Reads and parses the `--recipe` file; errors name it.
pub(super) fn read_recipe<T, E: std::fmt::Display>(
    path: &Path,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, Failure> {
    let text =
        fs_err::read_to_string(path).map_err(|e| Failure::new(Stage::Recipe, e.to_string()))?;
    parse(&text).map_err(|e| Failure::new(Stage::Recipe, format!("{}: {e}", path.display())))
}

pub(super) fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// Runs the build loop on the laid-out source, offline; returns the one
/// artifact it made.
/// What the build stage runs.
pub(crate) struct BuildInputs {
    /// The artifact to compare with.
    pub(crate) upstream: PathBuf,
    /// The tree to build.
    pub(crate) source: PathBuf,
    /// The build command.
    pub(crate) command: Vec<String>,
    /// Which file it makes.
    pub(crate) artifact_glob: String,
    /// SOURCE_DATE_EPOCH (None: the loop's choice).
    pub(crate) epoch: Option<i64>,
    /// Variables for the build.
    pub(crate) env: Vec<String>,
    /// Host paths the build sees read-only.
    pub(crate) ro_bind: Vec<PathBuf>,
}

fn build(
    opts: &RebuildOptions,
    r: &mut RebuildReport,
    inputs: BuildInputs,
    progress: &dyn Fn(&str),
) -> Result<PathBuf, Failure> {
    let BuildInputs {
        source,
        command,
        artifact_glob,
        epoch,
        env,
        ro_bind,
        ..
    } = inputs;
    let fail = |m: String| Failure::new(Stage::Build, m);
    let out = opts.out.join("build");
    let mut b = opts.build.clone();
    b.source = Some(source);
    b.env.extend(env);
    b.ro_bind.extend(ro_bind);
    b.out = Some(out.clone());
    b.force = true;
    b.artifacts = vec![artifact_glob.clone()];
    b.command = command.into_iter().map(Into::into).collect();
    if epoch.is_some() {
        b.source_date_epoch = epoch;
    }
    b.network = false;
    b.single_run = true;
    let runs = b.runs.unwrap_or(1);
    if runs == 1 {
        // One run is the control: nothing is varied, so nothing needs
        // probing, and one copy of the tree costs less than probing for
        // an overlay to share between runs.
        b.vary = vec!["-all".into()];
        b.run_tree = crate::config::RunTreeMode::Copy;
    }
    progress(&format!(
        "building offline in the sandbox ({runs} run{})",
        if runs == 1 { "" } else { "s" }
    ));
    let cfg = BuildConfig::new(b).map_err(|e| fail(format!("{e:#}")))?;
    r.build_report = Some("build/report.json".into());
    let built = match crate::build(cfg) {
        Ok(built) => built,
        Err(f) => {
            return Err(fail(format!("{:#}", f.error)).hint(&format!(
                "see the build logs in {}",
                out.join("logs").display()
            )))
        }
    };
    r.build_verdict = Some(built.report.verdict);
    r.tools = built.report.tools.clone();
    if let Some(fetch) = &built.report.fetch {
        r.fetched = fetch.files.clone();
    }
    let made: Vec<&crate::report::ArtifactRecord> = built
        .report
        .artifacts
        .iter()
        .filter(|a| a.runs.first().is_some_and(|d| d.is_some()))
        .collect();
    match made.as_slice() {
        [one] => {
            let path = out.join("artifacts").join(&one.path);
            if !path.is_file() {
                return Err(fail(format!(
                    "the build's artifact {} is missing from {}",
                    one.path,
                    out.join("artifacts").display()
                )));
            }
            r.rebuilt = Some(FileRecord {
                name: one.path.clone(),
                ..FileRecord::of(&path).map_err(|f| fail(f.message))?
            });
            Ok(path)
        }
        [] => Err(fail(format!(
            "the build succeeded but made nothing matching {artifact_glob}"
        ))
        .hint(&format!(
            "see the build logs in {}",
            out.join("logs").display()
        ))),
        many => Err(fail(format!(
            "the build made {} artifacts matching {artifact_glob} ({}); a rebuild compares one",
            many.len(),
            many.iter()
                .map(|a| a.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .hint("name the one to compare with --artifact GLOB")),
    }
}

/// Compares the rebuilt artifact with upstream and writes the diff.
fn compare(
    opts: &RebuildOptions,
    r: &mut RebuildReport,
    upstream: &Path,
    rebuilt: &Path,
    progress: &dyn Fn(&str),
) -> Result<(), Failure> {
    let fail = |m: String| Failure::new(Stage::Compare, m);
    progress("comparing with upstream");
    let eq = stabilize::compare(upstream, rebuilt, &opts.stabilizers, &opts.diff)
        .map_err(|e| fail(format!("{e}")))?;
    let ids = |s: &[Stabilizer]| s.iter().map(|s| s.id()).collect::<Vec<_>>();
    match eq {
        Equivalence::BitForBit => {
            r.verdict = Verdict::BitForBit;
            return Ok(());
        }
        Equivalence::Equivalent { stabilizers } => {
            r.verdict = Verdict::Equivalent;
            r.stabilizers = ids(&stabilizers);
        }
        Equivalence::Different {
            reasons,
            stabilizers,
        } => {
            r.verdict = Verdict::Different;
            r.stabilizers = ids(&stabilizers);
            r.differences = reasons;
        }
    }
    // The recursive diff says where and why, whatever the verdict.
    match diffoscope_lite::compare(upstream, rebuilt, &opts.diff) {
        Ok(Some(mut d)) => {
            let cx = diffoscope_lite::hints::HintContext {
                source_date_epoch: r.recipe.as_ref().map(|x| x.source_date_epoch),
                ..Default::default()
            };
            diffoscope_lite::hints::annotate(&mut d, &cx);
            let mut text = Vec::new();
            diffoscope_lite::printers::text(
                &d,
                &mut text,
                &diffoscope_lite::printers::TextOptions::default(),
            )
            .map_err(|e| fail(format!("rendering the diff: {e}")))?;
            fsio::write(&opts.out.join("diff.txt"), &text).map_err(|e| fail(format!("{e:#}")))?;
            r.diff = Some("diff.txt".into());
        }
        Ok(None) => {}
        // The verdict stands without the diff; say why it is missing.
        Err(e) => r.differences.push(format!("(no diff: {e})")),
    }
    Ok(())
}
