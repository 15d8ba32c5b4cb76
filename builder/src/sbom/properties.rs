//! The `repro:` property namespace of repro's SBOMs: what each name
//! means. CycloneDX has no field for reproducibility, so it is recorded
//! as properties (name/value strings) of each artifact component and of
//! the document's metadata. The README lists the same table.
//!
//! On an artifact component:
//!
//! | name | value |
//! |------|-------|
//! | `repro:verdict` | the build's verdict: `REPRODUCIBLE`, `EQUIVALENT_AFTER_NORMALIZATION`, `NOT_REPRODUCIBLE` |
//! | `repro:artifact-status` | this artifact across the runs: `SAME`, `EQUIVALENT`, `DIFFERENT` |
//! | `repro:runs` | how many times it was built |
//! | `repro:variations` | the variations applied to runs 2..N, comma-separated |
//! | `repro:normalized-digest` | `repro-normalized-v1:<sha256>` of run 1's artifact |
//! | `repro:noise` | what normalization removed, comma-separated (EQUIVALENT only) |
//! | `repro:size` | the artifact's size in bytes |
//! | `repro:format` | the archive format repro read it as (`zip`, `tar`, `ar`) |
//! | `repro:note` | something odd about it, one property per note |
//!
//! A declared dependency component carries `repro:requirement`, the
//! `Requires-Dist` line as written (one per line naming it). The metadata
//! carries `repro:verdict`, `repro:source-digest`
//! (`repro-dirhash-v1:<hex>`), `repro:git-commit` and `repro:builder-id`
//! when known; the fetch formulation `repro:fetch-command`.

use serde_json::{json, Value};

use crate::report::{ArtifactRecord, Report};

/// One property.
pub(crate) fn prop(name: &str, value: impl Into<String>) -> Value {
    json!({ "name": name, "value": value.into() })
}

/// The reproducibility properties of an artifact that `report` records.
pub(crate) fn reproducibility(report: &Report, record: &ArtifactRecord) -> Vec<Value> {
    let mut props = vec![
        prop("repro:verdict", report.verdict.as_str()),
        prop(
            "repro:artifact-status",
            serde_json::to_value(record.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        ),
        prop("repro:runs", report.runs.len().to_string()),
    ];
    let variations: Vec<&str> = report
        .variations
        .applied
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    if !variations.is_empty() {
        props.push(prop("repro:variations", variations.join(",")));
    }
    let normalized = record
        .runs
        .first()
        .and_then(|r| r.as_ref())
        .and_then(|d| d.normalized.as_deref());
    if let Some(n) = normalized {
        let def = if report.normalization.digest.is_empty() {
            "repro-normalized-v1"
        } else {
            report.normalization.digest.as_str()
        };
        props.push(prop("repro:normalized-digest", format!("{def}:{n}")));
    }
    if !record.noise.is_empty() {
        props.push(prop("repro:noise", record.noise.join(",")));
    }
    props
}

/// The record of `report` for an artifact with digest `sha256`: the
/// published file or run 1's. Only the digest decides; a file of the same
/// name with other bytes is not the artifact the verdict is about.
pub(crate) fn record_for<'r>(report: &'r Report, sha256: &str) -> Option<&'r ArtifactRecord> {
    report.artifacts.iter().find(|a| {
        let run1 = a.runs.first().and_then(|r| r.as_ref());
        a.published.as_ref().is_some_and(|d| d.sha256 == sha256)
            || run1.is_some_and(|d| d.sha256 == sha256)
    })
}

/// Every `repro:<name>` value among `properties` (a JSON array).
fn values<'a>(properties: Option<&'a Value>, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    properties
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |p| p.get("name").and_then(Value::as_str) == Some(name))
        .filter_map(|p| p.get("value").and_then(Value::as_str))
}

/// The verdict an SBOM records, read back for `repro verify`: the
/// metadata's `repro:verdict` and every artifact's must agree (two
/// verdicts in one document are no claim at all). None: unrecorded.
pub fn recorded_verdict(bom: &Value) -> Result<Option<String>, String> {
    let mut seen: Vec<(String, &str)> =
        values(bom.pointer("/metadata/properties"), "repro:verdict")
            .map(|v| ("metadata".to_owned(), v))
            .collect();
    for c in bom
        .get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = c.get("bom-ref").and_then(Value::as_str).unwrap_or("?");
        seen.extend(values(c.get("properties"), "repro:verdict").map(|v| (name.to_owned(), v)));
    }
    match seen.split_first() {
        None => Ok(None),
        Some(((_, first), rest)) => match rest.iter().find(|(_, v)| v != first) {
            Some((at, other)) => Err(format!(
                "the SBOM contradicts itself: repro:verdict {first} and {other} (at {at})"
            )),
            None => Ok(Some((*first).to_owned())),
        },
    }
}

/// The builder id an SBOM records (`repro:builder-id` in its metadata).
pub fn builder_id(bom: &Value) -> Option<&str> {
    values(bom.pointer("/metadata/properties"), "repro:builder-id").next()
}
