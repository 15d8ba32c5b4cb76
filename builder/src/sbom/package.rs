//! What package an artifact is: its ecosystem, name, version and purl,
//! read from the metadata member its format defines (a wheel's METADATA,
//! an sdist's top-level PKG-INFO, an npm tarball's package.json, a
//! `.crate`'s Cargo.toml, a `.deb`'s control file) through diffoscope-lite's [`Listing`] — never a parser of
//! the archive of its own. A metadata file that cannot be read or parsed
//! is a warning naming it; the artifact is then named from its file name.

use diffoscope_lite::formats::Kind;
use diffoscope_lite::listing::Listing;
use diffoscope_lite::model::{Entry, EntryKind};

use super::headers::Headers;

/// Metadata files larger than this are not read (a wheel's METADATA,
/// long description included, is a few hundred KiB at most).
const MAX_METADATA: u64 = 4 << 20;

/// A package ecosystem repro recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ecosystem {
    /// A Python wheel, or a Python sdist (read by content from what the
    /// file name calls an npm tarball: both are `.tar.gz`).
    Pypi,
    /// An npm package tarball.
    Npm,
    /// A Rust `.crate`.
    Cargo,
    /// A Debian binary package.
    Deb,
}

/// A declared runtime dependency (a wheel's or sdist's `Requires-Dist`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Requirement {
    /// The normalized project name (PEP 503).
    pub name: String,
    /// The requirement as written.
    pub spec: String,
    /// Needed only with an extra: every `or` branch of its marker
    /// constrains `extra` (`; extra == "…"`).
    pub optional: bool,
}

/// An artifact's identity as its own metadata states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Package {
    /// Which ecosystem.
    pub ecosystem: Ecosystem,
    /// Its name.
    pub name: String,
    /// Its version, when known.
    pub version: Option<String>,
    /// Its package URL.
    pub purl: Option<String>,
    /// Declared runtime dependencies (wheels and sdists only).
    pub requires: Vec<Requirement>,
    /// One-line description (METADATA `Summary`, package.json and
    /// Cargo.toml `description`, the control file's synopsis).
    pub description: Option<String>,
    /// The licence as declared.
    pub license: Option<License>,
    /// Project URLs as declared (home page, repository, issue tracker…).
    pub links: Vec<Link>,
}

/// A declared project URL, as a CycloneDX external reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    /// The CycloneDX `externalReferences[].type` it maps to.
    pub kind: &'static str,
    /// The URL as written.
    pub url: String,
    /// Where it was declared (`Project-URL: Source`, `repository`…).
    pub source: String,
}

impl Link {
    /// A link from a declared value, None unless it looks like a URL
    /// (free text in a URL field is not one).
    fn new(kind: &'static str, url: Option<&str>, source: impl Into<String>) -> Option<Link> {
        let url = url?.trim();
        let scheme = url.split_once("://").map(|(s, _)| s)?;
        let plausible = !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && !url.chars().any(char::is_whitespace);
        plausible.then(|| Link {
            kind,
            url: url.to_owned(),
            source: source.into(),
        })
    }
}

/// The external-reference type of a `Project-URL` label, normalized as
/// PEP 753 says (lowercase, punctuation and spaces dropped); labels that
/// name nothing CycloneDX has a type for are `other`.
fn project_url_kind(label: &str) -> &'static str {
    let l: String = label
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    match l.as_str() {
        "homepage" | "home" | "website" => "website",
        "source" | "sourcecode" | "repository" | "code" | "github" | "gitlab" | "git" => "vcs",
        "issues" | "issuetracker" | "bugtracker" | "bugs" | "tracker" | "bugreports" => {
            "issue-tracker"
        }
        "documentation" | "docs" => "documentation",
        "changelog" | "changes" | "releasenotes" | "history" | "whatsnew" => "release-notes",
        "download" => "distribution",
        "chat" | "discord" | "gitter" => "chat",
        "mailinglist" => "mailing-list",
        "security" => "security-contact",
        _ => "other",
    }
}

/// npm's `repository` / `bugs`: a URL string or an object with `url`.
fn npm_url(v: Option<&serde_json::Value>) -> Option<&str> {
    match v? {
        serde_json::Value::String(s) => Some(s),
        o => o.get("url")?.as_str(),
    }
}

/// npm's `repository` as a URL: the shorthands npm itself expands
/// (`github:o/r`, `gitlab:`, `bitbucket:`, a bare `o/r` for GitHub) and
/// scp-like `git@host:path`, which is no URL, as `git+ssh://git@host/path`.
fn npm_repository(v: Option<&serde_json::Value>) -> Option<String> {
    let r = npm_url(v)?.trim();
    if r.contains("://") {
        return Some(r.to_owned());
    }
    let word = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    for (prefix, host) in [
        ("github:", "github.com"),
        ("gitlab:", "gitlab.com"),
        ("bitbucket:", "bitbucket.org"),
    ] {
        if let Some(path) = r.strip_prefix(prefix) {
            return Some(format!("https://{host}/{path}"));
        }
    }
    if let Some((user_host, path)) = r.split_once(':') {
        if let Some((user, host)) = user_host.split_once('@') {
            if word(user) && word(host) && !path.starts_with('/') {
                return Some(format!("git+ssh://{user}@{host}/{path}"));
            }
        }
    }
    match r.split_once('/') {
        Some((owner, repo)) if word(owner) && word(repo) => Some(format!("https://github.com/{r}")),
        _ => Some(r.to_owned()),
    }
}

/// A declared licence: an SPDX expression, or a name in free text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum License {
    /// `License-Expression`, or an npm/Cargo `license` field.
    Expression(String),
    /// Anything else (METADATA's free-text `License`; Cargo's old
    /// `MIT/Apache-2.0` spelling, which is not an SPDX expression).
    Name(String),
    /// A wheel's `License ::` trove classifiers, when its `License` field
    /// is absent or the whole licence text: the last part of each
    /// (`BSD License`).
    Classifiers(Vec<String>),
}

