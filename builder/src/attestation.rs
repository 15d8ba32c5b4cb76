//! The in-toto Statement (SLSA Provenance v1 predicate) of a `repro build`,
//! made from its report alone so `repro attest` can sign it later on
//! another machine.
//!
//! SLSA v1 has no field for reproducibility, so the record goes into
//! `runDetails.byproducts` as a ResourceDescriptor named `reproducibility`
//! (media type [`REPRODUCIBILITY_MEDIA_TYPE`]) whose annotations, and the
//! same JSON as its `content` with the content's sha256 as `digest`, carry
//! the runs, per-run digests, variations, verdict and culprits. A build that
//! did not reproduce is attested too, saying so: nothing is claimed that
//! was not observed.

use anyhow::{Context as _, Result};
use provenance::slsa::Metadata;
use provenance::{Provenance, ResourceDescriptor, Statement};
use serde_json::{json, Map};

use crate::dirhash::DIRHASH_V1;
use crate::report::{Report, Verdict};

/// The buildType URI repro owns: "rebuilt N times in a repro sandbox".
pub const BUILD_TYPE: &str = "https://repro.invalid/build-types/rebuild/v1";
/// The default builder id (a local repro invocation).
pub const DEFAULT_BUILDER_ID: &str = "https://repro.invalid/builders/local/v1";
/// Media type of the reproducibility byproduct.
pub const REPRODUCIBILITY_MEDIA_TYPE: &str = "application/vnd.repro.reproducibility.v1+json";

/// The statement for `report`; None when the build produced no artifact
/// to be a subject (a statement must have one).
pub fn statement(report: &Report, builder_id: &str) -> Result<Option<Statement>> {
    if report.verdict == Verdict::Error {
        return Ok(None);
    }
    let mut subjects = Vec::new();
    for a in &report.artifacts {
        // The file a release ships: the published one (normalized with
        // --normalize), else what run 1 built.
        let digest = a.published.as_ref().map(|d| d.sha256.as_str()).or_else(|| {
            a.runs
                .first()
                .and_then(|r| r.as_ref())
                .map(|d| d.sha256.as_str())
        });
        if let Some(sha256) = digest {
            subjects.push(
                ResourceDescriptor::subject(&a.path, sha256)
                    .with_context(|| format!("artifact {}", a.path))?,
            );
        }
    }
    if subjects.is_empty() {
        return Ok(None);
    }
    let mut source = json!({
        "location": format!("file://{}", report.source.path),
        "digest": { DIRHASH_V1: report.source.digest },
    });
    if let Some(commit) = &report.source.git_commit {
        source["digest"]["gitCommit"] = json!(commit);
    }
    let external = json!({
        "source": source,
        "command": report.command,
        "artifacts": report.artifact_globs,
        "runs": report.runs.len(),
        "variations": report.variations.requested,
    });
    let mut p = Provenance::new(BUILD_TYPE, builder_id, external);
    p.build_definition.internal_parameters = Some(json!({
        "sandbox": report.sandbox,
        "environment": report.environment.keys().collect::<Vec<_>>(),
        "umask": report.umask,
        "sourceDateEpoch": report.source_date_epoch,
    }));
    let mut tree = ResourceDescriptor {
        uri: Some(format!("file://{}", report.source.path)),
        name: Some("source".into()),
        ..Default::default()
    };
    tree.digest
        .insert(DIRHASH_V1.into(), report.source.digest.clone());
    if let Some(commit) = &report.source.git_commit {
        tree.digest.insert("gitCommit".into(), commit.clone());
    }
    p.build_definition.resolved_dependencies.push(tree);
    p.build_definition
        .resolved_dependencies
        .extend(report.tools.iter().map(tool_descriptor));
    if let Some(fetch) = &report.fetch {
        p.build_definition
            .resolved_dependencies
            .extend(fetch.files.iter().map(fetched_descriptor));
    }
    p.run_details
        .builder
        .version
        .insert("repro".into(), report.repro_version.clone());
    p.run_details.metadata = Some(Metadata {
        invocation_id: Some(invocation_id(report)),
        started_on: Some(report.started_at.clone()),
        finished_on: Some(report.finished_at.clone()),
    });
    for run in &report.runs {
        let mut d = ResourceDescriptor {
            name: Some(run.log.clone()),
            media_type: Some("text/plain".into()),
            ..Default::default()
        };
        d.digest.insert("sha256".into(), run.log_sha256.clone());
        p.run_details.byproducts.push(d);
    }
    let mut annotations = Map::new();
    annotations.insert("verdict".into(), serde_json::to_value(report.verdict)?);
    annotations.insert("runs".into(), json!(report.runs.len()));
    annotations.insert(
        "perRunVariations".into(),
        json!(report
            .runs
            .iter()
            .map(|r| &r.variations)
            .collect::<Vec<_>>()),
    );
    annotations.insert("artifacts".into(), serde_json::to_value(&report.artifacts)?);
    annotations.insert(
        "variations".into(),
        serde_json::to_value(&report.variations)?,
    );
    if let Some(b) = &report.bisect {
        annotations.insert("bisect".into(), serde_json::to_value(b)?);
    }
    // The record travels twice: readable in `annotations`, and as the
    // `content` document (with its digest) that the media type describes.
    let content = serde_json::to_vec(&annotations)?;
    let mut record = ResourceDescriptor::from_bytes("reproducibility", &content);
    record.media_type = Some(REPRODUCIBILITY_MEDIA_TYPE.into());
    record.content = Some(content);
    record.annotations = annotations;
    p.run_details.byproducts.push(record);
    Ok(Some(Statement::new(subjects, &p)?))
}

