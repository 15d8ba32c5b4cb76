//! The clap definition of repro's command line.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Reproducible-build harness: rebuild artifacts, compare them bit for bit,
/// and say whether the build reproduced.
///
/// Exit codes: 0 reproducible, 1 not reproducible, 2 usage or build error.
#[derive(Debug, Parser)]
#[command(name = "repro", version, about, long_about = None)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// repro's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a source tree several times and check the artifacts are identical.
    Build(Box<BuildArgs>),
    /// Compare two artifacts recursively and show where and why they differ.
    ///
    /// Exit codes: 0 identical, 1 different, 2 error (as diffoscope).
    Diff(DiffArgs),
    /// Print the SHA-256 of files (computed in parallel), like sha256sum.
    Hash(HashArgs),
    /// Rewrite artifacts into canonical form: the noise builds leave in
    /// them (times, owners, order) replaced by fixed values.
    ///
    /// Exit codes: 0 success, 2 usage error or a file that could not be
    /// normalized (named in the message).
    Normalize(NormalizeArgs),
    /// Create a signing key pair: PREFIX.key (PKCS#8, mode 0600) and PREFIX.pub.
    Keygen(KeygenArgs),
    /// Sign the provenance of an earlier build from its report.json.
    Attest(AttestArgs),
    /// Rebuild a published package independently and compare it with what
    /// the registry serves (or, with --list, many).
    ///
    /// `repro rebuild pypi:NAME==VERSION` fetches the release's sdist and
    /// pure wheel, infers how the wheel was built (backend and version,
    /// build requirements as of the upload, SOURCE_DATE_EPOCH), builds it
    /// offline in the sandbox and compares. Generic mode, `repro rebuild
    /// --upstream FILE --source DIR|TARBALL -- CMD…`, rebuilds anything
    /// whose source you have (npm pack, cargo package, git archive…).
    ///
    /// Verdicts: BIT_FOR_BIT; EQUIVALENT (equal up to the named
    /// stabilizers, never a module's bytes); DIFFERENT; FAILED (with the
    /// stage). Exit codes: 0 BIT_FOR_BIT (and EQUIVALENT with
    /// --accept-equivalent), 1 EQUIVALENT or DIFFERENT, 2 FAILED or usage
    /// error.
    ///
    /// Batch mode, `repro rebuild --list FILE --out DIR [--jobs N] [--shard
    /// I/N]`, rebuilds every package of FILE, appends one record per package
    /// to DIR/results.jsonl and skips on a rerun what is recorded there;
    /// it exits 0 once every package has a verdict, whatever the verdicts.
    Rebuild(Box<RebuildArgs>),
    /// Merge batch results (one or more `rebuild --list` output
    /// directories) into a summary, a JSON report and an HTML dashboard.
    ///
    /// Exit codes: 0 done (1 with --fail-on-regression when a package
    /// reproduced before and does not now), 2 usage or I/O error.
    Report(ReportArgs),
    /// List artifacts in a CycloneDX 1.6 SBOM: each artifact's identity
    /// and digest, the files inside it, a wheel's declared dependencies
    /// and, with --report, the build's reproducibility verdict.
    ///
    /// The output is deterministic (timestamp from SOURCE_DATE_EPOCH,
    /// serial number from the content). Exit codes: 0 written (warnings
    /// about odd inputs go to stderr), 2 usage or I/O error.
    Sbom(SbomArgs),
    /// Check signed provenance (and signed SBOMs): signatures, statement,
    /// artifacts and policy.
    ///
    /// By default the attested verdict must be REPRODUCIBLE
    /// (--accept-normalized also accepts EQUIVALENT_AFTER_NORMALIZATION,
    /// --allow-not-reproducible any verdict). Without an ARTIFACT only the
    /// signatures and statements are checked (--require-artifacts makes
    /// that a failure).
    ///
    /// Exit codes: 0 all holds, 1 verification failed (the reason is
    /// printed), 2 usage or I/O error.
    Verify(VerifyArgs),
}

