//! How to rebuild one PyPI wheel, as plain data: inferred from the upstream
//! wheel and sdist ([`infer`]), overridden field by field from a TOML file
//! ([`Overrides`]), printed and recorded as TOML.
//!
//! Inference reads only what the publisher's own tools wrote: the wheel's
//! `WHEEL` file names the backend that made it (`Generator:`), its member
//! times say which SOURCE_DATE_EPOCH was in force, its tags and METADATA say
//! which Python; the sdist's `pyproject.toml` lists the other build
//! requirements. Nothing here touches the network, so tests check it on
//! strings.

use serde::{Deserialize, Serialize};

/// Everything `repro rebuild` needs to rebuild one wheel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Project name as the index spells it.
    pub package: String,
    /// Version to rebuild.
    pub version: String,
    /// File name of the upstream wheel that is the target.
    pub wheel: String,
    /// File name of the sdist the wheel is rebuilt from.
    pub sdist: String,
    /// The build backend's distribution name (`hatchling`, `flit_core`, …).
    pub backend: String,
    /// The backend version the upstream wheel names, when it names one.
    pub backend_version: Option<String>,
    /// The upstream `Generator:` line, verbatim.
    pub generator: String,
    /// Build requirements handed to the resolver (PEP 508), the backend pinned.
    pub requires: Vec<String>,
    /// Upper bounds on the backend's unpinned companions, from the era of
    /// the backend version the wheel names (see [`era_bound`]): resolved
    /// together with `requires`. Empty when there is nothing to bound.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub era_bounds: Vec<String>,
    /// Only distributions uploaded before this instant (RFC 3339) are
    /// considered when resolving `requires`: the index as the publisher saw it.
    pub uploaded_prior_to: Option<String>,
    /// PEP 517 config settings for the backend, as pip's `-C KEY=VALUE`
    /// (`--build-option=--universal` for a setuptools `py2.py3` wheel).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_settings: Vec<String>,
    /// SOURCE_DATE_EPOCH for the build.
    pub source_date_epoch: i64,
    /// Where `source_date_epoch` came from, for the reader of the recipe.
    pub source_date_epoch_from: String,
    /// Whether the build sees SOURCE_DATE_EPOCH. A wheel whose modules
    /// carry different times was built without it: its backend took each
    /// file's time from the sdist's files, which the rebuild unpacks with
    /// their times, so it must not see the variable either.
    pub export_source_date_epoch: bool,
    /// The wheel's `Requires-Python`, if any.
    pub requires_python: Option<String>,
    /// Python tags of the wheel (`py3`, `py2.py3`).
    pub python_tag: String,
}

impl Recipe {
    /// What the resolver is given: `requires` and the era bounds.
    pub fn resolved_requirements(&self) -> Vec<String> {
        self.requires
            .iter()
            .chain(&self.era_bounds)
            .cloned()
            .collect()
    }
}

/// A partial recipe (`--recipe FILE`): each field given replaces the
/// inferred one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// See [`Recipe::wheel`].
    pub wheel: Option<String>,
    /// See [`Recipe::sdist`].
    pub sdist: Option<String>,
    /// See [`Recipe::backend`].
    pub backend: Option<String>,
    /// See [`Recipe::backend_version`].
    pub backend_version: Option<String>,
    /// See [`Recipe::requires`].
    pub requires: Option<Vec<String>>,
    /// See [`Recipe::era_bounds`]; `[]` turns the bounds off.
    pub era_bounds: Option<Vec<String>>,
    /// See [`Recipe::uploaded_prior_to`]; an empty string turns it off.
    pub uploaded_prior_to: Option<String>,
    /// See [`Recipe::config_settings`].
    pub config_settings: Option<Vec<String>>,
    /// See [`Recipe::source_date_epoch`].
    pub source_date_epoch: Option<i64>,
    /// See [`Recipe::export_source_date_epoch`].
    pub export_source_date_epoch: Option<bool>,
}

impl Overrides {
    /// Parses a recipe override file's text.
    pub fn parse(text: &str) -> Result<Self, RecipeError> {
        toml::from_str(text).map_err(|e| RecipeError::Overrides(e.to_string()))
    }

    /// Applies the overrides; which fields changed, for the log.
    pub fn apply(&self, r: &mut Recipe) -> Vec<&'static str> {
        let mut changed = Vec::new();
        macro_rules! set {
            ($field:ident) => {
                if let Some(v) = &self.$field {
                    r.$field = v.clone();
                    changed.push(stringify!($field));
                }
            };
        }
        set!(wheel);
        set!(sdist);
        set!(backend);
        set!(requires);
        set!(era_bounds);
        set!(config_settings);
        set!(source_date_epoch);
        set!(export_source_date_epoch);
        if let Some(v) = &self.backend_version {
            r.backend_version = Some(v.clone());
            changed.push("backend_version");
        }
        if let Some(v) = &self.uploaded_prior_to {
            r.uploaded_prior_to = (!v.is_empty()).then(|| v.clone());
            changed.push("uploaded_prior_to");
        }
        changed
    }
}

