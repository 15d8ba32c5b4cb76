//! Canonical OCI image layouts (a directory with `oci-layout`, `index.json`
//! and `blobs/sha256/`), read by the one OCI reader
//! ([`crate::formats::oci::read`]), which has opened every blob beneath the
//! layout and checked it against its descriptor; an image with a blob that
//! does not match is refused. Layers normalized like any tar (recompressed with
//! their own compressor when they change), `created` times in image configs,
//! their history and `org.opencontainers.image.created` annotations clamped,
//! and every digest and size recomputed up through config, manifest and
//! index. Blobs no longer reachable from the index are removed.
//!
//! Order of writes: new blobs first (each atomically), `index.json` last
//! (atomically), stale blobs after that — an interruption leaves a valid
//! image. Blob files are only ever named by a digest computed here or one
//! the reader checked against the blob's content, never by any other
//! archive string. A copy into another directory holds `oci-layout`,
//! `index.json` and the blobs the index reaches.
//! Rewritten JSON is serialized compactly with sorted keys.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::{fire, nested, normalize_nested, Blob, Fired, Nx, Rule};
use crate::formats::oci::{self as reader, Body, Image, Layer, Member, Node};
use crate::formats::Kind;
use crate::timefmt;
use crate::{Error, Result};

const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// Seconds since the epoch of an RFC 3339 time (`2024-01-02T03:04:05.6Z`,
/// `…+01:00`).
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> { s.get(r)?.parse().ok() };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (i64::from(num(0..4)?), num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(timefmt::epoch_of(y, mo, d, h, mi, sec) - offset)
}

fn format_rfc3339(t: i64) -> String {
    format!("{}Z", timefmt::format_utc(t).replacen(' ', "T", 1))
}

/// Clamps one time string in place; whether it changed.
fn clamp(v: &mut Value, epoch: i64) -> bool {
    let Some(s) = v.as_str() else { return false };
    if parse_rfc3339(s).is_some_and(|t| t <= epoch) {
        return false;
    }
    *v = Value::String(format_rfc3339(epoch));
    true
}

struct Layout<'a> {
    dir: PathBuf,
    name: String,
    nx: &'a Nx<'a>,
    fired: Vec<Fired>,
    /// Old digest → new descriptor fields (digest, size), for blobs shared
    /// by several manifests.
    done: HashMap<String, (String, u64)>,
    /// Every blob the new index reaches, as `alg/hex`.
    keep: BTreeSet<String>,
}