/// Arguments of `repro diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// First artifact (file, archive or directory).
    pub a: PathBuf,
    /// Second artifact.
    pub b: PathBuf,
    /// Write diffoscope-compatible JSON to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the text report to FILE (`-` for stdout; the default when no other output is asked for).
    #[arg(long, value_name = "FILE")]
    pub text: Option<PathBuf>,
    /// Print only the differing paths, one per line.
    #[arg(long)]
    pub summary: bool,
    /// SOURCE_DATE_EPOCH of the builds, so timestamps near it are named as
    /// such [default: $SOURCE_DATE_EPOCH].
    #[arg(long, value_name = "SECS")]
    pub source_date_epoch: Option<i64>,
    /// A directory either build ran in, so embedded paths under it are
    /// named as build paths (repeatable).
    #[arg(long, value_name = "DIR")]
    pub build_dir: Vec<String>,
    /// A host name either build ran on (repeatable).
    #[arg(long, value_name = "NAME")]
    pub hostname: Vec<String>,
    /// A user name either build ran as (repeatable).
    #[arg(long, value_name = "NAME")]
    pub user: Vec<String>,
    /// A uid or gid either build ran as (repeatable).
    #[arg(long, value_name = "ID")]
    pub uid: Vec<u64>,
    /// Most diff lines shown per file [default: 1000].
    #[arg(long, value_name = "N")]
    pub max_diff_lines: Option<usize>,
    /// Safety limits for reading the artifacts.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Arguments of `repro attest`.
#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The report.json of the build to attest.
    #[arg(long, value_name = "FILE")]
    pub report: PathBuf,

    /// Private key (PKCS#8 PEM from `repro keygen`).
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,

    /// Where to write the envelope (`-` for stdout; default: provenance.intoto.jsonl next to the report).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,

    /// The builder id recorded in the provenance.
    #[arg(long, value_name = "URI")]
    pub builder_id: Option<String>,
}

/// Arguments of `repro sbom`.
#[derive(Debug, Args)]
pub struct SbomArgs {
    /// The artifacts to list.
    #[arg(value_name = "ARTIFACT", required = true)]
    pub artifacts: Vec<PathBuf>,

    /// The report.json of the build that made them: its verdict, runs,
    /// variations and fetched inputs go into the SBOM.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Where to write it (`-` for stdout, the default).
    #[arg(short = 'o', long = "output", value_name = "FILE", default_value = "-")]
    pub output: PathBuf,

    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,

    /// Sign it: write an in-toto statement (predicateType
    /// https://cyclonedx.org/bom) in a DSSE envelope instead of the bare
    /// document; `repro verify` checks it.
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,

    /// The document's timestamp [default: $SOURCE_DATE_EPOCH, else the
    /// report's; none without any].
    #[arg(long, value_name = "SECS", allow_negative_numbers = true,
          value_parser = |v: &str| diffoscope_lite::hints::parse_source_date_epoch(v, "--source-date-epoch"))]
    pub source_date_epoch: Option<i64>,

    /// The builder id to record, for `repro verify --builder-id`.
    #[arg(long, value_name = "URI")]
    pub builder_id: Option<String>,

    /// Safety limits for reading the artifacts.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Arguments of `repro verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Trusted public key (SPKI PEM); repeat for several builders.
    #[arg(long = "key", value_name = "PUB", required = true)]
    pub keys: Vec<PathBuf>,

    /// Attestation file (.intoto.jsonl: provenance or a signed SBOM); repeatable [default: ./provenance.intoto.jsonl].
    #[arg(long = "attestation", value_name = "FILE")]
    pub attestations: Vec<PathBuf>,

    /// Artifacts whose SHA-256 must be a subject of the attestations.
    /// Without any, only signatures and statements are checked.
    #[arg(value_name = "ARTIFACT")]
    pub artifacts: Vec<PathBuf>,

    /// Fail when no ARTIFACT is given, instead of checking only the
    /// signatures and statements.
    #[arg(long)]
    pub require_artifacts: bool,

    /// Also accept the verdict EQUIVALENT_AFTER_NORMALIZATION, which is how
    /// a rebuild's EQUIVALENT is attested (by default only REPRODUCIBLE,
    /// a build's or a rebuild's BIT_FOR_BIT, passes).
    #[arg(long, visible_alias = "accept-equivalent")]
    pub accept_normalized: bool,

    /// Accept any verdict, NOT_REPRODUCIBLE or none included: check only
    /// signatures, statements, subjects and the other policy flags.
    #[arg(long, conflicts_with = "accept_normalized")]
    pub allow_not_reproducible: bool,

    /// Require the verdict REPRODUCIBLE: now the default, so this changes
    /// nothing; accepted so existing scripts keep working.
    #[arg(long, hide = true, conflicts_with_all = ["accept_normalized", "allow_not_reproducible"])]
    pub require_reproducible: bool,

    /// Require this builder id.
    #[arg(long, value_name = "URI")]
    pub builder_id: Option<String>,

    /// Require at least K attestations by distinct trusted keys (for every artifact).
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub threshold: usize,
}