/// A declared value worth recording: trimmed, non-empty, not `UNKNOWN`
/// (what old setuptools writes for a field it was not given).
fn declared(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|v| !v.is_empty() && *v != "UNKNOWN")
        .map(str::to_owned)
}

/// An npm or Cargo `license` field, or a wheel's `License-Expression`.
fn license_field(v: Option<&str>) -> Option<License> {
    declared(v).map(spdx_or_name)
}

/// A declared licence as an SPDX expression when it parses as one
/// against the SPDX licence list, else as a name: npm's "Public Domain",
/// "SEE LICENSE IN LICENSE.md" or "UNLICENSED" and Cargo's old
/// `MIT/Apache-2.0` are no SPDX expressions, and a reader of the SBOM
/// checks what `expression` holds.
fn spdx_or_name(l: String) -> License {
    if spdx::Expression::parse(&l).is_ok() {
        License::Expression(l)
    } else {
        License::Name(l)
    }
}

/// npm's legacy `licenses` array (`[{"type": "MIT", "url": …}]`), read
/// when `license` is absent: the types joined with OR, as npm's own
/// normalisation of the field reads them.
fn npm_legacy_licenses(v: &serde_json::Value) -> Option<License> {
    let types: Vec<&str> = v
        .get("licenses")?
        .as_array()?
        .iter()
        .filter_map(|l| {
            l.get("type")
                .and_then(|t| t.as_str())
                .or_else(|| l.as_str())
        })
        .filter(|t| !t.trim().is_empty())
        .collect();
    if types.is_empty() {
        return None;
    }
    let joined = if types.len() == 1 {
        types[0].to_owned()
    } else {
        format!("({})", types.join(" OR "))
    };
    Some(spdx_or_name(joined))
}

/// What the artifact's file name and format say it is, before reading.
pub(crate) fn ecosystem(file_name: &str, format: Kind) -> Option<Ecosystem> {
    match format {
        Kind::Zip if file_name.ends_with(".whl") => Some(Ecosystem::Pypi),
        Kind::Tar if file_name.ends_with(".crate") => Some(Ecosystem::Cargo),
        Kind::Tar if file_name.ends_with(".tgz") || file_name.ends_with(".tar.gz") => {
            Some(Ecosystem::Npm)
        }
        Kind::Ar if file_name.ends_with(".deb") => Some(Ecosystem::Deb),
        _ => None,
    }
}

/// Reads the package's metadata from `listing` (for a `.deb`, from the
/// listing of its control tarball). An npm-looking tarball without
/// `package/package.json` may be a Python sdist (both are `.tar.gz`; the
/// content decides, see [`sdist`]); None when it is neither (a plain
/// source tarball). Warnings name the file.
pub(crate) fn read(
    eco: Ecosystem,
    file_name: &str,
    listing: &Listing,
    warnings: &mut Vec<String>,
) -> Option<Package> {
    let (member, parsed) = match eco {
        Ecosystem::Pypi => {
            let member = listing.find(|p| {
                p.strip_suffix(".dist-info/METADATA")
                    .is_some_and(|d| !d.is_empty() && !d.contains('/'))
            });
            (member, read_with(listing, member, wheel))
        }
        Ecosystem::Npm => {
            let member = listing.find(|p| p == "package/package.json");
            if member.is_none() {
                return sdist(file_name, listing, warnings);
            }
            (member, read_with(listing, member, npm))
        }
        Ecosystem::Cargo => {
            let member = listing.find(|p| {
                p.strip_suffix("/Cargo.toml")
                    .is_some_and(|d| !d.is_empty() && !d.contains('/'))
            });
            (member, read_with(listing, member, cargo))
        }
        Ecosystem::Deb => {
            let member = listing.find(|p| p == "control" || p == "./control");
            (member, read_with(listing, member, deb))
        }
    };
    match parsed {
        Ok(p) => {
            warnings.extend(match eco {
                Ecosystem::Pypi => wheel_name_contradiction(file_name, &p),
                Ecosystem::Npm => npm_name_contradiction(file_name, &p),
                Ecosystem::Cargo | Ecosystem::Deb => None,
            });
            Some(p)
        }
        Err(problem) => {
            let what = member.map_or_else(
                || format!("no {} metadata file", expected_member(eco)),
                |m| format!("{}: {problem}", m.path),
            );
            let fallback = from_file_name(eco, file_name);
            warnings.push(format!(
                "{file_name}: {what}; {}",
                if fallback.version.is_some() {
                    "name and version taken from the file name"
                } else {
                    "named after the file, without a version"
                }
            ));
            Some(fallback)
        }
    }
}

fn expected_member(eco: Ecosystem) -> &'static str {
    match eco {
        Ecosystem::Pypi => "*.dist-info/METADATA",
        Ecosystem::Npm => "package/package.json",
        Ecosystem::Cargo => "*/Cargo.toml",
        Ecosystem::Deb => "control",
    }
}

fn read_with(
    listing: &Listing,
    member: Option<&Entry>,
    parse: fn(&[u8]) -> Result<Package, String>,
) -> Result<Package, String> {
    let Some(member) = member else {
        return Err(String::new());
    };
    let bytes = listing
        .read(member, MAX_METADATA)
        .map_err(|e| format!("unreadable ({e})"))?;
    parse(&bytes)
}

/// A Python source distribution (the sdist spec: `{name}-{version}.tar.gz`
/// holding one top-level directory with the core metadata in its
/// `PKG-INFO`), read like a wheel from that `PKG-INFO`. Only the one at
/// the top counts: `<top>/src/x.egg-info/PKG-INFO` or a vendored
/// project's is another package's. A Python source tree (its
/// `pyproject.toml` or `setup.py` at the top) without it, or a PKG-INFO
/// that is malformed, is listed as a file with a note: a name guessed
/// from the file name would be a claim its metadata does not make.
fn sdist(file_name: &str, listing: &Listing, warnings: &mut Vec<String>) -> Option<Package> {
    let top = single_top_directory(listing)?;
    let at_top = |name: &str| listing.find(|p| p.strip_prefix(top) == Some(name));
    let Some(member) = at_top("/PKG-INFO") else {
        if at_top("/pyproject.toml")
            .or_else(|| at_top("/setup.py"))
            .is_some()
        {
            warnings.push(format!(
                "{file_name}: a Python source tree with no {top}/PKG-INFO, so no sdist; \
                 listed as a file"
            ));
        }
        return None;
    };
    match read_with(listing, Some(member), pkg_info) {
        Ok(p) => {
            warnings.extend(sdist_name_contradiction(file_name, &p));
            Some(p)
        }
        Err(problem) => {
            warnings.push(format!(
                "{file_name}: {}: {problem}; listed as a file",
                member.path
            ));
            None
        }
    }
}

