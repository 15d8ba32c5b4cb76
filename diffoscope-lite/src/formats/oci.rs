//! OCI image layouts (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`),
//! read by following index → manifest → config and layers.
//!
//! Blobs are named by digest, so two builds of one image share almost no
//! blob names; compared as a plain directory they would look like "every
//! file removed, every file added". Here each referenced blob becomes an
//! entry named by its *role* — `manifest 1 (linux/amd64)/config.json`,
//! `manifest 1 (linux/amd64)/layer 2 of 3` — so the two sides pair up and
//! the differ recurses into the layers (gzip → tar) and diffs the JSON.
//! Digests and sizes of referenced blobs show in the manifest and index
//! JSON, which are compared like any entry; the container's comments are
//! kept for anomalies, which are reported even when both sides share them,
//! so two copies of one layout compare equal. Blob
//! digests are validated before they are turned into paths: an index
//! cannot make repro read outside `blobs/`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Format, Kind, Parsed};
use crate::model::{Container, Content, Cx, Entry, EntryKind, Metadata, Source};
use crate::{Error, Result};

/// OCI image layouts (recognised from the filesystem: a directory with an
/// `oci-layout` file).
pub struct OciLayout;

/// Largest JSON document (index, manifest) read into memory.
const MAX_JSON: u64 = 8 << 20;
/// Deepest nesting of image indexes followed.
const MAX_INDEX_DEPTH: usize = 4;

/// True when `dir` looks like an OCI image layout.
pub fn is_layout(dir: &Path) -> bool {
    dir.join("oci-layout").is_file() && dir.join("index.json").is_file()
}

impl Format for OciLayout {
    fn kind(&self) -> Kind {
        Kind::OciLayout
    }

    /// Layouts are recognised from the filesystem, never from bytes.
    fn detect(&self, _head: &[u8]) -> bool {
        false
    }

    fn read(&self, content: &Content, name: &str, cx: &Cx<'_>) -> Result<Parsed> {
        let Source::Path(root) = &content.0 else {
            return Err(malformed(name, "not a directory on disk"));
        };
        let mut r = Reader {
            root,
            name,
            cx,
            entries: Vec::new(),
            comments: Vec::new(),
        };
        r.file("oci-layout", root.join("oci-layout"))?;
        r.file("index.json", root.join("index.json"))?;
        let index = r.json(&root.join("index.json"), "index.json")?;
        r.index(&index, "", 0)?;
        for (i, e) in r.entries.iter_mut().enumerate() {
            e.meta.order = i;
        }
        Ok(Parsed::Container(Container {
            format: Kind::OciLayout,
            entries: r.entries,
            meta: Vec::new(),
            comments: r.comments,
            single_stream: false,
            ordered: false,
        }))
    }
}

fn malformed(entry: &str, detail: impl Into<String>) -> Error {
    Error::Malformed {
        entry: entry.to_owned(),
        format: Kind::OciLayout,
        detail: detail.into(),
    }
}

struct Reader<'a> {
    root: &'a Path,
    name: &'a str,
    cx: &'a Cx<'a>,
    entries: Vec<Entry>,
    comments: Vec<String>,
}

impl Reader<'_> {
    fn file(&mut self, path: &str, on_disk: PathBuf) -> Result<()> {
        self.cx
            .budget
            .add_entry(&format!("{}::{path}", self.name))?;
        let size = std::fs::metadata(&on_disk)
            .map_err(|source| Error::Read {
                path: on_disk.clone(),
                source,
            })?
            .len();
        self.entries.push(Entry {
            path: path.to_owned(),
            kind: EntryKind::File,
            meta: Metadata {
                size: Some(size),
                ..Metadata::default()
            },
            content: Content::path(on_disk),
            digest: None,
        });
        Ok(())
    }

    fn json(&self, path: &Path, label: &str) -> Result<Value> {
        let entry = format!("{}::{label}", self.name);
        let file = std::fs::File::open(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let bytes = super::read_capped(&mut std::io::BufReader::new(file), MAX_JSON)
            .map_err(|source| Error::Read {
                path: path.to_owned(),
                source,
            })?
            .ok_or_else(|| malformed(&entry, format!("larger than {MAX_JSON} bytes")))?;
        serde_json::from_slice(&bytes).map_err(|e| malformed(&entry, format!("not JSON: {e}")))
    }

    /// The blob a descriptor points at, after validating its digest.
    fn blob(&self, desc: &Value, label: &str) -> Result<PathBuf> {
        let entry = format!("{}::{label}", self.name);
        let digest = desc["digest"]
            .as_str()
            .ok_or_else(|| malformed(&entry, "descriptor without a digest"))?;
        let (alg, hex) = digest
            .split_once(':')
            .ok_or_else(|| malformed(&entry, format!("bad digest {digest:?}")))?;
        let safe = |s: &str, extra: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(c))
        };
        if !safe(alg, "+._-") || !safe(hex, "") {
            return Err(malformed(&entry, format!("bad digest {digest:?}")));
        }
        let path = self.root.join("blobs").join(alg).join(hex);
        if !path.is_file() {
            return Err(malformed(&entry, format!("blob {digest} is missing")));
        }
        Ok(path)
    }

    fn index(&mut self, index: &Value, prefix: &str, depth: usize) -> Result<()> {
        if depth > MAX_INDEX_DEPTH {
            return Err(malformed(
                &format!("{}::{prefix}", self.name),
                format!("image indexes nested deeper than {MAX_INDEX_DEPTH}"),
            ));
        }
        let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
        for (i, desc) in manifests.iter().enumerate() {
            let mut label = format!("{prefix}manifest {}", i + 1);
            let platform = &desc["platform"];
            if let (Some(os), Some(arch)) =
                (platform["os"].as_str(), platform["architecture"].as_str())
            {
                label.push_str(&format!(" ({os}/{arch})"));
            }
            if let Some(r) = desc["annotations"]["org.opencontainers.image.ref.name"].as_str() {
                label.push_str(&format!(" [{r}]"));
            }
            let path = self.blob(desc, &label)?;
            let media = desc["mediaType"].as_str().unwrap_or_default();
            if media.ends_with("image.index.v1+json") || media.ends_with("manifest.list.v2+json") {
                let file = format!("{label}/index.json");
                self.file(&file, path.clone())?;
                let nested = self.json(&path, &file)?;
                self.index(&nested, &format!("{label}/"), depth + 1)?;
                continue;
            }
            let file = format!("{label}/manifest.json");
            self.file(&file, path.clone())?;
            let manifest = self.json(&path, &file)?;
            let config = &manifest["config"];
            if config.is_object() {
                let file = format!("{label}/config.json");
                let p = self.blob(config, &file)?;
                self.file(&file, p)?;
            }
            let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
            for (j, layer) in layers.iter().enumerate() {
                let file = format!("{label}/layer {} of {}", j + 1, layers.len());
                let p = self.blob(layer, &file)?;
                self.file(&file, p)?;
            }
        }
        Ok(())
    }
}
