//! Choosing the SOURCE_DATE_EPOCH every run is pinned to.
//!
//! Order of precedence (the reproducible-builds.org convention): the flag,
//! then repro.toml, then the commit time of HEAD when the source is a git
//! checkout, then the release's own metadata (an unpacked sdist's
//! `PKG-INFO` time, the newest `debian/changelog` entry), then the newest
//! mtime among the source's own files. The value and its origin are
//! recorded so a reader of the report can redo the build.
//!
//! The mtime scan skips what is not the source: repro's own files
//! (`repro.toml`), the output directory and fetched dependencies, so
//! writing a repro.toml or fetching a wheelhouse never moves the epoch.

use std::ffi::OsStr;
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
    /// The modification time of an unpacked sdist's `PKG-INFO` (written
    /// when the sdist was made).
    PkgInfo,
    /// The date of the newest `debian/changelog` entry.
    DebianChangelog,
    /// The newest modification time of any file in the source tree.
    NewestMtime,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Flag => "--source-date-epoch",
            Origin::ConfigFile => "repro.toml",
            Origin::GitHead => "git HEAD commit time",
            Origin::PkgInfo => "sdist PKG-INFO time",
            Origin::DebianChangelog => "debian/changelog date",
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

/// Picks the epoch; `skip` lists directories the mtime scan leaves out
/// (the output directory, fetched dependencies; they may sit inside the
/// source tree).
pub fn resolve(
    source: &Path,
    skip: &[&Path],
    flag: Option<i64>,
    file: Option<i64>,
) -> Result<Epoch> {
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
    if let Some((value, commit)) = git_head_time(source)? {
        return Ok(Epoch {
            value,
            origin: Origin::GitHead,
            detail: Some(commit),
        });
    }
    if let Some(e) = release_metadata(source)? {
        return Ok(e);
    }
    newest_mtime(source, skip)
}

/// True when `source` is inside a git work tree (a `.git` directory or
/// file in it or an ancestor).
fn in_git_checkout(source: &Path) -> bool {
    source.ancestors().any(|a| a.join(".git").exists())
}

/// HEAD's committer time and hash; None when `source` is not inside a git
/// checkout, or the checkout has no commit yet. A checkout git cannot read
/// (a repository owned by another user, a damaged one, no git installed)
/// is an error: silently falling back to file times would give another
/// epoch on another machine.
fn git_head_time(source: &Path) -> Result<Option<(i64, String)>> {
    git_head_time_with(OsStr::new("git"), source)
}