/// The directory every member of `listing` lives under, if there is one
/// (a file at the top level besides it, or two directories, and there is
/// none). Its own entry may be stored with or without a final `/`.
fn single_top_directory(listing: &Listing) -> Option<&str> {
    let mut top = None;
    for e in listing.entries() {
        let first = match e.path.split_once('/') {
            Some((first, _)) => first,
            None if e.kind == EntryKind::Dir => e.path.as_str(),
            None => return None,
        };
        if first.is_empty() || top.is_some_and(|t| t != first) {
            return None;
        }
        top = Some(first);
    }
    top
}

/// A wheel's `*.dist-info/METADATA`.
fn wheel(bytes: &[u8]) -> Result<Package, String> {
    core_metadata("METADATA", bytes)
}

/// An sdist's `PKG-INFO`: the same core metadata as a wheel's METADATA.
fn pkg_info(bytes: &[u8]) -> Result<Package, String> {
    core_metadata("PKG-INFO", bytes)
}

/// Python core metadata (the `file` it was read from names it in errors):
/// name, version, `Requires-Dist`, licence and project URLs.
fn core_metadata(file: &str, bytes: &[u8]) -> Result<Package, String> {
    let h = Headers::parse(bytes).map_err(|e| format!("malformed {file}: {e}"))?;
    let name = h
        .get("Name")
        .ok_or(format!("malformed {file}: no Name field"))?
        .to_owned();
    let version = h
        .get("Version")
        .ok_or(format!("malformed {file}: no Version field"))?
        .to_owned();
    let mut requires = Vec::new();
    for spec in h.all("Requires-Dist") {
        let name_end = spec
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(spec.len());
        if name_end == 0 {
            return Err(format!(
                "malformed {file}: Requires-Dist {spec:?} names no project"
            ));
        }
        let marker = spec.split_once(';').map_or("", |(_, m)| m);
        requires.push(Requirement {
            name: pep503(&spec[..name_end]),
            spec: spec.to_owned(),
            optional: only_with_extra(marker),
        });
    }
    // A free-text License can be the whole licence text: only a one-line
    // one is a name.
    let license = match declared(h.get("License-Expression")) {
        Some(e) => Some(spdx_or_name(e)),
        None => declared(h.get("License"))
            .filter(|l| !l.contains('\n') && l.len() <= 200)
            .map(License::Name)
            .or_else(|| {
                let names: Vec<String> = h
                    .all("Classifier")
                    .filter(|c| c.starts_with("License ::"))
                    .filter_map(|c| c.rsplit("::").next())
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty())
                    .collect();
                (!names.is_empty()).then_some(License::Classifiers(names))
            }),
    };
    let mut links: Vec<Link> = [
        Link::new("website", h.get("Home-page"), "Home-page"),
        Link::new("distribution", h.get("Download-URL"), "Download-URL"),
    ]
    .into_iter()
    .flatten()
    .collect();
    for value in h.all("Project-URL") {
        if let Some((label, url)) = value.split_once(',') {
            let label = label.trim();
            links.extend(Link::new(
                project_url_kind(label),
                Some(url),
                format!("Project-URL: {label}"),
            ));
        }
    }
    Ok(Package {
        ecosystem: Ecosystem::Pypi,
        purl: Some(purl("pypi", None, &pep503(&name), Some(&version), &[])),
        name,
        version: Some(version),
        requires,
        description: declared(h.get("Summary")),
        license,
        links,
    })
}

fn npm(bytes: &[u8]) -> Result<Package, String> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("malformed package.json: {e}"))?;
    let field = |k: &str| {
        v.get(k)
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .ok_or(format!("malformed package.json: no {k:?} string"))
    };
    let (name, version) = (field("name")?, field("version")?);
    let (scope, bare) = match name.split_once('/') {
        Some((scope, bare)) if scope.starts_with('@') => (Some(scope), bare),
        _ => (None, name),
    };
    Ok(Package {
        ecosystem: Ecosystem::Npm,
        purl: Some(purl("npm", scope, bare, Some(version), &[])),
        name: name.to_owned(),
        version: Some(version.to_owned()),
        requires: Vec::new(),
        description: declared(v.get("description").and_then(|d| d.as_str())),
        license: license_field(v.get("license").and_then(|d| d.as_str()))
            .or_else(|| npm_legacy_licenses(&v)),
        links: [
            Link::new(
                "website",
                v.get("homepage").and_then(|d| d.as_str()),
                "homepage",
            ),
            Link::new(
                "vcs",
                npm_repository(v.get("repository")).as_deref(),
                "repository",
            ),
            Link::new("issue-tracker", npm_url(v.get("bugs")), "bugs"),
        ]
        .into_iter()
        .flatten()
        .collect(),
    })
}

fn cargo(bytes: &[u8]) -> Result<Package, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "malformed Cargo.toml: not UTF-8")?;
    let t: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("malformed Cargo.toml: {}", e.message()))?;
    let field = |k: &str| {
        t.get("package")
            .and_then(|p| p.get(k))
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .ok_or(format!("malformed Cargo.toml: no package.{k} string"))
    };
    let (name, version) = (field("name")?, field("version")?);
    Ok(Package {
        ecosystem: Ecosystem::Cargo,
        purl: Some(purl("cargo", None, name, Some(version), &[])),
        name: name.to_owned(),
        version: Some(version.to_owned()),
        requires: Vec::new(),
        description: declared(field("description").ok()),
        license: license_field(field("license").ok()),
        links: [
            ("website", "homepage"),
            ("vcs", "repository"),
            ("documentation", "documentation"),
        ]
        .into_iter()
        .filter_map(|(kind, key)| Link::new(kind, field(key).ok(), key))
        .collect(),
    })
}

