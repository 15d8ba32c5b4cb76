//! The CycloneDX 1.6 JSON document: components, dependencies,
//! formulation, metadata and a serial number derived from the rest.
//! Nothing here reads a file; it lays out what `inspect` found.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};

use super::inspect::{Inspected, Link, Member};
use super::package::{purl, Ecosystem, License};
use super::properties::{prop, record_for, reproducibility};
use super::{Artifact, Context, Error};

/// The spec version written.
pub(crate) const SPEC_VERSION: &str = "1.6";

/// The whole document.
pub(crate) fn document(
    listed: &[(&Artifact, Inspected)],
    cx: &Context<'_>,
) -> Result<Value, Error> {
    let mut refs = Refs::default();
    let mut components = Vec::new();
    let mut dependencies = Vec::new();
    // Requirement name → the Requires-Dist lines naming it, and whether
    // any of them is unconditional (over every wheel and sdist listed).
    let mut requirements: BTreeMap<String, (BTreeSet<String>, bool)> = BTreeMap::new();
    // PyPI projects the document ships (PEP 503 name → the artifact's
    // bom-ref; the first listed wins), and each artifact's requirement
    // names: a requirement is resolved once every artifact is known, so
    // one an artifact of this document satisfies points at it instead of
    // at a "not shipped" placeholder.
    let mut shipped: BTreeMap<String, String> = BTreeMap::new();
    let mut declared: Vec<(String, BTreeSet<String>)> = Vec::with_capacity(listed.len());
    for (artifact, found) in listed {
        let bom_ref = refs.unique(format!("artifact:{}", artifact.name));
        let mut c = Map::new();
        c.insert("bom-ref".into(), json!(bom_ref));
        let kind = if found.package.is_some() {
            "library"
        } else {
            "file"
        };
        c.insert("type".into(), json!(kind));
        match &found.package {
            Some(p) => {
                c.insert("name".into(), json!(p.name));
                if let Some(v) = &p.version {
                    c.insert("version".into(), json!(v));
                }
                if let Some(purl) = &p.purl {
                    c.insert("purl".into(), json!(purl));
                }
                if let Some(d) = &p.description {
                    c.insert("description".into(), json!(d));
                }
                match &p.license {
                    Some(License::Expression(e)) => {
                        c.insert("licenses".into(), json!([{ "expression": e }]));
                    }
                    Some(License::Name(n)) => {
                        c.insert("licenses".into(), json!([{ "license": { "name": n } }]));
                    }
                    Some(License::Classifiers(names)) => {
                        let l: Vec<Value> = names
                            .iter()
                            .map(|n| json!({ "license": { "name": n } }))
                            .collect();
                        c.insert("licenses".into(), Value::Array(l));
                    }
                    None => {}
                }
                if !p.links.is_empty() {
                    let refs: Vec<Value> = p
                        .links
                        .iter()
                        .map(|l| {
                            json!({
                                "type": l.kind,
                                "url": l.url,
                                "comment": format!("declared as {}", l.source),
                            })
                        })
                        .collect();
                    c.insert("externalReferences".into(), Value::Array(refs));
                }
            }
            None => {
                c.insert("name".into(), json!(artifact.name));
            }
        }
        c.insert("hashes".into(), sha256(&found.sha256));
        let mut props = vec![
            prop("repro:file-name", artifact.name.clone()),
            prop("repro:size", found.size.to_string()),
        ];
        if let Some(f) = found.format {
            props.push(prop("repro:format", f.to_string()));
        }
        if let Some(report) = cx.report {
            match record_for(report, &found.sha256) {
                Some(record) => props.extend(reproducibility(report, record)),
                None => props.push(prop(
                    "repro:note",
                    "not an artifact of the build in the report (no digest matches); \
                     no reproducibility recorded",
                )),
            }
        }
        props.extend(found.notes.iter().map(|n| prop("repro:note", n.clone())));
        c.insert("properties".into(), Value::Array(props));
        let files = file_components(&found.members, &bom_ref, &mut refs);
        if !files.is_empty() {
            c.insert("components".into(), Value::Array(files));
        }
        let mut names: BTreeSet<String> = BTreeSet::new();
        if let Some(p) = found
            .package
            .as_ref()
            .filter(|p| p.ecosystem == Ecosystem::Pypi)
        {
            shipped
                .entry(super::package::pep503(&p.name))
                .or_insert_with(|| bom_ref.clone());
            for r in &p.requires {
                names.insert(r.name.clone());
                let entry = requirements.entry(r.name.clone()).or_default();
                entry.0.insert(r.spec.clone());
                entry.1 |= !r.optional;
            }
        }
        declared.push((bom_ref, names));
        components.push(Value::Object(c));
    }
    for (bom_ref, names) in &declared {
        let depends: BTreeSet<String> = names
            .iter()
            .map(|n| {
                shipped
                    .get(n)
                    .map_or_else(|| requirement_ref(n), Clone::clone)
            })
            // A wheel requiring itself (`foo[x]; extra == "all"`) names
            // its own extras, not a dependency.
            .filter(|r| r != bom_ref)
            .collect();
        dependencies.push(json!({ "ref": bom_ref, "dependsOn": depends }));
    }
    requirements.retain(|name, _| !shipped.contains_key(name));
    for (name, (specs, required)) in &requirements {
        let bom_ref = requirement_ref(name);
        components.push(json!({
            "type": "library",
            "bom-ref": bom_ref,
            "name": name,
            "purl": purl("pypi", None, name, None, &[]),
            "scope": if *required { "required" } else { "optional" },
            "description": "declared runtime dependency (Requires-Dist); not shipped in the artifacts",
            "properties": specs.iter().map(|s| prop("repro:requirement", s.clone())).collect::<Vec<_>>(),
        }));
        dependencies.push(json!({ "ref": bom_ref }));
    }

    let mut doc = Map::new();
    doc.insert("bomFormat".into(), json!("CycloneDX"));
    doc.insert("specVersion".into(), json!(SPEC_VERSION));
    doc.insert("version".into(), json!(1));
    doc.insert("metadata".into(), metadata(cx));
    doc.insert("components".into(), Value::Array(components));
    doc.insert("dependencies".into(), Value::Array(dependencies));
    if let Some(f) = cx.report.and_then(|r| r.fetch.as_ref()) {
        doc.insert("formulation".into(), formulation(f));
    }
    let serial = serial_number(&serde_json::to_vec(&doc)?);
    doc.insert("serialNumber".into(), json!(serial));
    Ok(Value::Object(doc))
}