/// [`git_head_time`] with the git program named.
fn git_head_time_with(git: &OsStr, source: &Path) -> Result<Option<(i64, String)>> {
    if !in_git_checkout(source) {
        return Ok(None);
    }
    // A fresh `git init` has no HEAD to date: `rev-parse --verify --quiet`
    // says so with exit code 1 and nothing else; any other failure is
    // git's (exit 128) and is reported below with what git said.
    let head = run_git(
        git,
        source,
        &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
    )?;
    if head.status.code() == Some(1) && head.stderr.is_empty() {
        return Ok(None);
    }
    let out = if head.status.success() {
        run_git(
            git,
            source,
            &[
                "log",
                "-1",
                "--no-show-signature",
                "--format=%ct %H",
                "HEAD",
            ],
        )?
    } else {
        head
    };
    if !out.status.success() {
        bail!(
            "{} is a git checkout, but git cannot read its HEAD ({}): {}\nhint: fix the checkout \
             (for a repository owned by another user: git config --global --add safe.directory {}), \
             or pass --source-date-epoch",
            source.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            source.display()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let parsed = text
        .trim()
        .split_once(' ')
        .and_then(|(secs, commit)| Some((secs.parse().ok()?, commit.to_string())));
    match parsed {
        Some(p) => Ok(Some(p)),
        None => bail!("git printed an unexpected HEAD date {:?}", text.trim()),
    }
}

/// Runs `git -C source ARGS` the way the epoch may read a checkout.
fn run_git(git: &OsStr, source: &Path, args: &[&str]) -> Result<std::process::Output> {
    // The tree's own .git/config is not trusted: nothing it sets may make
    // this host-side git run a program (signature checks, fsmonitor, pager).
    Command::new(git)
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
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::null())
        .output()
        .with_context(|| {
            format!(
                "{} is a git checkout, but running {} to date its HEAD failed \
                 (install git, or pass --source-date-epoch)",
                source.display(),
                git.to_string_lossy()
            )
        })
}

/// The release's own date: the mtime of an unpacked sdist's `PKG-INFO`
/// (written by the sdist builder, kept by tar), else the newest entry of
/// `debian/changelog`.
fn release_metadata(source: &Path) -> Result<Option<Epoch>> {
    let pkg_info = source.join("PKG-INFO");
    if source.join("setup.py").is_file() || source.join("pyproject.toml").is_file() {
        if let Ok(meta) = std::fs::metadata(&pkg_info) {
            if let Some(secs) = mtime_secs(&meta) {
                return Ok(Some(Epoch {
                    value: secs,
                    origin: Origin::PkgInfo,
                    detail: Some("PKG-INFO".into()),
                }));
            }
        }
    }
    let changelog = source.join("debian/changelog");
    match std::fs::read_to_string(&changelog) {
        Ok(text) => match changelog_date(&text) {
            Some(value) => Ok(Some(Epoch {
                value,
                origin: Origin::DebianChangelog,
                detail: Some("debian/changelog".into()),
            })),
            None => bail!(
                "{}: no entry with a trailer line ` -- NAME <EMAIL>  DATE` could be dated; \
                 fix it or pass --source-date-epoch",
                changelog.display()
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", changelog.display())),
    }
}

/// The date of the first (newest) entry's trailer line, RFC 2822 as
/// dpkg-parsechangelog reads it: ` -- Name <mail>  Thu, 01 Feb 2024 12:00:00 +0100`.
fn changelog_date(text: &str) -> Option<i64> {
    let line = text.lines().find(|l| l.starts_with(" -- "))?;
    let date = line.rsplit_once(">  ").map(|(_, d)| d.trim())?;
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day padding:none] [month repr:short] [year] [hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
    );
    time::OffsetDateTime::parse(date, &fmt)
        .ok()
        .map(|t| t.unix_timestamp())
}

fn mtime_secs(meta: &std::fs::Metadata) -> Option<i64> {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_secs()).ok())
}

/// Files repro itself reads or writes in a source tree: never the source's
/// date.
const OWN_FILES: &[&str] = &[crate::config::CONFIG_FILE];