/// Arguments of `repro keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// `ed25519` or `ecdsa-p256`.
    #[arg(long, default_value = "ed25519", value_name = "ALGORITHM")]
    pub algorithm: String,

    /// Path prefix of the two files; existing files are never overwritten.
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
}

/// Arguments of `repro hash`.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// Files to hash.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Print a JSON array of {path, sha256, size} instead of sha256sum lines.
    #[arg(long)]
    pub json: bool,

    /// Print the repro-normalized-v1 digest instead: equal for artifacts
    /// that differ only in what `repro normalize` removes.
    #[arg(long)]
    pub normalized: bool,

    /// With --normalized: the SOURCE_DATE_EPOCH that decides which rules
    /// would fire (the digest itself does not depend on it).
    #[arg(long, value_name = "SECS", requires = "normalized")]
    pub source_date_epoch: Option<i64>,

    /// Safety limits for reading archives (with --normalized).
    #[command(flatten)]
    pub limits: LimitArgs,
    /// With --normalized: digest archives whose own structures disagree
    /// (refused otherwise; the JSON output records it).
    #[arg(long)]
    pub allow_ambiguous: bool,
    /// With --normalized: fail on a malformed file, instead of printing
    /// its plain SHA-256 (what `repro normalize` leaves it as) with a
    /// warning.
    #[arg(long, requires = "normalized")]
    pub strict: bool,
}

/// Arguments of `repro normalize`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("destination").required(true).args(["in_place", "output_dir"])))]
pub struct NormalizeArgs {
    /// Files to normalize.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Rewrite each file in place (atomically: a temporary file and a rename).
    #[arg(long)]
    pub in_place: bool,

    /// Write the normalized files into DIR, under their base names.
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Clamp timestamps to this time (seconds since 1970); default 1980-01-01.
    #[arg(long, value_name = "SECS")]
    pub source_date_epoch: Option<i64>,

    /// Print a JSON array of per-file reports.
    #[arg(long)]
    pub json: bool,

    /// Safety limits for reading archives.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Normalize archives whose own structures disagree (refused
    /// otherwise; the JSON output records it).
    #[arg(long)]
    pub allow_ambiguous: bool,
    /// Fail on a malformed file (one its format's reader cannot read),
    /// instead of leaving it as it is with a warning.
    #[arg(long)]
    pub strict: bool,
}

