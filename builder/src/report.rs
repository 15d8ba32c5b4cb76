//! `report.json` (the machine-readable record of a build) and the table a
//! human sees. The JSON schema is documented in the README; change both
//! together and bump [`SCHEMA`] when a field changes meaning.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::bisect::BisectResult;
use crate::epoch::Epoch;

/// Identifies the layout of report.json.
pub const SCHEMA: &str = "repro-report/v1";

/// The outcome of a whole `repro build`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Every artifact is bit-for-bit identical in every run.
    Reproducible,
    /// Artifacts differ only in noise that normalization removes (their
    /// `repro-normalized-v1` digests agree); `noise` says which.
    EquivalentAfterNormalization,
    /// At least one artifact differs in content or is missing in some run.
    NotReproducible,
    /// A run failed or nothing could be compared; see `error`.
    Error,
}

impl Verdict {
    /// Every verdict, in order of preference.
    pub const ALL: [Verdict; 4] = [
        Verdict::Reproducible,
        Verdict::EquivalentAfterNormalization,
        Verdict::NotReproducible,
        Verdict::Error,
    ];

    /// The name report.json and provenance use, e.g. `NOT_REPRODUCIBLE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Reproducible => "REPRODUCIBLE",
            Verdict::EquivalentAfterNormalization => "EQUIVALENT_AFTER_NORMALIZATION",
            Verdict::NotReproducible => "NOT_REPRODUCIBLE",
            Verdict::Error => "ERROR",
        }
    }
}

/// Everything a reader needs to judge and redo the build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The repro version that wrote the report.
    pub repro_version: String,
    /// The overall result.
    pub verdict: Verdict,
    /// Why the verdict is ERROR.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// The source tree that was built.
    pub source: Source,
    /// The build command.
    pub command: Vec<String>,
    /// What the build could run, as it saw it: the build command's
    /// program (unless it is part of the source tree) and the toolchains.
    #[serde(default)]
    pub tools: Vec<crate::toolchain::Tool>,
    /// The artifact globs.
    pub artifact_globs: Vec<String>,
    /// The pinned SOURCE_DATE_EPOCH and its origin.
    pub source_date_epoch: Epoch,
    /// The environment every run saw, except HOME (per run, see `runs`).
    pub environment: BTreeMap<String, String>,
    /// The umask of the control run, in octal (varied runs: see `runs[].umask`).
    pub umask: String,
    /// The per-run wall-clock limit in seconds, if any.
    pub timeout_secs: Option<f64>,
    /// When the build started after planning: the fetch step or, without
    /// one, the first run (RFC 3339, UTC).
    pub started_at: String,
    /// When the comparison finished (RFC 3339, UTC).
    pub finished_at: String,
    /// One record per run that was started.
    pub runs: Vec<RunRecord>,
    /// One record per artifact path seen in any run, sorted by path.
    pub artifacts: Vec<ArtifactRecord>,
    /// How the runs were isolated.
    pub sandbox: SandboxRecord,
    /// Which variations were requested, applied and unavailable.
    pub variations: VariationsRecord,
    /// The culprit search, when one ran.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bisect: Option<BisectResult>,
    /// How each run got its tree: an overlay of one pristine copy, or a
    /// copy of the source each.
    #[serde(default)]
    pub run_tree: RunTreeRecord,
    /// Which run trees were kept: `all`, `failed` (runs whose artifacts
    /// differ, with the control) or `none`.
    #[serde(default)]
    pub keep_runs: String,
    /// The fetch step, when there was one: every fetched file's digest.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fetch: Option<crate::fetch::FetchRecord>,
    /// The normalization ruleset and digest definition the verdict used.
    #[serde(default)]
    pub normalization: NormalizationRecord,
    /// What repro could not read in the runs' trees (not compared).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub unreadable: Vec<UnreadableRecord>,
}

/// A path in a run's tree that repro could not read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnreadableRecord {
    /// The run (1-based).
    pub run: u32,
    /// Relative to the build dir.
    pub path: String,
    /// What the kernel said.
    pub error: String,
}

/// Versions of the normalization behind EQUIVALENT verdicts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NormalizationRecord {
    /// e.g. `repro-normalize-v3`.
    pub ruleset: String,
    /// e.g. `repro-normalized-v1`.
    pub digest: String,
    /// Whether `<out>/artifacts/` holds normalized files (--normalize).
    pub published_normalized: bool,
}