/// Whether a blob file name is a lowercase SHA-256 in hex.
fn is_hex64(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `blobs/<alg>/<hex>` of a digest the reader checked.
fn blob_rel(desc: &Value) -> String {
    format!(
        "blobs/{}",
        desc["digest"]
            .as_str()
            .unwrap_or_default()
            .replacen(':', "/", 1)
    )
}

/// The bytes of a blob the reader opened; a link never gets here (the
/// image was refused).
fn file_of<'m>(m: &'m Member, what: &str, nx: &Nx<'_>) -> Result<&'m Blob> {
    match m {
        Member::File(b) => Ok(b),
        Member::Link(t) => Err(nx.malformed(
            Kind::OciLayout,
            what,
            format!("a symbolic link to {t:?}; links are not followed"),
        )),
    }
}

impl Layout<'_> {
    fn bad(&self, what: &str, detail: impl std::fmt::Display) -> Error {
        self.nx
            .malformed(Kind::OciLayout, &nested(&self.name, what), detail)
    }

    fn reach(&mut self, digest: &str) {
        if let Some((alg, hex)) = digest.split_once(':') {
            self.keep.insert(format!("{alg}/{hex}"));
        }
    }

    /// Writes a blob atomically under its SHA-256; returns (digest, size).
    fn write_blob(&self, blob: &Blob) -> Result<(String, u64)> {
        let dir = self.dir.join("blobs/sha256");
        let io = |e: io::Error| self.nx.io(e, &self.name, "writing a blob");
        let out = |e: fsio::Error| io(io::Error::new(e.kind(), e));
        // Named by its digest, known only once it is written.
        let mut staged = fsio::Staged::new_in(&dir, fsio::DEFAULT_MODE).map_err(out)?;
        let mut hasher = Sha256::new();
        blob.copy_to(&mut Tee(&mut hasher, &mut staged))
            .map_err(io)?;
        let hex = hex::encode(hasher.finalize());
        staged.commit(&dir.join(&hex)).map_err(out)?;
        Ok((format!("sha256:{hex}"), blob.len()))
    }

    fn write_json(&mut self, v: &Value) -> Result<(String, u64)> {
        let bytes = serde_json::to_vec(v).map_err(|e| self.bad("JSON", e))?;
        let (d, size) = self.write_blob(&Blob::mem(bytes))?;
        self.reach(&d);
        Ok((d, size))
    }

    /// Processes one descriptor; whether it changed.
    fn descriptor(&mut self, desc: &mut Value, node: &Node, depth: u32) -> Result<bool> {
        let mut changed = false;
        if let Some(a) = desc.pointer_mut(&created_pointer()) {
            if clamp(a, self.nx.epoch) {
                fire(&mut self.fired, &self.name, Rule::OciCreated);
                changed = true;
            }
        }
        let digest = desc["digest"].as_str().unwrap_or_default().to_owned();
        let new = if let Some(done) = self.done.get(&digest) {
            Some(done.clone())
        } else {
            let new = match &node.body {
                Body::Manifest {
                    doc,
                    config,
                    layers,
                } => self.manifest(&doc.json, config, layers, depth)?,
                Body::Index { doc, manifests } => {
                    let mut index = doc.json.clone();
                    if self.index(&mut index, manifests, depth + 1)? {
                        Some(self.write_json(&index)?)
                    } else {
                        None
                    }
                }
                Body::Link(m) => {
                    file_of(m, &nested(&self.name, &node.label), self.nx)?;
                    None
                }
            };
            if let Some(n) = &new {
                self.done.insert(digest.clone(), n.clone());
            }
            new
        };
        match new {
            Some((d, size)) => {
                desc["digest"] = Value::String(d);
                desc["size"] = Value::from(size);
                changed = true;
            }
            None => self.reach(&digest),
        }
        Ok(changed)
    }

    /// Processes the descriptors of an index; whether any changed.
    fn index(&mut self, index: &mut Value, nodes: &[Node], depth: u32) -> Result<bool> {
        self.nx.budget.check_depth(depth, &self.name)?;
        let mut changed = false;
        if let Some(a) = index.pointer_mut(&created_pointer()) {
            if clamp(a, self.nx.epoch) {
                fire(&mut self.fired, &self.name, Rule::OciCreated);
                changed = true;
            }
        }
        let Some(manifests) = index.get_mut("manifests").and_then(Value::as_array_mut) else {
            return Err(self.bad("index.json", "no manifests array"));
        };
        for (desc, node) in manifests.iter_mut().zip(nodes) {
            changed |= self.descriptor(desc, node, depth)?;
        }
        Ok(changed)
    }

    /// Normalizes a manifest's layers and config; the new manifest if changed.
    fn manifest(
        &mut self,
        manifest: &Value,
        config: &Layer,
        layers: &[Layer],
        depth: u32,
    ) -> Result<Option<(String, u64)>> {
        let mut manifest = manifest.clone();
        let mut config_json = config
            .json
            .clone()
            .ok_or_else(|| self.bad(&config.label, "the image config is not JSON"))?;
        let mut config_changed = false;
        let epoch = self.nx.epoch;
        if let Some(c) = config_json.get_mut("created") {
            config_changed |= clamp(c, epoch);
        }
        if let Some(history) = config_json.get_mut("history").and_then(Value::as_array_mut) {
            for h in history {
                if let Some(c) = h.get_mut("created") {
                    config_changed |= clamp(c, epoch);
                }
            }
        }
        if config_changed {
            fire(&mut self.fired, &self.name, Rule::OciCreated);
        }
        let mut manifest_changed = false;
        let descs = manifest
            .get_mut("layers")
            .and_then(Value::as_array_mut)
            .map(std::mem::take)
            .unwrap_or_default();
        let mut new_layers = Vec::with_capacity(descs.len());
        for (i, (mut desc, layer)) in descs.into_iter().zip(layers).enumerate() {
            let what = nested(&self.name, &blob_rel(&layer.desc));
            let blob = file_of(&layer.member, &what, self.nx)?;
            if let Some((new, fired)) = normalize_nested(blob, &what, depth + 1, self.nx)? {
                self.fired.extend(fired);
                let (d, size) = self.write_blob(&new)?;
                self.reach(&d);
                let diff_id = self.diff_id(&new, &what)?;
                if let Some(slot) = config_json.pointer_mut(&format!("/rootfs/diff_ids/{i}")) {
                    *slot = Value::String(diff_id);
                    config_changed = true;
                }
                desc["digest"] = Value::String(d);
                desc["size"] = Value::from(size);
                manifest_changed = true;
            } else {
                self.reach(desc["digest"].as_str().unwrap_or_default());
            }
            new_layers.push(desc);
        }
        if let Some(slot) = manifest.get_mut("layers") {
            *slot = Value::Array(new_layers);
        }
        if config_changed {
            let (d, size) = self.write_json(&config_json)?;
            manifest["config"]["digest"] = Value::String(d);
            manifest["config"]["size"] = Value::from(size);
            manifest_changed = true;
        } else {
            self.reach(config.desc["digest"].as_str().unwrap_or_default());
        }
        if let Some(a) = manifest.pointer_mut(&created_pointer()) {
            if clamp(a, epoch) {
                fire(&mut self.fired, &self.name, Rule::OciCreated);
                manifest_changed = true;
            }
        }
        if manifest_changed {
            Ok(Some(self.write_json(&manifest)?))
        } else {
            Ok(None)
        }
    }

    /// The diff id of a layer: the SHA-256 of its uncompressed tar.
    fn diff_id(&self, layer: &Blob, what: &str) -> Result<String> {
        let head = layer
            .head(crate::formats::HEAD_LEN)
            .map_err(|e| self.nx.io(e, what, "reading"))?;
        let kind = crate::formats::detect(&head);
        let mut r: Box<dyn Read> = match kind {
            Kind::Gzip | Kind::Zstd | Kind::Xz | Kind::Bzip2 => {
                super::decompressed(kind, layer, what, self.nx)?
            }
            _ => Box::new(layer.reader()),
        };
        let sha = super::sha256_of(&mut r).map_err(|e| self.nx.io(e, what, "decompressing"))?;
        Ok(format!("sha256:{}", hex::encode(sha)))
    }
}