/// Arguments of `repro rebuild`.
#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// What to rebuild: `pypi:NAME==VERSION` (omit with --upstream).
    #[arg(
        value_name = "TARGET",
        required_unless_present_any = ["upstream", "list"],
        conflicts_with_all = ["upstream", "list"]
    )]
    pub target: Option<String>,
    /// Batch mode: a file with one package per line (`pypi:NAME==VERSION`
    /// or `generic:RECIPE.toml`; `#` comments). Needs --out DIR; results
    /// go to DIR/results.jsonl and a rerun skips what is recorded there.
    #[arg(long, value_name = "FILE", requires = "out", conflicts_with_all = ["upstream", "recipe"])]
    pub list: Option<PathBuf>,
    /// Batch mode: packages rebuilt at once [default: half the cores].
    #[arg(long, value_name = "N", requires = "list")]
    pub jobs: Option<usize>,
    /// Batch mode: only shard I of N (0 <= I < N), by a stable hash of
    /// each package spec.
    #[arg(long, value_name = "I/N", requires = "list")]
    pub shard: Option<String>,
    /// Batch mode: rebuild again the packages recorded as FAILED.
    #[arg(long, requires = "list")]
    pub retry_failed: bool,
    /// Batch mode: wall-clock limit per package in seconds, after which
    /// it is stopped and recorded FAILED at stage `timeout` (0: none).
    #[arg(
        long,
        value_name = "SECS",
        requires = "list",
        default_value_t = 10800.0
    )]
    pub package_timeout: f64,
    /// Generic mode: the published artifact to compare with.
    #[arg(long, value_name = "FILE", requires = "source")]
    pub upstream: Option<PathBuf>,
    /// Generic mode: its source, a directory or a tarball.
    #[arg(long, value_name = "DIR|TARBALL", requires = "upstream")]
    pub source: Option<PathBuf>,
    /// Generic mode: glob (relative to the source root) of the artifact the
    /// command makes [default: **/<upstream file name>].
    #[arg(long, value_name = "GLOB", requires = "upstream")]
    pub artifact: Option<String>,
    /// Generic mode: fetch the build's dependencies once, with network, in
    /// the sandbox, before the offline build (as `repro build --fetch`),
    /// e.g. 'cargo vendor' or 'npm ci --ignore-scripts'.
    #[arg(long, value_name = "CMD", requires = "upstream")]
    pub fetch: Option<String>,
    /// Generic mode: a directory the fetch step writes, relative to the
    /// source root; the build sees it read-only (repeatable).
    #[arg(long = "fetch-output", value_name = "DIR", requires = "fetch")]
    pub fetch_outputs: Vec<PathBuf>,
    /// Generic mode: check every fetched file against this lock.
    #[arg(long, value_name = "FILE", requires = "fetch")]
    pub fetch_lock: Option<PathBuf>,
    /// Output directory [default: ./repro-rebuild/<name>-<version>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Use an output directory that holds something else than a rebuild.
    #[arg(long)]
    pub force: bool,
    /// A TOML file whose fields replace the inferred recipe's (see README).
    #[arg(long, value_name = "FILE")]
    pub recipe: Option<PathBuf>,
    /// Try a platform wheel when the release has no pure-Python one.
    #[arg(long)]
    pub platform_wheel: bool,
    /// The package index's simple API [default: https://pypi.org/simple].
    #[arg(long, value_name = "URL")]
    pub index_url: Option<String>,
    /// The Python that fetches and builds [default: python3 on PATH].
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Where build frontends are kept between rebuilds
    /// [default: $XDG_CACHE_HOME/repro or ~/.cache/repro].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// How many times to build (more than 1 also checks the rebuild
    /// reproduces itself).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub runs: u32,
    /// Stabilizers allowed for EQUIVALENT, comma-separated ids, `all` or
    /// `none` [default: all].
    #[arg(long, value_name = "IDS")]
    pub stabilizers: Option<String>,
    /// Exit 0 also for EQUIVALENT.
    #[arg(long)]
    pub accept_equivalent: bool,
    /// Sign the attestation with this private key (PKCS#8 PEM from `repro keygen`).
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Builder id recorded in the attestation.
    #[arg(long, value_name = "URI")]
    pub builder_id: Option<String>,
    /// Print rebuild.json instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Per-run wall-clock limit in seconds (0: none) [default: 7200].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Isolation: `namespaces` (default) or `none`.
    #[arg(long, value_name = "MODE")]
    pub sandbox: Option<String>,
    /// Extra read-only host paths in the sandbox.
    #[arg(long = "ro-bind", value_name = "PATH")]
    pub ro_bind: Vec<PathBuf>,
    /// A toolchain under a home directory the sandbox must see (e.g. ~/.pyenv).
    #[arg(long, value_name = "PATH")]
    pub toolchain: Vec<PathBuf>,
    /// Memory limit of the build.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub memory_max: Option<u64>,
    /// Which run trees stay on disk.
    #[arg(long, value_name = "WHICH", value_parser = ["all", "failed", "none"])]
    pub keep_runs: Option<String>,
    /// Stream the build's output.
    #[arg(short, long)]
    pub verbose: bool,
    /// Safety limits for reading the artifacts.
    #[command(flatten)]
    pub diff_limits: LimitArgs,
    /// Generic mode: the build command.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Arguments of `repro report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Batch output directories (each with a results.jsonl): shards,
    /// machines, or runs of the same list over time.
    #[arg(value_name = "DIR", required = true)]
    pub dirs: Vec<PathBuf>,
    /// Write the HTML dashboard here (self-contained; links are relative to it).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the merged report as JSON here (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Exit 1 when a package that reproduced in an earlier record does not
    /// in its latest.
    #[arg(long)]
    pub fail_on_regression: bool,
}

