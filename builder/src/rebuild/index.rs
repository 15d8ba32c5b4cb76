//! A package index's JSON simple API (PEP 691, upload times from PEP 700),
//! and downloads checked against the hashes the index lists.
//!
//! HTTP goes through the `python3` the rebuild uses anyway (its `urllib`
//! honours the machine's proxy and CA settings, as pip does), so repro
//! carries no TLS stack of its own. pip itself is not used to fetch the
//! sdist: `pip download` of an sdist runs the project's build backend on
//! the host to read its metadata, which is the untrusted code a rebuilder
//! must only run inside the sandbox.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// The public index.
pub const PYPI: &str = "https://pypi.org/simple";

/// A GET that writes the body to a file: exit 3 on HTTP 404, 4 on any other
/// failure with one line on stderr (never a traceback).
const GET: &str = r#"
import sys, shutil, urllib.request, urllib.error
url, out, accept = sys.argv[1], sys.argv[2], sys.argv[3]
req = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": "repro-rebuild"})
try:
    with urllib.request.urlopen(req, timeout=300) as r, open(out, "wb") as f:
        shutil.copyfileobj(r, f, 1 << 20)
except urllib.error.HTTPError as e:
    print(f"HTTP {e.code} {e.reason}", file=sys.stderr)
    sys.exit(3 if e.code == 404 else 4)
except Exception as e:
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(4)
"#;

/// Why something could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The index has no such project.
    #[error("{project}: not found on {index}")]
    NoProject {
        /// Project name asked for.
        project: String,
        /// Index URL.
        index: String,
    },
    /// The index has the project but not that version.
    #[error("{project}: version {version} not found on {index} (newest: {newest})")]
    NoVersion {
        /// Project name.
        project: String,
        /// Version asked for.
        version: String,
        /// Index URL.
        index: String,
        /// The last few versions the index lists.
        newest: String,
    },
    /// A download failed.
    #[error("GET {url}: {detail}")]
    Http {
        /// What was fetched.
        url: String,
        /// python3's one-line reason.
        detail: String,
    },
    /// python3 could not be run.
    #[error("cannot run {python} to fetch over HTTP: {source}")]
    Python {
        /// The interpreter.
        python: String,
        /// Why.
        source: std::io::Error,
    },
    /// A downloaded file is not what the index promised.
    #[error("{file}: SHA-256 {actual} but the index lists {expected}; the download was discarded")]
    HashMismatch {
        /// File name.
        file: String,
        /// Hash the index lists.
        expected: String,
        /// Hash of what arrived.
        actual: String,
    },
    /// The index answered something that is not its JSON API.
    #[error("{url}: not a PEP 691 JSON index page: {detail}")]
    BadIndex {
        /// Page URL.
        url: String,
        /// Parse error.
        detail: String,
    },
    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// One file the index lists for a project.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct IndexFile {
    /// File name.
    pub filename: String,
    /// Where to download it.
    pub url: String,
    /// Hashes by algorithm.
    pub hashes: std::collections::BTreeMap<String, String>,
    /// Upload time (PEP 700), RFC 3339.
    #[serde(rename = "upload-time", default)]
    pub upload_time: Option<String>,
    /// Yanked (`true` or a reason string).
    #[serde(default)]
    pub yanked: serde_json::Value,
}

impl IndexFile {
    /// The SHA-256 the index lists, if any.
    pub fn sha256(&self) -> Option<&str> {
        self.hashes.get("sha256").map(String::as_str)
    }

    /// Whether the file was yanked.
    pub fn is_yanked(&self) -> bool {
        !matches!(
            self.yanked,
            serde_json::Value::Null | serde_json::Value::Bool(false)
        )
    }
}

/// A project's page on the index.
#[derive(Clone, Debug, Deserialize)]
pub struct Project {
    /// Every file.
    pub files: Vec<IndexFile>,
    /// Every version, oldest first (PEP 700).
    #[serde(default)]
    pub versions: Vec<String>,
}

/// An index reached through a python3 interpreter.
#[derive(Clone, Debug)]
pub struct Index {
    /// Base URL of the simple API (no trailing slash).
    pub url: String,
    /// The interpreter that does the HTTP.
    pub python: PathBuf,
}

impl Index {
    /// Fetches `project`'s page.
    pub fn project(&self, project: &str, scratch: &Path) -> Result<Project, FetchError> {
        let url = format!("{}/{}/", self.url, super::recipe::normalize_name(project));
        // The scratch directory may be shared (the frontend cache of a
        // batch's parallel rebuilds): the name is this process's own.
        let out = scratch.join(format!(
            ".index-{}-{}.json",
            super::recipe::normalize_name(project),
            std::process::id()
        ));
        match self.get(&url, &out, "application/vnd.pypi.simple.v1+json") {
            Err(FetchError::Http { detail, .. }) if detail.starts_with("HTTP 404") => {
                return Err(FetchError::NoProject {
                    project: project.to_owned(),
                    index: self.url.clone(),
                })
            }
            r => r?,
        }
        let text = fs_err::read(&out).map_err(|e| FetchError::Io {
            path: out.clone(),
            source: e,
        })?;
        let _ = fs_err::remove_file(&out);
        serde_json::from_slice(&text).map_err(|e| FetchError::BadIndex {
            url,
            detail: e.to_string(),
        })
    }