/// A tool the build could run, as a resolved dependency: its path, digest
/// (or `unresolved`: listed, not dropped, so a reader sees the build could
/// run it and that repro could not say what it was — `error` says why),
/// A file the fetch step wrote, as a resolved dependency (`fetched: true`).
pub fn fetched_descriptor(f: &crate::fetch::FetchedFile) -> ResourceDescriptor {
    let mut d = ResourceDescriptor {
        name: Some(f.path.clone()),
        ..Default::default()
    };
    d.digest.insert("sha256".into(), f.sha256.clone());
    d.annotations.insert("fetched".into(), json!(true));
    d
}

/// role, version line and the file a link resolves to.
pub fn tool_descriptor(tool: &crate::toolchain::Tool) -> ResourceDescriptor {
    let mut d = ResourceDescriptor {
        uri: Some(format!("file://{}", tool.path)),
        name: Some(tool.name.clone().unwrap_or_else(|| tool.path.clone())),
        ..Default::default()
    };
    if tool.sha256.is_empty() {
        d.annotations.insert("unresolved".into(), json!(true));
    } else {
        d.digest.insert("sha256".into(), tool.sha256.clone());
    }
    d.annotations.insert("role".into(), json!(tool.role));
    for (key, value) in [
        ("version", &tool.version),
        ("resolved", &tool.resolved),
        ("error", &tool.error),
    ] {
        if let Some(v) = value {
            d.annotations.insert(key.into(), json!(v));
        }
    }
    d
}

/// What a statement's `reproducibility` record says the build's verdict was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordedVerdict {
    /// A verdict repro writes.
    Known(Verdict),
    /// A verdict string repro does not know (another or newer writer).
    Unknown(String),
    /// No `reproducibility` byproduct, or one without a verdict string.
    Unrecorded,
}

impl std::fmt::Display for RecordedVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordedVerdict::Known(v) => f.write_str(v.as_str()),
            RecordedVerdict::Unknown(s) => write!(f, "{s:?}"),
            RecordedVerdict::Unrecorded => f.write_str("unrecorded"),
        }
    }
}

/// Why a statement's `reproducibility` record cannot be believed.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordError {
    /// More than one byproduct is named `reproducibility`.
    Duplicate(usize),
    /// The record has no `content` document (the authoritative copy).
    NoContent,
    /// The record has no sha256 digest for its `content`.
    NoDigest,
    /// `content` does not hash to the record's sha256 digest.
    Digest {
        /// The digest the record states.
        recorded: String,
        /// The sha256 of the content it carries.
        actual: String,
    },
    /// `content` is not a JSON object.
    NotJson(String),
    /// A field reads differently in `annotations` and in `content`.
    Contradiction {
        /// The field (e.g. `verdict`).
        field: String,
        /// Its value in `annotations`, as JSON (`absent` when missing).
        annotation: String,
        /// Its value in `content`, as JSON (`absent` when missing).
        content: String,
    },
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::Duplicate(n) => write!(
                f,
                "{n} reproducibility records in one statement; exactly one is allowed"
            ),
            RecordError::NoContent => f.write_str(
                "the reproducibility record has no content (the authoritative copy of the verdict)",
            ),
            RecordError::NoDigest => {
                f.write_str("the reproducibility record has no sha256 digest of its content")
            }
            RecordError::Digest { recorded, actual } => write!(
                f,
                "the reproducibility record's content has sha256 {actual}, \
                 but its digest says {recorded}"
            ),
            RecordError::NotJson(e) => write!(
                f,
                "the reproducibility record's content is not a JSON object: {e}"
            ),
            RecordError::Contradiction {
                field,
                annotation,
                content,
            } => write!(
                f,
                "the reproducibility record contradicts itself: annotations.{field} is \
                 {annotation} but content.{field} is {content}"
            ),
        }
    }
}

