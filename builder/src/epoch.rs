//! Choosing the SOURCE_DATE_EPOCH every run is pinned to.
//!
//! Order of precedence (the reproducible-builds.org convention): the flag,
//! then repro.toml, then the commit time of HEAD when the source is a git
//! checkout, then the newest mtime in the source tree. The value and its
//! origin are recorded so a reader of the report can redo the build.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};

/// Where the pinned SOURCE_DATE_EPOCH came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// `--source-date-epoch`.
    Flag,
    /// `source_date_epoch` in repro.toml.
    #[serde(rename = "repro.toml")]
    ConfigFile,
    /// The committer time of the git checkout's HEAD.
    GitHead,
    /// The newest modification time of any file in the source tree.
    NewestMtime,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Flag => "--source-date-epoch",
            Origin::ConfigFile => "repro.toml",
            Origin::GitHead => "git HEAD commit time",
            Origin::NewestMtime => "newest mtime in the source tree",
        })
    }
}

/// The pinned SOURCE_DATE_EPOCH.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epoch {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub value: i64,
    /// Where it came from.
    pub origin: Origin,
    /// The commit or file it was read from, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Picks the epoch; `out` is skipped when scanning mtimes (it may sit inside
/// the source tree).
pub fn resolve(source: &Path, out: &Path, flag: Option<i64>, file: Option<i64>) -> Result<Epoch> {
    for (value, origin) in [(flag, Origin::Flag), (file, Origin::ConfigFile)] {
        if let Some(value) = value {
            if value < 0 {
                bail!("{origin}: SOURCE_DATE_EPOCH {value} is negative");
            }
            return Ok(Epoch {
                value,
                origin,
                detail: None,
            });
        }
    }
    if let Some((value, commit)) = git_head_time(source) {
        return Ok(Epoch {
            value,
            origin: Origin::GitHead,
            detail: Some(commit),
        });
    }
    newest_mtime(source, out)
}

/// HEAD's committer time and hash, or None when `source` is not inside a git
/// checkout (or git is not installed).
fn git_head_time(source: &Path) -> Option<(i64, String)> {
    // The tree's own .git/config is not trusted: nothing it sets may make
    // this host-side git run a program (signature checks, fsmonitor, pager).
    let out = Command::new("git")
        .arg("-C")
        .arg(source)
        .args([
            "-c",
            "log.showSignature=false",
            "-c",
            "core.fsmonitor=false",
            "-c",
            "gpg.program=false",
            "--no-pager",
            "log",
            "-1",
            "--no-show-signature",
            "--format=%ct %H",
            "HEAD",
        ])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let (secs, commit) = text.trim().split_once(' ')?;
    Some((secs.parse().ok()?, commit.to_string()))
}

fn newest_mtime(source: &Path, out: &Path) -> Result<Epoch> {
    let mut newest: Option<(i64, String)> = None;
    for item in crate::fsutil::walk_source(source, out, &[".git"]) {
        let crate::fsutil::SourceEntry { entry, rel } = item?;
        if entry.file_type().is_dir() {
            continue;
        }
        let meta = entry
            .metadata()
            .with_context(|| format!("reading metadata of {}", entry.path().display()))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        if newest.as_ref().is_none_or(|(n, _)| mtime > *n) {
            newest = Some((mtime, rel.display().to_string()));
        }
    }
    match newest {
        Some((value, file)) => Ok(Epoch {
            value,
            origin: Origin::NewestMtime,
            detail: Some(file),
        }),
        None => bail!(
            "cannot choose SOURCE_DATE_EPOCH: {} is not a git checkout and has no files; \
             pass --source-date-epoch",
            source.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn flag_beats_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = resolve(dir.path(), dir.path(), Some(5), Some(6)).unwrap();
        assert_eq!((e.value, e.origin), (5, Origin::Flag));
        let e = resolve(dir.path(), dir.path(), None, Some(6)).unwrap();
        assert_eq!((e.value, e.origin), (6, Origin::ConfigFile));
        assert!(resolve(dir.path(), dir.path(), Some(-1), None).is_err());
    }

    #[test]
    fn newest_mtime_skips_the_out_dir() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path();
        let set = |p: &Path, secs: u64| {
            std::fs::write(p, b"x").unwrap();
            let f = std::fs::File::options().write(true).open(p).unwrap();
            f.set_modified(UNIX_EPOCH + Duration::from_secs(secs))
                .unwrap();
        };
        std::fs::create_dir(src.join("sub")).unwrap();
        std::fs::create_dir(src.join("out")).unwrap();
        set(&src.join("a"), 1000);
        set(&src.join("sub/b"), 2000);
        set(&src.join("out/c"), 9000);
        let e = newest_mtime(src, &src.join("out")).unwrap();
        assert_eq!(e.value, 2000);
        assert_eq!(e.origin, Origin::NewestMtime);
        assert_eq!(e.detail.as_deref(), Some("sub/b"));
    }

    #[test]
    fn empty_tree_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = newest_mtime(dir.path(), &dir.path().join("x")).unwrap_err();
        assert!(err.to_string().contains("--source-date-epoch"), "{err}");
    }
}