fn deb(bytes: &[u8]) -> Result<Package, String> {
    let h = Headers::parse(bytes).map_err(|e| format!("malformed control file: {e}"))?;
    let name = h
        .get("Package")
        .ok_or("malformed control file: no Package field")?;
    let version = h
        .get("Version")
        .ok_or("malformed control file: no Version field")?;
    let qualifiers: Vec<(&str, &str)> = h
        .get("Architecture")
        .map(|a| ("arch", a))
        .into_iter()
        .collect();
    Ok(Package {
        ecosystem: Ecosystem::Deb,
        // purl's deb type wants the distribution as namespace; a package
        // says only that it is a Debian package, so `debian` it is.
        purl: Some(purl(
            "deb",
            Some("debian"),
            name,
            Some(version),
            &qualifiers,
        )),
        name: name.to_owned(),
        version: Some(version.to_owned()),
        requires: Vec::new(),
        // The synopsis: the first line of Description.
        description: declared(h.get("Description").and_then(|d| d.lines().next())),
        license: None,
        links: Link::new("website", h.get("Homepage"), "Homepage")
            .into_iter()
            .collect(),
    })
}

/// A wheel's file name is specified (PEP 427: `{name}-{version}-…`, `-`
/// in either escaped as `_`): one that names another package or version
/// than its METADATA is a renamed or forged file, which pip refuses to
/// install. The SBOM lists what the METADATA says, with this note.
fn wheel_name_contradiction(file_name: &str, p: &Package) -> Option<String> {
    let (name, version) = wheel_file_name(file_name);
    let version = version?;
    let version_escaped = p.version.as_deref().map(|v| v.replace('-', "_"));
    let same_name = pep503(name) == pep503(&p.name);
    let same_version = version_escaped.as_deref().is_none_or(|v| v == version);
    (!same_name || !same_version).then(|| {
        name_contradiction(
            file_name,
            &format!("{name} {version}"),
            "METADATA",
            p,
            "pip refuses such a wheel (renamed or forged)",
        )
    })
}

/// An sdist is named `{name}-{version}.tar.gz` (PEP 625 normalizes the
/// name with `_`; older tools kept it as written, `python-dateutil-2.8.2`):
/// one whose name, read against its PKG-INFO's version, is another
/// project (PEP 503 comparison), or that does not end in that version, is
/// a renamed or forged file. Other suffixes are no sdist name; not checked.
fn sdist_name_contradiction(file_name: &str, p: &Package) -> Option<String> {
    let stem = base_name(file_name).strip_suffix(".tar.gz")?;
    let version = p.version.as_deref()?;
    let named = stem
        .strip_suffix(version)
        .and_then(|n| n.strip_suffix('-'))
        .filter(|n| pep503(n) == pep503(&p.name));
    named.is_none().then(|| {
        name_contradiction(
            file_name,
            stem,
            "PKG-INFO",
            p,
            &format!(
                "an sdist of it is named {}-{version}.tar.gz (renamed or forged)",
                p.name.replace(['-', '.'], "_")
            ),
        )
    })
}

/// npm names the tarball of `@scope/name` `scope-name-<version>.tgz`
/// (`npm pack`, and pnpm's, from the package.json's own strings), the
/// registry serves it as `name-<version>.tgz` (a scoped package's URL is
/// `@scope/name/-/name-<version>.tgz`) and yarn 1 packs
/// `scope-name-v<version>.tgz`. A `.tgz` named none of these for what
/// its package.json says was renamed, or forged to pass for another
/// package: the SBOM lists what the package.json says, with this note.
/// Another file name (`.tar.gz`) is no name npm gives; it is not checked.
fn npm_name_contradiction(file_name: &str, p: &Package) -> Option<String> {
    let stem = base_name(file_name).strip_suffix(".tgz")?;
    let version = p.version.as_deref()?;
    let packed = p
        .name
        .strip_prefix('@')
        .unwrap_or(&p.name)
        .replacen('/', "-", 1);
    let bare = p.name.rsplit('/').next().unwrap_or(&p.name);
    let named = [
        format!("{packed}-{version}"),
        format!("{bare}-{version}"),
        format!("{packed}-v{version}"),
    ];
    (!named.iter().any(|n| n == stem)).then(|| {
        name_contradiction(
            file_name,
            stem,
            "package.json",
            p,
            &format!("npm pack names it {packed}-{version}.tgz (renamed or forged)"),
        )
    })
}

/// The note for an artifact whose file name (saying `named`) contradicts
/// its own `metadata` file; `consequence` says what follows from that.
fn name_contradiction(
    file_name: &str,
    named: &str,
    metadata: &str,
    p: &Package,
    consequence: &str,
) -> String {
    format!(
        "{file_name}: the file name says {named} but its {metadata} says {} {}; \
         {consequence}; listed as its {metadata} says",
        p.name,
        p.version.as_deref().unwrap_or("(no version)")
    )
}

/// The artifact's file name without its directory: `repro build` names
/// artifacts by their path (`dist/x.whl`), and only the base is named by
/// the packaging tool.
fn base_name(file_name: &str) -> &str {
    file_name.rsplit('/').next().unwrap_or(file_name)
}

/// The name and version fields of a wheel's file name, leniently (a name
/// that is no complete wheel name still gives what it has; the strict
/// parser is `rebuild::recipe::wheel_tags`). Only the base name counts.
fn wheel_file_name(file_name: &str) -> (&str, Option<&str>) {
    let base = base_name(file_name);
    let mut parts = base.trim_end_matches(".whl").split('-');
    (parts.next().unwrap_or(base), parts.next())
}

