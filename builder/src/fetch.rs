//! The fetch step: dependencies fetched once, with network, before the
//! hermetic runs, which then see them read-only and offline.
//!
//! Real builds need dependencies (a pip wheelhouse, an npm cache, `cargo
//! vendor`), and the runs have no network. `[fetch] command` runs once in a
//! copy of the source, in the sandbox with the host network, and writes the
//! directories named in `outputs`; every run then sees those directories at
//! the same relative paths, read-only. Every fetched file is hashed and
//! recorded (report, provenance, `<out>/fetch.lock`), and `--fetch-lock`
//! checks them against a lock before any build runs: dependency
//! verification of the build's inputs.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use sandbox::variations::VariationSet;
use sandbox::Isolation;
use serde::{Deserialize, Serialize};

use crate::config::BuildConfig;
use crate::fsutil;
use crate::runner;

/// The lock `repro build` writes after fetching, in `sha256sum` format.
pub const LOCK_FILE: &str = "fetch.lock";

/// The validated fetch step.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Program and arguments.
    pub command: Vec<String>,
    /// Directories it writes, relative to the source tree.
    pub outputs: Vec<PathBuf>,
    /// A lock to check the fetched files against.
    pub lock: Option<PathBuf>,
}

/// `[fetch]` as written in repro.toml: command, outputs, lock.
pub type FileSection = (Option<Vec<String>>, Option<Vec<PathBuf>>, Option<PathBuf>);

impl FetchConfig {
    /// Merges the flags over repro.toml's `[fetch]`; None when there is no
    /// fetch command. A relative lock in repro.toml is relative to the
    /// source tree, one given as a flag to the current directory.
    pub fn merge(
        source: &Path,
        flag_command: Option<String>,
        flag_outputs: Vec<PathBuf>,
        flag_lock: Option<PathBuf>,
        file: Option<FileSection>,
    ) -> Result<Option<Self>> {
        let (file_command, file_outputs, file_lock) = file.unwrap_or_default();
        let command = match flag_command {
            Some(cmd) if cmd.trim().is_empty() => bail!("--fetch: the command is empty"),
            Some(cmd) => Some(vec!["sh".to_string(), "-c".to_string(), cmd]),
            None => file_command.filter(|c| !c.is_empty()),
        };
        let outputs = if flag_outputs.is_empty() {
            file_outputs.unwrap_or_default()
        } else {
            flag_outputs
        };
        // Which one the lock came from, for the error that names it.
        let lock_origin = if flag_lock.is_some() {
            "--fetch-lock".to_string()
        } else {
            format!(
                "[fetch] lock in {}",
                source.join(crate::config::CONFIG_FILE).display()
            )
        };
        let lock = match flag_lock {
            Some(l) => Some(
                std::path::absolute(&l).with_context(|| format!("--fetch-lock {}", l.display()))?,
            ),
            None => file_lock.map(|l| source.join(l)),
        };
        let Some(command) = command else {
            if !outputs.is_empty() || lock.is_some() {
                bail!(
                    "fetch outputs or a fetch lock are given but no fetch command: pass --fetch CMD \
                     or set [fetch] command in {}",
                    source.join(crate::config::CONFIG_FILE).display()
                );
            }
            return Ok(None);
        };
        if outputs.is_empty() {
            bail!(
                "the fetch step needs the directories it writes: pass --fetch-output DIR or set \
                 [fetch] outputs = [\"deps\"] (relative to the source tree) in {}",
                source.join(crate::config::CONFIG_FILE).display()
            );
        }
        for o in &outputs {
            check_output(o)?;
        }
        if let Some(l) = &lock {
            if !l.is_file() {
                bail!("fetch lock {}: no such file ({lock_origin})", l.display());
            }
        }
        Ok(Some(Self {
            command,
            outputs,
            lock,
        }))
    }
}

/// A fetch output must be a UTF-8 path relative to the source tree, of
/// plain components (no `..`, no `.`): the fetch step's writes stay inside.
pub(crate) fn check_output(o: &Path) -> Result<()> {
    let normal = o.components().all(|c| matches!(c, Component::Normal(_)));
    if o.as_os_str().is_empty() || !normal || o.to_str().is_none() {
        bail!(
            "fetch output {:?}: must be a UTF-8 path relative to the source tree, \
             without `..` or `.`",
            o
        );
    }
    Ok(())
}

