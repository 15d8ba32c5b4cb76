//! Generic rebuilds: any artifact whose source the user has, rebuilt with
//! the user's command (`npm pack`, `cargo package`, `git archive`,
//! `dpkg-buildpackage`…) and compared like a PyPI wheel, with the
//! stabilizers chosen by the artifact's content.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::run::{
    file_name, read_recipe, timed, BuildInputs, FileRecord, RebuildOptions, RebuildReport,
};
use super::{Ecosystem, Failure, Stage};

/// A generic rebuild, as given and as recorded.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Generic {
    /// The published artifact to compare with.
    pub upstream: PathBuf,
    /// The source: a directory, or a tarball (unpacked first).
    pub source: PathBuf,
    /// The build command, run from the root of the source.
    pub command: Vec<String>,
    /// Glob (relative to the source root) of the artifact the command
    /// makes; default `**/<upstream file name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    /// SOURCE_DATE_EPOCH; default: what `repro build` would choose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_date_epoch: Option<i64>,
}

/// The fields a `--recipe` file may set for a generic rebuild.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GenericOverrides {
    /// See [`Generic::command`].
    pub command: Option<Vec<String>>,
    /// See [`Generic::artifact`].
    pub artifact: Option<String>,
    /// See [`Generic::source_date_epoch`].
    pub source_date_epoch: Option<i64>,
}

impl GenericOverrides {
    /// Parses a recipe file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Applies the overrides.
    pub fn apply(&self, g: &mut Generic) {
        if let Some(c) = &self.command {
            g.command = c.clone();
        }
        if let Some(a) = &self.artifact {
            g.artifact = Some(a.clone());
        }
        if let Some(e) = self.source_date_epoch {
            g.source_date_epoch = Some(e);
        }
    }
}

/// Checks the inputs and makes the source tree the build runs from: the
/// directory itself, or the tarball unpacked under `out/source` (its one
/// top-level directory, when it has one, as `npm pack` and `git archive
/// --prefix` make them). Returns the recipe and that tree.
pub fn prepare(g: &Generic, out: &Path) -> Result<(Generic, PathBuf), Failure> {
    let fail = |m: String| Failure::new(Stage::Fetch, m);
    let meta = std::fs::metadata(&g.upstream)
        .map_err(|e| fail(format!("upstream {}: {e}", g.upstream.display())))?;
    if !meta.is_file() {
        return Err(fail(format!(
            "upstream {} is not a regular file",
            g.upstream.display()
        )));
    }
    if g.command.is_empty() {
        return Err(fail(
            "no build command: give it after --, e.g. -- npm pack".into(),
        ));
    }
    let smeta = std::fs::metadata(&g.source)
        .map_err(|e| fail(format!("source {}: {e}", g.source.display())))?;
    let abs = |p: &Path| {
        p.canonicalize()
            .map_err(|e| fail(format!("{}: {e}", p.display())))
    };
    let mut rec = g.clone();
    rec.upstream = abs(&g.upstream)?;
    rec.source = abs(&g.source)?;
    if smeta.is_dir() {
        let dir = rec.source.clone();
        return Ok((rec, dir));
    }
    let dest = out.join("source");
    fs_err::create_dir_all(&dest).map_err(|e| fail(e.to_string()))?;
    // tar(1) is on every machine repro runs on and knows every compression
    // the source may use; it never writes outside `dest` with these flags
    // (GNU tar refuses `..` members and strips leading `/`).
    let status = Command::new("tar")
        .arg("-xf")
        .arg(&rec.source)
        .arg("-C")
        .arg(&dest)
        .args([
            "--no-same-owner",
            "--no-same-permissions",
            "--delay-directory-restore",
        ])
        .status()
        .map_err(|e| {
            fail(format!(
                "cannot run tar to unpack {}: {e}",
                rec.source.display()
            ))
        })?;
    if !status.success() {
        return Err(fail(format!(
            "tar could not unpack {} ({status})",
            rec.source.display()
        )));
    }
    let entries: Vec<_> = fs_err::read_dir(&dest)
        .map_err(|e| fail(e.to_string()))?
        .filter_map(Result::ok)
        .collect();
    let tree = match entries.as_slice() {
        [one] if one.file_type().is_ok_and(|t| t.is_dir()) => one.path(),
        _ => dest,
    };
    Ok((rec, tree))
}

