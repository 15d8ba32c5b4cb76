//! PyPI: fetch a release's sdist and pure wheel, infer how the wheel was
//! built, download the build requirements as the index stood when the
//! wheel was uploaded, and lay out a source tree whose build script makes
//! the wheel offline.
//!
//! The build frontend is pip, run from its own wheel (`python3
//! pip-X-py3-none-any.whl/pip`, which pip supports for bootstrapping): the
//! newest pip on the index unless the recipe pins one. It needs no pip or
//! venv on the host, and its version is recorded like any other input.

use std::path::{Path, PathBuf};
use std::process::Command;

use diffoscope_lite::listing::Listing;

use super::index::{self, FetchError, Index, IndexFile};
use super::recipe::{self, release_numbers, Overrides, Recipe, WheelFacts};
use super::run::{
    file_name, indent, read_recipe, timed, write_recipe, BuildInputs, FileRecord, RebuildOptions,
    RebuildReport,
};
use super::{Ecosystem, Failure, Stage};

/// `pypi:NAME==VERSION`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Project name as given.
    pub name: String,
    /// Version as given.
    pub version: String,
}

impl Spec {
    /// Parses `pypi:NAME==VERSION` (the `pypi:` prefix is required: other
    /// ecosystems will have their own).
    pub fn parse(s: &str) -> Result<Spec, String> {
        let rest = s
            .strip_prefix("pypi:")
            .ok_or_else(|| format!("{s:?}: expected pypi:NAME==VERSION"))?;
        let (name, version) = rest
            .split_once("==")
            .ok_or_else(|| format!("{s:?}: expected pypi:NAME==VERSION (an exact version)"))?;
        let ok_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        let ok_version = !version.is_empty()
            && version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '!' | '-' | '_'));
        if !ok_name || !ok_version {
            return Err(format!("{s:?}: not a valid project name and version"));
        }
        Ok(Spec {
            name: name.to_owned(),
            version: version.to_owned(),
        })
    }
}

/// What the index serves for the release, downloaded and hash-checked.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// The wheel that is the rebuild's target.
    pub wheel: PathBuf,
    /// Its index record (URL, SHA-256, upload time).
    pub wheel_file: IndexFile,
    /// The sdist it is rebuilt from.
    pub sdist: PathBuf,
    /// Its index record.
    pub sdist_file: IndexFile,
}

fn fetch_failure(e: FetchError) -> Failure {
    let hint = match &e {
        FetchError::NoProject { .. } | FetchError::NoVersion { .. } => "check the name and version",
        FetchError::HashMismatch { .. } => {
            "the file changed in transit or on the index: try again, and report it if it persists"
        }
        FetchError::Python { .. } => "repro rebuild needs python3: pass --python PATH",
        _ => "check the network and the index URL (--index-url)",
    };
    Failure::new(Stage::Fetch, e.to_string()).hint(hint)
}