/// One fetched file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FetchedFile {
    /// Path relative to the source tree (`deps/six-1.16.0-py2.py3-none-any.whl`).
    pub path: String,
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// What the fetch step did, for report.json and the provenance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchRecord {
    /// The command.
    pub command: Vec<String>,
    /// The directories it wrote, relative to the source tree.
    pub outputs: Vec<String>,
    /// Its log, relative to `--out`.
    pub log: String,
    /// SHA-256 of the log.
    pub log_sha256: String,
    /// Wall time.
    pub duration_ms: u64,
    /// Every fetched regular file, sorted by path.
    pub files: Vec<FetchedFile>,
    /// Symbolic links among them: path → target (not followed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub links: BTreeMap<String, String>,
    /// The lock the files were checked against, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_checked: Option<String>,
    /// The lock written for them, relative to `--out`.
    pub lock_written: String,
}

/// Where the fetched tree lives in `--out`.
pub fn fetched_tree(cfg: &BuildConfig) -> PathBuf {
    cfg.out.join("fetch").join("src")
}

/// Runs the fetch step, hashes what it wrote, writes `<out>/fetch.lock`
/// and checks the user's lock.
pub fn run(cfg: &BuildConfig, fetch: &FetchConfig) -> Result<FetchRecord> {
    let tree = fetched_tree(cfg);
    fsutil::copy_tree(&cfg.source, &tree, &cfg.out)
        .context("copying the source tree for the fetch step")?;
    let log = cfg.out.join("logs").join("fetch.log");
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let (build_dir, home) = runner::control_paths(cfg, &tree, &cfg.out.join("fetch").join("home"))?;
    let argv = fetch.command.iter().map(Into::into).collect();
    let mut spec = runner::run_spec(
        cfg,
        &VariationSet::empty(),
        argv,
        &tree,
        &build_dir,
        &home,
        &log,
    )?;
    // The one step with network: it is what the step is for.
    spec.network = true;
    eprintln!(
        "repro: fetch: {} (with network)",
        crate::progress::printable(&fetch.command.join(" "))
    );
    let (outcome, elapsed) = runner::watched(cfg, "fetch", &spec)?;
    if !outcome.success() {
        bail!(
            "the fetch command {outcome} (full log: {})\n--- last 20 lines ---\n{}",
            log.display(),
            crate::progress::printable(&fsutil::tail_lines(&log, 20))
        );
    }
    let (files, links) = hash_outputs(&tree, &fetch.outputs)?;
    let lock_text: String = files
        .iter()
        .map(|f| format!("{}  {}\n", f.sha256, f.path))
        .collect();
    fsio::write(&cfg.out.join(LOCK_FILE), lock_text.as_bytes())?;
    eprintln!(
        "repro: fetch: {} files in {} ({:.1}s); their digests are in {}",
        files.len(),
        fetch
            .outputs
            .iter()
            .map(|o| o.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        elapsed.as_secs_f64(),
        cfg.out.join(LOCK_FILE).display()
    );
    if let Some(lock) = &fetch.lock {
        check_lock(lock, &files)?;
        eprintln!("repro: fetch: every file matches {}", lock.display());
    }
    Ok(FetchRecord {
        command: fetch.command.clone(),
        outputs: fetch
            .outputs
            .iter()
            .map(|o| o.display().to_string())
            .collect(),
        log: log
            .strip_prefix(&cfg.out)
            .unwrap_or(&log)
            .display()
            .to_string(),
        log_sha256: diffoscope_lite::sha256_file(&log)
            .with_context(|| format!("hashing {}", log.display()))?
            .hex(),
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        files,
        links,
        lock_checked: fetch.lock.as_ref().map(|l| l.display().to_string()),
        lock_written: LOCK_FILE.to_string(),
    })
}

/// Hashes (in parallel) every regular file under the outputs of `tree`;
/// symbolic links are listed with their targets, never followed.
fn hash_outputs(
    tree: &Path,
    outputs: &[PathBuf],
) -> Result<(Vec<FetchedFile>, BTreeMap<String, String>)> {
    let mut names = Vec::new();
    let mut links = BTreeMap::new();
    for o in outputs {
        let dir = tree.join(o);
        let meta = std::fs::symlink_metadata(&dir);
        if !meta.as_ref().is_ok_and(|m| m.is_dir()) {
            bail!(
                "the fetch step did not create the directory {} it names as an output (in {})",
                o.display(),
                tree.display()
            );
        }
        for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
            let entry = entry.map_err(|e| crate::fsutil::WalkError::new(&dir, e))?;
            let rel = entry.path().strip_prefix(tree).with_context(|| {
                format!("{} is outside {}", entry.path().display(), tree.display())
            })?;
            let Some(name) = rel.to_str() else {
                bail!(
                    "fetched file {:?} has a name that is not valid UTF-8",
                    entry.path()
                );
            };
            if entry.file_type().is_symlink() {
                let target = std::fs::read_link(entry.path())
                    .with_context(|| format!("reading link {}", entry.path().display()))?;
                links.insert(name.to_string(), target.display().to_string());
            } else if entry.file_type().is_file() {
                names.push(name.to_string());
            }
        }
    }
    let paths: Vec<PathBuf> = names.iter().map(|n| tree.join(n)).collect();
    let mut files = Vec::with_capacity(names.len());
    for (name, digest) in names.into_iter().zip(diffoscope_lite::sha256_files(&paths)) {
        let d = digest.with_context(|| format!("hashing fetched {name}"))?;
        files.push(FetchedFile {
            path: name,
            sha256: d.hex(),
            size: d.size,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((files, links))
}

/// Checks `files` against the lock at `lock` (`SHA256  PATH` lines, `#`
/// comments): same set of paths, same digests. Every problem is listed.
fn check_lock(lock: &Path, files: &[FetchedFile]) -> Result<()> {
    let text =
        std::fs::read_to_string(lock).with_context(|| format!("reading {}", lock.display()))?;
    let mut want = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = line.split_once(' ').and_then(|(h, p)| {
            let p = p.strip_prefix(' ').or_else(|| p.strip_prefix('*'))?;
            (h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| (p.to_string(), h.to_ascii_lowercase()))
        });
        let Some((path, hash)) = parsed else {
            bail!(
                "{}:{}: expected `SHA256  PATH` (as `sha256sum` and {LOCK_FILE} write it), found {line:?}",
                lock.display(),
                n + 1
            );
        };
        want.insert(path, hash);
    }
    let mut problems = Vec::new();
    let got: BTreeMap<&str, &str> = files
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    for (path, hash) in &want {
        match got.get(path.as_str()) {
            None => problems.push(format!("{path}: in the lock, not fetched")),
            Some(h) if h != hash => {
                problems.push(format!("{path}: fetched sha256 {h}, the lock says {hash}"))
            }
            Some(_) => {}
        }
    }
    for path in got.keys().filter(|p| !want.contains_key(**p)) {
        problems.push(format!("{path}: fetched, not in the lock"));
    }
    if !problems.is_empty() {
        bail!(
            "the fetched dependencies do not match {} ({} problem{}); no build was run:\n  {}",
            lock.display(),
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            problems.join("\n  ")
        );
    }
    Ok(())
}

/// Shows the fetched outputs to a run whose build tree is `host_dir`:
/// read-only binds in a sandbox (each on an empty directory made here),
/// copies without one.
pub fn attach(cfg: &BuildConfig, host_dir: &Path, spec: &mut sandbox::RunSpec) -> Result<()> {
    let Some(fetch) = &cfg.fetch else {
        return Ok(());
    };
    let tree = fetched_tree(cfg);
    for o in &fetch.outputs {
        let target = host_dir.join(o);
        match cfg.isolation {
            Isolation::Namespaces => {
                std::fs::create_dir_all(&target)
                    .with_context(|| format!("creating {}", target.display()))?;
                spec.build_binds.push((tree.join(o), o.clone()));
            }
            Isolation::None => {
                if target.exists() {
                    fsutil::remove_tree(&target)?;
                }
                fsutil::copy_tree(&tree.join(o), &target, &cfg.out)
                    .with_context(|| format!("copying fetched {} into the run", o.display()))?;
            }
        }
    }
    Ok(())
}

/// Words in a failed build's log that mean a name lookup or connection
/// failed for want of network.
const OFFLINE_SIGNS: &[&str] = &[
    "Temporary failure in name resolution",
    "Name or service not known",
    "Could not resolve host",
    "getaddrinfo ENOTFOUND",
    "getaddrinfo EAI_AGAIN",
    "EAI_AGAIN",
    "failed to lookup address information",
    "No address associated with hostname",
    "Network is unreachable",
    "nodename nor servname provided",
];

/// A hint for a failed run whose log shows it wanted the network.
pub fn offline_hint(log_tail: &str) -> Option<&'static str> {
    OFFLINE_SIGNS
        .iter()
        .any(|s| log_tail.contains(s))
        .then_some(
            "hint: the build looked for the network, and the sandbox has none (only loopback). \
         Fetch dependencies first: [fetch] command and outputs in repro.toml, or --fetch CMD \
         --fetch-output DIR (see the README's recipes); the runs then see them offline.",
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, c: char) -> FetchedFile {
        FetchedFile {
            path: path.into(),
            sha256: c.to_string().repeat(64),
            size: 1,
        }
    }

    #[test]
    fn locks_are_checked_both_ways_with_every_problem_listed() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("lock");
        std::fs::write(
            &lock,
            format!(
                "# comment\n{}  deps/a.whl\n{} *deps/b.whl\n{}  deps/gone.whl\n",
                "a".repeat(64),
                "b".repeat(64),
                "c".repeat(64)
            ),
        )
        .unwrap();
        let ok = [
            file("deps/a.whl", 'a'),
            file("deps/b.whl", 'b'),
            file("deps/gone.whl", 'c'),
        ];
        check_lock(&lock, &ok).unwrap();
        let bad = [
            file("deps/a.whl", 'f'),
            file("deps/b.whl", 'b'),
            file("deps/new.whl", 'd'),
        ];
        let err = check_lock(&lock, &bad).unwrap_err().to_string();
        assert!(err.contains("3 problems"), "{err}");
        assert!(
            err.contains(&format!("deps/a.whl: fetched sha256 {}", "f".repeat(64))),
            "{err}"
        );
        assert!(
            err.contains("deps/gone.whl: in the lock, not fetched"),
            "{err}"
        );
        assert!(
            err.contains("deps/new.whl: fetched, not in the lock"),
            "{err}"
        );
        std::fs::write(&lock, "not a lock line\n").unwrap();
        let err = check_lock(&lock, &ok).unwrap_err().to_string();
        assert!(err.contains(":1: expected `SHA256  PATH`"), "{err}");
    }

    #[test]
    fn outputs_must_stay_inside_the_tree() {
        let src = Path::new("/src");
        let merge = |outputs: &[&str]| {
            FetchConfig::merge(
                src,
                Some("true".into()),
                outputs.iter().map(PathBuf::from).collect(),
                None,
                None,
            )
        };
        assert!(merge(&["deps"]).unwrap().is_some());
        for bad in ["../x", "/abs", ".", "a/../b", ""] {
            assert!(merge(&[bad]).is_err(), "{bad}");
        }
        assert!(merge(&[]).is_err());
        // Outputs without a command are a mistake, not silence.
        let err = FetchConfig::merge(src, None, vec!["deps".into()], None, None).unwrap_err();
        assert!(err.to_string().contains("no fetch command"), "{err}");
        assert!(FetchConfig::merge(src, None, vec![], None, None)
            .unwrap()
            .is_none());
    }

    #[test]
    fn offline_failures_get_the_hint() {
        assert!(offline_hint("pip._vendor...: Temporary failure in name resolution").is_some());
        assert!(offline_hint("npm ERR! getaddrinfo ENOTFOUND registry.npmjs.org").is_some());
        assert!(offline_hint("error: linker `cc` not found").is_none());
    }
}
