//! OCI image layouts (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`): the
//! one reader of them, which the differ, the normalizer and the normalized
//! digest all use.
//!
//! [`read`] follows index → manifests (and nested indexes) → config and
//! layers once, and yields an [`Image`]: every referenced blob, opened,
//! checked against its descriptor and, for JSON documents, parsed. What it
//! checks, for every blob:
//!
//! - it is opened beneath the layout's root without following any link
//!   ([`crate::beneath`]); a link is reported as a link, never read;
//! - its digest is a well-formed `sha256:`/`sha512:` digest (checked before
//!   it becomes a path), and its content hashes to it;
//! - its size is the descriptor's size (a size the blob does not have is
//!   never used to size anything);
//! - its content is what the media type says: an index has `manifests`, a
//!   manifest has `config` and `layers`, both name the descriptor's media
//!   type when they name one, a `+json` config is JSON, a gzip or zstd
//!   layer starts like one and a plain layer is a tar.
//!
//! Blobs that fail a check are *problems*, kept in [`Image::problems`]: the
//! differ reports them (the bytes are still compared), while normalizing
//! and the normalized digest refuse the image — a digest of an image that
//! lies about its blobs would be worse than none. Damage that stops the
//! walk (no index, a missing blob, a JSON document that does not parse, an
//! index that lists itself, nesting past `--max-depth`, more blobs than
//! `--max-entries`, a JSON document larger than `--max-json`) is an error
//! on every side, with the same message.
//!
//! Blobs are named by digest, so two builds of one image share almost no
//! blob names; compared as a plain directory they would look like "every
//! file removed, every file added". The differ therefore sees each blob
//! as an entry named by its *role* — `manifest 1 (linux/amd64)/config.json`,
//! `manifest 1 (linux/amd64)/layer 2 of 3` — so the two sides pair up and
//! it recurses into the layers (gzip → tar) and diffs the JSON. Files
//! the index does not reach are no part of the image but are bytes of the
//! layout: they are listed by path under `not referenced by the index/`,
//! so two layouts that differ only there never compare identical.

use std::fmt;
use std::io::{self, Read};
use std::path::Path;

use serde_json::Value;
use sha2::{Digest as _, Sha256, Sha512};

use super::{Format, Kind, Parsed};
use crate::beneath::{Found, Root};
use crate::blob::Blob;
use crate::limits::Budget;
use crate::model::{Container, Content, Cx, Entry, EntryKind, Metadata, Source};
use crate::{Error, Result};

/// OCI image layouts (recognised from the filesystem: a directory with an
/// `oci-layout` file).
pub struct OciLayout;

/// True when `dir` looks like an OCI image layout: its `oci-layout` and
/// `index.json` are regular files (links are not followed to decide).
pub fn is_layout(dir: &Path) -> bool {
    let file = |n: &str| std::fs::symlink_metadata(dir.join(n)).is_ok_and(|m| m.is_file());
    file("oci-layout") && file("index.json")
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
        let image = read(root, name, cx.budget, 1)?;
        let mut entries = Vec::new();
        entries.push(entry("oci-layout", &image.oci_layout));
        entries.push(entry("index.json", &Member::File(image.index.blob.clone())));
        flatten(&image.manifests, &mut entries);
        let mut comments: Vec<String> = image.problems.iter().map(ToString::to_string).collect();
        // Files the index does not reach are no part of the image, but they
        // are bytes of the layout: two layouts that differ only there must
        // not compare identical. They are listed under their own paths.
        let Parsed::Container(on_disk) = super::directory::Directory.read(content, name, cx)?
        else {
            return Err(malformed(name, "not a directory on disk"));
        };
        // A path the walk opened, or a directory (or a link standing for
        // one, already reported as a problem) on the way to one.
        let on_the_way: std::collections::BTreeSet<&str> = image
            .reached
            .iter()
            .flat_map(|r| {
                r.match_indices('/')
                    .map(|(i, _)| &r[..i])
                    .chain(std::iter::once(r.as_str()))
            })
            .collect();
        let stray: Vec<Entry> = on_disk
            .entries
            .into_iter()
            .filter(|e| e.kind != EntryKind::Dir && !on_the_way.contains(e.path.as_str()))
            .map(|mut e| {
                e.path = format!("{UNREFERENCED}/{}", e.path);
                e
            })
            .collect();
        if !stray.is_empty() {
            comments.push(format!(
                "{} files of the layout are not referenced by its index (listed under {UNREFERENCED}/)",
                stray.len()
            ));
        }
        entries.extend(stray);
        for (i, e) in entries.iter_mut().enumerate() {
            e.meta.order = i;
        }
        Ok(Parsed::Container(Container {
            format: Kind::OciLayout,
            entries,
            meta: Vec::new(),
            comments,
            single_stream: false,
            ordered: false,
        }))
    }
}