/// The isolation of the runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxRecord {
    /// `namespaces` or `none`.
    pub mode: String,
    /// False when the build ran without namespaces.
    pub hermetic: bool,
    /// Whether the host network was shared.
    pub network: bool,
    /// Extra read-only host paths.
    pub ro_binds: Vec<String>,
    /// Resource limits beyond core=0, when set.
    pub rlimits: BTreeMap<String, u64>,
    /// The memory limit and how it was enforced; None: no limit.
    #[serde(default)]
    pub memory: Option<MemoryRecord>,
    /// How the memory and process limits were enforced; None in reports
    /// written before repro recorded it.
    #[serde(default)]
    pub enforcement: Option<EnforcementRecord>,
    /// Size in bytes of each tmpfs the sandbox mounted, by mount point
    /// (`HOME` for the home directory); null: the kernel's default, half
    /// of RAM. Empty without a sandbox.
    #[serde(default)]
    pub tmpfs_sizes: BTreeMap<String, Option<u64>>,
}

/// The build's memory limit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryRecord {
    /// The limit in bytes.
    pub max: u64,
    /// How it was enforced: `cgroup v2 memory.max` bounds the build's
    /// total; `RLIMIT_AS` bounds each process's address space.
    pub mechanism: String,
}

/// How the memory and process limits were enforced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnforcementRecord {
    /// `cgroup2`: each run in a cgroup of its own (memory.max, pids.max,
    /// killed as a whole); `rlimit`: RLIMIT_AS and RLIMIT_NPROC.
    pub mechanism: String,
    /// With `cgroup2` the cgroup the runs' cgroups were made in; with
    /// `rlimit` why cgroup v2 could not be used.
    pub detail: String,
    /// The runs' pids.max with `cgroup2` (the build's processes; the
    /// sandbox's own are added); None otherwise or without a limit.
    #[serde(default)]
    pub pids_max: Option<u64>,
}

/// Variations: what was asked, what was done, what could not be.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VariationsRecord {
    /// The `--vary` specs as given.
    pub specs: Vec<String>,
    /// The requested set after applying the specs to "all".
    pub requested: Vec<String>,
    /// Variations applied to runs 2..N, with the mechanism used.
    pub applied: Vec<AppliedVariation>,
    /// Requested variations that could not be applied here, with why.
    pub unavailable: Vec<UnavailableVariation>,
}

/// One applied variation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppliedVariation {
    /// reprotest name.
    pub name: String,
    /// How it was produced.
    pub mechanism: String,
}

/// One variation that could not be applied.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnavailableVariation {
    /// reprotest name.
    pub name: String,
    /// Why not.
    pub reason: String,
}

/// The source tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    /// Absolute path.
    pub path: String,
    /// HEAD commit when the source is a git checkout.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub git_commit: Option<String>,
    /// Digest of the tree as copied into each run (`repro-dirhash-v1`, see README).
    #[serde(default)]
    pub digest: String,
}

/// One build run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// 1-based run number.
    pub index: u32,
    /// The build directory as the build saw it.
    pub build_dir: String,
    /// Where that directory is on the host after the run.
    pub host_dir: String,
    /// HOME as the build saw it.
    pub home: String,
    /// Variations applied to this run (empty for the control).
    pub variations: Vec<String>,
    /// The umask this run started with, in octal.
    #[serde(default)]
    pub umask: String,
    /// Log file (stdout and stderr), relative to the output directory.
    pub log: String,
    /// SHA-256 of the log file.
    #[serde(default)]
    pub log_sha256: String,
    /// Exit code, when the command exited normally.
    pub exit_code: Option<i32>,
    /// How the run ended, in words.
    pub outcome: String,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Time spent giving the run its tree before the build started (a
    /// copy of the source, or an overlay's directories), in milliseconds.
    #[serde(default)]
    pub setup_ms: u64,
    /// Whether the run's tree (`host_dir`) is still on disk (`--keep-runs`).
    #[serde(default = "kept_by_default")]
    pub kept: bool,
}

/// How the runs got their trees.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunTreeRecord {
    /// `overlay` or `copy`.
    pub mode: String,
    /// Why not an overlay, for `copy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn kept_by_default() -> bool {
    true
}

/// Whether an artifact is the same in every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ArtifactStatus {
    /// Present and identical in every run.
    Same,
    /// Different bytes, equal once normalized.
    Equivalent,
    /// Different content, or missing in some run.
    Different,
}