/// Why no recipe could be inferred.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecipeError {
    /// The wheel has no `*.dist-info/WHEEL` or it has no `Generator:`.
    #[error("the upstream wheel's WHEEL file has no Generator line: the backend that built it is unknown (give it with --recipe: backend = \"NAME\", backend_version = \"X.Y\")")]
    NoGenerator,
    /// A generator repro does not know how to reproduce.
    #[error("unknown build backend in the upstream wheel: \"Generator: {0}\" (known: hatchling, flit, setuptools, bdist_wheel, poetry-core, pdm-backend, uv; give it with --recipe: backend = \"NAME\", backend_version = \"X.Y\")")]
    UnknownGenerator(String),
    /// The sdist's pyproject.toml is not valid TOML.
    #[error("the sdist's pyproject.toml is not valid TOML: {0}")]
    Pyproject(String),
    /// The `--recipe` file is not a valid recipe.
    #[error("invalid recipe file: {0}")]
    Overrides(String),
}

/// What the upstream wheel says about how it was built.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WheelFacts {
    /// File name of the wheel.
    pub file_name: String,
    /// Text of `*.dist-info/WHEEL`.
    pub wheel_file: String,
    /// Text of `*.dist-info/METADATA`.
    pub metadata: String,
    /// Member paths and modification times, seconds since the epoch (zip
    /// times read as UTC, as wheel builders that honour SOURCE_DATE_EPOCH
    /// write them).
    pub member_times: Vec<(String, i64)>,
}

/// The build backend a `Generator:` line names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// Distribution to install (`flit_core` for `flit`).
    pub name: String,
    /// Version the line names.
    pub version: Option<String>,
    /// Requirements the backend needs beside itself (setuptools for the
    /// old `bdist_wheel` generator, which is the `wheel` package's).
    pub companions: Vec<String>,
}

/// Reads a `Generator:` value (`hatchling 1.25.0`, `bdist_wheel (0.43.0)`).
pub fn backend_of(generator: &str) -> Result<Backend, RecipeError> {
    let g = generator.trim();
    let (tool, rest) = g.split_once(' ').unwrap_or((g, ""));
    let version = rest
        .trim()
        .trim_start_matches('(')
        .split([')', ' '])
        .next()
        .filter(|v| {
            !v.is_empty()
                && v.chars().all(|c| {
                    c.is_ascii_alphanumeric() || c == '.' || c == '+' || c == '-' || c == '!'
                })
        })
        .map(str::to_owned);
    let backend = |name: &str, companions: &[&str]| Backend {
        name: name.to_owned(),
        version: version.clone(),
        companions: companions.iter().map(|s| (*s).to_owned()).collect(),
    };
    Ok(match tool.to_ascii_lowercase().as_str() {
        "hatchling" => backend("hatchling", &[]),
        "flit" | "flit_core" => backend("flit_core", &[]),
        "setuptools" => backend("setuptools", &[]),
        // The `wheel` package's bdist_wheel command, driven by setuptools.
        "bdist_wheel" => backend("wheel", &["setuptools"]),
        "poetry-core" | "poetry" => backend("poetry-core", &[]),
        "pdm-backend" | "pdm" => backend("pdm-backend", &[]),
        "uv" | "uv_build" => backend("uv_build", &[]),
        _ => return Err(RecipeError::UnknownGenerator(g.to_owned())),
    })
}

/// The value of the first `Key: value` header line named `key` in an
/// RFC 822-style text (WHEEL, METADATA).
pub fn header<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    for line in text.lines() {
        if line.is_empty() {
            break; // the body starts
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case(key) {
                return Some(v.trim());
            }
        }
    }
    None
}

/// PEP 503 normalized project name: `Flit-Core` and `flit_core` are one.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The project name a PEP 508 requirement starts with.
pub fn requirement_name(req: &str) -> String {
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    normalize_name(&req[..end])
}

/// An sdist's `[build-system]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildSystem {
    /// `requires`.
    pub requires: Vec<String>,
    /// `build-backend`, the backend object.
    pub backend: Option<String>,
    /// Whether `backend-path` puts the backend in the source tree itself.
    pub in_tree: bool,
}