/// Where the differ lists the files of a layout its index does not reach.
const UNREFERENCED: &str = "not referenced by the index";

/// The differ's entries for a list of descriptors, by role.
fn flatten(nodes: &[Node], out: &mut Vec<Entry>) {
    for n in nodes {
        match &n.body {
            Body::Link(m) => out.push(entry(&n.label, m)),
            Body::Index { doc, manifests } => {
                out.push(entry(
                    &format!("{}/index.json", n.label),
                    &Member::File(doc.blob.clone()),
                ));
                flatten(manifests, out);
            }
            Body::Manifest {
                doc,
                config,
                layers,
            } => {
                out.push(entry(
                    &format!("{}/manifest.json", n.label),
                    &Member::File(doc.blob.clone()),
                ));
                out.push(entry(&config.label, &config.member));
                for l in layers {
                    out.push(entry(&l.label, &l.member));
                }
            }
        }
    }
}

fn entry(path: &str, m: &Member) -> Entry {
    let (kind, content, size) = match m {
        Member::File(b) => (EntryKind::File, Content::of_blob(b), Some(b.len())),
        Member::Link(target) => (
            EntryKind::Symlink {
                target: target.clone(),
            },
            Content::empty(),
            None,
        ),
    };
    Entry {
        path: path.to_owned(),
        kind,
        meta: Metadata {
            size,
            ..Metadata::default()
        },
        content,
        digest: None,
    }
}

fn malformed(entry: &str, detail: impl Into<String>) -> Error {
    Error::Malformed {
        entry: entry.to_owned(),
        format: Kind::OciLayout,
        detail: detail.into(),
    }
}

/// An image layout as its one reader saw it.
pub(crate) struct Image {
    /// The `oci-layout` file.
    pub(crate) oci_layout: Member,
    /// The top-level `index.json`.
    pub(crate) index: Doc,
    /// One node per descriptor of `index.json`'s `manifests`, in order.
    pub(crate) manifests: Vec<Node>,
    /// Blobs that do not match their descriptors, and links.
    pub(crate) problems: Vec<Problem>,
    /// Every path beneath the layout that the walk opened (`oci-layout`,
    /// `index.json`, `blobs/sha256/…`).
    pub(crate) reached: std::collections::BTreeSet<String>,
}

impl Image {
    /// Fails with the first problem, naming the layout and the blob: for
    /// the users that must not go on with a lying image.
    pub(crate) fn check(&self, name: &str) -> Result<()> {
        match self.problems.first() {
            None => Ok(()),
            Some(p) => {
                let more = match self.problems.len() - 1 {
                    0 => String::new(),
                    n => format!(" (and {n} more problems; `repro diff` lists them)"),
                };
                Err(malformed(
                    &format!("{name}::{}", p.label),
                    format!("{}{more}", p.detail),
                ))
            }
        }
    }
}

/// A blob that does not match its descriptor, or is a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The blob's role (`manifest 1/layer 2 of 3`).
    pub(crate) label: String,
    /// What is wrong, with the expected and the found value.
    pub(crate) detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.label, self.detail)
    }
}

/// The bytes behind a path or a descriptor: a regular file, or a link that
/// was not followed.
#[derive(Clone, Debug)]
pub(crate) enum Member {
    /// The blob's bytes.
    File(Blob),
    /// A symbolic link, with its target.
    Link(String),
}