impl Ecosystem for Generic {
    /// Reads the recipe overrides, checks the upstream file and unpacks
    /// the source; the build is the user's command.
    fn prepare(
        &self,
        opts: &RebuildOptions,
        r: &mut RebuildReport,
        _progress: &dyn Fn(&str),
    ) -> Result<BuildInputs, Failure> {
        let out = &opts.out;
        let g = self;
        let (g, tree) = timed(r, Stage::Fetch, |r| {
            let mut g = g.clone();
            if let Some(path) = &opts.recipe {
                read_recipe(path, GenericOverrides::parse)?.apply(&mut g);
            }
            let (g, tree) = prepare(&g, out)?;
            r.upstream = Some(
                FileRecord::of(&g.upstream).map_err(|f| Failure::new(Stage::Fetch, f.message))?,
            );
            if g.source.is_file() {
                r.source = Some(
                    FileRecord::of(&g.source).map_err(|f| Failure::new(Stage::Fetch, f.message))?,
                );
            }
            r.generic = Some(g.clone());
            Ok((g, tree))
        })?;
        let glob = g
            .artifact
            .clone()
            .unwrap_or_else(|| format!("**/{}", file_name(&g.upstream)));
        Ok(BuildInputs {
            upstream: g.upstream.clone(),
            source: tree,
            command: g.command.clone(),
            artifact_glob: glob,
            epoch: g.source_date_epoch,
            env: Vec::new(),
            ro_bind: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(dir: &Path) -> Generic {
        Generic {
            upstream: dir.join("up.tgz"),
            source: dir.join("src"),
            command: vec!["true".into()],
            artifact: None,
            source_date_epoch: None,
        }
    }

    #[test]
    fn bad_inputs_name_the_file() {
        let d = tempfile::tempdir().unwrap();
        let err = prepare(&g(d.path()), d.path()).unwrap_err();
        assert_eq!(err.stage, Stage::Fetch);
        assert!(err.message.contains("up.tgz"), "{err}");
        std::fs::write(d.path().join("up.tgz"), b"x").unwrap();
        let err = prepare(&g(d.path()), d.path()).unwrap_err();
        assert!(err.message.contains("src"), "{err}");
        std::fs::create_dir(d.path().join("src")).unwrap();
        let mut none = g(d.path());
        none.command.clear();
        assert!(prepare(&none, d.path())
            .unwrap_err()
            .message
            .contains("no build command"));
        let (_, tree) = prepare(&g(d.path()), d.path()).unwrap();
        assert_eq!(tree, d.path().join("src").canonicalize().unwrap());
    }

    #[test]
    fn a_tarball_with_one_top_directory_builds_from_it() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("up.tgz"), b"x").unwrap();
        std::fs::create_dir_all(d.path().join("mk/pkg-1.0")).unwrap();
        std::fs::write(d.path().join("mk/pkg-1.0/a"), b"a").unwrap();
        let st = Command::new("tar")
            .args(["-czf"])
            .arg(d.path().join("src.tar.gz"))
            .arg("-C")
            .arg(d.path().join("mk"))
            .arg("pkg-1.0")
            .status()
            .unwrap();
        assert!(st.success());
        let mut x = g(d.path());
        x.source = d.path().join("src.tar.gz");
        let out = d.path().join("out");
        let (_, tree) = prepare(&x, &out).unwrap();
        assert_eq!(tree, out.join("source/pkg-1.0"));
        assert_eq!(std::fs::read(tree.join("a")).unwrap(), b"a");
    }

    #[test]
    fn overrides() {
        let o = GenericOverrides::parse("command = [\"npm\", \"pack\"]\nsource_date_epoch = 5\n")
            .unwrap();
        let mut x = g(Path::new("/x"));
        o.apply(&mut x);
        assert_eq!(x.command, ["npm", "pack"]);
        assert_eq!(x.source_date_epoch, Some(5));
        assert!(GenericOverrides::parse("comand = []").is_err());
    }
}