/// Downloads the sdist and the target wheel of `spec` into `dir`.
pub fn fetch(
    index: &Index,
    spec: &Spec,
    dir: &Path,
    platform_wheel: bool,
) -> Result<Upstream, Failure> {
    let project = index.project(&spec.name, dir).map_err(fetch_failure)?;
    let wheels = index::wheels_of(&project.files, &spec.name, &spec.version);
    let sdist = index::sdist_of(&project.files, &spec.name, &spec.version);
    if wheels.is_empty() && sdist.is_none() {
        let newest = project
            .versions
            .iter()
            .rev()
            .take(5)
            .cloned()
            .collect::<Vec<_>>();
        return Err(fetch_failure(FetchError::NoVersion {
            project: spec.name.clone(),
            version: spec.version.clone(),
            index: index.url.clone(),
            newest: if newest.is_empty() {
                "none listed".into()
            } else {
                newest.join(", ")
            },
        }));
    }
    let Some(sdist) = sdist else {
        return Err(Failure::new(
            Stage::Fetch,
            format!("{}=={}: the index has no sdist for this version, so there is no source to rebuild from", spec.name, spec.version),
        )
        .hint("rebuild from the project's repository with generic mode: repro rebuild --upstream WHEEL --source DIR -- CMD…"));
    };
    let pure: Vec<&IndexFile> = wheels
        .iter()
        .copied()
        .filter(|w| recipe::wheel_tags(&w.filename).is_some_and(|t| t.is_pure()))
        .collect();
    let wheel = match (pure.as_slice(), wheels.first()) {
        ([w, ..], _) => *w,
        ([], Some(w)) if platform_wheel => *w,
        ([], Some(_)) => {
            let names: Vec<&str> = wheels.iter().map(|w| w.filename.as_str()).collect();
            return Err(Failure::new(
                Stage::Fetch,
                format!(
                    "{}=={} has only platform wheels ({}); repro rebuilds pure-Python wheels",
                    spec.name,
                    spec.version,
                    names.join(", ")
                ),
            )
            .hint("pass --platform-wheel to try the first one anyway (compiled code rarely rebuilds bit for bit)"));
        }
        ([], None) => {
            return Err(Failure::new(
                Stage::Fetch,
                format!("{}=={}: the index has no wheel for this version: nothing to compare a rebuild with", spec.name, spec.version),
            ))
        }
    };
    let wheel_path = index.download(wheel, dir).map_err(fetch_failure)?;
    let sdist_path = index.download(sdist, dir).map_err(fetch_failure)?;
    Ok(Upstream {
        wheel: wheel_path,
        wheel_file: wheel.clone(),
        sdist: sdist_path,
        sdist_file: sdist.clone(),
    })
}

/// Largest WHEEL / METADATA / pyproject.toml read (they are a few KiB).
const MAX_TEXT: u64 = 4 << 20;

fn recipe_failure(what: &Path, e: impl std::fmt::Display) -> Failure {
    Failure::new(Stage::Recipe, format!("{}: {e}", what.display()))
}

/// What the upstream wheel says about its own build.
pub fn wheel_facts(wheel: &Path, opts: &diffoscope_lite::Options) -> Result<WheelFacts, Failure> {
    let listing = Listing::open(wheel, opts).map_err(|e| recipe_failure(wheel, e))?;
    // `NAME-VER.dist-info/WHEEL` at the top level, not a vendored copy.
    let dist_info = |file: &'static str| {
        move |p: &str| {
            p.split_once('/')
                .is_some_and(|(dir, rest)| dir.ends_with(".dist-info") && rest == file)
        }
    };
    let text = |file: &'static str| -> Result<String, Failure> {
        let Some(e) = listing.find(dist_info(file)) else {
            return Ok(String::new());
        };
        let bytes = listing
            .read(e, MAX_TEXT)
            .map_err(|e| recipe_failure(wheel, e))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    let file_name = wheel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(WheelFacts {
        file_name,
        wheel_file: text("WHEEL")?,
        metadata: text("METADATA")?,
        member_times: listing
            .entries()
            .iter()
            .filter_map(|e| e.meta.mtime.map(|t| (e.path.clone(), t)))
            .collect(),
    })
}

/// The sdist's top-level `pyproject.toml`, if it has one.
pub fn sdist_pyproject(
    sdist: &Path,
    opts: &diffoscope_lite::Options,
) -> Result<Option<String>, Failure> {
    let listing = Listing::open(sdist, opts).map_err(|e| recipe_failure(sdist, e))?;
    let top = |p: &str| {
        let p = p.strip_prefix("./").unwrap_or(p);
        p.split_once('/')
            .is_some_and(|(_, rest)| rest == "pyproject.toml")
    };
    let Some(e) = listing.find(top) else {
        return Ok(None);
    };
    let bytes = listing
        .read(e, MAX_TEXT)
        .map_err(|e| recipe_failure(sdist, e))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| recipe_failure(sdist, "pyproject.toml is not UTF-8"))
}

