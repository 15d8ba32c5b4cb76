//! `docker save` tarballs: a tar with a top-level `manifest.json` listing,
//! per image, its `Config` JSON and its `Layers` tars.
//!
//! Like OCI blobs, their members are named by digest or random ids, so two
//! saves of one image would pair nothing. The tar reader hands its entries
//! here; when `manifest.json` has the docker shape, the config and layers
//! are renamed by role (`image 1 [repo:tag]/config.json`,
//! `image 1 [repo:tag]/layer 2 of 3`) and the differ recurses into them.
//! Anything else in the tar keeps its name.
//!
//! Where the format records a member's SHA-256, it is checked ([`checks`]):
//! a config named `<hex>.json` or any member named `blobs/sha256/<hex>`
//! (newer, OCI-compatible saves) by its name; a legacy layer
//! `<id>/layer.tar`, whose directory is a random v1 id and no digest, by
//! the config's `rootfs.diff_ids` at its position. The differ reports a
//! mismatch or a listed member that is absent as a finding; the
//! normalizer and the normalized digest refuse such a tarball, as they do
//! an OCI image whose blobs lie.

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::model::{Cx, Entry};
use crate::Result;

/// One image of a docker-save manifest.
struct Image {
    config: String,
    layers: Vec<String>,
    tag: Option<String>,
}