    /// Downloads `file` into `dir`, checking its SHA-256 against the index's;
    /// a file already there with that hash is kept (a cache). Returns its path.
    pub fn download(&self, file: &IndexFile, dir: &Path) -> Result<PathBuf, FetchError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| FetchError::Io { path, source }
        };
        // The name comes from the index: only its last component is used.
        let name = Path::new(&file.filename)
            .file_name()
            .ok_or_else(|| FetchError::BadIndex {
                url: file.url.clone(),
                detail: format!("file name {:?}", file.filename),
            })?;
        let dest = dir.join(name);
        let expected = file.sha256().map(str::to_ascii_lowercase);
        if let (Some(want), Ok(have)) = (&expected, sha256_of(&dest)) {
            if *want == have {
                return Ok(dest);
            }
        }
        // The directory may be shared by parallel rebuilds (a batch's
        // frontend cache): each downloads into a name of its own, and the
        // rename of a verified file over the same content is harmless.
        let part = dir.join(format!(
            ".{}.{}.part",
            name.to_string_lossy(),
            std::process::id()
        ));
        self.get(&file.url, &part, "*/*")?;
        let actual = sha256_of(&part).map_err(io(&part))?;
        if let Some(want) = expected {
            if want != actual {
                let _ = fs_err::remove_file(&part);
                return Err(FetchError::HashMismatch {
                    file: file.filename.clone(),
                    expected: want,
                    actual,
                });
            }
        }
        fs_err::rename(&part, &dest).map_err(io(&dest))?;
        Ok(dest)
    }

    fn get(&self, url: &str, out: &Path, accept: &str) -> Result<(), FetchError> {
        let output = Command::new(&self.python)
            .args(["-I", "-c", GET, url])
            .arg(out)
            .arg(accept)
            .output()
            .map_err(|source| FetchError::Python {
                python: self.python.display().to_string(),
                source,
            })?;
        if output.status.success() {
            return Ok(());
        }
        let _ = fs_err::remove_file(out);
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(FetchError::Http {
            url: url.to_owned(),
            detail: stderr.lines().last().unwrap_or("failed").trim().to_owned(),
        })
    }
}

/// Hex SHA-256 of a file.
pub fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

/// The sdist of `version` among `files` (`NAME-VERSION.tar.gz`, or `.zip`
/// for old projects), the name compared normalized.
pub fn sdist_of<'a>(files: &'a [IndexFile], project: &str, version: &str) -> Option<&'a IndexFile> {
    let want = super::recipe::normalize_name(project);
    files.iter().filter(|f| !f.is_yanked()).find(|f| {
        super::recipe::sdist_name_version(&f.filename)
            .is_some_and(|(n, v)| super::recipe::normalize_name(n) == want && v == version)
    })
}

/// The wheels of `version` among `files`.
pub fn wheels_of<'a>(files: &'a [IndexFile], project: &str, version: &str) -> Vec<&'a IndexFile> {
    let want = super::recipe::normalize_name(project);
    files
        .iter()
        .filter(|f| !f.is_yanked())
        .filter(|f| {
            super::recipe::wheel_tags(&f.filename).is_some_and(|t| {
                super::recipe::normalize_name(t.name) == want && t.version == version
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> IndexFile {
        IndexFile {
            filename: name.into(),
            url: format!("https://files.example/{name}"),
            hashes: [("sha256".to_owned(), "ab".repeat(32))].into(),
            upload_time: Some("2024-01-01T00:00:00Z".into()),
            yanked: serde_json::Value::Bool(false),
        }
    }

    #[test]
    fn picks_the_versions_files() {
        let files = vec![
            file("attrs-23.1.0-py3-none-any.whl"),
            file("attrs-23.1.0.tar.gz"),
            file("attrs-23.10.0.tar.gz"),
            file("attrs-23.10.0-py3-none-any.whl"),
            file("attrs_extra-23.1.0.tar.gz"),
        ];
        assert_eq!(
            sdist_of(&files, "attrs", "23.1.0").unwrap().filename,
            "attrs-23.1.0.tar.gz"
        );
        let w = wheels_of(&files, "Attrs", "23.1.0");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].filename, "attrs-23.1.0-py3-none-any.whl");
        assert!(sdist_of(&files, "attrs", "9").is_none());
        let mut yanked = file("attrs-1.0.tar.gz");
        yanked.yanked = serde_json::Value::String("broken".into());
        assert!(sdist_of(&[yanked], "attrs", "1.0").is_none());
    }

    #[test]
    fn parses_a_pep_691_page() {
        let page = r#"{"meta":{"api-version":"1.1"},"name":"attrs","versions":["1.0"],
            "files":[{"filename":"attrs-1.0.tar.gz","url":"https://x/attrs-1.0.tar.gz",
            "hashes":{"sha256":"00"},"upload-time":"2015-01-01T00:00:00.1Z","yanked":false,
            "requires-python":null,"size":3}]}"#;
        let p: Project = serde_json::from_str(page).unwrap();
        assert_eq!(p.files[0].sha256(), Some("00"));
        assert_eq!(
            p.files[0].upload_time.as_deref(),
            Some("2015-01-01T00:00:00.1Z")
        );
        assert_eq!(p.versions, ["1.0"]);
    }
}
