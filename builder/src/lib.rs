//! The rebuild loop of `repro` as a library: build a source tree several
//! times in a sandbox, compare the artifacts, name what makes them differ,
//! and record it all (report.json, provenance).
//!
//! The loop runs in steps a caller can drive one by one or all at once
//! with [`build()`]:
//!
//! 1. **plan**: [`BuildOptions`] (what the caller asks) become a validated
//!    [`BuildConfig`] ([`BuildConfig::new`]), and [`plan()`] makes the
//!    output directory, surveys the toolchain and probes the variations
//!    into a [`Plan`];
//! 2. **run**: [`Plan::fetch`] runs the fetch step, [`Plan::run`] one
//!    sandboxed run;
//! 3. **collect**: [`collect()`] finds and hashes a run's artifacts
//!    ([`Plan::run`] does it for each run);
//! 4. **judge**: [`judge()`] compares the runs, reaches the [`Verdict`] and
//!    searches for the culprit variations;
//! 5. **report**: [`Plan::finish`] publishes, writes the provenance and
//!    report.json, and returns the [`Built`] build; [`Plan::fail`] writes
//!    the ERROR report of a build that stopped.
//!
//! Nothing here parses a command line: the `repro` binary turns its
//! arguments into [`BuildOptions`] and prints what comes back. Progress
//! goes to stderr as the configuration's [`progress::Mode`] says.

pub mod attestation;
pub mod bisect;
pub mod build;
pub mod collect;
pub mod config;
pub mod dashboard;
pub mod diffreport;
pub mod dirhash;
pub mod epoch;
pub mod fetch;
pub mod finish;
mod fsutil;
pub mod judge;
pub mod plan;
mod probe;
pub mod progress;
pub mod rebuild;
pub mod report;
pub mod runner;
pub mod sbom;
pub mod toolchain;

pub use build::{build, Built, Failure, Run};
pub use collect::{collect, Collected, Digests};
pub use config::{BuildConfig, BuildOptions, KeepRuns, RunTreeMode};
pub use fsutil::WalkError;
pub use judge::judge;
pub use plan::{plan, Plan};
pub use report::{Report, Verdict};
pub use sandbox::interrupt::Interrupt;