/// A JSON document: its bytes and what they parse to.
#[derive(Clone, Debug)]
pub(crate) struct Doc {
    /// The bytes.
    pub(crate) blob: Blob,
    /// The parsed document.
    pub(crate) json: Value,
}

/// One descriptor of an index.
#[derive(Debug)]
pub(crate) struct Node {
    /// Its role: `manifest 1 (linux/amd64) [ref]`, nested ones prefixed by
    /// their index's role.
    pub(crate) label: String,
    /// The descriptor.
    pub(crate) desc: Value,
    /// What it points at.
    pub(crate) body: Body,
}

/// What a descriptor of an index points at.
#[derive(Debug)]
pub(crate) enum Body {
    /// A nested index and its descriptors.
    Index {
        /// The index.
        doc: Doc,
        /// One node per descriptor of its `manifests`, in order.
        manifests: Vec<Node>,
    },
    /// An image manifest.
    Manifest {
        /// The manifest.
        doc: Doc,
        /// Its config (`json` is set when the config is JSON).
        config: Layer,
        /// Its layers, in order.
        layers: Vec<Layer>,
    },
    /// A link where the blob should be (a problem).
    Link(Member),
}

/// A config or a layer of a manifest.
#[derive(Debug)]
pub(crate) struct Layer {
    /// Its role: `manifest 1/config.json`, `manifest 1/layer 2 of 3`.
    pub(crate) label: String,
    /// The descriptor.
    pub(crate) desc: Value,
    /// The blob.
    pub(crate) member: Member,
    /// The parsed document, for a JSON config.
    pub(crate) json: Option<Value>,
}

/// Reads the layout at `dir` (named `name` in messages); the top index is
/// at `depth` for `--max-depth`, every nested index one deeper.
pub(crate) fn read(dir: &Path, name: &str, budget: &Budget, depth: u32) -> Result<Image> {
    let root = Root::open(dir).map_err(|source| Error::Read {
        path: dir.to_owned(),
        source,
    })?;
    let mut w = Walker {
        root,
        name,
        budget,
        problems: Vec::new(),
        path: Vec::new(),
        reached: std::collections::BTreeSet::new(),
    };
    budget.add_entry(&format!("{name}::oci-layout"))?;
    let oci_layout = w.open("oci-layout", "oci-layout")?;
    budget.add_entry(&format!("{name}::index.json"))?;
    let index = match w.open("index.json", "index.json")? {
        Member::File(b) => w.doc(b, "index.json")?,
        Member::Link(_) => {
            let p = w.problems.pop();
            return Err(p.map_or_else(
                || malformed(name, "index.json is a link"),
                |p| p.into_error(name),
            ));
        }
    };
    budget.check_depth(depth, name)?;
    let manifests = w.index(&index.json, "", "index.json", depth)?;
    Ok(Image {
        oci_layout,
        index,
        manifests,
        problems: w.problems,
        reached: w.reached,
    })
}

impl Problem {
    fn into_error(self, name: &str) -> Error {
        malformed(&format!("{name}::{}", self.label), self.detail)
    }
}

struct Walker<'a> {
    root: Root,
    name: &'a str,
    budget: &'a Budget,
    problems: Vec<Problem>,
    /// Digests of the indexes being walked, outermost first: a cycle check.
    path: Vec<String>,
    /// Every path opened (see [`Image::reached`]).
    reached: std::collections::BTreeSet<String>,
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const MANIFEST_TYPES: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

