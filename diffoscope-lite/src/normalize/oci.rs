//! Canonical OCI image layouts (a directory with `oci-layout`, `index.json`
//! and `blobs/sha256/`): layers normalized like any tar (recompressed with
//! their own compressor when they change), `created` times in image configs,
//! their history and `org.opencontainers.image.created` annotations clamped,
//! and every digest and size recomputed up through config, manifest and
//! index. Blobs no longer reachable from the index are removed.
//!
//! Order of writes: new blobs first (each atomically), `index.json` last
//! (atomically), stale blobs after that — an interruption leaves a valid
//! image. Blob files are only ever named by a SHA-256 computed here or by a
//! digest checked to be 64 hex digits, never by any other archive string.
//! Rewritten JSON is serialized compactly with sorted keys.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::{fire, nested, normalize_nested, Blob, Fired, Nx, Rule};
use crate::formats::Kind;
use crate::timefmt;
use crate::{Error, Result};

/// Largest JSON document (index, manifest, config) read.
const MAX_JSON: u64 = 64 << 20;
const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// Whether `dir` is an OCI image layout.
pub(crate) fn is_layout(dir: &Path) -> bool {
    dir.is_dir() && dir.join("oci-layout").is_file() && dir.join("index.json").is_file()
}

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
}

fn hex_of(digest: &str) -> Option<&str> {
    digest.strip_prefix("sha256:").filter(|h| is_hex64(h))
}