impl std::error::Error for RecordError {}

/// The verdict of the `reproducibility` byproduct that [`statement`] writes.
///
/// This is the one place it is read back. The record carries it twice; the
/// authoritative copy is `content` (the document the media type describes,
/// bound to the record by its sha256 digest), and `annotations` is a
/// readable duplicate. A signer could put different claims in the two, so
/// a record whose copies disagree in any field, whose content does not
/// match its digest, or that appears twice is an error rather than a
/// verdict: no reader may pick the copy it likes.
pub fn recorded_verdict(p: &Provenance) -> Result<RecordedVerdict, RecordError> {
    let records: Vec<_> = p
        .run_details
        .byproducts
        .iter()
        .filter(|b| b.name.as_deref() == Some("reproducibility"))
        .collect();
    let record = match records.as_slice() {
        [] => return Ok(RecordedVerdict::Unrecorded),
        [one] => *one,
        many => return Err(RecordError::Duplicate(many.len())),
    };
    let content = record.content.as_deref().ok_or(RecordError::NoContent)?;
    let recorded = record.digest.get("sha256").ok_or(RecordError::NoDigest)?;
    let actual = provenance::sha256_hex(content);
    if !recorded.eq_ignore_ascii_case(&actual) {
        return Err(RecordError::Digest {
            recorded: recorded.clone(),
            actual,
        });
    }
    let document: Map<String, serde_json::Value> =
        serde_json::from_slice(content).map_err(|e| RecordError::NotJson(e.to_string()))?;
    // Every field, not only the verdict: the runs, digests and culprits
    // are claims too.
    let fields: std::collections::BTreeSet<&String> =
        document.keys().chain(record.annotations.keys()).collect();
    for field in fields {
        let (a, c) = (record.annotations.get(field), document.get(field));
        if a != c {
            let show = |v: Option<&serde_json::Value>| v.map_or("absent".into(), |v| v.to_string());
            return Err(RecordError::Contradiction {
                field: field.clone(),
                annotation: show(a),
                content: show(c),
            });
        }
    }
    Ok(match document.get("verdict").and_then(|v| v.as_str()) {
        None => RecordedVerdict::Unrecorded,
        Some(name) => match Verdict::ALL.into_iter().find(|v| v.as_str() == name) {
            Some(v) => RecordedVerdict::Known(v),
            None => RecordedVerdict::Unknown(name.to_string()),
        },
    })
}

