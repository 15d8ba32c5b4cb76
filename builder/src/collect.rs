//! Collecting a run's artifacts: the files of its tree that match the
//! artifact globs, hashed (in parallel) with and without normalization.
//! What cannot be read is recorded, never fatal: a build may leave a
//! `chmod 000` directory behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::config::BuildConfig;
use crate::fsutil::WalkError;
use crate::report::FileDigest;
use crate::runner::{Pristine, RunTree};

/// The artifacts of one run: relative path → digest.
pub type Digests = BTreeMap<String, FileDigest>;

/// A path in a run's tree that repro could not read (a build may leave a
/// `chmod 000` directory behind): what is under it is not compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// Relative to the build dir.
    pub path: String,
    /// What the kernel said.
    pub error: String,
}

/// The artifacts of a run's tree: their digests, and what could not be read.
#[derive(Debug, Default)]
pub struct Collected {
    /// Relative path → digest, for every artifact that could be read.
    pub digests: Digests,
    /// Directories that could not be searched and artifacts that could
    /// not be read; never fatal.
    pub unreadable: Vec<Unreadable>,
}

/// Finds and hashes (in parallel) the artifacts of the run's `tree`
/// (over `pristine` when the run overlaid it); with `normalized`, also
/// their `repro-normalized-v1` digests and the normalization rules that
/// fire on them. A normalized digest that cannot be made is recorded in
/// the artifact's [`FileDigest::normalized_error`], and the artifact is
/// then judged on its raw bytes.
pub fn collect(
    cfg: &BuildConfig,
    pristine: Option<&Pristine>,
    tree: &RunTree,
    normalized: bool,
) -> Result<Collected> {
    use rayon::prelude::*;
    let (found, mut unreadable) = find_artifacts(cfg, pristine, tree)?;
    // Each name with the file the run left for it (found just above).
    let (names, paths): (Vec<String>, Vec<PathBuf>) = found
        .into_iter()
        .filter_map(|n| tree.file(&n).map(|p| (n, p)))
        .unzip();
    let dir = match tree {
        RunTree::Dir(d) => d.as_path(),
        RunTree::Overlay { upper, .. } => upper.as_path(),
    };
    let opts = diffoscope_lite::normalize::Options {
        source_date_epoch: Some(cfg.epoch.value),
        ..Default::default()
    };
    type Normalized = Option<Result<diffoscope_lite::normalize::NormalizedDigest, String>>;
    let norm: Vec<Normalized> = if normalized {
        paths
            .par_iter()
            .map(|p| {
                Some(
                    diffoscope_lite::normalize::normalized_digest(p, &opts).map_err(|e| {
                        eprintln!("repro: no normalized digest for {}: {e:#}", p.display());
                        format!("{e:#}")
                    }),
                )
            })
            .collect()
    } else {
        vec![None; paths.len()]
    };
    let mut out = Digests::new();
    let raw = diffoscope_lite::sha256_files(&paths);
    for ((name, digest), n) in names.into_iter().zip(raw).zip(norm) {
        let d = match digest {
            Ok(d) => d,
            // A build may leave files its own user cannot read; that is
            // reported, and the other artifacts are still compared.
            Err(diffoscope_lite::Error::Read { source, .. })
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                unreadable.push(Unreadable {
                    path: name,
                    error: source.to_string(),
                });
                continue;
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("hashing artifact {name} in {}", dir.display()))
            }
        };
        let (normalized, normalized_error) = match n {
            None => (None, None),
            Some(Ok(n)) => (Some(n), None),
            Some(Err(e)) => (None, Some(e)),
        };
        let mut fired: Vec<String> = normalized
            .as_ref()
            .map(|n| n.fired.iter().map(|f| f.rule.id().to_string()).collect())
            .unwrap_or_default();
        fired.sort();
        fired.dedup();
        out.insert(
            name,
            FileDigest {
                sha256: d.hex(),
                size: d.size,
                normalized: normalized.map(|n| n.hex()),
                normalized_error,
                fired,
            },
        );
    }
    Ok(Collected {
        digests: out,
        unreadable,
    })
}

/// Regular files of the run's tree whose relative path matches the globs:
/// in an overlay, the matching files the build wrote plus the pristine
/// tree's matching files it left in place.
fn find_artifacts(
    cfg: &BuildConfig,
    pristine: Option<&Pristine>,
    tree: &RunTree,
) -> Result<(Vec<String>, Vec<Unreadable>)> {
    match tree {
        RunTree::Dir(dir) => scan_artifacts(cfg, dir),
        RunTree::Overlay { lower, upper } => {
            let (found, unreadable) = scan_artifacts(cfg, upper)?;
            let mut names: Vec<String> = found
                .into_iter()
                .filter(|n| {
                    matches!(
                        sandbox::lookup(lower, upper, Path::new(n)),
                        sandbox::Layer::Upper(_)
                    )
                })
                .collect();
            for n in pristine.iter().flat_map(|p| &p.artifacts) {
                if let sandbox::Layer::Lower(p) = sandbox::lookup(lower, upper, Path::new(n)) {
                    if p.is_file() {
                        names.push(n.clone());
                    }
                }
            }
            names.sort();
            names.dedup();
            Ok((names, unreadable))
        }
    }
}

/// Regular files under `dir` whose relative path matches the globs; a
/// directory that cannot be read is an error naming it.
pub fn find_artifacts_in(cfg: &BuildConfig, dir: &Path) -> Result<Vec<String>> {
    let (names, unreadable) = scan_artifacts(cfg, dir)?;
    match unreadable.first() {
        None => Ok(names),
        Some(u) => bail!("cannot read {} in {}: {}", u.path, dir.display(), u.error),
    }
}

/// Regular files under `dir` whose relative path matches the globs, and
/// the directories that could not be read (the walk goes on past them).
fn scan_artifacts(cfg: &BuildConfig, dir: &Path) -> Result<(Vec<String>, Vec<Unreadable>)> {
    let mut names = Vec::new();
    let mut unreadable = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => match (e.path(), e.io_error()) {
                (Some(path), Some(io)) => {
                    unreadable.push(Unreadable {
                        path: path.strip_prefix(dir).unwrap_or(path).display().to_string(),
                        error: io.to_string(),
                    });
                    continue;
                }
                // Not an I/O error of one entry (walkdir's loop check,
                // which a walk that follows no link never trips): still
                // named by the entry it stopped at.
                _ => return Err(WalkError::new(dir, e).into()),
            },
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .with_context(|| format!("{} is outside {}", entry.path().display(), dir.display()))?;
        if !cfg.artifact_matcher.is_match(rel) {
            continue;
        }
        let Some(name) = rel.to_str() else {
            bail!(
                "artifact {:?} has a name that is not valid UTF-8; rename it (reports record names as UTF-8)",
                entry.path()
            );
        };
        names.push(name.to_string());
    }
    Ok((names, unreadable))
}