/// The `[build-system]` of an sdist's pyproject.toml; `None` when the
/// table is absent (a legacy setup.py project, built by setuptools).
pub fn build_system(pyproject: Option<&str>) -> Result<Option<BuildSystem>, RecipeError> {
    let Some(text) = pyproject else {
        return Ok(None);
    };
    let doc: toml::Table =
        toml::from_str(text).map_err(|e| RecipeError::Pyproject(e.to_string()))?;
    let Some(bs) = doc.get("build-system").and_then(|v| v.as_table()) else {
        return Ok(None);
    };
    let requires = match bs.get("requires") {
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    RecipeError::Pyproject("build-system.requires holds a non-string".into())
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => {
            return Err(RecipeError::Pyproject(
                "build-system.requires is not an array".into(),
            ))
        }
        None => Vec::new(),
    };
    let backend = bs
        .get("build-backend")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let in_tree = bs.get("backend-path").is_some();
    Ok(Some(BuildSystem {
        requires,
        backend,
        in_tree,
    }))
}

/// The build requirements to resolve: the sdist's, with the backend pinned
/// to the version the upstream wheel names (replacing the sdist's own
/// constraint on it) and its companions added when missing.
pub fn pinned_requires(declared: &[String], backend: &Backend) -> Vec<String> {
    let key = normalize_name(&backend.name);
    let mut out: Vec<String> = declared
        .iter()
        .filter(|r| requirement_name(r) != key)
        .cloned()
        .collect();
    out.push(match &backend.version {
        Some(v) => format!("{}=={v}", backend.name),
        None => backend.name.clone(),
    });
    for c in &backend.companions {
        if !out.iter().any(|r| requirement_name(r) == normalize_name(c)) {
            out.push(c.clone());
        }
    }
    out
}

/// Infers the recipe for rebuilding `wheel` from the sdist named `sdist`
/// (whose `pyproject.toml` text, if it has one, is `pyproject`).
/// `uploaded` is the wheel's upload time on the index (RFC 3339).
pub fn infer(
    package: &str,
    version: &str,
    wheel: &WheelFacts,
    sdist: &str,
    pyproject: Option<&str>,
    uploaded: Option<&str>,
    overrides: Option<&Overrides>,
) -> Result<Recipe, RecipeError> {
    let generator = header(&wheel.wheel_file, "Generator").unwrap_or_default();
    let bs = build_system(pyproject)?;
    let named = if generator.is_empty() {
        Err(RecipeError::NoGenerator)
    } else {
        backend_of(generator)
    };
    let (backend, in_tree) = match (named, overrides, &bs) {
        // The user said which backend: the generator line is moot.
        (
            _,
            Some(Overrides {
                backend: Some(name),
                backend_version,
                ..
            }),
            _,
        ) => (
            Backend {
                name: name.clone(),
                version: backend_version.clone(),
                companions: Vec::new(),
            },
            false,
        ),
        // A backend shipped in the sdist itself (backend-path) needs no
        // pin: the sdist is its one version (poetry-core and flit_core
        // build themselves so, and their own release is not on the index
        // before it is uploaded).
        (
            _,
            _,
            Some(BuildSystem {
                backend: Some(obj),
                in_tree: true,
                ..
            }),
        ) => (
            Backend {
                name: obj.clone(),
                version: None,
                companions: Vec::new(),
            },
            true,
        ),
        (Ok(b), _, _) => (b, false),
        (Err(e), _, _) => return Err(e),
    };
    // Legacy projects: pip's defaults for a project without [build-system].
    let declared = match bs {
        Some(bs) => bs.requires,
        None => vec!["setuptools>=40.8.0".to_owned(), "wheel".to_owned()],
    };
    let requires = if in_tree {
        declared
    } else {
        pinned_requires(&declared, &backend)
    };
    let (source_date_epoch, source_date_epoch_from, export_source_date_epoch) =
        epoch_of(&wheel.member_times);
    let python_tag = wheel_tags(&wheel.file_name)
        .map(|t| t.python.to_owned())
        .unwrap_or_default();
    // setuptools tags a pure wheel with the running Python's major version
    // unless told the wheel is universal: a `py2.py3` wheel was built with
    // `--universal` (or setup.cfg's `universal = 1`, which this repeats).
    let config_settings =
        if python_tag == "py2.py3" && matches!(backend.name.as_str(), "wheel" | "setuptools") {
            vec!["--build-option=--universal".to_owned()]
        } else {
            Vec::new()
        };
    Ok(Recipe {
        package: package.to_owned(),
        version: version.to_owned(),
        wheel: wheel.file_name.clone(),
        sdist: sdist.to_owned(),
        backend: backend.name,
        backend_version: backend.version,
        generator: generator.to_owned(),
        requires,
        era_bounds: Vec::new(),
        config_settings,
        uploaded_prior_to: uploaded.map(str::to_owned),
        source_date_epoch,
        source_date_epoch_from,
        export_source_date_epoch,
        requires_python: header(&wheel.metadata, "Requires-Python").map(str::to_owned),
        python_tag,
    })
}