fn newest_mtime(source: &Path, skip: &[&Path]) -> Result<Epoch> {
    let mut newest: Option<(i64, String)> = None;
    // The walk prunes one directory (not even descended into): the first
    // of `skip`, the output directory; the rest are filtered below.
    let pruned = skip.first().copied().unwrap_or(Path::new(""));
    for item in crate::fsutil::walk_source(source, pruned, &[".git"]) {
        let crate::fsutil::SourceEntry { entry, rel } = item?;
        if entry.file_type().is_dir()
            || skip.iter().any(|s| entry.path().starts_with(s))
            || OWN_FILES.iter().any(|f| rel == Path::new(f))
        {
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
            "cannot choose SOURCE_DATE_EPOCH: {} is not a git checkout and has no source files \
             to date it by (repro.toml, the output and fetched dependencies do not count); \
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
        let e = resolve(dir.path(), &[dir.path()], Some(5), Some(6)).unwrap();
        assert_eq!((e.value, e.origin), (5, Origin::Flag));
        let e = resolve(dir.path(), &[dir.path()], None, Some(6)).unwrap();
        assert_eq!((e.value, e.origin), (6, Origin::ConfigFile));
        assert!(resolve(dir.path(), &[dir.path()], Some(-1), None).is_err());
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
        std::fs::create_dir(src.join("deps")).unwrap();
        set(&src.join("deps/w.whl"), 9500);
        set(&src.join("repro.toml"), 9900);
        let e = newest_mtime(src, &[&src.join("out"), &src.join("deps")]).unwrap();
        assert_eq!(e.value, 2000);
        assert_eq!(e.origin, Origin::NewestMtime);
        assert_eq!(e.detail.as_deref(), Some("sub/b"));
    }

    #[test]
    fn empty_tree_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = newest_mtime(dir.path(), &[&dir.path().join("x")]).unwrap_err();
        assert!(err.to_string().contains("--source-date-epoch"), "{err}");
    }

    #[test]
    fn release_metadata_dates_sdists_and_debian_sources() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path();
        std::fs::write(src.join("pyproject.toml"), "").unwrap();
        std::fs::write(src.join("PKG-INFO"), "Metadata-Version: 2.1\n").unwrap();
        let f = std::fs::File::options()
            .write(true)
            .open(src.join("PKG-INFO"))
            .unwrap();
        f.set_modified(UNIX_EPOCH + Duration::from_secs(1_600_000_000))
            .unwrap();
        // A newer file (a repro.toml written today) does not move it.
        std::fs::write(src.join("repro.toml"), "").unwrap();
        let e = resolve(src, &[], None, None).unwrap();
        assert_eq!((e.value, e.origin), (1_600_000_000, Origin::PkgInfo));

        let deb = tempfile::tempdir().unwrap();
        std::fs::create_dir(deb.path().join("debian")).unwrap();
        std::fs::write(
            deb.path().join("debian/changelog"),
            "hello (2.10-3) unstable; urgency=medium\n\n  * x\n\n -- A B <a@b.org>  Sun, 2 Jan 2022 10:00:00 +0100\n\n\
             hello (2.10-2) unstable; urgency=medium\n\n  * y\n\n -- A B <a@b.org>  Sat, 1 Jan 2000 00:00:00 +0000\n",
        )
        .unwrap();
        let e = resolve(deb.path(), &[], None, None).unwrap();
        assert_eq!(
            (e.value, e.origin),
            (1_641_114_000, Origin::DebianChangelog)
        );
        std::fs::write(deb.path().join("debian/changelog"), "garbage\n").unwrap();
        let err = resolve(deb.path(), &[], None, None).unwrap_err();
        assert!(err.to_string().contains("--source-date-epoch"), "{err}");
    }

    #[test]
    fn an_unreadable_git_checkout_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join("a"), "x").unwrap();
        // git is there (the build needs it) but this .git is empty.
        if std::process::Command::new("git")
            .arg("--version")
            .output()
            .is_err()
        {
            return;
        }
        let err = resolve(dir.path(), &[], None, None).unwrap_err();
        assert!(
            err.to_string().contains("git cannot read its HEAD"),
            "{err:#}"
        );
    }

    #[test]
    fn a_checkout_without_git_is_an_error_not_file_times() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join("a"), "x").unwrap();
        let err = git_head_time_with(OsStr::new("repro-no-such-git"), dir.path()).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("repro-no-such-git"), "{text}");
        assert!(text.contains("--source-date-epoch"), "{text}");
        // The cause stays in the chain: the program was not found.
        let io = err.chain().find_map(|e| e.downcast_ref::<std::io::Error>());
        assert_eq!(
            io.map(std::io::Error::kind),
            Some(std::io::ErrorKind::NotFound)
        );
    }

    #[test]
    fn a_checkout_without_commits_is_dated_by_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let init = std::process::Command::new("git")
            .args(["init", "-q"])
            .arg(dir.path())
            .status();
        if !init.is_ok_and(|s| s.success()) {
            return; // no git here: the test above covers that
        }
        std::fs::write(dir.path().join("a"), "x").unwrap();
        assert_eq!(git_head_time(dir.path()).unwrap(), None);
        let e = resolve(dir.path(), &[], None, None).unwrap();
        assert_eq!(e.origin, Origin::NewestMtime);
    }
}