/// A writer that hashes what it writes.
struct Tee<'a, W>(&'a mut Sha256, W);

impl<W: Write> Write for Tee<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.1.write(buf)?;
        self.0.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.1.flush()
    }
}

/// Copies what the reader read — `oci-layout`, `index.json` and every blob
/// the index reaches — into `output` (which must not exist yet or be
/// empty). Nothing is read again from the input directory by path.
fn copy_image(image: &Image, output: &Path, nx: &Nx<'_>, name: &str) -> Result<()> {
    let io = |e: io::Error| nx.io(e, name, "copying the layout");
    let out = |e: fsio::Error| io(io::Error::new(e.kind(), e));
    let mut blobs: Vec<(String, &Blob)> = Vec::new();
    fn collect<'i>(nodes: &'i [Node], out: &mut Vec<(String, &'i Blob)>) {
        for n in nodes {
            match &n.body {
                Body::Link(_) => {}
                Body::Index { doc, manifests } => {
                    out.push((blob_rel(&n.desc), &doc.blob));
                    collect(manifests, out);
                }
                Body::Manifest {
                    doc,
                    config,
                    layers,
                } => {
                    out.push((blob_rel(&n.desc), &doc.blob));
                    for l in std::iter::once(config).chain(layers) {
                        if let Member::File(b) = &l.member {
                            out.push((blob_rel(&l.desc), b));
                        }
                    }
                }
            }
        }
    }
    collect(&image.manifests, &mut blobs);
    fs::create_dir_all(output.join("blobs/sha256")).map_err(io)?;
    let layout = file_of(&image.oci_layout, &nested(name, "oci-layout"), nx)?;
    for (rel, blob) in [("oci-layout", layout), ("index.json", &image.index.blob)] {
        let mut staged = fsio::Staged::new_in(output, fsio::DEFAULT_MODE).map_err(out)?;
        blob.copy_to(&mut staged).map_err(io)?;
        staged.commit(&output.join(rel)).map_err(out)?;
    }
    for (rel, blob) in blobs {
        let path = output.join(&rel);
        let dir = path.parent().unwrap_or(output);
        fs::create_dir_all(dir).map_err(io)?;
        let mut staged = fsio::Staged::new_in(dir, fsio::DEFAULT_MODE).map_err(out)?;
        blob.copy_to(&mut staged).map_err(io)?;
        staged.commit(&path).map_err(out)?;
    }
    Ok(())
}