/// The companions of the recipe's backend that the requirements leave
/// unpinned (setuptools beside `bdist_wheel (0.42.0)`): their version is
/// the publisher's environment, which only the era of the backend says.
pub fn unpinned_companions(recipe: &Recipe) -> Vec<String> {
    let Ok(backend) = backend_of(&recipe.generator) else {
        return Vec::new();
    };
    if backend.name != recipe.backend || recipe.backend_version.is_none() {
        return Vec::new();
    }
    backend
        .companions
        .into_iter()
        .filter(|c| {
            let key = normalize_name(c);
            !recipe
                .requires
                .iter()
                .any(|r| requirement_name(r) == key && r.contains("=="))
        })
        .collect()
}

/// The first setuptools release with its own `bdist_wheel` (70.1.0): from
/// then on setuptools writes `Generator: setuptools (…)`, so a wheel that
/// says `bdist_wheel (…)` was made by an older setuptools.
const SETUPTOOLS_OWN_BDIST_WHEEL: [u64; 2] = [70, 1];

/// The version of an index file (`wheel-0.42.0-py3-none-any.whl` → `0.42.0`,
/// `setuptools-69.0.3.tar.gz` → `69.0.3`), read as the rebuild reads the
/// upstream's own files ([`wheel_tags`], [`sdist_name_version`]).
fn file_version(filename: &str) -> Option<&str> {
    match wheel_tags(filename) {
        Some(t) => Some(t.version),
        None => sdist_name_version(filename).map(|(_, v)| v),
    }
}

/// An sdist file name's project and version (`attrs-26.1.0.tar.gz`);
/// sdists are `.tar.gz`, or `.zip` for old releases.
pub fn sdist_name_version(filename: &str) -> Option<(&str, &str)> {
    filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))?
        .rsplit_once('-')
}

/// A final release's numbers (`69.0.3` → [69, 0, 3]); `None` for
/// pre-releases, dev and local versions.
pub(crate) fn release_numbers(version: &str) -> Option<Vec<u64>> {
    version.split('.').map(|p| p.parse().ok()).collect()
}

/// Final releases with the time of their first upload, newest number first.
fn releases(files: &[super::index::IndexFile]) -> Vec<(Vec<u64>, String, String)> {
    let mut first: std::collections::BTreeMap<Vec<u64>, (String, String)> = Default::default();
    for f in files.iter().filter(|f| !f.is_yanked()) {
        let (Some(v), Some(t)) = (file_version(&f.filename), f.upload_time.as_deref()) else {
            continue;
        };
        let Some(n) = release_numbers(v) else {
            continue;
        };
        let slot = first
            .entry(n)
            .or_insert_with(|| (v.to_owned(), t.to_owned()));
        if t < slot.1.as_str() {
            slot.1 = t.to_owned();
        }
    }
    let mut out: Vec<_> = first.into_iter().map(|(n, (v, t))| (n, v, t)).collect();
    out.reverse();
    out
}

/// The newest `companion` the publisher can have used with backend version
/// `backend_version`, as a PEP 508 upper bound (`setuptools<=69.1.1`).
///
/// A backend version is current from its upload until the next release of
/// the backend; a publisher's companion is most likely one uploaded before
/// that (and before the wheel itself, `cutoff`). Resolving the companion as
/// of the wheel's upload instead picks tools years newer for a maintainer
/// who keeps an old environment, whose output differs (pytz 2026.6 names
/// `bdist_wheel (0.42.0)`: its METADATA is 2.1, today's setuptools writes
/// 2.4). Times are PEP 700 RFC 3339 strings from one index, compared as
/// text. `None` when the backend version or any companion is not listed.
pub fn era_bound(
    backend_name: &str,
    backend_version: &str,
    backend_files: &[super::index::IndexFile],
    companion: &str,
    companion_files: &[super::index::IndexFile],
    cutoff: Option<&str>,
) -> Option<String> {
    let backend_releases = releases(backend_files);
    let current = release_numbers(backend_version)?;
    let since = backend_releases
        .iter()
        .find(|(n, _, _)| *n == current)
        .map(|(_, _, t)| t.clone())?;
    // The first upload of a newer release after this one's.
    let era_end = backend_releases
        .iter()
        .filter(|(n, _, t)| *n > current && *t > since)
        .map(|(_, _, t)| t.as_str())
        .min();
    let end = match (era_end, cutoff) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let ceiling = (normalize_name(backend_name) == "wheel"
        && normalize_name(companion) == "setuptools")
        .then_some(SETUPTOOLS_OWN_BDIST_WHEEL);
    releases(companion_files)
        .into_iter()
        .find(|(n, _, t)| {
            end.is_none_or(|end| t.as_str() < end)
                && ceiling.is_none_or(|c| n.as_slice() < c.as_slice())
        })
        .map(|(_, v, _)| format!("{companion}<={v}"))
}