/// Safety limits for untrusted archives.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Deepest archive nesting followed.
    #[arg(long, value_name = "N", default_value_t = diffoscope_lite::Limits::default().max_depth)]
    pub max_depth: u32,

    /// Most entries read from all archives of one file.
    #[arg(long, value_name = "N", default_value_t = diffoscope_lite::Limits::default().max_entries)]
    pub max_entries: u64,

    /// Most bytes decompressed from one file.
    #[arg(long, value_name = "BYTES", default_value_t = diffoscope_lite::Limits::default().max_decompressed)]
    pub max_decompressed: u64,

    /// Highest compression ratio of any stream.
    #[arg(long, value_name = "N", default_value_t = diffoscope_lite::Limits::default().max_ratio)]
    pub max_ratio: u64,

    /// Largest JSON document of an image (OCI index, manifest, config) read.
    #[arg(long, value_name = "BYTES", default_value_t = diffoscope_lite::Limits::default().max_json)]
    pub max_json: u64,
}

impl LimitArgs {
    /// The limits as the library takes them.
    pub fn limits(&self) -> diffoscope_lite::Limits {
        diffoscope_lite::Limits {
            max_depth: self.max_depth,
            max_entries: self.max_entries,
            max_decompressed: self.max_decompressed,
            max_ratio: self.max_ratio,
            max_json: self.max_json,
        }
    }
}

/// Arguments of `repro build`.
#[derive(Debug, Args)]
#[command(
    after_help = "The command and artifacts may also come from SOURCE_DIR/repro.toml:\n\n  [build]\n  command = [\"sh\", \"build.sh\"]\n  artifacts = [\"dist/*\"]\n\nFlags override the file."
)]
pub struct BuildArgs {
    /// The source tree to build (default: the current directory).
    #[arg(value_name = "SOURCE_DIR")]
    pub source: Option<PathBuf>,

    /// How many times to build (at least 2; default 2 or repro.toml's `runs`).
    #[arg(long, value_name = "N")]
    pub runs: Option<u32>,

    /// Where to put runs, logs, artifacts and report.json (default: ./repro-out/<source dir name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Replace an existing --out directory made by an earlier repro run.
    #[arg(long)]
    pub force: bool,

    /// Glob of artifact paths relative to the build dir, e.g. 'dist/*' (repeatable).
    #[arg(long = "artifacts", value_name = "GLOB")]
    pub artifacts: Vec<String>,

    /// Pin SOURCE_DATE_EPOCH to this value (seconds since 1970).
    #[arg(long, value_name = "SECS")]
    pub source_date_epoch: Option<i64>,

    /// Extra environment variable for the build (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Kill a run (and everything it started) after this many seconds
    /// [default: 7200; 0 for no limit].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,

    /// Print report.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Which run trees stay on disk: `all`, `failed` (default: the runs
    /// whose artifacts differ, with the control) or `none`.
    #[arg(long, value_name = "WHICH", value_parser = ["all", "failed", "none"])]
    pub keep_runs: Option<String>,

    /// How each run gets its tree: `overlay` (one pristine copy of the
    /// source below each run's writes), `copy` (a copy per run) or `auto`
    /// (default: overlay where the sandbox can mount one).
    #[arg(long, value_name = "MODE", value_parser = ["auto", "overlay", "copy"])]
    pub run_tree: Option<String>,

    /// Stream each run's log to stderr as it is written.
    #[arg(short, long)]
    pub verbose: bool,

    /// Isolation of each run: `namespaces` (default; user, mount, pid, net,
    /// uts, ipc) or `none` (recorded as not hermetic).
    #[arg(long, value_name = "MODE")]
    pub sandbox: Option<String>,

    /// Make a host path visible read-only inside the sandbox (repeatable),
    /// e.g. a toolchain under the home directory.
    #[arg(long = "ro-bind", value_name = "PATH")]
    pub ro_bind: Vec<PathBuf>,

    /// Make a toolchain under a home directory usable in the sandbox
    /// (repeatable): rustup's ~/.cargo (with ~/.rustup, CARGO_HOME and
    /// RUSTUP_HOME), pyenv's ~/.pyenv (PYENV_ROOT), nvm's
    /// ~/.nvm/versions/node/vX, or any install directory; bound read-only.
    #[arg(long, value_name = "PATH")]
    pub toolchain: Vec<PathBuf>,