/// The images of a `manifest.json`; `None` when it is not docker's shape.
fn images(manifest: &[u8]) -> Option<Vec<Image>> {
    let Ok(Value::Array(list)) = serde_json::from_slice::<Value>(manifest) else {
        return None;
    };
    list.iter()
        .map(|image| {
            Some(Image {
                config: image["Config"].as_str()?.to_owned(),
                layers: image["Layers"]
                    .as_array()?
                    .iter()
                    .filter_map(|l| l.as_str().map(str::to_owned))
                    .collect(),
                tag: image["RepoTags"]
                    .as_array()
                    .and_then(|t| t.first())
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect()
}

/// A member name as the manifest lists it (`./x` is `x`).
pub(crate) fn listed(path: &str) -> &str {
    path.trim_start_matches("./")
}

/// Whether `path` is the manifest of a docker save.
pub(crate) fn is_manifest(path: &str) -> bool {
    listed(path) == "manifest.json"
}

/// Whether the normalizer must keep `path`'s bytes to check the others:
/// the manifest and legacy configs (`<hex>.json`, which hold `diff_ids`).
pub(crate) fn keeps_bytes(path: &str) -> bool {
    is_manifest(path)
        || listed(path)
            .strip_suffix(".json")
            .is_some_and(is_sha256_hex)
}

/// Whether `path` may be checked against a recorded digest (so its SHA-256
/// is worth computing while it streams).
pub(crate) fn may_be_checked(path: &str) -> bool {
    let p = listed(path);
    keeps_bytes(p) || p.ends_with("/layer.tar") || by_name(p).is_some()
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// The digest a member's name records: `blobs/sha256/<hex>`, `<hex>.json`.
fn by_name(path: &str) -> Option<&str> {
    let p = listed(path);
    p.strip_prefix("blobs/sha256/")
        .or_else(|| p.strip_suffix(".json"))
        .filter(|h| is_sha256_hex(h))
}

/// A member whose SHA-256 the tarball records.
#[derive(Debug)]
pub(crate) struct Check {
    /// The member as the manifest lists it.
    pub(crate) path: String,
    /// The recorded SHA-256, lowercase hex.
    pub(crate) want: String,
    /// Where it is recorded, for findings.
    pub(crate) source: &'static str,
}

/// What `manifest` (the bytes of `manifest.json`) says about the other
/// members: the digests to check, and the listed members `has` lacks.
/// `config` yields a legacy config's bytes (for its `diff_ids`). `None`
/// when the manifest is not docker's shape.
pub(crate) fn checks(
    manifest: &[u8],
    has: &dyn Fn(&str) -> bool,
    config: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Option<(Vec<Check>, Vec<String>)> {
    let images = images(manifest)?;
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for image in &images {
        for p in std::iter::once(&image.config).chain(&image.layers) {
            if !has(listed(p)) && !missing.contains(p) {
                missing.push(p.clone());
            }
        }
        if let Some(h) = by_name(&image.config) {
            out.push(Check {
                path: listed(&image.config).to_owned(),
                want: h.to_owned(),
                source: "its name",
            });
        }
        let diff_ids: Vec<String> = config(listed(&image.config))
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|c| {
                c["rootfs"]["diff_ids"].as_array().map(|ids| {
                    ids.iter()
                        .map(|d| d.as_str().unwrap_or_default().to_owned())
                        .collect()
                })
            })
            .unwrap_or_default();
        for (i, layer) in image.layers.iter().enumerate() {
            if let Some(h) = by_name(layer) {
                out.push(Check {
                    path: listed(layer).to_owned(),
                    want: h.to_owned(),
                    source: "its name",
                });
            } else if let Some(h) = diff_ids
                .get(i)
                .and_then(|d| d.strip_prefix("sha256:"))
                .filter(|h| is_sha256_hex(h))
            {
                out.push(Check {
                    path: listed(layer).to_owned(),
                    want: h.to_owned(),
                    source: "the config's rootfs.diff_ids",
                });
            }
        }
    }
    Some((out, missing))
}

/// The findings of `checks` against the members' actual SHA-256s, in the
/// words the differ reports and the normalizer refuses with.
pub(crate) fn findings(
    (checks, missing): &(Vec<Check>, Vec<String>),
    actual: &mut dyn FnMut(&str) -> Result<Option<[u8; 32]>>,
) -> Result<Vec<String>> {
    let mut out: Vec<String> = missing
        .iter()
        .map(|p| format!("manifest.json lists {p}, which the tarball does not have"))
        .collect();
    for c in checks {
        if let Some(got) = actual(&c.path)? {
            let got = hex::encode(got);
            if got != c.want {
                out.push(format!(
                    "{}: SHA-256 is {got}, {} says {}",
                    c.path, c.source, c.want
                ));
            }
        }
    }
    Ok(out)
}

/// Renames the entries of a docker-save tar by role, and checks their
/// digests; a tar that is not one is left as it is. Returns the findings.
pub(crate) fn relabel(entries: &mut [Entry], cx: &Cx<'_>, name: &str) -> Result<Vec<String>> {
    let Some(manifest) = entries.iter().find(|e| is_manifest(&e.path)) else {
        return Ok(Vec::new());
    };
    let bytes = read_json(manifest, cx, name)?;
    let Some(images) = images(&bytes) else {
        return Ok(Vec::new());
    };
    let find = |p: &str| entries.iter().find(|e| listed(&e.path) == p);
    let plan = checks(&bytes, &|p| find(p).is_some(), &|p| {
        find(p).and_then(|e| read_json(e, cx, name).ok())
    });
    let findings = match &plan {
        Some(plan) => findings(plan, &mut |p| {
            let Some(e) = find(p) else {
                return Ok(None);
            };
            let entry = format!("{name}::{p}");
            e.content
                .with_reader(cx, &entry, |r| {
                    let mut h = Sha256::new();
                    std::io::copy(r, &mut h).map_err(|err| cx.io(err, &entry, "reading"))?;
                    Ok(h.finalize().into())
                })
                .map(Some)
        })?,
        None => Vec::new(),
    };
    let mut renames: Vec<(String, String)> = Vec::new();
    for (i, image) in images.iter().enumerate() {
        let mut label = format!("image {}", i + 1);
        if let Some(tag) = &image.tag {
            label.push_str(&format!(" [{tag}]"));
        }
        renames.push((image.config.clone(), format!("{label}/config.json")));
        for (j, layer) in image.layers.iter().enumerate() {
            renames.push((
                layer.clone(),
                format!("{label}/layer {} of {}", j + 1, image.layers.len()),
            ));
        }
    }
    for e in entries.iter_mut() {
        let path = listed(&e.path);
        if let Some((_, to)) = renames.iter().find(|(from, _)| from == path) {
            e.path = to.clone();
        }
    }
    Ok(findings)
}

/// The bytes of a JSON member, within `--max-json`.
fn read_json(e: &Entry, cx: &Cx<'_>, name: &str) -> Result<Vec<u8>> {
    let entry = format!("{name}::{}", e.path);
    cx.budget.check_json(e.meta.size.unwrap_or(0), &entry)?;
    e.content.with_reader(cx, &entry, |r| {
        let mut buf = Vec::new();
        // The size checked is the header's; read no more than the limit.
        std::io::Read::read_to_end(
            &mut std::io::Read::take(r, cx.opts.limits.max_json),
            &mut buf,
        )
        .map_err(|err| cx.io(err, &entry, "reading"))?;
        Ok(buf)
    })
}