/// Normalizes the layout `input` into `output` (the same directory, or a
/// new one it is copied to first).
pub(crate) fn normalize_dir(input: &Path, output: &Path, nx: &Nx<'_>) -> Result<Vec<Fired>> {
    let name = input.display().to_string();
    let image = reader::read(input, &name, nx.budget, 1)?;
    image.check(&name)?;
    let same = fs::canonicalize(input).ok() == fs::canonicalize(output).ok();
    if !same {
        copy_image(&image, output, nx, &name)?;
    }
    let mut layout = Layout {
        dir: output.to_path_buf(),
        name,
        nx,
        fired: Vec::new(),
        done: HashMap::new(),
        keep: BTreeSet::new(),
    };
    let mut index = image.index.json.clone();
    if !layout.index(&mut index, &image.manifests, 1)? {
        return Ok(layout.fired);
    }
    let index_path = output.join("index.json");
    let bytes = serde_json::to_vec(&index).map_err(|e| layout.bad("index.json", e))?;
    let io = |e: io::Error| nx.io(e, &layout.name, "writing index.json");
    fsio::write(&index_path, &bytes).map_err(|e| io(io::Error::new(e.kind(), e)))?;
    for e in fs::read_dir(output.join("blobs/sha256")).map_err(io)? {
        let e = e.map_err(io)?;
        let Some(n) = e.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if is_hex64(&n) && !layout.keep.contains(&format!("sha256/{n}")) {
            fs::remove_file(e.path()).map_err(io)?;
        }
    }
    Ok(layout.fired)
}

/// The JSON pointer of the `created` annotation.
fn created_pointer() -> String {
    format!("/annotations/{}", CREATED_ANNOTATION.replace('/', "~1"))
}

fn late_index_annotation(index: &Value, epoch: i64) -> bool {
    index
        .pointer(&created_pointer())
        .cloned()
        .is_some_and(|mut v| clamp(&mut v, epoch))
}

/// The `repro-normalized-v1` digest of a layout: one record per manifest
/// of `index.json` (nested indexes are followed), in index order, whose
/// digest covers the config without its times and diff ids, and the
/// normalized digest of every layer (see the README).
pub(crate) fn digest_dir(dir: &Path, nx: &Nx<'_>) -> Result<super::Digested> {
    let name = dir.display().to_string();
    let image = reader::read(dir, &name, nx.budget, 1)?;
    image.check(&name)?;
    let mut fired = Vec::new();
    let mut h = super::ContainerHasher::new("oci");
    digest_nodes(&image.manifests, &name, nx, &mut h, &mut fired)?;
    if late_index_annotation(&image.index.json, nx.epoch) {
        fire(&mut fired, &name, Rule::OciCreated);
    }
    Ok(super::Digested {
        sha256: h.finish(),
        fired,
    })
}

/// One record per manifest reached from `nodes`, depth first, in order.
fn digest_nodes(
    nodes: &[Node],
    name: &str,
    nx: &Nx<'_>,
    h: &mut super::ContainerHasher,
    fired: &mut Vec<Fired>,
) -> Result<()> {
    for node in nodes {
        let (doc, config, layers) = match &node.body {
            Body::Index { manifests, .. } => {
                digest_nodes(manifests, name, nx, h, fired)?;
                continue;
            }
            Body::Link(m) => {
                file_of(m, &nested(name, &node.label), nx)?;
                continue;
            }
            Body::Manifest {
                doc,
                config,
                layers,
            } => (doc, config, layers),
        };
        let mut config_json = config.json.clone().ok_or_else(|| {
            nx.malformed(
                Kind::OciLayout,
                &nested(name, &config.label),
                "the image config is not JSON",
            )
        })?;
        let epoch = nx.epoch;
        let late = |v: Option<Value>| v.is_some_and(|mut v| clamp(&mut v, epoch));
        let mut fires = late(node.desc.pointer(&created_pointer()).cloned())
            || late(doc.json.pointer(&created_pointer()).cloned());
        if let Some(obj) = config_json.as_object_mut() {
            fires |= late(obj.remove("created"));
            if let Some(r) = obj.get_mut("rootfs").and_then(Value::as_object_mut) {
                r.remove("diff_ids");
            }
        }
        if let Some(history) = config_json.get_mut("history").and_then(Value::as_array_mut) {
            for e in history.iter_mut().filter_map(Value::as_object_mut) {
                fires |= late(e.remove("created"));
            }
        }
        if fires {
            fire(fired, name, Rule::OciCreated);
        }
        let mut m = Sha256::new();
        m.update(
            serde_json::to_vec(&config_json)
                .map_err(|e| nx.malformed(Kind::OciLayout, &nested(name, "config"), e))?,
        );
        for layer in layers {
            let what = nested(name, &blob_rel(&layer.desc));
            let d = super::digest_blob(file_of(&layer.member, &what, nx)?, &what, 2, nx)?;
            fired.extend(d.fired);
            m.update(d.sha256);
        }
        let ref_name = node.desc["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .unwrap_or_default();
        h.entry(&super::DigestEntry {
            path: ref_name.as_bytes().to_vec(),
            kind: "manifest",
            mode: 0,
            digest: m.finalize().into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20.123456789Z"),
            Some(1_700_000_000)
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20+01:00"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(format_rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