    /// Let the build use the host network (recorded in the report).
    #[arg(long)]
    pub network: bool,

    /// Fetch dependencies once before the runs, with network, in the
    /// sandbox: a shell command run in a copy of the source (overrides
    /// repro.toml's `[fetch]` command), e.g. 'pip download -d deps .'.
    #[arg(long, value_name = "CMD")]
    pub fetch: Option<String>,

    /// A directory the fetch step writes, relative to the source tree; the
    /// runs see it there read-only, offline (repeatable; overrides
    /// `[fetch]` outputs).
    #[arg(long = "fetch-output", value_name = "DIR")]
    pub fetch_outputs: Vec<PathBuf>,

    /// Check every fetched file against this lock (`SHA256  PATH` lines, as
    /// `<out>/fetch.lock` is written); a mismatch stops before any run.
    #[arg(long, value_name = "FILE")]
    pub fetch_lock: Option<PathBuf>,

    /// Honour sandbox-weakening settings of the source's repro.toml
    /// ([sandbox] mode = "none", network, ro_paths), which are refused otherwise.
    #[arg(long)]
    pub trust_config: bool,

    /// Variations between runs, reprotest-style: `+all,-time`, `-umask`,
    /// `-all,+build_path` (repeatable; applied left to right to "all").
    #[arg(long, value_name = "SPEC")]
    pub vary: Vec<String>,

    /// When runs differ, find the culprit variations however many runs it takes.
    #[arg(long, conflicts_with = "bisect_budget")]
    pub bisect: bool,

    /// Extra runs spent finding culprits by default (0 turns it off) [default: 4].
    #[arg(long, value_name = "N")]
    pub bisect_budget: Option<u32>,

    /// Publish normalized artifacts (canonical form) in `<out>/artifacts/`,
    /// so a release can ship files that are identical across runs.
    #[arg(long)]
    pub normalize: bool,

    /// Exit 0 also when the artifacts are only equivalent after normalization.
    #[arg(long)]
    pub accept_normalized: bool,

    /// Safety limits for reading the artifacts when diffing them.
    #[command(flatten)]
    pub diff_limits: LimitArgs,

    /// Sign the provenance (and, with --sbom, the SBOM) with this private
    /// key (PKCS#8 PEM from `repro keygen`).
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,

    /// Also write a CycloneDX 1.6 SBOM of the artifacts, with the verdict,
    /// to OUT/sbom.cdx.json (signed: OUT/sbom.intoto.jsonl).
    #[arg(long)]
    pub sbom: bool,

    /// The builder id recorded in the provenance.
    #[arg(long, value_name = "URI")]
    pub builder_id: Option<String>,

    /// RLIMIT_NOFILE for the build.
    #[arg(long, value_name = "N")]
    pub rlimit_nofile: Option<u64>,

    /// RLIMIT_NPROC for the build: processes it may have at once (in a
    /// sandbox each run counts only its own) [default: 4096; 0 for no limit].
    #[arg(long, value_name = "N")]
    pub rlimit_nproc: Option<u64>,

    /// RLIMIT_AS (address space of each process) for the build, e.g. 8G.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub rlimit_as: Option<u64>,

    /// Memory limit of the build, e.g. 8G, enforced as RLIMIT_AS on each
    /// process [default: the machine's RAM; 0 for no limit].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub memory_max: Option<u64>,

    /// Size of each of the sandbox's writable tmpfs mounts (/tmp, HOME,
    /// /dev/shm), e.g. 512M [default: 4G; 0 for the kernel's, half of RAM].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub tmpfs_size: Option<u64>,

    /// The build command and its arguments (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// A byte count: digits with an optional K, M, G or T suffix (powers of
/// 1024, an optional trailing `iB` or `B` allowed), e.g. `4G`, `512MiB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 10),
        Some((i, 'M' | 'm')) => (&t[..i], 20),
        Some((i, 'G' | 'g')) => (&t[..i], 30),
        Some((i, 'T' | 't')) => (&t[..i], 40),
        _ => (t, 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .ok_or_else(|| {
            format!("{text:?} is not a size: expected bytes, or a number with K, M, G or T")
        })
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1K"), Ok(1024));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("2t"), Ok(2 << 40));
        for bad in ["", "G", "1.5G", "-1", "4X", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
