//! `repro rebuild`: independent rebuilds of published packages. Fetch what
//! the registry serves, infer how it was built, build it again offline in
//! the sandbox with the same loop as `repro build`, compare with upstream,
//! and attest the verdict, whatever it is.
//!
//! One file per ecosystem (`pypi`, `generic`) behind one trait,
//! `Ecosystem`: it prepares the build (fetch, recipe, dependencies, the
//! source tree); the build loop, the comparison, the verdicts and the
//! attestation that follow are shared ([`run`]).

pub mod attest;
pub mod batch;
pub mod generic;
pub mod index;
pub mod pypi;
pub mod recipe;
pub mod run;

use std::fmt;

use run::{BuildInputs, RebuildOptions, RebuildReport};

/// One ecosystem's road to a build. Each stage it runs is timed into the
/// report (`run::timed`); a failure names its stage.
pub(crate) trait Ecosystem {
    /// Everything before the build stage: fetch, recipe, dependencies and
    /// the source tree, as the inputs of the shared build loop.
    fn prepare(
        &self,
        opts: &RebuildOptions,
        r: &mut RebuildReport,
        progress: &dyn Fn(&str),
    ) -> Result<BuildInputs, Failure>;
}

use serde::Serialize;

/// Where a rebuild stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Downloading what the registry serves.
    Fetch,
    /// Inferring how it was built.
    Recipe,
    /// Downloading the build requirements.
    Dependencies,
    /// Building in the sandbox.
    Build,
    /// Comparing with upstream.
    Compare,
    /// Writing and signing the attestation.
    Attest,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Fetch => "fetch",
            Stage::Recipe => "recipe",
            Stage::Dependencies => "dependencies",
            Stage::Build => "build",
            Stage::Compare => "compare",
            Stage::Attest => "attest",
        })
    }
}

/// A rebuild that could not reach a verdict: the stage, what went wrong,
/// and what the user can do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{stage} stage: {message}{}", hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
pub struct Failure {
    /// The stage.
    pub stage: Stage,
    /// What went wrong, naming the file or package.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Failure {
    /// A failure in `stage`.
    pub fn new(stage: Stage, message: String) -> Self {
        Failure {
            stage,
            message,
            hint: None,
        }
    }

    /// Adds what the user can do.
    pub fn hint(mut self, hint: &str) -> Self {
        self.hint = Some(hint.to_owned());
        self
    }
}