/// SOURCE_DATE_EPOCH from the upstream wheel's member times, where it came
/// from, and whether the build should see it at all. Backends that honour
/// the variable give every member its time; members with different times
/// mean it was not set: the modules then carry their files' times (which
/// the sdist keeps) and generated files the backend's own choice (the
/// build's clock, or a constant such as flit's 2016-01-01).
fn epoch_of(times: &[(String, i64)]) -> (i64, String, bool) {
    let Some(newest) = times.iter().map(|(_, t)| *t).max() else {
        return (
            315_532_800,
            "none in the upstream wheel: 1980-01-01, the zip epoch".to_owned(),
            true,
        );
    };
    let distinct: std::collections::BTreeSet<i64> = times.iter().map(|(_, t)| *t).collect();
    if distinct.len() > 1 {
        (
            newest,
            format!(
                "the upstream wheel's members carry {} different times: it was built without SOURCE_DATE_EPOCH, from the files' own times",
                distinct.len()
            ),
            false,
        )
    } else {
        (
            newest,
            "the one time every member of the upstream wheel carries".to_owned(),
            true,
        )
    }
}

/// The tags of a wheel file name (`{name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WheelTags<'a> {
    /// Distribution name as in the file name.
    pub name: &'a str,
    /// Version as in the file name.
    pub version: &'a str,
    /// Python tag (`py3`, `py2.py3`, `cp312`).
    pub python: &'a str,
    /// ABI tag (`none`, `abi3`, `cp312`).
    pub abi: &'a str,
    /// Platform tag (`any`, `manylinux_2_17_x86_64`, …).
    pub platform: &'a str,
}

impl WheelTags<'_> {
    /// A wheel any Python 3 on any platform installs: the rebuild target.
    pub fn is_pure(&self) -> bool {
        self.abi == "none"
            && self.platform == "any"
            && self
                .python
                .split('.')
                .any(|t| t == "py3" || t.starts_with("py3"))
    }
}