/// The pip wheel that is the frontend: `pinned` (`26.3`) or the newest
/// release on the index, downloaded into `dir`.
pub fn frontend(
    index: &Index,
    dir: &Path,
    pinned: Option<&str>,
) -> Result<(PathBuf, String), Failure> {
    let fail = |e: FetchError| {
        Failure::new(
            Stage::Dependencies,
            format!("fetching pip, the build frontend: {e}"),
        )
    };
    let project = index.project("pip", dir).map_err(fail)?;
    let version = match pinned {
        Some(v) => v.to_owned(),
        None => project
            .versions
            .iter()
            .filter_map(|v| release_numbers(v).map(|key| (key, v)))
            .max()
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                Failure::new(
                    Stage::Dependencies,
                    "the index lists no release of pip".to_owned(),
                )
            })?,
    };
    let wheel = index::wheels_of(&project.files, "pip", &version)
        .into_iter()
        .find(|w| recipe::wheel_tags(&w.filename).is_some_and(|t| t.is_pure()))
        .ok_or_else(|| {
            Failure::new(
                Stage::Dependencies,
                format!("the index has no wheel of pip {version}"),
            )
        })?;
    let path = index.download(wheel, dir).map_err(fail)?;
    Ok((path, version))
}

/// Upper bounds on the recipe's unpinned backend companions from the era
/// of the backend version (see [`super::recipe::era_bound`]), read from the
/// index's upload times. A companion the era cannot bound is left free.
pub fn era_bounds(index: &Index, recipe: &Recipe, scratch: &Path) -> Result<Vec<String>, Failure> {
    let companions = super::recipe::unpinned_companions(recipe);
    let Some(version) = recipe.backend_version.as_deref() else {
        return Ok(Vec::new());
    };
    if companions.is_empty() {
        return Ok(Vec::new());
    }
    let fail = |e: FetchError| Failure::new(Stage::Dependencies, e.to_string());
    let backend = index.project(&recipe.backend, scratch).map_err(fail)?;
    let mut bounds = Vec::new();
    for c in companions {
        let companion = index.project(&c, scratch).map_err(fail)?;
        bounds.extend(super::recipe::era_bound(
            &recipe.backend,
            version,
            &backend.files,
            &c,
            &companion.files,
            recipe.uploaded_prior_to.as_deref(),
        ));
    }
    Ok(bounds)
}

/// One downloaded build requirement.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Pinned {
    /// Wheel file name.
    pub file: String,
    /// Its SHA-256.
    pub sha256: String,
}