/// The name (and, for wheels, whose file names are specified, the
/// version) from the file name, for an artifact whose metadata failed.
fn from_file_name(eco: Ecosystem, file_name: &str) -> Package {
    let (name, version) = match eco {
        Ecosystem::Pypi => {
            let (name, version) = wheel_file_name(file_name);
            (name.to_owned(), version.map(str::to_owned))
        }
        _ => (file_name.to_owned(), None),
    };
    let purl = match eco {
        Ecosystem::Pypi => Some(purl("pypi", None, &pep503(&name), version.as_deref(), &[])),
        _ => None,
    };
    Package {
        ecosystem: eco,
        name,
        version,
        purl,
        requires: Vec::new(),
        description: None,
        license: None,
        links: Vec::new(),
    }
}

/// Whether an environment marker holds only when an extra is asked for:
/// every top-level `or` branch constrains `extra`. A substring test is
/// not enough: `python_version < "3.8" or extra == "x"` is needed on
/// Python 3.7 without any extra. A branch constrains `extra` when one of
/// its `and` terms names it (outside quoted strings) or is a
/// parenthesised group that does, by the same rule.
fn only_with_extra(marker: &str) -> bool {
    let branches = split_top_level(marker, "or");
    !marker.trim().is_empty()
        && branches.iter().all(|branch| {
            split_top_level(branch, "and").iter().any(|term| {
                let term = term.trim();
                match group(term) {
                    Some(inner) => only_with_extra(inner),
                    None => names_extra(term),
                }
            })
        })
}

/// What is inside `term` when it is one parenthesised group: its first
/// `(` closes at its very end (`(a) and (b)` is two groups, not one).
fn group(term: &str) -> Option<&str> {
    let inner = term.strip_prefix('(')?.strip_suffix(')')?;
    let mut depth = 0usize;
    let mut quote = None;
    for c in inner.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '(' => depth += 1,
                ')' if depth == 0 => return None,
                ')' => depth -= 1,
                _ => {}
            },
        }
    }
    Some(inner)
}

/// `expr` split at the keyword `op` (`or`, `and`) where it stands as a
/// word outside parentheses and quoted strings.
fn split_top_level<'a>(expr: &'a str, op: &str) -> Vec<&'a str> {
    let bytes = expr.as_bytes();
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start, mut i) = (0usize, None, 0, 0);
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'"' | b'\'' => quote = Some(b),
                b'(' => depth += 1,
                b')' => depth = depth.saturating_sub(1),
                _ if depth == 0
                    && bytes[i..].starts_with(op.as_bytes())
                    && (i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b')'))
                    && bytes
                        .get(i + op.len())
                        .is_some_and(|&n| matches!(n, b' ' | b'\t' | b'(')) =>
                {
                    parts.push(&expr[start..i]);
                    start = i + op.len();
                    i = start;
                    continue;
                }
                _ => {}
            },
        }
        i += 1;
    }
    parts.push(&expr[start..]);
    parts
}

/// Whether the marker variable `extra` appears in `term`, outside quoted
/// strings (`sys_platform == "extra"` names no extra).
fn names_extra(term: &str) -> bool {
    let mut outside = String::with_capacity(term.len());
    let mut quote = None;
    for c in term.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                outside.push(' ');
            }
            None => outside.push(c),
        }
    }
    outside
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|word| word == "extra")
}

/// PEP 503 normalization: lowercase, runs of `-_.` become one `-`.
pub(crate) fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A package URL (`pkg:type/namespace/name@version?k=v`) in the purl
/// spec's canonical form: each component percent-encoded (see [`pct`]),
/// qualifiers sorted by key, one with an empty value left out (the spec
/// reads it as absent). `ty` and the qualifier keys are repro's own
/// constants, lowercase and never encoded.
pub(crate) fn purl(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: Option<&str>,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut s = format!("pkg:{ty}/");
    if let Some(ns) = namespace {
        s.push_str(&pct(ns));
        s.push('/');
    }
    s.push_str(&pct(name));
    if let Some(v) = version {
        s.push('@');
        s.push_str(&pct(v));
    }
    let mut qualifiers: Vec<&(&str, &str)> =
        qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    qualifiers.sort_by_key(|(k, _)| *k);
    for (i, (k, v)) in qualifiers.into_iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        s.push('=');
        s.push_str(&pct(v));
    }
    s
}