/// Whether a blob file name is a lowercase SHA-256 in hex.
fn is_hex64(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Layout<'_> {
    fn bad(&self, what: &str, detail: impl std::fmt::Display) -> Error {
        self.nx
            .malformed(Kind::Directory, &nested(&self.name, what), detail)
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        let hex = hex_of(digest)
            .ok_or_else(|| self.bad("index.json", format!("unsupported digest {digest:?}")))?;
        Ok(self.dir.join("blobs/sha256").join(hex))
    }

    fn read_json(&self, path: &Path, what: &str) -> Result<Value> {
        let f = fs::File::open(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut bytes = Vec::new();
        f.take(MAX_JSON + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| Error::Read {
                path: path.to_path_buf(),
                source,
            })?;
        if bytes.len() as u64 > MAX_JSON {
            return Err(self.bad(what, "JSON document larger than 64 MiB"));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| self.nx.malformed(Kind::Json, &nested(&self.name, what), e))
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

    fn write_json(&self, v: &Value) -> Result<(String, u64)> {
        let bytes = serde_json::to_vec(v).map_err(|e| self.bad("JSON", e))?;
        self.write_blob(&Blob::mem(bytes))
    }

    /// Processes one descriptor; returns its new (digest, size) if it changed.
    fn descriptor(&mut self, desc: &mut Value, depth: u32) -> Result<bool> {
        let mut changed = false;
        if let Some(a) = desc.pointer_mut(&format!(
            "/annotations/{}",
            CREATED_ANNOTATION.replace('/', "~1")
        )) {
            if clamp(a, self.nx.epoch) {
                fire(&mut self.fired, &self.name, Rule::OciCreated);
                changed = true;
            }
        }
        let digest = desc["digest"].as_str().unwrap_or_default().to_owned();
        let media = desc["mediaType"].as_str().unwrap_or_default().to_owned();
        let new = if let Some(done) = self.done.get(&digest) {
            Some(done.clone())
        } else {
            let new = match media.as_str() {
                "application/vnd.oci.image.manifest.v1+json"
                | "application/vnd.docker.distribution.manifest.v2+json" => {
                    self.manifest(&digest, depth)?
                }
                "application/vnd.oci.image.index.v1+json"
                | "application/vnd.docker.distribution.manifest.list.v2+json" => {
                    let path = self.blob_path(&digest)?;
                    let mut index = self.read_json(&path, &digest)?;
                    self.index(&mut index, depth + 1)?
                        .then(|| self.write_json(&index))
                        .transpose()?
                }
                _ => None,
            };
            if let Some(n) = &new {
                self.done.insert(digest.clone(), n.clone());
            }
            new
        };
        if let Some((d, size)) = new {
            desc["digest"] = Value::String(d);
            desc["size"] = Value::from(size);
            changed = true;
        }
        Ok(changed)
    }

    /// Processes the descriptors of an index; whether any changed.
    fn index(&mut self, index: &mut Value, depth: u32) -> Result<bool> {
        self.nx.budget.check_depth(depth, &self.name)?;
        let mut changed = false;
        if let Some(a) = index.pointer_mut(&format!(
            "/annotations/{}",
            CREATED_ANNOTATION.replace('/', "~1")
        )) {
            if clamp(a, self.nx.epoch) {
                fire(&mut self.fired, &self.name, Rule::OciCreated);
                changed = true;
            }
        }
        let Some(manifests) = index.get_mut("manifests").and_then(Value::as_array_mut) else {
            return Err(self.bad("index.json", "no manifests array"));
        };
        for desc in manifests {
            changed |= self.descriptor(desc, depth)?;
        }
        Ok(changed)
    }

    /// Normalizes a manifest's layers and config; the new manifest if changed.
    fn manifest(&mut self, digest: &str, depth: u32) -> Result<Option<(String, u64)>> {
        let path = self.blob_path(digest)?;
        let mut manifest = self.read_json(&path, digest)?;
        let config_digest = manifest["config"]["digest"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let config_path = self.blob_path(&config_digest)?;
        let mut config = self.read_json(&config_path, &config_digest)?;
        let mut config_changed = false;
        let epoch = self.nx.epoch;
        if let Some(c) = config.get_mut("created") {
            config_changed |= clamp(c, epoch);
        }
        if let Some(history) = config.get_mut("history").and_then(Value::as_array_mut) {
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
        let layers = manifest
            .get_mut("layers")
            .and_then(Value::as_array_mut)
            .map(std::mem::take)
            .unwrap_or_default();
        let mut new_layers = Vec::with_capacity(layers.len());
        for (i, mut layer) in layers.into_iter().enumerate() {
            let ld = layer["digest"].as_str().unwrap_or_default().to_owned();
            let lpath = self.blob_path(&ld)?;
            let what = nested(
                &self.name,
                &format!("blobs/sha256/{}", hex_of(&ld).unwrap_or("?")),
            );
            let blob = Blob::open(&lpath)?;
            if let Some((new, fired)) = normalize_nested(&blob, &what, depth + 1, self.nx)? {
                self.fired.extend(fired);
                let (d, size) = self.write_blob(&new)?;
                let diff_id = self.diff_id(&new, &what)?;
                if let Some(slot) = config.pointer_mut(&format!("/rootfs/diff_ids/{i}")) {
                    *slot = Value::String(diff_id);
                    config_changed = true;
                }
                layer["digest"] = Value::String(d);
                layer["size"] = Value::from(size);
                manifest_changed = true;
            }
            new_layers.push(layer);
        }
        if let Some(slot) = manifest.get_mut("layers") {
            *slot = Value::Array(new_layers);
        }
        if config_changed {
            let (d, size) = self.write_json(&config)?;
            manifest["config"]["digest"] = Value::String(d);
            manifest["config"]["size"] = Value::from(size);
            manifest_changed = true;
        }
        if let Some(a) = manifest.pointer_mut(&format!(
            "/annotations/{}",
            CREATED_ANNOTATION.replace('/', "~1")
        )) {
            if clamp(a, epoch) {
                fire(&mut self.fired, &self.name, Rule::OciCreated);
                manifest_changed = true;
            }
        }
        manifest_changed
            .then(|| self.write_json(&manifest))
            .transpose()
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

    /// Every blob reachable from the index, as file names.
    fn reachable(&self, index: &Value, out: &mut BTreeSet<String>) -> Result<()> {
        let mut stack: Vec<Value> = index["manifests"].as_array().cloned().unwrap_or_default();
        while let Some(desc) = stack.pop() {
            let Some(hex) = desc["digest"].as_str().and_then(hex_of) else {
                continue;
            };
            if !out.insert(hex.to_owned()) {
                continue;
            }
            let media = desc["mediaType"].as_str().unwrap_or_default();
            if media.contains("manifest") || media.contains("index") {
                let path = self.dir.join("blobs/sha256").join(hex);
                if !path.is_file() {
                    continue;
                }
                let v = self.read_json(&path, hex)?;
                stack.extend(v["manifests"].as_array().cloned().unwrap_or_default());
                stack.extend(v["layers"].as_array().cloned().unwrap_or_default());
                if v.get("config").is_some() {
                    stack.push(v["config"].clone());
                }
            }
        }
        Ok(())
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

/// Copies the layout's `oci-layout`, `index.json` and 64-hex-named blobs
/// into `output` (which must not exist yet or be empty).
fn copy_layout(input: &Path, output: &Path) -> io::Result<()> {
    let blobs = output.join("blobs/sha256");
    fs::create_dir_all(&blobs)?;
    for f in ["oci-layout", "index.json"] {
        fs::copy(input.join(f), output.join(f))?;
    }
    for e in fs::read_dir(input.join("blobs/sha256"))? {
        let e = e?;
        let name = e.file_name();
        if name.to_str().is_some_and(is_hex64) && e.file_type()?.is_file() {
            fs::copy(e.path(), blobs.join(&name))?;
        }
    }
    Ok(())
}

/// Normalizes the layout `input` into `output` (the same directory, or a
/// new one it is copied to first).
pub(crate) fn normalize_dir(input: &Path, output: &Path, nx: &Nx<'_>) -> Result<Vec<Fired>> {
    let name = input.display().to_string();
    let same = fs::canonicalize(input).ok() == fs::canonicalize(output).ok();
    if !same {
        copy_layout(input, output).map_err(|source| Error::Read {
            path: input.to_path_buf(),
            source,
        })?;
    }
    let mut layout = Layout {
        dir: output.to_path_buf(),
        name,
        nx,
        fired: Vec::new(),
        done: HashMap::new(),
    };
    let index_path = output.join("index.json");
    let mut index = layout.read_json(&index_path, "index.json")?;
    if !layout.index(&mut index, 1)? {
        return Ok(layout.fired);
    }
    let bytes = serde_json::to_vec(&index).map_err(|e| layout.bad("index.json", e))?;
    let io = |e: io::Error| nx.io(e, &layout.name, "writing index.json");
    fsio::write(&index_path, &bytes).map_err(|e| io(io::Error::new(e.kind(), e)))?;
    let mut keep = BTreeSet::new();
    layout.reachable(&index, &mut keep)?;
    for e in fs::read_dir(output.join("blobs/sha256")).map_err(io)? {
        let e = e.map_err(io)?;
        let Some(n) = e.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if is_hex64(&n) && !keep.contains(&n) {
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
    let mut layout = Layout {
        dir: dir.to_path_buf(),
        name: dir.display().to_string(),
        nx,
        fired: Vec::new(),
        done: HashMap::new(),
    };
    let index = layout.read_json(&dir.join("index.json"), "index.json")?;
    let mut h = super::ContainerHasher::new("oci");
    let mut stack: Vec<Value> = index["manifests"].as_array().cloned().unwrap_or_default();
    stack.reverse();
    while let Some(desc) = stack.pop() {
        let digest = desc["digest"].as_str().unwrap_or_default().to_owned();
        let media = desc["mediaType"].as_str().unwrap_or_default();
        let v = layout.read_json(&layout.blob_path(&digest)?, &digest)?;
        if media.contains("index") || media.contains("list") {
            let mut inner = v["manifests"].as_array().cloned().unwrap_or_default();
            inner.reverse();
            stack.extend(inner);
            continue;
        }
        let config_digest = v["config"]["digest"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut config = layout.read_json(&layout.blob_path(&config_digest)?, &config_digest)?;
        let epoch = nx.epoch;
        let late = |v: Option<Value>| v.is_some_and(|mut v| clamp(&mut v, epoch));
        let mut fires = late(desc.pointer(&created_pointer()).cloned())
            || late(v.pointer(&created_pointer()).cloned());
        if let Some(obj) = config.as_object_mut() {
            fires |= late(obj.remove("created"));
            if let Some(r) = obj.get_mut("rootfs").and_then(Value::as_object_mut) {
                r.remove("diff_ids");
            }
        }
        if let Some(history) = config.get_mut("history").and_then(Value::as_array_mut) {
            for e in history.iter_mut().filter_map(Value::as_object_mut) {
                fires |= late(e.remove("created"));
            }
        }
        if fires {
            fire(&mut layout.fired, &layout.name, Rule::OciCreated);
        }
        let mut m = Sha256::new();
        m.update(serde_json::to_vec(&config).map_err(|e| layout.bad("config", e))?);
        for layer in v["layers"].as_array().cloned().unwrap_or_default() {
            let ld = layer["digest"].as_str().unwrap_or_default().to_owned();
            let what = nested(
                &layout.name,
                &format!("blobs/sha256/{}", hex_of(&ld).unwrap_or("?")),
            );
            let d = super::digest_blob(&Blob::open(&layout.blob_path(&ld)?)?, &what, 2, nx)?;
            layout.fired.extend(d.fired);
            m.update(d.sha256);
        }
        let name = desc["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .unwrap_or_default();
        h.entry(&super::DigestEntry {
            path: name.as_bytes().to_vec(),
            kind: "manifest",
            mode: 0,
            digest: m.finalize().into(),
        });
    }
    if late_index_annotation(&index, nx.epoch) {
        fire(&mut layout.fired, &layout.name, Rule::OciCreated);
    }
    Ok(super::Digested {
        sha256: h.finish(),
        fired: layout.fired,
    })
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