/// Downloads `recipe.requires` and their dependencies, wheels only, as the
/// index stood at `recipe.uploaded_prior_to`, into `wheelhouse`. pip's
/// HTTP cache is `cache` (the rebuild cache's `pip`), shared by every
/// rebuild and batch package: a common backend is downloaded once.
pub fn resolve(
    python: &Path,
    pip: &Path,
    index: &Index,
    recipe: &Recipe,
    wheelhouse: &Path,
    cache: &Path,
    log: &Path,
) -> Result<Vec<Pinned>, Failure> {
    let fail = |m: String| Failure::new(Stage::Dependencies, m);
    fs_err::create_dir_all(wheelhouse).map_err(|e| fail(e.to_string()))?;
    if recipe.requires.is_empty() {
        // An in-tree backend with no requirements: nothing to download.
        return Ok(Vec::new());
    }
    let mut cmd = Command::new(python);
    cmd.arg(pip.join("pip"))
        .args([
            "download",
            "--isolated",
            "--disable-pip-version-check",
            "--no-input",
        ])
        .args(["--progress-bar", "off", "--only-binary", ":all:"])
        .args(["--index-url", &index.url])
        .arg("--cache-dir")
        .arg(cache)
        .arg("--dest")
        .arg(wheelhouse);
    if let Some(t) = &recipe.uploaded_prior_to {
        cmd.args(["--uploaded-prior-to", t]);
    }
    cmd.args(recipe.resolved_requirements());
    let out = cmd
        .output()
        .map_err(|e| fail(format!("cannot run {}: {e}", python.display())))?;
    let mut text = out.stdout.clone();
    text.extend_from_slice(&out.stderr);
    let _ = fsio::write(log, &text);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = last[last.len().saturating_sub(3)..].join(" | ");
        let when = recipe
            .uploaded_prior_to
            .as_deref()
            .map(|t| format!(" as of {t}"))
            .unwrap_or_default();
        let hint = if stderr.contains("(from versions: none)") {
            // pip saw no wheel at all: none exists, or only an sdist, which
            // would have to be built on the host to be a build requirement.
            "a requirement has no wheel on the index (at that date): it may not exist there, or exist only as an sdist, which repro does not build outside the sandbox; pin another in a --recipe file (requires = [...])"
        } else {
            "pin them yourself in a --recipe file (requires = [...]), drop the companions' era bounds with era_bounds = [], or clear the date with uploaded_prior_to = \"\""
        };
        return Err(fail(format!(
            "the build requirements [{}] cannot be resolved{when}: {tail} (log: {})",
            recipe.resolved_requirements().join(", "),
            log.display()
        ))
        .hint(hint));
    }
    let mut pinned = Vec::new();
    for entry in fs_err::read_dir(wheelhouse).map_err(|e| fail(e.to_string()))? {
        let entry = entry.map_err(|e| fail(e.to_string()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let sha256 = index::sha256_of(&entry.path())
            .map_err(|e| fail(format!("{}: {e}", entry.path().display())))?;
        pinned.push(Pinned { file: name, sha256 });
    }
    pinned.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(pinned)
}

/// The script run in the sandbox, from the root of the source tree that
/// [`layout`] writes: unpack the sdist (tar keeps its files' times, which
/// a backend that ignores SOURCE_DATE_EPOCH puts in the wheel), install
/// the wheelhouse into a private directory, then build the unpacked tree
/// into `dist/` without build isolation, offline.
pub fn build_script(
    sdist: &str,
    export_source_date_epoch: bool,
    config_settings: &[String],
) -> String {
    let settings: String = config_settings
        .iter()
        .map(|c| format!(" -C {}", crate::toolchain::shell_quote(c)))
        .collect();
    let unset = if export_source_date_epoch {
        ""
    } else {
        "# The upstream wheel was built without it (see recipe.toml).\nunset SOURCE_DATE_EPOCH\n"
    };
    let unpack = if sdist.ends_with(".zip") {
        r#"python3 -I -m zipfile -e "sdist/$sdist" .sdist"#
    } else {
        r#"tar -xf "sdist/$sdist" -C .sdist --no-same-owner"#
    };
    format!(
        r#"#!/bin/sh
# Written by repro rebuild. Offline: everything comes from ./wheelhouse.
set -eu
sdist="{sdist}"
# The frontend, seen read-only where repro keeps it (REPRO_PIP).
pip() {{ python3 "${{REPRO_PIP:?set by repro rebuild}}/pip" "$@"; }}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore
{unset}rm -rf .build-env .sdist dist
mkdir .sdist
{unpack}
set -- .sdist/*
if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "repro rebuild: $sdist does not hold exactly one top-level directory" >&2
    exit 1
fi
mkdir .build-env
if grep -q . requirements.in; then
    pip install --isolated --no-index --no-cache-dir --no-compile --find-links wheelhouse --target "$PWD/.build-env" -r requirements.in
fi
PYTHONPATH="$PWD/.build-env" pip wheel --isolated --no-index --no-cache-dir --no-deps --no-build-isolation{settings} --wheel-dir dist "$1"
"#
    )
}

/// Unpacks the frontend's wheel (SHA-256 `sha256`) into a directory of
/// `cache` named after it, once, and compiles it: pip run from its zip
/// compiles every module on every start (seconds per rebuild); compiled
/// once with unchecked-hash pycs, which stay valid wherever the tree is
/// seen, it starts in a fraction. Concurrent rebuilds race safely: each
/// unpacks into a temporary directory and the first rename wins.
pub fn unpack_frontend(
    python: &Path,
    wheel: &Path,
    sha256: &str,
    cache: &Path,
) -> Result<PathBuf, Failure> {
    let fail = |m: String| Failure::new(Stage::Dependencies, m);
    let stem = wheel
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pip".into());
    let dir = cache.join(format!("{stem}-{}", &sha256[..sha256.len().min(16)]));
    if dir.join("pip").is_dir() {
        return Ok(dir);
    }
    let tmp = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(cache)
        .map_err(|e| fail(format!("{}: {e}", cache.display())))?;
    let run = |args: &[&std::ffi::OsStr], what: &str| -> Result<(), Failure> {
        let out = Command::new(python)
            .args(args)
            .output()
            .map_err(|e| fail(format!("cannot run {}: {e}", python.display())))?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(fail(format!(
            "{what} {}: {}",
            wheel.display(),
            stderr.lines().last().unwrap_or("failed")
        )))
    };
    let t = tmp.path().as_os_str();
    run(
        &[
            "-I".as_ref(),
            "-m".as_ref(),
            "zipfile".as_ref(),
            "-e".as_ref(),
            wheel.as_os_str(),
            t,
        ],
        "unpacking",
    )?;
    run(
        &[
            "-I".as_ref(),
            "-m".as_ref(),
            "compileall".as_ref(),
            "-q".as_ref(),
            "--invalidation-mode".as_ref(),
            "unchecked-hash".as_ref(),
            t,
        ],
        "compiling",
    )?;
    let tmp = tmp.keep();
    if let Err(e) = std::fs::rename(&tmp, &dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        // Another rebuild got there first.
        if !dir.join("pip").is_dir() {
            return Err(fail(format!("{}: {e}", dir.display())));
        }
    }
    Ok(dir)
}

/// The version of `python`, checked against the wheel's Requires-Python
/// with the frontend's own specifier code (PEP 440 is pip's to interpret).
pub fn check_python(
    python: &Path,
    pip_dir: &Path,
    requires_python: Option<&str>,
) -> Result<String, Failure> {
    let fail = |m: String| Failure::new(Stage::Dependencies, m);
    const CHECK: &str = r#"
import platform, sys
sys.path.insert(0, sys.argv[1])
from pip._vendor.packaging.specifiers import SpecifierSet
v = platform.python_version()
spec = sys.argv[2]
print(v)
sys.exit(0 if not spec or SpecifierSet(spec).contains(v, prereleases=True) else 3)
"#;
    let out = Command::new(python)
        .args(["-I", "-c", CHECK])
        .arg(pip_dir)
        .arg(requires_python.unwrap_or(""))
        .output()
        .map_err(|e| fail(format!("cannot run {}: {e}", python.display())))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    match out.status.code() {
        Some(0) => Ok(version),
        Some(3) => Err(fail(format!(
            "{} is Python {version}, but the wheel requires Python {}",
            python.display(),
            requires_python.unwrap_or_default()
        ))
        .hint("pass --python PATH of an interpreter that satisfies it")),
        _ => Err(fail(format!(
            "{} could not check Requires-Python {:?}: {}",
            python.display(),
            requires_python.unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("failed")
        ))),
    }
}

/// Lays out the source tree the sandboxed build runs in: the sdist, the
/// wheelhouse, pip, the requirements and the script.
pub fn layout(
    dir: &Path,
    upstream: &Upstream,
    recipe: &Recipe,
    wheelhouse: &Path,
) -> std::io::Result<()> {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    for sub in ["sdist", "wheelhouse"] {
        fs_err::create_dir_all(dir.join(sub))?;
    }
    fs_err::copy(
        &upstream.sdist,
        dir.join("sdist").join(name(&upstream.sdist)),
    )?;
    for entry in fs_err::read_dir(wheelhouse)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            fs_err::copy(entry.path(), dir.join("wheelhouse").join(entry.file_name()))?;
        }
    }
    let mut reqs = recipe.resolved_requirements().join("\n");
    reqs.push('\n');
    fs_err::write(dir.join("requirements.in"), reqs)?;
    fs_err::write(
        dir.join("build.sh"),
        build_script(
            &name(&upstream.sdist),
            recipe.export_source_date_epoch,
            &recipe.config_settings,
        ),
    )?;
    Ok(())
}

impl Ecosystem for Spec {
    /// Fetches the release, infers the recipe, downloads the build
    /// requirements as of the upload and lays out the tree `build.sh` builds.
    fn prepare(
        &self,
        opts: &RebuildOptions,
        r: &mut RebuildReport,
        progress: &dyn Fn(&str),
    ) -> Result<BuildInputs, Failure> {
        let out = &opts.out;
        let index = Index {
            url: opts.index_url.trim_end_matches('/').to_owned(),
            python: opts.python.clone(),
        };
        let up_dir = out.join("upstream");
        let upstream = timed(r, Stage::Fetch, |r| {
            fs_err::create_dir_all(&up_dir)
                .map_err(|e| Failure::new(Stage::Fetch, e.to_string()))?;
            progress(&format!(
                "fetching {}=={} from {}",
                self.name, self.version, index.url
            ));
            let up = fetch(&index, self, &up_dir, opts.platform_wheel)?;
            r.upstream = Some(FileRecord::indexed(
                &up.wheel_file,
                up.wheel_file.sha256().unwrap_or_default().to_owned(),
            ));
            r.source = Some(FileRecord::indexed(
                &up.sdist_file,
                up.sdist_file.sha256().unwrap_or_default().to_owned(),
            ));
            Ok(up)
        })?;
        let mut recipe = timed(r, Stage::Recipe, |r| {
            let facts = wheel_facts(&upstream.wheel, &opts.diff)?;
            let pyproject = sdist_pyproject(&upstream.sdist, &opts.diff)?;
            let overrides = opts
                .recipe
                .as_deref()
                .map(|path| read_recipe(path, Overrides::parse))
                .transpose()?;
            let mut recipe = super::recipe::infer(
                &self.name,
                &self.version,
                &facts,
                &file_name(&upstream.sdist),
                pyproject.as_deref(),
                upstream.wheel_file.upload_time.as_deref(),
                overrides.as_ref(),
            )
            .map_err(|e| {
                Failure::new(
                    Stage::Recipe,
                    format!("{}: {e}", upstream.wheel_file.filename),
                )
            })?;
            if let Some(o) = &overrides {
                r.overridden = o.apply(&mut recipe);
            }
            let text = write_recipe(out, &recipe)?;
            progress(&format!(
                "recipe ({}):\n{}",
                out.join("recipe.toml").display(),
                indent(&text)
            ));
            r.recipe = Some(recipe.clone());
            Ok(recipe)
        })?;
        let source_dir = timed(r, Stage::Dependencies, |r| {
            // Bounding the backend's companions reads their release
            // history from the index: part of resolving, after the
            // overrides (a companion they pin needs no bound).
            if !r.overridden.contains(&"era_bounds") {
                recipe.era_bounds = era_bounds(&index, &recipe, &up_dir)?;
                if !recipe.era_bounds.is_empty() {
                    write_recipe(out, &recipe)?;
                    progress(&format!(
                        "bounded by the era of {} {}: {} (added to recipe.toml)",
                        recipe.backend,
                        recipe.backend_version.as_deref().unwrap_or_default(),
                        recipe.era_bounds.join(", ")
                    ));
                    r.recipe = Some(recipe.clone());
                }
            }
            let tools = opts.cache.join("frontends");
            fs_err::create_dir_all(&tools)
                .map_err(|e| Failure::new(Stage::Dependencies, e.to_string()))?;
            let (pip_wheel, _version) = frontend(&index, &tools, None)?;
            let frontend = FileRecord::of(&pip_wheel)
                .map_err(|f| Failure::new(Stage::Dependencies, f.message))?;
            let pip = unpack_frontend(&opts.python, &pip_wheel, &frontend.sha256, &tools)?;
            r.frontend = Some(frontend);
            r.python = Some(check_python(
                &opts.python,
                &pip,
                recipe.requires_python.as_deref(),
            )?);
            let wheelhouse = out.join("wheelhouse");
            // A wheelhouse of an earlier recipe must not leak into this one.
            if wheelhouse.exists() {
                fs_err::remove_dir_all(&wheelhouse)
                    .map_err(|e| Failure::new(Stage::Dependencies, e.to_string()))?;
            }
            progress(&format!(
                "downloading build requirements{}: {}",
                recipe
                    .uploaded_prior_to
                    .as_deref()
                    .map(|t| format!(" as of {t}"))
                    .unwrap_or_default(),
                recipe.resolved_requirements().join(", ")
            ));
            r.wheelhouse = resolve(
                &opts.python,
                &pip,
                &index,
                &recipe,
                &wheelhouse,
                &opts.cache.join("pip"),
                &out.join("dependencies.log"),
            )?;
            let source_dir = out.join("source");
            layout(&source_dir, &upstream, &recipe, &wheelhouse).map_err(|e| {
                Failure::new(
                    Stage::Dependencies,
                    format!("laying out {}: {e}", source_dir.display()),
                )
            })?;
            Ok((source_dir, pip))
        })?;
        let (source_dir, pip) = source_dir;
        Ok(BuildInputs {
            upstream: upstream.wheel.clone(),
            source: source_dir,
            command: vec!["sh".to_owned(), "build.sh".to_owned()],
            artifact_glob: "dist/*.whl".to_owned(),
            epoch: Some(recipe.source_date_epoch),
            // The frontend is shared by every rebuild: seen read-only
            // where it is cached, not copied into each tree.
            env: vec![format!("REPRO_PIP={}", pip.display())],
            ro_bind: vec![pip],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(
            Spec::parse("pypi:attrs==26.1.0").unwrap(),
            Spec {
                name: "attrs".into(),
                version: "26.1.0".into()
            }
        );
        for bad in [
            "attrs==1",
            "pypi:attrs",
            "pypi:attrs>=1",
            "pypi:==1",
            "pypi:a b==1",
            "pypi:a==1;rm",
        ] {
            assert!(Spec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn releases_order_by_number() {
        let mut v = ["9.0.3", "26.3", "26.0.1", "26.4b1", "10.0"]
            .iter()
            .filter_map(|v| release_numbers(v).map(|k| (k, *v)))
            .collect::<Vec<_>>();
        v.sort();
        assert_eq!(v.last().map(|x| x.1), Some("26.3"));
        assert_eq!(release_numbers("26.4b1"), None);
    }

    #[test]
    fn the_script_quotes_what_it_runs() {
        let s = build_script("attrs-26.1.0.tar.gz", true, &["--build-option=it's".into()]);
        assert!(
            s.contains(r"--no-build-isolation -C '--build-option=it'\''s' --wheel-dir"),
            "{s}"
        );
        assert!(
            s.contains("python3 \"${REPRO_PIP:?set by repro rebuild}/pip\""),
            "{s}"
        );
        assert!(s.contains("sdist=\"attrs-26.1.0.tar.gz\""), "{s}");
        assert!(s.contains("--no-index"), "{s}");
    }
}