/// `hashes`: one SHA-256.
/// The file components of `members` under the component `parent`: a link
/// with its target as a property (and no hash: it has no content of its
/// own), an archive member with its own files nested.
fn file_components(members: &[Member], parent: &str, refs: &mut Refs) -> Vec<Value> {
    let mut files = Vec::with_capacity(members.len());
    for m in members {
        let bom_ref = refs.unique(format!("{parent}!/{}", m.path));
        let mut f = Map::new();
        f.insert("type".into(), json!("file"));
        f.insert("bom-ref".into(), json!(bom_ref));
        f.insert("name".into(), json!(m.path));
        if let Some(h) = &m.sha256 {
            f.insert("hashes".into(), sha256(h));
        }
        match &m.link {
            Some(Link::Symbolic(t)) => {
                f.insert(
                    "properties".into(),
                    json!([prop("repro:symlink-target", t.clone())]),
                );
            }
            Some(Link::Hard(t)) => {
                f.insert(
                    "properties".into(),
                    json!([prop("repro:hardlink-target", t.clone())]),
                );
            }
            None => {}
        }
        let nested = file_components(&m.nested, &bom_ref, refs);
        if !nested.is_empty() {
            f.insert("components".into(), Value::Array(nested));
        }
        files.push(Value::Object(f));
    }
    files
}

fn sha256(hex: &str) -> Value {
    json!([{ "alg": "SHA-256", "content": hex }])
}

fn requirement_ref(name: &str) -> String {
    format!("requirement:pypi:{name}")
}