/// One artifact across all runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArtifactRecord {
    /// Path relative to the build directory.
    pub path: String,
    /// SAME, EQUIVALENT or DIFFERENT.
    pub status: ArtifactStatus,
    /// One entry per run, in run order; null where the run did not produce it.
    pub runs: Vec<Option<FileDigest>>,
    /// For EQUIVALENT artifacts: the normalization rules (ids) that fire on
    /// some run's file, i.e. the kinds of noise that differed.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub noise: Vec<String>,
    /// The file published in `<out>/artifacts/` (normalized with --normalize).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub published: Option<FileDigest>,
    /// Where and why it differs (run 1 against the first run that differs).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub diff: Option<DiffRecord>,
}

/// The recursive diff of a DIFFERENT artifact.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiffRecord {
    /// The two runs compared (1-based).
    pub runs: [u32; 2],
    /// Reports, relative to the output directory (text, JSON, HTML).
    #[serde(default)]
    pub reports: Vec<String>,
    /// Differing paths inside the artifact with their likely causes.
    #[serde(default)]
    pub summary: Vec<String>,
    /// Why no diff could be made (e.g. a safety limit), if so.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// Digest and size of one artifact file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The `repro-normalized-v1` digest, when it could be computed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub normalized: Option<String>,
    /// Why the normalized digest could not be computed (the artifact is
    /// then judged on its raw bytes).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub normalized_error: Option<String>,
    /// Ids of the normalization rules that fire on this file (kept out of
    /// the JSON here; EQUIVALENT artifacts list them as `noise`).
    #[serde(skip)]
    pub fired: Vec<String>,
}

impl Report {
    /// Reads a report.json written by `repro build`, refusing another
    /// schema (the error names the file).
    pub fn read(path: &std::path::Path) -> anyhow::Result<Report> {
        use anyhow::Context as _;
        let bytes = fs_err::read(path)?;
        let report: Report = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a repro report ({SCHEMA})", path.display()))?;
        if report.schema != SCHEMA {
            anyhow::bail!(
                "{}: report schema {:?}, this repro reads {SCHEMA:?}",
                path.display(),
                report.schema
            );
        }
        Ok(report)
    }

    /// The human table plus the verdict line.
    pub fn render_table(&self) -> String {
        let nruns = self.runs.len();
        let mut header = vec!["ARTIFACT".to_string(), "SIZE".to_string()];
        header.extend((1..=nruns).map(|i| format!("RUN {i}")));
        header.push("RESULT".to_string());
        let mut rows = vec![header];
        for a in &self.artifacts {
            let size = a
                .runs
                .iter()
                .flatten()
                .next()
                .map(|d| d.size.to_string())
                .unwrap_or_default();
            let mut row = vec![escape(&a.path), size];
            for r in &a.runs {
                row.push(match r {
                    Some(d) => d.sha256.get(..12).unwrap_or(&d.sha256).to_string(),
                    None => "(missing)".to_string(),
                });
            }
            row.push(
                match a.status {
                    ArtifactStatus::Same => "SAME",
                    ArtifactStatus::Equivalent => "EQUIVALENT",
                    ArtifactStatus::Different => "DIFFERENT",
                }
                .to_string(),
            );
            rows.push(row);
        }
        let ncols = rows[0].len();
        let widths: Vec<usize> = (0..ncols)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in &rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == ncols {
                    line.push_str(cell);
                } else if c == 1 {
                    // Sizes are right-aligned.
                    let _ = write!(line, "{cell:>w$}  ", w = widths[c]);
                } else {
                    let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.verdict_line());
        out.push('\n');
        out
    }