/// Parses a wheel file name; `None` if it is not one.
pub fn wheel_tags(file_name: &str) -> Option<WheelTags<'_>> {
    let stem = file_name.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    let (name, version, rest) = match parts.as_slice() {
        [n, v, py, abi, plat] => (*n, *v, [*py, *abi, *plat]),
        [n, v, _build, py, abi, plat] => (*n, *v, [*py, *abi, *plat]),
        _ => return None,
    };
    Some(WheelTags {
        name,
        version,
        python: rest[0],
        abi: rest[1],
        platform: rest[2],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(generator: &str, times: &[i64]) -> WheelFacts {
        WheelFacts {
            file_name: "attrs-26.1.0-py3-none-any.whl".into(),
            wheel_file: format!("Wheel-Version: 1.0\nGenerator: {generator}\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
            metadata: "Metadata-Version: 2.4\nName: attrs\nRequires-Python: >=3.9\n\nbody: x\n".into(),
            member_times: times.iter().enumerate().map(|(i, t)| (format!("pkg/m{i}.py"), *t)).collect(),
        }
    }

    fn indexed(filename: &str, time: &str) -> super::super::index::IndexFile {
        super::super::index::IndexFile {
            filename: filename.into(),
            url: String::new(),
            hashes: Default::default(),
            upload_time: Some(time.into()),
            yanked: serde_json::Value::Null,
        }
    }

    #[test]
    fn companions_are_bounded_by_the_era_of_the_backend_version() {
        let wheel = [
            indexed("wheel-0.41.3-py3-none-any.whl", "2023-10-30T20:00:00Z"),
            indexed("wheel-0.42.0-py3-none-any.whl", "2023-11-26T00:00:00Z"),
            indexed("wheel-0.42.0.tar.gz", "2023-11-25T00:00:00Z"),
            indexed("wheel-0.43.0-py3-none-any.whl", "2024-03-11T00:00:00Z"),
            indexed("wheel-0.45.1-py3-none-any.whl", "2024-11-23T00:00:00Z"),
        ];
        let setuptools = [
            indexed("setuptools-69.0.3-py3-none-any.whl", "2023-12-21T00:00:00Z"),
            indexed("setuptools-69.1.1-py3-none-any.whl", "2024-02-23T00:00:00Z"),
            indexed("setuptools-69.2.0-py3-none-any.whl", "2024-03-13T00:00:00Z"),
            indexed("setuptools-70.0.0-py3-none-any.whl", "2024-05-21T00:00:00Z"),
            indexed("setuptools-70.1.0-py3-none-any.whl", "2024-06-19T00:00:00Z"),
            indexed(
                "setuptools-71.0.0b1-py3-none-any.whl",
                "2024-07-01T00:00:00Z",
            ),
            indexed("setuptools-80.9.0-py3-none-any.whl", "2025-05-27T00:00:00Z"),
        ];
        let late = Some("2026-06-01T00:00:00Z");
        // Until wheel 0.43.0 (its sdist, uploaded first, starts 0.42.0's era).
        assert_eq!(
            era_bound("wheel", "0.42.0", &wheel, "setuptools", &setuptools, late).as_deref(),
            Some("setuptools<=69.1.1")
        );
        // The wheel's own upload ends the era sooner.
        assert_eq!(
            era_bound(
                "wheel",
                "0.42.0",
                &wheel,
                "setuptools",
                &setuptools,
                Some("2024-01-01T00:00:00Z")
            )
            .as_deref(),
            Some("setuptools<=69.0.3")
        );
        // The newest wheel has no end but setuptools' own bdist_wheel:
        // `bdist_wheel (…)` was written by a setuptools before 70.1.
        assert_eq!(
            era_bound("wheel", "0.45.1", &wheel, "setuptools", &setuptools, late).as_deref(),
            Some("setuptools<=70.0.0")
        );
        // A version the index does not list gives no bound, nor does a
        // companion with nothing before the era ends.
        assert_eq!(
            era_bound("wheel", "0.30.0", &wheel, "setuptools", &setuptools, late),
            None
        );
        assert_eq!(
            era_bound("wheel", "0.41.3", &wheel, "setuptools", &setuptools, late),
            None
        );
    }

    #[test]
    fn only_unpinned_companions_of_the_named_backend_are_bounded() {
        let r = infer(
            "a",
            "1",
            &facts("bdist_wheel (0.42.0)", &[]),
            "a.tar.gz",
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(unpinned_companions(&r), ["setuptools"]);
        let mut pinned = r.clone();
        pinned.requires.push("setuptools==68.0.0".into());
        assert!(unpinned_companions(&pinned).is_empty());
        let h = infer(
            "a",
            "1",
            &facts("hatchling 1.25.0", &[]),
            "a.tar.gz",
            None,
            None,
            None,
        )
        .unwrap();
        assert!(unpinned_companions(&h).is_empty());
        // An override turns the bounds off, and they round-trip through TOML.
        let mut b = r.clone();
        b.era_bounds = vec!["setuptools<=69.1.1".into()];
        let text = toml::to_string(&b).unwrap();
        assert!(
            text.contains("era_bounds = [\"setuptools<=69.1.1\"]"),
            "{text}"
        );
        assert_eq!(toml::from_str::<Recipe>(&text).unwrap(), b);
        Overrides::parse("era_bounds = []").unwrap().apply(&mut b);
        assert!(b.era_bounds.is_empty());
    }

    #[test]
    fn universal_setuptools_wheels_are_built_universal() {
        let mut f = facts("bdist_wheel (0.42.0)", &[]);
        f.file_name = "pytz-2026.6-py2.py3-none-any.whl".into();
        let r = infer("pytz", "2026.6", &f, "pytz-2026.6.tar.gz", None, None, None).unwrap();
        assert_eq!(r.config_settings, ["--build-option=--universal"]);
        let r = infer(
            "a",
            "1",
            &facts("bdist_wheel (0.42.0)", &[]),
            "a.tar.gz",
            None,
            None,
            None,
        )
        .unwrap();
        assert!(r.config_settings.is_empty());
        f.wheel_file = f
            .wheel_file
            .replace("bdist_wheel (0.42.0)", "hatchling 1.25.0");
        let r = infer("pytz", "2026.6", &f, "pytz-2026.6.tar.gz", None, None, None).unwrap();
        assert!(r.config_settings.is_empty(), "hatchling has no --universal");
    }

    #[test]
    fn index_file_versions() {
        assert_eq!(
            file_version("wheel-0.42.0-py3-none-any.whl"),
            Some("0.42.0")
        );
        assert_eq!(file_version("setuptools-69.0.3.tar.gz"), Some("69.0.3"));
        assert_eq!(file_version("flit_core-3.9.0.zip"), Some("3.9.0"));
        assert_eq!(file_version("README"), None);
        assert_eq!(release_numbers("71.0.0b1"), None);
    }

    #[test]
    fn generators_name_their_backends() {
        let b = backend_of("hatchling 1.25.0").unwrap();
        assert_eq!(
            (b.name.as_str(), b.version.as_deref()),
            ("hatchling", Some("1.25.0"))
        );
        let b = backend_of("flit 3.9.0").unwrap();
        assert_eq!(
            (b.name.as_str(), b.version.as_deref()),
            ("flit_core", Some("3.9.0"))
        );
        let b = backend_of("bdist_wheel (0.43.0)").unwrap();
        assert_eq!(
            (b.name.as_str(), b.version.as_deref()),
            ("wheel", Some("0.43.0"))
        );
        assert_eq!(b.companions, ["setuptools"]);
        let b = backend_of("setuptools (75.1.0)").unwrap();
        assert_eq!(
            (b.name.as_str(), b.version.as_deref()),
            ("setuptools", Some("75.1.0"))
        );
        let b = backend_of("poetry-core 1.9.0").unwrap();
        assert_eq!(
            (b.name.as_str(), b.version.as_deref()),
            ("poetry-core", Some("1.9.0"))
        );
        let b = backend_of("pdm-backend (2.3.0)").unwrap();
        assert_eq!(
            (b.name.as_str(), b.version.as_deref()),
            ("pdm-backend", Some("2.3.0"))
        );
        assert_eq!(
            backend_of("maturin (1.5.1)"),
            Err(RecipeError::UnknownGenerator("maturin (1.5.1)".into()))
        );
        // A version that is not one is not pinned (never `hatchling==; rm`).
        assert_eq!(backend_of("hatchling 1.0;rm").unwrap().version, None);
    }

    #[test]
    fn the_backend_is_pinned_over_the_sdists_constraint() {
        let b = backend_of("hatchling 1.29.0").unwrap();
        let declared = vec![
            "Hatchling>=1.20".to_owned(),
            "hatch-vcs".to_owned(),
            "hatch-fancy-pypi-readme>=23.2.0".to_owned(),
        ];
        assert_eq!(
            pinned_requires(&declared, &b),
            [
                "hatch-vcs",
                "hatch-fancy-pypi-readme>=23.2.0",
                "hatchling==1.29.0"
            ]
        );
        let b = backend_of("bdist_wheel (0.43.0)").unwrap();
        assert_eq!(
            pinned_requires(&["setuptools>=61".to_owned()], &b),
            ["setuptools>=61", "wheel==0.43.0"]
        );
        assert_eq!(pinned_requires(&[], &b), ["wheel==0.43.0", "setuptools"]);
    }

    #[test]
    fn infers_attrs() {
        let pyproject = "[build-system]\nrequires = [\"hatchling\", \"hatch-vcs\"]\nbuild-backend = \"hatchling.build\"\n";
        let r = infer(
            "attrs",
            "26.1.0",
            &facts("hatchling 1.29.0", &[1_773_929_000, 1_773_929_162]),
            "attrs-26.1.0.tar.gz",
            Some(pyproject),
            Some("2026-03-19T14:22:23.645947Z"),
            None,
        )
        .unwrap();
        assert_eq!(r.backend, "hatchling");
        assert_eq!(r.requires, ["hatch-vcs", "hatchling==1.29.0"]);
        assert_eq!(r.source_date_epoch, 1_773_929_162);
        // Modules with two times: built from the files' times, no SDE.
        assert!(!r.export_source_date_epoch);
        assert_eq!(r.requires_python.as_deref(), Some(">=3.9"));
        assert_eq!(r.python_tag, "py3");
        // Round trip through TOML: the printed recipe is a valid --recipe.
        let text = toml::to_string(&r).unwrap();
        let back: Recipe = toml::from_str(&text).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn legacy_projects_get_pips_defaults() {
        let r = infer(
            "six",
            "1.16.0",
            &facts("bdist_wheel (0.36.2)", &[]),
            "six-1.16.0.tar.gz",
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(r.requires, ["setuptools>=40.8.0", "wheel==0.36.2"]);
        assert_eq!(r.source_date_epoch, 315_532_800);
        assert!(r.export_source_date_epoch);
        let r = infer(
            "a",
            "1",
            &facts("hatchling 1", &[7, 7]),
            "a.tar.gz",
            None,
            None,
            None,
        )
        .unwrap();
        assert!(
            r.export_source_date_epoch,
            "one time for every module: SOURCE_DATE_EPOCH"
        );
        // flit without SOURCE_DATE_EPOCH: modules at their files' time,
        // generated files at 2016-01-01.
        let mut f = facts("flit 3.9.0", &[1_700_000_000]);
        f.member_times
            .push(("a-1.dist-info/RECORD".into(), 1_451_606_400));
        let r = infer("a", "1", &f, "a.tar.gz", None, None, None).unwrap();
        assert!(!r.export_source_date_epoch, "{}", r.source_date_epoch_from);
        assert_eq!(r.source_date_epoch, 1_700_000_000);
    }

    #[test]
    fn errors_name_the_problem() {
        let mut f = facts("x", &[]);
        f.wheel_file = "Wheel-Version: 1.0\n".into();
        assert_eq!(
            infer("a", "1", &f, "a.tar.gz", None, None, None),
            Err(RecipeError::NoGenerator)
        );
        let err = infer(
            "a",
            "1",
            &facts("hatchling 1", &[]),
            "a.tar.gz",
            Some("[build-system"),
            None,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, RecipeError::Pyproject(_)), "{err}");
    }

    #[test]
    fn unknown_generators_need_an_in_tree_backend_or_an_override() {
        let f = facts("tinybackend 1.0", &[5]);
        let err = infer("a", "1", &f, "a.tar.gz", None, None, None).unwrap_err();
        assert_eq!(err, RecipeError::UnknownGenerator("tinybackend 1.0".into()));
        let in_tree = "[build-system]\nrequires = []\nbuild-backend = \"tinybackend\"\nbackend-path = [\".\"]\n";
        let r = infer("a", "1", &f, "a.tar.gz", Some(in_tree), None, None).unwrap();
        assert_eq!((r.backend.as_str(), r.requires.len()), ("tinybackend", 0));
        // A known generator building itself in-tree is not pinned either.
        let own = "[build-system]\nrequires = []\nbuild-backend = \"poetry.core.masonry.api\"\nbackend-path = [\"src\"]\n";
        let r = infer(
            "poetry-core",
            "2.5.0",
            &facts("poetry-core 2.5.0", &[5]),
            "p.tar.gz",
            Some(own),
            None,
            None,
        )
        .unwrap();
        assert!(r.requires.is_empty(), "{:?}", r.requires);
        let o = Overrides::parse("backend = \"maturin\"\nbackend_version = \"1.5.1\"\n").unwrap();
        let r = infer(
            "a",
            "1",
            &facts("maturin (1.5.1)", &[5]),
            "a.tar.gz",
            None,
            None,
            Some(&o),
        )
        .unwrap();
        assert_eq!(
            r.requires,
            ["setuptools>=40.8.0", "wheel", "maturin==1.5.1"]
        );
    }

    #[test]
    fn overrides_replace_fields() {
        let mut r = infer(
            "a",
            "1",
            &facts("hatchling 1.0", &[5]),
            "a.tar.gz",
            None,
            Some("2020-01-01T00:00:00Z"),
            None,
        )
        .unwrap();
        let o = Overrides::parse(
            "source_date_epoch = 7\nrequires = [\"hatchling==1.1\"]\nuploaded_prior_to = \"\"\n",
        )
        .unwrap();
        assert_eq!(
            o.apply(&mut r),
            ["requires", "source_date_epoch", "uploaded_prior_to"]
        );
        assert_eq!(r.source_date_epoch, 7);
        assert_eq!(r.uploaded_prior_to, None);
        assert!(
            Overrides::parse("sorce_date_epoch = 1").is_err(),
            "a typo is an error"
        );
    }

    #[test]
    fn wheel_names() {
        let t = wheel_tags("six-1.16.0-py2.py3-none-any.whl").unwrap();
        assert!(t.is_pure());
        assert!(!wheel_tags("x-1-cp312-cp312-manylinux_2_17_x86_64.whl")
            .unwrap()
            .is_pure());
        assert!(!wheel_tags("x-1-py2-none-any.whl").unwrap().is_pure());
        assert_eq!(
            wheel_tags("x-1-1build-py3-none-any.whl").unwrap().python,
            "py3"
        );
        assert_eq!(wheel_tags("x.tar.gz"), None);
        assert_eq!(normalize_name("Flit_Core"), "flit-core");
        assert_eq!(
            requirement_name("hatch-fancy-pypi-readme>=23.2.0"),
            "hatch-fancy-pypi-readme"
        );
        assert_eq!(
            requirement_name("Foo.Bar [x] ; python_version<'3'"),
            "foo-bar"
        );
    }
}