/// The document's metadata: when (SOURCE_DATE_EPOCH), by what, and the
/// build-wide record.
fn metadata(cx: &Context<'_>) -> Value {
    let mut m = Map::new();
    let timestamp = cx
        .source_date_epoch
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    if let Some(t) = timestamp {
        m.insert("timestamp".into(), json!(t));
    }
    m.insert(
        "tools".into(),
        json!({ "components": [{
            "type": "application",
            "name": "repro",
            "version": env!("CARGO_PKG_VERSION"),
        }]}),
    );
    let mut props = Vec::new();
    if let Some(r) = cx.report {
        props.push(prop("repro:verdict", r.verdict.as_str()));
        if !r.source.digest.is_empty() {
            props.push(prop(
                "repro:source-digest",
                format!("{}:{}", crate::dirhash::DIRHASH_V1, r.source.digest),
            ));
        }
        if let Some(c) = &r.source.git_commit {
            props.push(prop("repro:git-commit", c.clone()));
        }
    }
    if let Some(id) = cx.builder_id {
        props.push(prop("repro:builder-id", id));
    }
    if !props.is_empty() {
        m.insert("properties".into(), Value::Array(props));
    }
    Value::Object(m)
}

/// The fetch step's inputs: every fetched file with its digest (a wheel
/// with its purl from its specified file name).
fn formulation(f: &crate::fetch::FetchRecord) -> Value {
    let components: Vec<Value> = f
        .files
        .iter()
        .map(|file| {
            let mut c = Map::new();
            c.insert("type".into(), json!("file"));
            c.insert("bom-ref".into(), json!(format!("fetched:{}", file.path)));
            c.insert("name".into(), json!(file.path));
            c.insert("hashes".into(), sha256(&file.sha256));
            c.insert("scope".into(), json!("excluded"));
            let base = file.path.rsplit('/').next().unwrap_or(&file.path);
            if let Some(stem) = base.strip_suffix(".whl") {
                let mut parts = stem.split('-');
                if let (Some(n), Some(v)) = (parts.next(), parts.next()) {
                    let name = super::package::pep503(n);
                    c.insert(
                        "purl".into(),
                        json!(purl("pypi", None, &name, Some(v), &[])),
                    );
                }
            }
            c.insert(
                "properties".into(),
                json!([prop("repro:size", file.size.to_string())]),
            );
            Value::Object(c)
        })
        .collect();
    json!([{
        "bom-ref": "formulation:fetch",
        "components": components,
        "properties": [prop("repro:fetch-command", f.command.join(" "))],
    }])
}

/// `urn:uuid:` of the SHA-256 of the document without its serial number,
/// shaped as a name-based (version 5, RFC 9562 variant) UUID because the
/// schema accepts versions 1 to 5 only: the same content, the same serial.
fn serial_number(content: &[u8]) -> String {
    let d = Sha256::digest(content);
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// bom-refs must be unique in a document; a name seen twice (two inputs
/// with one file name, duplicate archive members) gets `#2`, `#3`, ….
#[derive(Default)]
struct Refs(BTreeSet<String>);

impl Refs {
    fn unique(&mut self, wanted: String) -> String {
        let mut candidate = wanted.clone();
        let mut n = 1;
        while self.0.contains(&candidate) {
            n += 1;
            candidate = format!("{wanted}#{n}");
        }
        self.0.insert(candidate.clone());
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_numbers_follow_the_content_and_the_schema_pattern() {
        let a = serial_number(b"a");
        assert_eq!(a, serial_number(b"a"));
        assert_ne!(a, serial_number(b"b"));
        let h = a.strip_prefix("urn:uuid:").unwrap();
        let parts: Vec<&str> = h.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('5'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    }

    #[test]
    fn duplicate_refs_get_numbered() {
        let mut r = Refs::default();
        assert_eq!(r.unique("x".into()), "x");
        assert_eq!(r.unique("x".into()), "x#2");
        assert_eq!(r.unique("x".into()), "x#3");
    }
}
