//! A CycloneDX 1.6 SBOM of what a build ships, carrying repro's
//! reproducibility verdict.
//!
//! Each artifact is a component (name, version and purl from its own
//! metadata, SHA-256), the files inside it are nested components with
//! their digests (read through diffoscope-lite's readers, in parallel),
//! a wheel's or sdist's declared runtime dependencies (`Requires-Dist`)
//! are dependency entries, and the files the build's `[fetch]` step fetched
//! are its `formulation`. What repro observed about reproducibility is in
//! each artifact's properties under the `repro:` namespace (see
//! [`properties`]).
//!
//! The document is deterministic: the same artifacts and report give the
//! same bytes. Keys are sorted, lists keep a defined order, the timestamp
//! is SOURCE_DATE_EPOCH (none without one) and the serial number is
//! derived from the content.
//!
//! Bad input never stops the SBOM: an artifact that is no archive is
//! listed by name, size and digest with a note, a malformed metadata
//! file is a warning naming it. Only an artifact that cannot be read at
//! all, or is no regular file (a pipe cannot be read twice), is an
//! [`Error`].

mod cyclonedx;
#[cfg(test)]
mod fixtures;
mod headers;
mod inspect;
mod package;
pub mod properties;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;

use crate::report::Report;

/// File name of the SBOM `repro build --sbom` writes in `--out`.
pub const SBOM_FILE: &str = "sbom.cdx.json";
/// File name of its signed form (one DSSE envelope).
pub const SIGNED_SBOM_FILE: &str = "sbom.intoto.jsonl";

/// Why no SBOM could be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The artifact itself could not be read.
    #[error("reading artifact {}: {source}", path.display())]
    Read {
        /// The artifact.
        path: PathBuf,
        /// What went wrong.
        source: diffoscope_lite::Error,
    },
    /// The artifact is no regular file (a FIFO, `/dev/stdin`, a
    /// directory, a device). Its digest and its listing read it
    /// separately, so a stream would be read twice (the second read
    /// finds it empty) and a FIFO nobody writes would block forever.
    #[error("artifact {}: not a regular file ({kind}); copy it to a file first", path.display())]
    NotRegular {
        /// The artifact as given.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// Nothing to list.
    #[error("no artifact to list in an SBOM")]
    NoArtifacts,
    /// The document could not be serialized.
    #[error("serializing the SBOM: {0}")]
    Json(#[from] serde_json::Error),
    /// The in-toto statement around it was refused.
    #[error("the SBOM's in-toto statement: {0}")]
    Statement(#[from] provenance::Error),
}

/// An artifact to list.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The file to read.
    pub file: PathBuf,
    /// Its name in the SBOM: the artifact path report.json uses, or the
    /// file name.
    pub name: String,
}

/// What the SBOM records beside the artifacts.
#[derive(Debug, Default)]
pub struct Context<'a> {
    /// The build's report: verdict, runs, variations, digests, fetched
    /// inputs. Without one the SBOM lists the artifacts only.
    pub report: Option<&'a Report>,
    /// The document's timestamp (no timestamp without one).
    pub source_date_epoch: Option<i64>,
    /// The builder id the provenance names, recorded so `repro verify
    /// --builder-id` can check an SBOM too.
    pub builder_id: Option<&'a str>,
    /// Limits for reading the artifacts.
    pub read: diffoscope_lite::Options,
}

/// A generated SBOM.
#[derive(Debug)]
pub struct Sbom {
    bom: Value,
    subjects: Vec<(String, String)>,
    /// What was odd about the input (each names the file); also recorded
    /// in the SBOM as `repro:note` properties.
    pub warnings: Vec<String>,
}

impl Sbom {
    /// The CycloneDX document.
    pub fn bom(&self) -> &Value {
        &self.bom
    }

    /// The document as written: pretty JSON, sorted keys, final newline.
    pub fn to_json(&self) -> Result<Vec<u8>, Error> {
        let mut bytes = serde_json::to_vec_pretty(&self.bom)?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// An in-toto statement (predicateType `https://cyclonedx.org/bom`)
    /// whose subjects are the artifacts, ready to sign.
    pub fn statement(&self) -> Result<provenance::Statement, Error> {
        let subjects = self
            .subjects
            .iter()
            .map(|(name, sha256)| provenance::ResourceDescriptor::subject(name, sha256))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(provenance::Statement::cyclonedx(
            subjects,
            self.bom.clone(),
        )?)
    }
}

/// Reads `artifacts` (in parallel) and makes their SBOM.
pub fn generate(artifacts: &[Artifact], cx: &Context<'_>) -> Result<Sbom, Error> {
    if artifacts.is_empty() {
        return Err(Error::NoArtifacts);
    }
    for a in artifacts {
        regular(&a.file)?;
    }
    let inspected = artifacts
        .par_iter()
        .map(|a| inspect::inspect(&a.file, &a.name, &cx.read))
        .collect::<Result<Vec<_>, _>>()?;
    let listed: Vec<(&Artifact, inspect::Inspected)> = artifacts.iter().zip(inspected).collect();
    let warnings = listed
        .iter()
        .flat_map(|(_, i)| i.notes.iter().cloned())
        .collect();
    let subjects = listed
        .iter()
        .map(|(a, i)| (a.name.clone(), i.sha256.clone()))
        .collect();
    let bom = cyclonedx::document(&listed, cx)?;
    Ok(Sbom {
        bom,
        subjects,
        warnings,
    })
}

/// Refuses `file` unless it is a regular file (after symbolic links),
/// looking at its metadata only: a FIFO is never opened, since opening one
/// for reading blocks until a writer comes. A file that cannot be looked
/// at passes, for the read to report what is wrong with it.
fn regular(file: &Path) -> Result<(), Error> {
    use std::os::unix::fs::FileTypeExt as _;
    let Ok(meta) = std::fs::metadata(file) else {
        return Ok(());
    };
    let t = meta.file_type();
    let kind = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO or pipe"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "an unknown kind of file"
    };
    Err(Error::NotRegular {
        path: file.to_owned(),
        kind,
    })
}