/// A stable id for this invocation: the digest of when and what it built.
fn invocation_id(report: &Report) -> String {
    let seed = format!(
        "{}\n{}\n{}",
        report.started_at, report.source.path, report.source.digest
    );
    provenance::sha256_hex(seed.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A provenance whose one `reproducibility` record carries `annotations`
    /// both as annotations and as its content, as [`statement`] writes it.
    fn with_record(annotations: serde_json::Value) -> Provenance {
        let mut p = Provenance::new(BUILD_TYPE, DEFAULT_BUILDER_ID, json!({}));
        p.run_details.byproducts.push(record(annotations));
        p
    }

    fn record(annotations: serde_json::Value) -> ResourceDescriptor {
        let content = serde_json::to_vec(&annotations).unwrap_or_default();
        let mut record = ResourceDescriptor::from_bytes("reproducibility", &content);
        record.content = Some(content);
        if let serde_json::Value::Object(map) = annotations {
            record.annotations = map;
        }
        record
    }

    #[test]
    fn tools_that_could_not_be_resolved_are_listed_as_unresolved() {
        use crate::report::{ArtifactRecord, ArtifactStatus, FileDigest};
        use crate::toolchain::Tool;
        let digest = FileDigest {
            sha256: "a".repeat(64),
            size: 1,
            normalized: None,
            normalized_error: None,
            fired: Vec::new(),
        };
        let artifact = ArtifactRecord {
            path: "dist/x".into(),
            status: ArtifactStatus::Same,
            runs: vec![Some(digest.clone()), Some(digest)],
            noise: Vec::new(),
            published: None,
            diff: None,
        };
        let mut report = crate::report::tests::report(vec![artifact], Verdict::Reproducible);
        report.started_at = "2024-01-01T00:00:00Z".into();
        report.finished_at = "2024-01-01T00:01:00Z".into();
        for run in &mut report.runs {
            run.log_sha256 = "c".repeat(64);
        }
        let tool = |path: &str, sha256: &str, error: Option<&str>| Tool {
            role: "toolchain".into(),
            name: Some(path.rsplit('/').next().unwrap_or(path).into()),
            path: path.into(),
            resolved: None,
            sha256: sha256.into(),
            version: None,
            error: error.map(str::to_string),
        };
        report.tools = vec![
            tool("/usr/bin/cc", &"b".repeat(64), None),
            tool(
                "/opt/gone/go",
                "",
                Some("resolving /opt/gone/go on the host: gone"),
            ),
        ];
        let statement = statement(&report, DEFAULT_BUILDER_ID).unwrap().unwrap();
        let deps = statement.predicate["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .unwrap()
            .clone();
        let find = |name: &str| {
            deps.iter()
                .find(|d| d["name"] == name)
                .unwrap_or_else(|| panic!("{name} was dropped: {deps:?}"))
                .clone()
        };
        let cc = find("cc");
        assert_eq!(cc["digest"]["sha256"], "b".repeat(64));
        assert!(cc["annotations"].get("unresolved").is_none());
        let gone = find("go");
        assert_eq!(gone["annotations"]["unresolved"], true);
        assert_eq!(gone["uri"], "file:///opt/gone/go");
        assert!(gone["annotations"]["error"]
            .as_str()
            .unwrap()
            .contains("gone"));
    }

    #[test]
    fn recorded_verdict_reads_the_reproducibility_content() {
        for v in Verdict::ALL {
            assert_eq!(
                recorded_verdict(&with_record(json!({ "verdict": v.as_str() }))),
                Ok(RecordedVerdict::Known(v))
            );
        }
        assert_eq!(
            recorded_verdict(&with_record(json!({ "verdict": "reproducible" }))),
            Ok(RecordedVerdict::Unknown("reproducible".into()))
        );
        assert_eq!(
            recorded_verdict(&with_record(json!({ "verdict": true }))),
            Ok(RecordedVerdict::Unrecorded)
        );
        let bare = Provenance::new(BUILD_TYPE, DEFAULT_BUILDER_ID, json!({}));
        assert_eq!(recorded_verdict(&bare), Ok(RecordedVerdict::Unrecorded));
    }

    #[test]
    fn a_record_that_contradicts_itself_is_an_error() {
        let mut p = with_record(json!({ "verdict": "NOT_REPRODUCIBLE", "runs": 2 }));
        p.run_details.byproducts[0]
            .annotations
            .insert("verdict".into(), json!("REPRODUCIBLE"));
        let e = recorded_verdict(&p).unwrap_err();
        assert!(matches!(e, RecordError::Contradiction { .. }), "{e}");
        let text = e.to_string();
        assert!(text.contains("\"REPRODUCIBLE\""), "{text}");
        assert!(text.contains("\"NOT_REPRODUCIBLE\""), "{text}");

        // A field only one copy has is a contradiction too.
        let mut p = with_record(json!({ "verdict": "REPRODUCIBLE" }));
        p.run_details.byproducts[0]
            .annotations
            .insert("runs".into(), json!(9));
        assert!(matches!(
            recorded_verdict(&p),
            Err(RecordError::Contradiction { .. })
        ));

        let mut p = with_record(json!({ "verdict": "REPRODUCIBLE" }));
        p.run_details.byproducts[0].content = Some(br#"{"verdict":"NOT_REPRODUCIBLE"}"#.to_vec());
        assert!(matches!(
            recorded_verdict(&p),
            Err(RecordError::Digest { .. })
        ));

        let mut p = with_record(json!({ "verdict": "REPRODUCIBLE" }));
        p.run_details.byproducts[0].content = None;
        assert_eq!(recorded_verdict(&p), Err(RecordError::NoContent));

        let mut p = with_record(json!({ "verdict": "REPRODUCIBLE" }));
        p.run_details
            .byproducts
            .push(record(json!({ "verdict": "REPRODUCIBLE" })));
        assert_eq!(recorded_verdict(&p), Err(RecordError::Duplicate(2)));
    }
}