    /// One line: the verdict and what it rests on.
    pub fn verdict_line(&self) -> String {
        let total = self.artifacts.len();
        let differing = self
            .artifacts
            .iter()
            .filter(|a| a.status == ArtifactStatus::Different)
            .count();
        let runs = self.runs.len();
        match self.verdict {
            Verdict::Reproducible => format!(
                "REPRODUCIBLE: {total} artifact{} bit-for-bit identical across {runs} runs",
                plural(total)
            ),
            Verdict::EquivalentAfterNormalization => {
                let equivalent: Vec<&ArtifactRecord> = self
                    .artifacts
                    .iter()
                    .filter(|a| a.status == ArtifactStatus::Equivalent)
                    .collect();
                let mut noise: Vec<&str> = equivalent
                    .iter()
                    .flat_map(|a| a.noise.iter().map(String::as_str))
                    .collect();
                noise.sort_unstable();
                noise.dedup();
                format!(
                    "EQUIVALENT AFTER NORMALIZATION: {} of {total} artifact{} differ{} only in noise ({}) across {runs} runs",
                    equivalent.len(),
                    plural(total),
                    if equivalent.len() == 1 { "s" } else { "" },
                    noise.join(", ")
                )
            }
            Verdict::NotReproducible => format!(
                "NOT REPRODUCIBLE: {differing} of {total} artifact{} differ{} between {runs} runs",
                plural(total),
                if differing == 1 { "s" } else { "" }
            ),
            Verdict::Error => format!(
                "ERROR: {}",
                self.error
                    .as_deref()
                    .unwrap_or("the build did not complete")
            ),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Escapes control characters so an artifact name cannot move the cursor or
/// fake table lines.
fn escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::epoch::Origin;

    /// A report of two runs of `true` with `artifacts` and `verdict`.
    pub(crate) fn report(artifacts: Vec<ArtifactRecord>, verdict: Verdict) -> Report {
        let run = |i: u32| RunRecord {
            index: i,
            build_dir: format!("/o/runs/{i}/src"),
            host_dir: format!("/o/runs/{i}/src"),
            home: format!("/o/runs/{i}/home"),
            variations: vec![],
            umask: "0022".into(),
            log: format!("logs/run-{i}.log"),
            log_sha256: String::new(),
            exit_code: Some(0),
            outcome: "exited with code 0".into(),
            duration_ms: 5,
            setup_ms: 1,
            kept: true,
        };
        Report {
            schema: SCHEMA.into(),
            repro_version: "0".into(),
            verdict,
            error: None,
            source: Source {
                path: "/s".into(),
                git_commit: None,
                digest: String::new(),
            },
            command: vec!["true".into()],
            tools: vec![],
            artifact_globs: vec!["*".into()],
            source_date_epoch: Epoch {
                value: 1,
                origin: Origin::Flag,
                detail: None,
            },
            environment: BTreeMap::new(),
            umask: "0022".into(),
            timeout_secs: None,
            started_at: String::new(),
            finished_at: String::new(),
            runs: vec![run(1), run(2)],
            artifacts,
            sandbox: SandboxRecord {
                mode: "none".into(),
                hermetic: false,
                network: false,
                ro_binds: vec![],
                rlimits: BTreeMap::new(),
                memory: None,
                enforcement: None,
                tmpfs_sizes: BTreeMap::new(),
            },
            variations: VariationsRecord::default(),
            bisect: None,
            run_tree: Default::default(),
            keep_runs: "failed".into(),
            fetch: None,
            normalization: NormalizationRecord::default(),
            unreadable: Vec::new(),
        }
    }

    #[test]
    fn table_shows_missing_and_escapes_names() {
        let d = |h: &str| {
            Some(FileDigest {
                sha256: h.repeat(64),
                size: 10,
                normalized: None,
                normalized_error: None,
                fired: Vec::new(),
            })
        };
        let r = report(
            vec![
                ArtifactRecord {
                    path: "a\nb".into(),
                    status: ArtifactStatus::Same,
                    runs: vec![d("a"), d("a")],
                    noise: Vec::new(),
                    published: None,
                    diff: None,
                },
                ArtifactRecord {
                    path: "dist/x".into(),
                    status: ArtifactStatus::Different,
                    runs: vec![d("b"), None],
                    noise: Vec::new(),
                    published: None,
                    diff: None,
                },
            ],
            Verdict::NotReproducible,
        );
        let t = r.render_table();
        assert_eq!(
            t,
            "ARTIFACT  SIZE  RUN 1         RUN 2         RESULT\n\
             a\\nb        10  aaaaaaaaaaaa  aaaaaaaaaaaa  SAME\n\
             dist/x      10  bbbbbbbbbbbb  (missing)     DIFFERENT\n\
             \n\
             NOT REPRODUCIBLE: 1 of 2 artifacts differs between 2 runs\n"
        );
    }

    #[test]
    fn verdict_names_are_the_serialized_names() {
        for v in Verdict::ALL {
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
        }
    }

    #[test]
    fn report_round_trips_through_json() {
        let r = report(vec![], Verdict::Error);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"verdict\":\"ERROR\""));
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back.verdict, Verdict::Error);
    }
}