/// One purl component, percent-encoded as the spec's "Character
/// encoding" section says: its UTF-8 bytes outside the allowed set
/// (ASCII letters and digits, `.-_~`) become `%XX`, except the colon,
/// which "MUST NOT be percent-encoded" anywhere (a Debian epoch stays
/// `1:2.10-3`). `+` is outside the set: a local version `2.1.0+cpu` is
/// `2.1.0%2Bcpu` (a reader decoding form-style would take a bare `+` for
/// a space).
fn pct(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for b in part.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_and_licence_as_each_ecosystem_declares_them() {
        let p = wheel(b"Name: a\nVersion: 1\nSummary: A thing.\nLicense-Expression: MIT OR Apache-2.0\nLicense: ignored\n\n").unwrap();
        assert_eq!(p.description.as_deref(), Some("A thing."));
        assert_eq!(
            p.license,
            Some(License::Expression("MIT OR Apache-2.0".into()))
        );
        let p = wheel(b"Name: a\nVersion: 1\nSummary: UNKNOWN\nLicense: BSD License\n\n").unwrap();
        assert_eq!(
            (p.description, p.license),
            (None, Some(License::Name("BSD License".into())))
        );
        // The whole licence text in License: the classifiers name it.
        let p = wheel(
            b"Name: a\nVersion: 1\nLicense: Copyright (c) A.\n  All rights reserved.\n\
Classifier: License :: OSI Approved :: BSD License\nClassifier: Programming Language :: C\n\n",
        )
        .unwrap();
        assert_eq!(
            p.license,
            Some(License::Classifiers(vec!["BSD License".into()]))
        );
        let p =
            npm(br#"{"name":"x","version":"1.0.0","description":"d","license":"ISC"}"#).unwrap();
        assert_eq!(p.description.as_deref(), Some("d"));
        assert_eq!(p.license, Some(License::Expression("ISC".into())));
        // Free text is no SPDX expression (jsonify 0.0.0 says "Public
        // Domain"): a name, which a reader does not parse as SPDX.
        for text in [
            "Public Domain",
            "UNLICENSED",
            "SEE LICENSE IN LICENSE.md",
            "MIT License",
        ] {
            let json = format!(r#"{{"name":"x","version":"1.0.0","license":"{text}"}}"#);
            let p = npm(json.as_bytes()).unwrap();
            assert_eq!(p.license, Some(License::Name(text.into())), "{text}");
        }
        // npm's legacy array (json-schema 0.2.3), read when `license` is absent.
        let p = npm(br#"{"name":"x","version":"1.0.0","licenses":[{"type":"AFL-2.1","url":"u"},{"type":"BSD-3-Clause"}]}"#).unwrap();
        assert_eq!(
            p.license,
            Some(License::Expression("(AFL-2.1 OR BSD-3-Clause)".into()))
        );
        let p = wheel(b"Name: six\nVersion: 1.16.0\n\n").unwrap();
        assert_eq!(
            wheel_name_contradiction("six-1.16.0-py2.py3-none-any.whl", &p),
            None
        );
        assert_eq!(
            wheel_name_contradiction("Six-1.16.0-py2.py3-none-any.whl", &p),
            None
        );
        // An sdist: the PEP 625 name, the name as written, or another.
        assert_eq!(sdist_name_contradiction("six-1.16.0.tar.gz", &p), None);
        assert_eq!(sdist_name_contradiction("dist/Six-1.16.0.tar.gz", &p), None);
        assert_eq!(sdist_name_contradiction("six-1.16.0.zip", &p), None);
        let note = sdist_name_contradiction("evil-1.16.0.tar.gz", &p).unwrap();
        assert_eq!(
            note,
            "evil-1.16.0.tar.gz: the file name says evil-1.16.0 but its PKG-INFO says \
             six 1.16.0; an sdist of it is named six-1.16.0.tar.gz (renamed or forged); \
             listed as its PKG-INFO says"
        );
        assert!(sdist_name_contradiction("six-9.9.tar.gz", &p).is_some());
        let note = wheel_name_contradiction("evil-9.9-py3-none-any.whl", &p).unwrap();
        assert!(
            note.contains("says evil 9.9 but its METADATA says six 1.16.0"),
            "{note}"
        );
        assert!(wheel_name_contradiction("six-9.9-py3-none-any.whl", &p).is_some());
        // As `repro build` names its artifacts: with their directory.
        assert_eq!(
            wheel_name_contradiction("dist/six-1.16.0-py2.py3-none-any.whl", &p),
            None
        );
        assert_eq!(
            from_file_name(Ecosystem::Pypi, "dist/six-1.16.0-py3-none-any.whl").name,
            "six"
        );
        let p = wheel(b"Name: a\nVersion: 1\nLicense-Expression: MIT or whatever\n\n").unwrap();
        assert_eq!(p.license, Some(License::Name("MIT or whatever".into())));
        let p =
            cargo(b"[package]\nname = \"c\"\nversion = \"1.0.0\"\nlicense = \"Unlicense/MIT\"\n")
                .unwrap();
        assert_eq!(
            (p.description, p.license),
            (None, Some(License::Name("Unlicense/MIT".into())))
        );
        let p = deb(b"Package: hello\nVersion: 2.10-3\nDescription: example package\n more text\n")
            .unwrap();
        assert_eq!(p.description.as_deref(), Some("example package"));
    }

    #[test]
    fn project_urls_become_typed_links_and_free_text_is_dropped() {
        let p = wheel(
            b"Name: a\nVersion: 1\nHome-page: https://example.org\n\
Project-URL: Source Code, https://github.com/o/a\n\
Project-URL: Bug Tracker, https://github.com/o/a/issues\n\
Project-URL: Funding, https://example.org/donate\n\
Project-URL: Docs, see the README\n\
Download-URL: UNKNOWN\n\n",
        )
        .unwrap();
        let got: Vec<(&str, &str, &str)> = p
            .links
            .iter()
            .map(|l| (l.kind, l.url.as_str(), l.source.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("website", "https://example.org", "Home-page"),
                ("vcs", "https://github.com/o/a", "Project-URL: Source Code"),
                (
                    "issue-tracker",
                    "https://github.com/o/a/issues",
                    "Project-URL: Bug Tracker"
                ),
                (
                    "other",
                    "https://example.org/donate",
                    "Project-URL: Funding"
                ),
            ]
        );
        let p = npm(
            br#"{"name":"x","version":"1.0.0","homepage":"https://x.dev",
            "repository":{"type":"git","url":"git+https://github.com/o/x.git"},
            "bugs":"https://github.com/o/x/issues"}"#,
        )
        .unwrap();
        let kinds: Vec<&str> = p.links.iter().map(|l| l.kind).collect();
        assert_eq!(kinds, ["website", "vcs", "issue-tracker"]);
        // The repository shorthands npm expands (left-pad 1.3.0 ships the
        // scp-like one).
        let repo = |r: &str| {
            npm(format!(r#"{{"name":"x","version":"1","repository":{{"url":"{r}"}}}}"#).as_bytes())
                .unwrap()
                .links
                .first()
                .map(|l| l.url.clone())
        };
        assert_eq!(
            repo("git@github.com:stevemao/left-pad.git").as_deref(),
            Some("git+ssh://git@github.com/stevemao/left-pad.git")
        );
        assert_eq!(
            repo("github:o/r").as_deref(),
            Some("https://github.com/o/r")
        );
        assert_eq!(repo("o/r").as_deref(), Some("https://github.com/o/r"));
        assert_eq!(repo("not a url"), None);
        let p = cargo(
            b"[package]\nname = \"c\"\nversion = \"1.0.0\"\nrepository = \"https://github.com/o/c\"\n",
        )
        .unwrap();
        assert_eq!(p.links.len(), 1);
        assert_eq!(
            (p.links[0].kind, p.links[0].source.as_str()),
            ("vcs", "repository")
        );
        let p = deb(b"Package: h\nVersion: 1\nHomepage: https://h.org/\n").unwrap();
        assert_eq!(p.links[0].url, "https://h.org/");
    }

    #[test]
    fn wheel_metadata_gives_name_version_purl_and_requirements() {
        let p = wheel(
            b"Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.0\n\
Requires-Dist: Requests[socks] (>=2); python_version > \"3\"\n\
Requires-Dist: pytest; extra == \"test\"\n\nbody\n",
        )
        .unwrap();
        assert_eq!(p.name, "Foo_Bar");
        assert_eq!(p.purl.as_deref(), Some("pkg:pypi/foo-bar@1.0"));
        assert_eq!(
            p.requires,
            [
                Requirement {
                    name: "requests".into(),
                    spec: "Requests[socks] (>=2); python_version > \"3\"".into(),
                    optional: false
                },
                Requirement {
                    name: "pytest".into(),
                    spec: "pytest; extra == \"test\"".into(),
                    optional: true
                }
            ]
        );
        assert_eq!(
            wheel(b"Name: x\n").unwrap_err(),
            "malformed METADATA: no Version field"
        );
    }

    #[test]
    fn only_markers_every_branch_of_which_names_an_extra_are_optional() {
        for (marker, optional) in [
            ("", false),
            (" extra == \"test\"", true),
            (" python_version < \"3.8\" or extra == \"x\"", false),
            (" extra == \"x\" or python_version < \"3.8\"", false),
            (" extra == \"a\" or extra == \"b\"", true),
            (" python_version < \"3.8\" and extra == \"x\"", true),
            (
                " (extra == \"a\" or extra == \"b\") and os_name == \"nt\"",
                true,
            ),
            (" (python_version < \"3\" or extra == \"x\")", false),
            (
                " (python_version < \"3\" or extra == \"x\") and extra == \"y\"",
                true,
            ),
            (" (os_name == \"nt\") or extra == \"x\"", false),
            (" sys_platform == \"extra\"", false),
            (" (os_name == \"nt\") and (extra == \"x\")", true),
            (" (os_name == \"nt\") and (python_version < \"3\")", false),
            (" sys_platform == \"a or b\" and extra == \"x\"", true),
            (" extras_require == \"x\"", false),
            (" extra==\"x\"", true),
        ] {
            assert_eq!(only_with_extra(marker), optional, "{marker:?}");
        }
        // Through Requires-Dist, as read from METADATA.
        let p = wheel(
            b"Name: x\nVersion: 1\n\
Requires-Dist: foo; python_version < \"3.8\" or extra == \"x\"\n\n",
        )
        .unwrap();
        assert!(!p.requires[0].optional, "{:?}", p.requires);
    }

    #[test]
    fn npm_cargo_and_deb_metadata() {
        let p = npm(br#"{"name":"@scope/pkg","version":"2.0.0"}"#).unwrap();
        assert_eq!(p.purl.as_deref(), Some("pkg:npm/%40scope/pkg@2.0.0"));
        assert!(npm(b"{").unwrap_err().starts_with("malformed package.json"));
        let p = cargo(b"[package]\nname = \"hello\"\nversion = \"0.1.0\"\n").unwrap();
        assert_eq!(p.purl.as_deref(), Some("pkg:cargo/hello@0.1.0"));
        assert!(cargo(b"[package\n")
            .unwrap_err()
            .starts_with("malformed Cargo.toml"));
        // The epoch's colon stays bare, as the purl spec asks.
        let p = deb(b"Package: hello\nVersion: 1:2.10-3\nArchitecture: amd64\n").unwrap();
        assert_eq!(
            p.purl.as_deref(),
            Some("pkg:deb/debian/hello@1:2.10-3?arch=amd64")
        );
    }

    #[test]
    fn purls_are_encoded_as_the_spec_says() {
        // Golden vectors from an independent implementation,
        // packageurl-python 0.17.6 (`PackageURL(...).to_string()`): ':'
        // is never encoded, '+' is (it is outside the spec's allowed
        // set), '@' in a namespace is, qualifiers are sorted by key and
        // one with an empty value is dropped.
        for (got, want) in [
            (
                purl(
                    "deb",
                    Some("debian"),
                    "hello",
                    Some("1:2.10-3"),
                    &[("arch", "amd64")],
                ),
                "pkg:deb/debian/hello@1:2.10-3?arch=amd64",
            ),
            (
                purl("pypi", None, "torch", Some("2.1.0+cpu"), &[]),
                "pkg:pypi/torch@2.1.0%2Bcpu",
            ),
            (
                purl("npm", Some("@scope"), "pkg", Some("2.0.0"), &[]),
                "pkg:npm/%40scope/pkg@2.0.0",
            ),
            (
                purl(
                    "deb",
                    Some("debian"),
                    "libc6",
                    Some("2.36-9+deb12u4"),
                    &[("distro", "debian-12"), ("arch", "amd64")],
                ),
                "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
            ),
            (
                purl("cargo", None, "x", Some("1.0.0-rc.1+build.5"), &[]),
                "pkg:cargo/x@1.0.0-rc.1%2Bbuild.5",
            ),
            (
                purl("generic", None, "a b", Some("1.0~rc1 @?#%\u{e9}=&"), &[]),
                "pkg:generic/a%20b@1.0~rc1%20%40%3F%23%25%C3%A9%3D%26",
            ),
            (
                purl(
                    "generic",
                    None,
                    "n",
                    Some("1"),
                    &[("arch", ""), ("b", "x:y")],
                ),
                "pkg:generic/n@1?b=x:y",
            ),
        ] {
            assert_eq!(got, want);
        }
        // A '/' that separates nothing is encoded, as the spec's
        // character-encoding rules say (packageurl-python leaves it bare
        // in a version, where a parser splitting at the last '@' still
        // reads it back).
        assert_eq!(
            purl("generic", None, "n", Some("a/b"), &[]),
            "pkg:generic/n@a%2Fb"
        );
    }

    #[test]
    fn an_npm_tarball_named_otherwise_than_npm_names_it_gets_a_note() {
        let scoped = npm(br#"{"name":"@scope/pkg","version":"2.0.0"}"#).unwrap();
        let plain = npm(br#"{"name":"left-pad","version":"1.3.0"}"#).unwrap();
        for (file, p) in [
            // npm pack's (and pnpm's) name, with its directory in a build.
            ("scope-pkg-2.0.0.tgz", &scoped),
            ("dist/scope-pkg-2.0.0.tgz", &scoped),
            ("left-pad-1.3.0.tgz", &plain),
            // The registry's: a scoped package's tarball is
            // `@scope/pkg/-/pkg-2.0.0.tgz`, without its scope.
            ("pkg-2.0.0.tgz", &scoped),
            // yarn 1's `yarn pack`.
            ("scope-pkg-v2.0.0.tgz", &scoped),
            ("left-pad-v1.3.0.tgz", &plain),
            // No `.tgz`: no name npm gives, nothing to contradict.
            ("left-pad.tar.gz", &plain),
        ] {
            assert_eq!(npm_name_contradiction(file, p), None, "{file}");
        }
        let note = npm_name_contradiction("evil-9.9.9.tgz", &scoped).unwrap();
        assert_eq!(
            note,
            "evil-9.9.9.tgz: the file name says evil-9.9.9 but its package.json says \
             @scope/pkg 2.0.0; npm pack names it scope-pkg-2.0.0.tgz (renamed or forged); \
             listed as its package.json says"
        );
        assert!(npm_name_contradiction("left-pad-1.3.1.tgz", &plain).is_some());
        assert!(npm_name_contradiction("scope-pkg-2.0.0.tgz", &plain).is_some());
    }

    /// `files` as a tarball on disk, listed as the SBOM lists it.
    fn tarball(files: &[(&str, &str)]) -> (tempfile::TempDir, Listing) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.tar.gz");
        crate::sbom::fixtures::tar_gz(&path, files);
        let listing = Listing::open(&path, &diffoscope_lite::Options::default()).unwrap();
        (dir, listing)
    }

    #[test]
    fn an_sdist_is_named_by_its_top_level_pkg_info_only() {
        let pkg_info = "Metadata-Version: 2.2\nName: Demo_Pkg\nVersion: 1.0\n\
License-Expression: MIT\nRequires-Dist: idna>=2\n\nbody\n";
        let vendored = "Metadata-Version: 2.1\nName: vendored\nVersion: 9.9\n";
        // The vendored one comes first in the archive: only the top
        // level's counts.
        let (_d, l) = tarball(&[
            ("demo_pkg-1.0/", ""),
            ("demo_pkg-1.0/src/vendored.egg-info/PKG-INFO", vendored),
            ("demo_pkg-1.0/PKG-INFO", pkg_info),
            ("demo_pkg-1.0/pyproject.toml", "[project]\n"),
        ]);
        let mut notes = Vec::new();
        let p = read(Ecosystem::Npm, "demo_pkg-1.0.tar.gz", &l, &mut notes).unwrap();
        assert_eq!(notes, Vec::<String>::new());
        assert_eq!(p.ecosystem, Ecosystem::Pypi);
        assert_eq!(
            (p.name.as_str(), p.version.as_deref(), p.purl.as_deref()),
            ("Demo_Pkg", Some("1.0"), Some("pkg:pypi/demo-pkg@1.0"))
        );
        assert_eq!(p.license, Some(License::Expression("MIT".into())));
        assert_eq!(p.requires[0].name, "idna");

        // A Python source tree whose only PKG-INFO is a vendored one's:
        // no sdist, and the note says what is missing.
        let (_d, l) = tarball(&[
            ("demo_pkg-1.0/setup.py", "\n"),
            ("demo_pkg-1.0/vendor/x-2.0/PKG-INFO", vendored),
        ]);
        let mut notes = Vec::new();
        assert_eq!(
            read(Ecosystem::Npm, "demo_pkg-1.0.tar.gz", &l, &mut notes),
            None
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].starts_with("demo_pkg-1.0.tar.gz: ")
                && notes[0].contains("no demo_pkg-1.0/PKG-INFO"),
            "{notes:?}"
        );

        // A malformed PKG-INFO: listed as a file, the note naming it and
        // the problem.
        let (_d, l) = tarball(&[("bad-1.0/PKG-INFO", "Name: bad\nthis is prose\n")]);
        let mut notes = Vec::new();
        assert_eq!(read(Ecosystem::Npm, "bad-1.0.tar.gz", &l, &mut notes), None);
        assert_eq!(
            notes,
            [
                "bad-1.0.tar.gz: bad-1.0/PKG-INFO: malformed PKG-INFO: line 2 is not a \
              `Field: value` header; listed as a file"
            ]
        );

        // Not an sdist's layout (no single top-level directory), and a
        // plain source tarball of no Python project: no package, no note.
        for files in [
            &[("a-1/PKG-INFO", pkg_info), ("b-1/README", "\n")][..],
            &[("hello-2.12/configure", "#!/bin/sh\n")][..],
        ] {
            let (_d, l) = tarball(files);
            let mut notes = Vec::new();
            assert_eq!(read(Ecosystem::Npm, "x-1.tar.gz", &l, &mut notes), None);
            assert_eq!(notes, Vec::<String>::new());
        }
    }

    #[test]
    fn names_from_file_names_and_pep503() {
        let p = from_file_name(Ecosystem::Pypi, "numpy-1.26.4-cp311-cp311-linux_x86_64.whl");
        assert_eq!(
            (p.name.as_str(), p.version.as_deref()),
            ("numpy", Some("1.26.4"))
        );
        assert_eq!(pep503("Zope.Interface__x"), "zope-interface-x");
    }
}