impl Walker<'_> {
    fn entry(&self, label: &str) -> String {
        format!("{}::{label}", self.name)
    }

    fn problem(&mut self, label: &str, detail: String) {
        self.problems.push(Problem {
            label: label.to_owned(),
            detail,
        });
    }

    /// Opens `rel` beneath the root: a file, or a link (recorded as a
    /// problem); anything else is an error.
    fn open(&mut self, rel: &str, label: &str) -> Result<Member> {
        self.reached.insert(rel.to_owned());
        let read_error = |source| Error::Read {
            path: self.root.path().join(rel),
            source,
        };
        match self.root.open_file(Path::new(rel)).map_err(read_error)? {
            Found::File(f) => Ok(Member::File(Blob::of_file(f).map_err(read_error)?)),
            Found::Link { at, target } => {
                self.problem(
                    label,
                    format!("{at} is a symbolic link to {target:?}; links are not followed"),
                );
                Ok(Member::Link(target))
            }
            Found::Other(what) => Err(malformed(
                &self.entry(label),
                format!("{rel} is {what}, not a regular file"),
            )),
        }
    }

    /// Parses a JSON document, within `--max-json`.
    fn doc(&self, blob: Blob, label: &str) -> Result<Doc> {
        self.budget.check_json(blob.len(), &self.entry(label))?;
        let bytes = blob
            .read_vec(0, blob.len())
            .map_err(|e| self.budget.io_error(e, &self.entry(label), "reading"))?;
        let json = serde_json::from_slice(&bytes)
            .map_err(|e| malformed(&self.entry(label), format!("not JSON: {e}")))?;
        Ok(Doc { blob, json })
    }

    /// Opens the blob of a descriptor and checks its digest and size.
    fn blob(&mut self, desc: &Value, label: &str) -> Result<Member> {
        self.budget.add_entry(&self.entry(label))?;
        let digest = desc["digest"].as_str().unwrap_or_default();
        let (alg, hex) = digest
            .split_once(':')
            .ok_or_else(|| malformed(&self.entry(label), format!("bad digest {digest:?}")))?;
        let hex_len = match alg {
            "sha256" => 64,
            "sha512" => 128,
            _ => {
                return Err(malformed(
                    &self.entry(label),
                    format!("bad digest {digest:?}: only sha256 and sha512 are supported"),
                ))
            }
        };
        if hex.len() != hex_len || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(malformed(
                &self.entry(label),
                format!("bad digest {digest:?}"),
            ));
        }
        let rel = format!("blobs/{alg}/{hex}");
        let missing = |e: &Error| matches!(e, Error::Read { source, .. } if source.kind() == io::ErrorKind::NotFound);
        let member = match self.open(&rel, label) {
            Err(e) if missing(&e) => {
                return Err(malformed(
                    &self.entry(label),
                    format!("blob {digest} is missing"),
                ))
            }
            other => other?,
        };
        let Member::File(b) = &member else {
            return Ok(member);
        };
        match desc["size"].as_u64() {
            Some(size) if size == b.len() => {}
            Some(size) => self.problem(
                label,
                format!(
                    "blob {digest}: the descriptor says {size} bytes, the blob has {}",
                    b.len()
                ),
            ),
            None => self.problem(
                label,
                format!(
                    "blob {digest}: the descriptor has no valid size (found {}), the blob has {} bytes",
                    desc["size"],
                    b.len()
                ),
            ),
        }
        let found =
            hash(b, alg).map_err(|e| self.budget.io_error(e, &self.entry(label), "reading"))?;
        if found != hex {
            self.problem(
                label,
                format!("blob {digest}: its content has the digest {alg}:{found}"),
            );
        }
        Ok(member)
    }

    /// The nodes of an index's `manifests`.
    fn index(&mut self, index: &Value, prefix: &str, label: &str, depth: u32) -> Result<Vec<Node>> {
        let manifests = index["manifests"].as_array().ok_or_else(|| {
            malformed(
                &self.entry(label),
                "an image index without a manifests array",
            )
        })?;
        let mut nodes = Vec::with_capacity(manifests.len());
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
            let body = self.descriptor(desc, &label, depth)?;
            nodes.push(Node {
                label,
                desc: desc.clone(),
                body,
            });
        }
        Ok(nodes)
    }

    /// What one descriptor of an index points at.
    fn descriptor(&mut self, desc: &Value, label: &str, depth: u32) -> Result<Body> {
        let digest = desc["digest"].as_str().unwrap_or_default().to_owned();
        if let Some(at) = self.path.iter().position(|d| *d == digest) {
            return Err(malformed(
                &self.entry(label),
                format!(
                    "image index {digest} lists itself ({} level{} up); a cycle cannot be walked",
                    self.path.len() - at,
                    if self.path.len() - at == 1 { "" } else { "s" }
                ),
            ));
        }
        let media = desc["mediaType"].as_str().unwrap_or_default();
        let b = match self.blob(desc, label)? {
            Member::File(b) => b,
            link @ Member::Link(_) => return Ok(Body::Link(link)),
        };
        let is_index = INDEX_TYPES.contains(&media);
        let file = if is_index {
            "index.json"
        } else {
            "manifest.json"
        };
        let doc = self.doc(b, &format!("{label}/{file}"))?;
        let named = doc.json["mediaType"].as_str();
        if !is_index && !MANIFEST_TYPES.contains(&media) {
            self.problem(
                label,
                format!(
                    "media type {media:?} in the descriptor is neither an image index nor a manifest"
                ),
            );
        }
        if let Some(named) = named.filter(|n| *n != media) {
            self.problem(
                label,
                format!("the descriptor says media type {media:?}, the document says {named:?}"),
            );
        }
        if is_index {
            self.budget.check_depth(depth + 1, &self.entry(label))?;
            self.path.push(digest);
            let manifests = self.index(
                &doc.json,
                &format!("{label}/"),
                &format!("{label}/index.json"),
                depth + 1,
            );
            self.path.pop();
            return Ok(Body::Index {
                doc,
                manifests: manifests?,
            });
        }
        let config_desc = &doc.json["config"];
        if !config_desc.is_object() {
            return Err(malformed(
                &self.entry(&format!("{label}/manifest.json")),
                "an image manifest without a config descriptor",
            ));
        }
        let config = self.layer(config_desc, format!("{label}/config.json"), true)?;
        let descs = doc.json["layers"].as_array().cloned().unwrap_or_default();
        let mut layers = Vec::with_capacity(descs.len());
        for (j, l) in descs.iter().enumerate() {
            layers.push(self.layer(
                l,
                format!("{label}/layer {} of {}", j + 1, descs.len()),
                false,
            )?);
        }
        Ok(Body::Manifest {
            doc,
            config,
            layers,
        })
    }

    /// A config or layer blob, its content checked against its media type.
    fn layer(&mut self, desc: &Value, label: String, config: bool) -> Result<Layer> {
        let member = self.blob(desc, &label)?;
        let media = desc["mediaType"].as_str().unwrap_or_default();
        let mut json = None;
        if let Member::File(b) = &member {
            if config && (media.ends_with("+json") || media.ends_with("/json")) {
                json = Some(self.doc(b.clone(), &label)?.json);
            } else if !config {
                let head = b
                    .head(super::HEAD_LEN)
                    .map_err(|e| self.budget.io_error(e, &self.entry(&label), "reading"))?;
                let found = super::detect(&head);
                let expected = if media.ends_with("gzip") {
                    Some(Kind::Gzip)
                } else if media.ends_with("zstd") {
                    Some(Kind::Zstd)
                } else if media.ends_with(".tar") {
                    Some(Kind::Tar)
                } else {
                    None
                };
                if let Some(expected) = expected.filter(|e| *e != found) {
                    self.problem(
                        &label,
                        format!("media type {media:?} promises {expected}, the blob is {found}"),
                    );
                }
            }
        }
        Ok(Layer {
            label,
            desc: desc.clone(),
            member,
            json,
        })
    }
}

/// Lowercase hex of a blob's digest with `alg` (sha256 or sha512).
fn hash(b: &Blob, alg: &str) -> io::Result<String> {
    let mut r = b.reader();
    let mut buf = vec![0u8; 64 << 10];
    let mut s256 = Sha256::new();
    let mut s512 = Sha512::new();
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if alg == "sha512" {
            s512.update(&buf[..n]);
        } else {
            s256.update(&buf[..n]);
        }
    }
    Ok(if alg == "sha512" {
        hex::encode(s512.finalize())
    } else {
        hex::encode(s256.finalize())
    })
}
